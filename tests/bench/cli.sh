#!/usr/bin/env bash
# splitmoe synth and bench (TAP):
#   synth --shape tiny loads and runs, the same bytes for a seed whatever
#   the thread count, other bytes for another seed, refuses a non-empty
#   directory, leaves nothing that loads when killed; bench on the fixture
#   and on a synthesized model prints the table's rows and columns, --json
#   parses with every test and positive tok/s, --profile has every op
#   class, --membw prints the bandwidth, --parallel (batched decode) its
#   table and JSON with the single stream added, bad flags get one error
#   line.
#   cli.sh SPLITMOE_BINARY FIXTURE_DIR
set -u
bin=$1 fx=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/splitmoe-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ops="embed norm qkv rope attention o_proj residual router moe_move experts lm_head sync"

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # check NAME COMMAND...: passes when the command succeeds
	local name=$1; shift
	if "$@" >"$tmp/check.out" 2>&1; then ok "$name"; else not_ok "$name" "$(tail -n 5 "$tmp/check.out")"; fi
}
# one_error NAME ARGS...: non-zero exit, nothing on stdout, one line "splitmoe: ..." on stderr
one_error() {
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

# --- synth
m=$tmp/tiny
check "synth --shape tiny writes a model" "$bin" synth --shape tiny --out "$m" --seed 7
if grep -qE '^synth: [0-9.]+ of 2.14 MB written, [0-9.]+ GB/s$' "$tmp/check.out" &&
	grep -qE "^synth: wrote $m: 2.14 MB in [0-9.]+ s \([0-9.]+ GB/s\)$" "$tmp/check.out"; then
	ok "synth: progress and the closing line, with units"
else not_ok "synth: progress lines" "$(cat "$tmp/check.out")"; fi
files="config.json model.safetensors.index.json model-00001-of-00002.safetensors
model-00002-of-00002.safetensors tokenizer.model added_tokens.json generation_config.json tokenizer_config.json"
miss=""
for f in $files; do [ -s "$m/$f" ] || miss="$miss $f"; done
if [ -z "$miss" ] && [ -z "$(find "$(dirname "$m")" -maxdepth 1 -name '.tiny.synth-*')" ]; then
	ok "synth: shards, index, config and tokenizer files, no temporary directory left"
else not_ok "synth: files" "missing:$miss" "$(ls -a "$tmp")"; fi
python3 - "$m" <<'PY' >"$tmp/check.out" 2>&1
import json, os, struct, sys
d = sys.argv[1]
idx = json.load(open(os.path.join(d, "model.safetensors.index.json")))
cfg = json.load(open(os.path.join(d, "config.json")))
assert cfg["model_type"] == "phimoe" and cfg["num_hidden_layers"] == 2, cfg
assert cfg["sliding_window"] == 2047 and cfg["rope_parameters"]["rope_theta"] == 10000.0, cfg
total, names = 0, set()
for shard in sorted(set(idx["weight_map"].values())):
    f = open(os.path.join(d, shard), "rb")
    hlen = struct.unpack("<Q", f.read(8))[0]
    h = json.loads(f.read(hlen))
    assert h.pop("__metadata__") == {"format": "pt"}
    size = os.path.getsize(os.path.join(d, shard)) - 8 - hlen
    end = max(v["data_offsets"][1] for v in h.values())
    assert end == size, (shard, end, size)
    for k, v in h.items():
        assert idx["weight_map"][k] == shard and v["dtype"] == "BF16", k
        total += v["data_offsets"][1] - v["data_offsets"][0]
        names.add(k)
assert names == set(idx["weight_map"]), "index and shards disagree"
assert total == idx["metadata"]["total_size"], (total, idx["metadata"])
assert "lm_head.bias" in names and "model.layers.1.block_sparse_moe.experts.15.w2.weight" in names
PY
if [ $? -eq 0 ]; then ok "synth: safetensors headers, index total_size and weight_map agree"
else not_ok "synth: headers and index" "$(tail -n 3 "$tmp/check.out")"; fi

"$bin" info --model "$m" >"$tmp/out" 2>&1
if grep -q 'layers 2, hidden 128, heads 4/2 kv x 48, experts 16 (top-2) of 64, vocab 512' "$tmp/out"; then
	ok "synth: info --model loads it"
else not_ok "synth: info --model" "$(tail -n 3 "$tmp/out")"; fi
"$bin" run --model "$m" --ids 1,2,3 -n 4 --arbiter off --print-ids >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 0 ] && [ "$(tail -n 1 "$tmp/out" | wc -w)" -ge 1 ] && grep -q '^decode: ' "$tmp/err"; then
	ok "synth: run --ids 1,2,3 -n 4 generates"
