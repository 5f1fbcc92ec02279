# Shared by .ci/live and .ci/build/*.sh: pins, cache paths, phase timing, build niceness.
# Sourced, not run. Everything built lands in $CACHE (outside the clone), keyed by the pins.
set -euo pipefail

BUILD_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$BUILD_DIR/../.." && pwd)"
# Bump when a recipe changes what it produces for the same pins (a new key rebuilds everything).
RECIPE=1

# The pins, one place: grader/cluster/versions.py (read as a plain file; no venv needed).
eval "$(python3 "$REPO_ROOT/grader/cluster/versions.py" --shell | sed 's/^\([A-Z_]*\)=\(.*\)$/\1='"'"'\2'"'"'/')"
# The cache key covers what every product depends on (the Kubernetes release and the Debian suite); each
# component also records its own pins and inputs and is rebuilt alone when they change (a new add-on pin
# must not rebuild Kubernetes: that takes an hour or more on 2 cores).
PIN_KEY="$(printf '%s\n' "$KUBERNETES_VERSION" "$NODE_DEBIAN_SUITE" "recipe=$RECIPE" | sha256sum | cut -c1-12)"
ALL_PINS="$(python3 "$REPO_ROOT/grader/cluster/versions.py" --shell)"

CACHE_ROOT="${K8S_NETCOURSE_CACHE:-/var/cache/k8s-netcourse}"
CACHE="$CACHE_ROOT/$PIN_KEY"
BIN="$CACHE/bin"           # every binary we build (kube*, etcd, coredns, containerd, ...)
LOGS="$CACHE/logs"
mkdir -p "$BIN" "$LOGS"

# Go: module and build caches shared by every key (the proxy's files are immutable per version).
export GOMODCACHE="$CACHE_ROOT/go/mod" GOCACHE="$CACHE_ROOT/go/build" GOPATH="$CACHE_ROOT/go/path"
export GOFLAGS="-mod=mod -trimpath" GOTOOLCHAIN="${GOTOOLCHAIN:-auto}"
export GOPROXY="${GOPROXY:-https://proxy.golang.org,direct}"
export PATH="/usr/local/go/bin:$PATH"
# Builds share 2 cores with other people's tests: low priority, and at most this many compile jobs.
BUILD_JOBS="${BUILD_JOBS:-2}"
NICE=(nice -n "${BUILD_NICE:-10}")   # BUILD_NICE=0 on a machine of its own

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

# done_stamp NAME: true when a component was already built for this key.
have() { [ -e "$CACHE/stamps/$1" ]; }
stamp() { mkdir -p "$CACHE/stamps"; date -u +%FT%TZ > "$CACHE/stamps/$1"; }
# inputs_hash FILE...: what our own files put into a product; a product whose recorded hash differs is rebuilt
inputs_hash() { cat "$@" | sha256sum | cut -c1-16; }
have_inputs() { have "$1" && [ "$(cat "$CACHE/stamps/$1.inputs" 2>/dev/null)" = "$2" ]; }
stamp_inputs() { stamp "$1"; echo "$2" > "$CACHE/stamps/$1.inputs"; }

# The Debian rootfs as a local image, the FROM of every image we build (re-imported if Docker lost it).
BASE_IMAGE="k8s-netcourse.local/debian-base:$NODE_DEBIAN_SUITE-$(cut -c1-12 "$CACHE/stamps/rootfs.inputs" 2>/dev/null || echo none)"
ensure_base_image() {
    docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 && return 0
    [ -d "$CACHE/rootfs" ] || die "no rootfs in $CACHE: run .ci/build/rootfs.sh first"
    log "importing the Debian rootfs as $BASE_IMAGE"
    tar -C "$CACHE/rootfs" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' - "$BASE_IMAGE" >/dev/null
}
