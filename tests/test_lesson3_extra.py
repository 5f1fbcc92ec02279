"""Lesson 3 beyond the generic self-tests: the forms of backend-host a client accepts, and recognised slips."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.runner import grade_lesson

SOLUTION = Path(__file__).resolve().parent.parent / "exercises" / "lesson3" / "solution"


def _grade(folder: Path, **replacements: tuple[str, str]):
    """Grade the solution with (old, new) text replaced in the named files (file stem as keyword)."""
    for f in SOLUTION.glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        old, new = replacements.get(f.stem.replace("-", "_"), ("", ""))
        if old:
            assert old in text, f"{f.name} no longer contains {old!r}"
            text = text.replace(old, new)
        (folder / f.name).write_text(text, encoding="utf-8")
    report = grade_lesson("lesson3", [folder])
    assert report.setup_error is None, report.setup_error
    return {t.id: t for t in report.tasks}


@pytest.mark.parametrize(
    "host",
    ["my-service.lesson3.svc", "My-Service.Lesson3", "my-service.lesson3.svc.cluster.local.", "http://my-service.lesson3:80", "my-service.lesson3:80"],
)
def test_every_name_that_reaches_my_service_from_another_namespace_passes(tmp_path, host):
    tasks = _grade(tmp_path, client_config=("backend-host: my-service.lesson3", f"backend-host: {host}"))
    assert tasks["test_cross_namespace"].passed, tasks["test_cross_namespace"].failure


def test_a_name_of_another_service_fails_cross_namespace(tmp_path):
    tasks = _grade(tmp_path, client_config=("backend-host: my-service.lesson3", "backend-host: web.lesson3"))
    assert not tasks["test_cross_namespace"].passed


def test_the_configmap_in_the_lesson_namespace_is_recognised(tmp_path):
    tasks = _grade(tmp_path, client_config=("  namespace: lesson3-client\n", ""))
    failure = tasks["test_cross_namespace"].failure
    assert failure["observed"] == "ConfigMap client-config is in namespace lesson3"
    assert any("set metadata.namespace: lesson3-client" in h for h in failure["hints"])


def test_an_external_name_written_as_a_url_is_refused_with_what_to_write(tmp_path):
    """The API server rejects a URL in externalName, so the grader stops before grading, at file:line."""
    for f in SOLUTION.glob("*.yaml"):
        text = f.read_text(encoding="utf-8")
        (tmp_path / f.name).write_text(text.replace("externalName: example.com", "externalName: https://example.com/"), encoding="utf-8")
    report = grade_lesson("lesson3", [tmp_path])
    assert report.setup_error is not None and not report.tasks
    assert "services.yaml:" in report.setup_error
    assert "write the host name only, e.g. example.com" in report.setup_error
