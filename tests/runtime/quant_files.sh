#!/usr/bin/env bash
# Quantized model files (TAP): splitmoe quantize on fixtures A and C in
# int8 and q4; each directory loads mapped and gives logits bitwise equal to
# --quant at load on the same checkpoint; run, info and eval on it; --quant
# on a quantized model; every bad variant of make_bad_qfiles.py (one error
# line naming the file and tensor, non-zero exit, nothing written);
# quantize refusing a non-empty directory; an interrupted quantize leaves
# nothing that loads.
#   quant_files.sh SPLITMOE SPLITMOE_FAST FIXTURE_A FIXTURE_C WORK_DIR VARIANTS
# SPLITMOE runs every check (the ASan build); SPLITMOE_FAST only makes the
# large checkpoint the interruption test needs. WORK_DIR is emptied and
# keeps the quantized directories (WORK_DIR/a-int8, ...) for test_qfiles.
# VARIANTS: make_bad_fixtures.py's, for fixture A in f32 and sharded.
set -u
bin=$1 fast=$2 fa=$3 fc=$4 work=$5 var=$6
here=$(dirname "$0")
rm -rf "$work" && mkdir -p "$work"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/splitmoe-qfiles.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
expect_fail() { # NAME TEXT COMMAND...: non-zero exit, exactly one stderr line containing TEXT
	local name=$1 want=$2; shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	local rc=$? lines
	lines=$(wc -l <"$tmp/err")
	if [ $rc -ne 0 ] && [ $rc -lt 128 ] && [ "$lines" -eq 1 ] && grep -qF -- "$want" "$tmp/err"; then
		ok "$name: $(cat "$tmp/err")"
	else
		not_ok "$name" "rc $rc, $lines stderr lines, want '$want':" "$(head -n 5 "$tmp/err")"
	fi
}
ids=1,17,42,99,3,250,7,300,12,480,5,64
# bf16 compute needs AVX512-BF16 or AMX in oneDNN 2.6 (the router's product)
dtypes=f32
"$bin" info 2>/dev/null | grep -qE 'avx512_bf16=yes|amx_bf16=yes' && dtypes="f32 bf16"
fixtures="a:$fa"
[ -f "$fc/model.safetensors" ] && fixtures="$fixtures c:$fc"

