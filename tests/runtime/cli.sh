#!/usr/bin/env bash
# splitmoe CLI tests (TAP): tokenize/run/logits on the fixture against its
# reference.json, and bad input (each: non-zero exit, one error line naming
# the file or field, nothing written).
#   cli.sh SPLITMOE_BINARY FIXTURE_DIR VARIANTS_DIR
set -u
bin=$1 fx=$2 var=$3
ref=$fx/reference.json
tmp=$(mktemp -d "${TMPDIR:-/tmp}/splitmoe-cli.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=1; echo "not ok $n - $1"; shift; for l in "$@"; do echo "# $l"; done; }
check() { # check NAME COMMAND...: passes when the command succeeds
	local name=$1; shift
	if "$@" >"$tmp/check.out" 2>&1; then ok "$name"; else not_ok "$name" "$(tail -n 5 "$tmp/check.out")"; fi
}
case_field() { # case_field INDEX FIELD -> space-separated ids or the text
	python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["cases"][int(sys.argv[2])][sys.argv[3]]
print(" ".join(map(str, c)) if isinstance(c, list) else c)' "$ref" "$1" "$2"
}
ncases=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["cases"]))' "$ref")

# --- tokenize equals input_ids for every case
for ((i = 0; i < ncases; i++)); do
	want=$(case_field "$i" input_ids)
	got=$("$bin" tokenize --model "$fx" --text "$(case_field "$i" prompt)" 2>"$tmp/err")
	if [ "$got" = "$want" ]; then ok "tokenize case $i equals input_ids"
	else not_ok "tokenize case $i equals input_ids" "got  $got" "want $want" "$(cat "$tmp/err")"; fi
done

# --- run --ids, f32 greedy: the ids printed last are the reference's greedy
# ids up to the first eos (generation stops there), the text is streamed
eos=" 480 481 487 "
for ((i = 0; i < ncases; i++)); do
	ids=$(case_field "$i" input_ids | tr ' ' ',')
	want=""
	for t in $(case_field "$i" greedy_ids); do
		case "$eos" in *" $t "*) break ;; esac
		want="$want${want:+ }$t"
	done
	"$bin" run --model "$fx" --ids "$ids" -n 24 --dtype f32 --arbiter process --print-ids \
		>"$tmp/out" 2>"$tmp/err"
	rc=$?
	got=$(tail -n 1 "$tmp/out")
	if [ $rc -eq 0 ] && [ "$got" = "$want" ] && grep -q '^prefill: .* tok/s$' "$tmp/err" &&
		grep -q '^decode: .* tok/s$' "$tmp/err" && grep -q '^resident memory (end of run): .* MB' "$tmp/err" &&
		grep -qE '^arbiter process: cpu client ([1-9][0-9]*) acquires, \1 completed, ' "$tmp/err"; then
		ok "run --ids case $i: greedy ids, tok/s, the cpu client's acquires (all completed) and resident memory reported"
	else
		not_ok "run --ids case $i: greedy ids, tok/s and resident memory reported" \
			"rc $rc" "got  $got" "want $want" "$(tail -n 3 "$tmp/err")"
	fi
done

# streamed text of case 2 (no eos within 24, bytes and pieces mixed) is
# the decoding of the ids printed after it
"$bin" run --model "$fx" --ids "$(case_field 1 input_ids | tr ' ' ',')" -n 24 --dtype f32 \
	--arbiter off --print-ids >"$tmp/out" 2>/dev/null
python3 - "$tmp/out" "$ref" <<'EOF' >"$tmp/check.out" 2>&1
import json, sys
out = open(sys.argv[1], "rb").read().decode("utf-8")
lines = out.split("\n")
ids = [int(x) for x in lines[-2].split()]
want = json.load(open(sys.argv[2]))["cases"][1]
assert ids == want["greedy_ids"], ids
# continuation: the first piece keeps its space marker; added tokens are
# printed as their text (the reference decoded SentencePiece ids only)
text = "\n".join(lines[:-2])
assert "<|system|>" in text
for t in json.load(open(sys.argv[2].replace("reference.json", "added_tokens.json"))):
    text = text.replace(t, "")
