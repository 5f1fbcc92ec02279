"""The `grade` command.

    grade lessonN [--live|--sim] [--solution] [-k TASK] [--json FILE] [--junit FILE]
    grade all | list | reset lessonN | hint lessonN [TASK]
    grade sim matrix|resolve|route|connect PATH...   (route: through an Ingress or a Gateway)
    grade cluster up|down|status|doctor|preload
    grade tls-cert --host HOST [--out DIR]

Exit status: 0 when everything asked for passed, 1 when a task failed, 2 for bad input or usage.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.console import make_console as _console
from grader.errors import GradeError

if TYPE_CHECKING:
    from rich.console import Console

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UsageError(GradeError):
    """Bad input on the command line: printed as one short message, exit status 2."""


# -- grade sim ------------------------------------------------------------------------------------


def _load_world(paths: list[str], namespace: str, enforce_policy: bool = True):
    from grader.manifests import ManifestError, load
    from grader.model.workloads import build_world

    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise UsageError(f"{missing[0]}: no such file or folder")
    try:
        manifests = load([Path(p) for p in paths], namespace=namespace)
    except ManifestError as e:
        raise UsageError(str(e)) from None
    return build_world(manifests, enforce_policy=enforce_policy, include_system=True)


def _pod(world, ref: str):
    """A pod by NAMESPACE/POD, or NAMESPACE/WORKLOAD for the first pod a Deployment etc. makes."""
    from grader.model.workloads import is_system_namespace

    if "/" not in ref:
        raise UsageError(f"--from {ref!r}: give the pod as NAMESPACE/POD")
    pod = world.pod(ref)
    if pod is not None:
        return pod
    ns, _, name = ref.partition("/")
    made = sorted((p for p in world.pods if p.namespace == ns and p.owner and p.owner.split("/", 1)[1] == name), key=lambda p: p.name)
    if made:
        print(f"(--from {ref}: using {made[0].key}, the first pod of {made[0].owner})", file=sys.stderr)
        return made[0]
    pods = [p for p in world.pods if not is_system_namespace(p.namespace)]
    names = ", ".join(p.key for p in pods)[:400]
    tip = ""
    if any(p.namespace == "default" for p in pods) and ns != "default":
        tip = f"; objects that name no namespace went to 'default': add --namespace {ns}"
    elif not pods:
        tip = "; add the files that define the pods (for an exercise, its fixtures/ folder too)"
    raise UsageError(f"no pod {ref} in these manifests (pods: {names or 'none'}){tip}")


# A text table past this many cells is unreadable and slow to print; --summary and --json have no limit.
MAX_TEXT_CELLS = 4_000_000

MATRIX_EPILOG = """\
what it prints:
  default    one table per destination port: rows are source pods, columns the destination pods
             that declare the port; . allowed, X blocked (as the upstream e2e tests print it)
  --json     every cell as {{"from", "to", "port", "protocol", "allowed"}}, one per line, streamed
  --summary  per (source namespace, destination namespace): allowed cells / all cells, and the
             policies that decide (allowed by a rule of ...; blocked by ..., which isolates those pods)

narrowing (repeat each option for several):
  --from NS|NS/POD|NS/WORKLOAD   only these source pods (rows); a workload means all of its pods
  --to   NS|NS/POD|NS/WORKLOAD   only these destination pods (columns)
  --from NS --to NS              one namespace's pods among themselves
  --namespace NS keeps its meaning for every `grade sim` command: the namespace of objects whose
  manifests name none; it does not narrow the table.

A text table with more than --max-cells cells (default {max_cells:,}) is refused, with its size
and these options; --summary and --json are streamed and have no limit.

examples:
  grade sim matrix cluster/ --summary
  grade sim matrix cluster/ --from shop --to shop
  grade sim matrix cluster/ --from shop/web --to payments --json
