"""Where a NodePort probe enters (LiveBackend's node address): the address `grade workshop setup` published
for a workshop learner, 127.0.0.1 for the course's kind cluster on macOS/Windows, else a node's ExternalIP
before its InternalIP. Against a fake KubeClient at the boundary the backend uses (get, list)."""

from __future__ import annotations

import http.server
import threading
from typing import Any

import pytest

from grader.backends import live
from grader.backends.live import LiveBackend
from grader.kube.safety import CourseContexts
from grader.probes import Http
from grader.workshop.facts import CLUSTER_FACTS_CONFIGMAP, cluster_facts_data

FACTS = f"ConfigMap alice-home/{CLUSTER_FACTS_CONFIGMAP}"


pytestmark = pytest.mark.usefixtures("private_state")  # tests/conftest.py


def node(name: str, ready: bool = True, **addresses: str) -> dict[str, Any]:
    return {"metadata": {"name": name},
            "status": {"conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                       "addresses": [{"type": kind, "address": ip} for kind, ip in addresses.items()]}}


class NodeClient:
    """A KubeClient stand-in: the facts ConfigMap by get, Nodes by list (or the API's refusal)."""

    def __init__(self, context: str = "gke-workshop", nodes: list[dict[str, Any]] | Exception = (),
                 facts: dict[str, str] | None = None) -> None:
        self.context, self.nodes, self.facts = context, nodes, facts
        self.calls: list[tuple[str, ...]] = []

    def get(self, api_version, kind, name, namespace=None):
        self.calls.append(("get", kind, name))
        if kind == "ConfigMap" and name == CLUSTER_FACTS_CONFIGMAP and self.facts is not None:
            return {"metadata": {"name": name, "namespace": namespace}, "data": self.facts}
        return None

    def list(self, api_version, kind, namespace=None, **kw):
        self.calls.append(("list", kind))
        if kind == "Node":
            if isinstance(self.nodes, Exception):
                raise self.nodes
            return list(self.nodes)
        return []


def backend(client: NodeClient, workshop: bool = False) -> LiveBackend:
    return LiveBackend(client, "lesson2", ["alice-lesson2" if workshop else "lesson2"], policy_enforced=True,
                       published_facts_namespace="alice-home" if workshop else None)


def entry(b: LiveBackend, port: int = 31234) -> tuple[str | None, int, str]:
    return b._entry_point(Http("nodeport", "localhost", "/hostname", port=port))


FORBIDDEN = PermissionError('nodes is forbidden: User "system:serviceaccount:alice-home:learner" cannot list resource "nodes"')


def published(address: str | None, source: str = "") -> dict[str, str]:
    return cluster_facts_data(True, "blocked", "", 31234, "2025-01-01T00:00:00Z", address, source)


# -- a workshop learner -----------------------------------------------------------------------------


@pytest.mark.parametrize("linux", [True, False])
def test_a_learner_probes_the_published_address_and_never_lists_nodes(monkeypatch, linux):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: linux)
    client = NodeClient("netcourse-alice", FORBIDDEN, published("203.0.113.7", "ExternalIP of node worker-1"))
    address, port, note = entry(backend(client, workshop=True))
    assert (address, port) == ("203.0.113.7", 31234)
    assert note == (f"node address 203.0.113.7 from {FACTS} (ExternalIP of node worker-1, "
                    "published by `grade workshop setup`)")
    assert ("list", "Node") not in client.calls


def test_the_published_address_wins_even_on_the_course_kind_context_on_macos(monkeypatch):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: False)
    client = NodeClient("kind-course", [node("course-worker", InternalIP="172.18.0.3")],
                        published("192.168.1.20", "--node-address"))
    assert entry(backend(client, workshop=True))[0] == "192.168.1.20"


def test_a_learner_without_a_published_address_and_no_node_rights_is_told_to_ask_for_setup(monkeypatch):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: True)
    client = NodeClient("netcourse-alice", FORBIDDEN, published(None))  # a setup from before node addresses
    address, port, note = entry(backend(client, workshop=True))
    assert address is None and port == 0
    assert f"{FACTS} names no node address: ask your instructor to run `grade workshop setup` again" in note
    assert "cannot list Nodes to find a node address for the NodePort probe: nodes is forbidden" in note


