"""`grade workshop ...`: the instructor's commands (setup, teardown, status, collect, report) and the learner's `join`.

    grade workshop join --name alice [--kubeconfig alice.kubeconfig]
    grade workshop setup --roster learners.csv [--context CTX] [--isolate] [--server URL] [--node-address ADDR] [--out DIR] [--dry-run]
    grade workshop teardown [--context CTX] [--learner NAME] [--yes]
    grade workshop collect DIR
    grade workshop status [--context CTX]
    grade workshop report --format csv|json|html [--out FILE] [--context CTX]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from grader.console import make_console as _console
from grader.errors import GradeError
from grader.workshop.report import FORMATS


def _lessons() -> list[Any]:
    from grader.lessons import list_lessons

    lessons = list_lessons()
    if not lessons:
        raise GradeError("no lessons found under exercises/")
    return lessons


def _client(context: str | None) -> Any:
    from grader.kube.client import KubeClient

    return KubeClient.connect(context)  # an UnsafeTargetError is a GradeError: `grade` prints it, exit 2


def _plan(args: argparse.Namespace) -> Any:
    from grader.workshop.setup import WorkshopPlan, lesson_spaces

    return WorkshopPlan(args.workshop, tuple(lesson_spaces(_lessons())), isolate=args.isolate, pod_cidrs=tuple(args.pod_cidr or ["10.244.0.0/16"]))


def cmd_join(args: argparse.Namespace) -> int:
    from grader.workshop.learner import join

    kubeconfig = Path(args.kubeconfig) if args.kubeconfig else None
    if kubeconfig is not None and not kubeconfig.is_file():
        raise GradeError(f"--kubeconfig {args.kubeconfig}: no such file; use the file your instructor gave you")
    path = join(args.name, kubeconfig)
    print(f"Joined as {args.name} (saved in {path}). `grade lessonN` now grades in your namespaces, {args.name}-lessonN.")
    return 0


def cmd_setup(args: argparse.Namespace) -> int:
    from rich.markup import escape

    from grader.workshop.facts import roster_node_ports
    from grader.workshop.roster import read_roster
    from grader.workshop.setup import facts_for, learner_objects, prove_cluster_policy, setup_workshop

    plan = _plan(args)
    namespaces = [ns for s in plan.lessons for ns in s.namespaces] + ["home"]
    learners = read_roster(Path(args.roster), namespaces)
    if args.dry_run:
        ports = roster_node_ports([lr.name for lr in learners])
        source = "--node-address" if args.node_address else ""  # without it the address comes from the Nodes at setup
        docs = [obj for lr in learners
                for obj in learner_objects(plan, lr.name, facts_for(None, ports[lr.name], "", args.node_address, source))]
        sys.stdout.write(yaml.safe_dump_all(docs, sort_keys=False))
        return 0
    client = _client(args.context)
    console = _console()

    def show_policy(policy: Any) -> None:
        if policy.ok:
            console.print(f"[green]NetworkPolicy enforced[/]: {escape(policy.detail)}; the verdict is published to every learner.")
        else:
            console.print(f"[red]NetworkPolicy not proven[/]: {escape(policy.detail)}. Learners' lessons with NetworkPolicies "
                          f"stop with this message until you fix it: {escape(policy.hint)}; then run setup again.")

    console.print("Proving that the cluster enforces NetworkPolicy (the doctor's deny probe, once for all learners)...")
    outcomes = setup_workshop(client, plan, [lr.name for lr in learners], Path(args.out), server=args.server,
                              token_seconds=int(args.token_hours * 3600), prove=prove_cluster_policy, on_policy=show_policy,
                              node_address=args.node_address)
    for o in outcomes:
        console.print(f"{o.learner}: {len(o.namespaces)} namespaces, {o.objects} objects, nodePort {o.node_port}, kubeconfig {o.kubeconfig}")
    if outcomes:
        console.print(node_address_message(outcomes[0].node_address, outcomes[0].node_address_source))
    console.print(
        f"Give each learner their kubeconfig; they run `grade workshop join --name NAME --kubeconfig FILE` once. "
        f"Tokens expire in {args.token_hours:g} h (run setup again for new ones). Remove everything with `grade workshop teardown`."
    )
    return 0


def node_address_message(address: str | None, source: str) -> str:
    """What setup says about the node address it published for learners' NodePort probes (rich markup)."""
    from rich.markup import escape

    from grader.workshop.facts import LEARNER_NODE_PORTS

    ports = f"{LEARNER_NODE_PORTS.start}-{LEARNER_NODE_PORTS.stop - 1}"
    if not address:
        return (f"[yellow]No node address published[/] ({escape(source)}): learners' NodePort tasks cannot be probed. "
                "Run setup again with --node-address ADDR, an address of a node that learners' laptops reach.")
    how = "given with --node-address" if source == "--node-address" else f"the {source}"
    text = (f"NodePort probes of every learner go to {escape(address)} ({escape(how)}): every learner's laptop must "
            f"reach {escape(address)} on TCP ports {ports} (open them in the firewall).")
    if source.startswith("InternalIP"):
        text += (" An InternalIP is usually private (a cloud VPC, or kind's Docker network on your laptop): if learners "
                 "cannot reach it, run setup again with --node-address ADDR.")
    return text


