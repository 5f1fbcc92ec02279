"""Workshop facts: the NetworkPolicy verdict setup proves once and publishes read-only for each learner, and
each learner's own nodePort (fence rewrite, Lab probe mapping, kubeconfig -> join -> grading), against fakes
and on the simulator."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from grader.backends.live import LiveBackend
from grader.backends.sim import SimBackend
from grader.checks import SetupError
from grader.cli import main
from grader.cluster.doctor import Check
from grader.lessons import list_lessons, load_lesson
from grader.manifests import load_text
from grader.probes import Result
from grader.runner import grade_lesson, open_lab
from grader.workshop.learner import learner_fence
from grader.workshop import facts
from grader.workshop.facts import (
    CLUSTER_FACTS_CONFIGMAP,
    LEARNER_NODE_PORTS,
    roster_node_ports,
    stable_node_port,
)
from grader.workshop.fence import fence_lesson
from grader.workshop.setup import (
    HOME_RULES,
    LESSON_RULES,
    LessonSpace,
    WorkshopPlan,
    learner_objects,
    lesson_spaces,
    prove_cluster_policy,
    setup_workshop,
)


@pytest.fixture(autouse=True)
def _own_state(tmp_path, monkeypatch):
    """No real learner file or remembered policy verdict leaks into these tests."""
    monkeypatch.setenv("GRADE_STATE", str(tmp_path / "state" / "progress.json"))
    monkeypatch.setenv("NETCOURSE_STATE_DIR", str(tmp_path / "netcourse-state"))


def _allows(rules: list[dict[str, Any]], verb: str, resource: str, name: str | None) -> bool:
    """RBAC's rule match for a core-group request (resourceNames never match a request without a name)."""
    for r in rules:
        if "" not in r["apiGroups"] or resource not in r["resources"] or verb not in r["verbs"]:
            continue
        names = r.get("resourceNames")
        if not names or (name is not None and name in names):
            return True
    return False


# -- the published NetworkPolicy verdict -----------------------------------------------------------


def test_learner_can_read_the_cluster_facts_in_home_but_not_change_or_create_them():
    assert _allows(HOME_RULES, "get", "configmaps", CLUSTER_FACTS_CONFIGMAP)
    for verb in ("create", "update", "patch", "delete"):
        assert not _allows(HOME_RULES, verb, "configmaps", CLUSTER_FACTS_CONFIGMAP), verb
    assert not _allows(HOME_RULES, "create", "configmaps", None)  # nor make a second one
    # lesson namespaces let the learner write ConfigMaps: the facts must not live there
    assert _allows(LESSON_RULES, "create", "configmaps", None)


class ProofClient:
    """The instructor's KubeClient at the boundary deny_probe uses: apply/delete the deny-all policy and the namespace."""

    context = "admin@workshop"

    def __init__(self) -> None:
        self.deny_applied = False
        self.deleted: list[tuple[str, str]] = []

    def apply(self, obj, namespace=None):
        self.deny_applied = obj["kind"] == "NetworkPolicy"

    def delete(self, api_version, kind, name, namespace=None):
        self.deleted.append((kind, name))
        if kind == "NetworkPolicy":
            self.deny_applied = False

    def list(self, *a, **k):
        raise PermissionError("no DaemonSets here")


class ProofBackend:
    """Two pods; a probe connects unless the deny-all policy is applied and the CNI enforces it."""

    def __init__(self, client: ProofClient, enforces: bool) -> None:
        self.client, self.enforces, self.readiness_problems, self.applied = client, enforces, [], []

    def apply(self, manifests):
        self.applied += [m.name for m in manifests]

    def pods(self):
        return [SimpleNamespace(name="server", ip="10.244.1.5"), SimpleNamespace(name="client", ip="10.244.2.6")]

    def run(self, probes, expect=None):
        blocked = self.client.deny_applied and self.enforces
        return [Result(p, not blocked, "blocked" if blocked else "allowed", [], "kubectl exec ...") for p in probes]


@pytest.mark.parametrize("enforces", [True, False])
def test_setup_proves_once_with_the_doctors_deny_probe_and_publishes_the_verdict(tmp_path, enforces):
    from test_workshop_setup import RecordingClient

    client = RecordingClient()
    proof_client = ProofClient()
    made: list[str] = []

    def prove(_client):
        def backend(ns):
            made.append(ns)
            return ProofBackend(proof_client, enforces)
        return prove_cluster_policy(proof_client, backend)

    plan = WorkshopPlan("spring", (LessonSpace("lesson4", ("lesson4",), {"lesson4": 3}),))
    seen: list[Check] = []
    out = setup_workshop(client, plan, ["alice", "bob"], tmp_path, prove=prove, on_policy=seen.append)
    assert len(made) == 1 and len(seen) == 1  # one proof for the whole room
    assert ("Namespace", made[0]) in proof_client.deleted  # the scratch namespace is cleaned up
    for learner in ("alice", "bob"):
        cm = client.store[("ConfigMap", f"{learner}-home", CLUSTER_FACTS_CONFIGMAP)]
        assert cm["data"]["networkPolicyEnforced"] == ("yes" if enforces else "no")
        if not enforces:
            assert "still connected under a deny-all policy" in cm["data"]["networkPolicyDetail"]
            assert "calico" in cm["data"]["networkPolicyHint"]
    assert {o.policy for o in out} == {"yes" if enforces else "no"}


