"""Lesson 1, property: random placements of server and client pass the placement task exactly when every
placement the scheduler may choose keeps them apart, by an oracle that reasons over each pod's allowed
nodes (nodeName, nodeSelector, required node affinity, the control-plane taint, a one-sided anti-affinity)."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lesson_props import explain, lab_of, passes, solution_docs

NODES = ("course-control-plane", "course-worker", "course-worker2")
CONTROL_PLANE = NODES[0]
PLACEMENTS = st.one_of(
    st.tuples(st.just("nodeName"), st.sampled_from(NODES + ("course-worker3",))),
    st.tuples(st.just("nodeSelector"), st.sampled_from(NODES + ("worker1",))),
    st.tuples(st.just("nodeAffinity"), st.sampled_from([("course-worker",), ("course-worker2",), ("course-worker", "course-worker2"),
                                                         (CONTROL_PLANE, "course-worker")])),
    st.tuples(st.just("none"), st.none()),
)
SETTINGS = settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


def place(spec: dict, placement: tuple, tolerate: bool) -> None:
    spec.pop("nodeName", None)
    how, value = placement
    if how == "nodeName":
        spec["nodeName"] = value
    elif how == "nodeSelector":
        spec["nodeSelector"] = {"kubernetes.io/hostname": value}
    elif how == "nodeAffinity":
        spec.setdefault("affinity", {})["nodeAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": list(value)}]}]}}
    if tolerate:
        spec["tolerations"] = [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}]


def allowed(placement: tuple, tolerate: bool) -> set[str]:
    """The nodes a pod may run on by its own rules (a nodeName pod skips the scheduler and its taint check)."""
    how, value = placement
    if how == "nodeName":
        return {value} & set(NODES)
    candidates = (set(NODES) if how == "none" else {value} if how == "nodeSelector" else set(value)) & set(NODES)
    return candidates if tolerate else candidates - {CONTROL_PLANE}


def always_apart(server: tuple, s: set[str], client: tuple, c: set[str], anti: bool) -> bool:
    """Every scheduling order and choice gives both pods a node, never the same one."""
    if not s or not c:
        return False
    if not anti:
        return not (s & c)
    # The client's required anti-affinity against role=server, with the scheduler's symmetry; nodeName pods skip it.
    if server[0] == "nodeName" and client[0] == "nodeName":
        return s != c
    if client[0] == "nodeName":
        return bool(s - c)
    if server[0] == "nodeName":
        return bool(c - s)
    return all(c - {x} for x in s) and all(s - {y} for y in c)


@SETTINGS
@given(server=PLACEMENTS, client=PLACEMENTS, tolerate=st.tuples(st.booleans(), st.booleans()), anti=st.booleans())
def test_placement_task_passes_exactly_when_every_placement_keeps_the_pods_apart(server, client, tolerate, anti):
    docs = copy.deepcopy(solution_docs("lesson1", "pods.yaml"))
    by_role = {d["metadata"]["labels"]["role"]: d for d in docs}
    place(by_role["server"]["spec"], server, tolerate[0])
    place(by_role["client"]["spec"], client, tolerate[1])
    if anti:
        by_role["client"]["spec"].setdefault("affinity", {})["podAntiAffinity"] = {"requiredDuringSchedulingIgnoredDuringExecution": [
            {"labelSelector": {"matchLabels": {"role": "server"}}, "topologyKey": "kubernetes.io/hostname"}]}
    lab = lab_of("lesson1", "lesson1", docs)
    s, c = allowed(server, tolerate[0]), allowed(client, tolerate[1])
    want = always_apart(server, s, client, c, anti)
    assert passes("lesson1", "test_pods_on_different_nodes", lab) == want, (server, client, tolerate, anti, explain("lesson1", "test_pods_on_different_nodes", lab))
    if not anti:  # without anti-affinity nothing depends on the order: a pod runs iff its rules allow a node
        assert passes("lesson1", "test_node_reaches_pod", lab) == bool(s), explain("lesson1", "test_node_reaches_pod", lab)
        assert passes("lesson1", "test_pod_to_pod_by_ip", lab) == bool(s and c), explain("lesson1", "test_pod_to_pod_by_ip", lab)
