"""Where one HTTP(S) request through a Gateway goes: listener, route rule, filters, backends.

Rules (HTTPRouteRule.matches, HTTPRouteMatch, HTTPRouteFilter, HTTPBackendRef; Gateway listeners):
- The request enters on a port: the listeners on that port with the request's protocol (HTTP, or
  HTTPS for TLS) are candidates; no listener there: nothing listens (connection refused). Among them
  the most specific hostname that covers the Host (SNI for HTTPS) wins: exact, then the wildcard
  with more labels, then a listener without hostname ("listener isolation"); none: 404 (HTTP) or a
  failed TLS handshake (HTTPS).
- The routes attached to that listener serve the request under their effective hostnames (route
  hostnames intersected with the listener's). The most specific effective hostname that covers the
  Host is chosen, as an Envoy virtual host is; only rules of routes under that hostname compete, and
  a request none of them matches gets 404 (no fall-through to a less specific hostname).
- A match: path (Exact: the whole path, case-sensitive; PathPrefix: whole `/`-separated elements,
  trailing `/` ignored; RegularExpression: Python `re.fullmatch`, close to Envoy's RE2), method,
  headers (names case-insensitive, values exact; only the first entry per name counts) and query
  parameters (names and values exact; the first value of a repeated parameter). All of a match's
  conditions must hold; any match of a rule selects the rule; a rule without matches matches `/`.
- Precedence across every candidate rule: an Exact path, then the longest PathPrefix (characters of
  the value), then a method match, then more header matches, then more query matches; then the
  oldest route (creationTimestamp), then `namespace/name`; within one route the first rule, then the
  first match.
- Filters of the chosen rule: RequestRedirect answers itself (statusCode default 302; scheme,
  hostname, path (ReplaceFullPath / ReplacePrefixMatch) and port build the Location; without a port
  the well-known port of a new scheme is used (http 80, https 443), else the listener's port, and
  80 for http / 443 for https are left out of the Location). URLRewrite changes the Host and path the
  backend sees; RequestHeaderModifier sets, adds (comma-appended) and removes request headers
  (names case-insensitive); ResponseHeaderModifier does the same on the response.
- Backends: weight/(sum of weights) of the requests each (weight defaults to 1, 0 gets none). An
  invalid backendRef (see attachment) keeps its share and answers 500; no weight above 0, or no
  backendRefs and no filter: 500. A Service without ready endpoints: 503.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from grader.model.gateway import hostnames
from grader.model.gateway.attachment import Gateway, GatewayState, Listener, RouteState, analyze
from grader.model.objects import World

DEFAULT_REDIRECT_STATUS = 302
WELL_KNOWN_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class Request:
    """One HTTP request as the client sends it. `path` may carry a query string."""

    host: str
    path: str = "/"
    method: str = "GET"
    headers: tuple[tuple[str, str], ...] = ()
    scheme: str = "http"
    port: int | None = None

    @property
    def entry_port(self) -> int:
        return self.port or WELL_KNOWN_PORTS.get(self.scheme, 80)

    @property
    def bare_path(self) -> str:
        p = self.path.split("?", 1)[0].split("#", 1)[0] or "/"
        return p if p.startswith("/") else "/" + p

    @property
    def query(self) -> list[tuple[str, str]]:
        return parse_qsl(self.path.split("?", 1)[1], keep_blank_values=True) if "?" in self.path else []


@dataclass
class Share:
    """One backendRef's part of a rule's traffic."""

    service: str | None  # ns/name
    port: int | None
    weight: int
    share: float
    status: int | None = None  # None: the Service answers; 500 invalid backendRef; 503 no ready endpoint
    why: str = ""


@dataclass
class Decision:
    """What the Gateway does with one request, and why."""

    gateway: str | None
    listener: str | None = None
    route: str | None = None
    rule: int | None = None
    match: int | None = None
    status: int | None = None  # None: forwarded to a backend; else the Gateway's own answer
    error: str | None = None  # no HTTP answer at all: "refused", "tls", "no gateway"
    location: str | None = None
    shares: list[Share] = field(default_factory=list)
    backend_host: str | None = None  # Host header the backend sees
    backend_path: str | None = None
    backend_headers: dict[str, str] = field(default_factory=dict)
    response_filters: list[dict[str, Any]] = field(default_factory=list)
    tls_secret: str | None = None
    trace: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    route_status: list[str] = field(default_factory=list)  # status of the routes that could have served it

    @property
    def service(self) -> str | None:
        """The Service that gets most of the traffic (the only one without a split)."""
        serving = [s for s in self.shares if s.service and s.status is None and s.share > 0]
        return max(serving, key=lambda s: s.share).service if serving else None

    def response_headers(self, upstream: dict[str, str]) -> dict[str, str]:
        """The response headers the client gets when the backend answered with `upstream`."""
        headers = _Headers(upstream)
        for f in self.response_filters:
            headers.modify(f)
        return headers.as_dict()


class _Headers:
    """A case-insensitive header map that keeps the first-written spelling of each name."""

    def __init__(self, items: dict[str, str] | tuple[tuple[str, str], ...]) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        for k, v in (items.items() if isinstance(items, dict) else items):
            low = k.lower()
            if low in self._items:
                self._items[low] = (self._items[low][0], self._items[low][1] + "," + v)
            else:
                self._items[low] = (k, v)

    def get(self, name: str) -> str | None:
        item = self._items.get(name.lower())
        return item[1] if item else None

    def modify(self, spec: dict[str, Any]) -> None:
        for h in spec.get("set") or []:
            self._items[str(h["name"]).lower()] = (str(h["name"]), str(h["value"]))
        for h in spec.get("add") or []:
            low = str(h["name"]).lower()
            if low in self._items:
                self._items[low] = (self._items[low][0], self._items[low][1] + "," + str(h["value"]))
            else:
                self._items[low] = (str(h["name"]), str(h["value"]))
        for name in spec.get("remove") or []:
            self._items.pop(str(name).lower(), None)

    def as_dict(self) -> dict[str, str]:
        return dict(self._items.values())


# ------------------------------------------------------------------------------------- matching


def path_matches(ptype: str, value: str, path: str) -> bool:
    """Whether a path match of this type covers the request path (without query)."""
    if ptype == "Exact":
        return path == value
    if ptype == "RegularExpression":
        try:
            return re.fullmatch(value, path) is not None
        except re.error:
            return False
    # PathPrefix: whole `/`-separated elements; a trailing `/` on the value is ignored.
    v = value.rstrip("/")
    return not v or path == v or path.startswith(v + "/")


def _first_by_name(items: list[dict[str, Any]], *, fold: bool) -> list[dict[str, Any]]:
    seen, out = set(), []
    for h in items:
        if not isinstance(h, dict):
            continue
        key = str(h.get("name", "")).lower() if fold else str(h.get("name", ""))
        if key in seen:
            continue
        seen.add(key)
        out.append(h)
    return out


def match_request(match: dict[str, Any], req: Request) -> bool:
    """Whether one HTTPRouteMatch holds for the request (all of its conditions)."""
    path = match.get("path") or {}
    if not path_matches(path.get("type") or "PathPrefix", path.get("value") or "/", req.bare_path):
        return False
    if match.get("method") and str(match["method"]).upper() != req.method.upper():
        return False
    headers = _Headers(req.headers)
    if not all(_value_matches(h, headers.get(str(h.get("name")))) for h in _first_by_name(match.get("headers") or [], fold=True)):
        return False
    query: dict[str, str] = {}
    for k, v in req.query:
        query.setdefault(k, v)  # the first value of a repeated parameter
    return all(_value_matches(q, query.get(str(q.get("name")))) for q in _first_by_name(match.get("queryParams") or [], fold=False))


def _value_matches(spec: dict[str, Any], got: str | None) -> bool:
    """A header or query parameter match (Exact, or RegularExpression as Python's re.fullmatch) against the request's value."""
    if got is None:
        return False
    if (spec.get("type") or "Exact") == "RegularExpression":
        try:
            return re.fullmatch(str(spec.get("value")), got) is not None
        except re.error:
            return False
    return got == str(spec.get("value"))


def precedence(match: dict[str, Any]) -> tuple[int, int, int, int, int]:
    """A sort key (lower = higher precedence) of one match, by the spec's ordering."""
    path = match.get("path") or {}
    ptype, value = path.get("type") or "PathPrefix", path.get("value") or "/"
    exact = 0 if ptype == "Exact" else 1
    prefix_len = len(value) if ptype in ("Exact", "PathPrefix") else 0
    return (exact, -prefix_len, 0 if match.get("method") else 1,
            -len(_first_by_name(match.get("headers") or [], fold=True)),
            -len(_first_by_name(match.get("queryParams") or [], fold=False)))


def describe_match(match: dict[str, Any]) -> str:
    path = match.get("path") or {}
    parts = [f"{path.get('type') or 'PathPrefix'} {path.get('value') or '/'}"]
    if match.get("method"):
        parts.append(f"method {match['method']}")
    for h in match.get("headers") or []:
        parts.append(f"header {h.get('name')}: {h.get('value')}")
    for q in match.get("queryParams") or []:
        parts.append(f"query {q.get('name')}={q.get('value')}")
    return ", ".join(parts)


@dataclass
class _Candidate:
    route: RouteState
    rule_index: int
    match_index: int
    match: dict[str, Any]
    rule: dict[str, Any]

    def key(self) -> tuple:
        created = str(((self.route.raw.obj.get("metadata") or {}).get("creationTimestamp")) or "")
        return (precedence(self.match), created or "~", self.route.key, self.rule_index, self.match_index)


# -------------------------------------------------------------------------------------- routing


def route_request(world: World, gateway: str, req: Request, state: GatewayState | None = None) -> Decision:
    """Route one request through Gateway `gateway` ("ns/name")."""
    state = state or analyze(world)
    d = Decision(gateway=gateway)
    scheme = req.scheme.lower()
    d.trace.append(f"{scheme.upper()} request to Gateway {gateway} port {req.entry_port}: Host {hostnames.normalize(req.host)}, "
                   f"{req.method.upper()} {req.path}" + (f", headers {dict(req.headers)}" if req.headers else ""))
    gw = state.gateways.get(gateway)
    if gw is None:
        d.error = "no gateway"
        known = ", ".join(sorted(state.gateways)) or "none"
        d.trace.append(f"no Gateway {gateway} (Gateways: {known})")
        d.problems.append(f"Gateway {gateway} does not exist")
        return d
    if not gw.served:
        d.error = "no gateway"
        d.trace.append(f"Gateway {gateway} is not programmed: {gw.why_not}; it has no address")
        d.problems.append(gw.why_not)
        return d
    listener = _choose_listener(gw, req, d)
    if listener is None:
        return d
    d.listener = listener.name
    if scheme == "https":
        d.tls_secret = listener.certificate
        d.trace.append(f"TLS terminated at {listener.describe()} with the certificate of Secret {listener.certificate}")
    attached = state.attached.get((gw.key, listener.name), [])
    if not attached:
        d.status = 404
        d.trace.append(f"no HTTPRoute is attached to {listener.describe()}: 404")
        _explain_unattached(state, gw, d)
        return d
    host = hostnames.normalize(req.host)
    vhosts = sorted({h for _, eff in attached for h in eff}, key=hostnames.specificity, reverse=True)
    chosen = hostnames.most_specific(vhosts, host)
    if chosen is None:
        d.status = 404
        d.trace.append(f"no attached route serves host {host} on {listener.describe()} (their hostnames: {', '.join(vhosts)}): 404")
        _explain_unattached(state, gw, d)
        return d
    routes = [state.routes[k] for k, eff in attached if chosen in eff]
    d.trace.append(f"hostname {chosen} is the most specific match for {host}: routes " + ", ".join(r.key for r in routes))
    candidates = []
    for rs in routes:
        for ri, rule in enumerate(rs.raw.spec.get("rules") or [{}]):
            rule = rule if isinstance(rule, dict) else {}
            if ri in rs.invalid_rules:
                continue
            matches = rule.get("matches") or [{"path": {"type": "PathPrefix", "value": "/"}}]
            for mi, m in enumerate(matches):
                if isinstance(m, dict) and match_request(m, req):
                    candidates.append(_Candidate(rs, ri, mi, m, rule))
    if not candidates:
        d.status = 404
        d.trace.append(f"no rule of {', '.join(r.key for r in routes)} matches {req.method.upper()} {req.path}: 404")
        d.route_status = [line for rs in routes for line in [f"HTTPRoute {rs.key}:"] + rs.status_lines()]
        _note_unattached_for_host(state, gw, host, d)
        return d
    candidates.sort(key=lambda c: c.key())
    best = candidates[0]
    d.route, d.rule, d.match = best.route.key, best.rule_index, best.match_index
    d.trace.append(f"HTTPRoute {best.route.key} rules[{best.rule_index}] matches ({describe_match(best.match)})")
    if len(candidates) > 1:
        d.trace.append("also matching, lower precedence: " + "; ".join(
            f"{c.route.key} rules[{c.rule_index}] ({describe_match(c.match)})" for c in candidates[1:4]))
    d.route_status = [f"HTTPRoute {best.route.key}:"] + best.route.status_lines()
    _apply_rule(world, best, req, listener, d)
    _note_unattached_for_host(state, gw, host, d)
    return d


def _note_unattached_for_host(state: GatewayState, gw: Gateway, host: str, d: Decision) -> None:
    """Routes that name this host and this Gateway but are not attached: the likely reason a request went elsewhere."""
    for rs in state.routes.values():
        mine = [p for p in rs.parents if p.gateway == gw.key]
        hosts = [str(h) for h in rs.raw.spec.get("hostnames") or []]
        if not mine or any(p.accepted for p in mine) or not any(hostnames.matches(h, host) for h in hosts):
            continue
        d.route_status += [f"HTTPRoute {rs.key} (names {host}, not attached):"] + rs.status_lines()
        for p in mine:
            for c in p.conditions:
                if c.type == "Accepted" and c.status != "True":
                    d.problems.append(f"HTTPRoute {rs.key} names {host} but is not attached to Gateway {gw.key}: "
                                      f"Accepted False ({c.reason}): {c.message}")


def _choose_listener(gw: Gateway, req: Request, d: Decision) -> Listener | None:
    scheme = req.scheme.lower()
    port = req.entry_port
    on_port = [lis for lis in gw.listeners if lis.port == port]
    if not on_port:
        d.error = "refused"
        ports = ", ".join(f"{lis.name}: {lis.protocol}/{lis.port}" for lis in gw.listeners) or "none"
        d.trace.append(f"Gateway {gw.key} has no listener on port {port} (listeners: {ports}): connection refused")
        d.problems.append(f"nothing listens on port {port} of Gateway {gw.key}: add a listener with port: {port}")
        return None
    wanted = "HTTPS" if scheme == "https" else "HTTP"
    same = [lis for lis in on_port if lis.protocol == wanted]
    if not same:
        d.error = "tls" if scheme == "https" else "protocol"
        have = on_port[0].protocol
        d.trace.append(f"port {port} of Gateway {gw.key} speaks {have}, not {wanted}")
        d.problems.append(f"the listener on port {port} has protocol {have}; a {wanted} request needs a listener with protocol: {wanted}")
        return None
    for lis in same:
        if not lis.serves:
            bad = "; ".join(c.line() for c in lis.conditions if (c.type == "Conflicted") == (c.status == "True") and c.type != "Programmed")
            d.trace.append(f"{lis.describe()} is not programmed: {bad}")
            d.problems.append(f"Gateway {gw.key} {lis.describe()}: {bad}")
    serving = [lis for lis in same if lis.serves]
    host = hostnames.normalize(req.host)
    names = {(lis.hostname or hostnames.ANY): lis for lis in serving}
    chosen = hostnames.most_specific(list(names), host)
    if chosen is None:
        if scheme == "https":
            d.error = "tls"
            d.trace.append(f"no programmed HTTPS listener on port {port} covers the SNI name {host}: the TLS handshake fails")
        else:
            d.status = 404
            d.trace.append(f"no programmed listener on port {port} covers host {host} "
                           f"(hostnames: {', '.join(lis.hostname or '(any)' for lis in same)}): 404")
        return None
    lis = names[chosen]
    d.trace.append(f"{lis.describe()} of Gateway {gw.key} takes it")
    return lis


def _explain_unattached(state: GatewayState, gw: Gateway, d: Decision) -> None:
    """Status of the routes that name this Gateway but are not attached: why nothing answered."""
    for rs in state.routes.values():
        mine = [p for p in rs.parents if p.gateway == gw.key]
        if mine and not any(p.accepted for p in mine):
            d.route_status += [f"HTTPRoute {rs.key}:"] + rs.status_lines()
            for p in mine:
                for c in p.conditions:
                    if c.type == "Accepted" and c.status != "True":
                        d.problems.append(f"HTTPRoute {rs.key} is not attached to Gateway {gw.key}: Accepted False ({c.reason}): {c.message}")


def _apply_rule(world: World, cand: _Candidate, req: Request, listener: Listener, d: Decision) -> None:
    rule = cand.rule
    filters = [f for f in rule.get("filters") or [] if isinstance(f, dict)]
    headers = _Headers(req.headers)
    host = hostnames.normalize(req.host)
    path = req.path
    for f in filters:
        ftype = f.get("type")
        if ftype == "RequestRedirect":
            d.status, d.location = _redirect(f.get("requestRedirect") or {}, cand.match, req, listener)
            d.trace.append(f"RequestRedirect: HTTP {d.status} Location: {d.location}")
            return
        if ftype == "URLRewrite":
            spec = f.get("urlRewrite") or {}
            if spec.get("hostname"):
                host = str(spec["hostname"])
            if spec.get("path"):
                path = _modified_path(spec["path"], cand.match, req)
            d.trace.append(f"URLRewrite: the backend sees Host {host}, path {path}")
        elif ftype == "RequestHeaderModifier":
            headers.modify(f.get("requestHeaderModifier") or {})
            d.trace.append(f"RequestHeaderModifier: {_describe_modifier(f.get('requestHeaderModifier') or {})}")
        elif ftype == "ResponseHeaderModifier":
            d.response_filters.append(f.get("responseHeaderModifier") or {})
            d.trace.append(f"ResponseHeaderModifier: {_describe_modifier(f.get('responseHeaderModifier') or {})}")
        elif ftype == "RequestMirror":
            d.trace.append("RequestMirror: copies of the request also go to the mirror (their answers are ignored)")
    d.backend_host, d.backend_path, d.backend_headers = host, path, headers.as_dict()
    checks = cand.route.backends.get(cand.rule_index, [])
    if not checks:
        d.status = 500
        d.trace.append("the rule has no backendRefs and no redirect: the Gateway answers 500")
        d.problems.append(f"HTTPRoute {cand.route.key} rules[{cand.rule_index}] has no backendRefs: add backendRefs: [{{name: <Service>, port: <its port>}}]")
        return
    total = sum(max(c.weight, 0) for c in checks)
    if total == 0:
        d.status = 500
        d.trace.append("every backendRef has weight 0: the Gateway answers 500")
        d.problems.append(f"HTTPRoute {cand.route.key} rules[{cand.rule_index}]: every backendRef has weight 0")
        return
    for c in checks:
        share = Share(c.service, c.port, c.weight, c.weight / total)
        if c.reason:
            share.status, share.why = 500, f"{c.reason}: {c.message}"
            d.problems.append(f"HTTPRoute {cand.route.key}: {c.message}")
        else:
            share.status, share.why = _backend_health(world, c.service, c.port)
            if share.why and share.status is not None:
                d.problems.append(share.why)
        d.shares.append(share)
    d.trace.append("backends: " + ", ".join(
        f"{s.service}:{s.port} weight {s.weight} ({s.share:.0%})" + (f" -> HTTP {s.status} ({s.why})" if s.status else "")
        for s in d.shares))
    if len(d.shares) == 1 or all(s.share == 0 or s.status == d.shares[0].status for s in d.shares):
        main = max(d.shares, key=lambda s: s.share)
        d.status = main.status
    elif all(s.status is not None for s in d.shares if s.share > 0):
        d.status = max(d.shares, key=lambda s: s.share).status


def _backend_health(world: World, service: str | None, port: int | None) -> tuple[int | None, str]:
    from grader.model.services import endpoint_diagnosis, ready_endpoints, service_port

    ns, _, name = (service or "").partition("/")
    svc = world.service(ns, name)
    if svc is None:
        return 500, f"Service {service} does not exist"
    if svc.type == "ExternalName":
        return 500, f"Service {service} is an ExternalName Service; Gateway backends must be Services with endpoints"
    sp = service_port(svc, int(port), "TCP") if port is not None else None
    if sp is None:
        have = ", ".join(str(p.port) for p in svc.ports) or "none"
        return 503, (f"Service {service} has no port {port} (its ports: {have}): the proxy finds no endpoint for it; "
                     "a backendRef names the Service's port, not the container's")
    ready = ready_endpoints(world, svc, sp)
    if not ready:
        reasons = endpoint_diagnosis(world, svc) or ["no ready endpoint"]
        return 503, f"Service {service}: " + "; ".join(reasons)
    return None, ""


def _describe_modifier(spec: dict[str, Any]) -> str:
    parts = [f"set {h.get('name')}: {h.get('value')}" for h in spec.get("set") or []]
    parts += [f"add {h.get('name')}: {h.get('value')}" for h in spec.get("add") or []]
    parts += [f"remove {n}" for n in spec.get("remove") or []]
    return ", ".join(parts) or "(nothing)"


def _modified_path(spec: dict[str, Any], match: dict[str, Any], req: Request) -> str:
    """A ReplaceFullPath / ReplacePrefixMatch path modification (HTTPPathModifier); the query is kept."""
    query = ("?" + req.path.split("?", 1)[1]) if "?" in req.path else ""
    path = req.bare_path
    if spec.get("type") == "ReplaceFullPath":
        return str(spec.get("replaceFullPath") or "/") + query
    prefix = ((match.get("path") or {}).get("value") or "/").rstrip("/")
    replacement = str(spec.get("replacePrefixMatch") or "")
    rest = path[len(prefix):] if path.startswith(prefix) else path
    if replacement.endswith("/") and rest.startswith("/"):
        replacement = replacement.rstrip("/")
    out = replacement + rest
    if not out.startswith("/"):
        out = "/" + out
    return out + query


def _redirect(spec: dict[str, Any], match: dict[str, Any], req: Request, listener: Listener) -> tuple[int, str]:
    status = int(spec.get("statusCode") or DEFAULT_REDIRECT_STATUS)
    scheme = str(spec.get("scheme") or req.scheme).lower()
    host = str(spec.get("hostname") or hostnames.normalize(req.host))
    if spec.get("port"):
        port = int(spec["port"])
    elif spec.get("scheme"):
        port = WELL_KNOWN_PORTS.get(scheme, listener.port)
    else:
        port = listener.port
    path = _modified_path(spec["path"], match, req) if spec.get("path") else req.path
    shown = "" if WELL_KNOWN_PORTS.get(scheme) == port else f":{port}"
    return status, f"{scheme}://{host}{shown}{path}"


def gateways_for_host(state: GatewayState, host: str) -> list[str]:
    """Gateways with a served listener whose hostname covers `host` (for choosing an entry point)."""
    out = []
    for gw in state.gateways.values():
        if gw.served and any(hostnames.matches(lis.hostname or hostnames.ANY, host) for lis in gw.listeners if lis.serves):
            out.append(gw.key)
    return out
