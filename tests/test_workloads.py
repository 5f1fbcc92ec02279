"""build_world: which pods, nodes, IPs and Services a set of manifests gives, as a learner would see them."""

from __future__ import annotations

import ipaddress
import re
import textwrap

import pytest

from grader.manifests import load_text
from grader.model.objects import NODE_IPS, NODE_NAMES, NODEPORT_RANGE, ContainerPort
from grader.model.workloads import build_world

WORKERS = {"course-worker", "course-worker2"}


def world_of(text: str, **kwargs):
    return build_world(load_text(textwrap.dedent(text), "w.yaml"), **kwargs)


def workload(kind: str, name: str, extra_spec: str = "", pod_spec: str = "", api: str = "apps/v1") -> str:
    return f"""
apiVersion: {api}
kind: {kind}
metadata: {{name: {name}}}
spec:
  selector: {{matchLabels: {{app: {name}}}}}
{extra_spec}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
{pod_spec}
      containers:
      - name: main
        image: agnhost
        ports: [{{containerPort: 8080, name: http}}, {{containerPort: 8081, protocol: UDP}}]
---
"""


def pod(name: str, spec: str = "", meta: str = "", status: str = "") -> str:
    return f"""
apiVersion: v1
kind: Pod
metadata:
  name: {name}
{meta}
spec:
{spec}
  containers: [{{name: c, image: agnhost}}]
{status}
---
"""


def pods_of(world, owner):
    return sorted((p for p in world.pods if p.owner == owner), key=lambda p: p.name)


# ----------------------------------------------------------------------------------------- nodes, namespaces


def test_nodes_are_the_course_cluster():
    world = world_of(pod("a"))
    assert [(n.name, n.ip) for n in world.nodes] == list(zip(NODE_NAMES, NODE_IPS))
    control_plane, worker, _ = world.nodes
    assert control_plane.labels["node-role.kubernetes.io/control-plane"] == ""
    assert "node-role.kubernetes.io/control-plane" not in worker.labels
    assert all(n.labels["kubernetes.io/hostname"] == n.name for n in world.nodes)


def test_namespaces_from_objects_and_uses_with_metadata_name_label():
    text = "apiVersion: v1\nkind: Namespace\nmetadata: {name: shop, labels: {team: a}}\n---\n" + pod("a", meta="  namespace: x")
    world = world_of(text)
    assert set(world.namespaces) == {"default", "shop", "x"}
    assert world.namespaces["shop"].labels == {"team": "a", "kubernetes.io/metadata.name": "shop"}
    assert world.namespace_labels("x") == {"kubernetes.io/metadata.name": "x"}


# ----------------------------------------------------------------------------------------- workloads -> pods


def test_deployment_pods_names_labels_ports_and_spread():
    world = world_of(workload("Deployment", "web", "  replicas: 3"))
    pods = pods_of(world, "Deployment/web")
    assert len(pods) == 3
    hashes = {p.labels["pod-template-hash"] for p in pods}
    assert len(hashes) == 1
    (template_hash,) = hashes
    assert all(re.fullmatch(rf"web-{template_hash}-[bcdfghjklmnpqrstvwxz2456789]{{5}}", p.name) for p in pods)
    assert len({p.name for p in pods}) == 3
    assert all(p.labels["app"] == "web" for p in pods)
    assert pods[0].ports == [ContainerPort(8080, "TCP", "http", "main"), ContainerPort(8081, "UDP", None, "main")]
    assert pods[0].containers[0]["image"] == "agnhost"  # raw specs, for what the process listens on
    assert {p.node for p in pods} == WORKERS  # round-robin over the two workers
    assert [p.node for p in pods].count("course-worker") in (1, 2)


def test_deployment_replicas_default_one_and_zero_means_none():
    world = world_of(workload("Deployment", "one") + workload("Deployment", "none", "  replicas: 0"))
    assert len(pods_of(world, "Deployment/one")) == 1
    assert pods_of(world, "Deployment/none") == []


