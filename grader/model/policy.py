"""NetworkPolicy (networking.k8s.io/v1): which connections the policies in a World allow.

The model is connection-level: a connection from `src` to `dst` on `port`/`protocol` is allowed when
the source's egress side and the destination's ingress side both allow it. Reply packets of an
allowed connection are always allowed (every implementation tracks connections), so replies are
never evaluated here.

Semantics (kubernetes.io "Network Policies", the API reference, and PLATFORM.md):
- A pod is isolated for a direction once any policy in its namespace that covers that direction
  (policyTypes) selects it (`podSelector: {}` = every pod of the namespace). An isolated pod allows
  only the union of the selecting policies' rules for that direction. Policies only add allowances,
  so their order never matters.
- `policyTypes` omitted: Ingress always, plus Egress when the policy has at least one egress rule.
  Checked in kubernetes `pkg/apis/networking/v1/defaults.go` (SetDefaults_NetworkPolicy): Egress is
  added when `len(spec.Egress) != 0`, so `egress: []` and an absent `egress` both mean Ingress only.
- No rules for a covered direction (`ingress: []` or absent) deny everything; a rule `{}` allows
  everything; `from`/`to` absent or empty = every peer; `ports` absent or empty = every port.
- Peers: `podSelector` alone = pods of the policy's namespace; `namespaceSelector` alone = every pod
  of the matching namespaces; both in one peer = AND; separate list items = OR;
  `namespaceSelector: {}` = every namespace. `ipBlock` (minus `except`) matches IPs, pod IPs included.
- Ports: a number, a number..endPort range (inclusive), or a named port resolved on the destination
  pod of the connection (the selected pod for ingress, the remote pod for egress) by name and
  protocol. A named port never matches a destination that is not a pod. Protocol defaults to TCP.
- Documented exceptions (kubernetes.io): "a pod cannot block access to itself", and "traffic to and
  from the node where a Pod is running is always allowed". Upstream e2e tests ignore loopback cells
  because CNIs differ there; we follow the documentation.
- hostNetwork pods are NOT subject to NetworkPolicy and are not matched by pod/namespace selectors:
  their traffic is node traffic. The docs call the behaviour for hostNetwork pods undefined;
  kube-network-policies (kindnet) and Calico do not isolate them; a selector-based peer does not
  match them, only an `ipBlock` covering their (node) IP does.
- A policy the API server would reject (see `policy_errors`) does not exist in the cluster, so it
  has no effect; the trace says so.
- world.cni_enforces_policy False (Flannel, kindnet failing open): everything is allowed.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from grader.model.objects import NODE_IPS, NODE_NAMES, Pod, Raw, World
from grader.model.names import is_port_name
from grader.model.selectors import SelectorError, describe, matches, validate_selector

INGRESS = "Ingress"
EGRESS = "Egress"
PROTOCOLS = ("TCP", "UDP", "SCTP")
Direction = Literal["Ingress", "Egress"]


# ----------------------------------------------------------------------------------------- results


@dataclass
class DirectionVerdict:
    """One side of a connection: egress of the source or ingress of the destination."""

    isolated: bool = False
    allowed: bool = True
    selecting: list[str] = field(default_factory=list)  # "ns/name" of policies selecting the pod
    allowing: list[str] = field(default_factory=list)  # "ns/name" of policies with a rule that allows it


@dataclass
class PolicyVerdict:
    """Whether NetworkPolicy allows a connection, per direction, with the reasons as human lines."""

    allowed: bool
    egress: DirectionVerdict
    ingress: DirectionVerdict
    trace: list[str]


@dataclass(slots=True)
class MatrixCell:
    """One cell of a reachability table: src and dst are "ns/pod"."""

    src: str
    dst: str
    port: int
    protocol: str
    allowed: bool


# ------------------------------------------------------------------------------ policy compilation


@dataclass(frozen=True)
class _Port:
    protocol: str
    port: int | str | None  # None: every port of the protocol; str: a named port
    end_port: int | None = None

    def describe(self) -> str:
        if self.port is None:
            return f"{self.protocol}/any"
        if self.end_port is not None:
            return f"{self.protocol}/{self.port}-{self.end_port}"
        return f"{self.protocol}/{self.port}"


@dataclass(frozen=True)
class _Peer:
    """A peer of one rule. `pods` peers match pods by labels; `ipblock` peers match IPs."""

    kind: str  # "pods" | "ipblock"
    namespace: str | None = None  # the policy's namespace when no namespaceSelector is given
    namespace_selector: Mapping[str, Any] | None = None
    pod_selector: Mapping[str, Any] | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    excepts: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    def key(self) -> str:
        """A canonical identity, so equal peers of different policies are matched once."""
        return json.dumps(
            [
                self.kind,
                self.namespace,
                self.namespace_selector,
                self.pod_selector,
                str(self.network),
                [str(e) for e in self.excepts],
            ],
            sort_keys=True,
        )

    def describe(self) -> str:
        if self.kind == "ipblock":
            text = f"ipBlock {self.network}"
            return text + (f" except {', '.join(map(str, self.excepts))}" if self.excepts else "")
        ns = f"namespace {self.namespace}" if self.namespace_selector is None else (
            f"namespaces [{describe(self.namespace_selector)}]"
        )
        pods = "all pods" if self.pod_selector is None else f"pods [{describe(self.pod_selector)}]"
        return f"{pods} in {ns}"


@dataclass
class _Rule:
    index: int  # 1-based, as a learner counts rules in the file
    peers: list[_Peer] | None  # None: every peer
    ports: list[_Port] | None  # None: every port


@dataclass
class _Policy:
    raw: Raw
    key: str
    namespace: str
    pod_selector: Mapping[str, Any]
    types: frozenset[str]
    rules: dict[str, list[_Rule]]  # direction -> rules (empty: deny all)
    ignored_rules: dict[str, int]  # direction -> rules written but left out by policyTypes


def policy_types(policy: Raw) -> set[str]:
    """The directions a policy covers, with the API server's defaulting applied.

    Explicit non-empty `policyTypes` wins. Otherwise Ingress, plus Egress when `spec.egress` has at
    least one rule (kubernetes pkg/apis/networking/v1/defaults.go checks `len(spec.Egress) != 0`, so
    `egress: []` does not add Egress).
    """
    spec = policy.spec
    declared = spec.get("policyTypes") or []
    if declared:
        return {t for t in declared if t in (INGRESS, EGRESS)}
    return {INGRESS, EGRESS} if spec.get("egress") else {INGRESS}


def _parse_network(text: Any) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    # strict=False: host bits are masked off (10.0.0.1/24 means 10.0.0.0/24), as Go's net.ParseCIDR does.
    return ipaddress.ip_network(str(text), strict=False)


Path = tuple  # a field path such as ("spec", "ingress", 0, "from", 1): the loader maps it to a line


def dotted(path: Path) -> str:
    """("spec", "ingress", 0, "from") -> "spec.ingress[0].from"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def policy_errors(policy: Raw) -> list[str]:
    """Why the API server would reject this NetworkPolicy (empty when it is valid).

    Each message names the field, e.g. "spec.ingress[0].from[1]: ...". A rejected policy does not
    exist in the cluster, so `evaluate` and `matrix` ignore it.
    """
    return [f"{dotted(path)}: {message}" for path, message in policy_problems(policy.obj)]


