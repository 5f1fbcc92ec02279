"""Per-task results of graded runs, where the instructor can read them.

- On the cluster: the ConfigMap `grade-results` in `<learner>-home`, one data key per lesson holding the
  JSON record of the last graded run. Each lesson's key is written by server-side apply with its own field
  manager (`grade-results-<lesson>`), so grading lesson3 never removes lesson2's key and no read-modify-write
  race exists between two terminals.
- Handed in: `grade lessonN --learner NAME --json FILE` files, merged by `grade workshop collect DIR` into
  `.grade/workshop-results.json`.
A record: {"learner", "lesson", "backend", "finished", "passed", "attempts", "setup_error",
"tasks": [{"id", "title", "passed", "observed"}]}.
"""

from __future__ import annotations

from grader.errors import GradeError

import json
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.workshop.facts import TIMESTAMP_FORMAT
from grader.workshop.setup import RESULTS_CONFIGMAP, RESULTS_LABEL, WORKSHOP_KEY, home_namespace, workshop_labels


class ResultsError(GradeError, ValueError):
    """A results file that cannot be read; the message names it."""


def now_iso() -> str:
    return time.strftime(TIMESTAMP_FORMAT)


def result_record(report: Any, learner: str, *, finished: str | None = None, attempts: int = 1) -> dict[str, Any]:
    """The record of one graded run (a grader.checks.LessonReport) for the instructor."""
    tasks = []
    for t in report.tasks:
        failure = t.failure or {}
        observed = failure.get("observed") or failure.get("error") or ""
        tasks.append({"id": t.id, "title": t.title, "passed": bool(t.passed), "observed": str(observed)[:300]})
    return {
        "learner": learner,
        "lesson": report.lesson,
        "backend": report.backend,
        "finished": finished or now_iso(),
        "passed": bool(report.passed),
        "attempts": int(attempts),
        "setup_error": (report.setup_error or "")[:500] or None,
        "tasks": tasks,
    }


def record_from_json(data: Mapping[str, Any], *, learner: str | None = None, finished: str | None = None) -> dict[str, Any]:
    """A record from a `grade --json` report (LessonReport.as_dict(), maybe with "learner" and "finished")."""
    name = data.get("learner") or learner
    if not name or not data.get("lesson"):
        raise ResultsError("no learner name: grade with --learner NAME, or name the file <learner>-<lesson>.json")
    tasks = []
    for t in data.get("tasks") or []:
        failure = t.get("failure") or {}
        tasks.append({"id": t.get("id"), "title": t.get("title", ""), "passed": bool(t.get("passed")),
                      "observed": str(failure.get("observed") or failure.get("error") or "")[:300]})
    return {
        "learner": name,
        "lesson": data["lesson"],
        "backend": data.get("backend", ""),
        "finished": data.get("finished") or finished or now_iso(),
        "passed": bool(data.get("passed")),
        "attempts": int(data.get("attempts") or 1),
        "setup_error": data.get("setup_error"),
        "tasks": tasks,
    }


# ------------------------------------------------------------------------------------------ the ConfigMap


def results_patch(record: Mapping[str, Any], workshop: str | None = None) -> dict[str, Any]:
    """The apply body that sets this lesson's key of the learner's `grade-results` ConfigMap."""
    learner = record["learner"]
    labels = {RESULTS_LABEL: "true"}
    if workshop:
        labels.update(workshop_labels(workshop, learner))
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": RESULTS_CONFIGMAP, "namespace": home_namespace(learner), "labels": labels},
        "data": {record["lesson"]: json.dumps(record, sort_keys=True)},
    }


