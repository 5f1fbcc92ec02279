"""`grade cluster doctor`: a live self-test of the course cluster, each failing line with its fix.

It runs in its own labelled namespace with agnhost pods pinned to two different workers and checks, in
order: nodes and CoreDNS ready, pod to pod across nodes, a Service ClusterIP, DNS by name, that
NetworkPolicy is actually enforced (apply a deny, see the probe fail, remove it), a LoadBalancer IP
assigned and reachable from the host, an Ingress reachable from the host. The namespace is deleted
at the end. The verdict for NetworkPolicy is remembered for `grade cluster status`.
"""

from __future__ import annotations

import json
import secrets
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
# NetworkPolicy engines that run as a DaemonSet of their own beside the CNI and then enforce policy instead of
# it: kube-router's policy controller, which the cluster our CI builds from source runs (kube-network-policies,
# kindnet's engine, cannot enforce on kernels without nftables `queue`; grader/cluster/versions.py).
POLICY_DAEMONSETS = {"kube-router": "kube-router"}


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


def detect_policy_engine(daemonset_names: list[str]) -> str:
    """What enforces NetworkPolicy, from kube-system's DaemonSet names: a policy engine of its own
    (POLICY_DAEMONSETS) when one runs, else the CNI ("unknown" when none is recognised)."""
    for ds, engine in POLICY_DAEMONSETS.items():
        if ds in daemonset_names:
            return engine
    return detect_cni(daemonset_names)


def policy_check(allowed_before: bool, blocked_under_deny: bool, cni: str) -> Check:
    """The NetworkPolicy line from the two probes around a deny-all policy; `cni` names what should
    enforce it (`detect_policy_engine`: the CNI, or a policy engine of its own such as kube-router)."""
    if not allowed_before:
        return Check("NetworkPolicy enforced", None, "skipped: the probe failed even without a policy",
                     "fix pod-to-pod connectivity first")
    if blocked_under_deny:
        return Check("NetworkPolicy enforced", True, f"a deny-all policy blocked the probe (enforced by {cni})")
    if cni == "kindnet":
        hint = ("NetworkPolicy is not enforced: kindnet fails open (known on WSL2); "
                "recreate with `grade cluster down && grade cluster up --profile calico`")
    elif cni == "flannel":
        hint = "NetworkPolicy is not enforced: Flannel ignores NetworkPolicy; use `grade cluster up --profile calico`"
    elif cni == "kube-router":
        hint = ("NetworkPolicy is not enforced: kube-router's policy controller is not programming the nodes; "
                "its log says why: `kubectl -n kube-system logs ds/kube-router`")
    else:
        hint = f"NetworkPolicy is not enforced by {cni}; recreate with `grade cluster up --profile calico`"
    return Check("NetworkPolicy enforced", False, "the probe still connected under a deny-all policy", hint)


def agnhost_pod(name: str, args: list[str], role: str, node: str | None = None) -> dict[str, Any]:
    """A labelled agnhost pod (role "server" or "client"), pinned to `node` when given."""
    spec: dict[str, Any] = {
        "terminationGracePeriodSeconds": 0,
        "containers": [{"name": "agnhost", "image": versions.AGNHOST_IMAGE, "args": args,
                        "ports": [{"containerPort": 8080, "name": "http"}]}],
    }
    if node:
        spec["nodeSelector"] = {"kubernetes.io/hostname": node}
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {**MANAGED_BY, "netcourse/doctor": role}}, "spec": spec}


SERVER_ARGS = ["netexec", "--http-port=8080"]


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


def proof_manifests() -> list[dict[str, Any]]:
    """The smallest NetworkPolicy proof: one agnhost server and one client, placed wherever the scheduler likes."""
    return [agnhost_pod("server", SERVER_ARGS, "server"), agnhost_pod("client", ["pause"], "client")]


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