def policy_problems(obj: Mapping[str, Any]) -> list[tuple[Path, str]]:
    """(field path, message) for every rule of NetworkPolicy validation this object breaks.

    The single definition of what the API server rejects: the loader reports these at file:line,
    the engine ignores a policy that has any.
    """
    spec = obj.get("spec") or {}
    if not isinstance(spec, Mapping):
        return [(("spec",), "spec must be a mapping")]
    problems: list[tuple[Path, str]] = []

    def check_selector(path: Path, sel: Any) -> None:
        try:
            validate_selector(sel)
        except SelectorError as e:
            problems.append((path, str(e)))

    check_selector(("spec", "podSelector"), spec.get("podSelector"))
    types = spec.get("policyTypes")
    if isinstance(types, list):
        for i, t in enumerate(types):
            if t not in (INGRESS, EGRESS):
                problems.append((("spec", "policyTypes", i), f"unsupported value {t!r}; use Ingress and/or Egress (case-sensitive)"))
    for section, peer_field in (("ingress", "from"), ("egress", "to")):
        rules = spec.get(section)
        if rules is None:
            continue
        if not isinstance(rules, list):
            problems.append((("spec", section), "must be a list of rules (start each rule with '- ')"))
            continue
        for ri, rule in enumerate(rules):
            base: Path = ("spec", section, ri)
            if rule is None:
                continue
            if not isinstance(rule, Mapping):
                problems.append((base, f"must be a mapping with {peer_field}: and/or ports:"))
                continue
            for pi, peer in enumerate(rule.get(peer_field) or []):
                problems.extend(_peer_problems(base + (peer_field, pi), peer, check_selector))
            for pi, port in enumerate(rule.get("ports") or []):
                problems.extend(_port_problems(base + ("ports", pi), port))
    return problems


