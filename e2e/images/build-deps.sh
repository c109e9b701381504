#!/usr/bin/env bash
# Builds the e2e cluster's dependency images without pulling anything:
#
#   e2e/images/build-deps.sh [OUTDIR]        (default .e2e/images)
#
#   localhost/e2e/redis:TAG      redis-server 7.0 (and curl, for helm test) from Debian bookworm, user 1000
#   localhost/e2e/rabbitmq:TAG   rabbitmq-server 3.10 from Debian bookworm, user 999
#   localhost/e2e/mongostore:TAG dev/cmd/stores -redis "": FerretDB behind the
#                                project's atomicity proxy, static, FROM scratch, user 65532
#
# Each goes into containers-storage (buildah, podman) and, as a docker archive
# for `ctr -n k8s.io images import`, into OUTDIR/NAME.tar; OUTDIR/images.env
# names the references and archives (E2E_REDIS_IMAGE=..., E2E_IMAGES=...).
# redis and rabbitmq are two references to one Debian root filesystem, one
# layer, which containers-storage and containerd store once. The rootfs comes
# from debootstrap (installed with apt-get if missing) against
# deb.debian.org, once: it is cached in OUTDIR/cache/ (delete it to take newer
# Debian packages). See e2e/images/README.md for how each image runs in a pod.
#
# Tags are content hashes: the Debian images' is the first 12 hex of the
# sha256 of the rootfs's package versions and this script; mongostore's the
# git tree of dev/ as it is in the work tree (uncommitted changes included).
# An image whose tag exists in containers-storage, with its archive, is
# "reused". Environment: GO (default go), DEBIAN_MIRROR, SKIP_CHECKS=1 (no
# run check).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$root/.e2e/images}
mkdir -p "$out/cache"
out=$(cd "$out" && pwd)
go=${GO:-go}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
packages=redis-server,redis-tools,rabbitmq-server,curl # curl: the charts' helm test pods (tests.image)
redis_uid=1000 rabbitmq_uid=999 mongostore_uid=65532

t_all=$SECONDS
t_step=$SECONDS
step() { t_step=$SECONDS; echo "== deps: $*"; }
done_step() { echo "== deps:   $* ($((SECONDS - t_step)) s)"; }

[[ $(id -u) == 0 ]] || { echo "$0: run as root (debootstrap, chroot, buildah's storage)" >&2; exit 1; }
command -v buildah >/dev/null || { echo "$0: buildah is not installed (apt-get install buildah)" >&2; exit 1; }

work=$(mktemp -d)
ctrs=()
cleanup() {
	local c
	for c in "${ctrs[@]}"; do buildah rm "$c" >/dev/null 2>&1 || true; done
	# A failed check may leave mounts behind in its own mount namespace only.
	rm -rf "$work"
}
trap cleanup EXIT

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

# archive REF FILE: a docker archive of REF, written whole or not at all.
archive() {
	rm -f "$2.new"
	buildah push --quiet "$1" "docker-archive:$2.new:$1" >/dev/null
	mv -f "$2.new" "$2"
}

size_of() { buildah images --noheading --format '{{.Size}}' "$1" | head -1; }

# ---------------------------------------------------------------------------
# The Debian rootfs: debootstrap once, cached.
key=$(printf '%s\n' "$suite" "$mirror" "$packages" minbase | sha256sum | cut -c1-12)
rootfs=$out/cache/debian-$suite-$key
if [[ -f $rootfs.done ]]; then
	echo "== deps: debootstrap $suite ($packages): reused $rootfs"
else
	step "debootstrap $suite ($packages) into $rootfs"
	if ! command -v debootstrap >/dev/null; then
		apt-get install -y -qq debootstrap >/dev/null || { apt-get update -qq && apt-get install -y -qq debootstrap >/dev/null; }
	fi
	rm -rf "$rootfs"
	if ! debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs" "$mirror" >"$out/cache/debootstrap.log" 2>&1; then
		tail -20 "$out/cache/debootstrap.log" >&2
		echo "$0: debootstrap failed (log: $out/cache/debootstrap.log)" >&2
		exit 1
	fi
	touch "$rootfs.done"
	done_step "debootstrap done"
fi

