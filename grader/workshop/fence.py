"""Learner mode: every namespace a lesson uses gets the learner's prefix, and nothing else may be touched.

    fenced, namespace_map = fence_lesson(manifests, "alice", ["lesson4", "monitoring", "lesson4-other"])

The learner writes the lesson's own names (`namespace: lesson4-other`, a namespaceSelector on
`kubernetes.io/metadata.name: monitoring`, `my-service.lesson3` in a ConfigMap); the fence rewrites
them to the learner's namespaces (`alice-lesson4-other`, ...) so one answer works both alone and in a
workshop. Anything that would reach outside those namespaces is refused before anything is applied:
cluster-scoped kinds, and objects in namespaces that are not the learner's (another learner's included).
A nodePort is cluster-wide, so the lessons' fixed nodePorts (30080) become the learner's own
(`node_ports`, see grader.workshop.facts); the Lab probes that port when a check names 30080.
Pure: dicts in, dicts out; no I/O.
"""

from __future__ import annotations

from grader.errors import GradeError

import copy
import re
from collections.abc import Iterable, Mapping
from typing import Any

from grader.checks import SetupError
from grader.kube.safety import check_manifests_allowed

NAME_LABEL = "kubernetes.io/metadata.name"
LEARNER_KEY = "netcourse/learner"
MAX_NAMESPACE_LENGTH = 63  # a namespace name is a DNS-1123 label
# Room kept for the longest lesson namespace (`lesson3-client` is 14; allow future `lesson12-something-xy`).
LONGEST_LESSON_NAMESPACE = 22
MAX_LEARNER_NAME = MAX_NAMESPACE_LENGTH - 1 - LONGEST_LESSON_NAMESPACE
_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Strings under these keys may hold DNS names of Services (`my-service.lesson3`): container args and
# commands, env values, ConfigMap data, Service externalName.
_DNS_KEYS = {"args", "command", "value", "data", "externalName"}


class LearnerNameError(GradeError, ValueError):
    """A learner name that cannot prefix namespaces; the message says what a valid one looks like."""


class FenceError(SetupError):
    """Learner manifests that reach outside the learner's namespaces; `problems` has one line per object."""

    def __init__(self, learner: str, allowed: list[str], problems: list[str]) -> None:
        self.learner = learner
        self.allowed = allowed
        self.problems = problems
        super().__init__(
            f"as workshop learner {learner!r} you may only use your own namespaces ({', '.join(allowed)}); "
            "the grader refuses these objects and applied nothing:\n"
            + "\n".join(f"  - {p}" for p in problems)
            + "\nWrite the lesson's namespace names (or leave metadata.namespace out): the grader maps them to yours."
        )


def validate_learner_name(name: str, namespaces: Iterable[str] = ()) -> str:
    """`name` when it can prefix every namespace (a DNS-1123 label, short enough); raises LearnerNameError.

    `namespaces`: the lesson namespaces it must prefix; `<name>-<namespace>` must stay within 63 characters.
    """
    if not isinstance(name, str) or not name:
        raise LearnerNameError("a learner name is required, e.g. --learner alice")
    if not _DNS1123_LABEL.match(name):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:MAX_LEARNER_NAME] or "alice"
        raise LearnerNameError(
            f"learner name {name!r} cannot prefix namespaces: use lowercase letters, digits and '-', "
            f"starting and ending with a letter or digit (e.g. {suggestion!r})"
        )
    if len(name) > MAX_LEARNER_NAME:
        raise LearnerNameError(
            f"learner name {name!r} is {len(name)} characters; at most {MAX_LEARNER_NAME} are allowed so that "
            f"'{name}-<lesson namespace>' stays within {MAX_NAMESPACE_LENGTH} (e.g. {name[:MAX_LEARNER_NAME].rstrip('-')!r})"
        )
    too_long = [ns for ns in namespaces if len(name) + 1 + len(ns) > MAX_NAMESPACE_LENGTH]
    if too_long:
        raise LearnerNameError(
            f"learner name {name!r} is too long for namespace {too_long[0]!r}: "
            f"'{name}-{too_long[0]}' would exceed {MAX_NAMESPACE_LENGTH} characters; choose a shorter name"
        )
    return name