for f in $fixtures; do
	name=${f%%:*} fx=${f#*:}
	for q in int8 q4; do
		d=$work/$name-$q
		"$bin" quantize --model "$fx" --out "$d" --type $q --threads 2 >"$tmp/out" 2>"$tmp/err"
		rc=$?
		if [ $rc -eq 0 ] && [ -f "$d/model.safetensors" ] && [ -f "$d/tokenizer.model" ] &&
			[ -f "$d/reference.json" ] && grep -q "\"format\":\"$q\"" "$d/config.json" &&
			grep -q '^quantize: .* MB/s$' "$tmp/err" &&
			grep -q "^quantize: wrote $d in .*read per decoded token" "$tmp/err" &&
			[ -z "$(find "$work" -maxdepth 1 -name ".$name-$q.quantize-*")" ]; then
			ok "quantize fixture $name to $q: $(tail -n 1 "$tmp/err")"
		else not_ok "quantize fixture $name to $q" "rc $rc" "$(tail -n 3 "$tmp/err")"; fi
		for dt in $dtypes; do
			"$bin" logits --model "$d" --ids $ids --dtype $dt --arbiter off --out "$tmp/file.bin" 2>"$tmp/err1"
			r1=$?
			"$bin" logits --model "$fx" --quant $q --ids $ids --dtype $dt --arbiter off \
				--out "$tmp/load.bin" 2>"$tmp/err2"
			r2=$?
			if [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && cmp -s "$tmp/file.bin" "$tmp/load.bin"; then
				ok "fixture $name $q $dt: the file's logits equal --quant $q at load, bit for bit"
			else not_ok "fixture $name $q $dt: logits differ" "rc $r1 $r2" "$(tail -n 2 "$tmp/err1")"; fi
		done
		# the same format named again is fine: the same logits
		"$bin" logits --model "$d" --quant $q --ids $ids --dtype f32 --arbiter off \
			--out "$tmp/again.bin" 2>"$tmp/err"
		"$bin" logits --model "$d" --ids $ids --dtype f32 --arbiter off --out "$tmp/file.bin" 2>/dev/null
		if cmp -s "$tmp/again.bin" "$tmp/file.bin"; then ok "fixture $name $q: --quant $q on the $q file changes nothing"
		else not_ok "fixture $name $q: --quant $q on the $q file" "$(tail -n 2 "$tmp/err")"; fi
		# eval judges the file as its format
		"$bin" eval --model "$d" --reference "$fx/reference.json" --dtype f32 --arbiter off \
			>"$tmp/out" 2>"$tmp/err"
		rc=$?
		line=$(grep "^quality ($q weights, f32 compute)" "$tmp/out")
		if [ -n "$line" ] && { [ $name = a ] || [ $rc -eq 0 ]; } && [ $rc -le 1 ]; then
			ok "eval on fixture $name's $q file (rc $rc): $line"
		else not_ok "eval on fixture $name's $q file" "rc $rc" "$(tail -n 3 "$tmp/out")" "$(tail -n 2 "$tmp/err")"; fi
	done
done

# an f32 checkpoint (f32 tensors first in the file) and a sharded one (one file out)
for v in as_f32 sharded; do
	d=$tmp/$v-int8
	if "$bin" quantize --model "$var/$v" --out "$d" --type int8 >/dev/null 2>"$tmp/err" &&
		"$bin" logits --model "$d" --ids $ids --dtype f32 --arbiter off --out "$tmp/file.bin" 2>/dev/null &&
		"$bin" logits --model "$var/$v" --quant int8 --ids $ids --dtype f32 --arbiter off \
			--out "$tmp/load.bin" 2>/dev/null && cmp -s "$tmp/file.bin" "$tmp/load.bin" &&
		[ "$(ls "$d" | grep -c safetensors)" = 1 ]; then
		ok "quantize fixture A's $v variant: one model.safetensors, logits equal --quant int8 at load"
	else not_ok "quantize fixture A's $v variant" "$(tail -n 2 "$tmp/err")"; fi
done

a4=$work/a-q4 a8=$work/a-int8
# run and info say which format runs and what a token reads
# (bf16 compute: the bf16 router is read in place too, so nothing is packed)
dt=${dtypes##* }
"$bin" run --model "$a4" --ids 1,2,3 -n 3 --dtype $dt --arbiter off >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 0 ] && grep -q '^format: q4 file (groups of 32, f16 scales), read in place; .*weights read per decoded token [0-9.]* MB (2 of 16 experts per layer)$' "$tmp/err" &&
	{ [ $dt = f32 ] || grep -q 'cpu 0.00 MB, gpu' "$tmp/err"; }; then
	ok "run on the q4 file ($dt): $(grep '^format' "$tmp/err")$([ $dt = bf16 ] && echo ', nothing packed')"
else not_ok "run on the q4 file" "$(cat "$tmp/err")"; fi
# where quant auto means int8 (no bf16 instructions: the AVX2 path), a q4
# file still runs as stored, not refused as "quantized as q4, asked int8"
SPLITMOE_ISA=avx2 "$bin" run --model "$a4" --ids 1,2,3 -n 3 --arbiter off >"$tmp/out" 2>"$tmp/err"
if [ $? -eq 0 ] && grep -q '^format: q4 file' "$tmp/err"; then
	ok "run on the q4 file under SPLITMOE_ISA=avx2 (quant auto): $(grep '^format' "$tmp/err")"
else not_ok "run on the q4 file under SPLITMOE_ISA=avx2 (quant auto)" "$(tail -n 3 "$tmp/err")"; fi
"$bin" info --model "$a8" >"$tmp/out" 2>&1
if grep -q 'int8 quantized in groups of 32' "$tmp/out" && grep -q 'format: int8 file' "$tmp/out"; then
	ok "info on the int8 file: $(grep 'format:' "$tmp/out" | sed 's/^ *//')"
else not_ok "info on the int8 file" "$(cat "$tmp/out")"; fi
"$bin" info --model "$fa" --quant q4 >"$tmp/out" 2>&1
if grep -q 'format: q4, quantized at load from bf16' "$tmp/out"; then
	ok "info --quant q4 on the checkpoint: $(grep 'format:' "$tmp/out" | sed 's/^ *//')"
else not_ok "info --quant q4" "$(cat "$tmp/out")"; fi

# --- bad input
expect_fail "--quant of another format" "quant int8: $a4 holds a model quantized as q4" \
	"$bin" run --model "$a4" --quant int8 --ids 1,2 -n 1 --arbiter off
expect_fail "a quantized file on the gpu" "a model quantized as q4 runs on the CPU only" \
	"$bin" run --model "$a4" --device gpu --ids 1,2 -n 1 --arbiter off
expect_fail "quantize an already quantized model" "is already quantized (q4)" \
	"$bin" quantize --model "$a4" --out "$tmp/twice" --type int8
expect_fail "quantize --type q3" "--type q3: want int8 or q4" \
	"$bin" quantize --model "$fa" --out "$tmp/x" --type q3
expect_fail "quantize without --type" "--type int8|q4 are required" \
	"$bin" quantize --model "$fa" --out "$tmp/x"
expect_fail "quantize --tensors unknown" "--tensors mlp: want a comma list" \
	"$bin" quantize --model "$fa" --out "$tmp/x" --type q4 --tensors mlp
mkdir "$tmp/full" && echo keep >"$tmp/full/x"
expect_fail "quantize into a non-empty directory" "exists and is not empty" \
	"$bin" quantize --model "$fa" --out "$tmp/full" --type q4
if [ "$(ls -A "$tmp/full")" = x ] && [ "$(cat "$tmp/full/x")" = keep ] &&
	[ -z "$(find "$tmp" -maxdepth 1 -name '.full.quantize-*')" ]; then
	ok "quantize: the non-empty directory is left as it was, no temporary beside it"
else not_ok "quantize: the non-empty directory was touched" "$(ls -a "$tmp" "$tmp/full")"; fi
mkdir "$tmp/empty"
if "$bin" quantize --model "$fa" --out "$tmp/empty" --type int8 2>"$tmp/err" &&
	"$bin" logits --model "$tmp/empty" --ids 1,2 --arbiter off --out "$tmp/e.bin" 2>/dev/null; then
	ok "quantize writes into an existing empty directory"
else not_ok "quantize into an empty directory" "$(tail -n 2 "$tmp/err")"; fi
python3 "$here/make_bad_qfiles.py" "$a4" "$tmp/bad" || not_ok "make_bad_qfiles.py"
while IFS=$'\t' read -r name want; do
	expect_fail "q4 file $name" "$want" \
		"$bin" logits --model "$tmp/bad/$name" --ids 1,2 --arbiter off --out "$tmp/never-$name.bin"
	if [ -e "$tmp/never-$name.bin" ]; then not_ok "q4 file $name: logits written"; fi
done <"$tmp/bad/cases.tsv"
python3 "$here/make_bad_qfiles.py" "$a8" "$tmp/bad8" || not_ok "make_bad_qfiles.py int8"
for name in missing-scale scale-shape truncated other-format; do
	want=$(awk -F'\t' -v n=$name '$1 == n { print $2 }' "$tmp/bad8/cases.tsv")
	expect_fail "int8 file $name" "$want" \
		"$bin" run --model "$tmp/bad8/$name" --ids 1,2 -n 1 --arbiter off
done

# killed mid-way (a 0.74 GB checkpoint: one full-size layer takes seconds):
# SIGTERM removes the temporary, SIGKILL leaves only it, hidden; neither
# leaves a directory that loads
if "$fast" synth --shape phi-tiny-moe --layers 1 --out "$tmp/big" >/dev/null 2>&1; then
	for sig in TERM KILL; do
		out=$tmp/killed-$sig
		bash -c 'timeout -s "$1" 1 "$2" quantize --model "$3" --out "$4" --type q4 2>"$5"; exit $?' \
			_ $sig "$bin" "$tmp/big" "$out" "$tmp/err" >/dev/null 2>&1
		rc=$?
		left=$(find "$tmp" -maxdepth 1 -name ".killed-$sig.quantize-*")
		if [ $rc -eq 0 ]; then	# a fast machine: nothing was interrupted
			ok "quantize killed by SIG$sig after 1 s # SKIP it finished within 1 s"
			rm -rf "$out"
			continue
		fi
		if [ $rc -ne 0 ] && [ ! -e "$out" ] && ! "$fast" info --model "$out" >/dev/null 2>&1 &&
			{ [ -z "$left" ] || ! "$fast" info --model "$left" >/dev/null 2>&1; } &&
			{ [ $sig = KILL ] || [ -z "$left" ]; }; then
			ok "quantize killed by SIG$sig after 1 s: no $out, nothing that loads${left:+ (temporary left: $(basename "$left"))}"
		else not_ok "quantize killed by SIG$sig" "rc $rc" "$(ls -a "$tmp")" "$(tail -n 2 "$tmp/err")"; fi
		[ -n "$left" ] && rm -rf "$left"
	done
	rm -rf "$tmp/big"
else not_ok "synth of the 1-layer checkpoint for the interruption test"; fi

echo "1..$n"
exit $failed
