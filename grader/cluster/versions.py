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
