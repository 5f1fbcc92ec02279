"""What `grade workshop setup` publishes for each learner, and the learner's own NodePort.

The ConfigMap `netcourse-cluster-facts` in `<learner>-home` holds facts a learner cannot find out with
their namespaced rights: whether the cluster enforces NetworkPolicy (the instructor's setup ran the
doctor's deny probe, which needs a scratch namespace) and which nodePort is the learner's. The learner's
Role may only `get` it (resourceNames), so a learner cannot forge a "yes".

NodePorts are cluster-wide: lesson2's `nodePort: 30080` can belong to one Service only. Each learner
therefore gets a port of their own in LEARNER_NODE_PORTS; the fence rewrites 30080 to it in the
learner's Services and the Lab probes it when a check says port=30080. The probe goes to the node address
setup publishes (NODE_ADDRESS_KEY), since a learner may not list Nodes. Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

CLUSTER_FACTS_CONFIGMAP = "netcourse-cluster-facts"
POLICY_KEY = "networkPolicyEnforced"  # "yes" | "no" | "unknown"
POLICY_DETAIL_KEY = "networkPolicyDetail"
POLICY_HINT_KEY = "networkPolicyHint"
PROVEN_AT_KEY = "provenAt"
TIMESTAMP_FORMAT = "%Y-%m-%dT%H:%M:%S"  # local time, as provenAt and the learners' results write it
NODE_PORT_KEY = "nodePort"
NODE_ADDRESS_KEY = "nodeAddress"  # where learners' NodePort probes go (a learner's Role cannot list Nodes)
NODE_ADDRESS_SOURCE_KEY = "nodeAddressSource"  # e.g. "ExternalIP of node worker-1", "--node-address"

COURSE_NODE_PORTS = (30080,)  # the nodePorts the lessons fix (lesson2's my-nodeport)
# Above kind's and the course's fixed ports, inside the API server's default NodePort range (30000-32767).
LEARNER_NODE_PORTS = range(30100, 32768)
KUBECONFIG_EXTENSION = "netcourse"  # kubeconfig `extensions` entry that carries the learner's nodePort


def stable_node_port(learner: str) -> int:
    """The learner's nodePort when nothing else decides it: a stable hash of the name into LEARNER_NODE_PORTS."""
    digest = int.from_bytes(hashlib.sha256(learner.encode()).digest()[:8], "big")
    return LEARNER_NODE_PORTS[digest % len(LEARNER_NODE_PORTS)]


def roster_node_ports(learners: Iterable[str], taken: Iterable[int] = ()) -> dict[str, int]:
    """One distinct nodePort per learner: the stable hash, moved to the next free port on a collision
    (in roster order, so earlier learners keep their port when later ones are added)."""
    used = set(taken)
    out: dict[str, int] = {}
    size = len(LEARNER_NODE_PORTS)
    for learner in learners:
        if learner in out:
            continue
        start = LEARNER_NODE_PORTS.index(stable_node_port(learner))
        for step in range(size):
            port = LEARNER_NODE_PORTS[(start + step) % size]
            if port not in used:
                break
        else:
            raise ValueError(f"more learners than nodePorts in {LEARNER_NODE_PORTS.start}-{LEARNER_NODE_PORTS.stop - 1}")
        used.add(port)
        out[learner] = port
    return out


def node_port_map(learner_port: int) -> dict[int, int]:
    """The lesson's nodePort -> the learner's (one course port today: 30080)."""
    return {course: learner_port for course in COURSE_NODE_PORTS}


def cluster_facts_data(policy_ok: bool | None, detail: str, hint: str, node_port: int, proven_at: str,
                       node_address: str | None = None, node_address_source: str = "") -> dict[str, str]:
    """The ConfigMap data setup publishes: the deny probe's verdict (with the doctor's words), the nodePort
    and, when known, the node address learners' NodePort probes go to and where it came from."""
    verdict = "yes" if policy_ok is True else "no" if policy_ok is False else "unknown"
    data = {POLICY_KEY: verdict, POLICY_DETAIL_KEY: detail, POLICY_HINT_KEY: hint, PROVEN_AT_KEY: proven_at,
            NODE_PORT_KEY: str(node_port)}
    if node_address:
        data[NODE_ADDRESS_KEY] = node_address
        data[NODE_ADDRESS_SOURCE_KEY] = node_address_source
    return data


def _node_ready(node: Mapping[str, Any]) -> bool:
    conditions = (node.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


def pick_node_address(nodes: Iterable[Mapping[str, Any]], override: str | None = None) -> tuple[str | None, str]:
    """(address, where it came from) for reaching a NodePort: `override` (setup's --node-address), else the
    first ExternalIP of any node, else the first InternalIP; Ready nodes first. (None, reason) when no node
    reports either."""
    if override:
        return override, "--node-address"
    ordered = sorted(nodes, key=lambda n: not _node_ready(n))  # stable: list order among equals
    for kind in ("ExternalIP", "InternalIP"):
        for node in ordered:
            for a in (node.get("status") or {}).get("addresses") or []:
                if a.get("type") == kind and a.get("address"):
                    return str(a["address"]), f"{kind} of node {(node.get('metadata') or {}).get('name', '?')}"
    return None, "no node reports an ExternalIP or InternalIP (`kubectl get nodes -o wide`)"


def published_node_address(configmap: Mapping[str, Any] | None) -> tuple[str | None, str]:
    """(address, where setup found it) from the facts ConfigMap as the API returns it; (None, "") when absent."""
    data = (configmap or {}).get("data") or {}
    address = str(data.get(NODE_ADDRESS_KEY) or "").strip()
    if not address:
        return None, ""
    return address, str(data.get(NODE_ADDRESS_SOURCE_KEY) or "source not recorded")


def published_policy(configmap: Mapping[str, Any] | None) -> tuple[str, str, str]:
    """("yes"|"no"|"unknown"|"missing", detail, hint) from the facts ConfigMap as the API returns it."""
    data = (configmap or {}).get("data") or {}
    verdict = data.get(POLICY_KEY)
    if configmap is None or verdict not in ("yes", "no", "unknown"):
        return "missing", "", ""
    return verdict, str(data.get(POLICY_DETAIL_KEY) or ""), str(data.get(POLICY_HINT_KEY) or "")


def kubeconfig_node_port(kubeconfig: Mapping[str, Any]) -> int | None:
    """The learner's nodePort from the `netcourse` extension setup writes into the kubeconfig (None: absent)."""
    for ext in kubeconfig.get("extensions") or []:
        if isinstance(ext, dict) and ext.get("name") == KUBECONFIG_EXTENSION:
            port = (ext.get("extension") or {}).get(NODE_PORT_KEY)
            if isinstance(port, int) and port in LEARNER_NODE_PORTS:
                return port
    return None
