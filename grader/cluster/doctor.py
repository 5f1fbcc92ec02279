"""`grade cluster doctor`: a live self-test of the course cluster, each failing line with its fix.

It runs in its own labelled namespace with agnhost pods pinned to two different workers and checks, in
order: nodes and CoreDNS ready, pod to pod across nodes, a Service ClusterIP, DNS by name, that
NetworkPolicy is actually enforced (apply a deny, see the probe fail, remove it), a LoadBalancer IP
assigned and reachable from the host, an Ingress reachable from the host. The namespace is deleted
at the end. The verdict for NetworkPolicy is remembered for `grade cluster status`.
"""

from __future__ import annotations

import time
from typing import Any

from grader.backends.live import LiveBackend
from grader.cluster.policy_proof import (  # noqa: F401 - the proof's names, re-exported for the doctor's callers
    CNI_DAEMONSETS,
    CNI_ENFORCES,
    POLICY_DAEMONSETS,
    DENY_ALL,
    POLICY_PROOF_MAX_AGE,
    SERVER_ARGS,
    Check,
    _Manifest,
    agnhost_pod,
    api_server_of,
    cluster_cni,
    deny_probe,
    detect_cni,
    detect_policy_engine,
    policy_check,
    policy_enforcement,
    proof_manifests,
    prove_policy_enforcement,
    recently_proven,
    remember_policy_enforcement,
)
from grader.kube.safety import MANAGED_BY
from grader.live_probes import host_can_route_to_kind
from grader.probes import Connect, Http, Resolve

DOCTOR_NS = "netcourse-doctor"
DOCTOR_HOST = "doctor.netcourse.test"


def doctor_manifests(cluster: str, namespace: str = DOCTOR_NS) -> list[dict[str, Any]]:
    """The doctor's objects: servers on two workers, a client, a ClusterIP and a LoadBalancer Service, an Ingress."""
    labels = dict(MANAGED_BY)
    svc_ports = [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]
    return [
        agnhost_pod("server-a", SERVER_ARGS, "server", f"{cluster}-worker"),
        agnhost_pod("server-b", SERVER_ARGS, "server", f"{cluster}-worker2"),
        agnhost_pod("client", ["pause"], "client", f"{cluster}-worker"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server", "labels": labels},
         "spec": {"selector": {"netcourse/doctor": "server"}, "ports": svc_ports}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server-lb", "labels": labels},
         "spec": {"type": "LoadBalancer", "selector": {"netcourse/doctor": "server"}, "ports": svc_ports}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "doctor", "labels": labels},
         "spec": {"ingressClassName": "cloud-provider-kind", "rules": [{"host": DOCTOR_HOST, "http": {"paths": [
             {"path": "/", "pathType": "Prefix",
              "backend": {"service": {"name": "server", "port": {"number": 80}}}}]}}]}},
    ]


def _ready(obj: dict[str, Any]) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (obj.get("status") or {}).get("conditions") or [])


def _wait_address(client: Any, api_version: str, kind: str, name: str, seconds: float) -> str | None:
    from grader.kube.readiness import load_balancer_address

    deadline = time.monotonic() + seconds
    while True:
        obj = client.get(api_version, kind, name, DOCTOR_NS) or {}
        addr = load_balancer_address(obj)
        if addr or time.monotonic() > deadline:
            return addr
        time.sleep(2)


def version_check(client: Any) -> Check:
    """The API server's version against the course's pin (grader/cluster/versions.py)."""
    from grader.cluster.versions import KUBERNETES_VERSION, server_version_problem

    version = client.server_version()
    if not version:
        return Check("Kubernetes version", None, f"could not read the API server's /version (pinned {KUBERNETES_VERSION})")
    too_old = server_version_problem(version)
    if too_old:
        return Check("Kubernetes version", False, too_old.split(". This is the cluster", 1)[0],
                     f"recreate the cluster at the pinned version: `grade cluster down && grade cluster up`")
    return Check("Kubernetes version", True, f"{version} (pinned {KUBERNETES_VERSION})")


