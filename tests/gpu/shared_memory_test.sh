#!/usr/bin/env bash
# One copy of the experts, seen from outside: splitmoe run in the split's
# expert modes on a checkpoint whose experts dominate (make_wide_model.py)
# reports the experts once, held by the iGPU and read in place by the CPU,
# no more weight bytes in all than the CPU-only run, and a resident memory
# (VmRSS, /proc) within a quarter of the shared bytes of the CPU-only
# run's; a second copy of the experts would add half of them (bf16) or
# all (f32). TAP on stdout.
# usage: shared_memory_test.sh SPLITMOE MODEL_DIR SWGPU_LIB
set -u
bin=$1 model=$2 lib=$3
n=0 fail=0
ok() { n=$((n + 1)); if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; fail=1; fi; }
export ZE_ENABLE_ALT_DRIVERS=$lib
cfg=$(mktemp)
trap 'rm -f "$cfg"' EXIT

# "CPU GPU SHARED BORROWED RSS" in MB from one run's stderr
run() {
	"$bin" run --model "$model" --prompt "The license" -n 2 --dtype f32 "$@" 2>&1 >/dev/null |
		sed -n -e 's/^weights held ([a-z]*): cpu \([0-9.]*\) MB, gpu \([0-9.]*\) MB; shared \([0-9.]*\) MB (.*: \([0-9.]*\) MB).*/W \1 \2 \3 \4/p' \
			-e 's/^resident memory (end of run): \([0-9.]*\) MB.*/R \1/p' | tr '\n' ' '
}

read -r _ c_cpu c_gpu c_sh c_bor _ c_rss <<<"$(run --device cpu)"
[ -n "${c_rss:-}" ] && [ "$c_gpu" = 0.00 ] && [ "$c_sh" = 0.00 ]
ok $? "cpu run: weights ${c_cpu:-?} MB on the cpu, resident ${c_rss:-?} MB"
for mode in expert-parallel dynamic; do
	printf 'split:\n  mode: %s\n  rules: attention=cpu,router=cpu\n' "$mode" >"$cfg"
	read -r _ s_cpu s_gpu s_sh s_bor _ s_rss <<<"$(run --config "$cfg" --device split)"
	awk -v cc="$c_cpu" -v sc="${s_cpu:-0}" -v sg="${s_gpu:-0}" -v sh="${s_sh:-0}" -v sb="${s_bor:--1}" \
		'BEGIN { exit !(sh > 0 && sh == sb && sh <= sg && sc + sg <= cc * 1.01) }'
	ok $? "$mode: experts held once (gpu ${s_gpu:-?} MB of which ${s_sh:-?} MB read in place by the cpu; cpu ${s_cpu:-?} MB; cpu-only ${c_cpu} MB)"
	awk -v c="$c_rss" -v s="${s_rss:-1e9}" -v sh="${s_sh:-0}" 'BEGIN { exit !(s - c <= sh / 4) }'
	ok $? "$mode: resident ${s_rss:-?} MB, cpu-only ${c_rss} MB: +$(awk -v c="$c_rss" -v s="${s_rss:-0}" 'BEGIN { printf "%.1f", s - c }') MB <= a quarter of the shared ${s_sh:-?} MB"
done
printf 'split:\n  mode: expert-parallel\n' >"$cfg"
out=$("$bin" info --model "$model" --config "$cfg" --device split --dtype f32 2>&1)
[[ $out == *"weights held (split): cpu "*" MB, gpu "*" MB; shared "[1-9]*" MB"* ]]
ok $? "info --model --device split reports the weights per device and shared ($(printf '%s\n' "$out" | grep -o 'gpu [0-9.]* MB; shared [0-9.]* MB'))"
out=$("$bin" info --model "$model" 2>&1)
[[ $out != *"weights held"* ]]
ok $? "info --model without --device packs nothing"
echo "1..$n"
exit $fail
