"""The live backend against an in-process fake API server: the real kubernetes client, real HTTP and websockets."""

from __future__ import annotations

import threading

import pytest
import yaml
from kubernetes import client as k8s
from kubernetes.client.rest import ApiException

from fake_apiserver import ExecScript, FakeApiServer, FakeTime, exit_status
from grader.backends.live import LiveBackend, ManifestsRefused, live_backend_available
from grader.kube.client import FIELD_MANAGER, KubeClient
from grader.kube.readiness import KubePodSource, wait_until_ready
from grader.kube.safety import CourseContexts
from grader.probes import Connect, Resolve


pytestmark = pytest.mark.usefixtures("private_state")  # tests/conftest.py


@pytest.fixture
def api():
    with FakeApiServer() as server:
        server.put({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": "client", "namespace": "lesson4", "labels": {"app": "client"}},
                    "spec": {"nodeName": "course-worker", "containers": [{"name": "agnhost", "image": "agnhost"}]},
                    "status": {"podIP": "10.244.1.4", "conditions": [{"type": "Ready", "status": "True"}]}})
        yield server


@pytest.fixture
def kube(api):
    cfg = k8s.Configuration()
    cfg.host = api.url
    return KubeClient(k8s.ApiClient(cfg), "kind-course")


def test_exec_exit_code_zero(api, kube):
    api.exec_handler = lambda ns, pod, cmd: ExecScript(stdout="10.244.1.4:41000\n", status=exit_status(0))
    res = kube.exec("lesson4", "client", ["curl", "-sS", "http://10.96.0.5:8080/clientip"])
    assert (res.returncode, res.stdout, res.timed_out) == (0, "10.244.1.4:41000\n", False)
    exec_req = [r for r in api.requests if r.path.endswith("/exec")][0]
    assert [v for k, v in exec_req.query if k == "command"] == ["curl", "-sS", "http://10.96.0.5:8080/clientip"]


def test_exec_exit_code_one_with_timeout_on_stderr(api, kube):
    api.exec_handler = lambda ns, pod, cmd: ExecScript(stderr="TIMEOUT\n", status=exit_status(1))
    res = kube.exec("lesson4", "client", ["/agnhost", "connect", "10.96.12.3:80", "--timeout=1s"])
    assert (res.returncode, res.stderr, res.timed_out) == (1, "TIMEOUT\n", False)


def test_exec_that_outlives_the_timeout_has_no_exit_code(api, kube):
    # The command "runs" for a minute; only the client's own 0.5 s timeout can end it sooner.
    api.exec_handler = lambda ns, pod, cmd: ExecScript(status=None, hang=60)
    res = kube.exec("lesson4", "client", ["sleep", "60"], timeout=0.5)
    assert res.returncode is None and res.timed_out
    assert "did not finish within 0.5 s" in res.error
    assert api.hung_exec_ended.wait(30)  # the fake's handler thread may lag behind the client on a busy machine
    assert api.hung_exec_endings == ["closed by the client"]  # the client gave up, not the command


def test_exec_in_a_missing_pod_says_so(kube):
    res = kube.exec("lesson4", "gone", ["true"])
    assert res.returncode is None and res.error == 'exec in lesson4/gone failed: pods "gone" not found'


GONE = {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
                                     "reason": "Expired", "message": "too old resource version: 1 (205)"}}


def test_watch_with_an_expired_resource_version_raises_410(api, kube):
    api.watch_events = [[GONE]]
    with pytest.raises(ApiException) as err:
        list(KubePodSource(kube.core).watch_pods("lesson4", "1", 5))
    assert err.value.status == 410


def test_readiness_relists_after_410_gone_then_watches_from_the_new_list(api, kube):
    pod = api.get("Pod", "client", "lesson4")
    pod["status"]["conditions"] = [{"type": "Ready", "status": "False"}]
    ready = {**pod, "status": {**pod["status"], "conditions": [{"type": "Ready", "status": "True"}]}}
    api.watch_events = [[GONE], [{"type": "MODIFIED", "object": ready}]]
    ticks = iter(range(1000))  # a clock that moves one second per look: the wait's outcome cannot depend on the machine
    assert wait_until_ready(KubePodSource(kube.core), "lesson4", 5, clock=lambda: next(ticks)) == []
    pod_calls = [r for r in api.requests if r.path == "/api/v1/namespaces/lesson4/pods"]
    assert [dict(r.query).get("watch", "list") for r in pod_calls] == ["list", "true", "list", "true"]