def test_a_proof_the_cluster_refuses_is_published_as_unknown(tmp_path):
    from grader.kube.client import KubeError

    def refusing_backend(ns):
        raise KubeError("namespaces is forbidden", status=403)

    check = prove_cluster_policy(ProofClient(), refusing_backend)
    assert check.ok is None and "forbidden" in check.detail and "grade cluster doctor" in check.hint


class FactsClient:
    """A learner's KubeClient: it may read ConfigMaps in its home namespace and create nothing."""

    context = "netcourse-alice"

    def __init__(self, configmap: dict[str, Any] | None = None, error: Exception | None = None) -> None:
        self.configmap, self.error, self.reads, self.writes = configmap, error, [], []

    def get(self, api_version, kind, name, namespace=None):
        self.reads.append((kind, namespace, name))
        if self.error:
            raise self.error
        return self.configmap

    def apply(self, *a, **k):
        self.writes.append(a)
        raise AssertionError("a learner's backend must not try to create the proof's namespace")

    ensure_lesson_namespace = apply


def _published(verdict: str, detail: str = "", hint: str = "") -> dict[str, Any]:
    return {"metadata": {"name": CLUSTER_FACTS_CONFIGMAP}, "data": {"networkPolicyEnforced": verdict,
                                                                    "networkPolicyDetail": detail, "networkPolicyHint": hint}}


def _learner_backend(client) -> LiveBackend:
    return LiveBackend(client, "lesson4", ["alice-lesson4"], policy_enforced=False, published_facts_namespace="alice-home")


def test_learner_backend_accepts_a_published_yes_without_creating_anything():
    client = FactsClient(_published("yes", "a deny-all policy blocked the probe (calico)"))
    backend = _learner_backend(client)
    backend.prove_policy_enforced()
    assert backend.policy_enforced is True
    assert client.reads == [("ConfigMap", "alice-home", CLUSTER_FACTS_CONFIGMAP)] and not client.writes


def test_learner_backend_stops_on_a_published_no_with_the_doctors_words():
    client = FactsClient(_published("no", "the probe still connected under a deny-all policy",
                                    "NetworkPolicy is not enforced: Flannel ignores NetworkPolicy; use `grade cluster up --profile calico`"))
    with pytest.raises(SetupError) as err:
        _learner_backend(client).prove_policy_enforced()
    text = str(err.value)
    assert "does not enforce them: the probe still connected under a deny-all policy" in text
    assert "Flannel ignores NetworkPolicy" in text and "tell your instructor" in text


@pytest.mark.parametrize("client", [FactsClient(None), FactsClient({"data": {}}),
                                    FactsClient(error=PermissionError("configmaps is forbidden"))])
def test_learner_backend_without_a_verdict_asks_for_workshop_setup(client):
    with pytest.raises(SetupError, match=r"ask your instructor to run `grade workshop setup` \(it publishes the cluster's NetworkPolicy verdict\)"):
        _learner_backend(client).prove_policy_enforced()
    assert not client.writes


def test_open_lab_tells_a_learners_backend_where_the_verdict_is():
    class RecordingSim(SimBackend):
        namespaces: list[str] = []
        published_facts_namespace = None

        def prove_policy_enforced(self):
            self.proven_with = (self.published_facts_namespace, list(self.namespaces))

    backend = RecordingSim()
    open_lab("lesson4", backend=backend, solution=True, fence=learner_fence("alice"))
    assert backend.proven_with == ("alice-home", ["alice-lesson4", "alice-monitoring", "alice-lesson4-other"])


# -- nodePorts -----------------------------------------------------------------------------------------


def test_roster_ports_are_distinct_stable_and_in_range():
    names = [f"learner{i}" for i in range(300)]  # 300 names in 2,668 ports: hash collisions are certain
    ports = roster_node_ports(names)
    assert len(set(ports.values())) == 300 and all(p in LEARNER_NODE_PORTS for p in ports.values())
    assert 30080 not in ports.values()
    moved = [n for n in names if ports[n] != stable_node_port(n)]
    assert moved, "the test needs at least one collision to be meaningful"
    assert roster_node_ports(names + ["zoe"])["learner0"] == ports["learner0"]  # a late learner moves nobody
    assert roster_node_ports(names) == ports


