"""SimBackend: probes answered by the model of Kubernetes networking semantics, in-process."""

from __future__ import annotations

from typing import Any

from grader.model import connect as connect_model
from grader.model import external
from grader.model.objects import Pod, World
from grader.model.workloads import build_world, is_system_namespace
from grader.probes import ClientIP, Connect, Http, Probe, Resolve, Result, kubectl_for


class SimBackend:
    """Answers probes from the simulator. `enforce_policy=False` models a CNI without NetworkPolicy (Flannel)."""

    name = "simulator"

    def __init__(self, *, enforce_policy: bool = True) -> None:
        self.enforce_policy = enforce_policy
        self.world = World()
        self.manifests: list[Any] = []

    def apply(self, manifests: list[Any]) -> None:
        self.manifests = list(manifests)
        self.world = build_world(self.manifests, enforce_policy=self.enforce_policy, include_system=True)

    def pods(self) -> list[Pod]:
        """The course's pods (kind's own system pods are part of the world but not listed)."""
        return [p for p in self.world.pods if not is_system_namespace(p.namespace)]

    def run(self, probes: list[Probe], expect: list[bool | None] | None = None) -> list[Result]:
        """Answer each probe from the model. `expect` is ignored: the model has no settling time."""
        return [self._one(p) for p in probes]

    def _one(self, probe: Probe) -> Result:
        kubectl = kubectl_for(probe)
        if isinstance(probe, Http):
            o = external.request(self.world, probe.via, probe.host, probe.path, port=probe.port, tls=probe.tls,
                                 method=probe.method, headers=probe.headers)
            if probe.via == "ingress" and o.ingress:  # the lesson's Ingress that took the request
                kubectl = kubectl_for(probe, ingress=o.ingress)
            verdict = "allowed" if o.ok else ("not-found" if o.status == 404 else (o.error or f"http-{o.status}"))
            summary = o.summary or {"no-endpoints": "connection refused (the Service has no ready endpoints)", "blocked": "no answer (a NetworkPolicy drops it: timeout)"}.get(verdict, "")
            data = {
                "status": o.status,
                "service": o.service,
                "endpoint": o.endpoint,
                "ingress": o.ingress,
                "tls_secret": o.tls_secret,
                "cert_sans": o.cert_sans,
                "cert_subject": o.cert_subject,
                "cert_issuer": o.cert_issuer,
                "hints": o.hints,
                "summary": summary,
                "placement_note": o.placement_note,
            }
            if probe.via.startswith("gateway:"):
                # The model knows the split exactly: `shares` are the expected fractions, `samples` None says so.
                data.update({"gateway": o.gateway, "listener": o.listener, "route": o.route, "location": o.location,
                             "shares": dict(o.shares), "samples": None, "route_status": o.route_status,
                             "backend_path": o.backend_path, "response_headers": o.response_headers})
            return Result(probe, o.ok, verdict, o.trace + [f"  {line}" for line in o.route_status if o.status in (404, 500, 503) or o.error], kubectl, data)
        src = self.world.pod(probe.src)
        if src is None:
            return Result(
                probe,
                False,
                "error",
                [f"no pod {probe.src} in the simulated cluster"],
                kubectl,
                {"hints": [f"pod {probe.src} does not exist: the course fixtures create it; do not delete or rename them"]},
            )
        if isinstance(probe, Resolve):
            lk = connect_model.lookup(self.world, src, probe.name)
            a = lk.answer
            data = {
                "type": a.type,
                "answers": a.answers,
                "fqdn": a.fqdn,
                "cname": a.cname,
                "service": a.service,
                "pods": a.pods,
                "reachable": lk.reachable,
                "hints": lk.hints,
            }
            verdict = "allowed" if lk.ok else ("dns-failure" if not lk.reachable else "not-found")
            return Result(probe, lk.ok, verdict, lk.trace, kubectl, data)
        if isinstance(probe, (Connect, ClientIP)):
            protocol = probe.protocol if isinstance(probe, Connect) else "TCP"
            c = connect_model.connect(self.world, src, probe.host, probe.port, protocol)
            data = {"endpoint": c.endpoint, "service": c.service, "dst_ip": c.dst_ip, "hints": c.hints, "summary": c.summary,
                    "placement_note": c.placement_note}
            ok = c.ok
            trace = list(c.trace)
            if isinstance(probe, ClientIP):
                if ok and not c.netexec:
                    ok = False
                    trace.append(f"{c.endpoint} accepts the connection but is not an agnhost netexec server: no /clientip")
                data["client_ip"] = c.client_ip if ok else None
            return Result(probe, ok, c.verdict if ok or c.verdict != "allowed" else "error", trace, kubectl, data)
        raise TypeError(f"unknown probe {probe!r}")  # a bug of ours, not the learner's
