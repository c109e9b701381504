#!/usr/bin/env bash
# A single-node Kubernetes cluster as local processes, for make e2e.
#
#   e2e/cluster.sh up     start it (etcd, kube-apiserver, controller-manager,
#                         scheduler, containerd, kubelet, kube-proxy, CoreDNS,
#                         Traefik as the Gateway); prints KUBECONFIG
#   e2e/cluster.sh down   stop it and remove everything it made: processes,
#                         mounts, the cni0 bridge, iptables chains, nftables tables, cgroups
#   e2e/cluster.sh status what runs
#
# The programs come from e2e/build-tools.sh (.e2e/bin); containerd, runc and
# the CNI plugins from Debian. State lives in E2E_DIR/run (default .e2e/run)
# and goes with `down`. Pods live on the bridge cni0 (10.244.0.0/24), Services
# on 10.96.0.0/16; the shop is reached through Traefik on 127.0.0.1:8000.
#
# What this machine needs and why is in docs/decisions.md ("The e2e cluster").
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
e2e=${E2E_DIR:-$root/.e2e}
bin=$e2e/bin
run=$e2e/run
pki=$run/pki
pids=$run/pids
logs=$run/logs

node=e2e-node
node_ip=10.244.0.1
pod_cidr=10.244.0.0/24
service_cidr=10.96.0.0/16
api_service_ip=10.96.0.1
api=https://$node_ip:6443
etcd_client=http://127.0.0.1:12379
etcd_peer=http://127.0.0.1:12380
gateway_addr=127.0.0.1:8000
traefik_ping=127.0.0.1:12383
coredns_ready=127.0.0.1:12382
pause_image=localhost/e2e/pause:1

# The kernel settings the kubelet insists on; it would write them machine-wide.
# Inside the private mount namespace that holds containerd and the kubelet,
# files with these values lie over the real /proc/sys entries instead.
kubelet_sysctls=(kernel/panic=10 kernel/panic_on_oops=1 vm/overcommit_memory=1 vm/panic_on_oom=0
	kernel/keys/root_maxkeys=1000000 kernel/keys/root_maxbytes=25000000)
# Settings the CNI bridge and kube-proxy change on the host: saved at `up`,
# restored at `down`.
host_sysctls=(net/ipv4/ip_forward net/bridge/bridge-nf-call-iptables net/bridge/bridge-nf-call-ip6tables
	net/ipv4/conf/all/route_localnet)
# Directories that the kubelet, containerd and CNI use whatever they are told;
# removed at `down` when `up` found them absent.
fixed_dirs=(/run/containerd /var/lib/cni /var/log/containers /var/log/pods)

say() { printf '== e2e cluster: %s\n' "$*"; }
die() {
	printf 'e2e cluster: %s\n' "$*" >&2
	exit 1
}

kubectl() { "$bin/kubectl" --kubeconfig "$run/admin.kubeconfig" "$@"; }

# wait_for WHAT SECONDS COMMAND...: runs COMMAND every half second until it
# succeeds, failing after SECONDS with the last lines of WHAT's log.
wait_for() {
	local what=$1 limit=$2 deadline=$((SECONDS + $2))
	shift 2
	until "$@" >/dev/null 2>&1; do
		if ((SECONDS >= deadline)); then
			[[ -f $logs/$what.log ]] && tail -n 30 "$logs/$what.log" >&2
			die "$what not ready after ${limit} s"
		fi
		if [[ -f $pids/$what ]] && ! kill -0 "$(cat "$pids/$what")" 2>/dev/null; then
			[[ -f $logs/$what.log ]] && tail -n 30 "$logs/$what.log" >&2
			die "$what exited"
		fi
		sleep 0.5
	done
}

# start NAME COMMAND...: runs COMMAND in the background in its own session,
# logging to logs/NAME.log, its PID in pids/NAME.
start() {
	local name=$1
	shift
	setsid "$@" >"$logs/$name.log" 2>&1 </dev/null &
	echo $! >"$pids/$name"
}

# in_holder COMMAND...: COMMAND inside the mount namespace of the holder.
in_holder() { nsenter -t "$(cat "$pids/holder")" -m -- "$@"; }

