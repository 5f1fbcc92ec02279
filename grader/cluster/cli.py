"""`grade cluster up|down|status|doctor|preload`: argparse wiring and the handlers.

`add_cluster_parser(subparsers)` registers the `cluster` command; grader/cli.py calls it. Every
handler takes the parsed args and returns an exit code (0 ok, 1 a problem the output explains).
"""

from __future__ import annotations

import argparse
import time
from typing import Any

from rich.console import Console

from grader.cluster import addons, versions
from grader.cluster.doctor import Check, detect_cni, detect_policy_engine, policy_enforcement, run_doctor
from grader.cluster.kind import (DEFAULT_NAME, NODE_IMAGE_ENV, PROFILES, ClusterError, KindCluster, cluster_facts,
                                 context_name, forget_cluster_facts, record_cluster_facts, requested_node_image)
from grader.cluster.prereqs import check_prerequisites
from grader.cluster.runner import Runner, SubprocessRunner
from grader.kube.safety import CourseContexts, UnsafeTargetError

console = Console(highlight=False, soft_wrap=True)  # never break a command a learner must paste


def add_cluster_parser(subparsers: Any) -> None:
    """Register `cluster` and its subcommands on an argparse subparsers object."""
    cluster = subparsers.add_parser("cluster", help="create, check and remove the course's kind cluster")
    sub = cluster.add_subparsers(dest="cluster_command", required=True, metavar="{up,down,status,doctor,preload}")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--name", default=DEFAULT_NAME, help="kind cluster name (context kind-NAME); default: course")

    up = sub.add_parser("up", help="check prerequisites, create or reuse the cluster, start cloud-provider-kind, run doctor")
    common(up)
    up.add_argument("--profile", choices=sorted(PROFILES), default="default",
                    help="default: kindnet; calico: Calico CNI (when kindnet does not enforce NetworkPolicy)")
    up.add_argument("--no-doctor", action="store_true", help="skip the final self-test")
    up.add_argument("--node-image", metavar="IMAGE", default=None,
                    help=f"create the nodes from IMAGE, already in the container engine (e.g. built from source, "
                         f"docs/live.md); default: ${NODE_IMAGE_ENV}, else the pinned {versions.NODE_IMAGE_TAG}")
    up.add_argument("--no-cloud-provider", action="store_true",
                    help="do not start cloud-provider-kind: LoadBalancer Services and Ingress then get no address, "
                         "and `grade cluster doctor` says they are not provided")
    up.set_defaults(func=cmd_up)

    down = sub.add_parser("down", help="delete the cluster and stop cloud-provider-kind")
    common(down)
    down.set_defaults(func=cmd_down)

    status = sub.add_parser("status", help="nodes, CNI, DNS, LoadBalancer/Ingress provider, NetworkPolicy enforcement")
    common(status)
    status.add_argument("--context", default=None, help="show this kube context's cluster (default: kind-NAME)")
    status.set_defaults(func=cmd_status)

    doctor = sub.add_parser("doctor", help="live self-test with a fix hint per failing line")
    common(doctor)
    doctor.add_argument("--context", default=None, help="run against this kube context (default: kind-NAME)")
    doctor.set_defaults(func=cmd_doctor)

    preload = sub.add_parser("preload", help="pull every course image and `kind load` it into the cluster")
    common(preload)
    preload.set_defaults(func=cmd_preload)


def _engine_or_report(runner: Runner) -> str | None:
    pre = check_prerequisites(runner)
    for problem in pre.problems:
        console.print(f"[red]✗[/red] {problem}")
    return pre.engine if pre.ok else None


