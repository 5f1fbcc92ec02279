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
