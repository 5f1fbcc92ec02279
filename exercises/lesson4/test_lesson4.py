"""Lesson 4: NetworkPolicies."""

from __future__ import annotations

from grader.model.policy import policy_types
from grader.model.selectors import describe, matches

# Expected reachability tables, written as `grade` prints them: rows are source pods, columns are
# destination pods (a name without "ns/" is in lesson4), `.` = the connection must succeed,
# `X` = it must be blocked.

ALLOW_SPECIFIC_TRAFFIC = """
                          my-app
    trusted                 .
    untrusted               X
    lesson4-other/trusted   X
    monitoring/prometheus   X
"""

DEFAULT_DENY_INGRESS = """
                            db   cache
    trusted                 X    X
    untrusted               X    X
    monitoring/prometheus   X    X
    lesson4-other/other     X    X
"""

EGRESS_CLIENT = """
                    lesson4-other/web   lesson4-other/other   monitoring/web
    egress-client   .                   X                     X
"""

EGRESS_DNS_ELSEWHERE = {  # protocol -> table, port 53: fake-dns listens on 53 and has kube-dns's label, outside kube-system
    "UDP": """
                    lesson4-other/fake-dns
    egress-client   X
""",
    "TCP": """
                    lesson4-other/fake-dns
    egress-client   X
""",
}

FROM_MONITORING = """
                            metrics
    monitoring/prometheus   .
    monitoring/grafana      .
    untrusted               X
    lesson4-other/other     X
"""

AND_PEER = """
                               api
    monitoring/prometheus      .
    monitoring/grafana         X
    local-prometheus           X
    lesson4-other/prometheus   X
    untrusted                  X
"""

OR_PEERS = """
                               reports
    monitoring/prometheus      .
    monitoring/grafana         .
    local-prometheus           .
    untrusted                  X
    lesson4-other/other        X
    lesson4-other/prometheus   X
"""

IPBLOCK_EXCEPT = """
                            legacy
    node-agent              .
    trusted                 X
    monitoring/prometheus   X
"""

PORT_RANGE = {  # port -> table
    9000: """
                            range-server
    trusted                 .
    untrusted               .
    monitoring/prometheus   X
    lesson4-other/other     X
""",
    9002: """
                            range-server
    trusted                 .
    untrusted               .
    monitoring/prometheus   X
    lesson4-other/other     X
""",
    9003: """
                            range-server
    trusted                 X
    untrusted               X
    monitoring/prometheus   X
    lesson4-other/other     X
""",
}


def test_allow_specific_traffic(lab):
    """Only pods labelled app: trusted-app in lesson4 reach the pod labelled app: my-app on TCP 8080 (policy allow-specific-traffic)."""
    _check_table(lab, ALLOW_SPECIFIC_TRAFFIC, 8080, "only app=trusted-app pods of lesson4 reach my-app", target_labels={"app": "my-app"},
                 peer_namespace=None)


def test_default_deny_ingress(lab):
    """Namespace lesson4 denies all ingress by default: no pod reaches db or cache, which no other policy opens."""
    hints = []
    if not any(_is_default_deny_ingress(p) for p in _policies(lab, lab.ns())):
        for pol in _policies(lab, lab.ns()):
            sel = pol.spec.get("podSelector")
            if sel and "Ingress" in policy_types(pol) and not pol.spec.get("ingress"):
                hints.append(
                    f"NetworkPolicy {pol.key} selects only {describe(sel)}: use `podSelector: {{}}` to select every pod "
                    "of the namespace"
                )
        hints.append(
            "a namespace-wide default deny is one NetworkPolicy with `podSelector: {}` (every pod of the namespace), "
            "`policyTypes: [Ingress]` and no ingress rules"
        )
    _check_table(lab, DEFAULT_DENY_INGRESS, 8080, "nobody reaches db or cache", hints=hints, target_labels={"app": "db"})


