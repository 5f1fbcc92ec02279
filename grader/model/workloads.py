"""Turn loaded manifests into a simulated cluster (`World`): nodes, namespaces, pods, Services, raw objects.

Pure: no I/O. The same manifests always give the same names, nodes and IPs, whatever the file order
(objects are sorted by namespace/name before anything is allocated).

The rules, each a simplification of what the course cluster (kind, 1 control-plane + 2 workers) does:

- Nodes: NODE_NAMES / NODE_IPS. The control-plane carries kind's taint
  node-role.kubernetes.io/control-plane:NoSchedule, so the scheduler puts a pod there only if it
  tolerates that taint; `spec.nodeName` skips the scheduler (NoSchedule does not apply) and wins.
- Workloads -> pods: Pod; Deployment (`<name>-<hash>-<suffix>`, replicas default 1, label
  pod-template-hash); ReplicaSet (`<name>-<suffix>`); StatefulSet (`<name>-0..n-1`, hostname = pod name,
  subdomain = spec.serviceName); DaemonSet (one pod per node it may run on: nodeSelector, plus the
  control-plane only when tolerated); Job (min(parallelism, completions) pods, default 1). A CronJob
  creates no pods: its Jobs only appear at schedule time, which a static model has not reached.
  Hashes and suffixes come from a SHA-256 of the object's namespace/name, in Kubernetes' vowel-free
  alphabet, so they look real and never change between runs.
- Scheduling: spec.nodeName (and a DaemonSet's node) binds a pod at creation, without the scheduler;
  those pods are placed first, so the scheduler sees them. Every other pod goes, in namespace/name
  order, to a node that passes the scheduler's filters. Among several feasible nodes the real
  scheduler's choice is not determined by the manifests: the simulator guesses it from the scoring
  plugins' tendencies (preferred node affinity and preferred pod (anti-)affinity first, then
  ScheduleAnyway spread, then spreading a workload's replicas, then the emptier node, so two replicas or
  two unpinned pods land on different workers, as a real scheduler usually does) and records the
  feasible nodes in `Pod.candidates`: more than one means the node is a guess, which traces say and
  no check may depend on (`possible_placements` gives every outcome the scheduler may choose). The filters,
  in the scheduler's order (the first that fails names the node's reason in the Pending message):
  - nodeSelector, and nodeAffinity requiredDuringSchedulingIgnoredDuringExecution (terms ORed,
    expressions ANDed; In, NotIn, Exists, DoesNotExist, Gt, Lt; matchFields metadata.name);
  - the control-plane taint (tolerations);
  - podAffinity / podAntiAffinity requiredDuringSchedulingIgnoredDuringExecution on any topologyKey
    the nodes carry (kubernetes.io/hostname is the usual one; all kind nodes share kubernetes.io/os):
    labelSelector (null selects nothing), namespaces and namespaceSelector (neither = the pod's own
    namespace). Affinity needs a matching pod in the node's domain, except for the first pod of a group
    that matches its own terms; anti-affinity forbids a matching pod there, and an existing pod's
    anti-affinity also keeps matching newcomers out of its domain (symmetry). A pod whose affinity
    cannot be met yet is retried after the others, as the scheduler retries unschedulable pods;
  - topologySpreadConstraints with whenUnsatisfiable DoNotSchedule: count(domain) + self - min over
    domains must stay <= maxSkew; domains are the nodes passing nodeSelector/nodeAffinity
    (nodeAffinityPolicy Honor) and, by default, tainted nodes too (nodeTaintsPolicy Ignore), so on kind
    the control-plane counts as an empty domain; minDomains is honoured.
  preferred* terms and ScheduleAnyway constraints only rank nodes (they never make one infeasible).
  Not modelled: matchLabelKeys/mismatchLabelKeys, node resources, and taints other than the
  control-plane's. A pod that can go nowhere (unknown nodeName, a nodeSelector no node matches, an
  anti-affinity every node violates) stays Pending: ip "" and ready False, as `kubectl get pods` would show,
  with `Pod.pending_reason` worded as the scheduler's FailedScheduling event
  ("0/3 nodes are available: 1 node(s) had untolerated taint {...}, 2 node(s) didn't match Pod's node affinity/selector.").
- Pod IPs: node i (index in NODE_NAMES) owns 10.244.i.0/24 as in kind; its pods get .2, .3, ... in
  namespace/name order, skipping addresses given in status.podIP. hostNetwork pods use the node's IP.
- Readiness: a Pod is ready unless status.phase is present and not Running, or status.conditions has
  Ready "False". A workload's pods are ready unless its status.readyReplicas says fewer are: then the
  first readyReplicas pods (in name order) are ready.
- Services: ClusterIPs from SERVICE_CIDR unless spec.clusterIP is set ("None" = headless), chosen by
  a hash of namespace/name (stable when other Services come and go) and never 10.96.0.1 (kubernetes)
  or 10.96.0.10 (kube-dns). NodePorts likewise from NODEPORT_RANGE. LoadBalancer IPs as
  cloud-provider-kind gives them: its Envoy container's address on the kind network, i.e. the next
  free 172.18.0.x after the nodes (from .5), unless spec.loadBalancerIP or status.loadBalancer says.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from grader.model.objects import (
    CLUSTER_DNS_IP,
    NODE_IPS,
    NODE_NAMES,
    NODEPORT_RANGE,
    SERVICE_CIDR,
    ContainerPort,
    Namespace,
    Node,
    Pod,
    Raw,
    Service,
    ServicePort,
    Source,
    World,
)
from grader.model.selectors import matches

if TYPE_CHECKING:
    from grader.manifests import Manifest

CONTROL_PLANE_TAINT = "node-role.kubernetes.io/control-plane"
KUBERNETES_SERVICE_IP = "10.96.0.1"
# cloud-provider-kind's load balancer containers join the kind network after the three nodes.
FIRST_LOAD_BALANCER_IP = "172.18.0.5"
# Kubernetes' rand.SafeEncodeString alphabet: no vowels, no confusable characters.
_SAFE_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
_WORKLOAD_KINDS = ("Pod", "Deployment", "ReplicaSet", "StatefulSet", "DaemonSet", "Job")
_RAW_TARGETS = {
    "NetworkPolicy": "policies",
    "Ingress": "ingresses",
    "IngressClass": "ingress_classes",
    "Secret": "secrets",
    "Endpoints": "endpoints",
    "EndpointSlice": "endpoints",
}
SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "local-path-storage")


@dataclass
class _PodPlan:
    """A pod before scheduling and addressing."""

    namespace: str
    name: str
    labels: dict[str, str]
    spec: dict[str, Any]
    status: dict[str, Any] | None = None
    owner: str | None = None
    source: Source | None = None
    hostname: str | None = None
    subdomain: str | None = None
    ready: bool | None = None  # decided by the owner's status; None = from the pod's own status
    node: str | None = None  # fixed by a DaemonSet


def build_world(manifests: list[Manifest], *, enforce_policy: bool = True, include_system: bool = False) -> World:
    """Build the simulated cluster from validated manifests (see the module docstring for every rule).

    `enforce_policy=False` models a CNI that ignores NetworkPolicy (Flannel, or kindnet failing open).
    `include_system=True` also adds what kind itself runs: the kube-system namespaces, two CoreDNS pods
    (k8s-app=kube-dns) with the kube-dns Service at 10.96.0.10, the local-path-provisioner pod, the
    `kubernetes` Service at 10.96.0.1 (services.builtin_services; its endpoint is the API server, control-plane:6443),
    and the default IngressClass `cloud-provider-kind` of the course's Ingress controller (ingress.course_ingress_class;
    one the manifests define under that name is kept, marked default as the controller keeps it).
    """
    world = World(nodes=_nodes(), cni_enforces_policy=enforce_policy)
    ordered = sorted(manifests, key=lambda m: (m.namespace or "", m.kind, m.name))

    world.namespaces = _namespaces(manifests, include_system)
    system_plans = _system_pod_plans() if include_system else []
    plans: list[_PodPlan] = []
    for m in ordered:
        if m.kind in _WORKLOAD_KINDS:
            plans.extend(_pod_plans(m, world.nodes))
    plans.sort(key=lambda p: (p.namespace, p.name))
    world.pods = _place_pods(system_plans, plans, world.nodes, world.namespaces)

    services = [m for m in ordered if m.kind == "Service"]
    world.services = _services(services, include_system)

    for m in manifests:  # input order: it is the apply order, which Ingress conflict rules may use
        if m.kind in _WORKLOAD_KINDS or m.kind in ("Service", "Namespace"):
            continue
        raw = Raw(m.kind, m.namespace, m.name, m.obj, m.source)
        getattr(world, _RAW_TARGETS.get(m.kind, "others")).append(raw)
    if include_system:
        world.ingress_classes = _with_course_ingress_class(world.ingress_classes)
    return world


# ------------------------------------------------------------------------------------- nodes, namespaces


def _nodes() -> list[Node]:
    nodes = []
    for i, (name, ip) in enumerate(zip(NODE_NAMES, NODE_IPS)):
        labels = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
        if i == 0:
            labels[CONTROL_PLANE_TAINT] = ""
            labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
        nodes.append(Node(name, ip, labels))
    return nodes


def _is_control_plane(node: Node) -> bool:
    return CONTROL_PLANE_TAINT in node.labels


def _namespaces(manifests: list[Manifest], include_system: bool) -> dict[str, Namespace]:
    labels: dict[str, dict[str, str]] = {"default": {}}
    if include_system:
        labels.update({ns: {} for ns in SYSTEM_NAMESPACES})
    for m in manifests:
        if m.kind == "Namespace":
            labels[m.name] = dict((m.obj.get("metadata") or {}).get("labels") or {})
        elif m.namespace:
            labels.setdefault(m.namespace, {})
    out = {}
    for name in sorted(labels):
        ns_labels = dict(labels[name])
        ns_labels["kubernetes.io/metadata.name"] = name  # the API server sets it on every namespace
        out[name] = Namespace(name, ns_labels)
    return out


# ------------------------------------------------------------------------------------- workloads -> pods


def _safe_hash(text: str, length: int) -> str:
    number = int.from_bytes(hashlib.sha256(text.encode()).digest(), "big")
    chars = []
    for _ in range(length):
        number, digit = divmod(number, len(_SAFE_ALPHABET))
        chars.append(_SAFE_ALPHABET[digit])
    return "".join(chars)


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _pod_plans(m: Manifest, nodes: list[Node]) -> list[_PodPlan]:
    obj, ns, name = m.obj, m.namespace or "default", m.name
    spec = obj.get("spec") or {}
    if m.kind == "Pod":
        meta = obj.get("metadata") or {}
        return [_PodPlan(ns, name, dict(meta.get("labels") or {}), spec, obj.get("status") or {}, None, m.source,
                         spec.get("hostname"), spec.get("subdomain"))]
    template = spec.get("template") or {}
    pod_spec = template.get("spec") or {}
    labels = dict((template.get("metadata") or {}).get("labels") or {})
    owner = f"{m.kind}/{name}"

    def plan(pod_name: str, extra: dict[str, str], **kw: Any) -> _PodPlan:
        kw.setdefault("hostname", pod_spec.get("hostname"))
        kw.setdefault("subdomain", pod_spec.get("subdomain"))
        return _PodPlan(ns, pod_name, {**labels, **extra}, pod_spec, None, owner, m.source, **kw)

    if m.kind == "Deployment":
        template_hash = _safe_hash(f"{ns}/{name}", 10)
        count = _int(spec.get("replicas"), 1)
        plans = [plan(f"{name}-{template_hash}-{_safe_hash(f'{ns}/{name}/{i}', 5)}",
                      {"pod-template-hash": template_hash}) for i in range(count)]
    elif m.kind == "ReplicaSet":
        count = _int(spec.get("replicas"), 1)
        plans = [plan(f"{name}-{_safe_hash(f'{ns}/{name}/{i}', 5)}", {}) for i in range(count)]
    elif m.kind == "StatefulSet":
        count = _int(spec.get("replicas"), 1)
        plans = [plan(f"{name}-{i}", {"statefulset.kubernetes.io/pod-name": f"{name}-{i}",
                                      "apps.kubernetes.io/pod-index": str(i)},
                      hostname=f"{name}-{i}", subdomain=spec.get("serviceName") or None) for i in range(count)]
    elif m.kind == "DaemonSet":
        plans = [plan(f"{name}-{_safe_hash(f'{ns}/{name}/{node.name}', 5)}", {}, node=node.name)
                 for node in nodes if _node_allowed(node, pod_spec)]
    else:  # Job
        parallelism = _int(spec.get("parallelism"), 1)
        completions = spec.get("completions")
        count = min(parallelism, completions) if _int(completions, -1) >= 0 else parallelism
        plans = [plan(f"{name}-{_safe_hash(f'{ns}/{name}/{i}', 5)}",
                      {"job-name": name, "batch.kubernetes.io/job-name": name}) for i in range(count)]
    status = obj.get("status")
    if isinstance(status, dict) and m.kind in ("Deployment", "ReplicaSet", "StatefulSet", "DaemonSet"):
        ready_count = _int(status.get("readyReplicas", status.get("numberReady")), 0)
        for i, p in enumerate(sorted(plans, key=lambda p: p.name)):
            p.ready = i < ready_count
    return plans


def _tolerates(pod_spec: dict[str, Any], key: str, effect: str) -> bool:
    """Whether the pod tolerates taint `key` (empty value) with this effect."""
    for t in pod_spec.get("tolerations") or []:
        if not isinstance(t, dict) or (t.get("effect") and t["effect"] != effect):
            continue
        if t.get("operator", "Equal") == "Exists":
            if not t.get("key") or t["key"] == key:
                return True
        elif t.get("key") == key and not t.get("value"):
            return True
    return False


def _requirement_matches(requirement: Any, value: str | None) -> bool:
    """One nodeSelectorRequirement against a node's label (or field) value; None = the node lacks it."""
    if not isinstance(requirement, dict):
        return False
    operator, values = requirement.get("operator"), [str(v) for v in requirement.get("values") or []]
    if operator == "In":
        return value is not None and value in values
    if operator == "NotIn":
        return value is None or value not in values
    if operator == "Exists":
        return value is not None
    if operator == "DoesNotExist":
        return value is None
    if operator in ("Gt", "Lt") and value is not None and len(values) == 1:
        try:
            have, limit = int(value), int(values[0])
        except ValueError:
            return False
        return have > limit if operator == "Gt" else have < limit
    return False


