"""Objects every kind cluster has before the course adds anything: CoreDNS and two Services.

They matter to the model: DNS lookups are UDP packets from the pod to a CoreDNS pod (so an egress
policy can break DNS), and `kubernetes.default` always resolves.
"""

from __future__ import annotations

from grader.model.objects import (
    CLUSTER_DNS_IP,
    NODE_NAMES,
    ContainerPort,
    Pod,
    Service,
    ServicePort,
)

KUBE_SYSTEM = "kube-system"
KUBERNETES_SERVICE_IP = "10.96.0.1"
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


def system_services() -> list[Service]:
    return [
        Service(
            namespace="default",
            name="kubernetes",
            cluster_ip=KUBERNETES_SERVICE_IP,
            selector=None,
            ports=[ServicePort(443, 6443, "TCP", "https")],
        ),
        Service(
            namespace=KUBE_SYSTEM,
            name="kube-dns",
            cluster_ip=CLUSTER_DNS_IP,
            selector={"k8s-app": "kube-dns"},
            ports=[
                ServicePort(53, 53, "UDP", "dns"),
                ServicePort(53, 53, "TCP", "dns-tcp"),
                ServicePort(9153, 9153, "TCP", "metrics"),
            ],
        ),
    ]


def is_system_namespace(name: str) -> bool:
    return name in (KUBE_SYSTEM, "kube-public", "kube-node-lease", "local-path-storage")
