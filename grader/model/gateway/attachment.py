"""Which HTTPRoutes attach to which Gateway listeners, and the status conditions a controller writes.

Rules (gateway.networking.k8s.io/v1: Gateway, Listener, ParentReference, HTTPRoute, ReferenceGrant):
- A Gateway is served when its `gatewayClassName` names a GatewayClass of a controller that runs.
  The course cluster's cloud-provider-kind creates and serves GatewayClass `cloud-provider-kind`
  (`course_gateway_class`); a Gateway of any other class is left alone (its status stays Pending)
  and nothing answers on it. Routes whose parent is not served get no status from anybody.
- Listeners: HTTP and HTTPS carry HTTPRoutes (`allowedRoutes.kinds` may narrow that; a kind this
  controller does not support gives ResolvedRefs False InvalidRouteKinds). Listeners on one port
  with different protocols conflict (Conflicted, ProtocolConflict) and are not served. An HTTPS
  listener needs `tls.certificateRefs`: each a core Secret (other group/kind: InvalidCertificateRef)
  in the Gateway's namespace, or in another namespace with a ReferenceGrant there from Gateways of
  the Gateway's namespace (else RefNotPermitted), existing (else InvalidCertificateRef) and holding a
  PEM certificate and key (else InvalidCertificateRef). A listener with unresolved references is not
  programmed: no TLS handshake succeeds on it.
- A parentRef (group gateway.networking.k8s.io and kind Gateway by default, namespace = the route's
  by default) selects the listeners whose name equals `sectionName` and whose port equals `port`,
  when those are given. None selected: Accepted False NoMatchingParent. None of those allows the
  route (`allowedRoutes.namespaces.from` Same (default) / All / Selector on the route namespace's
  labels; `kinds`): NotAllowedByListeners. None whose hostname intersects the route's hostnames:
  NoMatchingListenerHostname. Else Accepted True and the route is attached to each listener that
  passed all three (`attachedRoutes` counts accepted routes).
- ResolvedRefs (on every parent entry, accepted or not) checks each backendRef: a kind other than
  core Service: InvalidKind; another namespace without a ReferenceGrant there `from` HTTPRoutes of
  the route's namespace `to` that Service (or to all Services): RefNotPermitted; a Service that does
  not exist: BackendNotFound. The condition names the first problem; requests that would go to an
  invalid backend get HTTP 500 (see routing).
- A rule the controller cannot implement (an unknown filter, an ExtensionRef it cannot resolve, a
  match type it does not support) makes Accepted False UnsupportedValue when every rule is affected;
  with some rules valid the route is accepted and PartiallyInvalid says which rules were dropped.
- Route precedence ties use `metadata.creationTimestamp` (older first) when the manifest has one;
  manifests applied together normally share one second, so the simulator treats routes without it as
  created together and falls back to `namespace/name` order, as the spec does.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import Any

from grader.model.gateway import hostnames
from grader.model.objects import Raw, World
from grader.model.selectors import matches as selector_matches

GROUP = "gateway.networking.k8s.io"
COURSE_GATEWAY_CLASS = "cloud-provider-kind"
# The controllerName cloud-provider-kind writes in status (its GatewayClass is created by it).
COURSE_GATEWAY_CONTROLLER = "kind.sigs.k8s.io/gateway-controller"
ROUTE_PROTOCOLS = ("HTTP", "HTTPS")  # the listener protocols that carry HTTPRoutes
SUPPORTED_ROUTE_KINDS = ("HTTPRoute",)  # cloud-provider-kind serves HTTPRoute (GRPCRoute not yet)
SUPPORTED_FILTERS = ("RequestHeaderModifier", "ResponseHeaderModifier", "RequestRedirect", "URLRewrite")


@dataclass
class Condition:
    type: str
    status: str  # "True" | "False" | "Unknown"
    reason: str
    message: str = ""

    def line(self) -> str:
        return f"{self.type}: {self.status} ({self.reason})" + (f": {self.message}" if self.message else "")


@dataclass
class Listener:
    gateway: str  # ns/name
    name: str
    port: int
    protocol: str  # upper case
    hostname: str | None
    spec: dict[str, Any]
    conditions: list[Condition] = field(default_factory=list)
    attached_routes: list[str] = field(default_factory=list)
    certificate: str | None = None  # ns/name of the Secret served for TLS, when resolved

    @property
    def serves(self) -> bool:
        """Whether the controller programs this listener (accepted, not conflicted, references resolved)."""
        return all(c.status == ("True" if c.type != "Conflicted" else "False") for c in self.conditions
                   if c.type in ("Accepted", "ResolvedRefs", "Conflicted", "Programmed"))

    def condition(self, kind: str) -> Condition | None:
        return next((c for c in self.conditions if c.type == kind), None)

    def describe(self) -> str:
        host = self.hostname or "(any host)"
        return f"listener {self.name} ({self.protocol}/{self.port}, hostname {host})"


@dataclass
class Gateway:
    raw: Raw
    class_name: str
    served: bool
    why_not: str = ""  # when not served
    listeners: list[Listener] = field(default_factory=list)
    address: str | None = None

    @property
    def key(self) -> str:
        return self.raw.key


@dataclass
class ParentStatus:
    """One entry of a route's status.parents: the parentRef as written, and the conditions."""

    ref: dict[str, Any]  # normalized: group, kind, namespace, name, sectionName?, port?
    gateway: str | None  # ns/name when the ref names an existing Gateway
    conditions: list[Condition] = field(default_factory=list)
    listeners: list[str] = field(default_factory=list)  # names of the listeners that accepted the route
    served: bool = True  # False: nobody writes this entry (parent missing or not served)

    @property
    def accepted(self) -> bool:
        return any(c.type == "Accepted" and c.status == "True" for c in self.conditions)

    def describe_ref(self) -> str:
        extra = []
        if self.ref.get("sectionName"):
            extra.append(f"sectionName {self.ref['sectionName']}")
        if self.ref.get("port"):
            extra.append(f"port {self.ref['port']}")
        kind = self.ref.get("kind", "Gateway")
        return f"{kind} {self.ref['namespace']}/{self.ref['name']}" + (f" ({', '.join(extra)})" if extra else "")


