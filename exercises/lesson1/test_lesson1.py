"""Lesson 1: pod networking: a flat network, an IP per pod, no NAT between pods."""

from __future__ import annotations

from typing import Any

from grader.checks import CheckFailed

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


def _placement(spec: dict[str, Any]) -> str | None:
    """How this pod spec chooses its node, or None when it leaves it to chance."""
    if spec.get("nodeName"):
        return f"nodeName: {spec['nodeName']}"
    if spec.get("nodeSelector"):
        return "nodeSelector " + ",".join(f"{k}={v}" for k, v in spec["nodeSelector"].items())
    affinity = spec.get("affinity") or {}
    if ((affinity.get("nodeAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")):
        return "a required nodeAffinity"
    if ((affinity.get("podAntiAffinity") or {}).get("requiredDuringSchedulingIgnoredDuringExecution")):
        return "a required podAntiAffinity"
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


def test_pods_on_different_nodes(lab):
    """The server pod (label role=server) and the client pod (label role=client) run on two different nodes, pinned there by their manifests."""
    server, client = _one_pod(lab, "server"), _one_pod(lab, "client")
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
    specs = [_pod_spec(lab, role) for role in ("server", "client")]
    if all(spec is not None and _placement(spec) is None for spec in specs):
        raise CheckFailed(
            "the manifests decide the nodes (nodeName, nodeSelector, or a required nodeAffinity/podAntiAffinity)",
            f"the pods landed on {server.node} and {client.node} by the scheduler's choice; nothing in the manifests keeps them apart",
            hints=[
                "on another run the scheduler may put both on one node: set spec.nodeName (or nodeSelector "
                "kubernetes.io/hostname: <node>) on each pod, or a required podAntiAffinity on one of them"
            ],
            kubectl=[wide],
        )


def test_pod_to_pod_by_ip(lab):
    """The client connects to the server pod's own IP on port 8080 (no Service, no DNS: pod to pod by IP)."""
    server, client = _one_pod(lab, "server"), _one_pod(lab, "client")
    r = lab.connect(client.key, server.ip, SERVER_PORT)
    lab.expect(r, True, f"client connects to the server pod's IP {server.ip}:{SERVER_PORT}", hints=_port_hints(lab))


def test_server_sees_client_pod_ip(lab):
    """The server sees the client pod's own IP as the source of the connection (pod to pod traffic is not NATed): GET /clientip on the server pod's IP:8080."""
    server, client = _one_pod(lab, "server"), _one_pod(lab, "client")
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
    server = _one_pod(lab, "server")
    r = lab.connect("node-probe", server.ip, SERVER_PORT)
    lab.expect(r, True, f"node course-control-plane (pod node-probe) connects to {server.ip}:{SERVER_PORT}", hints=_port_hints(lab))


def test_every_pod_has_its_own_ip(lab):
    """The server and the client each have their own pod IP (no hostNetwork), different from each other and from every node's IP; only hostNetwork pods, such as node-probe, share their node's IP."""
    server, client = _one_pod(lab, "server"), _one_pod(lab, "client")
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
