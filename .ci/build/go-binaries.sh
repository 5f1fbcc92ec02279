#!/usr/bin/env bash
# Build every Go binary of the course cluster from the Go module proxy, at the pins of
# grader/cluster/versions.py, into $CACHE/bin. Usage: go-binaries.sh [component...]
# Components: kubernetes etcd coredns runtime (containerd, runc, crictl, CNI plugins) kuberouter storage kind;
# a new component adds build_NAME and its pins (pins_of, or a function pins_NAME).
# A component already built for this pin key is skipped (stamp in $CACHE/stamps).
source "$(dirname "$0")/lib.sh"

# A throwaway module that requires TARGET at VERSION: `go build` inside it fetches the module
# (and only what it needs) from the proxy. Extra go.mod lines (replace ...) come on stdin.
gomodule() { # DIR TARGET VERSION
    local dir="$1" target="$2" version="$3"
    rm -rf "$dir" && mkdir -p "$dir"
    { echo "module k8s-netcourse.invalid/build"; echo; echo "go 1.26"; echo; cat; } > "$dir/go.mod"
    printf 'package build\n\nimport _ "%s"\n' "" >/dev/null
    (cd "$dir" && go mod edit -require="$target@$version")
}

build_kubernetes() {
    local dir="$CACHE/src/kubernetes" kdir stag
    log "kubernetes $KUBERNETES_VERSION: fetching the module"
    (cd /tmp && go mod download -json "k8s.io/kubernetes@$KUBERNETES_VERSION" >/dev/null)
    kdir="$GOMODCACHE/k8s.io/kubernetes@$KUBERNETES_VERSION"
    # Module downloads drop staging/: pin each staging module (replaced by ./staging/... upstream)
    # to its published v0.X.Y.
    stag=$(sed -n '/^replace (/,/^)/p' "$kdir/go.mod" | awk '$2=="=>" && $3 ~ /^\.\/staging/ {print $1}')
    for m in $stag; do echo "replace $m => $m $KUBERNETES_STAGING_VERSION"; done \
        | gomodule "$dir" k8s.io/kubernetes "$KUBERNETES_VERSION"
    local major minor ld
    major=$(echo "$KUBERNETES_VERSION" | sed 's/^v\([0-9]*\)\..*/\1/'); minor=$(echo "$KUBERNETES_VERSION" | cut -d. -f2)
    ld="-s -w"
    for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
        ld="$ld -X $pkg.gitVersion=$KUBERNETES_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
        ld="$ld -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
    done
    log "kubernetes: building kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubelet kubeadm kubectl"
    (cd "$dir" && CGO_ENABLED=0 "${NICE[@]}" go build -p "$BUILD_JOBS" -ldflags "$ld" -o "$BIN/" \
        k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
        k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubelet \
        k8s.io/kubernetes/cmd/kubeadm k8s.io/kubernetes/cmd/kubectl) 2>&1 | tail -30
    # agnhost lives in the same module (test/images/agnhost).
    (cd "$dir" && CGO_ENABLED=0 "${NICE[@]}" go build -p "$BUILD_JOBS" -ldflags "-s -w" -o "$BIN/agnhost" \
        k8s.io/kubernetes/test/images/agnhost) 2>&1 | tail -30
    "$BIN/kubeadm" version -o short | grep -qx "$KUBERNETES_VERSION" || die "kubeadm reports $("$BIN/kubeadm" version -o short)"
    # pause is C (build/pause/linux/pause.c in the same module): a static binary, as upstream builds it.
    "${NICE[@]}" cc -Os -static -Wall -Werror -DVERSION="${PAUSE_IMAGE##*:}" -o "$BIN/pause" "$kdir/build/pause/linux/pause.c"
    strip "$BIN/pause"
}

# gobuild NAME MODULE VERSION CGO TAGS LDFLAGS OUT PKG...: build packages of MODULE@VERSION in a
# throwaway module (MVS then picks exactly the versions MODULE's own go.mod requires).
gobuild() {
    local name="$1" module="$2" version="$3" cgo="$4" tags="$5" ld="$6" out="$7"; shift 7
    local dir="$CACHE/src/$name"
    gomodule "$dir" "$module" "$version" </dev/null
    log "$name: building $module@$version ($*)"
    local attempt
    for attempt in 1 2 3; do  # a module download can time out on a busy network; compiled packages stay cached
        if (cd "$dir" && CGO_ENABLED="$cgo" "${NICE[@]}" go build -p "$BUILD_JOBS" -tags "$tags" -ldflags "-s -w $ld" \
            -o "$out" "$@") > "$LOGS/go-$name.log" 2>&1; then
            return 0
        fi
        grep -v '^go: downloading' "$LOGS/go-$name.log" | tail -15 >&2
        log "$name: go build failed (attempt $attempt of 3)"
    done
    die "$name: go build failed (log: $LOGS/go-$name.log)"
}

