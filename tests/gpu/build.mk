# tests/gpu: the SPIR-V kernels through the real Level Zero loader on the
# software GPU (build/libze_swgpu.so), against plain-C references.
# PoCL caches compiled kernels under build/pocl-cache, so only the first
# run after a kernel change pays for the compiles.
GPU_TEST_SRCS := tests/gpu/gpu_test.c tests/gpu/ze_harness.c tests/gpu/tap.c tests/gpu/cpu_ref.c
GPU_TAP_OBJ   := build/asan/tests/gpu/tap.o
GPU_TEST_BIN  := build/tests/gpu_test
# (tools/swgpu/build.mk is included after this file: name the library
# literally, never let ZE_ENABLE_ALT_DRIVERS expand to an empty string.)
GPU_SWGPU_LIB := build/libze_swgpu.so
GPU_TEST_ENV  := ZE_ENABLE_ALT_DRIVERS=$(abspath $(GPU_SWGPU_LIB)) \
	POCL_CACHE_DIR=$(abspath build/pocl-cache) ASAN_OPTIONS=detect_leaks=0

# (libruntime for cpu_math.c: the kernels are checked against the CPU's own)
$(GPU_TEST_BIN): $(patsubst %.c,build/asan/%.o,$(GPU_TEST_SRCS)) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $(filter %.o,$^) $(RUNTIME_ASAN_LIB) $(RUNTIME_LDLIBS)

.PHONY: check-gpu
check-gpu: $(GPU_TEST_BIN) $(GPU_SWGPU_LIB) $(KERNEL_SPVS)
	@mkdir -p build/pocl-cache
	$(GPU_TEST_ENV) $(GPU_TEST_BIN) build/kernels

# The reference evaluator on a runtime session (tests/eval/build.mk).
TEST_EVAL_LIB := build/libeval-tests-asan.a

# The forward pass through the Level Zero backend (libruntime/ze/).
ZE_BACKEND_TEST_BIN := build/tests/ze_backend_test

$(ZE_BACKEND_TEST_BIN): build/asan/tests/gpu/ze_backend_test.o $(GPU_TAP_OBJ) $(TEST_EVAL_LIB) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $(filter %.o,$^) $(TEST_EVAL_LIB) $(RUNTIME_ASAN_LIB) $(RUNTIME_LDLIBS)

.PHONY: check-gpu-backend
check-gpu-backend: $(ZE_BACKEND_TEST_BIN) $(GPU_SWGPU_LIB) $(KERNEL_SPVS)
	@mkdir -p build/pocl-cache
	$(GPU_TEST_ENV) $(ZE_BACKEND_TEST_BIN) tests/fixtures/phimoe-tiny-a build/kernels

# The CPU/iGPU split scheduler (libruntime/sched/) in every mode.
SPLIT_TEST_BIN := build/tests/split_test

$(SPLIT_TEST_BIN): build/asan/tests/gpu/split_test.o $(GPU_TAP_OBJ) $(TEST_EVAL_LIB) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $(filter %.o,$^) $(TEST_EVAL_LIB) $(RUNTIME_ASAN_LIB) $(RUNTIME_LDLIBS)

.PHONY: check-gpu-split
check-gpu-split: $(SPLIT_TEST_BIN) $(GPU_SWGPU_LIB) $(KERNEL_SPVS)
	@mkdir -p build/pocl-cache
	$(GPU_TEST_ENV) $(SPLIT_TEST_BIN) tests/fixtures/phimoe-tiny-a build/kernels

# splitmoe --device cpu|gpu|split, YAML split modes, fallback, info.
.PHONY: check-gpu-cli
check-gpu-cli: build/splitmoe $(GPU_SWGPU_LIB) $(KERNEL_SPVS)
	@mkdir -p build/pocl-cache
	POCL_CACHE_DIR=$(abspath build/pocl-cache) tests/gpu/cli_test.sh build/splitmoe \
		tests/fixtures/phimoe-tiny-a $(abspath $(GPU_SWGPU_LIB))

