#!/bin/sh
# PID 1 of the dev image (dev/tilt/Containerfile, `tilt up` only).
#
# Runs /$SERVICE, or /tilt/live/$SERVICE once Tilt's live update has put a
# newer binary there (an emptyDir the Tiltfile mounts: the root filesystem
# stays read-only). SIGHUP, sent by the live update after each sync, restarts
# the service in place; SIGTERM stops it. When the service exits on its own
# the container exits with its status, so a crash still shows in Kubernetes.
set -u
: "${SERVICE:?SERVICE is not set}"
live=${LIVE_DIR:-/tilt/live}
pid=
restart=0
trap 'restart=1; kill -TERM "$pid" 2>/dev/null' HUP
trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 143' TERM INT
while :; do
	bin=${BASE_DIR:-}/$SERVICE
	[ -x "$live/$SERVICE" ] && bin=$live/$SERVICE
	"$bin" &
	pid=$!
	status=0
	wait "$pid" || status=$?
	# A trapped signal ends wait early: wait until the service is really gone.
	while kill -0 "$pid" 2>/dev/null; do wait "$pid" || status=$?; done
	if [ "$restart" = 1 ]; then
		restart=0
		echo "run.sh: restarting $SERVICE after a live update" >&2
		continue
	fi
	exit "$status"
done
