#!/usr/bin/env bash
# Builds prometheus and promtool of the version this module pins into OUTDIR:
#   e2e/tools/prometheus/build.sh OUTDIR
# promtool runs the alert rules' unit tests (make test-alerts); prometheus is the
# server, for a look at the rules with real scrapes.
#
# Only the Kubernetes service discovery is compiled in (plus file and http, which
# Prometheus always has): remove_all_sd drops every discovery of plugins/, and
# enable_kubernetes_sd brings Kubernetes back. Both binaries honour the tags
# (each imports plugins/). That leaves some 240 packages (AWS, Azure, GCE, ...
# SDKs) out of a cold build.
#
# The web UI is not built in: its assets are no part of the module (upstream's
# builtinassets tag needs them generated with npm first), so the UI pages answer
# with an error while the API (/api/v1/...) works.
set -euo pipefail
out=${1:?usage: $0 OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
cd "$(dirname "$0")"
export GOWORK=off CGO_ENABLED=0
go=${GO:-go}

# The version upstream's release builds stamp (.promu.yml's ldflags), read from
# the VERSION file of the pinned module so that it follows the pin. The module
# zip has no git metadata: the revision says the module version instead.
module=github.com/prometheus/prometheus
mod_version=$("$go" list -m -f '{{.Version}}' "$module")
mod_dir=$("$go" mod download -json "$module" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
version=$(<"$mod_dir/VERSION")
v=github.com/prometheus/common/version
ldflags="-s -w -X $v.Version=$version -X $v.Revision=$mod_version -X $v.Branch=HEAD -X $v.BuildUser=travluk-e2e"

"$go" build -trimpath -tags remove_all_sd,enable_kubernetes_sd -ldflags "$ldflags" -o "$out/" \
	"$module/cmd/prometheus" "$module/cmd/promtool"
