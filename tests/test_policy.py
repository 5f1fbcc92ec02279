"""NetworkPolicy semantics of the simulator, rule by rule (grader/model/policy.py).

Worlds are built directly from the dataclasses in grader/model/objects.py; policies are the
manifest dicts a learner would write.
"""

from __future__ import annotations

import itertools

import pytest

from grader.model.objects import ContainerPort, Namespace, Node, Pod, Raw, World
from grader.model.policy import (
    evaluate,
    format_matrix,
    policy_errors,
    policy_types,
    selecting_policies,
)

from grader.model.reachability import matrix

_ips = itertools.count(10)


def make_pod(ns, name, labels=None, ports=((80, "TCP", "http"),), node="course-worker", ip=None, host_network=False):
    return Pod(
        namespace=ns,
        name=name,
        labels=dict(labels or {}),
        ip=ip or ("172.18.0.3" if host_network else f"10.244.1.{next(_ips)}"),
        node=node,
        ports=[ContainerPort(port=p, protocol=proto, name=n) for p, proto, n in ports],
        host_network=host_network,
    )


def netpol(ns, name, spec):
    obj = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name, "namespace": ns}, "spec": spec}
    return Raw(kind="NetworkPolicy", namespace=ns, name=name, obj=obj)


def make_world(pods, policies=(), ns_labels=None, enforce=True):
    names = {p.namespace for p in pods} | {p.namespace for p in policies} | set(ns_labels or {})
    return World(
        nodes=[Node("course-worker", "172.18.0.3"), Node("course-worker2", "172.18.0.4")],
        namespaces={n: Namespace(n, dict((ns_labels or {}).get(n, {}))) for n in names},
        pods=list(pods),
        policies=list(policies),
        cni_enforces_policy=enforce,
    )


DENY_INGRESS = {"podSelector": {}, "policyTypes": ["Ingress"]}
DENY_EGRESS = {"podSelector": {}, "policyTypes": ["Egress"]}


@pytest.fixture
def lesson4():
    web = make_pod("lesson4", "web-1", {"app": "web"})
    db = make_pod("lesson4", "db-0", {"app": "db"}, ports=((5432, "TCP", "postgres"),))
    other = make_pod("other", "client", {"app": "web"})
    return web, db, other


# ------------------------------------------------------------------------------------ isolation


def test_a_pod_selected_by_no_policy_accepts_everything(lesson4):
    web, db, other = lesson4
    v = evaluate(make_world([web, db, other]), web, db, 5432)
    assert v.allowed and not v.ingress.isolated and not v.egress.isolated
    assert any("no NetworkPolicy selects lesson4/db-0 for Ingress" in line for line in v.trace)


def test_default_deny_ingress_blocks_and_the_trace_names_policy_and_pods(lesson4):
    web, db, other = lesson4
    w = make_world([web, db, other], [netpol("lesson4", "default-deny", DENY_INGRESS)])
    v = evaluate(w, web, db, 5432)
    assert not v.allowed
    assert v.ingress.isolated and v.ingress.selecting == ["lesson4/default-deny"] and v.ingress.allowing == []
    assert any(
        "NetworkPolicy lesson4/default-deny selects lesson4/db-0 for Ingress" in line
        and "lesson4/web-1" in line
        and "TCP/5432" in line
        for line in v.trace
    ), v.trace


def test_isolation_is_per_direction(lesson4):
    web, db, other = lesson4
    w = make_world([web, db, other], [netpol("lesson4", "default-deny", DENY_INGRESS)])
    # db is isolated for ingress only: its own outgoing connections still work
    assert evaluate(w, db, other, 80).allowed
    assert not evaluate(w, db, other, 80).egress.isolated


def test_policy_in_one_namespace_does_not_select_pods_in_another(lesson4):
    web, db, other = lesson4
    w = make_world([web, db, other], [netpol("lesson4", "default-deny", DENY_INGRESS)])
    v = evaluate(w, web, other, 80)  # other/client has app=web too, but lives in namespace other
    assert v.allowed and not v.ingress.isolated


