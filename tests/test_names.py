"""Name rules shared by the loader, the model, the live lookups and the lesson checks."""

import pytest

from grader.model.names import is_ip, is_port_name, wildcard_match


@pytest.mark.parametrize("name,ok", [("http", True), ("dns-tcp", True), ("web--http", False), ("-http", False), ("HTTP", False),
                                     ("8080", False), ("a" * 15, True), ("a" * 16, False), ("h2c", True)])
def test_port_names_follow_the_api_servers_iana_rule(name, ok):
    assert is_port_name(name) is ok


def test_is_ip_knows_addresses_from_names():
    assert is_ip("10.244.1.2") and is_ip("fd00::1")
    assert not is_ip("my-service") and not is_ip("10.244.1") and not is_ip("")


@pytest.mark.parametrize("pattern,host,ok", [
    ("myapp.example.com", "MyApp.Example.com.", True),
    ("*.example.com", "a.example.com", True),
    ("*.example.com", "example.com", False),  # a wildcard needs exactly one more label
    ("*.example.com", "a.b.example.com", False),
    ("*.example.com", ".example.com", False),
    ("example.com", "a.example.com", False),
])
def test_wildcards_cover_exactly_one_label(pattern, host, ok):
    assert wildcard_match(pattern, host) is ok
