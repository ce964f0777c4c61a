#!/bin/sh
# Guest half of suite contend-vm (TAP), run by tests/vm/run --load from the
# repository top: the kernel arbiter's path of splitmoe contend and
# bwarbctl calibrate --apply on the real module. A functional check only:
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
rm -rf "$tmp"
echo "1..$n"
exit $failed
