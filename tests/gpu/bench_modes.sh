#!/usr/bin/env bash
# Tokens per second of each device mode on the fixture, with the software
# GPU standing in for the iGPU. FUNCTIONAL ONLY: swgpu is PoCL on the host
# CPU, competing with the CPU backend for the same cores; these figures say
# nothing about a real iGPU's speed, only that every path runs end to end.
# usage: bench_modes.sh SPLITMOE MODEL_DIR SWGPU_LIB [RUNS]
set -eu
bin=$1 model=$2 lib=$3 runs=${4:-3}
export ZE_ENABLE_ALT_DRIVERS=$lib
cfg=$(mktemp)
trap 'rm -f "$cfg"' EXIT
prompt="The license grants you the freedom to share and change software. Copyright 2007 Free Software Foundation, Inc."

# median of the numbers on stdin
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "bench-gpu: FUNCTIONAL ONLY (software GPU = PoCL on the host CPU; not iGPU speed)"
printf '%-40s %14s %14s %10s\n' mode "prefill tok/s" "decode tok/s" "vs cpu"
base=""
while IFS='|' read -r name dev mode rules; do
	printf 'split:\n  mode: %s\n  rules: %s\n' "$mode" "$rules" >"$cfg"
	pf="" dc=""
	for _ in $(seq "$runs"); do
		err=$("$bin" run --config "$cfg" --model "$model" --prompt "$prompt" -n 48 --dtype f32 \
			--device "$dev" 2>&1 >/dev/null)
		pf+="$(printf '%s\n' "$err" | sed -n 's/^prefill: .*, \([0-9.]*\) tok\/s$/\1/p')"$'\n'
		dc+="$(printf '%s\n' "$err" | sed -n 's/^decode: .*, \([0-9.]*\) tok\/s$/\1/p')"$'\n'
	done
	p=$(printf '%s' "$pf" | grep . | median)
	d=$(printf '%s' "$dc" | grep . | median)
	[ -z "$base" ] && base=$d
	printf '%-40s %14.1f %14.1f %9.2fx\n' "$name" "$p" "$d" "$(echo "$d $base" | awk '{ print $1 / $2 }')"
done <<'MODES'
cpu|cpu|partition|
gpu (swgpu)|gpu|partition|
split: experts on gpu|split|partition|attention=cpu,router=cpu,experts=gpu
split: attention on gpu|split|partition|attention=gpu,router=gpu,experts=cpu,head=gpu
split: expert-parallel|split|expert-parallel|attention=cpu,router=cpu,experts=cpu
split: dynamic|split|dynamic|attention=cpu,router=cpu,experts=cpu
MODES
echo "(median of $runs runs of splitmoe run -n 48, f32, decode ratio against cpu)"
