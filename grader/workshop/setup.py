"""`grade workshop setup` and `teardown`: what each learner gets on the shared cluster, built as plain dicts.

Per learner (every object labelled managed-by k8s-netcourse-grader, netcourse/workshop, netcourse/learner):
- `<learner>-home`: the ServiceAccount `learner` the learner's kubeconfig authenticates as, the
  ConfigMap `grade-results` the grader writes each graded run into (the instructor reads it), and the
  ConfigMap `netcourse-cluster-facts` (read-only for the learner: their Role may only `get` it by name):
  the cluster's NetworkPolicy verdict, proven once by setup with the doctor's deny probe (a learner cannot
  create the scratch namespace the proof needs), the learner's own nodePort and the node address NodePort
  probes go to (a learner cannot list Nodes) (grader.workshop.facts).
- `<learner>-<ns>` for every namespace of every lesson, each with a ResourceQuota, a LimitRange (default
  requests/limits, since the course manifests set none), a Role with only what grading needs, a RoleBinding
  to the learner's ServiceAccount and, with isolation, a NetworkPolicy `workshop-isolation`.

Isolation: NetworkPolicies only ever add allowances, so a baseline that admits the learner's own pods would
widen the learner's own policies (lesson4 expects most connections blocked). The baseline therefore goes
only on namespaces where the lesson's solution has no NetworkPolicy; there it admits the learner's own
namespaces, namespaces that belong to no learner (kube-system, ingress controllers) and every non-pod
address (nodes, hostNetwork probes, load balancers), and shuts out other learners' pods.

Teardown deletes the namespaces labelled with the workshop (and the grader's managed-by label): everything
setup made lives in them, and nothing else is ever selected.
"""

from __future__ import annotations

from grader.errors import GradeError

import base64
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.kube.safety import LESSON_KEY, MANAGED_BY, MANAGED_BY_KEY, MANAGED_BY_VALUE, WORKSHOP_KEY
from grader.workshop.facts import (
    CLUSTER_FACTS_CONFIGMAP,
    KUBECONFIG_EXTENSION,
    NODE_PORT_KEY,
    POLICY_KEY,
    TIMESTAMP_FORMAT,
    cluster_facts_data,
    pick_node_address,
    roster_node_ports,
)
from grader.workshop.fence import LEARNER_KEY, learner_namespace, validate_learner_name

HOME = "home"
SERVICE_ACCOUNT = "learner"
RESULTS_CONFIGMAP = "grade-results"
RESULTS_LABEL = "netcourse/results"  # "true" on every learner's results ConfigMap: the instructor lists by it
ISOLATION_POLICY = "workshop-isolation"
FIELD_MANAGER = "grade-workshop"  # not the grader's "grade": its applies must not drop the workshop's labels
DEFAULT_WORKSHOP = "workshop"
DEFAULT_POD_CIDRS = ("10.244.0.0/16",)  # kind's pod subnet; Calico on kind uses 192.168.0.0/16


@dataclass(frozen=True)
class ContainerDefaults:
    """What the LimitRange gives a container that sets no resources (the course manifests set none).

    agnhost netexec/pause use a few MiB and no CPU when idle; the limits leave room for probe bursts.
    """

    cpu_request: str = "10m"
    memory_request: str = "32Mi"
    cpu_limit: str = "100m"
    memory_limit: str = "64Mi"


@dataclass(frozen=True)
class LessonSpace:
    """One lesson's namespaces, the pods its solution and fixtures run in each, and where isolation is safe."""

    lesson: str
    namespaces: tuple[str, ...]
    pods: Mapping[str, int] = field(default_factory=dict)
    isolatable: frozenset[str] = frozenset()


@dataclass(frozen=True)
class WorkshopPlan:
    """Everything setup needs to build the objects; pure data."""

    workshop: str
    lessons: tuple[LessonSpace, ...]
    isolate: bool = False
    pod_cidrs: tuple[str, ...] = DEFAULT_POD_CIDRS
    defaults: ContainerDefaults = ContainerDefaults()


# ------------------------------------------------------------------------------------------ labels


def workshop_labels(workshop: str, learner: str, lesson: str | None = None) -> dict[str, str]:
    """The labels on every object setup creates (teardown selects by them)."""
    labels = {**MANAGED_BY, WORKSHOP_KEY: workshop, LEARNER_KEY: learner}
    if lesson:
        labels[LESSON_KEY] = lesson
    return labels


def home_namespace(learner: str) -> str:
    """The learner's namespace for the ServiceAccount and the results ConfigMap."""
    return learner_namespace(learner, HOME)


