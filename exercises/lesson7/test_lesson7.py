"""Lesson 7: Gateway API."""

from __future__ import annotations

from grader.checks import CheckFailed
from grader.model.gateway import Request, analyze, route_request
from grader.model.gateway.split import acceptance_band, pass_probability
from grader.model.names import wildcard_match

GATEWAY = "shop-gateway"
VIA = f"gateway:lesson7/{GATEWAY}"
SHOP, API, SECURE, BLOG = "shop.example.com", "api.example.com", "secure.example.com", "blog.example.com"

# Task 1: host and path. (path, Service that must answer; None = 404: nothing routes it)
PATH_ROUTES = [("/", "store-v1"), ("/cart", "cart"), ("/cart/items", "cart"), ("/cartoon", "store-v1")]
# Task 2: the same host with a header. (path, headers, Service)
HEADER_ROUTES = [
    ("/", {"X-Version": "v2"}, "store-v2"),
    ("/", {"x-version": "v2"}, "store-v2"),  # header names are case-insensitive
    ("/", {"X-Version": "v1"}, "store-v1"),
    ("/", {}, "store-v1"),
    ("/cart", {"X-Version": "v2"}, "cart"),  # the longer path wins before headers are counted
]
# Task 3: the canary. Shares of api.example.com's requests, and how many requests a live check sends.
CANARY = {"api-v1": 0.9, "api-v2": 0.1}
SAMPLES = 200


def test_host_path_route(lab):
    """http://shop.example.com/ through the Gateway shop-gateway is answered by store-v1, /cart and everything below it by cart."""
    rows, wrong = [], []
    for path, want in PATH_ROUTES:
        r = lab.http(VIA, SHOP, path)
        got = _answered_by(r)
        rows.append(f"  {path:<12} expected {want:<9} got {got}")
        if got != want:
            wrong.append((path, want, got, r))
    other = lab.http(VIA, "www.example.com", "/")
    if _answered_by(other) != "404":
        wrong.append(("www.example.com/", "404", _answered_by(other), other))
        rows.append(f"  http://www.example.com/ expected 404 (no route names that host) got {_answered_by(other)}")
    if wrong:
        _fail_table(lab, f"http://{SHOP}/ routed by path: " + ", ".join(f"{p} -> {s}" for p, s in PATH_ROUTES)
                    + "; other hosts are not served by your shop route", wrong, rows, SHOP)


def test_header_route_to_v2(lab):
    """On shop.example.com, a request with the header X-Version: v2 is answered by store-v2; other requests keep their task-1 answers."""
    rows, wrong = [], []
    for path, headers, want in HEADER_ROUTES:
        r = lab.http(VIA, SHOP, path, headers=headers)
        got = _answered_by(r)
        shown = ", ".join(f"{k}: {v}" for k, v in headers.items()) or "(no header)"
        rows.append(f"  {path:<6} {shown:<16} expected {want:<9} got {got}")
        if got != want:
            wrong.append((f"{path} {shown}", want, got, r))
    if wrong:
        hints = _hostless_route_hints(lab)
        _fail_table(lab, "requests with X-Version: v2 reach store-v2, the others keep their routes", wrong, rows, SHOP, hints)


def test_canary_split(lab):
    """http://api.example.com/ is split 90/10 between api-v1 and api-v2 (a canary)."""
    r = lab.http(VIA, API, "/", samples=SAMPLES)
    want = {f"{lab.ns()}/{k}": v for k, v in CANARY.items()}
    samples = r.data.get("samples")
    expected = "requests for api.example.com split 90% api-v1, 10% api-v2"
    if samples is None:  # the model states the exact shares
        got = {k: round(v, 6) for k, v in (r.data.get("shares") or {}).items() if v}
        if got != want:
            raise CheckFailed(expected, f"expected shares of the requests: {_shares(got) or 'none answered'}",
                              evidence=r.evidence, hints=_canary_hints(got) + list(r.data.get("hints", [])), kubectl=[r.kubectl])
        return
    counts = {k: int(v) for k, v in (r.data.get("counts") or {}).items()}
    lo, hi = acceptance_band(samples, CANARY["api-v2"])
    v2, v1 = counts.get(f"{lab.ns()}/api-v2", 0), counts.get(f"{lab.ns()}/api-v1", 0)
    bound = (f"with {samples} requests a true 90/10 split gives api-v2 between {lo} and {hi} answers except with "
             f"probability < 1e-6, and a 50/50 split lands there with probability {pass_probability(samples, 0.5, (lo, hi)):.0e}")
    if v1 + v2 != samples or not lo <= v2 <= hi:
        raise CheckFailed(expected, f"of {samples} requests: " + (", ".join(f"{k}: {c}" for k, c in sorted(counts.items())) or "none answered"),
                          evidence=r.evidence + [bound], hints=_canary_hints({k: c / samples for k, c in counts.items()}) + list(r.data.get("hints", [])),
                          kubectl=[r.kubectl])


