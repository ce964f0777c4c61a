#!/usr/bin/env bash
# Runs inside the VM (make bench-bpf): grant throughput of one client
# (tests/bpf/bench_grants.c) with and without the eBPF tracer attached,
# alternating ROUNDS times so that drift hits both alike; reports the
# medians and their ratio. capacity_mbps is raised so no acquire waits.
# Under TCG on a shared host the spread between rounds is large: read the
# ratio with the per-round figures printed on stderr.
set -eu
top=$(cd "$(dirname "$0")/../.." && pwd)
ctl=$top/build/bwarbctl
bench=$top/build/tests/bpf/bench_grants
sys=/sys/kernel/bwarb
rounds=${BPF_BENCH_ROUNDS:-8} ms=${BPF_BENCH_MS:-500}

insmod "$top/bwarb.ko"
echo 10000000 >$sys/capacity_mbps
off=() on=()
# A run is preceded by a 200 ms warm-up: switching the tracer patches
# kernel text (jump labels, JIT), which makes TCG retranslate.
run() {
	taskset -c 0 "$bench" 200 >/dev/null
	taskset -c 0 "$bench" "$ms" | awk '{ print $2 }'
}
measure_off() { off+=("$(run)"); }
measure_on() {
	"$ctl" trace start >/dev/null
	on+=("$(run)")
	"$ctl" trace stop >/dev/null
}
for i in $(seq "$rounds"); do
	# ABBA order, so that neither side always runs first.
	if [ $((i % 2)) -eq 1 ]; then
		measure_off
		measure_on
	else
		measure_on
		measure_off
	fi
	echo "bpf-bench: round $i/$rounds: without ${off[-1]}, with ${on[-1]} grants/s" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
best() { printf '%s\n' "$@" | sort -n | tail -n1; }
m_off=$(median "${off[@]}") m_on=$(median "${on[@]}")
b_off=$(best "${off[@]}") b_on=$(best "${on[@]}")
# The best round of each side is the least disturbed by the host; the
# median is the usual figure. Both are printed.
awk -v a="$m_off" -v b="$m_on" -v ba="$b_off" -v bb="$b_on" -v r="$rounds" -v ms="$ms" 'BEGIN {
	printf "bpf tracer overhead (VM, TCG; median of %d x %d ms): %d grants/s without, %d grants/s with the tracer attached; ratio with/without = %.3f\n", r, ms, a, b, b / a
	printf "bpf tracer overhead (VM, TCG; best of %d x %d ms): %d grants/s without, %d grants/s with the tracer attached; ratio with/without = %.3f\n", r, ms, ba, bb, bb / ba
}'

# Cost per grant measured by the kernel itself (kernel.bpf_stats_enabled:
# run time of each tracer program), less sensitive to a busy host than
# the throughput: one more run with the statistics on.
echo 1 >/proc/sys/kernel/bpf_stats_enabled
"$ctl" trace start >/dev/null
taskset -c 0 "$bench" "$ms" >/dev/null
bpftool prog show | awk -v off="$m_off" '
	/ name bwarb_/ {
		t = 0; c = 0
		for (i = 1; i < NF; i++) {
			if ($i == "name") name = $(i + 1)
			if ($i == "run_time_ns") t = $(i + 1)
			if ($i == "run_cnt") c = $(i + 1)
		}
		if (c > 0) printf "bpf tracer program %s: %d runs, %.0f ns per run\n", name, c, t / c
		if (name == "bwarb_grant" || name == "bwarb_complete") per_grant += (c > 0 ? t / c : 0)
	}
	END {
		if (off > 0) printf "bpf tracer cost per grant (grant + complete programs): %.0f ns = %.1f%% of a grant at %d grants/s without the tracer\n", per_grant, per_grant * off / 1e7, off
	}'
"$ctl" trace stop >/dev/null
echo 0 >/proc/sys/kernel/bpf_stats_enabled
rmmod bwarb
