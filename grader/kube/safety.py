"""What the live grader may touch: its own contexts, its own namespaces, namespaced objects only.

- A kube context is trusted when `grade cluster up` recorded it (see `CourseContexts`); any other
  context needs an explicit `--context`.
- Even then the grader works only in namespaces that carry `MANAGED_BY` (it created and labelled them).
- Learner manifests with cluster-scoped kinds are refused before anything is applied.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.checks import SetupError

MANAGED_BY_KEY = "app.kubernetes.io/managed-by"
MANAGED_BY_VALUE = "k8s-netcourse-grader"
LESSON_KEY = "netcourse/lesson"
MANAGED_BY = {MANAGED_BY_KEY: MANAGED_BY_VALUE}
WORKSHOP_KEY = "netcourse/workshop"  # on namespaces `grade workshop setup` made (grader.workshop.setup)
DEFAULT_CONTEXT = "kind-course"

# Kinds the API serves cluster-scoped (plus the admission and extension kinds that change the whole
# cluster's behaviour). A learner's lesson manifests never need them.
CLUSTER_SCOPED_KINDS = frozenset(
    {
        "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "APIService",
        "MutatingWebhookConfiguration", "ValidatingWebhookConfiguration",
        "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding",
        "MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding",
        "Node", "PersistentVolume", "StorageClass", "PriorityClass", "RuntimeClass", "IngressClass",
        "GatewayClass", "CSIDriver", "CSINode", "VolumeAttachment", "CertificateSigningRequest",
        "FlowSchema", "PriorityLevelConfiguration", "ClusterTrustBundle", "DeviceClass",
        "IPAddress", "ServiceCIDR", "AdminNetworkPolicy", "BaselineAdminNetworkPolicy",
        "ClusterNetworkPolicy", "GlobalNetworkPolicy", "GlobalNetworkSet",
    }
)


class UnsafeTargetError(SetupError):
    """The grader was pointed at something it must not modify; the message says what to do instead.

    A SetupError, so `grade lessonN --live` prints the message instead of a traceback.
    """


def _where(manifest: Any) -> str:
    source = getattr(manifest, "source", None)
    return f"{source}: " if source else ""


def check_manifests_allowed(manifests: Iterable[Any], allowed_namespaces: Iterable[str]) -> list[str]:
    """Problems that forbid applying these learner manifests (empty list: all allowed).

    Each `manifest` has `.kind`, `.name`, `.namespace` (None: the lesson's namespace) and `.source`.
    Refused: cluster-scoped kinds, a Namespace other than the lesson's, an object in another namespace.
    """
    allowed = list(allowed_namespaces)
    shown = ", ".join(allowed) or "(none)"
    problems: list[str] = []
    for m in manifests:
        kind, name, ns = m.kind, m.name, m.namespace
        where = _where(m)
        if kind == "Namespace":
            if name not in allowed:
                problems.append(
                    f"{where}Namespace {name!r} is not one of this lesson's namespaces ({shown}); "
                    "the grader creates and labels those itself. Use one of them or remove this object."
                )
        elif kind in CLUSTER_SCOPED_KINDS:
            problems.append(
                f"{where}{kind} {name!r} is cluster-scoped: it would change the whole cluster, so the grader "
                f"refuses it. The lesson only needs namespaced objects in {shown}; remove this object."
            )
        elif ns is not None and ns not in allowed:
            problems.append(
                f"{where}{kind} {name!r} is in namespace {ns!r}, outside this lesson ({shown}): the grader creates "
                "and changes objects only in the lesson's namespaces, so it cannot grade this file live as it is. "
                "`--sim` grades it on the simulator as written."
            )
    return problems


def is_course_owned(obj: Mapping[str, Any], lesson: str | None = None) -> bool:
    """Whether an API object carries the grader's labels (and this lesson's label, when given)."""
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_BY_KEY) != MANAGED_BY_VALUE:
        return False
    return lesson is None or labels.get(LESSON_KEY) == lesson


def lesson_namespace_labels(lesson: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The labels the grader puts on a namespace it creates for `lesson`.

    `extra` are the labels of the lesson's own Namespace manifest (lesson 4 selects namespaces by
    label); the grader's ownership labels always win, so a manifest can never drop or forge them.
    """
    return {**{str(k): str(v) for k, v in (extra or {}).items()}, **MANAGED_BY, LESSON_KEY: lesson}


def state_dir() -> Path:
    """Where the grader keeps per-user state (NETCOURSE_STATE_DIR overrides, for tests)."""
    override = os.environ.get("NETCOURSE_STATE_DIR")
    if override:
        return Path(override)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "k8s-netcourse"


@dataclass
class CourseContexts:
    """The kube contexts `grade cluster up` created, with the API server each pointed at."""

    path: Path

    @classmethod
    def default(cls) -> CourseContexts:
        return cls(state_dir() / "contexts.json")

    def load(self) -> dict[str, dict[str, str]]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def record(self, context: str, server: str, profile: str) -> None:
        data = self.load()
        data[context] = {"server": server, "profile": profile}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(data, indent=2, sort_keys=True))

    def forget(self, context: str) -> None:
        data = self.load()
        if data.pop(context, None) is not None:
            self.path.write_text(json.dumps(data, indent=2, sort_keys=True))

    def created_by_grader(self, context: str, server: str | None) -> bool:
        entry = self.load().get(context)
        return bool(entry) and (server is None or entry.get("server") == server)


def check_context_allowed(context: str, server: str | None, explicit: bool, contexts: CourseContexts) -> None:
    """Raise UnsafeTargetError unless `grade cluster up` created `context` or the user named it explicitly."""
    if explicit or contexts.created_by_grader(context, server):
        return
    raise UnsafeTargetError(
        f"kube context {context!r} was not created by `grade cluster up`, so the grader will not touch it. "
        f"Run `grade cluster up` to create the course cluster, or name this context with --context {context} "
        "(the grader then still works only in namespaces it creates and labels)."
    )