def test_https_redirect_and_tls(lab):
    """http://secure.example.com/… answers 301 with Location https://secure.example.com/… (same path and query), and https://secure.example.com/ is answered by store-v1 with a certificate for secure.example.com, terminated at the Gateway."""
    r = lab.http(VIA, SECURE, "/account?from=mail")
    want_location = f"https://{SECURE}/account?from=mail"
    status, location = r.data.get("status"), r.data.get("location")
    if status != 301 or location != want_location:
        raise CheckFailed(
            f"http://{SECURE}/account?from=mail answers 301 Moved Permanently, Location: {want_location}",
            f"HTTP {status}" + (f", Location: {location}" if location else f", answered by {_answered_by(r)}" if r.ok else ""),
            evidence=r.evidence, hints=_redirect_hints(status, location) + list(r.data.get("hints", [])), kubectl=[r.kubectl])
    s = lab.http(VIA, SECURE, "/", tls=True)
    lab.expect(s, True, f"https://{SECURE}/ answers through the Gateway's HTTPS listener (TLS handshake and HTTP 2xx)")
    sans = [x.lower() for x in s.data.get("cert_sans") or []]
    if not any(wildcard_match(x, SECURE) for x in sans):
        raise CheckFailed(f"the certificate served for {SECURE} names it in its subjectAltName",
                          f"served certificate SANs: {', '.join(sans) or '(none)'}", evidence=s.evidence,
                          hints=[f"make it with `grade tls-cert --host {SECURE} --out work/lesson7/`"], kubectl=[s.kubectl])
    if _answered_by(s) != "store-v1":
        raise CheckFailed(f"https://{SECURE}/ is answered by store-v1", f"answered by {_answered_by(s)}",
                          evidence=s.evidence, hints=list(s.data.get("hints", [])), kubectl=[s.kubectl])


def test_cross_namespace_backend(lab):
    """http://shop.example.com/catalog is answered by Service catalog of namespace lesson7-catalog, through an HTTPRoute of lesson7 that the catalog team allows with a ReferenceGrant."""
    r = lab.http(VIA, SHOP, "/catalog")
    got = _answered_by(r)
    decision = route_request(lab.world, f"{lab.ns()}/{GATEWAY}", Request(SHOP, "/catalog"))
    route_ns = (decision.route or "").partition("/")[0]
    if got == "catalog" and (r.data.get("service") or "").startswith(f"{lab.ns('lesson7-catalog')}/") and route_ns == lab.ns():
        return
    observed = f"answered by {got}" + (f" (HTTP {r.data.get('status')})" if r.data.get("status") else "")
    if got == "catalog" and route_ns != lab.ns():
        observed += f"; the route that serves it is {decision.route}, not a route of lesson7 (the shop team's namespace)"
    raise CheckFailed(f"http://{SHOP}/catalog is answered by lesson7-catalog/catalog through an HTTPRoute in lesson7",
                      observed, evidence=r.evidence + _status_evidence(lab, "catalog"),
                      hints=list(r.data.get("hints", [])), kubectl=[r.kubectl, f"kubectl get referencegrant -n {lab.ns('lesson7-catalog')} -o yaml"])


