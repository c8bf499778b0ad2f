#!/usr/bin/env bash
# Builds connector images from the shared Dockerfile, with `docker build`
# where a Docker engine answers and with buildah otherwise.
#
#   images/build.sh [--tag TAG] [--base IMAGE] [--file DOCKERFILE] [CONNECTOR...]
#
# Every connector of `tributary list` by default (so run `npm run build`
# first), each as $IMAGE_REPO/<connector>:TAG (default
# ghcr.io/tributary-dev/<connector>:dev). --base selects a local base image
# (images/base.sh makes one), which buildah then never tries to pull.
# IMAGE_BUILDER=docker|buildah overrides the choice of tool.
set -euo pipefail
cd "$(dirname "$0")/.."

repo=${IMAGE_REPO:-ghcr.io/tributary-dev}
tag=dev
base=
file=Dockerfile
names=()
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --base) base=$2; shift 2 ;;
    --file) file=$2; shift 2 ;;
    -*) echo "images/build.sh: unknown option $1" >&2; exit 2 ;;
    *) names+=("$1"); shift ;;
  esac
done

builder=${IMAGE_BUILDER:-}
if [ -z "$builder" ]; then
  if timeout 30 docker info >/dev/null 2>&1; then builder=docker
  elif command -v buildah >/dev/null; then builder=buildah
  else echo "images/build.sh: neither a Docker engine nor buildah is available" >&2; exit 1
  fi
fi
export STORAGE_DRIVER=${STORAGE_DRIVER:-overlay}

# buildah without a registry (as on this project's machines): build on the
# local stand-in for the pinned base rather than fail to pull it.
if [ "$builder" = buildah ] && [ -z "$base" ]; then
  pinned=$(sed -n 's/^ARG BASE=//p' "$file" | head -1)
  if [ -n "$pinned" ] && ! buildah inspect --type image "$pinned" >/dev/null 2>&1 &&
    ! timeout 300 buildah pull --quiet --arch amd64 "$pinned" >/dev/null 2>&1; then
    echo "images/build.sh: cannot pull $pinned; building on the local stand-in (images/base.sh)" >&2
    base=$(images/base.sh)
  fi
fi

# The extra CA bundle npm uses here, if any, goes to the build as a secret.
ca=${NODE_EXTRA_CA_CERTS:-}
if [ -z "$ca" ]; then
  ca=$(npm config get cafile 2>/dev/null || true)
  [ "$ca" = null ] || [ "$ca" = undefined ] && ca=
fi

list=$(node bin/tributary list)
[ ${#names[@]} -gt 0 ] || mapfile -t names < <(cut -f1 <<<"$list")
version=$(node -p 'require("./package.json").version')

for name in "${names[@]}"; do
  protocol=$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' <<<"$list")
  if [ -z "$protocol" ]; then
    echo "images/build.sh: no connector named $name (tributary list: $(cut -f1 <<<"$list" | tr '\n' ' '))" >&2
    exit 1
  fi
  args=(-f "$file" -t "$repo/$name:$tag"
    --build-arg "CONNECTOR=$name" --build-arg "PROTOCOL=$protocol" --build-arg "VERSION=$version")
  [ -n "$base" ] && args+=(--build-arg "BASE=$base")
  [ -n "$ca" ] && args+=(--secret "id=npm_ca,src=$ca")
  echo "== $builder: $repo/$name:$tag ($protocol)" >&2
  start=$(date +%s)
  if [ "$builder" = docker ]; then
    DOCKER_BUILDKIT=1 docker build --platform linux/amd64 "${args[@]}" .
  else
    pull=()
    [ -n "$base" ] && pull=(--pull=never)
    buildah bud --isolation=chroot --layers --force-rm "${pull[@]}" "${args[@]}" .
  fi
  echo "== built $repo/$name:$tag in $(( $(date +%s) - start )) s" >&2
done
