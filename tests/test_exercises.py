"""Every exercise is solvable, its starter is not yet solved, and every known mistake is caught with its hint.

Runs each lesson's real checks through the same path as `grade lessonN`, on the simulator.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from grader.lessons import list_lessons
from grader.runner import grade_lesson

LESSONS = list_lessons()


def _failure_text(task) -> str:
    f = task.failure or {}
    return "\n".join([str(f.get("expected", "")), str(f.get("observed", "")), *map(str, f.get("evidence") or []), *map(str, f.get("hints") or []), str(f.get("table") or ""), str(f.get("error", ""))])


def _summary(report) -> str:
    if report.setup_error:
        return f"setup error: {report.setup_error}"
    return "\n".join(f"{'PASS' if t.passed else 'FAIL'} {t.id}: {'' if t.passed else _failure_text(t)[:1500]}" for t in report.tasks)


def test_lessons_exist():
    assert [lesson.id for lesson in LESSONS][:3] == ["lesson1", "lesson2", "lesson3"]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.id)
def test_reference_solution_passes_every_task(lesson):
    report = grade_lesson(lesson, [lesson.solution])
    assert report.tasks, _summary(report)
    assert report.passed, _summary(report)


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.id)
def test_untouched_starter_fails(lesson):
    report = grade_lesson(lesson, [lesson.starter])
    assert report.setup_error is None, "the starter must load so the learner sees per-task failures: " + str(report.setup_error)
    assert not report.passed, _summary(report)


ALTERNATIVES = [(lesson, alt) for lesson in LESSONS for alt in lesson.alternatives()]
MISTAKES = [(lesson, m) for lesson in LESSONS for m in lesson.mistakes()]


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.id)
def test_at_least_two_alternative_solutions(lesson):
    assert len(lesson.alternatives()) >= 2


@pytest.mark.parametrize("lesson", LESSONS, ids=lambda lesson: lesson.id)
def test_every_task_has_three_hints_and_a_readme_entry_in_grading_order(lesson):
    tasks = [task for task, _ in lesson.tasks()]
    assert set(lesson.hints) == set(tasks), "lesson.yaml needs one hint ladder per task, and none for a task that does not exist"
    assert all(len(ladder) == 3 for ladder in lesson.hints.values()), "each hint ladder goes vague, more specific, exact: three hints"
    readme = (lesson.dir / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Tasks"):]
    found = [re.search(rf"\b{task}\b", section) for task in tasks]
    assert all(found), f"README.md's Tasks section does not name {[t for t, m in zip(tasks, found) if not m]}"
    assert [m.start() for m in found] == sorted(m.start() for m in found), "README.md lists the tasks in another order than grade prints them"


@pytest.mark.parametrize("lesson,alt", ALTERNATIVES, ids=[f"{lesson.id}-{a.name}" for lesson, a in ALTERNATIVES])
def test_alternative_correct_solution_passes(lesson, alt: Path):
    report = grade_lesson(lesson, [alt])
    assert report.passed, _summary(report)


@pytest.mark.parametrize("lesson,mistake", MISTAKES, ids=[f"{lesson.id}-{m.name}" for lesson, m in MISTAKES])
def test_known_mistake_fails_exactly_its_tasks_with_its_hint(lesson, mistake: Path):
    spec = yaml.safe_load((mistake / "mistake.yaml").read_text(encoding="utf-8"))
    must_fail = set(spec["fails"])
    report = grade_lesson(lesson, [mistake])
    assert report.setup_error is None, report.setup_error
    failed = set(report.failed_ids())
    assert failed == must_fail, f"expected exactly {sorted(must_fail)} to fail, got {sorted(failed)}\n{_summary(report)}"
    for task in report.tasks:
        if task.id in must_fail:
            assert spec["hint"].lower() in _failure_text(task).lower(), f"{task.id} does not show the hint {spec['hint']!r}:\n{_failure_text(task)}"


@pytest.mark.parametrize("lesson,folder", MISTAKES + ALTERNATIVES, ids=[f"{lesson.id}-{m.name}" for lesson, m in MISTAKES + ALTERNATIVES])
def test_every_mistake_and_alternative_is_gradeable_live(lesson, folder: Path):
    """The live grader applies only namespaced objects in the lesson's namespaces (grader.kube.safety): a folder
    that needs anything else could be proven on the simulator only."""
    from grader.kube.safety import check_manifests_allowed
    from grader.manifests import load
    from grader.runner import manifest_files

    manifests = load(manifest_files([folder]), namespace=lesson.namespace)
    assert manifests and check_manifests_allowed(manifests, lesson.namespaces) == []
