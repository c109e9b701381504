#!/usr/bin/env bash
# Builds the images of the cluster add-ons make e2e runs as pods, from the
# static binaries e2e/build-tools.sh put in BINDIR (nothing is pulled):
#
#   e2e/images/build-addons.sh BINDIR [OUTDIR]     (default OUTDIR .e2e/images)
#
#   localhost/e2e/prometheus-operator:e2e         the Prometheus Operator
#   localhost/e2e/prometheus-config-reloader:e2e  its sidecar in Prometheus pods
#   localhost/e2e/prometheus:e2e                  Prometheus
#   localhost/e2e/metrics-server:e2e              metrics-server
#   localhost/e2e/prometheus-adapter:e2e          prometheus-adapter
#   localhost/e2e/vpa-recommender:e2e             the VPA recommender
#   localhost/e2e/kube-network-policies:e2e       the NetworkPolicy controller
#
# All seven are one layer FROM scratch (the binaries, /etc/passwd and /etc/group
# naming nobody, 65534, and an empty /tmp), each with its own entrypoint, so
# containers-storage and containerd store the binaries once. They go into one
# multi-image archive, OUTDIR/addons.tar, for `ctr images import`. When the
# binaries and this script are unchanged since the archive was written
# (OUTDIR/addons.sum), nothing is rebuilt.
set -euo pipefail
bindir=${1:?usage: $0 BINDIR [OUTDIR]}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-$root/.e2e/images}
mkdir -p "$out"
archive=$out/addons.tar

# image name = binary in BINDIR
images=(prometheus-operator prometheus-config-reloader prometheus metrics-server prometheus-adapter vpa-recommender kube-network-policies)
for name in "${images[@]}"; do
	[[ -x $bindir/$name ]] || { echo "$0: $bindir/$name is missing (e2e/build-tools.sh builds it)" >&2; exit 1; }
done

sum=$( (cd "$bindir" && sha256sum "${images[@]}") ; sha256sum <"$0")
if [[ -s $archive && -f $out/addons.sum && $(cat "$out/addons.sum") == "$sum" ]]; then
	echo "== addons: images reused ($archive)"
	exit 0
fi

start=$SECONDS
work=$(mktemp -d)
ctr=
trap '[[ -n $ctr ]] && buildah rm "$ctr" >/dev/null 2>&1; rm -rf "$work"' EXIT
mkdir -p "$work/fs/bin" "$work/fs/etc" "$work/fs/tmp" "$work/fs/prometheus"
for name in "${images[@]}"; do
	cp "$bindir/$name" "$work/fs/bin/$name"
done
printf 'root:x:0:0:root:/:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\n' >"$work/fs/etc/passwd"
printf 'root:x:0:\nnobody:x:65534:\n' >"$work/fs/etc/group"
chmod 1777 "$work/fs/tmp"
# Prometheus's working directory and data path; the operator mounts a volume there.
chmod 0777 "$work/fs/prometheus"

ctr=$(buildah from --quiet scratch)
buildah copy --quiet --chown 0:0 "$ctr" "$work/fs" / >/dev/null
refs=()
for name in "${images[@]}"; do
	ref=localhost/e2e/$name:e2e
	workdir=/
	[[ $name == prometheus ]] && workdir=/prometheus
	buildah config --os linux --arch "$("${GO:-go}" env GOARCH)" --user 65534:65534 --workingdir "$workdir" \
		--entrypoint "[\"/bin/$name\"]" --cmd '' \
		--label "org.opencontainers.image.title=e2e-$name" \
		--created-by "e2e/images/build-addons.sh $name" "$ctr"
	buildah commit --quiet --format docker "$ctr" "$ref" >/dev/null
	refs+=("$ref")
done
buildah rm "$ctr" >/dev/null
ctr=

rm -f "$archive.new"
podman save --quiet --multi-image-archive --format docker-archive -o "$archive.new" "${refs[@]}"
mv -f "$archive.new" "$archive"
echo "$sum" >"$out/addons.sum"
echo "== addons: ${#refs[@]} images in $archive ($(du -h "$archive" | cut -f1)) in $((SECONDS - start)) s"
