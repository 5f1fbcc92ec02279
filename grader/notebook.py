"""The small API the lesson notebooks use: open a lab, show tables and diagrams, check predictions.

    from grader.notebook import open_lab, show_table, topology, request_path, check_prediction
    lab = open_lab("01-pod-networking", namespace="pods-demo")   # live when the course cluster answers
    topology(lab)                                                # a diagram of pods, Services, policies
    r = lab.connect("client", "web", 80); request_path(r, lab)   # the request's path, step by step

Every function works the same on the simulator and on a live cluster. Diagrams are SVG drawn by
Graphviz when the cell runs (grader.diagram): every notebook viewer and exported HTML shows them,
with no network and no JavaScript.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.checks import SetupError
from grader.diagram import GREEN, GREY, INGRESS, POLICY, RED, SERVICE, Diagram
from grader.lab import Lab, Reachability, live_available
from grader.model.names import is_ip
from grader.predictions import LessonMismatch, PredictionNeeded, lookup_cell, predict, reveal, short
from grader.probes import ClientIP, Connect, Http, Resolve, Result

BACKEND_ENV = "GRADE_BACKEND"


# ----------------------------------------------------------------------------------------- the lab


def lessons_dir() -> Path:
    """The course's lessons/ folder (next to exercises/ in the checkout)."""
    from grader.lessons import course_root

    return course_root() / "lessons"


def _resolve_manifest_path(p: str | Path) -> Path:
    path = Path(p)
    if path.exists():
        return path
    for candidate in (lessons_dir() / "manifests" / path, lessons_dir() / path):
        if candidate.exists():
            return candidate
    raise SetupError(
        f"{p}: no such file or folder (looked in {Path.cwd()} and {lessons_dir() / 'manifests'}); "
        "open the notebook from the course checkout's lessons/ folder"
    )


def choose_backend(backend: str | None = None) -> tuple[str, str]:
    """("sim" | "live", why): the argument, else env GRADE_BACKEND (sim|live|auto), else auto."""
    wanted = (backend or os.environ.get(BACKEND_ENV) or "auto").strip().lower()
    if wanted not in ("sim", "live", "auto"):
        raise SetupError(f"{BACKEND_ENV}={wanted!r} is not a backend: use sim, live or auto")
    if wanted == "sim":
        return "sim", f"{BACKEND_ENV}=sim" if not backend else "asked for the simulator"
    ok, reason = live_available()
    if ok:
        return "live", reason
    if wanted == "live":
        raise SetupError(f"{BACKEND_ENV}=live but the course cluster is not reachable: {reason}")
    return "sim", reason


def open_lab(
    manifests: str | Path | Iterable[str | Path],
    namespace: str,
    *,
    backend: str | None = None,
    enforce_policy: bool = True,
    quiet: bool = False,
) -> Lab:
    """Apply a lesson's manifests to the live course cluster when it answers, else to the simulator.

    `manifests`: a folder or file (relative to the working directory or to lessons/manifests/), or
    several. `backend`: "sim", "live" or "auto"; default: env GRADE_BACKEND, else auto.
    `enforce_policy=False` always uses the simulator, modelling a CNI without NetworkPolicy (Flannel).
    Prints one line saying which backend is in use and how to switch.
    """
    paths = [manifests] if isinstance(manifests, (str, Path)) else list(manifests)
    files = [_resolve_manifest_path(p) for p in paths]
    if not enforce_policy:
        lab = Lab.open(files, namespace=namespace, backend="sim", enforce_policy=False)
        _say(quiet, "Simulator, modelling a CNI that does not enforce NetworkPolicy (like Flannel): "
                    "policies are accepted and have no effect.")
        return lab
    name, why = choose_backend(backend)
    if name == "sim":
        lab = Lab.open(files, namespace=namespace, backend="sim")
        _say(quiet, f"Simulator ({why}). For real packets: `grade cluster up`, then set {BACKEND_ENV}=live "
                    "(or auto) and restart the kernel.")
        return lab
    lab = _open_live(files, namespace)
    _say(quiet, f"Live course cluster ({why}). To use the simulator instead: set {BACKEND_ENV}=sim and restart the kernel.")
    return lab


