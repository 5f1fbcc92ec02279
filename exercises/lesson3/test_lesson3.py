"""Lesson 3: DNS and service discovery: Service names, namespaces, headless Services, ExternalName."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from grader.checks import CheckFailed
from grader.model.services import selected_pods

CLIENT_NS = "lesson3-client"
CONFIGMAP = "client-config"
CONFIG_KEY = "backend-host"
EXTERNAL_NAME = "example.com"


def _norm(name: str) -> str:
    """DNS names compare case-insensitively and without the root dot."""
    return str(name).strip().rstrip(".").lower()


def _service(lab, name: str, what: str) -> Any:
    return lab.require_service(name, what, write_in="work/lesson3/")


def _my_service_hints(lab) -> list[str]:
    """Recognised mistakes of my-service, in words."""
    svc = lab.world.service(lab.ns(), "my-service")
    if svc is None:
        return []
    hints = []
    if svc.headless:
        hints.append(
            "my-service is headless (clusterIP: None): its name resolves straight to the pod IPs, so nothing "
            "translates port 80 to targetPort 8080; remove clusterIP: None to get a virtual IP that does"
        )
    if svc.selector is None:
        hints.append("my-service has no selector: add  selector: {app: backend}  (the label of the course's backend pods)")
    elif not selected_pods(lab.world, svc):
        hints.append(
            f"my-service's selector {','.join(f'{k}={v}' for k, v in svc.selector.items())} matches no pod in "
            f"{lab.ns()}: the backend pods carry app=backend (kubectl get pods -n {lab.ns()} --show-labels)"
        )
    return hints


def _failed(r, expected: str, observed: str, hints: list[str] | None = None) -> CheckFailed:
    """A failed task about probe result `r`, with its evidence and the kubectl command that reproduces it."""
    return CheckFailed(expected, observed, evidence=r.evidence, hints=hints, kubectl=[r.kubectl])


def _resolve_and_connect(lab, src: str, name: str, port: int, what: str, hints: list[str]) -> Any:
    r = lab.resolve(src, name)
    lab.expect(r, True, f"{name} resolves from {src}", hints=hints)
    if r.data.get("type") not in (None, "A", "AAAA"):
        raise _failed(
            r,
            f"{name} resolves to an address (A record)",
            f"it answers a {r.data.get('type')} record: {', '.join(map(str, r.data.get('answers', [])))}",
            hints,
        )
    c = lab.connect(src, name, port)
    lab.expect(c, True, what, hints=hints)
    return r


def test_fqdn(lab):
    """The client in lesson3 resolves the full name my-service.lesson3.svc.cluster.local and connects to it on port 80 (my-service: ClusterIP, selector app: backend, port 80 to targetPort 8080)."""
    _service(lab, "my-service", "a ClusterIP Service")
    fqdn = f"my-service.{lab.ns()}.svc.{lab.world.cluster_domain}"
    _resolve_and_connect(lab, "client", fqdn, 80, f"client connects to {fqdn}:80", _my_service_hints(lab))


def test_short_name(lab):
    """In its own namespace the client reaches my-service by the short name my-service on port 80 (the search list adds lesson3.svc.cluster.local)."""
    _service(lab, "my-service", "a ClusterIP Service")
    r = _resolve_and_connect(lab, "client", "my-service", 80, "client connects to my-service:80", _my_service_hints(lab))
    fqdn = r.data.get("fqdn")
    wanted = f"my-service.{lab.ns()}.svc.{lab.world.cluster_domain}"
    if fqdn and _norm(fqdn) != wanted:
        raise _failed(r, f"my-service from the client means {wanted}", f"it was answered as {fqdn}")


def _config_host(lab) -> tuple[str, str]:
    """The host name the client in lesson3-client uses, from ConfigMap client-config, and where it was read."""
    client_ns = lab.ns(CLIENT_NS)
    found = [o for o in lab.world.others if o.kind == "ConfigMap" and o.name == CONFIGMAP]
    here = next((o for o in found if o.namespace == client_ns), None)
    if here is None:
        elsewhere = [o.namespace for o in found]
        raise CheckFailed(
            f"a ConfigMap {CONFIGMAP} in namespace {client_ns} with the key {CONFIG_KEY}",
            f"ConfigMap {CONFIGMAP} is in namespace {', '.join(elsewhere)}" if elsewhere else f"no ConfigMap {CONFIGMAP}",
            hints=[
                f"the client pod runs in {client_ns} and reads its own namespace's ConfigMaps: "
                f"set metadata.namespace: {client_ns} on ConfigMap {CONFIGMAP}"
            ],
            kubectl=[f"kubectl get configmap {CONFIGMAP} -n {client_ns} -o yaml"],
        )
    value = str((here.obj.get("data") or {}).get(CONFIG_KEY, "")).strip()
    where = str(here.source) if here.source else f"ConfigMap {client_ns}/{CONFIGMAP}"
    if not value:
        raise CheckFailed(
            f"ConfigMap {CONFIGMAP} has a key {CONFIG_KEY} with the host name the client uses for my-service",
            f"no {CONFIG_KEY} under data: in {where}",
            hints=[f"add  data: {{{CONFIG_KEY}: <name>}}  where <name> reaches my-service from namespace {client_ns}"],
        )
    host = urlsplit(value).hostname if "://" in value else value.rsplit(":", 1)[0] if value.count(":") == 1 else value
    return host or value, where


def test_cross_namespace(lab):
    """The client in namespace lesson3-client reaches my-service on port 80 through the host name you write in its ConfigMap client-config, key backend-host."""
    _service(lab, "my-service", "a ClusterIP Service")
    host, where = _config_host(lab)
    src = f"{CLIENT_NS}/client"
    wanted = f"my-service.{lab.ns()}.svc.{lab.world.cluster_domain}"
    hints = []
    if "." not in host.rstrip("."):
        hints.append(
            f"{where}: {CONFIG_KEY} is the short name {host}; from namespace {lab.ns(CLIENT_NS)} it is looked up as "
            f"{host}.{lab.ns(CLIENT_NS)}.svc.{lab.world.cluster_domain}, which is not my-service: "
            f"add the namespace, {host}.{lab.ns()}"
        )
    hints += _my_service_hints(lab)
    r = _resolve_and_connect(lab, src, host, 80, f"{src} connects to {host}:80 (from {where})", hints)
    fqdn = r.data.get("fqdn")
    if fqdn and _norm(fqdn) != wanted:
        raise _failed(r, f"{CONFIG_KEY} names my-service ({wanted})", f"{host} was answered as {fqdn}",
                      [f"{where}: use my-service.{lab.ns()} (or the full {wanted})"])


def _web_hints(lab, pod_name: str) -> list[str]:
    """Why web-N.web.<ns>.svc... might not resolve: the Service is not headless, serviceName differs, no such pod."""
    hints = []
    svc = lab.world.service(lab.ns(), "web")
    if svc is not None and not svc.headless and svc.type != "ExternalName":
        # CoreDNS also answers web-0.web... for a ClusterIP Service (kubernetes plugin: "endpoint query or
        # headless"); the spec defines them for headless ones, and only headless makes web... answer the pods.
        hints.append(
            f"Service web has a cluster IP ({svc.cluster_ip or 'allocated'}): its name answers one virtual IP, not the pods' "
            f"own IPs, and the DNS spec defines per-pod names such as {pod_name}.web only for a headless Service; "
            "set  clusterIP: None  in Service web"
        )
    if svc is not None and svc.selector is not None and not selected_pods(lab.world, svc):
        labels = sorted({f"{k}={v}" for p in lab.world.pods if p.namespace == lab.ns() and p.name.startswith("web-") for k, v in p.labels.items()
                         if k == "app"})
        hints.append(
            f"Service web's selector {','.join(f'{k}={v}' for k, v in svc.selector.items())} matches no pod in {lab.ns()}"
            + (f" (the StatefulSet's pods carry {', '.join(labels)})" if labels else "")
            + ": a headless Service publishes names only for the pods it selects"
        )
    pod = next((p for p in lab.world.pods if p.namespace == lab.ns() and p.name == pod_name), None)
    if pod is None:
        names = sorted(p.name for p in lab.world.pods if p.namespace == lab.ns() and p.owner and p.owner.startswith("StatefulSet/"))
        hints.append(
            f"no pod {pod_name} in {lab.ns()}: a StatefulSet named web with replicas: 2 creates web-0 and web-1"
            + (f" (StatefulSet pods there: {', '.join(names)})" if names else "")
        )
    elif pod.subdomain != "web":
        hints.append(
            f"pod {pod_name} has subdomain {pod.subdomain or '(none)'}: the StatefulSet's serviceName "
            f"is {pod.subdomain or 'empty'}, but the headless Service is named web; set  serviceName: web"
        )
    return hints


def test_headless_per_pod_names(lab):
    """The StatefulSet web (2 replicas) and its headless Service web: web-0.web.lesson3.svc.cluster.local and web-1.web.lesson3.svc.cluster.local resolve to the IPs of pods web-0 and web-1, and web.lesson3.svc.cluster.local to both pod IPs."""
    _service(lab, "web", "a headless Service")
    domain = f"{lab.ns()}.svc.{lab.world.cluster_domain}"
    pods = {p.name: p for p in lab.pods(None, lab.namespace)}
    for name in ("web-0", "web-1"):
        hints = _web_hints(lab, name)
        pod = pods.get(name)
        if pod is None:
            raise CheckFailed(
                f"a pod {name} in {lab.ns()} (from the StatefulSet web)",
                f"no pod {name}",
                hints=hints,
                kubectl=[f"kubectl get pods -n {lab.ns()} -l app=web"],
            )
        fqdn = f"{name}.web.{domain}"
        r = lab.resolve("client", fqdn)
        lab.expect(r, True, f"{fqdn} resolves to pod {name}'s IP {pod.ip}", hints=hints)
        answers = [str(a) for a in r.data.get("answers", [])]
        if answers != [pod.ip]:
            raise _failed(r, f"{fqdn} resolves to pod {name}'s IP {pod.ip}", f"it resolves to {', '.join(answers) or 'nothing'}", hints)
    r = lab.resolve("client", f"web.{domain}")
    lab.expect(r, True, f"web.{domain} resolves to the web pods' IPs", hints=_web_hints(lab, "web-0"))
    want = {pods["web-0"].ip, pods["web-1"].ip}
    pod_ips = {p.ip for p in pods.values()}
    got = [str(a) for a in r.data.get("answers", [])]
    if not want <= set(got) or not set(got) <= pod_ips:
        raise _failed(
            r,
            f"web.{domain} answers with the web pods' own IPs ({', '.join(sorted(want))})",
            f"it answers {', '.join(got) or 'nothing'}",
            _web_hints(lab, "web-0") or ["a headless Service's name resolves to its ready pods' IPs, not to one virtual IP"],
        )


def test_externalname(lab):
    """The ExternalName Service external-api makes cluster DNS answer external-api.lesson3.svc.cluster.local with a CNAME to example.com (checked on the CNAME answer, not on outside resolution)."""
    svc = _service(lab, "external-api", "an ExternalName Service")
    name = f"external-api.{lab.ns()}.svc.{lab.world.cluster_domain}"
    hints = []
    if svc.type != "ExternalName":
        hints.append(f"Service external-api has type {svc.type}: set  type: ExternalName  and  externalName: {EXTERNAL_NAME}")
    elif _norm(svc.external_name or "") != EXTERNAL_NAME:
        hints.append(f"Service external-api points to {svc.external_name!r}: set  externalName: {EXTERNAL_NAME}  (a host name, no scheme or path)")
    r = lab.resolve("client", name)
    answers = [_norm(a) for a in r.data.get("answers", [])]
    cname = r.data.get("cname") or (answers[0] if r.data.get("type") == "CNAME" and answers else None)
    if _norm(cname or "") != EXTERNAL_NAME:
        raise _failed(
            r,
            f"{name} answers CNAME {EXTERNAL_NAME}",
            f"it answered {r.data.get('type') or r.verdict} {', '.join(answers) or ''}".strip(),
            hints + list(r.data.get("hints", [])),
        )
