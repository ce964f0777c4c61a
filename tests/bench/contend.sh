#!/usr/bin/env bash
# splitmoe contend and bwarbctl calibrate (TAP), on the host with the
# process arbiter, tiny sizes (a few seconds):
#   contend on the fixture prints the three cases with every column, the
#   shares with the gated hog's grants, the counters line and the targets;
#   --json has the three cases, positive tok/s, the gated hog's acquires
#   and granted bytes, no hog client when ungated, samples; --trace writes
#   three blocks of three numeric columns; --reserve and the YAML's
#   reservation and capacity are used; bad flags get one error line;
#   run with arbiter.capacity_mbps: auto calibrates first;
#   bwarbctl calibrate prints the figures with units and its proposal,
#   --apply refuses without the module and when not root, and as root
#   writes both knobs of a (fake) sysfs directory.
#   contend.sh SPLITMOE_BINARY BWARBCTL_BINARY FIXTURE_DIR
set -u
bin=$1 ctl=$2 fx=$3
tmp=$(mktemp -d "${TMPDIR:-/tmp}/splitmoe-contend.XXXXXX")
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
small=(--seconds 0.3 --hog-mb 16 --chunk-kb 256 --cal-mb 16 --prefill 8)

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
one_error() { # one_error NAME ARGS...: non-zero, nothing on stdout, one "splitmoe: " line
	local name=$1; shift
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ $rc -ne 0 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] &&
		grep -q '^splitmoe: ' "$tmp/err"; then
		ok "$name: $(cat "$tmp/err")"
	else
		not_ok "$name" "rc $rc" "stdout $(head -c 200 "$tmp/out")" "stderr $(head -n 3 "$tmp/err")"
	fi
}

# --- contend: the table
"$bin" contend --model "$fx" "${small[@]}" --trace "$tmp/trace.dat" >"$tmp/table" 2>"$tmp/table.err"
rc=$?
if [ $rc -eq 0 ]; then ok "contend on the fixture exits 0"; else
	not_ok "contend on the fixture" "rc $rc" "$(tail -n 5 "$tmp/table.err")"; fi
miss=""
for c in "case" "reserve MB/s" "decode tok/s" "% solo" "decode GB/s" "hog GB/s" "total GB/s" \
	"% capacity" "wait p50 ms" "p99 ms" "max ms"; do
	grep -q "| $c *|" "$tmp/table" || miss="$miss [$c]"
done
rows=$(grep -cE '^\| hog (off|ungated|gated) +\| +[0-9]+ \| +[0-9.]+ \| ' "$tmp/table")
if [ -z "$miss" ] && [ "$rows" -eq 3 ]; then ok "contend: the three cases with every column"
else not_ok "contend: table" "missing:$miss rows $rows" "$(head -n 12 "$tmp/table")"; fi
if grep -qE '^bus: read [0-9.]+ GB/s, copy [0-9.]+ GB/s \(read \+ written\) with [0-9]+ cores; one core [0-9.]+ GB/s alone, [0-9.]+ GB/s beside [0-9]+ copying \(r_min\)$' "$tmp/table" &&
	grep -qE '^arbiter process: capacity [0-9]+ MB/s \(calibrated\), guaranteed [0-9]+ MB/s' "$tmp/table"; then
	ok "contend: the bus and arbiter lines, with units"
else not_ok "contend: bus line" "$(head -n 3 "$tmp/table")"; fi
if grep -qE '^\| hog gated +\| hog +\| +[1-9][0-9]* \| +[0-9.]+ \|' "$tmp/table" &&
	grep -qE '^\| hog gated +\| decode +\| +[1-9][0-9]* \|' "$tmp/table" &&
	grep -qE '^\| hog ungated +\| hog +\| ungated: moved [0-9.]+ GB, not asked \|' "$tmp/table"; then
	ok "contend: shares: the gated hog's grants counted, the ungated hog not asked"
else not_ok "contend: shares" "$(grep '^| hog' "$tmp/table" | tail -n 6)"; fi
if grep -qE '^  counters unavailable: .+|^  decode: declared [0-9.]+ MB, real [0-9.]+ MB' "$tmp/table" &&
	grep -qE '^targets: gated, decode keeps [0-9.]+% of its solo tok/s \(target >= 95%\) and the hog gets [0-9.]+% of what decode leaves of the capacity \(target >= 80%\); ungated, decode keeps [0-9.]+% and the hog moves [0-9.]+ GB/s$' "$tmp/table"; then
	ok "contend: the counters line and the targets line"
else not_ok "contend: counters / targets" "$(tail -n 6 "$tmp/table")"; fi

# --- the trace
python3 - "$tmp/trace.dat" <<'PY' >"$tmp/py.out" 2>&1
import sys
text = open(sys.argv[1]).read()
blocks = [b for b in text.split("\n\n\n")]
assert len(blocks) == 3, len(blocks)
for i, b in enumerate(blocks):
    lines = b.strip().splitlines()
    assert any(l.startswith("# case %d: hog " % i) for l in lines), lines[:4]
    rows = [l.split() for l in lines if not l.startswith("#")]
    assert rows, "block %d has no samples" % i
    for r in rows:
        assert len(r) == 5, r
        t, tok, hog, tok1, hog1 = map(float, r)
        assert t > 0 and min(tok, hog, tok1, hog1) >= 0, r
    if i == 0:
        assert all(float(r[2]) == 0 == float(r[4]) for r in rows), "hog off moved bytes"