def test_broken_route_fixed(lab):
    """http://blog.example.com/ is answered by Service blog: repair the HTTPRoute blog the starter gives you, reading why it is not attached from its status."""
    r = lab.http(VIA, BLOG, "/")
    if _answered_by(r) == "blog":
        return
    raise CheckFailed(f"http://{BLOG}/ is answered by Service blog", f"{_answered_by(r)}",
                      evidence=r.evidence + _status_evidence(lab, "blog"), hints=list(r.data.get("hints", [])),
                      kubectl=[r.kubectl, f"kubectl get httproute blog -n {lab.ns()} -o yaml"])


# -------------------------------------------------------------------------------------- helpers


def _answered_by(r) -> str:
    """The Service name that answered, or the Gateway's own status ("404", "500"...), or the error."""
    svc = r.data.get("service")
    status = r.data.get("status")
    if svc and (status is None or 200 <= status < 300):
        return svc.rpartition("/")[2]
    if status:
        return str(status)
    return r.verdict if r.verdict != "allowed" else "(no answer)"


def _shares(shares: dict[str, float]) -> str:
    return ", ".join(f"{k.rpartition('/')[2]} {v:.0%}" for k, v in sorted(shares.items()))


def _canary_hints(shares: dict[str, float]) -> list[str]:
    by_name = {k.rpartition("/")[2]: v for k, v in shares.items()}
    v1, v2 = by_name.get("api-v1", 0.0), by_name.get("api-v2", 0.0)
    if v2 > v1:
        return ["most requests reach the canary: the weights are on the wrong backends; api-v1 needs weight 90, api-v2 weight 10"]
    if v1 and v2 and abs(v1 - v2) < 0.2:
        return ["both backends get about the same share: a backendRef without weight counts as weight 1; give api-v1 weight 90, api-v2 weight 10"]
    if not v2:
        return ["api-v2 gets nothing: list it as a second backendRef of the same rule, with weight 10"]
    return []


def _status_evidence(lab, route: str) -> list[str]:
    """What the controller writes in the route's status (the simulator's view of the objects you applied)."""
    rs = analyze(lab.world).routes.get(f"{lab.ns()}/{route}")
    if rs is None:
        return [f"no HTTPRoute {route} in {lab.ns()}"]
    return ([f"status of HTTPRoute {rs.key} as its controller computes it from your objects "
             f"(on a cluster: kubectl get httproute {route} -n {lab.ns()} -o yaml):"]
            + [f"  {line}" for line in rs.status_lines()])


def _fail_table(lab, expected: str, wrong, rows, host: str, hints=()) -> None:
    evidence = ["request -> answered by"] + rows
    for what, _, _, r in wrong[:2]:
        evidence += [f"trace of {what}:"] + [f"  {e}" for e in r.evidence]
    raise CheckFailed(expected, f"{len(wrong)} request(s) went elsewhere: " + ", ".join(f"{p} -> {g}" for p, _, g, _ in wrong),
                      evidence=evidence, hints=list(hints) + [h for _, _, _, r in wrong for h in r.data.get("hints", [])],
                      kubectl=[r.kubectl for _, _, _, r in wrong])


def _hostless_route_hints(lab) -> list[str]:
    hints = []
    for rs in analyze(lab.world).routes.values():
        rules = rs.raw.spec.get("rules") or []
        has_header = any(m.get("headers") for rule in rules for m in (rule.get("matches") or []) if isinstance(m, dict))
        if has_header and not rs.raw.spec.get("hostnames"):
            hints.append(f"HTTPRoute {rs.key} has a header match but no hostnames: it serves *.example.com, and the routes "
                         f"for {SHOP} (more specific) answer first; give it hostnames: [{SHOP}]")
    return hints


def _redirect_hints(status, location) -> list[str]:
    hints = []
    if status in (302, 303, 307, 308):
        hints.append(f"the redirect answered {status}; a permanent http->https redirect is statusCode: 301 (302 is the default)")
    if location and location.startswith("http://"):
        hints.append("the Location keeps scheme http: set requestRedirect.scheme: https")
    if status is None or (200 <= (status or 0) < 300):
        hints.append("plain HTTP for secure.example.com must be redirected, not served: a route on the http listener "
                     "(sectionName: http) with a RequestRedirect filter and no backendRefs")
    return hints
