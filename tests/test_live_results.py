"""The live backend's Result.data carries the simulator's keys, read from realistic API objects.

The lesson checks read data["type"], ["answers"], ["fqdn"], ["cname"] (Resolve), data["service"] and
["endpoint"] (Connect, Http) and data["cert_sans"] (Http). These tests run the live backend against the
in-process fake API server (real client, real HTTP, exec over websockets) and, for Http, a local HTTP(S)
server that behaves like agnhost netexec --http-override=/hostname behind an ingress.
"""

from __future__ import annotations

import http.server

import pytest
from kubernetes import client as k8s

from fake_apiserver import ExecScript, FakeApiServer, exit_status
from grader.backends.live import LiveBackend, ingress_entry_address
from grader.kube.client import KubeClient
from grader.kube.lookup import (
    choose_service,
    ingress_for,
    pods_with_ips,
    ready_endpoint_pods,
    service_by_cluster_ip,
    service_for_host,
    service_name_in_fqdn,
    services_selecting,
)
from grader.probes import Connect, Http, Resolve


pytestmark = pytest.mark.usefixtures("private_state")  # tests/conftest.py


def pod(ns, name, ip, labels, node="course-worker", owner=None):
    meta = {"name": name, "namespace": ns, "labels": labels, "uid": f"uid-{name}"}
    if owner:
        meta["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner, "controller": True}]
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {"nodeName": node, "containers": [{"name": "netexec", "image": "registry.k8s.io/e2e-test-images/agnhost:2.66.1",
                                                   "ports": [{"containerPort": 8080, "name": "http", "protocol": "TCP"}]}]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                   "conditions": [{"type": "Ready", "status": "True"}]},
    }


def service(ns, name, cluster_ip, selector=None, **spec):
    body = {"type": "ClusterIP", "clusterIP": cluster_ip, "clusterIPs": [cluster_ip],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP", "targetPort": 8080}], **spec}
    if selector is not None:
        body["selector"] = selector
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "namespace": ns}, "spec": body}


def endpoint_slice(ns, svc, pods):
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "addressType": "IPv4",
        "metadata": {"name": f"{svc}-x7k2p", "namespace": ns, "labels": {"kubernetes.io/service-name": svc}},
        "endpoints": [{"addresses": [p["status"]["podIP"]], "conditions": {"ready": True, "serving": True},
                       "nodeName": p["spec"]["nodeName"],
                       "targetRef": {"kind": "Pod", "namespace": ns, "name": p["metadata"]["name"], "uid": p["metadata"]["uid"]}}
                      for p in pods],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    }


def ingress(ns, name, rules, address="127.0.0.1", default=None, tls=None):
    spec = {"ingressClassName": "cloud-provider-kind", "rules": rules}
    if default:
        spec["defaultBackend"] = {"service": {"name": default, "port": {"number": 80}}}
    if tls:
        spec["tls"] = tls
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": ns},
            "spec": spec, "status": {"loadBalancer": {"ingress": [{"ip": address}] if address else []}}}


def rule(host, *paths):
    return {"host": host, "http": {"paths": [
        {"path": p, "pathType": t, "backend": {"service": {"name": s, "port": {"number": 80}}}} for p, t, s in paths]}}


# A lesson-3/5/6-like cluster: a client, a ClusterIP Service with two pods, one with one pod, a headless one,
# an ExternalName, and a Service in another namespace.
CLIENT = pod("lesson3", "client", "10.244.1.4", {"app": "client"})
WEB = [pod("lesson3", f"web-{i}", f"10.244.{i + 1}.{10 + i}", {"app": "web"}, owner="web") for i in range(2)]
BACKEND = pod("lesson3", "backend-5d8f7c9b6d-q2wzt", "10.244.2.20", {"app": "backend"}, owner="backend-5d8f7c9b6d")
FRONT = pod("lesson3-client", "client", "10.244.2.30", {"app": "client"})
OBJECTS = [
    CLIENT, *WEB, BACKEND, FRONT,
    service("lesson3", "my-service", "10.96.44.7", {"app": "backend"}),
    endpoint_slice("lesson3", "my-service", [BACKEND]),
    service("lesson3", "web", "None", {"app": "web"}),
    endpoint_slice("lesson3", "web", WEB),
    service("lesson3", "spread", "10.96.50.1", {"app": "web"}),
    endpoint_slice("lesson3", "spread", WEB),
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "external-api", "namespace": "lesson3"},
     "spec": {"type": "ExternalName", "externalName": "example.com"}},
    service("kube-system", "kube-dns", "10.96.0.10", {"k8s-app": "kube-dns"}),
]