def _say(quiet: bool, line: str) -> None:
    if not quiet:
        print(line)


def _open_live(files: list[Path], namespace: str) -> Lab:
    from grader.backends.live import LiveBackend
    from grader.kube.client import KubeClient
    from grader.manifests import ManifestError, load

    try:
        manifests = load(files, namespace=namespace)
    except ManifestError as e:
        raise SetupError(str(e)) from None
    namespaces = sorted({namespace} | {m.namespace for m in manifests if m.namespace} | {m.name for m in manifests if m.kind == "Namespace"})
    client = KubeClient.connect()
    backend = LiveBackend(client, lesson=f"notebook-{namespace}", namespaces=namespaces)
    _prune_policies(client, manifests, namespaces)
    backend.apply(manifests)
    return Lab(backend, manifests, namespace)


def _prune_policies(client: Any, manifests: list[Any], namespaces: list[str]) -> None:
    """Delete NetworkPolicies a previous cell left in the notebook's namespaces: policies only add
    allowances or isolation, so a leftover would change every later table."""
    wanted = {(m.namespace or namespaces[0], m.name) for m in manifests if m.kind == "NetworkPolicy"}
    owned = set(client.owned_namespaces())
    for ns in namespaces:
        if ns not in owned:
            continue  # not created by the grader (yet): nothing of ours to prune
        for obj in client.list("networking.k8s.io/v1", "NetworkPolicy", ns):
            name = obj["metadata"]["name"]
            if (ns, name) not in wanted:
                client.delete("networking.k8s.io/v1", "NetworkPolicy", name, ns)


def pod(lab: Lab, ref: str) -> Any:
    """The running pod for "name" (the lab's namespace) or "ns/name"; its .ip and .node are the backend's."""
    key = lab.pod_ref(ref)
    found = [p for p in lab.pods() if p.key == key]
    if not found:
        raise SetupError(f"no pod {key} in this lab; its pods: {', '.join(sorted(p.key for p in lab.pods()))}")
    return found[0]


def pods_of(lab: Lab, selector: dict[str, str], namespace: str | None = None) -> list[Any]:
    """Running pods whose labels include `selector` (e.g. the pods behind a Service), sorted by name."""
    return sorted(lab.pods(selector, namespace), key=lambda p: p.key)


def pod_table(lab: Lab, namespace: str | None = None) -> "HtmlTable":
    """The lab's pods as `kubectl get pods -o wide` would list them: name, IP, node, labels."""
    rows = [
        [p.key, p.ip, p.node, "yes" if p.host_network else "", ", ".join(f"{k}={v}" for k, v in sorted(p.labels.items()))]
        for p in sorted(lab.pods(namespace=namespace), key=lambda p: p.key)
    ]
    return HtmlTable(["pod", "IP", "node", "hostNetwork", "labels"], rows)


@dataclass
class HtmlTable:
    """A plain table that shows as HTML in a notebook and as aligned text elsewhere."""

    header: list[str]
    rows: list[list[str]]

    def _repr_html_(self) -> str:
        head = "".join(f"<th style='text-align:left;padding:2px 8px'>{html.escape(h)}</th>" for h in self.header)
        body = "".join(
            "<tr>" + "".join(f"<td style='text-align:left;padding:2px 8px'>{html.escape(str(c))}</td>" for c in r) + "</tr>"
            for r in self.rows
        )
        return f"<table><tr>{head}</tr>{body}</table>"

    def __str__(self) -> str:
        cols = [self.header] + [[str(c) for c in r] for r in self.rows]
        widths = [max(len(r[i]) for r in cols) for i in range(len(self.header))]
        return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cols)

    __repr__ = __str__


# ------------------------------------------------------------------------------------------ tables


