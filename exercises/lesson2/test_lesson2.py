"""Lesson 2: Services: a stable name and IP in front of changing pods, inside and outside the cluster."""

from __future__ import annotations

from typing import Any

from grader.checks import CheckFailed
from grader.model.listeners import pod_listeners
from grader.model.services import selected_pods, service_port as find_service_port

APP_LABEL = ("app", "my-app")
APP_PORT = 8080
NODE_PORT = 30080


def _service(lab, name: str, kind: str) -> Any:
    """The Service `name` of the lesson namespace, or a failure that says to write it."""
    return lab.require_service(name, f"a {kind} Service", write_in="work/lesson2/services.yaml")


def _expect_type(lab, svc, wanted: str) -> None:
    if svc.type != wanted:
        raise CheckFailed(
            f"Service {svc.name} has type {wanted}",
            f"Service {svc.name} has type {svc.type}",
            hints=[f"set spec.type: {wanted} on Service {svc.name}" + (" (or leave type out: ClusterIP is the default)" if wanted == "ClusterIP" else "")],
            kubectl=[f"kubectl get service {svc.name} -n {lab.ns()}"],
        )


def _labels(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels.items()) or "no labels"


def _own_labels(pod) -> dict[str, str]:
    """A pod's labels without those the controllers add (pod-template-hash...)."""
    return {k: v for k, v in pod.labels.items() if k not in ("pod-template-hash", "controller-revision-hash", "statefulset.kubernetes.io/pod-name", "apps.kubernetes.io/pod-index")}


def _diagnose(lab, svc, port: int, protocol: str = "TCP") -> list[str]:
    """Recognised mistakes between a Service, its selector, its ports and the my-app pods, in words."""
    ns = lab.ns()
    pods = [p for p in lab.world.pods if p.namespace == ns]
    app_pods = [p for p in pods if p.labels.get(APP_LABEL[0]) == APP_LABEL[1]]
    hints: list[str] = []
    if not app_pods:
        owned = [p for p in pods if p.owner and p.labels.get("role") != "client"]
        seen = f" (the pods of {owned[0].owner} have {_labels(_own_labels(owned[0]))})" if owned else ""
        hints.append(
            f"no pod in namespace {ns} carries the label app=my-app{seen}: Services select pods, not Deployments, "
            "so put app: my-app under the Deployment's spec.template.metadata.labels (and under spec.selector.matchLabels)"
        )
    selector = svc.selector
    if selector is None:
        hints.append(f"Service {svc.name} has no selector, so it gets no endpoints: add  selector: {{app: my-app}}")
    elif pods and not selected_pods(lab.world, svc):
        hints.append(
            f"Service {svc.name} has no endpoints: its selector {_labels(selector)} matches no pod in {ns}"
            + (f" (the my-app pods have {_labels(_own_labels(app_pods[0]))})" if app_pods else "")
        )
    service_port = find_service_port(svc, port, protocol)
    if service_port is None:
        listed = ", ".join(f"{sp.port}->{sp.target_port}/{sp.protocol}" for sp in svc.ports) or "none"
        swapped = next((sp for sp in svc.ports if sp.target_port == port and sp.protocol == protocol), None)
        if swapped is not None:
            hints.append(
                f"Service {svc.name}: port and targetPort look swapped ({swapped.port}->{swapped.target_port}): "
                f"port is what clients connect to ({port}), targetPort is where the pod listens"
            )
        elif any(sp.port == port for sp in svc.ports):
            hints.append(
                f"Service {svc.name} has port {port} only as {', '.join(sp.protocol for sp in svc.ports if sp.port == port)} "
                f"(protocol: defaults to TCP): add  protocol: {protocol}  to that port"
            )
        else:
            hints.append(f"Service {svc.name} has no {protocol} port {port} (its ports: {listed}); clients connect to {port}")
        return hints
    target = service_port.target_port
    listening = sorted({(l.port, l.protocol) for p in app_pods for l in pod_listeners(p)})
    if isinstance(target, str):
        named = [p for p in app_pods if p.named_port(target, protocol)]
        if app_pods and not named:
            ports = ", ".join(f"{cp.port}/{cp.protocol} named {cp.name}" if cp.name else f"{cp.port}/{cp.protocol} unnamed" for cp in app_pods[0].ports)
            hints.append(
                f"Service {svc.name} targets the port name {target!r}, but no my-app pod has a {protocol} container port "
                f"named {target} (their ports: {ports or 'none declared'})"
            )
    elif listening and (target, protocol) not in listening:
        where = ", ".join(f"{p}/{pr}" for p, pr in listening)
        default = " (a targetPort left out defaults to the port)" if target == port else ""
        hints.append(f"Service {svc.name} sends port {port} to targetPort {target}{default}, but the my-app pods listen on {where}")
    return hints


