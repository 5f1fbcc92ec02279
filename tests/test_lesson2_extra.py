"""Lesson 2 as a new learner meets it: the starter's TODOs, done in order, each turn one more task green.

Every edit below is what the TODO comment it names says to write, nothing more; after each, the
grader's messages must point at the next thing to do.
"""

from __future__ import annotations

from pathlib import Path

from grader.runner import grade_lesson

STARTER = Path(__file__).resolve().parent.parent / "exercises" / "lesson2" / "starter"

SERVICES_TODO_3_TO_6 = """---
apiVersion: v1
kind: Service
metadata:
  name: my-nodeport
spec:
  type: NodePort
  selector:
    app: my-app
  ports:
    - port: 80
      targetPort: 8080
      nodePort: 30080
---
apiVersion: v1
kind: Service
metadata:
  name: my-lb
spec:
  type: LoadBalancer
  selector:
    app: my-app
  ports:
    - port: 80
      targetPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: my-named
spec:
  type: ClusterIP
  selector:
    app: my-app
  ports:
    - port: 80
      targetPort: http
---
apiVersion: v1
kind: Service
metadata:
  name: my-multi
spec:
  selector:
    app: my-app
  ports:
    - name: http
      port: 80
      targetPort: 8080
      protocol: TCP
    - name: udp
      port: 8081
      targetPort: 8081
      protocol: UDP
"""


def _replace(text: str, old: str, new: str) -> str:
    assert old in text, f"the starter no longer contains {old!r}: update this walk-through with it"
    return text.replace(old, new)


def _grade(folder: Path, app: str, services: str):
    (folder / "app.yaml").write_text(app, encoding="utf-8")
    (folder / "services.yaml").write_text(services, encoding="utf-8")
    report = grade_lesson("lesson2", [folder])
    assert report.setup_error is None, report.setup_error
    return {t.id: t for t in report.tasks}


def _hints(task) -> str:
    return "\n".join(task.failure["hints"])


def test_the_starter_todos_in_order_complete_the_lesson(tmp_path):
    app = (STARTER / "app.yaml").read_text(encoding="utf-8")
    services = (STARTER / "services.yaml").read_text(encoding="utf-8")

    tasks = _grade(tmp_path, app, services)
    assert not any(t.passed for t in tasks.values())
    assert "put app: my-app under the Deployment's spec.template.metadata.labels" in _hints(tasks["test_clusterip_service"])

    # TODO 1: the pods' label, in the selector and in the template
    app = _replace(app, "      tier: backend\n      # TODO 1", "      tier: backend\n      app: my-app\n      # TODO 1")
    app = _replace(app, "        tier: backend\n        # TODO 1", "        tier: backend\n        app: my-app\n        # TODO 1")
    tasks = _grade(tmp_path, app, services)
    hints = _hints(tasks["test_clusterip_service"])
    assert "add  selector: {app: my-app}" in hints
    assert "a targetPort left out defaults to the port" in hints

    # TODO 2a and 2b: my-service's selector and targetPort
    services = _replace(services, "  # TODO 2a:", "  selector:\n    app: my-app\n  # TODO 2a:")
    services = _replace(services, "    - port: 80 # the port clients connect to\n", "    - port: 80 # the port clients connect to\n      targetPort: 8080\n")
    tasks = _grade(tmp_path, app, services)
    assert tasks["test_clusterip_service"].passed
    assert "write the Service my-nodeport" in _hints(tasks["test_nodeport_service"])

    # TODO 3-6 written without TODO 5's container port name: only the named-port task fails, and says why
    tasks = _grade(tmp_path, app, services + SERVICES_TODO_3_TO_6)
    assert [t for t, r in tasks.items() if not r.passed] == ["test_named_target_port"]
    assert "no my-app pod has a TCP container port named http" in _hints(tasks["test_named_target_port"])

    # TODO 5: name the container port
    app = _replace(app, "              protocol: TCP\n              # TODO 5", "              protocol: TCP\n              name: http\n              # TODO 5")
    tasks = _grade(tmp_path, app, services + SERVICES_TODO_3_TO_6)
    assert all(t.passed for t in tasks.values()), {t: r.failure for t, r in tasks.items() if not r.passed}


def _grade_solution_with(folder: Path, old: str, new: str):
    """Grade the reference solution with `old` replaced by `new` in its services.yaml."""
    solution = STARTER.parent / "solution"
    services = _replace((solution / "services.yaml").read_text(encoding="utf-8"), old, new)
    return _grade(folder, (solution / "app.yaml").read_text(encoding="utf-8"), services)


def test_a_udp_port_written_without_protocol_is_recognised(tmp_path):
    tasks = _grade_solution_with(tmp_path, "      targetPort: 8081\n      protocol: UDP\n", "      targetPort: 8081\n")
    assert [t for t, r in tasks.items() if not r.passed] == ["test_two_port_service"]
    assert "add  protocol: UDP" in _hints(tasks["test_two_port_service"])


def test_a_nodeport_left_to_kubernetes_is_recognised(tmp_path):
    tasks = _grade_solution_with(tmp_path, "      nodePort: 30080\n", "")
    assert [t for t, r in tasks.items() if not r.passed] == ["test_nodeport_service"]
    assert "set nodePort: 30080" in _hints(tasks["test_nodeport_service"])