class TableView:
    """A reachability table shown coloured (green allowed, red blocked, thick border: differs)."""

    def __init__(self, table: Reachability, title: str = "") -> None:
        self.table = table
        self.title = title

    def _repr_html_(self) -> str:
        from grader.report import reachability_html

        title = f"<p><b>{html.escape(self.title)}</b></p>" if self.title else ""
        return title + reachability_html(self.table)

    def __repr__(self) -> str:
        return (self.title + "\n" if self.title else "") + self.table.render("observed")


def show_table(table: Reachability, title: str = "") -> TableView:
    """Display a reachability table as a coloured HTML table (text outside notebooks)."""
    return TableView(table, title)


def model_expectation(lab: Lab, sources: list[str], targets: list[str], port: int, protocol: str = "TCP") -> dict[tuple[str, str], bool]:
    """{(source, target): allowed} as the simulator's model of the lab's manifests says: the
    expectation for a table whose answer a lesson must not print before the learner predicts it.
    On a live lab, the table's thick borders then show where the cluster differs from the model."""
    from grader.lab import make_backend

    model = lab
    if lab.backend.name != "simulator":
        backend = make_backend("sim")
        backend.apply(lab.manifests)
        model = Lab(backend, lab.manifests, lab.namespace)
    table = model.reachability(sources, targets, port, True, protocol)
    return {(a, b): table.observed[(model.pod_ref(a), model.pod_ref(b))] for a in sources for b in targets}


# ------------------------------------------------------------------------------------------ diagrams

ARROW = "\u2192"


def _id(text: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in text)


def _lab_namespaces(lab: Lab) -> set[str]:
    """The namespaces the lab's manifests use, plus kube-system (cluster DNS answers every lookup)."""
    names = {lab.namespace, "kube-system"}
    for m in lab.manifests:
        names.add(m.name if m.kind == "Namespace" else (m.namespace or lab.namespace))
    return names


def _ports_text(ports: Iterable[Any]) -> str:
    """"80→8080, 53/UDP→53": the protocol only when it is not TCP, the nodePort when there is one."""
    out = []
    for sp in ports:
        proto = "" if sp.protocol == "TCP" else f"/{sp.protocol}"
        out.append(f"{sp.port}{proto}{ARROW}{sp.target_port}" + (f" node {sp.node_port}" if sp.node_port else ""))
    return ", ".join(out)


