"""The Lab: manifests applied to a backend, and the verbs checks and notebook cells use.

    lab = Lab.open(["exercises/lesson2/fixtures", "work/lesson2"], namespace="lesson2")
    r = lab.connect("client", "my-service", 80)
    lab.expect(r, True, "client reaches my-service:80")

The same calls work on the simulator and on a live cluster; a check never asks which one it is on.
On both, the simulator's World of the applied manifests is kept in `lab.world`, so a failed live
probe is explained with the simulator's trace and diagnosis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from grader.checks import CheckFailed, SetupError
from grader.lessons import MANIFEST_SUFFIXES, Lesson, ensure_workspace, load_lesson
from grader.probes import Backend, ClientIP, Connect, Http, Probe, Resolve, Result


@dataclass
class Reachability:
    """A truth table: rows are sources, columns are destinations, for one port and protocol.

    Printed as the upstream e2e tests print it: `.` allowed, `X` blocked; differing cells are
    shown as the observed value in a marked form (`!.` / `!X`).
    """

    sources: list[str]
    targets: list[str]
    port: int
    protocol: str
    expected: dict[tuple[str, str], bool]
    observed: dict[tuple[str, str], bool] = field(default_factory=dict)
    results: dict[tuple[str, str], Result] = field(default_factory=dict)

    def differences(self) -> list[tuple[str, str]]:
        return [k for k, v in self.expected.items() if k in self.observed and self.observed[k] != v]

    def render(self, which: str = "observed") -> str:
        table = self.observed if which == "observed" else self.expected
        width = max([len(s) for s in self.sources + self.targets] + [4])
        diffs = set(self.differences()) if which == "observed" else set()
        head = " " * width + " " + " ".join(t.rjust(width) for t in self.targets)
        lines = [f"{which} ({self.protocol}/{self.port}; . allowed, X blocked, ! differs from expected):", head]
        for s in self.sources:
            cells = []
            for t in self.targets:
                v = table.get((s, t))
                mark = "?" if v is None else ("." if v else "X")
                if (s, t) in diffs:
                    mark = "!" + mark
                cells.append(mark.rjust(width))
            lines.append(s.rjust(width) + " " + " ".join(cells))
        return "\n".join(lines)

    def _repr_html_(self) -> str:  # notebooks show the table coloured
        from grader.report import reachability_html

        return reachability_html(self)


class Lab:
    """Manifests applied to a backend, with verbs for probing them."""

    def __init__(self, backend: Backend, manifests: list[Any], namespace: str, *, namespace_map: dict[str, str] | None = None,
                 node_port_map: dict[int, int] | None = None) -> None:
        """`namespace_map` and `node_port_map` (a workshop learner's namespaces and nodePorts, lesson -> real)
        let checks keep the lesson's names and numbers."""
        from grader.model.workloads import build_world

        self.backend = backend
        self.manifests = manifests
        self.namespace = namespace
        self.namespace_map = dict(namespace_map or {})
        self.node_port_map = dict(node_port_map or {})
        # The simulator's view of these manifests: the backend's own when it is the simulator.
        world = getattr(backend, "world", None) or build_world(manifests, include_system=True)
        # Checks read nodePorts in the lesson's numbers (30080); probes go to the learner's real port.
        self.world = _with_lesson_node_ports(world, self.node_port_map) if self.node_port_map else world

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        paths: Iterable[str | Path],
        *,
        namespace: str,
        backend: Backend | str = "sim",
        enforce_policy: bool = True,
    ) -> "Lab":
        """Load manifests from files/directories, apply them to a backend ("sim", "live" or an object)."""
        from grader.manifests import ManifestError, load

        try:
            manifests = load(list(paths), namespace=namespace)
        except ManifestError as e:
            raise SetupError(str(e)) from None
        if isinstance(backend, str):
            backend = make_backend(backend, enforce_policy=enforce_policy)
        backend.apply(manifests)
        lab = cls(backend, manifests, namespace)
        return lab

    # -- names ----------------------------------------------------------------------------------

    def ns(self, name: str | None = None) -> str:
        """The real namespace for a lesson namespace name (a workshop may prefix it per learner)."""
        name = name or self.namespace
        return self.namespace_map.get(name, name)

    def pod_ref(self, ref: str) -> str:
        """"client" -> "<lesson ns>/client"; "other/x" -> "<mapped other>/x"."""
        if "/" in ref:
            ns, _, name = ref.partition("/")
            return f"{self.ns(ns)}/{name}"
        return f"{self.ns()}/{ref}"

    # -- verbs ----------------------------------------------------------------------------------

    def run(self, probes: Sequence[Probe], expect: Sequence[bool | None] | None = None) -> list[Result]:
        """Run probes; `expect` (per probe: should it succeed?) lets a live backend retry while
        policy programming settles. The simulator answers at once and ignores it."""
        return self.backend.run(list(probes), expect=list(expect) if expect is not None else None)

    def connect(self, src: str, host: str, port: int, protocol: str = "TCP") -> Result:
        """Connect from pod `src` to host:port (an IP, or a DNS name resolved from `src`)."""
        return self.run([Connect(self.pod_ref(src), host, int(port), protocol.upper())])[0]

    def resolve(self, src: str, name: str) -> Result:
        """Resolve `name` as pod `src` would (its search list, ndots:5)."""
        return self.run([Resolve(self.pod_ref(src), name)])[0]

    def client_ip(self, src: str, host: str, port: int) -> Result:
        """Which source IP an agnhost netexec server at host:port sees for a request from `src`."""
        return self.run([ClientIP(self.pod_ref(src), host, int(port))])[0]

    def http(self, via: str, host: str, path: str = "/", *, tls: bool = False, port: int | None = None,
             method: str = "GET", headers: dict[str, str] | None = None, samples: int = 1) -> Result:
        """An HTTP(S) request from outside the cluster (see grader.probes.Http for `via`).

        For via="nodeport" a lesson's nodePort is probed as the learner's own (`node_port_map`); for
        via="gateway:<ns>/<name>" the namespace is the learner's (`ns`). `samples` > 1 measures a split."""
        if via == "nodeport" and port is not None:
            port = self.node_port_map.get(int(port), port)
        if via.startswith("gateway:"):
            ns, _, name = via.split(":", 1)[1].partition("/")
            via = f"gateway:{self.ns(ns)}/{name}"
        return self.run([Http(via, host, path, port, tls, method.upper(), tuple((headers or {}).items()), samples)])[0]

    def pods(self, selector: dict[str, str] | None = None, namespace: str | None = None) -> list[Any]:
        """Pods the backend runs (optionally those in a namespace whose labels include `selector`)."""
        ns = self.ns(namespace) if namespace else None
        out = []
        for p in self.backend.pods():
            if ns and p.namespace != ns:
                continue
            if selector and any(p.labels.get(k) != v for k, v in selector.items()):
                continue
            out.append(p)
        return out

    def require_service(self, name: str, what: str, *, write_in: str) -> Any:
        """The Service `name` of the lesson namespace, or a failed task saying to write it.

        `what` reads like "a NodePort Service"; `write_in` is where the learner writes it
        (e.g. "work/lesson2/services.yaml")."""
        ns = self.ns()
        svc = self.world.service(ns, name)
        if svc is None:
            others = sorted(s.name for s in self.world.services if s.namespace == ns)
            raise CheckFailed(
                f"{what} named {name} in namespace {ns}",
                f"no Service named {name}" + (f" (Services there: {', '.join(others)})" if others else " (no Services there yet)"),
                hints=[f"write the Service {name} in {write_in} (its TODO says what it needs)"],
                kubectl=[f"kubectl get services -n {ns}"],
            )
        return svc

    def reachability(
        self,
        sources: Sequence[str],
        targets: Sequence[str],
        port: int,
        expected: dict[tuple[str, str], bool] | bool,
        protocol: str = "TCP",
    ) -> Reachability:
        """Probe every source pod to every target pod's IP on `port` and fill a truth table.

        `expected` is a full table keyed by (source, target) as given, or one bool for every cell.
        """
        srcs = [self.pod_ref(s) for s in sources]
        tgts = [self.pod_ref(t) for t in targets]
        exp = {(s, t): (expected if isinstance(expected, bool) else expected[(a, b)]) for s, a in zip(srcs, sources) for t, b in zip(tgts, targets)}
        ips = {p.key: p.ip for p in self.backend.pods()}
        missing = [t for t in tgts if t not in ips] + [s for s in srcs if s not in ips]
        if missing:
            raise CheckFailed(
                "every pod of the table exists",
                f"no pod named {', '.join(sorted(set(missing)))}",
                hints=["the course fixtures create these pods; do not rename or delete them"],
            )
        pairs = [(s, t) for s in srcs for t in tgts]
        table = Reachability(srcs, tgts, port, protocol, exp)
        probes = [Connect(s, ips[t], port, protocol) for s, t in pairs]
        for key, res in zip(pairs, self.run(probes, expect=[exp[k] for k in pairs])):
            table.observed[key] = res.ok
            table.results[key] = res
        return table

    # -- expectations ---------------------------------------------------------------------------

    def expect(self, result: Result, ok: bool, what: str, *, hints: Sequence[str] = ()) -> Result:
        """Fail the task unless the probe's outcome is `ok`. `what` says the expectation in words.

        A mismatch is probed again with the expectation known, so a live backend can retry (up to
        ~10 s for a connection that should succeed) or confirm (one that should be blocked).
        """
        if result.ok == ok:
            return self._not_by_placement(result, ok, what, hints)
        result = self.run([result.probe], expect=[ok])[0]
        if result.ok == ok:
            return self._not_by_placement(result, ok, what, hints)
        observed = _describe(result)
        raise CheckFailed(
            what if ok else f"{what} (must be refused or blocked)",
            observed,
            evidence=result.evidence,
            hints=list(hints) + list(result.data.get("hints", [])),
            kubectl=[result.kubectl],
        )

    def _not_by_placement(self, result: Result, ok: bool, what: str, hints: Sequence[str]) -> Result:
        """The result, unless it holds only because of where the scheduler happened to put pods.

        The manifests' model says whether the outcome rests on a placement the manifests leave to the
        scheduler (a Local traffic policy, say); then the task is not done on any backend, lucky or not."""
        note = result.data.get("placement_note")
        if note is None:
            note = self._placement_note(result.probe)
        if not note:
            return result
        raise CheckFailed(
            what if ok else f"{what} (must be refused or blocked)",
            f"{_describe(result)}, but only because of where the pods run: {note}",
            evidence=result.evidence,
            hints=list(hints) + list(result.data.get("hints", [])) + [
                "the outcome must not depend on the scheduler's choice of nodes: remove the Local traffic policy, "
                "or pin the pods involved (nodeName, nodeSelector)"],
            kubectl=[result.kubectl, f"kubectl get pods -n {self.ns()} -o wide"],
        )

    def _placement_note(self, probe: Probe) -> str:
        """The model's placement note for a probe the backend answered without one (the live backend)."""
        from grader.model import connect as connect_model
        from grader.model import external

        if isinstance(probe, Http):
            return external.request(self.world, probe.via, probe.host, probe.path, port=probe.port, tls=probe.tls).placement_note
        if isinstance(probe, (Connect, ClientIP)):
            src = self.world.pod(probe.src)
            if src is None:
                return ""
            return connect_model.connect(self.world, src, probe.host, probe.port, getattr(probe, "protocol", "TCP")).placement_note
        return ""

    def expect_table(self, table: Reachability, what: str, *, hints: Sequence[str] = ()) -> Reachability:
        """Fail unless the observed truth table equals the expected one; print both, differences marked."""
        diffs = table.differences()
        guessed = [k for k, r in table.results.items() if r.data.get("placement_note")]
        if not diffs and guessed:
            s, t = guessed[0]
            r = table.results[(s, t)]
            raise CheckFailed(
                what,
                f"the table matches, but {s} -> {t} only because of where the pods run: {r.data['placement_note']}",
                evidence=r.evidence,
                hints=list(hints) + ["the outcome must not depend on the scheduler's choice of nodes: pin the pods involved (nodeName, nodeSelector)"],
                kubectl=[r.kubectl, f"kubectl get pods -n {self.ns()} -o wide"],
                table=table.render("expected") + "\n\n" + table.render("observed"),
            )
        if not diffs:
            return table
        evidence: list[str] = []
        kubectl: list[str] = []
        extra_hints: list[str] = []
        for s, t in diffs[:6]:
            r = table.results[(s, t)]
            want = "allowed" if table.expected[(s, t)] else "blocked"
            got = "BLOCKED" if want == "allowed" else "ALLOWED"
            evidence.append(f"Expected {want} connection {s} -> {t} ({table.protocol}/{table.port}) was instead {got}")
            evidence += [f"  {e}" for e in r.evidence]
            kubectl.append(r.kubectl)
            extra_hints += r.data.get("hints", [])
        raise CheckFailed(
            what,
            f"{len(diffs)} of {len(table.expected)} connections differ from the expected table",
            evidence=evidence,
            hints=list(hints) + extra_hints,
            kubectl=kubectl,
            table=table.render("expected") + "\n\n" + table.render("observed"),
        )


