#!/usr/bin/env bash
# make contend-plot: splitmoe contend's three cases drawn over time.
#   scripts/contend-plot.sh SPLITMOE OUT.png [CONTEND FLAGS...]
#   CONTEND_TRACE=FILE scripts/contend-plot.sh - OUT.png   (draws a trace
#       made elsewhere by splitmoe contend --trace FILE; runs nothing)
# The model: CONTEND_MODEL, else a Phi-tiny-MoE of CONTEND_LAYERS (4)
# layers made once with splitmoe synth under .cache/contend/ (1.2 GB at 4
# layers: beyond the caches, so decode really streams from DRAM). Runs
# contend with --trace (flags: the ones given, else --seconds 5), keeps
# its table beside the PNG (OUT.txt) and draws decode tok/s (left axis)
# and the hog's GB/s (right axis) per 100 ms, the cases one after the
# other, with gnuplot (gnuplot-nox).
set -euo pipefail
bin=$1 out=$2
shift 2
mkdir -p "$(dirname "$out")"
if [ -n "${CONTEND_TRACE:-}" ]; then
	trace=$CONTEND_TRACE
	[ -s "$trace" ] || { echo "contend-plot: $trace: no such trace" >&2; exit 1; }
else
	layers=${CONTEND_LAYERS:-4}
	model=${CONTEND_MODEL:-.cache/contend/phi-tiny-moe-l$layers}
	if [ ! -f "$model/config.json" ]; then
		mkdir -p "$(dirname "$model")"
		echo "contend-plot: making $model (once)"
		"$bin" synth --shape phi-tiny-moe --layers "$layers" --out "$model"
	fi
	args=("$@")
	[ ${#args[@]} -gt 0 ] || args=(--seconds 5)
	trace=$(mktemp "${TMPDIR:-/tmp}/contend-trace.XXXXXX")
	trap 'rm -f "$trace"' EXIT
	"$bin" contend --model "$model" --trace "$trace" "${args[@]}" | tee "${out%.png}.txt"
fi
# the window of each case: its last sample's time, rounded up
span=$(awk '/^[0-9]/ { if ($1 > m) m = $1 } END { printf "%.1f", m + 0.5 }' "$trace")
title=$(sed -n 's/^# splitmoe contend trace: //p' "$trace")
gnuplot -e "trace='$trace'; out='$out'; span=$span; ttl='$title'" \
	scripts/contend-plot.gp
echo "contend-plot: wrote $out"
