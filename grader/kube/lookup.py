"""What the API's objects say a probe reached: the Service behind a name or ClusterIP, the pods behind IPs.

A live probe only sees packets (agnhost connect's exit code, dig's answers, an HTTP body); the checks
also want to know which Service and which pod answered, as the simulator reports them ("ns/name").
These pure functions answer that from objects as the API returns them (plain dicts), so they are
tested on realistic API objects without a cluster.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from grader.model.dns import query_names
from grader.model.objects import CLUSTER_DOMAIN
from grader.model.selectors import matches_map
from grader.model.names import is_ip, wildcard_match  # is_ip: re-exported for the live backend


def key_of(obj: Mapping[str, Any]) -> str:
    """"ns/name" of a namespaced API object."""
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace', '')}/{meta.get('name', '')}"


def service_name_in_fqdn(fqdn: str, domain: str = CLUSTER_DOMAIN) -> tuple[str, str] | None:
    """(namespace, service) named by a cluster DNS name, else None.

    `<svc>.<ns>.svc.<domain>`, an endpoint name `<host>.<svc>.<ns>.svc.<domain>` and an SRV name
    `_<port>._<proto>.<svc>.<ns>.svc.<domain>` all belong to Service ns/svc.
    """
    name = fqdn.strip().lower().rstrip(".")
    suffix = f".svc.{domain.lower()}"
    if not name.endswith(suffix):
        return None
    labels = name[: -len(suffix)].split(".")
    if len(labels) in (2, 3) or (len(labels) == 4 and labels[0].startswith("_") and labels[1].startswith("_")):
        return labels[-1], labels[-2]
    return None


def service_for_host(host: str, src_namespace: str, get_service: Any, domain: str = CLUSTER_DOMAIN) -> str | None:
    """"ns/name" of the Service a DNS name reaches from a pod in `src_namespace`, following its search list.

    `get_service(namespace, name)` returns the Service dict or None. Names are tried in the order a
    ClusterFirst pod's resolver tries them (search suffixes, ndots:5); the first one that names an
    existing Service wins, as the first answer does in DNS.
    """
    for candidate in query_names(host.strip().lower(), src_namespace, domain):
        parsed = service_name_in_fqdn(candidate, domain)
        if parsed is None:
            continue
        ns, name = parsed
        if get_service(ns, name) is not None:
            return f"{ns}/{name}"
    return None


def service_by_cluster_ip(services: Iterable[Mapping[str, Any]], ip: str) -> str | None:
    """"ns/name" of the Service whose ClusterIP (or one of its clusterIPs) is `ip`."""
    for svc in services:
        spec = svc.get("spec") or {}
        ips = set(spec.get("clusterIPs") or []) | {spec.get("clusterIP")}
        if ip in ips and ip not in (None, "None", ""):
            return key_of(svc)
    return None


def service_by_node_port(services: Iterable[Mapping[str, Any]], node_port: int) -> str | None:
    """"ns/name" of the Service that exposes `node_port` on every node."""
    for svc in services:
        if any(p.get("nodePort") == node_port for p in (svc.get("spec") or {}).get("ports") or []):
            return key_of(svc)
    return None


def pods_with_ips(pods: Iterable[Mapping[str, Any]], ips: Iterable[str]) -> list[str]:
    """"ns/name" of the (non-hostNetwork) pods holding these IPs, in the order of `ips`."""
    by_ip: dict[str, str] = {}
    for p in pods:
        if (p.get("spec") or {}).get("hostNetwork"):
            continue  # a hostNetwork pod shares its node's IP: the IP does not name it
        status = p.get("status") or {}
        for ip in [status.get("podIP")] + [a.get("ip") for a in status.get("podIPs") or []]:
            if ip:
                by_ip.setdefault(ip, key_of(p))
    return list(dict.fromkeys(by_ip[ip] for ip in ips if ip in by_ip))


def ready_endpoint_pods(slices: Iterable[Mapping[str, Any]], service: str) -> list[str]:
    """"ns/name" of the pods behind the ready endpoints of Service `service` ("ns/name")."""
    ns, _, name = service.partition("/")
    out: list[str] = []
    for s in slices:
        meta = s.get("metadata") or {}
        if (meta.get("labels") or {}).get("kubernetes.io/service-name") != name or meta.get("namespace", ns) != ns:
            continue
        for ep in s.get("endpoints") or []:
            ref = ep.get("targetRef") or {}
            if (ep.get("conditions") or {}).get("ready", True) is not False and ref.get("kind") == "Pod":
                out.append(f"{ref.get('namespace') or ns}/{ref.get('name')}")
    return list(dict.fromkeys(out))


def services_selecting(services: Iterable[Mapping[str, Any]], pod: Mapping[str, Any]) -> list[str]:
    """"ns/name" of the Services in the pod's namespace whose selector matches its labels."""
    meta = pod.get("metadata") or {}
    labels = meta.get("labels") or {}
    out = []
    for svc in services:
        smeta, spec = svc.get("metadata") or {}, svc.get("spec") or {}
        selector = spec.get("selector")
        if smeta.get("namespace") == meta.get("namespace") and selector and matches_map(selector, labels):
            out.append(key_of(svc))
    return sorted(out)


def ingress_backends(ingress: Mapping[str, Any]) -> list[tuple[str | None, str]]:
    """(rule host or None, Service name) for every backend of an Ingress (the default backend has host None)."""
    spec = ingress.get("spec") or {}
    out: list[tuple[str | None, str]] = []
    default = ((spec.get("defaultBackend") or {}).get("service") or {}).get("name")
    if default:
        out.append((None, default))
    for rule in spec.get("rules") or []:
        for path in (rule.get("http") or {}).get("paths") or []:
            name = ((path.get("backend") or {}).get("service") or {}).get("name")
            if name:
                out.append((rule.get("host"), name))
    return out


def choose_service(candidates: list[str], ingresses: Iterable[Mapping[str, Any]], host: str | None = None) -> str | None:
    """One Service of `candidates` (all selecting the pod that answered): the one an Ingress backend names,
    preferring a rule for `host`; else the only candidate; else the first by name."""
    if not candidates:
        return None
    named: list[tuple[bool, str]] = []
    for ing in ingresses:
        ns = (ing.get("metadata") or {}).get("namespace", "")
        for rule_host, name in ingress_backends(ing):
            if f"{ns}/{name}" in candidates:
                named.append((rule_host is not None and host is not None and rule_host.lower() == host.lower(), f"{ns}/{name}"))
    if named:
        return sorted(named, key=lambda t: (not t[0], t[1]))[0][1]
    return sorted(candidates)[0]


def ingress_for(ingresses: Iterable[Mapping[str, Any]], service: str | None, host: str) -> str | None:
    """"ns/name" of the Ingress that routed `host` to `service`: a rule for that host first, then a rule
    without host, then the default backend."""
    if service is None:
        return None
    ns, _, name = service.partition("/")
    ranked: list[tuple[int, str]] = []
    for ing in ingresses:
        if (ing.get("metadata") or {}).get("namespace") != ns:
            continue
        for rule_host, backend in ingress_backends(ing):
            if backend != name:
                continue
            if rule_host and rule_host_matches(rule_host, host):
                ranked.append((0, key_of(ing)))
            elif rule_host is None:
                ranked.append((1, key_of(ing)))
    return sorted(ranked)[0][1] if ranked else None


def rule_host_matches(rule_host: str, host: str) -> bool:
    """Ingress host matching: exact (case-insensitive), or `*.foo.com` matching exactly one more label."""
    return wildcard_match(rule_host, host)
