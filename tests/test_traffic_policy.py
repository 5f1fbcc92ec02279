"""externalTrafficPolicy, internalTrafficPolicy and the proxies in front of Services, as the course cluster runs them.

The rules (kube-proxy iptables mode; cloud-provider-kind's Envoy for LoadBalancer and Ingress) are in the
docstrings of grader.model.connect and grader.model.external. Each test builds a world from manifests, the
way `grade sim` and the lessons do, so placements come from the simulated scheduler.
"""

from __future__ import annotations

import textwrap

import pytest

from grader.manifests import load_text
from grader.model import external
from grader.model.connect import connect
from grader.model.objects import NODE_IPS
from grader.model.workloads import build_world

CONTROL_PLANE, WORKER, WORKER2 = "course-control-plane", "course-worker", "course-worker2"


def app(replicas: int = 1, placement: str = "", extra_labels: str = "") -> str:
    """A netexec Deployment `web` (HTTP on 8080); `placement` is indented pod-spec YAML."""
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web, namespace: demo}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web{extra_labels}}}}}
    spec:
{placement}      containers:
      - name: netexec
        image: registry.k8s.io/e2e-test-images/agnhost:2.66.1
        args: ["netexec", "--http-port=8080"]
        ports: [{{containerPort: 8080, name: http}}]
---
"""


def service(kind: str = "NodePort", etp: str | None = None, itp: str | None = None, node_port: int = 30080, target: str = "8080") -> str:
    policy = (f"\n  externalTrafficPolicy: {etp}" if etp else "") + (f"\n  internalTrafficPolicy: {itp}" if itp else "")
    port = f"{{port: 80, targetPort: {target}" + (f", nodePort: {node_port}" if kind in ("NodePort", "LoadBalancer") else "") + "}"
    return f"""
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: demo}}
spec:
  type: {kind}{policy}
  selector: {{app: web}}
  ports: [{port}]
---
"""


def client(placement: str = "") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: demo}}
spec:
{placement}  containers: [{{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.66.1, args: [pause]}}]
---
"""


def world_of(*docs: str):
    return build_world(load_text(textwrap.dedent("".join(docs)), "t.yaml"), include_system=True)


ON_WORKER = "      nodeName: course-worker\n"


def test_local_nodeport_entered_on_a_node_without_an_endpoint_drops_the_packet_and_the_trace_says_why():
    w = world_of(app(placement=ON_WORKER), service(etp="Local"))
    o = external.request(w, "nodeport", "localhost", "/hostname", port=30080)  # localhost:30080 enters at the control-plane
    assert not o.ok and o.error == "dropped"
    text = "\n".join(o.trace)
    assert "externalTrafficPolicy: Local" in text and CONTROL_PLANE in text and "drops the packet" in text
    assert f"demo/web-" in text and f"on {WORKER}" in text
    assert any("externalTrafficPolicy: Local" in h for h in o.hints)


def test_cluster_nodeport_forwards_to_another_node_and_masquerades_the_client():
    w = world_of(app(placement=ON_WORKER), service())
    c = connect(w, None, NODE_IPS[0], 30080, src_ip=external.HOST_SOURCE)
    assert c.ok and c.client_ip == NODE_IPS[0]
    assert any("externalTrafficPolicy: Cluster" in line and "masquerades" in line for line in c.trace)


def test_local_nodeport_on_the_endpoints_node_keeps_the_client_address():
    w = world_of(app(placement=ON_WORKER), service(etp="Local"))
    c = connect(w, None, NODE_IPS[1], 30080, src_ip="172.18.0.1")
    assert c.ok and c.client_ip == "172.18.0.1"
    assert any("no SNAT" in line for line in c.trace)


def test_a_pod_reaching_a_local_nodeport_is_treated_as_cluster_traffic():
    w = world_of(app(placement=ON_WORKER), service(etp="Local"), client("  nodeName: course-worker2\n"))
    c = connect(w, w.pod("demo/client"), NODE_IPS[2], 30080)  # course-worker2 has no endpoint
    assert c.ok and c.client_ip == w.pod("demo/client").ip


def test_a_local_service_without_any_endpoint_is_refused_not_dropped():
    w = world_of(service(etp="Local"))
    c = connect(w, None, NODE_IPS[0], 30080, src_ip="172.18.0.1")
    assert c.verdict == "no-endpoints"


