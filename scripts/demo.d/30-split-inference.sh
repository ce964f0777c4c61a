#!/usr/bin/env bash
# The inference runtime as bwarb clients: splitmoe on the CPU and the
# software GPU at once, each with its reservation, the clients table and
# per-client MB/s while it runs, then the generated text. The run itself is
# tests/gpu/demo_split.sh (the GPU path's); this step only finds it.
split=tests/gpu/demo_split.sh
if [ ! -f "$split" ]; then
	echo "no $split in this tree: nothing to show"
	exit 0
fi
for f in build/splitmoe build/libze_swgpu.so; do
	if [ ! -e "$f" ]; then
		echo "$f is not built (make builds it)" >&2
		exit 1
	fi
done
exec bash "$split"
