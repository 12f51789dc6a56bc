#!/usr/bin/env bash
# Base images for machines that reach Debian's package archive but no image registry: a Debian 12
# root filesystem made with debootstrap and `docker import`ed, then, on top of it, stand-ins for
# the official images deploy/compose.yaml names (python, node, postgres, redis, rabbitmq,
# mosquitto, nginx, prometheus), each providing the part of the official image's interface the
# compose file uses.
# Grafana is not packaged by Debian: there is no local stand-in for it.
#   DOCKER_HOST=unix://… deploy/local/base-images.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=${EMSYNC_IMAGE_WORK:-/var/tmp/emsync-images}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKER=${DOCKER:-/usr/bin/docker}
export DOCKER_BUILDKIT=0
PREFIX=emsync-local

have() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

mkdir -p "$WORK"
if ! have "$PREFIX/debian-rootfs:bookworm"; then
  rm -rf "$WORK/rootfs"
  # python3-venv for the app's virtualenv; ca-certificates for apt over HTTPS and TLS clients.
  debootstrap --variant=minbase --include=ca-certificates,python3,python3-venv \
    bookworm "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
    || { tail -20 "$WORK/debootstrap.log" >&2; exit 1; }
  rm -rf "$WORK/rootfs"/var/lib/apt/lists/* "$WORK/rootfs"/var/cache/apt/archives/*.deb
  tar -C "$WORK/rootfs" -c . | "$DOCKER" import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'CMD ["bash"]' - "$PREFIX/debian-rootfs:bookworm"
  rm -rf "$WORK/rootfs"
fi
# This machine reaches PyPI and npm through a TLS-inspecting egress proxy whose CA is in the
# machine's trust store (/usr/local/share/ca-certificates): the local images trust it too, and
# pip, uv and npm are pointed at the system bundle (they carry their own roots otherwise).
if ! have "$PREFIX/debian:bookworm"; then
  rm -rf "$WORK/ca" && mkdir -p "$WORK/ca"
  cp /usr/local/share/ca-certificates/*.crt "$WORK/ca/" 2>/dev/null || true
  cat >"$WORK/ca/Dockerfile" <<DOCKERFILE
FROM $PREFIX/debian-rootfs:bookworm
COPY . /usr/local/share/ca-certificates/
RUN rm -f /usr/local/share/ca-certificates/Dockerfile && update-ca-certificates >/dev/null
ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \\
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \\
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
DOCKERFILE
  "$DOCKER" build -q -t "$PREFIX/debian:bookworm" "$WORK/ca"
fi
# Debian's python3 is 3.11, as the official python:3.11 image.
have "$PREFIX/python:3.11" || "$DOCKER" tag "$PREFIX/debian:bookworm" "$PREFIX/python:3.11"

# Node.js 20 (vite needs >= 20.19; Debian 12 has 18): this machine's own node binary and npm
# (npm as the machine updated it, so the whole folder rather than the package's file list).
if ! have "$PREFIX/node:20"; then
  rm -rf "$WORK/node" && mkdir -p "$WORK/node"
  tar -C / -cf "$WORK/node/nodejs.tar" usr/bin/node usr/bin/npm usr/bin/npx usr/lib/node_modules/npm
  printf 'FROM %s/debian:bookworm\nADD nodejs.tar /\nRUN node --version && npm --version\n' \
    "$PREFIX" >"$WORK/node/Dockerfile"
  "$DOCKER" build --network host -q -t "$PREFIX/node:20" "$WORK/node"
fi

for name in postgres redis rabbitmq mosquitto nginx prometheus; do
  have "$PREFIX/$name:local" || "$DOCKER" build --network host -q \
    -t "$PREFIX/$name:local" -f "$HERE/images/$name.Dockerfile" "$HERE/images"
done
"$DOCKER" images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | grep "^$PREFIX/"