def _meta(name: str, labels: Mapping[str, str], namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(labels)}
    if namespace:
        meta["namespace"] = namespace
    return meta


# ------------------------------------------------------------------------------------------ objects


def namespace_object(name: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(name, labels)}


def quota_pods(solution_pods: int) -> int:
    """Pods a learner namespace may run: twice the solution's (a mistake with more replicas still fits) plus 4."""
    return 2 * solution_pods + 4


def _quantity(value: str, times: int) -> str:
    number = "".join(ch for ch in value if ch.isdigit() or ch == ".")
    unit = value[len(number):]
    total = float(number) * times
    return f"{int(total) if total == int(total) else total}{unit}"


def resource_quota(namespace: str, pods: int, defaults: ContainerDefaults, labels: Mapping[str, str]) -> dict[str, Any]:
    """A ResourceQuota sized for `pods` pods of one container each at the LimitRange's defaults."""
    hard = {
        "pods": str(pods),
        "requests.cpu": _quantity(defaults.cpu_request, pods),
        "requests.memory": _quantity(defaults.memory_request, pods),
        "limits.cpu": _quantity(defaults.cpu_limit, pods),
        "limits.memory": _quantity(defaults.memory_limit, pods),
        "services": "10",
        "services.nodeports": "3",
        "services.loadbalancers": "2",
        "configmaps": "10",
        "secrets": "10",
        "persistentvolumeclaims": "0",
    }
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta("workshop-quota", labels, namespace), "spec": {"hard": hard}}


def limit_range(namespace: str, defaults: ContainerDefaults, labels: Mapping[str, str]) -> dict[str, Any]:
    """Default requests and limits for containers that set none (a quota on requests needs them)."""
    return {
        "apiVersion": "v1",
        "kind": "LimitRange",
        "metadata": _meta("workshop-defaults", labels, namespace),
        "spec": {
            "limits": [
                {
                    "type": "Container",
                    "defaultRequest": {"cpu": defaults.cpu_request, "memory": defaults.memory_request},
                    "default": {"cpu": defaults.cpu_limit, "memory": defaults.memory_limit},
                    "max": {"cpu": "500m", "memory": "256Mi"},
                }
            ]
        },
    }


_RW = ["get", "list", "watch", "create", "update", "patch", "delete"]
_RO = ["get", "list", "watch"]

# What grading a lesson does in the learner's namespaces: server-side apply of the lesson's kinds, readiness
# watches, exec of probes, logs of crashed containers, and re-labelling the namespace it applies.
LESSON_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["pods", "services", "configmaps", "secrets", "endpoints"], "verbs": _RW},
    {"apiGroups": [""], "resources": ["pods/exec"], "verbs": ["create", "get"]},  # websocket exec asks for get before 1.31, create after
    {"apiGroups": [""], "resources": ["pods/log", "pods/status", "services/status"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["events", "resourcequotas", "limitranges"], "verbs": _RO},
    # a Role in namespace N grants verbs on the Namespace object N itself (the request's namespace is its name)
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "patch"]},
    {"apiGroups": ["apps"], "resources": ["deployments", "statefulsets", "daemonsets", "replicasets"], "verbs": _RW},
    {"apiGroups": ["networking.k8s.io"], "resources": ["networkpolicies", "ingresses"], "verbs": _RW},
    {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": _RW},
    {"apiGroups": ["gateway.networking.k8s.io"], "resources": ["gateways", "httproutes", "grpcroutes", "referencegrants"], "verbs": _RW},
]

HOME_RULES: list[dict[str, Any]] = [
    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [RESULTS_CONFIGMAP], "verbs": ["get", "patch", "update"]},
    # read-only: a learner who could write it could forge the cluster's NetworkPolicy verdict
    {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": [CLUSTER_FACTS_CONFIGMAP], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]},
]


def role(namespace: str, rules: list[dict[str, Any]], labels: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": _meta("workshop-learner", labels, namespace), "rules": json.loads(json.dumps(rules))}


def role_binding(namespace: str, learner: str, labels: Mapping[str, str]) -> dict[str, Any]:
    """Binds the Role of `namespace` to the learner's ServiceAccount (which lives in the home namespace)."""
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": _meta("workshop-learner", labels, namespace),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "workshop-learner"},
        "subjects": [{"kind": "ServiceAccount", "name": SERVICE_ACCOUNT, "namespace": home_namespace(learner)}],
    }


