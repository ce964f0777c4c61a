# splitmoe top-level build. Each component keeps its rules in its own
# build.mk fragment (kmod/, libruntime/, tools/, bpf/, kernels/, tests/...);
# this file only ties them together. See mk/common.mk for the conventions.

.DEFAULT_GOAL := all
TOP := $(abspath $(dir $(lastword $(MAKEFILE_LIST))))

include mk/common.mk
include $(sort $(wildcard */build.mk) $(wildcard tools/*/build.mk) $(wildcard tests/*/build.mk))

.PHONY: all deps check demo bench fuzz clean

deps:
	@scripts/deps.sh

all: deps $(ALL_TARGETS)

# Every suite in CHECK_SUITES has a target check-NAME printing TAP lines;
# scripts/run-checks runs them all, counts, and prints the closing line.
# Restrict with: make check SUITES="unit-arb selftests"
SUITES ?= $(CHECK_SUITES)
check: all
	@scripts/run-checks $(SUITES)

demo: all
	@scripts/demo.sh

bench: all $(BENCH_TARGETS)

fuzz: $(FUZZ_TARGETS)

clean: $(CLEAN_TARGETS)
	rm -rf $(BUILD)
