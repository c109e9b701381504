#!/usr/bin/env bash
# Writes every CustomResourceDefinition the e2e install needs into OUTDIR
# (default .e2e/crds), taken from pinned Go module zips through the module
# proxy (`go mod download`), never from GitHub:
#
#   e2e/crds.sh [OUTDIR]
#
# OUTDIR/*.yaml are CRDs only (apply them with `kubectl apply --server-side
# -f OUTDIR` or `kubectl create -f OUTDIR`: some are larger than the 256 KiB
# that client-side apply's last-applied annotation allows). OUTDIR/rbac/ holds
# Traefik's ClusterRoles and ClusterRoleBindings for its CRD and Gateway API
# providers (the CRD provider's role covers Ingress too), which are not CRDs;
# their bindings name the ServiceAccounts `traefik-ingress-controller` (CRD
# provider) and `traefik-controller` (Gateway API) in namespace `default`:
# patch the subjects to where Traefik runs.
#
# A warm module cache makes a run take well under a second per module. Every
# file is checked: each YAML document in OUTDIR/*.yaml must be a
# `kind: CustomResourceDefinition` of apiextensions.k8s.io/v1.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/.e2e/crds}
go=${GO:-go}
start_all=$SECONDS

# module@version, then the files (relative to the module's root) to take, as
# SOURCE[=TARGET-NAME]; a SOURCE ending in /*.yaml takes every match (at least one).
specs=(
	"sigs.k8s.io/gateway-api@v1.4.0|config/crd/standard/*.yaml"
	"github.com/traefik/traefik/v3@v3.6.12|docs/content/reference/dynamic-configuration/kubernetes-crd-definition-v1.yml=traefik.io_crds.yaml rbac:docs/content/reference/dynamic-configuration/kubernetes-crd-rbac.yml=traefik-crd-rbac.yaml rbac:docs/content/reference/dynamic-configuration/kubernetes-gateway-rbac.yml=traefik-gateway-rbac.yaml"
	"github.com/mongodb/mongodb-kubernetes-operator@v0.13.0|config/crd/bases/mongodbcommunity.mongodb.com_mongodbcommunity.yaml"
	"github.com/rabbitmq/cluster-operator/v2@v2.16.0|config/crd/bases/rabbitmq.com_rabbitmqclusters.yaml"
	"github.com/spotahome/redis-operator@v1.2.4|manifests/databases.spotahome.com_redisfailovers.yaml"
	# All but alertmanagerconfigs: no Alertmanager runs here, and its CRD holds a "=" key PyYAML refuses.
	"github.com/prometheus-operator/prometheus-operator@v0.85.0|example/prometheus-operator-crd/monitoring.coreos.com_alertmanagers.yaml example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml example/prometheus-operator-crd/monitoring.coreos.com_probes.yaml example/prometheus-operator-crd/monitoring.coreos.com_prometheusagents.yaml example/prometheus-operator-crd/monitoring.coreos.com_prometheuses.yaml example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml example/prometheus-operator-crd/monitoring.coreos.com_scrapeconfigs.yaml example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml example/prometheus-operator-crd/monitoring.coreos.com_thanosrulers.yaml"
	"k8s.io/autoscaler/vertical-pod-autoscaler@v1.8.1|deploy/vpa-v1-crd-gen.yaml=autoscaling.k8s.io_verticalpodautoscalers.yaml"
)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage=$work/crds
mkdir -p "$stage/rbac"

# Download every module in parallel (a cold cache costs one zip each), outside
# any module or workspace of this repository.
declare -A dir
i=0
for spec in "${specs[@]}"; do
	mod=${spec%%|*}
	(cd "$work" && GOFLAGS=-mod=mod GOWORK=off "$go" mod download -json "$mod" >"$work/dl.$i.json" 2>"$work/dl.$i.err"; echo $? >"$work/dl.$i.rc") &
	i=$((i + 1))
done
wait
i=0
fail=0
for spec in "${specs[@]}"; do
	mod=${spec%%|*}
	if [[ $(cat "$work/dl.$i.rc") != 0 ]] || ! d=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p' "$work/dl.$i.json") || [[ -z $d || ! -d $d ]]; then
		echo "== crds: $mod: go mod download failed:" >&2
		cat "$work/dl.$i.err" "$work/dl.$i.json" >&2
		fail=1
	fi
	dir[$mod]=${d:-}
	i=$((i + 1))
