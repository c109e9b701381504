#!/usr/bin/env bash
# contract/run.sh is `make contract`: the tools API users run, against the
# live shop, failing on any mismatch with the OpenAPI documents.
#
#  1. npm ci (skipped while node_modules matches package-lock.json), then
#     Spectral lints each document (spectral.yaml; any error or warning fails).
#  2. Builds bin/travluk and starts the shop on free loopback ports with a
#     fresh temporary data dir and an admin account.
#  3. Puts Prism in front of each service as a validating proxy (--errors), a
#     strict one and one that checks responses only (for the deliberate bad
#     requests), and runs the journey Portman generates from the documents and
#     portman-config.json through them with Newman; every operation of every
#     document must have been exercised.
#  4. Runs Portman's one request per operation against `prism mock` of each
#     document: the documents must work as a mock for a front end.
#
# Every step runs even when one before it failed (except when the shop cannot
# start), so one run lists every mismatch; the summary names the failed steps.
# Results: contract/results/. CONTRACT_DOCS=DIR reads DIR/{customer,product,
# order}.json instead of the services' documents (to try a change, or to show
# that the suite fails on a broken document).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
C=$ROOT/contract
R=$C/results
BIN=$C/node_modules/.bin
GO=${GO:-go}
SERVICES=(customer product order)
STARTED=$(date +%s)

say() { echo "== contract: $* ($(($(date +%s) - STARTED))s)"; }
doc() {
	if [[ -n ${CONTRACT_DOCS:-} ]]; then
		echo "$CONTRACT_DOCS/$1.json"
	else
		echo "$ROOT/services/$1/internal/httpapi/openapi.json"
	fi
}

FAILED=()
fail() {
	FAILED+=("$1")
	echo "== contract: FAILED: $1"
}

