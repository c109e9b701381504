#!/usr/bin/env bash
# make e2e's image loader for the dev loops (stage devloops): the e2e cluster
# has no registry, so skaffold's and Tilt's builds put their images straight
# into the node's containerd, as kind's and k3d's loaders do.
#
#   e2e/devloops/load-image.sh [--id-tag] IMAGE_REF
#
# Copies IMAGE_REF from the local containers-storage (where buildah built it)
# into containerd's k8s.io namespace under the name the kubelet resolves it to
# (travluk/order:x is docker.io/travluk/order:x). --id-tag also names it
# REPOSITORY:<image ID>: skaffold with push: false deploys that tag, which it
# reads through the Docker API (podman's, here). E2E_CONTAINERD_SOCK names
# containerd's socket.
set -euo pipefail
id_tag=false
if [[ ${1:-} == --id-tag ]]; then
	id_tag=true
	shift
fi
if [[ $# -ne 1 ]]; then
	echo "usage: $0 [--id-tag] IMAGE_REF" >&2
	exit 2
fi
: "${E2E_CONTAINERD_SOCK:?names the containerd socket of the e2e node}"
ref=$1

# canonical REF: the reference as containerd and the kubelet name it.
# ctr images import would normalise the archive's name by itself (containerd's
# importer parses Docker names), but ctr images tag takes names as stored, so
# the --id-tag needs the normalised name spelled out.
canonical() {
	local r=$1 first=${1%%/*}
	if [[ $r != */* ]]; then
		r=docker.io/library/$r
	elif [[ $first != *.* && $first != *:* && $first != localhost ]]; then
		r=docker.io/$r
	fi
	[[ ${r##*/} == *:* ]] || r+=:latest
	printf '%s' "$r"
}

name=$(canonical "$ref")
ctr() { command ctr --address "$E2E_CONTAINERD_SOCK" -n k8s.io "$@"; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
archive=$work/image.tar # buildah refuses to write over an existing file
buildah push --quiet "$ref" "docker-archive:$archive:$name" >/dev/null
ctr images import "$archive" >/dev/null
if [[ $id_tag == true ]]; then
	id=$(buildah images --no-trunc --quiet "$ref" | head -n 1)
	ctr images tag --force "$name" "${name%:*}:${id#sha256:}" >/dev/null
fi
echo "loaded $name into the e2e node's containerd"