def topology(lab: Lab, all_namespaces: bool = False) -> Diagram:
    """A diagram of the lab's namespaces, pods (with IP and node), Services and their endpoints,
    NetworkPolicies and the pods they select, and Ingress routes.

    Shows the namespaces of the lab's manifests and kube-system; `all_namespaces=True` adds the rest
    of the cluster (local-path-storage, the default namespace's kubernetes Service)."""
    from grader.model import policy as policy_model
    from grader.model import services as services_model

    world = _world(lab)
    live_ips = {p.key: p.ip for p in lab.pods()}
    d = Diagram("topology", direction="LR")  # Services -> pods left to right; a namespace's pods stack
    namespaces = sorted({p.namespace for p in world.pods} | {s.namespace for s in world.services} | {p.namespace or "" for p in world.policies})
    shown = None if all_namespaces else _lab_namespaces(lab)

    def drawn(namespace: str | None) -> bool:
        return shown is None or (namespace or "") in shown

    for ns in namespaces:
        if not ns or not drawn(ns):
            continue
        frame = d.frame(_id("ns_" + ns), f"namespace {ns}")
        for p in world.pods:
            if p.namespace == ns:
                ip = live_ips.get(p.key, p.ip)
                extra = ", hostNetwork" if p.host_network else ""
                d.node(_id(p.key), f"{p.name}\n{ip}\n{p.node}{extra}", frame=frame)
        for s in world.services:
            if s.namespace != ns:
                continue
            ports = _ports_text(s.ports)
            kind = "headless" if s.headless else s.type
            addr = s.external_name if s.type == "ExternalName" else (s.cluster_ip or "no ClusterIP")
            if s.load_balancer_ip:
                addr += f"\nexternal {s.load_balancer_ip}"
            d.node(_id("svc_" + s.key), f"Service {s.name}\n{kind} {addr or ''}" + (f"\n{ports}" if ports else ""),
                   shape="round", fill=SERVICE, frame=frame)
        for pol in world.policies:
            if pol.namespace == ns:
                types = "+".join(sorted(policy_model.policy_types(pol)))
                d.node(_id("np_" + pol.key), f"policy {pol.name}\n{types}", shape="hex", fill=POLICY, frame=frame)
        for ing in world.ingresses:
            if ing.namespace == ns:
                hosts = _ingress_hosts(ing)
                one_host = f"\nhost {hosts[0]}" if len(hosts) == 1 else ""
                d.node(_id("ing_" + ing.key), f"Ingress {ing.name}{one_host}", shape="square", fill=INGRESS, frame=frame)

    for s in world.services:
        if not drawn(s.namespace):
            continue
        seen = set()
        for ep in services_model.endpoints(world, s):
            if ep.pod and ep.pod not in seen and world.pod(ep.pod) and drawn(ep.pod.split("/", 1)[0]):
                seen.add(ep.pod)
                d.edge(_id("svc_" + s.key), _id(ep.pod))
    for pol in world.policies:
        for p in world.pods:
            if not (drawn(pol.namespace) and drawn(p.namespace)):
                continue
            if pol in policy_model.selecting_policies(world, p, "Ingress") or pol in policy_model.selecting_policies(world, p, "Egress"):
                d.edge(_id("np_" + pol.key), _id(p.key), "selects", dashed=True)
    for ing in world.ingresses:
        if not drawn(ing.namespace):
            continue
        # an Ingress with one host names it in its box and labels its arrows with the path alone: left to right,
        # every label's width adds to the drawing's, and a wide drawing is shrunk until its text is unreadable
        single = len(_ingress_hosts(ing)) == 1
        for rule in ing.spec.get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                name = ((path.get("backend") or {}).get("service") or {}).get("name")
                if name and world.service(ing.namespace or "", name):
                    where = path.get("path", "/") if single else f"{rule.get('host') or '*'}\n{path.get('path', '/')}"
                    d.edge(_id("ing_" + ing.key), _id("svc_" + f"{ing.namespace}/{name}"), where)
    return d


def _ingress_hosts(ing: Any) -> list[str]:
    """The distinct hosts of an Ingress's rules in order ('*' for a rule without a host)."""
    hosts: list[str] = []
    for rule in ing.spec.get("rules") or []:
        host = rule.get("host") or "*"
        if host not in hosts:
            hosts.append(host)
    return hosts


def _world(lab: Lab) -> Any:
    """The simulator's world of the lab: the backend's own when it is the simulator (it knows
    whether the modelled CNI enforces policy), else the one built from the applied manifests."""
    return getattr(lab.backend, "world", None) or lab.world


def request_path(result: Result, lab: Lab | None = None) -> Diagram:
    """A diagram of one probe's path, top to bottom: DNS -> Service -> endpoint -> policy -> listener -> verdict.

    The steps come from the simulator's model of the lab's manifests (`lab.world`); the last box
    is what the backend observed. On a live cluster the two can differ: then the verdict box says so.
    """
    probe = result.probe
    if isinstance(probe, Http):
        return _http_path(result)
    if isinstance(probe, Resolve):
        return _resolve_path(result)
    if lab is None:
        raise TypeError("request_path(result, lab): pass the lab the probe ran in, it holds the manifests")
    return _connect_path(result, lab)


class _Chain:
    """Boxes joined one after another, with the first failed step marked red."""

    def __init__(self, kind: str) -> None:
        self.diagram = Diagram(kind, direction="TB")  # a chain grows downwards: it never gets too wide to read
        self.prev: str | None = None
        self.failed: str | None = None

    def step(self, node_id: str, text: str, shape: str = "box", ok: bool = True, fill: str = "#ffffff", edge: str = "") -> None:
        self.diagram.node(node_id, text, shape=shape, fill=fill if ok else RED)
        if self.prev is not None:
            self.diagram.edge(self.prev, node_id, edge)
        if not ok:
            self.failed = self.failed or node_id
        self.prev = node_id

    def verdict(self, text: str, ok: bool) -> Diagram:
        self.step("verdict", text, "round", fill=GREEN if ok else RED, ok=True)
        self.diagram.restyle("verdict", bold=True)
        return self.diagram