assert text.lstrip(" ") == want["greedy_text"], (text, want["greedy_text"])
EOF
if [ $? -eq 0 ]; then ok "run streams the text of the ids it prints"
else not_ok "run streams the text of the ids it prints" "$(cat "$tmp/check.out")"; fi

# --- sampling: same seed, same ids; greedy at temperature 0
a=$("$bin" run --model "$fx" --prompt "The license" -n 16 --temperature 1.2 --top-k 40 \
	--top-p 0.95 --seed 7 --print-ids --arbiter off 2>/dev/null | tail -n 1)
b=$("$bin" run --model "$fx" --prompt "The license" -n 16 --temperature 1.2 --top-k 40 \
	--top-p 0.95 --seed 7 --print-ids --arbiter off 2>/dev/null | tail -n 1)
if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "run: same seed, same sampled ids"
else not_ok "run: same seed, same sampled ids" "$a" "$b"; fi

# --- chat format: ids start BOS <|user|> and end <|end|> \n <|assistant|> \n
got=$("$bin" tokenize --model "$fx" --text $'<|user|>\nHello<|end|>\n<|assistant|>\n')
case "$got" in
"1 490 "*" 487 13 481 13") ok "chat markers are single special ids" ;;
*) not_ok "chat markers are single special ids" "$got" ;;
esac
check "run --chat generates" "$bin" run --model "$fx" --chat "Hello" -n 4 --arbiter off

# --- logits: [positions][vocab] float32 LE, within 1e-3 of the reference (f32)
ids=$(case_field 0 input_ids | tr ' ' ',')
if "$bin" logits --model "$fx" --ids "$ids" --out "$tmp/logits.bin" --dtype f32 --arbiter process \
	2>"$tmp/err"; then
	python3 - "$tmp/logits.bin" "$ref" <<'EOF' >"$tmp/check.out" 2>&1
import json, struct, sys
raw = open(sys.argv[1], "rb").read()
want = json.load(open(sys.argv[2]))["cases"][0]["logits"]
n, v = len(want), len(want[0])
assert len(raw) == n * v * 4, (len(raw), n, v)
got = struct.unpack("<%df" % (n * v), raw)
err = max(abs(got[p * v + j] - want[p][j]) for p in range(n) for j in range(v))
assert err < 1e-3, err
print("max abs err", err)
EOF
	if [ $? -eq 0 ]; then ok "logits file matches the reference ($(cat "$tmp/check.out"))"
	else not_ok "logits file matches the reference" "$(cat "$tmp/check.out")"; fi
else
	not_ok "logits file matches the reference" "$(cat "$tmp/err")"
fi

# --- eval: the table, exit 0 on the fixture; exit 1 and a FAIL row for
# the case whose reference logit is moved by 0.01 (10x the tolerance)
"$bin" eval --model "$fx" --reference "$ref" --dtype f32 --arbiter off >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 0 ] && grep -q '^case  *tokens  *tok-ids  *max|dlogit|' "$tmp/out" &&
	[ "$(grep -c ' pass$' "$tmp/out")" -eq "$ncases" ] && [ "$(tail -n 1 "$tmp/out")" = PASS ]; then
	ok "eval f32: a table row per case, PASS, exit 0"
else
	not_ok "eval f32: a table row per case, PASS, exit 0" "rc $rc" "$(tail -n 4 "$tmp/out" "$tmp/err")"
