#!/usr/bin/env bash
# The guard of LIVE-LAB.md "Rules": nothing the cluster sends may leave the machine.
#   guard.sh up    before the cluster runs: every packet forwarded out of the external interface is dropped
#                  (DOCKER-USER for IPv4, FORWARD for IPv6, which Docker 20.10 leaves alone), and the host
#                  routes the pod and Service ranges nowhere (unreachable), so its own stray packets stay too.
#   guard.sh test CONTEXT   probes that must be stopped: from a pod and from a node, a ClusterIP port no Service
#                  serves (kube-proxy does not translate it, so it follows the default route) and a pod-range
#                  address no node owns. It passes only if the guard's counters show the probes arrived at the
#                  host and the counters on the external interface for those destinations stayed at zero.
source "$(dirname "$0")/lib.sh"

EXT=$(ip route show default | awk '{for (i = 1; i < NF; i++) if ($i == "dev") {print $(i + 1); exit}}')
[ -n "$EXT" ] || die "guard: no default route, cannot tell the external interface"
TAG="k8s-netcourse-guard"
RANGES=(10.96.0.0/16 10.244.0.0/16 192.168.0.0/16)   # Services; pods (kindnet); pods (calico profile)

up() {
    iptables -N DOCKER-USER 2>/dev/null || true
    iptables -C DOCKER-USER -o "$EXT" -m comment --comment "$TAG" -j DROP 2>/dev/null \
        || iptables -I DOCKER-USER 1 -o "$EXT" -m comment --comment "$TAG" -j DROP
    ip6tables -C FORWARD -o "$EXT" -m comment --comment "$TAG" -j DROP 2>/dev/null \
        || ip6tables -I FORWARD 1 -o "$EXT" -m comment --comment "$TAG" -j DROP
    for r in "${RANGES[@]}"; do
        # only where the host has no route of its own for the range (a route it has is not ours to replace)
        current=$(ip route show "$r")
        case "$current" in "") ip route add unreachable "$r" ;; unreachable*) ;; *) log "guard: $r already routed ($current): left alone" ;; esac
    done
    log "guard: up (external interface $EXT: forwarded packets dropped; ${RANGES[*]} unreachable from the host)"
}

# counting rules (no target: they only count) for the probe destinations: arriving at the host
# (mangle PREROUTING) and leaving through $EXT (mangle POSTROUTING)
count_rules() { # ACTION(-I|-D)
    local act="$1" dst pos=""
    [ "$act" = -I ] && pos=1
    for dst in "$PROBE_SVC" "$PROBE_POD"; do
        iptables -t mangle "$act" PREROUTING $pos -d "$dst" -m comment --comment "$TAG-seen" 2>/dev/null || true
        iptables -t mangle "$act" POSTROUTING $pos -o "$EXT" -d "$dst" -m comment --comment "$TAG-left" 2>/dev/null || true
    done
}
packets() { # TABLE CHAIN COMMENT
    iptables -t "$1" -L "$2" -v -n -x | awk -v c="/* $3 */" 'index($0, c) {n += $1} END {print n + 0}'
}

test_guard() {
    local ctx="$1" ns="netcourse-guard" node
    PROBE_SVC=10.96.0.1     # the `kubernetes` Service: port 443 served, port 81 not
    PROBE_POD=10.244.250.9  # inside the pod range, in no node's podCIDR
    iptables -C DOCKER-USER -o "$EXT" -m comment --comment "$TAG" -j DROP 2>/dev/null || die "guard: not up"
    count_rules -I
    trap 'count_rules -D; kubectl --context "$ctx" delete namespace "$ns" --wait=false >/dev/null 2>&1 || true' RETURN
    # The last run deletes its namespace without waiting: let a terminating one go first.
    kubectl --context "$ctx" wait --for=delete namespace/"$ns" --timeout=120s >/dev/null 2>&1 || true
    kubectl --context "$ctx" create namespace "$ns" >/dev/null
    # A pod is refused until the controller-manager has made the namespace's default ServiceAccount
    # (seen in CI: 'serviceaccount "default" not found' one second after the namespace appeared).
    local i
    for i in $(seq 60); do
        kubectl --context "$ctx" -n "$ns" get serviceaccount default >/dev/null 2>&1 && break
        [ "$i" -lt 60 ] || die "guard: namespace $ns got no default ServiceAccount within 60 s"
        sleep 1
    done
    kubectl --context "$ctx" -n "$ns" run probe --restart=Never --image="$AGNHOST_IMAGE" --image-pull-policy=IfNotPresent \
        --labels=app.kubernetes.io/managed-by=k8s-netcourse-ci --command -- sleep 600 >/dev/null
    kubectl --context "$ctx" -n "$ns" wait --for=condition=Ready pod/probe --timeout=180s >/dev/null \
        || die "guard: the probe pod did not start: $(kubectl --context "$ctx" -n "$ns" describe pod probe | tail -5)"
    node=$(kubectl --context "$ctx" -n "$ns" get pod probe -o jsonpath='{.spec.nodeName}')
    local out
    for target in "$PROBE_SVC:81" "$PROBE_POD:80"; do
        out=$(kubectl --context "$ctx" -n "$ns" exec probe -- /agnhost connect "$target" --timeout=3s 2>&1) \
            && die "guard: pod probe to $target CONNECTED: something answered outside the cluster"
        log "guard: pod probe to $target: ${out:-failed} (expected: not connected)"
        docker exec "$node" curl -sS --max-time 3 "http://$target/" >/dev/null 2>&1 \
            && die "guard: node probe to $target CONNECTED"
    done
    local seen left
    seen=$(packets mangle PREROUTING "$TAG-seen"); left=$(packets mangle POSTROUTING "$TAG-left")
    log "guard: probe packets that reached the host: $seen; that left through $EXT: $left"
    [ "$left" -eq 0 ] || die "guard: $left probe packets LEFT the machine through $EXT"
    [ "$seen" -gt 0 ] || die "guard: no probe packet reached the host: the test proved nothing (check where they went)"
    local dropped
    dropped=$(packets filter DOCKER-USER "$TAG")
    log "guard: holds (stray cluster packets reach the host and stop there; DOCKER-USER drop toward $EXT has dropped $dropped packets so far)"
}

case "${1:-}" in
    up) up ;;
    test) test_guard "${2:?usage: guard.sh test CONTEXT}" ;;
    *) die "usage: guard.sh up | test CONTEXT" ;;
esac
