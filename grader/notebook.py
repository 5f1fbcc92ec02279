"""The small API the lesson notebooks use: open a lab, show tables and diagrams, check predictions.

    from grader.notebook import open_lab, show_table, topology, request_path, check_prediction
    lab = open_lab("01-pod-networking", namespace="pods-demo")   # live when the course cluster answers
    topology(lab)                                                # a Mermaid diagram of pods and Services
    r = lab.connect("client", "web", 80); request_path(r, lab)   # the request's path, step by step

Every function works the same on the simulator and on a live cluster. Diagrams are Mermaid source,
shown by JupyterLab >= 4.1 (MIME type text/vnd.mermaid, or a ```mermaid block in Markdown).
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grader.checks import SetupError
from grader.lab import Lab, Reachability, live_available
from grader.model.names import is_ip
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


def short(key: str) -> str:
    """"ns/pod" -> "pod" (for tables whose pods share one namespace)."""
    return key.rsplit("/", 1)[-1]


# ------------------------------------------------------------------------------------------ diagrams


@dataclass
class Diagram:
    """Mermaid source that JupyterLab >= 4.1 draws; elsewhere the source is shown as text."""

    source: str

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return {
            "text/vnd.mermaid": self.source,
            "text/markdown": f"```mermaid\n{self.source}\n```",
            "text/plain": self.source,
        }

    def __str__(self) -> str:
        return self.source


ARROW = "\u2192"  # "->" would wrap between "-" and ">" inside a narrow Mermaid box

# Request paths are one long row: narrower boxes keep the text readable when JupyterLab scales the
# diagram down to the cell's width (Mermaid >= 10.5 reads this front matter).
PATH_HEADER = "---\nconfig:\n  flowchart:\n    wrappingWidth: 150\n    nodeSpacing: 25\n    rankSpacing: 30\n---\nflowchart LR"


def _id(text: str) -> str:
    return "n_" + "".join(c if c.isalnum() else "_" for c in text)


def _label(text: str) -> str:
    """Text safe inside a quoted Mermaid label."""
    return text.replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;").replace("\n", "<br/>")  # "\n" breaks a line


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
    """A flowchart of the lab's namespaces, pods (with IP and node), Services and their endpoints,
    NetworkPolicies and the pods they select, and Ingress routes.

    Shows the namespaces of the lab's manifests and kube-system; `all_namespaces=True` adds the rest
    of the cluster (local-path-storage, the default namespace's kubernetes Service)."""
    from grader.model import policy as policy_model
    from grader.model import services as services_model

    world = _world(lab)
    live_ips = {p.key: p.ip for p in lab.pods()}
    lines = ["flowchart LR"]
    namespaces = sorted({p.namespace for p in world.pods} | {s.namespace for s in world.services} | {p.namespace or "" for p in world.policies})
    shown = None if all_namespaces else _lab_namespaces(lab)
    for ns in namespaces:
        if not ns or (shown is not None and ns not in shown):
            continue
        lines.append(f'  subgraph {_id("ns_" + ns)}["namespace {_label(ns)}"]')
        for p in world.pods:
            if p.namespace != ns:
                continue
            ip = live_ips.get(p.key, p.ip)
            extra = ", hostNetwork" if p.host_network else ""
            lines.append(f'    {_id(p.key)}["{_label(p.name)}<br/>{ip}<br/>{_label(p.node)}{extra}"]')
        for s in world.services:
            if s.namespace != ns:
                continue
            ports = _ports_text(s.ports)
            kind = "headless" if s.headless else s.type
            addr = s.external_name if s.type == "ExternalName" else (s.cluster_ip or "no ClusterIP")
            if s.load_balancer_ip:
                addr += f" external {s.load_balancer_ip}"
            lines.append(f'    {_id("svc_" + s.key)}(["Service {_label(s.name)}<br/>{kind} {_label(addr or "")}' + (f"<br/>{_label(ports)}" if ports else "") + '"])')
        for pol in world.policies:
            if pol.namespace != ns:
                continue
            types = "+".join(sorted(policy_model.policy_types(pol)))
            lines.append(f'    {_id("np_" + pol.key)}{{{{"policy {_label(pol.name)}<br/>{types}"}}}}')
        for ing in world.ingresses:
            if ing.namespace == ns:
                lines.append(f'    {_id("ing_" + ing.key)}[/"Ingress {_label(ing.name)}"/]')
        lines.append("  end")
    def drawn(namespace: str | None) -> bool:
        return shown is None or (namespace or "") in shown

    for s in world.services:
        seen = set()
        if not drawn(s.namespace):
            continue
        for ep in services_model.endpoints(world, s):
            if ep.pod and ep.pod not in seen and world.pod(ep.pod) and drawn(ep.pod.split("/", 1)[0]):
                seen.add(ep.pod)
                lines.append(f"  {_id('svc_' + s.key)} --> {_id(ep.pod)}")
    for pol in world.policies:
        for p in world.pods:
            if not (drawn(pol.namespace) and drawn(p.namespace)):
                continue
            if pol in policy_model.selecting_policies(world, p, "Ingress") or pol in policy_model.selecting_policies(world, p, "Egress"):
                lines.append(f"  {_id('np_' + pol.key)} -. selects .-> {_id(p.key)}")
    for ing in world.ingresses:
        if not drawn(ing.namespace):
            continue
        for rule in ing.spec.get("rules") or []:
            for path in (rule.get("http") or {}).get("paths") or []:
                name = ((path.get("backend") or {}).get("service") or {}).get("name")
                if name and world.service(ing.namespace or "", name) and drawn(ing.namespace):
                    label = _label(f"{rule.get('host') or '*'}{path.get('path', '/')}")
                    lines.append(f'  {_id("ing_" + ing.key)} -- "{label}" --> {_id("svc_" + f"{ing.namespace}/{name}")}')
    return Diagram("\n".join(lines))


def _world(lab: Lab) -> Any:
    """The simulator's world of the lab: the backend's own when it is the simulator (it knows
    whether the modelled CNI enforces policy), else the one built from the applied manifests."""
    return getattr(lab.backend, "world", None) or lab.world


def request_path(result: Result, lab: Lab | None = None) -> Diagram:
    """A flowchart of one probe's path: DNS -> Service -> endpoint -> policy -> listener -> verdict.

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


def _verdict_box(result: Result, expected_ok: bool | None = None) -> list[str]:
    colour = "#c8f7c5" if result.ok else "#f7c5c5"
    text = f"{result.verdict.upper()}"
    if expected_ok is not None and expected_ok != result.ok:
        text += "\n(the simulator predicted the opposite)"
    return [f'  verdict(["{_label(text)}"])', f"  style verdict fill:{colour},stroke:#333"]


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
    lines = [PATH_HEADER]
    src_text = f"{probe.src}" + (f"\n{src.ip}" if src else "")
    lines.append(f'  src["{_label(src_text)}"]')
    prev = "src"
    failed_step: str | None = None

    def step(node_id: str, text: str, shape: str = "box", ok: bool = True) -> None:
        nonlocal prev, failed_step
        left, right = {"box": ("[", "]"), "round": ("([", "])"), "diamond": ("{", "}"), "hex": ("{{", "}}")}[shape]
        lines.append(f'  {node_id}{left}"{_label(text)}"{right}')
        lines.append(f"  {prev} --> {node_id}")
        if not ok:
            lines.append(f"  style {node_id} fill:#f7c5c5,stroke:#a00")
            failed_step = failed_step or node_id
        prev = node_id

    ip = probe.host
    if not is_ip(ip) and src is not None:
        lk = connect_model.lookup(world, src, probe.host)
        a = lk.answer
        if not lk.reachable:
            step("dns", f"DNS {probe.host}\nquery to CoreDNS dropped by egress policy", "hex", ok=False)
        elif a.type == "NXDOMAIN" or not a.answers:
            step("dns", f"DNS {probe.host}\nNXDOMAIN", "hex", ok=False)
        else:
            step("dns", f"DNS {probe.host}\n{a.fqdn or ''}\n{a.type} {', '.join(a.answers[:4])}", "hex")
            ip = a.answers[0]
    if failed_step is None:
        svc = services_model.find_service_by_ip(world, ip)
        port = probe.port
        if svc is not None:
            sp = services_model.service_port(svc, probe.port, protocol)
            if sp is None:
                step("svc", f"Service {svc.key}\nClusterIP {svc.cluster_ip}\nno port {probe.port}", "round", ok=False)
            else:
                eps = services_model.ready_endpoints(world, svc, sp)
                step("svc", f"Service {svc.key}\n{svc.cluster_ip}:{sp.port} {ARROW} targetPort {sp.target_port}\nkube-proxy DNAT", "round", ok=bool(eps))
                if eps:
                    chosen = result.data.get("endpoint") or eps[0].pod
                    ep = next((e for e in eps if e.pod == chosen), eps[0])
                    others = len(eps) - 1
                    step("ep", f"endpoint {ep.pod or ep.ip}\n{ep.ip}:{ep.port}" + (f"\n(+{others} more)" if others else ""))
                    ip, port = ep.ip, ep.port
                else:
                    step("ep", "no ready endpoints", ok=False)
        if failed_step is None:
            dst = next((p for p in world.pods if p.ip == ip and not p.host_network), None)
            if dst is None:
                step("dst", f"{ip}:{port}\nnot a pod of this lab")
            else:
                v = policy_model.evaluate(world, src, dst, port, protocol)
                eg = "egress: not isolated" if not v.egress.isolated else ("egress: allowed by " + ", ".join(v.egress.allowing) if v.egress.allowed else "egress: BLOCKED")
                ig = "ingress: not isolated" if not v.ingress.isolated else ("ingress: allowed by " + ", ".join(v.ingress.allowing) if v.ingress.allowed else "ingress: BLOCKED")
                if not world.cni_enforces_policy:
                    eg, ig = "CNI does not enforce", "NetworkPolicy"
                step("policy", f"NetworkPolicy\n{eg}\n{ig}", "hex", ok=v.allowed)  # a diamond grows with its text
                if v.allowed:
                    listener = find_listener(dst, port, protocol)
                    what = f"{dst.key} listens on {protocol}/{port}" if listener else f"{dst.key}: nothing listens on {protocol}/{port}"
                    step("listener", what, ok=listener is not None)
    lines.append(f"  {prev} --> verdict")
    lines += _verdict_box(result, expected_ok=failed_step is None)
    return Diagram("\n".join(lines))


def _resolve_path(result: Result) -> Diagram:
    from grader.model.dns import query_names

    probe = result.probe
    assert isinstance(probe, Resolve)
    ns = probe.src.split("/", 1)[0]
    lines = [PATH_HEADER, f'  src["{_label(probe.src)}"]', f'  q{{{{"lookup {_label(probe.name)}<br/>search list, ndots:5"}}}}', "  src --> q"]
    fqdn = (result.data.get("fqdn") or "").rstrip(".").lower()
    prev = "q"
    for i, name in enumerate(query_names(probe.name.lower(), ns)):
        hit = result.ok and name == fqdn
        lines.append(f'  c{i}["{_label(name)}."]')
        lines.append(f"  {prev} -- try {i + 1} --> c{i}")
        lines.append(f"  style c{i} fill:{'#c8f7c5' if hit else '#eee'},stroke:#333")
        if hit:
            prev = f"c{i}"
            break
        prev = f"c{i}"
    answer = f"{result.data.get('type', result.verdict)} {', '.join(result.data.get('answers') or [])}"
    lines.append(f'  ans(["{_label(answer)}"])')
    lines.append(f"  {prev} --> ans")
    lines.append(f"  style ans fill:{'#c8f7c5' if result.ok else '#f7c5c5'},stroke:#333")
    return Diagram("\n".join(lines))


def _http_path(result: Result) -> Diagram:
    probe = result.probe
    assert isinstance(probe, Http)
    d = result.data
    scheme = "https" if probe.tls else "http"
    lines = [PATH_HEADER, f'  client["client outside the cluster<br/>{scheme}://{_label(probe.host)}{_label(probe.path)}"]']
    entry = {"ingress": "Ingress controller", "nodeport": f"a node, NodePort {probe.port}"}.get(probe.via, f"LoadBalancer {probe.via.split(':', 1)[-1]}")
    if probe.via.startswith("gateway:"):
        entry = f"Gateway {probe.via.split(':', 1)[1]}" + (f"<br/>listener {d['listener']}" if d.get("listener") else "")
    lines.append(f'  entry["{_label(entry)}"]')
    lines.append("  client --> entry")
    prev = "entry"
    if probe.tls:
        lines.append(f'  tls{{{{"TLS by SNI {_label(probe.host)}<br/>Secret {_label(d.get("tls_secret") or "none")}<br/>SANs {_label(", ".join(d.get("cert_sans") or []) or "-")}"}}}}')
        lines.append(f"  {prev} --> tls")
        prev = "tls"
    if d.get("route"):
        lines.append(f'  ing[/"HTTPRoute {_label(d["route"])}"/]')
        lines.append(f"  {prev} --> ing")
        prev = "ing"
    elif d.get("ingress"):
        lines.append(f'  ing[/"Ingress {_label(d["ingress"])}"/]')
        lines.append(f"  {prev} --> ing")
        prev = "ing"
    if d.get("service"):
        lines.append(f'  svc(["Service {_label(d["service"])}"])')
        lines.append(f"  {prev} --> svc")
        prev = "svc"
    if d.get("endpoint"):
        lines.append(f'  ep["endpoint {_label(d["endpoint"])}"]')
        lines.append(f"  {prev} --> ep")
        prev = "ep"
    status = d.get("status")
    lines.append(f"  {prev} --> verdict")
    lines.append(f'  verdict(["HTTP {status if status is not None else "no answer"}<br/>{_label(result.verdict)}"])')
    lines.append(f"  style verdict fill:{'#c8f7c5' if result.ok else '#f7c5c5'},stroke:#333")
    return Diagram("\n".join(lines))


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
    if v is True:
        return "allowed (True)"
    if v is False:
        return "blocked (False)"
    return str(v)


def _key_text(key: Any) -> str:
    if isinstance(key, tuple):
        return " -> ".join(_short_pod_key(str(k)) for k in key)
    return str(key)


def _short_pod_key(text: str) -> str:
    """"ns/pod" -> "pod"; anything else (an HTTP path "/api/v1", a host) is kept whole."""
    ns, sep, name = text.partition("/")
    return name if sep and ns and name and "/" not in name else text


def _lookup_cell(table: Reachability, key: tuple[str, str]) -> bool | None:
    """A cell by ("ns/a", "ns/b") or by bare pod names when those are unambiguous."""
    if key in table.observed:
        return table.observed[key]
    matches = [k for k in table.observed if short(k[0]) == short(key[0]) and short(k[1]) == short(key[1])]
    return table.observed[matches[0]] if len(matches) == 1 else None


def check_prediction(prediction: Mapping[Any, Any] | Reachability | Any, actual: Any) -> PredictionCheck:
    """Compare a prediction with what happened and say what differed (never raises on a wrong guess).

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
            obs = _lookup_cell(actual, key)
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