def test_two_replicas_and_two_pods_land_on_different_workers():
    world = world_of(workload("Deployment", "web", "  replicas: 2") + pod("a", meta="  namespace: other") +
                     pod("b", meta="  namespace: other"))
    assert {p.node for p in pods_of(world, "Deployment/web")} == WORKERS
    assert {world.pod("other/a").node, world.pod("other/b").node} == WORKERS


def test_replicaset_pod_names():
    world = world_of(workload("ReplicaSet", "rs", "  replicas: 2"))
    assert all(re.fullmatch(r"rs-[bcdfghjklmnpqrstvwxz2456789]{5}", p.name) for p in pods_of(world, "ReplicaSet/rs"))
    assert len(pods_of(world, "ReplicaSet/rs")) == 2


def test_statefulset_ordinals_hostnames_and_subdomain():
    world = world_of(workload("StatefulSet", "db", "  replicas: 3\n  serviceName: db-headless"))
    pods = pods_of(world, "StatefulSet/db")
    assert [(p.name, p.hostname, p.subdomain) for p in pods] == [
        ("db-0", "db-0", "db-headless"), ("db-1", "db-1", "db-headless"), ("db-2", "db-2", "db-headless")]
    assert pods[1].labels["statefulset.kubernetes.io/pod-name"] == "db-1"


def test_daemonset_runs_on_workers_only_unless_it_tolerates_the_control_plane():
    plain = world_of(workload("DaemonSet", "agent"))
    assert {p.node for p in pods_of(plain, "DaemonSet/agent")} == WORKERS
    tolerant = world_of(workload("DaemonSet", "agent", pod_spec="      tolerations: [{key: node-role.kubernetes.io/"
                                 "control-plane, operator: Exists, effect: NoSchedule}]"))
    assert {p.node for p in pods_of(tolerant, "DaemonSet/agent")} == set(NODE_NAMES)
    everything = world_of(workload("DaemonSet", "agent", pod_spec="      tolerations: [{operator: Exists}]"))
    assert len(pods_of(everything, "DaemonSet/agent")) == 3


def test_daemonset_honours_node_selector():
    world = world_of(workload("DaemonSet", "agent", pod_spec="      nodeSelector: {kubernetes.io/hostname: course-worker2}"))
    assert [p.node for p in pods_of(world, "DaemonSet/agent")] == ["course-worker2"]


def test_job_pods_follow_parallelism_and_completions():
    default = world_of(workload("Job", "once", api="batch/v1").replace("  selector: {matchLabels: {app: once}}\n", ""))
    (job_pod,) = pods_of(default, "Job/once")
    assert job_pod.labels["job-name"] == "once"
    text = workload("Job", "many", "  parallelism: 3\n  completions: 2", api="batch/v1").replace(
        "  selector: {matchLabels: {app: many}}\n", "")
    assert len(pods_of(world_of(text), "Job/many")) == 2


def test_cronjob_creates_no_pods_but_is_kept():
    text = """\
    apiVersion: batch/v1
    kind: CronJob
    metadata: {name: tick}
    spec:
      schedule: "* * * * *"
      jobTemplate: {spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: i}]}}}}
    """
    world = world_of(text)
    assert world.pods == [] and [r.name for r in world.others] == ["tick"]


def test_pod_hostname_subdomain_and_owner():
    world = world_of(pod("a", spec="  hostname: alpha\n  subdomain: grp"))
    a = world.pod("default/a")
    assert (a.hostname, a.subdomain, a.owner) == ("alpha", "grp", None)
    assert a.source.file == "w.yaml"


def test_node_name_and_hostname_selector_pin_pods():
    world = world_of(pod("cp", spec="  nodeName: course-control-plane") +
                     pod("w2", spec="  nodeSelector: {kubernetes.io/hostname: course-worker2}"))
    assert world.pod("default/cp").node == "course-control-plane"
    assert world.pod("default/cp").ip.startswith("10.244.0.")
    assert world.pod("default/w2").node == "course-worker2"


