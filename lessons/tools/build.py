"""Rebuild lessons/*.ipynb from lessons/tools/lessonNN.py (run: python lessons/tools/build.py)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nbwrite import write  # noqa: E402

MODULES = ["lesson01", "lesson02", "lesson03", "lesson04", "lesson05", "lesson06", "lesson07"]

if __name__ == "__main__":
    for name in sys.argv[1:] or MODULES:
        mod = importlib.import_module(name)
        print(write(mod.NAME, mod.CELLS))