pki() {
	say "certificates"
	mkdir -p "$pki"
	cd "$pki"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=e2e-ca -keyout ca.key -out ca.crt 2>/dev/null
	openssl genrsa -out sa.key 2048 2>/dev/null
	openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
	# name CN O SANs
	local certs=(
		"apiserver kube-apiserver - DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:$api_service_ip,IP:$node_ip,IP:127.0.0.1"
		"apiserver-kubelet-client kube-apiserver-kubelet-client system:masters -"
		"admin e2e-admin system:masters -"
		"controller-manager system:kube-controller-manager - -"
		"scheduler system:kube-scheduler - -"
		"kubelet system:node:$node system:nodes IP:$node_ip,DNS:$node"
		"kube-proxy system:kube-proxy - -"
		"coredns e2e:coredns - -"
		"traefik e2e:traefik - -"
	)
	local line name cn org sans subj
	for line in "${certs[@]}"; do
		read -r name cn org sans <<<"$line"
		subj=/CN=$cn
		[[ $org != - ]] && subj="/O=$org$subj"
		openssl req -newkey rsa:2048 -nodes -subj "$subj" -keyout "$name.key" -out "$name.csr" 2>/dev/null
		{
			echo "basicConstraints=CA:FALSE"
			echo "keyUsage=digitalSignature,keyEncipherment"
			echo "extendedKeyUsage=serverAuth,clientAuth"
			[[ $sans != - ]] && echo "subjectAltName=$sans"
		} >"$name.ext"
		openssl x509 -req -in "$name.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 \
			-extfile "$name.ext" -out "$name.crt" 2>/dev/null
		rm -f "$name.csr" "$name.ext"
	done
	# The aggregation layer (metrics-server, prometheus-adapter): the API
	# server proxies to them as front-proxy-client, under a CA of its own, as
	# kubeadm sets it up.
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=e2e-front-proxy-ca \
		-keyout front-proxy-ca.key -out front-proxy-ca.crt 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=front-proxy-client \
		-keyout front-proxy-client.key -out front-proxy-client.csr 2>/dev/null
	printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n' >front-proxy-client.ext
	openssl x509 -req -in front-proxy-client.csr -CA front-proxy-ca.crt -CAkey front-proxy-ca.key -CAcreateserial \
		-days 2 -extfile front-proxy-client.ext -out front-proxy-client.crt 2>/dev/null
	rm -f front-proxy-client.csr front-proxy-client.ext
	for name in admin controller-manager scheduler kubelet kube-proxy coredns traefik; do
		kubeconfig "$name"
	done
	cd "$root"
}

# kubeconfig NAME: run/NAME.kubeconfig with NAME's client certificate.
kubeconfig() {
	local file=$run/$1.kubeconfig k=("$bin/kubectl" --kubeconfig "$run/$1.kubeconfig")
	"${k[@]}" config set-cluster e2e --server "$api" --certificate-authority "$pki/ca.crt" --embed-certs >/dev/null
	"${k[@]}" config set-credentials "$1" --client-certificate "$pki/$1.crt" --client-key "$pki/$1.key" --embed-certs >/dev/null
	"${k[@]}" config set-context e2e --cluster e2e --user "$1" >/dev/null
	"${k[@]}" config use-context e2e >/dev/null
	chmod 600 "$file"
}

network() {
	say "network: bridge cni0 $node_ip/24"
	local s
	for s in "${host_sysctls[@]}"; do
		[[ -f /proc/sys/$s ]] && echo "$s=$(cat "/proc/sys/$s")"
	done >"$run/host-sysctls"
	ip link add cni0 type bridge
	ip addr add "$node_ip/24" dev cni0
	ip link set cni0 up
	mkdir -p "$run/cni" "$run/cni-ipam"
	cat >"$run/cni/10-e2e.conflist" <<-EOF
		{
		  "cniVersion": "1.0.0",
		  "name": "e2e",
		  "plugins": [
		    {
		      "type": "bridge",
		      "bridge": "cni0",
		      "isGateway": true,
		      "ipMasq": false,
		      "hairpinMode": true,
		      "ipam": {
		        "type": "host-local",
		        "dataDir": "$run/cni-ipam",
		        "ranges": [[{"subnet": "$pod_cidr", "gateway": "$node_ip"}]],
		        "routes": [{"dst": "0.0.0.0/0"}]
		      }
		    },
		    {"type": "portmap", "capabilities": {"portMappings": true}}
		  ]
		}
	EOF
}

