"""What a failed check tells the learner.

A check raises `CheckFailed` with what was expected, what was observed, the evidence (the
simulator's trace or the probe's output), hints (the recognised mistake) and the `kubectl` command
that reproduces the probe. The runner and the pytest plugin print these fields; they never parse
free text.
"""

from __future__ import annotations

from grader.errors import GradeError

from dataclasses import asdict, dataclass, field
from typing import Any


class CheckFailed(AssertionError):
    """A task is not done yet. Every field is meant for the learner."""

    def __init__(
        self,
        expected: str,
        observed: str,
        *,
        evidence: list[str] | None = None,
        hints: list[str] | None = None,
        kubectl: list[str] | None = None,
        table: str | None = None,
    ) -> None:
        self.expected = expected
        self.observed = observed
        self.evidence = list(evidence or [])
        self.hints = list(dict.fromkeys(hints or []))  # de-duplicated, order kept
        self.kubectl = [c for c in dict.fromkeys(kubectl or []) if c]
        self.table = table
        super().__init__(self.render())

    def render(self) -> str:
        lines = [f"expected: {self.expected}", f"observed: {self.observed}"]
        if self.table:
            lines += ["", self.table.rstrip(), ""]
        if self.evidence:
            lines.append("evidence:")
            lines += [f"  {e}" for e in self.evidence]
        for h in self.hints:
            lines.append(f"hint: {h}")
        for c in self.kubectl:
            lines.append(f"reproduce: {c}")
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "observed": self.observed,
            "evidence": self.evidence,
            "hints": self.hints,
            "kubectl": self.kubectl,
            "table": self.table,
        }


class SetupError(GradeError):
    """The lesson could not be set up (bad manifests, refused objects, cluster not ready).

    Not a failed task: the learner fixes the message's cause and grades again.
    """


@dataclass
class TaskResult:
    """One task's outcome, as `grade` prints it and writes it to --json and the progress file."""

    id: str  # the test function's name, e.g. "test_clusterip_service"
    title: str  # first line of the docstring
    passed: bool
    failure: dict[str, Any] | None = None  # CheckFailed.as_dict(), or {"error": ...} for a bug of ours
    duration_s: float = 0.0
    skipped: str | None = None


@dataclass
class LessonReport:
    lesson: str
    backend: str
    tasks: list[TaskResult] = field(default_factory=list)
    setup_error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.setup_error is None and bool(self.tasks) and all(t.passed for t in self.tasks)

    def failed_ids(self) -> list[str]:
        return [t.id for t in self.tasks if not t.passed]

    def as_dict(self) -> dict[str, Any]:
        return {
            "lesson": self.lesson,
            "backend": self.backend,
            "passed": self.passed,
            "setup_error": self.setup_error,
            "notes": self.notes,
            "tasks": [{**asdict(t), "duration_s": round(t.duration_s, 3)} for t in self.tasks],
        }
