"""Cluster DNS as a pod sees it: its resolv.conf search list, then CoreDNS's records.

Rules (kubernetes/dns specification, kubernetes.io "DNS for Services and Pods", PLATFORM.md):
- A pod with dnsPolicy ClusterFirst has `search <ns>.svc.<zone> svc.<zone> <zone>` and `options ndots:5`:
  a name with fewer than 5 dots is tried with each search suffix first, then as is; a name with 5 or
  more dots is tried as is first. A trailing dot makes a name absolute (no search). Case-insensitive.
- ClusterIP Service: `<svc>.<ns>.svc.<zone>` A -> the ClusterIP; PTR for the ClusterIP.
- Headless Service: one A per ready endpoint, NXDOMAIN when none is ready (publishNotReadyAddresses
  makes not-ready pods count); `<hostname>.<svc>.<ns>.svc.<zone>` per ready endpoint with a hostname
  (the pod's spec.hostname when its spec.subdomain names the Service; StatefulSet pods get both).
- CoreDNS also names an endpoint without hostname `<a-b-c-d>.<svc>.<ns>.svc.<zone>` (the spec's
  "system-assigned identifier"), answers endpoint names for ClusterIP Services too, and answers PTR
  for every ready endpoint IP of a Service: we follow CoreDNS, which is what kind runs.
- SRV `_<port>._<proto>.<svc>.<ns>.svc.<zone>` for named ports: "priority weight port target".
  ClusterIP: the Service port and the Service name; headless: each ready endpoint's port and name.
- ExternalName: CNAME to the external name. Pod A records `a-b-c-d.<ns>.pod.<zone>`: kind's Corefile
  (kubeadm's default) says `pods insecure`, so any such name in an existing namespace answers with
  the IP written in it, whether or not a pod has that IP.
- Names outside the cluster domain go to the node's upstream resolver on a live cluster; the
  simulator does not resolve them (NXDOMAIN, and the trace says so).
- The pod's resolv.conf follows its dnsPolicy and dnsConfig (kubernetes.io "DNS for Services and Pods",
  kubelet): ClusterFirst (the default) = nameserver kube-dns, the cluster search list, ndots:5; a
  hostNetwork pod with ClusterFirst falls back to Default; ClusterFirstWithHostNet gives a hostNetwork pod
  the ClusterFirst file; Default = the node's resolv.conf (on kind: Docker's resolver, no search list, the
  resolver's ndots:1), which knows no cluster names; None = only what dnsConfig says. dnsConfig.nameservers
  and .searches are appended to the policy's (duplicates dropped), dnsConfig.options override by name
  (ndots). The first nameserver answers: when it is not kube-dns (10.96.0.10), cluster names do not resolve.
"""

from __future__ import annotations

import difflib
import ipaddress
from dataclasses import dataclass, field

from grader.model.objects import CLUSTER_DNS_IP, CLUSTER_DOMAIN, Service, World
from grader.model.services import (
    all_services,
    endpoint_diagnosis,
    endpoints,
    find_service_by_ip,
    ready_endpoints,
)

NDOTS = 5
QTYPES = ("A", "SRV", "PTR")
# Namespaces every kind cluster has, whether or not the manifests mention them.
BUILTIN_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease", "local-path-storage")
OUTSIDE_NOTE = (
    "the simulator does not resolve names outside the cluster; on a live cluster CoreDNS forwards "
    "them to the node's upstream resolver"
)


@dataclass
class DnsAnswer:
    """What a lookup returned, and why.

    `answers` are the record data (IPs for A, "priority weight port target" for SRV, names for PTR,
    the external name for CNAME); `addresses` are the IPs a client ends up with (the A answers, or
    those of an in-cluster CNAME target). `pods` are the ready pods behind a headless answer.
    """

    name: str
    fqdn: str | None
    type: str  # "A" | "CNAME" | "SRV" | "PTR" | "NXDOMAIN"
    answers: list[str] = field(default_factory=list)
    service: str | None = None
    pods: list[str] = field(default_factory=list)
    cname: str | None = None
    trace: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.type != "NXDOMAIN"


