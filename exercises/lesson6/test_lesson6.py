"""Lesson 6: debugging by break and fix. Every task is one part of the healthy shop system."""

from __future__ import annotations

from grader.checks import CheckFailed
from grader.model.names import wildcard_match
from grader.model.selectors import describe, matches
from grader.model.services import selected_pods

SHOP_HOST = "shop.example.com"
FRONTEND = "lesson6-frontend/frontend"


def test_pod_to_pod(lab):
    """The web pods reach the api pods on TCP 8080; the frontend (another namespace) does not: api's NetworkPolicy lets web, and only web, in."""
    webs = _pod_refs(lab, {"app": "web"})
    apis = _pod_refs(lab, {"app": "api"})
    sources = webs + [FRONTEND]
    expected = {(s, t): s != FRONTEND for s in sources for t in apis}
    table = lab.reachability(sources, apis, 8080, expected)
    hints = []
    selecting = [p for p in _policies(lab) if matches(p.spec.get("podSelector") or {}, {"app": "api"})]
    if not selecting:
        hints.append("no NetworkPolicy protects api any more: fix the policy's rule instead of deleting the policy")
    for pol in selecting:
        for rule in pol.spec.get("ingress") or []:
            for peer in rule.get("from") or []:
                if peer.get("namespaceSelector") == {} and not peer.get("podSelector"):
                    hints.append(
                        f"NetworkPolicy {pol.key}: the peer `namespaceSelector: {{}}` lets every pod of every namespace in, the "
                        "frontend too; allow the web pods only (podSelector app: web, no namespaceSelector)"
                    )
                sel = peer.get("podSelector")
                if sel and "namespaceSelector" not in peer and not any(
                    p.namespace == pol.namespace and matches(sel, p.labels) for p in lab.world.pods
                ):
                    hints.append(
                        f"NetworkPolicy {pol.key} allows pods matching {describe(sel)} in {pol.namespace}, and no pod there has "
                        "those labels (kubectl get pods -n lesson6 --show-labels)"
                    )
    lab.expect_table(table, "web reaches api on 8080, the frontend does not", hints=hints)


def test_service(lab):
    """The client pod connects to the Service web on port 80 (web has endpoints, and its targetPort is the port the pods listen on)."""
    r = lab.connect("client", "web", 80)
    lab.expect(r, True, "client connects to web:80", hints=_service_hints(lab, "web") + _client_egress_port_hints(lab))


def test_dns(lab):
    """The client resolves web and api.lesson6 by name under its egress policy, and its egress stays limited (the frontend pod is blocked)."""
    for name in ("web", f"api.{lab.ns()}"):
        r = lab.resolve("client", name)
        lab.expect(
            r,
            True,
            f"client resolves {name}",
            hints=[
                "the client is isolated for egress: DNS queries go to the kube-dns pods in kube-system on port 53 "
                "(UDP and TCP) and need an egress rule of their own"
            ],
        )
    frontends = _pod_refs(lab, {"app": "frontend"}, lab.ns("lesson6-frontend"))
    table = lab.reachability(["client"], frontends, 8080, False)
    lab.expect_table(
        table,
        "the client's egress stays limited to DNS and web",
        hints=["the client's egress policy allows more than DNS and web: allow port 53 to kube-dns, not everything"],
    )


def test_cross_namespace_name(lab):
    """The frontend (namespace lesson6-frontend) reaches web on port 80 with the name in ConfigMap frontend-config, key WEB_HOST."""
    ns = lab.ns("lesson6-frontend")
    cm = next((o for o in lab.world.others if o.kind == "ConfigMap" and o.namespace == ns and o.name == "frontend-config"), None)
    host = ((cm.obj.get("data") or {}).get("WEB_HOST") if cm else None) or ""
    if not host:
        raise CheckFailed(
            f"ConfigMap {ns}/frontend-config has a key WEB_HOST with the address of web",
            "no such ConfigMap" if cm is None else "the ConfigMap has no WEB_HOST",
            hints=["keep frontend-config in namespace lesson6-frontend; the frontend pod reads WEB_HOST from it"],
            kubectl=[f"kubectl get configmap frontend-config -n {ns} -o yaml"],
        )
    hints = []
    if "." not in host.strip("."):
        hints.append(
            f"WEB_HOST is the short name {host!r}: a short name is looked up in the pod's own namespace ({ns}); "
            f"from another namespace use {host}.{lab.ns()} or {host}.{lab.ns()}.svc.cluster.local"
        )
    r = lab.connect(FRONTEND, host, 80)
    lab.expect(r, True, f"the frontend connects to {host}:80 (WEB_HOST)", hints=hints)
    if not (r.data.get("service") or "").endswith(f"{lab.ns()}/web"):
        raise CheckFailed(
            f"WEB_HOST ({host}) names the Service web in {lab.ns()}",
            f"it reached {r.data.get('service') or r.data.get('endpoint') or 'something else'}",
            evidence=r.evidence,
            kubectl=[r.kubectl],
        )


