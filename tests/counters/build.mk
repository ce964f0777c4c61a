# Counters work: unit tests of bwarbctl's PMU discovery and of the MCHBAR
# layout (host, ASan+UBSan), the test PMU module and the VM selftests.
#
#   check-counters-unit   cmocka over fake sysfs trees in build/counters/,
#                         and kmod/mchbar_layout.c
#   check-counters        tests/selftests/bwarb/test_pmu_counters.c in one
#                         VM boot (about 25 s)
#   build/bwarb_test_pmu.ko   tests/selftests/bwarb/test_pmu.c, via Kbuild

COUNTERS_UNIT_BIN := build/counters/test_pmu_discovery
COUNTERS_UNIT_OBJS := build/asan/tests/counters/test_pmu_discovery.o \
	build/asan/libruntime/arbiter/pmu_discovery.o

$(COUNTERS_UNIT_BIN): $(COUNTERS_UNIT_OBJS)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ -lcmocka

MCHBAR_UNIT_BIN := build/counters/test_mchbar_layout
$(MCHBAR_UNIT_BIN): build/asan/tests/counters/test_mchbar_layout.o \
		build/asan/kmod/mchbar_layout.o
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $^ -lcmocka

.PHONY: check-counters-unit
check-counters-unit: $(COUNTERS_UNIT_BIN) $(MCHBAR_UNIT_BIN)
	@CMOCKA_MESSAGE_OUTPUT=TAP $(COUNTERS_UNIT_BIN); a=$$?; \
	CMOCKA_MESSAGE_OUTPUT=TAP $(MCHBAR_UNIT_BIN); b=$$?; \
	[ $$a -eq 0 ] && [ $$b -eq 0 ]
CHECK_SUITES += counters-unit

# The test PMU module, built in place by Kbuild (objects are git-ignored)
# and copied next to bwarb.ko for the VM.
TEST_PMU_KO := build/bwarb_test_pmu.ko
$(TEST_PMU_KO): tests/selftests/bwarb/test_pmu.c tests/selftests/bwarb/Kbuild
	$(MAKE) -C $(KDIR) M=$(TOP)/tests/selftests/bwarb modules
	@mkdir -p $(@D)
	cp tests/selftests/bwarb/bwarb_test_pmu.ko $@
ALL_TARGETS += $(TEST_PMU_KO)

# Lint of the test PMU module (kmod-lint covers kmod/): W=1 build of a copy
# and checkpatch --strict, as TAP lines of the counters-unit suite.
TEST_PMU_LINT_DIR := build/test-pmu-lint
.PHONY: check-counters-lint
check-counters-lint: $(LINUX_SRC)/.stamp
	@rm -rf $(TEST_PMU_LINT_DIR) && mkdir -p $(TEST_PMU_LINT_DIR)
	@cp tests/selftests/bwarb/Kbuild tests/selftests/bwarb/test_pmu.c $(TEST_PMU_LINT_DIR)/
	@if $(MAKE) -s -C $(KDIR) M=$(TOP)/$(TEST_PMU_LINT_DIR) W=1 modules \
		>$(TEST_PMU_LINT_DIR)/build.log 2>&1 && \
		! grep -qiE 'warning|error' $(TEST_PMU_LINT_DIR)/build.log; then \
		echo "ok - bwarb_test_pmu.ko builds with W=1 without warnings"; \
	else \
		sed 's/^/# /' $(TEST_PMU_LINT_DIR)/build.log; \
		echo "not ok - bwarb_test_pmu.ko builds with W=1 without warnings"; \
	fi
	@if perl $(CHECKPATCH) --strict --no-tree --terse -f \
		tests/selftests/bwarb/test_pmu.c >$(TEST_PMU_LINT_DIR)/checkpatch.log 2>&1; then \
		echo "ok - checkpatch.pl --strict reports nothing on test_pmu.c"; \
	else \
		sed 's/^/# /' $(TEST_PMU_LINT_DIR)/checkpatch.log; \
		echo "not ok - checkpatch.pl --strict reports nothing on test_pmu.c"; \
	fi
check-counters-unit: check-counters-lint

.PHONY: counters-clean
counters-clean:
	-$(MAKE) -C $(KDIR) M=$(TOP)/tests/selftests/bwarb clean >/dev/null 2>&1
CLEAN_TARGETS += counters-clean

# VM selftests of the counters (kselftest harness, TAP): one boot.
COUNTERS_SELFTEST := build/selftests/test_pmu_counters
# (tests/selftests/build.mk, included after this file, defines SELFTEST_IO.)
$(COUNTERS_SELFTEST): tests/selftests/bwarb/test_pmu_counters.c \
		tests/selftests/bwarb/bwarb_selftest_io.c \
		tests/selftests/bwarb/bwarb_selftest_io.h kmod/uapi/bwarb.h $(LINUX_SRC)/.stamp
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) -isystem $(KSELFTEST_DIR) $(OPT) -std=gnu11 -D_GNU_SOURCE $(WARN) \
		-Wno-unused-parameter \
		-o $@ $< $(SELFTEST_IO) -lpthread

.PHONY: check-counters
check-counters: $(COUNTERS_SELFTEST) $(TEST_PMU_KO) $(BWARB_KO) build/bwarbctl
	@tests/vm/run --load --check-dmesg --timeout 400 -- \
		tests/selftests/bwarb/test_pmu_run.sh
CHECK_SUITES += counters
ALL_TARGETS += $(COUNTERS_SELFTEST)
