"""The doctor's verdicts and fix hints, and what it deploys."""

from __future__ import annotations

from grader.cluster import versions
from grader.cluster.doctor import (detect_cni, detect_policy_engine, doctor_manifests, policy_check, policy_enforcement,
                                   remember_policy_enforcement)


def test_policy_not_enforced_on_kindnet_points_at_the_calico_profile():
    check = policy_check(allowed_before=True, blocked_under_deny=False, cni="kindnet")
    assert check.ok is False
    assert check.hint.startswith("NetworkPolicy is not enforced: kindnet fails open (known on WSL2)")
    assert "grade cluster up --profile calico" in check.hint


def test_policy_enforced_and_skipped_lines():
    assert policy_check(True, True, "calico").ok is True
    skipped = policy_check(False, True, "kindnet")
    assert skipped.ok is None and "pod-to-pod" in skipped.hint
    assert "Flannel ignores NetworkPolicy" in policy_check(True, False, "flannel").hint


def test_cni_is_recognised_from_kube_system_daemonsets():
    assert detect_cni(["kube-proxy", "kindnet"]) == "kindnet"
    assert detect_cni(["calico-node", "kube-proxy"]) == "calico"
    assert detect_cni(["kube-proxy"]) == "unknown"


def test_a_policy_engine_of_its_own_is_named_as_the_enforcer_not_the_cni():
    # the cluster our CI builds from source: kindnet stand-in routes, kube-router enforces policy
    assert detect_policy_engine(["kindnet", "kube-proxy", "kube-router"]) == "kube-router"
    assert detect_cni(["kindnet", "kube-proxy", "kube-router"]) == "kindnet"
    assert detect_policy_engine(["kindnet", "kube-proxy"]) == "kindnet"
    assert detect_policy_engine(["kube-proxy"]) == "unknown"


def test_each_engine_gets_its_own_line_when_enforced_or_not():
    assert policy_check(True, True, "kube-router").detail == "a deny-all policy blocked the probe (enforced by kube-router)"
    router = policy_check(True, False, "kube-router")
    assert router.ok is False and "kube-router's policy controller" in router.hint
    assert "kubectl -n kube-system logs ds/kube-router" in router.hint and "WSL2" not in router.hint


def test_status_reports_the_doctors_last_policy_verdict(tmp_path, monkeypatch):
    monkeypatch.setenv("NETCOURSE_STATE_DIR", str(tmp_path))
    assert policy_enforcement("kind-course", "kindnet") == "unknown"
    remember_policy_enforcement("kind-course", False)
    assert policy_enforcement("kind-course", "kindnet") == "no"
    remember_policy_enforcement("kind-course", True)
    assert policy_enforcement("kind-course", "kindnet") == "yes"
    assert policy_enforcement("kind-course", "flannel") == "no"


def test_doctor_pins_servers_to_two_workers_with_the_pinned_agnhost():
    objs = {o["metadata"]["name"]: o for o in doctor_manifests("course")}
    nodes = {objs[n]["spec"]["nodeSelector"]["kubernetes.io/hostname"] for n in ("server-a", "server-b")}
    assert nodes == {"course-worker", "course-worker2"}
    assert objs["client"]["spec"]["nodeSelector"]["kubernetes.io/hostname"] != objs["server-b"]["spec"]["nodeSelector"]["kubernetes.io/hostname"]
    assert {objs[n]["spec"]["containers"][0]["image"] for n in ("server-a", "server-b", "client")} == {versions.AGNHOST_IMAGE}
    assert objs["server-lb"]["spec"]["type"] == "LoadBalancer"
    assert objs["doctor"]["spec"]["ingressClassName"] == "cloud-provider-kind"
    assert all(o["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "k8s-netcourse-grader" for o in objs.values())
