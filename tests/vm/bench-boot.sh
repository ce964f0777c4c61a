#!/usr/bin/env bash
# make bench-vm: how long tests/vm/run takes to get to COMMAND. Boots the
# guest VM_BENCH_RUNS times (default 3) with `true` and reports, per run and
# as the median: the whole run (QEMU start to exit, what a test pays per
# boot) and the guest kernel's uptime when COMMAND started (from the kernel
# log). The machine's load average is printed too: under TCG every figure
# scales with how busy the host is.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
runs=${VM_BENCH_RUNS:-3}
work=$(mktemp -d "${TMPDIR:-/tmp}/vm-bench.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
tests/vm/initramfs.sh "$(tests/vm/kernel.sh)" >/dev/null || exit 1
echo "bench-vm: $runs boots of 'tests/vm/run -- true' (load average $(cut -d' ' -f1-3 /proc/loadavg))"
walls=() starts=()
for i in $(seq "$runs"); do
	t0=$(date +%s%N)
	if ! tests/vm/run --timeout 120 --dmesg "$work/dmesg" -- true; then
		echo "bench-vm: run $i failed" >&2
		exit 1
	fi
	wall=$(( ($(date +%s%N) - t0) / 1000000 ))
	start=$(sed -n 's/^\[ *\([0-9]*\)\.\([0-9]\{3\}\).*vm-run: command start.*/\1\2/p' "$work/dmesg")
	start=$((10#${start:-0}))
	printf 'run %d: whole run %d.%03d s, COMMAND started at guest uptime %d.%03d s\n' \
		"$i" $((wall / 1000)) $((wall % 1000)) $((start / 1000)) $((start % 1000))
	walls+=("$wall") starts+=("$start")
done
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
w=$(median "${walls[@]}") s=$(median "${starts[@]}")
printf 'bench-vm: median whole run %d.%03d s, median boot to COMMAND (guest uptime) %d.%03d s, load average %s\n' \
	$((w / 1000)) $((w % 1000)) $((s / 1000)) $((s % 1000)) "$(cut -d' ' -f1 /proc/loadavg)"
