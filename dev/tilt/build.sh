#!/usr/bin/env bash
# Dev-only: builds and pushes the `tilt up` image of one service.
#
#   dev/tilt/build.sh SERVICE IMAGE_REF
#
# Tilt's custom_build runs it with IMAGE_REF=$EXPECTED_REF, which names the dev
# cluster's registry. It builds the production image with images/build.sh
# (kept local, never pushed), layers dev/tilt/Containerfile on it with buildah
# and pushes the result. Pushes to a registry on localhost skip TLS
# verification: the local registries of kind, k3d and minikube speak plain HTTP.
# PUSH_IMAGE=false keeps the image in the local containers-storage (make e2e
# loads it into its node's containerd); BUSYBOX_IMAGE names where busybox
# comes from (dev/tilt/Containerfile).
set -euo pipefail
if [[ $# -ne 2 ]]; then
	echo "usage: $0 SERVICE IMAGE_REF" >&2
	exit 2
fi
service=$1 ref=$2
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
base=localhost/travluk-tilt-base/$service:latest

PUSH_IMAGE=false "$here/../../images/build.sh" "$service" "$base"
buildah build --quiet --layers --pull=missing \
	--build-arg BASE="$base" --build-arg SERVICE="$service" \
	${BUSYBOX_IMAGE:+--build-arg BUSYBOX_IMAGE="$BUSYBOX_IMAGE"} \
	-f "$here/Containerfile" -t "$ref" "$here" >/dev/null
[[ ${PUSH_IMAGE:-true} == true ]] || exit 0
tls=true
case $ref in localhost[:/]* | 127.0.0.1[:/]*) tls=false ;; esac
buildah push --quiet --tls-verify="$tls" "$ref"