def test_default_deny_egress_keeps_dns(lab):
    """egress-client may send only DNS (UDP and TCP 53 to the kube-dns pods) and TCP 8080 to lesson4-other/web: it resolves names, connects to web, and nothing else."""
    other = lab.ns("lesson4-other")
    egress_hints = _egress_hints(lab, {"app": "egress-client"})
    dns_rule_hint = (
        "allow egress to the kube-dns pods: namespaceSelector kubernetes.io/metadata.name: kube-system with "
        "podSelector k8s-app: kube-dns, on port 53 for both UDP and TCP"
    )
    name = f"web.{other}.svc.cluster.local"
    r = lab.resolve("egress-client", name)
    lab.expect(r, True, f"egress-client resolves {name} (DNS must keep working under the egress policy)", hints=egress_hints + [dns_rule_hint])
    # DNS falls back to TCP for answers too big for UDP: a real TCP connection to CoreDNS through its Service.
    kube_dns = f"kube-dns.{lab.ns('kube-system')}.svc.cluster.local"
    r = lab.connect("egress-client", kube_dns, 53, "TCP")
    lab.expect(r, True, f"egress-client connects to {kube_dns} on TCP 53 (DNS over TCP)", hints=egress_hints + _dns_tcp_hints(lab) + _dns_anywhere_hints(lab) + [dns_rule_hint])
    r = lab.connect("egress-client", f"web.{other}", 8080)
    lab.expect(r, True, f"egress-client connects to the Service web.{other} on 8080", hints=egress_hints)
    _check_table(lab, EGRESS_CLIENT, 8080, "egress-client reaches lesson4-other/web and nothing else", hints=egress_hints + _egress_peer_hints(lab))
    for protocol, table in EGRESS_DNS_ELSEWHERE.items():
        _check_table(lab, table, 53, f"egress-client sends port 53 ({protocol}) to kube-dns only, not to another server on 53",
                     hints=egress_hints + _dns_anywhere_hints(lab) + _egress_peer_hints(lab), protocol=protocol)


def test_allow_from_monitoring(lab):
    """Every pod of the monitoring namespace reaches metrics on TCP 8080; pods of other namespaces do not (a namespaceSelector)."""
    _check_table(lab, FROM_MONITORING, 8080, "the monitoring namespace, and only it, reaches metrics", target_labels={"app": "metrics"})


def test_and_peer(lab):
    """Only pods labelled app: prometheus IN the monitoring namespace reach api on 8080 (one peer: namespaceSelector AND podSelector)."""
    hints = []
    for pol, rule in _ingress_rules(lab, {"app": "api"}):
        peers = rule.get("from") or []
        ns_only = any("namespaceSelector" in p and "podSelector" not in p for p in peers)
        pod_only = any("podSelector" in p and "namespaceSelector" not in p for p in peers)
        if ns_only and pod_only:
            hints.append(
                f"NetworkPolicy {pol.key} lists namespaceSelector and podSelector as two items under `from:` "
                "(two `-` dashes): that is OR. Put both keys in ONE item (one dash) for AND"
            )
    _check_table(lab, AND_PEER, 8080, "only monitoring's prometheus reaches api", hints=hints, target_labels={"app": "api"})


def test_or_peers(lab):
    """Pods of the monitoring namespace, OR pods labelled app: prometheus in lesson4, reach reports on 8080 (two peers)."""
    hints = []
    for pol, p in _ingress_peers(lab, {"app": "reports"}):
        if p.get("namespaceSelector") and "podSelector" in p:  # `namespaceSelector: {}` has its own hint (_peer_hints)
            hints.append(
                f"NetworkPolicy {pol.key} has one `from:` item with both namespaceSelector and podSelector: "
                "that is AND (prometheus pods of monitoring only). Use two items (two dashes) for OR"
            )
    _check_table(lab, OR_PEERS, 8080, "monitoring, or lesson4's prometheus, reaches reports", hints=hints, target_labels={"app": "reports"},
                 pod_peers_own_namespace=True)


