"""Lesson 5: the README's TLS route works end to end, and the optional Gateway task never fails the lesson when absent."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader.runner import grade_lesson
from grader.tlsgen import write_tls_secret

LESSON = Path(__file__).resolve().parent.parent / "exercises" / "lesson5"


def test_tls_cert_helper_makes_the_secret_the_ingress_needs(tmp_path):
    work = tmp_path / "work" / "lesson5"
    shutil.copytree(LESSON / "solution", work)
    (work / "myapp-tls.yaml").unlink()
    before = grade_lesson("lesson5", [work], backend="sim")
    assert "test_tls" in before.failed_ids()
    write_tls_secret(["myapp.example.com"], work)  # what `grade tls-cert --host myapp.example.com --out work/lesson5/` does
    after = grade_lesson("lesson5", [work], backend="sim")
    assert after.failed_ids() == []


def test_certificate_for_another_host_fails_with_the_sans_it_served(tmp_path):
    work = tmp_path / "lesson5"
    shutil.copytree(LESSON / "solution", work)
    (work / "myapp-tls.yaml").unlink()
    write_tls_secret(["other.example.com"], work, name="myapp-tls")
    report = grade_lesson("lesson5", [work], backend="sim")
    assert report.failed_ids() == ["test_tls"]
    failure = next(t.failure for t in report.tasks if t.id == "test_tls")
    assert "other.example.com" in failure["observed"]


def test_gateway_task_is_skipped_not_failed_without_a_gateway():
    report = grade_lesson("lesson5", [LESSON / "solution"], backend="sim")
    task = next(t for t in report.tasks if t.id == "test_gateway_api_optional")
    assert task.passed and task.skipped and "optional" in task.skipped
    assert report.passed


def test_an_httproute_without_gateway_is_checked_and_fails(tmp_path):
    work = tmp_path / "lesson5"
    shutil.copytree(LESSON / "alternatives" / "with-gateway-api", work)
    text = (work / "gateway.yaml").read_text()
    (work / "gateway.yaml").write_text(text[text.index("apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute"):])
    report = grade_lesson("lesson5", [work], backend="sim")
    assert report.failed_ids() == ["test_gateway_api_optional"]