def cmd_teardown(args: argparse.Namespace) -> int:
    from grader.workshop.setup import teardown_workshop

    client = _client(args.context)
    if not args.yes:
        if not sys.stdin.isatty():
            raise GradeError(f"`grade workshop teardown` deletes every namespace of workshop {args.workshop!r} (learners' work and results); add --yes to confirm")
        if input(f"Delete every namespace of workshop {args.workshop!r}? [y/N] ").strip().lower() not in ("y", "yes"):
            print("Nothing deleted.")
            return 0
    names = teardown_workshop(client, args.workshop, args.learner or None)
    print(f"Deleted {len(names)} namespaces" + (": " + ", ".join(names) if names else f" (nothing carried the label of workshop {args.workshop!r})"))
    return 0


def cmd_collect(args: argparse.Namespace) -> int:
    from grader.workshop.results import merge_records, read_json_results, read_store, write_store

    records, problems = read_json_results(Path(args.dir))
    for p in problems:
        print(f"skipped {p}", file=sys.stderr)
    path = write_store(merge_records(read_store(), records))
    print(f"collected {len(records)} results from {args.dir} into {path}")
    return 0 if records or not problems else 2


def _records(args: argparse.Namespace) -> list[dict[str, Any]]:
    from grader.workshop.results import merge_records, read_cluster_records, read_store

    cluster = read_cluster_records(_client(args.context), args.workshop) if args.context else []
    return merge_records(read_store(), cluster)


def cmd_status(args: argparse.Namespace) -> int:
    from rich.table import Table

    from grader.workshop.results import status_cell

    lessons = _lessons()
    records = _records(args)
    if not records:
        print("no results yet: learners' live runs appear with --context CTX; handed-in --json files after `grade workshop collect DIR`")
        return 0
    by_key = {(r["learner"], r["lesson"]): r for r in records}
    table = Table(title="Workshop progress (tasks passed, stuck on, last attempt)")
    table.add_column("learner")
    for lesson in lessons:
        table.add_column(lesson.id)
    for learner in sorted({r["learner"] for r in records}):
        cells = []
        for lesson in lessons:
            cell = status_cell(by_key.get((learner, lesson.id)), [t for t, _ in lesson.tasks()])
            if cell.last_attempt is None:
                cells.append("[dim]-[/]")
                continue
            colour = "green" if cell.passed == cell.total else "red" if cell.stuck_on else "yellow"
            text = f"[{colour}]{cell.passed}/{cell.total}[/]"
            if cell.stuck_on:
                text += f"\nstuck: {cell.stuck_on}"
            text += f"\n{cell.last_attempt.replace('T', ' ')} (#{cell.attempts})"
            cells.append(text)
        table.add_row(learner, *cells)
    _console().print(table)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from grader.workshop.report import render
    from grader.workshop.results import task_rows

    lessons = {lesson.id: lesson.tasks() for lesson in _lessons()}
    text = render(task_rows(_records(args), lessons), args.format)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        sys.stdout.write(text)
    return 0


def add_workshop_parser(subparsers: Any) -> None:
    """Register `grade workshop` and its subcommands."""
    ws = subparsers.add_parser("workshop", help="many learners on one shared cluster: setup, teardown, status, report")
    sub = ws.add_subparsers(dest="workshop_command", metavar="SUBCOMMAND", required=True)

    def common(sp: argparse.ArgumentParser, context: bool = True) -> None:
        sp.add_argument("--workshop", default="workshop", help="workshop name (a label value; default: workshop)")
        if context:
            sp.add_argument("--context", help="kube context of the shared cluster (your admin context)")

    sp = sub.add_parser("join", help="(learner) grade as NAME from now on, with the kubeconfig your instructor gave you")
    sp.add_argument("--name", required=True)
    sp.add_argument("--kubeconfig", metavar="FILE")
    sp.set_defaults(func=cmd_join)

    sp = sub.add_parser("setup", help="namespaces, quotas, roles and a kubeconfig per learner of a roster")
    sp.add_argument("--roster", required=True, metavar="CSV", help="a CSV file with a `name` column")
    common(sp)
    sp.add_argument("--isolate", action="store_true", help="add the NetworkPolicy baseline that keeps other learners' pods out")
    sp.add_argument("--pod-cidr", action="append", metavar="CIDR", help="the cluster's pod network (default 10.244.0.0/16, kind's)")
    sp.add_argument("--server", metavar="URL", help="API server URL the learners use (default: your context's)")
    sp.add_argument("--node-address", metavar="ADDR",
                    help="node address learners' NodePort probes go to (default: the first node ExternalIP, else InternalIP)")
    sp.add_argument("--out", default="workshop-kubeconfigs", help="folder for the learners' kubeconfig files")
    sp.add_argument("--token-hours", type=float, default=12.0, help="lifetime of the learners' tokens (default 12)")
    sp.add_argument("--dry-run", action="store_true", help="print the objects as YAML instead of applying them")
    sp.set_defaults(func=cmd_setup)

    sp = sub.add_parser("teardown", help="delete exactly what setup made (namespaces labelled with the workshop)")
    common(sp)
    sp.add_argument("--learner", action="append", metavar="NAME", help="only these learners (repeatable)")
    sp.add_argument("--yes", action="store_true", help="do not ask")
    sp.set_defaults(func=cmd_teardown)

    sp = sub.add_parser("collect", help="merge handed-in `grade --json` files into the workshop results")
    sp.add_argument("dir", metavar="DIR")
    sp.set_defaults(func=cmd_collect)

    sp = sub.add_parser("status", help="learner x lesson: tasks passed, stuck-on task, last attempt")
    common(sp)
    sp.set_defaults(func=cmd_status)

    sp = sub.add_parser("report", help="per-task results (learner x task rows) as csv, json or html")
    common(sp)
    sp.add_argument("--format", choices=FORMATS, default="csv")
    sp.add_argument("--out", metavar="FILE", help="write here instead of standard output")
    sp.set_defaults(func=cmd_report)
