#!/usr/bin/env bash
# make e2e: the shop on a real single-node Kubernetes cluster, end to end.
#
# Stages, each timed (E2E_DIR/results/stages.tsv):
#   tools    build or reuse the pinned cluster programs (e2e/build-tools.sh)
#   images   the three service images (images/build.sh), the sandbox image and
#            the dependency images, as archives for containerd
#   crds     the CRDs of everything k8s/ and the charts name (e2e/crds.sh)
#   cluster  e2e/cluster.sh up: the cluster as local processes, Traefik as the Gateway
#   install  the NetworkPolicy controller (e2e/deploy/network-policies.yaml)
#            first, so that every later stage runs with k8s/'s policies
#            enforced; then as docs/deploy.md says: k8s/ with kubectl apply -k, the Secrets,
#            then helm install of each chart with e2e/values/<service>.yaml
#            and the add-ons a team runs beside the shop: the Prometheus
#            Operator and its Prometheus (e2e/deploy/monitoring.yaml),
#            metrics-server, prometheus-adapter, the VPA recommender
#            (e2e/deploy/autoscaling.yaml)
#   checks   helm test, Pod Security, the journey, rollout restarts under load,
#            order pods deleted during buys (e2e/checks), no warning events
#   netpol   each service pod connects to what its NetworkPolicy allows and
#            to nothing else; a pod of another namespace reaches no store of
#            the shop; the journey again (e2e/checks/netpol.go)
#   monitoring   Prometheus scrapes every ServiceMonitor target, loaded the
#            alerts, and every alert expression and dashboard query returns data
#   autoscaling  the HPAs turned on (e2e/values/*-autoscaling.yaml); product
#            scales out under a bounded load and back in after it
#            (results/hpa-product.svg); the customer VPA recommends within its
#            bounds; the add-ons' memory; no warning events
#   devloops `skaffold run -p e2e` and `tilt ci` (TRAVLUK_E2E=1) build and
#            deploy the shop from skaffold.yaml and the Tiltfile; the journey
#            after each; then helm takes the releases back; no restarts
#   down     everything the run started is stopped and removed, also when a
#            stage fails or the run is interrupted
#
# Everything the tests send goes to 127.0.0.1:8000 (Traefik's entry point).
# E2E_KEEP=true leaves the cluster up at the end (e2e/cluster.sh down removes it);
# E2E_STAGES runs only the stages named (e.g. E2E_STAGES=checks E2E_KEEP=true on
# a kept cluster); E2E_CHECKS=journey,restart,delete-order picks checks.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export E2E_DIR=${E2E_DIR:-$root/.e2e}
bin=$E2E_DIR/bin
images=$E2E_DIR/images
results=$E2E_DIR/results
ns=travluk
gateway=http://127.0.0.1:8000
export KUBECONFIG=$E2E_DIR/run/admin.kubeconfig
mkdir -p "$results" "$images"
: >"$results/stages.tsv"

say() { printf '== e2e: %s\n' "$*"; }
kubectl() { "$bin/kubectl" "$@"; }
helm() { "$bin/helm" "$@"; }
k() { kubectl -n "$ns" "$@"; }

run_start=$SECONDS
failed_stage=
stage() { # stage NAME FUNCTION: runs it, timed, its stderr also in results/NAME.stderr
	local name=$1 start=$SECONDS
	say "stage $name"
	failed_stage=$name
	: >"$results/$name.stderr"
	"$2" 2> >(tee -a "$results/$name.stderr" >&2)
	failed_stage=
	printf '%s\t%d\n' "$name" $((SECONDS - start)) | tee -a "$results/stages.tsv" | awk '{printf "== e2e: stage %s done in %d s\n", $1, $2}'
}