@pytest.fixture
def api():
    with FakeApiServer() as server:
        for obj in OBJECTS:
            server.put(obj)
        yield server


@pytest.fixture
def backend(api):
    cfg = k8s.Configuration()
    cfg.host = api.url
    return LiveBackend(KubeClient(k8s.ApiClient(cfg), "kind-course"), "lesson3", ["lesson3", "lesson3-client"],
                       policy_enforced=True)


def dig(status, *records):
    lines = [f";; ->>HEADER<<- opcode: QUERY, status: {status}, id: 7"]
    return "\n".join(lines + [f"{owner}. 30 IN {rtype} {data}" for owner, rtype, data in records]) + "\n"


# ---- pure lookups on API objects -----------------------------------------------------------------


def test_service_names_in_cluster_dns_names():
    assert service_name_in_fqdn("my-service.lesson3.svc.cluster.local.") == ("lesson3", "my-service")
    assert service_name_in_fqdn("web-0.web.lesson3.svc.cluster.local") == ("lesson3", "web")
    assert service_name_in_fqdn("_http._tcp.web.lesson3.svc.cluster.local") == ("lesson3", "web")
    assert service_name_in_fqdn("10-244-1-4.lesson3.pod.cluster.local") is None
    assert service_name_in_fqdn("example.com") is None


def test_a_short_name_follows_the_source_pods_search_list():
    existing = {("lesson3", "my-service"), ("lesson6", "web")}
    get = lambda ns, name: {} if (ns, name) in existing else None  # noqa: E731
    assert service_for_host("my-service", "lesson3", get) == "lesson3/my-service"
    # from another namespace a short name means that namespace's Service, which does not exist
    assert service_for_host("my-service", "lesson3-client", get) is None
    assert service_for_host("my-service.lesson3", "lesson3-client", get) == "lesson3/my-service"
    assert service_for_host("web.lesson6.svc.cluster.local", "lesson6-frontend", get) == "lesson6/web"
    assert service_for_host("example.com", "lesson3", get) is None


def test_ips_map_to_services_and_pods():
    assert service_by_cluster_ip(OBJECTS, "10.96.44.7") == "lesson3/my-service"
    assert service_by_cluster_ip(OBJECTS, "10.244.2.20") is None
    assert pods_with_ips(OBJECTS, ["10.244.2.11", "10.244.1.10", "10.96.44.7"]) == ["lesson3/web-1", "lesson3/web-0"]
    host_net = pod("lesson3", "node-agent", "172.18.0.3", {})
    host_net["spec"]["hostNetwork"] = True
    assert pods_with_ips([host_net], ["172.18.0.3"]) == []


def test_ready_endpoints_and_selecting_services():
    assert ready_endpoint_pods(OBJECTS, "lesson3/my-service") == ["lesson3/backend-5d8f7c9b6d-q2wzt"]
    assert ready_endpoint_pods(OBJECTS, "lesson3/web") == ["lesson3/web-0", "lesson3/web-1"]
    not_ready = endpoint_slice("lesson3", "my-service", [BACKEND])
    not_ready["endpoints"][0]["conditions"]["ready"] = False
    assert ready_endpoint_pods([not_ready], "lesson3/my-service") == []
    assert services_selecting(OBJECTS, WEB[0]) == ["lesson3/spread", "lesson3/web"]
    assert services_selecting(OBJECTS, FRONT) == []


def test_of_several_selecting_services_the_one_an_ingress_names_wins():
    ings = [ingress("lesson3", "shop", [rule("shop.example.com", ("/", "Prefix", "spread"))])]
    assert choose_service(["lesson3/spread", "lesson3/web"], ings, "shop.example.com") == "lesson3/spread"
    assert choose_service(["lesson3/web"], [], "shop.example.com") == "lesson3/web"
    assert ingress_for(ings, "lesson3/spread", "shop.example.com") == "lesson3/shop"
    assert ingress_for(ings, "lesson3/web", "shop.example.com") is None


def test_the_ingress_entry_point_prefers_the_host_then_a_default_backend():
    by_host = ingress("lesson5", "a", [rule("myapp.example.com", ("/", "Prefix", "my-service"))], address="172.18.0.5")
    fallback = ingress("lesson5", "b", [rule("other.example.com", ("/", "Prefix", "x"))], address="172.18.0.6",
                       default="fallback-service")
    pending = ingress("lesson5", "c", [rule("myapp.example.com", ("/", "Prefix", "y"))], address=None)
    assert ingress_entry_address([fallback, by_host, pending], "myapp.example.com") == "172.18.0.5"
    # a host no rule names still enters somewhere: the default backend, or the controller's own 404
    assert ingress_entry_address([by_host, fallback], "nothing.example.org") == "172.18.0.6"
    assert ingress_entry_address([by_host], "nothing.example.org") == "172.18.0.5"
    assert ingress_entry_address([pending], "myapp.example.com") is None


