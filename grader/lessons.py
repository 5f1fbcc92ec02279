"""Where the course's exercises live and where the learner's own files go.

- `exercises/lessonN/` (in the course checkout): README, lesson.yaml, starter/, solution/,
  alternatives/, mistakes/, fixtures/, test_lessonN.py.
- `work/lessonN/` (next to exercises/; override the root with GRADE_HOME): the learner's manifests,
  copied from starter/ the first time the lesson is graded. `grade reset` restores them.
- `.grade/progress.json` (same root): per lesson, the last result of every task and the hints shown.
"""

from __future__ import annotations

from grader.errors import GradeError

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")


class LessonError(GradeError):
    """A lesson name or folder problem, with what to do next."""


def course_root() -> Path:
    """The course checkout: GRADE_HOME, else the folder holding exercises/ next to this package."""
    env = os.environ.get("GRADE_HOME")
    if env:
        return Path(env).resolve()
    here = Path(__file__).resolve().parent.parent
    if (here / "exercises").is_dir():
        return here
    cwd = Path.cwd()
    for p in (cwd, *cwd.parents):
        if (p / "exercises").is_dir():
            return p
    return here


def exercises_dir() -> Path:
    return Path(os.environ.get("GRADE_EXERCISES") or course_root() / "exercises")


@dataclass
class Lesson:
    id: str  # "lesson2"
    dir: Path
    title: str
    namespace: str
    namespaces: list[str]
    hints: dict[str, list[str]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def number(self) -> int:
        return int(re.sub(r"\D", "", self.id) or 0)

    @property
    def test_file(self) -> Path:
        return self.dir / f"test_{self.id}.py"

    @property
    def starter(self) -> Path:
        return self.dir / "starter"

    @property
    def solution(self) -> Path:
        return self.dir / "solution"

    @property
    def fixtures(self) -> Path:
        return self.dir / "fixtures"

    def workspace(self) -> Path:
        return course_root() / "work" / self.id

    def alternatives(self) -> list[Path]:
        d = self.dir / "alternatives"
        return sorted(p for p in d.iterdir() if p.is_dir()) if d.is_dir() else []

    def mistakes(self) -> list[Path]:
        d = self.dir / "mistakes"
        return sorted(p for p in d.iterdir() if p.is_dir()) if d.is_dir() else []

    def tasks(self) -> list[tuple[str, str]]:
        """(task id, first docstring line) in file order, read without importing the module."""
        import ast

        tree = ast.parse(self.test_file.read_text(encoding="utf-8"))
        out = []
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("test_"):
                doc = (ast.get_docstring(node) or node.name).strip().splitlines()[0]
                out.append((node.name, doc))
        return out


def list_lessons() -> list[Lesson]:
    root = exercises_dir()
    if not root.is_dir():
        return []
    found = [load_lesson(p.name) for p in root.iterdir() if p.is_dir() and re.fullmatch(r"lesson\d+", p.name) and (p / "lesson.yaml").is_file()]
    return sorted(found, key=lambda lesson: lesson.number)


def load_lesson(name: str) -> Lesson:
    name = name.strip().lower()
    if re.fullmatch(r"\d+", name):
        name = f"lesson{name}"
    d = exercises_dir() / name
    meta_file = d / "lesson.yaml"
    if not meta_file.is_file():
        known = ", ".join(p.name for p in sorted(exercises_dir().glob("lesson*")) if (p / "lesson.yaml").is_file()) or "none"
        raise LessonError(f"no lesson named {name!r} (lessons: {known}); run `grade list` to see them")
    meta = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
    ns = meta.get("namespace") or name
    return Lesson(
        id=name,
        dir=d,
        title=str(meta.get("title") or name),
        namespace=ns,
        namespaces=list(meta.get("namespaces") or [ns]),
        hints={str(k): [str(h) for h in v] for k, v in (meta.get("hints") or {}).items()},
        meta=meta,
    )


def ensure_workspace(lesson: Lesson) -> tuple[Path, bool]:
    """The learner's folder for this lesson, created from starter/ when missing. Returns (path, created)."""
    ws = lesson.workspace()
    if ws.is_dir() and any(ws.iterdir()):
        return ws, False
    ws.mkdir(parents=True, exist_ok=True)
    if lesson.starter.is_dir():
        shutil.copytree(lesson.starter, ws, dirs_exist_ok=True)
    return ws, True


def back_up_workspace(ws: Path, lesson_id: str) -> Path | None:
    """Move a non-empty workspace to `<ws's parent>/.backup/<lesson>-<time>/` and return it (None: nothing to keep).

    Never over an earlier backup: a second one within the same second gets a `-2`, `-3`... suffix."""
    if not (ws.is_dir() and any(ws.iterdir())):
        return None
    stamp = f"{lesson_id}-{time.strftime('%Y%m%d-%H%M%S')}"
    backup = ws.parent / ".backup" / stamp
    n = 1
    while backup.exists():
        n += 1
        backup = backup.with_name(f"{stamp}-{n}")
    backup.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(ws), str(backup))
    return backup