finish() {
	local status=$?
	stop_devloop_helpers
	if [[ ${E2E_KEEP:-false} == true ]]; then
		say "E2E_KEEP=true: the cluster stays up; KUBECONFIG=$KUBECONFIG; e2e/cluster.sh down removes it"
	else
		if ((status != 0)) && [[ -f $KUBECONFIG ]]; then
			say "failed; what the namespace looked like:"
			k get pods -o wide 2>&1 | tail -n 30 || true
			k get events --sort-by=.lastTimestamp 2>&1 | tail -n 30 || true
			# The shop's own logs name the dependency behind a 503.
			local svc
			for svc in customer product order; do
				k logs -l "app.kubernetes.io/name=$svc" --all-containers --prefix --tail=500 >"$results/$svc-pods.log" 2>&1 || true
				echo "$svc pods, their log's last warnings ($results/$svc-pods.log):"
				grep -E '"level":"(WARN|ERROR)"' "$results/$svc-pods.log" | tail -n 5 || true
			done
		fi
		local start=$SECONDS
		e2e/cluster.sh down
		printf 'down\t%d\n' $((SECONDS - start)) >>"$results/stages.tsv"
		leftovers || status=1
	fi
	# CI keeps only the end of the output: the error comes last, after the dumps.
	if ((status != 0)) && [[ -n $failed_stage && -s $results/$failed_stage.stderr ]]; then
		say "stage $failed_stage failed; the end of its errors ($results/$failed_stage.stderr):"
		tail -n 15 "$results/$failed_stage.stderr" | sed 's/^/   /'
	fi
	say "total $((SECONDS - run_start)) s ($(tr '\t\n' '= ' <"$results/stages.tsv"))"
	((status == 0)) && say "passed" || say "FAILED (exit $status)"
	exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM

# tools: the cluster's programs now; skaffold and Tilt, which only the last
# stage needs, in the background at the lowest CPU priority, so that their
# cold build (about 15 CPU-minutes) fills what the cluster's stages leave idle.
tools() {
	GO=${GO:-go} e2e/build-tools.sh cluster
	say "building skaffold and Tilt in the background for stage devloops ($results/devloop-tools.log)"
	GO=${GO:-go} setsid nice -n 19 e2e/build-tools.sh devloops >"$results/devloop-tools.log" 2>&1 &
	devloop_tools_pid=$!
}
devloop_tools_pid=

images() {
	local s
	for s in customer product order; do
		VERSION=e2e images/build.sh "$s" "localhost/travluk/$s:e2e"
		rm -f "$images/$s.tar"
		buildah push --quiet "localhost/travluk/$s:e2e" "docker-archive:$images/$s.tar:localhost/travluk/$s:e2e"
	done
	e2e/pause/image.sh "$images/pause.tar"
	e2e/images/build-deps.sh "$images"
	e2e/images/build-addons.sh "$bin" "$images"
}

crds() { e2e/crds.sh "$E2E_DIR/crds"; }

cluster() {
	E2E_CRDS=$E2E_DIR/crds E2E_IMAGES="$(ls "$images"/*.tar | tr '\n' ' ')" e2e/cluster.sh up
	# The dependency images are tagged by content; the manifests name them :e2e.
	# shellcheck source=/dev/null
	source "$images/images.env"
	local ref
	for ref in "$E2E_REDIS_IMAGE" "$E2E_RABBITMQ_IMAGE" "$E2E_MONGOSTORE_IMAGE"; do
		ctr --address "$E2E_DIR/run/containerd/containerd.sock" -n k8s.io images tag --force "$ref" "${ref%:*}:e2e" >/dev/null
	done
}

secret_value() { k get secret "$1" -o go-template="{{index .data \"$2\" | base64decode}}"; }

install() {
	netpol_controller
	# docs/deploy.md step 2: the namespace, the dependencies' passwords, k8s/.
	kubectl apply -f k8s/namespace.yaml
	local s
	for s in customer product order; do
		k create secret generic "mongodb-$s-password" --from-literal=password="$(openssl rand -hex 24)"
	done
	k create secret generic redis-auth --from-literal=password="$(openssl rand -hex 24)"
	kubectl apply -k k8s/
	# No operator runs here: e2e/deploy/dependencies.yaml stands in for the pods
	# and Services they would make, under the same names, and the Secrets they
	# would write are made here.
	k create secret generic rabbitmq-default-user --from-literal=username=travluk \
		--from-literal=password="$(openssl rand -hex 24)" --from-literal=host=rabbitmq.$ns.svc --from-literal=port=5672
	for s in customer product order; do
		k create secret generic "mongodb-$s-connection-string" \
			--from-literal=connectionString.standard="mongodb://mongodb-svc.$ns.svc.cluster.local:27017/$s"
	done
	kubectl apply -f e2e/deploy/dependencies.yaml
	for s in mongodb rabbitmq-server rfr-redis rfs-redis; do
		k rollout status "deployment/$s" --timeout 180s
	done

	# Step 3: the services' Secrets, from what the operators would have written.
	get() { secret_value "$@"; }
	local redis_url amqp_url
	redis_url="redis://rfs-redis.$ns.svc:26379/0?master_name=mymaster&password=$(get redis-auth password)"
	amqp_url="amqp://$(get rabbitmq-default-user username):$(get rabbitmq-default-user password)@rabbitmq.$ns.svc:5672/"
	k create secret generic customer \
		--from-literal=MONGODB_URI="$(get mongodb-customer-connection-string connectionString.standard)" \
		--from-literal=REDIS_URL="$redis_url" \
		--from-literal=ADMIN_EMAIL=admin@e2e.example --from-literal=ADMIN_PASSWORD="$(openssl rand -hex 12)"
	for s in product order; do
		k create secret generic $s \
			--from-literal=MONGODB_URI="$(get "mongodb-$s-connection-string" connectionString.standard)" \
			--from-literal=REDIS_URL="$redis_url" --from-literal=AMQP_URL="$amqp_url"
	done
	local key
	key=$(mktemp)
	openssl genpkey -algorithm ed25519 -out "$key"
	k create secret generic customer-jwt-signing-key --from-file=jwt-signing-key.pem="$key"
	rm -f "$key"

	# Step 4: the charts, unchanged; only e2e/values/ differs.
	for s in customer product order; do
		helm install "$s" "charts/$s" -n "$ns" --wait --timeout 5m -f "e2e/values/$s.yaml"
	done
	kubectl -n "$ns" wait gateway/travluk --for=condition=Programmed --timeout 60s
	addons
	say "the shop answers on $gateway"
	local i
	for i in $(seq 1 60); do
		curl -fsS -o /dev/null "$gateway/api/products?limit=1" && return 0
		sleep 1
	done
	curl -fsS "$gateway/api/products?limit=1"
}

# netpol_controller: kube-network-policies, up and with its nftables table on
# the node, which it writes once it has synced pods, namespaces and policies.
netpol_controller() {
	kubectl apply -f e2e/deploy/network-policies.yaml
	kubectl -n kube-system rollout status daemonset/kube-network-policies --timeout 120s
	local i
	for i in $(seq 1 60); do
		nft list table inet kube-network-policies >/dev/null 2>&1 && break
		sleep 1
	done
	nft list table inet kube-network-policies >/dev/null
	say "kube-network-policies enforces NetworkPolicies (nftables table inet kube-network-policies)"
}

netpol() { run_checks netpol; }

# addons: the monitoring and autoscaling add-ons, each waited for.
addons() {
	build_checks
	kubectl apply -f e2e/deploy/monitoring.yaml
	kubectl -n monitoring create configmap adapter-config \
		--from-file=config.yaml=<("$bin/checks" -adapter-config deploy/prometheus-adapter-values.yaml)
	kubectl apply -f e2e/deploy/autoscaling.yaml
	kubectl -n monitoring rollout status deployment/prometheus-operator --timeout 120s
	kubectl -n kube-system rollout status deployment/metrics-server --timeout 120s
	kubectl -n kube-system rollout status deployment/vpa-recommender --timeout 120s
	local i
	for i in $(seq 1 60); do # the operator makes the StatefulSet
		kubectl -n monitoring get statefulset/prometheus-e2e >/dev/null 2>&1 && break
		sleep 1
	done
	kubectl -n monitoring rollout status statefulset/prometheus-e2e --timeout 180s
	kubectl -n monitoring rollout status deployment/prometheus-adapter --timeout 120s
	kubectl wait apiservice/v1beta1.metrics.k8s.io apiservice/v1beta2.custom.metrics.k8s.io --for=condition=Available --timeout 120s
	say "Prometheus, metrics-server, prometheus-adapter and the VPA recommender are up"
}

build_checks() { GOWORK=off go build -C e2e/checks -o "$bin/checks" .; }

# run_checks NAMES [FLAGS...]: e2e/checks against the shop through the Gateway.
run_checks() {
	local only=$1
	shift
	build_checks
	E2E_ADMIN_PASSWORD=$(secret_value customer ADMIN_PASSWORD) "$bin/checks" -base "$gateway" -admin-email admin@e2e.example \
		-kubectl "$bin/kubectl" -namespace "$ns" -only "$only" "$@"
}

checks() {
	local s
	for s in customer product order; do
		helm test "$s" -n "$ns" --logs --timeout 2m
	done
	pod_security
	run_checks "${E2E_CHECKS:-journey,restart,delete-order}"
	no_warnings
}

monitoring() {
	local ip
	ip=$(kubectl -n monitoring get pod prometheus-e2e-0 -o jsonpath='{.status.podIP}')
	run_checks monitoring -prometheus "http://$ip:9090" -k8s k8s
}

autoscaling() {
	local s
	for s in product order; do
		helm upgrade "$s" "charts/$s" -n "$ns" --wait --timeout 5m -f "e2e/values/$s.yaml" -f "e2e/values/$s-autoscaling.yaml"
	done
	run_checks autoscale,vpa -results "$results"
	say "memory of the add-ons (metrics.k8s.io):"
	kubectl top pod -n monitoring --no-headers | sed 's/^/   /'
	kubectl top pod -n kube-system --no-headers | sed 's/^/   /'
	no_warnings
}

# devloops: what a developer runs, against this cluster: `skaffold run -p e2e`
# (skaffold.yaml) and `tilt ci` with TRAVLUK_E2E=1 (the Tiltfile), each reading
# charts/ and k8s/ in place and building with the project's daemonless
# builder, each followed by the journey through the Gateway on what it
# deployed. Last, the charts again as make e2e installs them (helm takes the
# objects back from Tilt).
devloops() {
	if [[ -n $devloop_tools_pid ]]; then
		say "waiting for the skaffold and Tilt builds ($results/devloop-tools.log)"
		wait "$devloop_tools_pid" || { cat "$results/devloop-tools.log" >&2; return 1; }
		devloop_tools_pid=
		grep '^== e2e tools: [a-z]* done' "$results/devloop-tools.log" | sed 's/^== e2e tools: /   /'
	else
		GO=${GO:-go} e2e/build-tools.sh devloops
	fi
	local dev_env=(PATH="$bin:$PATH" E2E_CONTAINERD_SOCK="$E2E_DIR/run/containerd/containerd.sock"
		DOCKER_HOST="unix://$E2E_DIR/run/podman/podman.sock")
	podman_service

	say "skaffold run -p e2e: the images by images/build.sh, then k8s/ and the charts"
	env "${dev_env[@]}" "$bin/skaffold" run -p e2e --no-prune --cache-artifacts=false \
		--interactive=false --update-check=false --status-check=true
	deployed_by skaffold 'travluk/%s:[0-9a-f]{64}' 2
	run_checks journey

	say "tilt ci with TRAVLUK_E2E=1: the dev images by dev/tilt/build.sh, then k8s/ and the charts"
	busybox_image
	env "${dev_env[@]}" TRAVLUK_E2E=1 BUSYBOX_IMAGE=localhost/e2e/busybox:e2e "$bin/tilt" ci --timeout 10m
	deployed_by Tilt 'travluk/%s:tilt-[0-9a-z-]+' 1
	local s
	for s in customer product order; do # Tilt's dev image: the service under dev/tilt/run.sh
		k exec "deployment/$s" -c "$s" -- /bin/sh -c 'test -x /tilt/run.sh && test -d /tilt/live'
	done
	run_checks journey
	stop_devloop_helpers

	for s in customer product order; do
		helm upgrade "$s" "charts/$s" -n "$ns" --take-ownership --wait --timeout 5m -f "e2e/values/$s.yaml" >/dev/null
	done
	deployed_by helm 'localhost/travluk/%s:e2e' 2
	no_restarts
}

# no_restarts: no container of the shop's pods has restarted. Stage devloops
# checks this instead of no_warnings: its pods start while the next images
# build, and a start slowed past the health endpoint's wait records a startup
# probe failure (docs/decisions.md, "The e2e cluster").
no_restarts() {
	local restarted
	restarted=$(k get pods -l app.kubernetes.io/component=api -o go-template='{{range .items}}{{$pod := .metadata.name}}{{range .status.containerStatuses}}{{if gt .restartCount 0}}{{$pod}}/{{.name}}: {{.restartCount}} restarts{{"\n"}}{{end}}{{end}}{{end}}')
	if [[ -n $restarted ]]; then
		echo "restarted containers:" >&2
		printf '%s\n' "$restarted" >&2
		return 1
	fi
	say "no container of the shop restarted"
}

# deployed_by WHO IMAGE_PATTERN REPLICAS: each service's Deployment runs the
# image WHO built (IMAGE_PATTERN, %s the service), rolled out with REPLICAS pods.
deployed_by() {
	local who=$1 pattern=$2 want=$3 s image ready
	for s in customer product order; do
		k rollout status "deployment/$s" --timeout 180s >/dev/null
		image=$(k get deployment "$s" -o jsonpath='{.spec.template.spec.containers[0].image}')
		ready=$(k get deployment "$s" -o jsonpath='{.status.readyReplicas}')
		# shellcheck disable=SC2059
		if ! grep -Eqx "$(printf "$pattern" "$s")" <<<"$image" || [[ $ready != "$want" ]]; then
			echo "deployment/$s runs $image with $ready ready pods; want $who's image ($(printf "$pattern" "$s")) on $want" >&2
			return 1
		fi
		say "$s: $image, $ready ready (deployed by $who)"
	done
}

# podman_service: podman's Docker API on a socket of the run, which skaffold's
# local builder asks for each image's ID (buildah and podman share
# containers-storage). No Docker daemon is involved.
podman_pid=
podman_service() {
	mkdir -p "$E2E_DIR/run/podman"
	rm -f "$E2E_DIR/run/podman/podman.sock" # a kept cluster's earlier run may have left it
	podman system service --time=0 "unix://$E2E_DIR/run/podman/podman.sock" &
	podman_pid=$!
	local i
	for i in $(seq 1 100); do
		[[ -S $E2E_DIR/run/podman/podman.sock ]] && return 0
		sleep 0.1
	done
	echo "podman system service did not open its socket" >&2
	return 1
}

# busybox_image: localhost/e2e/busybox:e2e, the static busybox of Debian's
# busybox-static, for dev/tilt/Containerfile (which pulls nothing then).
busybox_image() {
	local c
	c=$(buildah from --quiet scratch)
	buildah copy --quiet "$c" /bin/busybox /bin/busybox >/dev/null
	buildah commit --quiet "$c" localhost/e2e/busybox:e2e >/dev/null
	buildah rm "$c" >/dev/null
}

# stop_devloop_helpers: the background tools build and podman's service, if running.
# Either may have ended already; finish runs this first and must go on.
stop_devloop_helpers() {
	if [[ -n $devloop_tools_pid ]]; then
		kill -- "-$devloop_tools_pid" 2>/dev/null || true
	fi
	if [[ -n $podman_pid ]]; then
		kill "$podman_pid" 2>/dev/null || true
		wait "$podman_pid" 2>/dev/null || true
	fi
	devloop_tools_pid= podman_pid=
}

# pod_security: the API server enforces the namespace's restricted level, and
# a running container is non-root on a read-only root filesystem.
pod_security() {
	local out
	# A pod with no securityContext: root allowed, escalation allowed, no seccomp.
	if out=$(k run psa-probe --image localhost/e2e/pause:1 --restart Never --dry-run=server 2>&1); then
		echo "a pod without a restricted securityContext was admitted to $ns: $out" >&2
		return 1
	fi
	grep -q 'violates PodSecurity "restricted' <<<"$out" || {
		echo "the pod was refused, but not by Pod Security: $out" >&2
		return 1
	}
	# The shop's images have no shell; the Redis stand-in has one, and runs
	# under the same securityContext as the charts' pods.
	local pod uid
	pod=$(k get pod -l app.kubernetes.io/component=redis -o name | head -1)
	uid=$(k exec "$pod" -c redis -- id -u)
	[[ $uid != 0 ]] || { echo "$pod runs as root" >&2; return 1; }
	if k exec "$pod" -c redis -- sh -c 'echo x >/probe' 2>/dev/null; then
		echo "$pod could write to its root filesystem" >&2
		return 1
	fi
	local svc
	for svc in customer product order; do
		k get pod -l "app.kubernetes.io/name=$svc,app.kubernetes.io/component=api" -o jsonpath='{range .items[*]}{.metadata.name} {.status.phase} {.spec.containers[0].securityContext.runAsNonRoot} {.spec.containers[0].securityContext.readOnlyRootFilesystem}{"\n"}{end}' |
			awk -v svc="$svc" 'NF { n++; if ($2 != "Running" || $3 != "true" || $4 != "true") bad = bad $0 "; " }
				END { if (n == 0 || bad != "") { print svc ": " (n == 0 ? "no pods" : bad) > "/dev/stderr"; exit 1 } }'
	done
	say "Pod Security restricted is enforced; containers run non-root (uid $uid) on read-only root filesystems"
}

# no_warnings: no Warning event about the shop's objects, of any kind. The
# services open their port before they connect to their stores and close it
# only after the kubelet's next readiness probe once they have drained
# (services/platform/httpserver), so no probe of theirs is refused, while
# starting or while stopping.
no_warnings() {
	local warnings
	warnings=$(k get events --field-selector type=Warning -o go-template='{{range .items}}{{.involvedObject.kind}}/{{.involvedObject.name}}: {{.reason}}: {{.message}}{{"\n"}}{{end}}' |
		grep -E '^[A-Za-z]+/(customer|product|order)([-.]|:)' || true)
	if [[ -n $warnings ]]; then
		echo "warning events for the shop's objects:" >&2
		printf '%s\n' "$warnings" >&2
		# The pod's own log says which dependency a failed probe waited for.
		local pod
		for pod in $(printf '%s\n' "$warnings" | sed -n 's#^Pod/\([^:]*\):.*#\1#p' | sort -u); do
			k logs "$pod" --all-containers >"$results/$pod.log" 2>&1 || true
			echo "$pod, its log's warnings ($results/$pod.log):" >&2
			grep -E '"level":"(WARN|ERROR)"' "$results/$pod.log" | tail -n 5 >&2 || true
		done
		return 1
	fi
	say "no warning events for the shop's objects"
}

# leftovers: fails when down left a process, mount, interface or rule behind.
leftovers() {
	local left=""
	pgrep -f "$E2E_DIR/(bin|run)/" >/dev/null && left+="processes: $(pgrep -af "$E2E_DIR/(bin|run)/" | head -5); "
	pgrep -x containerd >/dev/null && left+="containerd; "
	grep -q "$E2E_DIR" /proc/self/mountinfo && left+="mounts; "
	ip link show cni0 >/dev/null 2>&1 && left+="cni0; "
	iptables-save 2>/dev/null | grep -q KUBE- && left+="iptables KUBE- rules; "
	ip6tables-save 2>/dev/null | grep -q KUBE- && left+="ip6tables KUBE- rules; "
	nft list tables 2>/dev/null | grep -q kube-network-policies && left+="nftables table kube-network-policies; "
	if [[ -n $left ]]; then
		echo "e2e: left behind: $left" >&2
		return 1
	fi
	say "nothing left behind"
}

for name in ${E2E_STAGES:-tools images crds cluster install checks netpol monitoring autoscaling devloops}; do
	stage "$name" "$name"
done
