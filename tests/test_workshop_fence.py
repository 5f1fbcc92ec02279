"""Learner mode: namespaces prefixed per learner, manifests fenced into them (guard unit tests and the simulator)."""

from __future__ import annotations

import pytest

from grader.checks import SetupError
from grader.lessons import list_lessons, load_lesson
from grader.manifests import load_text
from grader.runner import grade_lesson
from grader.workshop.learner import learner_fence
from grader.workshop.fence import (
    MAX_LEARNER_NAME,
    FenceError,
    LearnerNameError,
    fence_lesson,
    rewrite_dns_names,
    rewrite_object,
    validate_learner_name,
)

LESSON4 = ["lesson4", "monitoring", "lesson4-other"]


def _load(text: str, namespace: str = "lesson2"):
    return load_text(text, "work/lesson2/x.yaml", namespace=namespace)


# -- names ---------------------------------------------------------------------------------------


def test_valid_names_are_accepted():
    assert validate_learner_name("alice") == "alice"
    assert validate_learner_name("team-7", ["lesson3-client"]) == "team-7"


@pytest.mark.parametrize("bad", ["Alice", "al_ice", "-alice", "alice-", "", "a.b"])
def test_names_that_cannot_prefix_a_namespace_are_refused(bad):
    with pytest.raises(LearnerNameError, match="lowercase|required"):
        validate_learner_name(bad)


def test_uppercase_name_gets_a_suggestion():
    with pytest.raises(LearnerNameError, match="'alice-b'"):
        validate_learner_name("Alice B")


def test_name_length_keeps_every_namespace_within_63():
    longest = "a" * MAX_LEARNER_NAME
    validate_learner_name(longest, ["lesson3-client"])
    assert len(f"{longest}-lesson3-client") <= 63
    with pytest.raises(LearnerNameError, match="at most"):
        validate_learner_name("a" * (MAX_LEARNER_NAME + 1))
    with pytest.raises(LearnerNameError, match="too long for namespace"):
        validate_learner_name("a" * 40, ["x" * 30])


# -- rewriting -----------------------------------------------------------------------------------


def test_dns_names_of_lesson_namespaces_are_rewritten():
    m = {"lesson3": "alice-lesson3", "lesson3-client": "alice-lesson3-client"}
    assert rewrite_dns_names("my-service.lesson3", m) == "my-service.alice-lesson3"
    assert rewrite_dns_names("http://my-service.lesson3.svc.cluster.local:80/x", m) == "http://my-service.alice-lesson3.svc.cluster.local:80/x"
    assert rewrite_dns_names("web.lesson3-client", m) == "web.alice-lesson3-client"
    # not a lesson namespace, or not a Service name in one: unchanged
    assert rewrite_dns_names("my-service.lesson33", m) == "my-service.lesson33"
    assert rewrite_dns_names("example.com", m) == "example.com"
    assert rewrite_dns_names("my-service", m) == "my-service"