def cmd_up(args: argparse.Namespace, runner: Runner | None = None) -> int:
    """Create or reuse the cluster, start cloud-provider-kind, wait for nodes and CoreDNS, run doctor."""
    runner = runner or SubprocessRunner()
    engine = _engine_or_report(runner)
    if engine is None:
        console.print("Install what is missing, then run `grade cluster up` again.")
        return 1
    cluster = KindCluster(runner, args.name, engine)
    contexts = CourseContexts.default()
    node_image = requested_node_image(getattr(args, "node_image", None))
    try:
        if cluster.exists():
            healthy, why = cluster.healthy()
            if not healthy:
                console.print(f"[red]✗[/red] cluster {args.name!r} exists but its API server does not answer ({why}).\n"
                              f"  Fix: `grade cluster down --name {args.name}` then `grade cluster up --name {args.name}`.")
                return 1
            console.print(f"[green]✓[/green] reusing the healthy cluster {args.name!r} (context {cluster.context})")
        else:
            if node_image and not runner.run([engine, "image", "inspect", node_image], timeout=30).ok:
                console.print(f"[red]✗[/red] node image {node_image!r} is not in {engine}'s images.\n"
                              f"  Fix: build or load it first (docs/live.md, \"How our CI builds the cluster\"), "
                              f"or drop --node-image/${NODE_IMAGE_ENV} to use the pinned {versions.NODE_IMAGE_TAG}.")
                return 1
            shown = node_image or versions.NODE_IMAGE_TAG
            with console.status(f"creating kind cluster {args.name!r} ({args.profile} profile, {shown}); "
                                "the first time pulls the node image, a few minutes"):
                cluster.create(args.profile, node_image=node_image)
            console.print(f"[green]✓[/green] created cluster {args.name!r}")
            if args.profile == "calico":
                out = runner.run(addons.calico_install_command(cluster.context), timeout=300)
                if not out.ok:
                    console.print(f"[red]✗[/red] installing Calico failed: {out.stderr.strip()[-500:]}")
                    return 1
                console.print(f"[green]✓[/green] Calico {versions.CALICO_VERSION} installed")
        contexts.record(cluster.context, cluster.kubeconfig_server() or "", args.profile)
        running_image = cluster.node_image()
        record_cluster_facts(cluster.context, node_image=running_image or node_image or versions.NODE_IMAGE)
        if running_image and running_image != versions.NODE_IMAGE:
            console.print(f"  node image: {running_image} (not the pinned {versions.NODE_IMAGE_TAG} digest)")
    except ClusterError as exc:
        console.print(f"[red]✗[/red] {exc}")
        return 1
    for node in addons.nodes_with_exclude_label(runner, cluster.context):
        runner.run(addons.unexclude_nodes_command(cluster.context, node), timeout=30)
    provider_ok = _start_load_balancer_provider(args, runner, engine, cluster.context)
    if not _wait_nodes_and_dns(runner, cluster.context, timeout=300):
        return 1
    if getattr(args, "no_doctor", False):
        return 0 if provider_ok else 1
    doctor = _doctor(cluster.context, runner, engine, args.name)
    return doctor if provider_ok else 1


def _start_load_balancer_provider(args: argparse.Namespace, runner: Runner, engine: str, context: str) -> bool:
    """Start cloud-provider-kind, or say plainly that LoadBalancer/Ingress are not provided (and why).

    Returns False only when it was wanted and could not start; the reason is recorded for status and doctor.
    """
    if getattr(args, "no_cloud_provider", False):
        record_cluster_facts(context, load_balancer="not provided: `grade cluster up --no-cloud-provider`")
        console.print("[yellow]-[/yellow] cloud-provider-kind not started (--no-cloud-provider): LoadBalancer Services "
                      "and Ingress are not provided on this cluster")
        return True
    out = addons.start_cloud_provider_kind(runner, engine)
    if not out.ok:
        why = (out.stderr.strip().splitlines() or ["no output"])[-1][-300:]
        record_cluster_facts(context, load_balancer=f"not provided: cloud-provider-kind did not start ({why})")
        console.print(f"[red]✗[/red] starting cloud-provider-kind failed: {why}\n"
                      "  LoadBalancer Services and Ingress are not provided on this cluster until it runs.\n"
                      f"  Fix: check `{engine} network ls` lists `kind` and that {versions.CLOUD_PROVIDER_KIND_IMAGE} "
                      "can be pulled, then run `grade cluster up` again (or `--no-cloud-provider` to go without).")
        return False
    record_cluster_facts(context, load_balancer=f"cloud-provider-kind {versions.CLOUD_PROVIDER_KIND_VERSION}")
    console.print(f"[green]✓[/green] cloud-provider-kind {versions.CLOUD_PROVIDER_KIND_VERSION} running "
                  "(LoadBalancer, Ingress, Gateway API)")
    return True


