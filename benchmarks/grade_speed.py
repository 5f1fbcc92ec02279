"""How long grading takes on the simulator: per lesson, in-process (warm) and as a `grade` command (cold).

The course promises that a lesson's checks run in under a second on the simulator. Run:
    python benchmarks/grade_speed.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    from grader.lessons import list_lessons
    from grader.runner import grade_lesson

    lessons = list_lessons()
    grade_lesson(lessons[0], [lessons[0].solution])  # warm imports once
    print(f"{'lesson':8} {'tasks':>5} {'warm s (best of 5)':>19} {'cold `grade` s':>15}")
    for lesson in lessons:
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            report = grade_lesson(lesson, [lesson.solution])
            best = min(best, time.perf_counter() - t0)
        assert report.passed, f"{lesson.id} solution does not pass"
        with tempfile.TemporaryDirectory() as home:
            env = dict(os.environ, GRADE_HOME=home, GRADE_EXERCISES=str(ROOT / "exercises"), KUBECONFIG=os.path.join(home, "none"))
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "grader.cli", lesson.id, "--sim", "--solution"], env=env, capture_output=True, check=True)
            cold = time.perf_counter() - t0
        print(f"{lesson.id:8} {len(report.tasks):5d} {best:19.3f} {cold:15.2f}")
    print("warm = grade_lesson() in a running interpreter (what the checks cost); cold = a whole `grade lessonN --sim`"
          " process, including Python start-up and imports.")


if __name__ == "__main__":
    main()