def learner_namespace(learner: str, namespace: str) -> str:
    """The learner's copy of a lesson namespace: `alice` + `lesson2` -> `alice-lesson2`."""
    return f"{learner}-{namespace}"


def learner_namespace_map(learner: str, namespaces: Iterable[str]) -> dict[str, str]:
    """Lesson namespace -> the learner's namespace, for every namespace the lesson uses."""
    names = list(dict.fromkeys(namespaces))
    validate_learner_name(learner, names)
    return {ns: learner_namespace(learner, ns) for ns in names}


def rewrite_dns_names(text: str, namespace_map: Mapping[str, str]) -> str:
    """`my-service.lesson3[.svc[.cluster.local]]` -> `my-service.alice-lesson3...` for the mapped namespaces.

    Only a name followed by a lesson namespace as its second label is changed; other text is kept.
    """
    if not namespace_map or "." not in text:
        return text
    alternatives = "|".join(re.escape(ns) for ns in sorted(namespace_map, key=len, reverse=True))
    pattern = re.compile(rf"(?<![A-Za-z0-9.-])([a-z0-9]([-a-z0-9]*[a-z0-9])?)\.({alternatives})(?=$|[.:/\s\"',;?])")
    return pattern.sub(lambda m: f"{m.group(1)}.{namespace_map[m.group(3)]}", text)


def _rewrite_strings(node: Any, namespace_map: Mapping[str, str], under_dns_key: bool = False) -> Any:
    if isinstance(node, dict):
        return {k: _rewrite_strings(v, namespace_map, under_dns_key or k in _DNS_KEYS) for k, v in node.items()}
    if isinstance(node, list):
        return [_rewrite_strings(v, namespace_map, under_dns_key) for v in node]
    if isinstance(node, str) and under_dns_key:
        return rewrite_dns_names(node, namespace_map)
    return node


def _rewrite_namespace_selector(selector: Any, namespace_map: Mapping[str, str]) -> None:
    if not isinstance(selector, dict):
        return
    labels = selector.get("matchLabels")
    if isinstance(labels, dict) and labels.get(NAME_LABEL) in namespace_map:
        labels[NAME_LABEL] = namespace_map[labels[NAME_LABEL]]
    for expr in selector.get("matchExpressions") or []:
        if isinstance(expr, dict) and expr.get("key") == NAME_LABEL and isinstance(expr.get("values"), list):
            expr["values"] = [namespace_map.get(v, v) for v in expr["values"]]


def rewrite_node_ports(service: dict[str, Any], node_ports: Mapping[int, int]) -> None:
    """In place: each `spec.ports[].nodePort` of a Service that is a key of `node_ports` becomes its value."""
    spec = service.get("spec")
    ports = spec.get("ports") if isinstance(spec, dict) else None
    for port in ports if isinstance(ports, list) else []:
        if isinstance(port, dict) and isinstance(port.get("nodePort"), int) and port["nodePort"] in node_ports:
            port["nodePort"] = node_ports[port["nodePort"]]


