"""Lesson 1 beyond the generic exercise self-tests: placement must be decided by the manifests."""

from __future__ import annotations

import dataclasses
import importlib.util
from pathlib import Path

import pytest

from grader.backends.sim import SimBackend
from grader.checks import CheckFailed
from grader.lab import Lab
from grader.manifests import load
from grader.runner import grade_lesson

LESSON = Path(__file__).resolve().parent.parent / "exercises" / "lesson1"
SOLUTION = (LESSON / "solution" / "pods.yaml").read_text(encoding="utf-8")


def _grade(tmp_path: Path, text: str) -> dict:
    (tmp_path / "pods.yaml").write_text(text, encoding="utf-8")
    report = grade_lesson("lesson1", [tmp_path])
    assert report.setup_error is None, report.setup_error
    return {t.id: t for t in report.tasks}


def test_pods_left_to_the_scheduler_fail_placement_even_on_two_nodes(tmp_path):
    unpinned = SOLUTION.replace("  nodeName: course-worker2\n", "").replace("  nodeName: course-worker\n", "")
    assert "nodeName" not in unpinned
    task = _grade(tmp_path, unpinned)["test_pods_on_different_nodes"]
    assert not task.passed
    assert "by the scheduler's choice" in task.failure["observed"]
    assert any("nodeName" in h for h in task.failure["hints"])


def test_one_pinned_pod_and_a_node_selector_pass_placement(tmp_path):
    mixed = SOLUTION.replace("  nodeName: course-worker2\n", "  nodeSelector:\n    kubernetes.io/hostname: course-worker2\n")
    assert _grade(tmp_path, mixed)["test_pods_on_different_nodes"].passed


def test_a_server_pod_without_its_role_label_is_named_in_the_failure(tmp_path):
    unlabelled = SOLUTION.replace("  labels:\n    role: server\n", "")
    task = _grade(tmp_path, unlabelled)["test_pod_to_pod_by_ip"]
    assert not task.passed
    assert any("pod lesson1/server looks like the server" in h for h in task.failure["hints"])


ANTI_AFFINITY_CLIENT = """
apiVersion: v1
kind: Pod
metadata:
  name: client
  labels:
    role: client
spec:
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        - labelSelector:
            matchLabels:
              role: server
          topologyKey: kubernetes.io/hostname
  containers:
    - name: agnhost
      image: registry.k8s.io/e2e-test-images/agnhost:2.66.1
      args: ["pause"]
"""


def test_a_required_pod_anti_affinity_keeps_the_client_off_the_servers_node(tmp_path):
    server = SOLUTION.split("---")[0]
    tasks = _grade(tmp_path, server + "---" + ANTI_AFFINITY_CLIENT)
    failed = {name: t.failure for name, t in tasks.items() if not t.passed}
    assert tasks and not failed, failed


def test_the_anti_affinity_alternative_passes_every_task_with_the_pods_on_two_workers():
    report = grade_lesson("lesson1", [LESSON / "alternatives" / "anti-affinity"])
    assert report.setup_error is None, report.setup_error
    assert report.tasks and all(t.passed for t in report.tasks), [t.failure for t in report.tasks if not t.passed]


def test_an_anti_affinity_against_the_clients_own_node_leaves_no_room_and_the_client_pending(tmp_path):
    # The server is pinned to course-worker, a second server to course-worker2: the client has nowhere to go.
    second = SOLUTION.split("---")[0].replace("name: server", "name: server2").replace("course-worker", "course-worker2")
    text = SOLUTION.split("---")[0] + "---\n" + second + "---" + ANTI_AFFINITY_CLIENT
    (tmp_path / "pods.yaml").write_text(text, encoding="utf-8")
    from grader.manifests import load
    from grader.model.workloads import build_world

    client = build_world(load([tmp_path / "pods.yaml"], namespace="lesson1")).pod("lesson1/client")
    assert (client.node, client.ip, client.ready) == ("", "", False)


class LiveShapedBackend:
    """The simulator's answers, with pods listed as the live backend lists them (grader.backends.live.pod_from_api):
    a Deployment's pod is owned by its ReplicaSet, and no container specs are read."""

    name = "live"

    def __init__(self) -> None:
        self.sim = SimBackend()

    def apply(self, manifests) -> None:
        self.sim.apply(manifests)

    def run(self, probes, expect=None):
        return self.sim.run(probes, expect)

    def pods(self):
        def owner(p):
            return f"ReplicaSet/{p.name.rsplit('-', 1)[0]}" if p.owner and p.owner.startswith("Deployment/") else p.owner

        return [dataclasses.replace(p, containers=[], owner=owner(p)) for p in self.sim.pods()]


def _live_shaped_lab(learner: Path) -> Lab:
    backend = LiveShapedBackend()  # no `world`: the Lab builds its own from the manifests, as on live
    manifests = load([LESSON / "fixtures", learner], namespace="lesson1")
    backend.apply(manifests)
    return Lab(backend, manifests, "lesson1")


def _checks():
    spec = importlib.util.spec_from_file_location("lesson1_checks", LESSON / "test_lesson1.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_deployments_left_to_the_scheduler_fail_placement_with_live_pods(tmp_path):
    text = (LESSON / "alternatives" / "deployments" / "workloads.yaml").read_text(encoding="utf-8")
    unpinned = text.replace("      nodeSelector:\n        kubernetes.io/hostname: course-worker\n", "").replace("      nodeName: course-worker2\n", "")
    assert "nodeName" not in unpinned and "nodeSelector" not in unpinned
    (tmp_path / "workloads.yaml").write_text(unpinned, encoding="utf-8")
    lab = _live_shaped_lab(tmp_path)
    assert {p.node for p in lab.pods() if p.labels.get("role") in ("server", "client")} == {"course-worker", "course-worker2"}
    with pytest.raises(CheckFailed, match="by the scheduler's choice"):
        _checks().test_pods_on_different_nodes(lab)


def test_a_server_on_the_wrong_port_is_recognised_with_live_pods():
    lab = _live_shaped_lab(LESSON / "mistakes" / "wrong-port" / "pods.yaml")
    with pytest.raises(CheckFailed) as failed:
        _checks().test_pod_to_pod_by_ip(lab)
    assert any("--http-port=8000" in h for h in failed.value.hints)
