# Numerics of the forward pass (ASan+UBSan; oneDNN's JIT runs fine under
# ASan, so these use build/libruntime-asan.a like every other suite).
#
#   check-numerics   test_pieces: router, LayerNorm, RoPE, attention,
#                    oneDNN matmul f32/bf16 against naive references;
#                    test_fixture: reference.json criteria in f32 and bf16,
#                    prefill vs decode, chunking, sliding window, gating,
#                    bad input; test_mapped: weights mapped in place vs
#                    packed (handles, criteria, resident memory);
#                    test_kernels: our own kernels (cpu_gemv) on every
#                    ISA path against double references, each row of a
#                    product equal to itself alone; test_qkernels:
#                    the int8-activation kernels of quantized weights
#                    (cpu_qgemm) on every path against exact integer
#                    references; test_batch: batched decode equals each
#                    sequence alone (continuous batching, KV pool, bad
#                    batches); test_experts: the backend's experts of
#                    few rows on teams of 2, 3 and 5 (fused and phased
#                    passes) equal to one thread; test_fixture and test_batch again on the
#                    AVX2 path (SPLITMOE_ISA=avx2), test_quant on both
#                    AVX2 forms (avx2, avx2-novnni), test_qkernels with
#                    the fallback chosen by the environment.
#                    About 15 s on 2 cores.
#   bench-numerics   `splitmoe eval`-style tok/s on the fixture (optimised build)
#   bench-attention  us per attention call, cm_attention against ca_attention
#                    per ISA path, 1 and 2 threads (optimised build)
#   bench-batch      batched decode tok/s, 1 and 8 sequences, every sequence
#                    alike (llama-batched-bench's token 0) and each its own
#                    ids, on the fixture (BATCH_MODEL=DIR: another model)
#   bench-qgemm      us per quantized product (cpu_qgemm), int8 and q4, decode
#                    shapes at m 1, 2 and 4, per kernel path, 1 thread
NUM_TESTS := test_pieces test_fixture test_mapped test_kernels test_qkernels test_quant test_batch \
	test_experts
NUM_BINS := $(addprefix build/numerics/,$(NUM_TESTS))
# The runtime's arbiter (arbiter.h): its own suite, about 3 s (1 s periods).
RT_ARB_BIN := build/numerics/test_arbiter

# The reference evaluator on a runtime session (tests/eval/build.mk).
TEST_EVAL_LIB := build/libeval-tests-asan.a
build/numerics/%: build/asan/tests/numerics/%.o $(TEST_EVAL_LIB) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $(filter %.o,$^) $(TEST_EVAL_LIB) $(RUNTIME_ASAN_LIB) $(RUNTIME_LDLIBS) -lcmocka

# test_pieces makes OpenMP teams of its own (the pool's threads).
build/asan/tests/numerics/test_pieces.o: CFLAGS += -fopenmp

# Both check the fixture's criteria through one helper.
build/numerics/test_fixture build/numerics/test_mapped: \
	build/asan/tests/numerics/reference_criteria.o

build/numerics/bench_eval: build/obj/tests/numerics/bench_eval.o $(RUNTIME_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(RUNTIME_LIB) $(RUNTIME_LDLIBS)

build/numerics/bench_attention: build/obj/tests/numerics/bench_attention.o $(RUNTIME_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(RUNTIME_LIB) $(RUNTIME_LDLIBS)

build/numerics/bench_batch build/numerics/bench_qgemm: build/numerics/%: build/obj/tests/numerics/%.o $(RUNTIME_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(RUNTIME_LIB) $(RUNTIME_LDLIBS)

ALL_TARGETS += $(NUM_BINS) $(RT_ARB_BIN) build/numerics/bench_eval build/numerics/bench_attention \
	build/numerics/bench_batch build/numerics/bench_qgemm

.PHONY: check-numerics bench-numerics bench-attention bench-batch bench-qgemm
# test_mapped reads the fixture's f32 copy (tests/runtime/make_bad_fixtures.py)
check-numerics: $(NUM_BINS) build/runtime/variants/cases.tsv build/wide-model/model.safetensors
	@rc=0; for t in $(NUM_BINS); do \
		CMOCKA_MESSAGE_OUTPUT=TAP OMP_NUM_THREADS=2 $$t || rc=1; \
	done; \
	CMOCKA_MESSAGE_OUTPUT=TAP OMP_NUM_THREADS=2 SPLITMOE_ISA=avx2 \
		build/numerics/test_fixture || rc=1; \
	CMOCKA_MESSAGE_OUTPUT=TAP OMP_NUM_THREADS=2 SPLITMOE_ISA=avx2 \
		build/numerics/test_batch || rc=1; \
	for isa in avx2 avx2-novnni; do \
		CMOCKA_MESSAGE_OUTPUT=TAP OMP_NUM_THREADS=2 SPLITMOE_ISA=$$isa \
			build/numerics/test_quant || rc=1; \
	done; \
	CMOCKA_MESSAGE_OUTPUT=TAP SPLITMOE_ISA=avx2-novnni SPLITMOE_QKERN_EXPECT=avx2 \
		build/numerics/test_qkernels || rc=1; \
	exit $$rc
CHECK_SUITES += numerics

.PHONY: check-runtime-arbiter
check-runtime-arbiter: $(RT_ARB_BIN)
	@CMOCKA_MESSAGE_OUTPUT=TAP $(RT_ARB_BIN)
CHECK_SUITES += runtime-arbiter

bench-numerics: build/numerics/bench_eval build/runtime/variants/cases.tsv
	@OMP_NUM_THREADS=2 build/numerics/bench_eval tests/fixtures/phimoe-tiny-a 2 \
		build/runtime/variants/as_f32
BENCH_TARGETS += bench-numerics

bench-attention: build/numerics/bench_attention
	@build/numerics/bench_attention 1 2
BENCH_TARGETS += bench-attention

BATCH_MODEL ?= tests/fixtures/phimoe-tiny-a
bench-batch: build/numerics/bench_batch
	@build/numerics/bench_batch $(BATCH_MODEL) 2 1,8
BENCH_TARGETS += bench-batch
bench-qgemm: build/numerics/bench_qgemm
	@build/numerics/bench_qgemm
BENCH_TARGETS += bench-qgemm