build_etcd() {
    local v="$ETCD_VERSION"
    gobuild etcd go.etcd.io/etcd/server/v3 "$v" 0 "" "" "$BIN/etcd" go.etcd.io/etcd/server/v3
    gobuild etcdctl go.etcd.io/etcd/etcdctl/v3 "$v" 0 "" "" "$BIN/etcdctl" go.etcd.io/etcd/etcdctl/v3
}

build_coredns() {
    gobuild coredns github.com/coredns/coredns "$COREDNS_VERSION" 0 "" \
        "-X github.com/coredns/coredns/coremain.GitCommit=$COREDNS_VERSION" "$BIN/coredns" github.com/coredns/coredns
}

build_runtime() { # what kind's images/base builds into the node: containerd, runc, crictl, CNI plugins
    local c=github.com/containerd/containerd/v2
    gobuild containerd "$c" "$CONTAINERD_VERSION" 0 "no_aufs no_zfs no_btrfs no_devmapper" \
        "-X $c/version.Version=$CONTAINERD_VERSION -X $c/version.Revision=$CONTAINERD_VERSION" "$BIN/" \
        "$c/cmd/containerd" "$c/cmd/containerd-shim-runc-v2" "$c/cmd/ctr"
    # runc needs cgo (nsenter) and libseccomp, as upstream builds it (`make runc`: -tags seccomp).
    gobuild runc github.com/opencontainers/runc "$RUNC_VERSION" 1 "seccomp urfave_cli_no_docs" "" "$BIN/runc" \
        github.com/opencontainers/runc
    gobuild crictl sigs.k8s.io/cri-tools "$CRICTL_VERSION" 0 "" \
        "-X sigs.k8s.io/cri-tools/pkg/version.Version=$CRICTL_VERSION" "$BIN/crictl" sigs.k8s.io/cri-tools/cmd/crictl
    local p=github.com/containernetworking/plugins
    mkdir -p "$BIN/cni"
    gobuild cni-plugins "$p" "$CNI_PLUGINS_VERSION" 0 "" "-X $p/pkg/utils/buildversion.BuildVersion=$CNI_PLUGINS_VERSION" \
        "$BIN/cni/" "$p/plugins/ipam/host-local" "$p/plugins/main/loopback" "$p/plugins/main/ptp" "$p/plugins/meta/portmap"
}

build_kuberouter() { # kube-router, run as the NetworkPolicy controller only (see KUBE_ROUTER_VERSION)
    local m=github.com/cloudnativelabs/kube-router/v2
    gobuild kube-router "$m" "$KUBE_ROUTER_VERSION" 0 "" \
        "-X $m/pkg/version.Version=$KUBE_ROUTER_VERSION -X $m/pkg/version.BuildDate=1970-01-01T00:00:00Z" \
        "$BIN/kube-router" "$m/cmd/kube-router"
}

build_storage() {
    gobuild local-path-provisioner github.com/rancher/local-path-provisioner "$LOCAL_PATH_PROVISIONER_VERSION" 0 "" \
        "-X main.VERSION=$LOCAL_PATH_PROVISIONER_VERSION" "$BIN/local-path-provisioner" github.com/rancher/local-path-provisioner
}

build_kind() {
    gobuild kind sigs.k8s.io/kind "$KIND_VERSION" 0 "" "" "$BIN/kind" sigs.k8s.io/kind
}

# pins_of COMPONENT: the pins a component is built from (its stamp records them; a change rebuilds it alone)
pins_of() {
    case "$1" in
        kubernetes) echo "$KUBERNETES_VERSION $KUBERNETES_STAGING_VERSION $PAUSE_IMAGE" ;;
        etcd) echo "$ETCD_VERSION" ;;
        coredns) echo "$COREDNS_VERSION" ;;
        runtime) echo "$CONTAINERD_VERSION $RUNC_VERSION $CRICTL_VERSION $CNI_PLUGINS_VERSION" ;;
        kuberouter) echo "$KUBE_ROUTER_VERSION" ;;
        storage) echo "$LOCAL_PATH_PROVISIONER_VERSION" ;;
        kind) echo "$KIND_VERSION" ;;
        *) declare -F "pins_$1" >/dev/null && "pins_$1" || die "no pins known for component $1" ;;
    esac
}

for c in "$@"; do
    want="$(pins_of "$c")"   # a recipe change for the same pins: bump RECIPE in lib.sh
    if have_inputs "go-$c" "$want"; then log "$c: cached ($BIN)"; continue; fi
    "build_$c"
    stamp_inputs "go-$c" "$want"
done
