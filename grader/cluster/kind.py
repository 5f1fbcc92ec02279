"""The course cluster's lifecycle on kind: render a profile, create or reuse, delete.

Every host command goes through a `Runner` (grader.cluster.runner), so the exact `kind`/`kubectl`/
`docker` invocations are unit-tested. The node image comes from grader/cluster/versions.py.
"""

from __future__ import annotations

from grader.errors import GradeError

import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

from grader.cluster import versions
from grader.cluster.runner import Completed, Runner

PROFILES = {"default": "kind.yaml", "calico": "kind-calico.yaml"}
DEFAULT_NAME = "course"


class ClusterError(GradeError):
    """A lifecycle step failed; the message says which command and what to do next."""


def clusters_dir() -> Path:
    """clusters/ at the root of the course checkout."""
    return Path(__file__).resolve().parents[2] / "clusters"


def render_profile(profile: str, name: str = DEFAULT_NAME, directory: Path | None = None) -> str:
    """The kind config for `profile` with the cluster name and the pinned node image on every node."""
    if profile not in PROFILES:
        raise ClusterError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    path = (directory or clusters_dir()) / PROFILES[profile]
    try:
        config = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ClusterError(f"cannot read {path}: {exc.strerror}. The live path needs a checkout of the course.") from None
    config["name"] = name
    for node in config.get("nodes") or []:
        node["image"] = versions.NODE_IMAGE
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

    def create(self, profile: str = "default", wait: str = "180s") -> Completed:
        """`kind create cluster` with the rendered profile; raises ClusterError with kind's last lines on failure."""
        config = render_profile(profile, self.name)
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

    def load_image(self, image: str) -> Completed:
        return self._run(["kind", "load", "docker-image", image, "--name", self.name], timeout=600)

    def other_clusters(self) -> list[str]:
        out = self._run(["kind", "get", "clusters"], timeout=30)
        return [c for c in out.stdout.split() if c != self.name] if out.ok else []


def pull_command(engine: str, image: str) -> list[str]:
    return [engine, "pull", image]