def isolation_policy(namespace: str, learner: str, pod_cidrs: Iterable[str], labels: Mapping[str, str]) -> dict[str, Any]:
    """Ingress only from the learner's own namespaces, from namespaces of no learner, and from non-pod addresses."""
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": _meta(ISOLATION_POLICY, labels, namespace),
        "spec": {
            "podSelector": {},
            "policyTypes": ["Ingress"],
            "ingress": [
                {
                    "from": [
                        {"namespaceSelector": {"matchLabels": {LEARNER_KEY: learner}}},
                        {"namespaceSelector": {"matchExpressions": [{"key": LEARNER_KEY, "operator": "DoesNotExist"}]}},
                        {"ipBlock": {"cidr": "0.0.0.0/0", "except": list(pod_cidrs)}},
                    ]
                }
            ],
        },
    }


def results_configmap(learner: str, labels: Mapping[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(RESULTS_CONFIGMAP, {**labels, RESULTS_LABEL: "true"}, home_namespace(learner)), "data": {}}


def cluster_facts_configmap(learner: str, labels: Mapping[str, str], facts: Mapping[str, str]) -> dict[str, Any]:
    """The learner's read-only `netcourse-cluster-facts` (grader.workshop.facts.cluster_facts_data)."""
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(CLUSTER_FACTS_CONFIGMAP, labels, home_namespace(learner)), "data": dict(facts)}


