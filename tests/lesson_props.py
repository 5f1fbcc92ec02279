"""Helpers for the per-lesson property tests (tests/test_properties_lessonN.py).

A property test mutates a lesson's reference solution at random, runs one task's real check on the
simulator, and compares pass/fail with an oracle written in the test from the Kubernetes rules
themselves (not from grader.model). Running the check function directly on a Lab built from the
manifests keeps each example to a few milliseconds of model work.
"""

from __future__ import annotations

import functools
import importlib.util
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from grader.backends.sim import SimBackend
from grader.checks import CheckFailed
from grader.lab import Lab
from grader.manifests import load, load_text
from grader.runner import manifest_files

EXERCISES = Path(__file__).resolve().parent.parent / "exercises"


@functools.cache
def checks(lesson: str) -> Any:
    """The lesson's check module, imported once."""
    path = EXERCISES / lesson / f"test_{lesson}.py"
    spec = importlib.util.spec_from_file_location(f"props_{lesson}_checks", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@functools.cache
def _fixtures(lesson: str, namespace: str) -> tuple:
    return tuple(load(manifest_files([EXERCISES / lesson / "fixtures"]), namespace=namespace))


def solution_docs(lesson: str, name: str) -> list[dict]:
    """The objects of one solution file, as dicts to mutate."""
    return [d for d in yaml.safe_load_all((EXERCISES / lesson / "solution" / name).read_text(encoding="utf-8")) if d]


def lab_of(lesson: str, namespace: str, docs: list[dict]) -> Lab:
    """Fixtures + these objects, applied to the simulator, as `grade` would open the lab."""
    text = "\n---\n".join(yaml.safe_dump(d, sort_keys=False) for d in docs)
    manifests = list(_fixtures(lesson, namespace)) + load_text(textwrap.dedent(text), "learner.yaml", namespace=namespace)
    backend = SimBackend()
    backend.apply(manifests)
    return Lab(backend, manifests, namespace)


def passes(lesson: str, task: str, lab: Lab) -> bool:
    """Whether the task's real check passes on this lab (a skipped optional task counts as passing)."""
    try:
        getattr(checks(lesson), task)(lab)
    except CheckFailed:
        return False
    except pytest.skip.Exception:
        return True
    return True


def explain(lesson: str, task: str, lab: Lab) -> str:
    """The failure of a task, for an assertion message."""
    try:
        getattr(checks(lesson), task)(lab)
    except CheckFailed as e:
        return e.render()
    return "passed"