else not_ok "synth: run" "$(tail -n 3 "$tmp/err")"; fi

# the same bytes for a seed on 1 thread and on 2; others for another seed
OMP_NUM_THREADS=1 "$bin" synth --shape tiny --out "$tmp/again" --seed 7 2>/dev/null
OMP_NUM_THREADS=2 "$bin" synth --shape tiny --out "$tmp/other" --seed 8 2>/dev/null
same=1 differ=1
for f in $files; do cmp -s "$m/$f" "$tmp/again/$f" || same=0; done
cmp -s "$m/model-00001-of-00002.safetensors" "$tmp/other/model-00001-of-00002.safetensors" && differ=0
cmp -s "$m/model-00002-of-00002.safetensors" "$tmp/other/model-00002-of-00002.safetensors" && differ=0
if [ $same -eq 1 ]; then ok "synth: seed 7 gives the same bytes on 1 and 2 threads"
else not_ok "synth: deterministic"; fi
if [ $differ -eq 1 ]; then ok "synth: seed 8 gives other weights"
else not_ok "synth: another seed"; fi

"$bin" synth --shape tiny --out "$tmp/f32" --dtype f32 --layers 1 2>/dev/null &&
	"$bin" run --model "$tmp/f32" --ids 5,6 -n 2 --dtype f32 --arbiter off >/dev/null 2>"$tmp/err"
if [ $? -eq 0 ] && grep -q '"torch_dtype": "float32"' "$tmp/f32/config.json" &&
	grep -q 'num_hidden_layers": 1' "$tmp/f32/config.json"; then
	ok "synth --dtype f32 --layers 1 loads and runs"
else not_ok "synth --dtype f32 --layers 1" "$(tail -n 2 "$tmp/err")"; fi

mkdir "$tmp/full" && echo keep >"$tmp/full/x"
one_error "synth refuses a non-empty directory" synth --shape tiny --out "$tmp/full"
if [ "$(ls "$tmp/full")" = x ] && [ "$(cat "$tmp/full/x")" = keep ]; then ok "synth: the non-empty directory is left as it was"
else not_ok "synth: the non-empty directory was touched" "$(ls -a "$tmp/full")"; fi
mkdir "$tmp/empty"
check "synth writes into an existing empty directory" "$bin" synth --shape tiny --out "$tmp/empty" --layers 1
one_error "synth --shape unknown" synth --shape huge --out "$tmp/x"
one_error "synth without --out" synth --shape tiny
one_error "synth --layers 0" synth --shape tiny --layers 0 --out "$tmp/x"
one_error "synth -p does not apply" synth --shape tiny -p 3 --out "$tmp/x"

