"""Name rules the API server enforces, in one place for the loader and the model."""

from __future__ import annotations

import ipaddress
import re

_IANA_SVC_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")


def is_port_name(value: str) -> bool:
    """An IANA service name, as the API server checks a named port (IsValidPortName): at most 15
    lowercase letters, digits and '-', at least one letter, no '-' at either end, no '--'."""
    return bool(_IANA_SVC_NAME.match(value)) and len(value) <= 15 and "--" not in value and re.search("[a-z]", value) is not None


def is_ip(text: str) -> bool:
    """Whether `text` is an IPv4 or IPv6 address (not a DNS name)."""
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def wildcard_match(pattern: str, host: str) -> bool:
    """A host name against an Ingress rule host or a certificate SAN: equal (case-insensitive, a
    trailing dot ignored), or `*.foo.com` covering exactly one more label (not foo.com, not a.b.foo.com)."""
    pattern, host = pattern.lower().rstrip("."), host.lower().rstrip(".")
    if pattern.startswith("*."):
        head, _, rest = host.partition(".")
        return bool(head) and rest == pattern[2:]
    return pattern == host
