"""The simulated cluster: typed views of the objects the networking model reasons about.

`World` is built from loaded manifests by `grader.model.workloads.build_world`; every other module
in `grader.model` reads it and never mutates it. Raw specs that the model interprets rule by rule
(NetworkPolicy, Ingress, EndpointSlice) are kept as the manifest's dicts, so their semantics live
in one place each (policy.py, ingress.py, services.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# The course cluster's shape (clusters/kind.yaml) and kind's defaults (PLATFORM.md).
POD_CIDR = "10.244.0.0/16"
SERVICE_CIDR = "10.96.0.0/16"
CLUSTER_DNS_IP = "10.96.0.10"
CLUSTER_DOMAIN = "cluster.local"
NODE_NAMES = ("course-control-plane", "course-worker", "course-worker2")
NODE_IPS = ("172.18.0.2", "172.18.0.3", "172.18.0.4")
NODEPORT_RANGE = (30000, 32767)


@dataclass(frozen=True)
class Source:
    """Where an object came from: file, 0-based document index in that file, 1-based line."""

    file: str
    doc: int = 0
    line: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class ContainerPort:
    port: int
    protocol: str = "TCP"
    name: str | None = None
    container: str = ""


@dataclass(frozen=True)
class Node:
    name: str
    ip: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass(frozen=True)
class Namespace:
    name: str
    labels: dict[str, str] = field(default_factory=dict, hash=False, compare=False)


@dataclass
class Pod:
    namespace: str
    name: str
    labels: dict[str, str]
    ip: str
    node: str
    ports: list[ContainerPort] = field(default_factory=list)
    ready: bool = True
    host_network: bool = False
    hostname: str | None = None
    subdomain: str | None = None
    owner: str | None = None  # "Deployment/web" etc., for messages
    source: Source | None = None
    containers: list[dict[str, Any]] = field(default_factory=list)  # raw container specs (image, args): listeners
    spec: dict[str, Any] = field(default_factory=dict)  # the raw pod spec (placement rules, dnsPolicy, dnsConfig)
    # Nodes the scheduler could have chosen when it placed this pod; empty when nothing chose (nodeName,
    # a DaemonSet's node) or for a live pod. More than one: the simulator's `node` is a guess.
    candidates: tuple[str, ...] = ()
    pending_reason: str = ""  # why the pod has no node, as `kubectl describe pod` says it

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def placement_guessed(self) -> bool:
        """Whether the scheduler was free to choose among several nodes (the simulator's node is then a guess)."""
        return len(self.candidates) > 1

    def placement_note(self) -> str:
        """How this pod got its node, in words for a trace."""
        if self.pending_reason or not self.node:
            return f"{self.key} is Pending: {self.pending_reason or 'it has no node'}"
        if self.placement_guessed:
            return (f"{self.key} runs on {self.node} by the simulator's guess: the scheduler may choose any of "
                    f"{', '.join(self.candidates)}")
        return f"{self.key} runs on {self.node}"

    def named_port(self, name: str, protocol: str | None = None) -> ContainerPort | None:
        """The container port with this name (and protocol, when given), or None."""
        for p in self.ports:
            if p.name == name and (protocol is None or p.protocol == protocol):
                return p
        return None

    def listens(self, port: int, protocol: str = "TCP") -> bool:
        """Whether some container declares this port. See `grader.model.connect` for the rule used."""
        return any(p.port == port and p.protocol == protocol for p in self.ports)


@dataclass(frozen=True)
class ServicePort:
    port: int
    target_port: int | str  # a number, or the name of a container port resolved per pod
    protocol: str = "TCP"
    name: str | None = None
    node_port: int | None = None


@dataclass
class Service:
    namespace: str
    name: str
    type: str = "ClusterIP"  # ClusterIP | NodePort | LoadBalancer | ExternalName
    selector: dict[str, str] | None = None  # None: no selector (endpoints come from objects)
    cluster_ip: str | None = None  # None for headless ("None") and ExternalName
    ports: list[ServicePort] = field(default_factory=list)
    external_name: str | None = None
    load_balancer_ip: str | None = None
    publish_not_ready: bool = False
    source: Source | None = None
    # Which endpoints serve traffic from outside the cluster (NodePort, LoadBalancer) and from inside
    # (ClusterIP): "Cluster" = all ready endpoints, "Local" = only those on the node the traffic enters.
    external_traffic_policy: str = "Cluster"
    internal_traffic_policy: str = "Cluster"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def headless(self) -> bool:
        return self.type != "ExternalName" and self.cluster_ip is None


@dataclass
class Raw:
    """An object the model interprets from its manifest dict (NetworkPolicy, Ingress, ...)."""

    kind: str
    namespace: str | None
    name: str
    obj: dict[str, Any]
    source: Source | None = None

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name

    @property
    def spec(self) -> dict[str, Any]:
        return self.obj.get("spec") or {}


@dataclass
class World:
    """Everything the simulator knows about one cluster."""

    nodes: list[Node] = field(default_factory=list)
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    pods: list[Pod] = field(default_factory=list)
    services: list[Service] = field(default_factory=list)
    endpoints: list[Raw] = field(default_factory=list)  # Endpoints and EndpointSlice objects
    policies: list[Raw] = field(default_factory=list)  # NetworkPolicy
    ingresses: list[Raw] = field(default_factory=list)
    ingress_classes: list[Raw] = field(default_factory=list)
    secrets: list[Raw] = field(default_factory=list)
    others: list[Raw] = field(default_factory=list)  # ConfigMaps, Gateway API objects (read by grader.model.gateway), ...
    cni_enforces_policy: bool = True  # False models Flannel (or kindnet failing open)
    cluster_domain: str = CLUSTER_DOMAIN

    def pod(self, key: str) -> Pod | None:
        ns, _, name = key.partition("/")
        for p in self.pods:
            if p.namespace == ns and p.name == name:
                return p
        return None

    def service(self, namespace: str, name: str) -> Service | None:
        for s in self.services:
            if s.namespace == namespace and s.name == name:
                return s
        return None

    def namespace_labels(self, name: str) -> dict[str, str]:
        """Labels of a namespace, including the automatic kubernetes.io/metadata.name label."""
        ns = self.namespaces.get(name)
        labels = dict(ns.labels) if ns else {}
        labels["kubernetes.io/metadata.name"] = name
        return labels