def test_ipblock_except(lab):
    """legacy accepts TCP 8080 from any address except the pod network 10.244.0.0/16: node-agent (hostNetwork) gets in, pods do not."""
    hints = []
    for pol, p in _ingress_peers(lab, {"app": "legacy"}):
        block = p.get("ipBlock")
        if block and _inside_pod_network(block.get("cidr")):
            hints.append(
                f"NetworkPolicy {pol.key}: ipBlock {block.get('cidr')} is the pod network itself: an ipBlock allows the addresses "
                "it names, so pods get in and the node does not; use cidr: 0.0.0.0/0 with except: [10.244.0.0/16]"
            )
        elif block and not block.get("except"):
            hints.append(
                f"NetworkPolicy {pol.key}: ipBlock {block.get('cidr')} has no `except:`, so it also covers pod IPs; "
                "add `except: [10.244.0.0/16]`"
            )
        if p.get("podSelector") is not None or p.get("namespaceSelector") is not None:
            hints.append(
                f"NetworkPolicy {pol.key} also allows pods by selector; a selector never matches a hostNetwork pod, "
                "whose traffic comes from the node's IP: use only an ipBlock here"
            )
    _check_table(lab, IPBLOCK_EXCEPT, 8080, "only non-pod addresses reach legacy", hints=hints, target_labels={"app": "legacy"})


def test_port_range(lab):
    """Pods of lesson4 reach range-server on TCP ports 9000 to 9002 (one port entry with endPort), but not on 9003; other namespaces reach none."""
    hints = []
    for pol, rule in _ingress_rules(lab, {"app": "range-server"}):
        for port in rule.get("ports") or []:
            if port.get("endPort") is not None and port.get("endPort") != 9002:
                hints.append(f"NetworkPolicy {pol.key}: endPort is inclusive; 9000 to 9002 is `port: 9000, endPort: 9002`")
    for port, table in PORT_RANGE.items():
        _check_table(lab, table, port, f"lesson4 pods reach range-server on {port}" if port <= 9002 else "port 9003 stays closed", hints=hints, target_labels={"app": "range-server"},
                     peer_namespace=None)


# -------------------------------------------------------------------------------------- helpers


def _parse_table(text: str) -> tuple[list[str], list[str], dict[tuple[str, str], bool]]:
    """Turn one of the literal tables above into (sources, targets, expected)."""
    rows = [line.split() for line in text.strip("\n").splitlines() if line.strip()]
    targets, sources, expected = rows[0], [], {}
    for row in rows[1:]:
        src, marks = row[0], row[1:]
        if len(marks) != len(targets) or any(m not in (".", "X") for m in marks):
            raise ValueError(f"malformed expected table row {row!r}")  # a bug of ours, not the learner's
        sources.append(src)
        for tgt, mark in zip(targets, marks):
            expected[(src, tgt)] = mark == "."
    return sources, targets, expected


def _check_table(lab, text: str, port: int, what: str, *, hints=(), target_labels: dict[str, str] | None = None,
                 protocol: str = "TCP", peer_namespace: str | None = "monitoring", pod_peers_own_namespace: bool = False) -> None:
    """Probe the table; on a difference fail with it, plus the recognised mistakes of the target's policies.

    `peer_namespace`: the namespace the task's namespaceSelector should match (None: the task's peers are
    pods of the policy's own namespace); `pod_peers_own_namespace`: a peer with a podSelector means pods of
    the own namespace even when another peer selects a namespace (the OR task)."""
    sources, targets, expected = _parse_table(text)
    table = lab.reachability(sources, targets, port, expected, protocol=protocol)
    if not table.differences():
        return
    extra = list(hints)
    if target_labels:
        extra += _peer_hints(lab, target_labels, peer_namespace=peer_namespace, pod_peers_own_namespace=pod_peers_own_namespace)
    lab.expect_table(table, what, hints=extra)


def _policies(lab, namespace: str):
    return [p for p in lab.world.policies if p.namespace == namespace]


def _selecting(lab, pod_labels: dict[str, str], namespace: str | None = None):
    """The policies of lesson4 whose podSelector selects a pod with these labels."""
    ns = namespace or lab.ns()
    return [p for p in _policies(lab, ns) if matches(p.spec.get("podSelector") or {}, pod_labels)]


def _ingress_rules(lab, pod_labels: dict[str, str]):
    """(policy, ingress rule) for every rule of the lesson4 policies that select a pod with these labels."""
    return [(pol, rule) for pol in _selecting(lab, pod_labels) for rule in pol.spec.get("ingress") or []]


