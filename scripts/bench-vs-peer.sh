#!/bin/bash
# The 16-core comparison in one command (shared/bench/README.md: machines of
# a kind differ by up to 1.7x, so splitmoe and llama.cpp run in the same call):
#   [QUANT_ONLY=1] scripts/bench-vs-peer.sh 'SPLITMOE COMMAND' BENCH_DIR [THREADS]
# SPLITMOE COMMAND runs the splitmoe binary (on a machine without our
# libraries: splitmoe/run from scripts/pack-splitmoe.sh's archive);
# BENCH_DIR is a copy of shared/bench.
# Makes the full-shape checkpoint and its int8/q4 files under /tmp, builds
# llama.cpp twice (native, and the target laptop's AVX2 + AVX-VNNI) and its
# bf16/Q8_0/Q4_0 twins, then: bf16 prefill 512 and decode at depths 0, 512
# and 2048 (llama.cpp's depth 512: pp512+tg32 less pp512); int8 and q4
# against Q8_0 and Q4_0 (AMX's quantized products by default where the CPU
# has AMX), decode by fixed shares, by the previous stealing settings and
# by the defaults, twice, with the phase clocks (SPLITMOE_PROFILE_PASSES);
# again on the VNNI weight panels (SPLITMOE_ISA=avx512), and by
# tiles instead of weight panels, unblocked and with
# the L2 blocking (SPLITMOE_QGEMM_PANEL_ROWS=0, SPLITMOE_QGEMM_BLOCK_KB=256);
# --arbiter process against off, alternated twice;
# 8, 4 and 2 threads; the target's ISA at 8 threads; resident memory at
# the end of run. About 6 minutes on 16 cores.
set -u
SM=$1 B=$(cd "$2" && pwd) T=${3:-16}
t0=$(date +%s); el() { echo "[$(( $(date +%s) - t0 )) s] $*"; }
lscpu | grep -E 'Model name|^CPU\(s\)|Thread\(s\) per core|L2 cache|L3 cache'
grep -o 'avx_vnni\|amx_int8\|avx512_vnni\|avx512_bf16' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
$SM synth --shape phi-tiny-moe --out /tmp/phi >/dev/null || exit 1; el synth
W=/tmp/peer; mkdir -p $W/llama; tar xJf "$B"/llama.cpp-*.tar.xz -C $W/llama
CM="-DGGML_CUDA=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=Release"
( cmake -S $W/llama -B $W/llama/b -DGGML_NATIVE=ON $CM >$W/cmake.log 2>&1 &&
  cmake --build $W/llama/b -j"$(nproc)" --target llama-bench llama-quantize >$W/build.log 2>&1
  echo "peer build rc $?" ) & bp=$!
( cmake -S $W/llama -B $W/llama/b2 -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON \
	-DGGML_F16C=ON -DGGML_AVX_VNNI=ON -DGGML_AVX512=OFF $CM >$W/cmake2.log 2>&1 &&
  cmake --build $W/llama/b2 -j"$(nproc)" --target llama-bench >$W/build2.log 2>&1
  echo "peer avx2 build rc $?" ) & bp2=$!
( python3 "$B/phimoe_to_mixtral.py" /tmp/phi $W/twin >/dev/null &&
  PYTHONPATH=$W/llama/gguf-py python3 $W/llama/convert_hf_to_gguf.py $W/twin --outtype bf16 \
	--outfile $W/peer-bf16.gguf >$W/convert.log 2>&1; echo "peer convert rc $?"; rm -rf $W/twin ) & cp=$!
