"""The NetworkPolicy proof and what it remembers, shared by the live backend and the doctor.

A "blocked" verdict means nothing on a CNI that fails open, so before grading a lesson with policies the
live backend proves enforcement (a deny-all policy must block a probe in a scratch namespace); the doctor
runs the same probe. Both remember the verdict here for `grade cluster status` and later gradings.
It knows nothing of either caller: the backend it probes with is passed in, so the backend can import
this module and the doctor can import the backend.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from grader.cluster import versions
from grader.kube.safety import MANAGED_BY, state_dir
from grader.probes import Connect

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
        by = "this cluster's CNI" if cni == "unknown" else cni
        hint = f"NetworkPolicy is not enforced by {by}; recreate with `grade cluster up --profile calico`"
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
    """The CNI named by kube-system's DaemonSets ("unknown" when they cannot be read, e.g. a workshop learner's rights)."""
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
