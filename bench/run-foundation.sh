#!/bin/bash
# Foundation benchmark: ocid's gRPC round trip and throughput, measured with
# bench-rpc against ocid and, in the same run, against h2floor (a minimal
# single-threaded nghttp2 server on the same kind of unix socket) as the
# floor; plus ocid's idle memory. Prints figures, ratios ocid/floor and the
# targets. Never fails on a figure: only on a broken build or a daemon that
# does not come up.
#
# Environment:
#   OCID_BUILD          build directory (default <repo>/build); built first
#   BENCH_SERVER        command to benchmark instead of ocid, run with the
#                       socket path appended (e.g. the rpc test server)
#   BENCH_METHOD        gRPC method (default /runtime.v1.RuntimeService/Version)
#   BENCH_ARGS          extra bench-rpc flags, e.g. "-n 5000 -d 1"
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${OCID_BUILD:-$TOP/build}
METHOD=${BENCH_METHOD:-/runtime.v1.RuntimeService/Version}
read -r -a EXTRA <<<"${BENCH_ARGS:-}"

if [ -f "$BUILD/build.ninja" ]; then
	ninja -C "$BUILD" >/dev/null
else
	meson setup "$BUILD" "$TOP" >/dev/null
	ninja -C "$BUILD" >/dev/null
fi
OCID=$BUILD/src/cmd/ocid/ocid
BENCH=$BUILD/bench/bench-rpc
FLOOR=$BUILD/bench/h2floor
for b in "$BENCH" "$FLOOR"; do
	[ -x "$b" ] || { echo "run-foundation: $b is not built" >&2; exit 1; }
done
if [ -z "${BENCH_SERVER:-}" ] && [ ! -x "$OCID" ]; then
	echo "run-foundation: $OCID is not built (or set BENCH_SERVER)" >&2
	exit 1
fi

TMP=$(mktemp -d /tmp/ocid-bench.XXXXXX)
PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

wait_socket() { # path pid
	for _ in $(seq 200); do
		[ -S "$1" ] && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}

# mem PID: "rss_kb pss_kb private_kb"
mem() {
	local rss pss priv
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status")
	pss=$(awk '/^Pss:/ {print $2}' "/proc/$1/smaps_rollup")
	priv=$(awk '/^Private_(Clean|Dirty):/ {s += $2} END {print s}' "/proc/$1/smaps_rollup")
	echo "$rss $pss $priv"
}

"$FLOOR" "$TMP/floor.sock" &
FLOOR_PID=$!
PIDS+=("$FLOOR_PID")

SOCK=$TMP/run/ocid.sock
mkdir -p "$TMP/run"
if [ -n "${BENCH_SERVER:-}" ]; then
	NAME=server
	# shellcheck disable=SC2086
	$BENCH_SERVER "$SOCK" >"$TMP/server.log" 2>&1 &
else
	NAME=ocid
	"$OCID" --root "$TMP/root" --runroot "$TMP/run" --listen "$SOCK" \
		--config "$TMP/none.conf" --config-dir "$TMP/conf.d" \
		>"$TMP/server.log" 2>&1 &
fi
SERVER_PID=$!
PIDS+=("$SERVER_PID")
wait_socket "$TMP/floor.sock" "$FLOOR_PID" || { echo "run-foundation: h2floor did not start" >&2; exit 1; }
if ! wait_socket "$SOCK" "$SERVER_PID"; then
	echo "run-foundation: $NAME did not come up; its log:" >&2
	cat "$TMP/server.log" >&2
	exit 1
fi
sleep 1 # let start-up settle before calling it idle
read -r IDLE_RSS IDLE_PSS IDLE_PRIV < <(mem "$SERVER_PID")
read -r FLOOR_RSS FLOOR_PSS FLOOR_PRIV < <(mem "$FLOOR_PID")

"$BENCH" -p floor -m "$METHOD" "${EXTRA[@]}" "$TMP/floor.sock" >"$TMP/floor.out"
"$BENCH" -p "$NAME" -m "$METHOD" "${EXTRA[@]}" "$SOCK" >"$TMP/server.out"
sleep 1
read -r AFTER_RSS AFTER_PSS AFTER_PRIV < <(mem "$SERVER_PID")
read -r FLOOR_ARSS FLOOR_APSS FLOOR_APRIV < <(mem "$FLOOR_PID")

# fig FILE NAME: the value of figure NAME (without its prefix) in FILE
fig() { awk -v n="$2" '{ k = $1; sub(/^[^.]*\./, "", k); if (k == n) print $2 }' "$1"; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }

echo "# ocid foundation benchmark ($(date -u +%FT%TZ), $(nproc) CPUs, $(uname -r))"
echo "# method $METHOD; floor = h2floor (nghttp2, one thread, answers inline)"
printf '%-28s %12s %12s %8s  %s\n' figure "$NAME" floor ratio target
row() { # name unit ocid floor target
	printf '%-28s %12s %12s %8s  %s\n' "$1 ($2)" "$3" "$4" "$(ratio "$3" "$4")" "$5"
}
for f in seq_p50 seq_p99 seq_mean; do
	t=""
	[ "$f" = seq_p50 ] && t="<= 100 us"
	row "rpc.$f" us "$(fig "$TMP/server.out" $f)" "$(fig "$TMP/floor.out" $f)" "$t"
done
while read -r f; do
	row "rpc.$f" "calls/s" "$(fig "$TMP/server.out" "$f")" "$(fig "$TMP/floor.out" "$f")" ""
done < <(awk '$3 == "calls/s" { sub(/^[^.]*\./, "", $1); print $1 }' "$TMP/floor.out")
row "mem.idle_rss" kB "$IDLE_RSS" "$FLOOR_RSS" "<= 4096 kB"
row "mem.idle_pss" kB "$IDLE_PSS" "$FLOOR_PSS" ""
row "mem.idle_private" kB "$IDLE_PRIV" "$FLOOR_PRIV" ""
row "mem.after_load_rss" kB "$AFTER_RSS" "$FLOOR_ARSS" ""
row "mem.after_load_pss" kB "$AFTER_PSS" "$FLOOR_APSS" ""
row "mem.after_load_private" kB "$AFTER_PRIV" "$FLOOR_APRIV" ""
grep -h '_failed' "$TMP/floor.out" "$TMP/server.out" || true
