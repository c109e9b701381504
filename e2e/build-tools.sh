#!/usr/bin/env bash
# Builds every program the e2e cluster runs from the pinned modules in e2e/tools/
# into E2E_BIN (default .e2e/bin). go build's cache makes a warm run take seconds;
# a cold one takes 20-30 minutes on 2 cores, most of it kube-apiserver and Traefik.
# Each module lies outside go.work (GOWORK=off): their dependency graphs are their own.
set -euo pipefail
cd "$(dirname "$0")/tools"
bin=${E2E_BIN:-$(cd ../.. && pwd)/.e2e/bin}
mkdir -p "$bin"

k8s_version=v1.34.3
version_flags() { # the versions Helm's kubeVersion checks and kubectl version read
	local pkg
	for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=34 -X %s.gitTreeState=clean ' \
			"$pkg" "$k8s_version" "$pkg" "$pkg" "$pkg"
	done
}

build() { # module-dir ldflags packages...
	local dir=$1 ldflags=$2 start=$SECONDS
	shift 2
	printf "== e2e tools: building %s\n" "$dir"
	(cd "$dir" && GOWORK=off CGO_ENABLED=0 "${GO:-go}" build -trimpath -ldflags "-s -w $ldflags" -o "$bin/" "$@")
	printf '== e2e tools: %s done in %d s\n' "$dir" $((SECONDS - start))
}

# Two lanes build at once: a single cold go build leaves part of the two cores
# idle (links, and long chains of packages that wait for each other), and the
# kubernetes lane alone is about as long as the other three tools together.
kubernetes_lane() {
	build etcd "" go.etcd.io/etcd/server/v3
	mv -f "$bin/server" "$bin/etcd" # go build names it after its package, server
	build kubernetes "$(version_flags)" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet \
		k8s.io/kubernetes/cmd/kube-proxy k8s.io/kubernetes/cmd/kubectl
}
edge_lane() {
	build coredns "" . # main.go: CoreDNS with the plugins the Corefile uses
	build helm "-X helm.sh/helm/v3/internal/version.version=v3.21.4" helm.sh/helm/v3/cmd/helm
	build traefik "-X github.com/traefik/traefik/v3/pkg/version.Version=v3.6.12" github.com/traefik/traefik/v3/cmd/traefik
}
start=$SECONDS
kubernetes_lane &
k8s_pid=$!
edge_lane &
edge_pid=$!
failed=0
wait "$k8s_pid" || failed=1
wait "$edge_pid" || failed=1
((failed == 0)) || { echo "e2e tools: a build failed (its go build output is above)" >&2; exit 1; }
printf '== e2e tools: all built in %d s\n' $((SECONDS - start))
ls -l "$bin"
