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
