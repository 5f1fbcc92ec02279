"""The path of one connection, step by step, with a trace that names the objects.

    source pod -> DNS (unless an IP; the query itself must pass the pod's egress policy)
               -> Service VIP / NodePort / LoadBalancer IP / pod IP -> an endpoint
               -> egress policy of the source -> ingress policy of the destination
               -> a process listening on the port -> verdict

A Service with several endpoints is tried against each: kube-proxy picks one at random per
connection, so the verdict is "allowed" when some endpoint accepts (a live probe retried for ~10 s
sees it), and the trace lists the others.

Traffic policies (kube-proxy, iptables mode; kubernetes.io "Service" and "Virtual IPs and Service Proxies"):
- A Service with no ready endpoint at all is rejected (REJECT: connection refused), whatever the policy.
- externalTrafficPolicy (NodePort and LoadBalancer, traffic from outside the cluster): Cluster = any
  ready endpoint, and the node masquerades the source to its own address (the pod does not see the
  client's IP). Local = only the endpoints on the node the traffic entered; none there = the packet is
  dropped (DROP: the client times out); served = no SNAT, the pod sees the client's address. Traffic
  from a pod (source in the pod network) or from the node itself is treated as Cluster.
- internalTrafficPolicy (ClusterIP): Local = only the endpoints on the client's node; none there = dropped.
- On the course cluster localhost:30080 enters at the control-plane node (kind extraPortMappings),
  which runs no learner pods unless they tolerate its taint; a LoadBalancer IP is an Envoy container of
  cloud-provider-kind that proxies to the workers' NodePorts (see _through_load_balancer).
Where "is there a ready endpoint on that node" depends on placements the manifests leave to the
scheduler, the trace says so and Connection.placement_note carries it (no check may rely on the guess).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from grader.model import dns, policy, services
from grader.model.names import is_ip
from grader.model.listeners import find_listener, pod_listeners
from grader.model.objects import POD_CIDR, Node, Pod, Service, ServicePort, World

# What a failed hop behind a proxy was, for the proxy's own summary.
VERDICT_PHRASES = {"no-endpoints": "the Service has no ready endpoints", "refused": "the node refused it",
                   "blocked": "a NetworkPolicy dropped it", "dropped": "kube-proxy dropped it"}
# kind puts this label on its control-plane node; cloud-provider-kind's load balancers leave such nodes out.
EXCLUDE_FROM_LB = "node.kubernetes.io/exclude-from-external-load-balancers"


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
    # Set when the verdict rests on where the scheduler put pods, which the manifests do not decide:
    # the simulator used its guess; a real cluster may place them otherwise (no check may rely on it).
    placement_note: str = ""

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
    """Resolve `name` as `src` would, with its own resolv.conf (dnsPolicy, dnsConfig): its egress policy must let
    UDP/53 reach the nameserver (a CoreDNS pod behind kube-dns, or the node's resolver)."""
    trace: list[str] = []
    hints: list[str] = []
    conf = dns.resolv_conf(src.namespace, src.spec, host_network=src.host_network, domain=world.cluster_domain)
    reachable = src.host_network
    if not conf.cluster and not src.host_network and conf.nameservers and is_ip(conf.nameservers[0]):
        v = policy.evaluate(world, src, None, 53, "UDP", src_ip=src.ip, dst_ip=conf.nameservers[0])
        reachable = v.allowed
        if not reachable:
            trace.append(f"the DNS query from {src.key} to its nameserver {conf.nameservers[0]} (UDP/53) is dropped:")
            trace += [f"  {line}" for line in v.trace]
    elif not src.host_network:
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
    answer = dns.resolve(world, src.namespace, name, conf=conf)
    trace += answer.trace
    if answer.type == "NXDOMAIN":
        hints += _nxdomain_hints(world, src, name)
        if not conf.cluster:
            hints.append(
                f"{src.key} does not use the cluster DNS ({conf.written}): its resolv.conf says nameserver "
                f"{' '.join(conf.nameservers) or '(none)'}, so Service names do not resolve there; use dnsPolicy ClusterFirst"
                + ("WithHostNet for a hostNetwork pod" if src.host_network else "")
            )
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
    via_node: str | None = None,
) -> Connection:
    """Follow one connection from `src` (a pod; None with `src_ip` for a client outside the pod network).

    `via_node`: for a client outside the cluster reaching a ClusterIP, the node its packets are routed
    through (cloud-provider-kind routes the Service range via the control-plane node)."""
    c = _connect(world, src, host, port, protocol, src_ip=src_ip, via_node=via_node)
    if not c.ok and src is not None and not is_ip(host):
        _explain_headless(world, src, host, port, protocol, c)
    return c


