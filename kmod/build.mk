# bwarb kernel module (Kbuild at the top, sources in kmod/), its lint suite
# and the kernel-source files the build and the selftests take from Debian's
# linux-source-6.1 (extracted into .cache/, never committed).

LINUX_SRC_TAR := /usr/src/linux-source-6.1.tar.xz
LINUX_SRC     := .cache/linux-source-6.1
LINUX_SRC_FILES := scripts/checkpatch.pl scripts/spelling.txt \
	scripts/const_structs.checkpatch \
	tools/testing/selftests/kselftest.h \
	tools/testing/selftests/kselftest_harness.h scripts/get_abi.pl
CHECKPATCH    := $(LINUX_SRC)/scripts/checkpatch.pl
KSELFTEST_DIR := $(LINUX_SRC)/tools/testing/selftests

$(LINUX_SRC)/.stamp: $(LINUX_SRC_TAR)
	@mkdir -p .cache
	tar -xJf $(LINUX_SRC_TAR) -C .cache $(addprefix linux-source-6.1/,$(LINUX_SRC_FILES))
	@touch $@

KMOD_SRCS := Kbuild $(wildcard kmod/*.c kmod/*.h kmod/uapi/*.h)
BWARB_KO  := bwarb.ko

# Kbuild builds in place; tests/vm/run --load takes ./bwarb.ko.
$(BWARB_KO): $(KMOD_SRCS)
	$(MAKE) -C $(KDIR) M=$(TOP) modules

kmod: $(BWARB_KO)
.PHONY: kmod kmod-clean check-kmod-lint
ALL_TARGETS += $(BWARB_KO)

# checkpatch: everything in kmod/, the arbitration core (arb_*, plain C
# compiled into userspace too, with the kernel's type names from
# arb_types.h) included, nothing ignored.
CHECKPATCH_FLAGS := --strict --no-tree --terse --show-types -f
KMOD_LINT_SRCS = $(sort $(wildcard kmod/*.c kmod/*.h kmod/uapi/*.h))

# Lint: a W=1 build of a copy (so the real objects are not rebuilt with
# other flags) must print no warning, and checkpatch --strict must report
# nothing on kmod/.
KMOD_LINT_DIR := build/kmod-lint
check-kmod-lint: $(LINUX_SRC)/.stamp
	@rm -rf $(KMOD_LINT_DIR) && mkdir -p $(KMOD_LINT_DIR)
	@mkdir -p $(KMOD_LINT_DIR)/kmod/uapi && cp Kbuild $(KMOD_LINT_DIR)/ && \
		cp kmod/*.[ch] $(KMOD_LINT_DIR)/kmod/ && cp kmod/uapi/*.h $(KMOD_LINT_DIR)/kmod/uapi/
	@if $(MAKE) -s -C $(KDIR) M=$(TOP)/$(KMOD_LINT_DIR) W=1 modules \
		>$(KMOD_LINT_DIR)/build.log 2>&1 && \
		! grep -qiE 'warning|error' $(KMOD_LINT_DIR)/build.log; then \
		echo "ok 1 - bwarb.ko builds with W=1 without warnings"; \
	else \
		sed 's/^/# /' $(KMOD_LINT_DIR)/build.log; \
		echo "not ok 1 - bwarb.ko builds with W=1 without warnings"; \
	fi
	@if perl $(CHECKPATCH) $(CHECKPATCH_FLAGS) $(KMOD_LINT_SRCS) \
		>$(KMOD_LINT_DIR)/checkpatch.log 2>&1 && \
		! grep -q . $(KMOD_LINT_DIR)/checkpatch.log; then \
		echo "ok 2 - checkpatch.pl --strict reports nothing on kmod/"; \
	else \
		sed 's/^/# /' $(KMOD_LINT_DIR)/checkpatch.log; \
		echo "not ok 2 - checkpatch.pl --strict reports nothing on kmod/"; \
	fi
CHECK_SUITES += kmod-lint

kmod-clean:
	-$(MAKE) -C $(KDIR) M=$(TOP) clean >/dev/null 2>&1
CLEAN_TARGETS += kmod-clean