@dataclass(frozen=True)
class ResolvConf:
    """A pod's /etc/resolv.conf as the kubelet writes it (see the module docstring)."""

    nameservers: tuple[str, ...]
    searches: tuple[str, ...]
    ndots: int
    policy: str  # the dnsPolicy in effect ("Default" for a hostNetwork pod left on ClusterFirst)
    written: str = ""  # how it came about, for the trace

    @property
    def cluster(self) -> bool:
        """Whether queries go to the cluster DNS (the first nameserver is kube-dns)."""
        return bool(self.nameservers) and self.nameservers[0] == CLUSTER_DNS_IP

    def describe(self) -> str:
        return (f"nameserver {' '.join(self.nameservers) or '(none)'}; search {' '.join(self.searches) or '(none)'}; "
                f"options ndots:{self.ndots}")


# kind's nodes resolve through Docker's embedded DNS for the kind network (no cluster names, no search list).
NODE_RESOLVER = "172.18.0.1"
NODE_NDOTS = 1  # the resolver's default when resolv.conf sets no ndots


def resolv_conf(namespace: str, spec: dict | None = None, *, host_network: bool = False,
                domain: str = CLUSTER_DOMAIN) -> ResolvConf:
    """The resolv.conf of a pod in `namespace` with this pod spec (dnsPolicy, dnsConfig, hostNetwork)."""
    spec = spec or {}
    asked = str(spec.get("dnsPolicy") or "ClusterFirst")
    policy = asked
    written = f"dnsPolicy {asked}"
    if asked == "ClusterFirst" and host_network:
        policy = "Default"
        written = "dnsPolicy ClusterFirst with hostNetwork: true, which falls back to Default (ClusterFirstWithHostNet would use the cluster DNS)"
    elif asked == "ClusterFirstWithHostNet":
        policy = "ClusterFirst"
    if policy == "ClusterFirst":
        nameservers, searches, ndots = [CLUSTER_DNS_IP], search_list(namespace, domain), NDOTS
    elif policy == "Default":
        nameservers, searches, ndots = [NODE_RESOLVER], [], NODE_NDOTS
    else:  # None: only dnsConfig
        nameservers, searches, ndots = [], [], NODE_NDOTS
    config = spec.get("dnsConfig") if isinstance(spec.get("dnsConfig"), dict) else {}
    extra_ns = [str(n) for n in config.get("nameservers") or []]
    extra_search = [str(x).rstrip(".").lower() for x in config.get("searches") or []]
    nameservers = list(dict.fromkeys(nameservers + extra_ns))[:3]
    searches = list(dict.fromkeys(searches + extra_search))
    for option in config.get("options") or []:
        if isinstance(option, dict) and option.get("name") == "ndots":
            try:
                ndots = int(str(option.get("value")))
            except ValueError:
                pass
    if extra_ns or extra_search or config.get("options"):
        written += " plus dnsConfig"
    return ResolvConf(tuple(nameservers), tuple(searches), ndots, policy, written)


def search_list(namespace: str, domain: str = CLUSTER_DOMAIN) -> list[str]:
    """The `search` line of a ClusterFirst pod's /etc/resolv.conf in this namespace."""
    return [f"{namespace}.svc.{domain}", f"svc.{domain}", domain]


def query_names(name: str, namespace: str, domain: str = CLUSTER_DOMAIN, conf: ResolvConf | None = None) -> list[str]:
    """The absolute names a resolver tries, in order (without trailing dots): ClusterFirst's ndots:5 search, or `conf`'s."""
    if name.endswith("."):
        return [name.rstrip(".")]
    searches = conf.searches if conf is not None else tuple(search_list(namespace, domain))
    ndots = conf.ndots if conf is not None else NDOTS
    expanded = [f"{name}.{suffix}" for suffix in searches]
    return [name, *expanded] if name.count(".") >= ndots else [*expanded, name]


def _namespaces(world: World) -> set[str]:
    names = set(world.namespaces) | set(BUILTIN_NAMESPACES)
    names |= {p.namespace for p in world.pods} | {s.namespace for s in world.services}
    return names


def _find_service(world: World, namespace: str, name: str) -> Service | None:
    for s in all_services(world):
        if s.namespace.lower() == namespace and s.name.lower() == name:
            return s
    return None


def _dashed(ip: str) -> str:
    return ip.replace(".", "-").replace(":", "-")


def _nx(name: str, fqdn: str | None, *reasons: str) -> DnsAnswer:
    return DnsAnswer(name=name, fqdn=fqdn, type="NXDOMAIN", trace=list(reasons))


