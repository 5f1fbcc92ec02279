"""Cluster DNS as a pod sees it: search list and ndots, Service/headless/ExternalName/SRV/pod/PTR records."""

from __future__ import annotations

from grader.model.dns import lookup_fqdn, query_names, resolve, reverse, search_list
from grader.model.objects import ContainerPort, Namespace, Pod, Service, ServicePort, World


def pod(name, labels, ip, ns="lesson3", ready=True, **kw):
    return Pod(namespace=ns, name=name, labels=dict(labels), ip=ip, node="course-worker", ready=ready, **kw)


WEB = Service(namespace="lesson3", name="web", selector={"app": "web"}, cluster_ip="10.96.10.10",
              ports=[ServicePort(port=80, target_port=8080, name="http")])
DB = Service(namespace="lesson3", name="db", selector={"app": "db"}, cluster_ip=None,
             ports=[ServicePort(port=5432, target_port="pg", name="pg")])
API = Service(namespace="backend", name="api", selector={"app": "api"}, cluster_ip="10.96.20.20",
              ports=[ServicePort(port=8080, target_port=8080)])
PG = [ContainerPort(5432, name="pg")]


def world(**kw):
    base = dict(
        namespaces={"lesson3": Namespace("lesson3"), "backend": Namespace("backend")},
        pods=[
            pod("web-1", {"app": "web"}, "10.244.1.5"),
            pod("db-0", {"app": "db"}, "10.244.1.10", hostname="db-0", subdomain="db", ports=PG),
            pod("db-1", {"app": "db"}, "10.244.2.11", hostname="db-1", subdomain="db", ports=PG),
            pod("db-2", {"app": "db"}, "10.244.2.12", hostname="db-2", subdomain="db", ports=PG, ready=False),
        ],
        services=[WEB, DB, API],
    )
    base.update(kw)
    return World(**base)


def test_search_list_and_query_order_follow_ndots_5():
    assert search_list("lesson3") == ["lesson3.svc.cluster.local", "svc.cluster.local", "cluster.local"]
    assert query_names("web", "lesson3") == [
        "web.lesson3.svc.cluster.local", "web.svc.cluster.local", "web.cluster.local", "web"]
    five = "a.b.c.d.e.f"
    assert query_names(five, "lesson3")[0] == five  # 5 dots: as is first
    assert query_names("web.lesson3.svc.cluster.local.", "x") == ["web.lesson3.svc.cluster.local"]


def test_short_name_finds_a_service_of_the_pods_own_namespace():
    a = resolve(world(), "lesson3", "web")
    assert (a.type, a.answers, a.service) == ("A", ["10.96.10.10"], "lesson3/web")
    assert a.fqdn == "web.lesson3.svc.cluster.local"
    assert "search lesson3.svc.cluster.local svc.cluster.local cluster.local" in a.trace[0]


def test_short_name_does_not_find_a_service_in_another_namespace_and_says_where_it_is():
    a = resolve(world(), "lesson3", "api")
    assert a.type == "NXDOMAIN" and a.answers == []
    tried = [line.split(" ->")[0] for line in a.trace if " -> " in line]
    assert tried == ["api.lesson3.svc.cluster.local.", "api.svc.cluster.local.", "api.cluster.local.", "api."]
    assert any("Service api exists in namespace backend" in line and "use api.backend" in line for line in a.trace)


def test_name_dot_namespace_is_found_through_the_second_search_suffix():
    a = resolve(world(), "lesson3", "api.backend")
    assert a.answers == ["10.96.20.20"] and a.fqdn == "api.backend.svc.cluster.local"
    assert any(line.startswith("api.backend.lesson3.svc.cluster.local. -> NXDOMAIN") for line in a.trace)


def test_fully_qualified_names_with_and_without_trailing_dot():
    w = world()
    assert resolve(w, "default", "api.backend.svc.cluster.local").answers == ["10.96.20.20"]
    absolute = resolve(w, "default", "api.backend.svc.cluster.local.")
    assert absolute.answers == ["10.96.20.20"] and "absolute name" in absolute.trace[0]
    # An absolute name is never expanded: "web." is not web.<ns>.svc...
    assert resolve(w, "lesson3", "web.").type == "NXDOMAIN"


