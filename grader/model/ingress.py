"""Which backend an HTTP(S) request through an Ingress reaches (networking.k8s.io/v1).

Rules (Ingress docs, kubernetes-sigs/ingress-controller-conformance features/, PLATFORM.md), and
where the course's controller, cloud-provider-kind, decides what the spec leaves open:
- Hosts: exact (case-insensitive, `:port` ignored); `*.foo.com` matches exactly one label (not
  `foo.com`, not `a.b.foo.com`); a rule without host matches every host. cloud-provider-kind follows
  Gateway API here and also lets `*.foo.com` match deeper names: the trace says so when it matters.
- Paths: Exact = the whole path, case-sensitive (`/foo` is not `/foo/`). Prefix = element-wise on
  `/`, case-sensitive, trailing slashes ignored on either side, `/` matches everything.
  ImplementationSpecific = Prefix (cloud-provider-kind translates it to a Gateway PathPrefix match).
- Precedence: rules of the most specific matching host first (exact host, then the longest wildcard,
  then rules without host); among them the longest matching path (trailing slash not counted), and
  on a tie Exact before Prefix; then Ingresses in namespace/name order. A host whose rules match no
  path falls through to less specific hosts (Gateway API precedence, which cloud-provider-kind uses).
- No rule matches: `spec.defaultBackend`; else 404. cloud-provider-kind builds the catch-all route of
  an Ingress from its host-less rule when it has one, so that Ingress's `spec.defaultBackend` is unused.
- Backend status: `status=None` means the request reaches a Service with ready endpoints and the
  backend pod decides; 404 when nothing matches; 503 when the backend cannot serve (Service or port
  missing, no ready endpoint, non-Service backend). cloud-provider-kind's Envoy may answer 500
  instead of 503 for a missing Service: checks should test for >= 500, not the exact code.
- A backend port given by name that the Service lacks (or whose Service is missing) makes
  cloud-provider-kind fail to translate the whole Ingress: none of its rules is served.
- TLS: for https, the `spec.tls` entry whose hosts include the host (no hosts = every host) names a
  `kubernetes.io/tls` Secret with `tls.crt` and `tls.key` in the Ingress's own namespace.
- IngressClass: `spec.ingressClassName`, else the legacy `kubernetes.io/ingress.class` annotation,
  else the IngressClass annotated `ingressclass.kubernetes.io/is-default-class: "true"` (exactly
  "true"; the API server's DefaultIngressClass admission writes it into an Ingress created without
  class and without the legacy annotation, and refuses such an Ingress while two classes are default).
- The course cluster runs cloud-provider-kind with `--enable-default-ingress=true`: it creates the
  IngressClass `cloud-provider-kind` (controller kind.sigs.k8s.io/ingress-controller) and keeps it
  marked default (`course_ingress_class()`; build_world(include_system=True) adds it). It serves an
  Ingress whose ingressClassName is `cloud-provider-kind`, or that has no ingressClassName while its
  class is the default: it ignores the legacy annotation, so `kubernetes.io/ingress.class: nginx`
  alone does not keep it away. An Ingress naming any other class (e.g. `nginx`) is served by nobody.
  `route` routes through this controller's Ingresses whenever the world holds its IngressClass.
- cloud-provider-kind gives each namespace its own Gateway (its own address): pass `namespace` to
  route through one namespace's address only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from grader.model.names import wildcard_match
from grader.model.objects import Raw, World
from grader.model.services import endpoint_diagnosis, get_service, ready_endpoints

COURSE_INGRESS_CLASS = "cloud-provider-kind"
COURSE_INGRESS_CONTROLLER = "kind.sigs.k8s.io/ingress-controller"
ANY_INGRESS_CLASS = "*"  # route(ingress_class=ANY_INGRESS_CLASS): every Ingress, whatever its class
DEFAULT_CLASS_ANNOTATION = "ingressclass.kubernetes.io/is-default-class"
LEGACY_CLASS_ANNOTATION = "kubernetes.io/ingress.class"
TLS_SECRET_TYPE = "kubernetes.io/tls"


@dataclass
class Route:
    """Where one request went, and why.

    `status` is None when the request reaches a Service with ready endpoints (the backend decides),
    404 when nothing matches, 503 when the chosen backend cannot serve. For https, `tls_ok` says
    whether a usable certificate Secret covers the host (False: the TLS handshake fails).
    """

    ingress: str | None
    service: str | None
    port: int | str | None
    status: int | None
    tls_secret: str | None = None
    trace: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    tls_ok: bool | None = None
    rule_host: str | None = None  # the matched rule's host ("" for a rule without host)
    rule_path: str | None = None  # the matched path; None for spec.defaultBackend or no match
    path_type: str | None = None


def _annotations(obj: dict[str, Any]) -> dict[str, str]:
    return (obj.get("metadata") or {}).get("annotations") or {}


def course_ingress_class() -> Raw:
    """The IngressClass cloud-provider-kind creates on the course cluster (started with --enable-default-ingress=true)."""
    obj = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "IngressClass",
        "metadata": {"name": COURSE_INGRESS_CLASS, "annotations": {DEFAULT_CLASS_ANNOTATION: "true"}},
        "spec": {"controller": COURSE_INGRESS_CONTROLLER},
    }
    return Raw("IngressClass", None, COURSE_INGRESS_CLASS, obj)


def _default_classes(world: World) -> list[str]:
    # The admission plugin and cloud-provider-kind both compare the annotation with "true" exactly.
    return sorted(c.name for c in world.ingress_classes if _annotations(c.obj).get(DEFAULT_CLASS_ANNOTATION) == "true")


def default_ingress_class(world: World) -> str | None:
    """The IngressClass annotated as the cluster default (first by name if several), or None."""
    defaults = _default_classes(world)
    return defaults[0] if defaults else None


def ingress_class_of(world: World, ing: Raw) -> str | None:
    """The class an Ingress belongs to: ingressClassName, the legacy annotation, else the default class."""
    name = ing.spec.get("ingressClassName")
    if name:
        return str(name)
    legacy = _annotations(ing.obj).get(LEGACY_CLASS_ANNOTATION)
    if legacy:
        return str(legacy)
    return default_ingress_class(world)


def normalize_host(host: str) -> str:
    """Lower-case, without `:port` and without a trailing dot."""
    h = host.strip().lower()
    if h.startswith("["):  # [v6]:port
        h = h.split("]", 1)[0] + "]"
    elif h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".")


def host_match(rule_host: str | None, host: str) -> tuple[int, int] | None:
    """How specifically a rule's host matches: (2, len) exact, (1, len) wildcard, (0, 0) no host; None = no match."""
    if not rule_host:
        return (0, 0)
    rule = rule_host.lower().rstrip(".")
    if not wildcard_match(rule, host):
        return None
    return (1, len(rule)) if rule.startswith("*.") else (2, len(rule))