"""


def _select_pods(world, refs: list[str], option: str) -> set[str]:
    """The pod keys that --from/--to REF... name: a namespace, NAMESPACE/POD or NAMESPACE/WORKLOAD."""
    chosen: set[str] = set()
    for ref in refs:
        ns, sep, name = ref.partition("/")
        if not sep:
            found = [p.key for p in world.pods if p.namespace == ns]
        else:
            found = [p.key for p in world.pods if p.namespace == ns and (p.name == name or (p.owner and p.owner.split("/", 1)[1] == name))]
        if not found:
            namespaces = sorted({p.namespace for p in world.pods})
            what = f"namespace {ns!r} has no pods" if not sep else f"no pod or workload {ref} (give NAMESPACE, NAMESPACE/POD or NAMESPACE/WORKLOAD)"
            raise UsageError(f"{option} {ref}: {what}; namespaces with pods: {', '.join(namespaces)[:400] or 'none'}")
        chosen.update(found)
    return chosen


def cmd_sim_matrix(args: argparse.Namespace) -> int:
    from grader.model.reachability import grouped_matrix
    from grader.model.workloads import is_system_namespace

    world = _load_world(args.paths, args.namespace, not args.no_policy)
    picked_src = _select_pods(world, args.src or [], "--from")
    picked_dst = _select_pods(world, args.dst or [], "--to")
    # kind's own pods are left out unless asked for by name
    pods = [p for p in world.pods if not is_system_namespace(p.namespace) or p.key in picked_src or p.key in picked_dst]
    sources = [i for i, p in enumerate(pods) if not args.src or p.key in picked_src]
    destinations = [i for i, p in enumerate(pods) if not args.dst or p.key in picked_dst]
    out = sys.stdout
    text = not args.summary and not args.json
    cells = len(sources) * sum(len({(c.port, c.protocol) for c in pods[i].ports}) for i in destinations)
    if text and not cells:
        print("no pod declares a container port: nothing to tabulate" if not args.dst else "no cells: these destinations declare no container port")
        return EXIT_OK
    if text and args.max_cells and cells > args.max_cells:  # refused before any work
        raise UsageError(
            f"the text table would have {cells:,} cells ({len(sources):,} source pods x {len(destinations):,} destination pods, "
            f"per port), more than --max-cells {args.max_cells:,}. Narrow it: --from NS or NS/POD (rows), --to NS or NS/POD "
            f"(columns), e.g. --from {pods[sources[0]].namespace} --to {pods[destinations[0]].namespace}; or ask for --summary "
            "(per namespace pair) or --json (streamed, any size). See grade sim matrix --help."
        )
    grouped = grouped_matrix(world, pods)
    if args.summary:
        _print_summary(grouped, sources, destinations, args.json)
        return EXIT_OK
    if args.json:
        for chunk in grouped.json_cells(sources, destinations):
            out.write(chunk)
        return EXIT_OK
    for chunk in grouped.text_tables(sources, destinations):
        out.write(chunk)
    if not world.cni_enforces_policy:
        print("(--no-policy: modelled a CNI that does not enforce NetworkPolicy, such as Flannel)")
    return EXIT_OK


def _print_summary(grouped, sources: list[int], destinations: list[int], as_json: bool) -> None:
    pairs = grouped.summary(sources, destinations)
    if as_json:
        print(json.dumps([{"from": p.src, "to": p.dst, "allowed": p.allowed, "total": p.total, "allowed_by": p.allowed_by, "blocked_by": p.blocked_by}
                          for p in pairs], indent=1))
        return
    allowed, total = sum(p.allowed for p in pairs), sum(p.total for p in pairs)
    print(f"{len(sources):,} source pods, {len(destinations):,} destination pods, {len(grouped.policies):,} policies in effect: "
          f"{allowed:,} of {total:,} connections (pod, pod, port) allowed")
    if not grouped.enforced:
        print("(--no-policy: modelled a CNI that does not enforce NetworkPolicy, such as Flannel)")
    width = max([4, *(len(p.src) for p in pairs)])
    print(f"{'from':{width}}  {'to':{width}}  {'allowed':>11}  {'of':>11}  deciding policies")
    for p in pairs:
        decide = []
        if p.allowed_by:
            decide.append("allowed by " + _some(p.allowed_by))
        if p.blocked_by:
            decide.append("blocked by " + _some(p.blocked_by))
        if not decide:
            decide.append("no policy isolates these pods" if p.allowed == p.total else "-")
        print(f"{p.src:{width}}  {p.dst:{width}}  {p.allowed:>11,}  {p.total:>11,}  {'; '.join(decide)}")


def _some(names: list[str], limit: int = 4) -> str:
    return ", ".join(names[:limit]) + (f" and {len(names) - limit} more (--summary --json lists all)" if len(names) > limit else "")


def cmd_sim_resolve(args: argparse.Namespace) -> int:
    from grader.model.connect import lookup

    world = _load_world(args.paths, args.namespace)
    src = _pod(world, args.src)
    lk = lookup(world, src, args.name)
    a = lk.answer
    out = {"name": args.name, "fqdn": a.fqdn, "type": a.type, "answers": a.answers, "service": a.service, "pods": a.pods, "cname": a.cname}
    if args.json:
        print(json.dumps(out, indent=1))
        return EXIT_OK
    answers = ", ".join(a.answers) or "-"
    print(f"{args.name} from {src.key}: {a.type} {answers}" + (f" (Service {a.service})" if a.service else ""))
    for line in lk.trace:
        print(f"  {line}")
    for h in lk.hints:
        print(f"  hint: {h}")
    return EXIT_OK


def cmd_sim_route(args: argparse.Namespace) -> int:
    from grader.model import ingress

    world = _load_world(args.paths, args.namespace)
    gateway = _gateway_for_route(world, args)
    if gateway is not None:
        return _sim_route_gateway(world, gateway, args)
    r = ingress.route(world, args.host, args.path, args.scheme)
    # status: None when a Service answers (its pods decide), else the controller's own (404 when nothing matches)
    status = r.status if r.service is not None or r.status is not None else 404
    out = {"service": r.service, "port": r.port, "status": status, "tls_secret": r.tls_secret, "ingress": r.ingress}
    if args.json:
        print(json.dumps(out, indent=1))
        return EXIT_OK
    target = f"Service {r.service} port {r.port}" if r.service else f"HTTP {out['status']}"
    print(f"{args.scheme}://{args.host}{args.path} -> {target}" + (f" (Ingress {r.ingress})" if r.ingress else ""))
    for line in r.trace + [f"problem: {p}" for p in r.problems]:
        print(f"  {line}")
    return EXIT_OK


def _gateway_for_route(world, args: argparse.Namespace) -> str | None:
    """The Gateway ("ns/name") to route through: --gateway, else the only Gateway when there is no Ingress."""
    from grader.model.gateway.attachment import objects

    gateways = sorted(g.key for g in objects(world, "Gateway"))
    if args.gateway:
        ref = args.gateway if "/" in args.gateway else f"{args.namespace}/{args.gateway}"
        if ref not in gateways:
            raise UsageError(f"--gateway {args.gateway}: no Gateway {ref} in these manifests (Gateways: {', '.join(gateways) or 'none'})")
        return ref
    if world.ingresses or not gateways:
        if gateways:
            print(f"(routing through the Ingresses; for a Gateway add --gateway {gateways[0]})", file=sys.stderr)
        return None
    if len(gateways) > 1:
        raise UsageError(f"several Gateways ({', '.join(gateways)}), each with its own address: choose one with --gateway NS/NAME")
    return gateways[0]


def _sim_route_gateway(world, gateway: str, args: argparse.Namespace) -> int:
    from grader.model.gateway import Request, route_request

    headers = []
    for h in args.header or []:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            raise UsageError(f"-H {h!r}: give a header as 'Name: value'")
        headers.append((name.strip(), value.strip()))
    req = Request(host=args.host, path=args.path, method=args.method.upper(), headers=tuple(headers), scheme=args.scheme, port=args.port)
    d = route_request(world, gateway, req)
    shares = {s.service: round(s.share, 6) for s in d.shares}
    out = {"gateway": gateway, "listener": d.listener, "route": d.route, "rule": d.rule, "service": d.service,
           "status": d.status, "error": d.error, "location": d.location, "shares": shares, "tls_secret": d.tls_secret,
           "route_status": d.route_status}
    if args.json:
        print(json.dumps(out, indent=1))
        return EXIT_OK
    if d.error:
        target = {"refused": "connection refused", "tls": "TLS handshake fails"}.get(d.error, d.error)
    elif d.location:
        target = f"HTTP {d.status} Location: {d.location}"
    elif d.status is not None:
        target = f"HTTP {d.status}"
    else:
        target = ", ".join(f"Service {s.service} port {s.port}" + (f" ({s.share:.0%})" if len(d.shares) > 1 else "")
                           for s in d.shares if s.share > 0)
    where = ", ".join(filter(None, [f"listener {d.listener}" if d.listener else "", f"HTTPRoute {d.route} rules[{d.rule}]" if d.route else ""]))
    print(f"{args.scheme}://{args.host}{args.path} via Gateway {gateway} -> {target}" + (f" ({where})" if where else ""))
    for line in d.trace + [f"problem: {p}" for p in d.problems]:
        print(f"  {line}")
    if d.route_status:
        print("  route status (what the controller writes; kubectl get httproute -o yaml):")
        for line in d.route_status:
            print(f"    {line}")
    return EXIT_OK


def cmd_sim_connect(args: argparse.Namespace) -> int:
    from grader.model.connect import connect

    world = _load_world(args.paths, args.namespace, not args.no_policy)
    src = _pod(world, args.src)
    host, sep, port = args.to.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise UsageError(f"--to {args.to!r}: give HOST:PORT, e.g. my-service:80, 10.244.1.5:8080 or NAMESPACE/POD:8080")
    if "/" in host:  # a pod by name: connect to its IP, as a client given that IP would
        target = _pod(world, host)
        print(f"(--to {host}: pod IP {target.ip})", file=sys.stderr)
        host = target.ip
    c = connect(world, src, host, int(port), args.protocol.upper())
    # Where the scheduler was free to choose, the simulator's node is a guess: say so for the pods of this path.
    guessed = [p.placement_note() for p in (src, world.pod(c.endpoint) if c.endpoint else None) if p is not None and p.placement_guessed]
    if args.json:
        print(
            json.dumps(
                {"from": src.key, "to": args.to, "protocol": args.protocol.upper(), "verdict": c.verdict, "allowed": c.ok, "endpoint": c.endpoint, "service": c.service, "trace": c.trace, "hints": c.hints,
                 "placement_note": c.placement_note, "placement_guesses": guessed},
                indent=1,
            )
        )
    else:
        print(f"{src.key} -> {args.to}/{args.protocol.upper()}: {c.verdict}")
        for line in c.trace:
            print(f"  {line}")
        for h in c.hints:
            print(f"  hint: {h}")
        for note in guessed:
            print(f"  placement: {note}")
    return EXIT_OK


# -- lessons ----------------------------------------------------------------------------------------


def _choose_backend(args: argparse.Namespace, console: Console) -> tuple[str, dict[str, Any]]:
    options: dict[str, Any] = {}
    if getattr(args, "context", None):
        options["context"] = args.context
    if args.sim:
        return "sim", options
    from grader.backends.live import live_backend_available

    ok, reason = live_backend_available(options.get("context"))
    if ok:
        if not args.live:
            console.print("[dim]Grading live on the course cluster (use --sim for the simulator).[/]")
        return "live", options
    if args.live:
        raise UsageError(f"--live: the course cluster is not reachable: {reason}")
    advice = "" if "grade cluster up" in reason else " For live grading with real packets: `grade cluster up`, then grade again."
    console.print(f"[dim]Grading on the simulator: {reason.rstrip('.')}.{advice}[/]")
    return "sim", options


def _grade_one(lesson_id: str, args: argparse.Namespace, console: Console) -> Any:
    from grader.lessons import ensure_workspace, load_lesson, record_result
    from grader.report import print_report
    from grader.runner import grade_lesson
    from grader.workshop.learner import learner_fence, learner_for_grading, publish_result

    lesson = load_lesson(lesson_id)
    learner = learner_for_grading(args)  # workshop mode: --learner or .grade/learner.yaml; a bad name stops here
    manifests = [Path(p) for p in (args.manifests or [])] or None
    backend, options = _choose_backend(args, console)  # --live without a cluster stops before any file is made
    if not manifests and not args.solution:
        ws, created = ensure_workspace(lesson)
        if created:
            console.print(f"Your files for {lesson.id} are in [bold]{ws}[/] (copied from the starter): edit them, then run `grade {lesson.id}` again.")
    console.print(f"[bold]{lesson.id}: {lesson.title}[/]" + (" (reference solution)" if args.solution else "") + (f" as learner {learner}" if learner else ""))
    report = grade_lesson(
        lesson,
        manifests,
        backend=backend,
        solution=args.solution,
        keyword=args.k,
        junit=Path(args.junit) if args.junit else None,
        backend_options=options,
        fence=learner_fence(learner) if learner else None,
    )
    print_report(report, console, verbose=args.verbose)
    if not args.solution and not manifests:
        record_result(report)
        if learner:
            publish_result(report, learner, args, console)
    return report


def cmd_lesson(args: argparse.Namespace) -> int:
    console = _console()
    if getattr(args, "break_scenario", None):
        return _break(args, console)
    report = _grade_one(args.lesson, args, console)
    if args.json:
        from grader.workshop.learner import workshop_fields

        Path(args.json).write_text(json.dumps({**report.as_dict(), **workshop_fields(args)}, indent=2), encoding="utf-8")
    if report.setup_error:
        return EXIT_USAGE
    if not report.passed:
        console.print(f"Next: fix the first failing task, or ask for a hint: `grade hint {report.lesson} {report.failed_ids()[0] if report.failed_ids() else ''}`".rstrip())
    elif not args.solution and not args.manifests:
        console.print(_next_lesson(report.lesson))
    return EXIT_OK if report.passed else EXIT_FAILED


def _next_lesson(lesson_id: str) -> str:
    from grader.lessons import list_lessons

    ids = [lesson.id for lesson in list_lessons()]
    later = ids[ids.index(lesson_id) + 1 :] if lesson_id in ids else []
    if later:
        return f"Well done. Next: {later[0]} (exercises/{later[0]}/README.md, then `grade {later[0]}`)."
    return "Well done: that was the last lesson. `grade list` shows your results for all of them."


def _break(args: argparse.Namespace, console: Console) -> int:
    from grader.lessons import load_lesson
    from grader.scenarios import break_scenario, get_scenario

    lesson = load_lesson(args.lesson)
    if not (lesson.dir / "scenarios").is_dir():
        raise UsageError(f"{lesson.id} has no break scenarios: --break is for the debugging lesson (grade lesson6 --break SCENARIO)")
    scenario = get_scenario(args.break_scenario)  # ScenarioError (a GradeError) names the known ones
    break_scenario(scenario.id, lesson.workspace())
    console.print(f"[bold]Scenario {scenario.id}:[/] {scenario.title}")
    if scenario.symptom:
        console.print(f"Symptom: {scenario.symptom}")
    console.print(f"The broken system is in {lesson.workspace()} (your previous files were backed up). Find the fault, fix it there, then run `grade {lesson.id}`. Stuck? `grade hint {lesson.id} {scenario.id}`.")
    return EXIT_OK


def cmd_all(args: argparse.Namespace) -> int:
    from grader.lessons import list_lessons

    console = _console()
    args.k = None
    reports = [_grade_one(lesson.id, args, console) for lesson in list_lessons()]
    if args.json:
        Path(args.json).write_text(json.dumps([r.as_dict() for r in reports], indent=2), encoding="utf-8")
    if not reports:
        raise UsageError("no lessons found under exercises/")
    return EXIT_OK if all(r.passed for r in reports) else EXIT_FAILED


def cmd_list(args: argparse.Namespace) -> int:
    from rich.table import Table

    from grader.lessons import list_lessons, read_progress

    progress = read_progress()["lessons"]
    table = Table(title="Lessons")
    table.add_column("lesson", no_wrap=True)
    table.add_column("title", ratio=1)
    table.add_column("tasks", no_wrap=True)  # task ids are what -k and `grade hint` take: never cut them
    table.add_column("last result", ratio=1)
    for lesson in list_lessons():
        entry = progress.get(lesson.id, {})
        tasks = lesson.tasks()
        results = entry.get("tasks", {})
        lines = []
        for tid, title in tasks:
            mark = {True: "[green]pass[/]", False: "[red]fail[/]"}.get(results.get(tid), "[dim]-[/]")
            lines.append(f"{mark} {tid}")
        last = entry.get("last_run")
        summary = f"{sum(1 for t, _ in tasks if results.get(t))}/{len(tasks)} on {entry.get('backend')} at {last}" if last else "not graded yet"
        table.add_row(lesson.id, lesson.title, "\n".join(lines), summary)
    _console().print(table)
    return EXIT_OK


def cmd_reset(args: argparse.Namespace) -> int:
    from grader.lessons import load_lesson, reset_workspace

    lesson = load_lesson(args.lesson)
    ws = lesson.workspace()
    if not args.yes:
        if not sys.stdin.isatty():
            raise UsageError(f"`grade reset {lesson.id}` replaces {ws} with the starter files; add --yes to confirm")
        answer = input(f"Replace your files in {ws} with the starter files? A backup is kept. [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            print("Nothing changed.")
            return EXIT_OK
    backup = reset_workspace(lesson)
    print(f"{ws} now holds the starter files." + (f" Your previous files are in {backup}." if backup else ""))
    return EXIT_OK


def cmd_hint(args: argparse.Namespace) -> int:
    from grader.lessons import load_lesson, next_hint, read_progress
    from grader.scenarios import active_scenario

    lesson = load_lesson(args.lesson)
    task = args.task
    scenario = active_scenario(lesson.workspace())
    if scenario is not None and task in (None, scenario.id):
        level, text = next_hint(lesson, f"scenario:{scenario.id}", scenario.hints)
        print(f"{lesson.id} scenario {scenario.id}, hint {level} of {len(scenario.hints)}: {text}")
        if level < len(scenario.hints):
            print("(run the same command again for a more specific hint)")
        return EXIT_OK
    if task is None:
        results = read_progress()["lessons"].get(lesson.id, {}).get("tasks", {})
        if results and all(results.get(t) for t, _ in lesson.tasks()):
            print(f"Every task of {lesson.id} passed at your last run: no hint needed. Ask for a task's hints with `grade hint {lesson.id} TASK`.")
            return EXIT_OK
        failing = [t for t, _ in lesson.tasks() if results.get(t) is False] or [t for t, _ in lesson.tasks() if not results.get(t)]
        candidates = [t for t in failing if t in lesson.hints] or list(lesson.hints)
        if not candidates:
            raise UsageError(f"{lesson.id} has no hints")
        task = candidates[0]
    elif task not in lesson.hints and f"test_{task}" in lesson.hints:
        task = f"test_{task}"
    level, text = next_hint(lesson, task)
    total = len(lesson.hints[task])
    print(f"{lesson.id} {task}, hint {level} of {total}: {text}")
    if level < total:
        print("(run the same command again for a more specific hint)")
    return EXIT_OK


def cmd_tls_cert(args: argparse.Namespace) -> int:
    from grader.tlsgen import write_tls_secret

    path = write_tls_secret(args.host, Path(args.out))
    print(f"wrote {path} (a kubernetes.io/tls Secret for {', '.join(args.host)}) and the PEM files beside it")
    return EXIT_OK


# -- parser -----------------------------------------------------------------------------------------


# What `grade --help` says of the commands whose parsers are built only when used (tests/test_cli_grade.py
# checks these against the real parsers).
FEATURE_SUMMARIES = {
    "cluster": "create, check and remove the course's kind cluster",
    "workshop": "many learners on one shared cluster: setup, teardown, status, report",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `grade` parser; given the command word, the parsers of other feature commands are stand-ins."""
    p = argparse.ArgumentParser(prog="grade", description="Grade the k8s-netcourse exercises, live on kind or on the simulator.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    def grading_options(sp: argparse.ArgumentParser) -> None:
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--live", action="store_true", help="grade on the course cluster (fail if it is not reachable)")
        g.add_argument("--sim", action="store_true", help="grade on the simulator")
        sp.add_argument("--solution", action="store_true", help="grade the reference solution instead of your files")
        sp.add_argument("--manifests", action="append", metavar="PATH", help="grade these files/folders instead of work/lessonN")
        sp.add_argument("--json", metavar="FILE", help="write per-task results as JSON")
        sp.add_argument("--junit", metavar="FILE", help="write a JUnit XML report")
        sp.add_argument("--context", help="kube context to grade on (default: the course cluster's)")
        sp.add_argument("--learner", metavar="NAME", help="workshop mode: grade in your own namespaces NAME-lessonN (default: from `grade workshop join`)")
        sp.add_argument("-v", "--verbose", action="store_true", help="show all evidence")

    sp = sub.add_parser("lesson", help="grade one lesson (also: grade lessonN)")
    sp.add_argument("lesson")
    sp.add_argument("-k", metavar="TASK", help="only tasks whose name contains TASK")
    sp.add_argument("--break", dest="break_scenario", metavar="SCENARIO", help="(lesson6) deploy a broken system to debug")
    grading_options(sp)
    sp.set_defaults(func=cmd_lesson)

    sp = sub.add_parser("all", help="grade every lesson")
    grading_options(sp)
    sp.set_defaults(func=cmd_all)

    sub.add_parser("list", help="lessons, tasks and your last results").set_defaults(func=cmd_list)

    sp = sub.add_parser("reset", help="restore a lesson's starter files (keeps a backup)")
    sp.add_argument("lesson")
    sp.add_argument("--yes", action="store_true", help="do not ask")
    sp.set_defaults(func=cmd_reset)

    sp = sub.add_parser("hint", help="the next hint for a task")
    sp.add_argument("lesson")
    sp.add_argument("task", nargs="?")
    sp.set_defaults(func=cmd_hint)

    sp = sub.add_parser("tls-cert", help="write a self-signed certificate and a kubernetes.io/tls Secret manifest")
    sp.add_argument("--host", action="append", required=True, help="a DNS name for the certificate (repeatable)")
    sp.add_argument("--out", default=".", help="folder to write into (e.g. work/lesson5)")
    sp.set_defaults(func=cmd_tls_cert)

    sim = sub.add_parser("sim", help="ask the simulator about manifests (stable output for tools)")
    simsub = sim.add_subparsers(dest="sim_command", metavar="SUBCOMMAND", required=True)

    def sim_common(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("paths", nargs="+", metavar="PATH", help="manifest files or folders")
        sp.add_argument("--namespace", default="default", help="namespace for objects that name none (default: default)")
        sp.add_argument("--json", action="store_true", help="machine-readable output")

    sp = simsub.add_parser(
        "matrix", help="who can reach whom, per destination port", description="Who can reach whom under the NetworkPolicies in these manifests.",
        epilog=MATRIX_EPILOG.format(max_cells=MAX_TEXT_CELLS), formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sim_common(sp)
    sp.add_argument("--no-policy", action="store_true", help="model a CNI that does not enforce NetworkPolicy (Flannel)")
    sp.add_argument("--summary", action="store_true", help="per namespace pair: allowed/all connections and the policies that decide")
    sp.add_argument("--from", dest="src", action="append", metavar="NS[/POD]", help="only these sources: a namespace, NS/POD or NS/WORKLOAD (repeatable)")
    sp.add_argument("--to", dest="dst", action="append", metavar="NS[/POD]", help="only these destinations: a namespace, NS/POD or NS/WORKLOAD (repeatable)")
    sp.add_argument("--max-cells", type=int, default=MAX_TEXT_CELLS, metavar="N", help=f"refuse a text table larger than this (default {MAX_TEXT_CELLS:,}; 0: no limit)")
    sp.set_defaults(func=cmd_sim_matrix)
    sp = simsub.add_parser("resolve", help="a DNS lookup from a pod")
    sim_common(sp)
    sp.add_argument("--from", dest="src", required=True, metavar="NS/POD")
    sp.add_argument("--name", required=True)
    sp.set_defaults(func=cmd_sim_resolve)
    sp = simsub.add_parser("route", help="where an Ingress or a Gateway sends a request")
    sim_common(sp)
    sp.add_argument("--host", required=True)
    sp.add_argument("--path", default="/")
    sp.add_argument("--scheme", choices=("http", "https"), default="http")
    sp.add_argument("--gateway", metavar="NS/NAME", help="route through this Gateway (default: the only Gateway, when there is no Ingress)")
    sp.add_argument("-H", "--header", action="append", metavar="'NAME: VALUE'", help="a request header (Gateway routes; repeatable)")
    sp.add_argument("--method", default="GET", help="the request method (Gateway routes)")
    sp.add_argument("--port", type=int, help="the Gateway listener port (default 80, 443 for https)")
    sp.set_defaults(func=cmd_sim_route)
    sp = simsub.add_parser("connect", help="one connection's verdict and its trace")
    sim_common(sp)
    sp.add_argument("--from", dest="src", required=True, metavar="NS/POD")
    sp.add_argument("--to", required=True, metavar="HOST:PORT")
    sp.add_argument("--protocol", default="TCP", choices=("TCP", "UDP", "SCTP", "tcp", "udp", "sctp"))
    sp.add_argument("--no-policy", action="store_true", help="model a CNI that does not enforce NetworkPolicy (Flannel)")
    sp.set_defaults(func=cmd_sim_connect)

    # Cluster management and workshops are features on top of grading: their parsers (and the code they
    # import) are built only for their own command or for `grade --help`; other commands see a stand-in
    # that only names them, so `grade lesson4` does not pay for the kind and workshop machinery.
    if command in (None, "cluster"):
        from grader.cluster.cli import add_cluster_parser

        add_cluster_parser(sub)
    else:
        sub.add_parser("cluster", help=FEATURE_SUMMARIES["cluster"])
    if command in (None, "workshop"):
        from grader.workshop.cli import add_workshop_parser

        add_workshop_parser(sub)
    else:
        sub.add_parser("workshop", help=FEATURE_SUMMARIES["workshop"])
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and re.fullmatch(r"lesson\d+", argv[0]):
        argv = ["lesson", *argv]  # `grade lesson2` is `grade lesson lesson2`
    parser = build_parser(argv[0] if argv and not argv[0].startswith("-") else None)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # argparse already printed the usage problem
        return EXIT_USAGE if e.code else EXIT_OK
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except GradeError as e:  # a problem the user can fix; anything else is a bug of ours
        print(f"grade: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("grade: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `grade sim matrix ... | head`: the reader left; that is not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
