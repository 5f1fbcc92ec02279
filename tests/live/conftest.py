"""Live tests need the course cluster; without one they skip and say why (never pass)."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def live_client():
    """A KubeClient on the course cluster, or a skip naming the reason it is unreachable."""
    from grader.backends.live import live_backend_available
    from grader.kube.client import KubeClient

    context = os.environ.get("NETCOURSE_CONTEXT")
    ok, why = live_backend_available(context)
    if not ok:
        pytest.skip(f"no course cluster reachable: {why}")
    return KubeClient.connect(context)