def test_empty_ingress_list_denies_all_but_an_empty_rule_allows_all(lesson4):
    web, db, other = lesson4
    deny = make_world([web, db, other], [netpol("lesson4", "p", {"podSelector": {}, "ingress": []})])
    allow = make_world([web, db, other], [netpol("lesson4", "p", {"podSelector": {}, "ingress": [{}]})])
    assert not evaluate(deny, other, db, 5432).allowed
    v = evaluate(allow, other, db, 5432)
    assert v.allowed and v.ingress.isolated and v.ingress.allowing == ["lesson4/p"]


def test_rule_without_from_allows_every_source_on_its_ports(lesson4):
    web, db, other = lesson4
    w = make_world([web, db, other], [netpol("lesson4", "p", {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"ports": [{"port": 5432}]}]})])
    assert evaluate(w, other, db, 5432).allowed
    assert evaluate(w, web, db, 5432).allowed
    assert not evaluate(w, web, db, 5433).allowed


def test_multiple_policies_add_up(lesson4):
    web, db, other = lesson4
    only_web = {"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}
    only_other = {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "other"}}}]}]}
    w = make_world([web, db, other], [netpol("lesson4", "deny", DENY_INGRESS), netpol("lesson4", "web", only_web), netpol("lesson4", "other", only_other)])
    v = evaluate(w, other, db, 5432)
    assert v.allowed and v.ingress.allowing == ["lesson4/other"]
    assert sorted(v.ingress.selecting) == ["lesson4/deny", "lesson4/other", "lesson4/web"]
    assert evaluate(w, web, db, 5432).ingress.allowing == ["lesson4/web"]


# ------------------------------------------------------------------------------- policyTypes


def test_policy_types_defaulting():
    assert policy_types(netpol("n", "p", {"podSelector": {}})) == {"Ingress"}
    assert policy_types(netpol("n", "p", {"podSelector": {}, "egress": [{}]})) == {"Ingress", "Egress"}
    # defaults.go adds Egress only when len(spec.egress) != 0
    assert policy_types(netpol("n", "p", {"podSelector": {}, "egress": []})) == {"Ingress"}
    assert policy_types(netpol("n", "p", {"podSelector": {}, "policyTypes": ["Egress"], "ingress": [{}]})) == {"Egress"}
    assert policy_types(netpol("n", "p", {"podSelector": {}, "policyTypes": []})) == {"Ingress"}


def test_egress_section_without_policy_types_isolates_egress_and_ingress(lesson4):
    web, db, other = lesson4
    spec = {"podSelector": {"matchLabels": {"app": "web"}}, "egress": [{"ports": [{"port": 5432}]}]}
    w = make_world([web, db, other], [netpol("lesson4", "web-out", spec)])
    assert evaluate(w, web, db, 5432).allowed
    assert not evaluate(w, web, other, 80).allowed  # egress isolated
    assert not evaluate(w, db, web, 80).allowed  # and ingress too: Ingress is always defaulted, with no rules


def test_empty_egress_list_without_policy_types_does_not_isolate_egress(lesson4):
    web, db, other = lesson4
    w = make_world([web, db, other], [netpol("lesson4", "p", {"podSelector": {}, "egress": []})])
    assert evaluate(w, web, other, 80).allowed


def test_rules_left_out_by_policy_types_are_ignored_and_the_trace_says_so(lesson4):
    web, db, other = lesson4
    spec = {"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Egress"], "ingress": [{"from": [{"podSelector": {}}]}]}
    w = make_world([web, db, other], [netpol("lesson4", "p", spec)])
    v = evaluate(w, db, other, 80)
    assert not v.allowed and v.egress.isolated
    v = evaluate(w, other, db, 5432)
    assert v.allowed and not v.ingress.isolated  # the ingress rules do not isolate db
    assert any("lesson4/p has ingress rules but its policyTypes ['Egress'] leave out Ingress" in line for line in v.trace)


# ------------------------------------------------------------------------------------- peers