def test_a_learner_without_a_published_address_falls_back_to_the_nodes_when_allowed_and_says_so(monkeypatch):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: True)
    client = NodeClient("admin@lab", [node("n1", InternalIP="10.0.0.4", ExternalIP="198.51.100.4")], facts=None)
    address, _, note = entry(backend(client, workshop=True))
    assert address == "198.51.100.4"
    assert note.startswith("node address 198.51.100.4: the ExternalIP of node n1")
    assert f"{FACTS} names no node address" in note


# -- outside workshops ------------------------------------------------------------------------------


@pytest.mark.parametrize("context, recorded", [("kind-course", False), ("kind-course-calico", True)])
def test_the_course_kind_cluster_on_macos_or_windows_is_reached_on_localhost(monkeypatch, context, recorded):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: False)
    if recorded:
        CourseContexts.default().record(context, "https://127.0.0.1:40001", "calico")
    client = NodeClient(context, FORBIDDEN)
    address, port, note = entry(backend(client), 30080)
    assert (address, port) == ("127.0.0.1", 30080)
    assert "kind cluster maps nodePort 30080 to this machine" in note
    assert ("list", "Node") not in client.calls


def test_another_cluster_on_macos_uses_a_node_external_ip_not_localhost(monkeypatch):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: False)
    client = NodeClient("gke-workshop", [node("a", InternalIP="10.128.0.2"), node("b", InternalIP="10.128.0.3", ExternalIP="34.1.2.3")])
    address, _, note = entry(backend(client))
    assert address == "34.1.2.3" and note == "node address 34.1.2.3: the ExternalIP of node b"


def test_on_linux_an_external_ip_beats_the_first_nodes_internal_ip_and_ready_nodes_come_first(monkeypatch):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: True)
    nodes = [node("cp", InternalIP="10.0.0.1"), node("down", ready=False, ExternalIP="34.0.0.9"),
             node("up", ExternalIP="34.0.0.10")]
    assert entry(backend(NodeClient("admin@cloud", nodes)))[0] == "34.0.0.10"


@pytest.mark.parametrize("context, warned", [("kind-course", False), ("admin@cloud", True)])
def test_an_internal_ip_is_used_when_no_node_has_an_external_one_with_a_warning_off_kind(monkeypatch, context, warned):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: True)
    address, _, note = entry(backend(NodeClient(context, [node("course-worker", InternalIP="172.18.0.3")])))
    assert address == "172.18.0.3" and note.startswith("node address 172.18.0.3: the InternalIP of node course-worker")
    assert ("this machine cannot reach it" in note) is warned


def test_no_node_address_at_all_says_how_to_look(monkeypatch):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: True)
    address, _, note = entry(backend(NodeClient("admin@cloud", [node("n1")])))
    assert address is None and "no node reports an ExternalIP or InternalIP (`kubectl get nodes -o wide`)" in note


def test_a_node_address_is_found_once_per_backend(monkeypatch):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: True)
    client = NodeClient("admin@cloud", [node("n1", ExternalIP="34.0.0.10")])
    b = backend(client)
    assert entry(b)[0] == entry(b, 31999)[0] == "34.0.0.10"
    assert client.calls.count(("list", "Node")) == 1


# -- through run(): the note is part of the result's evidence -----------------------------------------


class Hostname(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - netexec --http-override=/hostname answers with the pod's name
        body = b"my-app-7d9c-abcde"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_learners_nodeport_result_says_where_the_address_came_from(monkeypatch):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hostname)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = NodeClient("netcourse-alice", FORBIDDEN, published("127.0.0.1", "--node-address"))
        (r,) = backend(client, workshop=True).run([Http("nodeport", "localhost", "/hostname", port=server.server_port)])
    finally:
        server.shutdown()
    assert r.ok and r.data["address"] == f"127.0.0.1:{server.server_port}"
    assert f"node address 127.0.0.1 from {FACTS} (--node-address, published by `grade workshop setup`)" in r.evidence


def test_a_nodeport_probe_without_an_address_is_an_error_result_with_the_reason(monkeypatch):
    monkeypatch.setattr(live, "host_can_route_to_kind", lambda: True)
    (r,) = backend(NodeClient("netcourse-alice", FORBIDDEN, published(None)), workshop=True).run(
        [Http("nodeport", "localhost", "/hostname", port=31234)])
    assert not r.ok and r.verdict == "error"
    assert "ask your instructor to run `grade workshop setup` again" in r.evidence[0]
