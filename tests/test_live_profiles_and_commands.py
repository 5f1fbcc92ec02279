"""The live path's host side: cluster profiles, prerequisite messages, and the exact commands run."""

from __future__ import annotations

import yaml
import pytest

from grader.cluster import addons, versions
from grader.cluster.cli import cmd_down, cmd_up
from grader.cluster.kind import ClusterError, KindCluster, clusters_dir, render_profile
from grader.cluster.prereqs import check_prerequisites
from grader.cluster.runner import Completed


class FakeRunner:
    """Answers commands from a table of (argv prefix -> Completed); records every call."""

    def __init__(self, programs: set[str], answers: dict[tuple[str, ...], tuple[int, str, str]] | None = None):
        self.programs = programs
        self.answers = answers or {}
        self.calls: list[list[str]] = []
        self.envs: list[dict[str, str] | None] = []

    def which(self, program: str) -> str | None:
        return f"/usr/bin/{program}" if program in self.programs else None

    def run(self, argv, *, timeout=None, input=None, env=None) -> Completed:
        self.calls.append(list(argv))
        self.envs.append(env)
        best = max((k for k in self.answers if tuple(argv[: len(k)]) == k), key=len, default=None)
        code, out, err = self.answers.get(best, (0, "", "")) if best else (0, "", "")
        return Completed(list(argv), code, out, err)


class Args:
    def __init__(self, **kw):
        self.name, self.profile, self.no_doctor, self.context = "course", "default", True, None
        self.__dict__.update(kw)


pytestmark = pytest.mark.usefixtures("private_state")  # tests/conftest.py


def test_default_profile_pins_the_node_image_on_every_node_and_keeps_host_search_domains_out():
    config = yaml.safe_load(render_profile("default", "course"))
    assert config["name"] == "course"
    assert [n["role"] for n in config["nodes"]] == ["control-plane", "worker", "worker"]
    assert {n["image"] for n in config["nodes"]} == {versions.NODE_IMAGE}
    assert "@sha256:" in versions.NODE_IMAGE
    assert config["networking"]["dnsSearch"] == []
    assert config["networking"].get("disableDefaultCNI") is not True
    mapping = config["nodes"][0]["extraPortMappings"][0]
    assert (mapping["containerPort"], mapping["hostPort"]) == (30080, 30080)


def test_calico_profile_disables_kindnet_and_uses_calicos_pod_subnet():
    config = yaml.safe_load(render_profile("calico", "lab"))
    assert config["networking"]["disableDefaultCNI"] is True
    assert config["networking"]["podSubnet"] == "192.168.0.0/16"
    assert config["name"] == "lab"


def test_profiles_on_disk_carry_no_version_of_their_own():
    for name in ("kind.yaml", "kind-calico.yaml"):
        text = (clusters_dir() / name).read_text()
        assert "kindest/node" not in yaml.safe_dump(yaml.safe_load(text)), name


def test_unknown_profile_names_the_choices():
    with pytest.raises(ClusterError, match="default, calico"):
        render_profile("cilium")


def test_missing_tools_each_get_install_commands_for_three_systems():
    pre = check_prerequisites(FakeRunner(programs=set()))
    assert not pre.ok and pre.engine is None
    text = "\n".join(pre.problems)
    for tool in ("Docker", "kind", "kubectl"):
        assert tool in text
    assert text.count("Linux") >= 3 and text.count("macOS") >= 3 and text.count("Windows") >= 3
    assert f"https://kind.sigs.k8s.io/dl/{versions.KIND_VERSION}/kind-linux-amd64" in text
    assert "winget install -e --id Kubernetes.kubectl" in text
    assert "brew install kind" in text


def test_installed_but_stopped_docker_says_how_to_start_it():
    runner = FakeRunner({"docker", "kind", "kubectl"}, {("docker", "info"): (1, "", "Cannot connect")})
    pre = check_prerequisites(runner)
    assert pre.engine is None
    assert "docker is installed but not running" in pre.problems[0]
    assert "sudo systemctl start docker" in pre.problems[0]


def test_podman_is_used_when_docker_is_absent_and_kind_too_old_is_reported():
    runner = FakeRunner({"podman", "kind", "kubectl"}, {("kind", "version"): (0, "kind v0.29.0 go1.24 linux/amd64", "")})
    pre = check_prerequisites(runner)
    assert pre.engine == "podman"
    assert len(pre.problems) == 1 and "too old" in pre.problems[0]


def test_cloud_provider_kind_runs_pinned_on_the_kind_network_with_port_mapping_only_off_linux():
    linux = addons.cloud_provider_kind_command("docker", "/var/run/docker.sock", system="Linux")
    assert linux[:3] == ["docker", "run", "-d"]
    assert ["--network", "kind"] == linux[linux.index("--network"):linux.index("--network") + 2]
    assert "/var/run/docker.sock:/var/run/docker.sock" in linux
    assert versions.CLOUD_PROVIDER_KIND_IMAGE in linux
    assert "--enable-default-ingress=true" in linux
    assert "--enable-lb-port-mapping" not in linux
    assert "--enable-lb-port-mapping" in addons.cloud_provider_kind_command("docker", "/s", system="Darwin")


