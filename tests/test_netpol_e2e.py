"""Upstream e2e NetworkPolicy scenarios, replayed on the simulator.

kubernetes/kubernetes test/e2e/network/netpol/network_policy.go runs every scenario on namespaces
x, y, z with pods a, b, c (label pod=<name>) serving on ports 80 and 81 over TCP, UDP and SCTP
(container ports named serve-<port>-<proto>), and compares a full truth table of who can connect to
whom. The scenarios and their expectations below are written from those test descriptions.

Loopback: upstream ignores the diagonal because CNIs differ there; the Kubernetes documentation says
a pod cannot block access to itself, which is what the simulator does, so the diagonal is expected
allowed ('.').
"""

from __future__ import annotations

import pytest

from grader.model.objects import ContainerPort, Namespace, Node, Pod, Raw, World
from grader.model.policy import MatrixCell, evaluate, format_matrix
from grader.model.reachability import matrix

NAMESPACES = ("x", "y", "z")
POD_NAMES = ("a", "b", "c")
NS_LABEL = "kubernetes.io/metadata.name"


def pod_ip(ns: str, name: str) -> str:
    return f"10.244.{NAMESPACES.index(ns) + 1}.{POD_NAMES.index(name) + 10}"


def build_world(policies: list[tuple[str, str, dict]]) -> World:
    ports = [
        ContainerPort(port=port, protocol=proto, name=f"serve-{port}-{proto.lower()}", container=f"cont-{port}-{proto.lower()}")
        for port in (80, 81)
        for proto in ("TCP", "UDP", "SCTP")
    ]
    pods = [
        Pod(namespace=ns, name=name, labels={"pod": name}, ip=pod_ip(ns, name), node="course-worker", ports=list(ports))
        for ns in NAMESPACES
        for name in POD_NAMES
    ]
    raws = [
        Raw(kind="NetworkPolicy", namespace=ns, name=name,
            obj={"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec})
        for ns, name, spec in policies
    ]
    return World(
        nodes=[Node("course-worker", "172.18.0.3")],
        namespaces={ns: Namespace(ns, {"ns": ns}) for ns in NAMESPACES},
        pods=pods,
        policies=raws,
    )


ALL = [f"{ns}/{name}" for ns in NAMESPACES for name in POD_NAMES]


class Reachability:
    """Expected truth table: everything allowed until a scenario says otherwise."""

    def __init__(self) -> None:
        self.table = {(s, d): True for s in ALL for d in ALL}

    def expect_peer(self, src: str = "", dst: str = "", allowed: bool = False) -> Reachability:
        """src/dst: "" (any pod), "x" (a namespace) or "x/a" (a pod)."""

        def hit(pattern: str, key: str) -> bool:
            return not pattern or key == pattern or key.split("/")[0] == pattern

        for s, d in self.table:
            if hit(src, s) and hit(dst, d):
                self.table[s, d] = allowed
        return self

    def expect(self, src: str, dst: str, allowed: bool) -> Reachability:
        self.table[src, dst] = allowed
        return self

    def all_ingress(self, dst: str, allowed: bool) -> Reachability:
        return self.expect_peer("", dst, allowed)

    def all_egress(self, src: str, allowed: bool) -> Reachability:
        return self.expect_peer(src, "", allowed)


def render(table: dict[tuple[str, str], bool], port: int, proto: str) -> str:
    return format_matrix([MatrixCell(s, d, port, proto, ok) for (s, d), ok in table.items()], port, proto)


def check(world: World, port: int, proto: str, expected: Reachability) -> None:
    want = dict(expected.table)
    for key in ALL:
        want[key, key] = True  # a pod cannot block access to itself
    got = {(c.src, c.dst): c.allowed for c in matrix(world) if c.port == port and c.protocol == proto}
    wrong = [
        f"  {s} -> {d}: expected {'allowed' if want[s, d] else 'BLOCKED'}, simulated {'allowed' if got[s, d] else 'BLOCKED'}"
        for s in ALL for d in ALL if want[s, d] != got[s, d]
    ]
    assert not wrong, (
        f"\nexpected:\n{render(want, port, proto)}\n\nsimulated:\n{render(got, port, proto)}\n\nwrong cells:\n" + "\n".join(wrong)
    )
    # the grouped matrix and the per-connection evaluation must agree on every cell
    pods = {p.key: p for p in world.pods}
    for (s, d), ok in got.items():
        assert evaluate(world, pods[s], pods[d], port, proto).allowed == ok, f"{s} -> {d} {proto}/{port}"


def pod_a() -> dict:
    return {"matchLabels": {"pod": "a"}}


def ns(name: str) -> dict:
    return {"matchLabels": {NS_LABEL: name}}


def ingress(pod_selector: dict, *rules: dict) -> dict:
    return {"podSelector": pod_selector, "policyTypes": ["Ingress"], "ingress": list(rules)}


def egress(pod_selector: dict, *rules: dict) -> dict:
    return {"podSelector": pod_selector, "policyTypes": ["Egress"], "egress": list(rules)}


# Each scenario: upstream test name -> (policies, [(port, protocol, expected reachability)])
SCENARIOS = {
    "should support a 'default-deny-ingress' policy": (
        [("x", "deny-ingress", ingress({}))],
        [(80, "TCP", Reachability().expect_peer("", "x", False))],
    ),
    "should support a 'default-deny-all' policy": (
        [("x", "deny-all", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})],
        [(80, "TCP", Reachability().expect_peer("", "x", False).expect_peer("x", "", False))],
    ),
    "should enforce policy to allow traffic from pods within server namespace based on PodSelector": (
        [("x", "x-a-allows-x-b", ingress(pod_a(), {"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}))],
        [(80, "TCP", Reachability().all_ingress("x/a", False).expect("x/b", "x/a", True))],
    ),
    "should enforce policy to allow ingress traffic for a target": (
        [("x", "deny-all", ingress({})),
         ("x", "allow-all-to-a", ingress(pod_a(), {"from": [{"podSelector": {}, "namespaceSelector": {}}]}))],
        [(80, "TCP", Reachability().all_ingress("x/b", False).all_ingress("x/c", False))],
    ),
    "should enforce policy to allow ingress traffic from pods in all namespaces": (
        [("x", "allow-from-another-ns", ingress(pod_a(), {"from": [{"namespaceSelector": {}}]}))],
        [(80, "TCP", Reachability())],
    ),
    "should enforce policy to allow traffic only from a different namespace, based on NamespaceSelector": (
        [("x", "allow-client-a-via-ns-selector", ingress(pod_a(), {"from": [{"namespaceSelector": ns("y")}]}))],
        [(80, "TCP", Reachability().expect_peer("x", "x/a", False).expect_peer("z", "x/a", False))],
    ),
    "should enforce policy based on PodSelector with MatchExpressions": (
        [("x", "x-a-allows-x-b", ingress(pod_a(), {"from": [{"podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b"]}]}}]}))],
        [(80, "TCP", Reachability().all_ingress("x/a", False).expect("x/b", "x/a", True))],
    ),
    "should enforce policy based on PodSelector or NamespaceSelector": (
        [("x", "allow-ns-y-match-selector", ingress(pod_a(), {"from": [
            {"namespaceSelector": {"matchExpressions": [{"key": NS_LABEL, "operator": "NotIn", "values": ["x"]}]}},
            {"podSelector": {"matchLabels": {"pod": "b"}}},
        ]}))],
        [(80, "TCP", Reachability().expect("x/c", "x/a", False))],
    ),
    "should enforce policy based on PodSelector and NamespaceSelector": (
        [("x", "allow-ns-y-podselector-and-nsselector", ingress(pod_a(), {"from": [
            {"namespaceSelector": {"matchExpressions": [{"key": NS_LABEL, "operator": "NotIn", "values": ["x"]}]},
             "podSelector": {"matchLabels": {"pod": "b"}}},
        ]}))],
        [(80, "TCP", Reachability().all_ingress("x/a", False).expect("y/b", "x/a", True).expect("z/b", "x/a", True))],
    ),
    "should enforce policy based on Multiple PodSelectors and NamespaceSelectors": (
        [("x", "allow-ns-y-z-pod-b-c", ingress(pod_a(), {"from": [
            {"namespaceSelector": {"matchExpressions": [{"key": NS_LABEL, "operator": "NotIn", "values": ["x"]}]},
             "podSelector": {"matchExpressions": [{"key": "pod", "operator": "In", "values": ["b", "c"]}]}},
        ]}))],
        [(80, "TCP", Reachability().expect_peer("x", "x/a", False).expect("y/a", "x/a", False).expect("z/a", "x/a", False))],
    ),
    "should enforce policy based on Ports": (
        [("x", "allow-client-a-via-ns-selector", ingress(pod_a(), {"from": [{"namespaceSelector": ns("y")}], "ports": [{"port": 81, "protocol": "TCP"}]}))],
        [(81, "TCP", Reachability().expect_peer("x", "x/a", False).expect_peer("z", "x/a", False)),
         (80, "TCP", Reachability().all_ingress("x/a", False))],
    ),
    "should enforce multiple, stacked policies with overlapping podSelectors": (
        [("x", "allow-81", ingress(pod_a(), {"from": [{"namespaceSelector": ns("y")}], "ports": [{"port": 81, "protocol": "TCP"}]})),
         ("x", "allow-80", ingress(pod_a(), {"from": [{"namespaceSelector": ns("y")}], "ports": [{"port": 80, "protocol": "TCP"}]}))],
        [(81, "TCP", Reachability().expect_peer("x", "x/a", False).expect_peer("z", "x/a", False)),
         (80, "TCP", Reachability().expect_peer("x", "x/a", False).expect_peer("z", "x/a", False))],
    ),
    "should support allow-all policy": (
        [("x", "allow-all", ingress({}, {}))],
        [(80, "TCP", Reachability()), (81, "TCP", Reachability())],
    ),
    "should allow ingress access on one named port": (
        [("x", "allow-all", ingress({}, {"ports": [{"port": "serve-81-tcp"}]}))],
        [(81, "TCP", Reachability()), (80, "TCP", Reachability().expect_peer("", "x", False))],
    ),
    "should allow ingress access from namespace on one named port": (
        [("x", "allow-client-a-via-ns-selector-80", ingress(pod_a(), {"from": [{"namespaceSelector": ns("y")}], "ports": [{"port": "serve-80-tcp", "protocol": "TCP"}]}))],
        [(80, "TCP", Reachability().expect_peer("x", "x/a", False).expect_peer("z", "x/a", False)),
         (81, "TCP", Reachability().all_ingress("x/a", False))],
    ),
    "should allow egress access on one named port": (
        [("x", "allow-egress", egress({}, {"ports": [{"port": "serve-80-tcp"}]}))],
        [(80, "TCP", Reachability()), (81, "TCP", Reachability().expect_peer("x", "", False))],
    ),
    "should deny ingress from pods on other namespaces": (
        [("x", "deny-empty-policy", ingress({}, {"from": [{"podSelector": {}}]}))],
        [(80, "TCP", Reachability().expect_peer("y", "x", False).expect_peer("z", "x", False))],
    ),
    "should deny egress from pods based on PodSelector": (
        [("x", "deny-egress-pod-a", egress(pod_a()))],
        [(80, "TCP", Reachability().all_egress("x/a", False))],
    ),
    "should deny egress from all pods in a namespace": (
        [("x", "deny-egress-ns-x", egress({}))],
        [(80, "TCP", Reachability().expect_peer("x", "", False))],
    ),
    "should work with Ingress, Egress specified together": (
        [("x", "allow-client-a-via-pod-selector", {
            "podSelector": pod_a(), "policyTypes": ["Egress", "Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
            "egress": [{"ports": [{"port": 80}]}]})],
        [(80, "TCP", Reachability().all_ingress("x/a", False).expect("x/b", "x/a", True)),
         (81, "TCP", Reachability().all_ingress("x/a", False).all_egress("x/a", False).expect("x/b", "x/a", True))],
    ),
    "should support denying of egress traffic on the client side (even if the server explicitly allows this traffic)": (
        [("x", "allow-to-ns-y-pod-a", egress(pod_a(), {"to": [{"namespaceSelector": ns("y"), "podSelector": pod_a()}]})),
         ("y", "allow-from-xa-on-ya", ingress(pod_a(), {"from": [{"namespaceSelector": ns("x"), "podSelector": pod_a()}]})),
         ("y", "allow-from-xa-on-yb", ingress({"matchLabels": {"pod": "b"}}, {"from": [{"namespaceSelector": ns("x"), "podSelector": pod_a()}]}))],
        [(80, "TCP", Reachability().expect_peer("x/a", "", False).expect_peer("", "y/a", False).expect("x/a", "y/a", True)
          .expect_peer("", "y/b", False))],
    ),
    "should enforce egress policy allowing traffic to a server in a different namespace based on PodSelector and NamespaceSelector": (
        [("x", "allow-to-ns-y-pod-a", egress(pod_a(), {"to": [{"namespaceSelector": ns("y"), "podSelector": pod_a()}]}))],
        [(80, "TCP", Reachability().all_egress("x/a", False).expect("x/a", "y/a", True))],
    ),
    "should enforce ingress policy allowing any port traffic to a server on a specific protocol": (
        [("x", "allow-ingress-by-proto", ingress(pod_a(), {"ports": [{"protocol": "TCP"}]}))],
        [(80, "TCP", Reachability()), (80, "UDP", Reachability().all_ingress("x/a", False))],
    ),
    "should enforce multiple ingress policies with ingress allow-all policy taking precedence": (
        [("x", "allow-ingress-port-80", ingress({}, {"ports": [{"port": 80}]})), ("x", "allow-ingress", ingress({}, {}))],
        [(81, "TCP", Reachability())],
    ),
    "should enforce multiple egress policies with egress allow-all policy taking precedence": (
        [("x", "allow-egress-port-80", egress({}, {"ports": [{"port": 80}]})), ("x", "allow-egress", egress({}, {}))],
        [(81, "TCP", Reachability())],
    ),
    "should allow egress access to server in CIDR block": (
        [("x", "allow-client-a-via-cidr-egress-rule", egress(pod_a(), {"to": [{"ipBlock": {"cidr": pod_ip("y", "b") + "/32"}}]}))],
        [(80, "TCP", Reachability().all_egress("x/a", False).expect("x/a", "y/b", True))],
    ),
    "should enforce except clause while egress access to server in CIDR block": (
        [("x", "allow-client-a-via-cidr-egress-rule", egress(pod_a(), {"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": [pod_ip("x", "b") + "/32"]}}]}))],
        [(80, "TCP", Reachability().expect("x/a", "x/b", False))],
    ),
    "should ensure an IP overlapping both IPBlock.CIDR and IPBlock.Except is allowed": (
        [("x", "allow-except", egress(pod_a(), {"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": [pod_ip("x", "b") + "/32"]}}]})),
         ("x", "allow-x-b", egress(pod_a(), {"to": [{"ipBlock": {"cidr": pod_ip("x", "b") + "/32"}}]}))],
        [(80, "TCP", Reachability())],
    ),
    "should enforce policies to check ingress and egress policies can be controlled independently based on PodSelector": (
        [("x", "allow-egress-for-target", egress(pod_a(), {})), ("x", "deny-ingress-via-label-selector", ingress(pod_a()))],
        [(80, "TCP", Reachability().all_ingress("x/a", False))],
    ),
    "should not mistakenly treat 'protocol: SCTP' as 'protocol: TCP', even if the plugin doesn't support SCTP": (
        [("x", "deny-ingress", ingress({})), ("x", "allow-only-sctp-ingress-on-port-81", ingress(pod_a(), {"ports": [{"port": 81, "protocol": "SCTP"}]}))],
        [(81, "TCP", Reachability().expect_peer("", "x", False)), (81, "SCTP", Reachability().expect_peer("", "x/b", False).expect_peer("", "x/c", False))],
    ),
    "should not allow access by TCP when a policy specifies only UDP": (
        [("x", "allow-only-udp-ingress-on-port-81", ingress(pod_a(), {"ports": [{"port": 81, "protocol": "UDP"}]}))],
        [(81, "TCP", Reachability().all_ingress("x/a", False)), (81, "UDP", Reachability())],
    ),
    "should enforce policy based on NamespaceSelector with MatchExpressions using default ns label (egress)": (
        [("x", "allow-ns-not-y", egress(pod_a(), {"to": [{"namespaceSelector": {"matchExpressions": [{"key": NS_LABEL, "operator": "NotIn", "values": ["y"]}]}}]}))],
        [(80, "TCP", Reachability().expect_peer("x/a", "y", False))],
    ),
    # Not in today's network_policy.go (older releases had an endPort test); expectations written from the API docs.
    "should support 'endPort' ranges (80-81 allowed, 80-80 excludes 81)": (
        [("x", "allow-80-81", ingress(pod_a(), {"ports": [{"port": 80, "endPort": 81}]})),
         ("x", "allow-80-only", ingress({"matchLabels": {"pod": "b"}}, {"ports": [{"port": 80, "endPort": 80}]}))],
        [(81, "TCP", Reachability().all_ingress("x/b", False)), (80, "TCP", Reachability())],
    ),
    # policyTypes [Egress] with ingress rules written: the ingress rules are ignored, x/a is not isolated for ingress.
    "policyTypes Egress only ignores ingress rules": (
        [("x", "egress-only", {"podSelector": pod_a(), "policyTypes": ["Egress"], "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
                               "egress": [{"to": [{"namespaceSelector": ns("z")}]}]})],
        [(80, "TCP", Reachability().all_egress("x/a", False).expect_peer("x/a", "z", True))],
    ),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_upstream_scenario(name: str) -> None:
    policies, cases = SCENARIOS[name]
    world = build_world(policies)
    for port, proto, expected in cases:
        check(world, port, proto, expected)


def test_no_policies_everything_is_reachable() -> None:
    world = build_world([])
    for port in (80, 81):
        for proto in ("TCP", "UDP", "SCTP"):
            check(world, port, proto, Reachability())


def test_a_wrong_expectation_fails_with_both_tables_printed() -> None:
    world = build_world([("x", "deny-ingress", ingress({}))])
    with pytest.raises(AssertionError) as failure:
        check(world, 80, "TCP", Reachability())
    text = str(failure.value)
    assert "expected:" in text and "simulated:" in text
    assert "y/a -> x/b: expected allowed, simulated BLOCKED" in text
    assert "y/a\tX\tX\tX\t.\t.\t.\t.\t.\t." in text  # the simulated upstream-style row of y/a
    assert "x/a\t.\tX\tX\t.\t.\t.\t.\t.\t." in text  # x/a -> x/a stays allowed: loopback
