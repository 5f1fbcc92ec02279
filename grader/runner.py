"""Grade one lesson: load fixtures + the learner's manifests, apply them, run the checks with pytest."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

from grader.checks import LessonReport, SetupError
from grader.lab import Lab, make_backend
from grader.lessons import MANIFEST_SUFFIXES, Lesson, load_lesson

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
    from grader.lessons import ensure_workspace

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
    learner: str | None = None,
) -> Lab:
    """Fixtures + learner manifests loaded, checked and applied. Raises SetupError with a learner message.

    `learner` (workshop mode): every lesson namespace becomes `<learner>-<namespace>` and manifests that
    reach outside those namespaces are refused (grader.workshop.fence).
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
    if learner:
        from grader.workshop.fence import LearnerNameError, fence_lesson
        from grader.workshop.learner import learner_node_ports
        from grader.workshop.setup import home_namespace

        node_ports = learner_node_ports(learner)  # nodePorts are cluster-wide: 30080 becomes the learner's own
        facts_namespace = home_namespace(learner)  # where setup published the cluster's NetworkPolicy verdict
        try:
            loaded, namespace_map = fence_lesson(loaded, learner, lesson.namespaces, node_ports)
        except LearnerNameError as e:
            raise SetupError(str(e)) from None
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


def grade_lesson(
    lesson: str | Lesson,
    manifests: list[Path] | None = None,
    *,
    backend: str | Any = "sim",
    solution: bool = False,
    keyword: str | None = None,
    enforce_policy: bool = True,
    junit: Path | None = None,
    backend_options: dict[str, Any] | None = None,
    learner: str | None = None,
) -> LessonReport:
    """Run every task of a lesson and return the per-task report (never raises for a learner's mistake)."""
    import pytest

    from grader import pytest_plugin

    lesson = lesson if isinstance(lesson, Lesson) else load_lesson(lesson)
    backend_name = backend if isinstance(backend, str) else getattr(backend, "name", "custom")
    report = LessonReport(lesson.id, "simulator" if backend_name == "sim" else backend_name)
    if learner:
        from grader.workshop.learner import node_port_line

        report.notes.append(node_port_line(learner))  # printed under the lesson's title, kept in --json
    try:
        lab = open_lab(lesson, manifests, backend=backend, solution=solution, enforce_policy=enforce_policy, backend_options=backend_options, learner=learner)
    except SetupError as e:
        report.setup_error = str(e)
        return report
    report.backend = lab.backend.name
    collector = pytest_plugin.TaskCollector()
    args = [
        str(lesson.test_file),
        "-p",
        "grader.pytest_plugin",
        "-p",
        "no:cacheprovider",
        "--import-mode=importlib",
        "-o",
        "addopts=",
        "--rootdir",
        str(lesson.dir),
        "-q",
        "--no-header",
        "-W",
        "ignore::DeprecationWarning",
    ]
    if keyword:
        args += ["-k", keyword]
    if junit:
        args += ["--junitxml", str(junit)]
    out = io.StringIO()
    pytest_plugin._INJECTED = (lab, collector)
    # Only our plugin: third-party ones installed beside it (hypothesis, randomly, xdist...) would cost
    # start-up time or reorder and parallelise the tasks.
    autoload = os.environ.get("PYTEST_DISABLE_PLUGIN_AUTOLOAD")
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            code = pytest.main(args)
    finally:
        pytest_plugin._INJECTED = None
        if autoload is None:
            os.environ.pop("PYTEST_DISABLE_PLUGIN_AUTOLOAD", None)
        else:
            os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = autoload
    order = [t for t, _ in lesson.tasks()]
    report.tasks = sorted(collector.tasks.values(), key=lambda t: order.index(t.id) if t.id in order else len(order))
    if not report.tasks and code not in (0, 5):
        report.setup_error = "the lesson's checks could not run:\n" + out.getvalue()[-3000:]
    elif not report.tasks and keyword:
        report.setup_error = f"no task matches -k {keyword!r}; tasks: " + ", ".join(order)
    return report