def run_doctor(client: Any, runner: Any, engine: str, cluster: str) -> list[Check]:
    """Run every check on the live cluster (cleaning up after itself) and return the lines."""
    checks: list[Check] = [version_check(client)]
    nodes = client.list("v1", "Node")
    not_ready = [n["metadata"]["name"] for n in nodes if not _ready(n)]
    checks.append(Check("nodes ready", bool(nodes) and not not_ready,
                        f"{len(nodes) - len(not_ready)}/{len(nodes)} Ready",
                        "" if not not_ready else f"nodes not Ready: {', '.join(not_ready)}; "
                        "`kubectl describe node` shows why (often the CNI is not installed yet)"))
    dns_pods = client.list("v1", "Pod", "kube-system", label_selector="k8s-app=kube-dns")
    dns_ready = [p for p in dns_pods if _ready(p)]
    checks.append(Check("CoreDNS ready", bool(dns_ready), f"{len(dns_ready)}/{len(dns_pods)} pods Ready",
                        "" if dns_ready else "`kubectl -n kube-system get pods -l k8s-app=kube-dns` and its logs"))
    cni = cluster_cni(client)

    backend = LiveBackend(client, "doctor", [DOCTOR_NS], runner=runner, engine=engine, ready_timeout=180)
    try:
        backend.apply([_Manifest(o) for o in doctor_manifests(cluster)])
        pods = {p.name: p for p in backend.pods()}
        svc = client.get("v1", "Service", "server", DOCTOR_NS) or {}
        cluster_ip = (svc.get("spec") or {}).get("clusterIP", "")
        src = f"{DOCTOR_NS}/client"
        b_ip = pods["server-b"].ip if "server-b" in pods else ""
        pod_to_pod, via_svc, by_name = backend.run(
            [Connect(src, b_ip, 8080), Connect(src, cluster_ip, 80),
             Resolve(src, f"server.{DOCTOR_NS}.svc.cluster.local")],
            expect=[True, True, None],
        )
        checks.append(Check("pod to pod across nodes", pod_to_pod.ok,
                            f"client ({pods['client'].node if 'client' in pods else '?'}) -> server-b "
                            f"({pods['server-b'].node if 'server-b' in pods else '?'}) {b_ip}:8080: {pod_to_pod.verdict}",
                            "" if pod_to_pod.ok else "the CNI does not connect nodes: `kubectl -n kube-system get pods` "
                            f"and recreate the cluster; reproduce: {pod_to_pod.kubectl}"))
        checks.append(Check("Service ClusterIP", via_svc.ok, f"{cluster_ip}:80: {via_svc.verdict}",
                            "" if via_svc.ok else "kube-proxy is not programming Services: "
                            f"`kubectl -n kube-system logs ds/kube-proxy`; reproduce: {via_svc.kubectl}"))
        checks.append(Check("DNS by name", by_name.ok, f"server.{DOCTOR_NS} -> {by_name.data.get('addresses')}",
                            "" if by_name.ok else "CoreDNS does not answer pods: `kubectl -n kube-system logs "
                            f"-l k8s-app=kube-dns`; reproduce: {by_name.kubectl}"))
        checks.append(deny_probe(backend, client, DOCTOR_NS, src, b_ip, 8080, cni))

        not_provided = _load_balancer_not_provided(client.context, runner, engine)
        if not_provided:  # said at `grade cluster up`: no provider runs, so there is nothing to wait for
            checks.append(Check("LoadBalancer", None, not_provided, _NO_PROVIDER_HINT))
            checks.append(Check("Ingress", None, not_provided, _NO_PROVIDER_HINT))
            return checks
        lb_ip = _wait_address(client, "v1", "Service", "server-lb", 90)
        if not lb_ip:
            checks.append(Check("LoadBalancer IP", False, "no external IP after 90 s",
                                f"cloud-provider-kind is not serving: `{engine} logs k8s-netcourse-cloud-provider-kind`; "
                                "`grade cluster up` starts it"))
        else:
            (lb,) = backend.run([Http("loadbalancer:" + DOCTOR_NS + "/server-lb", DOCTOR_HOST, "/hostname")])
            hint = "" if lb.ok else (
                "the host cannot reach the kind network: a firewall blocks the kind bridge"
                if host_can_route_to_kind() else
                "LoadBalancer ports are not mapped to the host: `grade cluster down && grade cluster up` "
                "(starts cloud-provider-kind with --enable-lb-port-mapping)")
            checks.append(Check("LoadBalancer IP reachable", lb.ok, f"{lb_ip}: {lb.evidence[0]}",
                                hint + (f"; reproduce: {lb.kubectl}" if hint else "")))
        ing_addr = _wait_address(client, "networking.k8s.io/v1", "Ingress", "doctor", 90)
        if not ing_addr:
            checks.append(Check("Ingress address", False, "no address after 90 s",
                                "cloud-provider-kind's ingress is off or not running: `grade cluster up` starts it "
                                "with --enable-default-ingress=true"))
        else:
            (ing,) = backend.run([Http("ingress", DOCTOR_HOST, "/hostname")])
            checks.append(Check("Ingress reachable", ing.ok, f"{ing_addr} Host {DOCTOR_HOST}: {ing.evidence[0]}",
                                "" if ing.ok else f"reproduce: {ing.kubectl}; see docs/live.md (Troubleshooting)"))
    finally:
        client.delete("v1", "Namespace", DOCTOR_NS)
    return checks


_NO_PROVIDER_HINT = ("lessons' LoadBalancer and Ingress tasks cannot be proven on this cluster; "
                     "`grade cluster up` without --no-cloud-provider starts cloud-provider-kind")


def _load_balancer_not_provided(context: str, runner: Any, engine: str) -> str:
    """The recorded reason when `grade cluster up` left LoadBalancer/Ingress unprovided and none runs now, else ""."""
    from grader.cluster.addons import cloud_provider_kind_state
    from grader.cluster.kind import cluster_facts

    said = str(cluster_facts(context).get("load_balancer") or "")
    if not said.startswith("not provided") or cloud_provider_kind_state(runner, engine) == "running":
        return ""
    return said