def _explain_headless(world: World, src: Pod, host: str, port: int, protocol: str, c: Connection) -> None:
    """A failed connection to a headless Service's name on one of its ports: say first that nothing translated the port.

    A headless name resolves to the pods' own IPs, so port `port` goes to the pods as is: the Service's
    targetPort is never applied (a NetworkPolicy then judges the pods' port `port`, and nothing may listen there)."""
    answer = lookup(world, src, host).answer
    ns, _, name = (answer.service or "").partition("/")
    svc = services.get_service(world, ns, name) if answer.service else None
    if svc is None or not svc.headless:
        return
    sp = services.service_port(svc, port, protocol)
    if sp is None or str(sp.target_port) == str(port):
        return
    why = (f"Service {svc.key} is headless (clusterIP: None): {host} resolves to the pods' own IPs, so port {port} goes to the "
           f"pods untranslated; targetPort {sp.target_port} applies only through a cluster IP")
    c.trace.insert(0, why)
    c.hints.insert(0, f"{why}: remove clusterIP: None from Service {svc.key} (or connect to port {sp.target_port})")
    outcome = {"blocked": "no answer (a NetworkPolicy drops port {p} to the pods)", "refused": "connection refused (nothing listens on the pods' port {p})"}
    c.summary = f"{outcome.get(c.verdict, c.verdict).format(p=port)}: {svc.key} is headless, so port {port} is not translated to targetPort {sp.target_port}"


def _connect(
    world: World,
    src: Pod | None,
    host: str,
    port: int,
    protocol: str = "TCP",
    *,
    src_ip: str | None = None,
    via_node: str | None = None,
) -> Connection:
    """connect() without the headless explanation (see connect)."""
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
        entry = next((n for n in world.nodes if n.name == via_node), None) if via_node else None
        return _through_service(world, src, src_ip, svc, port, protocol, trace, hints, via=f"ClusterIP {ip}", routed_via=entry)

    # A node's IP: a NodePort, or a hostNetwork pod on that node
    node = _node_by_ip(world, ip)
    if node is not None:
        found = services.find_by_node_port(world, port, protocol)
        if found is not None:
            svc, sp = found
            trace.append(f"{ip}:{port} is NodePort {sp.node_port} of Service {svc.key} on node {node.name}")
            return _through_service(world, src, src_ip, svc, sp.port, protocol, trace, hints, via=f"NodePort {port}", entry=node)
        for p in world.pods:
            if p.host_network and p.node == node.name and find_listener(p, port, protocol):
                return _to_pod(world, src, src_ip, p, port, protocol, trace + [f"{ip} is node {node.name}; hostNetwork pod {p.key} listens there"], hints)
        trace.append(f"{ip} is node {node.name}: nothing listens on {protocol}/{port} there (no NodePort, no hostNetwork pod)")
        return Connection("refused", trace, hints, dst_ip=ip, dst_port=port)

    # A LoadBalancer's external IP
    lb = services.find_by_load_balancer_ip(world, ip)
    if lb is not None:
        return _through_load_balancer(world, src, src_ip, lb, ip, port, protocol, trace, hints)

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


