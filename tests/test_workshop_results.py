"""Workshop results: records from graded runs, the ConfigMap body, collected --json files, status and the per-task report."""

from __future__ import annotations

import csv
import io
import json
from types import SimpleNamespace

import pytest

from grader.cli import main
from grader.lessons import load_lesson
from grader.runner import grade_lesson
from grader.workshop.learner import learner_fence
from grader.workshop.report import render
from grader.workshop.results import (
    publish,
    read_cluster_records,
    read_json_results,
    records_from_configmap,
    result_record,
    results_patch,
    status_cell,
    task_rows,
)

LESSON2 = load_lesson("lesson2")
TASKS = {"lesson2": LESSON2.tasks()}


@pytest.fixture(scope="module")
def starter_report():
    return grade_lesson(LESSON2, [LESSON2.starter], backend="sim", fence=learner_fence("alice"))


@pytest.fixture(scope="module")
def solution_report():
    return grade_lesson(LESSON2, backend="sim", solution=True, fence=learner_fence("bob"))


def test_a_record_keeps_every_task_and_status_names_the_first_failing_one(starter_report):
    rec = result_record(starter_report, "alice", finished="2026-11-27T10:00:00")
    assert [t["id"] for t in rec["tasks"]] == [t for t, _ in LESSON2.tasks()]
    first_failing = next(t.id for t in starter_report.tasks if not t.passed)
    cell = status_cell(rec, [t for t, _ in LESSON2.tasks()])
    assert cell.stuck_on == first_failing
    assert cell.passed == sum(t.passed for t in starter_report.tasks) < cell.total
    assert cell.last_attempt == "2026-11-27T10:00:00"


def test_status_of_a_finished_lesson_and_of_a_setup_error(solution_report):
    ids = [t for t, _ in LESSON2.tasks()]
    done = status_cell(result_record(solution_report, "bob"), ids)
    assert done.stuck_on is None and done.passed == done.total == len(ids)
    broken = SimpleNamespace(lesson="lesson2", backend="simulator", tasks=[], setup_error="x.yaml:3: bad", passed=False)
    assert status_cell(result_record(broken, "carol"), ids).stuck_on == "setup error"
    assert status_cell(None, ids).last_attempt is None


def test_results_patch_sets_only_this_lessons_key_in_the_learners_home(starter_report):
    body = results_patch(result_record(starter_report, "alice"), "spring")
    assert body["metadata"]["namespace"] == "alice-home" and body["metadata"]["name"] == "grade-results"
    assert list(body["data"]) == ["lesson2"]
    assert records_from_configmap(body)[0]["learner"] == "alice"


def test_publish_counts_attempts_and_uses_one_field_manager_per_lesson(starter_report):
    stored = {"metadata": {"name": "grade-results", "namespace": "alice-home", "labels": {"netcourse/workshop": "spring"}},
              "data": {"lesson2": json.dumps({**result_record(starter_report, "alice"), "attempts": 3})}}
    calls = []
    client = SimpleNamespace(
        get=lambda *a: stored,
        resource=lambda v, k: SimpleNamespace(kind=k),
        dynamic=SimpleNamespace(server_side_apply=lambda res, body, namespace, field_manager, force_conflicts: calls.append((body, namespace, field_manager))),
    )
    rec = publish(client, result_record(starter_report, "alice"))
    assert rec["attempts"] == 4
    body, ns, manager = calls[0]
    assert (ns, manager) == ("alice-home", "grade-results-lesson2")
    assert body["metadata"]["labels"]["netcourse/workshop"] == "spring"


def test_instructor_reads_results_from_the_fake_api_server(starter_report, tmp_path, monkeypatch):
    from kubernetes import client as k8s

    from fake_apiserver import FakeApiServer
    from grader.kube.client import KubeClient

    monkeypatch.setenv("NETCOURSE_STATE_DIR", str(tmp_path))
    with FakeApiServer() as api:
        for learner, ws in (("alice", "spring"), ("bob", "autumn")):
            body = results_patch(result_record(starter_report, learner), ws)
            api.put(body)
        conf = k8s.Configuration()
        conf.host = api.url
        client = KubeClient(k8s.ApiClient(conf), "fake")
        assert [r["learner"] for r in read_cluster_records(client, "spring")] == ["alice"]
        assert sorted(r["learner"] for r in read_cluster_records(client)) == ["alice", "bob"]


