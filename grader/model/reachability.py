"""Who can reach whom: the NetworkPolicy reachability matrix of a whole cluster, computed per group.

Every cell of the matrix equals `policy.evaluate(world, src, dst, port, protocol).allowed`; this
module only computes them all at once, fast enough for thousands of pods with varied labels.

How (the pods are bits of Python integers; each set below is one integer):
- Each label selector, namespace selector, ipBlock and policy becomes the set of pods it matches,
  built from an inverted index of labels (a selector is an AND of a few sets) and from pods sorted
  by IP (an ipBlock minus its excepts is a few ranges of bits).
- A pod's source signature is which egress policies select it and which ingress-rule peers match
  it; its destination signature is which ingress policies select it, which egress-rule peers match
  it, and its declared ports (named ports resolve per pod). Pods with equal signatures are one
  group: no policy can tell them apart. Selectors only look at the keys they mention and ipBlocks
  only at IPs, so a label no selector mentions (pod-template-hash) or an IP no ipBlock covers
  never splits a group.
- For each destination group and port, the sources allowed form a set of source groups: the
  ingress half is the union of the peers of the rules that admit the port (every source when no
  policy isolates the destination), the egress half the union of the source groups whose egress
  policies admit this destination and port (plus those not isolated for egress); the cell is both.
- Cells a group cannot express are overridden per pod: a pod to itself, and node traffic between a
  hostNetwork pod and the pods on its node (see policy.py's module docstring).

Renderers stream: the text tables, the JSON cells and the per-namespace summary are produced row
by row from the group columns, never as one Python object per cell.
"""

from __future__ import annotations

import gc
import json
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from operator import getitem

from grader.model.objects import Pod, World
from grader.model.policy import EGRESS, INGRESS, MatrixCell, _Context, _ip, _Peer, _Policy, _port_matches, table_header
from grader.model.selectors import matches

_TO_CHARS = str.maketrans("01", "X.")  # a column's bits, as the e2e table prints them
_TO_BITS = bytes.maketrans(b"X.", b"\x00\x01")
_BIT_BYTES = bytes.maketrans(b"01", b"\x00\x01")


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Build many small acyclic objects without the cyclic GC rescanning them as they grow (about 20%)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _signatures(masks: list[int], width: int) -> list[str]:
    """For each bit 0..width-1, a string with '1' at j when masks[j] has that bit (a transposition)."""
    if not masks:
        return [""] * width
    columns = [format(m, f"0{width}b") for m in masks]  # index width-1-b holds bit b
    rows = ["".join(t) for t in zip(*columns)]
    rows.reverse()
    return rows


def _transpose_to_masks(signatures: list[str], count: int) -> list[int]:
    """The inverse of `_signatures`: mask j has bit g when signatures[g][j] == '1'."""
    if not count:
        return []
    return [int("".join(t)[::-1], 2) for t in zip(*signatures)]


def _ones(text: str, start: int, end: int) -> Iterator[int]:
    """Positions of '1' in text[start:end], relative to start."""
    i = text.find("1", start, end)
    while i != -1:
        yield i - start
        i = text.find("1", i + 1, end)


@dataclass
class _DstGroup:
    rep: Pod
    ports: tuple[tuple[int, str], ...]  # distinct (port, protocol) in declaration order
    columns: list[int] = field(default_factory=list)  # per port: the allowed source groups (a mask)
    ingress_policies: list[int] = field(default_factory=list)  # indices into _Index.policies
    egress_slots: list[int] = field(default_factory=list)  # peer sets of egress rules this group is in
    declared: tuple = ()  # (declared ports with names, hostNetwork): what port entries are checked against
    admitting: list[frozenset[int]] = field(default_factory=list)  # per port: the rules whose ports admit it
    # per port: sources the ingress side allows, sources the egress side allows, egress policies admitting it
    halves: list[tuple[int, int, frozenset[int]]] = field(default_factory=list)


@dataclass
class NamespacePair:
    """One line of `grade sim matrix --summary`: cells from pods of `src` to pods of `dst`."""

    src: str
    dst: str
    allowed: int
    total: int
    allowed_by: list[str]  # "ns/name (ingress|egress)": a rule of it allows some of these cells
    blocked_by: list[str]  # "ns/name (ingress|egress)": it isolates pods whose cells here are blocked


