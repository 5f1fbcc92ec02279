"""Every version the live path runs, pinned in this one place.

`clusters/*.yaml` carry no image of their own: `grader.cluster.kind.render_profile` injects
`NODE_IMAGE` from here, and the doctor, the probes and `grade cluster preload` read the rest.
Bump a pin here and nowhere else.
"""

from __future__ import annotations

KIND_VERSION = "v0.33.0"  # `kind load` with the v1.37 node image needs kind >= v0.32 (PLATFORM.md)
KIND_MIN_VERSION = (0, 32, 0)
KUBECTL_VERSION = "v1.37.0"

# kindest/node:v1.37.0 as published with kind v0.33.0. The digest is the one quoted from the kind
# v0.33.0 release notes by several independent projects; kind's own image.go could not be read at
# that release here, so .github/workflows/live.yml pulls it by digest (a mismatch fails the job).
NODE_IMAGE_TAG = "kindest/node:v1.37.0"
NODE_IMAGE_DIGEST = "sha256:a1ed56cfb0e7b93589bdf97c8cd566405a265939e3620fc4f5de89adff580ae5"
NODE_IMAGE = f"{NODE_IMAGE_TAG}@{NODE_IMAGE_DIGEST}"

CALICO_VERSION = "v3.32.1"
CALICO_MANIFEST_URL = (
    f"https://raw.githubusercontent.com/projectcalico/calico/{CALICO_VERSION}/manifests/calico.yaml"
)
# Images calico.yaml runs; preloaded so the calico profile works on a weak network.
CALICO_IMAGES = (
    f"docker.io/calico/cni:{CALICO_VERSION}",
    f"docker.io/calico/node:{CALICO_VERSION}",
    f"docker.io/calico/kube-controllers:{CALICO_VERSION}",
)

CLOUD_PROVIDER_KIND_VERSION = "v0.11.1"
CLOUD_PROVIDER_KIND_IMAGE = (
    f"registry.k8s.io/cloud-provider-kind/cloud-controller-manager:{CLOUD_PROVIDER_KIND_VERSION}"
)

# Gateway API CRDs, standard channel (GatewayClass, Gateway, HTTPRoute, GRPCRoute, ReferenceGrant).
# cloud-provider-kind creates its own embedded copy only when the CRDs are absent (create-if-not-exists,
# pkg/gateway/crd_manager.go), so applying these before it starts pins the API lesson 7 is graded on
# (`kubectl apply --server-side -f GATEWAY_API_CRDS_URL`). The Go module of the same version carries the
# same CRDs under config/crd/standard/ for builds without access to release downloads.
GATEWAY_API_VERSION = "v1.6.3"
GATEWAY_API_CRDS_URL = (
    f"https://github.com/kubernetes-sigs/gateway-api/releases/download/{GATEWAY_API_VERSION}/standard-install.yaml"
)
GATEWAY_API_MODULE = f"sigs.k8s.io/gateway-api@{GATEWAY_API_VERSION}"

AGNHOST_TAG = "2.66.1"
AGNHOST_IMAGE = f"registry.k8s.io/e2e-test-images/agnhost:{AGNHOST_TAG}"
# agnhost is alpine with bind-tools (dig), curl and nc installed (test/images/agnhost/Dockerfile),
# so the course's DNS tools image is agnhost itself: one image fewer to pull and preload.
DNS_TOOLS_IMAGE = AGNHOST_IMAGE

# Images that run inside the kind nodes: `grade cluster preload` pulls them and `kind load`s them.
COURSE_IMAGES = (AGNHOST_IMAGE,)
# Images that run on the host's engine (not in the nodes): preload only pulls them.
HOST_IMAGES = (CLOUD_PROVIDER_KIND_IMAGE,)


