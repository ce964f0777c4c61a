#!/usr/bin/env bash
# The accuracy table of quantized weights (README "Quantized model files"):
# each fixture x format, with every class of weights quantized (the
# default), then one class at a time and the router added, through
# `splitmoe quantize --tensors` and `splitmoe eval` (f32 compute, against
# transformers' f32 logits). Prints a markdown table.
#   scripts/quant-accuracy.sh [SPLITMOE (build/splitmoe)]
set -eu
bin=${1:-build/splitmoe}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/splitmoe-qacc.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "| fixture | format | quantized | top-1 | cosine mean / min | KL mean | greedy | routed as the reference: positions, top-1, cosine |"
echo "| --- | --- | --- | ---: | --- | ---: | ---: | --- |"
for f in A:tests/fixtures/phimoe-tiny-a C:../shared/fixtures/phimoe-tiny-c; do
	name=${f%%:*} fx=${f#*:}
	[ -f "$fx/reference.json" ] || { echo "| $name | (missing: $fx) |"; continue; }
	for q in int8 q4; do
		for t in attention,experts,lm_head attention experts lm_head router \
			attention,experts,lm_head,router; do
			d=$tmp/$name-$q-${t//,/+}
			"$bin" quantize --model "$fx" --out "$d" --type $q --tensors $t >/dev/null 2>&1
			"$bin" eval --model "$d" --reference "$fx/reference.json" --dtype f32 \
				--arbiter off >"$tmp/out" 2>&1 || true
			python3 - "$tmp/out" "$name" "$q" "$t" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
q = re.search(r"top-1 agreement (\d+)/(\d+) \(([\d.]+)%.*cosine mean ([\d.]+) \(need [\d.]+\) min ([\d.]+), KL mean ([\d.]+), greedy (\d+/\d+)", text)
r = re.search(r"routing: (\d+/\d+) positions.*top-1 agreement \d+/\d+ \(([\d.]+)%\), cosine mean ([\d.]+)", text)
label = "all (default)" if sys.argv[4] == "attention,experts,lm_head" else sys.argv[4].replace(",", ", ")
if not q or not r:
    print("| %s | %s | %s | eval failed |" % (sys.argv[2], sys.argv[3], label))
else:
    print("| %s | %s | %s | %s/%s (%s%%) | %s / %s | %s | %s | %s, %s%%, %s |" % (
        sys.argv[2], sys.argv[3], label, q.group(1), q.group(2), q.group(3), q.group(4),
        q.group(5), q.group(6), q.group(7), r.group(1), r.group(2), r.group(3)))
PY
			rm -rf "$d"
		done
	done
done
