"""Prerequisites of the live path: a running container engine, kind, kubectl.

For each missing one, `check_prerequisites` returns the exact install command for Linux, macOS and
Windows (from the kind, kubectl, Docker and Podman install docs), so nobody has to search.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from grader.cluster import versions
from grader.cluster.runner import Runner

INSTALL_COMMANDS: dict[str, dict[str, str]] = {
    "docker": {
        "Linux": "curl -fsSL https://get.docker.com | sh && sudo usermod -aG docker $USER  (then log out and in)",
        "macOS": "brew install --cask docker  (then start Docker Desktop once)",
        "Windows": "winget install -e --id Docker.DockerDesktop  (enable the WSL2 backend)",
    },
    "podman": {
        "Linux": "sudo apt-get install -y podman  (or: sudo dnf install -y podman)",
        "macOS": "brew install podman && podman machine init --rootful && podman machine start",
        "Windows": "winget install -e --id RedHat.Podman && podman machine init --rootful && podman machine start",
    },
    "kind": {
        "Linux": (
            f"curl -Lo ./kind https://kind.sigs.k8s.io/dl/{versions.KIND_VERSION}/kind-linux-amd64 "
            "&& chmod +x ./kind && sudo mv ./kind /usr/local/bin/kind  (arm64: kind-linux-arm64)"
        ),
        "macOS": "brew install kind",
        "Windows": "winget install -e --id Kubernetes.kind",
    },
    "kubectl": {
        "Linux": (
            f'curl -LO "https://dl.k8s.io/release/{versions.KUBECTL_VERSION}/bin/linux/amd64/kubectl" '
            "&& sudo install -o root -g root -m 0755 kubectl /usr/local/bin/kubectl"
        ),
        "macOS": "brew install kubectl",
        "Windows": "winget install -e --id Kubernetes.kubectl",
    },
}

ENGINE_NOT_RUNNING_HINT = {
    "docker": {
        "Linux": "sudo systemctl start docker",
        "macOS": "open -a Docker  (wait until Docker Desktop says it is running)",
        "Windows": "start Docker Desktop from the Start menu (WSL2: enable integration with your distro in Settings > Resources)",
    },
    "podman": {
        "Linux": "systemctl --user start podman.socket  (rootful: sudo systemctl start podman.socket)",
        "macOS": "podman machine start",
        "Windows": "podman machine start",
    },
}


@dataclass
class Prerequisites:
    """What `check_prerequisites` found: the engine to use, and one problem text per missing piece."""

    engine: str | None = None  # "docker" or "podman"
    problems: list[str] = field(default_factory=list)
    kind_version: str | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def install_text(tool: str) -> str:
    """The install commands for one tool, one line per operating system."""
    return "\n".join(f"    {os_name:8} {cmd}" for os_name, cmd in INSTALL_COMMANDS[tool].items())


def parse_kind_version(text: str) -> tuple[int, int, int] | None:
    """`kind version` prints e.g. `kind v0.33.0 go1.25.1 linux/amd64`; return (0, 33, 0)."""
    m = re.search(r"v(\d+)\.(\d+)\.(\d+)", text)
    return (int(m[1]), int(m[2]), int(m[3])) if m else None


def check_prerequisites(runner: Runner) -> Prerequisites:
    """Find a running container engine, kind and kubectl; describe each missing one with install commands."""
    found = Prerequisites()
    installed = [e for e in ("docker", "podman") if runner.which(e)]
    for engine in installed:
        if runner.run([engine, "info"], timeout=20).ok:
            found.engine = engine
            break
    if found.engine is None:
        if installed:
            engine = installed[0]
            hints = "\n".join(f"    {o:8} {c}" for o, c in ENGINE_NOT_RUNNING_HINT[engine].items())
            found.problems.append(f"{engine} is installed but not running (`{engine} info` failed). Start it:\n{hints}")
        else:
            found.problems.append(
                "No container engine found: kind needs Docker (or Podman). Install Docker:\n"
                + install_text("docker")
                + "\n  or Podman:\n"
                + install_text("podman")
            )
    if not runner.which("kind"):
        found.problems.append(f"kind is not installed. Install kind {versions.KIND_VERSION}:\n" + install_text("kind"))
    else:
        out = runner.run(["kind", "version"], timeout=20)
        found.kind_version = out.stdout.strip()
        parsed = parse_kind_version(out.stdout)
        if parsed is not None and parsed < versions.KIND_MIN_VERSION:
            need = ".".join(map(str, versions.KIND_MIN_VERSION))
            found.problems.append(
                f"kind {found.kind_version} is too old: the course's node image needs kind >= v{need}. "
                f"Install kind {versions.KIND_VERSION}:\n" + install_text("kind")
            )
    if not runner.which("kubectl"):
        found.problems.append(
            f"kubectl is not installed (you will use it to reproduce failed probes). Install it:\n" + install_text("kubectl")
        )
    return found