versions=$(dpkg-query --admindir="$rootfs/var/lib/dpkg" -W -f '${Package}=${Version}\n' | sort)
tag=$( { echo "$versions"; cat "$0"; } | sha256sum | cut -c1-12)
redis_ref=localhost/e2e/redis:$tag
rabbitmq_ref=localhost/e2e/rabbitmq:$tag
echo "== deps: Debian images tag $tag ($(grep -E '^(redis-server|rabbitmq-server|erlang-base)=' <<<"$versions" | tr '\n' ' '))"

build_debian() {
	step "staging the Debian rootfs"
	local fs=$work/debian
	cp -a "$rootfs" "$fs"
	# Fixed numeric users, whatever adduser picked at install: redis 1000
	# (k8s/redis.yaml runs Redis as 1000), rabbitmq 999 (k8s/rabbitmq.yaml
	# and the official image).
	local name uid olduid oldgid
	for name in redis rabbitmq; do
		uid=${name}_uid uid=${!uid}
		olduid=$(awk -F: -v n="$name" '$1 == n { print $3 }' "$fs/etc/passwd")
		oldgid=$(awk -F: -v n="$name" '$1 == n { print $3 }' "$fs/etc/group")
		[[ -n $olduid && -n $oldgid ]] || { echo "$0: no user $name in the rootfs" >&2; exit 1; }
		if awk -F: -v n="$name" -v u="$uid" '$1 != n && $3 == u { found = 1 } END { exit !found }' "$fs/etc/passwd" "$fs/etc/group"; then
			echo "$0: uid or gid $uid is taken in the rootfs" >&2
			exit 1
		fi
		find "$fs" -xdev -uid "$olduid" -print0 >"$work/$name.uid"
		find "$fs" -xdev -gid "$oldgid" -print0 >"$work/$name.gid"
		sed -i "s/^$name:x:$olduid:$oldgid:/$name:x:$uid:$uid:/" "$fs/etc/passwd"
		sed -i "s/^$name:x:$oldgid:/$name:x:$uid:/" "$fs/etc/group"
		echo "$olduid $oldgid $uid $name" >>"$work/owners"
	done
	# Chown after both renames, so a uid one user gives up and the other takes
	# is not confused.
	while read -r olduid oldgid uid name; do
		[[ -s $work/$name.uid ]] && xargs -0 chown -h "$uid" <"$work/$name.uid"
		[[ -s $work/$name.gid ]] && xargs -0 chgrp -h "$uid" <"$work/$name.gid"
	done <"$work/owners"
	# No caches, docs, manuals or translations; no package lists; no cookie
	# baked into every copy of the image (Erlang writes one into HOME).
	rm -rf "$fs"/var/cache/apt/* "$fs"/var/lib/apt/lists/* "$fs"/var/cache/debconf/*-old \
		"$fs"/usr/share/doc/* "$fs"/usr/share/man/* "$fs"/usr/share/info/* "$fs"/usr/share/locale/* \
		"$fs"/usr/share/lintian "$fs"/var/log/*.log "$fs"/var/log/apt/* "$fs"/var/lib/rabbitmq/.erlang.cookie \
		"$fs"/tmp/* "$fs"/root/.bash_history
	find "$fs/var/lib/dpkg" -name '*-old' -delete
	# RabbitMQ: listen on every address, let guest in from any host when no
	# RABBITMQ_DEFAULT_USER is given; logs go to stdout through RABBITMQ_LOGS.
	# localhost for RABBITMQ_NODENAME=rabbit@localhost where nothing provides
	# /etc/hosts (a pod's is the kubelet's, which has it too).
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$fs/etc/hosts"
	mkdir -p "$fs/etc/rabbitmq/conf.d"
	cat >"$fs/etc/rabbitmq/conf.d/10-e2e.conf" <<-EOF
		# e2e/images/build-deps.sh: a single node in a pod.
		loopback_users = none
		listeners.tcp.default = 5672
	EOF
	echo '[rabbitmq_management,rabbitmq_prometheus].' >"$fs/etc/rabbitmq/enabled_plugins"
	chmod 0644 "$fs/etc/rabbitmq/conf.d/10-e2e.conf" "$fs/etc/rabbitmq/enabled_plugins"
	# The mount points a pod fills with emptyDirs, owned by their users for
	# runtimes that keep the image's ownership.
	mkdir -p "$fs/data" "$fs/var/lib/rabbitmq"
	chown "$redis_uid:$redis_uid" "$fs/data"
	chown "$rabbitmq_uid:$rabbitmq_uid" "$fs/var/lib/rabbitmq"
	chmod 1777 "$fs/tmp"
	done_step "staged ($(du -sh "$fs" | cut -f1))"

	step "committing $redis_ref and $rabbitmq_ref"
	local epoch
	epoch=$(stat -c %Y "$rootfs/var/lib/dpkg/status")
	local c
	c=$(buildah from --quiet scratch)
	ctrs+=("$c")
	buildah copy --quiet "$c" "$fs" / >/dev/null
	local common=(--os linux --arch amd64 --workingdir / --env PATH=/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
		--label org.opencontainers.image.source=https://github.com/travluk/ecom
		--label "org.opencontainers.image.description=Debian $suite packages for the e2e cluster (e2e/images/build-deps.sh)")
	buildah config "${common[@]}" --user "$redis_uid:$redis_uid" --port 6379/tcp \
		--entrypoint '["redis-server"]' \
		--cmd '["--dir","/data","--save","","--appendonly","no","--protected-mode","no","--bind","0.0.0.0","-::"]' \
		--label org.opencontainers.image.title=e2e-redis \
		--created-by "e2e/images/build-deps.sh redis" "$c"
	buildah commit --quiet --format docker --timestamp "$epoch" "$c" "$redis_ref" >/dev/null
	# Same layer, another config.
	buildah config --user "$rabbitmq_uid:$rabbitmq_uid" --port 5672/tcp --port 15672/tcp --port 15692/tcp \
		--env HOME=/var/lib/rabbitmq \
		--env RABBITMQ_NODENAME=rabbit@localhost \
		--env RABBITMQ_MNESIA_BASE=/var/lib/rabbitmq/mnesia \
		--env RABBITMQ_LOG_BASE=/var/lib/rabbitmq/log \
		--env RABBITMQ_LOGS=- \
		--env RABBITMQ_ENABLED_PLUGINS_FILE=/etc/rabbitmq/enabled_plugins \
		--workingdir /var/lib/rabbitmq \
		--entrypoint '["rabbitmq-server"]' --cmd '' \
		--label org.opencontainers.image.title=e2e-rabbitmq \
		--created-by "e2e/images/build-deps.sh rabbitmq" "$c"
	buildah commit --quiet --format docker --timestamp "$epoch" --rm "$c" "$rabbitmq_ref" >/dev/null
	ctrs=()
	rm -rf "$fs"
	done_step "committed"
}

# run_in IMAGE UID SCRIPT: SCRIPT (bash) as UID in IMAGE's filesystem mounted
# read-only, with /tmp, /data and /var/lib/rabbitmq on fresh tmpfs (as a pod's
# emptyDirs), in a new network namespace (only its own loopback: no clash with
# the host's servers on 6379, 5672, 4369).
run_in() {
	local image=$1 uid=$2 script=$3 c mnt
	c=$(buildah from --quiet --pull-never "$image")
	ctrs+=("$c")
	mnt=$(buildah mount "$c")
	unshare --mount --net --pid --fork --mount-proc=/proc bash -euo pipefail -c '
		mnt=$1 uid=$2 script=$3
		ip link set lo up
		mount --bind "$mnt" "$mnt"
		mount -o remount,bind,ro "$mnt"
		mount -t proc proc "$mnt/proc"
		mount -t tmpfs -o size=64m,mode=1777 tmpfs "$mnt/tmp"
		mount --rbind /dev "$mnt/dev"
		for d in data var/lib/rabbitmq; do
			mount -t tmpfs -o "size=256m,mode=0770,uid=$uid,gid=$uid" tmpfs "$mnt/$d"
		done
		exec chroot --userspec="$uid:$uid" --groups="$uid" "$mnt" /bin/bash -euo pipefail -c "$script"
	' run_in "$mnt" "$uid" "$script"
	buildah umount "$c" >/dev/null
	buildah rm "$c" >/dev/null
	ctrs=("${ctrs[@]/$c/}")
}

check_redis() {
	step "checking $redis_ref: redis-server as $redis_uid on a read-only root, redis-cli PING"
	run_in "$redis_ref" "$redis_uid" '
		cd /
		redis-server --dir /data --save "" --appendonly no --protected-mode no --bind 0.0.0.0 -:: --port 16379 --daemonize no >/tmp/redis.log 2>&1 &
		for i in $(seq 50); do reply=$(redis-cli -p 16379 PING 2>/dev/null) && break; sleep 0.1; done
		[[ ${reply:-} == PONG ]] || { cat /tmp/redis.log; exit 1; }
		redis-cli -h 127.0.0.1 -p 16379 SET k v >/dev/null
		[[ $(redis-cli -p 16379 GET k) == v ]]
		echo "   PING: $reply, SET/GET ok, user $(id -u)"
		redis-cli -p 16379 SHUTDOWN NOSAVE >/dev/null 2>&1 || true
		wait
	'
	done_step "redis ok"
}

check_rabbitmq() {
	step "checking $rabbitmq_ref: rabbitmq-server as $rabbitmq_uid on a read-only root, rabbitmq-diagnostics ping, AMQP port"
	# The image's environment, as the pod gets it.
	local env
	env=$(buildah inspect --type image --format '{{range .OCIv1.Config.Env}}export {{printf "%q" .}}
{{end}}' "$rabbitmq_ref")
	run_in "$rabbitmq_ref" "$rabbitmq_uid" "$env"'
		export RABBITMQ_DEFAULT_USER=e2e RABBITMQ_DEFAULT_PASS=e2e-secret
		cd "$HOME"
		rabbitmq-server >/tmp/rabbit.log 2>&1 &
		pid=$!
		ok=
		for i in $(seq 60); do
			kill -0 "$pid" 2>/dev/null || break
			if rabbitmq-diagnostics -q ping >/dev/null 2>&1 && rabbitmq-diagnostics -q check_port_connectivity >/dev/null 2>&1; then ok=1; break; fi
			sleep 1
		done
		[[ -n $ok ]] || { tail -50 /tmp/rabbit.log; exit 1; }
		exec 3<>/dev/tcp/127.0.0.1/5672
		printf "AMQP\0\0\t\1" >&3
		head -c 8 <&3 | od -An -c | head -1 >/tmp/amqp.start
		exec 3>&-
		grep -q "001" /tmp/amqp.start || { echo "no AMQP Connection.Start: $(cat /tmp/amqp.start)"; exit 1; }
		rabbitmqctl -q list_users | grep -q "^e2e" || { rabbitmqctl list_users; exit 1; }
		echo "   $(rabbitmqctl -q status | grep -m1 -i "rabbitmq version"), plugins: $(rabbitmq-plugins -q list -e -m | tr "\n" " ")user $(id -u), cookie $(stat -c %a "$HOME/.erlang.cookie")"
		rabbitmqctl -q shutdown >/dev/null 2>&1 || true
		wait || true
	'
	done_step "rabbitmq ok"
}

if have_image "$redis_ref" && have_image "$rabbitmq_ref" && [[ -s $out/redis.tar && -s $out/rabbitmq.tar && -f $out/debian.tag && $(cat "$out/debian.tag") == "$tag" ]]; then
	echo "== deps: $redis_ref and $rabbitmq_ref: reused"
else
	build_debian
	if [[ ${SKIP_CHECKS:-} != 1 ]]; then
		check_redis
		check_rabbitmq
	fi
	step "writing $out/redis.tar and $out/rabbitmq.tar"
	archive "$redis_ref" "$out/redis.tar"
	archive "$rabbitmq_ref" "$out/rabbitmq.tar"
	echo "$tag" >"$out/debian.tag"
	done_step "archives written"
fi

# ---------------------------------------------------------------------------
# mongostore: the tree of dev/ as it is in the work tree (a copy of the index
# takes the uncommitted changes; the real index is not touched).
index=$work/index
cp "$(git -C "$root" rev-parse --git-path index | sed "s|^[^/]|$root/&|")" "$index" 2>/dev/null || true
# It builds in the workspace (as `make stores` does; dev/go.sum alone lacks
# sums that go.work.sum has), whose go.mod files can raise dev's versions:
# they count too.
GIT_INDEX_FILE=$index git -C "$root" add -A -- dev go.work go.work.sum ':(glob)**/go.mod'
devtree=$(GIT_INDEX_FILE=$index git -C "$root" write-tree --prefix=dev/)
mtag=$( { echo "$devtree"; GIT_INDEX_FILE=$index git -C "$root" ls-files -s -- go.work go.work.sum ':(glob)**/go.mod'; "$go" version; } | sha256sum | cut -c1-12)
mongostore_ref=localhost/e2e/mongostore:$mtag
echo "== deps: mongostore tag $mtag (dev/ tree ${devtree:0:12}, $("$go" env GOVERSION))"

build_mongostore() {
	step "building dev/cmd/stores (CGO_ENABLED=0)"
	local fs=$work/mongostore
	mkdir -p "$fs/etc" "$fs/tmp" "$fs/data"
	chmod 1777 "$fs/tmp"
	chown "$mongostore_uid:$mongostore_uid" "$fs/data"
	(cd "$root" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 "$go" build -trimpath -ldflags "-s -w" -o "$fs/stores" ./dev/cmd/stores)
	if file "$fs/stores" 2>/dev/null | grep -q 'dynamically linked'; then
		echo "$0: dev/cmd/stores is not static: $(file "$fs/stores")" >&2
		exit 1
	fi
	"$go" version -m "$fs/stores" | grep -q 'CGO_ENABLED=0' || { echo "$0: stores built with cgo" >&2; exit 1; }
	echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' >"$fs/etc/passwd"
	echo 'nonroot:x:65532:' >"$fs/etc/group"
	done_step "built ($(du -h "$fs/stores" | cut -f1), static)"

	step "committing $mongostore_ref"
	local c
	c=$(buildah from --quiet scratch)
	ctrs+=("$c")
	buildah copy --quiet "$c" "$fs" / >/dev/null
	buildah config --os linux --arch amd64 --user "$mongostore_uid:$mongostore_uid" --workingdir / \
		--entrypoint '["/stores"]' --cmd '["-data","/data","-mongo","0.0.0.0:27017","-redis",""]' --port 27017/tcp \
		--label org.opencontainers.image.source=https://github.com/travluk/ecom \
		--label org.opencontainers.image.title=e2e-mongostore \
		--label "org.opencontainers.image.description=FerretDB behind the atomic-write proxy (dev/cmd/stores -redis \"\")" \
		--created-by "e2e/images/build-deps.sh mongostore" "$c"
	buildah commit --quiet --format docker --timestamp 0 --rm "$c" "$mongostore_ref" >/dev/null
	ctrs=()
	rm -rf "$fs"
	done_step "committed"
}

check_mongostore() {
	step "checking $mongostore_ref: /stores as $mongostore_uid on a read-only root, MongoDB wire hello"
	local hello=$work/hello
	mkdir -p "$hello"
	# A client outside the image (it has no shell): the mongo driver from
	# dev's own module, in a throwaway main package run inside the netns.
	cat >"$hello/main.go" <<-'EOF'
		package main

		import (
			"context"
			"fmt"
			"os"
			"time"

			"go.mongodb.org/mongo-driver/v2/bson"
			"go.mongodb.org/mongo-driver/v2/mongo"
			"go.mongodb.org/mongo-driver/v2/mongo/options"
		)

		func main() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			client, err := mongo.Connect(options.Client().ApplyURI(os.Args[1]).SetServerSelectionTimeout(20 * time.Second))
			if err == nil {
				var hello bson.M
				if err = client.Database("admin").RunCommand(ctx, bson.D{{Key: "hello", Value: 1}}).Decode(&hello); err == nil {
					coll := client.Database("e2e").Collection("check")
					if _, err = coll.InsertOne(ctx, bson.D{{Key: "_id", Value: 1}}); err == nil {
						fmt.Printf("   hello: isWritablePrimary=%v maxWireVersion=%v, insert ok\n", hello["isWritablePrimary"], hello["maxWireVersion"])
					}
				}
			}
			if err != nil {
				fmt.Fprintln(os.Stderr, "mongostore check:", err)
				os.Exit(1)
			}
		}
	EOF
	# Its own module outside the repository, on the driver version dev/ pins
	# (already in the module cache after the build above).
	local driver
	driver=$(cd "$root/dev" && "$go" list -m -f '{{.Version}}' go.mongodb.org/mongo-driver/v2)
	printf 'module e2ehello\n\ngo 1.24\n\nrequire go.mongodb.org/mongo-driver/v2 %s\n' "$driver" >"$hello/go.mod"
	cat "$root/dev/go.sum" "$root/go.work.sum" >"$hello/go.sum"
	(cd "$hello" && CGO_ENABLED=0 GOWORK=off GOFLAGS=-mod=mod "$go" build -o "$hello/hello" .)
	local c mnt
	c=$(buildah from --quiet --pull-never "$mongostore_ref")
	ctrs+=("$c")
	mnt=$(buildah mount "$c")
	unshare --mount --net --pid --fork --mount-proc=/proc bash -euo pipefail -c '
		mnt=$1 uid=$2 hello=$3
		ip link set lo up
		mount --bind "$mnt" "$mnt"
		mount -o remount,bind,ro "$mnt"
		mount -t tmpfs -o size=64m,mode=1777 tmpfs "$mnt/tmp"
		mount -t tmpfs -o "size=256m,mode=0770,uid=$uid,gid=$uid" tmpfs "$mnt/data"
		chroot --userspec="$uid:$uid" "$mnt" /stores -data /data -mongo 0.0.0.0:27017 -redis "" >"$hello/stores.log" 2>&1 &
		pid=$!
		for i in $(seq 100); do grep -q MONGODB_URI "$hello/stores.log" && break; sleep 0.1; done
		"$hello/hello" mongodb://127.0.0.1:27017/ || { cat "$hello/stores.log"; exit 1; }
		kill -TERM "$pid"; wait "$pid" || true
		grep -q "REDIS_URL" "$hello/stores.log" && { echo "a Redis ran"; exit 1; }
		true
	' check "$mnt" "$mongostore_uid" "$hello"
	buildah umount "$c" >/dev/null
	buildah rm "$c" >/dev/null
	ctrs=()
	done_step "mongostore ok"
}