def _connect_path(result: Result, lab: Lab) -> Diagram:
    from grader.model import connect as connect_model
    from grader.model import policy as policy_model
    from grader.model import services as services_model
    from grader.model.listeners import find_listener

    probe = result.probe
    assert isinstance(probe, (Connect, ClientIP))
    protocol = probe.protocol if isinstance(probe, Connect) else "TCP"
    world = _world(lab)
    src = world.pod(probe.src)
    chain = _Chain("request_path")
    chain.step("src", f"{probe.src}" + (f"\n{src.ip}" if src else ""))

    ip = probe.host
    if not is_ip(ip) and src is not None:
        lk = connect_model.lookup(world, src, probe.host)
        a = lk.answer
        if not lk.reachable:
            chain.step("dns", f"DNS {probe.host}\nquery to CoreDNS dropped by egress policy", "hex", ok=False)
        elif a.type == "NXDOMAIN" or not a.answers:
            chain.step("dns", f"DNS {probe.host}\nNXDOMAIN", "hex", ok=False)
        else:
            chain.step("dns", f"DNS {probe.host}\n{a.fqdn or ''}\n{a.type} {', '.join(a.answers[:4])}", "hex")
            ip = a.answers[0]
    if chain.failed is None:
        svc = services_model.find_service_by_ip(world, ip)
        port = probe.port
        if svc is not None:
            sp = services_model.service_port(svc, probe.port, protocol)
            if sp is None:
                chain.step("svc", f"Service {svc.key}\nClusterIP {svc.cluster_ip}\nno port {probe.port}", "round", ok=False)
            else:
                eps = services_model.ready_endpoints(world, svc, sp)
                chain.step("svc", f"Service {svc.key}\n{svc.cluster_ip}:{sp.port} {ARROW} targetPort {sp.target_port}\nkube-proxy DNAT",
                           "round", ok=bool(eps), fill=SERVICE)
                if eps:
                    chosen = result.data.get("endpoint") or eps[0].pod
                    ep = next((e for e in eps if e.pod == chosen), eps[0])
                    others = len(eps) - 1
                    chain.step("ep", f"endpoint {ep.pod or ep.ip}\n{ep.ip}:{ep.port}" + (f"\n(+{others} more)" if others else ""))
                    ip, port = ep.ip, ep.port
                else:
                    chain.step("ep", "no ready endpoints", ok=False)
        if chain.failed is None:
            dst = next((p for p in world.pods if p.ip == ip and not p.host_network), None)
            if dst is None:
                chain.step("dst", f"{ip}:{port}\nnot a pod of this lab")
            else:
                v = policy_model.evaluate(world, src, dst, port, protocol)
                eg = "egress: not isolated" if not v.egress.isolated else ("egress: allowed by " + ", ".join(v.egress.allowing) if v.egress.allowed else "egress: BLOCKED")
                ig = "ingress: not isolated" if not v.ingress.isolated else ("ingress: allowed by " + ", ".join(v.ingress.allowing) if v.ingress.allowed else "ingress: BLOCKED")
                if not world.cni_enforces_policy:
                    eg, ig = "CNI does not enforce", "NetworkPolicy"
                chain.step("policy", f"NetworkPolicy\n{eg}\n{ig}", "hex", ok=v.allowed, fill=POLICY)
                if v.allowed:
                    listener = find_listener(dst, port, protocol)
                    what = f"{dst.key} listens on {protocol}/{port}" if listener else f"{dst.key}: nothing listens on {protocol}/{port}"
                    chain.step("listener", what, ok=listener is not None)
    text = result.verdict.upper()
    if (chain.failed is None) != result.ok:
        text += "\n(the simulator predicted the opposite)"
    return chain.verdict(text, result.ok)


