"""The instructor's roster: a CSV with one learner a line (`name` column required, any others kept).

    name,full_name,email
    alice,Alice Liddell,alice@example.org
"""

from __future__ import annotations

from grader.errors import GradeError

import csv
from dataclasses import dataclass, field
from pathlib import Path

from grader.workshop.fence import LearnerNameError, validate_learner_name


class RosterError(GradeError, ValueError):
    """A roster that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class Learner:
    name: str  # prefixes every namespace of this learner
    extra: dict[str, str] = field(default_factory=dict, compare=False)


def parse_roster(text: str, source: str = "<roster>", namespaces: list[str] | None = None) -> list[Learner]:
    """Learners from CSV text; every problem (bad or duplicate name, no `name` column) raises RosterError."""
    numbered = [(i, line) for i, line in enumerate(text.splitlines(), start=1) if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise RosterError(f"{source}: the roster is empty; write a header line `name` and one learner name a line")
    rows = list(csv.reader([line for _, line in numbered]))
    header = [h.strip().lower() for h in rows[0]]
    if "name" not in header:
        raise RosterError(f"{source}:{numbered[0][0]}: no `name` column in the header {numbered[0][1]!r}; the first line must name the columns, e.g. `name,email`")
    learners: list[Learner] = []
    seen: dict[str, int] = {}
    problems: list[str] = []
    for (lineno, _), cells in zip(numbered[1:], rows[1:]):
        row = {h: c.strip() for h, c in zip(header, cells)}
        name = row.pop("name", "")
        try:
            validate_learner_name(name, namespaces or [])
        except LearnerNameError as e:
            problems.append(f"{source}:{lineno}: {e}")
            continue
        if name in seen:
            problems.append(f"{source}:{lineno}: learner {name!r} is already on line {seen[name]}; each name must be unique")
            continue
        seen[name] = lineno
        learners.append(Learner(name, row))
    if problems:
        raise RosterError("\n".join(problems))
    return learners


def read_roster(path: Path, namespaces: list[str] | None = None) -> list[Learner]:
    """Learners from a roster file; RosterError when it is missing or invalid."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as e:
        raise RosterError(f"{path}: cannot read the roster ({e.strerror or e})") from None
    return parse_roster(text, str(path), namespaces)