def test_names_are_case_insensitive():
    assert resolve(world(), "lesson3", "WEB.Lesson3.SVC.cluster.LOCAL").answers == ["10.96.10.10"]


def test_builtin_kubernetes_and_kube_dns_services_resolve_from_any_namespace():
    w = world()
    assert resolve(w, "lesson3", "kubernetes.default").answers == ["10.96.0.1"]
    assert resolve(w, "backend", "kube-dns.kube-system").answers == ["10.96.0.10"]
    assert resolve(w, "default", "kubernetes").service == "default/kubernetes"


def test_headless_service_answers_one_a_record_per_ready_endpoint():
    a = resolve(world(), "lesson3", "db")
    assert a.type == "A" and sorted(a.answers) == ["10.244.1.10", "10.244.2.11"]
    assert sorted(a.pods) == ["lesson3/db-0", "lesson3/db-1"]  # db-2 is not ready


def test_headless_service_with_no_ready_endpoint_is_nxdomain_with_the_reason():
    w = world(pods=[pod("db-0", {"app": "db"}, "10.244.1.10", ports=PG, ready=False)])
    a = resolve(w, "lesson3", "db.lesson3.svc.cluster.local.")
    assert a.type == "NXDOMAIN"
    assert any("headless Service lesson3/db has no ready endpoints (1 not ready" in line for line in a.trace)
    assert any("none is ready" in line for line in a.trace)


def test_publish_not_ready_addresses_puts_not_ready_pods_in_headless_answers():
    db = Service(namespace="lesson3", name="db", selector={"app": "db"}, cluster_ip=None, publish_not_ready=True,
                 ports=DB.ports)
    w = world(services=[db], pods=[pod("db-0", {"app": "db"}, "10.244.1.10", ports=PG, ready=False)])
    assert resolve(w, "lesson3", "db").answers == ["10.244.1.10"]


def test_statefulset_pod_names_under_the_headless_service():
    w = world()
    a = resolve(w, "lesson3", "db-1.db")
    assert (a.type, a.answers, a.pods) == ("A", ["10.244.2.11"], ["lesson3/db-1"])
    assert resolve(w, "backend", "db-0.db.lesson3").answers == ["10.244.1.10"]
    not_ready = resolve(w, "lesson3", "db-2.db.lesson3.svc.cluster.local.")
    assert not_ready.type == "NXDOMAIN"
    assert any("db-2 has that hostname but is not ready" in line for line in not_ready.trace)


def test_pod_hostname_needs_its_subdomain_to_name_the_service():
    w = world(pods=[pod("db-0", {"app": "db"}, "10.244.1.10", hostname="db-0", subdomain="database", ports=PG)])
    a = resolve(w, "lesson3", "db-0.db")
    assert a.type == "NXDOMAIN"
    assert any("pod lesson3/db-0 has hostname db-0 but subdomain database" in line for line in a.trace)


def test_pod_without_hostname_gets_a_name_only_from_its_ip():
    w = world(pods=[pod("db-x", {"app": "db"}, "10.244.1.10", ports=PG)])
    assert resolve(w, "lesson3", "db-x.db").type == "NXDOMAIN"
    assert resolve(w, "lesson3", "10-244-1-10.db").answers == ["10.244.1.10"]


def test_external_name_is_a_cname_and_outside_names_are_not_resolved():
    ext = Service(namespace="lesson3", name="search", type="ExternalName", external_name="www.example.com")
    a = resolve(world(services=[ext]), "lesson3", "search")
    assert (a.type, a.cname, a.answers, a.addresses) == ("CNAME", "www.example.com", ["www.example.com"], [])
    assert any("does not resolve names outside the cluster" in line for line in a.trace)


def test_external_name_pointing_inside_the_cluster_is_followed():
    alias = Service(namespace="lesson3", name="backend-api", type="ExternalName",
                    external_name="api.backend.svc.cluster.local")
    a = resolve(world(services=[alias, API]), "lesson3", "backend-api")
    assert a.type == "CNAME" and a.addresses == ["10.96.20.20"]


