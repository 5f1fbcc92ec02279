"""Lesson 3, property: random changes to my-service, the client's ConfigMap, the headless Service and its
StatefulSet, and the ExternalName Service fail exactly the tasks a real cluster's DNS would fail, by an
oracle written from the DNS rules (search list with ndots:5, Service records, headless per-pod names)."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lesson_props import explain, lab_of, passes, solution_docs

SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
HOSTS = ["my-service.lesson3", "my-service", "my-service.lesson3.svc", "my-service.lesson3.svc.cluster.local",
         "my-service.lesson3.svc.cluster.local.", "my-servic.lesson3", "my-service.lesson3-client", "MY-SERVICE.Lesson3",
         "http://my-service.lesson3:80", "my-service.lesson3.svc.cluster"]

CHANGES = st.fixed_dictionaries({
    "selector": st.sampled_from(["backend", "my-service"]),
    "target": st.sampled_from([8080, None, "http", 80]),
    "headless": st.booleans(),
    "host": st.sampled_from(HOSTS),
    "config_ns": st.sampled_from(["lesson3-client", "lesson3"]),
    "web_headless": st.booleans(),
    "service_name": st.sampled_from(["web", "web-headless"]),
    "replicas": st.sampled_from([1, 2, 3]),
    "external": st.sampled_from(["example.com", "example.com.", "api.example.com", "example.org"]),
})


def resolves_to_my_service_from_client_namespace(host: str) -> bool:
    """Whether the client in lesson3-client reaches my-service.lesson3 by this name: the name (lower-cased, URL and
    port stripped) or one of its search expansions (lesson3-client.svc.cluster.local, svc.cluster.local,
    cluster.local) must be my-service.lesson3.svc.cluster.local."""
    name = host.split("://", 1)[-1].split(":", 1)[0].lower()
    wanted = "my-service.lesson3.svc.cluster.local"
    if name.endswith("."):
        return name[:-1] == wanted
    candidates = [f"{name}.{s}" for s in ("lesson3-client.svc.cluster.local", "svc.cluster.local", "cluster.local")] + [name]
    return wanted in candidates


@SETTINGS
@given(CHANGES)
def test_dns_tasks_fail_exactly_when_the_names_stop_working(c):
    services = copy.deepcopy(solution_docs("lesson3", "services.yaml"))
    my_service = next(d for d in services if d["metadata"]["name"] == "my-service")
    my_service["spec"]["selector"] = {"app": c["selector"]}
    port = my_service["spec"]["ports"][0]
    if c["target"] is None:
        port.pop("targetPort")
    else:
        port["targetPort"] = c["target"]
    if c["headless"]:
        my_service["spec"]["clusterIP"] = "None"
    external = next(d for d in services if d["metadata"]["name"] == "external-api")
    external["spec"]["externalName"] = c["external"]
    config = copy.deepcopy(solution_docs("lesson3", "client-config.yaml"))
    config[0]["metadata"]["namespace"] = c["config_ns"]
    config[0]["data"]["backend-host"] = c["host"]
    web = copy.deepcopy(solution_docs("lesson3", "web.yaml"))
    web_svc = next(d for d in web if d["kind"] == "Service")
    statefulset = next(d for d in web if d["kind"] == "StatefulSet")
    if not c["web_headless"]:
        web_svc["spec"].pop("clusterIP")
    statefulset["spec"]["serviceName"] = c["service_name"]
    statefulset["spec"]["replicas"] = c["replicas"]
    lab = lab_of("lesson3", "lesson3", services + config + web)

    # my-service answers on 80: it selects the backend pods (app: backend, named port http = 8080), has a cluster
    # IP (a headless name goes to the pods' port 80 untranslated) and sends 80 to 8080 (no targetPort means 80).
    works = c["selector"] == "backend" and not c["headless"] and c["target"] in (8080, "http")
    want = {
        "test_fqdn": works,
        "test_short_name": works,
        "test_cross_namespace": works and c["config_ns"] == "lesson3-client" and resolves_to_my_service_from_client_namespace(c["host"]),
        # per-pod names need the headless Service, the pods' subdomain = serviceName = web, and web-0 and web-1 to exist
        "test_headless_per_pod_names": c["web_headless"] and c["service_name"] == "web" and c["replicas"] >= 2,
        "test_externalname": c["external"].lower().rstrip(".") == "example.com",
    }
    for task, expected in want.items():
        assert passes("lesson3", task, lab) == expected, (c, task, explain("lesson3", task, lab))
