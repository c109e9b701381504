#!/usr/bin/env bash
# api-diff: the public OpenAPI documents must not break their clients
# without announcing it. Each document is compared with itself as of the
# previous release (contract/previous-release: a tag and its commit, so a
# clone without tags works too) by oasdiff. A breaking change (oasdiff level
# ERR) fails unless the document's info.version has a greater major version
# than the release's; anything else prints one line per document.
#
# Usage: contract/api-diff.sh
# Overridable, for contract/api-diff_test.sh (which drives this script on
# synthetic documents in a repository of its own):
#   API_DIFF_ROOT     the git work tree holding the documents (default: this repository)
#   API_DIFF_RELEASE  the release file (default: $API_DIFF_ROOT/contract/previous-release)
#   API_DIFF_DOCS     the documents, paths relative to API_DIFF_ROOT (default: the three services')
#   API_DIFF_ACCEPTED breaking changes reviewed and accepted, oasdiff's --err-ignore file
#                     (default: $API_DIFF_ROOT/contract/api-diff-accepted.txt; none if missing)
#   GO                the go command that builds oasdiff (default: go)
set -euo pipefail

OASDIFF_VERSION=v1.39.0

here=$(cd "$(dirname "$0")/.." && pwd)
root=${API_DIFF_ROOT:-$here}
release_file=${API_DIFF_RELEASE:-$root/contract/previous-release}
accepted=${API_DIFF_ACCEPTED:-$root/contract/api-diff-accepted.txt}
read -r -a docs <<<"${API_DIFF_DOCS:-services/customer/internal/httpapi/openapi.json services/product/internal/httpapi/openapi.json services/order/internal/httpapi/openapi.json}"

fail() {
	printf 'api-diff: %s\n' "$*" >&2
	exit 1
}

command -v jq >/dev/null || fail "needs jq (Debian: apt-get install jq)"

# oasdiff is built once into .tools/bin and rebuilt only when the pinned
# version changes: the binary reports its own version, so no stamp file can
# go stale. go install of module@version ignores go.work and needs no
# wrapper module (oasdiff's go.mod has no replace lines).
oasdiff=$here/.tools/bin/oasdiff
if [[ "$("$oasdiff" --version 2>/dev/null || true)" != "oasdiff version ${OASDIFF_VERSION#v}" ]]; then
	printf 'api-diff: building oasdiff %s into .tools/bin (once per version; cold: about 2 min)\n' "$OASDIFF_VERSION"
	GOBIN=$here/.tools/bin "${GO:-go}" install "github.com/oasdiff/oasdiff@$OASDIFF_VERSION"
fi

[[ -f "$release_file" ]] || fail "no release file $release_file (one line: <tag> <commit sha>)"
read -r tag sha rest <"$release_file" || true
[[ -n "${tag:-}" && "${sha:-}" =~ ^[0-9a-f]{40}$ && -z "${rest:-}" ]] ||
	fail "$release_file must be one line: <tag> <full 40-hex commit sha>"
git -C "$root" cat-file -e "$sha^{commit}" 2>/dev/null ||
	fail "commit $sha ($tag) is not in this clone (a shallow clone? fetch more history)"
# A clone may lack tags; where the tag exists it must be this very commit,
# or the file and the tags tell two different stories.
if tagged=$(git -C "$root" rev-parse -q --verify "refs/tags/$tag^{commit}"); then
	[[ "$tagged" == "$sha" ]] ||
		fail "tag $tag is commit $tagged, but $release_file says $sha: correct one of them"
fi

major() { # an info.version's major number, or nothing
	local v=${1#v}
	v=${v%%.*}
	[[ "$v" =~ ^[0-9]+$ ]] && echo "$((10#$v))"
}

# oasdiff runs in a scratch directory, on copies named after where they
# come from, so its report says "at v1.0.0/services/..." and no .oasdiff
# config file of the work tree changes what it checks.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ignore=()
if [[ -f $accepted ]]; then
	ignore=(--err-ignore "$(cd "$(dirname "$accepted")" && pwd)/$(basename "$accepted")")
fi

failed=0
for doc in "${docs[@]}"; do
	base=$tag/$doc
	revision=working-tree/$doc
	mkdir -p "$tmp/$(dirname "$base")" "$tmp/$(dirname "$revision")"
	[[ -f "$root/$doc" ]] || fail "$doc: no such file in the work tree"
	cp "$root/$doc" "$tmp/$revision"
	if ! git -C "$root" show "$sha:$doc" >"$tmp/$base" 2>/dev/null; then
		printf 'api-diff: %s: new since %s, nothing to compare\n' "$doc" "$tag"
		continue
	fi
	from=$(jq -r '.info.version // ""' "$tmp/$base")
	to=$(jq -r '.info.version // ""' "$tmp/$revision")

	# changelog reports every change with its level; its level-3 (ERR)
	# entries are exactly what "oasdiff breaking --fail-on ERR" fails on.
	# External $refs are refused: a document must never make the check
	# fetch anything.
	changes=$(cd "$tmp" && "$oasdiff" changelog --allow-external-refs=false "${ignore[@]}" -f json "$base" "$revision")
	breaking=$(jq '[.[] | select(.level == 3)] | length' <<<"$changes")
	other=$(($(jq 'length' <<<"$changes") - breaking))

	if ((breaking > 0)); then
		from_major=$(major "$from") || fail "$base: info.version \"$from\" is not a semantic version"
		to_major=$(major "$to") || fail "$revision: info.version \"$to\" is not a semantic version"
		if ((to_major <= from_major)); then
			(cd "$tmp" && "$oasdiff" breaking --allow-external-refs=false "${ignore[@]}" --color never "$base" "$revision") || true
			printf 'api-diff: %s: %d breaking change(s) since %s, but info.version %s -> %s keeps the major version: bump it to %d.0.0 or undo the change(s)\n' \
				"$doc" "$breaking" "$tag" "$from" "$to" "$((from_major + 1))" >&2
			failed=1
			continue
		fi
	fi
	printf 'api-diff: %s: %s -> %s, %d breaking, %d non-breaking changes since %s\n' "$doc" "$from" "$to" "$breaking" "$other" "$tag"
done
exit "$failed"
