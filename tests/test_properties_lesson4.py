"""Lesson 4, property: a random rewrite of one task's NetworkPolicy peers (namespace and pod selectors, NotIn,
empty selectors, two peers) or ports passes the task exactly when the policy admits what the task's table
says, row by row, by an oracle that evaluates the peers itself from the fixtures' pods and namespaces.

This is what keeps item 3 of issue 13 true: a table that never probes the pods a too-wide selector admits
would let such a rewrite pass while the oracle says it admits too much."""

from __future__ import annotations

import copy
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lesson_props import EXERCISES, explain, lab_of, passes, solution_docs

SETTINGS = settings(max_examples=50, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
SOLUTION = EXERCISES / "lesson4" / "solution"


def by_name(ns: str) -> dict:
    return {"matchLabels": {"kubernetes.io/metadata.name": ns}}


def namespace_variants(ns: str) -> list:
    """What a learner writes for 'the namespace ns' (None: no namespaceSelector, the policy's own namespace)."""
    return [by_name(ns), None, {}, {"matchLabels": {"name": ns}},
            {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["lesson4"]}]},
            {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["lesson4", "lesson4-other"]}]},
            {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": sorted({ns, "lesson4"})}]}]


def pod_variants(app: str | None) -> list:
    """What a learner writes for 'the pods labelled app' (None: no podSelector)."""
    return ([{"matchLabels": {"app": app}}] if app else []) + [None, {},
            {"matchExpressions": [{"key": "app", "operator": "In", "values": [app or "prometheus", "grafana"]}]}]


def one_peer(ns: list, pods: list):
    return st.builds(lambda n, p: {k: v for k, v in (("namespaceSelector", n), ("podSelector", p)) if v is not None} or {"podSelector": {}},
                     st.sampled_from(ns), st.sampled_from(pods))


# task -> (policy file, policy name, the peers a learner may write, who the task lets in: f(namespace, labels))
def _split(ns: list, pods: list):
    """AND written as OR: the namespace part and the pod part as two peers."""
    return st.tuples(st.sampled_from([n for n in ns if n is not None]), st.sampled_from([p for p in pods if p is not None])).map(
        lambda t: [{"namespaceSelector": t[0]}, {"podSelector": t[1]}])


INGRESS_TASKS = {
    "test_allow_specific_traffic": (
        "allow-specific-traffic.yaml", "allow-specific-traffic", "my-app",
        st.lists(one_peer([None] + namespace_variants("lesson4"), pod_variants("trusted-app")), min_size=1, max_size=1),
        lambda ns, labels: ns == "lesson4" and labels.get("app") == "trusted-app"),
    "test_allow_from_monitoring": (
        "allow-from-monitoring.yaml", "allow-from-monitoring", "metrics",
        st.lists(one_peer(namespace_variants("monitoring"), [None, {}, {"matchLabels": {"app": "prometheus"}}]), min_size=1, max_size=1),
        lambda ns, labels: ns == "monitoring"),
    "test_and_peer": (
        "and-or-peers.yaml", "api-from-monitoring-prometheus", "api",
        st.one_of(st.lists(one_peer(namespace_variants("monitoring"), pod_variants("prometheus")), min_size=1, max_size=1),
                  _split(namespace_variants("monitoring"), pod_variants("prometheus"))),
        lambda ns, labels: ns == "monitoring" and labels.get("app") == "prometheus"),
    "test_or_peers": (
        "and-or-peers.yaml", "reports-from-monitoring-or-prometheus", "reports",
        st.one_of(st.tuples(one_peer(namespace_variants("monitoring"), [None, {}]),
                            one_peer([None, {}, by_name("lesson4")], pod_variants("prometheus"))).map(list),
                  st.lists(one_peer(namespace_variants("monitoring"), pod_variants("prometheus")), min_size=1, max_size=1)),
        lambda ns, labels: ns == "monitoring" or (ns == "lesson4" and labels.get("app") == "prometheus")),
}


def fixture_pods() -> dict[str, tuple[dict, bool]]:
    """'ns/name' -> (labels, hostNetwork) of the course's pods, read from the fixture files (not through the grader)."""
    out = {}
    for f in sorted((EXERCISES / "lesson4" / "fixtures").glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text(encoding="utf-8")):
            if doc and doc.get("kind") == "Pod":
                meta = doc["metadata"]
                key = f"{meta.get('namespace', 'lesson4')}/{meta['name']}"
                out[key] = (meta.get("labels") or {}, bool(doc["spec"].get("hostNetwork")))
                if any("netexec" in (c.get("args") or []) for c in doc["spec"]["containers"]):
                    HTTP_SERVERS.add(key)
    return out


HTTP_SERVERS: set[str] = set()  # pods running agnhost netexec (HTTP on 8080)
PODS = fixture_pods()
# Sources whose own egress policy decides first (egress-client may send only DNS and to web): not a test of the target's peers.
EGRESS_ISOLATED = {"lesson4/egress-client"}


def selects(selector: dict, labels: dict) -> bool:
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        have = labels.get(e["key"])
        if e["operator"] == "In" and have not in e["values"]:
            return False
        if e["operator"] == "NotIn" and have in e["values"]:
            return False
    return True


def admits(peers: list[dict], policy_ns: str, pod: str) -> bool:
    """Whether any peer admits `pod` ("ns/name"), by the NetworkPolicy peer rules (hostNetwork pods never match)."""
    ns, _ = pod.split("/")
    labels, host_network = PODS[pod]
    if host_network:
        return False
    for p in peers:
        nsel = p.get("namespaceSelector")
        in_ns = ns == policy_ns if nsel is None else selects(nsel, {"kubernetes.io/metadata.name": ns})
        if in_ns and selects(p.get("podSelector") or {}, labels):
            return True
    return False


def solution() -> dict[str, list[dict]]:
    return {f.name: copy.deepcopy(solution_docs("lesson4", f.name)) for f in sorted(SOLUTION.glob("*.yaml"))}


def sources(target: str) -> list[str]:
    return [p for p, (_, host) in PODS.items() if not host and p != f"lesson4/{target}" and p not in EGRESS_ISOLATED]


@st.composite
def ingress_case(draw):
    task = draw(st.sampled_from(sorted(INGRESS_TASKS)))
    return task, draw(INGRESS_TASKS[task][3])


NOT_IN_LESSON4 = {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["lesson4"]}]}


