"""End-to-end checks on a real course cluster (`grade cluster up`); skipped with a reason elsewhere."""

from __future__ import annotations

import pytest

from grader.cluster.runner import SubprocessRunner

pytestmark = pytest.mark.live


def test_doctor_passes_on_the_course_cluster(live_client):
    from grader.cluster.doctor import run_doctor

    engine = "docker" if SubprocessRunner().which("docker") else "podman"
    checks = run_doctor(live_client, SubprocessRunner(), engine, live_client.context.removeprefix("kind-"))
    failed = [f"{c.name}: {c.detail} (fix: {c.hint})" for c in checks if c.ok is False]
    assert not failed, "\n".join(failed)


def test_live_backend_probes_a_denied_and_an_allowed_connection(live_client):
    from grader.backends.live import LiveBackend
    from grader.cluster.versions import AGNHOST_IMAGE
    from grader.kube.cleanup import cleanup
    from grader.probes import Connect

    class M:
        def __init__(self, obj):
            self.obj, self.kind, self.name = obj, obj["kind"], obj["metadata"]["name"]
            self.namespace, self.source = None, "tests/live"

    def pod(name, labels, args):
        return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
                "spec": {"containers": [{"name": "agnhost", "image": AGNHOST_IMAGE, "args": args}]}}

    deny = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": "only-a"},
            "spec": {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "a"}}}]}]}}
    backend = LiveBackend(live_client, "live-test", ["netcourse-live-test"])
    try:
        backend.apply([M(pod("server", {"app": "server"}, ["netexec", "--http-port=8080"])),
                       M(pod("a", {"app": "a"}, ["pause"])), M(pod("b", {"app": "b"}, ["pause"])), M(deny)])
        assert backend.readiness_problems == []
        ip = next(p.ip for p in backend.pods() if p.name == "server")
        allowed, blocked = backend.run([Connect("netcourse-live-test/a", ip, 8080),
                                        Connect("netcourse-live-test/b", ip, 8080)], expect=[True, False])
        assert allowed.ok, allowed.evidence
        assert not blocked.ok, blocked.evidence
    finally:
        cleanup(live_client, "live-test")