if have_image "$mongostore_ref" && [[ -s $out/mongostore.tar && -f $out/mongostore.tag && $(cat "$out/mongostore.tag") == "$mtag" ]]; then
	echo "== deps: $mongostore_ref: reused"
else
	build_mongostore
	[[ ${SKIP_CHECKS:-} == 1 ]] || check_mongostore
	step "writing $out/mongostore.tar"
	archive "$mongostore_ref" "$out/mongostore.tar"
	echo "$mtag" >"$out/mongostore.tag"
	done_step "archive written"
fi

cat >"$out/images.env" <<-EOF
	E2E_REDIS_IMAGE=$redis_ref
	E2E_RABBITMQ_IMAGE=$rabbitmq_ref
	E2E_MONGOSTORE_IMAGE=$mongostore_ref
	E2E_DEPS_ARCHIVES="$out/redis.tar $out/rabbitmq.tar $out/mongostore.tar"
EOF
# Earlier tags of these three are superseded: drop them from containers-storage.
old=$(buildah images --noheading --format '{{.Name}}:{{.Tag}}' |
	grep -E '^localhost/e2e/(redis|rabbitmq|mongostore):' | grep -vxF -e "$redis_ref" -e "$rabbitmq_ref" -e "$mongostore_ref" || true)
if [[ -n $old ]]; then
	echo "== deps: removing superseded $(echo $old)"
	# shellcheck disable=SC2086
	buildah rmi $old >/dev/null || true
fi
for ref in "$redis_ref" "$rabbitmq_ref" "$mongostore_ref"; do
	printf '== deps: %-45s %s\n' "$ref" "$(size_of "$ref")"
done
ls -l "$out/redis.tar" "$out/rabbitmq.tar" "$out/mongostore.tar" | awk '{ printf "== deps: %-45s %d MB\n", $NF, $5 / 1e6 }'
echo "== deps: done in $((SECONDS - t_all)) s"
