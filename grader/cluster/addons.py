"""What the course adds to a bare kind cluster: Calico (calico profile) and cloud-provider-kind.

cloud-provider-kind runs on the host's engine, not in the cluster: a container on the `kind` network
with the engine's socket mounted. It implements LoadBalancer Services, Ingress (IngressClass
`cloud-provider-kind`) and Gateway API for every kind cluster on the host, creating `kindccm-*` Envoy
containers. On macOS/Windows the host cannot route to the kind network, so it also gets
--enable-lb-port-mapping (each Envoy's ports published on host ports; grader.live_probes uses them).
"""

from __future__ import annotations

import platform

from grader.cluster import versions
from grader.cluster.runner import Completed, Runner

CPK_CONTAINER = "k8s-netcourse-cloud-provider-kind"
CPK_CLUSTER_LABEL = "io.x-k8s.cloud-provider-kind.cluster"
EXCLUDE_LB_LABEL = "node.kubernetes.io/exclude-from-external-load-balancers"


def engine_socket(runner: Runner, engine: str) -> str:
    """The engine's API socket on the host, to mount into cloud-provider-kind as /var/run/docker.sock."""
    if engine == "podman":
        out = runner.run(["podman", "info", "--format", "{{.Host.RemoteSocket.Path}}"], timeout=20)
        path = out.stdout.strip().removeprefix("unix://")
        if out.ok and path:
            return path
    return "/var/run/docker.sock"


def cloud_provider_kind_command(engine: str, socket: str, system: str | None = None) -> list[str]:
    """The `docker run` that starts cloud-provider-kind for the course (pinned image)."""
    argv = [
        engine, "run", "-d", "--name", CPK_CONTAINER, "--restart", "unless-stopped",
        "--network", "kind", "-v", f"{socket}:/var/run/docker.sock",
        versions.CLOUD_PROVIDER_KIND_IMAGE,
        "--enable-default-ingress=true", "--gateway-channel", "standard",
    ]
    if (system or platform.system()) in ("Darwin", "Windows"):
        argv.append("--enable-lb-port-mapping")
    return argv


def cloud_provider_kind_state(runner: Runner, engine: str) -> str:
    """"running", "exited"/"created"... or "" when the container does not exist."""
    out = runner.run([engine, "ps", "-a", "--filter", f"name=^{CPK_CONTAINER}$", "--format", "{{.State}}"], timeout=20)
    return out.stdout.strip().splitlines()[0] if out.ok and out.stdout.strip() else ""


def start_cloud_provider_kind(runner: Runner, engine: str, system: str | None = None) -> Completed:
    """Start cloud-provider-kind unless it already runs (idempotent); a stopped one is replaced."""
    state = cloud_provider_kind_state(runner, engine)
    if state == "running":
        return Completed([engine, "ps"], 0, f"{CPK_CONTAINER} already running")
    if state:
        runner.run([engine, "rm", "-f", CPK_CONTAINER], timeout=60)
    return runner.run(cloud_provider_kind_command(engine, engine_socket(runner, engine), system), timeout=300)


def stop_cloud_provider_kind(runner: Runner, engine: str, cluster: str) -> list[Completed]:
    """Remove this cluster's Envoy containers, and cloud-provider-kind itself (it serves all kind clusters:
    callers keep it when other kind clusters remain)."""
    done = []
    envoys = runner.run([engine, "ps", "-aq", "--filter", f"label={CPK_CLUSTER_LABEL}={cluster}"], timeout=30)
    ids = envoys.stdout.split()
    if ids:
        done.append(runner.run([engine, "rm", "-f", *ids], timeout=120))
    done.append(runner.run([engine, "rm", "-f", CPK_CONTAINER], timeout=60))
    return done


def calico_install_command(context: str) -> list[str]:
    """`kubectl create` (not apply: Calico's CRDs are too big for client-side apply) of the pinned manifest."""
    return ["kubectl", "--context", context, "create", "-f", versions.CALICO_MANIFEST_URL]


def unexclude_nodes_command(context: str, node: str) -> list[str]:
    """Remove the label that keeps a node (kind's control plane) out of LoadBalancer backends."""
    return ["kubectl", "--context", context, "label", "node", node, f"{EXCLUDE_LB_LABEL}-"]


def nodes_with_exclude_label(runner: Runner, context: str) -> list[str]:
    out = runner.run(["kubectl", "--context", context, "get", "nodes", "-l", EXCLUDE_LB_LABEL,
                      "-o", "jsonpath={.items[*].metadata.name}"], timeout=30)
    return out.stdout.split() if out.ok else []