def deny_probe(backend: Any, client: Any, namespace: str, src: str, server_ip: str, port: int, cni: str) -> Check:
    """The NetworkPolicy proof, shared by the doctor and LiveBackend.prove_policy_enforced.

    Probe `src` -> server_ip:port (must connect), apply a deny-all ingress policy to the pods labelled
    netcourse/doctor=server in `namespace`, probe again (must be blocked), delete the policy. The
    verdict is remembered for this context and API server (see `recently_proven`).
    """
    (before,) = backend.run([Connect(src, server_ip, port)], expect=[True])
    blocked = False
    if before.ok:
        client.apply(DENY_ALL, namespace=namespace)
        try:
            (denied,) = backend.run([Connect(src, server_ip, port)], expect=[False])
        finally:
            client.delete("networking.k8s.io/v1", "NetworkPolicy", DENY_ALL["metadata"]["name"], namespace)
        blocked = not denied.ok
    check = policy_check(before.ok, blocked, cni)
    if not before.ok:
        check.detail += f" ({before.verdict}; reproduce: {before.kubectl})"
    remember_policy_enforcement(client.context, check.ok, server=api_server_of(client))
    return check


def prove_policy_enforcement(client: Any, make_backend: Any, namespace: str | None = None) -> Check:
    """Run `deny_probe` in a scratch namespace of its own (created, labelled, then deleted).

    `make_backend(namespace)` returns the LiveBackend to apply and probe with (the caller's settings).
    """
    ns = namespace or f"netcourse-policy-proof-{secrets.token_hex(3)}"  # unique: a deleted one may still be terminating
    backend = make_backend(ns)
    try:
        backend.apply([_Manifest(o) for o in proof_manifests()])
        pods = {p.name: p for p in backend.pods()}
        server = pods.get("server")
        if server is None or not server.ip or backend.readiness_problems:
            problems = "; ".join(backend.readiness_problems) or "the server pod has no IP"
            return Check("NetworkPolicy enforced", None, f"the proof's pods did not start: {problems}",
                         "run `grade cluster doctor` to see which layer of the cluster is broken")
        return deny_probe(backend, client, ns, f"{ns}/client", server.ip, 8080, cluster_cni(client))
    finally:
        client.delete("v1", "Namespace", ns)


def cluster_cni(client: Any) -> str:
    """What enforces NetworkPolicy, named by kube-system's DaemonSets (`detect_policy_engine`: the CNI, or a
    policy engine of its own; "unknown" when they cannot be read, e.g. with a workshop learner's rights)."""
    try:
        return detect_policy_engine([d["metadata"]["name"] for d in client.list("apps/v1", "DaemonSet", "kube-system")])
    except Exception:  # only the explanation depends on it: never fail the proof over it
        return "unknown"


def api_server_of(client: Any) -> str | None:
    """The API server URL a KubeClient talks to (None for clients without one, e.g. test fakes)."""
    return getattr(getattr(getattr(client, "api_client", None), "configuration", None), "host", None)


def _policy_file() -> Any:
    return state_dir() / "policy-enforcement.json"


POLICY_PROOF_MAX_AGE = 24 * 3600  # seconds a "yes" stays trusted for the same context and API server


def remember_policy_enforcement(context: str, enforced: bool | None, *, server: str | None = None,
                                now: float | None = None) -> None:
    """Record a NetworkPolicy verdict (doctor or proof) for `grade cluster status` and later gradings."""
    path = _policy_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    entry: dict[str, Any] = {"enforced": enforced, "at": int(now if now is not None else time.time())}
    if server:
        entry["server"] = server
    data[context] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2))


def recently_proven(context: str, server: str | None = None, *, max_age: float = POLICY_PROOF_MAX_AGE,
                    now: float | None = None) -> bool:
    """Whether a "yes" verdict younger than `max_age` seconds is remembered for this context (and API server:
    a recreated kind cluster answers on another port, so its old verdict does not count)."""
    try:
        entry = json.loads(_policy_file().read_text()).get(context) or {}
    except (OSError, ValueError, AttributeError):
        return False
    if entry.get("enforced") is not True:
        return False
    if server and entry.get("server") and entry["server"] != server:
        return False
    age = (now if now is not None else time.time()) - float(entry.get("at") or 0)
    return 0 <= age < max_age


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
