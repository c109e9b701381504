#!/usr/bin/env bash
# Builds the e2e cluster's sandbox image, localhost/e2e/pause:1, from this
# module with buildah (FROM scratch: nothing is pulled) and writes it as a
# docker archive to $1 (default .e2e/images/pause.tar) for `ctr images import`.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-$here/../../.e2e/images/pause.tar}
ref=localhost/e2e/pause:1
work=$(mktemp -d)
ctr=
trap '[[ -n $ctr ]] && buildah rm "$ctr" >/dev/null 2>&1; rm -rf "$work"' EXIT
mkdir -p "$(dirname "$out")"
CGO_ENABLED=0 "${GO:-go}" build -C "$here" -trimpath -ldflags "-s -w" -o "$work/pause" .
ctr=$(buildah from --quiet scratch)
buildah copy --quiet --chown 0:0 "$ctr" "$work/pause" /pause >/dev/null
buildah config --os linux --arch "$("${GO:-go}" env GOARCH)" --user 65535:65535 \
	--entrypoint '["/pause"]' --cmd '' "$ctr"
buildah commit --quiet --format oci --rm "$ctr" "$ref" >/dev/null
ctr=
rm -f "$out"
buildah push --quiet "$ref" "docker-archive:$out:$ref"
echo "$ref -> $out"
