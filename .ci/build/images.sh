#!/usr/bin/env bash
# Build every image the course cluster runs inside its nodes, under the exact names the real cluster
# uses (grader/cluster/versions.py), from the binaries in $CACHE/bin and the Debian rootfs, then save
# them all into one archive ($CACHE/images.tar, layers shared) for the node image to preload.
source "$(dirname "$0")/lib.sh"

BASE="$BASE_IMAGE"
ARCHIVE="$CACHE/images.tar"
INPUTS=$( { echo "$ALL_PINS"; cat "$0" "$BUILD_DIR/kindnet-standin.sh" "$CACHE"/stamps/go-*.inputs; } | sha256sum | cut -c1-16)
if have_inputs images "$INPUTS" && [ -s "$ARCHIVE" ]; then log "images: cached ($ARCHIVE)"; exit 0; fi
export DOCKER_BUILDKIT=0   # the classic builder: every FROM is a local image, nothing is pulled

ensure_base_image

CTX="$CACHE/image-contexts"
# image NAME FROM "DOCKERFILE LINES" FILE...: build NAME from a context holding FILE... (from $BIN or paths)
image() {
    local name="$1" from="$2" lines="$3"; shift 3
    local dir="$CTX/$(echo "$name" | tr '/:' '__')"
    rm -rf "$dir" && mkdir -p "$dir"
    for f in "$@"; do cp -a "$f" "$dir/"; done
    printf 'FROM %s\n%s\n' "$from" "$lines" > "$dir/Dockerfile"
    docker build -q -t "$name" "$dir" >/dev/null || die "docker build $name failed"
    log "images: built $name"
    BUILT+=("$name")
}
BUILT=()
K="$KUBERNETES_VERSION"
for c in kube-apiserver kube-controller-manager kube-scheduler; do
    image "registry.k8s.io/$c:$K" "$BASE" "COPY $c /usr/local/bin/$c" "$BIN/$c"
done
# kube-proxy: iptables, ip6tables, conntrack and ipset come with the Debian base (iptables-nft, like
# the node's default; kind's entrypoint picks nft when the host has no legacy rules).
image "registry.k8s.io/kube-proxy:$K" "$BASE" "COPY kube-proxy /usr/local/bin/kube-proxy" "$BIN/kube-proxy"
image "$ETCD_IMAGE" "$BASE" "COPY etcd etcdctl /usr/local/bin/
CMD [\"/usr/local/bin/etcd\"]" "$BIN/etcd" "$BIN/etcdctl"
image "$COREDNS_IMAGE" "$BASE" "COPY coredns /coredns
EXPOSE 53 53/udp
ENTRYPOINT [\"/coredns\"]" "$BIN/coredns"
image "$PAUSE_IMAGE" scratch "COPY pause /pause
USER 65535:65535
ENTRYPOINT [\"/pause\"]" "$BIN/pause"
# agnhost: the binary at /agnhost as upstream has it, with dig, curl and nc from the Debian base.
image "$AGNHOST_IMAGE" "$BASE" "COPY agnhost /agnhost
EXPOSE 80
ENTRYPOINT [\"/agnhost\"]" "$BIN/agnhost"
# kube-router as its NetworkPolicy controller: iptables (iptables-nft, as kube-proxy's) and ipset come with
# the Debian base, as upstream's image has them beside the binary in /usr/local/bin.
image "$KUBE_ROUTER_IMAGE" "$BASE" "COPY kube-router /usr/local/bin/kube-router
ENTRYPOINT [\"/usr/local/bin/kube-router\"]" "$BIN/kube-router"
image "$KINDNET_STANDIN_IMAGE" "$BASE" "COPY kubectl /usr/local/bin/kubectl
COPY kindnet-standin.sh /bin/kindnetd
RUN chmod 0755 /bin/kindnetd
CMD [\"/bin/kindnetd\"]" "$BIN/kubectl" "$BUILD_DIR/kindnet-standin.sh"
image "$LOCAL_PATH_PROVISIONER_IMAGE" "$BASE" "COPY local-path-provisioner /usr/local/bin/local-path-provisioner
ENTRYPOINT [\"/usr/local/bin/local-path-provisioner\"]" "$BIN/local-path-provisioner"
image "$LOCAL_PATH_HELPER_IMAGE" "$BASE" ""

log "images: saving ${#BUILT[@]} images to $ARCHIVE"
docker save "${BUILT[@]}" > "$ARCHIVE.tmp" && mv "$ARCHIVE.tmp" "$ARCHIVE"
printf '%s\n' "${BUILT[@]}" > "$CACHE/images.list"
stamp_inputs images "$INPUTS"
log "images: $(du -sh "$ARCHIVE" | cut -f1)"