TMP=$(mktemp -d "${TMPDIR:-/tmp}/travluk-contract.XXXXXX")
PIDS=()
stop() { # pid...: TERM, up to 10 s to go, then KILL
	local pid
	for pid in "$@"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "$@"; do
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.2
		done
		kill -KILL "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	done
}
cleanup() {
	stop "${PIDS[@]}"
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$R"
mkdir -p "$R"

# --- 1. tools and lint ---------------------------------------------------------
for s in "${SERVICES[@]}"; do
	[[ -f $(doc "$s") ]] || { echo "contract: no document $(doc "$s")" >&2; exit 1; }
done
lock_sum=$(sha256sum "$C/package-lock.json" | cut -d' ' -f1)
if [[ -f $C/node_modules/.contract-lock && $(cat "$C/node_modules/.contract-lock") == "$lock_sum" ]]; then
	say "npm ci skipped: node_modules matches package-lock.json"
else
	say "npm ci (Spectral, Prism, Portman, Newman at the versions in package-lock.json)"
	# --ignore-scripts: none of the four needs one; one dependency's would only report usage.
	(cd "$C" && SCARF_ANALYTICS=false timeout 600 nice -n 19 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
	echo "$lock_sum" >"$C/node_modules/.contract-lock"
fi

for s in "${SERVICES[@]}"; do
	say "spectral lint $s"
	if ! timeout 300 nice -n 19 "$BIN/spectral" lint --ruleset "$C/spectral.yaml" --fail-severity warn \
		--format stylish --format junit --output.stylish "$R/spectral-$s.txt" --output.junit "$R/spectral-$s.xml" \
		"$(doc "$s")"; then
		cat "$R/spectral-$s.txt"
		fail "spectral $s: $(grep -Eo '[0-9]+ problems? \([0-9]+ errors?, [0-9]+ warnings?' "$R/spectral-$s.txt" | tail -1 || echo 'see results'))"
	else
		echo "spectral $s: no errors or warnings"
	fi
done

# --- 2. the shop ---------------------------------------------------------------
# Thirteen free loopback ports: the shop's four, six proxies, three mocks.
read -r -a PORTS <<<"$(node -e '
const net = require("net");
const servers = [];
let left = 13;
for (let i = 0; i < 13; i++) {
  const s = net.createServer();
  servers.push(s);
  s.listen(0, "127.0.0.1", () => {
    if (--left === 0) {
      console.log(servers.map((x) => x.address().port).join(" "));
      servers.forEach((x) => x.close());
    }
  });
}')"
SHOP=http://127.0.0.1:${PORTS[0]}

say "building bin/travluk (as make run does)"
timeout 900 nice -n 19 "$GO" build -o bin/travluk ./dev/cmd/travluk

say "starting the shop on $SHOP, data in a temporary dir"
ADMIN_EMAIL=admin@contract.example
ADMIN_PASSWORD=contract-admin-password
env INGRESS_ADDR="127.0.0.1:${PORTS[0]}" CUSTOMER_ADDR="127.0.0.1:${PORTS[1]}" \
	PRODUCT_ADDR="127.0.0.1:${PORTS[2]}" ORDER_ADDR="127.0.0.1:${PORTS[3]}" \
	DATA_DIR="$TMP/data" SEED_CATALOG=false LOG_LEVEL=warn BUY_CONFIRM_WAIT=20s \
	ADMIN_EMAIL="$ADMIN_EMAIL" ADMIN_PASSWORD="$ADMIN_PASSWORD" \
	bin/travluk >"$R/shop.log" 2>&1 &
PIDS+=($!)
shop_pid=$!
for _ in $(seq 1 240); do
	grep -q '^travluk: ready' "$R/shop.log" && break
	kill -0 "$shop_pid" 2>/dev/null || break
	sleep 0.5
done
if ! grep -q '^travluk: ready' "$R/shop.log"; then
	echo "contract: the shop did not start within 120 s; its output:" >&2
	cat "$R/shop.log" >&2
	exit 1
fi

wait_port() { # port seconds: until something listens on 127.0.0.1:port
	local i
	for i in $(seq 1 $(($2 * 4))); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.25
	done
	return 1
}

# --- 3. the journey through Prism ------------------------------------------------
vars=(customerEmail=ada@contract.example customerPassword=correct-horse-battery
	adminEmail="$ADMIN_EMAIL" adminPassword="$ADMIN_PASSWORD" directUrl="$SHOP")
i=0
for s in "${SERVICES[@]}"; do
	strict=${PORTS[$((4 + i))]} lenient=${PORTS[$((7 + i))]}
	nice -n 19 "$BIN/prism" proxy --errors -h 127.0.0.1 -p "$strict" "$(doc "$s")" "$SHOP" \
		>"$R/prism-proxy-$s.log" 2>&1 &
	PIDS+=($!)
	nice -n 19 "$BIN/prism" proxy --errors --validate-request=false -h 127.0.0.1 -p "$lenient" "$(doc "$s")" "$SHOP" \
		>"$R/prism-proxy-$s-responses-only.log" 2>&1 &
	PIDS+=($!)
	vars+=("${s}Url=http://127.0.0.1:$strict" "${s}LenientUrl=http://127.0.0.1:$lenient")
	i=$((i + 1))
done
say "Prism proxies started: strict on ${PORTS[*]:4:3}, responses only on ${PORTS[*]:7:3}"

say "portman: a collection per document"
mkdir -p "$R/portman"
for s in "${SERVICES[@]}"; do
	# Portman reads file: scripts relative to its working directory and leaves a tmp/ there.
	mkdir -p "$TMP/portman"
	cp "$C/prism-check.js" "$TMP/portman/"
	if ! (cd "$TMP/portman" && timeout 300 nice -n 19 "$BIN/portman" --local "$(doc "$s")" --portmanConfigFile "$C/portman-config.json" \
		--baseUrl '{{baseUrl}}' --extraUnknownFormats money --output "$R/portman/$s.json" >"$R/portman/$s.log" 2>&1); then
		cat "$R/portman/$s.log"
		echo "contract: Portman could not convert $(doc "$s")" >&2
		exit 1
	fi
done
args=()
for s in "${SERVICES[@]}"; do args+=("$s=$R/portman/$s.json"); done
node "$C/merge.js" "$R" "${args[@]}" --var "${vars[@]}"

for p in "${PORTS[@]:4:6}"; do
	wait_port "$p" 60 || { echo "contract: Prism did not listen on $p within 60 s; see $R/prism-proxy-*.log" >&2; exit 1; }
done

newman() { # name collection: run it, JSON and JUnit reports in results/
	timeout 600 nice -n 19 "$BIN/newman" run "$2" --timeout 300000 --timeout-request 30000 --color off \
		--reporters cli,json,junit --reporter-json-export "$R/newman-$1.json" --reporter-junit-export "$R/newman-$1.xml" \
		>"$R/newman-$1.txt" 2>&1
}
docs=()
for s in "${SERVICES[@]}"; do docs+=("$(doc "$s")"); done
# judge NAME WHAT: Newman's run NAME fails the suite with WHAT when a test
# failed or a documented operation went unexercised.
judge() {
	if [[ ! -s $R/newman-$1.json ]]; then
		cat "$R/newman-$1.txt"
		fail "$1: Newman did not finish"
	elif ! node "$C/report.js" "$R/newman-$1.json" --coverage "${docs[@]}"; then
		fail "$1: $2 (above; $R/newman-$1.txt)"
	fi
}

say "newman: the journey through the proxies ($(grep -c '"request": {' "$R/journey.json") requests)"
newman journey "$R/journey.json" || true
judge journey "the services or the documents do not agree"
for log in "$R"/prism-proxy-*.log; do
	# Prism logs each violation it found, and each request it answered itself.
	n=$(grep -cE 'Violation:|terminated with error' "$log" || true)
	echo "$(basename "$log" .log): $n violations or refusals"
	grep -E 'Violation:|terminated with error' "$log" | sed -E 's/^\[[^]]*\] › //' | sort | uniq -c | head -20 || true
done

# --- 4. the documents as a mock -----------------------------------------------------
stop "${PIDS[@]}" # the shop and the proxies: the two cores go to the mocks
PIDS=()
i=0
mockvars=(bearerToken=contract-mock-token)
for s in "${SERVICES[@]}"; do
	port=${PORTS[$((10 + i))]}
	nice -n 19 "$BIN/prism" mock --errors -h 127.0.0.1 -p "$port" "$(doc "$s")" >"$R/prism-mock-$s.log" 2>&1 &
	PIDS+=($!)
	mockvars+=("${s}Url=http://127.0.0.1:$port")
	i=$((i + 1))
done
node "$C/merge.js" "$TMP" "${args[@]}" --var "${mockvars[@]}"
mv "$TMP/mock.json" "$R/mock.json"
for p in "${PORTS[@]:10:3}"; do
	wait_port "$p" 60 || { echo "contract: Prism mock did not listen on $p within 60 s; see $R/prism-mock-*.log" >&2; exit 1; }
done
say "newman: one request per operation against prism mock"
newman mock "$R/mock.json" || true
judge mock "the documents do not work as a mock"

# --- summary -------------------------------------------------------------------------
if ((${#FAILED[@]} > 0)); then
	say "FAILED ${#FAILED[@]} step(s) in $(($(date +%s) - STARTED))s; results in contract/results/"
	printf '  %s\n' "${FAILED[@]}"
	exit 1
fi
say "ok in $(($(date +%s) - STARTED))s: the services hold to their documents; results in contract/results/"