@dataclass
class BackendCheck:
    """One backendRef of a rule, resolved."""

    ref: dict[str, Any]
    service: str | None  # ns/name when it is a core Service reference
    port: int | None
    weight: int
    reason: str | None = None  # None: valid; else InvalidKind / RefNotPermitted / BackendNotFound
    message: str = ""


@dataclass
class RouteState:
    raw: Raw
    parents: list[ParentStatus] = field(default_factory=list)
    backends: dict[int, list[BackendCheck]] = field(default_factory=dict)  # rule index -> backendRefs
    invalid_rules: dict[int, str] = field(default_factory=dict)  # rule index -> why it is dropped
    resolved: Condition | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return self.raw.key

    def status_lines(self) -> list[str]:
        """The route's status as `kubectl get httproute -o yaml` would show it, one line per condition."""
        lines = []
        for p in self.parents:
            if not p.served:
                lines.append(f"parent {p.describe_ref()}: no status (no controller serves that parent)")
                continue
            lines.append(f"parent {p.describe_ref()}:")
            lines += [f"  {c.line()}" for c in p.conditions]
        if not self.parents:
            lines.append("no parentRefs: the route is attached to nothing")
        return lines


@dataclass
class GatewayState:
    """Everything a Gateway API controller decides from the objects, before any request."""

    gateways: dict[str, Gateway] = field(default_factory=dict)
    routes: dict[str, RouteState] = field(default_factory=dict)
    # (gateway key, listener name) -> [(route key, effective hostnames)]
    attached: dict[tuple[str, str], list[tuple[str, list[str]]]] = field(default_factory=dict)


def course_gateway_class() -> Raw:
    """The GatewayClass cloud-provider-kind creates on the course cluster."""
    obj = {"apiVersion": f"{GROUP}/v1", "kind": "GatewayClass", "metadata": {"name": COURSE_GATEWAY_CLASS},
           "spec": {"controllerName": COURSE_GATEWAY_CONTROLLER}}
    return Raw("GatewayClass", None, COURSE_GATEWAY_CLASS, obj)


def objects(world: World, kind: str) -> list[Raw]:
    return [o for o in world.others if o.kind == kind]


def _ns(raw: Raw) -> str:
    return raw.namespace or "default"


# ---------------------------------------------------------------------------------- ReferenceGrant


