# abi-doc: docs/ABI/ (the kernel's Documentation/ABI format) checked by
# the kernel's scripts/get_abi.pl and against what kmod/ creates.
GET_ABI_PL := $(LINUX_SRC)/scripts/get_abi.pl

# One more file of Debian's linux-source-6.1 (kmod/build.mk), extracted once.
$(GET_ABI_PL): $(LINUX_SRC_TAR)
	@mkdir -p .cache
	tar -xJf $(LINUX_SRC_TAR) -C .cache linux-source-6.1/scripts/get_abi.pl
	@touch $@

.PHONY: check-abi-doc
check-abi-doc: $(GET_ABI_PL)
	@tests/abi/check.sh $(GET_ABI_PL)
CHECK_SUITES += abi-doc