def test_ingress(lab):
    """http://shop.example.com/ through the ingress is answered by the Service web."""
    r = lab.http("ingress", SHOP_HOST, "/")
    lab.expect(r, True, f"http://{SHOP_HOST}/ through the ingress answers (HTTP 2xx)", hints=_service_hints(lab, "web"))
    if not (r.data.get("service") or "").endswith("/web"):
        raise CheckFailed(
            f"http://{SHOP_HOST}/ is answered by Service web", f"answered by {r.data.get('service')}", evidence=r.evidence, kubectl=[r.kubectl]
        )


def test_tls(lab):
    """https://shop.example.com/ answers with the shop's certificate (its SANs include shop.example.com)."""
    hints = []
    for ing in (i for i in lab.world.ingresses if i.namespace == lab.ns()):
        for t in ing.spec.get("tls") or []:
            name = t.get("secretName")
            here = any(s.name == name and s.namespace == ing.namespace for s in lab.world.secrets)
            elsewhere = sorted({s.namespace for s in lab.world.secrets if s.name == name and s.namespace != ing.namespace})
            if not here and elsewhere:
                hints.append(
                    f"Secret {name} is in namespace {', '.join(elsewhere)}, but Ingress {ing.key} can only use Secrets of its own "
                    f"namespace ({ing.namespace})"
                )
    r = lab.http("ingress", SHOP_HOST, "/", tls=True)
    lab.expect(r, True, f"https://{SHOP_HOST}/ answers (TLS handshake and HTTP 2xx)", hints=hints)
    sans = [s.lower() for s in r.data.get("cert_sans") or []]
    if not any(wildcard_match(san, SHOP_HOST) for san in sans):
        raise CheckFailed(
            f"the certificate served for {SHOP_HOST} names it in its subjectAltName",
            f"served certificate SANs: {', '.join(sans) or '(none)'}",
            evidence=r.evidence,
            hints=hints,
            kubectl=[r.kubectl],
        )


# -------------------------------------------------------------------------------------- helpers


def _pod_refs(lab, labels: dict[str, str], namespace: str | None = None) -> list[str]:
    ns = namespace or lab.ns()
    pods = lab.pods(labels, ns)
    if not pods:
        raise CheckFailed(
            f"pods labelled {describe({'matchLabels': labels})} run in {ns}",
            "none found",
            hints=["the course fixtures create these pods: do not delete or relabel them"],
            kubectl=[f"kubectl get pods -n {ns} --show-labels"],
        )
    return [p.key for p in pods]


def _policies(lab):
    return [p for p in lab.world.policies if p.namespace == lab.ns()]


def _service_hints(lab, name: str) -> list[str]:
    """Recognised Service mistakes: a selector that matches no pod, a targetPort no pod listens on."""
    svc = lab.world.service(lab.ns(), name)
    if svc is None:
        return [f"there is no Service {name} in {lab.ns()}"]
    hints = []
    if svc.headless:
        hints.append(
            f"Service {svc.key} is headless (clusterIP: None): its name resolves to the pods' IPs, port 80 is not translated to "
            "targetPort 8080, and the Ingress controller cannot use it; remove clusterIP: None"
        )
    if svc.selector is not None and not selected_pods(lab.world, svc):
        pods = [p for p in lab.world.pods if p.namespace == svc.namespace]
        labels = sorted({f"{k}={v}" for p in pods for k, v in p.labels.items() if k == "app"})
        hints.append(
            f"Service {svc.key} has no endpoints: its selector {svc.selector} matches no pod; the pods have labels {', '.join(labels)}"
        )
    return hints


def _client_egress_port_hints(lab) -> list[str]:
    hints = []
    for pol in _policies(lab):
        if not matches(pol.spec.get("podSelector") or {}, {"app": "client"}):
            continue
        for rule in pol.spec.get("egress") or []:
            for port in rule.get("ports") or []:
                if port.get("port") == 80:
                    hints.append(
                        f"NetworkPolicy {pol.key} allows egress to port 80, the Service's port; policies see the connection after "
                        "the Service has translated it, so they must allow the pod's port (targetPort 8080)"
                    )
    return hints
