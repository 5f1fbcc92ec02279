"""Grading again after a change, as a learner does: the cluster must end up holding exactly what the fixtures
and the learner's files say (issue 10, section 3, items 1, 2 and 4).

- A field that cannot change in place (a Pod's args, a Service's clusterIP, a StatefulSet's serviceName)
  changed since the last grading: the grader replaces its own object instead of blaming the learner's file.
- An object removed from the files is removed from the cluster (only what the grader applied, never anything else).
- A namespace deleted a moment ago is still Terminating: the grader waits for it instead of failing.
"""

from __future__ import annotations

import threading

import pytest
from kubernetes import client as k8s

from fake_apiserver import FakeApiServer, kubelet
from grader.backends.live import LiveBackend, applied_by_grader, is_immutable_change
from grader.checks import SetupError
from grader.kube.client import KubeClient, KubeError
from grader.manifests import load_text

pytestmark = pytest.mark.usefixtures("private_state")  # tests/conftest.py


@pytest.fixture
def api():
    with FakeApiServer() as server:
        yield server


def kube_for(api):
    cfg = k8s.Configuration()
    cfg.host = api.url
    return KubeClient(k8s.ApiClient(cfg), "kind-course")



def grade(api, text, path="work/lesson3/app.yaml", namespaces=("lesson3",)):
    backend = LiveBackend(kube_for(api), "lesson3", list(namespaces), ready_timeout=1)
    backend.apply(load_text(text, path, namespace=namespaces[0]))
    return backend


POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: agnhost
    image: registry.k8s.io/e2e-test-images/agnhost:2.66.1
    args: [netexec, --http-port=%d]
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  clusterIP: %s
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""

STATEFULSET = """\
apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: db
spec:
  serviceName: %s
  replicas: 1
  selector:
    matchLabels: {app: db}
  template:
    metadata:
      labels: {app: db}
    spec:
      containers:
      - name: agnhost
        image: registry.k8s.io/e2e-test-images/agnhost:2.66.1
        args: [netexec]
"""


# ---- 1. immutable fields -----------------------------------------------------------------------------


@pytest.mark.parametrize("first, second, kind", [
    (POD % 8080, POD % 9090, "Pod"),
    (SERVICE % "10.96.0.20", SERVICE % "10.96.0.30", "Service"),
    (STATEFULSET % "db", STATEFULSET % "db-headless", "StatefulSet"),
])
def test_regrading_after_an_immutable_field_changed_replaces_the_object(api, first, second, kind):
    kubelet(api)
    grade(api, first)
    group = "apps" if kind == "StatefulSet" else ""
    name = "db" if kind == "StatefulSet" else "web"
    backend = grade(api, second)  # the learner's fix: before the fix this raised "the cluster rejected ..."
    stored = api.get(kind, name, "lesson3", group)["spec"]
    wanted = load_text(second, "x.yaml", namespace="lesson3")[0].obj["spec"]
    assert {k: stored[k] for k in wanted} == wanted  # the new spec is on the cluster
    assert backend.replaced == [f"{kind} lesson3/{name}"]
    deletes = [r for r in api.requests if r.method == "DELETE"]
    assert [r.path.rsplit("/", 1)[1] for r in deletes] == [name]
    assert ("propagationPolicy", "Foreground") in deletes[0].query


def test_the_pods_new_args_are_what_runs_after_the_replacement(api):
    kubelet(api)
    grade(api, POD % 8080)
    grade(api, POD % 9090)
    assert api.get("Pod", "web", "lesson3")["spec"]["containers"][0]["args"] == ["netexec", "--http-port=9090"]


def test_an_object_the_grader_did_not_apply_is_never_replaced(api):
    kubelet(api)
    grade(api, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")  # creates the lesson's namespace
    api.put({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "lesson3"},
             "spec": {"clusterIP": "10.96.0.20", "selector": {"app": "web"}, "ports": [{"port": 80}]}})
    with pytest.raises(SetupError) as err:
        grade(api, SERVICE % "10.96.0.30")
    assert "may not change once set" in str(err.value)
    assert api.get("Service", "web", "lesson3")["spec"]["clusterIP"] == "10.96.0.20"  # untouched
    assert not [r for r in api.requests if r.method == "DELETE"]