def test_control_plane_selector_without_toleration_stays_pending():
    world = world_of(pod("p", spec="  nodeSelector: {kubernetes.io/hostname: course-control-plane}") +
                     pod("q", spec="  nodeName: no-such-node"))
    for name in ("default/p", "default/q"):
        pending = world.pod(name)
        assert (pending.ip, pending.ready) == ("", False)
    assert world.pod("default/q").node == "no-such-node"


def test_sidecar_init_containers_run_and_plain_init_containers_do_not():
    spec = ("  initContainers:\n  - {name: setup, image: busybox}\n"
            "  - {name: proxy, image: envoy, restartPolicy: Always, ports: [{containerPort: 15001}]}")
    a = world_of(pod("a", spec=spec)).pod("default/a")
    assert [c["name"] for c in a.containers] == ["c", "proxy"]
    assert [p.port for p in a.ports] == [15001]


def test_host_network_pods_use_the_node_ip():
    world = world_of(pod("h", spec="  hostNetwork: true\n  nodeName: course-worker"))
    h = world.pod("default/h")
    assert h.host_network and h.ip == NODE_IPS[1]


# ----------------------------------------------------------------------------------------- IPs


def test_pod_ips_come_from_the_nodes_pod_cidr_and_are_unique():
    world = world_of(workload("Deployment", "web", "  replicas: 4") + pod("a") + pod("b"))
    ips = [p.ip for p in world.pods]
    assert len(set(ips)) == len(ips)
    for p in world.pods:
        index = NODE_NAMES.index(p.node)
        assert ipaddress.ip_address(p.ip) in ipaddress.ip_network(f"10.244.{index}.0/24")
        assert int(p.ip.rsplit(".", 1)[1]) >= 2


def test_status_pod_ip_is_used_and_never_handed_out_twice():
    world = world_of(pod("fixed", spec="  nodeName: course-worker", status="status: {podIP: 10.244.1.2}") +
                     pod("other", spec="  nodeName: course-worker"))
    assert world.pod("default/fixed").ip == "10.244.1.2"
    assert world.pod("default/other").ip == "10.244.1.3"


def test_names_and_ips_do_not_depend_on_file_order():
    parts = [workload("Deployment", "web", "  replicas: 2"), pod("a"), workload("StatefulSet", "db", "  replicas: 2"),
             "apiVersion: v1\nkind: Service\nmetadata: {name: s1}\nspec: {ports: [{port: 80}], type: NodePort}\n---\n",
             "apiVersion: v1\nkind: Service\nmetadata: {name: s2}\nspec: {ports: [{port: 80}], type: LoadBalancer}\n---\n"]
    one, two = world_of("".join(parts)), world_of("".join(reversed(parts)))
    assert sorted((p.key, p.ip, p.node) for p in one.pods) == sorted((p.key, p.ip, p.node) for p in two.pods)
    assert sorted((s.key, s.cluster_ip, s.ports[0].node_port, s.load_balancer_ip) for s in one.services) == \
        sorted((s.key, s.cluster_ip, s.ports[0].node_port, s.load_balancer_ip) for s in two.services)


# ----------------------------------------------------------------------------------------- readiness


@pytest.mark.parametrize(
    ("status", "ready"),
    [
        ("", True),
        ("status: {phase: Running}", True),
        ("status: {phase: Pending}", False),
        ("status: {conditions: [{type: Ready, status: 'False'}]}", False),
        ("status: {phase: Running, conditions: [{type: Ready, status: 'True'}]}", True),
    ],
)
def test_pod_readiness_from_status(status, ready):
    assert world_of(pod("a", status=status)).pod("default/a").ready is ready


