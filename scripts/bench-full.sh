#!/usr/bin/env bash
# make bench-full: splitmoe bench at the real model's size.
#   scripts/bench-full.sh SPLITMOE DIR [BENCH FLAGS...]
# Makes DIR once (splitmoe synth --shape phi-tiny-moe: 7.6 GB of random
# bf16 weights, the released model's layout), then runs splitmoe bench on
# it with the flags given, or with defaults for this machine's cores.
# Skips with one line (status 0) where memory (10 GB available: the
# mapped model and the page cache it is read through) or, when DIR is
# still to be made, disk (8.1 GB free) is short.
set -u
bin=$1 dir=$2
shift 2
need_mem_gb=10
need_disk_bytes=8100000000

mem_kb=$(awk '/^MemAvailable:/ { print $2 }' /proc/meminfo)
if [ "${mem_kb:-0}" -lt $((need_mem_gb * 1000000)) ]; then
	echo "bench-full: skipped: $((${mem_kb:-0} / 1000000)) GB of memory available, the full-size model needs $need_mem_gb GB"
	exit 0
fi
if [ ! -f "$dir/model.safetensors.index.json" ]; then
	parent=$(dirname "$dir")
	mkdir -p "$parent" || exit 1
	free=$(df -PB1 "$parent" | awk 'NR == 2 { print $4 }')
	if [ "${free:-0}" -lt $need_disk_bytes ]; then
		echo "bench-full: skipped: $(( ${free:-0} / 1000000000 )) GB free under $parent, the full-size model needs 8.1 GB"
		exit 0
	fi
	echo "bench-full: making $dir (once)"
	"$bin" synth --shape phi-tiny-moe --out "$dir" || exit 1
fi

ncpu=$(nproc)
if [ $# -gt 0 ]; then
	args=("$@")
elif [ "$ncpu" -ge 8 ]; then
	args=(-p 16,512 -n 32 -d 0,512 -t "$ncpu,$((ncpu / 2))" -r 3)
else	# a small machine: one quick pass (the full model decodes at ~1 tok/s on 2 cores)
	args=(-p 16 -n 4 -t "$ncpu" -r 1)
fi
echo "bench-full: $bin bench --model $dir ${args[*]}"
exec "$bin" bench --model "$dir" "${args[@]}"
