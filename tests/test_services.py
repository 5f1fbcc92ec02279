"""Services and endpoints: which pods (or hand-written addresses) stand behind each Service port."""

from __future__ import annotations

from grader.model.objects import ContainerPort, Node, Pod, Raw, Service, ServicePort, World
from grader.model.services import (
    endpoint_diagnosis,
    endpoints,
    find_by_load_balancer_ip,
    find_by_node_port,
    find_service_by_ip,
    ready_endpoints,
    service_port,
)


def pod(name, labels, ip, ns="lesson2", ready=True, ports=(), node="course-worker", **kw):
    return Pod(namespace=ns, name=name, labels=dict(labels), ip=ip, node=node, ports=list(ports), ready=ready, **kw)


def svc(name="web", ns="lesson2", selector=None, ports=None, **kw):
    if ports is None:
        ports = [ServicePort(port=80, target_port=8080)]
    return Service(namespace=ns, name=name, selector=selector, cluster_ip=kw.pop("cluster_ip", "10.96.0.50"),
                   ports=ports, **kw)


HTTP = ContainerPort(port=8080, name="http")


def ips(eps):
    return [e.ip for e in eps]


def test_selector_picks_matching_pods_of_its_own_namespace_only():
    s = svc(selector={"app": "web"})
    world = World(
        pods=[
            pod("a", {"app": "web"}, "10.244.1.2"),
            pod("b", {"app": "db"}, "10.244.1.3"),
            pod("c", {"app": "web"}, "10.244.1.4", ns="other"),
        ],
        services=[s],
    )
    eps = endpoints(world, s, s.ports[0])
    assert ips(eps) == ["10.244.1.2"]
    assert eps[0].pod == "lesson2/a" and eps[0].port == 8080 and eps[0].node == "course-worker"


def test_selector_must_match_every_key():
    s = svc(selector={"app": "web", "tier": "front"})
    world = World(pods=[pod("a", {"app": "web"}, "10.244.1.2"), pod("b", {"app": "web", "tier": "front", "x": "y"}, "10.244.1.3")],
                  services=[s])
    assert ips(endpoints(world, s, s.ports[0])) == ["10.244.1.3"]


def test_empty_selector_selects_every_pod_in_the_namespace():
    s = svc(selector={})
    world = World(pods=[pod("a", {"app": "web"}, "10.244.1.2"), pod("b", {}, "10.244.1.3"),
                        pod("c", {}, "10.244.1.9", ns="other")], services=[s])
    assert sorted(ips(endpoints(world, s, s.ports[0]))) == ["10.244.1.2", "10.244.1.3"]


def test_no_selector_and_no_endpoint_objects_means_no_endpoints():
    s = svc(selector=None)
    world = World(pods=[pod("a", {"app": "web"}, "10.244.1.2")], services=[s])
    assert endpoints(world, s, s.ports[0]) == []
    [reason] = endpoint_diagnosis(world, s)
    assert "no selector" in reason and "Endpoints object named web" in reason


def test_numeric_target_port_is_used_whatever_the_container_declares():
    s = svc(selector={"app": "web"}, ports=[ServicePort(port=80, target_port=9999)])
    world = World(pods=[pod("a", {"app": "web"}, "10.244.1.2", ports=[HTTP])], services=[s])
    assert [(e.ip, e.port) for e in endpoints(world, s, s.ports[0])] == [("10.244.1.2", 9999)]


def test_named_target_port_is_resolved_per_pod_and_pods_without_it_are_left_out():
    s = svc(selector={"app": "web"}, ports=[ServicePort(port=80, target_port="http")])
    world = World(
        pods=[
            pod("a", {"app": "web"}, "10.244.1.2", ports=[ContainerPort(8080, name="http")]),
            pod("b", {"app": "web"}, "10.244.1.3", ports=[ContainerPort(9090, name="http")]),
            pod("c", {"app": "web"}, "10.244.1.4", ports=[ContainerPort(8080, name="web")]),
        ],
        services=[s],
    )
    assert [(e.pod, e.port) for e in endpoints(world, s, s.ports[0])] == [("lesson2/a", 8080), ("lesson2/b", 9090)]
    # Asked without a port, every selected pod has an address (what headless DNS publishes).
    assert len(endpoints(world, s)) == 3


