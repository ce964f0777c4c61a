#!/usr/bin/env bash
# Memory of the split modes against the CPU-only run, on a synthetic
# checkpoint wide enough for the experts to dominate (make_wide_model.py):
# the weight bytes each device holds (splitmoe's "weights held" line) and
# the resident memory at the end of a short run, in MB. Measures, asserts
# nothing. The software GPU's USM is host memory, so RSS counts both.
# usage: bench_shared_memory.sh SPLITMOE MODEL_DIR SWGPU_LIB
set -u
bin=$1 model=$2 lib=$3
export ZE_ENABLE_ALT_DRIVERS=$lib
cfg=$(mktemp)
trap 'rm -f "$cfg"' EXIT

# resident MB at the end of one run (and the weights line), for a config
measure() {
	local label=$1
	shift
	local err
	err=$("$bin" run --model "$model" --prompt "The license" -n 4 --dtype f32 "$@" 2>&1 >/dev/null)
	local w rss
	w=$(printf '%s\n' "$err" | grep '^weights held' || echo "weights held: (not reported)")
	rss=$(printf '%s\n' "$err" | sed -n 's/^resident memory (end of run): \([0-9.]*\) MB.*anonymous \([0-9.]*\) MB.*/\1 \2/p')
	printf '%-28s resident %s MB (anonymous %s MB)\n    %s\n' "$label" "${rss% *}" "${rss#* }" "$w"
	echo "${rss% *}" >"$cfg.$label"
}

echo "memory per device mode, compute f32, $(basename "$model") ($("$bin" info --model "$model" | sed -n 's/^  weights: \(.*\), mapped.*/\1/p'))"
measure cpu --device cpu
printf 'split:\n  mode: partition\n  rules: experts=gpu\n' >"$cfg"
measure partition --config "$cfg" --device split
for mode in expert-parallel dynamic; do
	printf 'split:\n  mode: %s\n  rules: attention=cpu,router=cpu\n' "$mode" >"$cfg"
	measure "$mode" --config "$cfg" --device split
done
cpu=$(cat "$cfg.cpu")
for mode in partition expert-parallel dynamic; do
	awk -v a="$(cat "$cfg.$mode")" -v c="$cpu" -v m="$mode" \
		'BEGIN { printf "%s: %+.1f MB resident against the CPU-only run\n", m, a - c }'
done
rm -f "$cfg".*