def _ingress_peers(lab, pod_labels: dict[str, str]):
    """(policy, peer) for every `from:` peer of those rules."""
    return [(pol, peer) for pol, rule in _ingress_rules(lab, pod_labels) for peer in rule.get("from") or []]


def _is_default_deny_ingress(pol) -> bool:
    spec = pol.spec
    return spec.get("podSelector") in ({}, None) and "Ingress" in policy_types(pol) and not spec.get("ingress")


def _peer_hints(lab, pod_labels: dict[str, str], *, peer_namespace: str | None, pod_peers_own_namespace: bool) -> list[str]:
    """Recognised mistakes in the peers of the policies that select the target pod (see _check_table)."""
    hints: list[str] = []
    if not _selecting(lab, pod_labels):
        hints.append(
            f"no NetworkPolicy in {lab.ns()} selects the pod labelled {describe({'matchLabels': pod_labels})}: "
            "check spec.podSelector (label key and value)"
        )
    world = lab.world
    for pol, peer in _ingress_peers(lab, pod_labels):
        nsel = peer.get("namespaceSelector")
        if nsel == {} or (nsel is not None and not nsel.get("matchLabels") and not nsel.get("matchExpressions")):
            own = peer_namespace is None or (pod_peers_own_namespace and peer.get("podSelector") is not None)
            if own:
                fix = (f"remove the namespaceSelector: a podSelector alone means the policy's own namespace ({pol.namespace})"
                       if peer.get("podSelector") is not None else
                       f"remove the namespaceSelector and use a podSelector: it means pods of the policy's own namespace ({pol.namespace})")
            else:
                fix = f"match the namespace's label instead: kubernetes.io/metadata.name: {lab.ns(peer_namespace)}"
            hints.append(f"NetworkPolicy {pol.key}: `namespaceSelector: {{}}` selects EVERY namespace; {fix}")
        elif nsel is not None and not any(matches(nsel, world.namespace_labels(n)) for n in _all_namespaces(lab)):
            hints.append(
                f"NetworkPolicy {pol.key}: namespaceSelector {describe(nsel)} matches no namespace; every namespace "
                "carries the label kubernetes.io/metadata.name=<its name> (a label `name:` exists only if someone set it)"
            )
        elif nsel is not None and peer_namespace is not None:
            wanted = lab.ns(peer_namespace)
            selected = [n for n in _all_namespaces(lab) if matches(nsel, world.namespace_labels(n))]
            if any(n != wanted for n in selected):
                hints.append(
                    f"NetworkPolicy {pol.key}: namespaceSelector {describe(nsel)} matches namespaces {', '.join(selected)} "
                    f"(and every namespace created later that fits it), not only {wanted}: select that one namespace by name, "
                    f"matchLabels: {{kubernetes.io/metadata.name: {wanted}}}"
                )
        psel = peer.get("podSelector")
        if psel:
            nss = [pol.namespace] if nsel is None else [n for n in _all_namespaces(lab) if matches(nsel, world.namespace_labels(n))]
            if not any(p.namespace in nss and matches(psel, p.labels) for p in world.pods if not p.host_network):
                hints.append(
                    f"NetworkPolicy {pol.key}: podSelector {describe(psel)} matches no pod in {', '.join(nss) or 'any namespace'}; "
                    "check the label key and value on the pods (kubectl get pods --show-labels)"
                )
    return hints


def _egress_hints(lab, pod_labels: dict[str, str]) -> list[str]:
    hints: list[str] = []
    selecting = _selecting(lab, pod_labels)
    for pol in selecting:
        types = pol.spec.get("policyTypes")
        if pol.spec.get("egress") and types is not None and "Egress" not in types:
            hints.append(
                f"NetworkPolicy {pol.key} has egress rules but policyTypes {types} lacks Egress: the egress rules are "
                "ignored and the pod is not isolated for egress. Add Egress to policyTypes"
            )
    if not any("Egress" in policy_types(p) for p in selecting):
        hints.append(
            "no NetworkPolicy isolates egress-client for egress: a policy selecting app: egress-client needs "
            "policyTypes: [Egress]"
        )
    return hints