etcd() {
	say "etcd"
	start etcd "$bin/etcd" --name e2e --data-dir "$run/etcd" \
		--listen-client-urls "$etcd_client" --advertise-client-urls "$etcd_client" \
		--listen-peer-urls "$etcd_peer" --initial-advertise-peer-urls "$etcd_peer" \
		--initial-cluster "e2e=$etcd_peer" --listen-metrics-urls http://127.0.0.1:12381 \
		--unsafe-no-fsync --log-level warn
	wait_for etcd 60 curl -fsS "$etcd_client/health"
}

apiserver() {
	say "kube-apiserver on $api"
	start kube-apiserver "$bin/kube-apiserver" \
		--etcd-servers "$etcd_client" \
		--bind-address "$node_ip" --advertise-address "$node_ip" --secure-port 6443 \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" \
		--kubelet-client-certificate "$pki/apiserver-kubelet-client.crt" \
		--kubelet-client-key "$pki/apiserver-kubelet-client.key" \
		--kubelet-certificate-authority "$pki/ca.crt" \
		--kubelet-preferred-address-types InternalIP \
		--authorization-mode Node,RBAC --enable-admission-plugins NodeRestriction \
		--service-cluster-ip-range "$service_cidr" \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--allow-privileged=false --profiling=false --anonymous-auth=false \
		--requestheader-client-ca-file "$pki/front-proxy-ca.crt" --requestheader-allowed-names front-proxy-client \
		--requestheader-username-headers X-Remote-User --requestheader-group-headers X-Remote-Group \
		--requestheader-extra-headers-prefix X-Remote-Extra- \
		--proxy-client-cert-file "$pki/front-proxy-client.crt" --proxy-client-key-file "$pki/front-proxy-client.key" \
		--enable-aggregator-routing=true
	wait_for kube-apiserver 120 kubectl get --raw /readyz
}

controllers() {
	say "kube-controller-manager and kube-scheduler"
	start kube-controller-manager "$bin/kube-controller-manager" \
		--kubeconfig "$run/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$run/controller-manager.kubeconfig" \
		--authorization-kubeconfig "$run/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 10257 --leader-elect=false \
		--use-service-account-credentials --service-account-private-key-file "$pki/sa.key" \
		--root-ca-file "$pki/ca.crt" --cluster-signing-cert-file "$pki/ca.crt" \
		--cluster-signing-key-file "$pki/ca.key" --allocate-node-cidrs=false \
		--controllers '*,-nodeipam,-cloud-node-lifecycle,-service-lb-controller' --profiling=false
	start kube-scheduler "$bin/kube-scheduler" \
		--kubeconfig "$run/scheduler.kubeconfig" \
		--authentication-kubeconfig "$run/scheduler.kubeconfig" \
		--authorization-kubeconfig "$run/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --secure-port 10259 --leader-elect=false --profiling=false
	wait_for kube-controller-manager 60 curl -fsSk https://127.0.0.1:10257/healthz
	wait_for kube-scheduler 60 curl -fsSk https://127.0.0.1:10259/healthz
}