def _resolve_path(result: Result) -> Diagram:
    from grader.model.dns import query_names

    probe = result.probe
    assert isinstance(probe, Resolve)
    ns = probe.src.split("/", 1)[0]
    chain = _Chain("request_path")
    chain.step("src", probe.src)
    chain.step("q", f"lookup {probe.name}\nsearch list, ndots:5", "hex")
    fqdn = (result.data.get("fqdn") or "").rstrip(".").lower()
    for i, name in enumerate(query_names(probe.name.lower(), ns)):
        hit = result.ok and name == fqdn
        chain.step(f"c{i}", f"{name}.", fill=GREEN if hit else GREY, edge=f"try {i + 1}")
        if hit:
            break
    answer = f"{result.data.get('type', result.verdict)} {', '.join(result.data.get('answers') or [])}".strip()
    return chain.verdict(answer, result.ok)


def _http_path(result: Result) -> Diagram:
    probe = result.probe
    assert isinstance(probe, Http)
    d = result.data
    scheme = "https" if probe.tls else "http"
    chain = _Chain("request_path")
    chain.step("client", f"client outside the cluster\n{scheme}://{probe.host}{probe.path}")
    entry = {"ingress": "Ingress controller", "nodeport": f"a node, NodePort {probe.port}"}.get(probe.via, f"LoadBalancer {probe.via.split(':', 1)[-1]}")
    if probe.via.startswith("gateway:"):
        entry = f"Gateway {probe.via.split(':', 1)[1]}" + (f"\nlistener {d['listener']}" if d.get("listener") else "")
    chain.step("entry", entry)
    if probe.tls:
        chain.step("tls", f"TLS by SNI {probe.host}\nSecret {d.get('tls_secret') or 'none'}\nSANs {', '.join(d.get('cert_sans') or []) or '-'}",
                   "hex", ok=bool(d.get("cert_sans")))
    if d.get("route"):
        chain.step("ing", f"HTTPRoute {d['route']}", "para", fill=INGRESS)
    elif d.get("ingress"):
        chain.step("ing", f"Ingress {d['ingress']}", "para", fill=INGRESS)
    if d.get("service"):
        chain.step("svc", f"Service {d['service']}", "round", fill=SERVICE)
    if d.get("endpoint"):
        chain.step("ep", f"endpoint {d['endpoint']}")
    status = d.get("status")
    return chain.verdict(f"HTTP {status if status is not None else 'no answer'}\n{result.verdict}", result.ok)


def explain(result: Result) -> None:
    """Print a probe's verdict, its evidence (the simulator's trace or the live command's output),
    hints, and the kubectl command that reproduces it."""
    print(f"verdict: {result.verdict} (ok={result.ok})")
    for line in result.evidence:
        print(f"  {line}")
    for h in result.data.get("hints") or []:
        print(f"  hint: {h}")
    if result.kubectl:
        print(f"  reproduce: {result.kubectl}")


# ------------------------------------------------------------------------------------- predictions