VERDICT_WORDS = {
    "allowed": "connected",
    "blocked": "blocked: no answer (a NetworkPolicy drops the packets, so the client times out)",
    "dropped": "no answer (kube-proxy drops the packets: see the evidence)",
    "refused": "connection refused (nothing listens on that port)",
    "no-endpoints": "connection refused (the Service has no ready endpoints)",
    "dns-failure": "the name did not resolve",
    "not-found": "not found",
}


def _with_lesson_node_ports(world: Any, node_port_map: dict[int, int]) -> Any:
    """`world` with each Service nodePort that is a learner's real port shown as the lesson's (31234 -> 30080).

    A shallow copy (only the Services that change are new), so the backend's own world is left as applied."""
    import dataclasses

    lesson_port = {real: lesson for lesson, real in node_port_map.items()}
    if not any(p.node_port in lesson_port for s in world.services for p in s.ports):
        return world
    services = [
        dataclasses.replace(s, ports=[dataclasses.replace(p, node_port=lesson_port.get(p.node_port, p.node_port)) for p in s.ports])
        if any(p.node_port in lesson_port for p in s.ports) else s
        for s in world.services
    ]
    return dataclasses.replace(world, services=services)


def _describe(result: Result) -> str:
    """The observed line: what was tried and what happened, in words."""
    probe = result.probe
    if isinstance(probe, Connect):
        target = f"{probe.src} -> {probe.host}:{probe.port}/{probe.protocol}"
    elif isinstance(probe, Resolve):
        target = f"lookup of {probe.name} from {probe.src}"
    elif isinstance(probe, ClientIP):
        target = f"{probe.src} -> http://{probe.host}:{probe.port}/clientip"
    else:
        port = f":{probe.port}" if probe.port else ""
        extra = "".join(f" with {k}: {v}" for k, v in probe.headers) + (f" ({probe.method})" if probe.method != "GET" else "")
        target = f"{'https' if probe.tls else 'http'}://{probe.host}{port}{probe.path}{extra} via {probe.via}"
        status = result.data.get("status")
        if status:
            return f"{target}: HTTP {status}"
    what = result.data.get("summary") or VERDICT_WORDS.get(result.verdict) or f"{result.verdict} (see the evidence)"
    return f"{target}: {what}"