# --- Built from source by .ci/live on our registry-less machines (docs/live.md, "How our CI builds") ---
# The versions kind v0.33.0 ships for the v1.37.0 node image: kubeadm v1.37.0's constants (etcd, CoreDNS,
# pause), kind's pkg/build/nodeimage (kindnetd, local-path-provisioner) and images/base/Dockerfile
# (containerd, runc, crictl, CNI plugins, Debian suite). Image names below are the ones the real cluster
# runs, so a cluster built here answers to the same pins as a pulled one. .ci/build reads them with
# `python3 grader/cluster/versions.py --shell`; the cache key is made of them.
KUBERNETES_VERSION = "v1.37.0"
KUBERNETES_STAGING_VERSION = "v0.37.0"  # k8s.io/api, client-go, ...: the staging modules of KUBERNETES_VERSION
ETCD_VERSION = "v3.7.0"
ETCD_IMAGE = "registry.k8s.io/etcd:3.7.0-0"
COREDNS_VERSION = "v1.14.6"
COREDNS_IMAGE = f"registry.k8s.io/coredns/coredns:{COREDNS_VERSION}"
# kubeadm v1.37 lists pause:3.10.2, but kind preloads the sandbox image its containerd config names
# (images/base/files/etc/containerd/config.toml) and drops kubeadm's; .ci/build checks the two agree.
PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
# What kind v0.33.0 runs as its CNI. Its source (module sigs.k8s.io/kind/images/kindnetd, which embeds
# kube-network-policies v1.1.2) is not served by the Go module proxy we can reach, so a source build runs
# a stand-in under its own name instead: a DaemonSet `kindnet` of the same shape whose routing agent is
# ours (.ci/build/kindnet-standin.sh).
KINDNETD_IMAGE = "docker.io/kindest/kindnetd:v20260820-69b56db7"
KINDNET_STANDIN_IMAGE = "k8s-netcourse.local/kindnet-standin:1"
# NetworkPolicy on a source-built cluster: kube-network-policies (what kindnetd embeds) programs nftables
# `queue` rules, and the kernels of our CI machines lack CONFIG_NFT_QUEUE (`nft` answers ENOENT), so it
# failed open there and enforced nothing. The source build therefore enforces NetworkPolicy with
# kube-router's policy controller alone (`--run-firewall` only: iptables and ipset, which those kernels
# have), as a DaemonSet `kube-router` beside the stand-in (.ci/build/kindnet-standin.yaml).
# v2.1.0 is the only version the Go module proxy serves (`go list -m -versions`, 2026-12-01).
KUBE_ROUTER_VERSION = "v2.1.0"
KUBE_ROUTER_IMAGE = f"k8s-netcourse.local/kube-router:{KUBE_ROUTER_VERSION}"
LOCAL_PATH_PROVISIONER_IMAGE = "docker.io/kindest/local-path-provisioner:v20260820-69b56db7"
LOCAL_PATH_HELPER_IMAGE = "docker.io/kindest/local-path-helper:v20260131-7181c60a"
# kind v0.33.0 builds local-path-provisioner v0.0.34 into that image; the proxy serves v0.0.30 at newest,
# so a source build puts v0.0.30 under kind's image name (storage only: no lesson uses a volume).
LOCAL_PATH_PROVISIONER_VERSION = "v0.0.30"
CONTAINERD_VERSION = "v2.3.4"
RUNC_VERSION = "v1.4.3"
CRICTL_VERSION = "v1.36.0"
CNI_PLUGINS_VERSION = "v1.9.1"
NODE_DEBIAN_SUITE = "trixie"  # kind's base image is debian:trixie-slim
# The node image a source build produces: kind's name for it, with no digest (it was never pushed).
LOCAL_NODE_IMAGE = NODE_IMAGE_TAG


def _minor(version: str) -> tuple[int, int] | None:
    """(major, minor) of "v1.37.0", "1.37", "v1.37.0-alpha.1+abc"; None when it is not such a version."""
    import re

    match = re.match(r"v?(\d+)\.(\d+)", version.strip())
    return (int(match[1]), int(match[2])) if match else None


def server_version_problem(server: str, pin: str = KUBERNETES_VERSION) -> str | None:
    """A plain sentence when the API server's version is older than the minor version the course is pinned to
    (None when it is as new or newer, or unreadable). Patch releases do not matter: APIs change with minors."""
    have, want = _minor(server), _minor(pin)
    if have is None or want is None or have >= want:
        return None
    return (f"the cluster runs Kubernetes {server}, older than {pin} that the course is pinned to "
            f"(grader/cluster/versions.py), so APIs and behaviour the lessons rely on may be missing "
            f"(e.g. EndpointSlice in discovery.k8s.io/v1 came with v1.21, Service trafficDistribution with v1.33). "
            f"This is the cluster, not your files: recreate it with `grade cluster down && grade cluster up`, "
            f"which creates {pin}")


def source_build_pins() -> dict[str, str]:
    """The pins .ci/build uses, as shell-safe NAME=value pairs (NAME upper-case)."""
    names = ("KIND_VERSION", "KUBERNETES_VERSION", "KUBERNETES_STAGING_VERSION", "ETCD_VERSION", "ETCD_IMAGE",
             "COREDNS_VERSION", "COREDNS_IMAGE", "PAUSE_IMAGE", "KINDNETD_IMAGE",
             "LOCAL_PATH_PROVISIONER_IMAGE", "LOCAL_PATH_HELPER_IMAGE", "LOCAL_PATH_PROVISIONER_VERSION",
             "KINDNET_STANDIN_IMAGE", "KUBE_ROUTER_VERSION", "KUBE_ROUTER_IMAGE", "CONTAINERD_VERSION",
             "RUNC_VERSION", "CRICTL_VERSION", "CNI_PLUGINS_VERSION", "NODE_DEBIAN_SUITE", "LOCAL_NODE_IMAGE",
             "AGNHOST_IMAGE", "AGNHOST_TAG")
    return {n: globals()[n] for n in names}


def all_pins() -> dict[str, str]:
    """Every pin by name, for `grade cluster status` and the live workflow's log."""
    return {
        "kind": KIND_VERSION,
        "kubectl": KUBECTL_VERSION,
        "node image": NODE_IMAGE,
        "calico": CALICO_VERSION,
        "cloud-provider-kind": CLOUD_PROVIDER_KIND_IMAGE,
        "gateway-api crds": GATEWAY_API_CRDS_URL,
        "agnhost": AGNHOST_IMAGE,
        "dns tools": DNS_TOOLS_IMAGE,
    }


if __name__ == "__main__":  # `python3 grader/cluster/versions.py --shell`: the build scripts' one source of pins
    import sys

    if sys.argv[1:] != ["--shell"]:
        sys.exit("usage: versions.py --shell")
    for key, value in source_build_pins().items():
        print(f"{key}={value}")