@dataclass
class PredictionCheck:
    """Your prediction next to what happened. `matches` is True when every filled-in cell agrees."""

    rows: list[tuple[str, Any, Any]] = field(default_factory=list)  # (what, predicted, actual)

    @property
    def missing(self) -> list[str]:
        return [k for k, p, _ in self.rows if p is None or p == "?"]

    @property
    def wrong(self) -> list[str]:
        return [k for k, p, a in self.rows if not (p is None or p == "?") and p != a]

    @property
    def matches(self) -> bool:
        return not self.wrong and not self.missing

    def summary(self) -> str:
        total = len(self.rows)
        right = total - len(self.wrong) - len(self.missing)
        text = f"{right} of {total} predictions right"
        if self.wrong:
            text += "; different: " + ", ".join(self.wrong)
        if self.missing:
            text += f"; {len(self.missing)} not filled in (replace None with your guess and run both cells again)"
        return text

    def _repr_html_(self) -> str:
        out = [f"<p><b>{html.escape(self.summary())}</b></p><table><tr><th style='text-align:left'>case</th><th>you said</th><th>observed</th><th></th></tr>"]
        for k, p, a in self.rows:
            if p is None or p == "?":
                mark, colour = "not predicted", "#eee"
            elif p == a:
                mark, colour = "right", "#c8f7c5"
            else:
                mark, colour = "differs", "#f7c5c5"
            out.append(
                f"<tr style='background:{colour}'><td style='text-align:left;padding:2px 8px'>{html.escape(k)}</td>"
                f"<td style='padding:2px 8px'>{html.escape(_fmt(p))}</td><td style='padding:2px 8px'>{html.escape(_fmt(a))}</td>"
                f"<td style='padding:2px 8px'>{mark}</td></tr>"
            )
        out.append("</table>")
        return "".join(out)

    def __repr__(self) -> str:
        lines = [self.summary()]
        lines += [f"  {k}: you said {_fmt(p)}, observed {_fmt(a)}" for k, p, a in self.rows]
        return "\n".join(lines)


def _fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes (True)" if v else "no (False)"
    return str(v)


def _key_text(key: Any) -> str:
    if isinstance(key, tuple):
        return " -> ".join(_short_pod_key(str(k)) for k in key)
    return str(key)


def _short_pod_key(text: str) -> str:
    """"ns/pod" -> "pod"; anything else (an HTTP path "/api/v1", a host) is kept whole."""
    ns, sep, name = text.partition("/")
    return name if sep and ns and name and "/" not in name else text


def check_prediction(prediction: Mapping[Any, Any] | Reachability | Any, actual: Any) -> PredictionCheck:
    """Compare a prediction with what happened and say what differed (never raises on a wrong guess).

    The lessons use predict(...) and reveal(...) instead (grader.predictions): those stop Run All
    until the learner has predicted, and speak the probe's words. This older form stays for a
    lesson converted from the old format until its predictions are rewritten.

    - prediction {(src, dst): bool} (pod names, "ns/pod" or bare) vs a Reachability table;
    - prediction {case: value} vs a dict {case: observed value} (e.g. {"web:80": True});
    - prediction bool vs a Result (its `ok`), or str vs a Result (its `verdict`).
    A value of None means "not predicted yet".
    """
    check = PredictionCheck()
    if isinstance(actual, Result):
        observed = actual.verdict if isinstance(prediction, str) else actual.ok
        check.rows.append(("outcome", prediction, observed))
        return check
    if isinstance(prediction, Reachability):
        prediction = prediction.expected
    if isinstance(actual, Reachability):
        if not isinstance(prediction, Mapping):
            raise TypeError("a prediction for a table is a dict {(source, target): True/False}")
        keys = list(prediction) or list(actual.observed)
        for key in keys:
            if not isinstance(key, tuple) or len(key) != 2:
                raise TypeError(f"prediction key {key!r}: write (source pod, target pod)")
            obs = lookup_cell(actual, key)
            if obs is None:
                raise KeyError(f"the table has no cell {key!r}: its sources are {actual.sources}, its targets {actual.targets}")
            check.rows.append((_key_text(key), prediction[key], obs))
        return check
    if isinstance(actual, Mapping):
        if not isinstance(prediction, Mapping):
            raise TypeError("predict with a dict of the same keys as the result")
        unknown = [k for k in prediction if k not in actual]
        if unknown:
            raise KeyError(f"no observed value for {unknown}: the keys are {list(actual)}")
        for key in actual:
            check.rows.append((_key_text(key), prediction.get(key), actual[key]))
        return check
    check.rows.append(("value", prediction, actual))
    return check


def table_from_results(results: Mapping[str, Result]) -> dict[str, bool]:
    """{case: Result} -> {case: ok}, the observed side of a dict prediction."""
    return {k: r.ok for k, r in results.items()}
