"""Run `grade ...` in the test's own interpreter: the same `grader.cli.main` a `grade` process runs, with
the command's environment, working folder, exit status, stdout and stderr, and without Python's
start-up and imports for every call (a second or more each on a busy machine).

The few tests where the process itself is the point (the console script, a pipe closed by `head`, plain
`pytest` on an exercise folder) still start one and are marked `e2e` (`pytest -m "not e2e"` skips them).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from grader.cli import main


def run_grade(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], *,
              cwd: Path, env: dict[str, str | None]) -> subprocess.CompletedProcess:
    """`grade *args` in `cwd` with `env` set (None: unset), as a CompletedProcess; the environment and
    the working folder are restored after the test, also what the command itself changed in them."""
    with monkeypatch.context() as m:
        for key, value in env.items():
            if value is None:
                m.delenv(key, raising=False)
            else:
                m.setenv(key, value)
        m.setenv("KUBECONFIG", env.get("KUBECONFIG") or "")  # restored afterwards even if `grade` sets it
        m.chdir(cwd)
        capsys.readouterr()  # drop what the test printed before
        code = main(list(args))
        out = capsys.readouterr()
    return subprocess.CompletedProcess(["grade", *args], code, out.out, out.err)