def test_server_side_apply_uses_field_manager_grade_and_forces_conflicts(api, kube):
    api.put({"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": "settings", "namespace": "lesson4", "managedFields": [{"manager": "kubectl"}]},
             "data": {"a": "0"}})
    out = kube.apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}},
                     namespace="lesson4")
    assert out["data"] == {"a": "1"}
    (patch,) = [r for r in api.requests if r.method == "PATCH"]
    assert patch.path == "/api/v1/namespaces/lesson4/configmaps/settings"
    assert patch.headers["content-type"] == "application/apply-patch+yaml"
    assert dict(patch.query) == {"fieldManager": FIELD_MANAGER, "force": "true"}
    assert yaml.safe_load(patch.body)["metadata"] == {"name": "settings", "namespace": "lesson4"}
    assert api.get("ConfigMap", "settings", "lesson4")["metadata"]["managedFields"][0]["manager"] == "grade"


def test_a_namespace_the_grader_did_not_create_is_refused(api, kube):
    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "lesson4", "labels": {}}})
    from grader.kube.safety import UnsafeTargetError

    with pytest.raises(UnsafeTargetError, match="did not create it"):
        kube.ensure_lesson_namespace("lesson4", "lesson4")
    assert not [r for r in api.requests if r.method == "PATCH"]


class Manifest:
    def __init__(self, obj, namespace=None):
        self.obj, self.namespace, self.source = obj, namespace, "starter/rbac.yaml:1"
        self.kind, self.name = obj["kind"], obj["metadata"]["name"]


def test_apply_refuses_cluster_scoped_manifests_before_touching_the_cluster(api, kube):
    backend = LiveBackend(kube, "lesson4")
    with pytest.raises(ManifestsRefused, match="ClusterRole 'admin' is cluster-scoped"):
        backend.apply([Manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "ok"}}),
                       Manifest({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
                                 "metadata": {"name": "admin"}})])
    assert not [r for r in api.requests if r.method in ("PATCH", "POST", "DELETE")]


def test_apply_creates_labelled_namespaces_named_by_the_manifests_then_applies(api, kube):
    backend = LiveBackend(kube, ready_timeout=5)
    backend.apply([Manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}, "lesson4")])
    assert backend.namespaces == ["lesson4"]
    labels = api.get("Namespace", "lesson4")["metadata"]["labels"]
    assert labels == {"app.kubernetes.io/managed-by": "k8s-netcourse-grader", "netcourse/lesson": "lesson4"}
    assert api.get("ConfigMap", "settings", "lesson4")["metadata"]["managedFields"][0]["manager"] == "grade"
    assert backend.readiness_problems == []


def test_apply_into_an_existing_system_namespace_is_refused(api, kube):
    from grader.kube.safety import UnsafeTargetError

    api.put({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-system"}})
    with pytest.raises(UnsafeTargetError, match="'kube-system' already exists"):
        LiveBackend(kube).apply([Manifest({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}, "kube-system")])
    assert api.get("ConfigMap", "x", "kube-system") is None


def test_expected_connection_is_retried_until_the_policy_is_programmed(api, kube):
    answers = iter([exit_status(1), exit_status(1), exit_status(0)])
    api.exec_handler = lambda ns, pod, cmd: (
        lambda st: ExecScript(stderr="" if st["status"] == "Success" else "TIMEOUT\n", status=st))(next(answers))
    t = FakeTime()
    backend = LiveBackend(kube, "lesson4", sleep=t.sleep, clock=t.clock)
    (result,) = backend.run([Connect("lesson4/client", "10.96.12.3", 80)], expect=[True])
    assert result.ok and result.verdict == "allowed" and result.data["attempts"] == 3
    assert t.sleeps == [1.0, 1.0]


def test_blocked_result_is_confirmed_and_carries_the_kubectl_command(api, kube):
    api.exec_handler = lambda ns, pod, cmd: ExecScript(stderr="TIMEOUT\n", status=exit_status(1))
    t = FakeTime()
    backend = LiveBackend(kube, "lesson4", sleep=t.sleep, clock=t.clock, policy_enforced=True)
    (result,) = backend.run([Connect("lesson4/client", "10.96.12.3", 80)], expect=[False])
    assert (result.ok, result.verdict, result.data["class"], result.data["attempts"]) == (False, "blocked", "TIMEOUT", 2)
    assert result.kubectl == ("kubectl --context kind-course exec -n lesson4 client -- "
                              "/agnhost connect 10.96.12.3:80 --timeout=1s --protocol=tcp")


def test_connection_expected_blocked_that_connects_mentions_policy_not_enforced(api, kube):
    api.exec_handler = lambda ns, pod, cmd: ExecScript(status=exit_status(0))
    t = FakeTime()
    backend = LiveBackend(kube, "lesson4", sleep=t.sleep, clock=t.clock, policy_enforced=False)
    (result,) = backend.run([Connect("lesson4/client", "10.96.12.3", 80)], expect=[False])
    assert result.ok
    assert any("recreate with `grade cluster up --profile calico`" in e for e in result.evidence)
    assert t.now >= 10  # retried for the whole window before concluding


def test_probes_run_in_parallel_and_come_back_in_order(api, kube):
    # Each exec waits until all three have started: run one after another, the first would wait alone
    # (for the 30 s guard) and the log would read start, end, start, end... Overlap is proven by order, not by a clock.
    log: list[str] = []
    lock = threading.Lock()
    all_started = threading.Event()

    def handler(ns, pod, cmd):
        with lock:
            log.append(f"start {cmd[2]}")
            if sum(e.startswith("start") for e in log) == 3:
                all_started.set()
        all_started.wait(30)
        with lock:
            log.append(f"end {cmd[2]}")
        return ExecScript(status=exit_status(0 if cmd[2].endswith(":80") else 1), stderr="REFUSED\n")

    api.exec_handler = handler
    backend = LiveBackend(kube, "lesson4", workers=3)
    probes = [Connect("lesson4/client", "10.0.0.1", 80), Connect("lesson4/client", "10.0.0.2", 81),
              Connect("lesson4/client", "10.0.0.3", 80)]
    results = backend.run(probes)
    assert [r.ok for r in results] == [True, False, True]
    assert [r.probe for r in results] == probes
    assert results[1].verdict == "refused"
    assert [e.split()[0] for e in log] == ["start"] * 3 + ["end"] * 3, log  # all three ran at once


def test_resolve_compares_the_answer_with_the_services_clusterip(api, kube):
    api.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "lesson4"},
             "spec": {"clusterIP": "10.96.44.7", "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    api.exec_handler = lambda ns, pod, cmd: ExecScript(
        stdout=";; ->>HEADER<<- opcode: QUERY, status: NOERROR, id: 2\nweb.lesson4.svc.cluster.local. 5 IN A 10.96.44.9\n")
    (result,) = LiveBackend(kube, "lesson4").run([Resolve("lesson4/client", "web")])
    assert not result.ok and result.data["expected"] == ["10.96.44.7"]
    assert "should resolve to ['10.96.44.7']" in result.evidence[1]
    assert result.kubectl.endswith("-- dig +search +noall +comments +answer +time=2 +tries=2 web")


def test_pods_are_read_from_the_api(kube):
    (p,) = LiveBackend(kube, "lesson4").pods()
    assert (p.key, p.ip, p.node, p.ready, p.labels) == ("lesson4/client", "10.244.1.4", "course-worker", True, {"app": "client"})


def _kubeconfig(tmp_path, server):
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "kind-course",
        "clusters": [{"name": "kind-course", "cluster": {"server": server}}],
        "contexts": [{"name": "kind-course", "context": {"cluster": "kind-course", "user": "kind-course"}}],
        "users": [{"name": "kind-course", "user": {"token": "t"}}],
    }))
    return str(path)


