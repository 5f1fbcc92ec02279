"""Backends turn probes into results: the simulator (sim) and the course cluster (live)."""