def resolve(world: World, src_namespace: str, name: str, qtype: str = "A", conf: ResolvConf | None = None) -> DnsAnswer:
    """Look `name` up the way a pod in `src_namespace` does: ClusterFirst (search list, ndots:5), or as `conf` says."""
    if qtype not in QTYPES:
        raise ValueError(f"unsupported query type {qtype!r}; use one of {', '.join(QTYPES)}")
    query = name.strip().lower()
    if qtype == "PTR":
        return reverse(world, query.rstrip("."))
    if not query or query == ".":
        return _nx(name, None, "empty name")
    domain = world.cluster_domain.lower()
    trace = []
    if conf is not None and (conf.policy != "ClusterFirst" or conf.written.endswith("dnsConfig")):
        trace.append(f"resolv.conf of this pod ({conf.written}): {conf.describe()}")
    if query.endswith("."):
        trace.append(f"{name} ends with a dot: an absolute name, the search list is not used")
    else:
        dots = query.count(".")
        ndots = conf.ndots if conf is not None else NDOTS
        order = "as is first, then with each search suffix" if dots >= ndots else "with each search suffix first, then as is"
        searches = conf.searches if conf is not None else tuple(search_list(src_namespace, domain))
        trace.append(
            f"resolv.conf of a pod in namespace {src_namespace}: search {' '.join(searches) or '(none)'}; "
            f"options ndots:{ndots}. {name} has {dots} dot(s), so it is tried {order}"
        )
    for candidate in query_names(query, src_namespace, domain, conf):
        if conf is not None and not conf.cluster:
            server = conf.nameservers[0] if conf.nameservers else "(no nameserver)"
            why = (f"the pod asks {server}, not the cluster DNS {CLUSTER_DNS_IP}: it knows no cluster names"
                   if candidate.endswith("." + domain) else f"asked {server}: {OUTSIDE_NOTE}")
            trace.append(f"{candidate}. -> NXDOMAIN: {why}")
            continue
        answer = _lookup(world, candidate, qtype)
        if answer.ok:
            trace.append(f"{candidate}. -> {answer.type} {', '.join(answer.answers)}")
            answer.name = name
            answer.trace = trace + answer.trace
            return answer
        trace.append(f"{candidate}. -> NXDOMAIN: {'; '.join(answer.trace)}")
    hints = _hints(world, src_namespace, query)
    if not hints and _looks_external(world, query):
        hints.append(f"{name} is not a name inside the cluster: {OUTSIDE_NOTE}")
    trace.extend(hints)
    return _nx(name, None, *trace)


def lookup_fqdn(world: World, fqdn: str, qtype: str = "A") -> DnsAnswer:
    """Look up one absolute name (no search list), as `dig name.` would."""
    if qtype not in QTYPES:
        raise ValueError(f"unsupported query type {qtype!r}; use one of {', '.join(QTYPES)}")
    if qtype == "PTR":
        return reverse(world, fqdn.strip().rstrip("."))
    answer = _lookup(world, fqdn.strip().lower().rstrip("."), qtype)
    answer.name = fqdn
    return answer


def _lookup(world: World, fqdn: str, qtype: str) -> DnsAnswer:
    domain = world.cluster_domain.lower()
    if fqdn.endswith(".in-addr.arpa"):
        return reverse(world, fqdn)
    if not fqdn.endswith("." + domain):
        return _nx(fqdn, fqdn, f"{fqdn} is outside {domain}: {OUTSIDE_NOTE}")
    labels = fqdn[: -len(domain) - 1].split(".")
    kind = labels[-1]
    rest = labels[:-1]
    if kind == "svc" and len(rest) == 2:
        return _service_record(world, fqdn, rest[1], rest[0], qtype)
    if kind == "svc" and len(rest) == 4 and rest[0].startswith("_") and rest[1].startswith("_"):
        return _srv_record(world, fqdn, rest[3], rest[2], rest[0][1:], rest[1][1:].upper(), qtype)
    if kind == "svc" and len(rest) == 3:
        return _endpoint_record(world, fqdn, rest[2], rest[1], rest[0])
    if kind == "pod" and len(rest) == 2:
        return _pod_record(world, fqdn, rest[1], rest[0])
    if kind == "svc" and len(rest) == 1:
        if rest[0] not in _namespaces(world):
            return _nx(fqdn, fqdn, f"namespace {rest[0]} does not exist")
        return _nx(fqdn, fqdn, f"{fqdn} names namespace {rest[0]}, not a Service (no A record)")
    return _nx(fqdn, fqdn, f"no record for {fqdn}: cluster names look like <service>.<namespace>.svc.{domain}")