def _wildcard_deviation(rule_host: str | None, host: str) -> bool:
    """Whether Gateway semantics (cloud-provider-kind) would match where the Ingress spec does not."""
    if not rule_host or not rule_host.startswith("*."):
        return False
    suffix = rule_host.lower()[1:]
    return host.endswith(suffix) and "." in host[: -len(suffix)]


def _segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s]


def path_match(path_type: str, rule_path: str, request_path: str) -> bool:
    """Whether a rule path of this pathType matches the request path."""
    if path_type == "Exact":
        return request_path == rule_path
    rule = _segments(rule_path)
    return _segments(request_path)[: len(rule)] == rule


def _path_length(path_type: str, rule_path: str) -> int:
    # A trailing slash does not make a Prefix longer: `/foo/` and `/foo` match the same requests.
    return len(rule_path.rstrip("/")) if path_type != "Exact" else len(rule_path)


def _backend_service(backend: dict[str, Any] | None) -> tuple[str | None, int | str | None]:
    svc = (backend or {}).get("service") or {}
    port = svc.get("port") or {}
    number = port.get("number")
    return svc.get("name"), (int(number) if number is not None else port.get("name"))


def _all_backends(ing: Raw) -> list[dict[str, Any]]:
    found = []
    if ing.spec.get("defaultBackend"):
        found.append(ing.spec["defaultBackend"])
    for rule in ing.spec.get("rules") or []:
        for p in ((rule or {}).get("http") or {}).get("paths") or []:
            if p.get("backend"):
                found.append(p["backend"])
    return found