def _from_outside(world: World, src: Pod | None, src_ip: str | None, entry: Node) -> bool:
    """Whether kube-proxy on `entry` treats this NodePort/LoadBalancer traffic as external (externalTrafficPolicy applies).

    Pod traffic (source in the pod network) and the node's own traffic are short-circuited to the Cluster
    policy (kube-proxy's "pod traffic for ... external destinations" and "route LOCAL traffic" rules)."""
    if src is not None:
        return src.host_network and src.node != entry.name
    if src_ip is None:
        return True
    if src_ip == entry.ip:
        return False
    try:
        return ipaddress.ip_address(src_ip) not in ipaddress.ip_network(POD_CIDR)
    except ValueError:
        return True


def _source_node(world: World, src: Pod | None) -> Node | None:
    if src is None:
        return None
    return next((n for n in world.nodes if n.name == src.node), None)


def _endpoint_where(world: World, eps: list[services.Endpoint]) -> str:
    """"pod on node, ..." for a trace, each guessed node marked."""
    out = []
    for e in eps:
        pod = world.pod(e.pod) if e.pod else None
        where = e.node or "an unknown node"
        if pod is not None and pod.placement_guessed:
            where += " (the simulator's guess)"
        out.append(f"{e.pod or e.ip} on {where}")
    return ", ".join(out)


def _local_placement_note(world: World, svc: Service, eps: list[services.Endpoint], node: Node, src: Pod | None,
                          policy_name: str) -> str:
    """Whether "a ready endpoint runs on the node" holds in every placement the scheduler may choose; a note when not.

    `src` (internalTrafficPolicy): the node is the client's own, which may move too."""
    from grader.model.workloads import possible_placements

    keys = sorted({e.pod for e in eps if e.pod} | ({src.key} if src is not None else set()))
    if not any(world.pod(k) is not None and world.pod(k).placement_guessed for k in keys):
        return ""
    outcomes = possible_placements(world, keys)
    fixed = {e.node for e in eps if not e.pod}
    if outcomes is None:
        return (f"{policy_name}: Local: whether a ready endpoint of {svc.key} runs on the same node depends on where the scheduler puts "
                f"{len(keys)} pods: too many placements to check, so the simulator's guess decides this trace; a real cluster may differ")
    def local(o: dict) -> bool:
        here = o.get(src.key) if src is not None else node.name
        return here in fixed or any(o.get(e.pod) == here for e in eps if e.pod)
    answers = {local(o) for o in outcomes}
    if len(answers) < 2:
        return ""
    moving = ", ".join(k for k in keys if world.pod(k) is not None and world.pod(k).placement_guessed)
    where = "the client's node" if src is not None else node.name
    return (f"{policy_name}: Local: whether a ready endpoint of {svc.key} runs on {where} depends on where the scheduler puts {moving}: "
            "the manifests do not decide it, the simulator's guess decides this trace, and a real cluster may place them otherwise")


def _load_balancer_placement_note(world: World, lb: Service, backends: list[Node]) -> str:
    """For a Local LoadBalancer: a note when "enough nodes have a ready endpoint" depends on the scheduler's choices."""
    from grader.model.workloads import possible_placements

    eps = services.ready_endpoints(world, lb)
    keys = sorted({e.pod for e in eps if e.pod})
    if not any(world.pod(k) is not None and world.pod(k).placement_guessed for k in keys):
        return ""
    outcomes = possible_placements(world, keys)
    names = {n.name for n in backends}
    fixed = {e.node for e in eps if not e.pod} & names
    if outcomes is None:
        return (f"externalTrafficPolicy: Local: which nodes have a ready endpoint of {lb.key} depends on where the scheduler puts "
                f"{len(keys)} pods: too many placements to check, so the simulator's guess decides this trace")
    def served(o: dict) -> bool:
        healthy = fixed | {n for n in o.values() if n in names}
        return bool(healthy) and len(healthy) * 2 >= len(backends)
    if len({served(o) for o in outcomes}) < 2:
        return ""
    return (f"externalTrafficPolicy: Local: whether enough nodes have a ready endpoint of {lb.key} for the load balancer depends "
            f"on where the scheduler puts {', '.join(keys)}: the simulator's guess decides this trace, and a real cluster may differ")


