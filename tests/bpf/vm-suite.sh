#!/usr/bin/env bash
# The eBPF suite, run inside the VM by `make check-bpf` (one boot):
#   - every program loads under the guest (6.1) verifier, and the tracer's
#     bookkeeping is right program by program (BPF_PROG_TEST_RUN);
#   - trace start without the module fails cleanly; with it, it pins the
#     maps and links; a second start is refused; rmmod is refused while
#     attached;
#   - the tracer's counts equal the grants, timeouts, interrupted waits and
#     would-block failures a workload caused (tests/bpf/trace_workload.c),
#     and bpftool's dump of the pinned map is readable (BTF field names);
#   - with the test PMU at a known rate, the sampler's bandwidth (bwarbctl
#     top) matches the module's sysfs figure within 2%;
#   - trace stop leaves bpftool's program and link lists and /sys/fs/bpf as
#     they were before, and the module can be removed.
# Prints TAP result lines without numbers (the caller numbers them).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
ctl=$top/build/bwarbctl
bin=$top/build/tests/bpf
ko=$top/bwarb.ko
pmu_ko=$top/build/bwarb_test_pmu.ko
pin=/sys/fs/bpf/bwarb
sys=/sys/kernel/bwarb
# Test PMU rates (MB/s per controller) and the number of controllers.
pmu_read=3000 pmu_write=1000 pmu_n=2

ok() { echo "ok - $*"; }
not_ok() { echo "not ok - $*"; }
# check DESCRIPTION COMMAND...: one result line from COMMAND's status.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}
ids() { bpftool "$1" show | sed -n 's/^\([0-9][0-9]*\): .*/\1/p' | sort -n | tr '\n' ' '; }
# within A B PCT: |A - B| <= PCT% of B
within() { awk -v a="$1" -v b="$2" -v p="$3" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(b > 0 && d <= b * p / 100) }'; }

for f in "$ctl" "$bin/load_all" "$bin/test_tracer_logic" "$bin/trace_workload" "$ko" "$pmu_ko"; do
	[ -e "$f" ] || { not_ok "missing $f (run make)"; exit 1; }
done

# 1. The verifier of the running kernel, program by program; then the
# tracer's bookkeeping through BPF_PROG_TEST_RUN (cmocka).
"$bin/load_all"
CMOCKA_MESSAGE_OUTPUT=TAP "$bin/test_tracer_logic" | grep -v '^1\.\.'

before_progs=$(ids prog)
nr_before=$(wc -w <<<"$before_progs")
before_links=$(ids link)
before_pins=$(ls -A /sys/fs/bpf | tr '\n' ' ')

# 2. Start, refused without the module.
out=$("$ctl" trace start 2>&1)
rc=$?
check "trace start without the module fails naming it ($out)" \
	test $rc -ne 0 -a -n "$(grep 'bwarb module loaded' <<<"$out")"
check "a failed trace start leaves nothing pinned" test ! -e $pin
check "a failed trace start leaves no program loaded" test "$(ids prog)" = "$before_progs"

insmod "$ko" || { not_ok "insmod $ko"; exit 1; }
check "trace start" "$ctl" trace start
check "five links and two maps pinned in $pin" \
	test "$(ls $pin | grep -c '^link_bwarb_')" -eq 5 -a -e $pin/clients -a -e $pin/totals
check "bpftool link show lists five raw_tracepoint links of the tracer" \
	test "$(bpftool link show | grep -c 'raw_tracepoint.*prog')" -ge 5
check "bpftool prog show lists the tracer's programs" \
	test "$(bpftool prog show | grep -c 'raw_tracepoint  name bwarb_')" -eq 5
out=$("$ctl" trace start 2>&1)
check "a second trace start is refused ($out)" test $? -ne 0
check "rmmod bwarb is refused while the tracer is attached" \
	sh -c "! rmmod bwarb 2>/dev/null"

