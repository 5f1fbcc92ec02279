#!/bin/bash
# The routing half of kindnetd, for clusters our CI builds from source (kindnetd's own source module is
# not served by the Go module proxy here; see grader/cluster/versions.py). It does what kind's CNI does
# for pod networking, in the same DaemonSet shape: writes this node's CNI config (ptp + host-local on the
# node's podCIDR + portmap), routes every other node's podCIDR via that node's InternalIP, and
# masquerades pod traffic that leaves the pod subnet. NetworkPolicy is enforced by the pod's other
# container, kube-network-policies (the engine kindnetd embeds).
set -u
NODE="${NODE_NAME:?NODE_NAME must be set from spec.nodeName}"
POD_SUBNET="${POD_SUBNET:?POD_SUBNET must be set}"
CNI_CONF=/etc/cni/net.d/10-kindnet.conflist
log() { echo "$(date -u +%FT%TZ) kindnet-standin: $*"; }

write_cni() { # PODCIDR
    local tmp="$CNI_CONF.tmp"
    cat > "$tmp" <<JSON
{
  "cniVersion": "0.4.0",
  "name": "kindnet",
  "plugins": [
    {"type": "ptp", "ipMasq": false, "mtu": 1500,
     "ipam": {"type": "host-local", "dataDir": "/run/cni-ipam-state",
              "routes": [{"dst": "0.0.0.0/0"}], "ranges": [[{"subnet": "$1"}]]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
JSON
    if cmp -s "$tmp" "$CNI_CONF"; then rm -f "$tmp"; else mv -f "$tmp" "$CNI_CONF"; log "wrote $CNI_CONF for $1"; fi
}

ensure_masquerade() {
    iptables -t nat -N KINDNET-MASQ 2>/dev/null || true
    iptables -t nat -C POSTROUTING -m comment --comment "kindnet masquerade" -j KINDNET-MASQ 2>/dev/null \
        || iptables -t nat -A POSTROUTING -m comment --comment "kindnet masquerade" -j KINDNET-MASQ
    iptables-restore --noflush <<RULES
*nat
:KINDNET-MASQ - [0:0]
-F KINDNET-MASQ
-A KINDNET-MASQ -d $POD_SUBNET -j RETURN
-A KINDNET-MASQ -m addrtype --dst-type LOCAL -j RETURN
-A KINDNET-MASQ -s $POD_SUBNET -j MASQUERADE
COMMIT
RULES
}

log "node $NODE, pod subnet $POD_SUBNET"
masq_done=""
while true; do
    if [ -z "$masq_done" ] && ensure_masquerade; then masq_done=1; log "masquerade rules in place"; fi
    nodes=$(kubectl get nodes -o jsonpath='{range .items[*]}{.metadata.name}{" "}{.spec.podCIDR}{" "}{.status.addresses[?(@.type=="InternalIP")].address}{"\n"}{end}' 2>&1) \
        || { log "cannot list nodes: $nodes"; sleep 2; continue; }
    while read -r name cidr addrs; do
        [ -n "$name" ] && [ -n "$cidr" ] || continue
        if [ "$name" = "$NODE" ]; then write_cni "$cidr"; continue; fi
        ip4=""
        for a in $addrs; do case "$a" in *.*) ip4="$a"; break ;; esac; done
        [ -n "$ip4" ] || continue
        current=$(ip route show "$cidr" 2>/dev/null)
        case "$current" in *"via $ip4 "*) ;; *) ip route replace "$cidr" via "$ip4" && log "route $cidr via $ip4 ($name)" ;; esac
    done <<<"$nodes"
    sleep 5
done