def _through_load_balancer(world: World, src: Pod | None, src_ip: str | None, lb: Service, ip: str, port: int, protocol: str,
                           trace: list[str], hints: list[str]) -> Connection:
    """cloud-provider-kind's LoadBalancer: an Envoy container at the external IP proxies each connection to a node's
    NodePort (nodes labelled node.kubernetes.io/exclude-from-external-load-balancers are left out, as kind labels its
    control-plane). It health-checks each node: kube-proxy's healthz (10256) for Cluster, the Service's healthCheckNodePort
    for Local, which answers 200 only on nodes with a local ready endpoint. Below 50 % healthy nodes Envoy's panic mode
    sends to every node. From pods too: its status says ipMode Proxy, so kube-proxy does not short-cut the IP."""
    trace.append(f"{ip} is the external IP of LoadBalancer Service {lb.key}: cloud-provider-kind's Envoy container proxies "
                 "each connection to a node's NodePort")
    if src is not None and not src.host_network:
        v = policy.evaluate(world, src, None, port, protocol, src_ip=src.ip, dst_ip=ip)
        if not v.allowed:
            return Connection("blocked", trace + v.trace, hints, dst_ip=ip, dst_port=port)
    sp = services.service_port(lb, port, protocol)
    if sp is None:
        have = ", ".join(f"{p.port}/{p.protocol}" for p in lb.ports) or "none"
        trace.append(f"the load balancer listens on the Service's ports ({have}), not on {protocol}/{port}: connection refused")
        return Connection("refused", trace, hints + [f"LoadBalancer {lb.key} exposes {have}, not {port}/{protocol}"], dst_ip=ip, dst_port=port)
    if not sp.node_port:
        trace.append(f"Service {lb.key} port {sp.port} has no nodePort (allocateLoadBalancerNodePorts: false), and "
                     "cloud-provider-kind forwards to node ports: Envoy has nowhere to send the connection")
        return Connection("error", trace, hints, dst_ip=ip, dst_port=port, service=lb.key,
                          summary=f"LoadBalancer {lb.key} has no nodePort to forward to")
    backends = [n for n in world.nodes if EXCLUDE_FROM_LB not in n.labels] or list(world.nodes)
    if lb.external_traffic_policy == "Local":
        local_nodes = {e.node for e in services.ready_endpoints(world, lb)}
        healthy = [n for n in backends if n.name in local_nodes]
        trace.append(f"externalTrafficPolicy: Local: Envoy health-checks healthCheckNodePort on {', '.join(n.name for n in backends)}; "
                     f"healthy (a ready endpoint there): {', '.join(n.name for n in healthy) or 'none'}")
        if len(healthy) * 2 < len(backends):
            trace.append("fewer than half of the nodes are healthy: Envoy's panic mode sends to every node anyway")
            targets = backends
        else:
            targets = healthy
    else:
        trace.append(f"externalTrafficPolicy: Cluster: every node passes kube-proxy's health check; Envoy picks one of "
                     f"{', '.join(n.name for n in backends)} at random")
        targets = backends
    results = [(n, connect(world, None, n.ip, sp.node_port, protocol, src_ip=ip)) for n in targets]
    node, chosen = next(((n, c) for n, c in results if c.ok), results[0])
    if lb.external_traffic_policy == "Local":
        # Envoy picks the nodes by their local endpoints itself: the hop's own placement note does not apply;
        # what matters is whether enough nodes have an endpoint in every placement the scheduler may choose.
        chosen.placement_note = _load_balancer_placement_note(world, lb, backends)
        if chosen.placement_note:
            trace.append(chosen.placement_note)
    chosen.trace = trace + [f"Envoy ({ip}) connects to {node.name} {node.ip}:{sp.node_port}"] + chosen.trace
    chosen.hints = hints + chosen.hints
    chosen.service = lb.key
    if not chosen.ok:
        chosen.trace.append("the load balancer accepted the client's TCP connection and closes it: its connection to the node "
                            "failed (a bare `agnhost connect`, which only opens a connection, still reports success)")
        behind = chosen.summary or VERDICT_PHRASES.get(chosen.verdict, chosen.verdict)
        chosen.summary = f"the load balancer of {lb.key} accepts the connection and closes it ({behind})"
        chosen.verdict = "error" if chosen.verdict != "no-endpoints" else chosen.verdict
    return chosen


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
    entry: Node | None = None,
    routed_via: Node | None = None,
) -> Connection:
    """kube-proxy's part: Service port -> ready endpoints (all, or the local ones under a Local traffic policy) -> one pod.

    `entry`: the node whose NodePort was reached (externalTrafficPolicy applies); None for a ClusterIP
    (internalTrafficPolicy applies, on the client's node, or on `routed_via` for a client outside)."""
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
    snat_ip: str | None = None
    note = ""
    if entry is not None:  # NodePort (also the hop a LoadBalancer makes)
        outside = _from_outside(world, src, src_ip, entry)
        if outside and svc.external_traffic_policy == "Local":
            local = [e for e in eps if e.node == entry.name]
            note = _local_placement_note(world, svc, eps, entry, None, "externalTrafficPolicy")
            if not local:
                trace.append(
                    f"{via} on node {entry.name}: Service {svc.key} has externalTrafficPolicy: Local, so only endpoints on "
                    f"{entry.name} serve traffic from outside; none of its ready endpoints runs there "
                    f"({_endpoint_where(world, eps)}): kube-proxy drops the packet (the client times out)"
                )
                if note:
                    trace.append(note)
                hints.append(
                    f"Service {svc.key} has externalTrafficPolicy: Local and no ready endpoint on {entry.name}, the node this "
                    "traffic enters: remove externalTrafficPolicy (Cluster, the default, forwards to any node), or run an "
                    "endpoint on that node"
                )
                return Connection("dropped", trace, hints, dst_port=port, service=svc.key, placement_note=note,
                                  summary=f"no answer: externalTrafficPolicy: Local and no ready endpoint of {svc.key} on node {entry.name}")
            trace.append(
                f"{via} on node {entry.name}: externalTrafficPolicy: Local: only the endpoints on {entry.name} serve it "
                f"({_endpoint_where(world, local)}), and the client's address {src_ip or '(unknown)'} is kept (no SNAT)"
            )
            if note:
                trace.append(note)
            eps = local
        elif svc.external_traffic_policy == "Cluster" or src is None or src.host_network:
            snat_ip = entry.ip
            why = ("externalTrafficPolicy: Cluster" if svc.external_traffic_policy == "Cluster"
                   else "traffic from the node itself is not subject to externalTrafficPolicy: Local")
            trace.append(f"{via} on node {entry.name}: {why}: any ready endpoint may serve it, and the node masquerades "
                         f"the source to its own address {entry.ip}")
        else:
            trace.append(f"{via} on node {entry.name}: traffic from a pod is not subject to externalTrafficPolicy: Local "
                         "(kube-proxy treats it as Cluster and keeps the pod's address)")
    else:  # a ClusterIP
        if src is None and routed_via is not None:
            snat_ip = routed_via.ip  # kube-proxy masquerades off-cluster traffic to a Service VIP
        if svc.internal_traffic_policy == "Local":
            here = _source_node(world, src) or routed_via
            if here is None:
                trace.append(f"{via}: Service {svc.key} has internalTrafficPolicy: Local; the client's node is not known here, "
                             "so every endpoint is tried")
            else:
                local = [e for e in eps if e.node == here.name]
                note = _local_placement_note(world, svc, eps, here, src if src is not None and src.node == here.name else None,
                                              "internalTrafficPolicy")
                if not local:
                    trace.append(
                        f"{via} from node {here.name}: Service {svc.key} has internalTrafficPolicy: Local, so only endpoints on "
                        f"{here.name} (the client's node) serve it; none of its ready endpoints runs there "
                        f"({_endpoint_where(world, eps)}): kube-proxy drops the packet (the client times out)"
                    )
                    if note:
                        trace.append(note)
                    hints.append(
                        f"Service {svc.key} has internalTrafficPolicy: Local: a client reaches it only through an endpoint on its "
                        f"own node, and {here.name} has none; remove internalTrafficPolicy (Cluster, the default)"
                    )
                    return Connection("dropped", trace, hints, dst_port=port, service=svc.key, placement_note=note,
                                      summary=f"no answer: internalTrafficPolicy: Local and no ready endpoint of {svc.key} on the client's node {here.name}")
                trace.append(f"{via} from node {here.name}: internalTrafficPolicy: Local: only the endpoints on {here.name} serve it "
                             f"({_endpoint_where(world, local)})")
                if note:
                    trace.append(note)
                eps = local
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
    chosen.placement_note = chosen.placement_note or note
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
    note = _node_traffic_note(world, src, dst, port, protocol, v.allowed) if snat_ip is None else ""
    if note:
        trace.append(note)
    if not v.allowed:
        return Connection("blocked", trace, hints, dst_ip=dst.ip, dst_port=port, client_ip=client_ip, placement_note=note)
    listener = find_listener(dst, port, protocol)
    if listener is None:
        have = ", ".join(f"{l.port}/{l.protocol}" for l in pod_listeners(dst)) or "nothing"
        trace.append(f"{dst.key} ({dst.ip}) does not listen on {protocol}/{port}: the connection is refused (it listens on {have})")
        return Connection("refused", trace, hints + [f"{dst.key} listens on {have}, not {port}/{protocol}"], dst_ip=dst.ip, dst_port=port, client_ip=client_ip)
    trace.append(f"{dst.key} ({dst.ip}) accepts {protocol}/{port} ({listener.why})")
    return Connection(
        "allowed", trace, hints, endpoint=dst.key, dst_ip=dst.ip, dst_port=port, client_ip=client_ip, http=listener.http, netexec=listener.netexec,
        placement_note=note,
    )


