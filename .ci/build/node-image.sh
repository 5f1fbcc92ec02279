#!/usr/bin/env bash
# The kind node image, in kind's node-image contract, from what we built:
#  1. a base image as kind's images/base/Dockerfile makes it (kind's files/ and entrypoint from the kind
#     module, containerd, runc, crictl, the CNI plugins; one change: containerd's restrict_oom_score_adj
#     is true, since nothing on these machines holds CAP_SYS_RESOURCE to lower an oom_score_adj);
#  2. the node image as `kind build node-image` makes it from a base (pkg/build/nodeimage): kubeadm,
#     kubelet and kubectl in /usr/bin, /kind/version, /kind/manifests/default-{cni,storage}.yaml, every
#     image preloaded into containerd with kind's own `ctr images import` flags, committed with kind's
#     ENTRYPOINT. kind's builder itself cannot be used: it pulls every image it did not build from a
#     registry, and there is none here.
source "$(dirname "$0")/lib.sh"

KIND_SRC="$GOMODCACHE/sigs.k8s.io/kind@$KIND_VERSION"
BASE="$BASE_IMAGE"
KIND_BASE="k8s-netcourse.local/kind-base:$PIN_KEY"
NODE="$LOCAL_NODE_IMAGE"
INPUTS=$(inputs_hash "$0" "$BUILD_DIR/kindnet-standin.yaml" "$CACHE/stamps/images")
if have_inputs node-image "$INPUTS" && docker image inspect "$NODE" >/dev/null 2>&1 \
    && [ "$(docker image inspect -f '{{.Id}}' "$NODE")" = "$(cat "$CACHE/node-image.id" 2>/dev/null)" ]; then
    log "node image: cached ($NODE $(cat "$CACHE/node-image.id" | cut -c1-19))"; exit 0
fi
[ -d "$KIND_SRC/images/base/files" ] || (cd /tmp && go mod download "sigs.k8s.io/kind@$KIND_VERSION")
export DOCKER_BUILDKIT=0
ensure_base_image

# --- 1. base image --------------------------------------------------------------------------------
CTX="$CACHE/image-contexts/kind-base"
rm -rf "$CTX" && mkdir -p "$CTX/bin" "$CTX/cni"
cp -a "$KIND_SRC/images/base/files" "$CTX/files" && chmod -R u+w "$CTX/files"
grep -q "sandbox_image = \"$PAUSE_IMAGE\"" "$CTX/files/etc/containerd/config.toml" \
    || die "kind's containerd config names another sandbox image than PAUSE_IMAGE=$PAUSE_IMAGE: update grader/cluster/versions.py"
