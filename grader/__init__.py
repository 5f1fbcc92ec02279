"""k8s-netcourse grader: loads manifests, simulates Kubernetes networking, and probes live clusters."""

__version__ = "0.1.0"