def records_from_configmap(cm: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The lesson records stored in one `grade-results` ConfigMap (unreadable keys are skipped)."""
    out = []
    for key, value in ((cm.get("data") or {}).items()):
        try:
            rec = json.loads(value)
        except (TypeError, ValueError):
            continue
        if isinstance(rec, dict) and rec.get("lesson") == key and rec.get("learner"):
            out.append(rec)
    return out


def publish(client: Any, record: dict[str, Any]) -> dict[str, Any]:
    """Write the record into the learner's ConfigMap (attempts counted from the stored record)."""
    from kubernetes.client.rest import ApiException

    from grader.kube.client import KubeError, api_reason

    ns = home_namespace(record["learner"])
    existing = client.get("v1", "ConfigMap", RESULTS_CONFIGMAP, ns)
    if existing is None:
        raise KubeError(f"no ConfigMap {ns}/{RESULTS_CONFIGMAP}: was this learner set up with `grade workshop setup`?")
    workshop = ((existing.get("metadata") or {}).get("labels") or {}).get(WORKSHOP_KEY)
    previous = next((r for r in records_from_configmap(existing) if r["lesson"] == record["lesson"]), None)
    record = {**record, "attempts": int((previous or {}).get("attempts", 0)) + 1}
    body = results_patch(record, workshop)
    res = client.resource("v1", "ConfigMap")
    try:
        client.dynamic.server_side_apply(res, body=body, namespace=ns, field_manager=f"grade-results-{record['lesson']}", force_conflicts=True)
    except ApiException as exc:
        raise KubeError(f"writing results to ConfigMap {ns}/{RESULTS_CONFIGMAP}: {api_reason(exc)}") from None
    return record


def read_cluster_records(client: Any, workshop: str | None = None) -> list[dict[str, Any]]:
    """Every learner's records from the cluster's `grade-results` ConfigMaps (instructor credentials)."""
    selector = f"{RESULTS_LABEL}=true" + (f",{WORKSHOP_KEY}={workshop}" if workshop else "")
    out = []
    for cm in client.list("v1", "ConfigMap", None, label_selector=selector):
        if (cm.get("metadata") or {}).get("name") == RESULTS_CONFIGMAP:
            out += records_from_configmap(cm)
    return out


# ------------------------------------------------------------------------------------------ handed-in files

_FILE_NAME = re.compile(r"^(?P<learner>[a-z0-9]([-a-z0-9]*[a-z0-9])?)-(?P<lesson>lesson\d+)$")


def read_json_results(folder: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Records from every *.json under `folder`, and one problem line per file that could not be used.

    The learner is the file's "learner" field, else the name `<learner>-lessonN.json`, else its folder's name.
    """
    records, problems = [], []
    if not folder.is_dir():
        raise ResultsError(f"{folder}: no such folder")
    for path in sorted(folder.rglob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            problems.append(f"{path}: not a `grade --json` file ({e})")
            continue
        m = _FILE_NAME.match(path.stem)
        guess = m.group("learner") if m else (path.parent.name if path.parent != folder else None)
        finished = time.strftime(TIMESTAMP_FORMAT, time.localtime(path.stat().st_mtime))
        for item in data if isinstance(data, list) else [data]:
            if not isinstance(item, dict) or "tasks" not in item:
                problems.append(f"{path}: not a `grade --json` file (no tasks)")
                continue
            try:
                records.append(record_from_json(item, learner=guess, finished=finished))
            except ResultsError as e:
                problems.append(f"{path}: {e}")
    return records, problems


def merge_records(*groups: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """One record per (learner, lesson): the latest run; attempts is the largest count seen."""
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for group in groups:
        for rec in group:
            key = (rec["learner"], rec["lesson"])
            old = best.get(key)
            if old is None or rec.get("finished", "") >= old.get("finished", ""):
                merged = dict(rec)
                merged["attempts"] = max(int(rec.get("attempts") or 1), int((old or {}).get("attempts") or 0))
                best[key] = merged
            else:
                old["attempts"] = max(int(old.get("attempts") or 1), int(rec.get("attempts") or 1))
    return [best[k] for k in sorted(best)]


def store_file() -> Path:
    from grader.lessons import progress_file

    return progress_file().parent / "workshop-results.json"


def read_store() -> list[dict[str, Any]]:
    try:
        data = json.loads(store_file().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [r for r in data if isinstance(r, dict)] if isinstance(data, list) else []


def write_store(records: list[dict[str, Any]]) -> Path:
    f = store_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(".tmp")
    tmp.write_text(json.dumps(records, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(f)
    return f


# ------------------------------------------------------------------------------------------ views


@dataclass
class StatusCell:
    """One learner's state in one lesson, as `grade workshop status` shows it."""

    passed: int
    total: int
    last_attempt: str | None
    stuck_on: str | None  # the first failing task, "setup error", or None when done / not started
    attempts: int = 0


def status_cell(record: Mapping[str, Any] | None, task_ids: list[str]) -> StatusCell:
    """The cell for a record (None: not graded yet) against the lesson's tasks in order."""
    if record is None:
        return StatusCell(0, len(task_ids), None, None, 0)
    results = {t["id"]: t["passed"] for t in record.get("tasks") or []}
    ids = task_ids or list(results)
    passed = sum(1 for t in ids if results.get(t))
    if record.get("setup_error"):
        stuck = "setup error"
    else:
        stuck = next((t for t in ids if results.get(t) is False), None)
        if stuck is None and passed < len(ids):
            stuck = next((t for t in ids if t not in results), None)
    return StatusCell(passed, len(ids), record.get("finished"), stuck, int(record.get("attempts") or 1))


def task_rows(records: Iterable[Mapping[str, Any]], lessons: Mapping[str, list[tuple[str, str]]], learners: Iterable[str] = ()) -> list[dict[str, Any]]:
    """One row per learner x task (every task of every lesson; "not graded" when never attempted)."""
    by_key = {(r["learner"], r["lesson"]): r for r in records}
    names = sorted(set(learners) | {r["learner"] for r in records})
    rows = []
    for learner in names:
        for lesson, tasks in lessons.items():
            rec = by_key.get((learner, lesson))
            results = {t["id"]: t for t in (rec or {}).get("tasks") or []}
            extra = [(t, results[t].get("title", "")) for t in results if t not in {tid for tid, _ in tasks}]
            for tid, title in list(tasks) + extra:
                t = results.get(tid)
                if rec is None:
                    status = "not graded"
                elif rec.get("setup_error"):
                    status = "setup error"
                elif t is None:
                    status = "not graded"
                else:
                    status = "pass" if t["passed"] else "fail"
                rows.append({
                    "learner": learner, "lesson": lesson, "task": tid, "title": title, "status": status,
                    "passed": status == "pass", "observed": (t or {}).get("observed", "") if status == "fail" else (rec or {}).get("setup_error") or "",
                    "last_attempt": (rec or {}).get("finished") or "", "attempts": int((rec or {}).get("attempts") or 0),
                    "backend": (rec or {}).get("backend") or "",
                })
    return rows