def _translation_errors(world: World, ing: Raw) -> list[str]:
    """Why cloud-provider-kind cannot translate this Ingress (a named backend port it cannot resolve)."""
    errors = []
    for backend in _all_backends(ing):
        name, port = _backend_service(backend)
        if name is None or not isinstance(port, str):
            continue
        svc = get_service(world, ing.namespace or "default", name)
        if svc is None:
            errors.append(f"backend port name '{port}' refers to Service {name}, which does not exist in namespace {ing.namespace}")
        elif not any(p.name == port for p in svc.ports):
            names = ", ".join(p.name for p in svc.ports if p.name) or "none"
            errors.append(f"port name '{port}' not found in Service {svc.key} (its port names: {names})")
    return errors


@dataclass
class _Candidate:
    ingress: Raw
    host_rank: tuple[int, int]
    path_len: int
    exact: bool
    order: int
    rule_host: str
    path: dict[str, Any]


def _class_mismatch(world: World, ing: Raw, wanted: str, trace: list[str]) -> str | None:
    """Why the controller of class `wanted` does not serve this Ingress, or None when it does."""
    defaults = _default_classes(world)
    name = ing.spec.get("ingressClassName")
    if name:
        if name == wanted:
            return None
        known = {c.name: c for c in world.ingress_classes}
        if name not in known:
            leave_out = " or leave it out" if defaults == [wanted] else ""
            return (f"its class is {name}, and IngressClass {name} does not exist on this cluster: no controller serves "
                    f"this Ingress; use ingressClassName: {wanted}{leave_out}")
        controller = (known[name].spec or {}).get("controller") or "(none)"
        return f"its class is {name} (controller {controller}), not {wanted}"
    legacy = _annotations(ing.obj).get(LEGACY_CLASS_ANNOTATION)
    if legacy is not None and wanted == COURSE_INGRESS_CLASS:
        # The admission plugin leaves it without class; cloud-provider-kind reads spec.ingressClassName only.
        if wanted in defaults:
            trace.append(f"Ingress {ing.key}: no ingressClassName; cloud-provider-kind ignores the legacy annotation "
                         f"{LEGACY_CLASS_ANNOTATION}: {legacy} and serves it as the default class")
            return None
        return f"it has no ingressClassName and IngressClass {wanted} is not the default class"
    if legacy is not None:
        return None if legacy == wanted else f"its class is {legacy} (legacy annotation {LEGACY_CLASS_ANNOTATION}), not {wanted}"
    if len(defaults) > 1:
        return (f"the API server refuses an Ingress without ingressClassName while {len(defaults)} IngressClasses are "
                f"marked default ({', '.join(defaults)}); set ingressClassName: {wanted}")
    if not defaults:
        return (f"its class is (none: no ingressClassName and no default IngressClass), so no controller serves it; "
                f"set ingressClassName: {wanted}")
    return None if defaults[0] == wanted else f"it has no ingressClassName, so its class is the default {defaults[0]}, not {wanted}"


def _could_match(ing: Raw, host: str) -> bool:
    """Whether this Ingress has a rule for this host (or a catch-all), so its being skipped explains a miss."""
    if ing.spec.get("defaultBackend"):
        return True
    return any(host_match((rule or {}).get("host") or "", host) is not None for rule in ing.spec.get("rules") or [])


