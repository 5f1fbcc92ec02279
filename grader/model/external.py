"""An HTTP(S) request from outside the cluster: through the Ingress, a NodePort or a LoadBalancer IP.

On the course cluster, cloud-provider-kind runs the Ingress and LoadBalancer data plane as Envoy
containers on the kind network, outside the pod network: a NetworkPolicy sees those requests coming
from a node (after the NodePort hop) or from the Envoy container, never from a pod. The simulator
models them as traffic from outside with the first worker node's IP as the source.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from grader.model import ingress as ingress_model
from grader.model import services
from grader.model.connect import Connection, connect
from grader.model.objects import World

# Where outside traffic enters the pod network from (see module docstring).
ENVOY_SOURCE = "172.18.0.100"


@dataclass
class HttpOutcome:
    status: int | None  # 200 when served, 404 nothing matched, 503 no endpoints, None when no HTTP answer
    trace: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    service: str | None = None
    endpoint: str | None = None
    ingress: str | None = None
    tls_secret: str | None = None
    cert_sans: list[str] = field(default_factory=list)
    cert_subject: str | None = None
    cert_issuer: str | None = None
    error: str | None = None
    # Through a Gateway: where it went and what the Gateway did (see grader.model.gateway).
    gateway: str | None = None
    listener: str | None = None
    route: str | None = None
    location: str | None = None  # a redirect's Location
    shares: dict[str, float] = field(default_factory=dict)  # Service -> expected share of the requests
    route_status: list[str] = field(default_factory=list)
    backend_path: str | None = None
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 400 and self.error is None


def request(world: World, via: str, host: str, path: str = "/", *, port: int | None = None, tls: bool = False,
            method: str = "GET", headers: tuple[tuple[str, str], ...] = ()) -> HttpOutcome:
    """Follow a request from outside: `via` is "ingress", "nodeport", "loadbalancer:<ns>/<name>" or "gateway:<ns>/<name>"."""
    if via == "ingress":
        return _via_ingress(world, host, path, tls)
    if via.startswith("gateway:"):
        return _via_gateway(world, via.split(":", 1)[1], host, path, tls, port, method, headers)
    if via == "nodeport":
        if port is None:
            return HttpOutcome(None, error="a NodePort request needs the nodePort number")
        node = world.nodes[1] if len(world.nodes) > 1 else world.nodes[0]
        c = connect(world, None, node.ip, port, "TCP", src_ip=ENVOY_SOURCE)
        return _served(c, [f"request to node {node.name} {node.ip}:{port}"], tls)
    if via.startswith("loadbalancer:"):
        ref = via.split(":", 1)[1]
        ns, _, name = ref.partition("/")
        svc = world.service(ns, name)
        if svc is None:
            return HttpOutcome(None, [f"no Service {ref}"], hints=[f"create the Service {name} in namespace {ns}"], error="no such Service")
        if svc.type != "LoadBalancer":
            return HttpOutcome(
                None,
                [f"Service {ref} has type {svc.type}: it gets no external IP"],
                hints=[f"set spec.type: LoadBalancer on Service {ref}"],
                error="not a LoadBalancer",
            )
        if not svc.load_balancer_ip:
            return HttpOutcome(None, [f"LoadBalancer {ref} has no external IP yet"], error="no external IP")
        lb_port = port or (svc.ports[0].port if svc.ports else 80)
        c = connect(world, None, svc.load_balancer_ip, lb_port, "TCP", src_ip=ENVOY_SOURCE)
        return _served(c, [f"request to LoadBalancer {ref} at {svc.load_balancer_ip}:{lb_port}"], tls)
    return HttpOutcome(None, error=f"unknown entry point {via!r}: use ingress, nodeport, loadbalancer:<ns>/<svc> or gateway:<ns>/<name>")


def _served(c: Connection, trace: list[str], tls: bool, *, proxied: bool = False) -> HttpOutcome:
    """The HTTP answer for a connection. `proxied`: through the ingress proxy, which answers 503 itself
    when the backend has no endpoints; without a proxy kube-proxy rejects the connection."""
    trace = trace + c.trace
    if c.verdict == "no-endpoints" and proxied:
        return HttpOutcome(503, trace, c.hints, service=c.service)
    if not c.ok:
        return HttpOutcome(None, trace, c.hints, service=c.service, error=c.verdict)
    if not c.http:
        return HttpOutcome(None, trace + [f"{c.endpoint} accepts the connection but does not speak HTTP"], c.hints, service=c.service, endpoint=c.endpoint, error="not HTTP")
    if tls:
        return HttpOutcome(None, trace + ["TLS is terminated by an Ingress; this entry point serves plain HTTP"], c.hints, service=c.service, endpoint=c.endpoint, error="no TLS")
    return HttpOutcome(200, trace, c.hints, service=c.service, endpoint=c.endpoint)


def _via_ingress(world: World, host: str, path: str, tls: bool) -> HttpOutcome:
    r = ingress_model.route(world, host, path, "https" if tls else "http")
    trace = list(r.trace)
    hints = list(r.problems)
    out = HttpOutcome(None, trace, hints, ingress=r.ingress, tls_secret=r.tls_secret)
    if tls:
        secret = _secret(world, r.tls_secret)
        if secret is None:
            out.error = "no certificate"
            out.trace.append(f"no TLS certificate is configured for {host}: the TLS handshake fails")
            return out
        cert = certificate_facts(secret.obj)
        if cert.get("error"):
            out.error = "bad certificate"
            out.trace.append(f"Secret {secret.key}: {cert['error']}")
            out.hints.append(f"Secret {secret.key} must hold a PEM certificate in tls.crt and its key in tls.key")
            return out
        out.cert_sans = cert["sans"]
        out.cert_subject = cert["subject"]
        out.cert_issuer = cert["issuer"]
        out.trace.append(f"served certificate from Secret {secret.key}: subject {cert['subject']}, SANs {', '.join(cert['sans']) or '(none)'}")
    if r.service is None:
        out.status = r.status or 404
        return out
    ns, _, name = r.service.partition("/")
    svc = services.get_service(world, ns, name)
    if svc is None:
        out.status = 503
        out.trace.append(f"backend Service {r.service} does not exist: the controller answers 503")
        out.hints.append(f"the Ingress points at Service {r.service}, which does not exist")
        return out
    port = r.port
    if isinstance(port, str):
        sp = next((p for p in svc.ports if p.name == port), None)
        if sp is None:
            out.status = 503
            out.trace.append(f"Service {r.service} has no port named {port!r}")
            out.hints.append(f"the Ingress backend names port {port!r}, but Service {r.service} has ports " + ", ".join(f"{p.name or '-'}:{p.port}" for p in svc.ports))
            return out
        port = sp.port
    if port is None or services.service_port(svc, int(port), "TCP") is None:
        out.status = 503
        have = ", ".join(str(p.port) for p in svc.ports)
        out.trace.append(f"Service {r.service} has no port {port}; its ports: {have}")
        out.hints.append(f"the Ingress sends to {r.service}:{port}, but that Service exposes port(s) {have}: use one of those in backend.service.port")
        return out
    out.service = r.service
    if svc.cluster_ip is None:
        c = Connection("error", [f"Service {r.service} is headless; cloud-provider-kind sends to its endpoints"])
    else:
        c = connect(world, None, svc.cluster_ip, int(port), "TCP", src_ip=ENVOY_SOURCE)
    served = _served(c, [], False, proxied=True)
    out.status, out.endpoint, out.error = served.status, served.endpoint, served.error
    out.trace += served.trace
    out.hints += served.hints
    return out


def _via_gateway(world: World, gateway: str, host: str, path: str, tls: bool, port: int | None, method: str,
                 headers: tuple[tuple[str, str], ...]) -> HttpOutcome:
    """Through a Gateway's address: the Gateway API model decides; the chosen Services' endpoints answer."""
    from grader.model.gateway import Request, route_request

    req = Request(host=host, path=path, method=method, headers=headers, scheme="https" if tls else "http", port=port)
    d = route_request(world, gateway, req)
    out = HttpOutcome(d.status, list(d.trace), list(d.problems), gateway=gateway, listener=d.listener, route=d.route,
                      location=d.location, route_status=list(d.route_status), backend_path=d.backend_path,
                      response_headers=d.response_headers({}))
    out.ingress = d.route  # the object that routed it, for reports that show "ingress"
    if d.error:
        out.status = None
        out.error = {"refused": "refused", "tls": "TLS handshake failed", "no gateway": "no such Gateway"}.get(d.error, d.error)
        return out
    if tls:
        secret = _secret(world, d.tls_secret)
        if secret is not None:
            cert = certificate_facts(secret.obj)
            if not cert.get("error"):
                out.cert_sans, out.cert_subject, out.cert_issuer = cert["sans"], cert["subject"], cert["issuer"]
                out.tls_secret = d.tls_secret
                out.trace.append(f"served certificate from Secret {secret.key}: SANs {', '.join(cert['sans']) or '(none)'}")
    answering = []
    for s in d.shares:
        if s.share <= 0 or s.status is not None or s.service is None:
            continue
        ns, _, name = s.service.partition("/")
        svc = services.get_service(world, ns, name)
        if svc is None or svc.cluster_ip is None or s.port is None:
            note = "headless" if svc is not None and svc.cluster_ip is None else "unusable"
            out.trace.append(f"-> Service {s.service} is {note}: the simulator sends to its endpoints")
            answering.append((s, None))
            continue
        c = connect(world, None, svc.cluster_ip, int(s.port), "TCP", src_ip=ENVOY_SOURCE)
        answering.append((s, c))
    for s, c in answering:
        served = _served(c, [], False, proxied=True) if c is not None else HttpOutcome(200)
        if served.ok:
            out.shares[s.service] = out.shares.get(s.service, 0.0) + s.share
        if s.service == d.service:
            out.status = served.status if d.status is None else d.status
            out.error, out.endpoint, out.service = served.error, served.endpoint, s.service
            out.trace += [f"-> {s.service}: " + line for line in served.trace]
            out.hints += served.hints
    if d.status is not None:
        out.status = d.status
    return out


def _secret(world: World, key: str | None):
    if key is None:
        return None
    ns, _, name = key.partition("/")
    return next((s for s in world.secrets if s.namespace == ns and s.name == name), None)


def certificate_facts(secret_obj: dict) -> dict:
    """Subject, SANs and issuer of the certificate in a kubernetes.io/tls Secret (data or stringData)."""
    from cryptography import x509

    data = secret_obj.get("data") or {}
    pem: bytes | None = None
    if "tls.crt" in data:
        try:
            pem = base64.b64decode(str(data["tls.crt"]), validate=False)
        except (ValueError, TypeError):
            return {"error": "tls.crt is not valid base64"}
    elif "tls.crt" in (secret_obj.get("stringData") or {}):
        pem = str(secret_obj["stringData"]["tls.crt"]).encode()
    if not pem:
        return {"error": "the Secret has no tls.crt"}
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        return {"error": "tls.crt is not a PEM certificate"}
    try:
        ext = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        sans = [str(v) for v in ext.value.get_values_for_type(x509.DNSName)]
    except x509.ExtensionNotFound:
        sans = []
    return {"sans": sans, "subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string()}
