"""Workshop setup/teardown: the objects per learner (pure), the isolation baseline on the simulator, and the
cluster calls against fakes (a recording client for apply/TokenRequest, the fake API server for teardown)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from grader.cluster.doctor import Check
from grader.lessons import list_lessons
from grader.manifests import Manifest, load, load_text
from grader.model.connect import connect
from grader.model.workloads import build_world
from grader.lab import manifest_files
from grader.runner import grade_lesson
from grader.workshop.learner import learner_fence
from grader.workshop.fence import fence_lesson
from grader.workshop.roster import RosterError, parse_roster
from grader.workshop.setup import (
    FIELD_MANAGER,
    ISOLATION_POLICY,
    LessonSpace,
    WorkshopPlan,
    learner_objects,
    lesson_spaces,
    select_workshop_namespaces,
    setup_workshop,
    teardown_workshop,
)

SPACES = tuple(lesson_spaces(list_lessons()))
PLAN = WorkshopPlan("spring", SPACES, isolate=True)


def _by(objs, kind):
    return [o for o in objs if o["kind"] == kind]


def test_every_object_carries_the_labels_teardown_selects_by():
    objs = learner_objects(PLAN, "alice")
    for o in objs:
        labels = o["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "k8s-netcourse-grader"
        assert labels["netcourse/workshop"] == "spring" and labels["netcourse/learner"] == "alice"
    names = [o["metadata"]["name"] for o in _by(objs, "Namespace")]
    expected = ["alice-home"] + [f"alice-{ns}" for s in SPACES for ns in s.namespaces]
    assert names == expected
    assert objs[: len(names)] == _by(objs, "Namespace")  # namespaces are applied first


def test_each_lesson_namespace_gets_quota_limits_role_and_binding_to_the_learners_service_account():
    objs = learner_objects(PLAN, "alice")
    lesson_ns = [o["metadata"]["name"] for o in _by(objs, "Namespace") if o["metadata"]["name"] != "alice-home"]
    for kind in ("ResourceQuota", "LimitRange", "Role", "RoleBinding"):
        assert {o["metadata"]["namespace"] for o in _by(objs, kind)} >= set(lesson_ns), kind
    for rb in _by(objs, "RoleBinding"):
        assert rb["subjects"] == [{"kind": "ServiceAccount", "name": "learner", "namespace": "alice-home"}]
        assert rb["roleRef"]["kind"] == "Role"  # never a ClusterRole
    resources = {r for role in _by(objs, "Role") for rule in role["rules"] for r in rule["resources"]}
    assert "pods/exec" in resources and "networkpolicies" in resources
    assert not resources & {"roles", "rolebindings", "clusterroles", "resourcequotas/status"}
    for role in _by(objs, "Role"):
        for rule in role["rules"]:
            if "resourcequotas" in rule["resources"] or "limitranges" in rule["resources"]:
                assert set(rule["verbs"]) <= {"get", "list", "watch"}  # a learner cannot lift the quota


def test_quota_leaves_room_over_the_solution_pods():
    lesson4 = next(s for s in SPACES if s.lesson == "lesson4")
    quota = next(o for o in learner_objects(PLAN, "alice") if o["kind"] == "ResourceQuota" and o["metadata"]["namespace"] == "alice-lesson4")
    assert int(quota["spec"]["hard"]["pods"]) >= 2 * lesson4.pods["lesson4"]


def test_isolation_is_not_put_where_the_learner_writes_policies():
    objs = learner_objects(PLAN, "alice")
    isolated = {o["metadata"]["namespace"] for o in _by(objs, "NetworkPolicy")}
    assert "alice-lesson4" not in isolated  # lesson4's own policies would be widened by it
    assert {"alice-lesson2", "alice-monitoring", "alice-lesson4-other"} <= isolated
    assert not _by(learner_objects(WorkshopPlan("spring", SPACES, isolate=False), "alice"), "NetworkPolicy")


# -- the baseline on the simulator ----------------------------------------------------------------


def _as_manifests(objs: list[dict[str, Any]]) -> list[Manifest]:
    return load_text(yaml.safe_dump_all(objs), "setup.yaml")


def _learner_world(learners: list[str], lesson_id: str, isolate: bool):
    lesson = next(l for l in list_lessons() if l.id == lesson_id)
    base = load(manifest_files([lesson.fixtures, lesson.solution]), namespace=lesson.namespace)
    ms: list[Manifest] = []
    plan = WorkshopPlan("spring", SPACES, isolate=isolate)
    for name in learners:
        fenced, _ = fence_lesson(base, name, lesson.namespaces)
        ms += [m for m in fenced if m.kind != "Namespace"]
    for name in learners:
        ms += _as_manifests([o for o in learner_objects(plan, name) if o["kind"] in ("Namespace", "NetworkPolicy")])
    return build_world(ms)


@pytest.mark.parametrize("isolate, bob_gets_in", [(True, False), (False, True)])
def test_isolation_keeps_bobs_pods_out_of_alices_namespaces(isolate, bob_gets_in):
    world = _learner_world(["alice", "bob"], "lesson2", isolate)
    bob_client = world.pod("bob-lesson2/client")
    alice_client = world.pod("alice-lesson2/client")
    target = next(p for p in world.pods if p.namespace == "alice-lesson2" and p.labels.get("app") == "my-app")
    assert connect(world, bob_client, target.ip, 8080, "TCP").ok is bob_gets_in
    assert connect(world, bob_client, "my-service.alice-lesson2", 80, "TCP").ok is bob_gets_in
    assert connect(world, alice_client, "my-service", 80, "TCP").ok  # alice's own exercise still works


@pytest.mark.parametrize("lesson", [l.id for l in list_lessons()])
def test_the_isolation_baseline_does_not_change_any_task_result(lesson, tmp_path):
    """Each solution grades the same for alice with her baseline policies applied as without them."""
    spec = next(l for l in list_lessons() if l.id == lesson)
    extra = [o for o in learner_objects(PLAN, "alice") if o["kind"] == "NetworkPolicy" and o["metadata"]["labels"].get("netcourse/lesson") == lesson]
    work = tmp_path / "work"
    work.mkdir()
    for f in manifest_files([spec.solution]):
        (work / f.relative_to(spec.solution)).parent.mkdir(parents=True, exist_ok=True)
        (work / f.relative_to(spec.solution)).write_text(f.read_text())
    (work / "zz-workshop-isolation.yaml").write_text(yaml.safe_dump_all(extra) if extra else "")
    plain = grade_lesson(lesson, backend="sim", solution=True, fence=learner_fence("alice"))
    isolated = grade_lesson(lesson, [work], backend="sim", fence=learner_fence("alice"))
    assert isolated.setup_error == plain.setup_error
    assert [(t.id, t.passed) for t in isolated.tasks] == [(t.id, t.passed) for t in plain.tasks]


# -- roster ---------------------------------------------------------------------------------------


def test_roster_reports_every_bad_line_with_its_number():
    with pytest.raises(RosterError) as err:
        parse_roster("# room 1\nname,email\nalice,a@x\nBob,b@x\nalice,c@x\n", "learners.csv")
    assert "learners.csv:4" in str(err.value) and "learners.csv:5" in str(err.value) and "already on line 3" in str(err.value)
    with pytest.raises(RosterError, match="no `name` column"):
        parse_roster("email\na@x\n", "learners.csv")


# -- against fakes ---------------------------------------------------------------------------------


class RecordingClient:
    """A KubeClient stand-in at the function boundary: server-side apply, get, list, delete, TokenRequest."""

    def __init__(self, existing: list[dict[str, Any]] = ()) -> None:
        self.applied: list[tuple[dict[str, Any], str | None, str]] = []
        self.store = {(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]): o for o in existing}
        self.tokens: list[tuple[str, str, int]] = []
        self.api_client = SimpleNamespace(configuration=SimpleNamespace(host="https://127.0.0.1:6443", ssl_ca_cert=None))
        outer = self

        class Dynamic:
            def server_side_apply(self, res, body, namespace, field_manager, force_conflicts):
                outer.applied.append((body, namespace, field_manager))
                outer.store[(res.kind, namespace, body["metadata"]["name"])] = body
                return body

        class Core:
            def create_namespaced_service_account_token(self, name, namespace, body):
                outer.tokens.append((name, namespace, body.spec.expiration_seconds))
                return SimpleNamespace(status=SimpleNamespace(token=f"token-for-{namespace}"))

        self.dynamic, self.core = Dynamic(), Core()

    def resource(self, api_version, kind):
        return SimpleNamespace(kind=kind, namespaced=kind != "Namespace")

    def get(self, api_version, kind, name, namespace=None):
        return self.store.get((kind, namespace, name))


def test_setup_applies_with_its_own_field_manager_and_writes_a_token_kubeconfig(tmp_path):
    client = RecordingClient()
    plan = WorkshopPlan("spring", (LessonSpace("lesson2", ("lesson2",), {"lesson2": 3}, frozenset({"lesson2"})),), isolate=True)
    out = setup_workshop(client, plan, ["alice"], tmp_path, server="https://workshop.example:6443", token_seconds=3600,
                         prove=lambda c: Check("NetworkPolicy enforced", True, "a deny-all policy blocked the probe (calico)"))
    assert out[0].namespaces == ["alice-home", "alice-lesson2"]
    assert {fm for _, _, fm in client.applied} == {FIELD_MANAGER}
    assert any(b["kind"] == "NetworkPolicy" and b["metadata"]["name"] == ISOLATION_POLICY for b, _, _ in client.applied)
    assert client.tokens == [("learner", "alice-home", 3600)]
    kc = yaml.safe_load((tmp_path / "alice.kubeconfig").read_text())
    assert kc["users"][0]["user"]["token"] == "token-for-alice-home"
    assert kc["clusters"][0]["cluster"]["server"] == "https://workshop.example:6443"
    assert kc["current-context"] == "netcourse-alice"
    assert (tmp_path / "alice.kubeconfig").stat().st_mode & 0o077 == 0


def test_setup_refuses_a_namespace_it_did_not_make(tmp_path):
    from grader.workshop.setup import WorkshopError

    client = RecordingClient([{"kind": "Namespace", "metadata": {"name": "alice-lesson2", "labels": {}}}])
    plan = WorkshopPlan("spring", (LessonSpace("lesson2", ("lesson2",), {"lesson2": 3}),))
    proofs: list[Any] = []
    with pytest.raises(WorkshopError, match="alice-lesson2.*not made by the grader"):
        setup_workshop(client, plan, ["alice"], tmp_path, prove=proofs.append)
    assert not client.applied and not proofs  # refused before the proof's pods are started


def _ns(name: str, **labels: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}


MB = {"app.kubernetes.io/managed-by": "k8s-netcourse-grader"}


def test_select_workshop_namespaces_needs_both_labels():
    found = [
        _ns("alice-lesson2", **MB, **{"netcourse/workshop": "spring"}),
        _ns("impostor", **{"netcourse/workshop": "spring"}),
        _ns("lesson2", **MB),
        _ns("bob-lesson2", **MB, **{"netcourse/workshop": "autumn"}),
    ]
    assert select_workshop_namespaces(found, "spring") == ["alice-lesson2"]


def test_teardown_deletes_exactly_the_workshops_namespaces_on_the_fake_api_server(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCOURSE_STATE_DIR", str(tmp_path))  # the discovery cache
    from kubernetes import client as k8s

    from fake_apiserver import FakeApiServer
    from grader.kube.client import KubeClient

    with FakeApiServer() as api:
        for ns in [
            _ns("alice-home", **MB, **{"netcourse/workshop": "spring", "netcourse/learner": "alice"}),
            _ns("alice-lesson2", **MB, **{"netcourse/workshop": "spring", "netcourse/learner": "alice"}),
            _ns("bob-lesson2", **MB, **{"netcourse/workshop": "spring", "netcourse/learner": "bob"}),
            _ns("carol-lesson2", **MB, **{"netcourse/workshop": "autumn", "netcourse/learner": "carol"}),
            _ns("lesson2", **MB, **{"netcourse/lesson": "lesson2"}),
            _ns("production"),
        ]:
            api.put(ns)
        conf = k8s.Configuration()
        conf.host = api.url
        client = KubeClient(k8s.ApiClient(conf), "fake")
        assert teardown_workshop(client, "spring", ["bob"]) == ["bob-lesson2"]
        assert teardown_workshop(client, "spring") == ["alice-home", "alice-lesson2"]
        left = sorted(name for (_, kind, _, name) in api.objects if kind == "Namespace")
        assert left == ["carol-lesson2", "lesson2", "production"]


# -- the node address learners' NodePort probes go to -------------------------------------------------


class NodesClient(RecordingClient):
    """RecordingClient whose instructor may list Nodes (or is refused)."""

    def __init__(self, nodes: list[dict[str, Any]] | Exception) -> None:
        super().__init__()
        self.nodes = nodes

    def list(self, api_version, kind, namespace=None, **kw):
        if isinstance(self.nodes, Exception):
            raise self.nodes
        return list(self.nodes) if kind == "Node" else []


def _node(name: str, **addresses: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": "True"}],
                                                   "addresses": [{"type": k, "address": v} for k, v in addresses.items()]}}


@pytest.mark.parametrize("nodes, override, address, source", [
    ([_node("cp", InternalIP="10.0.0.1"), _node("w1", InternalIP="10.0.0.2", ExternalIP="34.0.0.2")], None, "34.0.0.2", "ExternalIP of node w1"),
    ([_node("course-worker", InternalIP="172.18.0.3")], None, "172.18.0.3", "InternalIP of node course-worker"),
    ([_node("w1", ExternalIP="34.0.0.2")], "192.168.1.20", "192.168.1.20", "--node-address"),
    (PermissionError("nodes is forbidden"), "192.168.1.20", "192.168.1.20", "--node-address"),
])
def test_setup_publishes_a_node_address_for_every_learner(tmp_path, nodes, override, address, source):
    client = NodesClient(nodes)
    plan = WorkshopPlan("spring", (LessonSpace("lesson2", ("lesson2",), {"lesson2": 3}),))
    out = setup_workshop(client, plan, ["alice", "bob"], tmp_path, node_address=override,
                         prove=lambda c: Check("NetworkPolicy enforced", True, "ok"))
    for learner in ("alice", "bob"):
        data = client.store[("ConfigMap", f"{learner}-home", "netcourse-cluster-facts")]["data"]
        assert (data["nodeAddress"], data["nodeAddressSource"]) == (address, source)
    assert {(o.node_address, o.node_address_source) for o in out} == {(address, source)}


def test_setup_that_cannot_list_nodes_publishes_no_address_and_says_what_to_pass(tmp_path):
    from grader.workshop.cli import node_address_message

    client = NodesClient(PermissionError("nodes is forbidden"))
    plan = WorkshopPlan("spring", (LessonSpace("lesson2", ("lesson2",), {"lesson2": 3}),))
    (o,) = setup_workshop(client, plan, ["alice"], tmp_path, prove=lambda c: Check("NetworkPolicy enforced", True, "ok"))
    data = client.store[("ConfigMap", "alice-home", "netcourse-cluster-facts")]["data"]
    assert "nodeAddress" not in data and o.node_address is None
    message = node_address_message(o.node_address, o.node_address_source)
    assert "No node address published" in message and "nodes is forbidden" in message and "--node-address ADDR" in message


def test_setup_output_says_which_address_learners_must_reach():
    from grader.workshop.cli import node_address_message

    external = node_address_message("34.0.0.2", "ExternalIP of node w1")
    assert "go to 34.0.0.2 (the ExternalIP of node w1)" in external
    assert "every learner's laptop must reach 34.0.0.2 on TCP ports 30100-32767" in external
    assert "--node-address" not in external
    internal = node_address_message("10.0.0.1", "InternalIP of node cp")
    assert "An InternalIP is usually private" in internal and "--node-address ADDR" in internal
    assert "(given with --node-address)" in node_address_message("192.168.1.20", "--node-address")


def test_dry_run_shows_the_node_address_given(tmp_path, capsys):
    from grader.cli import main

    roster = tmp_path / "learners.csv"
    roster.write_text("name\nalice\n")
    assert main(["workshop", "setup", "--roster", str(roster), "--dry-run", "--node-address", "192.168.1.20"]) == 0
    docs = list(yaml.safe_load_all(capsys.readouterr().out))
    (facts,) = [d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "netcourse-cluster-facts"]
    assert facts["data"]["nodeAddress"] == "192.168.1.20" and facts["data"]["nodeAddressSource"] == "--node-address"
