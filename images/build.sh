#!/usr/bin/env bash
# Build one service image without a Docker daemon.
#
#   images/build.sh SERVICE IMAGE_REF
#
# Compiles services/SERVICE into a static binary and commits it, FROM
# scratch, as IMAGE_REF in the local containers-storage (what buildah and
# podman share). Nothing is pulled from a registry. With PUSH_IMAGE=true
# (skaffold's custom builder sets it) IMAGE_REF is pushed afterwards; a
# registry on plain HTTP needs an `insecure = true` entry in registries.conf
# (or CONTAINERS_REGISTRIES_CONF naming one).
#
# The image holds only the binary, the host's CA bundle (TLS to managed
# databases and brokers), /etc/passwd and /etc/group naming the non-root
# user 65532, and an empty /tmp: no shell, no package manager.
#
# Environment: VERSION (default: git describe --tags --always --dirty),
# GOARCH (default: the Go toolchain's), GO (default: go), SOURCE_DATE_EPOCH
# (the image's creation time; default: now), IMAGE_SOURCE, IMAGE_LICENSES.
set -euo pipefail

if [[ $# -ne 2 ]]; then
	echo "usage: $0 SERVICE IMAGE_REF" >&2
	exit 2
fi
service=$1 ref=$2
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=$root/services/$service
if [[ ! -f $src/main.go ]]; then
	echo "$0: no service $service (want one of: $(cd "$root/services" && ls -d */main.go | cut -d/ -f1 | tr '\n' ' '))" >&2
	exit 2
fi
for tool in buildah "${GO:-go}"; do
	command -v "$tool" >/dev/null || { echo "$0: $tool is not installed" >&2; exit 1; }
done
go=${GO:-go}

# The host's bundle, where Debian and Alpine keep it; Go looks there first.
cacerts=/etc/ssl/certs/ca-certificates.crt
[[ -s $cacerts ]] || { echo "$0: no CA bundle at $cacerts (apt-get install ca-certificates)" >&2; exit 1; }

git() { command git -C "$root" "$@" 2>/dev/null; }
version=${VERSION:-$(git describe --tags --always --dirty || echo dev)}
revision=$(git rev-parse HEAD || echo unknown)
source=${IMAGE_SOURCE:-https://github.com/travluk/ecom}
# The repository declares no licence yet: say so rather than guess one.
licenses=${IMAGE_LICENSES:-NOASSERTION}
created_epoch=${SOURCE_DATE_EPOCH:-$(date +%s)}
created=$(date -u -d "@$created_epoch" +%Y-%m-%dT%H:%M:%SZ)
goarch=$("$go" env GOARCH)
# The package comment's first sentence ("Command customer runs ...").
description=$("$go" list -C "$src" -f '{{.Doc}}' .)

work=$(mktemp -d)
ctr=
cleanup() {
	[[ -n $ctr ]] && buildah rm "$ctr" >/dev/null 2>&1
	rm -rf "$work"
}
trap cleanup EXIT

# The root filesystem, staged here and copied in as one layer.
rootfs=$work/rootfs
mkdir -p "$rootfs/etc/ssl/certs" "$rootfs/tmp"
chmod 1777 "$rootfs/tmp"
# No cgo: the binary needs no C library or loader, which scratch lacks.
# -s -w drop the symbol table and debug information. The version lives in
# the image's labels; the binary carries its module and VCS build info.
CGO_ENABLED=0 GOOS=linux GOARCH=$goarch "$go" build -C "$src" -trimpath \
	-ldflags "-s -w" -o "$rootfs/$service" .
cp "$cacerts" "$rootfs/etc/ssl/certs/ca-certificates.crt"
# Named, so that tools showing users (ps, kubectl debug) have a name to show.
echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' >"$rootfs/etc/passwd"
echo 'nonroot:x:65532:' >"$rootfs/etc/group"

ctr=$(buildah from --quiet scratch)
buildah copy --quiet --chown 0:0 "$ctr" "$rootfs" / >/dev/null

meta=(
	org.opencontainers.image.source="$source"
	org.opencontainers.image.version="$version"
	org.opencontainers.image.revision="$revision"
	org.opencontainers.image.title="travluk-$service"
	org.opencontainers.image.description="$description"
	org.opencontainers.image.licenses="$licenses"
	org.opencontainers.image.created="$created"
)
config=(--os linux --arch "$goarch" --user 65532:65532 --workingdir /
	--entrypoint "[\"/$service\"]" --cmd '' --port 8080/tcp
	--created-by "images/build.sh $service")
for kv in "${meta[@]}"; do config+=(--label "$kv" --annotation "$kv"); done
buildah config "${config[@]}" "$ctr"
buildah commit --quiet --format oci --timestamp "$created_epoch" --rm "$ctr" "$ref" >/dev/null
ctr=

if [[ ${PUSH_IMAGE:-false} == true ]]; then
	buildah push --quiet "$ref"
fi
echo "$ref $(buildah images --noheading --format '{{.Size}}' "$ref" | head -1)"
