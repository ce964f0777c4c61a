#!/usr/bin/env bash
# The split run of the demo, inside the VM with bwarb loaded (run it with
# tests/vm/run --load -- tests/gpu/demo_split.sh): splitmoe on CPU and the
# software GPU at once, each a client of the kernel arbiter with its own
# reservation; the clients table while it runs and the per-client
# bandwidth (MB/s) from two snapshots of the kernel's counters.
# The software GPU is PoCL on the guest's CPU: functional, not iGPU speed.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
export ZE_ENABLE_ALT_DRIVERS=$top/build/libze_swgpu.so
# PoCL compiles each kernel once per CPU model; keep the guest's builds
# under build/ when the shared tree is writable, so later demos start fast.
if [ -z "${POCL_CACHE_DIR:-}" ]; then
	POCL_CACHE_DIR=$top/build/pocl-cache-vm
	mkdir -p "$POCL_CACHE_DIR" 2>/dev/null && [ -w "$POCL_CACHE_DIR" ] || POCL_CACHE_DIR=/tmp/pocl-cache
fi
export POCL_CACHE_DIR
clients=/sys/kernel/debug/bwarb/clients
out=$(mktemp) cfg=$(mktemp)
trap 'rm -f "$out" "$cfg"' EXIT

echo "== bwarb: $(grep -c '^bwarb ' /proc/modules) module loaded; sysfs $(ls /sys/kernel/bwarb | tr '\n' ' ')"
[ -r "$clients" ] || mount -t debugfs none /sys/kernel/debug 2>/dev/null
cat >"$cfg" <<'YAML'
device: split
split:
  mode: expert-parallel
  rules: attention=cpu,router=cpu,experts=gpu,head=cpu
arbiter:
  backend: kernel
  cpu:
    reserve_mbps: 2000
    weight: 100
  gpu:
    reserve_mbps: 1000
    weight: 50
YAML
echo "== warming up: the software GPU builds its kernels (PoCL, cached in $POCL_CACHE_DIR)"
build/splitmoe run --config "$cfg" --model tests/fixtures/phimoe-tiny-c -n 2 \
	--prompt "The GNU General Public License" \
	>/dev/null 2>&1 || echo "warm-up failed (the run below says why)"
echo "== splitmoe run --device split (expert-parallel), arbiter kernel, clients reserved 2000/1000 MB/s"
build/splitmoe run --config "$cfg" --model tests/fixtures/phimoe-tiny-c \
	--prompt "The GNU General Public License" -n 96 >"$out" 2>&1 &
pid=$!
# both clients registered and the iGPU's already granted something: the
# run is under way
for _ in $(seq 600); do
	[ "$(awk '$3 == "splitmoe-gpu" && $7 > 0' "$clients" 2>/dev/null | wc -l)" -ge 1 ] && break
	kill -0 $pid 2>/dev/null || break
	sleep 0.1
done
snap1=$(cat "$clients" 2>/dev/null) t1=$(date +%s%N)
echo "== registered clients (id pid name class weight reserve_mbps granted completed waits max_wait_us)"
printf '%s\n' "$snap1"
# A short window: the whole run on the tiny fixture lasts a few seconds.
sleep 0.3
snap2=$(cat "$clients" 2>/dev/null) t2=$(date +%s%N)
echo "== per-client bandwidth over $(( (t2 - t1) / 1000000 )) ms"
printf '%s\n' "$snap2" | awk -v dt=$(( t2 - t1 )) -v a="$snap1" '
	BEGIN { n = split(a, l, "\n"); for (i = 2; i <= n; i++) { split(l[i], f, " "); g[f[1]] = f[7]; c[f[1]] = f[8] } }
	NR > 1 { printf "  %-16s %-5s %10.2f MB/s granted %10.2f MB/s completed\n", $3, $4,
		 ($7 - g[$1]) / (dt / 1e9) / 1e6, ($8 - c[$1]) / (dt / 1e9) / 1e6; n2++ }
	END { if (!n2) print "  (the run ended before the second sample: see its totals below)" }'
wait $pid
rc=$?
echo "== output (exit $rc)"
cat "$out"
exit $rc