def _egress_rules(lab, pod_labels: dict[str, str]):
    """(policy, egress rule) for every rule of the lesson4 policies that select a pod with these labels."""
    return [(pol, rule) for pol in _selecting(lab, pod_labels) for rule in pol.spec.get("egress") or []]


def _port_53(rule: dict, protocol: str | None = None) -> bool:
    """Whether an egress rule's ports cover 53 (of `protocol`, when given); no ports = every port."""
    ports = rule.get("ports")
    if not ports:
        return True
    for p in ports:
        proto = str(p.get("protocol") or "TCP").upper()
        num, end = p.get("port"), p.get("endPort")
        covers = num is None or num in (53, "dns", "dns-tcp") or (isinstance(num, int) and isinstance(end, int) and num <= 53 <= end)
        if covers and (protocol is None or proto == protocol):
            return True
    return False


def _dns_anywhere_hints(lab) -> list[str]:
    """Egress rules of egress-client that open port 53 wider than the kube-dns pods."""
    hints = []
    for pol, rule in _egress_rules(lab, {"app": "egress-client"}):
        if not _port_53(rule):
            continue
        peers = rule.get("to")
        if not peers:
            hints.append(
                f"NetworkPolicy {pol.key} has an egress rule for port 53 without `to:`, which allows port 53 to every "
                "destination: restrict the rule to namespace kube-system, pods k8s-app: kube-dns "
                "(to: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: kube-system}}, "
                "podSelector: {matchLabels: {k8s-app: kube-dns}}}])"
            )
        elif any(p.get("podSelector") is None and p.get("ipBlock") is None for p in peers):
            hints.append(
                f"NetworkPolicy {pol.key}: a `to:` peer for port 53 has a namespaceSelector but no podSelector, so it "
                "allows every pod of those namespaces: restrict the rule to namespace kube-system, pods k8s-app: kube-dns"
            )
    return hints


def _egress_peer_hints(lab) -> list[str]:
    """egress-client's peers whose namespaceSelector reaches further than the task's one namespace per destination."""
    hints = []
    wanted = {"k8s-app": lab.ns("kube-system"), "app": lab.ns("lesson4-other")}
    for pol, rule in _egress_rules(lab, {"app": "egress-client"}):
        for peer in rule.get("to") or []:
            nsel, psel = peer.get("namespaceSelector"), peer.get("podSelector")
            if nsel is None or not psel:
                continue
            labels = (psel.get("matchLabels") or {})
            key = next((k for k in wanted if k in labels), None)
            if key is None:
                continue
            selected = [n for n in _all_namespaces(lab) if matches(nsel, lab.world.namespace_labels(n))]
            if any(n != wanted[key] for n in selected):
                hints.append(
                    f"NetworkPolicy {pol.key}: a `to:` peer selects {key}: {labels[key]} in every namespace its namespaceSelector "
                    f"{describe(nsel) if nsel else '{}'} matches ({', '.join(selected)}), and other namespaces have such pods too: "
                    f"add the namespace, namespaceSelector matchLabels kubernetes.io/metadata.name: {wanted[key]}"
                )
    return hints


def _dns_tcp_hints(lab) -> list[str]:
    """egress-client's policies allow UDP 53 somewhere but TCP 53 nowhere."""
    rules = _egress_rules(lab, {"app": "egress-client"})
    if any(_port_53(r, "UDP") for _, r in rules) and not any(_port_53(r, "TCP") for _, r in rules):
        return [
            "the egress rules allow UDP 53 but not TCP 53: DNS also uses TCP (answers too large for UDP, zone "
            "transfers); add `- protocol: TCP, port: 53` next to the UDP port of the kube-dns rule"
        ]
    return []


def _inside_pod_network(cidr) -> bool:
    import ipaddress

    try:
        return ipaddress.ip_network(str(cidr), strict=False).subnet_of(ipaddress.ip_network("10.244.0.0/16"))
    except (ValueError, TypeError):
        return False


def _all_namespaces(lab) -> list[str]:
    names = set(lab.world.namespaces) | {p.namespace for p in lab.world.pods}
    return sorted(names)

