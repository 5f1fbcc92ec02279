"""The cluster-scale matrix (grader.model.reachability) against per-pair evaluate(), on varied labels.

Random worlds here are shaped like a real cluster's export rather than like Deployments: every pod
draws its own labels from a small vocabulary (so almost every pod is its own group), namespaces
carry labels, IPs spread over subnets that ipBlocks cut with except, the same port name means
different numbers on different pods, and a few pods use hostNetwork. Every renderer (the text
tables, the streamed JSON, the per-namespace summary) must say what evaluate() says, cell by cell,
also when the sources and destinations are narrowed separately (--from/--to).
"""

from __future__ import annotations

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.model.objects import ContainerPort, Namespace, Node, Pod, Raw, World
from grader.model.policy import MatrixCell, evaluate, format_matrix
from grader.model.reachability import grouped_matrix, matrix

NAMESPACES = ("x", "y", "z", "w")
NODES = (("course-worker", "172.18.0.3"), ("course-worker2", "172.18.0.4"))
LABELS = {"app": ("web", "api", "db"), "tier": ("a", "b"), "env": ("prod", "dev"), "hash": ("h1", "h2", "h3")}
NS_LABELS = {"team": ("red", "blue"), "env": ("prod", "dev")}
PORT_CHOICES = ((80, "TCP"), (8080, "TCP"), (53, "UDP"), (53, "TCP"), (9000, "SCTP"))
PORT_NAMES = (None, "http", "dns", "metrics")
CIDRS = {
    "10.244.0.0/16": ["10.244.1.0/24", "10.244.2.128/25"],
    "10.244.1.0/24": ["10.244.1.0/28"],
    "0.0.0.0/0": ["10.244.0.0/16"],
    "172.18.0.0/16": ["172.18.0.4/32"],
}
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def selectors(draw, vocabulary=LABELS) -> dict:
    kind = draw(st.sampled_from(["empty", "labels", "labels", "expr"]))
    if kind == "empty":
        return {}
    keys = sorted(vocabulary)
    if kind == "labels":
        chosen = draw(st.lists(st.sampled_from(keys), min_size=1, max_size=2, unique=True))
        return {"matchLabels": {k: draw(st.sampled_from(vocabulary[k])) for k in chosen}}
    key = draw(st.sampled_from(keys))
    op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
    expr: dict = {"key": key, "operator": op}
    if op in ("In", "NotIn"):
        expr["values"] = draw(st.lists(st.sampled_from(vocabulary[key]), min_size=1, max_size=2, unique=True))
    return {"matchExpressions": [expr]}


@st.composite
def peers(draw) -> dict:
    kind = draw(st.sampled_from(["pod", "ns", "both", "both", "ip"]))
    if kind == "ip":
        cidr = draw(st.sampled_from(sorted(CIDRS)))
        block: dict = {"cidr": cidr}
        if draw(st.booleans()):
            block["except"] = draw(st.lists(st.sampled_from(CIDRS[cidr]), min_size=1, unique=True))
        return {"ipBlock": block}
    peer: dict = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = draw(selectors())
    if kind in ("ns", "both"):
        peer["namespaceSelector"] = draw(selectors({**NS_LABELS, "kubernetes.io/metadata.name": NAMESPACES}))
    return peer


@st.composite
def port_entries(draw) -> dict:
    kind = draw(st.sampled_from(["number", "named", "range", "any"]))
    entry: dict = {}
    if draw(st.booleans()):
        entry["protocol"] = draw(st.sampled_from(["TCP", "UDP", "SCTP"]))
    if kind == "number":
        entry["port"] = draw(st.sampled_from([53, 80, 8080, 9000]))
    elif kind == "named":
        entry["port"] = draw(st.sampled_from(["http", "dns", "metrics"]))
    elif kind == "range":
        start = draw(st.sampled_from([53, 80, 8000]))
        entry["port"], entry["endPort"] = start, start + draw(st.sampled_from([0, 27, 100]))
    return entry


@st.composite
def policy_specs(draw) -> dict:
    spec: dict = {"podSelector": draw(selectors())}
    types = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    if types is not None:
        spec["policyTypes"] = types
    for section, peer_field in (("ingress", "from"), ("egress", "to")):
        if draw(st.integers(0, 3)):
            rules = []
            for _ in range(draw(st.integers(1, 2))):
                rule: dict = {}
                if draw(st.integers(0, 3)):
                    rule[peer_field] = draw(st.lists(peers(), min_size=1, max_size=3))
                if draw(st.booleans()):
                    rule["ports"] = draw(st.lists(port_entries(), min_size=1, max_size=2))
                rules.append(rule)
            spec[section] = rules
    return spec


