"""Services and their endpoints, as the EndpointSlice controller and kube-proxy see them.

Rules (Kubernetes "Service" and "EndpointSlices" docs, endpointslice controller behaviour):
- A Service with `spec.selector` gets one endpoint per pod in its own namespace whose labels match the
  selector (equality on every key). `selector: {}` is stored by the API server as no selector, so it
  selects nothing (build_world turns it into None; see the rule below).
- A Service without a selector gets endpoints only from objects the user creates: an `Endpoints`
  object with the Service's name, or `EndpointSlice`s labelled `kubernetes.io/service-name: <svc>`.
- hostNetwork pods are endpoints at their node's IP.
- `targetPort` is a number (used as is, whatever the container declares) or the name of a container
  port, resolved per pod with the Service port's protocol; a pod without that named port is not an
  endpoint for that Service port (it still counts as an address, e.g. for headless DNS).
- An endpoint is ready when its pod is ready, or when the Service sets `publishNotReadyAddresses`
  (the controller then publishes `conditions.ready: true`). In an EndpointSlice, `ready: null` = ready.
- The Service named `kubernetes` in `default` (10.96.0.1) and `kube-dns` in `kube-system`
  (10.96.0.10) always exist on a cluster, so `all_services` adds them when the manifests do not.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from grader.model.objects import (
    CLUSTER_DNS_IP,
    NODE_IPS,
    NODE_NAMES,
    Pod,
    Raw,
    Service,
    ServicePort,
    World,
)
from grader.model.selectors import matches_map

KUBERNETES_SERVICE_IP = "10.96.0.1"
SERVICE_NAME_LABEL = "kubernetes.io/service-name"

# The apiserver listens on the control-plane node; it publishes itself as the `kubernetes` Service's endpoint.
_API_SERVER_ENDPOINT = (NODE_IPS[0], 6443)


@dataclass(frozen=True)
class Endpoint:
    """One address:port behind one Service port (port 0 when asked without a port)."""

    pod: str | None  # "ns/pod"; None for endpoints written by hand unless their targetRef names a Pod
    ip: str
    port: int
    protocol: str
    ready: bool
    hostname: str | None = None
    node: str | None = None


def builtin_services() -> list[Service]:
    """The Services every kind cluster has before the learner applies anything."""
    return [
        Service(
            namespace="default",
            name="kubernetes",
            selector=None,
            cluster_ip=KUBERNETES_SERVICE_IP,
            ports=[ServicePort(port=443, target_port=6443, protocol="TCP", name="https")],
        ),
        Service(
            namespace="kube-system",
            name="kube-dns",
            selector={"k8s-app": "kube-dns"},
            cluster_ip=CLUSTER_DNS_IP,
            ports=[
                ServicePort(port=53, target_port=53, protocol="UDP", name="dns"),
                ServicePort(port=53, target_port=53, protocol="TCP", name="dns-tcp"),
                ServicePort(port=9153, target_port=9153, protocol="TCP", name="metrics"),
            ],
        ),
    ]


def all_services(world: World) -> list[Service]:
    """The world's Services plus the built-in ones the manifests do not declare themselves."""
    have = {(s.namespace, s.name) for s in world.services}
    return list(world.services) + [s for s in builtin_services() if (s.namespace, s.name) not in have]


def get_service(world: World, namespace: str, name: str) -> Service | None:
    """A Service by namespace and name, built-in ones included."""
    for s in all_services(world):
        if s.namespace == namespace and s.name == name:
            return s
    return None


def service_port(svc: Service, port: int, protocol: str = "TCP") -> ServicePort | None:
    """The Service port with this number and protocol, or None."""
    for p in svc.ports:
        if p.port == port and p.protocol == protocol:
            return p
    return None


def selected_pods(world: World, svc: Service) -> list[Pod]:
    """Pods of the Service's namespace that its selector matches ([] without a selector)."""
    if svc.selector is None:
        return []
    return [p for p in world.pods if p.namespace == svc.namespace and matches_map(svc.selector, p.labels)]


