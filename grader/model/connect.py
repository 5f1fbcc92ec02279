"""The path of one connection, step by step, with a trace that names the objects.

    source pod -> DNS (unless an IP; the query itself must pass the pod's egress policy)
               -> Service VIP / NodePort / LoadBalancer IP / pod IP -> an endpoint
               -> egress policy of the source -> ingress policy of the destination
               -> a process listening on the port -> verdict

A Service with several endpoints is tried against each: kube-proxy picks one at random per
connection, so the verdict is "allowed" when some endpoint accepts (a live probe retried for ~10 s
sees it), and the trace lists the others.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from grader.model import dns, policy, services
from grader.model.names import is_ip
from grader.model.listeners import find_listener, pod_listeners
from grader.model.objects import Pod, Service, ServicePort, World


@dataclass
class Connection:
    """The simulator's verdict on one connection."""

    verdict: str  # allowed | blocked | refused | no-endpoints | dns-failure | error
    trace: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)
    endpoint: str | None = None  # "ns/pod" that answered
    dst_ip: str | None = None
    dst_port: int | None = None
    service: str | None = None  # "ns/name" when through a Service
    client_ip: str | None = None  # the source address the destination sees
    http: bool = False  # the listener speaks HTTP
    netexec: bool = False  # the listener is agnhost netexec (/clientip, /hostname)
    summary: str = ""  # one phrase for the learner when the verdict alone does not say it

    @property
    def ok(self) -> bool:
        return self.verdict == "allowed"


@dataclass
class Lookup:
    """A DNS lookup from a pod, including whether the query could reach CoreDNS."""

    answer: dns.DnsAnswer
    reachable: bool
    trace: list[str]
    hints: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.reachable and self.answer.type != "NXDOMAIN"


def dns_servers(world: World) -> list[Pod]:
    """The CoreDNS pods a lookup goes to; kind's own when the world was built without system pods."""
    found = [p for p in world.pods if p.namespace == "kube-system" and p.labels.get("k8s-app") == "kube-dns"]
    if found:
        return found
    from grader.model.workloads import build_world

    return [p for p in build_world([], include_system=True).pods if p.labels.get("k8s-app") == "kube-dns"]


def lookup(world: World, src: Pod, name: str) -> Lookup:
    """Resolve `name` as `src` would: its egress policy must let UDP/53 reach a CoreDNS pod."""
    trace: list[str] = []
    hints: list[str] = []
    reachable = src.host_network
    if not src.host_network:
        for server in dns_servers(world):
            v = policy.evaluate(world, src, server, 53, "UDP")
            if v.allowed:
                reachable = True
                break
        if not reachable:
            trace.append(f"the DNS query from {src.key} to CoreDNS (kube-system, UDP/53) is dropped:")
            trace += [f"  {line}" for line in v.trace]
            hints.append(
                f"an egress NetworkPolicy selects {src.key} and allows no traffic to kube-dns on UDP/TCP 53: "
                "add an egress rule to namespace kube-system, pods k8s-app=kube-dns, ports 53 UDP and TCP"
            )
    if not reachable:  # no answer comes back: what CoreDNS would have said does not matter
        return Lookup(dns.DnsAnswer(name=name, fqdn=None, type="NXDOMAIN", answers=[], service=None, pods=[], cname=None), False, trace, hints)
    answer = dns.resolve(world, src.namespace, name)
    trace += answer.trace
    if answer.type == "NXDOMAIN":
        hints += _nxdomain_hints(world, src, name)
    return Lookup(answer, True, trace, hints)


def _pod_by_ip(world: World, ip: str) -> Pod | None:
    for p in world.pods:
        if p.ip == ip and not p.host_network:
            return p
    return None


def _node_by_ip(world: World, ip: str):
    return next((n for n in world.nodes if n.ip == ip), None)


def _source_ip(src: Pod | None, src_ip: str | None) -> str | None:
    return src.ip if src is not None else src_ip


