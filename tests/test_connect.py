"""One connection's path: DNS -> Service -> endpoint -> egress -> ingress -> listener, with its trace."""

from __future__ import annotations

from grader.model.connect import connect, lookup
from grader.model.objects import NODE_IPS, NODE_NAMES, ContainerPort, Node, Pod, Raw, Service, ServicePort, World
from grader.model.connect import dns_servers

AGNHOST = "registry.k8s.io/e2e-test-images/agnhost:2.66.1"


def server(ns, name, ip, labels, port=8080, node=NODE_NAMES[1], named="http"):
    return Pod(
        ns, name, labels, ip, node, [ContainerPort(port, "TCP", named, "s")],
        containers=[{"name": "s", "image": AGNHOST, "args": ["netexec", f"--http-port={port}"]}],
    )


def client(ns, name, ip, labels=None, node=NODE_NAMES[2]):
    return Pod(ns, name, labels or {"role": "client"}, ip, node, [], containers=[{"name": "c", "image": AGNHOST, "args": ["pause"]}])


def world(pods, services=(), policies=(), enforce=True):
    w = World(nodes=[Node(n, ip) for n, ip in zip(NODE_NAMES, NODE_IPS)], cni_enforces_policy=enforce)
    w.pods = list(pods) + dns_servers(World())
    w.services = list(services)
    w.policies = [Raw("NetworkPolicy", p["metadata"]["namespace"], p["metadata"]["name"], p) for p in policies]
    return w


def policy(ns, name, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"namespace": ns, "name": name}, "spec": spec}


SVC = Service("app", "my-service", selector={"app": "my-app"}, cluster_ip="10.96.10.10", ports=[ServicePort(80, 8080, "TCP")])
WEB = server("app", "web-1", "10.244.1.10", {"app": "my-app"})
CLIENT = client("app", "client", "10.244.2.20")


def test_pod_to_pod_by_ip_is_allowed_with_trace():
    c = connect(world([WEB, CLIENT]), CLIENT, "10.244.1.10", 8080)
    assert c.ok and c.endpoint == "app/web-1"
    assert c.client_ip == "10.244.2.20"  # no NAT between pods
    assert any("accepts TCP/8080" in line for line in c.trace)


def test_service_by_short_name_reaches_an_endpoint():
    c = connect(world([WEB, CLIENT], [SVC]), CLIENT, "my-service", 80)
    assert c.ok, c.trace
    assert c.service == "app/my-service" and c.endpoint == "app/web-1"
    assert any("my-service resolves to 10.96.10.10" in line for line in c.trace)


def test_service_with_wrong_target_port_is_refused_and_says_which_port_pods_listen_on():
    bad = Service("app", "my-service", selector={"app": "my-app"}, cluster_ip="10.96.10.10", ports=[ServicePort(80, 80, "TCP")])
    c = connect(world([WEB, CLIENT], [bad]), CLIENT, "my-service", 80)
    assert c.verdict == "refused"
    assert any("listen on 8080" in h for h in c.hints), c.hints


def test_service_selector_typo_means_no_endpoints_with_diagnosis():
    typo = Service("app", "my-service", selector={"app": "my-ap"}, cluster_ip="10.96.10.10", ports=[ServicePort(80, 8080, "TCP")])
    c = connect(world([WEB, CLIENT], [typo]), CLIENT, "my-service", 80)
    assert c.verdict == "no-endpoints"
    assert any("app=my-ap" in h for h in c.hints), c.hints


def test_named_target_port_resolves_per_pod():
    named = Service("app", "my-service", selector={"app": "my-app"}, cluster_ip="10.96.10.10", ports=[ServicePort(80, "http", "TCP")])
    assert connect(world([WEB, CLIENT], [named]), CLIENT, "my-service", 80).ok


def test_port_not_declared_by_service_is_an_error_not_a_connection():
    c = connect(world([WEB, CLIENT], [SVC]), CLIENT, "my-service", 8080)
    assert not c.ok
    assert any("exposes 80/TCP" in h for h in c.hints)


def test_unknown_name_is_a_dns_failure():
    c = connect(world([WEB, CLIENT], [SVC]), CLIENT, "no-such-service", 80)
    assert c.verdict == "dns-failure"


def test_short_name_from_another_namespace_fails_with_cross_namespace_hint():
    other = client("elsewhere", "client2", "10.244.2.30")
    c = connect(world([WEB, other], [SVC]), other, "my-service", 80)
    assert c.verdict == "dns-failure"
    assert any("my-service.app" in h for h in c.hints), c.hints
    assert connect(world([WEB, other], [SVC]), other, "my-service.app", 80).ok