def _missing_service(world: World, fqdn: str, namespace: str, name: str) -> DnsAnswer:
    if namespace not in _namespaces(world):
        return _nx(fqdn, fqdn, f"namespace {namespace} does not exist")
    return _nx(fqdn, fqdn, f"no Service {name} in namespace {namespace}")


def _service_record(world: World, fqdn: str, namespace: str, name: str, qtype: str) -> DnsAnswer:
    svc = _find_service(world, namespace, name)
    if svc is None:
        return _missing_service(world, fqdn, namespace, name)
    if svc.type == "ExternalName":
        return _cname(world, fqdn, svc)
    return _service_answer(world, fqdn, svc, qtype)


def _service_answer(world: World, fqdn: str, svc: Service, qtype: str) -> DnsAnswer:
    """The A or SRV answer of a ClusterIP or headless Service, named `fqdn`."""
    if qtype == "SRV":
        answers = []
        for p in svc.ports:
            if p.name:
                answers.extend(_srv_answer(world, fqdn, svc, p.name, p.protocol).answers)
        if not answers:
            return _nx(fqdn, fqdn, f"Service {svc.key} has no named port, so it has no SRV record")
        return DnsAnswer(name=fqdn, fqdn=fqdn, type="SRV", answers=answers, service=svc.key,
                         trace=[f"SRV records of Service {svc.key} (one per named port)"])
    if not svc.headless:
        return DnsAnswer(name=fqdn, fqdn=fqdn, type="A", answers=[svc.cluster_ip or ""], service=svc.key,
                         addresses=[svc.cluster_ip or ""], trace=[f"Service {svc.key} has ClusterIP {svc.cluster_ip}"])
    ready = ready_endpoints(world, svc)
    if not ready:
        not_ready = [e for e in endpoints(world, svc) if not e.ready]
        why = f"headless Service {svc.key} has no ready endpoints"
        if not_ready:
            why += f" ({len(not_ready)} not ready; publishNotReadyAddresses is false)"
        return _nx(fqdn, fqdn, why, *endpoint_diagnosis(world, svc))
    ips = list(dict.fromkeys(e.ip for e in ready))
    pods = [e.pod for e in ready if e.pod]
    note = " (publishNotReadyAddresses: not-ready pods included)" if svc.publish_not_ready else ""
    return DnsAnswer(name=fqdn, fqdn=fqdn, type="A", answers=ips, service=svc.key, pods=pods, addresses=ips,
                     trace=[f"headless Service {svc.key}: one A record per ready endpoint{note}"])


def _cname(world: World, fqdn: str, svc: Service) -> DnsAnswer:
    target = (svc.external_name or "").lower().rstrip(".")
    answer = DnsAnswer(name=fqdn, fqdn=fqdn, type="CNAME", answers=[target], service=svc.key, cname=target,
                       trace=[f"ExternalName Service {svc.key}: CNAME {fqdn} -> {target}"])
    domain = world.cluster_domain.lower()
    if target.endswith("." + domain):
        followed = _lookup(world, target, "A")
        answer.addresses = followed.addresses
        answer.pods = followed.pods
        answer.trace.append(f"{target} is in the cluster: {followed.type} {', '.join(followed.answers)}".rstrip())
        answer.trace.extend(followed.trace)
    else:
        answer.trace.append(f"{target}: {OUTSIDE_NOTE}")
    return answer


