"""Pods every kind cluster runs before the course adds anything: CoreDNS.

They matter to the model: DNS lookups are UDP packets from the pod to a CoreDNS pod, so an egress
policy can break DNS. (The built-in Services kubernetes and kube-dns are in services.py.)
"""

from __future__ import annotations

from grader.model.objects import NODE_NAMES, ContainerPort, Pod

KUBE_SYSTEM = "kube-system"
DNS_PORTS = [
    ContainerPort(53, "UDP", "dns", "coredns"),
    ContainerPort(53, "TCP", "dns-tcp", "coredns"),
    ContainerPort(9153, "TCP", "metrics", "coredns"),
]


def coredns_pods() -> list[Pod]:
    """kind runs two CoreDNS replicas on the control-plane node, labelled k8s-app=kube-dns."""
    return [
        Pod(
            namespace=KUBE_SYSTEM,
            name=f"coredns-6f6b679f8f-{suffix}",
            labels={"k8s-app": "kube-dns", "pod-template-hash": "6f6b679f8f"},
            ip=ip,
            node=NODE_NAMES[0],
            ports=list(DNS_PORTS),
            owner="Deployment/coredns",
        )
        for suffix, ip in (("7bq2x", "10.244.0.2"), ("l9kvd", "10.244.0.3"))
    ]


def is_system_namespace(name: str) -> bool:
    return name in (KUBE_SYSTEM, "kube-public", "kube-node-lease", "local-path-storage")