fi
python3 -c 'import json, sys
r = json.load(open(sys.argv[1]))
r["cases"][1]["logits"][2][5] += 0.01
json.dump(r, open(sys.argv[2], "w"))' "$ref" "$tmp/moved.json"
"$bin" eval --model "$fx" --reference "$tmp/moved.json" --dtype f32 --arbiter off \
	>"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -eq 1 ] && grep -q '^1  .* FAIL$' "$tmp/out" && [ "$(grep -c ' FAIL$' "$tmp/out")" -eq 1 ] &&
	[ "$(tail -n 1 "$tmp/out")" = FAIL ]; then
	ok "eval: a logit off by 0.01 fails its case's row and exits 1"
else
	not_ok "eval: a logit off by 0.01 fails its case's row and exits 1" "rc $rc" \
		"$(cat "$tmp/out" "$tmp/err")"
fi

# --- sampling options reach the sampler: another seed, other ids
c=$("$bin" run --model "$fx" --prompt "The license" -n 16 --temperature 1.2 --top-k 40 \
	--top-p 0.95 --seed 8 --print-ids --arbiter off 2>/dev/null | tail -n 1)
g=$("$bin" run --model "$fx" --prompt "The license" -n 16 --print-ids --arbiter off 2>/dev/null |
	tail -n 1)
t0=$("$bin" run --model "$fx" --prompt "The license" -n 16 --temperature 0 --seed 8 --top-k 3 \
	--print-ids --arbiter off 2>/dev/null | tail -n 1)
if [ -n "$c" ] && [ "$c" != "$a" ] && [ "$a" != "$g" ] && [ -n "$g" ] && [ "$t0" = "$g" ]; then
	ok "run: seeds 7 and 8 sample different ids, neither greedy; temperature 0 is greedy"
else
	not_ok "run: seeds 7 and 8 sample different ids, neither greedy; temperature 0 is greedy" \
		"seed 7: $a" "seed 8: $c" "greedy: $g" "t=0: $t0"
fi

# --- info
if "$bin" info --model "$fx" --arbiter process >"$tmp/out" 2>"$tmp/err" &&
	grep -q '^isa: .*avx512_bf16=' "$tmp/out" && grep -q '^onednn: ' "$tmp/out" &&
	grep -q '^arbiter: process requested, process in use' "$tmp/out" &&
	grep -q 'parameters: 1071872 ' "$tmp/out" && grep -q 'active per token: 318336 parameters' "$tmp/out" &&
	grep -q '^resident memory (model mapped): .* MB' "$tmp/out"; then
	ok "info --model: ISA, oneDNN, arbiter, parameters, active bytes, resident memory"
else
	not_ok "info --model" "$(cat "$tmp/out" "$tmp/err")"
fi

# --- weights mapped in place vs packed (README "Mapped or packed weights")
if "$bin" info --model "$fx" --arbiter off --dtype f32 --weights packed >"$tmp/out" 2>"$tmp/err" &&
	grep -q '^  cpu weights packed, compute f32: packed' "$tmp/out" &&
	grep -q 'of which the cpu reads 0.00 MB in place besides its [1-9][0-9.]* MB packed (weights packed)$' "$tmp/out" &&
	"$bin" run --model "$fx" --ids 1,398,428 -n 4 --print-ids --arbiter off --dtype f32 \
		--config /dev/null >/dev/null 2>"$tmp/err2" &&
	grep -q 'besides its [1-9][0-9.]* MB packed (weights auto)$' "$tmp/err2"; then
	ok "info/run state mapped vs packed bytes (f32 on the bf16 fixture: auto packs)"
else
	not_ok "info/run state mapped vs packed bytes" "$(cat "$tmp/out" "$tmp/err" "$tmp/err2")"
fi
"$bin" run --model "$fx" --ids 1,398 -n 2 --dtype f32 --weights mapped >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] && [ "$(wc -l <"$tmp/err")" -eq 1 ] && [ ! -s "$tmp/out" ] &&
	grep -q 'weights mapped: model.layers.0.self_attn.q_proj.weight is bf16, the compute type f32' "$tmp/err"; then
	ok "--weights mapped where the dtype is not the compute type: one error naming the tensor, exit $rc"
