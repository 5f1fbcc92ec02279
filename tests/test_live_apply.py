"""Applying a lesson live: Namespace labels, errors a learner can act on, the NetworkPolicy proof,
cleanup that spares workshops, and constructing the backend the way the runner does."""

from __future__ import annotations

import pytest
import yaml
from kubernetes import client as k8s

from fake_apiserver import ExecScript, FakeApiServer, FakeTime, exit_status, kubelet
from grader.backends.live import LiveBackend, ManifestsRefused
from grader.checks import SetupError
from grader.cluster import doctor
from grader.kube.client import KubeClient, KubeError
from grader.kube.cleanup import cleanup, select_for_cleanup
from grader.kube.safety import CourseContexts, UnsafeTargetError, lesson_namespace_labels
from grader.manifests import load_text

OWNED = {"app.kubernetes.io/managed-by": "k8s-netcourse-grader"}


pytestmark = pytest.mark.usefixtures("private_state")  # tests/conftest.py


@pytest.fixture
def api():
    with FakeApiServer() as server:
        yield server


def kube_for(api, context="kind-course"):
    cfg = k8s.Configuration()
    cfg.host = api.url
    return KubeClient(k8s.ApiClient(cfg), context)



# ---- Namespace manifests -------------------------------------------------------------------------

LESSON4_NAMESPACES = """\
apiVersion: v1
kind: Namespace
metadata:
  name: monitoring
  labels:
    team: observability
    app.kubernetes.io/managed-by: someone-else
---
apiVersion: v1
kind: Namespace
metadata:
  name: lesson4
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
"""


def test_namespace_labels_from_the_manifests_are_applied_under_the_graders_own(api):
    manifests = load_text(LESSON4_NAMESPACES, "work/lesson4/namespaces.yaml", namespace="lesson4")
    LiveBackend(kube_for(api), "lesson4", ["lesson4", "monitoring"], ready_timeout=1).apply(manifests)
    assert api.get("Namespace", "monitoring")["metadata"]["labels"] == {
        "team": "observability", **OWNED, "netcourse/lesson": "lesson4"}  # the manifest cannot take ownership away
    assert api.get("Namespace", "lesson4")["metadata"]["labels"] == lesson_namespace_labels("lesson4")
    assert api.get("ConfigMap", "settings", "lesson4") is not None


def test_a_namespace_outside_the_lesson_is_refused_with_its_file_and_line(api):
    manifests = load_text(LESSON4_NAMESPACES, "work/lesson4/namespaces.yaml", namespace="lesson4")
    with pytest.raises(ManifestsRefused) as err:
        LiveBackend(kube_for(api), "lesson4", ["lesson4"]).apply(manifests)
    assert "work/lesson4/namespaces.yaml:1" in str(err.value) and "'monitoring' is not one of this lesson's" in str(err.value)
    assert api.get("Namespace", "monitoring") is None


# ---- errors for people ---------------------------------------------------------------------------


def test_live_setup_errors_are_setup_errors():
    for cls in (ManifestsRefused, UnsafeTargetError, KubeError):
        assert issubclass(cls, SetupError), cls


BAD_SERVICE = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: fine
---
apiVersion: v1
kind: Service
metadata:
  name: my-service
spec:
  selector: {app: my-app}
  ports:
  - port: 80
    targetPort: 8080