@st.composite
def varied_worlds(draw, max_pods: int = 12) -> World:
    pods = []
    for i in range(draw(st.integers(1, max_pods))):
        labels = {k: draw(st.sampled_from(v)) for k, v in LABELS.items() if draw(st.booleans())}
        node, node_ip = draw(st.sampled_from(NODES))
        host_network = draw(st.integers(0, 9)) == 0
        layout = draw(st.lists(st.sampled_from(PORT_CHOICES), min_size=0, max_size=2, unique=True))
        pods.append(Pod(
            namespace=draw(st.sampled_from(NAMESPACES)), name=f"p{i}", labels=labels,
            ip=node_ip if host_network else f"10.244.{draw(st.integers(0, 2))}.{draw(st.sampled_from([5, 130]))+ i}",
            node=node, host_network=host_network,
            ports=[ContainerPort(port, proto, draw(st.sampled_from(PORT_NAMES))) for port, proto in layout],
        ))
    namespaces = {ns: Namespace(ns, {k: draw(st.sampled_from(v)) for k, v in NS_LABELS.items() if draw(st.booleans())}) for ns in NAMESPACES}
    policies = []
    for i in range(draw(st.integers(0, 8))):
        ns = draw(st.sampled_from(NAMESPACES))
        obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": f"np{i}", "namespace": ns}, "spec": draw(policy_specs())}
        policies.append(Raw("NetworkPolicy", ns, f"np{i}", obj))
    return World(nodes=[Node(n, ip) for n, ip in NODES], namespaces=namespaces, pods=pods, policies=policies,
                 cni_enforces_policy=draw(st.integers(0, 9)) != 0)


def expected_cells(world: World, sources: list[Pod], destinations: list[Pod]) -> list[tuple]:
    return [
        (s.key, d.key, port, proto, evaluate(world, s, d, port, proto).allowed)
        for s in sources for d in destinations for port, proto in dict.fromkeys((p.port, p.protocol) for p in d.ports)
    ]


@st.composite
def narrowed(draw, max_pods: int = 12):
    """A world and the indices of the sources and destinations kept (as --from/--to keep them)."""
    world = draw(varied_worlds(max_pods))
    everyone = list(range(len(world.pods)))
    sources = sorted(draw(st.lists(st.sampled_from(everyone), min_size=1, unique=True))) if draw(st.booleans()) else everyone
    destinations = sorted(draw(st.lists(st.sampled_from(everyone), min_size=1, unique=True))) if draw(st.booleans()) else everyone
    return world, sources, destinations


@SETTINGS
@given(varied_worlds())
def test_matrix_on_varied_labels_equals_per_pair_evaluate(world: World) -> None:
    got = [(c.src, c.dst, c.port, c.protocol, c.allowed) for c in matrix(world)]
    assert got == expected_cells(world, world.pods, world.pods)


@SETTINGS
@given(narrowed())
def test_streamed_json_equals_per_pair_evaluate(case) -> None:
    world, sources, destinations = case
    text = "".join(grouped_matrix(world).json_cells(sources, destinations))
    got = [(c["from"], c["to"], c["port"], c["protocol"], c["allowed"]) for c in json.loads(text)]
    assert got == expected_cells(world, [world.pods[i] for i in sources], [world.pods[i] for i in destinations])


@SETTINGS
@given(narrowed())
def test_text_tables_equal_the_tables_of_per_pair_evaluate(case) -> None:
    world, sources, destinations = case
    got = "".join(grouped_matrix(world).text_tables(sources, destinations))
    cells = [MatrixCell(*c) for c in expected_cells(world, [world.pods[i] for i in sources], [world.pods[i] for i in destinations])]
    ports = sorted({(c.port, c.protocol) for c in cells})
    blocks = [b for b in got.split("\n\n") if b.strip()]
    assert len(blocks) == len(ports)
    for block, (port, proto) in zip(blocks, ports):
        assert block.split("\n") == format_matrix(cells, port, proto).split("\n")


