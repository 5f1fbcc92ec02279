"""Reading what a real controller wrote: a Gateway's addresses and conditions, a route's status.

Pure (API object dicts in, text out), so the live backend shows a learner the status the cluster
holds in the same words the simulator uses for the status it predicts.
"""

from __future__ import annotations

from typing import Any


def _conditions(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for c in (obj.get("conditions") or []) if isinstance(c, dict)]


def _line(c: dict[str, Any]) -> str:
    msg = c.get("message") or ""
    return f"{c.get('type')}: {c.get('status')} ({c.get('reason')})" + (f": {msg}" if msg else "")


def gateway_address(gateway: dict[str, Any]) -> str | None:
    """The first address the controller published in status.addresses (cloud-provider-kind: its Envoy's IP)."""
    for a in (gateway.get("status") or {}).get("addresses") or []:
        if isinstance(a, dict) and a.get("value"):
            return str(a["value"])
    return None


def gateway_problem(gateway: dict[str, Any]) -> str:
    """Why a Gateway has no address yet, from its conditions (or that no controller wrote any)."""
    meta = gateway.get("metadata") or {}
    key = f"{meta.get('namespace')}/{meta.get('name')}"
    status = gateway.get("status") or {}
    conds = _conditions(status)
    bad = [c for c in conds if c.get("type") in ("Accepted", "Programmed") and c.get("status") != "True"]
    if not conds or all(c.get("reason") == "Pending" for c in bad) and bad:
        cls = (gateway.get("spec") or {}).get("gatewayClassName")
        return (f"Gateway {key} has no address: no controller has programmed it yet (conditions Pending). Is its class "
                f"{cls} served here? On the course cluster cloud-provider-kind serves class cloud-provider-kind; "
                "see `grade cluster doctor`")
    if bad:
        return f"Gateway {key} has no address: " + "; ".join(_line(c) for c in bad)
    return f"Gateway {key} has no address in status.addresses yet"


def route_status_lines(route: dict[str, Any]) -> list[str]:
    """A route's status.parents as the controller wrote it, one line per condition."""
    meta = route.get("metadata") or {}
    lines = [f"HTTPRoute {meta.get('namespace')}/{meta.get('name')} (status on the cluster):"]
    parents = [p for p in ((route.get("status") or {}).get("parents") or []) if isinstance(p, dict)]
    if not parents:
        lines.append("  no status.parents: no controller accepted or rejected it (does its parentRef name a Gateway "
                     "that exists and whose class is served?)")
    for p in parents:
        ref = p.get("parentRef") or {}
        extra = f" sectionName {ref['sectionName']}" if ref.get("sectionName") else ""
        lines.append(f"  parent {ref.get('kind', 'Gateway')} {ref.get('namespace', meta.get('namespace'))}/{ref.get('name')}{extra}:")
        lines += [f"    {_line(c)}" for c in _conditions(p)]
    return lines


def route_is_accepted(route: dict[str, Any]) -> bool:
    return any(c.get("type") == "Accepted" and c.get("status") == "True"
               for p in ((route.get("status") or {}).get("parents") or []) if isinstance(p, dict)
               for c in _conditions(p))
