"""The kubernetes client layer of the live backend: apply, exec, readiness, cleanup, safety."""