def _eligible_ingresses(world: World, ingress_class: str | None, namespace: str | None, host: str,
                        trace: list[str], problems: list[str]) -> list[Raw]:
    chosen = []
    for ing in sorted(world.ingresses, key=lambda i: (i.namespace or "", i.name)):
        if namespace is not None and ing.namespace != namespace:
            continue
        mismatch = _class_mismatch(world, ing, ingress_class, trace) if ingress_class is not None else None
        if mismatch:
            trace.append(f"Ingress {ing.key} skipped: {mismatch}")
            if _could_match(ing, host):
                problems.append(f"Ingress {ing.key} is not served: {mismatch}")
            continue
        errors = _translation_errors(world, ing)
        if errors:
            for e in errors:
                problems.append(f"Ingress {ing.key} cannot be served: {e}; cloud-provider-kind then serves none of its rules")
            trace.append(f"Ingress {ing.key} skipped: the controller could not translate it")
            continue
        chosen.append(ing)
    return chosen


def route(world: World, host: str, path: str = "/", scheme: str = "http", ingress_class: str | None = None,
          namespace: str | None = None) -> Route:
    """Route one request (Host header / SNI `host`, `path`) through the Ingresses of `ingress_class`.

    `ingress_class=None` means the course's controller (class cloud-provider-kind) when the world holds
    that IngressClass (build_world(include_system=True) adds it), else every Ingress; ANY_INGRESS_CLASS
    considers every Ingress; another name only the Ingresses that class's controller would serve.
    `namespace` limits routing to one namespace's Ingresses.
    """
    if ingress_class is None and any(c.name == COURSE_INGRESS_CLASS for c in world.ingress_classes):
        ingress_class = COURSE_INGRESS_CLASS
    elif ingress_class == ANY_INGRESS_CLASS:
        ingress_class = None
    req_host = normalize_host(host)
    req_path = path.split("?", 1)[0].split("#", 1)[0] or "/"
    if not req_path.startswith("/"):
        req_path = "/" + req_path
    trace: list[str] = [f"{scheme.upper()} request Host {req_host} path {req_path}"]
    problems: list[str] = []
    ingresses = _eligible_ingresses(world, ingress_class, namespace, req_host, trace, problems)
    if not ingresses:
        trace.append("no Ingress to route through")

    candidates = []
    for index, ing in enumerate(ingresses):
        for rule in ing.spec.get("rules") or []:
            rule = rule or {}
            rule_host = rule.get("host") or ""
            rank = host_match(rule_host, req_host)
            if rank is None:
                if _wildcard_deviation(rule_host, req_host):
                    trace.append(
                        f"Ingress {ing.key}: {rule_host} does not match {req_host} (a wildcard covers exactly one "
                        "label); note that cloud-provider-kind (Gateway API semantics) would match it"
                    )
                continue
            for p in (rule.get("http") or {}).get("paths") or []:
                ptype = p.get("pathType") or "ImplementationSpecific"
                rule_path = p.get("path") or "/"
                if path_match(ptype, rule_path, req_path):
                    candidates.append(_Candidate(ing, rank, _path_length(ptype, rule_path), ptype == "Exact",
                                                 index, rule_host, p))

    result = Route(ingress=None, service=None, port=None, status=None, trace=trace, problems=problems)
    if candidates:
        candidates.sort(key=lambda c: (-c.host_rank[0], -c.host_rank[1], -c.path_len, not c.exact, c.order))
        best = candidates[0]
        _describe_choice(best, candidates, req_host, trace, problems)
        result.ingress, result.rule_host = best.ingress.key, best.rule_host
        result.rule_path, result.path_type = best.path.get("path") or "/", best.path.get("pathType")
        _use_backend(world, best.ingress, best.path.get("backend"), result)
    else:
        _default_backend(world, ingresses, req_host, req_path, result)
    if scheme == "https":
        _check_tls(world, ingresses, result, req_host)
    return result


