"""Lesson 5: Ingress and TLS."""

from __future__ import annotations

import pytest

from grader.checks import CheckFailed
from grader.model.names import wildcard_match

HOST = "myapp.example.com"

# Expected routing for HOST: request path -> the Service that must answer it.
PATH_ROUTES = [
    ("/", "my-service"),
    ("/api", "api-service"),  # Prefix /api
    ("/api/v1/users", "api-service"),  # Prefix matches whole path elements below /api
    ("/apiv2", "my-service"),  # ...but not /apiv2: Prefix is element-wise, not a string prefix
    ("/status", "status-service"),  # Exact /status
    ("/status/details", "my-service"),  # Exact does not match deeper paths: falls back to /
]

OTHER_HOST = "nothing.example.org"
# A host beside myapp.example.com: a wildcard rule (*.example.com) would take it from the default backend.
SIBLING_HOST = "other.example.com"


def test_host_routing(lab):
    """http://myapp.example.com/ through the ingress is answered by Service my-service on port 80."""
    r = lab.http("ingress", HOST, "/")
    port_hints = [] if r.data.get("hints") else _backend_port_hints(lab)  # the simulator's own diagnosis says it already
    lab.expect(r, True, f"http://{HOST}/ through the ingress answers (HTTP 2xx)", hints=_host_hints(lab) + port_hints)
    _expect_service(lab, r, "my-service", f"http://{HOST}/")


def test_path_routing(lab):
    """On myapp.example.com, /api (Prefix) goes to api-service and /status (Exact) to status-service; everything else to my-service."""
    rows, wrong = [], []
    for path, want in PATH_ROUTES:
        r = lab.http("ingress", HOST, path)
        got = _service_name(r) if r.ok else f"({r.verdict}, HTTP {r.data.get('status')})"
        rows.append(f"  {path:<18} expected {want:<16} got {got}")
        if got != want:
            wrong.append((path, want, got, r))
    if not wrong:
        return
    evidence = ["path               -> Service"] + rows
    for path, _, _, r in wrong[:2]:
        evidence += [f"trace of {path}:"] + [f"  {e}" for e in r.evidence]
    raise CheckFailed(
        "requests for myapp.example.com are routed by path: " + ", ".join(f"{p} -> {s}" for p, s in PATH_ROUTES),
        f"{len(wrong)} of {len(PATH_ROUTES)} paths went elsewhere: " + ", ".join(f"{p} -> {g}" for p, _, g, _ in wrong),
        evidence=evidence,
        hints=_path_type_hints(lab) + _host_hints(lab) + [h for _, _, _, r in wrong for h in r.data.get("hints", [])],
        kubectl=[r.kubectl for _, _, _, r in wrong],
    )


def test_default_backend(lab):
    """A request for any other host (nothing.example.org, other.example.com) is answered by fallback-service (the Ingress's spec.defaultBackend)."""
    hints = []
    ingresses = _ingresses(lab)
    if not any(i.spec.get("defaultBackend") for i in ingresses):
        hints.append("no Ingress in lesson5 has spec.defaultBackend: add `defaultBackend: {service: {name: fallback-service, port: {number: 80}}}`")
    for i in ingresses:
        if any(not rule.get("host") for rule in i.spec.get("rules") or []):
            hints.append(
                f"Ingress {i.key} has a rule without host: it matches every host, so the default backend is never used; "
                f"give the rule `host: {HOST}`"
            )
    for i in ingresses:
        for rule in i.spec.get("rules") or []:
            host = rule.get("host") or ""
            if host.startswith("*.") and wildcard_match(host, SIBLING_HOST):
                hints.append(
                    f"Ingress {i.key} has a rule for {host}: it takes every host of that domain ({SIBLING_HOST} too) away from "
                    f"the default backend; write the exact host {HOST}"
                )
    for host in (OTHER_HOST, SIBLING_HOST):
        r = lab.http("ingress", host, "/")
        lab.expect(r, True, f"http://{host}/ through the ingress answers (HTTP 2xx)", hints=hints)
        _expect_service(lab, r, "fallback-service", f"http://{host}/", hints=hints)


