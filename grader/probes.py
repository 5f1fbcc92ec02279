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
    nodePort), "loadbalancer:<ns>/<svc>" (that Service's external IP) or "gateway:<ns>/<name>" (that
    Gateway's address, port = a listener's port). `host` is the Host header and the SNI name;
    `method` and `headers` (pairs) are sent as given. `samples` > 1 sends that many requests and
    reports which Service answered how often (a weighted split; the simulator states the exact shares).
    """

    via: str
    host: str
    path: str = "/"
    port: int | None = None
    tls: bool = False
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    samples: int = 1


Probe = Connect | Resolve | ClientIP | Http

Verdict = Literal[
    "allowed",  # connected / answered
    "blocked",  # dropped by a NetworkPolicy (live: TIMEOUT)
    "dropped",  # dropped by kube-proxy: a Local traffic policy and no endpoint on that node (live: TIMEOUT)
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

    def run(self, probes: list[Probe], expect: list[bool | None] | None = None) -> list[Result]:
        """Run probes (in parallel where the backend can) and return results in the same order.

        `expect[i]` says whether probe i should succeed (None: no expectation); a live backend uses it
        to retry while the cluster settles and to confirm blocked results."""

    def pods(self) -> list[Any]:
        """The pods the cluster runs now (grader.model.objects.Pod), with IPs and nodes."""


def kubectl_for(probe: Probe, *, context: str | None = None, ingress: str | None = None) -> str:
    """The kubectl command that runs this probe on a live cluster, for the learner to reproduce it.

    The live backend runs exactly these argv (grader.live_probes builds them for both). `context` adds
    --context to every kubectl in it; `ingress` ("ns/name") is the lesson's Ingress an ingress probe enters
    through (without it, the command says so instead of taking the first Ingress of the whole cluster).
    """
    import shlex

    from grader.live_probes import clientip_command, connect_command, kubectl_exec, resolve_command

    kubectl = f"kubectl --context {shlex.quote(context)}" if context else "kubectl"

    if isinstance(probe, (Connect, Resolve, ClientIP)):
        ns, _, pod = probe.src.partition("/")
        if isinstance(probe, Connect):
            argv = connect_command(probe.host, probe.port, probe.protocol)
        elif isinstance(probe, Resolve):
            argv = resolve_command(probe.name)
        else:
            argv = clientip_command(probe.host, probe.port)
        return kubectl_exec(ns, pod, argv, context)
    if isinstance(probe, Http):
        scheme = "https" if probe.tls else "http"
        if probe.via == "ingress":
            ns, _, name = (ingress or "<namespace>/<ingress>").partition("/")
            addr = f"$({kubectl} get ingress -n {ns} {name} -o jsonpath='{{.status.loadBalancer.ingress[0].ip}}')"
            port = probe.port or (443 if probe.tls else 80)
        elif probe.via == "nodeport":
            addr = "localhost"
            port = probe.port
        elif probe.via.startswith("gateway:"):
            ns, _, gw = probe.via.split(":", 1)[1].partition("/")
            addr = f"$({kubectl} get gateway -n {ns} {gw} -o jsonpath='{{.status.addresses[0].value}}')"
            port = probe.port or (443 if probe.tls else 80)
        else:
            ns, _, svc = probe.via.split(":", 1)[1].partition("/")
            addr = f"$({kubectl} get svc -n {ns} {svc} -o jsonpath='{{.status.loadBalancer.ingress[0].ip}}')"
            port = probe.port or 80
        resolve = f"--resolve {probe.host}:{port}:{addr} " if probe.tls else f"-H 'Host: {probe.host}' "
        target = f"{scheme}://{probe.host}:{port}{probe.path}" if probe.tls else f"{scheme}://{addr}:{port}{probe.path}"
        extra = "".join(f"-H '{k}: {v}' " for k, v in probe.headers) + (f"-X {probe.method} " if probe.method != "GET" else "")
        command = f"curl -sv {'-k ' if probe.tls else ''}{extra}{resolve}\"{target}\""
        if probe.samples > 1:  # the course's backends answer with their pod name: count them
            return f"for i in $(seq {probe.samples}); do {command.replace('-sv', '-s')}; echo; done | sort | uniq -c"
        return command
    return ""