def reference_granted(world: World, from_kind: str, from_ns: str, to_kind: str, to_ns: str, to_name: str,
                      to_group: str = "") -> tuple[bool, str]:
    """Whether a ReferenceGrant in `to_ns` lets `from_kind` objects of `from_ns` refer to `to_kind` `to_name`.

    Returns (granted, why): `why` names the grants that almost matched, for the trace."""
    near: list[str] = []
    for grant in objects(world, "ReferenceGrant"):
        if grant.namespace != to_ns:
            continue
        spec = grant.spec
        froms = [f for f in spec.get("from") or [] if isinstance(f, dict)]
        tos = [t for t in spec.get("to") or [] if isinstance(t, dict)]
        from_ok = any((f.get("group") or "") == GROUP and f.get("kind") == from_kind and f.get("namespace") == from_ns
                      for f in froms)
        to_ok = any((t.get("group") or "") == to_group and t.get("kind") == to_kind and (not t.get("name") or t.get("name") == to_name)
                    for t in tos)
        if from_ok and to_ok:
            return True, f"ReferenceGrant {grant.key} allows it"
        reasons = []
        if not from_ok:
            reasons.append("its from: does not list " + f"{{group: {GROUP}, kind: {from_kind}, namespace: {from_ns}}}")
        if not to_ok:
            reasons.append("its to: does not list " + f"{{group: \"{to_group}\", kind: {to_kind}}} named {to_name} (or without name)")
        near.append(f"ReferenceGrant {grant.key}: " + "; ".join(reasons))
    if near:
        return False, "; ".join(near)
    return False, f"no ReferenceGrant in namespace {to_ns}"


# ------------------------------------------------------------------------------------- listeners


def _secret_problem(world: World, ns: str, name: str) -> str | None:
    secret = next((s for s in world.secrets if s.namespace == ns and s.name == name), None)
    if secret is None:
        return f"Secret {ns}/{name} does not exist"
    data = secret.obj.get("data") or {}
    string_data = secret.obj.get("stringData") or {}
    values: dict[str, bytes] = {}
    for key in ("tls.crt", "tls.key"):
        if key in data:
            try:
                values[key] = base64.b64decode(str(data[key]), validate=False)
            except (ValueError, TypeError):
                return f"Secret {ns}/{name}: {key} is not valid base64"
        elif key in string_data:
            values[key] = str(string_data[key]).encode()
        else:
            return f"Secret {ns}/{name} has no {key}"
    if b"-----BEGIN CERTIFICATE-----" not in values["tls.crt"]:
        return f"Secret {ns}/{name}: tls.crt is not a PEM certificate"
    if b"PRIVATE KEY-----" not in values["tls.key"]:
        return f"Secret {ns}/{name}: tls.key is not a PEM private key"
    return None


def _resolve_certificates(world: World, gw: Raw, lis: Listener) -> Condition:
    tls = lis.spec.get("tls") or {}
    refs = [r for r in tls.get("certificateRefs") or [] if isinstance(r, dict)]
    if not refs:
        return Condition("ResolvedRefs", "False", "InvalidCertificateRef",
                         f"HTTPS listener {lis.name} has no tls.certificateRefs: nothing to present in the TLS handshake")
    for ref in refs:
        group, kind = ref.get("group") or "", ref.get("kind") or "Secret"
        ns = ref.get("namespace") or _ns(gw)
        name = str(ref.get("name") or "")
        if group not in ("", "core") or kind != "Secret":
            return Condition("ResolvedRefs", "False", "InvalidCertificateRef",
                             f"certificateRef {name} has group {group!r} kind {kind}: only core Secrets are supported")
        if ns != _ns(gw):
            ok, why = reference_granted(world, "Gateway", _ns(gw), "Secret", ns, name)
            if not ok:
                return Condition("ResolvedRefs", "False", "RefNotPermitted",
                                 f"certificateRef to Secret {ns}/{name} in another namespace is not allowed: {why}")
        problem = _secret_problem(world, ns, name)
        if problem:
            return Condition("ResolvedRefs", "False", "InvalidCertificateRef", problem)
    first = refs[0]
    lis.certificate = f"{first.get('namespace') or _ns(gw)}/{first.get('name')}"
    return Condition("ResolvedRefs", "True", "ResolvedRefs", "")


