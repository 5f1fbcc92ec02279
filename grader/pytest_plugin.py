"""The pytest side of the grader: the `lab` fixture and per-task result collection.

`grade lessonN` (grader.runner) builds the Lab itself and hands it over here; running pytest on an
exercise folder directly also works:

    pytest exercises/lesson2 --grade-backend sim --grade-manifests work/lesson2
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest

from grader.checks import CheckFailed, TaskResult

# Set by grader.runner for the duration of one pytest.main call: (lab, collector).
_INJECTED: tuple[Any, "TaskCollector"] | None = None


class TaskCollector:
    """Turns pytest's per-test reports into TaskResults the CLI prints."""

    def __init__(self) -> None:
        self.tasks: dict[str, TaskResult] = {}
        self._started: dict[str, float] = {}

    def start(self, item: pytest.Item) -> None:
        self._started[item.nodeid] = time.perf_counter()

    def finish(self, item: pytest.Item, call: pytest.CallInfo) -> None:
        fn = getattr(item, "function", None)
        doc = (getattr(fn, "__doc__", None) or item.name).strip().splitlines()[0]
        task = self.tasks.get(item.name) or TaskResult(item.name, doc, True)
        task.duration_s = time.perf_counter() - self._started.get(item.nodeid, time.perf_counter())
        if call.excinfo is not None:
            exc = call.excinfo.value
            if call.excinfo.errisinstance(pytest.skip.Exception):
                task.skipped = str(getattr(exc, "msg", exc))
            elif isinstance(exc, CheckFailed):
                task.passed, task.failure = False, exc.as_dict()
            elif isinstance(exc, AssertionError):
                task.passed, task.failure = False, CheckFailed("the check's assertion holds", str(exc) or "assertion failed").as_dict()
            else:
                import traceback

                task.passed = False
                task.failure = {
                    "error": f"{type(exc).__name__}: {exc}",
                    "traceback": "".join(traceback.format_exception(exc)),
                }
        self.tasks[item.name] = task


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("grade", "k8s-netcourse grader")
    group.addoption("--grade-backend", default="sim", choices=("sim", "live"), help="where to run the probes")
    group.addoption("--grade-manifests", action="append", default=[], help="learner manifests (file or folder); default: the lesson's work folder")


@pytest.fixture(scope="module")
def lab(request: pytest.FixtureRequest) -> Any:
    """The Lab of this lesson: fixtures + the learner's manifests applied to the chosen backend.

    Module scope: one lesson's checks live in one module, and the lesson is found from its path."""
    if _INJECTED is not None:
        return _INJECTED[0]
    from grader.checks import SetupError
    from grader.lab import open_lab

    test_dir = Path(request.path).parent
    lesson_id = next((p.name for p in [test_dir, *test_dir.parents] if re.fullmatch(r"lesson\d+", p.name)), None)
    if lesson_id is None:
        pytest.fail("the lab fixture works only inside exercises/lessonN/", pytrace=False)
    manifests = [Path(m) for m in request.config.getoption("--grade-manifests")] or None
    try:
        return open_lab(lesson_id, manifests, backend=request.config.getoption("--grade-backend"))
    except SetupError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    if _INJECTED is not None:
        _INJECTED[1].start(item)


def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> None:
    if _INJECTED is None:
        return None
    collector = _INJECTED[1]
    if call.when == "call" or (call.when == "setup" and call.excinfo is not None):
        collector.finish(item, call)
    return None