def _ingress_world(peers, pods):
    spec = {"podSelector": {"matchLabels": {"app": "db"}}, "ingress": [{"from": peers}]}
    return make_world(pods, [netpol("x", "p", spec)], ns_labels={"y": {"team": "blue"}, "z": {"team": "red"}})


@pytest.fixture
def xyz():
    db = make_pod("x", "db", {"app": "db"})
    x_web = make_pod("x", "web", {"app": "web"})
    y_web = make_pod("y", "web", {"app": "web"})
    y_cli = make_pod("y", "cli", {"app": "cli"})
    z_web = make_pod("z", "web", {"app": "web"})
    return db, x_web, y_web, y_cli, z_web


def allowed_sources(world, dst, pods, port=80):
    return {p.key for p in pods if p is not dst and evaluate(world, p, dst, port).allowed}


def test_pod_selector_alone_means_pods_of_the_policys_namespace(xyz):
    db, *_ = xyz
    w = _ingress_world([{"podSelector": {"matchLabels": {"app": "web"}}}], xyz)
    assert allowed_sources(w, db, xyz) == {"x/web"}


def test_namespace_selector_alone_means_all_pods_of_those_namespaces(xyz):
    db, *_ = xyz
    w = _ingress_world([{"namespaceSelector": {"matchLabels": {"team": "blue"}}}], xyz)
    assert allowed_sources(w, db, xyz) == {"y/web", "y/cli"}


def test_both_selectors_in_one_peer_are_an_and(xyz):
    db, *_ = xyz
    w = _ingress_world([{"namespaceSelector": {"matchLabels": {"team": "blue"}}, "podSelector": {"matchLabels": {"app": "web"}}}], xyz)
    assert allowed_sources(w, db, xyz) == {"y/web"}


def test_two_peers_are_an_or(xyz):
    db, *_ = xyz
    w = _ingress_world([{"namespaceSelector": {"matchLabels": {"team": "blue"}}}, {"podSelector": {"matchLabels": {"app": "web"}}}], xyz)
    assert allowed_sources(w, db, xyz) == {"y/web", "y/cli", "x/web"}


