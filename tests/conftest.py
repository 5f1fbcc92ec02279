"""Fixtures shared by several test files."""

from __future__ import annotations

import pytest


@pytest.fixture
def private_state(tmp_path, monkeypatch):
    """Grader state (recorded contexts, doctor verdicts, discovery cache) in this test's tmp_path, not ~/.local."""
    monkeypatch.setenv("NETCOURSE_STATE_DIR", str(tmp_path / "state"))