$SM quantize --model /tmp/phi --out /tmp/phi-int8 --type int8 2>&1 | tail -n 1
$SM quantize --model /tmp/phi --out /tmp/phi-q4 --type q4 2>&1 | tail -n 1
wait $bp $bp2 $cp; el peer built
pq=()
for q in Q8_0 Q4_0; do $W/llama/b/bin/llama-quantize $W/peer-bf16.gguf $W/peer-$q.gguf $q >/dev/null 2>&1 & pq+=($!); done
wait "${pq[@]}"; el peer quantized
LB=$W/llama/b/bin/llama-bench
rows() { grep -E '^\| .*(pp|tg)[0-9]|\| +(pp|tg)[0-9]'; }
ours() { $SM bench --no-membw --arbiter off "$@" 2>&1 | rows; }
# QUANT_ONLY=1: the quantized comparisons alone (#12's targets; about
# 4 minutes), none of bf16's, the arbiter's, the tiles' or the thread counts'
quant_only() { [ "${QUANT_ONLY:-0}" = 1 ]; }
if ! quant_only; then
echo "== bf16, $T threads: llama.cpp, then splitmoe"
$LB -m $W/peer-bf16.gguf -t "$T" -p 512 -n 32 -pg 512,32 -r 3 2>/dev/null | rows
ours --model /tmp/phi -t "$T" -p 512 -n 32 -d 0,512,2048 -r 3; el
fi
echo "== int8 and q4 against Q8_0 and Q4_0, $T threads"
for f in Q8_0 Q4_0; do $LB -m $W/peer-$f.gguf -t "$T" -p 512 -n 32 -r 3 2>/dev/null | rows; done
for m in phi-int8 phi-q4; do ours --model /tmp/$m -t "$T" -p 512 -n 32 -r 3; done; el
echo "== int8 and q4 decode: fixed shares (SPLITMOE_GEMV_STEAL_ROWS=0); 16-row units with the experts' down prefetch (SPLITMOE_GEMV_STEAL_ROWS=16 SPLITMOE_EXPERTS_DOWN_PREFETCH_KB=512, the defaults before); the defaults; twice"
for _ in 1 2; do for v in "SPLITMOE_GEMV_STEAL_ROWS=0" "SPLITMOE_GEMV_STEAL_ROWS=16 SPLITMOE_EXPERTS_DOWN_PREFETCH_KB=512" "X=default"; do
	for m in phi-int8 phi-q4; do echo "$v $m: $(env $v $SM bench --no-membw --arbiter off --model /tmp/$m -t "$T" -p 0 -n 64 -r 2 2>&1 | rows)"; done
done; done; el
echo "== phase clocks of int8 decode (SPLITMOE_PROFILE_PASSES=1, us a call)"
SPLITMOE_PROFILE_PASSES=1 $SM bench --no-membw --arbiter off --model /tmp/phi-int8 -t "$T" -p 0 -n 64 -r 2 --profile 2>&1 | grep -E 'calls, us|^\| [a-z_]+ +\|'; el
echo "== int8 and q4 without AMX: products of 16+ rows on the VNNI weight panels (SPLITMOE_ISA=avx512)"
for m in phi-int8 phi-q4; do SPLITMOE_ISA=avx512 ours --model /tmp/$m -t "$T" -p 512 -n 32 -r 3; done; el
if ! quant_only; then
echo "== int8 and q4 prefill by tiles (SPLITMOE_QGEMM_PANEL_ROWS=0: no weight panels), unblocked and blocked for L2 (SPLITMOE_QGEMM_BLOCK_KB=256)"
for m in phi-int8 phi-q4; do SPLITMOE_ISA=avx512 SPLITMOE_QGEMM_PANEL_ROWS=0 ours --model /tmp/$m -t "$T" -p 512 -n 0 -r 3
	SPLITMOE_ISA=avx512 SPLITMOE_QGEMM_PANEL_ROWS=0 SPLITMOE_QGEMM_BLOCK_KB=256 ours --model /tmp/$m -t "$T" -p 512 -n 0 -r 3; done; el
echo "== --arbiter off / process / off / process, bf16 decode (each measures the bus first)"
for a in off process off process; do
	$SM bench --model /tmp/phi -t "$T" -p 16 -n 64 -r 3 --arbiter $a 2>&1 | grep -E '^tests|^\| .*tg'
done; el
echo "== 8, 4 and 2 threads, bf16"
ours --model /tmp/phi -t 8,4,2 -p 64 -n 16 -r 1
$LB -m $W/peer-bf16.gguf -t 8,4,2 -p 64 -n 16 -r 1 2>/dev/null | rows; el
fi
echo "== the target's ISA, 8 threads: llama.cpp AVX2 Q8_0/Q4_0, splitmoe SPLITMOE_ISA=avx2"
for f in Q8_0 Q4_0; do $W/llama/b2/bin/llama-bench -m $W/peer-$f.gguf -t 8 -p 512 -n 32 -r 2 2>/dev/null | rows; done
for m in phi-int8 phi-q4; do SPLITMOE_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2_VNNI ours --model /tmp/$m -t 8 -p 512 -n 32 -r 2; done; el
echo "== resident at the end of run (defaults)"
for m in phi phi-int8 phi-q4; do
	echo "-- $m"; $SM run --model /tmp/$m --ids 1,2,3,4 -n 32 2>&1 | grep -i resident
done
if quant_only; then
echo "== again: decode, $T threads, llama.cpp Q8_0/Q4_0 then splitmoe int8/q4"
for f in Q8_0 Q4_0; do $LB -m $W/peer-$f.gguf -t "$T" -p 0 -n 32 -r 3 2>/dev/null | rows; done
for m in phi-int8 phi-q4; do ours --model /tmp/$m -t "$T" -p 0 -n 32 -r 3; done
fi
el "done"
