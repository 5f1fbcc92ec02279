"""Gateway API conformance cases on the simulator.

tests/data/gateway_conformance/*.yaml restate tests of the gateway-api conformance suite
(conformance/tests/*.go and their YAML: the requests, the expected backend / status / Location /
headers, the route and listener conditions), each over a base world written after the suite's
conformance/base/manifests.yaml. `test_case_count` states how many cases there are; each case is one
expectation of the suite (a request's answer, a route condition, a listener's status).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grader.manifests import load_text
from grader.model.gateway import Request, analyze, route_request
from grader.model.gateway.routing import _Headers
from grader.model.workloads import build_world
from grader.tlsgen import make_self_signed, secret_manifest

DATA = Path(__file__).parent / "data" / "gateway_conformance"
BASE = (DATA / "base.yaml").read_text(encoding="utf-8")
INFRA = "gateway-conformance-infra"
DEFAULT_GATEWAY = f"{INFRA}/same-namespace"
DEFAULT_HOST = "gw.example"  # the suite sends the Gateway's address as Host


def _tls_secrets() -> str:
    pair = make_self_signed(["example.org", "*.example.org"])
    docs = [secret_manifest("tls-validity-checks-certificate", pair, namespace=INFRA),
            secret_manifest("certificate", pair, namespace="gateway-conformance-web-backend")]
    return "\n---\n".join(yaml.safe_dump(d) for d in docs)


TLS = _tls_secrets()


def _tests() -> list[dict]:
    out = []
    for f in sorted(DATA.glob("*.yaml")):
        if f.name == "base.yaml":
            continue
        out += yaml.safe_load(f.read_text(encoding="utf-8"))
    return out


TESTS = _tests()


def _cases(kind: str) -> list[tuple[dict, dict]]:
    return [(t, c) for t in TESTS for c in t.get(kind) or []]


REQUESTS, CONDITIONS, LISTENERS = _cases("requests"), _cases("conditions"), _cases("listeners")


def test_case_count():
    """The number of conformance cases derived (the report quotes it): requests, route conditions, listener statuses."""
    assert len({t["test"] for t in TESTS}) == 36
    assert (len(REQUESTS), len(CONDITIONS), len(LISTENERS)) == (165, 22, 17)


_WORLDS: dict[str, object] = {}


def _world(test: dict):
    if test["test"] not in _WORLDS:
        manifests = load_text("---\n".join([BASE, TLS, test["manifests"]]), f"{test['test']}.yaml", namespace=INFRA)
        world = build_world(manifests, include_system=True)
        _WORLDS[test["test"]] = (world, analyze(world))
    return _WORLDS[test["test"]]


def _service(name: str) -> str:
    return name if "/" in name else f"{INFRA}/{name}"


def _ids(cases):
    return [f"{t['test']}-{i}" for i, (t, _) in enumerate(cases)]


@pytest.mark.parametrize("test,case", REQUESTS, ids=_ids(REQUESTS))
def test_request(test, case):
    world, state = _world(test)
    gateway = case.get("gateway") or test.get("gateway") or DEFAULT_GATEWAY
    req = Request(host=case.get("host", DEFAULT_HOST), path=case["path"], method=case.get("method", "GET"),
                  headers=tuple((case.get("headers") or {}).items()), scheme=case.get("scheme", "http"), port=case.get("port"))
    d = route_request(world, gateway, req, state)
    trace = "\n".join(d.trace + d.problems)
    if "backend" in case:
        assert d.status is None, f"expected {case['backend']}, got HTTP {d.status}\n{trace}"
        assert d.service == _service(case["backend"]), trace
    if "status" in case:
        assert d.status == case["status"], trace
    if "location" in case:
        assert d.location == case["location"], trace
    if "shares" in case:
        got = {s.service: round(s.share, 6) for s in d.shares}
        assert got == {_service(k): v for k, v in case["shares"].items()}, trace
    if "backend_path" in case:
        assert d.backend_path == case["backend_path"], trace
    if "backend_host" in case:
        assert d.backend_host == case["backend_host"], trace
    seen = _Headers(d.backend_headers)
    for name, value in (case.get("backend_headers") or {}).items():
        assert seen.get(name) == value, f"{name}: {seen.get(name)!r}\n{trace}"
    for name in case.get("absent_headers") or []:
        assert seen.get(name) is None, trace
    response = _Headers(d.response_headers(dict(req.headers)))  # the echo backend returns the request's headers
    for name, value in (case.get("response_headers") or {}).items():
        assert response.get(name) == value, f"{name}: {response.get(name)!r}\n{trace}"
    for name in case.get("absent_response_headers") or []:
        assert response.get(name) is None, trace


@pytest.mark.parametrize("test,case", CONDITIONS, ids=_ids(CONDITIONS))
def test_route_condition(test, case):
    _, state = _world(test)
    route = case["route"] if "/" in case["route"] else f"{INFRA}/{case['route']}"
    rs = state.routes[route]
    gateway = case.get("gateway") or test.get("gateway") or DEFAULT_GATEWAY
    parents = [p for p in rs.parents if p.gateway == gateway]
    assert parents, rs.status_lines()
    conds = [c for p in parents for c in p.conditions if c.type == case["type"]]
    assert conds, rs.status_lines()
    assert (conds[0].status, conds[0].reason) == (case["status"], case["reason"]), rs.status_lines()


@pytest.mark.parametrize("test,case", LISTENERS, ids=_ids(LISTENERS))
def test_listener_status(test, case):
    _, state = _world(test)
    gw = state.gateways[case.get("gateway") or test.get("gateway") or DEFAULT_GATEWAY]
    lis = next(li for li in gw.listeners if li.name == case["listener"])
    lines = [c.line() for c in lis.conditions]
    if "attachedRoutes" in case:
        assert len(lis.attached_routes) == case["attachedRoutes"], (lis.attached_routes, lines)
    if "ResolvedRefs" in case:
        cond = lis.condition("ResolvedRefs")
        assert cond is not None and cond.status == case["ResolvedRefs"], lines
        if "reason" in case:
            assert cond.reason == case["reason"], lines


# ---- the specification's own examples (apis/v1 doc comments) -----------------------------------

# HTTPPathModifier.ReplacePrefixMatch: request path, prefix match, replacement, modified path.
REPLACE_PREFIX_TABLE = [
    ("/foo/bar", "/foo", "/xyz", "/xyz/bar"), ("/foo/bar", "/foo", "/xyz/", "/xyz/bar"),
    ("/foo/bar", "/foo/", "/xyz", "/xyz/bar"), ("/foo/bar", "/foo/", "/xyz/", "/xyz/bar"),
    ("/foo", "/foo", "/xyz", "/xyz"), ("/foo/", "/foo", "/xyz", "/xyz/"), ("/foo/bar", "/foo", "", "/bar"),
    ("/foo/", "/foo", "", "/"), ("/foo", "/foo", "", "/"), ("/foo/", "/foo", "/", "/"), ("/foo", "/foo", "/", "/"),
]


@pytest.mark.parametrize("path,prefix,replacement,want", REPLACE_PREFIX_TABLE)
def test_spec_replace_prefix_match_table(path, prefix, replacement, want):
    from grader.model.gateway.routing import _modified_path

    got = _modified_path({"type": "ReplacePrefixMatch", "replacePrefixMatch": replacement},
                         {"path": {"type": "PathPrefix", "value": prefix}}, Request("h", path))
    assert got == want


# HTTPRouteSpec.Hostnames: which route hostnames attach to a listener hostname.
HOSTNAME_EXAMPLES = [
    ("test.example.com", [], True), ("test.example.com", ["test.example.com"], True),
    ("test.example.com", ["*.example.com"], True), ("*.example.com", [], True),
    ("*.example.com", ["*.example.com"], True), ("*.example.com", ["test.example.com"], True),
    ("*.example.com", ["foo.test.example.com"], True), ("*.example.com", ["example.com"], False),
    ("*.example.com", ["test.example.net"], False),
]


@pytest.mark.parametrize("listener,route,attaches", HOSTNAME_EXAMPLES)
def test_spec_hostname_examples(listener, route, attaches):
    from grader.model.gateway import hostnames

    assert bool(hostnames.effective(listener, route)) is attaches


def test_spec_route_hostnames_that_do_not_match_are_ignored():
    """Listener *.example.com, route test.example.com and test.example.net: only test.example.com is considered."""
    from grader.model.gateway import hostnames

    assert hostnames.effective("*.example.com", ["test.example.com", "test.example.net"]) == ["test.example.com"]


# PathMatchType examples: `/abc` Exact matches only `/abc`; PathPrefix `/abc` matches `/abc`, `/abc/`, `/abc/def`, not `/abcd`.
@pytest.mark.parametrize("ptype,path,ok", [
    ("Exact", "/abc", True), ("Exact", "/abc/", False), ("Exact", "/Abc", False), ("Exact", "/abcd", False),
    ("PathPrefix", "/abc", True), ("PathPrefix", "/abc/", True), ("PathPrefix", "/abc/def", True), ("PathPrefix", "/abcd", False),
])
def test_spec_path_match_examples(ptype, path, ok):
    from grader.model.gateway.routing import path_matches

    assert path_matches(ptype, "/abc", path) is ok
