"""How long a learner waits for `grade`: whole commands as a learner runs them, against issue 14's targets.

    python benchmarks/grade_speed.py                       # this checkout, 7 runs per command
    python benchmarks/grade_speed.py --before ../old       # and a checkout of an earlier commit, side by side
    python benchmarks/grade_speed.py --instructions        # also count instructions (valgrind), load-proof

Each row is a whole `python -m grader.cli ...` process (Python start-up and imports included), on the
simulator, in a scratch course home; the time is the median of --runs runs after one untimed run (which
fills the compiled-schema cache, as a learner's first run does once). "x pass" divides by the median of
`python -c pass` measured the same way, so rows stay comparable on a slower or busier machine, and the
load average is printed beside them: on a shared machine trust the ratios and the instruction counts
(`--instructions`, valgrind's count of executed instructions, which load does not change) more than the
seconds. Commands run without PYTHONDONTWRITEBYTECODE, as on a learner's machine, where Python keeps the
compiled modules. A last table gives each lesson's checks alone, in a running interpreter.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# (what, argv after `python -m grader.cli`, target seconds); `python -c pass` first, the yardstick.
def commands(lessons: list[str]) -> list[tuple[str, list[str] | None, float | None]]:
    rows: list[tuple[str, list[str] | None, float | None]] = [("python -c pass", None, None)]
    rows.append(("grade sim matrix examples/three-tier.yaml", ["sim", "matrix", "examples/three-tier.yaml"], 0.3))
    rows += [(f"grade {lesson} --sim --solution", [lesson, "--sim", "--solution"], 0.5) for lesson in lessons]
    rows.append(("grade list", ["list"], 0.2))
    rows.append(("grade hint lesson1", ["hint", "lesson1"], 0.2))
    return rows


def checkout_lessons(checkout: Path) -> list[str]:
    found = [p.name for p in (checkout / "exercises").iterdir() if re.fullmatch(r"lesson\d+", p.name) and (p / f"test_{p.name}.py").exists()]
    return sorted(found, key=lambda name: int(name[6:]))


def run_env(checkout: Path, home: str) -> dict[str, str]:
    env = dict(os.environ, GRADE_HOME=home, GRADE_EXERCISES=str(checkout / "exercises"),
               GRADE_STATE=os.path.join(home, "progress.json"), KUBECONFIG=os.path.join(home, "no-kubeconfig"),
               PYTHONPATH=str(checkout))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def argv_for(argv: list[str] | None) -> list[str]:
    return [sys.executable, "-c", "pass"] if argv is None else [sys.executable, "-m", "grader.cli", *argv]


def timed_runs(checkout: Path, argv: list[str] | None, runs: int) -> float:
    with tempfile.TemporaryDirectory() as home:
        env = run_env(checkout, home)
        subprocess.run(argv_for(argv), cwd=checkout, env=env, capture_output=True)  # untimed: caches, page cache
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            p = subprocess.run(argv_for(argv), cwd=checkout, env=env, capture_output=True, text=True)
            times.append(time.perf_counter() - t0)
            if p.returncode not in (0, 1):
                raise SystemExit(f"{' '.join(argv or [])} failed in {checkout}:\n{p.stdout}\n{p.stderr}")
        return statistics.median(times)


def instructions(checkout: Path, argv: list[str] | None) -> int | None:
    if not shutil.which("valgrind"):
        return None
    with tempfile.TemporaryDirectory() as home:
        env = run_env(checkout, home)
        subprocess.run(argv_for(argv), cwd=checkout, env=env, capture_output=True)
        p = subprocess.run(["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
                            *argv_for(argv)], cwd=checkout, env=env, capture_output=True, text=True)
    match = re.search(r"I\s+refs:\s+([\d,]+)", p.stderr)
    return int(match[1].replace(",", "")) if match else None


def cold_first_run(checkout: Path, argv: list[str]) -> float:
    """One run with an empty compiled-schema cache: what a learner's very first `grade` costs."""
    with tempfile.TemporaryDirectory() as home, tempfile.TemporaryDirectory() as cache:
        env = dict(run_env(checkout, home), NETCOURSE_CACHE_DIR=cache)
        t0 = time.perf_counter()
        subprocess.run(argv_for(argv), cwd=checkout, env=env, capture_output=True)
        return time.perf_counter() - t0


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" on {os.cpu_count()} cores"


def measure(checkout: Path, rows, runs: int, count: bool) -> dict[str, tuple[float, int | None]]:
    out = {}
    for what, argv, _ in rows:
        out[what] = (timed_runs(checkout, argv, runs), instructions(checkout, argv) if count else None)
        print(f"  measured {what} in {checkout.name}: {out[what][0]:.3f} s", file=sys.stderr)
    return out


def checks_in_process(lessons: list[str]) -> None:
    sys.path.insert(0, str(ROOT))
    from grader.lessons import load_lesson
    from grader.runner import grade_lesson

    loaded = [load_lesson(name) for name in lessons]
    grade_lesson(loaded[0], [loaded[0].solution])  # imports once
    print(f"\n{'lesson':8} {'tasks':>5} {'checks s (best of 5, in-process)':>33}")
    for lesson in loaded:
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            report = grade_lesson(lesson, [lesson.solution])
            best = min(best, time.perf_counter() - t0)
        assert report.passed, f"{lesson.id} solution does not pass"
        print(f"{lesson.id:8} {len(report.tasks):5d} {best:33.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--before", type=Path, help="a checkout of an earlier commit to compare with (e.g. a git worktree)")
    ap.add_argument("--runs", type=int, default=7, help="timed runs per command (default 7)")
    ap.add_argument("--instructions", action="store_true", help="also count instructions with valgrind (one run each)")
    args = ap.parse_args()

    lessons = checkout_lessons(ROOT)
    rows = commands(lessons)
    print(f"start: {load()}")
    after = measure(ROOT, rows, args.runs, args.instructions)
    before = measure(args.before.resolve(), [r for r in rows if r[1] is None or r[1][0] not in lessons
                                             or r[1][0] in checkout_lessons(args.before)], args.runs,
                     args.instructions) if args.before else {}
    print(f"end:   {load()}\n")

    pass_after = after["python -c pass"][0]
    pass_before = before["python -c pass"][0] if before else None
    head = f"{'command':44} {'target':>6} {'median s':>9} {'x pass':>7}"
    if before:
        head = f"{'command':44} {'target':>6} {'before s':>9} {'x pass':>7} {'after s':>8} {'x pass':>7}"
    if args.instructions:
        head += f" {'G instr.':>9}" + (f" {'before':>7}" if before else "")
    print(head + "  met?")
    for what, _, target in rows:
        t, ir = after[what]
        line = f"{what:44} {target if target else '':>6}"
        if before:
            tb, irb = before.get(what, (float("nan"), None))
            line += f" {tb:9.3f} {tb / pass_before:7.1f}"
        line += f" {t:{8 if before else 9}.3f} {t / pass_after:7.1f}"
        if args.instructions:
            line += f" {ir / 1e9 if ir else float('nan'):9.3f}"
            if before:
                irb = before.get(what, (0, None))[1]
                line += f" {irb / 1e9 if irb else float('nan'):7.3f}"
        if target:
            line += "  yes" if t <= target else "  NO"
        print(line)
    print(f"\nfirst run ever (empty schema cache), grade {lessons[-1]} --sim --solution: "
          f"{cold_first_run(ROOT, [lessons[-1], '--sim', '--solution']):.2f} s")
    checks_in_process(lessons)


if __name__ == "__main__":
    main()