def _wait_nodes_and_dns(runner: Runner, context: str, timeout: float) -> bool:
    """Wait, with a progress display, until every node is Ready and CoreDNS is available."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    steps = [
        ("nodes Ready", ["kubectl", "--context", context, "wait", "--for=condition=Ready", "nodes", "--all", "--timeout=10s"]),
        ("CoreDNS available", ["kubectl", "--context", context, "-n", "kube-system", "wait", "--for=condition=Available",
                               "deployment/coredns", "--timeout=10s"]),
    ]
    deadline = time.monotonic() + timeout
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=False) as progress:
        for label, argv in steps:
            task = progress.add_task(f"waiting for {label}", total=1)
            while True:
                out = runner.run(argv, timeout=30)
                if out.ok:
                    progress.update(task, completed=1, description=f"[green]✓[/green] {label}")
                    break
                if time.monotonic() > deadline:
                    progress.update(task, description=f"[red]✗[/red] {label}: not within {timeout:.0f} s")
                    console.print(f"  {out.stderr.strip()[-300:]}\n  Fix: `kubectl --context {context} get pods -A` "
                                  "shows what is stuck; `grade cluster doctor` explains more.")
                    return False
                time.sleep(2)
    return True


def _doctor(context: str, runner: Runner, engine: str, name: str, explicit: bool = False) -> int:
    from grader.kube.client import KubeClient

    try:
        client = KubeClient.connect(context, explicit=explicit)
    except UnsafeTargetError as exc:
        console.print(f"[red]✗[/red] {exc}")
        return 1
    with console.status("running the cluster self-test (about a minute)"):
        checks = run_doctor(client, runner, engine, name)
    print_checks(checks)
    return 0 if all(c.ok is not False for c in checks) else 1


def print_checks(checks: list[Check]) -> None:
    """One line per check; failing ones followed by their fix."""
    for c in checks:
        mark = "[green]✓[/green]" if c.ok else "[yellow]-[/yellow]" if c.ok is None else "[red]✗[/red]"
        console.print(f"{mark} {c.name}: {c.detail}")
        if c.hint and c.ok is not True:
            console.print(f"    fix: {c.hint}")


def cmd_doctor(args: argparse.Namespace, runner: Runner | None = None) -> int:
    """Run the live self-test."""
    runner = runner or SubprocessRunner()
    engine = "podman" if not runner.which("docker") and runner.which("podman") else "docker"
    context = args.context or context_name(args.name)
    return _doctor(context, runner, engine, args.name, explicit=args.context is not None)


def cmd_down(args: argparse.Namespace, runner: Runner | None = None) -> int:
    """Delete the cluster; stop cloud-provider-kind unless other kind clusters still use it."""
    runner = runner or SubprocessRunner()
    engine = "podman" if not runner.which("docker") and runner.which("podman") else "docker"
    cluster = KindCluster(runner, args.name, engine)
    if cluster.exists():
        out = cluster.delete()
        if not out.ok:
            console.print(f"[red]✗[/red] `kind delete cluster --name {args.name}` failed: {out.stderr.strip()[-300:]}")
            return 1
        console.print(f"[green]✓[/green] deleted cluster {args.name!r}")
    else:
        console.print(f"cluster {args.name!r} does not exist")
    others = cluster.other_clusters()
    if others:
        console.print(f"cloud-provider-kind kept running: it also serves {', '.join(others)}")
    else:
        addons.stop_cloud_provider_kind(runner, engine, args.name)
        console.print("[green]✓[/green] cloud-provider-kind stopped")
    CourseContexts.default().forget(cluster.context)
    forget_cluster_facts(cluster.context)
    return 0


def cmd_status(args: argparse.Namespace, runner: Runner | None = None) -> int:
    """Nodes, CNI, DNS, LoadBalancer/Ingress provider, and whether NetworkPolicy is enforced."""
    from grader.kube.client import KubeClient

    runner = runner or SubprocessRunner()
    named = getattr(args, "context", None)
    context = named or context_name(args.name)
    try:
        client = KubeClient.connect(context, explicit=named is not None)
    except UnsafeTargetError as exc:
        console.print(f"[red]✗[/red] {exc}")
        return 1
    ok, why = client.readyz()
    if not ok:
        console.print(f"[red]✗[/red] API server of {context} not reachable: {why}. Is Docker running? "
                      "Then `grade cluster up` (it reuses the cluster).")
        return 1
    version = client.server_version()
    too_old = versions.server_version_problem(version) if version else None
    if too_old:
        console.print(f"[red]✗[/red] Kubernetes {version}: {too_old.removeprefix(f'the cluster runs Kubernetes {version}, ')}.")
    else:
        console.print(f"Kubernetes: {version or 'unknown (could not read /version)'} (pinned {versions.KUBERNETES_VERSION})")
    nodes = client.list("v1", "Node")
    for n in nodes:
        ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in n["status"].get("conditions", []))
        version = (n["status"].get("nodeInfo") or {}).get("kubeletVersion", "?")
        console.print(f"node {n['metadata']['name']}: {'Ready' if ready else 'NotReady'} ({version})")
    daemonsets = [d["metadata"]["name"] for d in client.list("apps/v1", "DaemonSet", "kube-system")]
    cni, policy_engine = detect_cni(daemonsets), detect_policy_engine(daemonsets)
    console.print(f"CNI: {cni}" + (f" (NetworkPolicy engine: {policy_engine})" if policy_engine != cni else ""))
    dns = client.list("v1", "Pod", "kube-system", label_selector="k8s-app=kube-dns")
    dns_ready = sum(any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in (p.get("status") or {}).get("conditions", [])) for p in dns)
    console.print(f"DNS: CoreDNS {dns_ready}/{len(dns)} Ready")
    facts = cluster_facts(context)
    if facts.get("node_image"):
        console.print(f"node image: {facts['node_image']}")
    engine = "podman" if not runner.which("docker") and runner.which("podman") else "docker"
    state = addons.cloud_provider_kind_state(runner, engine)
    not_provided = str(facts.get("load_balancer") or "").startswith("not provided")
    if state != "running" and not_provided:
        console.print(f"LoadBalancer/Ingress/Gateway provider: {facts['load_balancer']}")
    else:
        console.print(f"LoadBalancer/Ingress/Gateway provider: cloud-provider-kind {state or 'not running'}"
                      + ("" if state == "running" else " (fix: `grade cluster up`)"))
    enforced = policy_enforcement(client.context, policy_engine)
    console.print(f"NetworkPolicy enforced: {enforced}"
                  + (" (run `grade cluster doctor` to find out)" if enforced == "unknown" else ""))
    return 1 if too_old else 0


def cmd_preload(args: argparse.Namespace, runner: Runner | None = None) -> int:
    """Pull every course image, `kind load` the in-cluster ones into the nodes."""
    runner = runner or SubprocessRunner()
    engine = _engine_or_report(runner)
    if engine is None:
        return 1
    cluster = KindCluster(runner, args.name, engine)
    in_cluster = list(versions.COURSE_IMAGES)
    profile = (CourseContexts.default().load().get(cluster.context) or {}).get("profile")
    if profile == "calico":
        in_cluster += list(versions.CALICO_IMAGES)
    failed = 0
    for image in [*in_cluster, *versions.HOST_IMAGES]:
        out = runner.run([engine, "pull", image], timeout=900)
        console.print(f"{'[green]✓[/green]' if out.ok else '[red]✗[/red]'} pulled {image}")
        failed += not out.ok
    if not cluster.exists():
        console.print(f"cluster {args.name!r} does not exist yet: images are pulled; run `grade cluster up`, "
                      "then `grade cluster preload` again to load them into the nodes.")
        return 1 if failed else 0
    for image in in_cluster:
        out = cluster.load_image(image)
        console.print(f"{'[green]✓[/green]' if out.ok else '[red]✗[/red]'} loaded {image} into {args.name}"
                      + ("" if out.ok else f": {out.stderr.strip()[-200:]}"))
        failed += not out.ok
    return 1 if failed else 0