def test_starting_cloud_provider_kind_twice_does_not_start_a_second_one():
    runner = FakeRunner({"docker"}, {("docker", "ps", "-a"): (0, "running\n", "")})
    addons.start_cloud_provider_kind(runner, "docker", system="Linux")
    assert not any(c[:2] == ["docker", "run"] for c in runner.calls)


def test_a_stopped_cloud_provider_kind_is_replaced():
    runner = FakeRunner({"docker"}, {("docker", "ps", "-a"): (0, "exited\n", "")})
    addons.start_cloud_provider_kind(runner, "docker", system="Linux")
    assert ["docker", "rm", "-f", addons.CPK_CONTAINER] in runner.calls
    assert any(c[:2] == ["docker", "run"] for c in runner.calls)


def test_kind_create_uses_the_rendered_profile_and_podman_sets_kinds_provider():
    runner = FakeRunner({"podman"})
    KindCluster(runner, "course", "podman").create("default")
    argv = runner.calls[-1]
    assert argv[:5] == ["kind", "create", "cluster", "--name", "course"]
    assert "--config" in argv and "--wait" in argv
    assert runner.envs[-1] == {"KIND_EXPERIMENTAL_PROVIDER": "podman"}


def test_failed_create_shows_kinds_last_lines_and_the_fix():
    runner = FakeRunner({"docker"}, {("kind", "create"): (1, "", "ERROR: failed to create cluster: node(s) not ready")})
    with pytest.raises(ClusterError, match="node\\(s\\) not ready") as err:
        KindCluster(runner, "course").create()
    assert "grade cluster down" in str(err.value)


def test_calico_is_created_not_applied_from_the_pinned_manifest():
    argv = addons.calico_install_command("kind-course")
    assert argv == ["kubectl", "--context", "kind-course", "create", "-f", versions.CALICO_MANIFEST_URL]
    assert versions.CALICO_VERSION in versions.CALICO_MANIFEST_URL


def test_up_stops_at_missing_prerequisites(capsys):
    runner = FakeRunner(programs=set())
    assert cmd_up(Args(), runner) == 1
    out = capsys.readouterr().out
    assert "kind is not installed" in out and "kubectl is not installed" in out
    assert not any(c[0] == "kind" for c in runner.calls)


def test_up_reuses_a_healthy_cluster_and_starts_cloud_provider_kind(capsys):
    runner = FakeRunner({"docker", "kind", "kubectl"}, {
        ("kind", "get", "clusters"): (0, "course\n", ""),
        ("kind", "version"): (0, "kind v0.33.0", ""),
        ("kubectl", "--context", "kind-course", "get", "nodes"): (0, "course-control-plane", ""),
    })
    assert cmd_up(Args(), runner) == 0
    assert not any(c[:3] == ["kind", "create", "cluster"] for c in runner.calls)
    assert ["kubectl", "--context", "kind-course", "label", "node", "course-control-plane",
            f"{addons.EXCLUDE_LB_LABEL}-"] in runner.calls
    assert any(c[:2] == ["docker", "run"] and versions.CLOUD_PROVIDER_KIND_IMAGE in c for c in runner.calls)
    assert "reusing the healthy cluster" in capsys.readouterr().out


def test_up_refuses_to_reuse_a_broken_cluster(capsys):
    runner = FakeRunner({"docker", "kind", "kubectl"}, {
        ("kind", "get", "clusters"): (0, "course\n", ""),
        ("kind", "version"): (0, "kind v0.33.0", ""),
        ("kubectl", "--context", "kind-course", "get", "--raw"): (1, "", "connection refused"),
    })
    assert cmd_up(Args(), runner) == 1
    assert "grade cluster down --name course" in capsys.readouterr().out


def test_down_keeps_cloud_provider_kind_while_other_kind_clusters_use_it(capsys):
    runner = FakeRunner({"docker"}, {("kind", "get", "clusters"): (0, "course\nother\n", "")})
    assert cmd_down(Args(), runner) == 0
    assert ["kind", "delete", "cluster", "--name", "course"] in runner.calls
    assert ["docker", "rm", "-f", addons.CPK_CONTAINER] not in runner.calls
    assert "also serves other" in capsys.readouterr().out


def test_down_stops_cloud_provider_kind_and_this_clusters_envoys_when_last():
    runner = FakeRunner({"docker"}, {
        ("kind", "get", "clusters"): (0, "course\n", ""),
        ("docker", "ps", "-aq"): (0, "abc123\n", ""),
    })
    assert cmd_down(Args(), runner) == 0
    assert ["docker", "ps", "-aq", "--filter", "label=io.x-k8s.cloud-provider-kind.cluster=course"] in runner.calls
    assert ["docker", "rm", "-f", "abc123"] in runner.calls
    assert ["docker", "rm", "-f", addons.CPK_CONTAINER] in runner.calls
