"""What the live grader says when the cluster, not the learner, is the problem (issue 10, section 3, items 6-8, 10).

- Transient API answers (409, 429, 5xx) are retried with growing pauses; when they persist, the message says
  "the cluster", not "fix the object".
- The grader's own objects (the doctor's, a lesson's fixtures) rejected: no learner advice.
- A cluster older than the pinned Kubernetes is said to be too old in `doctor` and `status`, and a kind it
  does not serve is blamed on its age, not on the learner's apiVersion.
- `grade cluster status --context`, as its own messages advise.
- Message typos: "(on the live)", "labels)..", "is it running?. Run", "not enforced by unknown".
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

import pytest
import yaml
from kubernetes import client as k8s
from rich.console import Console

from fake_apiserver import FakeApiServer, FakeTime
from grader.backends.live import LiveBackend
from grader.checks import LessonReport, SetupError
from grader.cluster import cli as cluster_cli
from grader.cluster.doctor import DOCTOR_NS, _Manifest, doctor_manifests, policy_check, version_check
from grader.cluster.runner import Completed
from grader.kube.client import KubeClient
from grader.kube.readiness import ingress_problem
from grader.manifests import load_text

pytestmark = pytest.mark.usefixtures("private_state")  # tests/conftest.py
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def api():
    with FakeApiServer() as server:
        yield server


def kube_for(api, pauses=None):
    cfg = k8s.Configuration()
    cfg.host = api.url
    pauses = pauses or FakeTime()
    return KubeClient(k8s.ApiClient(cfg), "kind-course", sleep=pauses.sleep, clock=pauses.clock)


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata: {a: b}\n"


def failing(times, code, reason, message, method="PATCH", retry_after=None):
    """A fault that answers `code` to the first `times` requests of `method` on a ConfigMap, then lets them through."""
    left = [times]

    def fault(req):
        if req.method == method and "/configmaps/" in req.path and left[0] > 0:
            left[0] -= 1
            return (code, reason, message) + ((retry_after,) if retry_after is not None else ())
        return None

    return fault


# ---- 7. transient answers are retried --------------------------------------------------------------


@pytest.mark.parametrize("code, reason", [(503, "ServiceUnavailable"), (500, "InternalError"), (429, "TooManyRequests"),
                                          (409, "Conflict"), (504, "Timeout")])
def test_a_transient_answer_is_retried_with_growing_pauses(api, code, reason):
    pauses = FakeTime()
    api.fault = failing(2, code, reason, "the server is currently unable to handle the request")
    LiveBackend(kube_for(api, pauses), "lesson1", ["lesson1"], ready_timeout=1).apply(
        load_text(CONFIGMAP, "work/lesson1/settings.yaml", namespace="lesson1"))
    assert api.get("ConfigMap", "settings", "lesson1") is not None
    assert pauses.sleeps[:2] == [0.5, 1.0]


def test_retry_after_is_honoured(api):
    pauses = FakeTime()
    api.fault = failing(1, 429, "TooManyRequests", "too many requests, please try again later", retry_after=3)
    kube_for(api, pauses).apply(yaml.safe_load(CONFIGMAP), namespace="default")
    assert pauses.sleeps == [3.0]


def test_a_transient_answer_that_persists_blames_the_cluster_not_the_file(api):
    api.fault = failing(99, 503, "ServiceUnavailable", "etcdserver: leader changed")
    with pytest.raises(SetupError) as err:
        LiveBackend(kube_for(api), "lesson1", ["lesson1"], ready_timeout=1).apply(
            load_text(CONFIGMAP, "work/lesson1/settings.yaml", namespace="lesson1"))
    message = str(err.value)
    assert "HTTP 503: etcdserver: leader changed" in message and "not your file" in message
    assert "grade cluster status" in message
    assert "fix the object" not in message and "another object is in the way" not in message
    assert len([r for r in api.requests if r.method == "PATCH" and "/configmaps/" in r.path]) == 5  # 1 + 4 retries


def test_a_learners_mistake_is_not_retried(api):
    api.validate = lambda obj: (422, "Invalid", "data[a b]: Invalid value: must be a valid key") if obj["kind"] == "ConfigMap" else None
    pauses = FakeTime()
    with pytest.raises(SetupError, match="what to do: fix the field named above"):
        LiveBackend(kube_for(api, pauses), "lesson1", ["lesson1"], ready_timeout=1).apply(
            load_text(CONFIGMAP, "work/lesson1/settings.yaml", namespace="lesson1"))
    assert pauses.sleeps == []


# ---- 7. the grader's own objects ---------------------------------------------------------------------


def test_the_doctors_own_object_rejected_gets_no_learner_advice(api):
    api.validate = lambda obj: (422, "Invalid", 'Pod "server-a" is invalid: spec.containers[0].image: Required value') \
        if obj["kind"] == "Pod" else None
    backend = LiveBackend(kube_for(api), "doctor", [DOCTOR_NS], ready_timeout=1)
    with pytest.raises(SetupError) as err:
        backend.apply([_Manifest(o) for o in doctor_manifests("course")])
    message = str(err.value)
    assert "the grader's own Pod 'server-a'" in message and "not about your files" in message
    assert "grade cluster doctor" in message
    assert "fix the field" not in message and "fix the object" not in message


def test_a_lessons_fixture_rejected_gets_no_learner_advice(api):
    from grader.manifests import load

    fixtures = ROOT / "exercises" / "lesson1" / "fixtures"
    manifests = load(sorted(fixtures.glob("*.yaml")), namespace="lesson1")
    api.validate = lambda obj: (422, "Invalid", "spec: Invalid value: the course's own mistake") if obj["kind"] != "Namespace" else None
    with pytest.raises(SetupError) as err:
        LiveBackend(kube_for(api), "lesson1", ["lesson1"], ready_timeout=1).apply(manifests)
    message = str(err.value)
    assert "the grader's own" in message and "fixtures" in message and "not about your files" in message
    assert "what to do: fix" not in message


# ---- 8. the server's version ------------------------------------------------------------------------


GATEWAY = ("apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n"
           "  gatewayClassName: cloud-provider-kind\n  listeners:\n  - name: http\n    port: 80\n    protocol: HTTP\n")


def test_a_kind_an_old_cluster_does_not_serve_is_blamed_on_its_age(api):
    api.version = "v1.20.15"
    text = GATEWAY
    with pytest.raises(SetupError) as err:
        LiveBackend(kube_for(api), "lesson7", ["lesson7"], ready_timeout=1).apply(
            load_text(text, "work/lesson7/gateway.yaml", namespace="lesson7"))
    message = str(err.value)
    assert "the cluster runs Kubernetes v1.20.15, older than v1.37.0" in message
    assert "grade cluster down && grade cluster up" in message
    assert "check apiVersion" not in message and "fix the object" not in message


def test_the_same_kind_on_a_current_cluster_still_points_at_the_apiversion(api):
    text = GATEWAY
    with pytest.raises(SetupError, match="check apiVersion and kind"):
        LiveBackend(kube_for(api), "lesson7", ["lesson7"], ready_timeout=1).apply(
            load_text(text, "work/lesson7/gateway.yaml", namespace="lesson7"))


@pytest.mark.parametrize("served, ok", [("v1.20.15", False), ("v1.36.4", False), ("v1.37.0", True), ("v1.38.1", True)])
def test_the_doctor_checks_the_version_against_the_pin(api, served, ok):
    api.version = served
    check = version_check(kube_for(api))
    assert check.ok is ok
    assert served in check.detail
    if not ok:
        assert "older than v1.37.0" in check.detail and "grade cluster down && grade cluster up" in check.hint


# ---- 6. status --context, and its version line ---------------------------------------------------------


def kubeconfig(tmp_path, api, *contexts):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": contexts[0],
        "clusters": [{"name": "fake", "cluster": {"server": api.url}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": c, "context": {"cluster": "fake", "user": "u"}} for c in contexts],
    }))
    return path


class NoEngine:
    def which(self, program):
        return "/usr/bin/docker" if program == "docker" else None

    def run(self, argv, *, timeout=None, input=None, env=None):
        return Completed(list(argv), 0, "")


def status(monkeypatch, tmp_path, api, argv):
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, api, "my-lab")))
    out = io.StringIO()
    monkeypatch.setattr(cluster_cli, "console", Console(file=out, width=200, highlight=False, soft_wrap=True))
    parser = argparse.ArgumentParser()
    cluster_cli.add_cluster_parser(parser.add_subparsers())
    args = parser.parse_args(["cluster", "status", *argv])
    return args.func(args, runner=NoEngine()), out.getvalue()


def test_status_takes_a_context_as_its_own_message_advises(api, tmp_path, monkeypatch):
    api.put({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "my-lab-control-plane"},
             "status": {"conditions": [{"type": "Ready", "status": "True"}], "nodeInfo": {"kubeletVersion": "v1.37.0"}}})
    code, out = status(monkeypatch, tmp_path, api, ["--context", "my-lab"])
    assert code == 0, out
    assert "node my-lab-control-plane: Ready (v1.37.0)" in out and "Kubernetes: v1.37.0 (pinned v1.37.0)" in out


def test_status_without_the_context_says_to_name_it(api, tmp_path, monkeypatch):
    code, out = status(monkeypatch, tmp_path, api, [])
    assert code == 1 and "kube context 'kind-course' does not exist" in out


def test_status_says_plainly_that_the_cluster_is_too_old(api, tmp_path, monkeypatch):
    api.version = "v1.20.15"
    code, out = status(monkeypatch, tmp_path, api, ["--context", "my-lab"])
    assert code == 1
    assert "Kubernetes v1.20.15: older than v1.37.0 that the course is pinned to" in out


# ---- 10. message typos ------------------------------------------------------------------------------


def test_the_summary_says_live_cluster():
    from grader.report import print_report

    out = io.StringIO()
    print_report(LessonReport("lesson1", "live"), Console(file=out, width=200))
    assert "(on the live cluster)" in out.getvalue() and "(on the live)" not in out.getvalue()


def test_no_double_full_stop_after_a_reason_that_ends_a_sentence(tmp_path, monkeypatch, capsys):
    from grader.cli import _choose_backend

    class Api:
        url = "https://127.0.0.1:6443"

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig(tmp_path, Api, "kind-course")))  # not made by `grade cluster up`
    out = io.StringIO()
    _choose_backend(argparse.Namespace(context=None, sim=False, live=False), Console(file=out, width=400))
    text = out.getvalue()
    assert "creates and labels)." in text and ".." not in text


def test_no_question_mark_followed_by_a_full_stop():
    problem = ingress_problem({"metadata": {"namespace": "lesson5", "name": "shop"}, "spec": {}})
    assert "is it running? Run `grade cluster doctor`." in problem and "?." not in problem


def test_an_unknown_cni_is_not_named_unknown():
    hint = policy_check(True, False, "unknown").hint
    assert "not enforced by unknown" not in hint and "not enforced by this cluster's CNI" in hint
