"""`grade cluster doctor`: a live self-test of the course cluster, each failing line with its fix.

It runs in its own labelled namespace with agnhost pods pinned to two different workers and checks, in
order: nodes and CoreDNS ready, pod to pod across nodes, a Service ClusterIP, DNS by name, that
NetworkPolicy is actually enforced (apply a deny, see the probe fail, remove it), a LoadBalancer IP
assigned and reachable from the host, an Ingress reachable from the host. The namespace is deleted
at the end. The verdict for NetworkPolicy is remembered for `grade cluster status`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from grader.cluster import versions
from grader.kube.safety import MANAGED_BY, state_dir
from grader.live_probes import host_can_route_to_kind
from grader.probes import Connect, Http, Resolve

DOCTOR_NS = "netcourse-doctor"
DOCTOR_HOST = "doctor.netcourse.test"

CNI_DAEMONSETS = {"kindnet": "kindnet", "calico-node": "calico", "cilium": "cilium", "kube-flannel-ds": "flannel"}
CNI_ENFORCES = {"kindnet": True, "calico": True, "cilium": True, "flannel": False}


@dataclass
class Check:
    """One doctor line: ok True/False (None: skipped), what was seen, and the fix when not ok."""

    name: str
    ok: bool | None
    detail: str
    hint: str = ""


def detect_cni(daemonset_names: list[str]) -> str:
    """The CNI from kube-system's DaemonSet names ("unknown" when none is recognised)."""
    for ds, cni in CNI_DAEMONSETS.items():
        if ds in daemonset_names:
            return cni
    return "unknown"


def policy_check(allowed_before: bool, blocked_under_deny: bool, cni: str) -> Check:
    """The NetworkPolicy line from the two probes around a deny-all policy."""
    if not allowed_before:
        return Check("NetworkPolicy enforced", None, "skipped: the probe failed even without a policy",
                     "fix pod-to-pod connectivity first")
    if blocked_under_deny:
        return Check("NetworkPolicy enforced", True, f"a deny-all policy blocked the probe ({cni})")
    if cni == "kindnet":
        hint = ("NetworkPolicy is not enforced: kindnet fails open (known on WSL2); "
                "recreate with `grade cluster down && grade cluster up --profile calico`")
    elif cni == "flannel":
        hint = "NetworkPolicy is not enforced: Flannel ignores NetworkPolicy; use `grade cluster up --profile calico`"
    else:
        hint = f"NetworkPolicy is not enforced by {cni}; recreate with `grade cluster up --profile calico`"
    return Check("NetworkPolicy enforced", False, "the probe still connected under a deny-all policy", hint)


def doctor_manifests(cluster: str, namespace: str = DOCTOR_NS) -> list[dict[str, Any]]:
    """The doctor's objects: servers on two workers, a client, a ClusterIP and a LoadBalancer Service, an Ingress."""
    labels = dict(MANAGED_BY)

    def pod(name: str, node: str, args: list[str], role: str) -> dict[str, Any]:
        return {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {**labels, "netcourse/doctor": role}},
            "spec": {
                "nodeSelector": {"kubernetes.io/hostname": node},
                "terminationGracePeriodSeconds": 0,
                "containers": [{"name": "agnhost", "image": versions.AGNHOST_IMAGE, "args": args,
                                "ports": [{"containerPort": 8080, "name": "http"}]}],
            },
        }

    server_args = ["netexec", "--http-port=8080"]
    svc_ports = [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]
    return [
        pod("server-a", f"{cluster}-worker", server_args, "server"),
        pod("server-b", f"{cluster}-worker2", server_args, "server"),
        pod("client", f"{cluster}-worker", ["pause"], "client"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server", "labels": labels},
         "spec": {"selector": {"netcourse/doctor": "server"}, "ports": svc_ports}},
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server-lb", "labels": labels},
         "spec": {"type": "LoadBalancer", "selector": {"netcourse/doctor": "server"}, "ports": svc_ports}},
        {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "doctor", "labels": labels},
         "spec": {"ingressClassName": "cloud-provider-kind", "rules": [{"host": DOCTOR_HOST, "http": {"paths": [
             {"path": "/", "pathType": "Prefix",
              "backend": {"service": {"name": "server", "port": {"number": 80}}}}]}}]}},
    ]


DENY_ALL = {
    "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
    "metadata": {"name": "doctor-deny-all", "labels": dict(MANAGED_BY)},
    "spec": {"podSelector": {"matchLabels": {"netcourse/doctor": "server"}}, "policyTypes": ["Ingress"]},
}


@dataclass
class _Manifest:
    """Just enough of grader.manifests.Manifest for LiveBackend.apply."""

    obj: dict[str, Any]
    source: str = "doctor"

    @property
    def kind(self) -> str:
        return self.obj["kind"]

    @property
    def name(self) -> str:
        return self.obj["metadata"]["name"]

    @property
    def namespace(self) -> str | None:
        return self.obj["metadata"].get("namespace")


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


def run_doctor(client: Any, runner: Any, engine: str, cluster: str) -> list[Check]:
    """Run every check on the live cluster (cleaning up after itself) and return the lines."""
    from grader.backends.live import LiveBackend

    checks: list[Check] = []
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
    cni = detect_cni([d["metadata"]["name"] for d in client.list("apps/v1", "DaemonSet", "kube-system")])

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
        client.apply(DENY_ALL, namespace=DOCTOR_NS)
        (denied,) = backend.run([Connect(src, b_ip, 8080)], expect=[False])
        client.delete("networking.k8s.io/v1", "NetworkPolicy", "doctor-deny-all", DOCTOR_NS)
        policy = policy_check(pod_to_pod.ok, not denied.ok, cni)
        checks.append(policy)
        remember_policy_enforcement(client.context, policy.ok)

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


def _policy_file() -> Any:
    return state_dir() / "policy-enforcement.json"


def remember_policy_enforcement(context: str, enforced: bool | None) -> None:
    """Record the doctor's NetworkPolicy verdict for `grade cluster status`."""
    path = _policy_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[context] = {"enforced": enforced, "at": int(time.time())}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def policy_enforcement(context: str, cni: str) -> str:
    """"yes", "no" or "unknown" for `grade cluster status`."""
    if CNI_ENFORCES.get(cni) is False:
        return "no"
    try:
        entry = json.loads(_policy_file().read_text()).get(context) or {}
    except (OSError, ValueError):
        entry = {}
    enforced = entry.get("enforced")
    return "yes" if enforced is True else "no" if enforced is False else "unknown"
