#!/usr/bin/env bash
# Builds every program the e2e cluster runs from the pinned modules in e2e/tools/
# into E2E_BIN (default .e2e/bin). go build's cache makes a warm run take seconds;
# a cold one takes 30-45 minutes on 2 cores, most of it kube-apiserver, Traefik
# and the cluster add-ons (about 23 minutes of CPU time between them).
# Each module lies outside go.work (GOWORK=off): their dependency graphs are their own.
#
#   e2e/build-tools.sh [cluster|devloops|all]   (default all)
#
# cluster: what the cluster and its checks run; devloops: skaffold and Tilt, for
# make e2e's last stage (about 15 CPU-minutes cold, which e2e/run.sh spends
# at low priority while the cluster's stages run).
set -euo pipefail
what=${1:-all}
case $what in cluster | devloops | all) ;; *)
	echo "usage: $0 [cluster|devloops|all]" >&2
	exit 2
	;;
esac
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

build() { # module-dir ldflags packages...   (GOWORK=off unless go_work names a go.work)
	local dir=$1 ldflags=$2 start=$SECONDS
	shift 2
	printf "== e2e tools: building %s\n" "$dir"
	(cd "$dir" && GOWORK=${go_work:-off} CGO_ENABLED=${cgo:-0} "${GO:-go}" build -trimpath -ldflags "-s -w $ldflags" -o "$bin/" "$@")
	printf '== e2e tools: %s done in %d s\n' "$dir" $((SECONDS - start))
}

# with_replaced_module DIR MODULE@VERSION PATCH command...: runs command with
# go_work set to a go.work, outside the module cache, in which DIR's build
# takes MODULE@VERSION from a copy that the function PATCH has changed (it gets
# the copy's path). go build -overlay would be simpler, but refuses files in
# the module cache.
with_replaced_module() (
	dir=$1 module=${2%@*} version=${2#*@} patch=$3
	shift 3
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	src=$(cd "$dir" && GOWORK=off "${GO:-go}" mod download "$module" &&
		GOWORK=off "${GO:-go}" list -m -f '{{.Dir}}' "$module")
	cp -r "$src" "$work/module"
	chmod -R u+w "$work/module"
	"$patch" "$work/module"
	GOWORK=$work/go.work "${GO:-go}" work init "$PWD/$dir"
	GOWORK=$work/go.work "${GO:-go}" work edit -replace "$module@$version=./module"
	go_work=$work/go.work "$@"
)

# kube-network-policies queues packets with nftables' "queue" expression, which
# the e2e kernel lacks (CONFIG_NFT_QUEUE is not set; nft_compat and the xtables
# NFQUEUE target are there). tools/addons/_overlay holds a github.com/google/nftables
# expr/queue.go that sends a Queue as that target; only kube-network-policies
# imports nftables.
nftables_queue_as_xtables() { cp addons/_overlay/nftables-expr-queue.go "$1/expr/queue.go"; }

# Three lanes build at once: a single cold go build leaves part of the two cores
# idle (links, and long chains of packages that wait for each other), and the
# kubernetes lane alone is about as long as the edge lane (CoreDNS, helm and
# Traefik), and the add-on lane a little longer than either. Side by side, a lane
# in a link or a chain leaves its core to the other two, and the add-ons need no
# guess at which of the other lanes ends first.
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
# The cluster add-ons, in as few modules as compile together, so that client-go
# and the rest they share compile once per module: tools/addons holds the
# Prometheus Operator, its config reloader, the VPA recommender and
# kube-network-policies (one go build); metrics-server and prometheus-adapter need
# k8s.io/apiserver and prometheus versions the others exclude (their go.mod says which).
addons_lane() {
	with_replaced_module addons github.com/google/nftables@v0.3.0 nftables_queue_as_xtables \
		build addons "-X github.com/prometheus/common/version.Version=0.85.0" \
		github.com/prometheus-operator/prometheus-operator/cmd/operator \
		github.com/prometheus-operator/prometheus-operator/cmd/prometheus-config-reloader \
		k8s.io/autoscaler/vertical-pod-autoscaler/pkg/recommender sigs.k8s.io/kube-network-policies/cmd
	# go build names them after their packages
	mv -f "$bin/operator" "$bin/prometheus-operator"
	mv -f "$bin/recommender" "$bin/vpa-recommender"
	mv -f "$bin/cmd" "$bin/kube-network-policies"
	build metrics-server "-X k8s.io/client-go/pkg/version.gitVersion=v0.8.0" sigs.k8s.io/metrics-server/cmd/metrics-server
	build prometheus-adapter "" sigs.k8s.io/prometheus-adapter/cmd/adapter
	mv -f "$bin/adapter" "$bin/prometheus-adapter"
	local start=$SECONDS
	printf "== e2e tools: building prometheus\n"
	prometheus/build.sh "$bin" # Prometheus and promtool, Kubernetes discovery only
	printf '== e2e tools: prometheus done in %d s\n' $((SECONDS - start))
}
# Tilt embeds its web UI from pkg/assets/build, which a release fills with
# yarn and the module leaves empty; a release build (main.version set) then
# refuses to start. tools/tilt/_assets is one page saying there is no UI;
# tilt ci never reads it.
tilt_placeholder_ui() { cp tilt/_assets/* "$1/pkg/assets/build/"; }

# The dev loops, which make e2e's stage devloops runs against skaffold.yaml and
# the Tiltfile. Tilt needs cgo.
devloops_lane() {
	build skaffold "-X github.com/GoogleContainerTools/skaffold/v2/pkg/skaffold/version.version=v2.16.1" \
		github.com/GoogleContainerTools/skaffold/v2/cmd/skaffold
	cgo=1 with_replaced_module tilt github.com/tilt-dev/tilt@v0.34.0 tilt_placeholder_ui \
		build tilt "-X main.version=0.34.0" github.com/tilt-dev/tilt/cmd/tilt
}
lanes=(kubernetes_lane edge_lane addons_lane devloops_lane)
case $what in
cluster) lanes=(kubernetes_lane edge_lane addons_lane) ;;
devloops) lanes=(devloops_lane) ;;
esac
start=$SECONDS
pids=()
for lane in "${lanes[@]}"; do
	"$lane" &
	pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do
	wait "$pid" || failed=1
done
((failed == 0)) || { echo "e2e tools: a build failed (its go build output is above)" >&2; exit 1; }
printf '== e2e tools: all built in %d s\n' $((SECONDS - start))
ls -l "$bin"
