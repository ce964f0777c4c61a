# Conventions shared by every build.mk fragment.
#
#   ALL_TARGETS   += what `make` builds
#   CHECK_SUITES  += NAME, with a phony target check-NAME whose stdout is TAP
#                    ("ok N - what", "not ok N - what", "... # SKIP why");
#                    a non-zero exit with no "not ok" line counts as a failure
#   BENCH_TARGETS += phony targets run by `make bench`
#   FUZZ_TARGETS  += phony targets run by `make fuzz`
#   CLEAN_TARGETS += phony targets run by `make clean` (build/ goes anyway)
#
# All paths are relative to the top directory (make always runs there).
# Userspace objects: build/obj/X.o from X.c (optimised) and build/asan/X.o
# (ASan+UBSan, for tests), build/pic/X.o (-fPIC, for shared libraries).
# The module is built by Kbuild in place.

BUILD    := build
CC       := gcc
CLANG    := clang-14
CSTD     := -std=c11 -D_GNU_SOURCE
WARN     := -Wall -Wextra -Werror
OPT      ?= -O2 -g
CFLAGS   ?= $(OPT)
CPPFLAGS += -I. -Ilibruntime
CFLAGS   += $(CSTD) $(WARN)
CXX      := g++
CXXFLAGS ?= $(OPT)
CXXFLAGS += -std=c++17 -Wall -Wextra -Werror
SANITIZE := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Kernel build: Debian's headers package of the 6.1 series (not the host's
# running kernel, which cannot load modules here).
KVER     ?= $(shell $(TOP)/scripts/kver.sh)
KDIR     ?= /usr/src/linux-headers-$(KVER)

$(BUILD):
	@mkdir -p $@

build/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c $< -o $@

build/asan/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) $(SANITIZE) -MMD -MP -c $< -o $@

build/obj/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -MMD -MP -c $< -o $@

build/asan/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) $(SANITIZE) -MMD -MP -c $< -o $@

-include $(shell find build -name '*.d' 2>/dev/null)

# Position-independent objects (build/pic/X.o), for shared libraries.
build/pic/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -MMD -MP -c $< -o $@

build/pic/%.o: %.cc
	@mkdir -p $(@D)
	$(CXX) $(CPPFLAGS) $(CXXFLAGS) -fPIC -MMD -MP -c $< -o $@
