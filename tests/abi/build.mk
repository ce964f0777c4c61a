# abi-doc: docs/ABI/ (the kernel's Documentation/ABI format) checked by
# the kernel's scripts/get_abi.pl and against what kmod/ creates.
GET_ABI_PL := $(LINUX_SRC)/scripts/get_abi.pl

# Extracted with the other kernel files (kmod/build.mk); a .cache/ made
# before it was on that list gets it alone.
$(GET_ABI_PL): $(LINUX_SRC)/.stamp
	@test -e $@ || tar -xJf $(LINUX_SRC_TAR) -C .cache linux-source-6.1/scripts/get_abi.pl
	@touch $@

.PHONY: check-abi-doc
check-abi-doc: $(GET_ABI_PL)
	@tests/abi/check.sh $(GET_ABI_PL)
CHECK_SUITES += abi-doc
