"""Grade one lesson: load fixtures + the learner's manifests, apply them, run the checks with pytest."""

from __future__ import annotations

import contextlib
import io
import os
from pathlib import Path
from typing import Any

from grader.checks import LessonReport, SetupError
from grader.lab import Fence, manifest_files, open_lab  # noqa: F401  (manifest_files: also imported from here)
from grader.lessons import Lesson, load_lesson


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
    fence: Fence | None = None,
) -> LessonReport:
    """Run every task of a lesson and return the per-task report (never raises for a learner's mistake).

    `fence` (workshop mode, from grader.workshop.learner.learner_fence): the learner's own namespaces and nodePorts.
    """
    import pytest

    from grader import pytest_plugin

    lesson = lesson if isinstance(lesson, Lesson) else load_lesson(lesson)
    backend_name = backend if isinstance(backend, str) else getattr(backend, "name", "custom")
    report = LessonReport(lesson.id, "simulator" if backend_name == "sim" else backend_name)
    if fence is not None:
        report.notes.append(fence.note)  # printed under the lesson's title, kept in --json
    try:
        lab = open_lab(lesson, manifests, backend=backend, solution=solution, enforce_policy=enforce_policy, backend_options=backend_options, fence=fence)
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

