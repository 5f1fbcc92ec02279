"""Lesson 2, property: one random change to one of the solution's Services fails exactly the tasks whose
Service no longer does what the task asks, by an oracle written from the Service rules (selector, port,
targetPort by number or name and protocol, type, nodePort, headless, traffic policies)."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lesson_props import explain, lab_of, passes, solution_docs

# The my-app pods' container ports: (name, number, protocol).
CONTAINER_PORTS = {("http", 8080, "TCP"), ("udp", 8081, "UDP")}
LISTENING = {(8080, "TCP"), (8081, "UDP")}
TASKS = {
    "my-service": "test_clusterip_service",
    "my-nodeport": "test_nodeport_service",
    "my-lb": "test_loadbalancer_service",
    "my-named": "test_named_target_port",
    "my-multi": "test_two_port_service",
}
SETTINGS = settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def mutations(service: str):
    """(field, value) changes that keep the Service valid for the API server."""
    options = [
        st.tuples(st.just("selector"), st.sampled_from([{"app": "my-app"}, {"app": "my-ap"}, {"app": "my-app", "tier": "web"}])),
        st.tuples(st.just("targetPort"), st.sampled_from([8080, "http", 8000, 80, "htpp", None])),
        st.tuples(st.just("port"), st.sampled_from([80, 8080, 81])),
        st.tuples(st.just("internalTrafficPolicy"), st.just("Local")),
    ]
    if service == "my-nodeport":
        options += [st.tuples(st.just("nodePort"), st.sampled_from([30080, 30081, None])),
                    st.tuples(st.just("externalTrafficPolicy"), st.just("Local"))]
    elif service == "my-lb":
        options += [st.tuples(st.just("externalTrafficPolicy"), st.just("Local")), st.tuples(st.just("type"), st.just("ClusterIP"))]
    else:
        options += [st.tuples(st.just("type"), st.sampled_from(["NodePort", "LoadBalancer"])), st.tuples(st.just("clusterIP"), st.just("None"))]
    if service == "my-multi":
        options.append(st.tuples(st.just("udp-protocol"), st.just(None)))
    return st.one_of(options)


@st.composite
def change(draw):
    service = draw(st.sampled_from(sorted(TASKS)))
    return service, draw(mutations(service))


def apply(spec: dict, field: str, value) -> None:
    first = spec["ports"][0]
    if field == "selector":
        spec["selector"] = value
    elif field == "targetPort":
        if value is None:
            first.pop("targetPort", None)
        else:
            first["targetPort"] = value
    elif field == "port":
        first["port"] = value
    elif field == "nodePort":
        if value is None:
            first.pop("nodePort", None)
        else:
            first["nodePort"] = value
    elif field == "type":
        spec["type"] = value
        if value == "ClusterIP":
            for p in spec["ports"]:
                p.pop("nodePort", None)
    elif field == "udp-protocol":
        spec["ports"][1].pop("protocol", None)
    else:  # clusterIP, externalTrafficPolicy, internalTrafficPolicy
        spec[field] = value


def target(port: dict) -> tuple[int, str] | None:
    """The (number, protocol) a Service port sends to on a my-app pod, or None (a name no container port has)."""
    proto = port.get("protocol", "TCP")
    tp = port.get("targetPort", port["port"])
    if isinstance(tp, int):
        return tp, proto
    return next(((n, p) for name, n, p in CONTAINER_PORTS if name == tp and p == proto), None)


def serves(spec: dict, number: int, proto: str, *, via_cluster_ip: bool = True) -> bool:
    """A client of the cluster reaching the Service's port `number`/`proto` lands on a listening my-app pod."""
    if spec.get("selector") != {"app": "my-app"}:
        return False
    if via_cluster_ip and (spec.get("clusterIP") == "None" or spec.get("internalTrafficPolicy") == "Local"):
        return False  # headless: the port is not translated; Local: depends on where pods run, so not guaranteed
    port = next((p for p in spec["ports"] if p["port"] == number and p.get("protocol", "TCP") == proto), None)
    return port is not None and target(port) in LISTENING


def expected(name: str, spec: dict) -> bool:
    kind = spec.get("type", "ClusterIP")
    if name == "my-service":
        return kind == "ClusterIP" and serves(spec, 80, "TCP")
    if name == "my-nodeport":
        port = next((p for p in spec["ports"] if p.get("nodePort") == 30080 and p.get("protocol", "TCP") == "TCP"), None)
        # localhost:30080 enters at the control-plane, which runs no my-app pod: Local drops it there
        return (kind == "NodePort" and port is not None and spec.get("externalTrafficPolicy") != "Local"
                and serves(spec, port["port"], "TCP", via_cluster_ip=False))
    if name == "my-lb":  # Envoy -> a worker's NodePort: Local still finds the worker(s) with a pod
        return kind == "LoadBalancer" and serves(spec, 80, "TCP", via_cluster_ip=False)
    if name == "my-named":
        port80 = next((p for p in spec["ports"] if p["port"] == 80), None)
        return serves(spec, 80, "TCP") and port80 is not None and isinstance(port80.get("targetPort"), str)
    return serves(spec, 80, "TCP") and serves(spec, 8081, "UDP")


@SETTINGS
@given(change())
def test_one_change_to_a_service_fails_exactly_the_tasks_it_breaks(change):
    service, (field, value) = change
    docs = copy.deepcopy(solution_docs("lesson2", "services.yaml"))
    spec = next(d for d in docs if d["metadata"]["name"] == service)["spec"]
    apply(spec, field, value)
    lab = lab_of("lesson2", "lesson2", solution_docs("lesson2", "app.yaml") + docs)
    for name, task in TASKS.items():
        want = expected(name, next(d for d in docs if d["metadata"]["name"] == name)["spec"])
        assert passes("lesson2", task, lab) == want, (service, field, value, task, explain("lesson2", task, lab))
