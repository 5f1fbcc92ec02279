"""Delete what the grader created, and nothing else.

The grader puts every learner object into namespaces it created and labelled, so cleaning up a
lesson is deleting those namespaces. Selection is a pure function over the API's objects: only
objects carrying the course's labels are ever chosen, and a workshop's namespaces (label
netcourse/workshop, made by `grade workshop setup` for learners who are still using them) only when asked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from grader.kube.safety import MANAGED_BY_KEY, MANAGED_BY_VALUE, WORKSHOP_KEY, is_course_owned


def select_for_cleanup(
    objects: Iterable[dict[str, Any]], lesson: str | None = None, *, include_workshops: bool = False
) -> list[dict[str, Any]]:
    """The objects carrying the grader's managed-by label (and `netcourse/lesson: lesson`, when given).

    Objects labelled netcourse/workshop are left out unless `include_workshops`: `grade workshop teardown`
    removes those.
    """
    return [
        o for o in objects
        if is_course_owned(o, lesson)
        and (include_workshops or WORKSHOP_KEY not in ((o.get("metadata") or {}).get("labels") or {}))
    ]


def cleanup(client: Any, lesson: str | None = None, *, include_workshops: bool = False) -> list[str]:
    """Delete the grader's namespaces (for one lesson, or all; workshops' only when asked); return the names deleted."""
    namespaces = client.list("v1", "Namespace", label_selector=f"{MANAGED_BY_KEY}={MANAGED_BY_VALUE}")
    chosen = select_for_cleanup(namespaces, lesson, include_workshops=include_workshops)
    for ns in chosen:
        client.delete("v1", "Namespace", ns["metadata"]["name"])
    return [ns["metadata"]["name"] for ns in chosen]