def _expect_my_app_endpoint(lab, result, svc) -> None:
    """The connection must have landed on a my-app pod, not on some other pod the selector happens to match."""
    endpoint = result.data.get("endpoint")
    if not endpoint:
        return
    pod = lab.world.pod(endpoint) or next((p for p in lab.pods() if p.key == endpoint), None)
    if pod is not None and pod.labels.get(APP_LABEL[0]) != APP_LABEL[1]:
        raise CheckFailed(
            f"Service {svc.name} sends traffic to the my-app pods",
            f"the connection reached pod {endpoint} ({_labels(pod.labels)})",
            evidence=result.evidence,
            hints=[f"Service {svc.name}'s selector {_labels(svc.selector or {})} selects other pods: use app: my-app"],
            kubectl=[result.kubectl],
        )


def test_clusterip_service(lab):
    """The client reaches the my-app pods through the ClusterIP Service my-service on port 80 (selector app: my-app, port 80 to targetPort 8080)."""
    svc = _service(lab, "my-service", "ClusterIP")
    _expect_type(lab, svc, "ClusterIP")
    r = lab.connect("client", "my-service", 80)
    lab.expect(r, True, "client connects to my-service:80", hints=_diagnose(lab, svc, 80))
    _expect_my_app_endpoint(lab, r, svc)


def test_nodeport_service(lab):
    """From outside the cluster, http://localhost:30080/hostname answers: the NodePort Service my-nodeport (nodePort 30080, port 80 to the my-app pods' 8080)."""
    svc = _service(lab, "my-nodeport", "NodePort")
    _expect_type(lab, svc, "NodePort")
    node_ports = [sp.node_port for sp in svc.ports if sp.protocol == "TCP"]
    if NODE_PORT not in node_ports:
        got = ", ".join(str(n) for n in node_ports if n) or "none chosen by you (Kubernetes picks a random one in 30000-32767)"
        raise CheckFailed(
            f"Service my-nodeport has nodePort {NODE_PORT}",
            f"its nodePort is {got}",
            hints=[f"set nodePort: {NODE_PORT} in the port of my-nodeport: the course cluster maps only that port of the node to localhost:{NODE_PORT}"],
            kubectl=[f"kubectl get service my-nodeport -n {lab.ns()}"],
        )
    r = lab.http("nodeport", "localhost", "/hostname", port=NODE_PORT)
    port = next(sp.port for sp in svc.ports if sp.node_port == NODE_PORT)
    lab.expect(r, True, f"GET http://localhost:{NODE_PORT}/hostname answers", hints=_diagnose(lab, svc, port))


def test_loadbalancer_service(lab):
    """The LoadBalancer Service my-lb gets an external IP and answers GET /hostname on port 80 there (port 80 to the my-app pods' 8080)."""
    svc = _service(lab, "my-lb", "LoadBalancer")
    _expect_type(lab, svc, "LoadBalancer")
    r = lab.http(f"loadbalancer:{lab.ns()}/my-lb", "my-lb", "/hostname", port=80)  # port 80, not whatever the Service lists first
    lab.expect(r, True, "GET http://<my-lb external IP>/hostname answers", hints=_diagnose(lab, svc, 80))


def test_named_target_port(lab):
    """The Service my-named sends port 80 to the container port named http (targetPort: http, not a number), and the client reaches it."""
    svc = _service(lab, "my-named", "ClusterIP")
    port = next((sp for sp in svc.ports if sp.port == 80), None)
    if port is not None and not isinstance(port.target_port, str):
        raise CheckFailed(
            "Service my-named's targetPort is a container port name (http)",
            f"its targetPort is the number {port.target_port}",
            hints=[
                "name the container port in the Deployment's pod template (ports: - name: http, containerPort: 8080) "
                "and write  targetPort: http  in my-named: the Service then follows the name, whatever number it has"
            ],
            kubectl=[f"kubectl get service my-named -n {lab.ns()} -o yaml"],
        )
    r = lab.connect("client", "my-named", 80)
    lab.expect(r, True, "client connects to my-named:80", hints=_diagnose(lab, svc, 80))


def test_two_port_service(lab):
    """The Service my-multi has two named ports and both work from the client: http 80/TCP to 8080 and udp 8081/UDP to 8081 (agnhost netexec's UDP port)."""
    svc = _service(lab, "my-multi", "ClusterIP")
    tcp = lab.connect("client", "my-multi", 80, "TCP")
    lab.expect(tcp, True, "client connects to my-multi:80 over TCP", hints=_diagnose(lab, svc, 80, "TCP"))
    udp = lab.connect("client", "my-multi", 8081, "UDP")
    lab.expect(udp, True, "client gets an answer from my-multi:8081 over UDP", hints=_diagnose(lab, svc, 8081, "UDP"))