def test_report_has_one_row_per_learner_and_task(starter_report, solution_report):
    records = [result_record(starter_report, "alice"), result_record(solution_report, "bob")]
    rows = task_rows(records, TASKS, learners=["carol"])
    assert len(rows) == 3 * len(LESSON2.tasks())
    parsed = list(csv.DictReader(io.StringIO(render(rows, "csv"))))
    assert {(r["learner"], r["task"]) for r in parsed} == {(l, t) for l in ("alice", "bob", "carol") for t, _ in LESSON2.tasks()}
    assert {r["status"] for r in parsed if r["learner"] == "carol"} == {"not graded"}
    assert {r["status"] for r in parsed if r["learner"] == "bob"} == {"pass"}
    failing = [r for r in parsed if r["learner"] == "alice" and r["status"] == "fail"]
    assert failing and all(r["observed"] for r in failing)
    assert len(json.loads(render(rows, "json"))) == len(rows)
    page = render([{**rows[0], "observed": "<script>x</script>"}], "html")
    assert "<script>x" not in page and "&lt;script&gt;" in page


def test_collect_then_status_and_report_from_handed_in_json_files(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRADE_STATE", str(tmp_path / "state" / "progress.json"))
    monkeypatch.setenv("GRADE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GRADE_EXERCISES", str(LESSON2.dir.parent))
    inbox = tmp_path / "inbox"
    (inbox / "dave").mkdir(parents=True)
    assert main(["lesson2", "--sim", "--learner", "alice", "--manifests", str(LESSON2.starter), "--json", str(inbox / "a.json")]) == 1
    assert main(["lesson2", "--sim", "--solution", "--json", str(inbox / "bob-lesson2.json")]) == 0
    assert main(["lesson2", "--sim", "--solution", "--json", str(inbox / "dave" / "lesson2.json")]) == 0
    (inbox / "junk.json").write_text("{not json")
    assert json.loads((inbox / "a.json").read_text())["learner"] == "alice"
    capsys.readouterr()
    assert main(["workshop", "collect", str(inbox)]) == 0
    captured = capsys.readouterr()
    assert "collected 3 results" in captured.out and "junk.json" in captured.err
    assert main(["workshop", "report", "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {r["learner"] for r in rows} == {"alice", "bob", "dave"}
    assert len([r for r in rows if r["lesson"] == "lesson2"]) == 3 * len(LESSON2.tasks())
    assert main(["workshop", "status"]) == 0
    out = capsys.readouterr().out
    assert "alice" in out and "stuck" in out and f"{len(LESSON2.tasks())}/{len(LESSON2.tasks())}" in out


def test_read_json_results_needs_a_learner(tmp_path, solution_report):
    (tmp_path / "anonymous.json").write_text(json.dumps(solution_report.as_dict()))
    records, problems = read_json_results(tmp_path)
    assert not records and "no learner name" in problems[0]


def test_join_writes_the_learner_file_and_grading_uses_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRADE_STATE", str(tmp_path / "state" / "progress.json"))
    kc = tmp_path / "alice.kubeconfig"
    kc.write_text("apiVersion: v1\nkind: Config\ncurrent-context: netcourse-alice\ncontexts: [{name: netcourse-alice, context: {cluster: c, user: u}}]\n")
    assert main(["workshop", "join", "--name", "alice", "--kubeconfig", str(kc)]) == 0
    from grader.workshop.learner import learner_for_grading, read_learner_config

    assert read_learner_config()["context"] == "netcourse-alice"
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")
    args = SimpleNamespace(learner=None, context=None)
    assert learner_for_grading(args) == "alice" and args.context == "netcourse-alice"
    import os

    assert os.environ["KUBECONFIG"] == str(kc.resolve())
    assert main(["workshop", "join", "--name", "Alice"]) == 2