# ---- Resolve ---------------------------------------------------------------------------------------


def test_resolve_a_clusterip_service_reports_type_answers_fqdn_and_service(api, backend):
    api.exec_handler = lambda ns, p, cmd: ExecScript(stdout=dig("NOERROR", ("my-service.lesson3.svc.cluster.local", "A", "10.96.44.7")))
    (r,) = backend.run([Resolve("lesson3/client", "my-service")])
    assert r.ok
    assert (r.data["type"], r.data["answers"], r.data["fqdn"]) == ("A", ["10.96.44.7"], "my-service.lesson3.svc.cluster.local")
    assert (r.data["service"], r.data["pods"], r.data["cname"]) == ("lesson3/my-service", [], None)


def test_resolve_a_headless_service_names_the_pods_behind_the_answers(api, backend):
    api.exec_handler = lambda ns, p, cmd: ExecScript(stdout=dig(
        "NOERROR", ("web.lesson3.svc.cluster.local", "A", "10.244.1.10"), ("web.lesson3.svc.cluster.local", "A", "10.244.2.11")))
    (r,) = backend.run([Resolve("lesson3/client", "web.lesson3.svc.cluster.local")])
    assert r.ok and r.data["type"] == "A"
    assert r.data["pods"] == ["lesson3/web-0", "lesson3/web-1"] and r.data["service"] == "lesson3/web"


def test_resolve_an_externalname_answers_its_cname_target(api, backend):
    api.exec_handler = lambda ns, p, cmd: ExecScript(stdout=dig(
        "NOERROR", ("external-api.lesson3.svc.cluster.local", "CNAME", "example.com."), ("example.com", "A", "93.184.215.14")))
    (r,) = backend.run([Resolve("lesson3/client", "external-api.lesson3.svc.cluster.local")])
    assert r.ok
    assert (r.data["type"], r.data["answers"], r.data["cname"]) == ("CNAME", ["example.com"], "example.com")
    assert r.data["service"] == "lesson3/external-api"


def test_resolve_an_unknown_name_is_nxdomain_and_dns_timeout_has_no_type(api, backend):
    api.exec_handler = lambda ns, p, cmd: ExecScript(stdout=dig("NXDOMAIN"), status=exit_status(0))
    (r,) = backend.run([Resolve("lesson3/client", "my-servce")])
    assert (r.ok, r.verdict, r.data["type"], r.data["answers"], r.data["fqdn"]) == (False, "not-found", "NXDOMAIN", [], None)
    api.exec_handler = lambda ns, p, cmd: ExecScript(stdout=";; connection timed out; no servers could be reached\n",
                                                     status=exit_status(9))
    (r,) = backend.run([Resolve("lesson3/client", "my-service")])
    assert (r.ok, r.verdict, r.data["type"]) == (False, "dns-failure", None)


# ---- Connect ---------------------------------------------------------------------------------------


def connected(ns, p, cmd):
    return ExecScript(status=exit_status(0))


def test_connect_by_clusterip_names_the_service_and_its_single_endpoint(api, backend):
    api.exec_handler = connected
    (r,) = backend.run([Connect("lesson3/client", "10.96.44.7", 80)])
    assert (r.data["service"], r.data["endpoint"]) == ("lesson3/my-service", "lesson3/backend-5d8f7c9b6d-q2wzt")


def test_connect_by_name_expands_the_search_list_of_the_source_namespace(api, backend):
    api.exec_handler = connected
    short, qualified, dns = backend.run([Connect("lesson3-client/client", "my-service", 80),
                                         Connect("lesson3-client/client", "my-service.lesson3", 80),
                                         Connect("lesson3/client", "10.96.0.10", 53, "UDP")])
    assert short.data["service"] is None  # lesson3-client has no my-service; a real lookup would fail too
    assert qualified.data["service"] == "lesson3/my-service"
    assert dns.data["service"] == "kube-system/kube-dns"


def test_connect_endpoint_is_left_unknown_when_several_pods_could_have_answered(api, backend):
    api.exec_handler = connected
    via_service, to_pod = backend.run([Connect("lesson3/client", "spread", 80), Connect("lesson3/client", "10.244.2.11", 8080)])
    assert (via_service.data["service"], via_service.data["endpoint"]) == ("lesson3/spread", None)
    assert (to_pod.data["service"], to_pod.data["endpoint"]) == (None, "lesson3/web-1")


