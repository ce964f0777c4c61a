# bwsim: discrete-event simulator of the arbitration core -> build/bwsim.
# Scenarios in configs/sim/*.yaml run as suite 'sim' (one TAP line each);
# configs/sim/negative/*.yaml must fail with the violation their
# "# expect-violation: KIND" line names (proof that the checker fires);
# configs/sim/bad/*.yaml must be refused with "FILE:LINE: key '...'".
BWSIM_SRCS := $(sort $(wildcard tools/bwsim/*.c)) kmod/arb_core.c
BWSIM_OBJS := $(patsubst %.c,build/obj/%.o,$(BWSIM_SRCS))

BWSIM_ASAN_OBJS := $(patsubst %.c,build/asan/%.o,$(BWSIM_SRCS))

build/bwsim: $(BWSIM_OBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ -lyaml -lm

# The checks run the ASan+UBSan build; the benchmark the optimised one.
build/bwsim-asan: $(BWSIM_ASAN_OBJS)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ -lyaml -lm

ALL_TARGETS += build/bwsim build/bwsim-asan

# About 10 s on one core.
.PHONY: check-sim bench-sim
check-sim: build/bwsim-asan
	@tools/bwsim/run-scenarios build/bwsim-asan configs/sim
CHECK_SUITES += sim

# Prints the scale run's summary and its time (target: under 60 s of CPU).
bench-sim: build/bwsim
	@build/bwsim --progress configs/sim/bench/scale-10k.yaml >build/bench-sim.log; \
	rc=$$?; grep -E '^(overall|violations:|simulated)' build/bench-sim.log; \
	exit $$rc
BENCH_TARGETS += bench-sim