def test_a_real_mistake_is_still_the_learners_after_a_replacement_was_tried(api):
    kubelet(api)
    grade(api, SERVICE % "10.96.0.20")

    def validate(obj):  # the new file is invalid in itself: the re-created object is rejected too
        if obj["kind"] == "Service" and obj["spec"].get("clusterIP") == "10.96.0.31":
            return (422, "Invalid", 'Service "web" is invalid: spec.ports[0].port: Invalid value: 0: must be between 1 and 65535')
        return None

    api.validate = validate
    with pytest.raises(SetupError) as err:
        grade(api, SERVICE % "10.96.0.31")
    assert err.value.args[0].startswith("work/lesson3/app.yaml:1: the cluster rejected Service 'web'")
    assert "what to do: fix the field named above" in str(err.value)


def test_immutable_change_is_told_apart_from_other_rejections():
    assert is_immutable_change(KubeError("x", status=422, reason='spec.selector: Invalid value: ...: field is immutable'))
    assert is_immutable_change(KubeError("x", status=422, reason="spec: Forbidden: pod updates may not change fields other than ..."))
    assert not is_immutable_change(KubeError("x", status=422, reason="spec.ports[0].port: Invalid value: 0"))
    assert not is_immutable_change(KubeError("x", status=403, reason="field is immutable"))


# ---- 2. prune -----------------------------------------------------------------------------------------

POLICIES = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny
spec:
  podSelector: {}
  policyTypes: [Ingress]
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: allow-web
spec:
  podSelector:
    matchLabels: {app: web}
  ingress:
  - {}
"""


def test_a_policy_removed_from_the_files_is_removed_from_the_cluster(api):
    kubelet(api)
    grade(api, POLICIES)
    assert api.get("NetworkPolicy", "default-deny", "lesson3", "networking.k8s.io") is not None
    backend = grade(api, POLICIES.split("---\n")[1])  # the learner deleted default-deny from the file
    assert api.get("NetworkPolicy", "default-deny", "lesson3", "networking.k8s.io") is None
    assert api.get("NetworkPolicy", "allow-web", "lesson3", "networking.k8s.io") is not None
    assert backend.pruned == ["NetworkPolicy lesson3/default-deny"]


def test_prune_spares_what_the_grader_did_not_apply_and_other_namespaces(api):
    kubelet(api)
    grade(api, POLICIES)
    by_hand = {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": "by-hand", "namespace": "lesson3",
                            "managedFields": [{"manager": "kubectl-client-side-apply", "operation": "Update"}]},
               "spec": {"podSelector": {}}}
    api.put(by_hand)
    api.put({**by_hand, "metadata": {"name": "controller-made", "namespace": "lesson3"}})
    api.put({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kube-root-ca.crt", "namespace": "lesson3"}})
    elsewhere = {**by_hand, "metadata": {"name": "default-deny", "namespace": "other",
                                         "managedFields": [{"manager": "grade", "operation": "Apply"}]}}
    api.put(elsewhere)
    grade(api, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n")
    left = sorted(k[3] for k in api.objects if k[2] == "lesson3")
    assert left == ["by-hand", "controller-made", "kube-root-ca.crt", "settings"]
    assert api.get("NetworkPolicy", "default-deny", "other", "networking.k8s.io") is not None  # not a lesson namespace


def test_prune_never_removes_the_workshops_isolation_policy(api):
    """`grade workshop setup` applies `workshop-isolation` into a learner's lesson namespace with the grader's
    own field manager; a learner's grading must not prune it (it keeps other learners out)."""
    from grader.workshop.setup import isolation_policy, workshop_labels

    kubelet(api)
    grade(api, POLICIES)
    labels = workshop_labels("ws", "alice", "lesson3")
    isolation = isolation_policy("lesson3", "alice", ["10.244.0.0/16"], labels)
    kube_for(api).apply(isolation, namespace="lesson3")
    grade(api, POLICIES)
    assert api.get("NetworkPolicy", "workshop-isolation", "lesson3", "networking.k8s.io") is not None