holder() {
	say "a private mount namespace for containerd and the kubelet"
	start holder unshare --mount --propagation slave sleep infinity
	wait_for holder 10 test -e "/proc/$(cat "$pids/holder")/ns/mnt"
	# unshare needs a moment after fork to be in its namespace.
	wait_for holder 10 sh -c "[ \"\$(readlink /proc/$(cat "$pids/holder")/ns/mnt)\" != \"\$(readlink /proc/self/ns/mnt)\" ]"
	mkdir -p "$run/sysctl"
	local kv key value file
	for kv in "${kubelet_sysctls[@]}"; do
		key=${kv%%=*} value=${kv#*=}
		file=$run/sysctl/${key//\//.}
		echo "$value" >"$file"
		in_holder mount --bind "$file" "/proc/sys/$key"
	done
}

containerd() {
	say "containerd"
	mkdir -p "$run/containerd"
	cat >"$run/containerd/config.toml" <<-EOF
		version = 2
		root = "$run/containerd/root"
		state = "$run/containerd/state"
		[grpc]
		  address = "$run/containerd/containerd.sock"
		[ttrpc]
		  address = "$run/containerd/containerd.sock.ttrpc"
		[plugins."io.containerd.internal.v1.opt"]
		  path = "$run/containerd/opt"
		[plugins."io.containerd.grpc.v1.cri"]
		  sandbox_image = "$pause_image"
		  # No CAP_SYS_RESOURCE here: without this every sandbox fails
		  # ("can't get final child's PID from pipe").
		  restrict_oom_score_adj = true
		  enable_selinux = false
		  [plugins."io.containerd.grpc.v1.cri".containerd]
		    snapshotter = "overlayfs"
		    default_runtime_name = "runc"
		    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
		      runtime_type = "io.containerd.runc.v2"
		  [plugins."io.containerd.grpc.v1.cri".cni]
		    bin_dir = "/usr/lib/cni"
		    conf_dir = "$run/cni"
	EOF
	start containerd nsenter -t "$(cat "$pids/holder")" -m -- containerd --config "$run/containerd/config.toml"
	wait_for containerd 30 ctr --address "$run/containerd/containerd.sock" version
}

# import_images ARCHIVE...: OCI or docker archives into containerd's k8s.io namespace.
import_images() {
	local archive
	for archive in "$@"; do
		ctr --address "$run/containerd/containerd.sock" -n k8s.io images import --no-unpack=false "$archive" >/dev/null
	done
}

kubelet() {
	say "kubelet ($node)"
	mkdir -p "$run/kubelet"
	cat >"$run/kubelet/config.yaml" <<-EOF
		apiVersion: kubelet.config.k8s.io/v1beta1
		kind: KubeletConfiguration
		# cgroup v1 on this machine, managed directly.
		failCgroupV1: false
		cgroupDriver: cgroupfs
		failSwapOn: false
		# Served on the bridge, so the API server reaches it for logs and exec.
		address: $node_ip
		readOnlyPort: 0
		healthzBindAddress: 127.0.0.1
		healthzPort: 10248
		# The sysctls it wants are the bind-mounted ones; never write the host's.
		protectKernelDefaults: false
		containerRuntimeEndpoint: unix://$run/containerd/containerd.sock
		podLogsDir: /var/log/pods
		authentication:
		  anonymous: {enabled: false}
		  webhook: {enabled: true}
		  x509: {clientCAFile: $pki/ca.crt}
		authorization: {mode: Webhook}
		tlsCertFile: $pki/kubelet.crt
		tlsPrivateKeyFile: $pki/kubelet.key
		clusterDomain: cluster.local
		clusterDNS: [$node_ip]
		resolvConf: ""
		# A shared CI disk is often fuller than a node's: evict only when nearly full.
		evictionHard: {memory.available: 100Mi, nodefs.available: 1%, imagefs.available: 1%, nodefs.inodesFree: 1%}
		imageGCHighThresholdPercent: 100
		imageGCLowThresholdPercent: 99
		maxPods: 60
		serializeImagePulls: false
		# A Secret or ConfigMap volume waits at most 1 s for its watch to sync
		# before the mount fails with a warning event, and on two shared cores
		# the API server can be slower than that while the shop installs. A GET
		# per mount does not wait for a watch.
		configMapAndSecretChangeDetectionStrategy: Get
	EOF
	start kubelet nsenter -t "$(cat "$pids/holder")" -m -- "$bin/kubelet" \
		--config "$run/kubelet/config.yaml" --kubeconfig "$run/kubelet.kubeconfig" \
		--root-dir "$run/kubelet/root" --cert-dir "$run/kubelet/pki" \
		--hostname-override "$node" --node-ip "$node_ip"
	wait_for kubelet 90 kubectl wait --for=condition=Ready "node/$node" --timeout 1s
}

kube_proxy() {
	say "kube-proxy (iptables)"
	cat >"$run/kube-proxy.yaml" <<-EOF
		apiVersion: kubeproxy.config.k8s.io/v1alpha1
		kind: KubeProxyConfiguration
		mode: iptables
		clientConnection: {kubeconfig: $run/kube-proxy.kubeconfig}
		hostnameOverride: $node
		clusterCIDR: $pod_cidr
		bindAddress: 127.0.0.1
		healthzBindAddress: 127.0.0.1:10256
		metricsBindAddress: 127.0.0.1:10249
		# Only on the bridge: no NodePort on the machine's own interfaces.
		nodePortAddresses: [$node_ip/32]
		# Leave the machine's conntrack table and timeouts as they are.
		conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
	EOF
	start kube-proxy "$bin/kube-proxy" --config "$run/kube-proxy.yaml"
	wait_for kube-proxy 30 curl -fsS http://127.0.0.1:10256/healthz
}

# The roles of the host processes that are not Kubernetes components.
addons_rbac() {
	kubectl apply -f "$root/e2e/cluster/rbac.yaml" >/dev/null
}

coredns() {
	say "CoreDNS on $node_ip:53"
	# The cluster's zones, and for every other name an NXDOMAIN: no upstream,
	# nothing in the cluster may resolve outside names. (In one server block
	# the template plugin would run before kubernetes and answer everything.)
	cat >"$run/Corefile" <<-EOF
		cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
		    bind $node_ip
		    errors
		    ready $coredns_ready
		    kubernetes cluster.local in-addr.arpa ip6.arpa {
		        kubeconfig $run/coredns.kubeconfig e2e
		        pods insecure
		    }
		    cache 5
		}
		.:53 {
		    bind $node_ip
		    errors
		    template ANY ANY . {
		        rcode NXDOMAIN
		    }
		}
	EOF
	start coredns "$bin/coredns" -conf "$run/Corefile"
	wait_for coredns 30 curl -fsS "http://$coredns_ready/ready"
}

# crds DIR: the CRDs of e2e/crds.sh, applied server-side (some are too large
# for the last-applied annotation).
crds() {
	local dir=$1
	say "CRDs from $dir"
	kubectl apply --server-side -f "$dir" >/dev/null
	kubectl wait --for condition=Established crd --all --timeout 60s >/dev/null
	# Traefik's own ClusterRoles (rbac.yaml binds them to its user).
	[[ -d $dir/rbac ]] && kubectl apply -f "$dir/rbac" >/dev/null
	return 0
}

traefik() {
	say "Traefik, the Gateway, on $gateway_addr"
	kubectl apply -f "$root/e2e/cluster/gatewayclass.yaml" >/dev/null
	KUBECONFIG=$run/traefik.kubeconfig start traefik "$bin/traefik" \
		--global.checknewversion=false --global.sendanonymoususage=false \
		--entrypoints.web.address="$gateway_addr" \
		--entrypoints.traefik.address="$traefik_ping" --ping=true --ping.entrypoint=traefik \
		--providers.kubernetesgateway=true --providers.kubernetesgateway.statusaddress.ip=127.0.0.1 \
		--providers.kubernetescrd=true --providers.kubernetescrd.allowCrossNamespace=false \
		--log.level=INFO --accesslog=true
	wait_for traefik 30 curl -fsS "http://$traefik_ping/ping"
}

up() {
	[[ $(id -u) == 0 ]] || die "needs root (network, mounts, containers)"
	local tool
	for tool in etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl coredns traefik; do
		[[ -x $bin/$tool ]] || die "$bin/$tool is missing: make e2e-tools"
	done
	for tool in containerd runc ctr nsenter unshare openssl iptables conntrack curl; do
		command -v "$tool" >/dev/null || die "$tool is missing (apt-get install containerd runc containernetworking-plugins iptables conntrack curl)"
	done
	[[ -x /usr/lib/cni/bridge ]] || die "no CNI plugins in /usr/lib/cni (apt-get install containernetworking-plugins)"
	[[ -e $run ]] && down
	mkdir -p "$pids" "$logs"
	local d
	for d in "${fixed_dirs[@]}"; do [[ -e $d ]] || echo "$d"; done >"$run/created-dirs"
	local start=$SECONDS
	network
	pki
	etcd
	apiserver
	controllers
	holder
	containerd
	[[ -n ${E2E_IMAGES:-} ]] && { say "importing images"; import_images $E2E_IMAGES; }
	kubelet
	kube_proxy
	addons_rbac
	coredns
	[[ -n ${E2E_CRDS:-} ]] && crds "$E2E_CRDS"
	traefik
	say "up in $((SECONDS - start)) s; KUBECONFIG=$run/admin.kubeconfig"
}

# stop NAME SECONDS: SIGTERM, then SIGKILL after SECONDS; waits until gone.
stop() {
	local name=$1 limit=$2 pid
	[[ -f $pids/$name ]] || return 0
	pid=$(cat "$pids/$name")
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid" 2>/dev/null || true
		local deadline=$((SECONDS + limit))
		while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.2; done
		kill -KILL "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
	fi
	rm -f "$pids/$name"
}

# Every process in the holder's mount namespace: the shims and the containers.
holder_processes() {
	local ns p
	[[ -f $pids/holder ]] || return 0
	ns=$(readlink "/proc/$(cat "$pids/holder")/ns/mnt" 2>/dev/null) || return 0
	for p in /proc/[0-9]*; do
		[[ $(readlink "$p/ns/mnt" 2>/dev/null) == "$ns" ]] && echo "${p#/proc/}"
	done
	return 0
}

down() {
	[[ -d $run ]] || return 0
	say "down"
	stop traefik 10
	stop coredns 10
	stop kube-proxy 10
	stop kubelet 20
	# The pods' containers: their shims and init processes sit in the holder's
	# namespace (or in namespaces below it, which the shims own).
	if [[ -S $run/containerd/containerd.sock ]]; then
		local c
		for c in $(ctr --address "$run/containerd/containerd.sock" -n k8s.io tasks ls -q 2>/dev/null); do
			ctr --address "$run/containerd/containerd.sock" -n k8s.io tasks kill -s SIGKILL "$c" >/dev/null 2>&1 || true
		done
	fi
	stop containerd 20
	local p
	for p in $(holder_processes); do
		[[ $p == "$(cat "$pids/holder" 2>/dev/null)" ]] || kill -KILL "$p" 2>/dev/null || true
	done
	# runc's container processes live in their own mount namespaces: find the
	# ones whose cgroup is the kubelet's.
	for p in $(grep -l kubepods /proc/[0-9]*/cgroup 2>/dev/null | cut -d/ -f3); do
		kill -KILL "$p" 2>/dev/null || true
	done
	stop holder 5
	stop kube-scheduler 10
	stop kube-controller-manager 10
	stop kube-apiserver 40
	stop etcd 10
	[[ -x $bin/kube-proxy ]] && "$bin/kube-proxy" --cleanup >/dev/null 2>&1 || true
	remove_chains
	ip link del cni0 2>/dev/null || true
	local veth
	for veth in $(ip -o link show type veth 2>/dev/null | awk -F': ' '/master cni0/ {print $2}' | cut -d@ -f1); do
		ip link del "$veth" 2>/dev/null || true
	done
	remove_cgroups
	if [[ -f $run/host-sysctls ]]; then
		local kv
		while IFS= read -r kv; do
			echo "${kv#*=}" >"/proc/sys/${kv%%=*}" 2>/dev/null || true
		done <"$run/host-sysctls"
	fi
	if [[ -f $run/created-dirs ]]; then
		local d
		while IFS= read -r d; do rm -rf "$d"; done <"$run/created-dirs"
	fi
	rm -rf "$run"
	say "down: nothing left"
}

# The KUBE-* chains the kubelet and kube-proxy made, in every table, IPv4 and
# IPv6, and the nftables tables of kube-network-policies: it removes them only
# on SIGINT, and the kubelet stops it with SIGTERM.
remove_chains() {
	local ipt table chain
	if command -v nft >/dev/null; then
		for table in kube-network-policies kube-network-policies-dnscache; do
			nft delete table inet "$table" 2>/dev/null || true
		done
	fi
	for ipt in iptables ip6tables; do
		command -v "$ipt" >/dev/null || continue
		for table in filter nat mangle; do
			# Rules first (in built-in chains, jumping to ours), then the chains.
			"$ipt" -t "$table" -S 2>/dev/null | grep -E '^-A [A-Z]+ .*-j KUBE-' | while IFS= read -r rule; do
				read -ra args <<<"${rule/-A /-D }"
				"$ipt" -t "$table" "${args[@]}" 2>/dev/null || true
			done || true
			for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}'); do
				"$ipt" -t "$table" -F "$chain" 2>/dev/null || true
			done
			for chain in $("$ipt" -t "$table" -S 2>/dev/null | awk '/^-N KUBE-/ {print $2}'); do
				"$ipt" -t "$table" -X "$chain" 2>/dev/null || true
			done
		done
	done
}

# The kubelet's cgroup tree (cgroupfs driver) in every v1 hierarchy.
remove_cgroups() {
	local h
	for h in /sys/fs/cgroup/*/kubepods /sys/fs/cgroup/*/kubepods.slice; do
		[[ -d $h ]] && find "$h" -depth -type d -exec rmdir {} + 2>/dev/null || true
	done
}

status() {
	local name
	[[ -d $pids ]] || {
		echo "no cluster"
		return 0
	}
	for name in "$pids"/*; do
		if kill -0 "$(cat "$name")" 2>/dev/null; then echo "$(basename "$name") running"; else echo "$(basename "$name") gone"; fi
	done
}

case ${1:-} in
up)
	trap 'status=$?; ((status == 0)) || { echo "e2e cluster: up failed; tearing down" >&2; down; }' EXIT
	trap 'exit 130' INT TERM
	up
	trap - EXIT
	;;
down) down ;;
status) status ;;
*)
	echo "usage: $0 up|down|status" >&2
	exit 2
	;;
esac
