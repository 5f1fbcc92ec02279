"""Probes are data; a backend turns them into results.

A check builds probes, hands them to a backend (`SimBackend` or `LiveBackend`) and compares the
results with what the task expects. It never asks which backend it is on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Protocol_ = Literal["TCP", "UDP", "SCTP"]


@dataclass(frozen=True)
class Connect:
    """Open a connection from pod `src` ("ns/pod") to `host:port` (an IP, or a DNS name resolved in `src`)."""

    src: str
    host: str
    port: int
    protocol: str = "TCP"


@dataclass(frozen=True)
class Resolve:
    """Look up `name` from pod `src` with that pod's resolv.conf (search list, ndots:5)."""

    src: str
    name: str


@dataclass(frozen=True)
class ClientIP:
    """HTTP GET /clientip on an agnhost netexec server at host:port from `src`: which source IP did the server see?"""

    src: str
    host: str
    port: int


@dataclass(frozen=True)
class Http:
    """An HTTP(S) request from outside the cluster.

    `via` says where it enters: "ingress" (the Ingress address), "nodeport" (a node's IP, port = the
    nodePort), or "loadbalancer:<ns>/<svc>" (that Service's external IP). `host` is the Host header and
    the SNI name.
    """

    via: str
    host: str
    path: str = "/"
    port: int | None = None
    tls: bool = False


Probe = Connect | Resolve | ClientIP | Http

Verdict = Literal[
    "allowed",  # connected / answered
    "blocked",  # dropped by a NetworkPolicy (live: TIMEOUT)
    "refused",  # nothing listens, or a Service without endpoints
    "no-endpoints",
    "dns-failure",
    "not-found",  # HTTP 404 from the ingress, NXDOMAIN for Resolve
    "error",  # anything else; see evidence
]


@dataclass
class Result:
    """What a backend observed for one probe.

    `ok` is the single boolean a check usually needs (connected / resolved / HTTP 2xx-3xx).
    `verdict` classifies it; `evidence` is the simulator's trace or the live command's output;
    `kubectl` reproduces the probe on a live cluster; `data` carries probe-specific facts
    (resolved addresses, the client IP seen, HTTP status, certificate SANs, the chosen endpoint).
    """

    probe: Probe
    ok: bool
    verdict: str
    evidence: list[str] = field(default_factory=list)
    kubectl: str = ""
    data: dict[str, Any] = field(default_factory=dict)


class Backend(Protocol):
    """What a check may ask of the cluster, simulated or real."""

    name: str  # "simulator" or "live"

    def apply(self, manifests: list[Any]) -> None:
        """Make the cluster hold these loaded manifests (grader.manifests.Manifest)."""

    def run(self, probes: list[Probe]) -> list[Result]:
        """Run probes (in parallel where the backend can) and return results in the same order."""

    def pods(self) -> list[Any]:
        """The pods the cluster runs now (grader.model.objects.Pod), with IPs and nodes."""


AGNHOST_BIN = "/agnhost"


def kubectl_for(probe: Probe) -> str:
    """The kubectl command that runs this probe on a live cluster, for the learner to reproduce it."""
    if isinstance(probe, Connect):
        ns, _, pod = probe.src.partition("/")
        return (
            f"kubectl exec -n {ns} {pod} -- {AGNHOST_BIN} connect {probe.host}:{probe.port} "
            f"--timeout=1s --protocol={probe.protocol.lower()}"
        )
    if isinstance(probe, Resolve):
        ns, _, pod = probe.src.partition("/")
        return f"kubectl exec -n {ns} {pod} -- nslookup {probe.name}"
    if isinstance(probe, ClientIP):
        ns, _, pod = probe.src.partition("/")
        return f"kubectl exec -n {ns} {pod} -- wget -qO- -T 2 http://{probe.host}:{probe.port}/clientip"
    if isinstance(probe, Http):
        scheme = "https" if probe.tls else "http"
        if probe.via == "ingress":
            addr = "$(kubectl get ingress -A -o jsonpath='{.items[0].status.loadBalancer.ingress[0].ip}')"
            port = probe.port or (443 if probe.tls else 80)
        elif probe.via == "nodeport":
            addr = "localhost"
            port = probe.port
        else:
            ns, _, svc = probe.via.split(":", 1)[1].partition("/")
            addr = f"$(kubectl get svc -n {ns} {svc} -o jsonpath='{{.status.loadBalancer.ingress[0].ip}}')"
            port = probe.port or 80
        resolve = f"--resolve {probe.host}:{port}:{addr} " if probe.tls else f"-H 'Host: {probe.host}' "
        target = f"{scheme}://{probe.host}:{port}{probe.path}" if probe.tls else f"{scheme}://{addr}:{port}{probe.path}"
        return f"curl -sv {'-k ' if probe.tls else ''}{resolve}{target}"
    return ""
