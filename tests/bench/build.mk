# splitmoe bench and synth.
#
#   check-bench-cli   tests/bench/cli.sh on the ASan build: synth's tiny
#                     shape (loads, runs, deterministic, refuses a
#                     non-empty directory, nothing that loads when killed)
#                     and bench's table, --json, --profile, --membw,
#                     --parallel, bad flags. About 30 s on 2 cores.
#   bench-full        a full-size Phi-tiny-MoE checkpoint of random bf16
#                     weights (splitmoe synth, 7.6 GB, made once under
#                     BENCH_FULL_DIR), then splitmoe bench on it
#                     (scripts/bench-full.sh; BENCH_FULL_ARGS replaces the
#                     bench flags it picks for the machine). Not in
#                     `make bench`: minutes, and 8 GB of disk and 10 GB of
#                     memory, which it checks first.
.PHONY: check-bench-cli bench-full
check-bench-cli: build/splitmoe-asan
	@ASAN_OPTIONS=detect_leaks=1 tests/bench/cli.sh build/splitmoe-asan tests/fixtures/phimoe-tiny-a
CHECK_SUITES += bench-cli

BENCH_FULL_DIR ?= .cache/bench-full/phi-tiny-moe
BENCH_FULL_ARGS ?=
bench-full: build/splitmoe
	@scripts/bench-full.sh build/splitmoe $(BENCH_FULL_DIR) $(BENCH_FULL_ARGS)

# Suite 'contend' (tests/bench/contend.sh, ASan build, about 15 s here):
# splitmoe contend on the fixture at tiny sizes through the process
# arbiter (table, --json, --trace, reservations, bad flags), the YAML's
# capacity_mbps: auto, bwarbctl calibrate and its --apply refusals.
# The kernel arbiter's functional check is suite contend-vm (one boot).
.PHONY: check-contend contend-plot
check-contend: build/splitmoe-asan build/bwarbctl
	@ASAN_OPTIONS=detect_leaks=1 tests/bench/contend.sh build/splitmoe-asan build/bwarbctl \
		tests/fixtures/phimoe-tiny-a
CHECK_SUITES += contend

# make contend-plot (part of make bench): splitmoe contend on a 4-layer
# synthesized Phi-tiny-MoE (CONTEND_MODEL=DIR for another, CONTEND_ARGS for
# the flags) drawn into build/contend.png with its table in build/contend.txt
# (scripts/contend-plot.sh; docs/contend.png is one such figure).
CONTEND_ARGS ?=
contend-plot: build/splitmoe
	@scripts/contend-plot.sh build/splitmoe build/contend.png $(CONTEND_ARGS)
BENCH_TARGETS += contend-plot