# killed mid-way: a 0.74 GB model (one full-size layer) cannot be written
# in 1 s here; SIGTERM cleans up, SIGKILL leaves only the hidden temporary
for sig in TERM KILL; do
	out=$tmp/killed-$sig
	# (an inner shell, so that its "Killed" report goes to /dev/null)
	bash -c 'timeout -s "$1" 1 "$2" synth --shape phi-tiny-moe --layers 1 --out "$3" 2>"$4"; exit $?' \
		_ $sig "$bin" "$out" "$tmp/err" >/dev/null 2>&1
	rc=$?
	left=$(find "$tmp" -maxdepth 1 -name ".killed-$sig.synth-*")
	if [ $rc -ne 0 ] && [ ! -e "$out" ] && ! "$bin" info --model "$out" >/dev/null 2>&1 &&
		{ [ $sig = KILL ] || [ -z "$left" ]; }; then
		ok "synth killed by SIG$sig after 1 s: no $out, nothing that loads${left:+ (temporary left: $(basename "$left"))}"
	else not_ok "synth killed by SIG$sig" "rc $rc" "$(ls -a "$tmp")" "$(tail -n 2 "$tmp/err")"; fi
	[ -n "$left" ] && rm -rf "$left"
done

# --- bench
# bench_table_ok FILE NAME THREADS TESTS...: the header's columns, then one
# row per thread count and test with tok/s > 0 and GB/s > 0
bench_table_ok() {
	local file=$1 name=$2; shift 2
	python3 - "$file" "$@" <<'PY' >"$tmp/check.out" 2>&1
import sys
lines = [l for l in open(sys.argv[1]) if l.startswith("|")]
want_threads, tests = sys.argv[2].split(","), sys.argv[3:]
head = [c.strip() for c in lines[0].strip().strip("|").split("|")]
assert head == ["model", "dtype", "weights", "threads", "test", "tok/s", "GB/s", "% read bw"], head
rows = [[c.strip() for c in l.strip().strip("|").split("|")] for l in lines[2:2 + len(want_threads) * len(tests)]]
got = [(r[3], r[4]) for r in rows]
want = [(t, x) for t in want_threads for x in tests]
assert got == want, (got, want)
for r in rows:
    assert len(r) == 8, r
    mean, sd = r[5].split(" ± ")
    assert float(mean) > 0 and float(sd) >= 0 and float(r[6]) > 0, r
PY
	if [ $? -eq 0 ]; then ok "$name"; else not_ok "$name" "$(tail -n 4 "$tmp/check.out")"; fi
}

"$bin" bench --model "$fx" -p 4,8 -n 3 -d 0,5 -t 1,2 -r 2 --arbiter off --membw-gbs 20 \
	>"$tmp/table" 2>"$tmp/err"
if [ $? -eq 0 ]; then
	bench_table_ok "$tmp/table" "bench on the fixture: a row per thread count and test (pp4 pp8 tg3 'tg3 @ d5'), tok/s, GB/s" \
		1,2 pp4 pp8 tg3 "tg3 @ d5"
else not_ok "bench on the fixture" "$(tail -n 3 "$tmp/err")"; fi
if grep -qE '^\| phimoe-tiny-a +\| (bf16|f32) +\| mapped +\| +2 \| tg3 @ d5 +\| +[0-9.]+ ± [0-9.]+ \| +[0-9.]+ \| +[0-9.]+ \|$' "$tmp/table" &&
	grep -q '^membw: read 20.0 GB/s (given by --membw-gbs)$' "$tmp/table" &&
	grep -q '^resident memory (end of bench): .* MB' "$tmp/table" &&
	grep -q '^weights held (cpu): ' "$tmp/table"; then
	ok "bench: model, dtype, weights, % of the given bandwidth, weights line and resident memory"
else not_ok "bench: table details" "$(cat "$tmp/table" | head -n 12)"; fi
if grep -q '^bench: \[1/8\] t=1 pp4: run 1/2$' "$tmp/err" && grep -q '^bench: \[8/8\] t=2 tg3 @ d5: filling the context, then run 2/2$' "$tmp/err"; then
	ok "bench: progress lines on stderr (test, repetition)"
else not_ok "bench: progress" "$(head -n 5 "$tmp/err")"; fi

"$bin" bench --model "$m" -p 6 -n 2 -d 0,3 -t 2 -r 1 --arbiter off --no-membw >"$tmp/table2" 2>"$tmp/err"
if [ $? -eq 0 ]; then
	bench_table_ok "$tmp/table2" "bench on the synthesized tiny model: pp6 tg2 'tg2 @ d3'" 2 pp6 tg2 "tg2 @ d3"