def rewrite_object(obj: Mapping[str, Any], namespace_map: Mapping[str, str], node_ports: Mapping[int, int] | None = None) -> dict[str, Any]:
    """A copy of one object with lesson namespaces replaced by the learner's (metadata, selectors, DNS names)
    and, for a Service, the lessons' nodePorts by the learner's (`node_ports`)."""
    out = copy.deepcopy(dict(obj))
    if node_ports and out.get("kind") == "Service":
        rewrite_node_ports(out, node_ports)
    meta = out.get("metadata")
    if isinstance(meta, dict):
        if out.get("kind") == "Namespace" and meta.get("name") in namespace_map:
            meta["name"] = namespace_map[meta["name"]]
        if meta.get("namespace") in namespace_map:
            meta["namespace"] = namespace_map[meta["namespace"]]
    spec = out.get("spec")
    if out.get("kind") == "NetworkPolicy" and isinstance(spec, dict):
        for direction, peers_key in (("ingress", "from"), ("egress", "to")):
            for rule in spec.get(direction) or []:
                for peer in (rule or {}).get(peers_key) or []:
                    if isinstance(peer, dict):
                        _rewrite_namespace_selector(peer.get("namespaceSelector"), namespace_map)
    if out.get("kind") in ("Gateway", "HTTPRoute", "ReferenceGrant") and isinstance(spec, dict):
        _rewrite_gateway_api_namespaces(out["kind"], spec, namespace_map)
    for key in ("spec", "data"):
        if key in out:
            out[key] = _rewrite_strings(out[key], namespace_map, key == "data")
    return out


def _rewrite_gateway_api_namespaces(kind: str, spec: dict[str, Any], namespace_map: Mapping[str, str]) -> None:
    """Gateway API references that name a namespace: parentRefs, backendRefs, certificateRefs, ReferenceGrant `from`."""
    def fix(ref: Any) -> None:
        if isinstance(ref, dict) and ref.get("namespace") in namespace_map:
            ref["namespace"] = namespace_map[ref["namespace"]]

    if kind == "HTTPRoute":
        for ref in spec.get("parentRefs") or []:
            fix(ref)
        for rule in spec.get("rules") or []:
            for ref in (rule or {}).get("backendRefs") or []:
                fix(ref)
    elif kind == "Gateway":
        for lis in spec.get("listeners") or []:
            for ref in ((lis or {}).get("tls") or {}).get("certificateRefs") or []:
                fix(ref)
            _rewrite_namespace_selector((((lis or {}).get("allowedRoutes") or {}).get("namespaces") or {}).get("selector"), namespace_map)
    elif kind == "ReferenceGrant":
        for ref in spec.get("from") or []:
            fix(ref)


def fence_problems(manifests: Iterable[Any], allowed_namespaces: Iterable[str]) -> list[str]:
    """Why these (already rewritten) manifests may not be applied for a learner; empty when all are fine.

    Reuses the live grader's check (cluster-scoped kinds, foreign namespaces) and fails closed on any other
    object without a namespace (a cluster-scoped custom resource).
    """
    manifests = list(manifests)
    allowed = list(allowed_namespaces)
    problems = check_manifests_allowed(manifests, allowed)
    for m in manifests:
        if m.kind != "Namespace" and m.namespace is None and not any(f"{m.kind} {m.name!r}" in p for p in problems):
            where = f"{m.source}: " if getattr(m, "source", None) else ""
            problems.append(
                f"{where}{m.kind} {m.name!r} has no namespace (cluster-scoped): in a workshop only objects in "
                f"your namespaces ({', '.join(allowed)}) are allowed; remove this object."
            )
    return problems


def fence_lesson(manifests: Iterable[Any], learner: str, lesson_namespaces: Iterable[str],
                 node_ports: Mapping[int, int] | None = None) -> tuple[list[Any], dict[str, str]]:
    """The manifests rewritten into the learner's namespaces, and the namespace map; raises FenceError.

    Each manifest is a grader.manifests.Manifest (`obj`, `source`); the result holds new Manifests with
    the same sources, so error messages still name the learner's file and line. `node_ports` maps the
    lessons' nodePorts to the learner's ({30080: 31234}).
    """
    from grader.manifests import Manifest

    namespace_map = learner_namespace_map(learner, lesson_namespaces)
    fenced = [Manifest(rewrite_object(m.obj, namespace_map, node_ports), m.source) for m in manifests]
    allowed = list(namespace_map.values())
    problems = fence_problems(fenced, allowed)
    if problems:
        raise FenceError(learner, allowed, problems)
    return fenced, namespace_map