def _node_traffic_note(world: World, src: Pod | None, dst: Pod, port: int, protocol: str, allowed: bool) -> str:
    """A note when a hostNetwork end's policy verdict rests on the simulator's placement guess.

    Traffic between a pod and its own node is always allowed by NetworkPolicy, so whether a hostNetwork pod
    (whose address is its node's) gets through can depend on whether the two pods share a node."""
    import dataclasses

    from grader.model.workloads import possible_placements

    if src is None or not (src.host_network or dst.host_network) or not (src.placement_guessed or dst.placement_guessed):
        return ""
    outcomes = possible_placements(world, [src.key, dst.key])
    if not outcomes:
        return ""
    ips = {n.name: n.ip for n in world.nodes}
    verdicts = set()
    for o in outcomes:
        if not o[src.key] or not o[dst.key]:
            continue
        s = dataclasses.replace(src, node=o[src.key], ip=ips[o[src.key]] if src.host_network else src.ip)
        d = dataclasses.replace(dst, node=o[dst.key], ip=ips[o[dst.key]] if dst.host_network else dst.ip)
        if s.host_network:
            verdicts.add(policy.evaluate(world, None, d, port, protocol, src_ip=s.ip).allowed)
        else:
            verdicts.add(policy.evaluate(world, s, d, port, protocol, src_ip=s.ip, dst_ip=d.ip if d.host_network else None).allowed)
    if len(verdicts) < 2:
        return ""
    return (f"this verdict depends on whether {src.key} and {dst.key} share a node (traffic between a pod and its own node is "
            f"always allowed): the manifests leave their nodes to the scheduler, the simulator's guess ({src.node}, {dst.node}) "
            "decides this trace, and a real cluster may place them otherwise")


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
