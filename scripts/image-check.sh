#!/usr/bin/env bash
# Builds the Dockerfile with podman and checks the image: it serves the example models, its HEALTHCHECK passes, it
# runs as non-root without build tools, and SIGTERM turns it unhealthy, then exits 0. Not part of CI (README, Deploy).
#
# Where the node base images cannot be pulled (no registry reachable, as on the machine this was written on), it
# makes stand-ins under the same tags from Debian trixie with mmdebstrap (Debian's nodejs 20 instead of the official
# image's Node; both glibc 2.41), so the Dockerfile itself is built unchanged.
#   PODMAN     podman command (default "podman"; e.g. "podman --runtime /usr/sbin/runc" where crun cannot run)
#   NODE_VERSION  as the Dockerfile's ARG (default 20.20.0)
# A proxy that re-signs TLS: its CA bundle in NODE_EXTRA_CA_CERTS is copied into the build stand-in, so npm ci works.
set -euo pipefail
cd "$(dirname "$0")/.."
PODMAN=${PODMAN:-podman}
NODE_VERSION=${NODE_VERSION:-20.20.0}
tag=ortserve:image-check
name=ortserve-image-check-$$
work=$(mktemp -d)
trap '$PODMAN rm -f "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT

# base_image TAG PACKAGES: the tag, pulled, or else a stand-in bootstrapped from Debian trixie.
base_image() {
  local ref=docker.io/library/$1
  $PODMAN image exists "$ref" && return
  $PODMAN pull -q "$ref" >/dev/null 2>&1 && return
  echo "image-check: $ref cannot be pulled; bootstrapping a Debian trixie stand-in ($2)"
  command -v mmdebstrap >/dev/null || { echo "image-check: needs mmdebstrap (apt-get install mmdebstrap)"; exit 1; }
  mmdebstrap --quiet --variant=minbase --include="$2" trixie "$work/rootfs.tar" http://deb.debian.org/debian
  $PODMAN import -q "$work/rootfs.tar" "$ref-rootfs" >/dev/null
  rm -f "$work/rootfs.tar"
  { echo "FROM $ref-rootfs"
    if [ -n "${NODE_EXTRA_CA_CERTS:-}" ] && [ -f "$NODE_EXTRA_CA_CERTS" ]; then
      cp "$NODE_EXTRA_CA_CERTS" "$work/extra-ca.crt"
      echo 'COPY extra-ca.crt /etc/ssl/certs/extra-ca.crt'
      echo 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/extra-ca.crt'
    fi; } > "$work/Containerfile"
  $PODMAN build -q --pull=never -t "$ref" -f "$work/Containerfile" "$work" >/dev/null
}
base_image "node:$NODE_VERSION-trixie" ca-certificates,nodejs,npm
base_image "node:$NODE_VERSION-trixie-slim" ca-certificates,nodejs

# --format docker keeps the HEALTHCHECK (the OCI image format has none).
$PODMAN build -q --pull=never --format docker --build-arg "NODE_VERSION=$NODE_VERSION" -t "$tag" . >/dev/null
echo "image-check: built $tag ($($PODMAN image inspect "$tag" --format '{{.Size}}') bytes)"
$PODMAN run -d --name "$name" -p 127.0.0.1::8501 -p 127.0.0.1::8500 "$tag" >/dev/null
rest=$($PODMAN port "$name" 8501/tcp | sed 's/.*://')
for _ in $(seq 1 120); do
  curl -sf "http://127.0.0.1:$rest/v2/health/ready" >/dev/null && break
  sleep 1
done
fail() { echo "image-check: FAILED: $*"; $PODMAN logs "$name" 2>&1 | tail -20; exit 1; }
answer=$(curl -s -X POST "http://127.0.0.1:$rest/v1/models/mlp:predict" -d '{"instances": [[1, 2, 3, 4]]}')
# examples/models/README.md: mlp version 2 maps [1, 2, 3, 4] to [3.75, -3.25, 1].
[ "$answer" = '{"predictions":[[3.75,-3.25,1.0]]}' ] || fail "predict answered $answer"
$PODMAN healthcheck run "$name" >/dev/null 2>&1 || fail "HEALTHCHECK failed on a ready server"
[ "$($PODMAN exec "$name" id -u)" != 0 ] || fail "runs as root"
for tool in cmake g++ gcc make npm; do
  if $PODMAN exec "$name" sh -c "command -v $tool" >/dev/null; then fail "$tool is in the runtime image"; fi
done
[ "$($PODMAN exec "$name" cat /proc/1/comm)" = tini ] || fail "PID 1 is not tini"
$PODMAN kill --signal TERM "$name" >/dev/null
if $PODMAN healthcheck run "$name" >/dev/null 2>&1; then fail "HEALTHCHECK still passes after SIGTERM"; fi
code=$($PODMAN wait "$name")
[ "$code" = 0 ] || fail "exit code $code after SIGTERM"
echo "image-check: ok (served mlp, healthy, uid $($PODMAN inspect "$tag" --format '{{.Config.User}}'), no build tools, tini, unhealthy on SIGTERM, exit 0)"