def _route_kinds(lis_spec: dict[str, Any]) -> tuple[list[str], bool]:
    """(supported route kinds of a listener, whether every kind it names is supported)."""
    kinds = ((lis_spec.get("allowedRoutes") or {}).get("kinds")) or []
    if not kinds:
        protocol = str(lis_spec.get("protocol") or "").upper()
        return (list(SUPPORTED_ROUTE_KINDS) if protocol in ROUTE_PROTOCOLS else []), True
    ok = [k.get("kind") for k in kinds if isinstance(k, dict) and (k.get("group") or GROUP) == GROUP
          and k.get("kind") in SUPPORTED_ROUTE_KINDS]
    return ok, len(ok) == len(kinds)


def _listeners(world: World, gw: Raw) -> list[Listener]:
    out = []
    specs = [s for s in gw.spec.get("listeners") or [] if isinstance(s, dict)]
    protocols_by_port: dict[int, set[str]] = {}
    for s in specs:
        protocols_by_port.setdefault(int(s.get("port") or 0), set()).add(str(s.get("protocol") or "").upper())
    for s in specs:
        host = s.get("hostname")
        lis = Listener(gw.key, str(s.get("name") or ""), int(s.get("port") or 0), str(s.get("protocol") or "").upper(),
                       str(host).lower() if host else None, s)
        kinds, all_kinds = _route_kinds(s)
        if lis.protocol not in ROUTE_PROTOCOLS:
            lis.conditions.append(Condition("Accepted", "False", "UnsupportedProtocol",
                                            f"protocol {lis.protocol} is not served by cloud-provider-kind (HTTP and HTTPS are)"))
        else:
            lis.conditions.append(Condition("Accepted", "True", "Accepted", ""))
        if len(protocols_by_port.get(lis.port, set())) > 1:
            others = sorted(protocols_by_port[lis.port] - {lis.protocol})
            lis.conditions.append(Condition("Conflicted", "True", "ProtocolConflict",
                                            f"port {lis.port} is also used with protocol {', '.join(others)}"))
        if not all_kinds:
            lis.conditions.append(Condition("ResolvedRefs", "False", "InvalidRouteKinds",
                                            "allowedRoutes.kinds names a kind this controller does not support "
                                            f"(it supports {', '.join(SUPPORTED_ROUTE_KINDS)})"))
        elif lis.protocol == "HTTPS":
            lis.conditions.append(_resolve_certificates(world, gw, lis))
        else:
            lis.conditions.append(Condition("ResolvedRefs", "True", "ResolvedRefs", ""))
        lis.spec = dict(s, _kinds=kinds)
        programmed = lis.serves
        lis.conditions.append(Condition("Programmed", "True" if programmed else "False",
                                        "Programmed" if programmed else "Invalid", ""))
        out.append(lis)
    return out


def _allows_namespace(world: World, gw: Raw, lis: Listener, route_ns: str) -> tuple[bool, str]:
    namespaces = ((lis.spec.get("allowedRoutes") or {}).get("namespaces")) or {}
    origin = namespaces.get("from") or "Same"
    if origin == "All":
        return True, ""
    if origin == "Same":
        return route_ns == _ns(gw), f"{lis.describe()} allows routes from its own namespace {_ns(gw)} only (allowedRoutes.namespaces.from: Same, the default)"
    if origin == "Selector":
        selector = namespaces.get("selector")
        if not isinstance(selector, dict):
            return False, f"{lis.describe()} has from: Selector without a selector"
        labels = world.namespace_labels(route_ns)
        return selector_matches(selector, labels), f"{lis.describe()} selects namespaces by labels {selector}, and namespace {route_ns} has labels {labels}"
    return False, f"{lis.describe()} has allowedRoutes.namespaces.from: {origin}"


# ------------------------------------------------------------------------------------- analysis


def _normalized_ref(ref: dict[str, Any], route_ns: str) -> dict[str, Any]:
    out = {"group": ref.get("group", GROUP) if ref.get("group") is not None else GROUP,
           "kind": ref.get("kind") or "Gateway", "namespace": ref.get("namespace") or route_ns,
           "name": ref.get("name")}
    if ref.get("sectionName"):
        out["sectionName"] = ref["sectionName"]
    if ref.get("port"):
        out["port"] = int(ref["port"])
    return out


def _gateway_address(world: World, index: int) -> str:
    """A plausible address on the kind network (cloud-provider-kind reports the real one in status.addresses)."""
    taken = sum(1 for s in world.services if s.type == "LoadBalancer")
    return f"172.18.0.{5 + taken + index}"