PY
if [ $? -eq 0 ]; then ok "contend --trace: three blocks of t_s, tok/s, GB/s and their 1 s means"
else not_ok "contend --trace" "$(tail -n 3 "$tmp/py.out")"; fi

# --- JSON
"$bin" contend --model "$fx" "${small[@]}" --json >"$tmp/c.json" 2>"$tmp/c.err"
python3 - "$tmp/c.json" <<'PY' >"$tmp/py.out" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
assert d["model"] == "phimoe-tiny-a" and d["decode_threads"] >= 1 and d["hog_threads"] >= 1, d
assert d["bus"]["read_gbs"] > 0 and d["bus"]["rmin_gbs"] > 0 and d["bus"]["proposed_capacity_mbps"] > 0
assert d["arbiter"]["backend"] == "process" and d["arbiter"]["capacity_source"] == "calibrated"
assert [c["case"] for c in d["cases"]] == ["off", "ungated", "gated"], d["cases"]
off, ung, gat = d["cases"]
for c in d["cases"]:
    assert c["decode_tok_s"] > 0 and c["decode_tokens"] > 0 and c["decode_gbs"] > 0, c["case"]
    assert c["decode_client"]["acquires"] > 0 and c["samples"], c["case"]
    assert c["decode_wait_p50_ms"] <= c["decode_wait_p99_ms"] <= c["decode_wait_max_ms"] + 1e-9, c
    assert all(len(s) == 3 for s in c["samples"])
assert off["hog_gbs"] == 0 and off["hog_client"] is None and abs(off["pct_solo_tok_s"] - 100) < 1e-9
assert ung["hog_gbs"] > 0 and ung["hog_client"] is None
h = gat["hog_client"]
assert gat["hog_gbs"] > 0 and h["acquires"] > 0 and h["granted_bytes"] > 0, h
assert h["clients"] == d["hog_threads"]
cnt = d["counters"]
assert isinstance(cnt["available"], bool)
if not cnt["available"]:
    assert cnt["unavailable_reason"] and cnt["decode"] is None and cnt["prefill"] is None
else:
    assert cnt["decode"]["declared_bytes"] > 0 and cnt["prefill"]["declared_bytes"] > 0
PY
if [ $? -eq 0 ]; then ok "contend --json: three cases, the gated hog's grants, counters, samples"
else not_ok "contend --json" "$(tail -n 3 "$tmp/py.out")" "$(tail -n 2 "$tmp/c.err")"; fi

# --- the reservation and the capacity: flag, YAML
"$bin" contend --model "$fx" "${small[@]}" --reserve 5 --json >"$tmp/r.json" 2>/dev/null
printf 'arbiter:\n  capacity_mbps: 3000\n  guaranteed_mbps: 2000\n  cpu:\n    reserve_mbps: 7\n' >"$tmp/y.yaml"
"$bin" contend --config "$tmp/y.yaml" --model "$fx" "${small[@]}" --json >"$tmp/y.json" 2>/dev/null
python3 - "$tmp/r.json" "$tmp/y.json" <<'PY' >"$tmp/py.out" 2>&1
import json, sys
r = json.load(open(sys.argv[1])); y = json.load(open(sys.argv[2]))
assert [c["reserve_mbps"] for c in r["cases"]] == [5, 5, 5], r["cases"]
assert r["arbiter"]["reserve_source"] == "--reserve"
assert [c["reserve_mbps"] for c in y["cases"]] == [7, 7, 7]
a = y["arbiter"]
assert a["capacity_mbps"] == 3000 and a["guaranteed_mbps"] == 2000 and a["capacity_source"] == "YAML", a
PY
if [ $? -eq 0 ]; then ok "contend: --reserve, and the YAML's reservation and capacity"
else not_ok "contend: reservation" "$(tail -n 3 "$tmp/py.out")"; fi