def test_fixtures_and_learner_files_together_are_what_stays(api, tmp_path):
    """open_lab applies fixtures and the learner's files in one apply: neither prunes the other."""
    kubelet(api)
    text = POD % 8080 + "---\n" + POLICIES
    grade(api, text)
    grade(api, text)
    assert sorted(k[3] for k in api.objects if k[2] == "lesson3") == ["allow-web", "default-deny", "web"]
    assert not [r for r in api.requests if r.method == "DELETE"]


def test_applied_by_grader_reads_the_field_manager():
    assert applied_by_grader({"metadata": {"managedFields": [{"manager": "grade", "operation": "Apply"}]}})
    assert not applied_by_grader({"metadata": {"managedFields": [{"manager": "kube-controller-manager", "operation": "Update"}]}})
    assert not applied_by_grader({"metadata": {}})


# ---- 4. a namespace deleted a moment ago -------------------------------------------------------------


def test_grading_right_after_the_namespace_was_deleted_waits_for_it(api):
    kubelet(api)
    grade(api, POD % 8080)
    api.namespace_termination = 1.5
    kube_for(api).delete("v1", "Namespace", "lesson3")  # e.g. `grade reset`, or the doctor's cleanup
    assert api.get("Namespace", "lesson3")["status"]["phase"] == "Terminating"
    grade(api, POD % 8080)  # before the fix: 403 "being terminated", blamed on workshop permissions
    assert api.get("Pod", "web", "lesson3") is not None
    assert "deletionTimestamp" not in api.get("Namespace", "lesson3")["metadata"]


def test_the_doctor_twice_within_seconds_does_not_fail_on_its_terminating_namespace(api):
    from grader.cluster.doctor import DOCTOR_NS, _Manifest, doctor_manifests

    kubelet(api)
    api.namespace_termination = 1.0
    for _ in range(2):
        backend = LiveBackend(kube_for(api), "doctor", [DOCTOR_NS], ready_timeout=1)
        backend.apply([_Manifest(o) for o in doctor_manifests("course") if o["kind"] in ("Pod", "Service")])
        kube_for(api).delete("v1", "Namespace", DOCTOR_NS)  # what run_doctor does at its end
    assert api.get("Namespace", DOCTOR_NS)["status"]["phase"] == "Terminating"


def test_a_namespace_that_never_finishes_terminating_is_said_plainly(api):
    kubelet(api)
    grade(api, POD % 8080)
    api.namespace_termination = 600
    kube_for(api).delete("v1", "Namespace", "lesson3")
    now = [0.0]
    client = kube_for(api)
    client.clock, client.sleep = (lambda: now[0]), (lambda s: now.__setitem__(0, now[0] + s))
    backend = LiveBackend(client, "lesson3", ["lesson3"], ready_timeout=1)
    with pytest.raises(SetupError) as err:
        backend.apply(load_text(POD % 8080, "work/lesson3/app.yaml", namespace="lesson3"))
    message = str(err.value)
    assert "namespace 'lesson3' is still being deleted 120 s after an earlier run" in message
    assert "workshop" not in message and "fix the" not in message


def test_the_fake_removes_a_terminated_namespace_and_its_content(api):
    api.namespace_termination = 0.2
    grade(api, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n")
    kube_for(api).delete("v1", "Namespace", "lesson3")
    done = threading.Event()
    threading.Timer(0.5, done.set).start()
    done.wait(2)
    assert api.get("Namespace", "lesson3") is None and api.get("ConfigMap", "x", "lesson3") is None


def test_a_leftover_the_grader_may_not_delete_is_said_not_a_traceback(api):
    kubelet(api)
    grade(api, POLICIES)
    api.fault = lambda req: (403, "Forbidden", 'networkpolicies "default-deny" is forbidden: User "alice" cannot delete') \
        if req.method == "DELETE" else None
    backend = grade(api, POLICIES.split("---\n")[1])
    assert backend.pruned == []
    assert any("NetworkPolicy lesson3/default-deny is left from an earlier grading" in p and "cannot delete" in p
               for p in backend.readiness_problems)