def test_named_target_port_must_have_the_service_ports_protocol():
    s = svc(selector={"app": "dns"}, ports=[ServicePort(port=53, target_port="dns", protocol="UDP", name="dns")])
    world = World(pods=[pod("a", {"app": "dns"}, "10.244.1.2", ports=[ContainerPort(5353, protocol="TCP", name="dns")])],
                  services=[s])
    assert endpoints(world, s, s.ports[0]) == []
    [reason] = endpoint_diagnosis(world, s)
    assert "container port named 'dns' is TCP" in reason and "53 is UDP" in reason


def test_several_ports_and_protocols_each_get_their_own_endpoints():
    ports = [
        ServicePort(port=53, target_port="dns", protocol="UDP", name="dns"),
        ServicePort(port=53, target_port="dns-tcp", protocol="TCP", name="dns-tcp"),
    ]
    s = svc(selector={"app": "dns"}, ports=ports)
    world = World(pods=[pod("a", {"app": "dns"}, "10.244.1.2", ports=[
        ContainerPort(1053, protocol="UDP", name="dns"), ContainerPort(2053, protocol="TCP", name="dns-tcp")])],
        services=[s])
    udp, tcp = (endpoints(world, s, p) for p in ports)
    assert [(e.port, e.protocol) for e in udp] == [(1053, "UDP")]
    assert [(e.port, e.protocol) for e in tcp] == [(2053, "TCP")]
    assert service_port(s, 53, "UDP") is ports[0] and service_port(s, 53, "TCP") is ports[1]
    assert service_port(s, 53, "SCTP") is None and service_port(s, 80, "TCP") is None


def test_not_ready_pods_are_listed_after_ready_ones_and_are_not_ready_endpoints():
    s = svc(selector={"app": "web"})
    world = World(pods=[pod("slow", {"app": "web"}, "10.244.1.2", ready=False), pod("ok", {"app": "web"}, "10.244.1.3")],
                  services=[s])
    eps = endpoints(world, s, s.ports[0])
    assert [(e.pod, e.ready) for e in eps] == [("lesson2/ok", True), ("lesson2/slow", False)]
    assert ips(ready_endpoints(world, s, s.ports[0])) == ["10.244.1.3"]


def test_publish_not_ready_addresses_counts_not_ready_pods_as_ready():
    s = svc(selector={"app": "web"}, publish_not_ready=True)
    world = World(pods=[pod("slow", {"app": "web"}, "10.244.1.2", ready=False)], services=[s])
    assert ips(ready_endpoints(world, s, s.ports[0])) == ["10.244.1.2"]
    assert endpoint_diagnosis(world, s) == []


def test_host_network_pods_are_endpoints_at_their_node_ip():
    s = svc(selector={"app": "agent"})
    world = World(nodes=[Node("course-worker2", "172.18.0.4")],
                  pods=[pod("agent", {"app": "agent"}, "10.244.2.7", node="course-worker2", host_network=True)],
                  services=[s])
    [e] = endpoints(world, s, s.ports[0])
    assert e.ip == "172.18.0.4" and e.pod == "lesson2/agent"


def test_endpoint_hostname_is_set_only_when_the_pod_subdomain_names_the_service():
    s = svc(name="db", selector={"app": "db"}, cluster_ip=None)
    world = World(pods=[
        pod("db-0", {"app": "db"}, "10.244.1.2", hostname="db-0", subdomain="db"),
        pod("db-x", {"app": "db"}, "10.244.1.3", hostname="db-x", subdomain="other"),
    ], services=[s])
    assert {e.pod: e.hostname for e in endpoints(world, s)} == {"lesson2/db-0": "db-0", "lesson2/db-x": None}


def _endpoints_object(subsets, name="ext"):
    return Raw(kind="Endpoints", namespace="lesson2", name=name,
               obj={"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": "lesson2"},
                    "subsets": subsets})