def test_empty_namespace_selector_means_every_namespace(xyz):
    db, *_ = xyz
    w = _ingress_world([{"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "web"}}}], xyz)
    assert allowed_sources(w, db, xyz) == {"x/web", "y/web", "z/web"}
    w = _ingress_world([{"namespaceSelector": {}}], xyz)
    assert allowed_sources(w, db, xyz) == {"x/web", "y/web", "y/cli", "z/web"}


def test_namespace_name_label_is_automatic(xyz):
    db, *_ = xyz
    w = _ingress_world([{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "z"}}}], xyz)
    assert allowed_sources(w, db, xyz) == {"z/web"}


def test_match_expressions_not_in(xyz):
    db, *_ = xyz
    sel = {"matchExpressions": [{"key": "team", "operator": "NotIn", "values": ["red"]}]}
    w = _ingress_world([{"namespaceSelector": sel}], xyz)
    # x has no team label, so NotIn matches it
    assert allowed_sources(w, db, xyz) == {"x/web", "y/web", "y/cli"}


def test_ip_block_with_except_against_pod_ips():
    a = make_pod("x", "a", {"app": "a"}, ip="10.244.1.5")
    b = make_pod("x", "b", {"app": "b"}, ip="10.244.2.5")
    c = make_pod("x", "c", {"app": "c"}, ip="10.244.3.5")
    spec = {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Egress"],
            "egress": [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16", "except": ["10.244.2.0/24"]}}]}]}
    w = make_world([a, b, c], [netpol("x", "p", spec)])
    assert evaluate(w, a, c, 80).allowed
    v = evaluate(w, a, b, 80)
    assert not v.allowed and any("no rule allows x/b on TCP/80" in line for line in v.trace)


def test_ip_block_for_traffic_leaving_the_pod_network():
    a = make_pod("x", "a", {"app": "a"})
    spec = {"podSelector": {}, "policyTypes": ["Egress"], "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["169.254.169.254/32"]}}]}]}
    w = make_world([a], [netpol("x", "p", spec)])
    assert evaluate(w, a, None, 443, dst_ip="8.8.8.8").allowed
    v = evaluate(w, a, None, 80, dst_ip="169.254.169.254")
    assert not v.allowed and any("169.254.169.254 (not a pod)" in line for line in v.trace)


def test_ingress_from_an_external_client_only_matches_ip_blocks():
    a = make_pod("x", "a", {"app": "a"})
    spec = {"podSelector": {}, "ingress": [{"from": [{"namespaceSelector": {}}, {"ipBlock": {"cidr": "203.0.113.0/24"}}]}]}
    w = make_world([a], [netpol("x", "p", spec)])
    assert evaluate(w, None, a, 80, src_ip="203.0.113.7").allowed
    assert not evaluate(w, None, a, 80, src_ip="198.51.100.7").allowed  # namespaceSelector {} matches pods only


# ------------------------------------------------------------------------------------- ports


def test_named_port_is_resolved_on_each_destination_pod():
    client = make_pod("x", "client", {"app": "client"})
    web8080 = make_pod("x", "web-a", {"app": "web"}, ports=((8080, "TCP", "http"),))
    web9090 = make_pod("x", "web-b", {"app": "web"}, ports=((9090, "TCP", "http"), (8080, "TCP", "metrics")))
    spec = {"podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"], "egress": [{"ports": [{"port": "http"}]}]}
    w = make_world([client, web8080, web9090], [netpol("x", "p", spec)])
    assert evaluate(w, client, web8080, 8080).allowed
    assert evaluate(w, client, web9090, 9090).allowed
    assert not evaluate(w, client, web9090, 8080).allowed  # 8080 is "metrics" on web-b
    assert not evaluate(w, client, None, 8080, dst_ip="8.8.8.8").allowed  # not a pod: no named port


def test_named_port_on_ingress_needs_the_matching_protocol():
    client = make_pod("x", "client", {"app": "client"})
    dns = make_pod("x", "dns", {"app": "dns"}, ports=((53, "UDP", "dns"), (53, "TCP", "dns-tcp")))
    spec = {"podSelector": {"matchLabels": {"app": "dns"}}, "ingress": [{"ports": [{"port": "dns", "protocol": "UDP"}]}]}
    w = make_world([client, dns], [netpol("x", "p", spec)])
    assert evaluate(w, client, dns, 53, "UDP").allowed
    assert not evaluate(w, client, dns, 53, "TCP").allowed


def test_end_port_range_is_inclusive():
    client = make_pod("x", "client", {"app": "client"})
    srv = make_pod("x", "srv", {"app": "srv"}, ports=((32000, "TCP", None),))
    spec = {"podSelector": {"matchLabels": {"app": "srv"}}, "ingress": [{"ports": [{"port": 32000, "endPort": 32768}]}]}
    w = make_world([client, srv], [netpol("x", "p", spec)])
    assert [evaluate(w, client, srv, p).allowed for p in (31999, 32000, 32500, 32768, 32769)] == [False, True, True, True, False]


def test_protocol_defaults_to_tcp_and_udp_rules_do_not_allow_tcp():
    client = make_pod("x", "client", {"app": "client"})
    srv = make_pod("x", "srv", {"app": "srv"})
    udp = make_world([client, srv], [netpol("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 81, "protocol": "UDP"}]}]})])
    assert evaluate(udp, client, srv, 81, "UDP").allowed and not evaluate(udp, client, srv, 81, "TCP").allowed
    tcp = make_world([client, srv], [netpol("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": 81}]}]})])
    assert evaluate(tcp, client, srv, 81, "TCP").allowed and not evaluate(tcp, client, srv, 81, "UDP").allowed
    sctp = make_world([client, srv], [netpol("x", "p", {"podSelector": {}, "ingress": [{"ports": [{"protocol": "SCTP"}]}]})])
    assert evaluate(sctp, client, srv, 9, "SCTP").allowed and not evaluate(sctp, client, srv, 9, "TCP").allowed


def test_egress_default_deny_blocks_dns_until_allowed():
    app = make_pod("lesson5", "app", {"app": "app"})
    coredns = make_pod("kube-system", "coredns-1", {"k8s-app": "kube-dns"}, ports=((53, "UDP", "dns"), (53, "TCP", "dns-tcp")))
    deny = netpol("lesson5", "default-deny-egress", DENY_EGRESS)
    w = make_world([app, coredns], [deny])
    v = evaluate(w, app, coredns, 53, "UDP")
    assert not v.allowed and v.egress.selecting == ["lesson5/default-deny-egress"]
    assert any("BLOCKED for lesson5/app" in line and "kube-system/coredns-1" in line and "UDP/53" in line for line in v.trace)
    allow_dns = netpol("lesson5", "allow-dns", {
        "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                            "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                    "ports": [{"port": 53, "protocol": "UDP"}]}]})
    w = make_world([app, coredns], [deny, allow_dns])
    assert evaluate(w, app, coredns, 53, "UDP").allowed
    assert not evaluate(w, app, coredns, 53, "TCP").allowed  # large answers fall back to TCP: allow both


