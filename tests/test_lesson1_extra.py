"""Lesson 1 beyond the generic exercise self-tests: placement must be decided by the manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

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