# --- the YAML auto path of the process arbiter (any subcommand)
printf 'arbiter:\n  backend: process\n  capacity_mbps: auto\n  guaranteed_mbps: auto\n' >"$tmp/auto.yaml"
"$bin" run --config "$tmp/auto.yaml" --model "$fx" --ids 1,2,3 -n 2 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^arbiter: calibrating the bus (capacity_mbps: auto' "$tmp/err" &&
	grep -qE '^arbiter: capacity [1-9][0-9]* MB/s, guaranteed [1-9][0-9]* MB/s \(read [0-9.]+ GB/s, copy [0-9.]+ GB/s, r_min [0-9.]+ GB/s\)$' "$tmp/err"; then
	ok "run with arbiter.capacity_mbps: auto measures the bus first"
else not_ok "capacity_mbps: auto" "rc $rc" "$(head -n 4 "$tmp/err")"; fi
printf 'arbiter:\n  capacity_mbps: lots\n' >"$tmp/bad.yaml"
one_error "YAML capacity_mbps: neither auto nor a number" run --config "$tmp/bad.yaml" --model "$fx" --ids 1

# --- bad flags
one_error "contend --seconds 0" contend --model "$fx" --seconds 0
one_error "contend --hog-threads 0" contend --model "$fx" --hog-threads 0
one_error "contend --reserve abc" contend --model "$fx" --reserve abc
one_error "contend --chunk-kb above half the buffer" contend --model "$fx" --hog-mb 16 --chunk-kb 16384
one_error "contend --arbiter off" contend --model "$fx" "${small[@]}" --arbiter off
one_error "contend without --model" contend --seconds 1
one_error "contend --arbiter kernel without the device" contend --model "$fx" --arbiter kernel \
	--config <(printf 'arbiter:\n  device: %s/no-bwarb\n' "$tmp")
one_error "contend --trace without a value" contend --model "$fx" --trace
one_error "contend -p (a bench flag)" contend --model "$fx" -p 16

# --- bwarbctl calibrate
"$ctl" calibrate --mb 16 --runs 1 >"$tmp/cal" 2>&1
rc=$?
if [ $rc -eq 0 ] && grep -qE '^calibrate: [0-9]+ cores, [0-9.]+ GB buffer, best of 1$' "$tmp/cal" &&
	grep -qE '^  read, every core: +[0-9.]+ GB/s$' "$tmp/cal" &&
	grep -qE '^  copy, every core: +[0-9.]+ GB/s \(read \+ written\)$' "$tmp/cal" &&
	grep -qE '^  one core, +[0-9]+ copying: +[0-9.]+ GB/s read \(r_min\)$' "$tmp/cal" &&
	grep -qE '^proposed: capacity_mbps [1-9][0-9]* MB/s, guaranteed_mbps [1-9][0-9]* MB/s$' "$tmp/cal"; then
	ok "bwarbctl calibrate: the figures with units and the proposal"
else not_ok "bwarbctl calibrate" "rc $rc" "$(cat "$tmp/cal")"; fi
BWARB_SYSFS_DIR=$tmp/none "$ctl" calibrate --apply --mb 16 --runs 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && [ ! -s "$tmp/out" ] && grep -q 'the bwarb module is not loaded' "$tmp/err"; then
	ok "bwarbctl calibrate --apply without the module: one error, nothing measured"
else not_ok "calibrate --apply, no module" "rc $rc" "$(cat "$tmp/out" "$tmp/err")"; fi
mkdir -p "$tmp/sysfs" && chmod 755 "$tmp/sysfs"
# sysfs writes do not truncate: one character each, so any figure covers it
printf 1 >"$tmp/sysfs/capacity_mbps"
printf 1 >"$tmp/sysfs/guaranteed_mbps"
if [ "$(id -u)" -eq 0 ]; then
	BWARB_SYSFS_DIR=$tmp/sysfs setpriv --reuid=65534 --regid=65534 --clear-groups -- \
		"$ctl" calibrate --apply --mb 16 --runs 1 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 1 ] && [ ! -s "$tmp/out" ] && grep -q 'root only' "$tmp/err" &&
		[ "$(cat "$tmp/sysfs/capacity_mbps")" = 1 ]; then
		ok "bwarbctl calibrate --apply as nobody: refused, nothing written"
	else not_ok "calibrate --apply as nobody" "rc $rc" "$(cat "$tmp/out" "$tmp/err")"; fi
	BWARB_SYSFS_DIR=$tmp/sysfs "$ctl" calibrate --apply --mb 16 --runs 1 >"$tmp/out" 2>"$tmp/err"
	rc=$?
	cap=$(sed -n 's/^proposed: capacity_mbps \([0-9]*\) MB\/s, guaranteed_mbps \([0-9]*\) MB\/s$/\1 \2/p' "$tmp/out")
	if [ $rc -eq 0 ] && [ -n "$cap" ] &&
		[ "$(cat "$tmp/sysfs/capacity_mbps") $(cat "$tmp/sysfs/guaranteed_mbps")" = "$cap" ] &&
		grep -qE '^applied: capacity_mbps 1 -> [0-9]+ MB/s$' "$tmp/out" &&
		grep -qE '^applied: guaranteed_mbps 1 -> [0-9]+ MB/s$' "$tmp/out"; then
		ok "bwarbctl calibrate --apply as root writes the proposal to both knobs"
	else not_ok "calibrate --apply as root" "rc $rc" "$(cat "$tmp/out" "$tmp/err")"; fi
else
	echo "ok $((n + 1)) - # SKIP calibrate --apply as nobody / root: not root"; n=$((n + 1))
	echo "ok $((n + 1)) - # SKIP"; n=$((n + 1))
fi
"$ctl" calibrate --mb 1 >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 2 ] && [ ! -s "$tmp/out" ] && [ "$(wc -l <"$tmp/err")" -eq 1 ]; then
	ok "bwarbctl calibrate --mb 1: one error line, status 2"
else not_ok "calibrate --mb 1" "rc $rc" "$(cat "$tmp/err")"; fi

echo "1..$n"
exit $failed