@SETTINGS
@given(narrowed())
def test_summary_counts_and_deciding_policies_equal_per_pair_evaluate(case) -> None:
    world, sources, destinations = case
    pods = world.pods
    allowed: dict = {}
    total: dict = {}
    allowing: dict = {}
    blocking: dict = {}
    for si in sources:
        for di in destinations:
            s, d = pods[si], pods[di]
            for port, proto in dict.fromkeys((p.port, p.protocol) for p in d.ports):
                key = (s.namespace, d.namespace)
                v = evaluate(world, s, d, port, proto)
                total[key] = total.get(key, 0) + 1
                allowed[key] = allowed.get(key, 0) + v.allowed
                if v.allowed:
                    allowing.setdefault(key, set()).update({f"{k} (ingress)" for k in v.ingress.allowing} | {f"{k} (egress)" for k in v.egress.allowing})
                else:
                    if not v.ingress.allowed:
                        blocking.setdefault(key, set()).update(f"{k} (ingress)" for k in v.ingress.selecting)
                    if not v.egress.allowed:
                        blocking.setdefault(key, set()).update(f"{k} (egress)" for k in v.egress.selecting)
    got = {(p.src, p.dst): p for p in grouped_matrix(world).summary(sources, destinations)}
    src_ns = {pods[i].namespace for i in sources}
    dst_ns = {pods[i].namespace for i in destinations if pods[i].ports}
    assert set(got) >= {(a, b) for a in src_ns for b in dst_ns}
    for key, pair in got.items():
        assert (pair.allowed, pair.total) == (allowed.get(key, 0), total.get(key, 0)), key
        assert set(pair.allowed_by) == allowing.get(key, set()), key
        assert set(pair.blocked_by) == blocking.get(key, set()), key


@SETTINGS
@given(varied_worlds())
def test_count_equals_the_number_of_allowed_cells(world: World) -> None:
    cells = expected_cells(world, world.pods, world.pods)
    assert grouped_matrix(world).count() == (sum(c[4] for c in cells), len(cells))


def test_a_label_no_selector_mentions_does_not_split_groups():
    pods = [Pod("x", f"p{i}", {"app": "web", "pod-template-hash": f"h{i}"}, f"10.244.0.{i + 2}", "course-worker", [ContainerPort(80)]) for i in range(20)]
    spec = {"podSelector": {"matchLabels": {"app": "web"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": "x"}, "spec": spec}
    world = World(nodes=[Node(n, ip) for n, ip in NODES], namespaces={"x": Namespace("x")}, pods=pods, policies=[Raw("NetworkPolicy", "x", "np", obj)])
    grouped = grouped_matrix(world)
    assert grouped.src_group_count == 1 and len(grouped.dst_groups) == 1


def test_an_ipblock_splits_groups_only_where_it_cuts():
    pods = [Pod("x", f"p{i}", {"app": "web"}, f"10.244.{i % 2}.{i + 2}", "course-worker", [ContainerPort(80)]) for i in range(20)]
    spec = {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.1.0/24"]}}]}]}
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "np", "namespace": "x"}, "spec": spec}
    world = World(nodes=[Node(n, ip) for n, ip in NODES], namespaces={"x": Namespace("x")}, pods=pods, policies=[Raw("NetworkPolicy", "x", "np", obj)])
    grouped = grouped_matrix(world)
    assert grouped.src_group_count == 2
    assert grouped.count()[0] == sum(1 for s in pods for d in pods if s is d or s.ip.startswith("10.244.0."))


def test_summary_counts_past_255_pods_per_group_and_255_columns_per_namespace():
    web = [Pod("x", f"web-{i}", {"app": "web"}, f"10.244.0.{i % 250 + 2}" if i < 250 else f"10.244.1.{i - 248}", "course-worker", [ContainerPort(80)]) for i in range(300)]
    db = [Pod("x", f"db-{i}", {"app": "db"}, f"10.244.2.{i + 2}", "course-worker", [ContainerPort(5432)]) for i in range(5)]
    many = [Pod("y", f"svc-{i}", {"app": f"svc{i}"}, f"10.244.3.{i % 250 + 2}" if i < 250 else f"10.244.4.{i - 248}", "course-worker", [ContainerPort(1000 + i)]) for i in range(300)]
    spec = {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "db", "namespace": "x"}, "spec": spec}
    world = World(nodes=[Node(n, ip) for n, ip in NODES], namespaces={"x": Namespace("x"), "y": Namespace("y")},
                  pods=web + db + many, policies=[Raw("NetworkPolicy", "x", "db", obj)])
    everyone = list(range(len(world.pods)))
    pairs = {(p.src, p.dst): p for p in grouped_matrix(world).summary(everyone, everyone)}
    # x -> x: everything but db -> other db (5 x 4 cells): db isolates itself to web sources
    assert (pairs["x", "x"].allowed, pairs["x", "x"].total) == (305 * 305 - 20, 305 * 305)
    assert pairs["x", "x"].blocked_by == ["x/db (ingress)"] and pairs["x", "x"].allowed_by == ["x/db (ingress)"]
    assert (pairs["y", "y"].allowed, pairs["y", "y"].total) == (300 * 300, 300 * 300)  # 300 columns, none isolated
    assert (pairs["y", "x"].allowed, pairs["y", "x"].total) == (300 * 300, 300 * 305)  # y cannot reach db
