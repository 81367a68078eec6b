#!/usr/bin/env bash
# Local stand-ins for the two images compose.yaml and the Dockerfile pull from Docker Hub, which
# these machines cannot reach, built from Debian's archive:
#   ocpp-mqtt-test/python:bookworm     Debian bookworm (minbase) with its python3.11 and venv,
#                                      in place of python:3.11-slim (Dockerfile's PYTHON_IMAGE)
#   ocpp-mqtt-test/mosquitto:bookworm  the same with Debian's mosquitto (and its clients), as
#                                      eclipse-mosquitto:2 is (/mosquitto/config, /mosquitto/data)
# The debootstrap tree is cached as a tarball in .cache/docker/, one a day (a new day
# bootstraps afresh, with the archive's updates, and so does a change to this script); both
# images carry that key as a label, so a rerun the same day does nothing. Needs root
# (debootstrap, chroot) and a running engine (tests/packaging/engine.sh).
set -euo pipefail
SELF=$(realpath "$0")
cd "$(dirname "$SELF")/../.."

DOCKER=${DOCKER:-/usr/bin/docker}
PYTHON_IMAGE=ocpp-mqtt-test/python:bookworm
MOSQUITTO_IMAGE=ocpp-mqtt-test/mosquitto:bookworm
# Rebuilt each day, and whenever this script changes.
DAY=$(date -u +%Y%m%d)-$(sha256sum "$SELF" | cut -c1-8)
CACHE=.cache/docker
TARBALL=$CACHE/debian-bookworm-python-$DAY.tar
LABEL=org.ocpp-mqtt.test-base

day_of() { $DOCKER image inspect -f "{{ index .Config.Labels \"$LABEL\" }}" "$1" 2>/dev/null || true; }

# The mirror apt uses here (deb822 sources or a classic list), else Debian's own.
mirror() {
  local found
  found=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\).*/\1/p' /etc/apt/sources.list.d/*.sources 2>/dev/null \
          | grep -v security | head -n 1 || true)
  [ -n "$found" ] || found=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' \
                             /etc/apt/sources.list 2>/dev/null || true)
  echo "${found:-http://deb.debian.org/debian}"
}

if [ "$(day_of $PYTHON_IMAGE)" != "$DAY" ]; then
  if [ ! -s "$TARBALL" ]; then
    mkdir -p "$CACHE"
    rm -f "$CACHE"/debian-bookworm-python-*.tar
    root=$(mktemp -d /var/tmp/ocpp-mqtt-debootstrap.XXXXXX)
    trap 'rm -rf "$root"' EXIT
    echo "debootstrap bookworm (minbase, python3, python3-venv) from $(mirror)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
      bookworm "$root" "$(mirror)" > "$CACHE/debootstrap.log" 2>&1 \
      || { tail -n 20 "$CACHE/debootstrap.log" >&2; exit 1; }
    # The host's own certificate authorities (an HTTPS proxy's, on these machines) so that pip
    # in the image reaches PyPI as pip on the host does.
    if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
      cp /usr/local/share/ca-certificates/*.crt "$root/usr/local/share/ca-certificates/"
      chroot "$root" update-ca-certificates >/dev/null 2>&1 \
        || { echo "update-ca-certificates failed in the new tree" >&2; exit 1; }
    fi
    # What an image does not need: apt's downloads and lists, documentation, translations.
    rm -rf "$root"/var/cache/apt/* "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
           "$root"/usr/share/man/* "$root"/usr/share/locale/* "$root"/usr/share/info/*
    tar -C "$root" --exclude=./dev/* --exclude=./proc/* --exclude=./sys/* \
      -cf "$TARBALL.part" .
    mv "$TARBALL.part" "$TARBALL"
    rm -rf "$root"
    trap - EXIT
  fi
  echo "importing $PYTHON_IMAGE"
  $DOCKER import \
    --change "LABEL $LABEL=$DAY" \
    --change "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
    --change "ENV LANG=C.UTF-8" \
    --change "ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt" \
    --change 'CMD ["python3"]' \
    "$TARBALL" "$PYTHON_IMAGE" >/dev/null
fi

if [ "$(day_of $MOSQUITTO_IMAGE)" != "$DAY" ]; then
  echo "building $MOSQUITTO_IMAGE"
  # eclipse-mosquitto:2's layout: the configuration in /mosquitto/config, the persistence in
  # /mosquitto/data, started as root and running as the user mosquitto (its default `user`).
  $DOCKER build -q --network host -t "$MOSQUITTO_IMAGE" - >/dev/null <<DOCKERFILE
FROM $PYTHON_IMAGE
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      mosquitto mosquitto-clients \
      >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /usr/share/doc/* \
 && mkdir -p /mosquitto/config /mosquitto/data /mosquitto/log \
 && cp /etc/mosquitto/mosquitto.conf /mosquitto/config/ \
 && chown -R mosquitto:mosquitto /mosquitto
LABEL $LABEL=$DAY
VOLUME ["/mosquitto/data", "/mosquitto/log"]
EXPOSE 1883
CMD ["/usr/sbin/mosquitto", "-c", "/mosquitto/config/mosquitto.conf"]
DOCKERFILE
fi