def test_tls(lab):
    """https://myapp.example.com/ (SNI myapp.example.com) answers with a certificate whose SANs include myapp.example.com."""
    hints = _secret_hints(lab)
    r = lab.http("ingress", HOST, "/", tls=True)
    lab.expect(r, True, f"https://{HOST}/ through the ingress answers (TLS handshake and HTTP 2xx)", hints=hints + _host_hints(lab))
    sans = [s.lower() for s in r.data.get("cert_sans") or []]
    if not any(wildcard_match(s, HOST) for s in sans):
        raise CheckFailed(
            f"the certificate served for {HOST} names {HOST} in its subjectAltName",
            f"served certificate SANs: {', '.join(sans) or '(none)'}",
            evidence=r.evidence,
            hints=hints
            + [
                f"make the certificate for {HOST}: `grade tls-cert --host {HOST} --out work/lesson5/`, or openssl with "
                f"-addext 'subjectAltName=DNS:{HOST}' (browsers and curl ignore the CN)"
            ],
            kubectl=[r.kubectl],
        )
    _expect_service(lab, r, "my-service", f"https://{HOST}/", hints=hints)


def test_gateway_api_optional(lab):
    """Optional: a Gateway (listener HTTP/80) and an HTTPRoute attached to it for myapp.example.com send traffic to my-service:80 (lesson 7 teaches the Gateway API in full)."""
    from grader.model.gateway import Request, analyze, route_request

    ns = lab.ns()
    gateways = [o for o in lab.world.others if o.kind == "Gateway" and o.namespace == ns]
    routes = [o for o in lab.world.others if o.kind == "HTTPRoute" and o.namespace == ns]
    if not gateways and not routes:
        pytest.skip("optional task: add a Gateway and an HTTPRoute to work/lesson5/ to have it checked (lesson 7 covers the Gateway API)")
    # Decided by the Gateway API model on the objects you applied, on the simulator and the cluster alike:
    # a route that is not attached (Accepted False) serves nothing, whatever its rules say.
    state = analyze(lab.world)
    evidence: list[str] = []
    problems: list[str] = []
    for gw in gateways:
        d = route_request(lab.world, gw.key, Request(HOST, "/"), state)
        evidence += [f"through Gateway {gw.key}:"] + [f"  {line}" for line in d.trace + d.route_status]
        problems += d.problems
        if d.status is None and d.service == f"{ns}/my-service" and any(s.port == 80 for s in d.shares):
            return
    for rt in routes:
        rs = state.routes.get(rt.key)
        if rs is not None and not any(p.gateway for p in rs.parents):
            problems += rs.problems or [f"HTTPRoute {rt.key}: parentRefs name no Gateway of {ns}"]
            evidence += [f"HTTPRoute {rt.key}:"] + [f"  {line}" for line in rs.status_lines()]
    if not gateways:
        problems.append(f"no Gateway in namespace {ns}: the HTTPRoute has nothing to attach to")
    if not routes:
        problems.append(f"no HTTPRoute in namespace {ns}: a Gateway alone routes nothing")
    problems += [h for rt in routes for h in _gateway_backend_hints(lab, rt, ns)]
    raise CheckFailed(
        f"a Gateway with an HTTP listener on port 80, and an HTTPRoute attached to it (Accepted) for {HOST} with a backendRef to my-service port 80",
        "; ".join(dict.fromkeys(problems)) or f"http://{HOST}/ through your Gateway is not answered by my-service",
        evidence=evidence or ["no Gateway to send the request through"],
        hints=list(dict.fromkeys(problems)),
        kubectl=[f"kubectl get gateway,httproute -n {ns} -o yaml   # status.parents[].conditions says why a route is not attached"],
    )


def _gateway_backend_hints(lab, rt, ns: str) -> list[str]:
    backends = [b for rule in rt.spec.get("rules") or [] for b in rule.get("backendRefs") or []]
    if any(_backend_ref_ok(lab, b, ns) for b in backends):
        return []
    found = ", ".join(f"{b.get('name')}:{b.get('port')}" for b in backends) or "none"
    svc = lab.world.service(ns, "my-service")
    have = ", ".join(str(p.port) for p in svc.ports) if svc else "none"
    return [f"HTTPRoute {rt.key}: no backendRef to my-service port 80 (found {found}; my-service exposes port(s) {have}); "
            "a backendRef names the Service and its port, not the container port"]


# -------------------------------------------------------------------------------------- helpers


def _service_name(r) -> str | None:
    svc = r.data.get("service")
    return svc.rpartition("/")[2] if svc else None


def _expect_service(lab, r, want: str, what: str, *, hints=()) -> None:
    got = _service_name(r)
    if got == want:
        return
    raise CheckFailed(
        f"{what} is answered by Service {want}",
        f"it was answered by {got or 'no Service'} (HTTP {r.data.get('status')})",
        evidence=r.evidence,
        hints=list(hints) + _host_hints(lab) + list(r.data.get("hints", [])),
        kubectl=[r.kubectl],
    )


