"""The Gateway API model beyond the conformance cases: what the API server refuses, controllers that do
not serve a class, listener conflicts and protocols, `grade sim route --gateway`, Http probes through a
Gateway on the simulator, the workshop fence, and the canary's statistical bound."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader.cli import main
from grader.workshop.learner import learner_fence
from grader.lab import Lab
from grader.manifests import ManifestError, load_text
from grader.model.gateway import Request, analyze, hostnames, route_request
from grader.model.gateway.split import acceptance_band, pass_probability
from grader.model.workloads import build_world

ROOT = Path(__file__).resolve().parent.parent
LESSON7 = ROOT / "exercises" / "lesson7"

APP = """
apiVersion: v1
kind: Service
metadata: {name: web}
spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
---
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec: {containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.66.1, args: [netexec, --http-port=8080], ports: [{containerPort: 8080}]}]}
"""


def world(text: str):
    return build_world(load_text(APP + "---\n" + text, "t.yaml", namespace="demo"), include_system=True)


def refusals(text: str) -> str:
    with pytest.raises(ManifestError) as e:
        load_text(text, "t.yaml", namespace="demo")
    return str(e.value)


# ---- what the API server refuses (CRD schema and CEL rules) -------------------------------------


def test_typos_and_ingress_habits_are_refused_at_load_with_file_line_and_a_fix():
    text = refusals("""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  parentRef: [{name: gw}]
  rules:
  - matches: [{path: {type: Prefix, value: /api}}]
    backendRefs: [{name: web, weight: 90%}]
""")
    assert "t.yaml:6" in text and "unknown field 'parentRef'" in text and "did you mean parentRefs?" in text
    assert "'Prefix' is not one of Exact, PathPrefix, RegularExpression" in text and "PathPrefix where an Ingress says Prefix" in text
    assert "Must have port for Service reference" in text
    assert "weight must be a whole number" in text


def test_a_redirect_with_backends_and_a_lonely_replace_prefix_match_are_refused():
    text = refusals("""
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec:
  rules:
  - filters: [{type: RequestRedirect, requestRedirect: {scheme: HTTPS, path: {type: ReplacePrefixMatch, replacePrefixMatch: /x}}}]
    backendRefs: [{name: web, port: 80}]
""")
    assert "RequestRedirect filter must not be used together with backendRefs" in text
    assert "exactly one PathPrefix match must be specified" in text
    assert "scheme 'HTTPS' is not http or https" in text


def test_listener_rules_of_the_gateway_crd():
    text = refusals("""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: cloud-provider-kind
  listeners:
  - {name: http, protocol: HTTP, port: 80, tls: {certificateRefs: [{name: x}]}}
  - {name: http, protocol: HTTP, port: 80}
  - {name: web, protocol: HTTPS, port: 443, hostname: "shop.*.com", tls: {}}
""")
    assert "tls must not be specified for protocol HTTP" in text
    assert "listener name 'http' is used twice" in text
    assert "'shop.*.com' is not a valid hostname" in text
    assert "certificateRefs or options must be specified when mode is Terminate" in text


def test_valid_gateway_api_objects_load():
    for f in (LESSON7 / "solution").glob("*.yaml"):
        load_text(f.read_text(), str(f), namespace="lesson7")


# ---- hostnames ---------------------------------------------------------------------------------


def test_a_gateway_wildcard_covers_any_number_of_labels_unlike_an_ingress_host():
    assert hostnames.matches("*.example.com", "a.b.example.com")
    assert not hostnames.matches("*.example.com", "example.com")
    assert hostnames.intersect("*.example.com", "*.shop.example.com") == "*.shop.example.com"
    assert hostnames.intersect("very.specific.com", "*.specific.com") == "very.specific.com"
    assert hostnames.intersect("*.wildcard.io", "wildcard.io") is None


# ---- who serves, listeners ---------------------------------------------------------------------


def test_a_gateway_of_a_class_nobody_serves_programs_nothing_and_its_routes_get_no_status():
    w = world("""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec: {gatewayClassName: nginx, listeners: [{name: http, protocol: HTTP, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: web, port: 80}]}]}
""")
    state = analyze(w)
    assert not state.gateways["demo/gw"].served
    assert state.routes["demo/r"].parents[0].conditions == []
    assert "GatewayClass nginx does not exist" in state.routes["demo/r"].problems[0]
    d = route_request(w, "demo/gw", Request("x.test"), state)
    assert d.error == "no gateway"


def test_protocols_ports_and_conflicts():
    w = world("""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: cloud-provider-kind
  listeners:
  - {name: http, protocol: HTTP, port: 80}
  - {name: tcp, protocol: TCP, port: 9000}
  - {name: a, protocol: HTTP, port: 8080}
  - {name: b, protocol: HTTPS, port: 8080, tls: {certificateRefs: [{name: missing}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: web, port: 80}]}]}
