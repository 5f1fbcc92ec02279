"""Delete what the grader created, and nothing else.

The grader puts every learner object into namespaces it created and labelled, so cleaning up a
lesson is deleting those namespaces. Selection is a pure function over the API's objects: only
objects carrying the course's labels are ever chosen.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from grader.kube.safety import is_course_owned


def select_for_cleanup(objects: Iterable[dict[str, Any]], lesson: str | None = None) -> list[dict[str, Any]]:
    """The objects carrying the grader's managed-by label (and `netcourse/lesson: lesson`, when given)."""
    return [o for o in objects if is_course_owned(o, lesson)]


def cleanup(client: Any, lesson: str | None = None) -> list[str]:
    """Delete the grader's namespaces (for one lesson, or all); return the names deleted."""
    namespaces = client.list("v1", "Namespace", label_selector="app.kubernetes.io/managed-by=k8s-netcourse-grader")
    chosen = select_for_cleanup(namespaces, lesson)
    for ns in chosen:
        client.delete("v1", "Namespace", ns["metadata"]["name"])
    return [ns["metadata"]["name"] for ns in chosen]