def _ingresses(lab):
    return [i for i in lab.world.ingresses if i.namespace == lab.ns()]


def _host_hints(lab) -> list[str]:
    hosts = sorted({rule.get("host") or "(any host)" for i in _ingresses(lab) for rule in i.spec.get("rules") or []})
    if not _ingresses(lab):
        return [f"there is no Ingress in namespace {lab.ns()} yet"]
    if HOST not in hosts and not any(h.startswith("*.") and wildcard_match(h, HOST) for h in hosts):
        return [f"no Ingress rule has host {HOST}; your rules have host(s): {', '.join(hosts) or 'none'}"]
    return []


def _backend_port_hints(lab) -> list[str]:
    hints = []
    for i in _ingresses(lab):
        for rule in i.spec.get("rules") or []:
            for p in (rule.get("http") or {}).get("paths") or []:
                svc = ((p.get("backend") or {}).get("service")) or {}
                port = (svc.get("port") or {}).get("number")
                s = lab.world.service(lab.ns(), svc.get("name", ""))
                if s and port is not None and all(sp.port != port for sp in s.ports):
                    hints.append(
                        f"Ingress {i.key}: backend {svc.get('name')} port {port}, but that Service exposes "
                        f"{', '.join(str(sp.port) for sp in s.ports)}: an Ingress backend names the Service port, not the targetPort"
                    )
    return hints


def _path_type_hints(lab) -> list[str]:
    hints = []
    for i in _ingresses(lab):
        for rule in i.spec.get("rules") or []:
            for p in (rule.get("http") or {}).get("paths") or []:
                path, ptype = p.get("path"), p.get("pathType")
                if path == "/status" and ptype != "Exact":
                    hints.append(f"Ingress {i.key}: /status has pathType {ptype}; with Prefix it also takes /status/details. Use pathType: Exact")
                if path in ("/api", "/api/") and ptype == "Exact":
                    hints.append(f"Ingress {i.key}: {path} has pathType Exact, so /api/v1/users does not match it. Use pathType: Prefix")
                if isinstance(path, str) and path.startswith("/api") and path.rstrip("/") != "/api":
                    hints.append(f"Ingress {i.key}: path {path}: Prefix /api already covers everything below /api")
    return hints


def _secret_hints(lab) -> list[str]:
    hints = []
    ns = lab.ns()
    for i in _ingresses(lab):
        for t in i.spec.get("tls") or []:
            name = t.get("secretName")
            if not name:
                hints.append(f"Ingress {i.key}: a tls entry without secretName")
                continue
            here = [s for s in lab.world.secrets if s.name == name and s.namespace == ns]
            elsewhere = [s for s in lab.world.secrets if s.name == name and s.namespace != ns]
            if not here and elsewhere:
                hints.append(
                    f"Secret {name} is in namespace {elsewhere[0].namespace}, but Ingress {i.key} can only use Secrets of its "
                    f"own namespace ({ns}): remove `namespace:` from the Secret or set it to {ns}"
                )
            elif not here:
                hints.append(
                    f"Ingress {i.key} names secretName {name}, and no Secret {name} exists in {ns}: create it with "
                    f"`grade tls-cert --host {HOST} --out work/lesson5/` (or openssl + kubectl create secret tls, see README)"
                )
            elif here[0].obj.get("type") != "kubernetes.io/tls":
                hints.append(f"Secret {ns}/{name} has type {here[0].obj.get('type') or 'Opaque'}; an Ingress needs type kubernetes.io/tls")
            hosts = [h.lower() for h in t.get("hosts") or []]
            if hosts and HOST not in hosts:
                hints.append(f"Ingress {i.key}: tls hosts {hosts} do not include {HOST}, so no certificate is served for it (SNI)")
    if not any(i.spec.get("tls") for i in _ingresses(lab)):
        hints.append(f"no Ingress in {ns} has a tls section: add `tls: [{{hosts: [{HOST}], secretName: <your Secret>}}]`")
    return hints


def _backend_ref_ok(lab, ref: dict, ns: str) -> bool:
    if ref.get("kind", "Service") != "Service" or ref.get("group", "") not in ("", "core"):
        return False
    if ref.get("name") != "my-service" or ref.get("namespace", ns) != ns:
        return False
    svc = lab.world.service(ns, "my-service")
    return svc is not None and ref.get("port") == 80 and any(p.port == 80 for p in svc.ports)