def make_backend(name: str, *, enforce_policy: bool = True, **options: Any) -> Backend:
    """A backend by name: "sim" (the simulator), "live" (the course cluster), or "auto" (live when reachable)."""
    if name == "auto":
        name = "live" if live_available(options.get("context"))[0] else "sim"
    if name == "sim":
        from grader.backends.sim import SimBackend

        return SimBackend(enforce_policy=enforce_policy)
    if name == "live":
        from grader.backends.live import LiveBackend

        return LiveBackend(**options)
    raise ValueError(f"unknown backend {name!r}: use 'sim' or 'live'")


def live_available(context: str | None = None) -> tuple[bool, str]:
    """Whether the course cluster answers, and why not when it does not."""
    try:
        from grader.backends.live import live_backend_available
    except ImportError as e:  # a checkout without the live backend
        return False, f"the live backend cannot be imported ({e})"
    return live_backend_available(context)


# ---- a lesson's Lab -----------------------------------------------------------------------------------


class Fence(Protocol):
    """Workshop mode as a lesson's Lab sees it: one learner's share of a shared cluster, as data.

    grader.workshop.learner.learner_fence(name) makes one; the Lab never imports the workshop.
    """

    node_ports: Mapping[int, int]  # a lesson's fixed nodePort (30080) -> the learner's own
    facts_namespace: str  # where `grade workshop setup` published the cluster's facts for this learner
    note: str  # one line for the report, under the lesson's title

    def apply(self, manifests: list[Any], lesson_namespaces: list[str]) -> tuple[list[Any], dict[str, str]]:
        """The manifests moved into the learner's namespaces, and the map lesson namespace -> learner's.

        Raises SetupError (nothing applied) for a manifest that reaches outside them."""
        ...