def test_network_policy_namespace_selectors_are_rewritten_but_kube_system_is_kept():
    policy = {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "lesson4"},
        "spec": {
            "podSelector": {},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]}],
            "egress": [
                {"to": [{"namespaceSelector": {"matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "In", "values": ["lesson4-other", "kube-system"]}]}}]}
            ],
        },
    }
    out = rewrite_object(policy, {ns: f"alice-{ns}" for ns in LESSON4})
    assert out["metadata"]["namespace"] == "alice-lesson4"
    assert out["spec"]["ingress"][0]["from"][0]["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"] == "alice-monitoring"
    assert out["spec"]["egress"][0]["to"][0]["namespaceSelector"]["matchExpressions"][0]["values"] == ["alice-lesson4-other", "kube-system"]
    assert policy["metadata"]["namespace"] == "lesson4"  # the input is not modified


# -- the guard -----------------------------------------------------------------------------------


def test_objects_without_namespace_and_in_lesson_namespaces_are_mapped():
    ms = _load("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: alice-lesson2}\n")
    fenced, mapping = fence_lesson(ms, "alice", ["lesson2"])
    assert mapping == {"lesson2": "alice-lesson2"}
    assert [m.namespace for m in fenced] == ["alice-lesson2", "alice-lesson2"]


def test_another_learners_namespace_is_refused_with_file_and_own_namespaces():
    ms = _load("apiVersion: v1\nkind: Service\nmetadata: {name: spy, namespace: bob-lesson2}\nspec: {ports: [{port: 80}]}\n")
    with pytest.raises(FenceError) as err:
        fence_lesson(ms, "alice", ["lesson2"])
    text = str(err.value)
    assert "work/lesson2/x.yaml" in text and "'bob-lesson2'" in text and "alice-lesson2" in text
    assert isinstance(err.value, SetupError)


@pytest.mark.parametrize(
    "doc, what",
    [
        ("apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: x}\nrules: []\n", "cluster-scoped"),
        ("apiVersion: v1\nkind: Namespace\nmetadata: {name: bob-lesson2}\n", "not one of this lesson's namespaces"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: default}\n", "outside this lesson"),
        ("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: kube-system}\n", "outside this lesson"),
    ],
)
def test_cluster_scoped_and_foreign_objects_are_refused(doc, what):
    with pytest.raises(FenceError, match=what):
        fence_lesson(_load(doc), "alice", ["lesson2"])


# -- on the simulator ------------------------------------------------------------------------------


def test_grading_alice_with_a_manifest_aimed_at_bobs_namespace_is_refused(tmp_path):
    lesson = load_lesson("lesson2")
    work = tmp_path / "work"
    work.mkdir()
    for f in lesson.solution.iterdir():
        (work / f.name).write_text(f.read_text())
    (work / "attack.yaml").write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: deny-bob, namespace: bob-lesson2}\n"
        "spec: {podSelector: {}, policyTypes: [Ingress]}\n"
    )
    report = grade_lesson(lesson, [work], backend="sim", fence=learner_fence("alice"))
    assert report.setup_error is not None and not report.tasks
    assert "attack.yaml" in report.setup_error and "bob-lesson2" in report.setup_error
    assert "alice-lesson2" in report.setup_error
    # the same folder without the attack passes for alice
    (work / "attack.yaml").unlink()
    assert grade_lesson(lesson, [work], backend="sim", fence=learner_fence("alice")).passed


def test_cli_exits_2_with_the_refusal(tmp_path, capsys, monkeypatch):
    from grader.cli import main

    monkeypatch.setenv("GRADE_STATE", str(tmp_path / "state" / "progress.json"))
    (tmp_path / "attack.yaml").write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x, namespace: bob-lesson2}\n")
    code = main(["lesson2", "--sim", "--learner", "alice", "--manifests", str(tmp_path / "attack.yaml")])
    out = capsys.readouterr().out
    assert code == 2
    assert "bob-lesson2" in out and "Traceback" not in out


def test_bad_learner_name_is_a_usage_error(tmp_path, capsys, monkeypatch):
    from grader.cli import main

    monkeypatch.setenv("GRADE_STATE", str(tmp_path / "state" / "progress.json"))
    assert main(["lesson2", "--sim", "--solution", "--learner", "Alice"]) == 2
    assert "lowercase" in capsys.readouterr().err


@pytest.mark.parametrize("lesson", [lesson.id for lesson in list_lessons()])
def test_each_solution_grades_the_same_as_a_learner(lesson):
    """Cross-namespace lessons (3: DNS names, 4: namespaceSelectors) work in the learner's own namespace pairs."""
    alone = grade_lesson(lesson, backend="sim", solution=True)
    alice = grade_lesson(lesson, backend="sim", solution=True, fence=learner_fence("alice"))
    assert alice.setup_error == alone.setup_error
    assert [(t.id, t.passed) for t in alice.tasks] == [(t.id, t.passed) for t in alone.tasks]
    assert alice.tasks, "the lesson has tasks"


def test_learner_lab_reports_the_learners_namespaces():
    from grader.lab import open_lab

    lab = open_lab("lesson4", backend="sim", solution=True, fence=learner_fence("bob"))
    assert lab.ns() == "bob-lesson4" and lab.ns("monitoring") == "bob-monitoring"
    assert {p.namespace for p in lab.pods()} >= {"bob-lesson4", "bob-monitoring", "bob-lesson4-other"}
    assert not any(p.namespace in LESSON4 for p in lab.pods())