def _peer_problems(path: Path, peer: Any, check_selector: Any) -> list[tuple[Path, str]]:
    if not isinstance(peer, Mapping):
        return [(path, "must be a mapping with podSelector:, namespaceSelector: or ipBlock:")]
    out: list[tuple[Path, str]] = []
    has_selector = "podSelector" in peer or "namespaceSelector" in peer
    if "ipBlock" in peer and has_selector:
        out.append((path, "a peer with ipBlock cannot also have podSelector or namespaceSelector (ipBlock cannot be combined "
                          "with them in one peer); make them two list items (each starting with '- ') if you meant OR"))
    if "ipBlock" not in peer and not has_selector:
        return [(path, "a peer must specify podSelector, namespaceSelector or ipBlock (an empty peer is rejected)")]
    if "ipBlock" in peer:
        block = peer["ipBlock"] or {}
        try:
            net = _parse_network(block.get("cidr"))
        except ValueError:
            return out + [(path + ("ipBlock", "cidr"), f"{block.get('cidr')!r} is not a CIDR; write it like 10.0.0.0/16")]
        for ei, exc in enumerate(block.get("except") or []):
            where = path + ("ipBlock", "except", ei)
            try:
                enet = _parse_network(exc)
            except ValueError:
                out.append((where, f"{exc!r} is not a CIDR; write it like 10.0.1.0/24"))
                continue
            if enet.version != net.version or not enet.subnet_of(net):
                out.append((where, f"except {exc} is not inside cidr {net}: each except must be a strict subset of the cidr"))
            elif enet == net:
                out.append((where, f"except {exc} is the whole cidr {net}: each except must be a strict subset (smaller)"))
    for key in ("podSelector", "namespaceSelector"):
        check_selector(path + (key,), peer.get(key))
    return out


def _port_problems(path: Path, port: Any) -> list[tuple[Path, str]]:
    if not isinstance(port, Mapping):
        return [(path, "must be a mapping with port:, protocol: and optionally endPort:")]
    out: list[tuple[Path, str]] = []
    proto = port.get("protocol", "TCP")
    if proto not in PROTOCOLS:
        out.append((path + ("protocol",), f"{proto!r} is not one of TCP, UDP, SCTP (upper case)"))
    value, end = port.get("port"), port.get("endPort")
    if isinstance(value, bool):
        out.append((path + ("port",), "must be a number or a port name"))
    elif isinstance(value, int):
        if not 1 <= value <= 65535:
            out.append((path + ("port",), f"{value} is outside 1-65535"))
    elif isinstance(value, str):
        if not is_port_name(value):
            out.append((path + ("port",), f"{value!r} is not a valid port name (lower case letters, digits, '-', at most "
                                          "15 characters, at least one letter); write a number without quotes"))
    elif value is not None:
        out.append((path + ("port",), "must be a number or a port name"))
    if end is not None:
        where = path + ("endPort",)
        if value is None:
            out.append((where, "endPort needs port: (the start of the range)"))
        elif isinstance(value, str):
            out.append((where, f"endPort needs a numeric port: it cannot be used with a named port ({value!r}); set port: to the first number of the range"))
        elif not isinstance(end, int) or isinstance(end, bool) or not 1 <= end <= 65535:
            out.append((where, "endPort must be a number in 1-65535"))
        elif isinstance(value, int) and end < value:
            out.append((where, f"endPort {end} is smaller than port {value}: endPort is the last port of the range"))
    return out


def _compile(policy: Raw) -> _Policy:
    """Parse a valid policy (callers check `policy_errors` first)."""
    spec = policy.spec
    ns = policy.namespace or "default"
    types = frozenset(policy_types(policy))
    rules: dict[str, list[_Rule]] = {INGRESS: [], EGRESS: []}
    ignored: dict[str, int] = {INGRESS: 0, EGRESS: 0}
    for direction, section, peer_field in ((INGRESS, "ingress", "from"), (EGRESS, "egress", "to")):
        written = spec.get(section) or []
        if direction not in types:
            ignored[direction] = len(written)
            continue
        for i, rule in enumerate(written, start=1):
            rule = rule or {}
            peers = [_compile_peer(p, ns) for p in rule.get(peer_field) or []] or None
            ports = [_compile_port(p) for p in rule.get("ports") or []] or None
            rules[direction].append(_Rule(i, peers, ports))
    return _Policy(
        raw=policy,
        key=f"{ns}/{policy.name}",
        namespace=ns,
        pod_selector=spec.get("podSelector") or {},
        types=types,
        rules=rules,
        ignored_rules=ignored,
    )


