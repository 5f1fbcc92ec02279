"""Lesson 5, property: random changes to the Ingress (host, path types, backend port, default backend, TLS hosts)
fail exactly the tasks whose requests a real controller would route elsewhere, by an oracle that matches hosts
and paths itself (Exact, element-wise Prefix, longest path first, Exact before Prefix on a tie)."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lesson_props import checks, explain, lab_of, passes, solution_docs

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
HOST = "myapp.example.com"
CHANGES = st.fixed_dictionaries({
    "host": st.sampled_from([HOST, "*.example.com", "myapp.example.org", None]),
    "root_type": st.sampled_from(["Prefix", "Exact", "ImplementationSpecific"]),
    "api": st.sampled_from([("/api", "Prefix"), ("/api/", "Prefix"), ("/api", "Exact"), ("/api", "ImplementationSpecific"), ("/ap", "Prefix")]),
    "status_type": st.sampled_from(["Exact", "Prefix"]),
    "my_service_port": st.sampled_from([{"number": 80}, {"number": 8080}, {"name": "http"}]),
    "default_backend": st.booleans(),
    "tls_hosts": st.sampled_from([[HOST], ["www.example.com"], [], None]),
})


def host_matches(rule_host: str | None, host: str) -> bool:
    if rule_host is None:
        return True
    if rule_host.startswith("*."):
        return host.endswith(rule_host[1:]) and host.count(".") > rule_host.count(".") - 1  # cloud-provider-kind: any depth
    return rule_host == host


def path_matches(path_type: str, value: str, request: str) -> bool:
    if path_type == "Exact":
        return request == value
    want = [s for s in value.split("/") if s]
    have = [s for s in request.split("/") if s]
    return have[: len(want)] == want  # element-wise prefix; Prefix "/" matches everything


def route(c: dict, host: str, request: str) -> str | None:
    """The Service a request reaches (None: 404 or a 5xx), per the Ingress rules and cloud-provider-kind's choices."""
    paths = [("/", c["root_type"], "my-service"), (c["api"][0], c["api"][1], "api-service"), ("/status", c["status_type"], "status-service")]
    if host_matches(c["host"], host):
        matching = [(len(v.rstrip("/")), t == "Exact", svc) for v, t, svc in paths if path_matches(t, v, request)]
        if matching:
            svc = max(matching)[2]
            if svc == "my-service" and c["my_service_port"] not in ({"number": 80}, {"name": "http"}):
                return None  # my-service has port 80 (named http) only: the controller answers 5xx
            return svc
        if c["host"] is None:
            return None  # a host-less rule is the catch-all: its paths replace the default backend
    return "fallback-service" if c["default_backend"] and c["host"] is not None else None


def tls_served(c: dict) -> bool:
    """A certificate for HOST: a tls entry whose hosts include it (no hosts: every host)."""
    return c["tls_hosts"] is not None and (not c["tls_hosts"] or HOST in c["tls_hosts"])


@SETTINGS
@given(CHANGES)
@example({"host": "*.example.com", "root_type": "Prefix", "api": ("/api", "Prefix"), "status_type": "Exact",
          "my_service_port": {"number": 80}, "default_backend": True, "tls_hosts": [HOST]})
def test_ingress_tasks_fail_exactly_when_a_request_goes_elsewhere(c):
    docs = copy.deepcopy(solution_docs("lesson5", "ingress.yaml")) + solution_docs("lesson5", "myapp-tls.yaml")
    spec = docs[0]["spec"]
    rule = spec["rules"][0]
    if c["host"] is None:
        rule.pop("host")
    else:
        rule["host"] = c["host"]
    root, api, status = rule["http"]["paths"]
    root["pathType"] = c["root_type"]
    root["backend"]["service"]["port"] = c["my_service_port"]
    api["path"], api["pathType"] = c["api"]
    status["pathType"] = c["status_type"]
    if not c["default_backend"]:
        spec.pop("defaultBackend")
    if c["tls_hosts"] is None:
        spec.pop("tls")
    else:
        spec["tls"][0]["hosts"] = c["tls_hosts"]
        if not c["tls_hosts"]:
            spec["tls"][0].pop("hosts")
    lab = lab_of("lesson5", "lesson5", docs)
    module = checks("lesson5")
    want = {
        "test_host_routing": route(c, HOST, "/") == "my-service",
        "test_path_routing": all(route(c, HOST, p) == svc for p, svc in module.PATH_ROUTES),
        "test_default_backend": all(route(c, h, "/") == "fallback-service" for h in (module.OTHER_HOST, module.SIBLING_HOST)),
        "test_tls": tls_served(c) and route(c, HOST, "/") == "my-service",
    }
    for task, expected in want.items():
        assert passes("lesson5", task, lab) == expected, (c, task, explain("lesson5", task, lab))