"""


def test_an_api_rejection_names_the_object_its_file_line_and_the_fix(api):
    def validate(obj):
        if obj.get("kind") == "Service":
            return (422, "Invalid", 'Service "my-service" is invalid: spec.ports[0].targetPort: Invalid value: 70000: '
                                    "must be between 1 and 65535, inclusive")
        return None

    api.validate = validate
    manifests = load_text(BAD_SERVICE, "work/lesson2/service.yaml", namespace="lesson2")
    with pytest.raises(SetupError) as err:
        LiveBackend(kube_for(api), "lesson2", ["lesson2"], ready_timeout=1).apply(manifests)
    message = str(err.value)
    assert message.startswith("work/lesson2/service.yaml:6: the cluster rejected Service 'my-service': ")
    assert "spec.ports[0].targetPort: Invalid value: 70000" in message
    assert "what to do: fix the field named above" in message
    assert "Traceback" not in message


def test_grading_live_with_a_refused_manifest_reports_a_setup_error_not_a_traceback(api, tmp_path):
    from grader.runner import grade_lesson

    (tmp_path / "rbac.yaml").write_text(
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: admin\nrules: []\n")
    backend = LiveBackend(kube_for(api), "lesson1", ["lesson1"], ready_timeout=1)
    report = grade_lesson("lesson1", [tmp_path], backend=backend)
    assert report.setup_error and "ClusterRole 'admin' is cluster-scoped" in report.setup_error
    assert f"{tmp_path / 'rbac.yaml'}:1" in report.setup_error
    assert not [r for r in api.requests if r.method == "PATCH"]


# ---- the NetworkPolicy proof ----------------------------------------------------------------------



def cni(api, enforces: bool, name: str = "kindnet"):
    """agnhost connect in a pod: blocked while a NetworkPolicy exists in its namespace, if the CNI enforces."""
    api.put({"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name, "namespace": "kube-system"}})

    def handler(ns, pod, cmd):
        policies = [k for k in api.objects if k[1] == "NetworkPolicy" and k[2] == ns]
        if enforces and policies:
            return ExecScript(stderr="TIMEOUT\n", status=exit_status(1))
        return ExecScript(status=exit_status(0))

    api.exec_handler = handler


def proof_namespaces(api):
    return sorted({r.path.split("/")[4] for r in api.requests
                   if r.method == "PATCH" and r.path.startswith("/api/v1/namespaces/netcourse-policy-proof")})


def test_policy_proof_passes_on_an_enforcing_cni_and_is_remembered(api):
    kubelet(api)
    cni(api, enforces=True)
    t = FakeTime()
    backend = LiveBackend(kube_for(api), "lesson4", ["lesson4"], ready_timeout=5, sleep=t.sleep, clock=t.clock)
    backend.prove_policy_enforced()
    assert backend.policy_enforced is True
    (ns,) = proof_namespaces(api)
    assert api.get("Namespace", ns) is None  # the scratch namespace is deleted
    deleted = [r.path for r in api.requests if r.method == "DELETE"]
    assert f"/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies/doctor-deny-all" in deleted
    assert doctor.policy_enforcement("kind-course", "kindnet") == "yes"
    patches = len([r for r in api.requests if r.method == "PATCH"])
    LiveBackend(kube_for(api), "lesson4", ["lesson4"]).prove_policy_enforced()  # remembered: no second proof
    assert len([r for r in api.requests if r.method == "PATCH"]) == patches


def test_policy_proof_on_a_failing_open_kindnet_raises_the_doctors_explanation(api):
    kubelet(api)
    cni(api, enforces=False)
    t = FakeTime()
    backend = LiveBackend(kube_for(api), "lesson4", ["lesson4"], ready_timeout=5, sleep=t.sleep, clock=t.clock)
    with pytest.raises(SetupError) as err:
        backend.prove_policy_enforced()
    message = str(err.value)
    assert "kindnet fails open (known on WSL2)" in message and "grade cluster up --profile calico" in message
    assert backend.policy_enforced is False
    assert doctor.policy_enforcement("kind-course", "kindnet") == "no"
    (ns,) = proof_namespaces(api)
    assert api.get("Namespace", ns) is None


def test_policy_proof_on_flannel_says_flannel_ignores_policies(api):
    kubelet(api)
    cni(api, enforces=False, name="kube-flannel-ds")
    t = FakeTime()
    with pytest.raises(SetupError, match="Flannel ignores NetworkPolicy"):
        LiveBackend(kube_for(api), "lesson4", ["lesson4"], ready_timeout=5, sleep=t.sleep, clock=t.clock).prove_policy_enforced()


def test_an_old_or_other_servers_yes_does_not_count(api):
    server = api.url
    doctor.remember_policy_enforcement("kind-course", True, server=server, now=1_000_000)
    assert doctor.recently_proven("kind-course", server, now=1_000_000 + 3600)
    assert not doctor.recently_proven("kind-course", server, now=1_000_000 + 25 * 3600)
    assert not doctor.recently_proven("kind-course", "https://127.0.0.1:40001", now=1_000_000 + 60)
    doctor.remember_policy_enforcement("kind-course", False, server=server, now=1_000_000)
    assert not doctor.recently_proven("kind-course", server, now=1_000_000 + 60)


def test_the_proof_needs_pods_that_start(api, monkeypatch):
    cni(api, enforces=True)
    # readiness as the kubelet would report a pod whose image cannot be pulled
    monkeypatch.setattr(LiveBackend, "_wait_ready", lambda self: ["pod server: image cannot be pulled (ErrImagePull)."])
    with pytest.raises(SetupError, match=r"the proof's pods did not start: pod server: image cannot be pulled"):
        LiveBackend(kube_for(api), "lesson4", ["lesson4"]).prove_policy_enforced()
    assert doctor.policy_enforcement("kind-course", "kindnet") == "unknown"


# ---- cleanup ----------------------------------------------------------------------------------------


def ns(name, labels):
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


def test_cleanup_spares_workshop_namespaces_unless_asked(api):
    from grader.workshop.setup import WORKSHOP_KEY, workshop_labels

    api.put(ns("lesson4", lesson_namespace_labels("lesson4")))
    api.put(ns("alice-lesson4", workshop_labels("ws1", "alice", "lesson4")))
    api.put(ns("kube-system", {}))
    assert WORKSHOP_KEY in workshop_labels("ws1", "alice")  # the label cleanup looks for
    kube = kube_for(api)
    assert cleanup(kube) == ["lesson4"]
    assert api.get("Namespace", "alice-lesson4") is not None
    assert cleanup(kube, include_workshops=True) == ["alice-lesson4"]
    assert api.get("Namespace", "alice-lesson4") is None and api.get("Namespace", "kube-system") is not None
    objs = [ns("a", lesson_namespace_labels("lesson4")), ns("b", workshop_labels("ws1", "bob", "lesson4"))]
    assert [o["metadata"]["name"] for o in select_for_cleanup(objs, "lesson4")] == ["a"]


# ---- constructing the backend as the runner does -----------------------------------------------------


def test_make_backend_live_with_a_context_and_the_lessons_namespaces(api, tmp_path, monkeypatch):
    from grader.lab import make_backend

    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kind-other",
        "clusters": [{"name": "c", "cluster": {"server": api.url}}],
        "contexts": [{"name": "kind-other", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(path))
    backend = make_backend("live", context="kind-other", lesson="lesson3", namespaces=["lesson3", "lesson3-client"])
    assert isinstance(backend, LiveBackend)
    assert (backend.client.context, backend.lesson, backend.namespaces) == ("kind-other", "lesson3", ["lesson3", "lesson3-client"])
    assert backend.client.api_client.configuration.host == api.url
    with pytest.raises(SetupError, match="'kind-missing' does not exist in your kubeconfig"):
        make_backend("live", context="kind-missing")


def test_an_unrecorded_default_context_is_a_setup_error(api, tmp_path, monkeypatch):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config",
        "clusters": [{"name": "c", "cluster": {"server": api.url}}],
        "contexts": [{"name": "kind-course", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
    }))
    monkeypatch.setenv("KUBECONFIG", str(path))
    assert not CourseContexts.default().load()
    with pytest.raises(SetupError, match="was not created by `grade cluster up`"):
        LiveBackend()


# ---- the live workflow ---------------------------------------------------------------------------------


def test_the_live_workflow_grades_every_lesson_with_commands_the_cli_accepts():
    import re
    import shlex
    from pathlib import Path

    from grader.cli import build_parser

    root = Path(__file__).resolve().parents[1]
    workflow = yaml.safe_load((root / ".github/workflows/live.yml").read_text())
    runs = "\n".join(step.get("run", "") for step in workflow["jobs"]["live"]["steps"])
    assert "python -m pip install -e '.[test]'" in runs  # the README's way
    loop = re.search(r"for N in ([\d ]+); do", runs)
    lessons = sorted(p.name for p in (root / "exercises").glob("lesson*") if (p / "solution").is_dir())
    assert loop and [f"lesson{n}" for n in loop.group(1).split()] == lessons
    command = re.search(r"^\s*(grade lesson\$N [^|]*?)\s*\|\|", runs, re.M).group(1)
    argv = shlex.split(command.replace("$N", "4"))[1:]
    args = build_parser().parse_args(["lesson", *argv])  # what grader.cli.main does with `grade lesson4`
    assert (args.live, args.solution, args.json) == (True, True, "results/lesson4.json")
    assert "pytest tests/live -v" in runs and "grade cluster doctor" in runs
    assert any(step.get("uses", "").startswith("actions/upload-artifact") for step in workflow["jobs"]["live"]["steps"])