def test_ingress_policy_blocks_and_names_policy_and_pods():
    deny = policy("app", "default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
    c = connect(world([WEB, CLIENT], [SVC], [deny]), CLIENT, "my-service", 80)
    assert c.verdict == "blocked"
    text = "\n".join(c.trace)
    assert "app/default-deny" in text and "app/web-1" in text


def test_non_enforcing_cni_ignores_policies():
    deny = policy("app", "default-deny", {"podSelector": {}, "policyTypes": ["Ingress"]})
    assert connect(world([WEB, CLIENT], [SVC], [deny], enforce=False), CLIENT, "my-service", 80).ok


def test_egress_default_deny_breaks_dns_but_not_ip_traffic_it_allows():
    deny_egress = policy("app", "deny-egress", {"podSelector": {"matchLabels": {"role": "client"}}, "policyTypes": ["Egress"], "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "my-app"}}}]}]})
    w = world([WEB, CLIENT], [SVC], [deny_egress])
    c = connect(w, CLIENT, "my-service", 80)
    assert c.verdict == "dns-failure"
    assert any("kube-dns" in h for h in c.hints)
    assert connect(w, CLIENT, "10.96.10.10", 80).ok  # the ClusterIP itself is still allowed


def test_egress_rule_for_dns_restores_lookups():
    spec = {
        "podSelector": {"matchLabels": {"role": "client"}},
        "policyTypes": ["Egress"],
        "egress": [
            {"to": [{"podSelector": {"matchLabels": {"app": "my-app"}}}]},
            {"to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}], "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
        ],
    }
    w = world([WEB, CLIENT], [SVC], [policy("app", "egress", spec)])
    assert lookup(w, CLIENT, "my-service").ok
    assert connect(w, CLIENT, "my-service", 80).ok


def test_nodeport_from_outside_reaches_pod_with_node_as_source():
    np = Service("app", "web-np", type="NodePort", selector={"app": "my-app"}, cluster_ip="10.96.10.11", ports=[ServicePort(80, 8080, "TCP", None, 30080)])
    c = connect(world([WEB], [np]), None, NODE_IPS[1], 30080, src_ip="172.18.0.1")
    assert c.ok
    assert c.client_ip == NODE_IPS[1]  # externalTrafficPolicy Cluster masquerades to the node


def test_node_ip_without_nodeport_is_refused():
    c = connect(world([WEB]), None, NODE_IPS[1], 31000, src_ip="172.18.0.1")
    assert c.verdict == "refused"


def test_headless_service_name_connects_to_a_pod_ip():
    headless = Service("app", "web", selector={"app": "my-app"}, cluster_ip=None, ports=[ServicePort(8080, 8080, "TCP")])
    c = connect(world([WEB, CLIENT], [headless]), CLIENT, "web", 8080)
    assert c.ok and c.endpoint == "app/web-1"


def test_some_endpoints_blocked_is_still_allowed_and_says_so():
    other = server("app", "web-2", "10.244.2.11", {"app": "my-app", "locked": "yes"})
    deny_locked = policy("app", "deny-locked", {"podSelector": {"matchLabels": {"locked": "yes"}}, "policyTypes": ["Ingress"]})
    c = connect(world([WEB, other, CLIENT], [SVC], [deny_locked]), CLIENT, "my-service", 80)
    assert c.ok
    assert any("at random" in line for line in c.trace)


def test_host_network_source_is_seen_as_its_node():
    node_pod = Pod("app", "node-agent", {}, NODE_IPS[2], NODE_NAMES[2], [], host_network=True, containers=[{"name": "c", "image": AGNHOST, "args": ["pause"]}])
    c = connect(world([WEB, node_pod]), node_pod, WEB.ip, 8080)
    assert c.ok and c.client_ip == NODE_IPS[2]


def test_blocked_dns_query_gives_the_egress_hint_not_the_cross_namespace_one():
    other = client("elsewhere", "client2", "10.244.2.30")
    deny = policy("elsewhere", "deny-egress", {"podSelector": {}, "policyTypes": ["Egress"]})
    lk = lookup(world([WEB, other], [SVC], [deny]), other, "my-service")
    assert not lk.reachable
    assert any("kube-dns" in h for h in lk.hints)
    assert not any("my-service.app" in h for h in lk.hints)  # the namespace is not the problem here
    assert not any("resolves to" in line or "-> A" in line for line in lk.trace)  # no answer came back


def test_lookup_of_a_short_name_from_another_namespace_carries_the_hint():
    other = client("elsewhere", "client2", "10.244.2.30")
    lk = lookup(world([WEB, other], [SVC]), other, "my-service")
    assert lk.reachable and not lk.ok
    assert any("my-service.app" in h for h in lk.hints)
