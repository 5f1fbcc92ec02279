"""Pure semantics of Kubernetes networking: dicts and dataclasses in, verdicts out.

Nothing in this package does I/O, prints, or imports the kubernetes client.
"""
