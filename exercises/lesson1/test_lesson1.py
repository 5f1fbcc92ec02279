"""Lesson 1: pod networking: a flat network, an IP per pod, no NAT between pods."""

from __future__ import annotations

from typing import Any

from grader.checks import CheckFailed
from grader.model.selectors import describe
from grader.model.workloads import node_filter_candidates, nodes_selected, pod_term_selects, possible_placements

SERVER_PORT = 8080


def _one_pod(lab, role: str) -> Any:
    """The single pod of the lesson namespace labelled role=<role>, or a failure that says how to label it."""
    ns = lab.ns()
    pods = lab.pods({"role": role}, lab.namespace)
    if len(pods) == 1:
        return pods[0]
    if not pods:
        hints = [f"add the label  role: {role}  under metadata.labels of the {role} pod (in a Deployment: spec.template.metadata.labels)"]
        for p in lab.pods(None, lab.namespace):
            if p.name == role or p.name.startswith(role + "-"):
                labels = ", ".join(f"{k}={v}" for k, v in p.labels.items()) or "no labels"
                hints.insert(0, f"pod {ns}/{p.name} looks like the {role} but has {labels}; the grader finds it by the label role={role}")
                break
        raise CheckFailed(
            f"one pod in namespace {ns} labelled role={role}",
            f"no pod in namespace {ns} has the label role={role}",
            hints=hints,
            kubectl=[f"kubectl get pods -n {ns} --show-labels"],
        )
    raise CheckFailed(
        f"one pod in namespace {ns} labelled role={role}",
        f"{len(pods)} pods have it: {', '.join(p.name for p in pods)}",
        hints=[f"keep a single {role} pod (replicas: 1 if it comes from a Deployment)"],
        kubectl=[f"kubectl get pods -n {ns} -l role={role} -o wide"],
    )


def _written_pod(lab, role: str) -> Any:
    """The pod labelled role=<role> as the manifests write it (lab.world): its owner is the manifests' object
    and its containers carry the args, while a live pod is owned by a ReplicaSet and its args are not read."""
    return next((p for p in lab.world.pods if p.namespace == lab.ns() and p.labels.get("role") == role), None)


def _pod_spec(lab, role: str) -> dict[str, Any] | None:
    """The pod spec written in the manifests for the role's pod (a Pod's spec, or a workload's template spec)."""
    pod = _written_pod(lab, role)
    if pod is None:
        return None
    kind, name = "Pod", pod.name
    if pod.owner and "/" in pod.owner:
        kind, _, name = pod.owner.partition("/")
    for m in lab.manifests:
        obj = getattr(m, "obj", m)
        if not isinstance(obj, dict) or obj.get("kind") != kind:
            continue
        meta = obj.get("metadata") or {}
        if meta.get("name") != name or meta.get("namespace", lab.namespace) != pod.namespace:
            continue
        spec = obj.get("spec") or {}
        return spec if kind == "Pod" else ((spec.get("template") or {}).get("spec") or {})
    return None


def _port_hints(lab) -> list[str]:
    """Recognise a server that listens on another port than the one the tasks probe."""
    server = _written_pod(lab, "server")
    for c in server.containers if server else []:
        args = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
        for a in args:
            if a.startswith("--http-port="):
                port = a.split("=", 1)[1]
                if port != str(SERVER_PORT):
                    return [
                        f"the server's agnhost runs with --http-port={port}, so it listens on {port}, not {SERVER_PORT}: "
                        f"set --http-port={SERVER_PORT} (a containerPort only documents a port; the process decides)"
                    ]
    return []


def _running(lab, role: str) -> Any:
    """The role's pod as the backend runs it, or a failure that says it is Pending and why."""
    pod = _one_pod(lab, role)
    if pod.ip and pod.node:
        return pod
    ns = lab.ns()
    written = _written_pod(lab, role)
    reason = written.pending_reason if written is not None and written.pending_reason else ""
    raise CheckFailed(
        f"the {role} pod runs on a node and has an IP",
        f"pod {pod.key} is Pending: {reason or 'it has no node or no IP yet'}",
        hints=_pending_hints(lab, written, role) if reason else [f"kubectl describe pod shows why the {role} pod is Pending"],
        kubectl=[f"kubectl describe pod {pod.name} -n {ns}   # Events: FailedScheduling says why", "kubectl get nodes --show-labels"],
    )


def _pending_hints(lab, pod, role: str) -> list[str]:
    """What to change when the scheduler (or a bad nodeName) leaves the written pod without a node."""
    spec = pod.spec
    if spec.get("nodeName"):
        return [f"spec.nodeName must name an existing node: course-worker or course-worker2 (kubectl get nodes); "
                f"{spec['nodeName']!r} is not one"]
    selected = nodes_selected(lab.world, pod)
    if not selected:
        selector = spec.get("nodeSelector") or {}
        extra = (" (kind adds no node-role.kubernetes.io/worker label: select kubernetes.io/hostname instead)"
                 if any(k.startswith("node-role.kubernetes.io/") and k != "node-role.kubernetes.io/control-plane" for k in selector) else "")
        return [f"no node carries the labels the {role}'s nodeSelector / required nodeAffinity asks for: the course's nodes are "
                f"course-control-plane, course-worker and course-worker2, each labelled kubernetes.io/hostname=<its name>{extra}"]
    if not node_filter_candidates(lab.world, pod):
        return [f"the {role} may only go to {', '.join(selected)}, which carries the taint "
                "node-role.kubernetes.io/control-plane:NoSchedule: pick a worker, or add a toleration for that taint"]
    return [f"the {role}'s pod (anti-)affinity or topology spread rules leave it no node: relax them or pin it with nodeName"]


