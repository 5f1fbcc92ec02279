"""A pod's own resolv.conf: dnsPolicy (ClusterFirst, ClusterFirstWithHostNet, Default, None) and dnsConfig."""

from __future__ import annotations

import textwrap

from grader.manifests import load_text
from grader.model import dns
from grader.model.connect import connect, lookup
from grader.model.workloads import build_world

BACKEND = """
apiVersion: v1
kind: Pod
metadata: {name: backend, namespace: shop, labels: {app: backend}}
spec:
  containers: [{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.66.1, args: [netexec, --http-port=8080],
                ports: [{containerPort: 8080}]}]
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: shop}
spec:
  selector: {app: backend}
  ports: [{port: 80, targetPort: 8080}]
---
"""


def client(spec: str = "", ns: str = "tools") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata: {{name: client, namespace: {ns}}}
spec:
{textwrap.indent(textwrap.dedent(spec), "  ")}  containers: [{{name: c, image: registry.k8s.io/e2e-test-images/agnhost:2.66.1, args: [pause]}}]
---
"""


def world_of(*docs: str):
    return build_world(load_text("".join(docs), "t.yaml"), include_system=True)


def test_a_search_domain_from_dns_config_resolves_a_short_name_there():
    w = world_of(BACKEND, client("dnsConfig:\n  searches: [shop.svc.cluster.local]\n"))
    src = w.pod("tools/client")
    lk = lookup(w, src, "api")
    assert lk.ok and lk.answer.service == "shop/api"
    assert lk.answer.fqdn == "api.shop.svc.cluster.local"
    assert connect(w, src, "api", 80).ok
    assert not lookup(world_of(BACKEND, client()), world_of(BACKEND, client()).pod("tools/client"), "api").ok


def test_the_cluster_search_list_comes_first_and_dns_config_searches_after_it():
    conf = dns.resolv_conf("tools", {"dnsConfig": {"searches": ["example.org", "tools.svc.cluster.local"]}})
    assert conf.searches == ("tools.svc.cluster.local", "svc.cluster.local", "cluster.local", "example.org")
    assert conf.nameservers == ("10.96.0.10",) and conf.ndots == 5


def test_a_host_network_pod_on_cluster_first_uses_the_nodes_resolver_and_knows_no_service_names():
    w = world_of(BACKEND, client("hostNetwork: true\n"))
    lk = lookup(w, w.pod("tools/client"), "api.shop.svc.cluster.local")
    assert not lk.ok
    assert any("falls back to Default" in line for line in lk.trace)
    assert any("ClusterFirstWithHostNet" in h for h in lk.hints)


def test_cluster_first_with_host_net_gives_a_host_network_pod_the_cluster_dns():
    w = world_of(BACKEND, client("hostNetwork: true\ndnsPolicy: ClusterFirstWithHostNet\n"))
    assert lookup(w, w.pod("tools/client"), "api.shop").ok


def test_dns_policy_default_on_an_ordinary_pod_resolves_no_cluster_names():
    w = world_of(BACKEND, client("dnsPolicy: Default\n"))
    lk = lookup(w, w.pod("tools/client"), "api.shop.svc.cluster.local")
    assert not lk.ok and any("not the cluster DNS" in line for line in lk.trace)


def test_dns_policy_none_uses_only_dns_config_with_its_ndots():
    spec = """dnsPolicy: None
dnsConfig:
  nameservers: [10.96.0.10]
  searches: [shop.svc.cluster.local]
  options: [{name: ndots, value: "1"}]
"""
    w = world_of(BACKEND, client(spec))
    src = w.pod("tools/client")
    lk = lookup(w, src, "api")
    assert lk.ok and lk.answer.service == "shop/api"
    # ndots:1: a name with a dot is tried as is first (here NXDOMAIN), and no cluster search list exists
    assert dns.query_names("api.shop", "tools", conf=dns.resolv_conf("tools", w.pod("tools/client").spec)) == [
        "api.shop", "api.shop.shop.svc.cluster.local"]
    assert not lookup(w, src, "api.shop").ok


def test_dns_policy_none_with_an_outside_nameserver_resolves_no_cluster_names():
    w = world_of(BACKEND, client("dnsPolicy: None\ndnsConfig:\n  nameservers: [8.8.8.8]\n"))
    assert not lookup(w, w.pod("tools/client"), "api.shop.svc.cluster.local").ok