done
((fail == 0)) || { echo "== crds: FAILED: a module could not be downloaded (see above; try the nearest version in the proxy's list)" >&2; exit 1; }

for spec in "${specs[@]}"; do
	mod=${spec%%|*} files=${spec#*|}
	d=${dir[$mod]}
	echo "== crds: $mod ($d)"
	for f in $files; do
		dest=$stage
		if [[ $f == rbac:* ]]; then dest=$stage/rbac f=${f#rbac:}; fi
		src=${f%%=*} name=
		[[ $f == *=* ]] && name=${f#*=}
		shopt -s nullglob
		# shellcheck disable=SC2206 # the glob is meant to expand
		matches=($d/$src)
		shopt -u nullglob
		if ((${#matches[@]} == 0)) || [[ ! -f ${matches[0]} ]]; then
			echo "== crds: FAILED: $mod has no $src" >&2
			exit 1
		fi
		for m in "${matches[@]}"; do
			target=$dest/${name:-$(basename "$m")}
			[[ -e $target ]] && { echo "== crds: FAILED: two sources for $(basename "$target")" >&2; exit 1; }
			cp "$m" "$target"
			chmod 0644 "$target" # the module cache's files are read-only
			printf '   %-60s %8d bytes\n' "${target#"$stage"/}" "$(stat -c %s "$target")"
		done
	done
done

# The check: every document (split on lines that are `---`) that is not only
# comments and blank lines is an apiextensions.k8s.io/v1 CustomResourceDefinition.
check() { # file
	awk -v file="$1" '
		function done_doc() {
			if (content) {
				docs++
				if (!crd || !api) { printf "== crds: FAILED: %s document %d is not an apiextensions.k8s.io/v1 CustomResourceDefinition\n", file, docs > "/dev/stderr"; bad = 1 }
			}
			content = crd = api = 0
		}
		/^---[[:space:]]*$/ { done_doc(); next }
		/^[[:space:]]*(#.*)?$/ { next }
		{ content = 1 }
		/^kind:[[:space:]]*CustomResourceDefinition[[:space:]]*$/ { crd = 1 }
		/^apiVersion:[[:space:]]*apiextensions\.k8s\.io\/v1[[:space:]]*$/ { api = 1 }
		END { done_doc(); if (docs == 0) { printf "== crds: FAILED: %s has no document\n", file > "/dev/stderr"; bad = 1 }; printf "%d\n", docs; exit bad }
	' "$1"
}
total=0
for f in "$stage"/*.yaml; do
	n=$(check "$f")
	total=$((total + n))
done
for f in "$stage"/rbac/*.yaml; do
	grep -q '^kind: ClusterRole$' "$f" || { echo "== crds: FAILED: $f has no ClusterRole" >&2; exit 1; }
done
# Where python3 has PyYAML (Debian's python3-yaml), a real parse as well.
if python3 -c 'import yaml' 2>/dev/null; then
	python3 - "$stage" <<'PY'
import glob, sys, yaml
n = 0
for f in sorted(glob.glob(sys.argv[1] + "/*.yaml")):
    with open(f) as fh:
        for doc in yaml.load_all(fh, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
            if doc is None:
                continue
            n += 1
            if doc.get("kind") != "CustomResourceDefinition" or doc.get("apiVersion") != "apiextensions.k8s.io/v1":
                sys.exit("== crds: FAILED: %s: a document of kind %s" % (f, doc.get("kind")))
print("== crds: PyYAML parsed %d CustomResourceDefinitions" % n)
PY
fi
echo "== crds: checked $total CustomResourceDefinitions in $(ls "$stage"/*.yaml | wc -l) files"

# Replace OUTDIR whole, so a file dropped from the list does not linger.
mkdir -p "$(dirname "$out")"
rm -rf "$out.new"
cp -r "$stage" "$out.new"
rm -rf "$out"
mv "$out.new" "$out"
echo "== crds: wrote $out in $((SECONDS - start_all)) s"
