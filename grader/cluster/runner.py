"""The one place the live path starts host processes (docker/podman, kind, kubectl).

Everything else builds an argv list and hands it to a `Runner`, so tests can substitute a
`ScriptedRunner`-like fake and assert the exact commands constructed.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from typing import Protocol


@dataclass
class Completed:
    """The outcome of one command."""

    argv: list[str]
    returncode: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def command(self) -> str:
        return shlex.join(self.argv)


class Runner(Protocol):
    """Runs commands; `which` finds a program on PATH."""

    def run(
        self, argv: list[str], *, timeout: float | None = None, input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Completed: ...

    def which(self, program: str) -> str | None: ...


@dataclass
class SubprocessRunner:
    """The real runner: subprocess.run with captured text output, never a shell."""

    extra_env: dict[str, str] = field(default_factory=dict)

    def run(
        self, argv: list[str], *, timeout: float | None = None, input: str | None = None,
        env: dict[str, str] | None = None,
    ) -> Completed:
        merged = {**os.environ, **self.extra_env, **(env or {})}
        try:
            proc = subprocess.run(
                argv, capture_output=True, text=True, timeout=timeout, input=input, env=merged, check=False
            )
        except FileNotFoundError:
            return Completed(argv, 127, "", f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired as exc:
            out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
            return Completed(argv, 124, out, f"{shlex.join(argv)} did not finish within {timeout:.0f} s")
        return Completed(argv, proc.returncode, proc.stdout, proc.stderr)

    def which(self, program: str) -> str | None:
        return shutil.which(program)
