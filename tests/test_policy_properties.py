"""Properties of NetworkPolicy evaluation that must hold for every world (hypothesis).

Random worlds mix namespaces with labels, pods with overlapping labels, named ports that mean
different numbers on different pods, hostNetwork pods, and policies with every kind of peer and port.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from grader.model.objects import ContainerPort, Namespace, Node, Pod, Raw, World
from grader.model.policy import evaluate, selecting_policies
from grader.model.reachability import grouped_matrix, matrix

NAMESPACES = ("x", "y", "z")
NODES = (("course-worker", "172.18.0.3"), ("course-worker2", "172.18.0.4"))
# pods share a few port layouts (as replicas of a Deployment do), so that grouping is exercised
PORT_LAYOUTS = (((80, "TCP"),), ((80, "TCP"), (53, "UDP")), ((8080, "TCP"), (53, "TCP"), (9000, "SCTP")), ((81, "TCP"),))
# the same name on different numbers and the same number under different names: named ports resolve per pod
PORT_NAMES = (None, "http", "dns", "dns-tcp", "sctp")
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

label_values = st.sampled_from(["a", "b", "c"])
labels = st.dictionaries(st.sampled_from(["app", "tier"]), label_values, max_size=2)


@st.composite
def selectors(draw) -> dict:
    kind = draw(st.sampled_from(["empty", "labels", "expr"]))
    if kind == "empty":
        return {}
    if kind == "labels":
        return {"matchLabels": draw(st.dictionaries(st.sampled_from(["app", "tier", "team"]), label_values, min_size=1, max_size=2))}
    op = draw(st.sampled_from(["In", "NotIn", "Exists", "DoesNotExist"]))
    expr = {"key": draw(st.sampled_from(["app", "tier", "team", "kubernetes.io/metadata.name"])), "operator": op}
    if op in ("In", "NotIn"):
        expr["values"] = draw(st.lists(st.sampled_from(["a", "b", "c", "x", "y"]), min_size=1, max_size=2, unique=True))
    return {"matchExpressions": [expr]}


@st.composite
def peers(draw) -> dict:
    kind = draw(st.sampled_from(["pod", "ns", "both", "ip"]))
    if kind == "ip":
        cidr = draw(st.sampled_from(["10.244.0.0/16", "10.244.1.0/24", "172.18.0.0/16", "0.0.0.0/0"]))
        excepts = {"10.244.0.0/16": ["10.244.1.0/24"], "10.244.1.0/24": ["10.244.1.0/28"], "172.18.0.0/16": ["172.18.0.4/32"], "0.0.0.0/0": ["10.244.2.0/24"]}
        block = {"cidr": cidr}
        if draw(st.booleans()):
            block["except"] = excepts[cidr]
        return {"ipBlock": block}
    peer = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = draw(selectors())
    if kind in ("ns", "both"):
        peer["namespaceSelector"] = draw(selectors())
    return peer


@st.composite
def port_entries(draw) -> dict:
    kind = draw(st.sampled_from(["number", "named", "named", "range", "protocol"]))
    entry: dict = {}
    if draw(st.booleans()):
        entry["protocol"] = draw(st.sampled_from(["TCP", "UDP", "SCTP"]))
    if kind == "number":
        entry["port"] = draw(st.sampled_from([53, 80, 81, 8080, 9000]))
    elif kind == "named":
        entry["port"] = draw(st.sampled_from(["http", "dns", "dns-tcp", "sctp"]))
    elif kind == "range":
        start = draw(st.sampled_from([53, 80, 8000]))
        entry["port"], entry["endPort"] = start, start + draw(st.sampled_from([0, 1, 100]))
    return entry


@st.composite
def rules(draw, peer_field: str) -> dict:
    rule = {}
    if draw(st.booleans()):
        rule[peer_field] = draw(st.lists(peers(), max_size=2))
    if draw(st.integers(0, 2)):
        rule["ports"] = draw(st.lists(port_entries(), min_size=1, max_size=2))
    return rule


@st.composite
def policy_specs(draw, types=None) -> dict:
    spec: dict = {"podSelector": draw(selectors())}
    if types is None:
        chosen = draw(st.sampled_from([None, ["Ingress"], ["Egress"], ["Ingress", "Egress"]]))
    else:
        chosen = types
    if chosen is not None:
        spec["policyTypes"] = chosen
    for section, peer_field in (("ingress", "from"), ("egress", "to")):
        if draw(st.integers(0, 3)):  # mostly with rules: a rule is where peers and ports are tested
            spec[section] = draw(st.lists(rules(peer_field), min_size=1, max_size=2))
        elif draw(st.booleans()):
            spec[section] = []
    return spec


def as_raw(ns: str, name: str, spec: dict) -> Raw:
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    return Raw(kind="NetworkPolicy", namespace=ns, name=name, obj=obj)


@st.composite
def worlds(draw, max_pods: int = 8) -> World:
    # Pods are replicas of a few templates (namespace, labels, port layout) that differ only in what
    # grouping must still tell apart: IP (ipBlock membership), node, hostNetwork and port names.
    templates = draw(st.lists(st.tuples(st.sampled_from(NAMESPACES), labels, st.sampled_from(PORT_LAYOUTS)), min_size=1, max_size=3))
    pods = []
    for i in range(draw(st.integers(min_value=1, max_value=max_pods))):
        ns, pod_labels, layout = draw(st.sampled_from(templates))
        node, node_ip = draw(st.sampled_from(NODES))
        host_network = draw(st.integers(0, 4)) == 0
        pods.append(Pod(
            namespace=ns,
            name=f"p{i}",
            labels=dict(pod_labels),
            ip=node_ip if host_network else f"10.244.{draw(st.integers(0, 2))}.{i + 2}",
            node=node,
            ports=[ContainerPort(port=p, protocol=proto, name=draw(st.sampled_from(PORT_NAMES))) for p, proto in layout],
            host_network=host_network,
        ))
    policies = [as_raw(draw(st.sampled_from(NAMESPACES)), f"np{i}", draw(policy_specs())) for i in range(draw(st.integers(0, 5)))]
    namespaces = {ns: Namespace(ns, draw(st.dictionaries(st.just("team"), label_values, max_size=1))) for ns in NAMESPACES}
    return World(nodes=[Node(n_, ip) for n_, ip in NODES], namespaces=namespaces, pods=pods, policies=policies)


def connections(world: World):
    """Every (src, dst, port, protocol) that matrix() reports."""
    for src in world.pods:
        for dst in world.pods:
            for (port, proto) in dict.fromkeys((p.port, p.protocol) for p in dst.ports):
                yield src, dst, port, proto


@SETTINGS
@given(worlds())
def test_matrix_equals_per_pair_evaluate(world: World) -> None:
    expected = [(s.key, d.key, port, proto, evaluate(world, s, d, port, proto).allowed) for s, d, port, proto in connections(world)]
    got = [(c.src, c.dst, c.port, c.protocol, c.allowed) for c in matrix(world)]
    assert got == expected


@SETTINGS
@given(worlds(max_pods=5), st.data())
def test_matrix_of_a_subset_of_pods_equals_per_pair_evaluate(world: World, data) -> None:
    subset = data.draw(st.lists(st.sampled_from(world.pods), unique_by=lambda p: p.key, min_size=1))
    got = {(c.src, c.dst, c.port, c.protocol): c.allowed for c in matrix(world, subset)}
    for (s, d, port, proto), ok in got.items():
        assert evaluate(world, world.pod(s), world.pod(d), port, proto).allowed == ok


@SETTINGS
@given(worlds())
def test_a_pod_selected_by_no_policy_accepts_every_connection(world: World) -> None:
    for src, dst, port, proto in connections(world):
        if selecting_policies(world, dst, "Ingress"):
            continue
        v = evaluate(world, src, dst, port, proto)
        assert v.ingress.allowed and not v.ingress.isolated
        if not selecting_policies(world, src, "Egress"):
            assert v.allowed


@SETTINGS
@given(worlds(), policy_specs(types=["Ingress"]), st.sampled_from(NAMESPACES))
def test_adding_an_ingress_policy_never_removes_a_connection_to_an_isolated_pod(world: World, spec: dict, ns: str) -> None:
    after = World(nodes=world.nodes, namespaces=world.namespaces, pods=world.pods,
                  policies=[*world.policies, as_raw(ns, "added", spec)])
    for src, dst, port, proto in connections(world):
        before = evaluate(world, src, dst, port, proto).ingress
        if before.isolated and before.allowed:
            assert evaluate(after, src, dst, port, proto).ingress.allowed, (src.key, dst.key, port, proto)


@SETTINGS
@given(worlds(), st.randoms(use_true_random=False))
def test_the_order_of_policies_never_matters(world: World, rnd) -> None:
    shuffled = list(world.policies)
    rnd.shuffle(shuffled)
    other = World(nodes=world.nodes, namespaces=world.namespaces, pods=world.pods, policies=shuffled)
    key = lambda c: (c.src, c.dst, c.port, c.protocol, c.allowed)  # noqa: E731
    assert [key(c) for c in matrix(world)] == [key(c) for c in matrix(other)]


@SETTINGS
@given(worlds())
def test_a_non_enforcing_cni_allows_everything(world: World) -> None:
    world.cni_enforces_policy = False
    assert all(c.allowed for c in matrix(world))
    for src, dst, port, proto in connections(world):
        assert evaluate(world, src, dst, port, proto).allowed


@SETTINGS
@given(worlds())
def test_streamed_cells_and_counts_agree_with_matrix(world: World) -> None:
    cells = [(c.src, c.dst, c.port, c.protocol, c.allowed) for c in matrix(world)]
    grouped = grouped_matrix(world)
    assert [(c.src, c.dst, c.port, c.protocol, c.allowed) for c in grouped.cells()] == cells
    assert grouped.count() == (sum(c[4] for c in cells), len(cells))
