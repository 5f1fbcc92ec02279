"""Label selectors (metav1.LabelSelector) and Service selectors (a plain map).

Semantics (k8s.io/apimachinery labels):
- `matchLabels` and `matchExpressions` are ANDed; an empty selector `{}` matches everything.
- An absent selector (None) is decided by the caller: a NetworkPolicy peer without `podSelector`
  means something different from one with `podSelector: {}`.
- In: the key exists and its value is in `values`. NotIn: the key is absent, or its value is not in
  `values`. Exists: the key exists. DoesNotExist: the key is absent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class SelectorError(ValueError):
    """A selector that the API server would reject (bad operator, values where none are allowed...)."""


def validate_selector(selector: Any) -> None:
    """Raise SelectorError with a learner-readable message if the API server would reject this selector."""
    if selector is None:
        return
    if not isinstance(selector, Mapping):
        raise SelectorError(f"a label selector must be a mapping, got {type(selector).__name__}")
    unknown = set(selector) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(
            f"unknown field(s) {sorted(unknown)} in a label selector; use matchLabels: or matchExpressions: "
            "(labels written directly under the selector belong under matchLabels:)"
        )
    ml = selector.get("matchLabels")
    if ml is not None:
        if not isinstance(ml, Mapping):
            raise SelectorError("matchLabels must be a mapping of label key to value")
        for k, v in ml.items():
            if not isinstance(v, str):
                raise SelectorError(f"matchLabels value for {k!r} must be a string; quote it (\"{v}\")")
    exprs = selector.get("matchExpressions")
    if exprs is not None:
        if not isinstance(exprs, list):
            raise SelectorError("matchExpressions must be a list of {key, operator, values}")
        for e in exprs:
            if not isinstance(e, Mapping) or "key" not in e or "operator" not in e:
                raise SelectorError("each matchExpressions item needs key: and operator:")
            op = e["operator"]
            if op not in OPERATORS:
                raise SelectorError(
                    f"invalid operator {op!r} in matchExpressions; use one of {', '.join(OPERATORS)} "
                    "(operators are case-sensitive)"
                )
            values = e.get("values") or []
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise SelectorError(f"values of the {op} expression on {e['key']!r} must be a list of strings")
            if op in ("In", "NotIn") and not values:
                raise SelectorError(f"operator {op} on {e['key']!r} needs a non-empty values: list")
            if op in ("Exists", "DoesNotExist") and values:
                raise SelectorError(f"operator {op} on {e['key']!r} must not have values:")


def matches(selector: Mapping[str, Any], labels: Mapping[str, str]) -> bool:
    """Whether a metav1.LabelSelector matches these labels. `{}` matches everything."""
    for k, v in (selector.get("matchLabels") or {}).items():
        if labels.get(k) != v:
            return False
    for e in selector.get("matchExpressions") or []:
        key, op, values = e["key"], e["operator"], e.get("values") or []
        present = key in labels
        if op == "In":
            if not present or labels[key] not in values:
                return False
        elif op == "NotIn":
            if present and labels[key] in values:
                return False
        elif op == "Exists":
            if not present:
                return False
        elif op == "DoesNotExist":
            if present:
                return False
        else:  # validated at load time; an unknown operator selects nothing, as the API would reject it
            return False
    return True


def matches_map(selector: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """A Service's `spec.selector` (equality on every key). An empty map matches every pod.

    Callers handle "no selector" (None) themselves: such a Service gets no automatic endpoints.
    """
    return all(labels.get(k) == v for k, v in selector.items())


def describe(selector: Mapping[str, Any] | None) -> str:
    """A short human form, e.g. `app=web,tier in (a,b)`; `{}` is "all pods"."""
    if selector is None:
        return "(none)"
    parts = [f"{k}={v}" for k, v in (selector.get("matchLabels") or {}).items()]
    for e in selector.get("matchExpressions") or []:
        op, key, vals = e["operator"], e["key"], ",".join(e.get("values") or [])
        parts.append(
            {"In": f"{key} in ({vals})", "NotIn": f"{key} notin ({vals})", "Exists": key, "DoesNotExist": f"!{key}"}.get(
                op, f"{key} {op} ({vals})"
            )
        )
    return ",".join(parts) if parts else "{} (everything)"