def _node_ip(world: World, node: str, fallback: str) -> str:
    for n in world.nodes:
        if n.name == node:
            return n.ip
    if node in NODE_NAMES:
        return NODE_IPS[NODE_NAMES.index(node)]
    return fallback


def _pod_address(world: World, pod: Pod) -> str:
    return _node_ip(world, pod.node, pod.ip) if pod.host_network else pod.ip


def _endpoint_hostname(pod: Pod, svc: Service) -> str | None:
    # The controller sets an endpoint's hostname only when the pod's subdomain names this Service.
    if pod.hostname and pod.subdomain == svc.name:
        return pod.hostname
    return None


def resolve_target_port(pod: Pod, port: ServicePort) -> int | None:
    """The container port a Service port reaches on this pod, or None if a named targetPort is missing."""
    if isinstance(port.target_port, int):
        return port.target_port
    if isinstance(port.target_port, str) and port.target_port.isdigit():
        return int(port.target_port)
    cp = pod.named_port(port.target_port, port.protocol)
    return cp.port if cp else None


def endpoints(world: World, svc: Service, port: ServicePort | None = None) -> list[Endpoint]:
    """Endpoints of one Service port, ready ones first; not-ready ones are included with ready=False.

    With `port=None` the result lists addresses regardless of ports (port 0), which is what headless
    DNS publishes: a pod whose named targetPort is missing still has an address in the EndpointSlice.
    ExternalName Services have no endpoints.
    """
    if svc.type == "ExternalName":
        return []
    if svc.selector is None:
        found = _manual_endpoints(world, svc, port)
    else:
        found = []
        for pod in selected_pods(world, svc):
            if port is None:
                number, protocol = 0, "TCP"
            else:
                resolved = resolve_target_port(pod, port)
                if resolved is None:
                    continue
                number, protocol = resolved, port.protocol
            found.append(
                Endpoint(
                    pod=pod.key,
                    ip=_pod_address(world, pod),
                    port=number,
                    protocol=protocol,
                    ready=pod.ready or svc.publish_not_ready,
                    hostname=_endpoint_hostname(pod, svc),
                    node=pod.node,
                )
            )
    return [e for e in found if e.ready] + [e for e in found if not e.ready]


def ready_endpoints(world: World, svc: Service, port: ServicePort | None = None) -> list[Endpoint]:
    """The endpoints traffic is sent to (publishNotReadyAddresses counts not-ready pods as ready)."""
    return [e for e in endpoints(world, svc, port) if e.ready]


# --- endpoints written by hand (Services without a selector) ---------------------------------------


def _builtin_manual_endpoints(svc: Service, port: ServicePort | None) -> list[Endpoint] | None:
    if (svc.namespace, svc.name) != ("default", "kubernetes"):
        return None
    ip, number = _API_SERVER_ENDPOINT
    if port is not None and port.port != 443:
        return []
    return [Endpoint(pod=None, ip=ip, port=number if port else 0, protocol="TCP", ready=True, node=NODE_NAMES[0])]


def endpoint_objects(world: World, svc: Service) -> list[Raw]:
    """The Endpoints object named like the Service and the EndpointSlices labelled with its name."""
    out = []
    for raw in world.endpoints:
        if raw.namespace != svc.namespace:
            continue
        if raw.kind == "Endpoints" and raw.name == svc.name:
            out.append(raw)
        elif raw.kind == "EndpointSlice":
            labels = (raw.obj.get("metadata") or {}).get("labels") or {}
            if labels.get(SERVICE_NAME_LABEL) == svc.name:
                out.append(raw)
    return out


def _port_name_matches(svc_port: ServicePort, ep_port: dict[str, Any]) -> bool:
    # kube-proxy pairs Service ports and endpoint ports by name; an unnamed port has the name "".
    return (ep_port.get("name") or "") == (svc_port.name or "") and (ep_port.get("protocol") or "TCP") == svc_port.protocol


def _pod_ref(ref: Any, namespace: str) -> str | None:
    if isinstance(ref, dict) and ref.get("kind") == "Pod" and ref.get("name"):
        return f"{ref.get('namespace') or namespace}/{ref['name']}"
    return None


