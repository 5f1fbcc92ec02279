"""A workshop on a real cluster: setup, a learner grading through their own kubeconfig, results, teardown.

Skipped with the reason when no course cluster is reachable (the `live_client` fixture)."""

from __future__ import annotations

import yaml

from grader.kube.client import KubeClient
from grader.runner import grade_lesson
from grader.workshop.learner import learner_fence
from grader.workshop.results import publish, read_cluster_records, result_record
from grader.workshop.setup import WorkshopPlan, lesson_spaces, setup_workshop, teardown_workshop


def test_workshop_round_trip(live_client, tmp_path, monkeypatch):
    from grader.lessons import load_lesson

    lesson = load_lesson("lesson2")
    plan = WorkshopPlan("live-test", tuple(lesson_spaces([lesson])), isolate=True)
    try:
        out = setup_workshop(live_client, plan, ["wst-alice"], tmp_path)
        kubeconfig = out[0].kubeconfig
        context = yaml.safe_load(kubeconfig.read_text())["current-context"]
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        learner = KubeClient.connect(context)
        report = grade_lesson(lesson, backend="live", solution=True, fence=learner_fence("wst-alice"), backend_options={"context": context})
        assert report.setup_error is None, report.setup_error
        publish(learner, result_record(report, "wst-alice"))
        assert [r["lesson"] for r in read_cluster_records(live_client, "live-test")] == ["lesson2"]
    finally:
        assert set(teardown_workshop(live_client, "live-test")) <= {"wst-alice-home", "wst-alice-lesson2"}