def test_manual_endpoints_object_with_a_single_unnamed_port():
    s = svc(name="ext", selector=None, ports=[ServicePort(port=80, target_port=80)])
    world = World(services=[s], endpoints=[_endpoints_object([
        {"addresses": [{"ip": "192.0.2.10"}], "notReadyAddresses": [{"ip": "192.0.2.11"}], "ports": [{"port": 8443}]}])])
    eps = endpoints(world, s, s.ports[0])
    assert [(e.ip, e.port, e.ready, e.pod) for e in eps] == [("192.0.2.10", 8443, True, None), ("192.0.2.11", 8443, False, None)]


def test_manual_endpoints_ports_are_matched_to_service_ports_by_name():
    ports = [ServicePort(port=80, target_port=80, name="http"), ServicePort(port=443, target_port=443, name="https")]
    s = svc(name="ext", selector=None, ports=ports)
    world = World(services=[s], endpoints=[_endpoints_object([
        {"addresses": [{"ip": "192.0.2.10"}], "ports": [{"name": "https", "port": 8443}, {"name": "http", "port": 8080}]}])])
    assert [e.port for e in endpoints(world, s, ports[0])] == [8080]
    assert [e.port for e in endpoints(world, s, ports[1])] == [8443]


def test_manual_endpoints_with_the_wrong_port_name_serve_nothing_and_say_why():
    ports = [ServicePort(port=80, target_port=80, name="http")]
    s = svc(name="ext", selector=None, ports=ports)
    world = World(services=[s], endpoints=[_endpoints_object([
        {"addresses": [{"ip": "192.0.2.10"}], "ports": [{"name": "web", "port": 8080}]}])])
    assert endpoints(world, s, ports[0]) == []
    [reason] = endpoint_diagnosis(world, s)
    assert "'http' port 80" in reason and "by name" in reason


def test_endpoints_object_must_have_the_service_name():
    s = svc(name="ext", selector=None)
    world = World(services=[s], endpoints=[_endpoints_object([{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80}]}],
                                                             name="ext-endpoints")])
    assert endpoints(world, s, s.ports[0]) == []


def _slice(endpoints_, ports, service="ext", name="ext-1"):
    return Raw(kind="EndpointSlice", namespace="lesson2", name=name, obj={
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": name, "namespace": "lesson2", "labels": {"kubernetes.io/service-name": service}},
        "endpoints": endpoints_, "ports": ports})


def test_endpoint_slice_ready_condition_absent_means_ready():
    s = svc(name="ext", selector=None, ports=[ServicePort(port=80, target_port=80, name="http")])
    world = World(services=[s], endpoints=[_slice(
        [{"addresses": ["192.0.2.10"]},
         {"addresses": ["192.0.2.11"], "conditions": {"ready": False}},
         {"addresses": ["192.0.2.12"], "conditions": {"ready": True}, "hostname": "b",
          "targetRef": {"kind": "Pod", "name": "b", "namespace": "lesson2"}}],
        [{"name": "http", "port": 8080, "protocol": "TCP"}])])
    eps = endpoints(world, s, s.ports[0])
    assert [(e.ip, e.ready) for e in eps] == [("192.0.2.10", True), ("192.0.2.12", True), ("192.0.2.11", False)]
    assert eps[1].pod == "lesson2/b" and eps[1].hostname == "b" and eps[1].port == 8080


def test_endpoint_slice_is_found_by_its_service_name_label_not_its_name():
    s = svc(name="ext", selector=None, ports=[ServicePort(port=80, target_port=80)])
    right = _slice([{"addresses": ["192.0.2.10"]}], [{"port": 80}], service="ext", name="anything")
    wrong = _slice([{"addresses": ["192.0.2.99"]}], [{"port": 80}], service="other", name="ext")
    world = World(services=[s], endpoints=[right, wrong])
    assert ips(endpoints(world, s, s.ports[0])) == ["192.0.2.10"]


def test_diagnosis_names_a_selector_typo_and_suggests_the_label():
    s = svc(selector={"app": "my-ap"})
    world = World(pods=[pod("a", {"app": "my-app"}, "10.244.1.2")], services=[s])
    [reason] = endpoint_diagnosis(world, s)
    assert reason.startswith("selector app=my-ap matches no pod in namespace lesson2; pods there have labels app=my-app")
    assert "(did you mean app=my-app?)" in reason


