# Packaging: `make install DESTDIR=D` lays out what the Debian packages
# ship (debian/*.install pick from it), and `make deb` runs
# dpkg-buildpackage on the tree as it is built, leaving the .deb files in
# build/deb/. The bwarb module is not installed here: bwarb-dkms ships its
# source (Kbuild, kmod/) and DKMS builds it for each installed kernel.
# /usr only: the kernels' directory is compiled into libruntime
# (SM_KERNEL_INSTALL_DIR, libruntime/build.mk) and splitmoe.pc names /usr.
PREFIX      := /usr
BINDIR      := $(PREFIX)/bin
INCLUDEDIR  := $(PREFIX)/include
LIBDIR      = $(LIBDIR_MULTIARCH)
UDEVRULESDIR := /lib/udev/rules.d
DKMS_SRCDIR := /usr/src/bwarb-$(SPLITMOE_VERSION)
DEB_DIR     := build/deb

# What the packages ship, all built by `make`.
INSTALL_BINS := build/splitmoe build/bwarbctl build/bwsim
# (names, not variables of fragments read later: tools/swgpu/build.mk)
INSTALL_DEPS := $(INSTALL_BINS) build/libsplitmoe.so.0 build/splitmoe.pc $(KERNEL_SPVS) \
	build/libze_swgpu.so

.PHONY: install install-files deb
# Builds what install takes, without deps.sh (debian/rules: the build
# dependencies are dpkg-buildpackage's to check).
install-files: $(INSTALL_DEPS)

install: $(INSTALL_DEPS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SM_KERNEL_INSTALL_DIR) $(DESTDIR)/etc/splitmoe \
		$(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/splitmoe $(DESTDIR)$(INCLUDEDIR) \
		$(DESTDIR)$(UDEVRULESDIR) $(DESTDIR)$(DKMS_SRCDIR)/kmod/uapi $(DESTDIR)/etc/profile.d
	install -m 755 $(INSTALL_BINS) $(DESTDIR)$(BINDIR)/
	install -m 644 $(KERNEL_SPVS) $(DESTDIR)$(SM_KERNEL_INSTALL_DIR)/
	install -m 644 $(LIBSPLITMOE) $(DESTDIR)$(LIBDIR)/
	ln -sf $(LIBSPLITMOE_SONAME) $(DESTDIR)$(LIBDIR)/libsplitmoe.so
	install -m 644 build/splitmoe.pc $(DESTDIR)$(LIBDIR)/pkgconfig/
	install -m 644 include/splitmoe.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 644 build/libze_swgpu.so $(DESTDIR)$(LIBDIR)/splitmoe/
	sed 's|@SWGPU@|$(LIBDIR)/splitmoe/libze_swgpu.so|; s|@LIBDIR@|$(LIBDIR)|' \
		packaging/splitmoe-swgpu.sh.in >$(DESTDIR)/etc/profile.d/splitmoe-swgpu.sh
	install -m 644 configs/udev/60-bwarb.rules $(DESTDIR)$(UDEVRULESDIR)/
	@# the example's model path means nothing once installed
	sed 's|^model: .*|# model: /path/to/a/phimoe/checkpoint|' configs/splitmoe.yaml \
		>$(DESTDIR)/etc/splitmoe/splitmoe.yaml
	install -m 644 Kbuild dkms.conf $(DESTDIR)$(DKMS_SRCDIR)/
	install -m 644 $(wildcard kmod/*.[ch]) $(DESTDIR)$(DKMS_SRCDIR)/kmod/
	install -m 644 $(wildcard kmod/uapi/*.h) $(DESTDIR)$(DKMS_SRCDIR)/kmod/uapi/

# Plain dpkg-buildpackage leaves the packages beside the source tree (..);
# `make deb` keeps them, the .buildinfo and the .changes in build/deb/
# (debian/rules reads SM_DEB_DIR); -tc: debian/ is left clean.
DEB_ARCH = $(shell dpkg --print-architecture 2>/dev/null)
DEB_VERSION = $(shell dpkg-parsechangelog -S Version 2>/dev/null)
deb: $(INSTALL_DEPS)
	@case "$(DEB_VERSION)" in $(SPLITMOE_VERSION)-*) ;; \
	*) echo "debian/changelog: version $(DEB_VERSION) is not VERSION's $(SPLITMOE_VERSION)-N" >&2; \
	   exit 1;; esac
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_DIR)
	SM_DEB_DIR=$(abspath $(DEB_DIR)) dpkg-buildpackage -b -us -uc -tc \
		--buildinfo-file=$(DEB_DIR)/splitmoe_$(DEB_VERSION)_$(DEB_ARCH).buildinfo \
		--changes-file=$(DEB_DIR)/splitmoe_$(DEB_VERSION)_$(DEB_ARCH).changes \
		--buildinfo-option=-u$(DEB_DIR) --changes-option=-u$(DEB_DIR)
	@ls $(DEB_DIR)/*.deb
