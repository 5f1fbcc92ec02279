"""The learner's side of a workshop: `.grade/learner.yaml` (written once by `grade workshop join`), the
`--learner` option of `grade lessonN`, and publishing each graded run's result to the cluster."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grader.checks import SetupError
from grader.errors import GradeError
from grader.workshop.fence import LearnerNameError, fence_lesson, validate_learner_name


def learner_file() -> Path:
    """`.grade/learner.yaml` beside the progress file (GRADE_STATE moves both)."""
    from grader.lessons import progress_file

    return progress_file().parent / "learner.yaml"


def read_learner_config() -> dict[str, Any]:
    """{"name", "kubeconfig", "context", "node_port"} from `.grade/learner.yaml`, or {} when there is none."""
    try:
        data = yaml.safe_load(learner_file().read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


class KubeconfigError(GradeError, ValueError):
    """A kubeconfig file `grade workshop join` cannot use; the message names it and what to do."""


def _read_kubeconfig(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise KubeconfigError(f"{path}: cannot read the kubeconfig ({e})") from None
    if not isinstance(data, dict):
        raise KubeconfigError(f"{path}: not a kubeconfig (no `contexts:`); use the file your instructor gave you")
    return data


def kubeconfig_context(path: Path, data: dict[str, Any]) -> str:
    """The current context of kubeconfig `data` read from `path` (the one setup wrote has exactly one)."""
    contexts = [c for c in data.get("contexts") or [] if isinstance(c, dict)]
    context = data.get("current-context") or next((c.get("name") for c in contexts), None)
    if not context:
        raise KubeconfigError(f"{path}: the kubeconfig names no context; use the file your instructor gave you")
    return str(context)


def join(name: str, kubeconfig: Path | None = None) -> Path:
    """Write `.grade/learner.yaml` so every later `grade lessonN` runs as this learner; returns the file."""
    validate_learner_name(name)
    data: dict[str, Any] = {"name": name}
    if kubeconfig is not None:
        from grader.workshop.facts import kubeconfig_node_port

        path = kubeconfig.expanduser().resolve()
        config = _read_kubeconfig(path)
        data["context"] = kubeconfig_context(path, config)
        data["kubeconfig"] = str(path)
        port = kubeconfig_node_port(config)
        if port is not None:
            data["node_port"] = port  # setup's roster-wide choice: distinct from every other learner's
    f = learner_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    f.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return f


def learner_node_port(learner: str) -> int:
    """The learner's own nodePort: the one setup chose (saved by `grade workshop join`), else the stable hash
    of the name (without a kubeconfig, e.g. on the simulator; distinct for most names, not guaranteed)."""
    from grader.workshop.facts import LEARNER_NODE_PORTS, stable_node_port

    config = read_learner_config()
    port = config.get("node_port")
    if config.get("name") == learner and isinstance(port, int) and port in LEARNER_NODE_PORTS:
        return port
    return stable_node_port(learner)


def learner_node_ports(learner: str) -> dict[int, int]:
    """The lessons' nodePort -> this learner's ({30080: 31234}); the fence and the Lab use it."""
    from grader.workshop.facts import node_port_map

    return node_port_map(learner_node_port(learner))


def node_port_line(learner: str) -> str:
    """What a learner is told on every graded run (a note of the lesson's report): which nodePort is really theirs."""
    from grader.workshop.facts import node_port_map

    port = learner_node_port(learner)  # reads .grade/learner.yaml: once
    pairs = ", ".join(f"{course} -> {mine}" for course, mine in node_port_map(port).items())
    return (f"Workshop learner {learner}: your nodePort is {port}. Write the lesson's nodePort as it "
            f"says; the grader maps it to yours on the shared cluster ({pairs}), so from outside use "
            f"http://<node address>:{port}/.")


@dataclass(frozen=True)
class LearnerFence:
    """One learner's share of the workshop cluster, handed to the grader (a grader.lab.Fence)."""

    learner: str
    node_ports: dict[int, int]
    facts_namespace: str
    note: str

    def apply(self, manifests: list[Any], lesson_namespaces: list[str]) -> tuple[list[Any], dict[str, str]]:
        try:
            return fence_lesson(manifests, self.learner, lesson_namespaces, self.node_ports)
        except LearnerNameError as e:
            raise SetupError(str(e)) from None


def learner_fence(learner: str) -> LearnerFence:
    """The fence `grade lessonN` grades a workshop learner in: their namespaces, nodePort and published facts."""
    from grader.workshop.setup import home_namespace

    return LearnerFence(learner, learner_node_ports(learner), home_namespace(learner), node_port_line(learner))


def learner_for_grading(args: Any) -> str | None:
    """The learner to grade as (--learner, else `.grade/learner.yaml`), or None outside workshops.

    When the joined learner's kubeconfig applies, it becomes the kubeconfig and context of this run.
    Raises LearnerNameError, saying where the name came from, for a name that cannot prefix namespaces.
    """
    config = read_learner_config()
    name = getattr(args, "learner", None) or config.get("name")
    if not name:
        return None
    try:
        validate_learner_name(str(name))
    except LearnerNameError as e:
        where = "--learner" if getattr(args, "learner", None) else str(learner_file())
        raise LearnerNameError(f"{where}: {e}") from None
    if config.get("name") == name and config.get("kubeconfig"):
        if not getattr(args, "context", None):
            args.context = config.get("context")
        os.environ["KUBECONFIG"] = str(config["kubeconfig"])  # the grader's kube client reads it
    args.learner = str(name)
    return str(name)


def workshop_fields(args: Any) -> dict[str, Any]:
    """Extra fields for `grade --json` in a workshop, so `grade workshop collect` knows whose file it is."""
    from grader.workshop.results import now_iso

    name = getattr(args, "learner", None)
    return {"learner": name, "finished": now_iso()} if name else {}


def publish_result(report: Any, learner: str, args: Any, console: Any) -> None:
    """After a live run, store the result in the learner's ConfigMap; a failure here never fails grading."""
    if report.backend != "live":
        return
    from grader.kube.client import KubeClient
    from grader.workshop.results import publish, result_record

    try:
        client = KubeClient.connect(getattr(args, "context", None))
        rec = publish(client, result_record(report, learner))
    except Exception as e:  # noqa: BLE001 - the grade itself is already printed; say why the instructor will not see it
        console.print(f"[yellow]Could not record this result for your instructor: {e}[/]")
        return
    console.print(f"[dim]Result recorded for your instructor (attempt {rec['attempts']}).[/]")
