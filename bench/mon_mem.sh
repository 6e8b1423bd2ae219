#!/bin/bash
# ocimon memory benchmark: start N real runc containers (busybox `sleep`),
# each under its own ocimon spawned the way ocid does it (mon-driver, i.e.
# mon_spawn), and read every monitor's /proc/PID/smaps_rollup. The floor,
# measured in the same run, is N plain `sleep` processes (the smallest
# dynamically linked C program around). Prints per-process averages in KB
# and the ratio ocimon/floor; the target is <= 150 KB private anonymous
# memory per running container. Also prints the create latency through
# ocimon (mon_spawn until the pid is reported) against bare
# `runc create` of the same bundle (floor). Never fails on a figure.
#
# Environment:
#   OCID_BUILD   build directory (default <repo>/build), built first
#   N            containers (default 20)
set -euo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${OCID_BUILD:-$TOP/build}
N=${N:-20}
RUNC=$(command -v runc || echo /usr/sbin/runc)

if [ -f "$BUILD/build.ninja" ]; then
	ninja -C "$BUILD" src/cmd/ocimon/ocimon tests/unit/mon/mon-driver >/dev/null
else
	meson setup "$BUILD" "$TOP" >/dev/null
	ninja -C "$BUILD" src/cmd/ocimon/ocimon tests/unit/mon/mon-driver >/dev/null
fi
OCIMON=$BUILD/src/cmd/ocimon/ocimon
DRIVER=$BUILD/tests/unit/mon/mon-driver

TMP=$(mktemp -d /tmp/ocid-monbench.XXXXXX)
IDS=()
FLOOR_PIDS=()
cleanup() {
	local id p
	for id in "${IDS[@]}"; do
		"$RUNC" --root "$TMP/runc" delete --force "$id" >/dev/null 2>&1 || true
	done
	for p in "${FLOOR_PIDS[@]}"; do
		kill "$p" 2>/dev/null || true
	done
	wait 2>/dev/null || true
	rmdir /sys/fs/cgroup/*/ocid-monbench 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT

# A busybox rootfs and one config.json shared by every container.
mkdir -p "$TMP/rootfs/bin" "$TMP/rootfs/proc" "$TMP/rootfs/dev" "$TMP/rootfs/sys" "$TMP/spec"
cp /bin/busybox "$TMP/rootfs/bin/"
ln -s busybox "$TMP/rootfs/bin/sleep"
(cd "$TMP/spec" && "$RUNC" spec)
/usr/bin/python3 - "$TMP" <<'EOF'
import json, sys
t = sys.argv[1]
c = json.load(open(t + '/spec/config.json'))
c['root'] = {'path': t + '/rootfs', 'readonly': True}
c['process']['terminal'] = False
c['process']['args'] = ['sleep', '100000']
json.dump(c, open(t + '/spec/config.json', 'w'))
EOF

# fields PID: "anonymous_kb private_kb pss_kb rss_kb"
fields() {
	awk '/^Anonymous:/ {a = $2} /^Private_(Clean|Dirty):/ {p += $2}
	     /^Pss:/ {s = $2} /^Rss:/ {r = $2} END {print a, p, s, r}' "/proc/$1/smaps_rollup"
}

# avg LIST-OF-PIDS: averages of fields() over the pids
avg() {
	local p
	for p in "$@"; do fields "$p"; done |
		awk '{a += $1; p += $2; s += $3; r += $4; n++}
		     END {printf "%.0f %.0f %.0f %.0f\n", a / n, p / n, s / n, r / n}'
}

MONS=()
FLOOR_NS=()
SPAWN_NS=()
for i in $(seq "$N"); do
	id=monbench-$$-$i
	b=$TMP/b/$id
	mkdir -p "$b/run"
	/usr/bin/python3 - "$TMP/spec/config.json" "$b/config.json" "$id" <<'EOF'
import json, sys
c = json.load(open(sys.argv[1]))
c['linux']['cgroupsPath'] = '/ocid-monbench/' + sys.argv[3]
json.dump(c, open(sys.argv[2], 'w'))
EOF
	IDS+=("$id")
	# Floor: the same bundle created by hand, then deleted.
	t0=$(date +%s%N)
	"$RUNC" --root "$TMP/runc" create --bundle "$b" --pid-file "$b/floor.pid" "$id-floor" \
		</dev/null >/dev/null 2>&1
	t1=$(date +%s%N)
	"$RUNC" --root "$TMP/runc" delete --force "$id-floor"
	FLOOR_NS+=($((t1 - t0)))
	t0=$(date +%s%N)
	out=$("$DRIVER" spawn "$OCIMON" "$id" "$b" "$RUNC" "$TMP/runc" "$b/ctr.log" \
		"$b/run/exit" "$b/run/ctl" "$b/run/attach")
	case $out in
	ok*) ;;
	*) echo "mon_mem: spawn failed: $out" >&2; exit 1 ;;
	esac
	SPAWN_NS+=($(($(date +%s%N) - t0)))
	MONS+=("${out##*mon_pid=}")
	"$RUNC" --root "$TMP/runc" start "$id"
	sleep 100000 &
	FLOOR_PIDS+=("$!")
done
sleep 0.5 # let every container run and the monitors settle

read -r ma mp ms mr <<<"$(avg "${MONS[@]}")"
read -r fa fp fs fr <<<"$(avg "${FLOOR_PIDS[@]}")"
echo "ocimon memory, $N running runc containers (KB per process, averages)"
printf '%-22s %10s %10s %10s %10s\n' "" anonymous private pss rss
printf '%-22s %10s %10s %10s %10s\n' "ocimon" "$ma" "$mp" "$ms" "$mr"
printf '%-22s %10s %10s %10s %10s\n' "floor (sleep)" "$fa" "$fp" "$fs" "$fr"
awk -v a="$ma" -v f="$fa" 'BEGIN {printf "ratio ocimon/floor anonymous: %.2f\n", a / f}'
awk -v a="$ma" 'BEGIN {printf "target: <= 150 KB private anonymous per container: %s (%d KB)\n",
	(a <= 150 ? "met" : "MISSED"), a}'

# p50 LIST-OF-NS: the median in ms
p50() {
	printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {printf "%.1f", v[int((NR + 1) / 2)] / 1e6}'
}
fl=$(p50 "${FLOOR_NS[@]}")
sp=$(p50 "${SPAWN_NS[@]}")
echo "create p50: through ocimon ${sp} ms, bare runc create ${fl} ms"
awk -v a="$sp" -v f="$fl" 'BEGIN {printf "ratio ocimon/floor create: %.2f\n", a / f}'
