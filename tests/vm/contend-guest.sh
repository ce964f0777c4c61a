#!/bin/sh
# Guest half of suite contend-vm (TAP), run by tests/vm/run --load from the
# repository top: the kernel arbiter's path of splitmoe contend and
# bwarbctl calibrate --apply on the real module, and the counters' path
# with the test PMU standing in for the memory controller. Functional only:
# TCG has no real memory bus, so no figure is judged, only that every
# piece runs and reports.
top=$(pwd)
tmp=$(mktemp -d /tmp/contend-vm.XXXXXX)
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }

"$top/build/bwarbctl" calibrate --apply --mb 32 --runs 1 >"$tmp/cal" 2>&1
rc=$?
cap=$(sed -n 's/^proposed: capacity_mbps \([0-9]*\) MB\/s, guaranteed_mbps \([0-9]*\) MB\/s$/\1 \2/p' "$tmp/cal")
now="$(cat /sys/kernel/bwarb/capacity_mbps) $(cat /sys/kernel/bwarb/guaranteed_mbps)"
if [ $rc -eq 0 ] && [ -n "$cap" ] && [ "$now" = "$cap" ] &&
	grep -q '^applied: capacity_mbps ' "$tmp/cal" && grep -q '^applied: guaranteed_mbps ' "$tmp/cal"; then
	ok "bwarbctl calibrate --apply sets the module's knobs to its proposal ($now MB/s)"
else not_ok "bwarbctl calibrate --apply" "rc $rc, module $now, proposed $cap" "$(cat "$tmp/cal")"; fi

"$top/build/splitmoe" contend --arbiter kernel --model "$top/tests/fixtures/phimoe-tiny-a" \
	--seconds 0.3 --hog-threads 1 --threads 1 --hog-mb 16 --chunk-kb 256 --cal-mb 16 \
	--prefill 8 --json >"$tmp/c.json" 2>"$tmp/c.err"
rc=$?
python3 - "$tmp/c.json" "$cap" >"$tmp/py.out" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
cap, gua = map(int, sys.argv[2].split())
a = d["arbiter"]
assert a["backend"] == "kernel" and a["capacity_source"] == "module", a
assert a["capacity_mbps"] == cap and a["guaranteed_mbps"] == gua, (a, cap, gua)
assert [c["case"] for c in d["cases"]] == ["off", "ungated", "gated"]
for c in d["cases"]:
    assert c["decode_tokens"] > 0 and c["decode_client"]["acquires"] > 0, c["case"]
g = d["cases"][2]
assert g["hog_gbs"] > 0 and g["hog_client"]["acquires"] > 0 and g["hog_client"]["granted_bytes"] > 0, g
PY
py=$?
if [ $rc -eq 0 ] && [ $py -eq 0 ]; then
	ok "splitmoe contend --arbiter kernel: three cases through /dev/bwarb, the gated hog granted"
else not_ok "contend --arbiter kernel" "rc $rc" "$(tail -n 3 "$tmp/py.out")" "$(tail -n 3 "$tmp/c.err")"; fi
# The counters' path with the test PMU as the memory controller (known
# rates): decode's and prefill's real bytes come from it.
if insmod "$top/build/bwarb_test_pmu.ko" nr_pmus=1 read_mbps=1000 write_mbps=500; then
	SPLITMOE_IMC_PMU='bwarb_test_imc_*' "$top/build/splitmoe" contend --arbiter process \
		--model "$top/tests/fixtures/phimoe-tiny-a" --seconds 0.5 --hog-threads 1 --threads 1 \
		--hog-mb 16 --chunk-kb 256 --cal-mb 16 --prefill 8 --json >"$tmp/p.json" 2>"$tmp/p.err"
	rc=$?
	python3 - "$tmp/p.json" >"$tmp/py.out" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
c = d["counters"]
assert c["available"] and c["source"].startswith("uncore IMC"), c
dec, pre = c["decode"], c["prefill"]
assert dec["declared_bytes"] > 0 and pre["declared_bytes"] > 0, c
# 1500 MB/s of test traffic over the hog-off window
rate = dec["real_bytes"] / d["cases"][0]["seconds"] / 1e6
assert 1000 < rate < 2000, rate
assert pre["real_bytes"] > 0, pre
PY
	py=$?
	if [ $rc -eq 0 ] && [ $py -eq 0 ]; then
		ok "contend: declared vs real from the memory controller's counters (test PMU)"
	else not_ok "contend with the test PMU" "rc $rc" "$(tail -n 3 "$tmp/py.out")" "$(tail -n 3 "$tmp/p.err")"; fi
	rmmod bwarb_test_pmu
else not_ok "insmod bwarb_test_pmu.ko"; fi
rm -rf "$tmp"
echo "1..$n"
exit $failed