def _compile_peer(peer: Mapping[str, Any], policy_ns: str) -> _Peer:
    if "ipBlock" in peer:
        block = peer["ipBlock"]
        return _Peer(
            kind="ipblock",
            network=_parse_network(block["cidr"]),
            excepts=tuple(_parse_network(e) for e in block.get("except") or []),
        )
    ns_sel = peer.get("namespaceSelector")
    pod_sel = peer.get("podSelector")
    return _Peer(
        kind="pods",
        namespace=policy_ns if ns_sel is None else None,
        namespace_selector=None if ns_sel is None else (ns_sel or {}),
        pod_selector=None if pod_sel is None else (pod_sel or {}),
    )


def _compile_port(port: Mapping[str, Any]) -> _Port:
    return _Port(protocol=port.get("protocol") or "TCP", port=port.get("port"), end_port=port.get("endPort"))


# ----------------------------------------------------------------------------------- the world view


class _Context:
    """What evaluation needs from a World: valid compiled policies per namespace, node IPs."""

    def __init__(self, world: World):
        self.world = world
        self.invalid: dict[str, list[tuple[str, list[str]]]] = {}  # namespace -> [(key, errors)]
        self.by_namespace: dict[str, list[_Policy]] = {}
        self.policies: list[_Policy] = []
        for raw in world.policies:
            errors = policy_errors(raw)
            ns = raw.namespace or "default"
            if errors:
                self.invalid.setdefault(ns, []).append((f"{ns}/{raw.name}", errors))
                continue
            compiled = _compile(raw)
            self.policies.append(compiled)
            self.by_namespace.setdefault(ns, []).append(compiled)
        nodes = world.nodes or []
        self.node_ip = {n.name: n.ip for n in nodes} or dict(zip(NODE_NAMES, NODE_IPS))
        self.ns_labels_cache: dict[str, dict[str, str]] = {}

    def ns_labels(self, ns: str) -> dict[str, str]:
        labels = self.ns_labels_cache.get(ns)
        if labels is None:
            labels = self.ns_labels_cache[ns] = self.world.namespace_labels(ns)
        return labels

    def selecting(self, pod: Pod, direction: str) -> list[_Policy]:
        if pod.host_network:
            return []
        return [
            p
            for p in self.by_namespace.get(pod.namespace, [])
            if direction in p.types and matches(p.pod_selector, pod.labels)
        ]


