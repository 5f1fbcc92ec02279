"""The live path through a Gateway, offline: LiveBackend reads the Gateway's address from status.addresses
(waiting a bounded time while it is Pending), sends the request with its headers, reports a redirect's
Location without following it, counts which Service answered a sampled split, and shows the real
status of routes that are not attached. A local HTTP server stands in for the Gateway's Envoy and a
fake KubeClient for the API server (get, list), as tests/test_live_nodeport_entry.py does."""

from __future__ import annotations

import http.server
import itertools
import threading
from typing import Any

import pytest

from grader.backends.live import LiveBackend
from grader.model.gateway.split import acceptance_band
from grader.probes import Http

pytestmark = pytest.mark.usefixtures("private_state")  # tests/conftest.py

NS = "lesson7"
PODS = {"api-v1-abc": "api-v1", "api-v2-def": "api-v2", "store-v1-ghi": "store-v1"}


class Envoy(http.server.BaseHTTPRequestHandler):
    """Answers like the course's Gateway would: a 90/10 split for api.example.com (every tenth request
    to api-v2), a 301 for secure.example.com, the header route for shop.example.com."""

    split = itertools.cycle(["api-v1-abc"] * 9 + ["api-v2-def"])

    def do_GET(self):  # noqa: N802 - http.server's name
        host = self.headers.get("Host", "")
        if host == "secure.example.com":
            self.send_response(301)
            self.send_header("Location", f"https://secure.example.com{self.path}")
            self.end_headers()
            return
        if host == "api.example.com":
            body = next(Envoy.split)
        elif host == "shop.example.com":
            body = "store-v1-ghi" if self.headers.get("X-Version") != "v2" else "store-v2-xyz"
        else:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body.encode())

    def log_message(self, *args):  # keep the test output clean
        pass


@pytest.fixture(scope="module")
def envoy():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Envoy)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


class GatewayClient:
    """A KubeClient stand-in: a Gateway (with or without an address), the lesson's pods, Services and routes."""

    context = "kind-course"

    def __init__(self, address: str | None = "127.0.0.1", conditions: list[dict] | None = None,
                 routes: list[dict] | None = None) -> None:
        status: dict[str, Any] = {"conditions": conditions or []}
        if address:
            status["addresses"] = [{"type": "IPAddress", "value": address}]
        self.gateway = {"metadata": {"name": "shop-gateway", "namespace": NS}, "spec": {"gatewayClassName": "cloud-provider-kind"},
                        "status": status}
        self.routes = routes or []

    def get(self, api_version, kind, name, namespace=None):
        if kind == "Gateway":
            return self.gateway if name == "shop-gateway" else None
        if kind == "Pod" and name in PODS:
            return {"metadata": {"name": name, "namespace": NS, "labels": {"app": PODS[name]}}}
        return None

    def list(self, api_version, kind, namespace=None, **kw):
        if kind == "Service":
            return [{"metadata": {"name": app, "namespace": NS}, "spec": {"selector": {"app": app}}} for app in set(PODS.values())]
        if kind == "HTTPRoute":
            return self.routes
        return []


def backend(client: GatewayClient) -> LiveBackend:
    clock = itertools.count()
    return LiveBackend(client, "lesson7", [NS], policy_enforced=True, sleep=lambda s: None, clock=lambda: float(next(clock)))


def test_a_request_enters_at_the_gateway_address_with_its_headers(envoy):
    r = backend(GatewayClient())._http(Http("gateway:lesson7/shop-gateway", "shop.example.com", "/", port=envoy))
    assert r.ok and r.data["service"] == "lesson7/store-v1", r.evidence
    assert any("status.addresses" in e for e in r.evidence)


def test_a_redirect_is_reported_with_its_location_and_not_followed(envoy):
    r = backend(GatewayClient())._http(Http("gateway:lesson7/shop-gateway", "secure.example.com", "/account?from=mail", port=envoy))
    assert r.data["status"] == 301
    assert r.data["location"] == "https://secure.example.com/account?from=mail"


def test_a_sampled_split_counts_the_services_and_lands_in_the_stated_band(envoy):
    r = backend(GatewayClient())._http(Http("gateway:lesson7/shop-gateway", "api.example.com", "/", port=envoy, samples=200))
    assert r.data["samples"] == 200
    assert r.data["counts"] == {"lesson7/api-v1": 180, "lesson7/api-v2": 20}
    lo, hi = acceptance_band(200, 0.1)
    assert lo <= r.data["counts"]["lesson7/api-v2"] <= hi


def test_a_gateway_without_address_says_why_after_a_bounded_wait():
    pending = [{"type": "Accepted", "status": "Unknown", "reason": "Pending", "message": "Waiting for controller"}]
    route = {"metadata": {"name": "blog", "namespace": NS}, "status": {"parents": [{
        "parentRef": {"name": "shop-gateway", "sectionName": "web"},
        "conditions": [{"type": "Accepted", "status": "False", "reason": "NoMatchingParent", "message": "no listener web"}]}]}}
    r = backend(GatewayClient(address=None, conditions=pending, routes=[route]))._http(
        Http("gateway:lesson7/shop-gateway", "blog.example.com", "/"))
    assert not r.ok
    assert "no controller has programmed it" in r.evidence[0]
    assert any("Accepted: False (NoMatchingParent)" in e for e in r.evidence)


def test_the_reproduce_command_reads_the_gateway_address():
    from grader.probes import kubectl_for

    cmd = kubectl_for(Http("gateway:lesson7/shop-gateway", "shop.example.com", "/", headers=(("X-Version", "v2"),)))
    assert "kubectl get gateway -n lesson7 shop-gateway -o jsonpath='{.status.addresses[0].value}'" in cmd
    assert "-H 'X-Version: v2'" in cmd