def analyze(world: World) -> GatewayState:
    """Every Gateway's listeners and every HTTPRoute's status, as the course's controller computes them."""
    state = GatewayState()
    classes = {c.name: c for c in objects(world, "GatewayClass")}
    classes.setdefault(COURSE_GATEWAY_CLASS, course_gateway_class())
    for index, raw in enumerate(sorted(objects(world, "Gateway"), key=lambda g: g.key)):
        class_name = str(raw.spec.get("gatewayClassName") or "")
        gw = Gateway(raw, class_name, served=True)
        cls = classes.get(class_name)
        if cls is None:
            gw.served, gw.why_not = False, (f"GatewayClass {class_name or '(none)'} does not exist, so no controller programs "
                                            f"this Gateway (its status stays Accepted: Unknown, Pending); on the course cluster use "
                                            f"gatewayClassName: {COURSE_GATEWAY_CLASS}")
        elif (cls.spec.get("controllerName") or "") != COURSE_GATEWAY_CONTROLLER:
            gw.served, gw.why_not = False, (f"GatewayClass {class_name} belongs to controller {cls.spec.get('controllerName')}, "
                                            f"which does not run on the course cluster; use gatewayClassName: {COURSE_GATEWAY_CLASS}")
        if gw.served:
            gw.listeners = _listeners(world, raw)
            gw.address = _gateway_address(world, index)
        state.gateways[gw.key] = gw
    for raw in sorted(objects(world, "HTTPRoute"), key=lambda r: r.key):
        state.routes[raw.key] = _route_state(world, state, raw)
    for gw in state.gateways.values():
        for lis in gw.listeners:
            lis.attached_routes = [k for k, _ in state.attached.get((gw.key, lis.name), [])]
    return state


def _route_state(world: World, state: GatewayState, raw: Raw) -> RouteState:
    rs = RouteState(raw)
    route_ns = _ns(raw)
    _check_rules(world, rs)
    for ref in [r for r in raw.spec.get("parentRefs") or [] if isinstance(r, dict)]:
        norm = _normalized_ref(ref, route_ns)
        gw_key = f"{norm['namespace']}/{norm['name']}"
        ps = ParentStatus(norm, None)
        rs.parents.append(ps)
        if norm["group"] != GROUP or norm["kind"] != "Gateway":
            ps.served = False
            rs.problems.append(f"parentRef {ps.describe_ref()}: the course's controller attaches routes to Gateways only")
            continue
        gw = state.gateways.get(gw_key)
        if gw is None:
            ps.served = False
            rs.problems.append(f"parentRef {ps.describe_ref()}: Gateway {gw_key} does not exist, so no controller writes a status for it")
            continue
        ps.gateway = gw.key
        if not gw.served:
            ps.served = False
            rs.problems.append(f"parentRef {ps.describe_ref()}: {gw.why_not}")
            continue
        ps.conditions.append(_accept(world, state, rs, gw, ps))
        ps.conditions.append(rs.resolved or Condition("ResolvedRefs", "True", "ResolvedRefs", ""))
        if rs.invalid_rules and ps.accepted:
            dropped = ", ".join(f"rules[{i}] ({why})" for i, why in sorted(rs.invalid_rules.items()))
            ps.conditions.append(Condition("PartiallyInvalid", "True", "UnsupportedValue", f"Dropped Rule(s): {dropped}"))
    return rs