def test_live_backend_available_reasons(tmp_path, api, monkeypatch):
    contexts = CourseContexts(tmp_path / "contexts.json")
    ok, why = live_backend_available(kubeconfig=str(tmp_path / "none"), contexts=contexts)
    assert not ok and "no kubeconfig found" in why
    cfg = _kubeconfig(tmp_path, api.url)
    ok, why = live_backend_available("kind-other", kubeconfig=cfg, contexts=contexts)
    assert not ok and "'kind-other' not found" in why
    ok, why = live_backend_available(kubeconfig=cfg, contexts=contexts)
    assert not ok and "was not created by `grade cluster up`" in why
    contexts.record("kind-course", api.url, "default")
    api.readyz_ok = False
    ok, why = live_backend_available(kubeconfig=cfg, contexts=contexts)
    assert not ok and "/readyz answered HTTP 500" in why
    api.readyz_ok = True
    ok, why = live_backend_available(kubeconfig=cfg, contexts=contexts)
    assert ok and why == f"kind-course at {api.url}"


def test_live_backend_unreachable_within_two_seconds(tmp_path):
    import socket

    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    contexts = CourseContexts(tmp_path / "contexts.json")
    server = f"http://127.0.0.1:{port}"
    contexts.record("kind-course", server, "default")
    ok, why = live_backend_available(kubeconfig=_kubeconfig(tmp_path, server), contexts=contexts)
    assert not ok and "did not answer within 2 s" in why and "is Docker running?" in why


def test_an_api_server_that_accepts_but_never_answers_costs_one_timeout_not_several(tmp_path):
    # A paused kind node accepts connections and says nothing. The bound the learner is promised is one
    # timeout: count the connections the check opened (urllib3 would retry a GET three more times).
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # connections complete in the backlog; nobody accepts or answers
    server = f"http://127.0.0.1:{listener.getsockname()[1]}"
    contexts = CourseContexts(tmp_path / "contexts.json")
    contexts.record("kind-course", server, "default")
    try:
        ok, why = live_backend_available(kubeconfig=_kubeconfig(tmp_path, server), contexts=contexts, timeout=0.2)
        listener.setblocking(False)
        opened = 0
        while True:
            try:
                listener.accept()[0].close()
            except BlockingIOError:
                break
            opened += 1
    finally:
        listener.close()
    assert not ok and "did not answer within 0.2 s" in why and "timed out" in why.lower()
    assert opened == 1
