"""The course cluster's lifecycle on kind: render a profile, create or reuse, delete.

Every host command goes through a `Runner` (grader.cluster.runner), so the exact `kind`/`kubectl`/
`docker` invocations are unit-tested. The node image comes from grader/cluster/versions.py.
"""

from __future__ import annotations

from grader.errors import GradeError

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from grader.cluster import versions
from grader.cluster.runner import Completed, Runner
from grader.kube.safety import state_dir

PROFILES = {"default": "kind.yaml", "calico": "kind-calico.yaml"}
DEFAULT_NAME = "course"
# A node image already in the engine (e.g. built from source by .ci/live) instead of the pinned one.
NODE_IMAGE_ENV = "NETCOURSE_NODE_IMAGE"


class ClusterError(GradeError):
    """A lifecycle step failed; the message says which command and what to do next."""


def clusters_dir() -> Path:
    """clusters/ at the root of the course checkout."""
    return Path(__file__).resolve().parents[2] / "clusters"


def render_profile(profile: str, name: str = DEFAULT_NAME, directory: Path | None = None,
                   node_image: str | None = None) -> str:
    """The kind config for `profile` with the cluster name and the node image (default: the pinned one) on every node."""
    if profile not in PROFILES:
        raise ClusterError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    path = (directory or clusters_dir()) / PROFILES[profile]
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ClusterError(f"cannot read {path}: {exc.strerror}. The live path needs a checkout of the course.") from None
    config["name"] = name
    for node in config.get("nodes") or []:
        node["image"] = node_image or versions.NODE_IMAGE
    return yaml.safe_dump(config, sort_keys=False)


def context_name(name: str) -> str:
    """kind names the kube context `kind-<cluster name>`."""
    return f"kind-{name}"


def kind_env(engine: str | None) -> dict[str, str]:
    """kind picks Docker unless told: with Podman it needs KIND_EXPERIMENTAL_PROVIDER=podman."""
    return {"KIND_EXPERIMENTAL_PROVIDER": "podman"} if engine == "podman" else {}


@dataclass
class KindCluster:
    """One kind cluster by name, driven through a Runner."""

    runner: Runner
    name: str = DEFAULT_NAME
    engine: str = "docker"

    @property
    def context(self) -> str:
        return context_name(self.name)

    def _run(self, argv: list[str], timeout: float | None = 60, what: str = "") -> Completed:
        return self.runner.run(argv, timeout=timeout, env=kind_env(self.engine))

    def exists(self) -> bool:
        out = self._run(["kind", "get", "clusters"], timeout=30)
        return out.ok and self.name in out.stdout.split()

    def healthy(self) -> tuple[bool, str]:
        """Whether the API server answers /readyz through kubectl."""
        out = self.runner.run(["kubectl", "--context", self.context, "get", "--raw", "/readyz"], timeout=15)
        if out.ok:
            return True, ""
        lines = (out.stderr or out.stdout).strip().splitlines()
        return False, lines[-1] if lines else "no answer"

    def create(self, profile: str = "default", wait: str = "180s", node_image: str | None = None) -> Completed:
        """`kind create cluster` with the rendered profile; raises ClusterError with kind's last lines on failure."""
        config = render_profile(profile, self.name, node_image=node_image)
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="kind-course-", delete=False) as f:
            f.write(config)
            path = f.name
        try:
            out = self._run(["kind", "create", "cluster", "--name", self.name, "--config", path, "--wait", wait],
                            timeout=900)
        finally:
            Path(path).unlink(missing_ok=True)
        if not out.ok:
            tail = "\n".join((out.stderr or out.stdout).strip().splitlines()[-8:])
            raise ClusterError(
                f"`kind create cluster --name {self.name}` failed:\n{tail}\n"
                "Fix: check that the container engine has >= 4 GB memory, then `grade cluster down` and "
                "`grade cluster up` again (see docs/live.md, Troubleshooting)."
            )
        return out

    def delete(self) -> Completed:
        return self._run(["kind", "delete", "cluster", "--name", self.name], timeout=300)

    def kubeconfig_server(self) -> str | None:
        """The API server URL kind wrote into the kubeconfig for this cluster."""
        out = self.runner.run(["kubectl", "config", "view", "-o",
                               f"jsonpath={{.clusters[?(@.name==\"{self.context}\")].cluster.server}}"], timeout=15)
        return out.stdout.strip() or None

    def node_image(self) -> str | None:
        """The image the control-plane node container runs (what the cluster really is, whatever was asked)."""
        out = self.runner.run([self.engine, "inspect", "-f", "{{.Config.Image}}", f"{self.name}-control-plane"],
                              timeout=30)
        return out.stdout.strip() or None if out.ok else None

    def load_image(self, image: str) -> Completed:
        return self._run(["kind", "load", "docker-image", image, "--name", self.name], timeout=600)

    def other_clusters(self) -> list[str]:
        out = self._run(["kind", "get", "clusters"], timeout=30)
        return [c for c in out.stdout.split() if c != self.name] if out.ok else []


def requested_node_image(flag: str | None) -> str | None:
    """The node image `grade cluster up` was asked for: --node-image, else $NETCOURSE_NODE_IMAGE, else None (the pin)."""
    return flag or os.environ.get(NODE_IMAGE_ENV) or None


def _facts_file() -> Path:
    return state_dir() / "cluster-facts.json"


def record_cluster_facts(context: str, **facts: Any) -> None:
    """Remember what `grade cluster up` set up for `context` (node image, LoadBalancer provider) for status and doctor."""
    path = _facts_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    data[context] = {**(data.get(context) or {}), **facts}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True))


def cluster_facts(context: str) -> dict[str, Any]:
    """What `record_cluster_facts` remembered for `context` ({} when nothing)."""
    try:
        entry = json.loads(_facts_file().read_text()).get(context)
    except (OSError, ValueError, AttributeError):
        return {}
    return entry if isinstance(entry, dict) else {}


def forget_cluster_facts(context: str) -> None:
    path = _facts_file()
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return
    if isinstance(data, dict) and data.pop(context, None) is not None:
        path.write_text(json.dumps(data, indent=2, sort_keys=True))


def pull_command(engine: str, image: str) -> list[str]:
    return [engine, "pull", image]