def test_a_blocked_connection_names_the_service_but_no_endpoint(api, backend):
    api.exec_handler = lambda ns, p, cmd: ExecScript(stderr="TIMEOUT\n", status=exit_status(1))
    (r,) = backend.run([Connect("lesson3/client", "my-service", 80)])
    assert not r.ok and (r.data["service"], r.data["endpoint"]) == ("lesson3/my-service", None)


# ---- Http through an ingress to netexec --http-override=/hostname ---------------------------------

LESSON5 = [
    pod("lesson5", "my-app-6b7c9d5f4-abcde", "10.244.1.50", {"app": "my-app"}, owner="my-app-6b7c9d5f4"),
    pod("lesson5", "api-5f6d8b7c9-fghij", "10.244.2.51", {"app": "api"}, owner="api-5f6d8b7c9"),
    pod("lesson5", "fallback-7c8d9e6f5-klmno", "10.244.1.52", {"app": "fallback"}, owner="fallback-7c8d9e6f5"),
    service("lesson5", "my-service", "10.96.10.1", {"app": "my-app"}),
    service("lesson5", "api-service", "10.96.10.2", {"app": "api"}),
    service("lesson5", "fallback-service", "10.96.10.3", {"app": "fallback"}),
    # a second Service selecting the my-app pods, which no Ingress names
    service("lesson5", "my-app-debug", "10.96.10.4", {"app": "my-app"}),
]


class _Controller(http.server.BaseHTTPRequestHandler):
    """An ingress controller in front of netexec pods that answer every path with their pod name."""

    def do_GET(self):
        host = (self.headers["Host"] or "").split(":")[0]
        if host != "myapp.example.com":
            name = "fallback-7c8d9e6f5-klmno"
        elif self.path == "/api" or self.path.startswith("/api/"):
            name = "api-5f6d8b7c9-fghij"
        else:
            name = "my-app-6b7c9d5f4-abcde"
        body = name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


@pytest.fixture
def controller(tmp_path):
    from test_live_probes import plain_and_tls_servers

    with plain_and_tls_servers(tmp_path, _Controller, "myapp.example.com", ["myapp.example.com"]) as ports:
        yield ports


@pytest.fixture
def lesson5(api):
    for obj in LESSON5:
        api.put(obj)
    api.put(ingress("lesson5", "myapp", [rule("myapp.example.com", ("/", "Prefix", "my-service"), ("/api", "Prefix", "api-service"))],
                    default="fallback-service", tls=[{"hosts": ["myapp.example.com"], "secretName": "myapp-tls"}]))
    cfg = k8s.Configuration()
    cfg.host = api.url
    return LiveBackend(KubeClient(k8s.ApiClient(cfg), "kind-course"), "lesson5", ["lesson5"], policy_enforced=True)


def test_http_names_the_pod_service_and_ingress_that_answered(lesson5, controller):
    port, _ = controller
    root, api_path, other = lesson5.run([Http("ingress", "myapp.example.com", "/", port=port),
                                         Http("ingress", "myapp.example.com", "/api/v1/users", port=port),
                                         Http("ingress", "nothing.example.org", "/", port=port)])
    assert (root.ok, root.data["status"]) == (True, 200)
    assert root.data["endpoint"] == "lesson5/my-app-6b7c9d5f4-abcde"
    assert root.data["service"] == "lesson5/my-service"  # not my-app-debug: the Ingress names my-service
    assert root.data["ingress"] == "lesson5/myapp"
    assert (api_path.data["service"], api_path.data["endpoint"]) == ("lesson5/api-service", "lesson5/api-5f6d8b7c9-fghij")
    assert other.data["service"] == "lesson5/fallback-service" and other.data["ingress"] == "lesson5/myapp"
    assert any("answered by pod lesson5/my-app-6b7c9d5f4-abcde" in e for e in root.evidence)


def test_https_reports_the_served_certificate_under_the_simulators_keys(lesson5, controller):
    _, tls_port = controller
    (r,) = lesson5.run([Http("ingress", "myapp.example.com", "/", port=tls_port, tls=True)])
    assert r.ok
    assert r.data["cert_sans"] == ["myapp.example.com"]
    assert (r.data["cert_subject"], r.data["cert_issuer"]) == ("myapp.example.com", "myapp.example.com")
    assert r.data["service"] == "lesson5/my-service"


