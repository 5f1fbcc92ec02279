#!/usr/bin/env bash
# Make sure a Docker Engine runs with our runc wrapper as its default runtime (see runc-wrapper).
# Starts dockerd when none answers (PID in /run/k8s-netcourse/dockerd.pid, log in
# /var/log/k8s-netcourse-dockerd.log); refuses to go on when a dockerd without the wrapper runs.
source "$(dirname "$0")/lib.sh"

WRAPPER=/usr/local/libexec/k8s-netcourse/runc-wrapper
CONF=/etc/k8s-netcourse/docker-daemon.json
install -D -m 0755 "$BUILD_DIR/runc-wrapper" "$WRAPPER"
mkdir -p /etc/k8s-netcourse /run/k8s-netcourse
cat > "$CONF" <<JSON
{
  "runtimes": {"netcourse-runc": {"path": "$WRAPPER"}},
  "default-runtime": "netcourse-runc",
  "storage-driver": "overlay2",
  "log-driver": "json-file",
  "log-opts": {"max-size": "10m", "max-file": "2"}
}
JSON

if docker info >/dev/null 2>&1; then
    rt=$(docker info --format '{{.DefaultRuntime}}')
    [ "$rt" = netcourse-runc ] || die "a Docker Engine already runs with default runtime '$rt': kind's --privileged nodes fail on this machine without the netcourse-runc wrapper. Restart it with: dockerd --config-file $CONF"
    log "dockerd: running (default runtime $rt)"
    exit 0
fi
command -v dockerd >/dev/null || die "dockerd is not installed (apt-get install docker.io)"
log "dockerd: starting (config $CONF)"
setsid nohup dockerd --config-file "$CONF" >>/var/log/k8s-netcourse-dockerd.log 2>&1 < /dev/null &
echo $! > /run/k8s-netcourse/dockerd.pid
for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
done
docker info >/dev/null 2>&1 || { tail -20 /var/log/k8s-netcourse-dockerd.log >&2; die "dockerd did not answer within 60 s"; }
log "dockerd: up, PID $(cat /run/k8s-netcourse/dockerd.pid), $(docker version --format '{{.Server.Version}}')"