def _describe_choice(best: _Candidate, candidates: list[_Candidate], host: str, trace: list[str],
                     problems: list[str]) -> None:
    kind = {2: "exactly", 1: "by wildcard", 0: "(rule without host: every host)"}[best.host_rank[0]]
    ptype = best.path.get("pathType") or "ImplementationSpecific"
    rule_path = best.path.get("path") or "/"
    note = " (ImplementationSpecific is treated as Prefix, as cloud-provider-kind does)" if ptype == "ImplementationSpecific" else ""
    trace.append(
        f"Ingress {best.ingress.key}: rule host {best.rule_host or '(none)'} matches {host} {kind}; "
        f"path {rule_path} ({ptype}) matches{note}"
    )
    if len(candidates) > 1:
        others = ", ".join(
            f"{c.ingress.key} {c.rule_host or '(no host)'} {c.path.get('path') or '/'} ({c.path.get('pathType')})"
            for c in candidates[1:4]
        )
        trace.append(f"also matching, lower precedence: {others}")
    for c in candidates[1:]:
        same = (c.host_rank, c.path_len, c.exact) == (best.host_rank, best.path_len, best.exact)
        if same and c.ingress.key != best.ingress.key:
            problems.append(
                f"Ingresses {best.ingress.key} and {c.ingress.key} both route host {c.rule_host or '(any)'} path "
                f"{c.path.get('path')}; {best.ingress.key} wins by name order, the other rule is ignored"
            )


def _use_backend(world: World, ing: Raw, backend: dict[str, Any] | None, result: Route) -> None:
    ns = ing.namespace or "default"
    name, port = _backend_service(backend)
    result.port = port
    if name is None:
        result.status = 503
        result.problems.append(f"Ingress {ing.key}: the backend is not a Service (resource backends are not served by cloud-provider-kind)")
        return
    result.service = f"{ns}/{name}"
    svc = get_service(world, ns, name)
    if svc is None:
        result.status = 503
        elsewhere = sorted(s.namespace for s in world.services if s.name == name)
        msg = f"Service {name} not found in namespace {ns}"
        if elsewhere:
            msg += f"; it exists in namespace {', '.join(elsewhere)}, but an Ingress can only send traffic to Services in its own namespace {ns}"
        result.problems.append(msg)
        result.trace.append(f"-> {msg}: the controller answers 5xx")
        return
    if svc.type == "ExternalName":
        result.status = 503
        result.problems.append(f"Service {svc.key} is an ExternalName Service; cloud-provider-kind does not route to those")
        return
    sp = next((p for p in svc.ports if (p.port == port if isinstance(port, int) else p.name == port)), None)
    if sp is None:
        result.status = 503
        known = ", ".join(f"{p.port}" + (f" ({p.name})" if p.name else "") for p in svc.ports) or "none"
        result.problems.append(f"Service {svc.key} has no port {port} (its ports: {known}); use one of those in the Ingress backend")
        result.trace.append(f"-> Service {svc.key} port {port}: no such port, the controller answers 5xx")
        return
    ready = ready_endpoints(world, svc, sp)
    if not ready:
        result.status = 503
        reasons = endpoint_diagnosis(world, svc) or ["no ready endpoint"]
        result.problems.extend(f"Service {svc.key}: {r}" for r in reasons)
        result.trace.append(f"-> Service {svc.key} port {sp.port}: no ready endpoint, the controller answers 503")
        return
    result.trace.append(
        f"-> Service {svc.key} port {sp.port}" + (f" ({sp.name})" if sp.name else "")
        + f": {len(ready)} ready endpoint(s) ({', '.join(f'{e.ip}:{e.port}' for e in ready[:4])}); the controller forwards the request there"
    )