def _srv_answer(world: World, fqdn: str, svc: Service, port_name: str, proto: str) -> DnsAnswer:
    domain = world.cluster_domain.lower()
    base = f"{svc.name}.{svc.namespace}.svc.{domain}"
    port = next((p for p in svc.ports if (p.name or "").lower() == port_name and p.protocol == proto), None)
    if port is None:
        named = ", ".join(f"{p.name}/{p.protocol}" for p in svc.ports if p.name) or "none"
        return _nx(fqdn, fqdn, f"Service {svc.key} has no {proto} port named {port_name} (named ports: {named})")
    if not svc.headless:
        return DnsAnswer(name=fqdn, fqdn=fqdn, type="SRV", answers=[f"0 100 {port.port} {base}"], service=svc.key,
                         trace=[f"SRV for port {port.name} of Service {svc.key}: port {port.port}, target {base}"])
    ready = ready_endpoints(world, svc, port)
    if not ready:
        return _nx(fqdn, fqdn, f"headless Service {svc.key} has no ready endpoint for port {port.name}",
                   *endpoint_diagnosis(world, svc))
    weight = max(1, 100 // len(ready))
    answers = [f"0 {weight} {e.port} {e.hostname or _dashed(e.ip)}.{base}" for e in ready]
    return DnsAnswer(name=fqdn, fqdn=fqdn, type="SRV", answers=answers, service=svc.key,
                     pods=[e.pod for e in ready if e.pod],
                     trace=[f"SRV for port {port.name} of headless Service {svc.key}: one per ready endpoint"])


def _srv_record(world: World, fqdn: str, namespace: str, name: str, port_name: str, proto: str,
                qtype: str) -> DnsAnswer:
    svc = _find_service(world, namespace, name)
    if svc is None:
        return _missing_service(world, fqdn, namespace, name)
    if svc.type == "ExternalName":
        return _cname(world, fqdn, svc)
    srv = _srv_answer(world, fqdn, svc, port_name, proto)
    if qtype == "SRV" or not srv.ok:
        return srv
    return _service_answer(world, fqdn, svc, "A")  # an A query for an SRV name answers like the Service's name


def _endpoint_record(world: World, fqdn: str, namespace: str, name: str, host: str) -> DnsAnswer:
    svc = _find_service(world, namespace, name)
    if svc is None:
        return _missing_service(world, fqdn, namespace, name)
    if svc.type == "ExternalName":
        return _nx(fqdn, fqdn, f"Service {svc.key} is an ExternalName Service: it has no endpoint names")
    matched = [e for e in ready_endpoints(world, svc) if (e.hostname or _dashed(e.ip)) == host]
    if matched:
        ips = list(dict.fromkeys(e.ip for e in matched))
        how = "hostname" if matched[0].hostname else "IP-derived name"
        note = "" if svc.headless else " (CoreDNS answers endpoint names of ClusterIP Services too)"
        return DnsAnswer(name=fqdn, fqdn=fqdn, type="A", answers=ips, service=svc.key, addresses=ips,
                         pods=[e.pod for e in matched if e.pod],
                         trace=[f"ready endpoint of Service {svc.key} with {how} {host}{note}"])
    return _nx(fqdn, fqdn, *_endpoint_miss_reasons(world, svc, host))


def _endpoint_miss_reasons(world: World, svc: Service, host: str) -> list[str]:
    reasons = [f"no ready endpoint of Service {svc.key} has hostname {host}"]
    for e in endpoints(world, svc):
        if (e.hostname or _dashed(e.ip)) == host and not e.ready:
            reasons.append(f"endpoint {e.pod or e.ip} has that hostname but is not ready")
    for pod in world.pods:
        if pod.namespace != svc.namespace:
            continue
        if pod.hostname == host and pod.subdomain != svc.name:
            reasons.append(
                f"pod {pod.key} has hostname {host} but subdomain {pod.subdomain or '(none)'}: it gets a name "
                f"under Service {svc.name} only when spec.subdomain (StatefulSet: serviceName) is {svc.name}"
            )
        elif pod.name == host and not pod.hostname:
            reasons.append(
                f"pod {pod.key} sets no spec.hostname/spec.subdomain: only pods that do (StatefulSet pods do) "
                "get a name under a Service"
            )
    return reasons


def _pod_record(world: World, fqdn: str, namespace: str, dashed: str) -> DnsAnswer:
    if namespace not in _namespaces(world):
        return _nx(fqdn, fqdn, f"namespace {namespace} does not exist")
    parts = dashed.split("-")
    try:
        if len(parts) != 4:
            raise ValueError
        ip = str(ipaddress.IPv4Address(".".join(parts)))
    except ValueError:
        return _nx(fqdn, fqdn, f"{dashed} is not an IPv4 address written with dashes (a-b-c-d)")
    pods = [p.key for p in world.pods if p.namespace == namespace and p.ip == ip and not p.host_network]
    note = (
        "kind's CoreDNS runs `pods insecure`: it answers any a-b-c-d.<namespace>.pod name in an existing "
        "namespace with that IP, without checking that a pod has it"
    )
    return DnsAnswer(name=fqdn, fqdn=fqdn, type="A", answers=[ip], pods=pods, addresses=[ip], trace=[note])


def reverse(world: World, ip: str) -> DnsAnswer:
    """PTR lookup for an IP (or its `d.c.b.a.in-addr.arpa` name): Services' ClusterIPs, then endpoint IPs."""
    query = ip.strip().lower().rstrip(".")
    if query.endswith(".in-addr.arpa"):
        query = ".".join(reversed(query[: -len(".in-addr.arpa")].split(".")))
    try:
        addr = str(ipaddress.IPv4Address(query))
    except ValueError:
        return _nx(ip, None, f"{ip} is not an IPv4 address")
    arpa = ".".join(reversed(addr.split("."))) + ".in-addr.arpa"
    domain = world.cluster_domain.lower()
    svc = find_service_by_ip(world, addr)
    if svc is not None:
        return DnsAnswer(name=ip, fqdn=arpa, type="PTR", answers=[f"{svc.name}.{svc.namespace}.svc.{domain}"],
                         service=svc.key, trace=[f"{addr} is the ClusterIP of Service {svc.key}"])
    answers, pods, services = [], [], []
    for s in all_services(world):
        if s.type == "ExternalName":
            continue
        for e in ready_endpoints(world, s):
            if e.ip == addr:
                answers.append(f"{e.hostname or _dashed(e.ip)}.{s.name}.{s.namespace}.svc.{domain}")
                services.append(s.key)
                if e.pod:
                    pods.append(e.pod)
    if answers:
        return DnsAnswer(name=ip, fqdn=arpa, type="PTR", answers=list(dict.fromkeys(answers)),
                         service=services[0], pods=list(dict.fromkeys(pods)),
                         trace=[f"{addr} is a ready endpoint of Service {', '.join(dict.fromkeys(services))}"])
    return _nx(ip, arpa, f"{addr} is neither a Service ClusterIP nor a ready endpoint of a Service; "
                         f"{OUTSIDE_NOTE}")


def _hints(world: World, src_namespace: str, query: str) -> list[str]:
    """Suggestions after a failed lookup: the Service is in another namespace, or a near-miss name."""
    name = query.rstrip(".")
    domain = world.cluster_domain.lower()
    if name.endswith("." + domain):
        name = name[: -len(domain) - 1]
        if name.endswith(".svc"):
            name = name[:-4]
    parts = name.split(".")
    if len(parts) > 2:
        return []
    svc_name = parts[0]
    namespace = parts[1] if len(parts) == 2 else src_namespace
    hints = []
    services = all_services(world)
    if len(parts) == 1:
        elsewhere = sorted(s.namespace for s in services if s.name.lower() == svc_name and s.namespace != namespace)
        if elsewhere:
            hints.append(
                f"Service {svc_name} exists in namespace {', '.join(elsewhere)}, not in {namespace}: from "
                f"namespace {namespace} use {svc_name}.{elsewhere[0]} (a short name only finds Services of the "
                "pod's own namespace)"
            )
    if len(parts) == 2 and namespace not in _namespaces(world):
        ns_close = difflib.get_close_matches(namespace, sorted(_namespaces(world)), n=1)
        if ns_close:
            hints.append(f"namespace {namespace} does not exist (did you mean {svc_name}.{ns_close[0]}?)")
    in_ns = sorted(s.name.lower() for s in services if s.namespace == namespace)
    close = difflib.get_close_matches(svc_name, in_ns, n=1, cutoff=0.6)
    if close and close[0] != svc_name:
        hints.append(f"did you mean Service {close[0]} in namespace {namespace}?")
    return hints


def _looks_external(world: World, query: str) -> bool:
    """A dotted name whose last label is neither a namespace nor part of the cluster domain."""
    name = query.rstrip(".")
    domain = world.cluster_domain.lower()
    last = name.rsplit(".", 1)[-1]
    return (
        "." in name
        and not name.endswith("." + domain)
        and last not in _namespaces(world)
        and last not in ("svc", "pod")
        and last not in domain.split(".")
    )