def connect(
    world: World,
    src: Pod | None,
    host: str,
    port: int,
    protocol: str = "TCP",
    *,
    src_ip: str | None = None,
) -> Connection:
    """Follow one connection from `src` (a pod; None with `src_ip` for a client outside the pod network)."""
    protocol = protocol.upper()
    trace: list[str] = []
    hints: list[str] = []
    who = src.key if src else (src_ip or "outside")
    ip = host
    if not is_ip(host):
        if src is None:
            return Connection("dns-failure", [f"{host}: cluster DNS names resolve only inside pods"])
        lk = lookup(world, src, host)
        trace += lk.trace
        hints += lk.hints
        if not lk.reachable:
            return Connection("dns-failure", trace, hints)
        ans = lk.answer
        if ans.type == "CNAME":
            trace.append(f"{host} is a CNAME to {ans.cname}, a name outside the cluster: the simulator does not reach outside hosts")
            return Connection("error", trace, hints, summary=f"{host} is a CNAME to {ans.cname}, outside the simulated cluster")
        if ans.type == "NXDOMAIN" or not ans.answers:
            return Connection("dns-failure", trace + [f"{host}: NXDOMAIN from {src.key}"], hints)
        ip = ans.answers[0]
        trace.append(f"{host} resolves to {', '.join(ans.answers)}" + (f" (Service {ans.service})" if ans.service else ""))
        if len(ans.answers) > 1:  # headless: a client takes the first answer; try each like retries would
            results = [connect(world, src, a, port, protocol, src_ip=src_ip) for a in ans.answers]
            best = next((r for r in results if r.ok), results[0])
            best.trace = trace + best.trace
            best.hints = hints + best.hints
            return best

    # A Service's virtual IP (ClusterIP)
    svc = services.find_service_by_ip(world, ip)
    if svc is not None:
        return _through_service(world, src, src_ip, svc, port, protocol, trace, hints, via=f"ClusterIP {ip}")

    # A node's IP: a NodePort, or a hostNetwork pod on that node
    node = _node_by_ip(world, ip)
    if node is not None:
        found = services.find_by_node_port(world, port, protocol)
        if found is not None:
            svc, sp = found
            trace.append(f"{ip}:{port} is NodePort {sp.node_port} of Service {svc.key} on node {node.name}")
            # externalTrafficPolicy Cluster: the node masquerades the source to its own IP
            snat = node.ip if src is None or src.host_network or _external_policy(svc) == "Cluster" else None
            return _through_service(world, src, src_ip, svc, sp.port, protocol, trace, hints, via=f"NodePort {port}", snat_ip=snat)
        for p in world.pods:
            if p.host_network and p.node == node.name and find_listener(p, port, protocol):
                return _to_pod(world, src, src_ip, p, port, protocol, trace + [f"{ip} is node {node.name}; hostNetwork pod {p.key} listens there"], hints)
        trace.append(f"{ip} is node {node.name}: nothing listens on {protocol}/{port} there (no NodePort, no hostNetwork pod)")
        return Connection("refused", trace, hints, dst_ip=ip, dst_port=port)

    # A LoadBalancer's external IP
    lb = services.find_by_load_balancer_ip(world, ip)
    if lb is not None:
        trace.append(f"{ip} is the external IP of LoadBalancer Service {lb.key}")
        return _through_service(world, src, src_ip, lb, port, protocol, trace, hints, via=f"LoadBalancer {ip}", snat_ip=world.nodes[1].ip if world.nodes else None)

    dst = _pod_by_ip(world, ip)
    if dst is not None:
        return _to_pod(world, src, src_ip, dst, port, protocol, trace, hints)

    # Outside the pod and service networks: only the egress side is ours to judge.
    v = policy.evaluate(world, src, None, port, protocol, src_ip=_source_ip(src, src_ip), dst_ip=ip)
    trace += v.trace
    if not v.allowed:
        return Connection("blocked", trace, hints, dst_ip=ip, dst_port=port)
    trace.append(f"{ip} is not a pod, Service or node of this cluster: the simulator does not model hosts outside it")
    return Connection("error", trace, hints, dst_ip=ip, dst_port=port, summary=f"{ip} is outside the simulated cluster (egress allowed)")


def _external_policy(svc: Service) -> str:
    return "Cluster"  # the course never sets Local; a real Local policy keeps the client IP