def test_workload_status_ready_replicas_marks_the_rest_not_ready():
    text = workload("Deployment", "web", "  replicas: 3").rstrip("-\n") + "\nstatus: {readyReplicas: 1}\n"
    readiness = [p.ready for p in pods_of(world_of(text), "Deployment/web")]
    assert readiness == [True, False, False]


# ----------------------------------------------------------------------------------------- services


def service(spec: str, name: str = "s") -> str:
    return f"apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec:\n{spec}\n---\n"


def test_service_defaults_target_port_protocol_and_cluster_ip():
    world = world_of(service("  selector: {app: web}\n  ports: [{port: 80}, {port: 53, protocol: UDP, name: dns, "
                             "targetPort: 5353}]".replace("[{port: 80}", "[{port: 80, name: http}")))
    (s,) = world.services
    assert s.type == "ClusterIP" and s.selector == {"app": "web"} and not s.headless
    assert [(p.port, p.target_port, p.protocol, p.name, p.node_port) for p in s.ports] == [
        (80, 80, "TCP", "http", None), (53, 5353, "UDP", "dns", None)]
    ip = ipaddress.ip_address(s.cluster_ip)
    assert ip in ipaddress.ip_network("10.96.0.0/16") and s.cluster_ip not in ("10.96.0.1", "10.96.0.10", "10.96.0.0")


def test_named_target_port_is_kept_as_a_name():
    (s,) = world_of(service("  selector: {app: web}\n  ports: [{port: 80, targetPort: http}]")).services
    assert s.ports[0].target_port == "http"


def test_given_cluster_ip_and_headless():
    world = world_of(service("  clusterIP: 10.96.100.100\n  ports: [{port: 80}]", "fixed") +
                     service("  clusterIP: None\n  selector: {app: db}", "db"))
    assert world.service("default", "fixed").cluster_ip == "10.96.100.100"
    db = world.service("default", "db")
    assert db.cluster_ip is None and db.headless and db.ports == []


def test_service_without_selector_or_with_empty_selector_has_none():
    world = world_of(service("  ports: [{port: 80}]", "a") + service("  selector: {}\n  ports: [{port: 80}]", "b"))
    assert world.service("default", "a").selector is None
    assert world.service("default", "b").selector is None


def test_node_ports_are_allocated_in_range_unless_given():
    world = world_of(service("  type: NodePort\n  ports: [{port: 80, name: a}, {port: 81, name: b, nodePort: 30081}]"))
    (s,) = world.services
    allocated, given = s.ports
    assert NODEPORT_RANGE[0] <= allocated.node_port <= NODEPORT_RANGE[1] and allocated.node_port != 30081
    assert given.node_port == 30081


def test_load_balancer_gets_an_ip_on_the_kind_network_and_node_ports():
    world = world_of(service("  type: LoadBalancer\n  ports: [{port: 80}]", "a") +
                     service("  type: LoadBalancer\n  ports: [{port: 80}]", "b") +
                     service("  type: LoadBalancer\n  ports: [{port: 80}]", "c").rstrip("-\n") +
                     "\nstatus: {loadBalancer: {ingress: [{ip: 172.18.0.5}]}}\n")
    ips = {s.name: s.load_balancer_ip for s in world.services}
    assert ips == {"a": "172.18.0.6", "b": "172.18.0.7", "c": "172.18.0.5"}
    assert all(s.ports[0].node_port for s in world.services)


def test_external_name_service():
    (s,) = world_of(service("  type: ExternalName\n  externalName: example.com")).services
    assert (s.type, s.external_name, s.cluster_ip, s.headless) == ("ExternalName", "example.com", None, False)


def test_publish_not_ready_addresses():
    (s,) = world_of(service("  clusterIP: None\n  publishNotReadyAddresses: true\n  selector: {app: a}")).services
    assert s.publish_not_ready


# ----------------------------------------------------------------------------------------- raw objects


