# Arbitration core tests: cmocka unit tests (ASan+UBSan) and the libFuzzer
# target. The core object is built here from kmod/arb_core.c, the very file
# the module compiles.

ARB_UNIT_BIN := build/tests/arb-unit

$(ARB_UNIT_BIN): build/asan/tests/arb/test_arb_core.o build/asan/kmod/arb_core.o
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) $^ -lcmocka -o $@

ALL_TARGETS += $(ARB_UNIT_BIN)

# About 2 s.
.PHONY: check-arb-unit
check-arb-unit: $(ARB_UNIT_BIN)
	@CMOCKA_MESSAGE_OUTPUT=TAP $(ARB_UNIT_BIN)
CHECK_SUITES += arb-unit

# libFuzzer target (clang-14): build/fuzz/fuzz-arb. The seed corpus lives
# in tests/arb/fuzz-corpus; what the runs find goes to build/fuzz/corpus.
FUZZ_ARB_BIN := build/fuzz/fuzz-arb
FUZZ_ARB_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_TIME ?= 600

$(FUZZ_ARB_BIN): tests/arb/fuzz_arb.c kmod/arb_core.c kmod/arb_core.h kmod/arb_types.h
	@mkdir -p $(@D) build/fuzz/corpus
	$(CLANG) $(CSTD) $(WARN) $(CPPFLAGS) $(FUZZ_ARB_FLAGS) \
		tests/arb/fuzz_arb.c kmod/arb_core.c -o $@

ALL_TARGETS += $(FUZZ_ARB_BIN)

# In make check a fixed seed and run count from the seed corpus alone (a
# scratch corpus directory, not what make fuzz collected), so that every
# check, in CI or not, starts from the same inputs (libFuzzer's own
# timing-dependent choices still vary later ones a little): 30,000 runs,
# about 5 s, cov 509-519 (6,000 reached 470); one TAP line. make fuzz
# explores.
FUZZ_CHECK_CORPUS := build/fuzz/check-corpus
.PHONY: check-arb-fuzz fuzz-arb
check-arb-fuzz: $(FUZZ_ARB_BIN)
	@rm -rf $(FUZZ_CHECK_CORPUS)
	@FUZZ_CORPUS=$(TOP)/$(FUZZ_CHECK_CORPUS) tests/arb/run-fuzz $(FUZZ_ARB_BIN) 120 -seed=1 -runs=30000
CHECK_SUITES += arb-fuzz

# Long runs: make fuzz FUZZ_TIME=3600
fuzz-arb: $(FUZZ_ARB_BIN)
	@tests/arb/run-fuzz $(FUZZ_ARB_BIN) $(FUZZ_TIME)
FUZZ_TARGETS += fuzz-arb
