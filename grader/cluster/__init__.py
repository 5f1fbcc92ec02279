"""The course cluster's lifecycle on kind: up, down, status, doctor, preload."""