def test_raw_objects_are_sorted_into_their_lists():
    text = """\
    apiVersion: networking.k8s.io/v1
    kind: NetworkPolicy
    metadata: {name: deny}
    spec: {podSelector: {}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: web}
    spec: {defaultBackend: {service: {name: web, port: {number: 80}}}}
    ---
    apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata: {name: cpk}
    spec: {controller: kind.sigs.k8s.io/cloud-provider-kind}
    ---
    apiVersion: v1
    kind: Secret
    metadata: {name: tls}
    stringData: {a: b}
    ---
    apiVersion: discovery.k8s.io/v1
    kind: EndpointSlice
    metadata: {name: ext-1, labels: {kubernetes.io/service-name: ext}}
    addressType: IPv4
    endpoints: [{addresses: [192.0.2.1]}]
    ---
    apiVersion: v1
    kind: ConfigMap
    metadata: {name: cfg}
    """
    world = world_of(text, enforce_policy=False)
    assert [p.key for p in world.policies] == ["default/deny"]
    assert [i.name for i in world.ingresses] == ["web"]
    assert [(c.key, c.namespace) for c in world.ingress_classes] == [("cpk", None)]
    assert [s.name for s in world.secrets] == ["tls"]
    assert [e.kind for e in world.endpoints] == ["EndpointSlice"]
    assert [o.kind for o in world.others] == ["ConfigMap"]
    assert world.policies[0].source.line == 1
    assert world.cni_enforces_policy is False


def test_include_system_adds_coredns_kube_dns_and_kubernetes_service():
    world = world_of(pod("a"), include_system=True)
    dns_pods = [p for p in world.pods if p.labels.get("k8s-app") == "kube-dns"]
    assert len(dns_pods) == 2 and all(p.namespace == "kube-system" for p in dns_pods)
    assert dns_pods[0].named_port("dns", "UDP").port == 53
    assert world.service("kube-system", "kube-dns").cluster_ip == "10.96.0.10"
    assert world.service("default", "kubernetes").cluster_ip == "10.96.0.1"
    assert "kube-system" in world.namespaces
    assert world_of(pod("a")).service("kube-system", "kube-dns") is None


