"""`grade cluster up` with a node image built locally (our CI builds it from source) and without
cloud-provider-kind: what it runs, what it records, and what status and the doctor then say."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from grader.cluster import versions
from grader.cluster.cli import cmd_up
from grader.cluster.doctor import _load_balancer_not_provided, detect_cni, detect_policy_engine
from grader.cluster.kind import cluster_facts, render_profile
from grader.cluster.runner import Completed

pytestmark = pytest.mark.usefixtures("private_state")  # tests/conftest.py

LOCAL = "kindest/node:v1.37.0"


class FakeRunner:
    """Answers by argv prefix (longest wins); records every call."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def which(self, program):
        return f"/usr/bin/{program}" if program in ("docker", "kind", "kubectl") else None

    def run(self, argv, *, timeout=None, input=None, env=None):
        self.calls.append(list(argv))
        best = max((k for k in self.answers if tuple(argv[: len(k)]) == k), key=len, default=None)
        code, out, err = self.answers.get(best, (0, "", "")) if best else (0, "", "")
        return Completed(list(argv), code, out, err)


class Args:
    def __init__(self, **kw):
        self.name, self.profile, self.no_doctor, self.context = "course", "default", True, None
        self.node_image, self.no_cloud_provider = None, False
        self.__dict__.update(kw)


def _fresh_cluster_answers(extra=None):
    return {("kind", "get", "clusters"): (0, "", ""), ("kind", "version"): (0, "kind v0.33.0", ""), **(extra or {})}


def test_a_named_node_image_goes_on_every_node_and_the_pin_stays_the_default():
    assert {n["image"] for n in yaml.safe_load(render_profile("default", node_image=LOCAL))["nodes"]} == {LOCAL}
    assert {n["image"] for n in yaml.safe_load(render_profile("default"))["nodes"]} == {versions.NODE_IMAGE}


def test_profiles_let_the_kubelet_run_on_cgroup_v1_hosts():
    for profile in ("default", "calico"):
        patches = yaml.safe_load(render_profile(profile))["kubeadmConfigPatches"]
        kubelet = [yaml.safe_load(p) for p in patches if "KubeletConfiguration" in p]
        assert kubelet == [{"kind": "KubeletConfiguration", "failCgroupV1": False}]


def test_up_refuses_a_node_image_the_engine_does_not_have(capsys):
    runner = FakeRunner(_fresh_cluster_answers({("docker", "image", "inspect"): (1, "", "No such image")}))
    assert cmd_up(Args(node_image=LOCAL), runner) == 1
    out = capsys.readouterr().out
    assert f"node image '{LOCAL}' is not in docker's images" in out
    assert not any(c[:3] == ["kind", "create", "cluster"] for c in runner.calls)


def test_up_takes_the_node_image_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("NETCOURSE_NODE_IMAGE", LOCAL)
    runner = FakeRunner(_fresh_cluster_answers({("docker", "inspect", "-f"): (0, LOCAL + "\n", "")}))
    assert cmd_up(Args(no_cloud_provider=True), runner) == 0
    create = next(c for c in runner.calls if c[:3] == ["kind", "create", "cluster"])
    assert create[create.index("--name") + 1] == "course"
    assert cluster_facts("kind-course")["node_image"] == LOCAL
    assert "not the pinned" in capsys.readouterr().out


def test_opting_out_of_cloud_provider_kind_starts_nothing_and_is_recorded(capsys):
    runner = FakeRunner(_fresh_cluster_answers())
    assert cmd_up(Args(node_image=LOCAL, no_cloud_provider=True), runner) == 0
    assert not any(c[:2] == ["docker", "run"] for c in runner.calls)
    assert "LoadBalancer Services and Ingress are not provided" in capsys.readouterr().out
    assert cluster_facts("kind-course")["load_balancer"].startswith("not provided: ")
    # the doctor then says "not provided" instead of waiting for an address that cannot come
    stopped = FakeRunner({("docker", "ps", "-a"): (0, "", "")})
    assert "--no-cloud-provider" in _load_balancer_not_provided("kind-course", stopped, "docker")
    running = FakeRunner({("docker", "ps", "-a"): (0, "running\n", "")})
    assert _load_balancer_not_provided("kind-course", running, "docker") == ""


def test_a_cloud_provider_kind_that_cannot_start_fails_up_and_says_what_is_missing(capsys):
    runner = FakeRunner(_fresh_cluster_answers({("docker", "run"): (125, "", "Unable to find image: pull access denied")}))
    assert cmd_up(Args(), runner) == 1
    out = capsys.readouterr().out
    assert "starting cloud-provider-kind failed: Unable to find image: pull access denied" in out
    assert "LoadBalancer Services and Ingress are not provided" in out
    assert "pull access denied" in cluster_facts("kind-course")["load_balancer"]