def test_setup_writes_each_learners_port_into_kubeconfig_and_facts_and_join_keeps_it(tmp_path, monkeypatch, capsys):
    from test_workshop_setup import RecordingClient

    client = RecordingClient()
    plan = WorkshopPlan("spring", (LessonSpace("lesson2", ("lesson2",), {"lesson2": 3}),))
    out = setup_workshop(client, plan, ["alice", "bob"], tmp_path / "kc", prove=lambda c: Check("NetworkPolicy enforced", True, "ok"))
    ports = {o.learner: o.node_port for o in out}
    assert ports == roster_node_ports(["alice", "bob"])
    assert client.store[("ConfigMap", "alice-home", CLUSTER_FACTS_CONFIGMAP)]["data"]["nodePort"] == str(ports["alice"])
    kc = yaml.safe_load((tmp_path / "kc" / "alice.kubeconfig").read_text())
    assert kc["extensions"] == [{"name": "netcourse", "extension": {"learner": "alice", "nodePort": ports["alice"]}}]

    assert main(["workshop", "join", "--name", "alice", "--kubeconfig", str(tmp_path / "kc" / "alice.kubeconfig")]) == 0
    from grader.workshop.learner import learner_for_grading, learner_node_ports, read_learner_config

    assert read_learner_config()["node_port"] == ports["alice"]
    assert learner_node_ports("alice") == {30080: ports["alice"]}
    assert learner_node_ports("carol") == {30080: stable_node_port("carol")}  # not joined: the name's hash
    capsys.readouterr()
    monkeypatch.setenv("KUBECONFIG", "/nonexistent")
    assert learner_for_grading(SimpleNamespace(learner=None, context=None)) == "alice"
    assert capsys.readouterr().out == ""  # the nodePort line is the report's note, printed with the lesson

    json_file = tmp_path / "alice-lesson2.json"
    assert main(["lesson2", "--sim", "--solution", "-k", "test_nodeport_service", "--json", str(json_file)]) == 0
    out = " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    title, note, task = out.index("lesson2: "), out.index(f"your nodePort is {ports['alice']}"), out.index("PASS test_nodeport_service")
    assert title < note < task  # under the lesson's title, above its tasks
    assert f"Workshop learner alice: your nodePort is {ports['alice']}." in out
    notes = json.loads(json_file.read_text())["notes"]
    assert len(notes) == 1 and notes[0].startswith(f"Workshop learner alice: your nodePort is {ports['alice']}.")


NODEPORT_SVC = """\
apiVersion: v1
kind: Service
metadata: {name: my-nodeport}
spec:
  type: NodePort
  selector: {app: my-app}
  ports:
  - {name: http, port: 80, targetPort: 8080, nodePort: 30080}
  - {name: alt, port: 81, targetPort: 8080, nodePort: 30999}
"""


def test_fence_rewrites_only_the_lessons_node_port():
    fenced, _ = fence_lesson(load_text(NODEPORT_SVC, "work/lesson2/services.yaml", namespace="lesson2"), "alice", ["lesson2"], {30080: 31234})
    assert [p["nodePort"] for p in fenced[0].obj["spec"]["ports"]] == [31234, 30999]
    assert fenced[0].obj["metadata"]["namespace"] == "alice-lesson2" and str(fenced[0].source).startswith("work/lesson2/services.yaml")


def test_two_learners_pass_the_nodeport_task_on_their_own_ports_on_the_simulator():
    lesson = load_lesson("lesson2")
    seen = {}
    for learner in ("alice", "bob"):
        lab = open_lab(lesson, backend="sim", solution=True, fence=learner_fence(learner))
        real = stable_node_port(learner)
        assert lab.node_port_map == {30080: real}
        # applied with the learner's port, shown to the checks in the lesson's number
        assert [p.node_port for p in lab.backend.world.service(f"{learner}-lesson2", "my-nodeport").ports] == [real]
        assert [p.node_port for p in lab.world.service(f"{learner}-lesson2", "my-nodeport").ports] == [30080]
        r = lab.http("nodeport", "localhost", "/hostname", port=30080)
        assert r.ok and r.probe.port == real
        seen[learner] = real
    assert seen["alice"] != seen["bob"]
    report = grade_lesson("lesson2", solution=True, fence=learner_fence("alice"), keyword="test_nodeport_service")
    assert report.passed, report.tasks


def test_a_wrong_node_port_still_fails_in_learner_mode(tmp_path):
    wrong = tmp_path / "services.yaml"
    text = (load_lesson("lesson2").solution / "services.yaml").read_text().replace("nodePort: 30080", "nodePort: 30081")
    wrong.write_text(text)
    app = load_lesson("lesson2").solution / "app.yaml"
    report = grade_lesson("lesson2", [wrong, app], fence=learner_fence("alice"), keyword="test_nodeport_service")
    (task,) = report.tasks
    assert not task.passed and "its nodePort is 30081" in task.failure["observed"]


def test_every_lesson_still_passes_as_a_learner_on_the_simulator():
    for lesson in list_lessons():
        report = grade_lesson(lesson, solution=True, fence=learner_fence("alice"))
        assert report.passed, (lesson.id, report.setup_error, [t.failure for t in report.tasks if not t.passed])


def test_dry_run_objects_include_an_unproven_facts_configmap():
    plan = WorkshopPlan("spring", tuple(lesson_spaces(list_lessons())))
    objs = learner_objects(plan, "alice", facts.cluster_facts_data(None, "not proven yet", "", 31234, ""))
    (cm,) = [o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == CLUSTER_FACTS_CONFIGMAP]
    assert cm["metadata"]["namespace"] == "alice-home" and cm["data"]["networkPolicyEnforced"] == "unknown"
