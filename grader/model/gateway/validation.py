"""What the API server refuses in Gateway API objects: the CRDs' schema and their CEL rules.

One definition, used by the manifest loader (grader.manifests) so a learner gets `file:line` errors
before anything is applied, as `kubectl apply` would report them from the API server. Covered:
unknown fields (typos such as `backendRef:` or `parentRef:`), required fields, types, enums and
patterns (hostnames, section names, paths), and the CEL rules that matter to learners: RequestRedirect
with backendRefs, RequestRedirect with URLRewrite, ReplacePrefixMatch only with one PathPrefix match,
a filter's type matching its field, `port` required for a Service backendRef, weights 0..1000000,
`tls` only on HTTPS/TLS listeners, unique listener names and port/protocol/hostname combinations,
unique sectionNames for parentRefs to one parent.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterator
from typing import Any

Path = tuple[str | int, ...]
Problem = tuple[Path, str, str | None]  # (path, message, fix)

_HOSTNAME = re.compile(r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PRECISE_HOSTNAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_SECTION_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_PATH_CHARS = re.compile(r"^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$")
_HEADER_NAME = re.compile(r"^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_CONTROLLER = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$")

PATH_TYPES = ("Exact", "PathPrefix", "RegularExpression")
METHODS = ("GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH")
FILTER_FIELDS = {
    "RequestHeaderModifier": "requestHeaderModifier",
    "ResponseHeaderModifier": "responseHeaderModifier",
    "RequestMirror": "requestMirror",
    "RequestRedirect": "requestRedirect",
    "URLRewrite": "urlRewrite",
    "ExtensionRef": "extensionRef",
    "CORS": "cors",
}
REDIRECT_CODES = (301, 302, 303, 307, 308)

# Known fields per structure (standard channel), for "unknown field" errors with a suggestion.
_REF = {"group", "kind", "name", "namespace"}
FIELDS: dict[str, set[str]] = {
    "GatewaySpec": {"gatewayClassName", "listeners", "addresses", "infrastructure", "allowedListeners", "tls", "backendTLS"},
    "Listener": {"name", "hostname", "port", "protocol", "tls", "allowedRoutes"},
    "ListenerTLS": {"mode", "certificateRefs", "options", "frontendValidation"},
    "AllowedRoutes": {"namespaces", "kinds"},
    "RouteNamespaces": {"from", "selector"},
    "HTTPRouteSpec": {"parentRefs", "hostnames", "rules"},
    "ParentRef": _REF | {"sectionName", "port"},
    "Rule": {"name", "matches", "filters", "backendRefs", "timeouts", "retry", "sessionPersistence"},
    "Match": {"path", "headers", "queryParams", "method"},
    "PathMatch": {"type", "value"},
    "HeaderMatch": {"type", "name", "value"},
    "Filter": {"type", *FILTER_FIELDS.values(), "externalAuth"},
    "BackendRef": _REF | {"port", "weight", "filters"},
    "Redirect": {"scheme", "hostname", "path", "port", "statusCode"},
    "Rewrite": {"hostname", "path"},
    "PathModifier": {"type", "replaceFullPath", "replacePrefixMatch"},
    "HeaderFilter": {"set", "add", "remove"},
    "Header": {"name", "value"},
    "ReferenceGrantSpec": {"from", "to"},
    "GrantFrom": {"group", "kind", "namespace"},
    "GrantTo": {"group", "kind", "name"},
    "GatewayClassSpec": {"controllerName", "parametersRef", "description"},
}


def gateway_api_problems(obj: dict[str, Any]) -> list[Problem]:
    """Every problem the API server would report for this Gateway API object ([] = accepted)."""
    kind = obj.get("kind")
    spec = obj.get("spec")
    check = {"Gateway": _gateway, "HTTPRoute": _httproute, "ReferenceGrant": _reference_grant,
             "GatewayClass": _gateway_class}.get(str(kind))
    if check is None:
        return []
    if not isinstance(spec, dict):
        return [(("spec",), "spec is missing" if spec is None else "spec must be a mapping", f"add spec: (see `kubectl explain {str(kind).lower()}.spec`)")]
    return list(check(spec))


def _unknown(path: Path, value: Any, structure: str) -> Iterator[Problem]:
    if not isinstance(value, dict):
        return
    known = FIELDS[structure]
    for key in value:
        if key not in known:
            close = difflib.get_close_matches(str(key), sorted(known), n=1, cutoff=0.6)
            fix = f"did you mean {close[0]}?" if close else f"known fields here: {', '.join(sorted(known))}"
            yield path + (key,), f"unknown field {key!r}", fix


def _list(path: Path, value: Any, what: str) -> Iterator[Problem]:
    if value is not None and not isinstance(value, list):
        yield path, f"{what} must be a list", f"write {path[-1]}: as a list of items, each starting with '- '"


def _port(path: Path, value: Any, required: bool = True) -> Iterator[Problem]:
    if value is None:
        if required:
            yield path, "port is required", "add port: <number>"
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        yield path, f"port must be a number from 1 to 65535, got {value!r}", None


def _hostname(path: Path, value: Any, precise: bool = False) -> Iterator[Problem]:
    if not isinstance(value, str):
        yield path, "a hostname must be a string", None
        return
    try:
        ipaddress.ip_address(value)
        yield path, f"{value!r}: an IP address is not a hostname here", "use a DNS name (the Host header the clients send)"
        return
    except ValueError:
        pass
    pattern = _PRECISE_HOSTNAME if precise else _HOSTNAME
    if not pattern.match(value) or len(value) > 253:
        fix = "lower-case DNS labels separated by dots" + ("" if precise else "; a wildcard is only `*.` as the whole first label")
        yield path, f"{value!r} is not a valid hostname", fix


def _gateway(spec: dict[str, Any]) -> Iterator[Problem]:
    yield from _unknown(("spec",), spec, "GatewaySpec")
    if not spec.get("gatewayClassName"):
        yield ("spec", "gatewayClassName"), "gatewayClassName is required", "on the course cluster: gatewayClassName: cloud-provider-kind"
    listeners = spec.get("listeners")
    if not isinstance(listeners, list) or not listeners:
        yield ("spec", "listeners"), "a Gateway needs at least one listener", "add listeners: [{name: http, protocol: HTTP, port: 80}]"
        return
    seen_names: dict[str, int] = {}
    seen_combo: dict[tuple, int] = {}
    for i, lis in enumerate(listeners):
        p = ("spec", "listeners", i)
        if not isinstance(lis, dict):
            yield p, "a listener must be a mapping", None
            continue
        yield from _unknown(p, lis, "Listener")
        name = lis.get("name")
        if not isinstance(name, str) or not _SECTION_NAME.match(name):
            yield p + ("name",), f"listener name {name!r} is missing or invalid", "lower-case letters, digits, '-' and '.'"
        elif name in seen_names:
            yield p + ("name",), f"listener name {name!r} is used twice (Listener name must be unique within the Gateway)", None
        else:
            seen_names[name] = i
        yield from _port(p + ("port",), lis.get("port"))
        protocol = lis.get("protocol")
        if not isinstance(protocol, str) or not protocol:
            yield p + ("protocol",), "protocol is required", "HTTP (port 80) or HTTPS (port 443, with tls)"
            protocol = ""
        if lis.get("hostname") is not None:
            yield from _hostname(p + ("hostname",), lis["hostname"])
            if protocol.upper() in ("TCP", "UDP"):
                yield p + ("hostname",), "hostname must not be specified for protocols ['TCP', 'UDP']", None
        combo = (lis.get("port"), protocol, lis.get("hostname"))
        if combo in seen_combo:
            yield p, "Combination of port, protocol and hostname must be unique for each listener", None
        seen_combo[combo] = i
        tls = lis.get("tls")
        if tls is not None:
            if protocol.upper() in ("HTTP", "TCP", "UDP"):
                yield p + ("tls",), f"tls must not be specified for protocol {protocol}", "use protocol: HTTPS for a listener that terminates TLS"
            elif isinstance(tls, dict):
                yield from _unknown(p + ("tls",), tls, "ListenerTLS")
                mode = tls.get("mode") or "Terminate"
                if mode not in ("Terminate", "Passthrough"):
                    yield p + ("tls", "mode"), f"tls mode {mode!r} is not Terminate or Passthrough", None
                if protocol.upper() == "HTTPS" and mode != "Terminate":
                    yield p + ("tls", "mode"), "tls mode must be Terminate for protocol HTTPS", None
                refs = tls.get("certificateRefs")
                yield from _list(p + ("tls", "certificateRefs"), refs, "certificateRefs")
                if mode == "Terminate" and not refs and not tls.get("options"):
                    yield p + ("tls",), "certificateRefs or options must be specified when mode is Terminate", \
                        "certificateRefs: [{name: <a kubernetes.io/tls Secret>}]"
                for j, ref in enumerate(refs if isinstance(refs, list) else []):
                    if not isinstance(ref, dict) or not ref.get("name"):
                        yield p + ("tls", "certificateRefs", j), "a certificateRef needs name:", None
        if protocol.upper() == "TLS" and not (isinstance(tls, dict) and tls.get("mode")):
            yield p + ("protocol",), "tls mode must be set for protocol TLS", None
        allowed = lis.get("allowedRoutes")
        if isinstance(allowed, dict):
            yield from _unknown(p + ("allowedRoutes",), allowed, "AllowedRoutes")
            ns = allowed.get("namespaces")
            if isinstance(ns, dict):
                yield from _unknown(p + ("allowedRoutes", "namespaces"), ns, "RouteNamespaces")
                origin = ns.get("from")
                if origin is not None and origin not in ("All", "Selector", "Same"):
                    yield p + ("allowedRoutes", "namespaces", "from"), f"from: {origin!r} is not All, Selector or Same", None


def _httproute(spec: dict[str, Any]) -> Iterator[Problem]:
    yield from _unknown(("spec",), spec, "HTTPRouteSpec")
    hosts = spec.get("hostnames")
    yield from _list(("spec", "hostnames"), hosts, "hostnames")
    for i, h in enumerate(hosts if isinstance(hosts, list) else []):
        yield from _hostname(("spec", "hostnames", i), h)
    refs = spec.get("parentRefs")
    yield from _list(("spec", "parentRefs"), refs, "parentRefs")
    seen: dict[tuple, list[Any]] = {}
    for i, ref in enumerate(refs if isinstance(refs, list) else []):
        p = ("spec", "parentRefs", i)
        if not isinstance(ref, dict):
            yield p, "a parentRef must be a mapping", "- name: <Gateway>"
            continue
        yield from _unknown(p, ref, "ParentRef")
        if not ref.get("name"):
            yield p + ("name",), "a parentRef needs name: (the Gateway's name)", None
        if ref.get("sectionName") is not None and not (isinstance(ref["sectionName"], str) and _SECTION_NAME.match(ref["sectionName"])):
            yield p + ("sectionName",), f"sectionName {ref['sectionName']!r} is not a valid listener name", None
        if ref.get("port") is not None:
            yield from _port(p + ("port",), ref.get("port"))
        key = (ref.get("group"), ref.get("kind"), ref.get("namespace"), ref.get("name"))
        seen.setdefault(key, []).append(ref.get("sectionName"))
    for key, sections in seen.items():
        if len(sections) > 1 and (None in sections or len(set(sections)) != len(sections)):
            yield ("spec", "parentRefs"), (f"parentRefs to {key[3]} appear {len(sections)} times: sectionName must be specified "
                                           "and unique when parentRefs includes 2 or more references to the same parent"), None
    rules = spec.get("rules")
    yield from _list(("spec", "rules"), rules, "rules")
    for i, rule in enumerate(rules if isinstance(rules, list) else []):
        yield from _rule(("spec", "rules", i), rule)


def _rule(p: Path, rule: Any) -> Iterator[Problem]:
    if not isinstance(rule, dict):
        yield p, "a rule must be a mapping", None
        return
    yield from _unknown(p, rule, "Rule")
    matches = rule.get("matches")
    yield from _list(p + ("matches",), matches, "matches")
    match_list = matches if isinstance(matches, list) else []
    for j, m in enumerate(match_list):
        yield from _match(p + ("matches", j), m)
    filters = rule.get("filters")
    yield from _list(p + ("filters",), filters, "filters")
    filter_list = [f for f in filters if isinstance(f, dict)] if isinstance(filters, list) else []
    yield from _filters(p + ("filters",), filter_list, match_list)
    backends = rule.get("backendRefs")
    yield from _list(p + ("backendRefs",), backends, "backendRefs")
    backend_list = backends if isinstance(backends, list) else []
    if backend_list and any(f.get("type") == "RequestRedirect" for f in filter_list):
        yield p, "RequestRedirect filter must not be used together with backendRefs", \
            "a redirect answers the client itself: put it in its own rule without backendRefs"
    for j, b in enumerate(backend_list):
        q = p + ("backendRefs", j)
        if not isinstance(b, dict):
            yield q, "a backendRef must be a mapping", "- name: <Service>\n  port: <its port>"
            continue
        yield from _unknown(q, b, "BackendRef")
        if not b.get("name"):
            yield q + ("name",), "a backendRef needs name: (the Service's name)", None
        if (b.get("group") or "") == "" and (b.get("kind") or "Service") == "Service" and b.get("port") is None:
            yield q, "Must have port for Service reference", "add port: <the Service's port> (not the container's targetPort)"
        elif b.get("port") is not None:
            yield from _port(q + ("port",), b.get("port"))
        weight = b.get("weight")
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 1_000_000):
            yield q + ("weight",), f"weight must be a whole number from 0 to 1000000, got {weight!r}", \
                "weights are relative (90 and 10 send 90% and 10%), not percentages with a % sign"
        bf = b.get("filters")
        if isinstance(bf, list):
            yield from _filters(q + ("filters",), [f for f in bf if isinstance(f, dict)], match_list)


def _match(p: Path, m: Any) -> Iterator[Problem]:
    if not isinstance(m, dict):
        yield p, "a match must be a mapping", None
        return
    yield from _unknown(p, m, "Match")
    path = m.get("path")
    if isinstance(path, dict):
        yield from _unknown(p + ("path",), path, "PathMatch")
        ptype = path.get("type", "PathPrefix")
        value = path.get("value", "/")
        if ptype not in PATH_TYPES:
            yield p + ("path", "type"), f"path type {ptype!r} is not one of {', '.join(PATH_TYPES)}", \
                ("Gateway API says PathPrefix where an Ingress says Prefix" if ptype == "Prefix" else None)
        elif ptype in ("Exact", "PathPrefix"):
            if not isinstance(value, str) or not value.startswith("/"):
                yield p + ("path", "value"), f"value {value!r} must be an absolute path and start with '/'", None
            elif "//" in value or "/./" in value or "/../" in value or value.endswith(("/..", "/.")) or "#" in value \
                    or "%2f" in value.lower() or not _PATH_CHARS.match(value):
                yield p + ("path", "value"), f"path value {value!r} contains characters or segments a path match may not have", None
    elif path is not None:
        yield p + ("path",), "path must be a mapping with type: and value:", None
    for k, h in enumerate(m.get("headers") or []):
        q = p + ("headers", k)
        if not isinstance(h, dict) or not h.get("name") or h.get("value") in (None, ""):
            yield q, "a header match needs name: and value:", None
            continue
        yield from _unknown(q, h, "HeaderMatch")
        if not _HEADER_NAME.match(str(h["name"])):
            yield q + ("name",), f"{h['name']!r} is not a valid HTTP header name", None
        if h.get("type", "Exact") not in ("Exact", "RegularExpression"):
            yield q + ("type",), f"header match type {h.get('type')!r} is not Exact or RegularExpression", None
    for k, qp in enumerate(m.get("queryParams") or []):
        q = p + ("queryParams", k)
        if not isinstance(qp, dict) or not qp.get("name") or qp.get("value") in (None, ""):
            yield q, "a query parameter match needs name: and value:", None
    method = m.get("method")
    if method is not None and method not in METHODS:
        yield p + ("method",), f"method {method!r} is not one of {', '.join(METHODS)}", ("methods are upper case" if str(method).upper() in METHODS else None)


def _filters(p: Path, filters: list[dict[str, Any]], matches: list[Any]) -> Iterator[Problem]:
    types = [f.get("type") for f in filters]
    if "RequestRedirect" in types and "URLRewrite" in types:
        yield p, "May specify either httpRouteFilterRequestRedirect or httpRouteFilterRequestRewrite, but not both", None
    for t in set(types):
        if t != "RequestMirror" and t != "ExtensionRef" and types.count(t) > 1:
            yield p, f"{t} filter cannot be repeated", None
    for i, f in enumerate(filters):
        q = p + (i,)
        yield from _unknown(q, f, "Filter")
        ftype = f.get("type")
        if ftype not in FILTER_FIELDS:
            yield q + ("type",), f"filter type {ftype!r} is not one of {', '.join(FILTER_FIELDS)}", None
            continue
        field = FILTER_FIELDS[ftype]
        if not isinstance(f.get(field), dict):
            yield q, f"filter.{field} must be specified for {ftype} filter.type", None
            continue
        for other, ofield in FILTER_FIELDS.items():
            if other != ftype and ofield in f:
                yield q + (ofield,), f"filter.{ofield} must be nil if the filter.type is not {other}", None
        body = f[field]
        if ftype in ("RequestHeaderModifier", "ResponseHeaderModifier"):
            yield from _unknown(q + (field,), body, "HeaderFilter")
        elif ftype == "RequestRedirect":
            yield from _unknown(q + (field,), body, "Redirect")
            if body.get("scheme") is not None and body["scheme"] not in ("http", "https"):
                yield q + (field, "scheme"), f"scheme {body['scheme']!r} is not http or https", "lower case: scheme: https"
            if body.get("statusCode") is not None and body["statusCode"] not in REDIRECT_CODES:
                yield q + (field, "statusCode"), f"statusCode {body['statusCode']!r} is not one of 301, 302, 303, 307, 308", None
            if body.get("hostname") is not None:
                yield from _hostname(q + (field, "hostname"), body["hostname"], precise=True)
            if body.get("port") is not None:
                yield from _port(q + (field, "port"), body["port"])
            yield from _path_modifier(q + (field, "path"), body.get("path"), matches, "RequestRedirect")
        elif ftype == "URLRewrite":
            yield from _unknown(q + (field,), body, "Rewrite")
            if body.get("hostname") is not None:
                yield from _hostname(q + (field, "hostname"), body["hostname"], precise=True)
            yield from _path_modifier(q + (field, "path"), body.get("path"), matches, "URLRewrite")


def _path_modifier(p: Path, mod: Any, matches: list[Any], what: str) -> Iterator[Problem]:
    if mod is None:
        return
    if not isinstance(mod, dict):
        yield p, "path must be a mapping with type:", None
        return
    yield from _unknown(p, mod, "PathModifier")
    mtype = mod.get("type")
    if mtype not in ("ReplaceFullPath", "ReplacePrefixMatch"):
        yield p + ("type",), f"path type {mtype!r} is not ReplaceFullPath or ReplacePrefixMatch", None
    elif mtype == "ReplaceFullPath" and "replaceFullPath" not in mod:
        yield p, "replaceFullPath must be specified when type is set to 'ReplaceFullPath'", None
    elif mtype == "ReplacePrefixMatch":
        if "replacePrefixMatch" not in mod:
            yield p, "replacePrefixMatch must be specified when type is set to 'ReplacePrefixMatch'", None
        only = matches[0] if len(matches) == 1 and isinstance(matches[0], dict) else None
        if only is None or (only.get("path") or {}).get("type", "PathPrefix") != "PathPrefix" or "path" not in only:
            yield p, f"When using {what} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified", None


def _reference_grant(spec: dict[str, Any]) -> Iterator[Problem]:
    yield from _unknown(("spec",), spec, "ReferenceGrantSpec")
    for side, structure, required in (("from", "GrantFrom", ("kind", "namespace")), ("to", "GrantTo", ("kind",))):
        items = spec.get(side)
        if not isinstance(items, list) or not items:
            yield ("spec", side), f"{side}: needs at least one entry", None
            continue
        for i, item in enumerate(items):
            p = ("spec", side, i)
            if not isinstance(item, dict):
                yield p, f"a {side} entry must be a mapping", None
                continue
            yield from _unknown(p, item, structure)
            if "group" not in item:
                yield p, "group is required (\"\" for core kinds such as Service and Secret, gateway.networking.k8s.io for HTTPRoute and Gateway)", None
            for key in required:
                if not item.get(key):
                    yield p + (key,), f"{key} is required", None
            if side == "from" and item.get("namespace") and not _NAMESPACE.match(str(item["namespace"])):
                yield p + ("namespace",), f"{item['namespace']!r} is not a namespace name", None


def _gateway_class(spec: dict[str, Any]) -> Iterator[Problem]:
    yield from _unknown(("spec",), spec, "GatewayClassSpec")
    name = spec.get("controllerName")
    if not isinstance(name, str) or not _CONTROLLER.match(name):
        yield ("spec", "controllerName"), "controllerName must be a domain-prefixed path such as example.net/gateway-controller", None