else not_ok "bench on the synthesized model" "$(tail -n 3 "$tmp/err")"; fi

"$bin" bench --model "$fx" -p 8 -n 2 -d 0,4 -t 1,2 -r 2 -b 4 --arbiter off --no-membw --json --profile \
	>"$tmp/json" 2>"$tmp/err"
rc=$?
python3 - "$tmp/json" "$ops" <<'PY' >"$tmp/check.out" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
ops = sys.argv[2].split()
got = [(r["threads"], r["test"]) for r in d["results"]]
want = [(t, x) for t in (1, 2) for x in ("pp8", "tg2", "tg2 @ d4")]
assert got == want, got
for r in d["results"]:
    assert r["tok_s"] > 0 and len(r["tok_s_runs"]) == 2 and all(v > 0 for v in r["tok_s_runs"]), r
    assert r["weight_bytes_per_token"] > 0 and r["weight_gbs"] > 0 and r["pct_read_bw"] is None, r
    p = r["profile"]
    assert sorted(p["ops"]) == sorted(ops), sorted(p["ops"])
    assert p["tokens"] == 2 * r["n_tokens"], p["tokens"]
    assert len(p["layer_ms_per_token"]) == d["model"]["layers"] == 2
    assert p["ops"]["experts"]["calls_per_token"] > 0
assert d["membw"] == {"source": "none"} and d["resident_memory"]["rss_bytes"] > 0
assert len(d["weights_held"]) == 2
assert d["prefill_chunk"] == 4, d["prefill_chunk"]
PY
if [ $rc -eq 0 ] && [ $? -eq 0 ]; then ok "bench --json --profile -b 4: one JSON document, every test with tok/s > 0 and every op class"
else not_ok "bench --json --profile" "rc $rc" "$(tail -n 4 "$tmp/check.out")" "$(tail -n 2 "$tmp/err")"; fi

"$bin" bench --model "$fx" -p 8 -n 2 -t 1 -r 1 --arbiter off --no-membw --profile >"$tmp/prof" 2>/dev/null
miss=""
for op in $ops; do
	grep -qE "^\| $op +\| +[0-9.]+ \| +[0-9.]+ \| +[0-9.]+ \|$" "$tmp/prof" || miss="$miss $op"
done
if [ -z "$miss" ] && [ "$(grep -c '^profile: t=1 ' "$tmp/prof")" -eq 2 ] &&
	[ "$(grep -cE '^layers: min [0-9.]+, mean [0-9.]+, max [0-9.]+ ms per token \(2 layers\)$' "$tmp/prof")" -eq 2 ]; then
	ok "bench --profile: a table per test with every op class, and the layers' min/mean/max"
else not_ok "bench --profile" "missing:$miss" "$(grep -A3 '^profile' "$tmp/prof" | head -n 8)"; fi

"$bin" bench --membw >"$tmp/bw" 2>"$tmp/err"
if [ $? -eq 0 ] && grep -qE '^membw: threads [0-9]+, read [0-9.]+ GB/s, copy [0-9.]+ GB/s \(read \+ written\), best of [0-9]+ over [0-9.]+ GB$' "$tmp/bw"; then
	ok "bench --membw alone: $(cat "$tmp/bw")"
else not_ok "bench --membw alone" "$(cat "$tmp/bw" "$tmp/err")"; fi

one_error "bench -p 16,abc" bench --model "$fx" -p 16,abc
grep -qx "splitmoe: -p: 'abc' is not a positive integer" "$tmp/err" ||
	not_ok "bench -p 16,abc: the message" "$(cat "$tmp/err")"
