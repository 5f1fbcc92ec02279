"""Time executing the six lesson notebooks on the simulator, each in a fresh kernel, with their
predictions filled in from the answer keys (target: < 60 s in all).

    python benchmarks/notebooks.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from test_notebooks import NOTEBOOKS, execute, kernelspec_dir  # noqa: E402


def main() -> int:
    os.environ["GRADE_BACKEND"] = "sim"
    os.environ["GRADE_PREDICTIONS"] = "answers"  # run through the predictions, as the tests do
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["JUPYTER_PATH"] = str(kernelspec_dir(Path(tmp)))
        total = time.perf_counter()
        for path in NOTEBOOKS:
            start = time.perf_counter()
            execute(path, Path(tmp))
            print(f"{path.name:32} {time.perf_counter() - start:6.2f} s")
        elapsed = time.perf_counter() - total
    print(f"{'all ' + str(len(NOTEBOOKS)) + ' notebooks':32} {elapsed:6.2f} s (target < 60 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