def _accept(world: World, state: GatewayState, rs: RouteState, gw: Gateway, ps: ParentStatus) -> Condition:
    ref = ps.ref
    rules = rs.raw.spec.get("rules") or []
    if rules and len(rs.invalid_rules) == len(rules):
        return Condition("Accepted", "False", "UnsupportedValue",
                         "no rule can be implemented: " + "; ".join(rs.invalid_rules.values()))
    selected = [lis for lis in gw.listeners
                if (not ref.get("sectionName") or lis.name == ref["sectionName"]) and (not ref.get("port") or lis.port == ref["port"])]
    if not selected:
        names = ", ".join(f"{lis.name} (port {lis.port})" for lis in gw.listeners) or "none"
        wanted = " and ".join(filter(None, [f"name {ref['sectionName']}" if ref.get("sectionName") else "",
                                            f"port {ref['port']}" if ref.get("port") else ""]))
        return Condition("Accepted", "False", "NoMatchingParent",
                         f"Gateway {gw.key} has no listener with {wanted}; its listeners: {names}")
    route_ns = _ns(rs.raw)
    allowed, refusals = [], []
    for lis in selected:
        ok, why = _allows_namespace(world, gw.raw, lis, route_ns)
        if not ok:
            refusals.append(why)
            continue
        if "HTTPRoute" not in (lis.spec.get("_kinds") or []):
            refusals.append(f"{lis.describe()} does not allow HTTPRoute (allowedRoutes.kinds / protocol {lis.protocol})")
            continue
        allowed.append(lis)
    if not allowed:
        return Condition("Accepted", "False", "NotAllowedByListeners",
                         f"route namespace {route_ns}: " + "; ".join(refusals))
    route_hosts = [str(h) for h in rs.raw.spec.get("hostnames") or []]
    attached = []
    for lis in allowed:
        eff = hostnames.effective(lis.hostname, route_hosts)
        if eff:
            attached.append((lis, eff))
    if not attached:
        listener_hosts = ", ".join(f"{lis.name}: {lis.hostname or '(any)'}" for lis in allowed)
        return Condition("Accepted", "False", "NoMatchingListenerHostname",
                         f"route hostnames {route_hosts} intersect no listener hostname ({listener_hosts})")
    for lis, eff in attached:
        ps.listeners.append(lis.name)
        entries = state.attached.setdefault((gw.key, lis.name), [])
        if all(k != rs.key for k, _ in entries):
            entries.append((rs.key, eff))
    return Condition("Accepted", "True", "Accepted", "attached to " + ", ".join(
        f"{lis.name} (hostnames {', '.join(eff)})" for lis, eff in attached))


def _check_rules(world: World, rs: RouteState) -> None:
    """ResolvedRefs for every backendRef, and the rules the controller cannot implement."""
    route_ns = _ns(rs.raw)
    first: tuple[str, str] | None = None
    messages: list[str] = []
    for i, rule in enumerate(rs.raw.spec.get("rules") or []):
        rule = rule if isinstance(rule, dict) else {}
        for f in rule.get("filters") or []:
            ftype = (f or {}).get("type")
            if ftype not in SUPPORTED_FILTERS and ftype not in ("RequestMirror", "CORS"):
                rs.invalid_rules[i] = f"filter type {ftype} is not supported"
        for m in rule.get("matches") or []:
            path = (m or {}).get("path") or {}
            if path.get("type") not in (None, "Exact", "PathPrefix", "RegularExpression"):
                rs.invalid_rules[i] = f"path match type {path.get('type')} is not supported"
        checks = []
        for ref in [b for b in rule.get("backendRefs") or [] if isinstance(b, dict)]:
            check = _check_backend(world, route_ns, ref)
            checks.append(check)
            if check.reason:
                messages.append(check.message)
                if first is None:
                    first = (check.reason, check.message)
        rs.backends[i] = checks
    if first:
        rs.resolved = Condition("ResolvedRefs", "False", first[0], "; ".join(messages))
    else:
        rs.resolved = Condition("ResolvedRefs", "True", "ResolvedRefs", "")


def _check_backend(world: World, route_ns: str, ref: dict[str, Any]) -> BackendCheck:
    group, kind = ref.get("group") or "", ref.get("kind") or "Service"
    ns = ref.get("namespace") or route_ns
    name = str(ref.get("name") or "")
    port = ref.get("port")
    weight = ref.get("weight")
    check = BackendCheck(ref, None, int(port) if isinstance(port, int) else None, 1 if weight is None else int(weight))
    if group not in ("", "core") or kind != "Service":
        check.reason = "InvalidKind"
        check.message = f"backendRef {name}: kind {kind} in group {group or '(core)'} is not supported (use a core Service)"
        return check
    check.service = f"{ns}/{name}"
    if ns != route_ns:
        ok, why = reference_granted(world, "HTTPRoute", route_ns, "Service", ns, name)
        if not ok:
            check.reason = "RefNotPermitted"
            check.message = (f"backendRef to Service {ns}/{name} in another namespace is not permitted: {why}; the owner of "
                             f"{ns} consents with a ReferenceGrant there (from HTTPRoute in {route_ns} to Service {name})")
            return check
    if world.service(ns, name) is None:
        check.reason = "BackendNotFound"
        elsewhere = sorted(s.namespace for s in world.services if s.name == name and s.namespace != ns)
        check.message = f"backendRef Service {ns}/{name} does not exist" + (
            f" (a Service {name} exists in {', '.join(elsewhere)}: set backendRefs[].namespace)" if elsewhere else "")
    return check