def learner_objects(plan: WorkshopPlan, learner: str, facts: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every object setup applies for one learner, Namespaces first (apply order).

    `facts`: the data of the learner's `netcourse-cluster-facts` ConfigMap (left out when None).
    """
    all_namespaces = [ns for space in plan.lessons for ns in space.namespaces]
    validate_learner_name(learner, all_namespaces + [HOME])
    home = home_namespace(learner)
    home_labels = workshop_labels(plan.workshop, learner)
    namespaces = [namespace_object(home, home_labels)]
    rest: list[dict[str, Any]] = [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(SERVICE_ACCOUNT, home_labels, home)},
        results_configmap(learner, home_labels),
        resource_quota(home, 0, plan.defaults, home_labels),
        role(home, HOME_RULES, home_labels),
        role_binding(home, learner, home_labels),
    ]
    if facts is not None:
        rest.append(cluster_facts_configmap(learner, home_labels, facts))
    for space in plan.lessons:
        labels = workshop_labels(plan.workshop, learner, space.lesson)
        for ns in space.namespaces:
            real = learner_namespace(learner, ns)
            namespaces.append(namespace_object(real, labels))
            rest += [
                resource_quota(real, quota_pods(int(space.pods.get(ns, 0))), plan.defaults, labels),
                limit_range(real, plan.defaults, labels),
                role(real, LESSON_RULES, labels),
                role_binding(real, learner, labels),
            ]
            if plan.isolate and ns in space.isolatable:
                rest.append(isolation_policy(real, learner, plan.pod_cidrs, labels))
    return namespaces + rest


def kubeconfig_for(learner: str, server: str, token: str, ca_data: str | None = None, *, insecure: bool = False,
                   node_port: int | None = None) -> dict[str, Any]:
    """A kubeconfig with one context `netcourse-<learner>` that authenticates as the learner's ServiceAccount.

    `node_port` goes into the kubeconfig's `netcourse` extension, where `grade workshop join` finds it.
    """
    cluster: dict[str, Any] = {"server": server}
    if ca_data:
        cluster["certificate-authority-data"] = ca_data
    elif insecure:
        cluster["insecure-skip-tls-verify"] = True
    name = f"netcourse-{learner}"
    config: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "netcourse-workshop", "cluster": cluster}],
        "users": [{"name": name, "user": {"token": token}}],
        "contexts": [{"name": name, "context": {"cluster": "netcourse-workshop", "user": name, "namespace": home_namespace(learner)}}],
        "current-context": name,
    }
    if node_port is not None:
        config["extensions"] = [{"name": KUBECONFIG_EXTENSION, "extension": {"learner": learner, NODE_PORT_KEY: int(node_port)}}]
    return config


def select_workshop_namespaces(namespaces: Iterable[Mapping[str, Any]], workshop: str) -> list[str]:
    """Names of the namespaces setup made for `workshop`: both the grader's and the workshop's label, nothing else."""
    out = []
    for ns in namespaces:
        labels = (ns.get("metadata") or {}).get("labels") or {}
        if labels.get(MANAGED_BY_KEY) == MANAGED_BY_VALUE and labels.get(WORKSHOP_KEY) == workshop:
            out.append(ns["metadata"]["name"])
    return sorted(out)


# ------------------------------------------------------------------------------------------ lessons


def lesson_spaces(lessons: Iterable[Any]) -> list[LessonSpace]:
    """Each lesson's namespaces, pods per namespace (solution + fixtures, as the simulator schedules them),
    and the namespaces whose solution has no NetworkPolicy (where the isolation baseline is safe)."""
    from grader.manifests import load
    from grader.model.workloads import build_world
    from grader.lab import manifest_files

    spaces = []
    for lesson in lessons:
        paths = [p for p in (lesson.fixtures, lesson.solution) if p.is_dir()]
        manifests = load(manifest_files(paths), namespace=lesson.namespace)
        world = build_world(manifests)
        pods = {ns: sum(1 for p in world.pods if p.namespace == ns) for ns in lesson.namespaces}
        with_policy = {m.namespace for m in manifests if m.kind == "NetworkPolicy"}
        spaces.append(LessonSpace(lesson.id, tuple(lesson.namespaces), pods, frozenset(set(lesson.namespaces) - with_policy)))
    return spaces


# ------------------------------------------------------------------------------------------ the cluster


class WorkshopError(GradeError):
    """Setup or teardown cannot go on; the message says why and what to do."""


def apply_object(client: Any, obj: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply with the workshop's field manager, through the live grader's KubeClient."""
    from kubernetes.client.rest import ApiException

    from grader.kube.client import KubeError, api_reason

    res = client.resource(obj["apiVersion"], obj["kind"])
    ns = (obj.get("metadata") or {}).get("namespace") if res.namespaced else None
    try:
        out = client.dynamic.server_side_apply(res, body=json.loads(json.dumps(obj)), namespace=ns, field_manager=FIELD_MANAGER, force_conflicts=True)
    except ApiException as exc:
        raise KubeError(f"applying {obj['kind']} {ns + '/' if ns else ''}{obj['metadata']['name']}: {api_reason(exc)}") from None
    return out.to_dict() if hasattr(out, "to_dict") else dict(out)


def _check_namespaces_free(client: Any, objects: list[dict[str, Any]], workshop: str) -> None:
    for obj in objects:
        if obj["kind"] != "Namespace":
            continue
        existing = client.get("v1", "Namespace", obj["metadata"]["name"])
        labels = ((existing or {}).get("metadata") or {}).get("labels") or {}
        if existing is not None and labels.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE:
            raise WorkshopError(
                f"namespace {obj['metadata']['name']!r} already exists and was not made by the grader; setup will not "
                "take it over. Rename the learner in the roster, or delete the namespace yourself."
            )
        other = labels.get(WORKSHOP_KEY)
        if existing is not None and other and other != workshop:
            raise WorkshopError(f"namespace {obj['metadata']['name']!r} belongs to workshop {other!r}; tear that down first or rename the learner")


def request_token(client: Any, learner: str, seconds: int) -> str:
    """A token for the learner's ServiceAccount from the TokenRequest API (expires after `seconds`)."""
    from kubernetes.client import AuthenticationV1TokenRequest, V1TokenRequestSpec

    body = AuthenticationV1TokenRequest(spec=V1TokenRequestSpec(audiences=[], expiration_seconds=int(seconds)))
    out = client.core.create_namespaced_service_account_token(SERVICE_ACCOUNT, home_namespace(learner), body)
    return out.status.token


def cluster_endpoint(client: Any, server: str | None = None) -> tuple[str, str | None]:
    """The API server URL for learners (`server` overrides the instructor's) and its CA, base64-encoded."""
    conf = client.api_client.configuration
    ca_data = None
    if getattr(conf, "ssl_ca_cert", None):
        try:
            ca_data = base64.b64encode(Path(conf.ssl_ca_cert).read_bytes()).decode()
        except OSError:
            ca_data = None
    return server or conf.host, ca_data


@dataclass
class SetupOutcome:
    learner: str
    namespaces: list[str]
    objects: int
    kubeconfig: Path | None
    node_port: int | None = None
    policy: str = "unknown"  # the published NetworkPolicy verdict: yes, no or unknown
    node_address: str | None = None  # published for NodePort probes (None: none found)
    node_address_source: str = ""  # where it came from, or why there is none


def prove_cluster_policy(client: Any, make_backend: Any = None) -> Any:
    """The doctor's deny probe, run once in a scratch namespace with the instructor's rights; a doctor Check.

    `make_backend(namespace)` (tests) defaults to a LiveBackend on `client` scoped to that namespace.
    A cluster that refuses the proof (no rights, pods that do not start) gives a Check with ok None.
    """
    from grader.cluster.doctor import Check, prove_policy_enforcement
    from grader.kube.client import KubeError

    if make_backend is None:
        from grader.backends.live import POLICY_PROOF_LESSON, LiveBackend

        def make_backend(namespace: str) -> Any:
            return LiveBackend(client, POLICY_PROOF_LESSON, [namespace])

    try:
        return prove_policy_enforcement(client, make_backend)
    except KubeError as exc:
        return Check("NetworkPolicy enforced", None, f"the proof could not run: {exc}",
                     "run `grade cluster doctor` with your admin context, then `grade workshop setup` again")


def facts_for(policy: Any, node_port: int, proven_at: str, node_address: str | None = None,
              node_address_source: str = "") -> dict[str, str]:
    """The `netcourse-cluster-facts` data from a doctor Check (None: not proven, e.g. a dry run)."""
    if policy is None:
        return cluster_facts_data(None, "not proven yet: `grade workshop setup` runs the deny probe when it applies", "", node_port,
                                  proven_at, node_address, node_address_source)
    return cluster_facts_data(policy.ok, policy.detail, policy.hint, node_port, proven_at, node_address, node_address_source)


def find_node_address(client: Any, override: str | None = None) -> tuple[str | None, str]:
    """The node address learners' NodePort probes go to, and where it came from: `override` (--node-address),
    else the first node ExternalIP, else InternalIP, listed with the instructor's rights; never raises."""
    if override:
        return pick_node_address([], override)
    try:
        nodes = client.list("v1", "Node")
    except Exception as exc:  # noqa: BLE001 - no right to list Nodes: setup goes on, the output says what to pass
        return None, f"cannot list Nodes ({getattr(exc, 'reason', None) or exc}); pass --node-address ADDR"
    return pick_node_address(nodes)


def setup_workshop(client: Any, plan: WorkshopPlan, learners: Iterable[str], out_dir: Path, *, server: str | None = None,
                   token_seconds: int = 12 * 3600, prove: Any = prove_cluster_policy, on_policy: Any = None,
                   node_address: str | None = None) -> list[SetupOutcome]:
    """Check that no learner's namespace belongs to someone else, prove NetworkPolicy enforcement once
    (`prove(client)`, a doctor Check, passed to `on_policy` when given), apply every learner's objects with
    the verdict, their nodePort and the node address (`node_address`, else find_node_address) published in
    `<learner>-home`, then write `<out_dir>/<learner>.kubeconfig` (mode 600, nodePort in its `netcourse`
    extension) for each."""
    import yaml

    learners = list(learners)
    ports = roster_node_ports(learners)
    for learner in learners:  # before the proof's minute of pods: a taken name stops setup at once
        _check_namespaces_free(client, learner_objects(plan, learner), plan.workshop)
    policy = prove(client)
    if on_policy is not None:
        on_policy(policy)
    proven_at = time.strftime(TIMESTAMP_FORMAT)
    address, address_source = find_node_address(client, node_address)
    outcomes = []
    endpoint, ca_data = cluster_endpoint(client, server)
    out_dir.mkdir(parents=True, exist_ok=True)
    for learner in learners:
        facts = facts_for(policy, ports[learner], proven_at, address, address_source)
        objects = learner_objects(plan, learner, facts)
        for obj in objects:
            apply_object(client, obj)
        token = request_token(client, learner, token_seconds)
        path = out_dir / f"{learner}.kubeconfig"
        config = kubeconfig_for(learner, endpoint, token, ca_data, node_port=ports[learner])
        path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        os.chmod(path, 0o600)
        outcomes.append(SetupOutcome(learner, [o["metadata"]["name"] for o in objects if o["kind"] == "Namespace"], len(objects), path,
                                     ports[learner], facts[POLICY_KEY], address, address_source))
    return outcomes


def teardown_workshop(client: Any, workshop: str, learners: Iterable[str] | None = None) -> list[str]:
    """Delete the namespaces setup made for `workshop` (only some learners' when given); returns their names."""
    selector = f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE},{WORKSHOP_KEY}={workshop}"
    found = client.list("v1", "Namespace", label_selector=selector)
    wanted = set(learners) if learners is not None else None
    by_name = {ns["metadata"]["name"]: ns for ns in found}
    names = [n for n in select_workshop_namespaces(found, workshop)
             if wanted is None or (by_name[n]["metadata"].get("labels") or {}).get(LEARNER_KEY) in wanted]
    for name in names:
        client.delete("v1", "Namespace", name)
    return names
