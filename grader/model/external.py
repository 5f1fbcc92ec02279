"""An HTTP(S) request from outside the cluster: through the Ingress, a NodePort or a LoadBalancer IP.

How each entry point reaches the pods on the course cluster (clusters/kind.yaml, cloud-provider-kind):
- NodePort: `localhost:30080` is published by Docker (kind extraPortMappings) to the control-plane
  node, so the request enters there, from the Docker network's gateway (HOST_SOURCE); kube-proxy on the
  control-plane applies the Service's externalTrafficPolicy (grader.model.connect).
- LoadBalancer: the external IP is an Envoy container of cloud-provider-kind on the kind network; it
  proxies to the workers' NodePorts (grader.model.connect._through_load_balancer), so the pod sees the
  node's address (Cluster) or the load balancer's own IP (Local), never the client's.
- Ingress: cloud-provider-kind translates each Ingress to Gateway API and runs one Envoy per namespace
  (pkg/gateway/gateway.go translateBackendRefToCluster): a ClusterIP backend is reached at
  ClusterIP:port, routed through the control-plane node, whose kube-proxy masquerades the source to the
  node's address. A headless backend (clusterIP: None) becomes a STRICT_DNS cluster of
  <svc>.<ns>.svc.cluster.local on the Service port's numeric targetPort: Envoy resolves it to pod IPs,
  but the gateway container has routes for the Service range only (the route-adder adds the
  ServiceCIDRs via the control-plane node), so its connections to pod IPs go nowhere and time out (5 s
  connect timeout); a named targetPort gives no cluster at all. Either way the client gets a 5xx. (Derived
  from cloud-provider-kind's source, not observed: its data plane is Envoy, which our machines cannot
  build.) In-cluster controllers differ: Traefik and HAProxy Ingress read the EndpointSlices and send to
  the pod IPs directly, so a headless backend works there (traefik/traefik#7102 shows Traefik dialing the
  pod IP).
- A backend that refuses the connection or drops it: the proxy answers itself. Envoy (cloud-provider-kind)
  answers 503 "upstream connect error or disconnect/reset before headers. reset reason: connection
  failure" (or "connection timeout" after 5 s when the packets are dropped); Traefik answers 502 Bad
  Gateway (traefik/traefik#7102), HAProxy Ingress 503 (jcmoraisjr/haproxy-ingress#33). Checks test for
  a 5xx, not the exact code.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field

from grader.model import ingress as ingress_model
from grader.model import services
from grader.model.connect import Connection, connect
from grader.model.objects import World

# The source address of a request from this machine: Docker's published ports and the kind network's
# containers see the host as the kind network's gateway.
HOST_SOURCE = "172.18.0.1"
# Where an Ingress request comes from: cloud-provider-kind's per-namespace Envoy container on the kind network.
ENVOY_SOURCE = "172.18.0.100"
# Envoy's connect_timeout for a gateway backend (cloud-provider-kind's translateBackendRefToCluster).
ENVOY_CONNECT_TIMEOUT_S = 5


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
    summary: str = ""  # what happened, in words, when the status or error alone does not say it
    placement_note: str = ""  # the answer rests on the simulator's guess of where pods run (see connect.Connection)

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
        node = world.nodes[0]  # kind extraPortMappings publish localhost:30080 on the control-plane node
        c = connect(world, None, node.ip, port, "TCP", src_ip=HOST_SOURCE)
        return _served(c, [f"localhost:{port} is published by Docker to node {node.name} ({node.ip}:{port}, kind "
                           f"extraPortMappings); the request arrives from {HOST_SOURCE}"], tls)
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
        c = connect(world, None, svc.load_balancer_ip, lb_port, "TCP", src_ip=HOST_SOURCE)
        return _served(c, [f"request to LoadBalancer {ref} at {svc.load_balancer_ip}:{lb_port}"], tls)
    return HttpOutcome(None, error=f"unknown entry point {via!r}: use ingress, nodeport, loadbalancer:<ns>/<svc> or gateway:<ns>/<name>")


def _served(c: Connection, trace: list[str], tls: bool, *, proxied: bool = False) -> HttpOutcome:
    """The HTTP answer for a connection. `proxied`: through the ingress proxy (Envoy), which answers itself
    when it cannot reach the backend: 503 for no endpoints, a refused or a timed-out connection."""
    trace = trace + c.trace
    note = c.placement_note
    if proxied and c.verdict == "no-endpoints":
        return HttpOutcome(503, trace, c.hints, service=c.service, placement_note=note)
    if proxied and c.verdict in ("refused", "blocked", "dropped"):
        reason = "connection failure" if c.verdict == "refused" else "connection timeout"
        wait = "" if c.verdict == "refused" else f" after its {ENVOY_CONNECT_TIMEOUT_S} s connect timeout"
        trace.append(f"the proxy cannot connect to the backend ({c.verdict}): it answers 503 \"upstream connect error or "
                     f"disconnect/reset before headers. reset reason: {reason}\"{wait}")
        return HttpOutcome(503, trace, c.hints, service=c.service, placement_note=note,
                           summary=f"HTTP 503 from the ingress proxy: the backend connection {'was refused' if c.verdict == 'refused' else 'timed out'}")
    if not c.ok:
        return HttpOutcome(None, trace, c.hints, service=c.service, error=c.verdict, summary=c.summary, placement_note=note)
    if not c.http:
        return HttpOutcome(None, trace + [f"{c.endpoint} accepts the connection but does not speak HTTP"], c.hints, service=c.service, endpoint=c.endpoint, error="not HTTP", placement_note=note)
    if tls:
        return HttpOutcome(None, trace + ["TLS is terminated by an Ingress; this entry point serves plain HTTP"], c.hints, service=c.service, endpoint=c.endpoint, error="no TLS", placement_note=note)
    return HttpOutcome(200, trace, c.hints, service=c.service, endpoint=c.endpoint, placement_note=note)


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
    served = _proxied_backend(world, svc, int(port))
    out.status, out.endpoint, out.error = served.status, served.endpoint, served.error
    out.summary, out.placement_note = served.summary, served.placement_note
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
        if svc is None or s.port is None:
            out.trace.append(f"-> Service {s.service} is unusable: the simulator sends to its endpoints")
            answering.append((s, HttpOutcome(200)))
            continue
        answering.append((s, _proxied_backend(world, svc, int(s.port))))
    for s, served in answering:
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


def _proxied_backend(world: World, svc, port: int) -> HttpOutcome:
    """What cloud-provider-kind's Envoy (Ingress and Gateway alike) gets from a backend Service port.

    A ClusterIP is reached through the control-plane node (which masquerades the request); a headless
    Service cannot be reached from the gateway container (see the module docstring): 503."""
    if svc.cluster_ip is None:
        sp = services.service_port(svc, port, "TCP")
        target = sp.target_port if sp is not None else None
        if isinstance(target, int) or (isinstance(target, str) and target.isdigit()):
            how = (f"cloud-provider-kind resolves {svc.name}.{svc.namespace}.svc.cluster.local (STRICT_DNS) and connects to "
                   f"the pod IPs on targetPort {target}, but its gateway container routes only the Service range: the "
                   "connections to pod IPs go nowhere")
        else:
            how = (f"cloud-provider-kind needs a numeric targetPort to send to a headless Service's pods, and port {port} has "
                   f"targetPort {target!r}: it builds no backend for it")
        return HttpOutcome(
            503, [f"Service {svc.key} is headless (clusterIP: None): {how}; the proxy answers 503 (5xx)"],
            [f"Service {svc.key} is headless: the course's Ingress and Gateway controller (cloud-provider-kind) cannot reach "
             "the pods of a headless Service; remove clusterIP: None from it (a ClusterIP Service is what a backend needs)"],
            service=svc.key, summary=f"HTTP 503 from the proxy: Service {svc.key} is headless (clusterIP: None)")
    control_plane = world.nodes[0].name if world.nodes else None
    c = connect(world, None, svc.cluster_ip, port, "TCP", src_ip=ENVOY_SOURCE, via_node=control_plane)
    return _served(c, [], False, proxied=True)


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