""")
    state = analyze(w)
    lis = {li.name: li for li in state.gateways["demo/gw"].listeners}
    assert lis["tcp"].condition("Accepted").reason == "UnsupportedProtocol"
    assert lis["a"].condition("Conflicted").reason == "ProtocolConflict" and not lis["a"].serves
    assert route_request(w, "demo/gw", Request("x.test"), state).service == "demo/web"
    assert route_request(w, "demo/gw", Request("x.test", port=81), state).error == "refused"
    assert route_request(w, "demo/gw", Request("x.test", scheme="https"), state).error == "refused"  # nothing on 443
    assert route_request(w, "demo/gw", Request("x.test", port=8080), state).status == 404  # the conflicted listener is not served


def test_a_backend_port_the_service_does_not_have_answers_503_with_the_services_ports():
    w = world("""
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec: {gatewayClassName: cloud-provider-kind, listeners: [{name: http, protocol: HTTP, port: 80}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r}
spec: {parentRefs: [{name: gw}], rules: [{backendRefs: [{name: web, port: 8080}]}]}
""")
    d = route_request(w, "demo/gw", Request("x.test"))
    assert d.status == 503
    assert any("has no port 8080 (its ports: 80)" in p for p in d.problems)


# ---- grade sim route --gateway ----------------------------------------------------------------


def test_grade_sim_route_answers_for_a_gateway(capsys):
    args = ["sim", "route", str(LESSON7 / "solution"), str(LESSON7 / "fixtures"), "--namespace", "lesson7"]
    assert main(args + ["--host", "shop.example.com", "--path", "/", "-H", "X-Version: v2"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("http://shop.example.com/ via Gateway lesson7/shop-gateway -> Service lesson7/store-v2 port 80")
    assert "listener http, HTTPRoute lesson7/shop-v2 rules[0]" in out
    assert main(args + ["--host", "secure.example.com", "--path", "/a?b=c", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["status"], data["location"]) == (301, "https://secure.example.com/a?b=c")
    assert main(args + ["--host", "api.example.com", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["shares"] == {"lesson7/api-v1": 0.9, "lesson7/api-v2": 0.1}


def test_grade_sim_route_shows_why_a_route_is_not_attached(capsys):
    args = ["sim", "route", str(LESSON7 / "starter"), str(LESSON7 / "fixtures"), "--namespace", "lesson7", "--host", "blog.example.com"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "HTTPRoute lesson7/blog names blog.example.com but is not attached" in out
    assert "Accepted False (NoMatchingParent)" in out


def test_grade_sim_route_refuses_an_unknown_gateway(capsys):
    args = ["sim", "route", str(LESSON7 / "solution"), str(LESSON7 / "fixtures"), "--namespace", "lesson7"]
    assert main(args + ["--host", "x", "--gateway", "nope"]) == 2
    assert "no Gateway lesson7/nope" in capsys.readouterr().err


# ---- probes through a Gateway on the simulator --------------------------------------------------


def test_http_probes_through_a_gateway_carry_route_location_and_shares():
    lab = Lab.open([LESSON7 / "fixtures", LESSON7 / "solution"], namespace="lesson7")
    via = "gateway:lesson7/shop-gateway"
    r = lab.http(via, "secure.example.com", "/x")
    assert r.ok and r.data["status"] == 301 and r.data["location"] == "https://secure.example.com/x"
    r = lab.http(via, "api.example.com", "/", samples=200)
    assert r.data["samples"] is None and r.data["shares"] == {"lesson7/api-v1": 0.9, "lesson7/api-v2": 0.1}
    r = lab.http(via, "secure.example.com", "/", tls=True)
    assert r.ok and r.data["service"] == "lesson7/store-v1" and r.data["cert_sans"] == ["secure.example.com"]
    assert r.data["route"] == "lesson7/secure" and r.data["listener"] == "https"


# ---- workshop: one answer, every learner's namespaces ------------------------------------------


def test_the_workshop_fence_maps_gateway_api_namespace_references():
    from grader.runner import grade_lesson
    from grader.workshop.fence import rewrite_object

    route = {"kind": "HTTPRoute", "metadata": {"name": "r", "namespace": "lesson7"},
             "spec": {"parentRefs": [{"name": "gw", "namespace": "lesson7"}],
                      "rules": [{"backendRefs": [{"name": "catalog", "namespace": "lesson7-catalog", "port": 80}]}]}}
    out = rewrite_object(route, {"lesson7": "bob-lesson7", "lesson7-catalog": "bob-lesson7-catalog"})
    assert out["spec"]["parentRefs"][0]["namespace"] == "bob-lesson7"
    assert out["spec"]["rules"][0]["backendRefs"][0]["namespace"] == "bob-lesson7-catalog"
    report = grade_lesson("lesson7", solution=True, fence=learner_fence("bob"))
    assert report.setup_error is None and report.passed, [(t.id, t.failure) for t in report.tasks if not t.passed]


# ---- the canary's bound ------------------------------------------------------------------------


def test_the_canary_band_never_flakes_and_tells_90_10_from_50_50_and_from_no_canary():
    lo, hi = acceptance_band(200, 0.1)
    assert (lo, hi) == (3, 43)
    assert 1 - pass_probability(200, 0.1, (lo, hi)) < 1e-6  # a correct split fails by chance less than once in a million
    assert pass_probability(200, 0.5, (lo, hi)) < 1e-15  # 50/50 passes essentially never
    assert pass_probability(200, 0.9, (lo, hi)) < 1e-15  # swapped weights neither
    assert lo > 0  # a canary that never answers (0 of 200) fails
