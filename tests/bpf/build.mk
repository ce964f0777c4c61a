# eBPF suite (tests/bpf/): one VM boot runs tests/bpf/vm-suite.sh, about
# a minute or two under TCG. `make bench-bpf`: grant throughput with and
# without the tracer (tests/bpf/vm-bench.sh).

BPF_TEST_BINS := build/tests/bpf/load_all build/tests/bpf/trace_workload \
		 build/tests/bpf/test_tracer_logic
BPF_BENCH_BIN := build/tests/bpf/bench_grants

build/asan/tests/bpf/%.o: CPPFLAGS += -I$(BPF_OUT)
build/asan/tests/bpf/load_all.o build/asan/tests/bpf/test_tracer_logic.o: $(BPF_SKELS)
build/tests/bpf/test_tracer_logic: BPF_TEST_LDLIBS := -lcmocka
# The workload issues its ioctls through the selftests' helpers.
build/tests/bpf/trace_workload: build/asan/tests/selftests/bwarb/bwarb_selftest_io.o

# Test programs run under ASan+UBSan, linked with the loaders' ASan build.
build/tests/bpf/%: build/asan/tests/bpf/%.o $(BPF_LIB_ASAN)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ $(BPF_LDLIBS) $(BPF_TEST_LDLIBS)

# The benchmark is measured optimised, without sanitizers.
$(BPF_BENCH_BIN): build/obj/tests/bpf/bench_grants.o
	@mkdir -p $(@D)
	$(CC) -o $@ $^

.PHONY: check-bpf bench-bpf
check-bpf: build/bwarbctl $(BPF_TEST_BINS) bwarb.ko build/bwarb_test_pmu.ko
	@tests/bpf/check.sh
CHECK_SUITES += bpf

bench-bpf: build/bwarbctl $(BPF_BENCH_BIN) bwarb.ko
	@tests/vm/run --timeout 300 -- tests/bpf/vm-bench.sh
BENCH_TARGETS += bench-bpf