def test_diagnosis_suggests_a_misspelt_label_key():
    s = svc(selector={"ap": "web"})
    world = World(pods=[pod("a", {"app": "web"}, "10.244.1.2")], services=[s])
    assert "did you mean app=web?" in endpoint_diagnosis(world, s)[0]


def test_diagnosis_says_when_the_matching_pods_are_in_another_namespace():
    s = svc(selector={"app": "web"})
    world = World(pods=[pod("a", {"app": "web"}, "10.244.1.2", ns="default")], services=[s])
    [reason] = endpoint_diagnosis(world, s)
    assert "there are no pods in that namespace" in reason
    assert "exist in namespace default, but a Service only selects pods in its own namespace lesson2" in reason


def test_diagnosis_when_pods_match_but_none_is_ready():
    s = svc(selector={"app": "web"})
    world = World(pods=[pod("a", {"app": "web"}, "10.244.1.2", ready=False)], services=[s])
    assert endpoint_diagnosis(world, s) == ["pods match (a) but none is ready, so the Service has no ready endpoints"]


def test_diagnosis_when_the_named_target_port_is_missing():
    s = svc(selector={"app": "web"}, ports=[ServicePort(port=80, target_port="http")])
    world = World(pods=[pod("x", {"app": "web"}, "10.244.1.2", ports=[ContainerPort(8080, name="web")])], services=[s])
    [reason] = endpoint_diagnosis(world, s)
    assert "pod x matches but has no container port named 'http' (targetPort of Service port 80)" in reason
    assert "its named ports: web" in reason


def test_no_diagnosis_for_a_healthy_service():
    s = svc(selector={"app": "web"})
    world = World(pods=[pod("a", {"app": "web"}, "10.244.1.2")], services=[s])
    assert endpoint_diagnosis(world, s) == []


def test_find_service_by_cluster_ip_includes_the_builtin_kubernetes_service():
    s = svc(selector={"app": "web"}, cluster_ip="10.96.3.4")
    world = World(services=[s])
    assert find_service_by_ip(world, "10.96.3.4") is s
    assert find_service_by_ip(world, "10.96.0.1").key == "default/kubernetes"
    assert find_service_by_ip(world, "10.96.0.10").key == "kube-system/kube-dns"
    assert find_service_by_ip(world, "10.96.9.9") is None
    [api] = ready_endpoints(world, find_service_by_ip(world, "10.96.0.1"), ServicePort(port=443, target_port=6443, name="https"))
    assert (api.ip, api.port) == ("172.18.0.2", 6443)


def test_headless_services_have_no_cluster_ip_to_find():
    s = svc(name="db", selector={"app": "db"}, cluster_ip=None)
    assert find_service_by_ip(World(services=[s]), "None") is None


def test_find_by_node_port_matches_number_and_protocol_of_nodeport_and_loadbalancer_services():
    np_ = svc(name="np", type="NodePort", ports=[ServicePort(port=80, target_port=8080, node_port=30080)])
    lb = svc(name="lb", type="LoadBalancer", load_balancer_ip="172.18.0.200",
             ports=[ServicePort(port=53, target_port=53, protocol="UDP", node_port=30053)])
    plain = svc(name="plain", ports=[ServicePort(port=80, target_port=8080, node_port=30090)])
    world = World(services=[np_, lb, plain])
    assert find_by_node_port(world, 30080, "TCP") == (np_, np_.ports[0])
    assert find_by_node_port(world, 30080, "UDP") is None
    assert find_by_node_port(world, 30053, "UDP") == (lb, lb.ports[0])
    assert find_by_node_port(world, 30090, "TCP") is None  # a ClusterIP Service opens no node port
    assert find_by_load_balancer_ip(world, "172.18.0.200") is lb
    assert find_by_load_balancer_ip(world, "172.18.0.201") is None


def test_external_name_services_have_no_endpoints():
    s = Service(namespace="lesson2", name="ext", type="ExternalName", external_name="example.com")
    world = World(pods=[pod("a", {}, "10.244.1.2")], services=[s])
    assert endpoints(world, s) == [] and endpoint_diagnosis(world, s) == []
