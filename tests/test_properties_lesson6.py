"""Lesson 6, property: random "fixes" of the shop (the web Service, api's ingress policy, the client's egress port,
the frontend's WEB_HOST) fail exactly the health checks a real cluster would fail, by an oracle written from the
Service, DNS and NetworkPolicy rules."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lesson_props import explain, lab_of, passes, solution_docs

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
API_PEERS = {
    "web pods": [{"podSelector": {"matchLabels": {"app": "web"}}}],
    "webs pods": [{"podSelector": {"matchLabels": {"app": "webs"}}}],
    "every namespace": [{"namespaceSelector": {}}],
    "web pods of every namespace": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "web"}}}],
    "frontend namespace": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "lesson6-frontend"}}}],
}
CHANGES = st.fixed_dictionaries({
    "target": st.sampled_from([8080, "http", 80, "htpp"]),
    "headless": st.booleans(),
    "selector": st.sampled_from(["web", "webs"]),
    "port": st.sampled_from([80, 8080]),
    "api_peers": st.sampled_from(sorted(API_PEERS)),
    "egress_port": st.sampled_from([8080, 80]),
    "web_host": st.sampled_from(["web.lesson6.svc.cluster.local", "web.lesson6", "web", "web.lesson6-frontend", "WEB.lesson6"]),
})


@SETTINGS
@given(CHANGES)
@example({"target": 8080, "headless": True, "selector": "web", "port": 80, "api_peers": "web pods", "egress_port": 8080,
          "web_host": "web.lesson6.svc.cluster.local"})
def test_health_checks_fail_exactly_when_the_shop_is_broken(c):
    services = copy.deepcopy(solution_docs("lesson6", "services.yaml"))
    web = next(d for d in services if d["metadata"]["name"] == "web")["spec"]
    web["selector"] = {"app": c["selector"]}
    web["ports"][0]["targetPort"] = c["target"]
    web["ports"][0]["port"] = c["port"]
    if c["headless"]:
        web["clusterIP"] = "None"
    policies = copy.deepcopy(solution_docs("lesson6", "policies.yaml"))
    api_policy = next(d for d in policies if d["metadata"]["name"] == "api-allow-web")
    api_policy["spec"]["ingress"][0]["from"] = API_PEERS[c["api_peers"]]
    client_policy = next(d for d in policies if d["metadata"]["name"] == "client-egress")
    client_policy["spec"]["egress"][1]["ports"][0]["port"] = c["egress_port"]
    config = copy.deepcopy(solution_docs("lesson6", "frontend-config.yaml"))
    config[0]["data"]["WEB_HOST"] = c["web_host"]
    lab = lab_of("lesson6", "lesson6", services + policies + config + solution_docs("lesson6", "ingress.yaml")
                 + solution_docs("lesson6", "shop-tls.yaml"))

    # web's port 80 works through a cluster IP when it selects the web pods (app: web, container port http = 8080)
    # and sends 80 to 8080; headless, its name goes to the pods' port 80 untranslated (and the Ingress cannot use it).
    web_80 = c["selector"] == "web" and c["port"] == 80 and c["target"] in (8080, "http") and not c["headless"]
    # api lets in the web pods (lesson6, app: web) and not the frontend (lesson6-frontend, app: frontend)
    web_in = c["api_peers"] in ("web pods", "web pods of every namespace", "every namespace")
    frontend_in = c["api_peers"] in ("every namespace", "frontend namespace")
    # from lesson6-frontend, WEB_HOST reaches web.lesson6 through the search list (names are case-insensitive)
    host_ok = c["web_host"].lower() in ("web.lesson6.svc.cluster.local", "web.lesson6")
    want = {
        "test_pod_to_pod": web_in and not frontend_in,
        # the client's egress policy sees the connection after DNAT: the pods' port 8080
        "test_service": web_80 and c["egress_port"] == 8080,
        # a headless web with no endpoints has no A record at all
        "test_dns": not (c["headless"] and c["selector"] != "web"),
        "test_cross_namespace_name": web_80 and host_ok,
        "test_ingress": web_80,
        "test_tls": web_80,
    }
    for task, expected in want.items():
        assert passes("lesson6", task, lab) == expected, (c, task, explain("lesson6", task, lab))