def test_a_body_that_names_no_pod_gives_no_endpoint(lesson5, api):
    assert lesson5._http_facts(Http("ingress", "myapp.example.com"), "NOW: 2026-11-02 10:00:00")["endpoint"] is None
    assert lesson5._http_facts(Http("ingress", "myapp.example.com"), "no-such-pod")["service"] is None
    lb = lesson5._http_facts(Http("loadbalancer:lesson5/my-service", "myapp.example.com"), "")
    assert (lb["service"], lb["endpoint"], lb["ingress"]) == ("lesson5/my-service", None, None)


def test_no_ingress_address_is_an_error_with_the_simulators_keys(api):
    api.put(ingress("lesson5", "myapp", [rule("myapp.example.com", ("/", "Prefix", "my-service"))], address=None))
    cfg = k8s.Configuration()
    cfg.host = api.url
    b = LiveBackend(KubeClient(k8s.ApiClient(cfg), "kind-course"), "lesson5", ["lesson5"], policy_enforced=True)
    (r,) = b.run([Http("ingress", "myapp.example.com")])
    assert (r.ok, r.data["status"], r.data["service"], r.data["cert_sans"]) == (False, None, None, [])
    assert "has an address yet" in r.evidence[0]


def test_a_read_the_account_may_not_make_is_a_failed_probe_not_a_traceback():
    from kubernetes.client.exceptions import ApiException

    from grader.probes import Http

    class ForbiddenClient:
        context = "kind-course"

        def get(self, *args, **kwargs):
            raise ApiException(status=403, reason="Forbidden")

        list = get

    b = LiveBackend(ForbiddenClient(), "lesson2", ["alice-lesson2"], policy_enforced=True)
    (r,) = b.run([Http("loadbalancer:bob-lesson2/my-lb", "example.test", "/")])
    assert not r.ok and r.verdict == "error"
    assert "refused a read" in r.evidence[0] and "403" in r.evidence[0]
    assert r.kubectl.startswith("curl")


# ---- reproduce commands carry the context and the lesson's own Ingress (issue 10, section 3, item 9) ----


def _ingress(ns, name, host, address=None):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": name, "namespace": ns},
            "spec": {"rules": [{"host": host, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {
                "service": {"name": "web", "port": {"number": 80}}}}]}}]},
            "status": {"loadBalancer": {"ingress": [{"ip": address}]} if address else {}}}


def test_the_ingress_reproduce_command_names_the_lessons_ingress_and_the_context(private_state):
    from fake_apiserver import FakeApiServer
    from kubernetes import client as k8s

    from grader.backends.live import LiveBackend
    from grader.kube.client import KubeClient
    from grader.probes import Http

    with FakeApiServer() as api:
        api.put(_ingress("aaa-other-team", "first-in-the-cluster", "shop.example.com"))  # listed first cluster-wide
        api.put(_ingress("lesson5", "catch-all", "other.example.com"))
        api.put(_ingress("lesson5", "shop", "shop.example.com"))
        cfg = k8s.Configuration()
        cfg.host = api.url
        backend = LiveBackend(KubeClient(k8s.ApiClient(cfg), "my-lab"), "lesson5", ["lesson5"])
        (result,) = backend.run([Http("ingress", "shop.example.com", "/")])
    assert not result.ok  # no Ingress has an address: the reproduce command is the kubectl one
    assert "kubectl --context my-lab get ingress -n lesson5 shop -o jsonpath=" in result.kubectl
    assert "first-in-the-cluster" not in result.kubectl and "-A" not in result.kubectl
    assert any("kubectl --context my-lab get ingress -n lesson5" in line for line in result.evidence)


def test_the_load_balancer_reproduce_command_carries_the_context():
    from grader.probes import Http, kubectl_for

    command = kubectl_for(Http("loadbalancer:lesson5/web-lb", "web.example.com", "/"), context="my-lab")
    assert "$(kubectl --context my-lab get svc -n lesson5 web-lb -o jsonpath=" in command


def test_the_lesson_ingress_is_ranked_by_host_then_by_the_lessons_namespaces():
    from grader.backends.live import lesson_ingress

    ingresses = [_ingress("lesson5-b", "b", "shop.example.com", "172.18.0.9"),
                 _ingress("lesson5", "a", "shop.example.com", "172.18.0.8"),
                 _ingress("lesson5", "other", "other.example.com", "172.18.0.7")]
    assert lesson_ingress(ingresses, "shop.example.com", ["lesson5", "lesson5-b"])["metadata"]["name"] == "a"
    assert lesson_ingress(ingresses, "shop.example.com", ["lesson5-b", "lesson5"])["metadata"]["name"] == "b"
