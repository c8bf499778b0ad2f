#!/usr/bin/env bash
# Sizes of the connector images built with buildah (make verify-images tags
# them `local`): the whole image uncompressed, and what each adds on top of
# the Node base, gzip-compressed as a registry would store it.
#
#   images/sizes.sh [TAG]
set -euo pipefail
cd "$(dirname "$0")/.."
export STORAGE_DRIVER=${STORAGE_DRIVER:-overlay}
tag=${1:-local}
repo=${IMAGE_REPO:-ghcr.io/tributary-dev}
base=$(images/base.sh)
base_layers=$(buildah inspect --type image "$base" | node -e 'console.log(JSON.parse(require("fs").readFileSync(0, "utf8")).OCIv1.rootfs.diff_ids.length)')
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
printf '%-22s %14s %14s %18s\n' image uncompressed compressed "added to the base"
for name in $(node bin/tributary list | cut -f1); do
  ref=$repo/$name:$tag
  buildah push --quiet "$ref" "oci:$out:$name" >/dev/null
  read -r total above < <(node -e '
    const fs = require("fs");
    const [dir, name, skip] = process.argv.slice(1);
    const index = JSON.parse(fs.readFileSync(`${dir}/index.json`, "utf8"));
    const desc = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === name);
    const manifest = JSON.parse(fs.readFileSync(`${dir}/blobs/${desc.digest.replace(":", "/")}`, "utf8"));
    const sizes = manifest.layers.map((l) => l.size);
    const sum = (a) => a.reduce((x, y) => x + y, 0);
    console.log(sum(sizes), sum(sizes.slice(Number(skip))));
  ' "$out" "$name" "$base_layers")
  layers=$(buildah inspect --type image "$ref" | node -e '
    const j = JSON.parse(require("fs").readFileSync(0, "utf8"));
    console.log(j.OCIv1.rootfs.diff_ids.length)')
  uncompressed=$(buildah images --format '{{.Size}}' "$ref" | awk 'NR == 1')
  printf '%-22s %14s %14s %18s\n' "$name" "$uncompressed" "$(mib "$total")" "$(mib "$above") ($((layers - base_layers)) layers)"
done