grep -q 'restrict_oom_score_adj = false' "$CTX/files/etc/containerd/config.toml" || die "kind's containerd config changed: restrict_oom_score_adj not found"
sed -i 's/restrict_oom_score_adj = false/restrict_oom_score_adj = true/' "$CTX/files/etc/containerd/config.toml"
cp "$BIN"/{containerd,ctr,containerd-shim-runc-v2,crictl,runc} "$CTX/bin/"
cp "$BIN"/cni/* "$CTX/cni/"
cat > "$CTX/Dockerfile" <<DOCKERFILE
FROM $BASE
COPY files/usr/local/bin/ /usr/local/bin/
COPY files/kind/ /kind/
COPY files/LICENSES/ /LICENSES/
COPY files/etc/ /etc/
COPY bin/containerd bin/ctr bin/containerd-shim-runc-v2 bin/crictl /usr/local/bin/
COPY bin/runc /usr/local/sbin/runc
COPY cni/ /opt/cni/bin/
RUN chmod 0755 /kind /kind/bin /kind/bin/* /usr/local/bin/* /usr/local/sbin/runc /opt/cni/bin/* \\
    && find /lib/systemd/system/sysinit.target.wants/ -name "systemd-tmpfiles-setup.service" -delete \\
    && rm -f /lib/systemd/system/multi-user.target.wants/* /etc/systemd/system/*.wants/* \\
       /lib/systemd/system/local-fs.target.wants/* /lib/systemd/system/sockets.target.wants/*udev* \\
       /lib/systemd/system/sockets.target.wants/*initctl* /lib/systemd/system/basic.target.wants/* \\
    && echo "ReadKMsg=no" >> /etc/systemd/journald.conf \\
    && ln -sf /usr/lib/systemd/systemd /sbin/init \\
    && systemctl enable kubelet.service containerd.service undo-mount-hacks.service \\
    && systemctl mask systemd-binfmt.service \\
    && mkdir -p /etc/kubernetes/manifests \\
    && ctr oci spec | jq '.hooks.createContainer[.hooks.createContainer| length] |= . + {"path": "/kind/bin/mount-product-files.sh"}' \\
       | jq 'del(.process.rlimits)' > /etc/containerd/cri-base.json \\
    && containerd --version && runc --version && crictl --version
ENV container=docker
STOPSIGNAL SIGRTMIN+3
ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]
DOCKERFILE
log "node image: building the base $KIND_BASE"
docker build -q -t "$KIND_BASE" "$CTX" > "$LOGS/kind-base.log" 2>&1 || { tail -20 "$LOGS/kind-base.log" >&2; die "base image build failed"; }

# --- 2. node image ---------------------------------------------------------------------------------
python3 - "$KIND_SRC/pkg/build/nodeimage/const_storage.go" "$LOCAL_PATH_PROVISIONER_IMAGE" "$LOCAL_PATH_HELPER_IMAGE" \
    > "$CTX/default-storage.yaml" <<'PY'
import re, sys
src, provisioner, helper = sys.argv[1:]
text = open(src).read()
body = re.search(r"const defaultStorageManifest = `(.*?)`\n", text.replace("` + storageProvisionerImage + `", provisioner)
                 .replace("` + storageHelperImage + `", helper), re.S)
if not body:
    sys.exit("default storage manifest not found in " + src)
print(body.group(1), end="")
PY
sed -e "s|@KINDNET_STANDIN_IMAGE@|$KINDNET_STANDIN_IMAGE|" -e "s|@KUBE_ROUTER_IMAGE@|$KUBE_ROUTER_IMAGE|" \
    "$BUILD_DIR/kindnet-standin.yaml" > "$CTX/default-cni.yaml"

id="kind-build-netcourse-$$"
docker rm -f "$id" >/dev/null 2>&1 || true
docker run -d --entrypoint=sleep --name="$id" --security-opt seccomp=unconfined "$KIND_BASE" infinity >/dev/null
trap 'docker rm -f -v "$id" >/dev/null 2>&1 || true' EXIT
inb() { docker exec -i "$id" "$@"; }  # run in the build container
for b in kubeadm kubelet kubectl; do
    docker cp "$BIN/$b" "$id:/usr/bin/$b"
    inb chmod +x "/usr/bin/$b"; inb chown root:root "/usr/bin/$b"
done
echo -n "$KUBERNETES_VERSION" | inb sh -c 'cat > /kind/version'
inb mkdir -p /kind/manifests
docker cp "$CTX/default-cni.yaml" "$id:/kind/manifests/default-cni.yaml"
docker cp "$CTX/default-storage.yaml" "$id:/kind/manifests/default-storage.yaml"
# What kubeadm will ask for must be what we built (pause excepted: kind uses containerd's sandbox image).
missing=""
for img in $(inb kubeadm config images list --kubernetes-version "$KUBERNETES_VERSION" 2>/dev/null | grep -v /pause:); do
    grep -qx "$img" "$CACHE/images.list" || missing="$missing $img"
done
[ -z "$missing" ] || die "kubeadm $KUBERNETES_VERSION expects images we did not build:$missing (fix the pins in grader/cluster/versions.py)"
log "node image: preloading $(wc -l < "$CACHE/images.list") images into containerd"
inb bash -c 'nohup containerd > /tmp/containerd.log 2>&1 & echo $! > /tmp/containerd.pid'
inb bash -c 'for i in $(seq 1 30); do [ -S /run/containerd/containerd.sock ] && ctr info >/dev/null 2>&1 && exit 0; sleep 1; done; cat /tmp/containerd.log; exit 1'
inb ctr --namespace=k8s.io images import --label=io.cri-containerd.pinned=pinned --all-platforms --no-unpack --digests - \
    < "$CACHE/images.tar" > "$LOGS/ctr-import.log"
inb ctr --namespace=k8s.io images list -q | grep -v '@sha256' | sort > "$CACHE/node-images.list"
inb bash -c 'kill "$(cat /tmp/containerd.pid)"; for i in $(seq 1 20); do kill -0 "$(cat /tmp/containerd.pid)" 2>/dev/null || exit 0; sleep 0.5; done'
inb rm -f /tmp/containerd.pid /tmp/containerd.log
for img in $(cat "$CACHE/images.list"); do
    grep -qx "$img" "$CACHE/node-images.list" || die "image $img did not reach the node's containerd (see $LOGS/ctr-import.log)"
done
docker commit --change 'ENTRYPOINT [ "/usr/local/bin/entrypoint", "/sbin/init" ]' \
    --change 'ENV HTTP_PROXY="" HTTPS_PROXY="" NO_PROXY=""' "$id" "$NODE" >/dev/null
docker image inspect -f '{{.Id}}' "$NODE" > "$CACHE/node-image.id"
stamp_inputs node-image "$INPUTS"
log "node image: $NODE $(cut -c1-19 "$CACHE/node-image.id"), $(docker image inspect -f '{{.Size}}' "$NODE" | awk '{printf "%.0f MB", $1/1e6}')"
