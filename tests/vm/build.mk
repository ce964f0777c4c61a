# The VM harness (tests/vm/run): the guest kernel, unpacked from Debian's
# linux-image of scripts/kver.sh's version into .cache/vm/ (fetched once,
# about 70 MB), and its busybox initramfs. A quick no-op once cached.
# After deps: it needs apt, busybox-static, cpio, kmod, xz-utils (make -j).
.PHONY: vm-image check-vm
vm-image: deps
	@tests/vm/initramfs.sh "$$(tests/vm/kernel.sh)" >/dev/null
ALL_TARGETS += vm-image

# Suite 'vm': the harness itself, three guest boots (tests/vm/selfcheck.sh).
# About 30 s on an idle 2-core machine, a minute when it is busy.
check-vm: vm-image
	@tests/vm/selfcheck.sh
CHECK_SUITES += vm

# The two-client demonstration of `make demo` (scripts/demo.d/).
build/demo_clients: build/obj/tests/vm/demo_clients.o build/obj/libruntime/arbiter/bwarb_client.o
	$(CC) -o $@ $^ -lpthread
ALL_TARGETS += build/demo_clients

# Boot-to-command time of the harness (3 boots; VM_BENCH_RUNS=N for more).
.PHONY: bench-vm
bench-vm: vm-image
	@tests/vm/bench-boot.sh
BENCH_TARGETS += bench-vm

# Other kernels of the 6.1 series for the module's suites (issue 11):
#   rt     Debian's PREEMPT_RT image and headers (tests/vm/kernel.sh rt,
#          fetched like the generic image; about 10 s once);
#   debug  linux-source-6.1, allnoconfig + tests/vm/debug.config: what the
#          harness uses, lockdep (PROVE_RAW_LOCK_NESTING), DEBUG_ATOMIC_SLEEP,
#          KASAN, UBSAN, KFENCE (tests/vm/debug-kernel.sh). Built once into
#          .cache/ before the suites of `make check` (11 min of CPU: 25 min
#          wall on this shared 2-core machine at load 6-11, about 6 idle),
#          then reused (under a second).
# The module and the test PMU are built for each in build/kmod-FLAVOUR/
# (a copy of the sources, like kmod-lint, so the real objects stay).
KDIR_rt    = $(CURDIR)/.cache/vm/$(KVER:-amd64=-rt-amd64)/headers/usr/src/linux-headers-$(KVER:-amd64=-rt-amd64)
KDIR_debug = $(CURDIR)/.cache/debug-kernel/build

.PHONY: kernel-rt kernel-debug kmod-rt kmod-debug check-prepare-debug
kernel-rt: deps
	@tests/vm/kernel.sh rt >/dev/null
kernel-debug: deps
	@tests/vm/debug-kernel.sh >/dev/null

# make check builds the debug kernel before any suite runs (when it is
# absent; cached, a no-op), so that its build does not count against the
# first debug suite's SUITE_TIMEOUT; only when the debug suites are
# checked (all of them, or SUITES names one). A failed build does not stop
# make check: the debug suites, which need the kernel, report it.
ifneq ($(if $(SUITES),$(filter %-debug,$(SUITES)),all),)
check: check-prepare-debug
endif
check-prepare-debug: deps
	-@tests/vm/debug-kernel.sh >/dev/null

build/kmod-%/bwarb.ko: $(KMOD_SRCS) tests/selftests/bwarb/test_pmu.c | kernel-%
	@rm -rf $(@D) && mkdir -p $(@D)/kmod/uapi $(@D)/pmu
	@cp Kbuild $(@D)/ && cp kmod/*.[ch] $(@D)/kmod/ && cp kmod/uapi/*.h $(@D)/kmod/uapi/
	@cp tests/selftests/bwarb/Kbuild tests/selftests/bwarb/test_pmu.c $(@D)/pmu/
	$(MAKE) -s -C $(KDIR_$*) M=$(CURDIR)/$(@D) modules 2>&1 | grep -v 'Skipping BTF' || true
	$(MAKE) -s -C $(KDIR_$*) M=$(CURDIR)/$(@D)/pmu modules 2>&1 | grep -v 'Skipping BTF' || true
	@cp $(@D)/pmu/bwarb_test_pmu.ko $(@D)/ && test -f $@
kmod-rt: build/kmod-rt/bwarb.ko
kmod-debug: build/kmod-debug/bwarb.ko

# One boot per suite, as on the generic kernel; BWARB_KO and TEST_PMU_KO
# point the load/unload tests and the counters script at this kernel's.
define flavour_suites
.PHONY: check-selftests-$(1) check-counters-$(1)
check-selftests-$(1): build/kmod-$(1)/bwarb.ko $$(SELFTESTS) build/bwarbctl
	@tests/vm/run --kernel $(1) --load --check-dmesg --timeout 900 -- \
		env BWARB_KO=build/kmod-$(1)/bwarb.ko tests/selftests/bwarb/run_all.sh
check-counters-$(1): build/kmod-$(1)/bwarb.ko $$(COUNTERS_SELFTEST) build/bwarbctl
	@tests/vm/run --kernel $(1) --load --check-dmesg --timeout 600 -- \
		env TEST_PMU_KO=build/kmod-$(1)/bwarb_test_pmu.ko BWARB_KO=build/kmod-$(1)/bwarb.ko \
		tests/selftests/bwarb/test_pmu_run.sh
endef
$(eval $(call flavour_suites,rt))
$(eval $(call flavour_suites,debug))
CHECK_SUITES += selftests-rt counters-rt selftests-debug counters-debug

# Suite 'contend-vm' (one boot, about 30 s here): the kernel arbiter's path
# of splitmoe contend and bwarbctl calibrate --apply on the module, the
# counters' path on the test PMU (tests/vm/contend-guest.sh); functional
# only, TCG has no memory bus.
.PHONY: check-contend-vm
check-contend-vm: $(BWARB_KO) $(TEST_PMU_KO) build/splitmoe build/bwarbctl
	@tests/vm/run --load --check-dmesg --timeout 300 -- tests/vm/contend-guest.sh
CHECK_SUITES += contend-vm
