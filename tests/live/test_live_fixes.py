"""What the first real cluster found, proven on the course cluster (issue 10, section 3).

Each test grades the way a learner does: apply, change the files, apply again, probe. Skipped with the reason
when no course cluster is reachable (the `live_client` fixture); .ci/live counts a skip as a failure.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.backends.live import LiveBackend
from grader.cluster.versions import AGNHOST_IMAGE, KUBERNETES_VERSION
from grader.kube.cleanup import cleanup
from grader.probes import Connect

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]


class M:
    """Just enough of a loaded manifest for LiveBackend.apply (a learner file's object)."""

    def __init__(self, obj, source="tests/live/test_live_fixes.py"):
        self.obj, self.kind, self.name = obj, obj["kind"], obj["metadata"]["name"]
        self.namespace, self.source = obj["metadata"].get("namespace"), source


def pod(name, labels, args, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "agnhost", "image": AGNHOST_IMAGE, "args": args}], **spec}}


def server(port=8080):
    return pod("server", {"app": "server"}, ["netexec", f"--http-port={port}"])


def client():
    return pod("client", {"app": "client"}, ["pause"])


def policy(name, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": {"name": name}, "spec": spec}


DENY_SERVER = policy("deny-server", {"podSelector": {"matchLabels": {"app": "server"}}, "policyTypes": ["Ingress"]})
CLIENT_EGRESS_SERVER_ONLY = policy("client-egress", {
    "podSelector": {"matchLabels": {"app": "client"}}, "policyTypes": ["Egress"],
    "egress": [{"to": [{"podSelector": {"matchLabels": {"app": "server"}}}]}]})  # no rule for DNS


@pytest.fixture
def lesson(live_client, request):
    """A scratch lesson namespace of the grader's, removed afterwards (and waited for)."""
    name = "lt-" + request.node.name.removeprefix("test_").replace("_", "-")[:40].rstrip("-")
    yield name
    cleanup(live_client, name)


def backend(live_client, ns, **kw):
    return LiveBackend(live_client, ns, [ns], ready_timeout=150, **kw)


def server_ip(b):
    return next(p.ip for p in b.pods() if p.name == "server")


# ---- 1. an immutable field changed between two gradings ------------------------------------------------


def test_regrading_after_a_pods_args_changed_replaces_it(live_client, lesson):
    b = backend(live_client, lesson)
    b.apply([M(server(8080)), M(client())])
    assert b.readiness_problems == []
    b.apply([M(server(9090)), M(client())])  # before the fix: 422 "pod updates may not change fields", blamed on the file
    assert b.replaced == [f"Pod {lesson}/server"]
    assert b.readiness_problems == []
    stored = live_client.get("v1", "Pod", "server", lesson)
    assert stored["spec"]["containers"][0]["args"] == ["netexec", "--http-port=9090"]
    (new_port,) = b.run([Connect(f"{lesson}/client", server_ip(b), 9090)], expect=[True])
    assert new_port.ok, new_port.evidence


def test_regrading_after_a_statefulsets_service_name_changed_replaces_it(live_client, lesson):
    def statefulset(service_name):
        return {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": "web"},
                "spec": {"serviceName": service_name, "replicas": 1, "selector": {"matchLabels": {"app": "web"}},
                         "template": {"metadata": {"labels": {"app": "web"}},
                                      "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                                          {"name": "agnhost", "image": AGNHOST_IMAGE, "args": ["netexec"]}]}}}}

    b = backend(live_client, lesson)
    b.apply([M(statefulset("web"))])
    b.apply([M(statefulset("web-headless"))])
    assert b.replaced == [f"StatefulSet {lesson}/web"]
    assert live_client.get("apps/v1", "StatefulSet", "web", lesson)["spec"]["serviceName"] == "web-headless"
    assert b.readiness_problems == []


# ---- 2. an object removed from the files is removed from the cluster --------------------------------


def test_a_policy_deleted_from_the_files_stops_blocking(live_client, lesson):
    b = backend(live_client, lesson)
    b.prove_policy_enforced()
    b.apply([M(server()), M(client()), M(DENY_SERVER)])
    ip = server_ip(b)
    (blocked,) = b.run([Connect(f"{lesson}/client", ip, 8080)], expect=[False])
    assert not blocked.ok, blocked.evidence
    b.apply([M(server()), M(client())])  # the learner deleted the policy from their file
    assert b.pruned == [f"NetworkPolicy {lesson}/deny-server"]
    assert live_client.get("networking.k8s.io/v1", "NetworkPolicy", "deny-server", lesson) is None
    (allowed,) = b.run([Connect(f"{lesson}/client", ip, 8080)], expect=[True])
    assert allowed.ok, allowed.evidence  # before the fix the leftover policy still blocked it


def test_prune_leaves_what_the_grader_did_not_apply(live_client, lesson):
    b = backend(live_client, lesson)
    b.apply([M(client())])
    # what the cluster itself put there: the default ServiceAccount and kube-root-ca.crt ConfigMap
    assert live_client.get("v1", "ConfigMap", "kube-root-ca.crt", lesson) is not None
    b.apply([M(client())])
    assert b.pruned == []
    assert live_client.get("v1", "ConfigMap", "kube-root-ca.crt", lesson) is not None
    assert live_client.get("v1", "ServiceAccount", "default", lesson) is not None


# ---- 3. a connect by name with DNS blocked ----------------------------------------------------------


def test_a_connect_by_name_with_dns_blocked_is_a_dns_failure(live_client, lesson):
    b = backend(live_client, lesson)
    b.prove_policy_enforced()
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "server"},
               "spec": {"selector": {"app": "server"}, "ports": [{"port": 80, "targetPort": 8080}]}}
    b.apply([M(server()), M(client()), M(service), M(CLIENT_EGRESS_SERVER_ONLY)])
    started = time.monotonic()
    by_name, by_ip = b.run([Connect(f"{lesson}/client", "server", 80), Connect(f"{lesson}/client", server_ip(b), 8080)],
                           expect=[False, True])
    took = time.monotonic() - started
    assert by_name.verdict == "dns-failure", by_name.evidence  # before the fix: "error", "did not finish within 5 s"
    assert not any("did not finish" in line for line in by_name.evidence), by_name.evidence
    assert by_ip.ok, by_ip.evidence  # the policy lets the connection itself through: only DNS is missing
    print(f"dns-failure verdict after {took:.1f} s: {by_name.evidence[0]}")


# ---- 4. a namespace deleted a moment ago --------------------------------------------------------------


def test_grading_right_after_the_namespace_was_deleted(live_client, lesson):
    b = backend(live_client, lesson)
    b.apply([M(client())])
    live_client.delete("v1", "Namespace", lesson)  # `grade reset`, or the last run's cleanup
    b.apply([M(client())])  # before the fix: 403 "being terminated", blamed on workshop permissions
    assert b.readiness_problems == []


def test_doctor_twice_within_seconds(live_client):
    from grader.cluster.doctor import run_doctor
    from grader.cluster.runner import SubprocessRunner

    engine = "docker" if SubprocessRunner().which("docker") else "podman"
    cluster = live_client.context.removeprefix("kind-")
    for run in (1, 2):
        checks = run_doctor(live_client, SubprocessRunner(), engine, cluster)
        failed = [f"{c.name}: {c.detail} (fix: {c.hint})" for c in checks if c.ok is False]
        assert not failed, f"doctor run {run}:\n" + "\n".join(failed)


# ---- 5. lesson 6's tls-secret-namespace, live ----------------------------------------------------------


def test_the_tls_secret_scenario_is_applied_live_within_the_lessons_namespaces(live_client):
    from grader.runner import grade_lesson
    from grader.scenarios import get_scenario

    scenario = get_scenario("tls-secret-namespace")
    try:
        report = grade_lesson("lesson6", scenario.broken_files(), backend="live",
                              backend_options={"context": live_client.context})
        assert report.setup_error is None, report.setup_error  # before the fix: refused (namespace 'default')
        assert live_client.get("v1", "Secret", "shop-tls", "lesson6-frontend") is not None
        assert live_client.get("v1", "Secret", "shop-tls", "lesson6") is None
        tls = next(t for t in report.tasks if t.id == "test_tls")
        assert not tls.passed  # the Ingress cannot use a Secret of another namespace
        others = sorted(t.id for t in report.tasks if not t.passed and t.id not in ("test_tls", "test_ingress"))
        assert others == [], [(t.id, t.message) for t in report.tasks if t.id in others]
    finally:
        cleanup(live_client, "lesson6")


# ---- 6, 8. status --context, and the server's version against the pin ----------------------------------


def test_the_course_cluster_runs_the_pinned_kubernetes(live_client):
    from grader.cluster.doctor import version_check

    check = version_check(live_client)
    assert check.ok is True, f"{check.detail} ({check.hint})"
    assert live_client.server_version().startswith(KUBERNETES_VERSION.rsplit(".", 1)[0])


def test_status_with_context(live_client):
    p = subprocess.run([sys.executable, "-m", "grader.cli", "cluster", "status", "--context", live_client.context],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert f"(pinned {KUBERNETES_VERSION})" in p.stdout and "Ready" in p.stdout


# ---- 9. a reproduce command names the lesson's Ingress and the context ---------------------------------


def test_an_ingress_probes_reproduce_command_names_the_lessons_ingress(live_client, lesson):
    from grader.probes import Http

    ingress = {"apiVersion": "networking.k8s.io/v1", "kind": "Ingress", "metadata": {"name": "shop"},
               "spec": {"rules": [{"host": "shop.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                        "backend": {"service": {"name": "server", "port": {"number": 80}}}}]}}]}}
    b = backend(live_client, lesson)
    b.ready_timeout = 30
    b.apply([M(ingress)])
    (result,) = b.run([Http("ingress", "shop.example.com", "/")])
    if result.ok:  # an Ingress controller answered: the command is a curl to its address
        assert "shop.example.com" in result.kubectl
    else:
        assert f"kubectl --context {live_client.context} get ingress -n {lesson} shop" in result.kubectl, result.kubectl