# ----------------------------------------------------------------------------- special cases


def test_non_enforcing_cni_allows_everything_and_says_why(lesson4):
    web, db, other = lesson4
    w = make_world([web, db, other], [netpol("lesson4", "default-deny", DENY_INGRESS)], enforce=False)
    v = evaluate(w, web, db, 5432)
    assert v.allowed and any("does not enforce NetworkPolicy" in line for line in v.trace)
    assert all(c.allowed for c in matrix(w))


def test_a_pod_cannot_block_access_to_itself():
    a = make_pod("x", "a", {"app": "a"})
    w = make_world([a], [netpol("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]})])
    assert evaluate(w, a, a, 80).allowed
    assert [c.allowed for c in matrix(w)] == [True]


def test_traffic_from_the_pods_own_node_is_always_allowed():
    a = make_pod("x", "a", {"app": "a"}, node="course-worker")
    w = make_world([a], [netpol("x", "deny", DENY_INGRESS)])
    v = evaluate(w, None, a, 80, src_ip="172.18.0.3")
    assert v.allowed and any("own node is always allowed" in line for line in v.trace)
    assert not evaluate(w, None, a, 80, src_ip="172.18.0.4").allowed  # another node


def test_host_network_pods_are_not_isolated_and_selectors_do_not_match_them():
    a = make_pod("x", "a", {"app": "a"}, node="course-worker")
    agent = make_pod("x", "agent", {"app": "agent"}, node="course-worker2", ip="172.18.0.4", host_network=True)
    w = make_world([a, agent], [netpol("x", "deny", {"podSelector": {}, "policyTypes": ["Ingress", "Egress"],
                                                  "ingress": [{"from": [{"podSelector": {}}]}]})])
    assert selecting_policies(w, agent, "Ingress") == []
    assert evaluate(w, a, agent, 80).allowed is False  # a's egress is isolated with no egress rules
    v = evaluate(w, agent, a, 80)
    assert not v.allowed  # podSelector {} does not match a hostNetwork pod (node traffic from another node)
    assert any("hostNetwork" in line for line in v.trace)
    w2 = make_world([a, agent], [netpol("x", "p", {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "172.18.0.0/16"}}]}]})])
    assert evaluate(w2, agent, a, 80).allowed


def test_invalid_policy_has_no_effect_and_the_trace_says_the_api_rejects_it(lesson4):
    web, db, other = lesson4
    bad = {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "podSelector": {}}]}]}
    w = make_world([web, db, other], [netpol("lesson4", "bad", bad)])
    v = evaluate(w, web, db, 5432)
    assert v.allowed and not v.ingress.isolated
    assert any("lesson4/bad would be rejected by the API server" in line for line in v.trace)


