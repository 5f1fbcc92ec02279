"""Gateway API host names: matching, listener/route intersection, specificity.

Rules (apis/v1 Hostname, Listener.hostname, HTTPRouteSpec.hostnames):
- A name is compared case-insensitively, without `:port` (a Host header's port is ignored) and
  without a trailing dot.
- `*.example.com` is a suffix match: it covers `foo.example.com` and `foo.bar.example.com` (any
  number of labels, unlike an Ingress host) but not `example.com`.
- A listener with a hostname and a route with hostnames intersect when one covers the other; the
  intersection is the more specific of the two (`*.example.com` and `test.example.com` give
  `test.example.com`). Route hostnames that do not intersect are ignored for that listener; when none
  intersects the route is not accepted there (NoMatchingListenerHostname).
- Specificity (listener choice, virtual host choice): an exact name before any wildcard, a wildcard
  with more labels to the right of `*` before one with fewer, any name before "no hostname".
"""

from __future__ import annotations

ANY = "*"  # a listener without hostname and a route without hostnames: every host


def normalize(host: str) -> str:
    """Lower-case, without `:port` and without a trailing dot."""
    h = (host or "").strip().lower()
    if h.startswith("["):
        h = h.split("]", 1)[0] + "]"
    elif h.count(":") == 1:
        h = h.split(":", 1)[0]
    return h.rstrip(".")


def matches(pattern: str, host: str) -> bool:
    """Whether a Gateway API hostname (`*` = any) covers the request host."""
    pattern, host = pattern.lower(), normalize(host)
    if pattern == ANY:
        return True
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return pattern == host


def _covers(wide: str, narrow: str) -> bool:
    """Whether every host `narrow` matches is also matched by `wide` (both hostnames, `*.` allowed)."""
    if wide == ANY:
        return True
    if narrow == ANY:
        return False
    if wide.startswith("*."):
        suffix = wide[1:]
        return narrow == wide or (narrow.endswith(suffix) and len(narrow) > len(suffix))
    return wide == narrow


def intersect(listener: str | None, route: str) -> str | None:
    """The hostname a route hostname serves on a listener, or None when they do not intersect."""
    lis = (listener or ANY).lower()
    r = route.lower()
    if _covers(lis, r):
        return r
    if _covers(r, lis):
        return lis
    return None


def effective(listener: str | None, route_hostnames: list[str]) -> list[str]:
    """The hostnames a route serves on a listener ([] = the route does not intersect the listener)."""
    if not route_hostnames:
        return [(listener or ANY).lower()]
    out: list[str] = []
    for h in route_hostnames:
        got = intersect(listener, str(h))
        if got is not None and got not in out:
            out.append(got)
    return out


def specificity(hostname: str | None) -> tuple[int, int, int]:
    """A sort key (higher = more specific): exact > wildcard with more labels > `*`/none."""
    if not hostname or hostname == ANY:
        return (0, 0, 0)
    if hostname.startswith("*."):
        return (1, hostname.count("."), len(hostname))
    return (2, hostname.count("."), len(hostname))


def most_specific(candidates: list[str], host: str) -> str | None:
    """The most specific of `candidates` that matches `host` (an Envoy virtual host choice), or None."""
    matching = [c for c in candidates if matches(c, host)]
    return max(matching, key=specificity) if matching else None