def test_internal_traffic_policy_local_serves_only_clients_on_an_endpoints_node():
    far = world_of(app(placement=ON_WORKER), service(kind="ClusterIP", itp="Local"), client("  nodeName: course-worker2\n"))
    c = connect(far, far.pod("demo/client"), "web", 80)
    assert c.verdict == "dropped"
    assert any("internalTrafficPolicy: Local" in line and WORKER2 in line for line in c.trace)
    near = world_of(app(placement=ON_WORKER), service(kind="ClusterIP", itp="Local"), client("  nodeName: course-worker\n"))
    assert connect(near, near.pod("demo/client"), "web", 80).ok


def test_a_local_verdict_that_rests_on_a_guessed_placement_says_so():
    w = world_of(app(), service(kind="ClusterIP", itp="Local"), client())  # neither pod is pinned
    c = connect(w, w.pod("demo/client"), "web", 80)
    assert "simulator's guess" in c.placement_note
    assert any("simulator's guess" in line for line in c.trace)


def test_a_pinned_local_verdict_carries_no_placement_note():
    w = world_of(app(placement=ON_WORKER), service(kind="ClusterIP", itp="Local"), client("  nodeName: course-worker2\n"))
    assert connect(w, w.pod("demo/client"), "web", 80).placement_note == ""


@pytest.mark.parametrize("etp, seen", [("Cluster", "node"), ("Local", "load balancer")])
def test_loadbalancer_proxies_to_a_worker_and_the_pod_never_sees_the_client(etp, seen):
    w = world_of(app(placement=ON_WORKER), service(kind="LoadBalancer", etp=etp))
    lb = w.service("demo", "web").load_balancer_ip
    c = connect(w, None, lb, 80, src_ip=external.HOST_SOURCE)
    assert c.ok
    assert c.client_ip == (lb if seen == "load balancer" else NODE_IPS[1])
    assert any("Envoy" in line for line in c.trace)


def test_loadbalancer_local_without_an_endpoint_on_a_worker_fails_at_the_proxy():
    # The only endpoint runs on the control-plane (it tolerates the taint): the LB leaves that node out.
    tolerate = ("      nodeName: course-control-plane\n")
    w = world_of(app(placement=tolerate), service(kind="LoadBalancer", etp="Local"))
    o = external.request(w, "loadbalancer:demo/web", "web", "/hostname")
    assert not o.ok
    assert any("panic" in line for line in o.trace) and any("closes it" in line for line in o.trace)


def ingress(backend_port: int = 80) -> str:
    return f"""
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: {{name: web, namespace: demo}}
spec:
  rules:
  - host: web.example.com
    http:
      paths:
      - {{path: /, pathType: Prefix, backend: {{service: {{name: web, port: {{number: {backend_port}}}}}}}}}
---
"""


def test_an_ingress_backend_that_refuses_gets_the_proxys_503_and_no_contradiction():
    w = world_of(app(), service(kind="ClusterIP", target="9999"), ingress())
    o = external.request(w, "ingress", "web.example.com", "/")
    assert o.status == 503 and not o.ok
    text = "\n".join(o.trace)
    assert "upstream connect error" in text and "connection failure" in text
    assert "the backend answers" not in text


def test_an_ingress_to_a_headless_service_is_a_5xx_on_cloud_provider_kind():
    headless = service(kind="ClusterIP").replace("  type: ClusterIP", "  clusterIP: None")
    w = world_of(app(), headless, ingress())
    o = external.request(w, "ingress", "web.example.com", "/")
    assert o.status == 503
    assert any("headless" in line for line in o.trace) and any("remove clusterIP: None" in h for h in o.hints)


def test_an_ingress_backend_sees_the_control_plane_as_the_source():
    w = world_of(app(), service(kind="ClusterIP"), ingress())
    o = external.request(w, "ingress", "web.example.com", "/")
    assert o.ok
    c = connect(w, None, w.service("demo", "web").cluster_ip, 80, src_ip=external.ENVOY_SOURCE, via_node=CONTROL_PLANE)
    assert c.client_ip == NODE_IPS[0]


def test_a_policy_verdict_for_a_host_network_pod_that_rests_on_a_shared_node_guess_says_so():
    agent = """
apiVersion: v1
kind: Pod
metadata: {name: agent, namespace: demo}
spec:
  hostNetwork: true
  containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.66.1, args: [pause]}]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: pods-only, namespace: demo}
spec:
  podSelector: {matchLabels: {app: web}}
  ingress: [{from: [{ipBlock: {cidr: 10.244.0.0/16}}]}]
---
"""
    w = world_of(app(), agent)
    web = next(p for p in w.pods if p.labels.get("app") == "web")
    c = connect(w, w.pod("demo/agent"), web.ip, 8080)
    # blocked from another node, always allowed from the pod's own node: which one is up to the scheduler
    assert "share a node" in c.placement_note