def _term_matches_node(term: Any, node: Node) -> bool:
    """One nodeSelectorTerm: every matchExpressions and matchFields requirement holds (an empty term matches nothing)."""
    if not isinstance(term, dict):
        return False
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    return all(_requirement_matches(r, node.labels.get(str((r or {}).get("key")))) for r in expressions) and all(
        _requirement_matches(r, node.name if (r or {}).get("key") == "metadata.name" else None) for r in fields
    )


def _node_affinity_allows(node: Node, pod_spec: dict[str, Any]) -> bool:
    """nodeAffinity requiredDuringSchedulingIgnoredDuringExecution: any term whose requirements all hold."""
    required = ((pod_spec.get("affinity") or {}).get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    if not isinstance(required, dict):
        return True
    return any(_term_matches_node(term, node) for term in required.get("nodeSelectorTerms") or [])


def _node_selected(node: Node, pod_spec: dict[str, Any]) -> bool:
    """The node matches the pod's nodeSelector and required nodeAffinity."""
    selector = pod_spec.get("nodeSelector") or {}
    if any(node.labels.get(k) != v for k, v in selector.items()):
        return False
    return _node_affinity_allows(node, pod_spec)


def _taints_tolerated(node: Node, pod_spec: dict[str, Any]) -> bool:
    return not _is_control_plane(node) or _tolerates(pod_spec, CONTROL_PLANE_TAINT, "NoSchedule")


def _node_allowed(node: Node, pod_spec: dict[str, Any]) -> bool:
    """The scheduler's node filters: nodeSelector and nodeAffinity match, and the control-plane taint is tolerated."""
    return _node_selected(node, pod_spec) and _taints_tolerated(node, pod_spec)


# ------------------------------------------------------------------------------------- inter-pod scheduling

# Why a node is filtered out, worded as the scheduler's FailedScheduling event words it (plugin reasons).
_TAINT_REASON = "node(s) had untolerated taint {" + CONTROL_PLANE_TAINT + ": }"
_SELECTOR_REASON = "node(s) didn't match Pod's node affinity/selector"
_SPREAD_REASON = "node(s) didn't match pod topology spread constraints"
_SPREAD_LABEL_REASON = "node(s) didn't match pod topology spread constraints (missing required label)"
_AFFINITY_REASON = "node(s) didn't match pod affinity rules"
_ANTI_AFFINITY_REASON = "node(s) didn't match pod anti-affinity rules"
_EXISTING_ANTI_AFFINITY_REASON = "node(s) didn't satisfy existing pods anti-affinity rules"


@dataclass
class _Bound:
    """A pod already on a node, as the scheduler sees it when placing the next one."""

    plan: _PodPlan
    node: Node

    @property
    def anti_terms(self) -> list[dict[str, Any]]:
        return _required_terms(self.plan.spec, "podAntiAffinity")


def _required_terms(pod_spec: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    required = ((pod_spec.get("affinity") or {}).get(kind) or {}).get("requiredDuringSchedulingIgnoredDuringExecution")
    return [t for t in required or [] if isinstance(t, dict) and t.get("topologyKey")]


def _preferred_terms(pod_spec: dict[str, Any], kind: str) -> list[tuple[int, dict[str, Any]]]:
    """(weight, term) of the preferredDuringScheduling... list of nodeAffinity, podAffinity or podAntiAffinity."""
    preferred = ((pod_spec.get("affinity") or {}).get(kind) or {}).get("preferredDuringSchedulingIgnoredDuringExecution")
    out = []
    for entry in preferred or []:
        if not isinstance(entry, dict):
            continue
        term = entry.get("preference") if kind == "nodeAffinity" else entry.get("podAffinityTerm")
        if isinstance(term, dict) and (kind == "nodeAffinity" or term.get("topologyKey")):
            out.append((_int(entry.get("weight"), 1), term))
    return out


def _term_selects(term: dict[str, Any], owner_namespace: str, plan: _PodPlan,
                  namespaces: dict[str, Namespace]) -> bool:
    """Whether a pod (anti-)affinity term of a pod in `owner_namespace` selects the pod of `plan`."""
    listed = [str(n) for n in term.get("namespaces") or []]
    ns_selector = term.get("namespaceSelector")
    if not listed and ns_selector is None:
        in_scope = plan.namespace == owner_namespace
    else:
        ns = namespaces.get(plan.namespace)
        ns_labels = dict(ns.labels) if ns else {"kubernetes.io/metadata.name": plan.namespace}
        in_scope = plan.namespace in listed or (isinstance(ns_selector, dict) and matches(ns_selector, ns_labels))
    selector = term.get("labelSelector")
    return in_scope and isinstance(selector, dict) and matches(selector, plan.labels)


def _same_domain(a: Node, b: Node, key: str) -> bool:
    return key in a.labels and key in b.labels and a.labels[key] == b.labels[key]


def _pod_affinity_failure(plan: _PodPlan, node: Node, bound: list[_Bound], repelling: list[_Bound],
                          namespaces: dict[str, Namespace]) -> str | None:
    """The InterPodAffinity filter, in its order: required affinity, required anti-affinity, existing pods' anti-affinity."""
    terms = _required_terms(plan.spec, "podAffinity")
    if terms and not all(any(_same_domain(node, b.node, t["topologyKey"]) and _term_selects(t, plan.namespace, b.plan, namespaces)
                             for b in bound) for t in terms):
        # The first pod of a group that selects itself may go anywhere its topology keys exist.
        nobody_matches = not any(all(_term_selects(t, plan.namespace, b.plan, namespaces) for t in terms) for b in bound)
        if not (nobody_matches and all(_term_selects(t, plan.namespace, plan, namespaces) for t in terms)
                and all(t["topologyKey"] in node.labels for t in terms)):
            return _AFFINITY_REASON
    for term in _required_terms(plan.spec, "podAntiAffinity"):
        key = term["topologyKey"]
        if any(_same_domain(node, b.node, key) and _term_selects(term, plan.namespace, b.plan, namespaces) for b in bound):
            return _ANTI_AFFINITY_REASON
    for b in repelling:  # symmetry: a pod already there keeps out the pods its anti-affinity selects
        for term in b.anti_terms:
            if _same_domain(node, b.node, term["topologyKey"]) and _term_selects(term, b.plan.namespace, plan, namespaces):
                return _EXISTING_ANTI_AFFINITY_REASON
    return None


def _spread_counts(plan: _PodPlan, c: dict[str, Any], bound: list[_Bound], nodes: list[Node]) -> dict[str, int]:
    """Matching pods per topology domain of one topologySpreadConstraint (domains: the nodes it counts)."""
    key, selector = c.get("topologyKey"), c.get("labelSelector")
    eligible = [n for n in nodes
                if key in n.labels
                and (c.get("nodeAffinityPolicy") == "Ignore" or _node_selected(n, plan.spec))
                and (c.get("nodeTaintsPolicy") != "Honor" or _taints_tolerated(n, plan.spec))]
    counts = {n.labels[key]: 0 for n in eligible}
    eligible_names = {n.name for n in eligible}
    for b in bound:
        if (b.node.name in eligible_names and b.plan.namespace == plan.namespace
                and isinstance(selector, dict) and matches(selector, b.plan.labels)):
            counts[b.node.labels[key]] += 1
    return counts


def _spread_constraints(plan: _PodPlan, when: str) -> list[dict[str, Any]]:
    return [c for c in plan.spec.get("topologySpreadConstraints") or []
            if isinstance(c, dict) and c.get("whenUnsatisfiable", "DoNotSchedule") == when and c.get("topologyKey")]


def _spread_failure(plan: _PodPlan, node: Node, bound: list[_Bound], nodes: list[Node]) -> str | None:
    """The PodTopologySpread filter for whenUnsatisfiable: DoNotSchedule constraints."""
    for c in plan.spec.get("topologySpreadConstraints") or []:
        if not isinstance(c, dict) or c.get("whenUnsatisfiable", "DoNotSchedule") != "DoNotSchedule":
            continue
        key, max_skew, selector = c.get("topologyKey"), _int(c.get("maxSkew"), 1), c.get("labelSelector")
        if not key or key not in node.labels:
            return _SPREAD_LABEL_REASON
        counts = _spread_counts(plan, c, bound, nodes)
        lowest = min(counts.values()) if counts else 0
        if len(counts) < _int(c.get("minDomains"), 1):
            lowest = 0  # fewer domains than minDomains: the global minimum counts as 0
        own = 1 if isinstance(selector, dict) and matches(selector, plan.labels) else 0
        if counts.get(node.labels[key], 0) + own - lowest > max_skew:
            return _SPREAD_REASON
    return None


def _filter_failure(plan: _PodPlan, node: Node, bound: list[_Bound], repelling: list[_Bound], nodes: list[Node],
                    namespaces: dict[str, Namespace]) -> str | None:
    """Why the scheduler's filters reject `node` for this pod (the first failing plugin, in the scheduler's order), or None."""
    if not _taints_tolerated(node, plan.spec):
        return _TAINT_REASON
    if not _node_selected(node, plan.spec):
        return _SELECTOR_REASON
    return _spread_failure(plan, node, bound, nodes) or _pod_affinity_failure(plan, node, bound, repelling, namespaces)


def _unschedulable_message(failures: dict[str, str], total: int) -> str:
    """The FailedScheduling event: '0/3 nodes are available: 1 node(s) had untolerated taint ..., 2 node(s) ...'."""
    counts: dict[str, int] = {}
    for reason in failures.values():
        counts[reason] = counts.get(reason, 0) + 1
    parts = sorted(f"{n} {reason}" for reason, n in counts.items())
    return f"0/{total} nodes are available: {', '.join(parts)}."


@dataclass
class _Placed:
    """The pods bound so far, indexed the ways the filters and scores ask, so placing n pods stays near O(n).

    `repelling` holds the bound pods with a required pod anti-affinity (the filter's symmetry check),
    `preferring` those with preferred pod (anti-)affinity terms (the score's symmetry), both usually few;
    `on_node` and `siblings` count pods per node and per (node, namespace, owner)."""

    bound: list[_Bound] = field(default_factory=list)
    repelling: list[_Bound] = field(default_factory=list)
    preferring: list[_Bound] = field(default_factory=list)
    on_node: dict[str, int] = field(default_factory=dict)
    siblings: dict[tuple[str, str, str], int] = field(default_factory=dict)

    def bind(self, plan: _PodPlan, node: Node) -> None:
        b = _Bound(plan, node)
        self.bound.append(b)
        if b.anti_terms:
            self.repelling.append(b)
        if _preferred_terms(plan.spec, "podAffinity") or _preferred_terms(plan.spec, "podAntiAffinity"):
            self.preferring.append(b)
        self.on_node[node.name] = self.on_node.get(node.name, 0) + 1
        if plan.owner:
            key = (node.name, plan.namespace, plan.owner)
            self.siblings[key] = self.siblings.get(key, 0) + 1


def _score(plan: _PodPlan, node: Node, placed: _Placed, nodes: list[Node],
           namespaces: dict[str, Namespace]) -> tuple[int, int, int, int]:
    """How much the scheduler's scoring likes `node` for this pod, as a sortable tuple (higher is better).

    A guess at the default scoring plugins' tendencies, most decisive first: preferred node affinity and
    preferred pod (anti-)affinity (the pod's own terms and, symmetrically, existing pods' terms that select
    it), then ScheduleAnyway spread constraints, then spreading a workload's replicas, then the emptier node
    (pods without requests still count a default request each, so least-allocated favours fewer pods)."""
    preferred = sum(w for w, term in _preferred_terms(plan.spec, "nodeAffinity") if _term_matches_node(term, node))
    for kind, sign in (("podAffinity", 1), ("podAntiAffinity", -1)):
        for weight, term in _preferred_terms(plan.spec, kind):
            if any(_same_domain(node, b.node, term["topologyKey"]) and _term_selects(term, plan.namespace, b.plan, namespaces)
                   for b in placed.bound):
                preferred += sign * weight
        for b in placed.preferring:
            for weight, term in _preferred_terms(b.plan.spec, kind):
                if _same_domain(node, b.node, term["topologyKey"]) and _term_selects(term, b.plan.namespace, plan, namespaces):
                    preferred += sign * weight
    skew = 0
    for c in _spread_constraints(plan, "ScheduleAnyway"):
        if c["topologyKey"] in node.labels:
            skew += _spread_counts(plan, c, placed.bound, nodes).get(node.labels[c["topologyKey"]], 0)
    siblings = placed.siblings.get((node.name, plan.namespace, plan.owner), 0) if plan.owner else 0
    return (preferred, -skew, -siblings, -placed.on_node.get(node.name, 0))


@dataclass
class _Choice:
    """Where the scheduler put one pod: `node` None = Pending (`pending` says why); `candidates` = the nodes it could choose."""

    node: str | None
    candidates: tuple[str, ...] = ()
    pending: str = ""


def _schedule(plans: list[_PodPlan], nodes: list[Node], namespaces: dict[str, Namespace]) -> list[_Choice]:
    """Where each plan goes, see the module docstring for the rules."""
    by_name = {n.name: n for n in nodes}
    chosen: list[_Choice] = [_Choice(None) for _ in plans]
    placed = _Placed()
    bound, repelling, bind = placed.bound, placed.repelling, placed.bind

    waiting = []
    for i, plan in enumerate(plans):
        given = plan.node or plan.spec.get("nodeName")
        if given:  # bound at creation, no scheduler involved
            if given in by_name:
                chosen[i] = _Choice(given)
                bind(plan, by_name[given])
            else:
                chosen[i] = _Choice(given, pending=(
                    f"spec.nodeName is {given}, and the cluster has no node of that name (its nodes: "
                    f"{', '.join(by_name)}): no scheduler places this pod and no kubelet starts it; the pod garbage "
                    "collector deletes a pod bound to a missing node"))
        else:
            waiting.append(i)
    while waiting:
        deferred = []
        for i in waiting:
            plan = plans[i]
            feasible = [n for n in nodes if _filter_failure(plan, n, bound, repelling, nodes, namespaces) is None]
            if not feasible:
                deferred.append(i)
                continue
            node = max(feasible, key=lambda n: _score(plan, n, placed, nodes, namespaces))  # first of equals wins
            chosen[i] = _Choice(node.name, tuple(n.name for n in feasible))
            bind(plan, node)
        if len(deferred) == len(waiting):
            break  # no progress: these stay Pending
        waiting = deferred
    for i in waiting:
        plan = plans[i]
        failures = {n.name: _filter_failure(plan, n, bound, repelling, nodes, namespaces) or "" for n in nodes}
        chosen[i] = _Choice(None, pending=_unschedulable_message(failures, len(nodes)))
    return chosen


def _plan_of(pod: Pod) -> _PodPlan:
    return _PodPlan(pod.namespace, pod.name, dict(pod.labels), pod.spec, owner=pod.owner)


def _pinned_node(pod: Pod) -> str | None:
    """The node a pod was bound to without the scheduler (nodeName, a DaemonSet's node), or None."""
    if pod.spec.get("nodeName"):
        return str(pod.spec["nodeName"])
    if pod.owner and pod.owner.startswith("DaemonSet/") and pod.node:
        return pod.node
    return None


def possible_placements(world: World, keys: list[str], *, limit: int = 4000) -> list[dict[str, str | None]] | None:
    """Every joint placement of the pods `keys` the scheduler may produce, in any scheduling order and with any
    choice among feasible nodes; every other pod stays where the world has it. A pod that can go nowhere in an
    outcome maps to None (Pending). Returns None when more than `limit` partial placements would be explored."""
    by_name = {n.name: n for n in world.nodes}
    pods = {k: world.pod(k) for k in keys}
    plans = {k: _plan_of(p) for k, p in pods.items() if p is not None}
    fixed = {k: _pinned_node(p) for k, p in pods.items() if p is not None}
    others = [_Bound(_plan_of(p), by_name[p.node]) for p in world.pods if p.key not in plans and p.node in by_name]
    start = tuple(sorted((k, fixed[k]) for k in plans if fixed[k]))
    free = [k for k in sorted(plans) if not fixed[k]]
    outcomes: dict[tuple, dict[str, str | None]] = {}
    seen: set[tuple] = set()
    stack = [start]
    while stack:
        state = stack.pop()
        if state in seen:
            continue
        seen.add(state)
        if len(seen) > limit:
            return None
        placed = dict(state)
        bound = others + [_Bound(plans[k], by_name[n]) for k, n in state if n in by_name]
        repelling = [b for b in bound if b.anti_terms]
        moves = [(k, n.name) for k in free if k not in placed for n in world.nodes
                 if _filter_failure(plans[k], n, bound, repelling, world.nodes, world.namespaces) is None]
        if not moves:
            result = {k: (placed.get(k) if placed.get(k) in by_name else None) for k in keys}
            outcomes[tuple(sorted(result.items(), key=lambda kv: kv[0]))] = result
            continue
        for k, n in moves:
            stack.append(tuple(sorted({**placed, k: n}.items())))
    return list(outcomes.values())


def _place_pods(system_plans: list[_PodPlan], plans: list[_PodPlan], nodes: list[Node],
                namespaces: dict[str, Namespace]) -> list[Pod]:
    """Schedule and address pods; system pods first, on the control-plane. IPs follow namespace/name order."""
    by_name = {n.name: n for n in nodes}
    explicit_ips = {
        p.status["podIP"] for p in system_plans + plans if p.status and isinstance(p.status.get("podIP"), str)
    }
    next_host = {n.name: 2 for n in nodes}
    pods: list[Pod] = []
    all_plans = system_plans + plans
    for plan, choice in zip(all_plans, _schedule(all_plans, nodes, namespaces)):
        node_name = choice.node
        node = by_name.get(node_name or "")
        host_network = bool(plan.spec.get("hostNetwork"))
        status = plan.status or {}
        ip = ""
        if node is not None:
            if host_network:
                ip = node.ip
            elif isinstance(status.get("podIP"), str):
                ip = status["podIP"]
            else:
                ip = _next_pod_ip(nodes.index(node), next_host, node.name, explicit_ips)
        ready = plan.ready if plan.ready is not None else _ready_from_status(status)
        pods.append(Pod(
            namespace=plan.namespace,
            name=plan.name,
            labels=plan.labels,
            ip=ip,
            node=node_name or "",
            ports=_container_ports(plan.spec),
            ready=bool(ready and ip),
            host_network=host_network,
            hostname=plan.hostname,
            subdomain=plan.subdomain,
            owner=plan.owner,
            source=plan.source,
            containers=_running_containers(plan.spec),
            spec=plan.spec,
            candidates=choice.candidates,
            pending_reason=choice.pending,
        ))
    return pods


def _next_pod_ip(node_index: int, next_host: dict[str, int], node_name: str, taken: set[str]) -> str:
    """The next free address of this node's /24, or "" when it is full (the pod would stay Pending)."""
    while next_host[node_name] <= 254:
        ip = f"10.244.{node_index}.{next_host[node_name]}"
        next_host[node_name] += 1
        if ip not in taken:
            return ip
    return ""


def _ready_from_status(status: dict[str, Any]) -> bool:
    phase = status.get("phase")
    if phase is not None and phase != "Running":
        return False
    for condition in status.get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Ready":
            return str(condition.get("status")) == "True"
    return True


def _running_containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The containers that keep running: containers, plus sidecars (init containers with restartPolicy: Always)."""
    containers = [c for c in pod_spec.get("containers") or [] if isinstance(c, dict)]
    containers += [c for c in pod_spec.get("initContainers") or [] if isinstance(c, dict)
                   and c.get("restartPolicy") == "Always"]
    return containers


def _container_ports(pod_spec: dict[str, Any]) -> list[ContainerPort]:
    """Declared ports of the running containers."""
    ports = []
    for c in _running_containers(pod_spec):
        for p in c.get("ports") or []:
            if isinstance(p, dict) and isinstance(p.get("containerPort"), int):
                ports.append(ContainerPort(p["containerPort"], p.get("protocol") or "TCP", p.get("name"),
                                           c.get("name") or ""))
    return ports


# ------------------------------------------------------------------------------------- services


def _hashed_pick(text: str, low: int, high: int, taken: set[int]) -> int:
    """A number in [low, high] chosen by a hash of `text`, probing upward past taken ones."""
    size = high - low + 1
    start = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") % size
    for step in range(size):
        candidate = low + (start + step) % size
        if candidate not in taken:
            taken.add(candidate)
            return candidate
    raise ValueError(f"no free value left in {low}-{high}")


def _services(manifests: list[Manifest], include_system: bool) -> list[Service]:
    network = ipaddress.ip_network(SERVICE_CIDR)
    base = int(network.network_address)
    reserved = {KUBERNETES_SERVICE_IP, CLUSTER_DNS_IP}
    taken_ips = {int(ipaddress.ip_address(ip)) - base for ip in reserved}
    taken_ports: set[int] = set()
    taken_lb: set[str] = set(NODE_IPS)
    for m in manifests:  # explicit values first, so allocation never takes them
        spec = m.obj.get("spec") or {}
        ip = spec.get("clusterIP")
        if isinstance(ip, str) and ip not in ("", "None"):
            taken_ips.add(int(ipaddress.ip_address(ip)) - base)
        for p in spec.get("ports") or []:
            if isinstance(p, dict) and isinstance(p.get("nodePort"), int) and p["nodePort"]:
                taken_ports.add(p["nodePort"])
        lb = _given_load_balancer_ip(m.obj)
        if lb:
            taken_lb.add(lb)

    declared = {(m.namespace or "default", m.name) for m in manifests}
    # A built-in Service declared in the manifests is that object, updated: the declaration replaces it.
    services = [s for s in _system_services() if (s.namespace, s.name) not in declared] if include_system else []
    next_lb = int(ipaddress.ip_address(FIRST_LOAD_BALANCER_IP))
    for m in manifests:
        spec = m.obj.get("spec") or {}
        ns, name = m.namespace or "default", m.name
        svc_type = spec.get("type") or "ClusterIP"
        selector = spec.get("selector")
        # An empty selector is stored as no selector (empty maps are dropped), so it selects no pods.
        selector = dict(selector) if isinstance(selector, dict) and selector and svc_type != "ExternalName" else None
        cluster_ip: str | None
        given_ip = spec.get("clusterIP")
        if svc_type == "ExternalName" or given_ip == "None":
            cluster_ip = None
        elif isinstance(given_ip, str) and given_ip:
            cluster_ip = given_ip
        else:
            # Skip the network address (offset 0) and the broadcast address of the range.
            offset = _hashed_pick(f"{ns}/{name}", 1, network.num_addresses - 2, taken_ips)
            cluster_ip = str(ipaddress.ip_address(base + offset))
        wants_external = svc_type in ("NodePort", "LoadBalancer")
        wants_node_ports = svc_type == "NodePort" or (
            svc_type == "LoadBalancer" and spec.get("allocateLoadBalancerNodePorts", True) is not False)
        ports = []
        for i, p in enumerate(spec.get("ports") or []):
            if not isinstance(p, dict) or not isinstance(p.get("port"), int):
                continue
            node_port = p.get("nodePort") if isinstance(p.get("nodePort"), int) and p.get("nodePort") else None
            if node_port is None and wants_node_ports:
                node_port = _hashed_pick(f"{ns}/{name}/{i}", NODEPORT_RANGE[0], NODEPORT_RANGE[1], taken_ports)
            target = p.get("targetPort")
            ports.append(ServicePort(
                port=p["port"],
                target_port=target if isinstance(target, (int, str)) and target != "" else p["port"],
                protocol=p.get("protocol") or "TCP",
                name=p.get("name") or None,
                node_port=node_port,
            ))
        lb_ip = None
        if svc_type == "LoadBalancer":
            lb_ip = _given_load_balancer_ip(m.obj)
            if lb_ip is None:
                while str(ipaddress.ip_address(next_lb)) in taken_lb:
                    next_lb += 1
                lb_ip = str(ipaddress.ip_address(next_lb))
                taken_lb.add(lb_ip)
        services.append(Service(
            namespace=ns,
            name=name,
            type=svc_type,
            selector=selector,
            cluster_ip=cluster_ip,
            ports=ports,
            external_name=spec.get("externalName") if svc_type == "ExternalName" else None,
            load_balancer_ip=lb_ip,
            publish_not_ready=bool(spec.get("publishNotReadyAddresses")),
            source=m.source,
            # The API server defaults both to Cluster (externalTrafficPolicy only for NodePort/LoadBalancer).
            external_traffic_policy="Local" if wants_external and spec.get("externalTrafficPolicy") == "Local" else "Cluster",
            internal_traffic_policy="Local" if spec.get("internalTrafficPolicy") == "Local" else "Cluster",
        ))
    return services


def _given_load_balancer_ip(obj: dict[str, Any]) -> str | None:
    if (obj.get("spec") or {}).get("type") != "LoadBalancer":
        return None
    ingress = ((obj.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    if ingress and isinstance(ingress[0], dict) and ingress[0].get("ip"):
        return ingress[0]["ip"]
    given = (obj.get("spec") or {}).get("loadBalancerIP")
    return given if isinstance(given, str) and given else None


# ------------------------------------------------------------------------------------- kind's own objects


def _system_pod_plans() -> list[_PodPlan]:
    """What a fresh kind cluster runs that the course's probes can meet: CoreDNS and local-path-provisioner."""
    control_plane = NODE_NAMES[0]
    template_hash = _safe_hash("kube-system/coredns", 10)
    dns_spec = {"containers": [{"name": "coredns", "ports": [
        {"containerPort": 53, "name": "dns", "protocol": "UDP"},
        {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
        {"containerPort": 9153, "name": "metrics", "protocol": "TCP"},
    ]}]}
    plans = [
        _PodPlan("kube-system", f"coredns-{template_hash}-{_safe_hash(f'kube-system/coredns/{i}', 5)}",
                 {"k8s-app": "kube-dns", "pod-template-hash": template_hash}, dns_spec,
                 owner="Deployment/coredns", node=control_plane)
        for i in range(2)
    ]
    provisioner_hash = _safe_hash("local-path-storage/local-path-provisioner", 10)
    plans.append(_PodPlan(
        "local-path-storage",
        f"local-path-provisioner-{provisioner_hash}-{_safe_hash('local-path-storage/local-path-provisioner/0', 5)}",
        {"app": "local-path-provisioner", "pod-template-hash": provisioner_hash},
        {"containers": [{"name": "local-path-provisioner"}]},
        owner="Deployment/local-path-provisioner", node=control_plane,
    ))
    return plans


def _with_course_ingress_class(classes: list[Raw]) -> list[Raw]:
    """Add cloud-provider-kind's IngressClass; one the manifests define under its name is kept, marked default."""
    from grader.model.ingress import COURSE_INGRESS_CLASS, DEFAULT_CLASS_ANNOTATION, course_ingress_class

    own = next((c for c in classes if c.name == COURSE_INGRESS_CLASS), None)
    if own is None:
        return [course_ingress_class(), *classes]
    meta = own.obj.get("metadata") or {}
    if (meta.get("annotations") or {}).get(DEFAULT_CLASS_ANNOTATION) == "true":
        return classes
    # With --enable-default-ingress=true the controller patches its class back to default.
    patched = {**own.obj, "metadata": {**meta, "annotations": {**(meta.get("annotations") or {}), DEFAULT_CLASS_ANNOTATION: "true"}}}
    return [Raw(own.kind, own.namespace, own.name, patched, own.source) if c is own else c for c in classes]


def _system_services() -> list[Service]:
    from grader.model.services import builtin_services  # one definition of kind's own Services

    return builtin_services()




SYSTEM_NAMESPACES = ("kube-system", "kube-public", "kube-node-lease", "local-path-storage")


def is_system_namespace(name: str) -> bool:
    """A namespace kind itself uses; the course's tables and pod lists leave these out."""
    return name in SYSTEM_NAMESPACES


def node_filter_candidates(world: World, pod: Pod) -> list[str]:
    """The nodes a pod's own node rules allow (nodeName, nodeSelector, required node affinity, taints),
    before other pods' (anti-)affinity and spread are considered."""
    if pod.spec.get("nodeName"):
        return [n.name for n in world.nodes if n.name == pod.spec["nodeName"]]
    return [n.name for n in world.nodes if _node_allowed(n, pod.spec)]


def pod_term_selects(world: World, term: dict[str, Any], owner_namespace: str, pod: Pod) -> bool:
    """Whether a pod (anti-)affinity term written in a pod of `owner_namespace` selects `pod`."""
    return _term_selects(term, owner_namespace, _plan_of(pod), world.namespaces)


def nodes_selected(world: World, pod: Pod) -> list[str]:
    """The nodes matching the pod's nodeSelector and required node affinity, taints aside."""
    return [n.name for n in world.nodes if _node_selected(n, pod.spec)]
