#!/usr/bin/env bash
# A Debian root filesystem from debootstrap, the base of the kind node image and of every image we
# build (they share it as one layer). Packages: those kind's images/base/Dockerfile installs for a node,
# plus dig, curl and nc for agnhost (the real agnhost image carries them) and ipset for kube-router's policy
# controller and kube-proxy (their upstream images carry it).
source "$(dirname "$0")/lib.sh"

ROOTFS="$CACHE/rootfs"
PACKAGES=(
    systemd dbus conntrack iptables ipset nftables iproute2 ethtool util-linux mount kmod libseccomp2 pigz
    fuse-overlayfs e2fsprogs bash ca-certificates curl jq procps
    bind9-dnsutils netcat-openbsd
)
INPUTS=$(inputs_hash "$0")
if have_inputs rootfs "$INPUTS" && [ -d "$ROOTFS" ]; then log "rootfs: cached ($ROOTFS)"; exit 0; fi
rm -rf "$ROOTFS.tmp"
log "rootfs: debootstrap $NODE_DEBIAN_SUITE (minbase + ${#PACKAGES[@]} packages)"
"${NICE[@]}" debootstrap --variant=minbase --include="$(IFS=,; echo "${PACKAGES[*]}")" \
    "$NODE_DEBIAN_SUITE" "$ROOTFS.tmp" http://deb.debian.org/debian > "$LOGS/debootstrap.log" 2>&1 \
    || { tail -20 "$LOGS/debootstrap.log" >&2; die "debootstrap $NODE_DEBIAN_SUITE failed (log: $LOGS/debootstrap.log)"; }
# What an image does not need: apt lists, caches, docs (kind's clean-install removes the same).
rm -rf "$ROOTFS.tmp"/var/lib/apt/lists/* "$ROOTFS.tmp"/var/cache/apt/*.bin "$ROOTFS.tmp"/var/cache/apt/archives/*.deb \
    "$ROOTFS.tmp"/usr/share/doc/* "$ROOTFS.tmp"/usr/share/man/* "$ROOTFS.tmp"/usr/share/info/* "$ROOTFS.tmp"/var/log/*.log
rm -rf "$ROOTFS" && mv "$ROOTFS.tmp" "$ROOTFS"
stamp_inputs rootfs "$INPUTS"
log "rootfs: $(du -sh "$ROOTFS" | cut -f1)"