@pytest.mark.parametrize(
    "spec, fragment",
    [
        ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8"}, "namespaceSelector": {}}]}]}, "ipBlock cannot be combined"),
        ({"ingress": [{"from": [{}]}]}, "must specify podSelector, namespaceSelector or ipBlock"),
        ({"egress": [{"ports": [{"port": "http", "endPort": 90}]}]}, "cannot be used with a named port"),
        ({"egress": [{"ports": [{"port": 90, "endPort": 80}]}]}, "smaller than port 90"),
        ({"egress": [{"ports": [{"port": 80, "protocol": "tcp"}]}]}, "is not one of TCP, UDP, SCTP"),
        ({"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}}]}]}, "strict subset"),
        ({"policyTypes": ["ingress"]}, "unsupported value 'ingress'"),
        ({"podSelector": {"app": "web"}}, "matchLabels"),
    ],
)
def test_policy_errors_name_the_field(spec, fragment):
    errors = policy_errors(netpol("n", "p", {"podSelector": {}, **spec}))
    assert any(fragment in e for e in errors), errors


def test_valid_policy_has_no_errors():
    spec = {"podSelector": {"matchLabels": {"app": "a"}}, "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/8", "except": ["10.1.0.0/16"]}}], "ports": [{"port": "http"}]}],
            "egress": [{"ports": [{"port": 30000, "endPort": 32767, "protocol": "UDP"}]}]}
    assert policy_errors(netpol("n", "p", spec)) == []


def test_selecting_policies_lists_only_the_pods_namespace_and_direction(lesson4):
    web, db, other = lesson4
    pols = [netpol("lesson4", "in", DENY_INGRESS), netpol("lesson4", "out", DENY_EGRESS), netpol("other", "in", DENY_INGRESS)]
    w = make_world([web, db, other], pols)
    assert [p.key for p in selecting_policies(w, db, "Ingress")] == ["lesson4/in"]
    assert [p.key for p in selecting_policies(w, db, "Egress")] == ["lesson4/out"]


def test_format_matrix_prints_the_upstream_truth_table():
    a = make_pod("x", "a", {"pod": "a"})
    b = make_pod("x", "b", {"pod": "b"})
    w = make_world([a, b], [netpol("x", "p", {"podSelector": {"matchLabels": {"pod": "a"}}})])
    text = format_matrix(matrix(w), 80, "TCP")
    assert text.splitlines()[1:] == ["-\tx/a\tx/b", "x/a\t.\t.", "x/b\tX\t."]


def test_named_port_with_double_hyphen_is_rejected_as_the_api_server_does():
    errors = policy_errors(netpol("n", "p", {"podSelector": {}, "ingress": [{"ports": [{"port": "web--http"}]}]}))
    assert any("spec.ingress[0].ports[0].port" in e and "not a valid port name" in e for e in errors), errors


def test_trace_says_which_policy_decides_when_a_deny_all_sits_beside_an_allow():
    deny = netpol("n", "deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
    allow = netpol("n", "allow", {"podSelector": {}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}]})
    w = World(pods=[Pod("n", "a", {"app": "a"}, "10.244.1.2", "course-worker"), Pod("n", "b", {}, "10.244.2.2", "course-worker2")], policies=[deny, allow])
    v = evaluate(w, w.pods[0], w.pods[1], 80)
    assert v.allowed
    assert v.trace[-1].startswith("Ingress from n/a") and "ALLOWED" in v.trace[-1] and "n/allow allows it" in v.trace[-1]
    blocked = evaluate(World(pods=w.pods, policies=[deny]), w.pods[0], w.pods[1], 80)
    assert "none of its ingress rules" in blocked.trace[-1]


def test_a_pod_selector_peer_alone_is_said_to_select_the_policys_own_namespace_when_it_explains_a_block():
    from grader.model.policy import evaluate

    api = make_pod("shop", "api", {"app": "api"})
    web = make_pod("front", "web", {"app": "web"})
    allow_web = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"namespace": "shop", "name": "api-from-web"},
                 "spec": {"podSelector": {"matchLabels": {"app": "api"}}, "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "web"}}}]}]}}
    w = World(pods=[api, web], policies=[Raw("NetworkPolicy", "shop", "api-from-web", allow_web)],
              nodes=[Node("course-worker", "172.18.0.3")])
    v = evaluate(w, web, api, 80)
    assert not v.allowed
    assert any("selects pods of the policy's own namespace shop only" in line and "front/web has those labels" in line for line in v.trace)