# 3. Exact counts. A low capacity makes 2^40-byte acquires hopeless.
old_g=$(cat $sys/guaranteed_mbps) old_c=$(cat $sys/capacity_mbps)
echo 100 >$sys/guaranteed_mbps && echo 1000 >$sys/capacity_mbps ||
	not_ok "setting capacity_mbps=1000 guaranteed_mbps=100"
"$bin/trace_workload" 25 3 2 4
dump=$(bpftool map dump pinned $pin/clients)
check "bpftool map dump pinned $pin/clients names the fields (BTF)" \
	test -n "$(grep '"interrupts": 2' <<<"$dump")" -a -n "$(grep '"wait_hist": \[' <<<"$dump")"
check "bpftool map dump pinned $pin/totals counts periods" \
	test -n "$(bpftool map dump pinned $pin/totals | grep -E '"periods": [1-9]')"
show=$("$ctl" trace show)
check "bwarbctl trace show has the workload's row" \
	test -n "$(awk '$3 == "trace_workload" && $6 == 25 && $8 == 3 && $9 == 2 && $10 == 4' <<<"$show")"
echo "$old_c" >$sys/capacity_mbps
echo "$old_g" >$sys/guaranteed_mbps

# 4. The sampler against the module's own measurement of the test PMU.
if insmod "$pmu_ko" nr_pmus=$pmu_n read_mbps=$pmu_read write_mbps=$pmu_write; then
	"$ctl" source perf --pmu 'bwarb_test_imc_*' >/dev/null || not_ok "bwarbctl source perf"
	topout=$("$ctl" top --count 3 --pmu 'bwarb_test_imc_*' 2>&1)
	echo "$topout" | sed 's/^/# /'
	bpf_r=$(awk '/^DRAM read/ { v = $3 } END { print v }' <<<"$topout")
	bpf_w=$(awk '/^DRAM read/ { v = $6 } END { print v }' <<<"$topout")
	sys_r=$(cat $sys/read_mbps_avg) sys_w=$(cat $sys/write_mbps_avg)
	echo "# sampler read $bpf_r write $bpf_w MB/s; sysfs read_mbps_avg $sys_r write_mbps_avg $sys_w"
	check "sampler read bandwidth $bpf_r MB/s within 2% of sysfs read_mbps_avg $sys_r" \
		within "${bpf_r:-0}" "$sys_r" 2
	check "sampler write bandwidth $bpf_w MB/s within 2% of sysfs write_mbps_avg $sys_w" \
		within "${bpf_w:-0}" "$sys_w" 2
	check "sampler read bandwidth within 2% of the test PMU's $((pmu_n * pmu_read)) MB/s" \
		within "${bpf_r:-0}" $((pmu_n * pmu_read)) 2
	check "the sampler's program is gone when top exits" \
		test "$(ids prog | wc -w)" -eq $((nr_before + 5))
	# The module keeps its counters (and a reference on the test PMU)
	# until they are cleared; the sampler's map releases its events from
	# a deferred work item, hence the retries.
	"$ctl" source declared >/dev/null && echo clear >$sys/counters ||
		not_ok "bwarbctl source declared; clear the module's counters"
	for i in 1 2 3 4 5 6 7 8 9 10; do
		rmmod bwarb_test_pmu 2>/dev/null && break
		sleep 0.2
	done
	check "the test PMU can be removed after top exits" \
		test ! -e /sys/module/bwarb_test_pmu
else
	not_ok "insmod $pmu_ko"
fi

# 5. Stop restores everything.
check "trace stop" "$ctl" trace stop
check "trace stop removes $pin" test ! -e $pin
check "bpftool prog show lists the same programs as before trace start" \
	test "$(ids prog)" = "$before_progs"
check "bpftool link show lists the same links as before trace start" \
	test "$(ids link)" = "$before_links"
check "/sys/fs/bpf holds the same entries as before" \
	test "$(ls -A /sys/fs/bpf | tr '\n' ' ')" = "$before_pins"
out=$("$ctl" trace stop 2>&1)
check "a second trace stop fails ($out)" test $? -ne 0
check "rmmod bwarb succeeds after trace stop" rmmod bwarb
