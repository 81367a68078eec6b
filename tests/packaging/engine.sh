#!/usr/bin/env bash
# Docker for the image tests (`make docker-test`): Debian's engine (dockerd, containerd, runc),
# the Python docker-compose and debootstrap, installed when missing; dockerd started when no
# daemon answers. Idempotent: a running engine is left as it is.
#
# The machines this project runs on are no systemd machines, so dockerd is started here, in the
# background, its log in $DOCKERD_LOG. It keeps its defaults (overlay2, the docker0 bridge):
# they work on these VMs (cgroup v1, root with all capabilities but CAP_SYS_RESOURCE). Builds
# and the gateway's container use the host's network (`--network host`) all the same, so that
# nothing depends on the bridge's NAT.
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/ocpp-mqtt-dockerd.log}
SUDO=$( [ "$(id -u)" = 0 ] || echo sudo )

missing=()
command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing ${missing[*]} (apt-get)"
  log=$(mktemp)
  { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
      $SUDO apt-get install -y -qq "${missing[@]}"; } >"$log" 2>&1 \
    || { tail -n 30 "$log" >&2; rm -f "$log"; exit 1; }
  rm -f "$log"
fi

# Debian's client, of the engine's version: the image on these machines may carry a newer
# docker client in /usr/local/bin whose `docker build` wants the buildx plugin.
DOCKER=/usr/bin/docker
if $DOCKER info >/dev/null 2>&1; then
  exit 0
fi
echo "starting dockerd (log: $DOCKERD_LOG)"
$SUDO sh -c "setsid dockerd >>'$DOCKERD_LOG' 2>&1 < /dev/null &"
for _ in $(seq 1 60); do
  if $DOCKER info >/dev/null 2>&1; then
    exit 0
  fi
  sleep 0.5
done
echo "dockerd did not answer within 30 s; the end of $DOCKERD_LOG:" >&2
tail -n 30 "$DOCKERD_LOG" >&2
exit 1