def test_srv_record_for_a_named_port_of_a_cluster_ip_service():
    a = resolve(world(), "lesson3", "_http._tcp.web", qtype="SRV")
    assert a.type == "SRV" and a.answers == ["0 100 80 web.lesson3.svc.cluster.local"]


def test_an_a_query_for_an_srv_name_answers_like_the_service_name():
    w = world()
    a = lookup_fqdn(w, "_http._tcp.web.lesson3.svc.cluster.local")
    plain = lookup_fqdn(w, "web.lesson3.svc.cluster.local")
    assert a.type == "A" and a.answers == plain.answers and a.fqdn == "_http._tcp.web.lesson3.svc.cluster.local"
    assert lookup_fqdn(w, "_nope._tcp.web.lesson3.svc.cluster.local").type == "NXDOMAIN"  # no such named port


def test_srv_records_of_a_headless_service_name_each_ready_endpoint():
    a = lookup_fqdn(world(), "_pg._tcp.db.lesson3.svc.cluster.local", qtype="SRV")
    assert sorted(a.answers) == ["0 50 5432 db-0.db.lesson3.svc.cluster.local",
                                 "0 50 5432 db-1.db.lesson3.svc.cluster.local"]


def test_srv_needs_a_named_port_with_that_protocol():
    w = world()
    assert resolve(w, "backend", "_http._tcp.api", qtype="SRV").type == "NXDOMAIN"  # api's port is unnamed
    udp = resolve(w, "lesson3", "_http._udp.web", qtype="SRV")
    assert udp.type == "NXDOMAIN" and any("no UDP port named http" in line for line in udp.trace)


def test_pod_a_records_answer_any_ip_in_an_existing_namespace():
    w = world()
    a = resolve(w, "lesson3", "10-244-1-5.lesson3.pod")
    assert a.answers == ["10.244.1.5"] and a.pods == ["lesson3/web-1"]
    assert any("pods insecure" in line for line in a.trace)
    assert lookup_fqdn(w, "10-1-2-3.backend.pod.cluster.local").answers == ["10.1.2.3"]
    assert lookup_fqdn(w, "10-1-2-3.nowhere.pod.cluster.local").type == "NXDOMAIN"
    assert lookup_fqdn(w, "10-1-2.lesson3.pod.cluster.local").type == "NXDOMAIN"


def test_unknown_service_is_nxdomain_with_a_did_you_mean():
    a = resolve(world(), "lesson3", "wbe")
    assert a.type == "NXDOMAIN"
    assert any("did you mean Service web in namespace lesson3?" in line for line in a.trace)


def test_misspelt_namespace_is_named():
    a = resolve(world(), "lesson3", "api.backnd")
    assert any("namespace backnd does not exist (did you mean api.backend?)" in line for line in a.trace)


def test_names_outside_the_cluster_resolve_to_nothing_and_the_trace_says_so():
    a = resolve(world(), "lesson3", "example.com")
    assert a.type == "NXDOMAIN" and a.answers == [] and not a.ok
    assert "example.com is not a name inside the cluster" in a.trace[-1]
    assert "does not resolve names outside the cluster" in a.trace[-1]


def test_reverse_lookup_of_cluster_ip_and_endpoint_ips():
    w = world()
    assert reverse(w, "10.96.10.10").answers == ["web.lesson3.svc.cluster.local"]
    assert reverse(w, "10.96.0.10").answers == ["kube-dns.kube-system.svc.cluster.local"]
    ptr = reverse(w, "10.244.1.10")
    assert ptr.answers == ["db-0.db.lesson3.svc.cluster.local"] and ptr.pods == ["lesson3/db-0"]
    assert resolve(w, "lesson3", "10.10.96.10.in-addr.arpa", qtype="PTR").answers == ["web.lesson3.svc.cluster.local"]
    assert reverse(w, "10.244.2.12").type == "NXDOMAIN"  # db-2 is not ready
    assert reverse(w, "192.0.2.1").type == "NXDOMAIN"