def _default_backend(world: World, ingresses: list[Raw], host: str, path: str, result: Route) -> None:
    users = []
    for ing in ingresses:
        backend = ing.spec.get("defaultBackend")
        if not backend:
            continue
        hostless = any(not (r or {}).get("host") for r in ing.spec.get("rules") or [])
        if hostless:
            result.problems.append(
                f"Ingress {ing.key} has both a rule without host and spec.defaultBackend: cloud-provider-kind builds its "
                "catch-all from the rule and ignores spec.defaultBackend"
            )
            continue
        users.append(ing)
    if not users:
        result.status = 404
        result.trace.append(f"no rule matches host {host} path {path} and no spec.defaultBackend applies: 404")
        return
    if len(users) > 1:
        result.problems.append(
            f"several Ingresses define spec.defaultBackend ({', '.join(i.key for i in users)}); "
            f"the controller can use only one ({users[0].key} here)"
        )
    ing = users[0]
    result.ingress = ing.key
    result.trace.append(f"no rule matches host {host} path {path}: spec.defaultBackend of Ingress {ing.key}")
    _use_backend(world, ing, ing.spec.get("defaultBackend"), result)


def _tls_covers(entry: dict[str, Any], host: str) -> bool:
    hosts = entry.get("hosts") or []
    return not hosts or any(host_match(h, host) not in (None, (0, 0)) for h in hosts)


def _check_tls(world: World, ingresses: list[Raw], result: Route, host: str) -> None:
    # The matched Ingress's own spec.tls first, then the others (the controller aggregates certificates).
    ordered = sorted(ingresses, key=lambda i: i.key != result.ingress)
    for ing in ordered:
        for entry in ing.spec.get("tls") or []:
            entry = entry or {}
            if not _tls_covers(entry, host):
                continue
            secret_name = entry.get("secretName")
            if not secret_name:
                result.tls_ok = False
                result.problems.append(f"Ingress {ing.key}: the spec.tls entry for {host} has no secretName")
                return
            ns = ing.namespace or "default"
            result.tls_secret = f"{ns}/{secret_name}"
            result.trace.append(f"TLS for {host}: spec.tls of Ingress {ing.key} -> Secret {result.tls_secret}")
            problem = _secret_problem(world, ns, secret_name)
            result.tls_ok = problem is None
            if problem:
                result.problems.append(problem)
            return
    result.tls_ok = False
    result.problems.append(
        f"no Ingress lists host {host} under spec.tls, so HTTPS is not served for it with a certificate of yours: "
        "add a spec.tls entry with hosts: [" + host + "] and secretName: <a kubernetes.io/tls Secret>"
    )


def _secret_problem(world: World, namespace: str, name: str) -> str | None:
    """What is wrong with the TLS Secret an Ingress names, or None when it is usable."""
    secret = next((s for s in world.secrets if s.namespace == namespace and s.name == name), None)
    if secret is None:
        elsewhere = sorted(s.namespace or "" for s in world.secrets if s.name == name)
        if elsewhere:
            return (
                f"Secret {name} exists in namespace {', '.join(elsewhere)}, but an Ingress can only use a Secret in "
                f"its own namespace {namespace}"
            )
        return f"Secret {name} not found in namespace {namespace}: create it with kubectl create secret tls {name} --cert=... --key=... -n {namespace}"
    kind = secret.obj.get("type") or "Opaque"
    if kind != TLS_SECRET_TYPE:
        return f"Secret {namespace}/{name} has type {kind}; an Ingress needs type {TLS_SECRET_TYPE} (kubectl create secret tls)"
    keys = set((secret.obj.get("data") or {})) | set((secret.obj.get("stringData") or {}))
    missing = [k for k in ("tls.crt", "tls.key") if k not in keys]
    if missing:
        return f"Secret {namespace}/{name} lacks {' and '.join(missing)}"
    return None