# Files in exercise folders that describe the folder and are not manifests.
META_FILES = {"mistake.yaml", "scenario.yaml", "lesson.yaml", "alternative.yaml"}


def manifest_files(paths: list[Path]) -> list[Path]:
    """Manifest files under these paths (recursive, sorted), without the exercise folders' metadata files."""
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out += sorted(
                f for f in p.rglob("*") if f.is_file() and f.suffix in MANIFEST_SUFFIXES and f.name not in META_FILES and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.exists():
            out.append(p)
        else:
            raise SetupError(f"{p}: no such file or folder")
    return out


def learner_paths(lesson: Lesson, manifests: list[Path] | None, solution: bool) -> list[Path]:
    if manifests:
        return manifests
    if solution:
        return [lesson.solution]
    ws, _ = ensure_workspace(lesson)
    return [ws]


def open_lab(
    lesson: str | Lesson,
    manifests: list[Path] | None = None,
    *,
    backend: str | Any = "sim",
    solution: bool = False,
    enforce_policy: bool = True,
    backend_options: dict[str, Any] | None = None,
    fence: Fence | None = None,
) -> Lab:
    """Fixtures + learner manifests loaded, checked and applied. Raises SetupError with a learner message.

    `fence` (workshop mode): every lesson namespace becomes the learner's own, and manifests that reach
    outside those namespaces are refused (see Fence).
    """
    from grader.manifests import ManifestError, load

    lesson = lesson if isinstance(lesson, Lesson) else load_lesson(lesson)
    paths = ([lesson.fixtures] if lesson.fixtures.is_dir() else []) + learner_paths(lesson, manifests, solution)
    files = manifest_files(paths)
    try:
        loaded = load(files, namespace=lesson.namespace)
    except ManifestError as e:
        raise SetupError(str(e)) from None
    namespace_map: dict[str, str] = {}
    node_ports: dict[int, int] = {}
    facts_namespace: str | None = None
    if fence is not None:
        node_ports = dict(fence.node_ports)  # nodePorts are cluster-wide: 30080 becomes the learner's own
        facts_namespace = fence.facts_namespace  # where setup published the cluster's NetworkPolicy verdict
        loaded, namespace_map = fence.apply(loaded, list(lesson.namespaces))
    namespaces = [namespace_map.get(ns, ns) for ns in lesson.namespaces]
    if isinstance(backend, str):
        options = dict(backend_options or {})
        if backend == "live":  # a live backend works only in the lesson's own (labelled) namespaces
            options.setdefault("lesson", lesson.id)
            options.setdefault("namespaces", namespaces)
            if facts_namespace:
                options.setdefault("published_facts_namespace", facts_namespace)
        backend = make_backend(backend, enforce_policy=enforce_policy, **options)
    elif namespace_map and hasattr(backend, "namespaces"):
        backend.namespaces = namespaces
        if facts_namespace and hasattr(backend, "published_facts_namespace"):
            backend.published_facts_namespace = facts_namespace
    if any(m.kind == "NetworkPolicy" for m in loaded) and hasattr(backend, "prove_policy_enforced"):
        # A "blocked" verdict means nothing on a CNI that fails open: prove enforcement first.
        backend.prove_policy_enforced()
    backend.apply(loaded)
    return Lab(backend, loaded, lesson.namespace, namespace_map=namespace_map, node_port_map=node_ports)