class GroupedMatrix:
    """The reachability matrix of `pods` (sources and destinations), kept per group of pods."""

    def __init__(self, world: World, pods: list[Pod]):
        with _no_cyclic_gc():
            self._build(world, pods)

    def _build(self, world: World, pods: list[Pod]) -> None:
        self.pods = pods
        self.enforced = world.cni_enforces_policy
        n = len(pods)
        ctx = _Context(world)
        self.policies: list[_Policy] = ctx.policies

        # bit order: pods sorted by IP, so that an ipBlock is a range of bits
        ip_keys = []
        for i, pod in enumerate(pods):
            ip = _ip(pod.ip)
            ip_keys.append((ip.version, int(ip)) if ip is not None else (99, i))
        order = sorted(range(n), key=ip_keys.__getitem__)
        bit_of = [0] * n
        for b, i in enumerate(order):
            bit_of[i] = b
        self._ip_keys = [ip_keys[i] for i in order]
        everyone = (1 << n) - 1
        host = 0
        ns_mask: dict[str, int] = {}
        key_mask: dict[str, int] = {}
        value_mask: dict[tuple[str, str], int] = {}
        for b, i in enumerate(order):
            pod, bit = pods[i], 1 << b
            ns_mask[pod.namespace] = ns_mask.get(pod.namespace, 0) | bit
            if pod.host_network:
                host |= bit
                continue  # selectors never match hostNetwork pods: their traffic is node traffic
            for k, v in pod.labels.items():
                key_mask[k] = key_mask.get(k, 0) | bit
                value_mask[k, v] = value_mask.get((k, v), 0) | bit
        pod_network = everyone & ~host

        selector_cache: dict[str, int] = {}

        def selector_mask(selector) -> int:
            """Pod-network pods whose labels match (the AND of one set per requirement)."""
            key = json.dumps(selector, sort_keys=True)
            cached = selector_cache.get(key)
            if cached is not None:
                return cached
            m = pod_network
            for k, v in (selector.get("matchLabels") or {}).items():
                m &= value_mask.get((k, v), 0)
            for e in selector.get("matchExpressions") or []:
                k, op = e["key"], e["operator"]
                any_of = 0
                for v in e.get("values") or []:
                    any_of |= value_mask.get((k, v), 0)
                if op == "In":
                    m &= any_of
                elif op == "NotIn":
                    m &= ~any_of
                elif op == "Exists":
                    m &= key_mask.get(k, 0)
                elif op == "DoesNotExist":
                    m &= ~key_mask.get(k, 0)
                else:  # rejected by validation; selects nothing, as in policy.matches
                    m = 0
            selector_cache[key] = m
            return m

        ns_selector_cache: dict[str, int] = {}

        def namespaces_mask(selector) -> int:
            key = json.dumps(selector, sort_keys=True)
            if key not in ns_selector_cache:
                m = 0
                for ns, pods_of_ns in ns_mask.items():
                    if matches(selector, ctx.ns_labels(ns)):
                        m |= pods_of_ns
                ns_selector_cache[key] = m
            return ns_selector_cache[key]

        def range_mask(version: int, low: int, high: int) -> int:
            a = bisect_left(self._ip_keys, (version, low))
            b = bisect_right(self._ip_keys, (version, high))
            return ((1 << (b - a)) - 1) << a

        def peer_mask(peer: _Peer) -> int:
            if peer.kind == "ipblock":
                net = peer.network
                m = range_mask(net.version, int(net.network_address), int(net.broadcast_address))
                for e in peer.excepts:
                    if e.version == net.version:
                        m &= ~range_mask(e.version, int(e.network_address), int(e.broadcast_address))
                return m
            if peer.namespace_selector is None:
                m = ns_mask.get(peer.namespace, 0) & pod_network
            else:
                m = namespaces_mask(peer.namespace_selector) & pod_network
            if peer.pod_selector is not None:
                m &= selector_mask(peer.pod_selector)
            return m

        # rules of both directions, numbered; peers deduplicated by identity
        self._rule_policy: list[int] = []
        self._rule_ports: list = []
        rule_peers: list[list[int] | None] = []
        rules_of: dict[tuple[int, str], list[int]] = {}
        peer_ids: dict[str, int] = {}
        self._peer_masks: list[int] = []
        for pi, p in enumerate(self.policies):
            for direction in (INGRESS, EGRESS):
                ids = rules_of.setdefault((pi, direction), [])
                for rule in p.rules[direction]:
                    ids.append(len(self._rule_policy))
                    self._rule_policy.append(pi)
                    self._rule_ports.append(rule.ports)
                    if rule.peers is None:
                        rule_peers.append(None)
                        continue
                    refs = []
                    for peer in rule.peers:
                        k = peer.key()
                        if k not in peer_ids:
                            peer_ids[k] = len(self._peer_masks)
                            self._peer_masks.append(peer_mask(peer))
                        refs.append(peer_ids[k])
                    rule_peers.append(refs)
        self._rules_of = rules_of
        selected = [
            ns_mask.get(p.namespace, 0) & selector_mask(p.pod_selector) for p in self.policies
        ]
        # a CNI that does not enforce policy: no policy tells pods apart, every column allows everyone
        egress_policies = [pi for pi, p in enumerate(self.policies) if EGRESS in p.types and self.enforced]
        ingress_policies = [pi for pi, p in enumerate(self.policies) if INGRESS in p.types and self.enforced]
        ingress_rules = [r for pi in ingress_policies for r in rules_of[pi, INGRESS]]
        egress_rules = [r for pi in egress_policies for r in rules_of[pi, EGRESS]]

        # --- source groups: egress policies selecting the pod, ingress-rule peers matching it
        src_masks: list[int] = []
        src_slot: dict[int, int] = {}

        def slot(table: dict[int, int], masks: list[int], m: int) -> int:
            if m not in table:
                table[m] = len(masks)
                masks.append(m)
            return table[m]

        egress_policy_slot = {pi: slot(src_slot, src_masks, selected[pi]) for pi in egress_policies}
        ingress_peer_slot = {
            x: slot(src_slot, src_masks, self._peer_masks[x]) for r in ingress_rules for x in (rule_peers[r] or ())
        }
        # groups never span namespaces and are numbered namespace by namespace, so that the sources
        # of one namespace are a range of bits (the summary counts per namespace pair)
        src_sigs = _signatures(src_masks, n)
        groups: dict[tuple[str, str], int] = {}
        first = [groups.setdefault((pods[i].namespace, s), len(groups)) for i, s in zip(order, src_sigs)]
        keys = list(groups)
        renumber = [0] * len(keys)
        for new_id, old_id in enumerate(sorted(range(len(keys)), key=lambda g: keys[g][0])):
            renumber[old_id] = new_id
        self._src_of_bit = [renumber[g] for g in first]
        src_group_sigs = [""] * len(keys)
        self._src_ns_range: dict[str, tuple[int, int]] = {}
        for old_id, (ns, sig) in enumerate(keys):
            g = renumber[old_id]
            src_group_sigs[g] = sig
            lo, hi = self._src_ns_range.get(ns, (g, g + 1))
            self._src_ns_range[ns] = (min(lo, g), max(hi, g + 1))
        self.src_group_count = len(keys)
        group_masks = _transpose_to_masks(src_group_sigs, len(src_masks))
        self._all_src = (1 << len(keys)) - 1
        self._src_selected = {pi: group_masks[egress_policy_slot[pi]] for pi in egress_policies}
        isolated_egress = 0
        for m in self._src_selected.values():
            isolated_egress |= m
        self._egress_isolated = isolated_egress
        self._rule_sources: dict[int, int] = {}  # ingress rule -> source groups its peers match
        for r in ingress_rules:
            if rule_peers[r] is None:
                self._rule_sources[r] = self._all_src
            else:
                m = 0
                for x in rule_peers[r]:
                    m |= group_masks[ingress_peer_slot[x]]
                self._rule_sources[r] = m

        # --- destination groups: ingress policies selecting it, egress-rule peers matching it, ports
        dst_masks: list[int] = []
        dst_slot: dict[int, int] = {}
        ingress_policy_slot = {pi: slot(dst_slot, dst_masks, selected[pi]) for pi in ingress_policies}
        egress_peer_slot = {
            x: slot(dst_slot, dst_masks, self._peer_masks[x]) for r in egress_rules for x in (rule_peers[r] or ())
        }
        slot_policies: dict[int, list[int]] = {}
        for pi, s in ingress_policy_slot.items():
            slot_policies.setdefault(s, []).append(pi)
        slot_rules: dict[int, list[int]] = {}
        always_rules: set[int] = set()
        for r in egress_rules:
            if rule_peers[r] is None:
                always_rules.add(r)
            for x in rule_peers[r] or ():
                slot_rules.setdefault(egress_peer_slot[x], []).append(r)
        dst_sigs = _signatures(dst_masks, n)
        dgroups: dict[tuple, int] = {}
        self.dst_groups: list[_DstGroup] = []
        self._dst_of_bit = []
        n_slots = len(dst_masks)
        for b, sig in enumerate(dst_sigs):
            pod = pods[order[b]]
            declared = tuple((p.port, p.protocol, p.name) for p in pod.ports)
            key = (sig, declared, pod.host_network, pod.namespace)
            g = dgroups.get(key)
            if g is None:
                g = dgroups[key] = len(self.dst_groups)
                group = _DstGroup(pod, tuple(dict.fromkeys((p.port, p.protocol) for p in pod.ports)))
                group.declared = (declared, pod.host_network)
                for s in _ones(sig, 0, n_slots):
                    if s in slot_policies:
                        group.ingress_policies.extend(slot_policies[s])
                    if s in slot_rules:
                        group.egress_slots.append(s)
                self.dst_groups.append(group)
            self._dst_of_bit.append(g)

        # --- the columns: per destination group and port, the source groups allowed
        # Which rules' ports admit a port on a destination depends only on the port and the names that
        # resolve to it there: one "port key" per such combination, numbered.
        port_keys: dict[tuple, int] = {}
        admitting: list[frozenset[int]] = []  # port key -> rules whose ports admit it
        keys_of_declared: dict[tuple, list[int]] = {}
        by_slot: dict[tuple[int, int], frozenset[int]] = {}  # (slot, key) -> egress policies admitting
        always: dict[int, frozenset[int]] = {}  # key -> egress policies with a rule to every peer admitting
        every_rule = range(len(self._rule_ports))
        for group in self.dst_groups:
            rep = group.rep
            keys = keys_of_declared.get(group.declared)
            if keys is None:
                keys = keys_of_declared[group.declared] = []
                for port, proto in group.ports:
                    # a rule's port entry sees the number, and the names that resolve to it on this pod
                    names = tuple(sorted({
                        cp.name for cp in rep.ports
                        if cp.name and cp.protocol == proto and (rep.named_port(cp.name, proto) or cp).port == port
                    }))
                    pk = (port, proto, names, rep.host_network)
                    if pk not in port_keys:
                        port_keys[pk] = len(admitting)
                        admitting.append(frozenset(r for r in every_rule if self._admits(r, port, proto, rep)))
                    keys.append(port_keys[pk])
            own_rules = {r for pi in group.ingress_policies for r in rules_of[pi, INGRESS]}
            for k in keys:
                ok = admitting[k]
                group.admitting.append(ok)
                if group.ingress_policies:
                    ingress = 0
                    for r in own_rules & ok:
                        ingress |= self._rule_sources[r]
                else:
                    ingress = self._all_src
                policies = always.get(k)
                if policies is None:
                    policies = always[k] = frozenset(self._rule_policy[r] for r in always_rules if r in ok)
                parts = []
                for s in group.egress_slots:
                    found = by_slot.get((s, k))
                    if found is None:
                        found = by_slot[s, k] = frozenset(self._rule_policy[r] for r in slot_rules[s] if r in ok)
                    if found:
                        parts.append(found)
                if parts:
                    policies = policies.union(*parts)
                egress = self._all_src & ~self._egress_isolated
                for pi in policies:
                    egress |= self._src_selected[pi]
                group.columns.append(ingress & egress)
                group.halves.append((ingress, egress, policies))

        self.src_of = [self._src_of_bit[bit_of[i]] for i in range(n)]  # pod index -> source group
        self.dst_of = [self._dst_of_bit[bit_of[i]] for i in range(n)]  # pod index -> destination group
        self._always = self._always_allowed_pairs() if self.enforced else {}
        self._column_text: dict[tuple[int, int], str] = {}

    # ----------------------------------------------------------------------------------- basics

    @property
    def src_groups(self) -> range:
        return range(self.src_group_count)

    def _always_allowed_pairs(self) -> dict[int, set[int]]:
        """src index -> dst indices allowed whatever the groups say (a pod to itself; node traffic)."""
        always: dict[int, set[int]] = {i: {i} for i in range(len(self.pods))}
        by_node: dict[str, list[int]] = {}
        for i, p in enumerate(self.pods):
            by_node.setdefault(p.node, []).append(i)
        for i, p in enumerate(self.pods):
            if p.host_network:  # its traffic is its node's: always allowed to and from pods on that node
                for j in by_node[p.node]:
                    always[i].add(j)
                    always[j].add(i)
        return always

    def ports_of(self, di: int) -> tuple[tuple[int, str], ...]:
        """Distinct (containerPort, protocol) of destination pod `di`, in declaration order."""
        return self.dst_groups[self.dst_of[di]].ports

    def allowed(self, si: int, di: int, port: int, protocol: str) -> bool:
        """One cell (pod indices), e.g. for a test; the renderers below never call this per cell."""
        if di in self._always.get(si, ()):
            return True
        g = self.dst_groups[self.dst_of[di]]
        return bool(g.columns[g.ports.index((port, protocol))] >> self.src_of[si] & 1)

    def _column(self, dg: int, pi: int) -> str:
        """Column `pi` of destination group `dg` as '.'/'X' per source group."""
        key = (dg, pi)
        text = self._column_text.get(key)
        if text is None:
            width = self.src_group_count
            text = self._column_text[key] = format(self.dst_groups[dg].columns[pi], f"0{width}b")[::-1].translate(_TO_CHARS) if width else ""
        return text

    def _rows(self, columns: list[tuple[int, int]], sources: list[int]) -> dict[int, str]:
        """Source group -> its row over `columns` ((dst group, port index) each) as '.'/'X'."""
        wanted = {self.src_of[s] for s in sources}
        texts = [self._column(dg, pi) for dg, pi in columns]
        if not texts:
            return {g: "" for g in wanted}
        if len(wanted) * 4 < self.src_group_count:
            return {g: "".join([t[g] for t in texts]) for g in wanted}
        return {g: "".join(t) for g, t in enumerate(zip(*texts)) if g in wanted}

    def _forced(self, si: int, position: dict[int, list[int]]) -> list[int]:
        """Positions in a row of source `si` forced to allowed (itself, node traffic)."""
        out = []
        for di in self._always.get(si, ()):
            out.extend(position.get(di, ()))
        return out

    # ------------------------------------------------------------------------------------ cells

    def cells(self, sources: list[int] | None = None, destinations: list[int] | None = None) -> Iterator[MatrixCell]:
        """Every (source pod, destination pod, destination port) cell, sources in pod order (streamed)."""
        sources, destinations = self._defaults(sources, destinations)
        columns, keys, position = self._all_columns(destinations)
        rows = self._rows(columns, sources)
        for si in sources:
            row = bytearray(rows[self.src_of[si]].encode("ascii"))
            for j in self._forced(si, position):
                row[j] = ord(".")
            src_key = self.pods[si].key
            for (dst_key, port, proto), c in zip(keys, row):
                yield MatrixCell(src_key, dst_key, port, proto, c == 46)

    def to_list(self) -> list[MatrixCell]:
        """All cells as a list (what `matrix()` returns)."""
        with _no_cyclic_gc():
            return list(self.cells())

    def _defaults(self, sources, destinations) -> tuple[list[int], list[int]]:
        everyone = list(range(len(self.pods)))
        return (everyone if sources is None else list(sources)), (everyone if destinations is None else list(destinations))

    def _all_columns(self, destinations: list[int]):
        """Every (destination, port) column in pod order: (dst group, port index), (key, port, proto), pod -> positions."""
        columns, keys = [], []
        position: dict[int, list[int]] = {}
        for di in destinations:
            dg = self.dst_of[di]
            key = self.pods[di].key
            for pi, (port, proto) in enumerate(self.dst_groups[dg].ports):
                position.setdefault(di, []).append(len(columns))
                columns.append((dg, pi))
                keys.append((key, port, proto))
        return columns, keys, position

    def count(self, sources: list[int] | None = None, destinations: list[int] | None = None) -> tuple[int, int]:
        """(allowed cells, all cells), computed from the groups without expanding the matrix."""
        sources, destinations = self._defaults(sources, destinations)
        allowed = total = 0
        for pair in self.summary(sources, destinations, policies=False):
            allowed += pair.allowed
            total += pair.total
        return allowed, total

    # ------------------------------------------------------------------------------------- text

    def ports(self, destinations: list[int]) -> list[tuple[int, str]]:
        """The distinct (port, protocol) of these destinations, sorted."""
        return sorted({q for dg in {self.dst_of[d] for d in destinations} for q in self.dst_groups[dg].ports})

    def text_tables(self, sources: list[int], destinations: list[int]) -> Iterator[str]:
        """The e2e truth table of every port, one text chunk at a time (see `policy.format_matrix`)."""
        for port, proto in self.ports(destinations):
            columns, dests = [], []
            position: dict[int, list[int]] = {}
            for di in destinations:
                ports = self.ports_of(di)
                if (port, proto) in ports:
                    position[di] = [len(columns)]
                    columns.append((self.dst_of[di], ports.index((port, proto))))
                    dests.append(self.pods[di].key)
            rows = self._rows(columns, sources)
            chunk = [table_header(port, proto, dests)]
            for si in sources:
                row = rows[self.src_of[si]]
                forced = self._forced(si, position)
                if forced:
                    cells = bytearray(row.encode("ascii"))
                    for j in forced:
                        cells[j] = ord(".")
                    row = cells.decode("ascii")
                chunk.append(self.pods[si].key + ("\t" + "\t".join(row) if row else ""))
                if len(chunk) >= 64:
                    yield "\n".join(chunk) + "\n"
                    chunk = []
            yield "\n".join(chunk) + "\n\n"

    # ------------------------------------------------------------------------------------- JSON

    def json_cells(self, sources: list[int], destinations: list[int]) -> Iterator[str]:
        """The cells as a JSON array, one object per line, streamed a source row at a time."""
        columns, keys, position = self._all_columns(destinations)
        if not sources or not columns:
            yield "[]\n"
            return
        rows = self._rows(columns, sources)
        choices = []
        for dst_key, port, proto in keys:
            tail = f'"to": {json.dumps(dst_key)}, "port": {port}, "protocol": {json.dumps(proto)}, "allowed": '
            choices.append((tail + "false}", tail + "true}"))
        separator = "[\n"
        for si in sources:
            bits = bytearray(rows[self.src_of[si]].encode("ascii").translate(_TO_BITS))
            for j in self._forced(si, position):
                bits[j] = 1
            prefix = '{"from": ' + json.dumps(self.pods[si].key) + ", "
            yield separator + prefix + (",\n" + prefix).join(map(getitem, choices, bits))
            separator = ",\n"
        yield "\n]\n"

    # ---------------------------------------------------------------------------------- summary

    def summary(self, sources: list[int], destinations: list[int], *, policies: bool = True) -> list[NamespacePair]:
        """Per (source namespace, destination namespace): allowed and all cells, and the policies that decide.

        allowed_by: policies with a rule that allows some of the pair's allowed cells (on a side that
        is isolated); blocked_by: policies isolating pods whose cells in the pair are blocked (on the
        side that blocks). Counts are exact; computed per group, never per cell.
        """
        with _no_cyclic_gc():
            return self._summary(sources, destinations, policies)

    def _summary(self, sources: list[int], destinations: list[int], policies: bool) -> list[NamespacePair]:
        width = self.src_group_count
        size = [0] * width  # source pods of each group among `sources`
        n_src: dict[str, int] = {}
        for si in sources:
            size[self.src_of[si]] += 1
            ns = self.pods[si].namespace
            n_src[ns] = n_src.get(ns, 0) + 1
        present = 0  # groups with a source pod; those with more than one are counted again below
        heavy: list[tuple[int, str, int]] = []  # (group, namespace, extra pods)
        group_ns = {g: ns for ns, (lo, hi) in self._src_ns_range.items() for g in range(lo, hi)} if any(c > 1 for c in size) else {}
        for g, c in enumerate(size):
            if c:
                present |= 1 << g
                if c > 1:
                    heavy.append((g, group_ns[g], c - 1))
        ranges = [(ns, *self._src_ns_range[ns]) for ns in sorted(n_src)]
        n_dst: dict[int, int] = {}  # destination group -> its pods among `destinations`
        ports_to: dict[str, int] = {}  # destination namespace -> its (pod, port) columns
        for di in destinations:
            dg = self.dst_of[di]
            n_dst[dg] = n_dst.get(dg, 0) + 1
            ns = self.pods[di].namespace
            ports_to[ns] = ports_to.get(ns, 0) + len(self.dst_groups[dg].ports)
        allowed: dict[tuple[str, str], int] = {}
        # Cells the groups block but that are always allowed (a pod to itself, node traffic) are added
        # to the counts; a (source group, destination group) whose every pair is such a cell names no
        # policy, as evaluate() names none for them.
        wanted = set(destinations)
        forced_pairs: dict[tuple[int, int], int] = {}
        for si in dict.fromkeys(sources):
            g = self.src_of[si]
            for di in self._always.get(si, ()):
                if di in wanted:
                    dg = self.dst_of[di]
                    forced_pairs[g, dg] = forced_pairs.get((g, dg), 0) + 1
                    blocked = sum(1 for column in self.dst_groups[dg].columns if not column >> g & 1)
                    if blocked:
                        key = (self.pods[si].namespace, self.pods[di].namespace)
                        allowed[key] = allowed.get(key, 0) + blocked
        only_forced: dict[int, int] = {}
        for (g, dg), k in forced_pairs.items():
            if k == size[g] * n_dst[dg]:
                only_forced[dg] = only_forced.get(dg, 0) | (1 << g)
        allow_in: dict[int, int] = {}  # ingress policy -> source groups a rule of it allowed
        block_in: dict[int, int] = {}  # ingress policy -> source groups blocked at its pods
        allow_eg: dict[str, set[int]] = {}  # destination namespace -> egress policies that allowed some cell
        blocked_eg: dict[str, int] = {}  # destination namespace -> source groups blocked by their egress side
        # Allowed cells per namespace pair: the columns of one destination namespace are added up as
        # byte vectors (one byte per source group, so at most 255 columns at a time), then each source
        # namespace's range of groups is summed: per column a few operations in C, not one per group.
        by_ns2: dict[str, list[int]] = {}
        for dg in n_dst:
            by_ns2.setdefault(self.dst_groups[dg].rep.namespace, []).append(dg)

        def add_up(vector: int, ns2: str, times: int = 1) -> None:
            counts = vector.to_bytes(width, "big")  # counts[width-1-g]: columns allowing group g
            for ns1, lo, hi in ranges:
                k = sum(counts[width - hi : width - lo])
                if k:
                    allowed[ns1, ns2] = allowed.get((ns1, ns2), 0) + k * times
            for g, ns1, extra in heavy:
                if counts[width - 1 - g]:
                    allowed[ns1, ns2] = allowed.get((ns1, ns2), 0) + extra * counts[width - 1 - g] * times

        for ns2, dgs in by_ns2.items():
            vector, columns_in = 0, 0
            for dg in dgs:
                group, count = self.dst_groups[dg], n_dst[dg]
                usable = present & ~only_forced.get(dg, 0)
                for pi, column in enumerate(group.columns):
                    if width:
                        one = int.from_bytes(format(column & present, f"0{width}b").encode().translate(_BIT_BYTES), "big")
                        if count > 255:
                            add_up(one, ns2, count)
                        else:
                            if columns_in + count > 255:
                                add_up(vector, ns2)
                                vector, columns_in = 0, 0
                            vector += one * count
                            columns_in += count
                    if policies and self.enforced:
                        self._deciders(group, pi, column, usable, allow_in, block_in, allow_eg.setdefault(ns2, set()), blocked_eg)
            if columns_in:
                add_up(vector, ns2)
        names: dict[tuple[str, str], tuple[set[str], set[str]]] = {}

        def note(ns1: str, ns2: str, which: int, name: str) -> None:
            names.setdefault((ns1, ns2), (set(), set()))[which].add(name)

        def namespaces_in(mask: int) -> Iterator[str]:
            for ns1, lo, hi in ranges:
                if mask >> lo & ((1 << (hi - lo)) - 1):
                    yield ns1

        for p, m in allow_in.items():
            for ns1 in namespaces_in(m):
                note(ns1, self.policies[p].namespace, 0, f"{self.policies[p].key} (ingress)")
        for p, m in block_in.items():
            for ns1 in namespaces_in(m):
                note(ns1, self.policies[p].namespace, 1, f"{self.policies[p].key} (ingress)")
        for ns2, found in allow_eg.items():  # an egress policy selects pods of its own namespace only
            for p in found:
                if self.policies[p].namespace in n_src:
                    note(self.policies[p].namespace, ns2, 0, f"{self.policies[p].key} (egress)")
        for ns2, m in blocked_eg.items():
            for p, selected in self._src_selected.items():
                if self.policies[p].namespace in n_src and selected & m:
                    note(self.policies[p].namespace, ns2, 1, f"{self.policies[p].key} (egress)")
        out = []
        for ns1 in sorted(n_src):
            for ns2 in sorted(ports_to):
                total = n_src[ns1] * ports_to[ns2]
                a = allowed.get((ns1, ns2), 0)
                allowing, blocking = names.get((ns1, ns2), ((), ()))
                out.append(NamespacePair(ns1, ns2, a, total, sorted(allowing) if a else [], sorted(blocking) if a < total else []))
        return out

    def _deciders(self, group: _DstGroup, pi: int, column: int, usable: int, allow_in, block_in, allow_eg: set[int], blocked_eg) -> None:
        """Record which policies allowed or blocked the cells of one column (for the summary).

        `usable`: the source groups whose cells count (present among the sources, not only forced cells).
        """
        ingress, egress, egress_policies = group.halves[pi]
        column &= usable
        if group.ingress_policies:
            ok = group.admitting[pi]
            for p in group.ingress_policies:
                for r in self._rules_of[p, INGRESS]:
                    if r in ok:
                        hit = self._rule_sources[r] & column
                        if hit:
                            allow_in[p] = allow_in.get(p, 0) | hit
            blocked = usable & ~ingress
            if blocked:
                for p in group.ingress_policies:
                    block_in[p] = block_in.get(p, 0) | blocked
        for p in egress_policies - allow_eg:
            if self._src_selected[p] & column:
                allow_eg.add(p)
        blocked = usable & ~egress
        if blocked:
            ns2 = group.rep.namespace
            blocked_eg[ns2] = blocked_eg.get(ns2, 0) | blocked

    def _admits(self, rule: int, port: int, proto: str, dst: Pod) -> bool:
        ports = self._rule_ports[rule]
        return ports is None or any(_port_matches(pp, port, proto, dst) for pp in ports)


# -------------------------------------------------------------------------------- whole matrices


def grouped_matrix(world: World, pods: list[Pod] | None = None) -> GroupedMatrix:
    """The reachability matrix of `pods` (default: every pod) in grouped form (GroupedMatrix)."""
    return GroupedMatrix(world, list(world.pods if pods is None else pods))


def matrix(world: World, pods: list[Pod] | None = None) -> list[MatrixCell]:
    """Every (source pod, destination pod, distinct (containerPort, protocol) of the destination) cell.

    Identical to calling `evaluate` on each pair, but evaluated once per group of pods that no
    policy can tell apart. hostNetwork pods are included as sources and destinations; NetworkPolicy
    does not isolate them (their traffic is node traffic, see the module docstring).
    """
    return grouped_matrix(world, pods).to_list()