@SETTINGS
@given(ingress_case())
# Issue 13's own cases: 'prometheus from another namespace' as NotIn [lesson4] (lesson4-other's prometheus gets in).
@example(("test_and_peer", [{"namespaceSelector": NOT_IN_LESSON4, "podSelector": {"matchLabels": {"app": "prometheus"}}}]))
@example(("test_allow_from_monitoring", [{"namespaceSelector": NOT_IN_LESSON4}]))
@example(("test_allow_specific_traffic", [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "trusted-app"}}}]))
def test_an_ingress_task_passes_exactly_when_its_peers_let_in_every_course_pod_the_task_names_and_no_other(case):
    """Over every pod of the course's namespaces, not only the table's rows: a too-wide selector must be caught by a row."""
    task, peers = case
    file, name, target, _, intended = INGRESS_TASKS[task]
    docs = solution()
    next(d for d in docs[file] if d["metadata"]["name"] == name)["spec"]["ingress"] = [{"from": peers}]
    lab = lab_of("lesson4", "lesson4", [d for ds in docs.values() for d in ds])
    want = all(admits(peers, "lesson4", p) == intended(p.split("/")[0], PODS[p][0]) for p in sources(target))
    assert passes("lesson4", task, lab) == want, (task, peers, explain("lesson4", task, lab))


@SETTINGS
@given(peer=one_peer([None, {}, by_name("lesson4"), {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["monitoring"]}]}],
                     [None, {}]),
       end_port=st.sampled_from([None, 9001, 9002, 9003]))
@example(peer={"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["monitoring"]}]}},
         end_port=9002)
def test_the_port_range_task_passes_exactly_when_lesson4_and_only_lesson4_gets_ports_9000_to_9002(peer, end_port):
    docs = solution()
    port = {"protocol": "TCP", "port": 9000} | ({"endPort": end_port} if end_port else {})
    docs["port-range.yaml"][0]["spec"]["ingress"] = [{"from": [peer], "ports": [port]}]
    lab = lab_of("lesson4", "lesson4", [d for ds in docs.values() for d in ds])
    want = end_port == 9002 and all(admits([peer], "lesson4", p) == p.startswith("lesson4/") for p in sources("range-server"))
    assert passes("lesson4", "test_port_range", lab) == want, (peer, end_port, explain("lesson4", "test_port_range", lab))


@SETTINGS
@given(web_peer=one_peer(namespace_variants("lesson4-other"), pod_variants("web")))
@example(web_peer={"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "web"}}})
def test_the_egress_task_passes_exactly_when_egress_client_reaches_lesson4_other_web_and_no_other_server(web_peer):
    docs = solution()
    docs["egress-client.yaml"][0]["spec"]["egress"][1]["to"] = [web_peer]
    lab = lab_of("lesson4", "lesson4", [d for ds in docs.values() for d in ds])
    # The servers egress-client could reach on 8080: netexec pods that no ingress policy guards (lesson4's are all isolated).
    servers = [p for p in HTTP_SERVERS if not p.startswith("lesson4/")]
    want = all(admits([web_peer], "lesson4", p) == (p == "lesson4-other/web") for p in servers)
    assert passes("lesson4", "test_default_deny_egress_keeps_dns", lab) == want, (web_peer, explain("lesson4", "test_default_deny_egress_keeps_dns", lab))