def _through_service(
    world: World,
    src: Pod | None,
    src_ip: str | None,
    svc: Service,
    port: int,
    protocol: str,
    trace: list[str],
    hints: list[str],
    *,
    via: str,
    snat_ip: str | None = None,
) -> Connection:
    sp: ServicePort | None = services.service_port(svc, port, protocol)
    if sp is None:
        have = ", ".join(f"{p.port}/{p.protocol}" for p in svc.ports) or "none"
        trace.append(f"Service {svc.key} has no port {port}/{protocol} (its ports: {have}); a real cluster drops the packet (timeout)")
        hints.append(f"Service {svc.key} exposes {have}, not {port}/{protocol}: connect to a port the Service declares, or add this port to it")
        return Connection(
            "error", trace, hints, dst_ip=svc.cluster_ip, dst_port=port, service=svc.key,
            summary=f"Service {svc.key} has no port {port}/{protocol}: a real cluster drops the packet (timeout)",
        )
    eps = services.ready_endpoints(world, svc, sp)
    if not eps:
        trace.append(f"{via}: Service {svc.key} port {sp.port}/{sp.protocol} has no ready endpoints; kube-proxy rejects the connection")
        hints += services.endpoint_diagnosis(world, svc)  # the why, once, as hints
        return Connection("no-endpoints", trace, hints, dst_port=port, service=svc.key)
    trace.append(f"{via}: Service {svc.key} port {sp.port} -> targetPort {sp.target_port}; endpoints: " + ", ".join(f"{e.pod or e.ip}:{e.port}" for e in eps))
    results: list[tuple[services.Endpoint, Connection]] = []
    for ep in eps:
        dst = world.pod(ep.pod) if ep.pod else None
        if dst is None:
            c = Connection("error", [f"endpoint {ep.ip}:{ep.port} is not a pod of this cluster: the simulator does not model it"], dst_ip=ep.ip, dst_port=ep.port)
        else:
            c = _to_pod(world, src, src_ip, dst, ep.port, protocol, [], [], snat_ip=snat_ip)
        results.append((ep, c))
    chosen = next((c for _, c in results if c.ok), results[0][1])
    if len(results) > 1:
        for ep, c in results:
            mark = "->" if c is chosen else "  "
            trace.append(f"{mark} endpoint {ep.pod or ep.ip}:{ep.port}: {c.verdict}")
    trace += chosen.trace
    if chosen.ok and any(not c.ok for _, c in results):
        trace.append("some endpoints refuse this client: a real client succeeds or fails at random per connection")
    chosen.trace = trace
    chosen.hints = hints + chosen.hints
    chosen.service = svc.key
    if chosen.verdict == "refused":
        chosen.hints += _target_port_hints(svc, sp, [(world.pod(e.pod), e.port) for e, _ in results if e.pod])
    return chosen


def _to_pod(
    world: World,
    src: Pod | None,
    src_ip: str | None,
    dst: Pod,
    port: int,
    protocol: str,
    trace: list[str],
    hints: list[str],
    *,
    snat_ip: str | None = None,
) -> Connection:
    client_ip = snat_ip or _source_ip(src, src_ip)
    if src is not None and src.host_network:
        client_ip = next((n.ip for n in world.nodes if n.name == src.node), client_ip)
    policy_src = None if (snat_ip or src is None or src.host_network) else src
    v = policy.evaluate(world, policy_src, dst, port, protocol, src_ip=client_ip)
    trace = trace + v.trace
    if not v.allowed:
        return Connection("blocked", trace, hints, dst_ip=dst.ip, dst_port=port, client_ip=client_ip)
    listener = find_listener(dst, port, protocol)
    if listener is None:
        have = ", ".join(f"{l.port}/{l.protocol}" for l in pod_listeners(dst)) or "nothing"
        trace.append(f"{dst.key} ({dst.ip}) does not listen on {protocol}/{port}: the connection is refused (it listens on {have})")
        return Connection("refused", trace, hints + [f"{dst.key} listens on {have}, not {port}/{protocol}"], dst_ip=dst.ip, dst_port=port, client_ip=client_ip)
    trace.append(f"{dst.key} ({dst.ip}) accepts {protocol}/{port} ({listener.why})")
    return Connection(
        "allowed", trace, hints, endpoint=dst.key, dst_ip=dst.ip, dst_port=port, client_ip=client_ip, http=listener.http, netexec=listener.netexec
    )


def _target_port_hints(svc: Service, sp: ServicePort, pods: list[tuple[Pod | None, int]]) -> list[str]:
    """When endpoints exist but refuse: say which port the pods really listen on."""
    for pod, port in pods:
        if pod is None:
            continue
        listening = sorted({l.port for l in pod_listeners(pod) if l.protocol == sp.protocol})
        if listening and port not in listening:
            ports = ", ".join(map(str, listening))
            return [
                f"Service {svc.key} sends port {sp.port} to targetPort {sp.target_port}, but its pods listen on {ports}: "
                f"set targetPort to the port the container listens on"
            ]
    return []


def _nxdomain_hints(world: World, src: Pod, name: str) -> list[str]:
    """An NXDOMAIN for a short name that exists in another namespace: the classic cross-namespace mistake."""
    short = name.rstrip(".").split(".")[0].lower()
    others = [s for s in world.services if s.name.lower() == short and s.namespace != src.namespace]
    if "." not in name.rstrip(".") and others:
        where = ", ".join(sorted(s.namespace for s in others))
        return [
            f"'{name}' is looked up in namespace {src.namespace} first; Service {short} exists in namespace {where}: "
            f"use {short}.{others[0].namespace} (or the full {short}.{others[0].namespace}.svc.{world.cluster_domain})"
        ]
    return []
