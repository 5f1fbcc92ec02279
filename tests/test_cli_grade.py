"""`grade lessonN` and friends as a learner meets them, in a scratch course home.

`grade(home, ...)` runs the command in this interpreter (tests/cli_in_process.py); the tests marked
e2e start a real `grade` or `pytest` process, where the process is the point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_in_process import run_grade

ROOT = Path(__file__).resolve().parent.parent


# home folder -> how to run `grade` in it during the current test (set by the home fixture)
_RUNNERS: dict[Path, object] = {}


@pytest.fixture
def home(tmp_path, monkeypatch, capsys):
    """A learner's course home: the repo's exercises, but work/ and .grade/ in a temp folder."""
    _RUNNERS[tmp_path] = lambda *args: run_grade(monkeypatch, capsys, args, cwd=tmp_path, env=home_env(tmp_path))
    yield tmp_path
    del _RUNNERS[tmp_path]


def home_env(home: Path) -> dict[str, str | None]:
    return {"GRADE_HOME": str(home), "GRADE_EXERCISES": str(ROOT / "exercises"), "KUBECONFIG": str(home / "no-kubeconfig"),
            "COLUMNS": "200", "GRADE_STATE": None}


def grade(home: Path, *args: str) -> subprocess.CompletedProcess:
    """`grade *args` as the learner in `home` runs it (in this interpreter: see tests/cli_in_process.py)."""
    return _RUNNERS[home](*args)


def grade_process(home: Path, *args: str) -> subprocess.CompletedProcess:
    """The same, as a real `grade` process."""
    env = {k: v for k, v in {**os.environ, **home_env(home)}.items() if v is not None}
    return subprocess.run([sys.executable, "-m", "grader.cli", *args], capture_output=True, text=True, cwd=home, env=env, timeout=300)


@pytest.mark.e2e
def test_first_run_copies_the_starter_and_explains_each_failure(home):
    p = grade_process(home, "lesson2")
    assert p.returncode == 1, p.stderr
    out = p.stdout
    assert (home / "work" / "lesson2").is_dir() and any((home / "work" / "lesson2").glob("*.yaml"))
    assert "Grading on the simulator" in out and "grade cluster up" in out
    assert "FAIL test_clusterip_service" in out
    assert "expected:" in out and "observed:" in out and "reproduce: kubectl exec" in out
    assert "tasks pass" in out and "Traceback" not in out + p.stderr
    assert "grade hint lesson2" in out


def test_reference_solution_passes_with_exit_0(home):
    p = grade(home, "lesson2", "--solution")
    assert p.returncode == 0, p.stdout
    assert "FAIL" not in p.stdout and "PASS test_clusterip_service" in p.stdout


def test_json_and_junit_reports_have_one_entry_per_task(home):
    p = grade(home, "lesson1", "--solution", "--json", str(home / "r.json"), "--junit", str(home / "r.xml"))
    assert p.returncode == 0, p.stdout
    report = json.loads((home / "r.json").read_text())
    assert report["lesson"] == "lesson1" and report["passed"] is True and report["backend"] == "simulator"
    assert [t["id"] for t in report["tasks"]][:2] == ["test_pods_on_different_nodes", "test_pod_to_pod_by_ip"]
    assert all(t["passed"] for t in report["tasks"])
    assert "<testsuite" in (home / "r.xml").read_text()


def test_keyword_selects_tasks_and_unknown_keyword_is_a_usage_error(home):
    p = grade(home, "lesson2", "--solution", "-k", "nodeport")
    assert p.returncode == 0 and p.stdout.count("PASS") == 1, p.stdout
    p = grade(home, "lesson2", "--solution", "-k", "no_such_task")
    assert p.returncode == 2 and "no task matches" in p.stdout


def test_progress_is_kept_and_listed(home):
    grade(home, "lesson2")
    progress = json.loads((home / ".grade" / "progress.json").read_text())
    tasks = progress["lessons"]["lesson2"]["tasks"]
    assert tasks and not all(tasks.values())
    p = grade(home, "list")
    assert p.returncode == 0 and "lesson2" in p.stdout and "not graded yet" in p.stdout  # lesson1 not graded


def test_hint_ladder_goes_from_vague_to_specific(home):
    first = grade(home, "hint", "lesson2", "test_clusterip_service").stdout
    second = grade(home, "hint", "lesson2", "test_clusterip_service").stdout
    assert "hint 1 of 3" in first and "hint 2 of 3" in second
    assert first.split(":", 1)[1] != second.split(":", 1)[1]


def test_reset_restores_the_starter_and_keeps_a_backup(home):
    grade(home, "lesson2")
    mine = next((home / "work" / "lesson2").glob("*.yaml"))
    mine.write_text("# my edits\n")
    p = grade(home, "reset", "lesson2")  # no terminal to confirm: refuses
    assert p.returncode == 2 and "--yes" in p.stderr
    p = grade(home, "reset", "lesson2", "--yes")
    assert p.returncode == 0
    assert mine.read_text() != "# my edits\n"
    backups = list((home / "work" / ".backup").glob("lesson2-*"))
    assert backups and (backups[0] / mine.name).read_text() == "# my edits\n"


def test_broken_yaml_in_the_learners_files_is_a_clear_error(home):
    grade(home, "lesson2")
    bad = home / "work" / "lesson2" / "broken.yaml"
    bad.write_text("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n    - port: eighty\n")
    p = grade(home, "lesson2")
    assert p.returncode == 2
    assert "broken.yaml:7" in p.stdout and "eighty" in p.stdout
    assert "nothing was graded" in p.stdout and "Traceback" not in p.stdout + p.stderr


def test_unknown_lesson_is_a_usage_error(home):
    p = grade(home, "lesson9")
    assert p.returncode == 2 and "no lesson named 'lesson9'" in p.stderr and "Traceback" not in p.stderr


def test_break_scenario_then_its_hints_then_grading_fails(home):
    p = grade(home, "lesson6", "--break", "no-endpoints")
    assert p.returncode == 0, p.stderr
    assert "Symptom:" in p.stdout
    h = grade(home, "hint", "lesson6")
    assert "scenario no-endpoints, hint 1 of 3" in h.stdout
    g = grade(home, "lesson6")
    assert g.returncode == 1 and "FAIL" in g.stdout
    p = grade(home, "lesson6", "--break", "no-such-scenario")
    assert p.returncode == 2 and "no-endpoints" in p.stderr


def test_tls_cert_writes_a_tls_secret(home):
    p = grade(home, "tls-cert", "--host", "myapp.example.com", "--out", str(home / "out"))
    assert p.returncode == 0, p.stderr
    manifests = list((home / "out").glob("*.yaml"))
    assert manifests and "kubernetes.io/tls" in manifests[0].read_text()


def test_passing_lesson_points_to_the_next_and_hint_says_nothing_is_needed(home):
    import shutil

    ws = home / "work" / "lesson2"
    shutil.copytree(ROOT / "exercises" / "lesson2" / "solution", ws)
    p = grade(home, "lesson2")
    assert p.returncode == 0 and "Next: lesson3" in p.stdout
    h = grade(home, "hint", "lesson2")
    assert "no hint needed" in h.stdout


def test_reset_forgets_the_lessons_results_and_hint_ladders(home):
    grade(home, "lesson2")
    grade(home, "hint", "lesson2", "test_clusterip_service")
    grade(home, "reset", "lesson2", "--yes")
    progress = json.loads((home / ".grade" / "progress.json").read_text())
    assert "lesson2" not in progress["lessons"]
    assert "hint 1 of 3" in grade(home, "hint", "lesson2", "test_clusterip_service").stdout


def test_nodeport_failure_says_refused_with_the_port(home):
    import shutil

    ws = home / "work" / "lesson2"
    shutil.copytree(ROOT / "exercises" / "lesson2" / "solution", ws)
    for f in ws.glob("*.yaml"):  # break the NodePort Service's selector only
        text = f.read_text()
        if "my-nodeport" in text:
            head, _, tail = text.partition("name: my-nodeport")
            f.write_text(head + "name: my-nodeport" + tail.replace("app: my-app", "app: my-ap", 1))
    p = grade(home, "lesson2", "-k", "nodeport")
    assert p.returncode == 1
    observed = next(line for line in p.stdout.splitlines() if "observed:" in line)
    assert ":30080" in observed and "connection refused" in observed and "503" not in observed


@pytest.mark.e2e
def test_a_lesson_also_runs_under_plain_pytest():
    """The checks are ordinary pytest tests: `pytest exercises/lessonN --grade-manifests DIR` grades DIR."""
    base = [sys.executable, "-m", "pytest", "exercises/lesson2", "-q", "-p", "no:cacheprovider", "--grade-backend", "sim"]
    good = subprocess.run(base + ["--grade-manifests", "exercises/lesson2/solution"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert good.returncode == 0, good.stdout[-2000:]
    bad = subprocess.run(base + ["--grade-manifests", "exercises/lesson2/starter"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert bad.returncode == 1 and "FAILED exercises/lesson2/test_lesson2.py::test_clusterip_service" in bad.stdout


def test_two_resets_within_a_second_keep_both_backups(tmp_path, monkeypatch, capsys):
    from grader.cli import main

    monkeypatch.setenv("GRADE_HOME", str(tmp_path))
    monkeypatch.setenv("GRADE_EXERCISES", str(ROOT / "exercises"))
    monkeypatch.delenv("GRADE_STATE", raising=False)
    ws = tmp_path / "work" / "lesson2"
    for edit in ("# first edit\n", "# second edit\n"):
        ws.mkdir(parents=True, exist_ok=True)
        (ws / "mine.yaml").write_text(edit)
        assert main(["reset", "lesson2", "--yes"]) == 0
    backups = sorted((tmp_path / "work" / ".backup").iterdir())
    assert sorted((b / "mine.yaml").read_text() for b in backups) == ["# first edit\n", "# second edit\n"]


def test_break_is_refused_for_a_lesson_without_scenarios_and_touches_nothing(home):
    p = grade(home, "lesson2", "--break", "no-endpoints")
    assert p.returncode == 2 and "--break is for the debugging lesson" in p.stderr
    assert not (home / "work" / "lesson2").exists()


def test_live_without_a_cluster_is_a_usage_error_that_creates_nothing(home):
    p = grade(home, "lesson4", "--live")
    assert p.returncode == 2 and "--live: the course cluster is not reachable" in p.stderr
    assert "grade cluster up" in p.stderr and "Traceback" not in p.stderr
    assert not (home / "work").exists()


def test_the_stand_ins_for_cluster_and_workshop_say_what_their_real_parsers_say():
    import argparse

    from grader.cli import FEATURE_SUMMARIES, build_parser

    def summaries(parser):
        sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return {c.dest: c.help for c in sub._choices_actions}

    real, stand_in = summaries(build_parser()), summaries(build_parser("lesson"))
    assert {k: real[k] for k in FEATURE_SUMMARIES} == FEATURE_SUMMARIES == {k: stand_in[k] for k in FEATURE_SUMMARIES}
    assert real.keys() == stand_in.keys()