def _manual_endpoints(world: World, svc: Service, port: ServicePort | None) -> list[Endpoint]:
    builtin = _builtin_manual_endpoints(svc, port)
    if builtin is not None and not endpoint_objects(world, svc):
        return builtin
    found: list[Endpoint] = []
    for raw in endpoint_objects(world, svc):
        if raw.kind == "Endpoints":
            for subset in raw.obj.get("subsets") or []:
                ports = subset.get("ports") or []
                number = _pick_port(ports, port)
                if number is None:
                    continue
                for ready, key in ((True, "addresses"), (False, "notReadyAddresses")):
                    for addr in subset.get(key) or []:
                        found.append(
                            Endpoint(
                                pod=_pod_ref(addr.get("targetRef"), svc.namespace),
                                ip=str(addr.get("ip", "")),
                                port=number,
                                protocol=port.protocol if port else "TCP",
                                ready=ready or svc.publish_not_ready,
                                hostname=addr.get("hostname"),
                                node=addr.get("nodeName"),
                            )
                        )
        else:  # EndpointSlice
            number = _pick_port(raw.obj.get("ports") or [], port)
            if number is None:
                continue
            for ep in raw.obj.get("endpoints") or []:
                cond = (ep.get("conditions") or {}).get("ready")
                for ip in ep.get("addresses") or []:
                    found.append(
                        Endpoint(
                            pod=_pod_ref(ep.get("targetRef"), svc.namespace),
                            ip=str(ip),
                            port=number,
                            protocol=port.protocol if port else "TCP",
                            ready=cond is None or bool(cond) or svc.publish_not_ready,
                            hostname=ep.get("hostname"),
                            node=ep.get("nodeName"),
                        )
                    )
    return found


def _pick_port(ep_ports: list[dict[str, Any]], port: ServicePort | None) -> int | None:
    """The endpoint port number for this Service port in one subset/slice, or None if it has none."""
    if port is None:
        return 0
    for p in ep_ports:
        if _port_name_matches(port, p) and p.get("port") is not None:
            return int(p["port"])
    return None


# --- lookups ------------------------------------------------------------------------------------------


def find_service_by_ip(world: World, ip: str) -> Service | None:
    """The Service whose ClusterIP is `ip` (built-ins included), or None."""
    for s in all_services(world):
        if s.cluster_ip and s.cluster_ip == ip:
            return s
    return None


def find_by_node_port(world: World, node_port: int, protocol: str = "TCP") -> tuple[Service, ServicePort] | None:
    """The NodePort/LoadBalancer Service port that listens on `node_port` on every node, or None."""
    for s in world.services:
        if s.type not in ("NodePort", "LoadBalancer"):
            continue
        for p in s.ports:
            if p.node_port == node_port and p.protocol == protocol:
                return s, p
    return None


def find_by_load_balancer_ip(world: World, ip: str) -> Service | None:
    """The LoadBalancer Service with this external IP, or None."""
    for s in world.services:
        if s.type == "LoadBalancer" and s.load_balancer_ip == ip:
            return s
    return None


# --- diagnosis ----------------------------------------------------------------------------------------