CHECK_SUITES += gpu gpu-backend gpu-split gpu-cli
ALL_TARGETS += $(GPU_TEST_BIN) $(ZE_BACKEND_TEST_BIN) $(SPLIT_TEST_BIN)

# Tokens/s of every device mode with the software GPU: functional only.
.PHONY: bench-gpu
bench-gpu: build/splitmoe $(GPU_SWGPU_LIB) $(KERNEL_SPVS)
	@mkdir -p build/pocl-cache
	@POCL_CACHE_DIR=$(abspath build/pocl-cache) tests/gpu/bench_modes.sh build/splitmoe \
		tests/fixtures/phimoe-tiny-a $(abspath $(GPU_SWGPU_LIB))
BENCH_TARGETS += bench-gpu

# One copy of the experts in the split's expert modes (CPU reads the
# iGPU's host USM in place): pointers, numerics, weight accounting.
SHARED_WEIGHTS_TEST_BIN := build/tests/shared_weights_test

$(SHARED_WEIGHTS_TEST_BIN): build/asan/tests/gpu/shared_weights_test.o $(GPU_TAP_OBJ) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $(filter %.o,$^) $(RUNTIME_ASAN_LIB) $(RUNTIME_LDLIBS)

# Then splitmoe's resident memory in the expert modes against the CPU-only
# run, on a checkpoint whose experts dominate (WIDE_MODEL, below).
.PHONY: check-gpu-shared
check-gpu-shared: $(SHARED_WEIGHTS_TEST_BIN) $(GPU_SWGPU_LIB) $(KERNEL_SPVS) build/splitmoe \
		build/wide-model/model.safetensors
	@mkdir -p build/pocl-cache
	$(GPU_TEST_ENV) $(SHARED_WEIGHTS_TEST_BIN) tests/fixtures/phimoe-tiny-a build/kernels
	POCL_CACHE_DIR=$(abspath build/pocl-cache) tests/gpu/shared_memory_test.sh build/splitmoe \
		build/wide-model $(abspath $(GPU_SWGPU_LIB))

CHECK_SUITES += gpu-shared
ALL_TARGETS += $(SHARED_WEIGHTS_TEST_BIN)

# CPU cost of the one copy: oneDNN on row-major weights vs packed (ms, ratio).
PLAIN_LAYOUT_BENCH_BIN := build/tests/bench_plain_layout

$(PLAIN_LAYOUT_BENCH_BIN): build/obj/tests/gpu/bench_plain_layout.o $(RUNTIME_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $< $(RUNTIME_LIB) $(RUNTIME_LDLIBS)

.PHONY: bench-plain-layout
bench-plain-layout: $(PLAIN_LAYOUT_BENCH_BIN)
	@$(PLAIN_LAYOUT_BENCH_BIN)
BENCH_TARGETS += bench-plain-layout
ALL_TARGETS += $(PLAIN_LAYOUT_BENCH_BIN)

# Resident memory of each split mode against the CPU-only run (MB), on a
# synthetic checkpoint whose experts dominate (hidden/intermediate 512, 4
# layers: 50 M expert parameters).
WIDE_MODEL := build/wide-model

$(WIDE_MODEL)/model.safetensors: tests/gpu/make_wide_model.py
	python3 tests/gpu/make_wide_model.py tests/fixtures/phimoe-tiny-a $(WIDE_MODEL) 512 512 4

.PHONY: bench-shared-memory
bench-shared-memory: build/splitmoe $(GPU_SWGPU_LIB) $(KERNEL_SPVS) $(WIDE_MODEL)/model.safetensors
	@mkdir -p build/pocl-cache
	@POCL_CACHE_DIR=$(abspath build/pocl-cache) tests/gpu/bench_shared_memory.sh build/splitmoe \
		$(WIDE_MODEL) $(abspath $(GPU_SWGPU_LIB))
BENCH_TARGETS += bench-shared-memory
