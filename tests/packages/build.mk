# Packaging checks.
#
#   check-dkms      dkms.conf: `dkms build` against the stock and the RT
#                   6.1 headers (linux-headers-amd64, linux-headers-rt-amd64),
#                   in a private DKMS tree (about 25 s a kernel on 2 cores)
#   check-packages  make deb (the tree as built), lintian without errors,
#                   install, the installed files at work, purge
DKMS_KVERS = $(KVER) $(KVER_RT)
# The RT flavour of the same release as KVER.
KVER_RT = $(patsubst %-amd64,%-rt-amd64,$(KVER))

.PHONY: check-dkms check-packages
check-dkms:
	@tests/packages/dkms.sh build/dkms $(SPLITMOE_VERSION) $(DKMS_KVERS)
CHECK_SUITES += dkms

check-packages: build/splitmoe
	@if $(MAKE) --no-print-directory deb >build/deb.log 2>&1; then \
		echo "ok 1 - make deb: dpkg-buildpackage -b builds $$(ls build/deb/*.deb | grep -vc dbgsym) packages"; \
	else \
		sed 's/^/# /' build/deb.log | tail -n 40; \
		echo "not ok 1 - make deb: dpkg-buildpackage -b builds the packages"; exit 1; \
	fi
	@lintian --fail-on error build/deb/*.changes >build/lintian.log 2>&1; \
	if [ $$? -eq 0 ] && ! grep -q '^E:' build/lintian.log; then \
		echo "ok 2 - lintian: no errors ($$(grep -c '^W:' build/lintian.log) warnings, build/lintian.log)"; \
	else \
		sed 's/^/# /' build/lintian.log; echo "not ok 2 - lintian: no errors"; \
	fi
	@tests/packages/check.sh build/deb tests/fixtures/phimoe-tiny-a build/splitmoe 3
CHECK_SUITES += packages