def reset_workspace(lesson: Lesson) -> Path | None:
    """Restore starter/ into the workspace; the old files go to work/.backup/<lesson>-<time>/. Returns the backup.

    The lesson's recorded results and hint ladders start over too: they described the old files."""
    ws = lesson.workspace()
    backup = back_up_workspace(ws, lesson.id)
    ws.mkdir(parents=True, exist_ok=True)
    if lesson.starter.is_dir():
        shutil.copytree(lesson.starter, ws, dirs_exist_ok=True)
    data = read_progress()
    if data["lessons"].pop(lesson.id, None) is not None:
        write_progress(data)
    return backup


# -- progress -------------------------------------------------------------------------------------


def progress_file() -> Path:
    return Path(os.environ.get("GRADE_STATE") or course_root() / ".grade" / "progress.json")


def read_progress() -> dict[str, Any]:
    """{"lessons": {"lesson2": {"last_run": iso, "backend": ..., "passed": bool, "tasks": {id: bool}, "hints_shown": {id: n}}}}"""
    f = progress_file()
    try:
        data = json.loads(f.read_text(encoding="utf-8"))
        return data if isinstance(data, dict) and isinstance(data.get("lessons"), dict) else {"lessons": {}}
    except (OSError, ValueError):
        return {"lessons": {}}


def write_progress(data: dict[str, Any]) -> None:
    f = progress_file()
    f.parent.mkdir(parents=True, exist_ok=True)
    tmp = f.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    tmp.replace(f)  # atomic: a crash never leaves half a file


def record_result(report: Any) -> None:
    data = read_progress()
    entry = data["lessons"].setdefault(report.lesson, {})
    entry["last_run"] = time.strftime("%Y-%m-%dT%H:%M:%S")
    entry["backend"] = report.backend
    entry["passed"] = report.passed
    tasks = entry.setdefault("tasks", {})
    for t in report.tasks:
        tasks[t.id] = t.passed
    if report.setup_error:
        entry["setup_error"] = report.setup_error
    else:
        entry.pop("setup_error", None)
    write_progress(data)


def next_hint(lesson: Lesson, task: str, ladder: list[str] | None = None) -> tuple[int, str]:
    """The next hint on a ladder (the task's, or one given, e.g. a break scenario's), 1-based level.

    How far the learner has climbed is remembered per lesson and key in the progress file."""
    ladder = ladder if ladder is not None else lesson.hints.get(task)
    if not ladder:
        raise LessonError(f"no hints for task {task!r} of {lesson.id}; tasks with hints: {', '.join(lesson.hints) or 'none'}")
    data = read_progress()
    entry = data["lessons"].setdefault(lesson.id, {})
    shown = entry.setdefault("hints_shown", {})
    level = min(int(shown.get(task, 0)) + 1, len(ladder))
    shown[task] = level
    write_progress(data)
    return level, ladder[level - 1]
