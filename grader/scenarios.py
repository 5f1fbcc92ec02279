"""Lesson 6's break-and-fix scenarios: `grade lesson6 --break SCENARIO`.

A scenario is a folder `exercises/lesson6/scenarios/<id>/` holding the whole broken system (the
`*.yaml` files a learner's `work/lesson6/` holds), `scenario.yaml` (title, the symptom shown to the
learner, the failing tasks, three hints from vague to very specific) and `fixed/`, the reference fix.
`break_scenario` puts the broken files into the learner's workspace after backing up what is there.
"""

from __future__ import annotations

from grader.errors import GradeError

import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from grader.lessons import MANIFEST_SUFFIXES, back_up_workspace, exercises_dir

LESSON = "lesson6"
META_FILE = "scenario.yaml"
ACTIVE_FILE = ".scenario"  # written into the workspace: which scenario is loaded (dot file: never read as a manifest)


class ScenarioError(GradeError):
    """An unknown scenario id or a malformed scenario folder, with what to do next."""


@dataclass(frozen=True)
class Scenario:
    """One broken system: `dir` holds its manifests, `dir / "fixed"` the reference fix."""

    id: str
    title: str
    dir: Path
    hints: list[str]  # three, from vague to very specific
    symptom: str = ""
    task: str = ""  # the task the symptom names
    fails: list[str] = field(default_factory=list)  # every task the broken system fails

    @property
    def fixed_dir(self) -> Path:
        return self.dir / "fixed"

    def broken_files(self) -> list[Path]:
        """The broken system's manifest files (not scenario.yaml, not fixed/)."""
        return sorted(p for p in self.dir.iterdir() if p.is_file() and p.suffix in MANIFEST_SUFFIXES and p.name != META_FILE)


def scenarios_dir() -> Path:
    return exercises_dir() / LESSON / "scenarios"


def _load(d: Path) -> Scenario:
    meta_file = d / META_FILE
    try:
        meta = yaml.safe_load(meta_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ScenarioError(f"{meta_file}: cannot read the scenario description ({e})") from None
    hints = [str(h) for h in meta.get("hints") or []]
    if not meta.get("title") or len(hints) != 3:
        raise ScenarioError(f"{meta_file}: needs title: and exactly three hints: (vague, specific, very specific)")
    fails = [str(t) for t in meta.get("fails") or []]
    return Scenario(
        id=d.name,
        title=str(meta["title"]),
        dir=d,
        hints=hints,
        symptom=str(meta.get("symptom") or ""),
        task=str(meta.get("task") or (fails[0] if fails else "")),
        fails=fails,
    )


def list_scenarios() -> list[Scenario]:
    """Every scenario of lesson 6, sorted by id."""
    root = scenarios_dir()
    if not root.is_dir():
        return []
    return [_load(d) for d in sorted(root.iterdir()) if d.is_dir() and (d / META_FILE).is_file()]


def get_scenario(scenario_id: str) -> Scenario:
    """The scenario with this id; ScenarioError naming the known ids otherwise."""
    d = scenarios_dir() / scenario_id.strip()
    if "/" in scenario_id or not (d / META_FILE).is_file():
        known = ", ".join(s.id for s in list_scenarios()) or "none"
        raise ScenarioError(f"no scenario named {scenario_id!r}; scenarios: {known}")
    return _load(d)


def break_scenario(scenario_id: str, workdir: str | Path) -> None:
    """Put scenario `scenario_id`'s broken system into `workdir` (the learner's work/lesson6/).

    What `workdir` holds is moved first to `<workdir's parent>/.backup/lesson6-<time>/` (the same
    place `grade reset` uses), so no work is lost. The workspace then holds the broken manifests
    and a `.scenario` file naming the scenario (for `grade hint lesson6`).
    """
    scenario = get_scenario(scenario_id)
    files = scenario.broken_files()
    if not files:
        raise ScenarioError(f"scenario {scenario.id} has no manifests in {scenario.dir}")
    work = Path(workdir)
    if work.exists() and not work.is_dir():
        raise ScenarioError(f"{work} is a file, not the lesson's work folder")
    back_up_workspace(work, LESSON)
    work.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy2(f, work / f.name)
    (work / ACTIVE_FILE).write_text(scenario.id + "\n", encoding="utf-8")


def active_scenario(workdir: str | Path) -> Scenario | None:
    """The scenario last loaded into this workspace by `break_scenario`, if any."""
    marker = Path(workdir) / ACTIVE_FILE
    if not marker.is_file():
        return None
    try:
        return get_scenario(marker.read_text(encoding="utf-8").strip())
    except ScenarioError:
        return None
