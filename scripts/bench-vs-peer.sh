#!/bin/bash
# The 16-core comparison in one command (shared/bench/README.md: machines of
# a kind differ by up to 1.7x, so splitmoe and llama.cpp run in the same call):
#   scripts/bench-vs-peer.sh 'SPLITMOE COMMAND' BENCH_DIR [THREADS]
# SPLITMOE COMMAND runs the splitmoe binary (on a machine without our
# libraries: 'env LD_LIBRARY_PATH=splitmoe/lib splitmoe/splitmoe' from
# scripts/pack-splitmoe.sh's archive); BENCH_DIR is a copy of shared/bench. Makes the
# full-shape checkpoint and its int8/q4 files under /tmp, builds llama.cpp
# and its bf16/Q8_0/Q4_0 twins, then: prefill 512 and decode per format,
# batched decode (1, 8, 32 sequences) against llama-batched-bench, and
# resident memory at the end of run. About 7 minutes on 16 cores.
set -u
SM=$1 B=$(cd "$2" && pwd) T=${3:-16}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
lscpu | grep -E 'Model name|^CPU\(s\)'
grep -o 'avx_vnni\|amx_int8\|avx512_vnni' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
$SM synth --shape phi-tiny-moe --out /tmp/phi >/dev/null || exit 1; el synth
W=/tmp/peer; mkdir -p $W/llama; tar xJf "$B"/llama.cpp-*.tar.xz -C $W/llama
( cmake -S $W/llama -B $W/llama/b -DGGML_NATIVE=ON -DGGML_CUDA=OFF -DLLAMA_CURL=OFF \
	-DLLAMA_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release >$W/cmake.log 2>&1 &&
  cmake --build $W/llama/b -j"$(nproc)" --target llama-bench llama-quantize llama-batched-bench \
	>$W/build.log 2>&1; echo "peer build rc $?" ) & bp=$!
( python3 "$B/phimoe_to_mixtral.py" /tmp/phi $W/twin >/dev/null &&
  PYTHONPATH=$W/llama/gguf-py python3 $W/llama/convert_hf_to_gguf.py $W/twin --outtype bf16 \
	--outfile $W/peer-bf16.gguf >$W/convert.log 2>&1; echo "peer convert rc $?"; rm -rf $W/twin ) & cp=$!
$SM quantize --model /tmp/phi --out /tmp/phi-int8 --type int8 2>&1 | tail -n 1
$SM quantize --model /tmp/phi --out /tmp/phi-q4 --type q4 2>&1 | tail -n 1
wait $bp; wait $cp; el peer built
for q in Q8_0 Q4_0; do $W/llama/b/bin/llama-quantize $W/peer-bf16.gguf $W/peer-$q.gguf $q >/dev/null 2>&1; done
el peer quantized
for pair in "phi bf16" "phi-int8 Q8_0" "phi-q4 Q4_0"; do
	set -- $pair
	echo "== $1 against llama.cpp $2, $T threads"
	$SM bench --model /tmp/$1 -t "$T" -p 512 -n 32 -r 2 --no-membw --arbiter off 2>&1 | grep -E '^\| .*(pp|tg)[0-9]'
	$W/llama/b/bin/llama-bench -m $W/peer-$2.gguf -t "$T" -p 512 -n 32 -r 2 2>/dev/null | grep -E 'pp[0-9]|tg[0-9]'
	el
done
for pair in "phi bf16" "phi-int8 Q8_0"; do
	set -- $pair
	echo "== batched $1 against llama-batched-bench $2"
	$SM bench --model /tmp/$1 -t "$T" --parallel 1,8,32 -p 128 -n 32 -r 1 --no-membw --arbiter off 2>&1 | grep -E '^\|'
	$W/llama/b/bin/llama-batched-bench -m $W/peer-$2.gguf -t "$T" -c 8192 -b 2048 -ub 512 \
		-npp 128 -ntg 32 -npl 1,8,32 2>/dev/null | grep '|'
	el
done
echo "== resident at the end of run"
for m in phi-int8 phi-q4 phi; do
	echo "-- $m"; $SM run --model /tmp/$m --ids 1,2,3,4 -n 64 --arbiter off 2>&1 | grep -i resident
done
el done
