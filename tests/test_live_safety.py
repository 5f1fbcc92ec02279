"""What the live grader refuses to touch: foreign contexts, foreign namespaces, cluster-scoped objects."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from grader.kube.cleanup import select_for_cleanup
from grader.kube.safety import (
    CourseContexts,
    UnsafeTargetError,
    check_context_allowed,
    check_manifests_allowed,
    lesson_namespace_labels,
)


@dataclass
class M:
    kind: str
    name: str
    namespace: str | None = None
    source: str = "exercises/lesson4/solution/policy.yaml:12"

    @property
    def obj(self):
        return {"kind": self.kind, "metadata": {"name": self.name}}


def test_namespaced_objects_in_the_lesson_are_allowed():
    assert check_manifests_allowed([M("NetworkPolicy", "deny"), M("Service", "web", "lesson4"),
                                    M("Namespace", "lesson4")], ["lesson4"]) == []


@pytest.mark.parametrize("kind", ["ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                                  "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration"])
def test_cluster_scoped_kinds_are_refused_with_file_and_line(kind):
    (problem,) = check_manifests_allowed([M(kind, "x")], ["lesson4"])
    assert problem.startswith("exercises/lesson4/solution/policy.yaml:12: ")
    assert f"{kind} 'x' is cluster-scoped" in problem


def test_namespace_outside_the_lesson_and_objects_in_it_are_refused():
    problems = check_manifests_allowed([M("Namespace", "kube-system"), M("Pod", "p", "default")], ["x", "y", "z"])
    assert "Namespace 'kube-system' is not one of this lesson's namespaces (x, y, z)" in problems[0]
    assert "namespace 'default', outside this lesson" in problems[1]


def test_a_context_grade_did_not_create_is_refused_unless_named(tmp_path):
    contexts = CourseContexts(tmp_path / "contexts.json")
    with pytest.raises(UnsafeTargetError, match="--context kind-course"):
        check_context_allowed("kind-course", "https://127.0.0.1:40000", False, contexts)
    check_context_allowed("prod", "https://prod", True, contexts)  # named explicitly: allowed
    contexts.record("kind-course", "https://127.0.0.1:40000", "default")
    check_context_allowed("kind-course", "https://127.0.0.1:40000", False, contexts)
    with pytest.raises(UnsafeTargetError):  # same name, another cluster behind it
        check_context_allowed("kind-course", "https://127.0.0.1:50000", False, contexts)


def ns(name, labels):
    return {"metadata": {"name": name, "labels": labels}}


def test_cleanup_selects_only_objects_with_the_course_labels():
    objs = [
        ns("lesson4", lesson_namespace_labels("lesson4")),
        ns("lesson5", lesson_namespace_labels("lesson5")),
        ns("kube-system", {"kubernetes.io/metadata.name": "kube-system"}),
        ns("lookalike", {"netcourse/lesson": "lesson4"}),
        ns("other-tool", {"app.kubernetes.io/managed-by": "Helm"}),
    ]
    assert [o["metadata"]["name"] for o in select_for_cleanup(objs)] == ["lesson4", "lesson5"]
    assert [o["metadata"]["name"] for o in select_for_cleanup(objs, "lesson4")] == ["lesson4"]