one_error "bench -t 0" bench --model "$fx" -t 0
one_error "bench -d 1,-2" bench --model "$fx" -d 1,-2
one_error "bench -r 2,3" bench --model "$fx" -r 2,3
one_error "bench -b 0" bench --model "$fx" -b 0
one_error "bench -p ''" bench --model "$fx" -p ''
one_error "bench -p 8,,9" bench --model "$fx" -p 8,,9
one_error "bench --no-membw --membw" bench --model "$fx" --no-membw --membw
one_error "bench --membw-gbs x" bench --model "$fx" --membw-gbs x
one_error "bench --threads (use -t)" bench --model "$fx" --threads 2
one_error "bench --dtype f16" bench --model "$fx" --dtype f16
one_error "bench without --model" bench -p 8
one_error "bench: -d beyond max_position_embeddings" bench --model "$fx" -d 4090 -n 32 --no-membw
one_error "bench --model missing" bench --model "$tmp/nothing" --no-membw
one_error "run -p does not apply" run --model "$fx" -p 3 --ids 1

# --- bench --parallel: batched decode (phimoe_batch)
"$bin" bench --model "$fx" --parallel 3,8 -p 20 -n 4 -t 1 -r 2 --arbiter off --no-membw \
	>"$tmp/par" 2>"$tmp/err"
rc=$?
python3 - "$tmp/par" <<'PY' >"$tmp/check.out" 2>&1
import sys
text = open(sys.argv[1]).read()
lines = [l for l in text.splitlines() if l.startswith("|")]
head = [c.strip() for c in lines[0].strip("|").split("|")]
assert head == ["model", "dtype", "threads", "test", "seqs", "decode tok/s", "tok/s per seq",
                "x single", "TTFT ms (max)", "join TTFT ms", "prefill tok/s"], head
rows = [[c.strip() for c in l.strip("|").split("|")] for l in lines[2:]]
assert [(r[2], r[3], r[4]) for r in rows] == [("1", "pl%d pp20+tg4" % s, str(s)) for s in (1, 3, 8)], rows
for r in rows:
    mean, sd = (float(x) for x in r[5].split(" +- "))
    seqs = int(r[4])
    assert mean > 0 and sd >= 0, r
    assert abs(float(r[6]) - mean / seqs) <= 0.01 + 1e-3 * mean, r
    ttft, ttft_max = r[8].replace("(", "").replace(")", "").split()
    assert 0 < float(ttft) <= float(ttft_max) and float(r[9]) > 0 and float(r[10]) > 0, r
    assert float(r[7]) > 0, r
assert rows[0][7] == "1.00", rows[0]
assert "TTFT: time to first token" in text and "-b 512 rows" in text and "join TTFT: a newcomer" in text
PY
if [ $rc -eq 0 ] && [ $? -eq 0 ]; then ok "bench --parallel 3,8: single stream added, a row each with aggregate and per-sequence tok/s, x single, TTFT, join TTFT, prefill"
else not_ok "bench --parallel" "rc $rc" "$(tail -n 4 "$tmp/check.out")" "$(tail -n 2 "$tmp/err")"; fi
if grep -q '^bench: \[3/3\] t=1 pl8 pp20+tg4: run 2/2$' "$tmp/err"; then ok "bench --parallel: progress lines"
else not_ok "bench --parallel: progress" "$(tail -n 3 "$tmp/err")"; fi

"$bin" bench --model "$fx" --parallel 1,4 -p 6,10 -n 3 -t 2 -r 2 -b 16 --arbiter off --no-membw --json \
	--profile >"$tmp/parjson" 2>"$tmp/err"
