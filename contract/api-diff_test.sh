#!/usr/bin/env bash
# Tests of contract/api-diff.sh: the real script, run on synthetic OpenAPI
# 3.1 documents in a scratch git repository whose first commit is the
# "release". Each case writes a revision of the document into the work
# tree and states whether the script must pass and what it must say.
set -euo pipefail

script=$(cd "$(dirname "$0")" && pwd)/api-diff.sh
repo=$(mktemp -d)
trap 'rm -rf "$repo"' EXIT

git() { command git -C "$repo" -c user.name=api-diff-test -c user.email=test@invalid -c commit.gpgsign=false -c tag.gpgsign=false "$@"; }

# The release: one operation taking a body with a required name and an
# optional, nullable note (a 3.1 type array), and one operation by id.
cat >"$repo/api.json" <<'EOF'
{
  "openapi": "3.1.0",
  "info": {"title": "things", "version": "1.0.0"},
  "paths": {
    "/things": {
      "post": {
        "operationId": "createThing",
        "requestBody": {
          "required": true,
          "content": {"application/json": {"schema": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "note": {"type": ["string", "null"]}}
          }}}
        },
        "responses": {"201": {"description": "created"}}
      }
    },
    "/things/{id}": {
      "get": {
        "operationId": "getThing",
        "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "the thing"}}
      }
    }
  }
}
EOF
git init -q
git add api.json
git commit -q -m release
git tag -a v1.0.0 -m v1.0.0
sha=$(git rev-parse 'v1.0.0^{commit}')
echo "v1.0.0 $sha" >"$repo/release"
cp "$repo/api.json" "$repo/base.json"

export API_DIFF_ROOT=$repo API_DIFF_RELEASE=$repo/release API_DIFF_DOCS=api.json

passed=0 failed=0
# expect NAME pass|fail TEXT: runs the script and checks its outcome and
# that its output contains TEXT.
expect() {
	local name=$1 want=$2 text=$3 out rc=0
	out=$("$script" 2>&1) || rc=$?
	local got=pass
	((rc == 0)) || got=fail
	if [[ "$got" == "$want" && "$out" == *"$text"* ]]; then
		passed=$((passed + 1))
		printf 'ok   %s\n' "$name"
	else
		failed=$((failed + 1))
		printf 'FAIL %s: want %s mentioning %q, got %s (exit %d):\n%s\n' "$name" "$want" "$text" "$got" "$rc" "$out"
	fi
}
# revise JQ: the work tree's document becomes the release's, changed by JQ.
revise() { jq "$1" "$repo/base.json" >"$repo/api.json"; }

body='.paths["/things"].post.requestBody.content["application/json"].schema'

revise '.'
expect "unchanged" pass "api.json: 1.0.0 -> 1.0.0, 0 breaking, 0 non-breaking changes since v1.0.0"

revise '.info.version = "1.1.0" | .paths["/health"] = {"get": {"operationId": "health", "responses": {"200": {"description": "alive"}}}}'
expect "an operation added, minor bump" pass "1.0.0 -> 1.1.0, 0 breaking, 2 non-breaking"

revise '.info.version = "1.1.0" | del(.paths["/things/{id}"])'
expect "an operation removed, minor bump" fail "bump it to 2.0.0"
expect "an operation removed, the change listed" fail "api-path-removed-without-deprecation"
revise '.info.version = "2.0.0" | del(.paths["/things/{id}"])'
expect "an operation removed, major bump" pass "1.0.0 -> 2.0.0, 1 breaking"
# A breaking change reviewed and listed in the accepted file (oasdiff's
# --err-ignore: method, path and the change's whole text) passes unbumped;
# another one beside it still fails.
printf '# reviewed\nGET /things/{id} api path removed without deprecation\n' >"$repo/accepted.txt"
revise '.info.version = "1.1.0" | del(.paths["/things/{id}"])'
API_DIFF_ACCEPTED=$repo/accepted.txt expect "an operation removed, the removal accepted" pass "1.0.0 -> 1.1.0, 0 breaking"
revise ".info.version = \"1.1.0\" | del(.paths[\"/things/{id}\"]) | $body.required += [\"note\"]"
API_DIFF_ACCEPTED=$repo/accepted.txt expect "an accepted removal beside a new required field" fail "request-property-became-required"

revise ".info.version = \"1.1.0\" | $body.required += [\"note\"]"
expect "an optional request field made required, minor bump" fail "request-property-became-required"
revise ".info.version = \"1.0.0\" | $body.required += [\"note\"]"
expect "an optional request field made required, no bump" fail "bump it to 2.0.0"
revise ".info.version = \"2.0.0\" | $body.required += [\"note\"]"
expect "an optional request field made required, major bump" pass "1.0.0 -> 2.0.0, 1 breaking"

# 3.1 only: type ["string", "null"] narrowed to "string" refuses a null
# the release accepted. Seen only if oasdiff reads 3.1 type arrays.
revise ".info.version = \"1.1.0\" | $body.properties.note.type = \"string\""
expect "a 3.1 type array narrowed in a request, minor bump" fail "request-property-became-not-nullable"

revise '.info.version = "banana" | del(.paths["/things/{id}"])'
expect "a breaking change under a version that is not semver" fail 'info.version "banana" is not a semantic version'

# The release file and the tag.
revise '.'
git tag -d v1.0.0 >/dev/null
expect "no tag in the clone: the file's sha is used" pass "0 breaking"
git commit -q --allow-empty -m later
git tag v1.0.0 HEAD
expect "the tag names another commit than the file" fail "tag v1.0.0 is commit $(git rev-parse HEAD)"
git tag -d v1.0.0 >/dev/null
git tag v1.0.0 "$sha"
echo "v1.0.0 ${sha:0:12}" >"$repo/release"
expect "a short sha in the file" fail "full 40-hex commit sha"
echo "v1.0.0 0123456789012345678901234567890123456789" >"$repo/release"
expect "a sha not in the clone" fail "is not in this clone"
echo "v1.0.0 $sha" >"$repo/release"
API_DIFF_DOCS="api.json new.json" expect "a document the release lacks" fail "new.json: no such file"
cp "$repo/api.json" "$repo/new.json"
API_DIFF_DOCS="api.json new.json" expect "a document new since the release" pass "new.json: new since v1.0.0"

printf '%d passed, %d failed\n' "$passed" "$failed"
((failed == 0))