def test_include_system_adds_cloud_provider_kinds_default_ingress_class():
    (cls,) = world_of(pod("a"), include_system=True).ingress_classes
    assert cls.name == "cloud-provider-kind" and cls.namespace is None
    assert cls.spec["controller"] == "kind.sigs.k8s.io/ingress-controller"
    assert cls.obj["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"
    assert world_of(pod("a")).ingress_classes == []


def test_a_manifest_ingress_class_of_the_same_name_replaces_it_and_is_kept_default():
    text = """
    apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata: {name: cloud-provider-kind, labels: {mine: "yes"}}
    spec: {controller: kind.sigs.k8s.io/ingress-controller}
    ---
    apiVersion: networking.k8s.io/v1
    kind: IngressClass
    metadata: {name: nginx}
    spec: {controller: k8s.io/ingress-nginx}
    """
    world = world_of(text, include_system=True)
    assert sorted(c.name for c in world.ingress_classes) == ["cloud-provider-kind", "nginx"]
    own = next(c for c in world.ingress_classes if c.name == "cloud-provider-kind")
    assert own.obj["metadata"]["labels"] == {"mine": "yes"} and own.source is not None
    # cloud-provider-kind started with --enable-default-ingress=true patches its class back to default.
    assert own.obj["metadata"]["annotations"]["ingressclass.kubernetes.io/is-default-class"] == "true"


def test_on_the_course_world_an_ingress_of_a_missing_class_is_not_routed():
    from grader.model.ingress import route

    text = """
    apiVersion: v1
    kind: Pod
    metadata: {name: web, labels: {app: web}}
    spec: {containers: [{name: c, image: agnhost, ports: [{containerPort: 8080}]}]}
    ---
    apiVersion: v1
    kind: Service
    metadata: {name: web}
    spec: {selector: {app: web}, ports: [{port: 80, targetPort: 8080}]}
    ---
    apiVersion: networking.k8s.io/v1
    kind: Ingress
    metadata: {name: web}
    spec:
      ingressClassName: nginx
      rules: [{host: shop.test, http: {paths: [{path: /, pathType: Prefix, backend: {service: {name: web, port: {number: 80}}}}]}}]
    """
    assert route(world_of(text, include_system=True), "shop.test", "/").status == 404
    assert route(world_of(text.replace("nginx", "cloud-provider-kind"), include_system=True), "shop.test", "/").service == "default/web"


# ----------------------------------------------------------------------------------------- inter-pod scheduling

ANTI_SERVER = """  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {role: server}}
        topologyKey: kubernetes.io/hostname"""
WITH_SERVER = ANTI_SERVER.replace("podAntiAffinity", "podAffinity")


def test_required_anti_affinity_keeps_a_pod_off_the_node_of_a_matching_pod():
    for server_node in ("course-worker", "course-worker2"):
        world = world_of(pod("server", spec=f"  nodeName: {server_node}", meta="  labels: {role: server}") +
                         pod("client", spec=ANTI_SERVER))
        client = world.pod("default/client")
        assert client.node not in ("", server_node, "course-control-plane") and client.ip


def test_an_existing_pods_anti_affinity_keeps_matching_newcomers_out_symmetrically():
    # "a" is scheduled after "server" only by name order; server's own anti-affinity against role=client decides.
    anti_client = ANTI_SERVER.replace("role: server", "role: client")
    for server_node in ("course-worker", "course-worker2"):
        world = world_of(pod("server", spec=f"  nodeName: {server_node}\n{anti_client}", meta="  labels: {role: server}") +
                         pod("a", meta="  labels: {role: client}"))
        assert world.pod("default/a").node not in ("", server_node)


def test_required_affinity_lands_with_the_matching_pod_whatever_the_name_order():
    for server_node in ("course-worker", "course-worker2"):
        world = world_of(pod("zz-server", spec=f"  nodeName: {server_node}", meta="  labels: {role: server}") +
                         pod("a-client", spec=WITH_SERVER) + pod("b-client", spec=WITH_SERVER))
        assert world.pod("default/a-client").node == server_node
        assert world.pod("default/b-client").node == server_node


def test_affinity_waits_for_a_scheduled_match_like_the_schedulers_retry():
    # a-client comes first by name, but its partner is scheduled too: it is retried and joins it.
    world = world_of(pod("a-client", spec=WITH_SERVER) + pod("z-server", meta="  labels: {role: server}") +
                     pod("y-other"))
    assert world.pod("default/a-client").node == world.pod("default/z-server").node != ""


def test_affinity_with_no_matching_pod_anywhere_stays_pending():
    world = world_of(pod("client", spec=WITH_SERVER))
    client = world.pod("default/client")
    assert (client.ip, client.ready) == ("", False)


def test_the_first_pod_of_a_self_affine_group_is_scheduled():
    spec = WITH_SERVER.replace("role: server", "app: web")
    (first, second) = pods_of(world_of(workload("Deployment", "web", "  replicas: 2", spec.replace("  ", "      ", 1)
                                                .replace("\n  ", "\n      "))), "Deployment/web")
    assert first.node and first.node == second.node


def test_self_anti_affinity_spreads_replicas_and_leaves_the_extra_one_pending():
    spec = ANTI_SERVER.replace("role: server", "app: web").replace("\n  ", "\n      ").replace("  affinity", "      affinity", 1)
    replicas = pods_of(world_of(workload("Deployment", "web", "  replicas: 3", spec)), "Deployment/web")
    placed = sorted(p.node for p in replicas if p.node)
    assert placed == ["course-worker", "course-worker2"]  # the control-plane is tainted
    (pending,) = [p for p in replicas if not p.node]
    assert (pending.ip, pending.ready) == ("", False)


def test_anti_affinity_only_counts_pods_in_its_namespaces():
    other_ns = pod("server", spec="  nodeName: course-worker", meta="  namespace: other\n  labels: {role: server}")
    world = world_of(other_ns + pod("here", spec="  nodeName: course-worker2", meta="  labels: {role: server}") +
                     pod("client", spec=ANTI_SERVER))
    # Same namespace only by default: the server in namespace "other" does not repel the client.
    assert world.pod("default/client").node == "course-worker"
    everywhere = ANTI_SERVER + "\n        namespaceSelector: {}"
    world = world_of(other_ns + pod("here", spec="  nodeName: course-worker2", meta="  labels: {role: server}") +
                     pod("client", spec=everywhere))
    assert world.pod("default/client").node == ""


def test_anti_affinity_on_a_key_every_node_shares_allows_one_pod_per_cluster():
    on_os = ANTI_SERVER.replace("kubernetes.io/hostname", "kubernetes.io/os")
    world = world_of(pod("server", spec="  nodeName: course-worker", meta="  labels: {role: server}") +
                     pod("client", spec=on_os))
    assert world.pod("default/client").node == ""


def test_a_topology_key_no_node_has_fails_affinity_but_not_anti_affinity():
    world = world_of(pod("server", spec="  nodeName: course-worker", meta="  labels: {role: server}") +
                     pod("a", spec=WITH_SERVER.replace("kubernetes.io/hostname", "topology.kubernetes.io/zone")) +
                     pod("b", spec=ANTI_SERVER.replace("kubernetes.io/hostname", "topology.kubernetes.io/zone")))
    assert world.pod("default/a").node == ""
    assert world.pod("default/b").node in ("course-worker", "course-worker2")


def test_required_node_affinity_is_a_node_filter():
    affinity = """  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions:
          - {key: kubernetes.io/hostname, operator: In, values: [course-worker2]}"""
    not_in = affinity.replace("operator: In", "operator: NotIn")
    by_field = affinity.replace("matchExpressions", "matchFields").replace("kubernetes.io/hostname", "metadata.name")
    world = world_of(pod("a", spec=affinity) + pod("b", spec=not_in) + pod("c", spec=by_field) +
                     pod("d", spec=affinity.replace("course-worker2", "nowhere")))
    assert world.pod("default/a").node == "course-worker2"
    assert world.pod("default/b").node == "course-worker"  # the control-plane's taint still applies
    assert world.pod("default/c").node == "course-worker2"
    assert world.pod("default/d").node == ""


SPREAD = """  topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: kubernetes.io/hostname
    whenUnsatisfiable: DoNotSchedule
    labelSelector: {matchLabels: {app: web}}"""


def _spread_deployment(replicas: int, extra: str = "") -> list:
    spec = (SPREAD + extra).replace("\n  ", "\n      ").replace("  topology", "      topology", 1)
    return pods_of(world_of(workload("Deployment", "web", f"  replicas: {replicas}", spec)), "Deployment/web")


def test_topology_spread_counts_the_tainted_control_plane_as_an_empty_domain():
    # nodeTaintsPolicy defaults to Ignore: the control-plane (0 pods) keeps the minimum at 0.
    replicas = _spread_deployment(3)
    assert sorted(p.node for p in replicas if p.node) == ["course-worker", "course-worker2"]
    assert len([p for p in replicas if not p.node]) == 1


def test_topology_spread_with_taints_honoured_spreads_over_the_workers_only():
    replicas = _spread_deployment(4, "\n    nodeTaintsPolicy: Honor")
    assert sorted(p.node for p in replicas) == ["course-worker", "course-worker", "course-worker2", "course-worker2"]


def test_schedule_anyway_never_leaves_a_pod_pending():
    replicas = _spread_deployment(3, "").copy()
    spec = SPREAD.replace("DoNotSchedule", "ScheduleAnyway").replace("\n  ", "\n      ").replace("  topology", "      topology", 1)
    anyway = pods_of(world_of(workload("Deployment", "web", "  replicas: 3", spec)), "Deployment/web")
    assert all(p.node for p in anyway) and not all(p.node for p in replicas)


# ------------------------------------------------------------------------- placement: reasons, guesses, every outcome

from grader.model.workloads import possible_placements  # noqa: E402


def test_a_pending_pod_says_why_as_the_schedulers_event_does():
    world = world_of(pod("lost", spec="  nodeSelector: {kubernetes.io/hostname: worker1}"))
    lost = world.pod("default/lost")
    assert (lost.node, lost.ip, lost.ready) == ("", "", False)
    assert lost.pending_reason == (
        "0/3 nodes are available: 1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }, "
        "2 node(s) didn't match Pod's node affinity/selector."
    )
    assert "is Pending: 0/3 nodes are available" in lost.placement_note()


def test_a_node_name_of_no_node_is_pending_with_its_own_reason():
    ghost = world_of(pod("ghost", spec="  nodeName: course-worker3")).pod("default/ghost")
    assert ghost.ip == "" and "no node of that name" in ghost.pending_reason


def test_an_unpinned_pod_goes_to_the_emptier_worker_and_its_node_is_marked_as_a_guess():
    # The real scheduler spreads pods no rule pins (LIVE-LAB.md): the client lands beside nobody.
    world = world_of(pod("server", spec="  nodeName: course-worker") + pod("client"))
    client = world.pod("default/client")
    assert client.node == "course-worker2"
    assert client.candidates == ("course-worker", "course-worker2") and client.placement_guessed
    assert "simulator's guess" in client.placement_note()
    server = world.pod("default/server")
    assert server.candidates == () and not server.placement_guessed


def test_a_preferred_affinity_steers_the_guess_but_leaves_it_a_guess():
    prefer = """  affinity:
    podAffinity:
      preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 50
        podAffinityTerm:
          labelSelector: {matchLabels: {role: server}}
          topologyKey: kubernetes.io/hostname"""
    world = world_of(pod("server", spec="  nodeName: course-worker2", meta="  labels: {role: server}") + pod("client", spec=prefer))
    client = world.pod("default/client")
    assert client.node == "course-worker2" and client.placement_guessed


def test_possible_placements_cover_every_scheduling_order_and_choice():
    both = """  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: [{key: kubernetes.io/hostname, operator: In, values: [course-worker, course-worker2]}]"""
    world = world_of(pod("a", spec=both) + pod("b", spec=both))
    outcomes = possible_placements(world, ["default/a", "default/b"])
    assert {(o["default/a"], o["default/b"]) for o in outcomes} == {
        (x, y) for x in ("course-worker", "course-worker2") for y in ("course-worker", "course-worker2")}


def test_possible_placements_honour_one_sided_anti_affinity_in_both_orders():
    anti = """  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {role: server}}
        topologyKey: kubernetes.io/hostname"""
    world = world_of(pod("server", meta="  labels: {role: server}") + pod("client", spec=anti))
    outcomes = possible_placements(world, ["default/server", "default/client"])
    assert outcomes and all(o["default/server"] != o["default/client"] and o["default/client"] for o in outcomes)


def test_possible_placements_report_a_pod_left_without_a_node_in_some_order():
    # Each pod refuses the other's node, and only course-worker suits the server: the client, if it is
    # placed first on course-worker, leaves the server nowhere to go.
    anti = """  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - labelSelector: {matchLabels: {role: client}}
        topologyKey: kubernetes.io/hostname"""
    world = world_of(pod("server", spec="  nodeSelector: {kubernetes.io/hostname: course-worker}\n" + anti, meta="  labels: {role: server}")
                     + pod("client", meta="  labels: {role: client}"))
    outcomes = possible_placements(world, ["default/server", "default/client"])
    assert any(o["default/server"] is None for o in outcomes)
    assert any(o["default/server"] == "course-worker" and o["default/client"] == "course-worker2" for o in outcomes)
