#!/usr/bin/env bash
# Runs an image the way a container runtime would: its ENTRYPOINT and CMD,
# read from the image's configuration and run verbatim (buildah run ignores
# them), as the image's user, with stdin, stdout and stderr passed through.
# The process shares the host's network, so services on 127.0.0.1 answer.
#
#   images/run.sh [--container NAME] IMAGE [ARG...]
#
# FLOW_RUNTIME_CODEC, LOG_FORMAT and LOG_LEVEL pass through from the caller,
# as Flow's runtime sets them for a connector. Without --container a working
# container is made for this run and removed after it; with one (made by
# `buildah from --pull=never IMAGE`), this process becomes `buildah run`,
# whose death takes the connector with it.
set -euo pipefail
export STORAGE_DRIVER=${STORAGE_DRIVER:-overlay}

ctr=
if [ "${1:-}" = --container ]; then ctr=$2; shift 2; fi
[ $# -ge 1 ] || { echo "usage: images/run.sh [--container NAME] IMAGE [ARG...]" >&2; exit 2; }
image=$1
shift

config=$(buildah inspect --type image "$image")
# The image's user first (root when it names none, as Docker does), then argv.
mapfile -d '' argv < <(node -e '
  const c = JSON.parse(require("fs").readFileSync(0, "utf8")).OCIv1.config;
  for (const a of [c.User || "0", ...(c.Entrypoint ?? []), ...(c.Cmd ?? [])]) process.stdout.write(a + "\0");
' <<<"$config")
user=${argv[0]}
argv=("${argv[@]:1}" "$@")
[ ${#argv[@]} -gt 0 ] || { echo "images/run.sh: $image has neither ENTRYPOINT nor CMD" >&2; exit 1; }

opts=(--user "$user")
for k in FLOW_RUNTIME_CODEC LOG_FORMAT LOG_LEVEL; do
  [ -n "${!k:-}" ] && opts+=(--env "$k=${!k}")
done

if [ -n "$ctr" ]; then
  exec buildah run --isolation=chroot "${opts[@]}" "$ctr" -- "${argv[@]}"
fi
ctr=$(buildah from --pull=never "$image")
trap 'buildah rm "$ctr" >/dev/null' EXIT
status=0
buildah run --isolation=chroot "${opts[@]}" "$ctr" -- "${argv[@]}" || status=$?
exit "$status"