else
	not_ok "--weights mapped with another dtype refused" "rc $rc" "$(cat "$tmp/out" "$tmp/err")"
fi
if "$bin" run --model "$fx" --ids 1 -n 1 --weights copied >"$tmp/out" 2>"$tmp/err"; then
	not_ok "--weights copied refused"
else
	ok "--weights copied refused: $(head -n 1 "$tmp/err")"
fi

# --- quantized weights (--quant, YAML quant)
for q in int8 q4; do
	if "$bin" run --model "$fx" --ids 1,398,428 -n 4 --quant $q --arbiter off --print-ids \
		>"$tmp/out" 2>"$tmp/err" && [ "$(tail -n 1 "$tmp/out" | wc -w)" -eq 4 ]; then
		ok "--quant $q runs (4 ids)"
	else
		not_ok "--quant $q runs" "$(cat "$tmp/out" "$tmp/err")"
	fi
done
if "$bin" run --model "$fx" --ids 1 -n 1 --quant q3 >"$tmp/out" 2>"$tmp/err"; then
	not_ok "--quant q3 refused"
else
	[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "quant" "$tmp/err" &&
		ok "--quant q3 refused in one line: $(head -n 1 "$tmp/err")" ||
		not_ok "--quant q3: one line naming quant" "$(cat "$tmp/err")"
fi
if "$bin" run --model "$fx" --ids 1 -n 1 --quant int8 --device gpu >"$tmp/out" 2>"$tmp/err"; then
	not_ok "--quant int8 --device gpu refused"
else
	[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "CPU only" "$tmp/err" &&
		ok "--quant int8 --device gpu refused in one line: $(head -n 1 "$tmp/err")" ||
		not_ok "--quant with the iGPU: one line" "$(cat "$tmp/err")"
fi
if "$bin" run --model "$fx" --ids 1 -n 1 --quant q4 --device split >"$tmp/out" 2>"$tmp/err"; then
	not_ok "--quant q4 --device split refused"
else
	[ "$(wc -l <"$tmp/err")" -eq 1 ] && grep -q "CPU only" "$tmp/err" &&
		ok "--quant q4 --device split refused in one line: $(head -n 1 "$tmp/err")" ||
		not_ok "--quant with the split modes: one line" "$(cat "$tmp/err")"
fi
# the default on a CPU without bf16 instructions (SPLITMOE_ISA=avx2: the
# target laptop's path) is int8; asked for, none stays none
got=$(SPLITMOE_ISA=avx2 "$bin" info --model "$fx" 2>&1)
none=$(SPLITMOE_ISA=avx2 "$bin" info --model "$fx" --quant none 2>&1)
case "$got|$none" in
*"cpu quant int8, int8 activations, kernel avx2"*"|"*"cpu quant none"*)
	ok "SPLITMOE_ISA=avx2: quant auto is int8, --quant none is none" ;;
*) not_ok "SPLITMOE_ISA=avx2: quant auto is int8" "$got" "$none" ;;
esac
if SPLITMOE_ISA=avx2 "$bin" run --model "$fx" --ids 1,398,428 -n 2 --arbiter off \
	>"$tmp/out" 2>"$tmp/err" && grep -q "quant int8" "$tmp/err" "$tmp/out"; then
	ok "SPLITMOE_ISA=avx2: run holds int8 weights by default"
else
	not_ok "SPLITMOE_ISA=avx2: run holds int8 weights by default" "$(cat "$tmp/out" "$tmp/err")"
fi
got=$(SPLITMOE_ISA=avx2-novnni "$bin" info 2>&1)
case "$got" in
*"kernels: avx2 (forced by SPLITMOE_ISA), int8 products avx2"*)
	ok "SPLITMOE_ISA=avx2-novnni: the AVX2 fallback runs the int8 products" ;;
*) not_ok "SPLITMOE_ISA=avx2-novnni: the AVX2 fallback" "$got" ;;
esac