def _labels_text(labels: dict[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "(no labels)"


def _did_you_mean(selector: dict[str, str], pods: list[Pod]) -> str | None:
    """A near-miss of the selector among these pods' labels, e.g. app=my-app for app=my-ap."""
    suggestions = []
    for key, value in selector.items():
        if any(p.labels.get(key) == value for p in pods):
            continue
        values = sorted({p.labels[key] for p in pods if key in p.labels})
        close = difflib.get_close_matches(value, values, n=1, cutoff=0.6)
        if close:
            suggestions.append(f"{key}={close[0]}")
            continue
        keys = sorted({k for p in pods for k, v in p.labels.items() if v == value})
        close_keys = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
        if close_keys:
            suggestions.append(f"{close_keys[0]}={value}")
    return ",".join(suggestions) or None


def _selector_diagnosis(world: World, svc: Service) -> list[str]:
    assert svc.selector is not None
    sel = _labels_text(svc.selector) if svc.selector else "{} (every pod)"
    here = [p for p in world.pods if p.namespace == svc.namespace]
    matched = selected_pods(world, svc)
    if not matched:
        if not here:
            reason = f"selector {sel} matches no pod in namespace {svc.namespace}: there are no pods in that namespace"
        else:
            shown = "; ".join(sorted({_labels_text(p.labels) for p in here})[:5])
            reason = f"selector {sel} matches no pod in namespace {svc.namespace}; pods there have labels {shown}"
            guess = _did_you_mean(svc.selector, here)
            if guess:
                reason += f" (did you mean {guess}?)"
        elsewhere = sorted(
            {p.namespace for p in world.pods if p.namespace != svc.namespace and matches_map(svc.selector, p.labels)}
        )
        if elsewhere:
            reason += (
                f". Pods with these labels exist in namespace {', '.join(elsewhere)}, but a Service only selects "
                f"pods in its own namespace {svc.namespace}"
            )
        return [reason]
    reasons = []
    if not any(p.ready for p in matched) and not svc.publish_not_ready:
        names = ", ".join(p.name for p in matched)
        return [f"pods match ({names}) but none is ready, so the Service has no ready endpoints"]
    for port in svc.ports:
        if ready_endpoints(world, svc, port) or isinstance(port.target_port, int) or str(port.target_port).isdigit():
            continue
        for pod in matched:
            if resolve_target_port(pod, port) is not None:
                reasons.append(f"pod {pod.name} has container port '{port.target_port}' but is not ready")
                continue
            other = pod.named_port(str(port.target_port))
            if other is not None:
                reasons.append(
                    f"pod {pod.name} matches but its container port named '{port.target_port}' is "
                    f"{other.protocol}, while the Service port {port.port} is {port.protocol}"
                )
            else:
                names = ", ".join(sorted(p.name for p in pod.ports if p.name)) or "none"
                reasons.append(
                    f"pod {pod.name} matches but has no container port named '{port.target_port}' "
                    f"(targetPort of Service port {port.port}); its named ports: {names}"
                )
    return reasons


def _manual_diagnosis(world: World, svc: Service) -> list[str]:
    objs = endpoint_objects(world, svc)
    if not objs:
        return [
            f"Service {svc.key} has no selector and there is no Endpoints object named {svc.name} nor an "
            f"EndpointSlice labelled {SERVICE_NAME_LABEL}={svc.name} in namespace {svc.namespace}: add a "
            "selector: to the Service, or create the endpoints yourself"
        ]
    if not svc.ports:
        return [f"the endpoints of {svc.key} list only not-ready addresses"]
    reasons = []
    for port in svc.ports:
        eps = endpoints(world, svc, port)
        label = f"'{port.name}'" if port.name else "unnamed"
        if not eps:
            reasons.append(
                f"the endpoints of {svc.key} list no port matching the Service's {label} port {port.port}/"
                f"{port.protocol}: endpoint ports are matched to Service ports by name"
            )
        elif not any(e.ready for e in eps):
            reasons.append(f"the endpoints of {svc.key} list only not-ready addresses for port {port.port}")
    return reasons


def endpoint_diagnosis(world: World, svc: Service) -> list[str]:
    """Why Service ports have no ready endpoint, in words a learner can act on ([] when all have some)."""
    if svc.type == "ExternalName":
        return []
    if svc.selector is None:
        if svc.headless and not svc.ports:
            return [] if ready_endpoints(world, svc) else _manual_diagnosis(world, svc)
        if all(ready_endpoints(world, svc, p) for p in svc.ports) and svc.ports:
            return []
        return _manual_diagnosis(world, svc)
    if not svc.ports:
        if svc.headless:
            return [] if ready_endpoints(world, svc) else _selector_diagnosis(world, svc)
        return [f"Service {svc.key} declares no ports, so nothing can connect through it"]
    if all(ready_endpoints(world, svc, p) for p in svc.ports):
        return []
    return _selector_diagnosis(world, svc)