def test_without_opt_out_a_stopped_provider_is_not_excused():
    assert _load_balancer_not_provided("kind-course", FakeRunner({}), "docker") == ""


def test_versions_prints_the_build_pins_for_the_shell():
    out = subprocess.run([sys.executable, "grader/cluster/versions.py", "--shell"], capture_output=True, text=True,
                         check=True).stdout
    pins = dict(line.split("=", 1) for line in out.splitlines())
    assert pins["KUBERNETES_VERSION"] == versions.KUBERNETES_VERSION
    assert pins["LOCAL_NODE_IMAGE"] == versions.NODE_IMAGE_TAG
    assert pins["AGNHOST_IMAGE"] == versions.AGNHOST_IMAGE
    assert all(v and " " not in v for v in pins.values())


def _default_cni_manifest():
    """.ci/build/kindnet-standin.yaml rendered as node-image.sh and kind render it: node-image.sh fills in
    every @NAME@ from the pins (its sed lines), kind the pod subnet."""
    script = open(".ci/build/node-image.sh").read()
    filled = dict(re.findall(r's\|@([A-Z_]+)@\|\$([A-Z_]+)\|', script))
    text = open(".ci/build/kindnet-standin.yaml").read()
    left = set(re.findall(r"@([A-Z_]+)@", text)) - set(filled)
    assert not left, f"placeholders node-image.sh does not fill in: {left}"
    for name, pin in filled.items():
        text = text.replace(f"@{name}@", getattr(versions, pin))
    assert "would you kindly template this file" in text  # else kind applies {{ .PodSubnet }} raw
    return list(yaml.safe_load_all(text.replace("{{ .PodSubnet }}", "10.244.0.0/16")))


def test_the_source_built_cluster_enforces_policy_with_kube_router_alone():
    docs = _default_cni_manifest()
    daemonsets = {d["metadata"]["name"]: d for d in docs if d["kind"] == "DaemonSet"}
    assert detect_cni(list(daemonsets)) == "kindnet" and detect_policy_engine(list(daemonsets)) == "kube-router"
    # kindnet's stand-in only routes: kube-network-policies cannot enforce on kernels without nftables `queue`
    assert [c["name"] for c in daemonsets["kindnet"]["spec"]["template"]["spec"]["containers"]] == ["kindnet-cni"]
    pod = daemonsets["kube-router"]["spec"]["template"]["spec"]
    (router,) = pod["containers"]
    assert router["image"] == versions.KUBE_ROUTER_IMAGE and pod["hostNetwork"] is True
    assert {"--run-firewall=true", "--run-router=false", "--run-service-proxy=false"} <= set(router["args"])
    assert any(e["name"] == "NODE_NAME" and e["valueFrom"]["fieldRef"]["fieldPath"] == "spec.nodeName" for e in router["env"])
    # its informers wait for these caches before the policy controller starts (pkg/cmd/kube-router.go)
    role = next(d for d in docs if d["kind"] == "ClusterRole" and d["metadata"]["name"] == "kube-router")
    granted = {(g, r) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
               if {"list", "watch"} <= set(rule["verbs"])}
    assert {("", "pods"), ("", "namespaces"), ("", "nodes"), ("networking.k8s.io", "networkpolicies"),
            ("", "services"), ("", "endpoints"), ("discovery.k8s.io", "endpointslices")} <= granted
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding" and d["metadata"]["name"] == "kube-router")
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": pod["serviceAccountName"], "namespace": "kube-system"}]


def test_every_image_the_default_cni_runs_is_built_and_kube_router_is_a_pinned_go_component():
    images = open(".ci/build/images.sh").read()
    for d in _default_cni_manifest():
        for c in (d.get("spec", {}).get("template", {}).get("spec", {}).get("containers") or []):
            pin = next(k for k, v in versions.source_build_pins().items() if v == c["image"])
            assert f'image "${pin}"' in images, f"images.sh does not build {c['image']}"
    go = open(".ci/build/go-binaries.sh").read()
    assert "build_kuberouter()" in go and 'kuberouter) echo "$KUBE_ROUTER_VERSION"' in go
    assert re.search(r"go-binaries\.sh [a-z ]*\bkuberouter\b", open(".ci/live").read())
    # kube-router runs `ipset` and `iptables-restore`: both come with the Debian base of every image
    assert re.search(r"PACKAGES=\([^)]*\biptables\b[^)]*\bipset\b", open(".ci/build/rootfs.sh").read())
