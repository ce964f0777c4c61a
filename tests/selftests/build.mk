# Kernel selftests of bwarb (tests/selftests/bwarb/), written with the
# kernel's kselftest_harness.h taken from linux-source-6.1 at build time
# (kmod/build.mk extracts it), run in one VM boot by suite 'selftests':
# every build/selftests/bwarb*_test binary, then the guest dmesg check.
# About 1 minute on 2 cores (boot included).
SELFTEST_CFLAGS := -std=gnu11 -D_GNU_SOURCE -Wall -Werror -O2 -g \
	-I. -I$(KSELFTEST_DIR)
SELFTESTS := build/selftests/bwarb_test build/selftests/bwarb_contract_test \
	build/selftests/bwarb_hardening_test build/selftests/lowres_bound_test
# sysfs and raw ioctl helpers, linked into every selftest binary.
SELFTEST_IO := tests/selftests/bwarb/bwarb_selftest_io.c
SELFTEST_IO_DEPS := $(SELFTEST_IO) tests/selftests/bwarb/bwarb_selftest_io.h

build/selftests/%: tests/selftests/bwarb/%.c $(SELFTEST_IO_DEPS) kmod/uapi/bwarb.h \
		$(LINUX_SRC)/.stamp
	@mkdir -p $(@D)
	$(CC) $(SELFTEST_CFLAGS) -o $@ $< $(SELFTEST_IO) -lpthread

# The contract tests drive the module through the client library too.
build/selftests/bwarb_contract_test: tests/selftests/bwarb/bwarb_contract_test.c \
		$(SELFTEST_IO_DEPS) libruntime/arbiter/bwarb_client.c libruntime/arbiter/bwarb_client.h \
		kmod/uapi/bwarb.h $(LINUX_SRC)/.stamp
	@mkdir -p $(@D)
	$(CC) $(SELFTEST_CFLAGS) -Ilibruntime -o $@ $< $(SELFTEST_IO) \
		libruntime/arbiter/bwarb_client.c -lpthread

# The client library on a CPU without cmpxchg16b (a third boot, -cpu max,-cx16).
build/selftests/nocx16_test: tests/selftests/bwarb/nocx16_test.c \
		$(SELFTEST_IO_DEPS) libruntime/arbiter/bwarb_client.c libruntime/arbiter/bwarb_client.h \
		kmod/uapi/bwarb.h $(LINUX_SRC)/.stamp
	@mkdir -p $(@D)
	$(CC) $(SELFTEST_CFLAGS) -Ilibruntime -o $@ $< $(SELFTEST_IO) \
		libruntime/arbiter/bwarb_client.c -lpthread

ALL_TARGETS += $(SELFTESTS) build/selftests/nocx16_test

.PHONY: check-selftests
check-selftests: $(BWARB_KO) $(SELFTESTS) build/selftests/nocx16_test build/bwarbctl
	@tests/vm/run --load --check-dmesg --timeout 600 -- tests/selftests/bwarb/run_all.sh
	@VM_APPEND=highres=off tests/vm/run --load --check-dmesg --timeout 120 -- \
		build/selftests/lowres_bound_test
	@VM_CPU=max,-cx16 tests/vm/run --load --check-dmesg --timeout 120 -- \
		build/selftests/nocx16_test
CHECK_SUITES += selftests

# make bench: ns per acquire (+ complete) through the fast path and the
# ioctl, in the VM, and the userspace equivalents on this machine.
build/bwarb_bench: tests/selftests/bwarb/bwarb_bench.c libruntime/arbiter/bwarb_client.c \
		libruntime/arbiter/bwarb_client.h kmod/uapi/bwarb.h kmod/arb_core.c kmod/arb_core.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CSTD) $(WARN) -O2 -o $@ $< libruntime/arbiter/bwarb_client.c kmod/arb_core.c -lpthread

.PHONY: bench-bwarb-acquire
bench-bwarb-acquire: $(BWARB_KO) build/bwarb_bench
	@build/bwarb_bench userspace
	@tests/vm/run --load --timeout 300 -- build/bwarb_bench device
BENCH_TARGETS += bench-bwarb-acquire

# Suite 'bwarb-host' (host, ASan+UBSan, a second or two): the client
# library without the module and bwarbctl over a fake sysfs directory.
build/bwarb-host/host_unit_test: build/asan/tests/selftests/bwarb/host_unit_test.o \
		build/asan/libruntime/arbiter/bwarb_client.o
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ -lcmocka

.PHONY: check-bwarb-host
check-bwarb-host: build/bwarb-host/host_unit_test build/bwarbctl
	@CMOCKA_MESSAGE_OUTPUT=TAP build/bwarb-host/host_unit_test
CHECK_SUITES += bwarb-host

# Suite 'hostile' (issue 11): tests/selftests/bwarb/hostile.c in one boot,
# HOSTILE_SECONDS (20) of unprivileged processes doing random things
# beside a reserved client, then the dmesg check. It prints its seed;
# HOSTILE_ARGS="--seed N" replays one. Also on the rt kernel (hostile-rt)
# and the debug kernel (hostile-debug). The
# generic and rt runs use multi-threaded TCG (--mttcg): the two vCPUs
# really run in parallel, so they patch no static keys; the debug run
# (one TCG thread) switches tracepoints on and off as it goes (README,
# "MTTCG").
HOSTILE_SECONDS ?= 20
HOSTILE_ARGS ?=
build/hostile: tests/selftests/bwarb/hostile.c $(SELFTEST_IO_DEPS) kmod/uapi/bwarb.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -I. -o $@ $< $(SELFTEST_IO)
ALL_TARGETS += build/hostile

.PHONY: check-hostile check-hostile-rt check-hostile-debug
check-hostile: $(BWARB_KO) build/hostile
	@tests/vm/run --mttcg --load --check-dmesg --timeout 300 -- \
		build/hostile --seconds $(HOSTILE_SECONDS) $(HOSTILE_ARGS)
check-hostile-rt: build/kmod-rt/bwarb.ko build/hostile
	@tests/vm/run --mttcg --kernel rt --load --check-dmesg --timeout 300 -- \
		build/hostile --seconds $(HOSTILE_SECONDS) $(HOSTILE_ARGS)
check-hostile-debug: build/kmod-debug/bwarb.ko build/hostile
	@tests/vm/run --kernel debug --load --check-dmesg --timeout 900 -- \
		build/hostile --seconds $(HOSTILE_SECONDS) --toggle-tracepoints $(HOSTILE_ARGS)
CHECK_SUITES += hostile hostile-rt hostile-debug

# make bench-bwarb-tick: the period timer's cost per boundary with every
# client slot (max_clients) registered, mapped and hammered (README, "Tick
# cost"); generic kernel, then the rt one.
build/tick_cost: tests/selftests/bwarb/tick_cost.c $(SELFTEST_IO_DEPS) kmod/uapi/bwarb.h
	@mkdir -p $(@D)
	$(CC) -std=gnu11 -D_GNU_SOURCE -Wall -Wextra -Werror -O2 -g -I. -o $@ $< $(SELFTEST_IO) -lpthread
.PHONY: bench-bwarb-tick
bench-bwarb-tick: $(BWARB_KO) build/tick_cost build/kmod-rt/bwarb.ko
	@tests/vm/run --load --timeout 300 -- build/tick_cost
	@tests/vm/run --kernel rt --load --timeout 300 -- build/tick_cost
BENCH_TARGETS += bench-bwarb-tick