def _how_placed(lab, pod) -> str:
    """How a written pod chooses its node, in words: which nodes its own rules allow."""
    allowed = node_filter_candidates(lab.world, pod)
    spec = pod.spec
    if spec.get("nodeName"):
        return f"{pod.name} is pinned by nodeName to {spec['nodeName']}"
    rules = []
    if spec.get("nodeSelector"):
        rules.append("its nodeSelector")
    affinity = spec.get("affinity") or {}
    if (affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"):
        rules.append("its required nodeAffinity")
    if (affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution"):
        rules.append("its required podAntiAffinity")
    if spec.get("topologySpreadConstraints"):
        rules.append("its topologySpreadConstraints")
    why = f"{' and '.join(rules)} allow(s) them" if rules else "nothing in its spec chooses a node"
    return f"{pod.name} may go to {', '.join(allowed) or 'no node'}: {why}"


def _placement_hints(lab, pods) -> list[str]:
    """Recognised ways of writing a placement that does not keep the pods apart."""
    hints = []
    for pod in pods:
        spec, affinity = pod.spec, pod.spec.get("affinity") or {}
        for kind in ("podAntiAffinity", "nodeAffinity"):
            part = affinity.get(kind) or {}
            if part.get("preferredDuringSchedulingIgnoredDuringExecution") and not part.get("requiredDuringSchedulingIgnoredDuringExecution"):
                hints.append(
                    f"pod {pod.name} has only a preferred {kind}: it ranks nodes, it never forbids one, so the scheduler may still "
                    "put both pods on one node; use requiredDuringSchedulingIgnoredDuringExecution"
                )
        constraints = [c for c in spec.get("topologySpreadConstraints") or [] if isinstance(c, dict)]
        if constraints and all(c.get("whenUnsatisfiable") == "ScheduleAnyway" for c in constraints):
            hints.append(
                f"pod {pod.name}'s topologySpreadConstraints say whenUnsatisfiable: ScheduleAnyway: a preference the scheduler may "
                "break; whenUnsatisfiable: DoNotSchedule makes it a rule"
            )
        for term in (affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution") or []:
            others = [p for p in pods if p is not pod]
            if not any(pod_term_selects(lab.world, term, pod.namespace, other) for other in others):
                hints.append(
                    f"the podAntiAffinity of {pod.name} selects {describe(term.get('labelSelector') or {})}"
                    + (f" in {', '.join(term['namespaces'])}" if term.get("namespaces") else "")
                    + f", which the other pod does not match ({', '.join(f'{k}={v}' for k, v in others[0].labels.items()) if others else 'none'}): "
                    "it keeps nothing away; select role: server (or role: client)"
                )
        if not spec.get("nodeName") and not spec.get("nodeSelector") and not affinity and not spec.get("topologySpreadConstraints"):
            hints.append(
                f"pod {pod.name} leaves its node to the scheduler, which may put it beside the other pod: set spec.nodeName (or "
                "nodeSelector kubernetes.io/hostname: <node>) on it, or a required podAntiAffinity against the other"
            )
    allowed = [set(node_filter_candidates(lab.world, p)) for p in pods]
    if len(allowed) == 2 and len(allowed[0] & allowed[1]) > 1 and all(p.spec.get("nodeSelector") or (p.spec.get("affinity") or {}).get("nodeAffinity") for p in pods):
        hints.append(
            f"the node rules of both pods allow {', '.join(sorted(allowed[0] & allowed[1]))}: a rule that allows both workers for "
            "both pods does not keep them apart; give each pod a different node"
        )
    return hints


def test_pods_on_different_nodes(lab):
    """The server pod (label role=server) and the client pod (label role=client) run on two different nodes, and every placement the scheduler may choose keeps them apart."""
    server, client = _running(lab, "server"), _running(lab, "client")
    ns = lab.ns()
    wide = f"kubectl get pods -n {ns} -o wide"
    if server.node == client.node:
        raise CheckFailed(
            "server and client on two different nodes",
            f"both run on node {server.node}",
            hints=[
                f"both pods are placed on {server.node}: pin the client to another worker, e.g. nodeName: "
                f"{'course-worker2' if server.node != 'course-worker2' else 'course-worker'}"
            ],
            kubectl=[wide],
        )
    written = [_written_pod(lab, "server"), _written_pod(lab, "client")]
    if any(p is None for p in written):
        return  # the manifests' own pods are not known (e.g. renamed by a workshop): the live placement above is the evidence
    outcomes = possible_placements(lab.world, [p.key for p in written]) or []
    together = sorted({o[written[0].key] for o in outcomes if o[written[0].key] and o[written[0].key] == o[written[1].key]})
    stranded = [p for p in written if any(o[p.key] is None for o in outcomes)]
    if not together and not stranded:
        return
    evidence = [_how_placed(lab, p) for p in written]
    if together:
        unpinned = all(not p.spec.get("nodeName") and not p.spec.get("nodeSelector") and not p.spec.get("affinity")
                       and not p.spec.get("topologySpreadConstraints") for p in written)
        observed = (f"the pods landed on {server.node} and {client.node} by the scheduler's choice; nothing in the manifests keeps them apart"
                    if unpinned else
                    f"they run apart now, but the scheduler may also put both on {' or '.join(together)}: the manifests do not keep them apart")
        raise CheckFailed(
            "every placement the scheduler may choose keeps server and client on different nodes "
            "(nodeName, nodeSelector, or a required nodeAffinity / podAntiAffinity)",
            observed,
            evidence=evidence,
            hints=_placement_hints(lab, written),
            kubectl=[wide, f"kubectl get pod server client -n {ns} -o yaml   # spec.nodeName, nodeSelector, affinity"],
        )
    raise CheckFailed(
        "every placement the scheduler may choose gives both pods a node",
        f"if the scheduler places the other pod first, {' and '.join(p.name for p in stranded)} finds no node left and stays Pending",
        evidence=evidence,
        hints=["the pods' rules exclude each other from every node the other may take: pin one of them with nodeName"],
        kubectl=[wide],
    )


def test_pod_to_pod_by_ip(lab):
    """The client connects to the server pod's own IP on port 8080 (no Service, no DNS: pod to pod by IP)."""
    server, client = _running(lab, "server"), _running(lab, "client")
    r = lab.connect(client.key, server.ip, SERVER_PORT)
    lab.expect(r, True, f"client connects to the server pod's IP {server.ip}:{SERVER_PORT}", hints=_port_hints(lab))


def test_server_sees_client_pod_ip(lab):
    """The server sees the client pod's own IP as the source of the connection (pod to pod traffic is not NATed): GET /clientip on the server pod's IP:8080."""
    server, client = _running(lab, "server"), _running(lab, "client")
    r = lab.client_ip(client.key, server.ip, SERVER_PORT)
    lab.expect(r, True, f"the server at {server.ip}:{SERVER_PORT} answers /clientip", hints=_port_hints(lab))
    seen = r.data.get("client_ip")  # the bare IP on both backends (/clientip answers ip:port)
    if seen != client.ip:
        raise CheckFailed(
            f"the server sees the client pod's IP {client.ip}",
            f"the server saw {seen or 'no address'}",
            evidence=r.evidence,
            hints=["pod to pod traffic keeps its source IP; a different address means the client is not a plain pod on the pod network"],
            kubectl=[r.kubectl],
        )


def test_node_reaches_pod(lab):
    """A node reaches a pod directly: the course's node-probe pod (hostNetwork on the control-plane node) connects to the server pod's IP on port 8080."""
    server = _running(lab, "server")
    r = lab.connect("node-probe", server.ip, SERVER_PORT)
    lab.expect(r, True, f"node course-control-plane (pod node-probe) connects to {server.ip}:{SERVER_PORT}", hints=_port_hints(lab))


def test_every_pod_has_its_own_ip(lab):
    """The server and the client each have their own pod IP (no hostNetwork), different from each other and from every node's IP; only hostNetwork pods, such as node-probe, share their node's IP."""
    server, client = _running(lab, "server"), _running(lab, "client")
    ns = lab.ns()
    wide = f"kubectl get pods -n {ns} -o wide"
    for pod in (server, client):
        if pod.host_network:
            raise CheckFailed(
                f"pod {pod.name} has its own pod IP",
                f"pod {pod.name} uses hostNetwork: true and shares node {pod.node}'s IP {pod.ip}",
                hints=[f"remove hostNetwork: true from pod {pod.name}: a hostNetwork pod lives in its node's network namespace, not on the pod network"],
                kubectl=[wide],
            )
    pods = lab.pods(None, lab.namespace)
    host_ips = {p.ip for p in pods if p.host_network}
    own = [p for p in pods if not p.host_network]
    by_ip: dict[str, list[str]] = {}
    for p in own:
        by_ip.setdefault(p.ip, []).append(p.name)
    shared = {ip: names for ip, names in by_ip.items() if len(names) > 1 or ip in host_ips or not ip}
    if shared:
        ip, names = next(iter(shared.items()))
        raise CheckFailed(
            "every pod on the pod network has an IP of its own",
            f"IP {ip or '(none)'} is used by {', '.join(names)}" + (" and by a node" if ip in host_ips else ""),
            kubectl=[wide],
        )
    for p in pods:
        if p.host_network:
            peers = [q for q in pods if q.host_network and q.node == p.node and q.ip != p.ip]
            if peers:
                raise CheckFailed(
                    f"hostNetwork pods on node {p.node} share the node's IP",
                    f"{p.name} has {p.ip} but {peers[0].name} has {peers[0].ip}",
                    kubectl=[wide],
                )