rc=$?
python3 - "$tmp/parjson" "$ops" <<'PY' >"$tmp/check.out" 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
got = [(r["sequences"], r["prompt_tokens"]) for r in d["results"]]
assert got == [(1, 6), (1, 10), (4, 6), (4, 10)], got
for r in d["results"]:
    assert r["kind"] == "parallel" and r["n_tokens"] == 3 and r["threads"] == 2, r
    assert r["tok_s"] > 0 and len(r["tok_s_runs"]) == 2, r
    assert abs(r["tok_s_per_seq"] * r["sequences"] - r["tok_s"]) <= 1e-3 * r["tok_s"], r
    assert 0 < r["ttft_ms"] <= r["ttft_max_ms"] and r["prefill_tok_s"] > 0 and r["ttft_join_ms"] > 0, r
    assert r["speedup_vs_single"] > 0, r
    assert sorted(r["profile"]["ops"]) == sorted(sys.argv[2].split())
    # the profile covers the decode steps: sequences x -n tokens a run
    assert r["profile"]["tokens"] == 2 * 3 * r["sequences"], r["profile"]["tokens"]
assert [r["speedup_vs_single"] for r in d["results"][:2]] == [1, 1]
assert d["prefill_chunk"] == 16
PY
if [ $rc -eq 0 ] && [ $? -eq 0 ]; then ok "bench --parallel --json --profile: sequences, per-sequence tok/s, speedup, TTFT, decode profile"
else not_ok "bench --parallel --json" "rc $rc" "$(tail -n 4 "$tmp/check.out")" "$(tail -n 2 "$tmp/err")"; fi

# The process arbiter's capacity: the run's measured bus traffic (the
# larger of read and copy) or --membw-gbs where the YAML gives none (its
# 120 GB/s default would throttle a faster bus), the YAML's where it does.
"$bin" bench --model "$fx" -p 4 -n 2 -t 1 -r 1 --arbiter process --membw-gbs 20 --json \
	>"$tmp/arbjson" 2>"$tmp/err"
"$bin" bench --model "$fx" -p 4 -n 2 -t 1 -r 1 --arbiter process --json \
	>"$tmp/arbjson2" 2>>"$tmp/err"
printf 'arbiter:\n  capacity_mbps: 7000\n' >"$tmp/arb.yaml"
"$bin" bench --model "$fx" -p 4 -n 2 -t 1 -r 1 --arbiter process --membw-gbs 20 \
	--config "$tmp/arb.yaml" >"$tmp/arbtable" 2>>"$tmp/err"
if python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["arbiter"] == "process", d["arbiter"]
assert d["arbiter_capacity_mbps"] == 20000 and d["arbiter_capacity_source"] == "membw read", d
m = json.load(open(sys.argv[2]))
bw = m["membw"]
top = max(bw["read_gbs"], bw["copy_gbs"])
src = "membw copy" if bw["copy_gbs"] > bw["read_gbs"] else "membw read"
assert m["arbiter_capacity_source"] == src, (m["arbiter_capacity_source"], bw)
assert abs(m["arbiter_capacity_mbps"] - top * 1000) <= 10, (m["arbiter_capacity_mbps"], bw)
' "$tmp/arbjson" "$tmp/arbjson2" 2>"$tmp/check.out" &&
	grep -q '^tests: .* arbiter process (capacity 7000 MB/s: config)$' "$tmp/arbtable"; then
	ok "bench --arbiter process: capacity from the run's bandwidth (the larger of read and copy, or --membw-gbs), or the YAML's"
else not_ok "bench --arbiter process capacity" "$(cat "$tmp/check.out")" "$(grep '^tests:' "$tmp/arbtable")" "$(tail -n 2 "$tmp/err")"; fi

one_error "bench --parallel 0" bench --model "$fx" --parallel 0
one_error "bench --parallel 2,x" bench --model "$fx" --parallel 2,x
one_error "bench --parallel with -d" bench --model "$fx" --parallel 2 -d 8
one_error "bench --parallel with -n 0" bench --model "$fx" --parallel 2 -n 0 --no-membw
one_error "bench --parallel beyond -b" bench --model "$fx" --parallel 20 -b 16 --no-membw
grep -q 'more than -b 16' "$tmp/err" || not_ok "bench --parallel beyond -b: the message" "$(cat "$tmp/err")"
one_error "run --parallel does not apply" run --model "$fx" --parallel 2 --ids 1

echo "1..$n"
exit $failed