def _ip(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not text:
        return None
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def _in_block(peer: _Peer, ip: ipaddress.IPv4Address | ipaddress.IPv6Address | None) -> bool:
    if ip is None or peer.network is None or ip.version != peer.network.version:
        return False
    return ip in peer.network and not any(ip in e for e in peer.excepts)


def _peer_matches_pod_labels(ctx: _Context, peer: _Peer, pod: Pod) -> bool:
    """A `pods` peer against a pod-network pod (hostNetwork pods never match: they are node traffic)."""
    if pod.host_network:
        return False
    if peer.namespace_selector is None:
        if pod.namespace != peer.namespace:
            return False
    elif not matches(peer.namespace_selector, ctx.ns_labels(pod.namespace)):
        return False
    return peer.pod_selector is None or matches(peer.pod_selector, pod.labels)


def _peer_matches(ctx: _Context, peer: _Peer, pod: Pod | None, ip) -> bool:
    if peer.kind == "ipblock":
        return _in_block(peer, ip)
    return pod is not None and _peer_matches_pod_labels(ctx, peer, pod)


def _port_matches(p: _Port, port: int, protocol: str, dst: Pod | None) -> bool:
    """Whether a rule's port entry covers `protocol`/`port` on the connection's destination pod."""
    if p.protocol != protocol:
        return False
    if p.port is None:
        return True
    if isinstance(p.port, str):  # a named port: resolved on the destination pod, by name and protocol
        if dst is None or dst.host_network:
            return False
        cp = dst.named_port(p.port, protocol)
        return cp is not None and cp.port == port
    return p.port <= port <= (p.end_port if p.end_port is not None else p.port)


# ------------------------------------------------------------------------------------- evaluation


def selecting_policies(world: World, pod: Pod, direction: Direction) -> list[Raw]:
    """The valid policies in the pod's namespace that select it for `direction` ("Ingress"/"Egress").

    hostNetwork pods are never selected (their traffic is node traffic; see the module docstring).
    """
    return [p.raw for p in _Context(world).selecting(pod, direction)]


def _describe_end(pod: Pod | None, ip: str | None) -> str:
    if pod is not None:
        return f"{pod.key} (hostNetwork, node traffic)" if pod.host_network else pod.key
    return f"{ip or 'an unknown address'} (not a pod)"


def _same_node_traffic(ctx: _Context, pod: Pod, other: Pod | None, other_ip: str | None) -> bool:
    """Whether `other` is the node `pod` runs on (a hostNetwork pod there, or the node's IP)."""
    if other is not None:
        return other.host_network and other.node == pod.node
    return other_ip is not None and ctx.node_ip.get(pod.node) == other_ip


def _direction(
    ctx: _Context,
    direction: str,
    pod: Pod | None,
    remote: Pod | None,
    remote_ip: str | None,
    dst: Pod | None,
    port: int,
    protocol: str,
    trace: list[str],
) -> DirectionVerdict:
    """Egress of `pod` towards `remote`, or ingress of `pod` from `remote`."""
    word = "to" if direction == EGRESS else "from"
    what = f"{protocol}/{port}"
    verdict = DirectionVerdict()
    if pod is None:
        return verdict  # not a pod: no policy applies on this side
    if pod.host_network:
        trace.append(f"{pod.key} uses hostNetwork: NetworkPolicy does not apply to it ({direction} not isolated)")
        return verdict
    for key, errors in ctx.invalid.get(pod.namespace, []):
        trace.append(f"NetworkPolicy {key} would be rejected by the API server ({errors[0]}); it has no effect")
    for p in ctx.by_namespace.get(pod.namespace, []):
        if direction not in p.types and p.ignored_rules[direction] and matches(p.pod_selector, pod.labels):
            trace.append(
                f"NetworkPolicy {p.key} has {direction.lower()} rules but its policyTypes "
                f"{sorted(p.types)} leave out {direction}: those rules are ignored"
            )
    selecting = ctx.selecting(pod, direction)
    remote_text = _describe_end(remote, remote_ip)
    if not selecting:
        trace.append(f"no NetworkPolicy selects {pod.key} for {direction}: {direction.lower()} is not isolated")
        return verdict
    verdict.isolated = True
    verdict.selecting = [p.key for p in selecting]
    if _same_node_traffic(ctx, pod, remote, remote_ip):
        trace.append(
            f"{remote_text} is the node {pod.key} runs on: traffic {word} a pod's own node is always allowed"
        )
        return verdict
    ip = _ip(remote.ip if remote is not None else remote_ip)
    for p in selecting:
        allowing_rule = None
        for rule in p.rules[direction]:
            if rule.peers is not None and not any(_peer_matches(ctx, peer, remote, ip) for peer in rule.peers):
                continue
            if rule.ports is not None and not any(_port_matches(pp, port, protocol, dst) for pp in rule.ports):
                continue
            allowing_rule = rule
            break
        if allowing_rule is None:
            if p.rules[direction]:
                why = f"no rule allows {remote_text} on {what}"
            else:
                why = f"it has no {direction.lower()} rules (deny all), so {remote_text} on {what} is not allowed"
            trace.append(f"NetworkPolicy {p.key} selects {pod.key} for {direction}; {why}")
            trace += _own_namespace_notes(ctx, p, direction, remote)
        else:
            verdict.allowing.append(p.key)
            peers = "any peer" if allowing_rule.peers is None else " or ".join(x.describe() for x in allowing_rule.peers)
            ports = "any port" if allowing_rule.ports is None else ", ".join(x.describe() for x in allowing_rule.ports)
            trace.append(
                f"NetworkPolicy {p.key} selects {pod.key} for {direction}; its {direction.lower()} rule "
                f"{allowing_rule.index} ({peers}; {ports}) allows {remote_text} on {what}"
            )
    verdict.allowed = bool(verdict.allowing)
    if not verdict.allowed:
        names = ", ".join(verdict.selecting)
        theirs = "its" if len(verdict.selecting) == 1 else "their"
        trace.append(
            f"{direction} {word} {remote_text} on {what} is BLOCKED for {pod.key}: it is isolated by {names} "
            f"and none of {theirs} {direction.lower()} rules allows it"
        )
    elif len(verdict.selecting) > len(verdict.allowing):
        # Say who decides: a deny-all beside an allowing policy reads like a contradiction otherwise.
        trace.append(
            f"{direction} {word} {remote_text} on {what} is ALLOWED for {pod.key}: policies only add allowances, "
            f"and {', '.join(verdict.allowing)} allows it"
        )
    return verdict


def _own_namespace_notes(ctx: _Context, p: _Policy, direction: str, remote: Pod | None) -> list[str]:
    """A podSelector-only peer whose labels the remote pod has, but in another namespace: say why it does not count."""
    if remote is None or remote.host_network:
        return []
    notes = []
    for rule in p.rules[direction]:
        for peer in rule.peers or []:
            if (peer.kind == "pods" and peer.namespace_selector is None and peer.namespace != remote.namespace
                    and peer.pod_selector is not None and matches(peer.pod_selector, remote.labels)):
                notes.append(
                    f"  its {direction.lower()} rule {rule.index} peer `podSelector: {describe(peer.pod_selector)}` has no "
                    f"namespaceSelector, so it selects pods of the policy's own namespace {peer.namespace} only: "
                    f"{remote.key} has those labels but is in namespace {remote.namespace}"
                )
    return notes


def evaluate(
    world: World,
    src: Pod | None,
    dst: Pod | None,
    port: int,
    protocol: str = "TCP",
    *,
    src_ip: str | None = None,
    dst_ip: str | None = None,
) -> PolicyVerdict:
    """Whether NetworkPolicy allows a connection from `src` to `dst` on `port`/`protocol`.

    `src` None: traffic from outside the pod network (give `src_ip`: a node IP, an external client);
    `dst` None: to a non-pod IP (give `dst_ip`); only the pod side's policies apply then. `port` is
    the destination pod's port after Service translation; named ports are resolved on `dst`.
    The trace names every policy involved and the rule that allowed the connection.
    """
    protocol = protocol.upper()
    trace: list[str] = []
    if not world.cni_enforces_policy:
        trace.append(
            "the cluster's CNI does not enforce NetworkPolicy (e.g. Flannel, or kindnet failing open): "
            "the API accepts the policies but they have no effect; allowed"
        )
        return PolicyVerdict(True, DirectionVerdict(), DirectionVerdict(), trace)
    if src is not None and dst is not None and src.key == dst.key:
        trace.append(f"{src.key} connects to itself: a pod cannot block access to itself; allowed")
        return PolicyVerdict(True, DirectionVerdict(), DirectionVerdict(), trace)
    ctx = _Context(world)
    egress = _direction(ctx, EGRESS, src, dst, dst_ip, dst, port, protocol, trace)
    ingress = _direction(ctx, INGRESS, dst, src, src_ip, dst, port, protocol, trace)
    allowed = egress.allowed and ingress.allowed
    return PolicyVerdict(allowed, egress, ingress, trace)


# -------------------------------------------------------------------------------- whole matrices


def table_header(port: int, protocol: str, destinations: list[str]) -> str:
    """The first two lines of the upstream e2e truth table of one port."""
    return f"{protocol}/{port}  (rows: from, columns: to; . allowed, X blocked)\n" + "\t".join(["-", *destinations])


def format_matrix(cells: list[MatrixCell], port: int, protocol: str = "TCP") -> str:
    """The upstream e2e truth table for one port: rows = from, columns = to, `.` allowed, `X` blocked.

    Columns are the destinations that declare this port (others have no cell for it, so a column of
    blanks would only be noise); a missing cell inside the table shows ` `.
    """
    protocol = protocol.upper()
    sources: dict[str, None] = {}
    dests: dict[str, None] = {}
    value: dict[tuple[str, str], bool] = {}
    for c in cells:
        sources.setdefault(c.src, None)
        if c.port == port and c.protocol == protocol:
            dests.setdefault(c.dst, None)
            value[c.src, c.dst] = c.allowed
    dest_list = list(dests)
    lines = [table_header(port, protocol, dest_list)]
    for s in sources:
        row = [s]
        for d in dest_list:
            v = value.get((s, d))
            row.append(" " if v is None else ("." if v else "X"))
        lines.append("\t".join(row))
    return "\n".join(lines)