# --- YAML config: flags override it
cat >"$tmp/good.yaml" <<EOF
model: $fx
dtype: f32
arbiter:
  backend: off
EOF
got=$("$bin" tokenize --config "$tmp/good.yaml" --text "The license" 2>&1)
over=$("$bin" tokenize --config "$tmp/good.yaml" --model /nonexistent/m --text x 2>&1)
case "$got|$over" in
"1 398 428 407 399 "*"|"*"/nonexistent/m/tokenizer.model: missing"*)
	ok "YAML config supplies the model; --model overrides it" ;;
*) not_ok "YAML config supplies the model; --model overrides it" "$got" "$over" ;;
esac

# --- bad input: non-zero exit, exactly one stderr line containing $2
expect_fail() { # NAME TEXT COMMAND...
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
expect_fail "missing model dir" "/nonexistent/m: model directory does not exist" \
	"$bin" run --model /nonexistent/m --prompt hi
expect_fail "empty prompt" "--prompt: empty prompt" "$bin" run --model "$fx" --prompt ""
expect_fail "empty chat" "--chat: empty prompt" "$bin" run --model "$fx" --chat ""
python3 -c 'print("x " * 5000)' >"$tmp/long.txt"
expect_fail "prompt longer than max_position_embeddings" "longer than max_position_embeddings (4096)" \
	"$bin" run --model "$fx" --prompt "$(cat "$tmp/long.txt")"
expect_fail "ids outside the vocabulary" "--ids: bad list" "$bin" run --model "$fx" --ids 1,2,512
expect_fail "no prompt" "give exactly one of" "$bin" run --model "$fx"
expect_fail "unknown option" "run: unknown option '--tempreature'" \
	"$bin" run --model "$fx" --prompt hi --tempreature 1
expect_fail "bad dtype" "key 'dtype': bad value 'f8'" "$bin" run --model "$fx" --prompt hi --dtype f8
expect_fail "option of another subcommand" "tokenize: option '--out' does not apply" \
	"$bin" tokenize --model "$fx" --text hi --out x
printf 'model: %s\nthreads: 2\narbitre:\n  backend: off\n' "$fx" >"$tmp/bad.yaml"
expect_fail "unknown YAML key" "$tmp/bad.yaml:3: unknown key 'arbitre'" \
	"$bin" run --config "$tmp/bad.yaml" --prompt hi
printf 'threads: lots\n' >"$tmp/bad2.yaml"
expect_fail "bad YAML value" "$tmp/bad2.yaml:1: key 'threads': bad value 'lots'" \
	"$bin" tokenize --config "$tmp/bad2.yaml" --model "$fx" --text hi
expect_fail "eval: missing reference" "$tmp/none.json" \
	"$bin" eval --model "$fx" --reference "$tmp/none.json"
expect_fail "missing YAML file" "$tmp/none.yaml: No such file" \
	"$bin" info --config "$tmp/none.yaml"
expect_fail "missing tokenizer" "tokenizer.model: missing" \
	"$bin" run --model "$var/tokenizer_missing" --prompt hi
expect_fail "corrupt tokenizer" "tokenizer.model: not a SentencePiece model" \
	"$bin" tokenize --model "$var/tokenizer_corrupt" --text hi
# every corrupt checkpoint, through run (the tokenizer and config are fine)
while IFS=$'\t' read -r name want; do
	case "$name" in tokenizer_*) continue ;; esac
	expect_fail "checkpoint $name" "$want" "$bin" run --model "$var/$name" --prompt hi -n 1
done <"$var/cases.tsv"
# logits on a bad model: error, and no output file at all
expect_fail "logits, truncated checkpoint" "run past the end" \
	"$bin" logits --model "$var/truncated" --ids 1,2 --out "$tmp/never.bin"
if [ -e "$tmp/never.bin" ] || ls "$tmp"/never.bin.* >/dev/null 2>&1; then
	not_ok "nothing written on error"
else ok "nothing written on error"; fi

echo "1..$n"
exit $failed
