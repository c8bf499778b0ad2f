#!/usr/bin/env bash
# `make verify-images`: builds every connector image on this machine with
# buildah, on the local Node base (images/base.sh, cached outside the
# repository), then checks them through their exact ENTRYPOINTs
# (test/images/): labels, user, files, Spec in both codecs, Discover, an
# end-to-end preview against the checkout, and broken Dockerfile copies.
set -euo pipefail
cd "$(dirname "$0")/.."
export STORAGE_DRIVER=${STORAGE_DRIVER:-overlay}
tag=${TRIBUTARY_VERIFY_IMAGES:-local}

start=$(date +%s)
base=$(images/base.sh)
based=$(date +%s)
IMAGE_BUILDER=buildah images/build.sh --base "$base" --tag "$tag"
built=$(date +%s)
status=0
# IMAGES_REPORT (set by .ci/run): also write vitest's JSON report there.
report_args=()
[ -z "${IMAGES_REPORT:-}" ] || report_args=(--reporter=default --reporter=json "--outputFile.json=$IMAGES_REPORT")
TRIBUTARY_VERIFY_IMAGES=$tag TRIBUTARY_IMAGE_BASE=$base npx vitest run test/images "${report_args[@]}" || status=$?
echo "verify-images: base $((based - start)) s, images $((built - based)) s, checks $(($(date +%s) - built)) s"
exit "$status"
