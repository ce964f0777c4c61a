# libsplitmoe: the public C API (include/splitmoe.h) as a shared library,
# build/libsplitmoe.so.0 (soname libsplitmoe.so.0), over the PIC build of
# libruntime linked in whole; the version script exports splitmoe_* only.
# build/splitmoe.pc is the pkg-config file of the installed library.
SPLITMOE_VERSION := $(shell cat VERSION)
LIBSPLITMOE_SONAME := libsplitmoe.so.0
LIBSPLITMOE := build/$(LIBSPLITMOE_SONAME)
LIBSPLITMOE_MAP := libsplitmoe/splitmoe.map
LIBSPLITMOE_SRCS := $(sort $(wildcard libsplitmoe/*.c))
LIBSPLITMOE_OBJS := $(patsubst %.c,build/pic/%.o,$(LIBSPLITMOE_SRCS))
# Where the package installs it (debian/rules).
LIBDIR_MULTIARCH = /usr/lib/$(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)

# The ASan+UBSan objects are the tests' (tests/examples/build.mk) and
# splitmoe-asan's; the optimised ones splitmoe's (its subcommands on the
# public API link it in: tools/splitmoe/build.mk).
LIBSPLITMOE_ASAN_OBJS := $(patsubst %.c,build/asan/%.o,$(LIBSPLITMOE_SRCS))
LIBSPLITMOE_STATIC_OBJS := $(patsubst %.c,build/obj/%.o,$(LIBSPLITMOE_SRCS))
LIBSPLITMOE_ALL_OBJS := $(LIBSPLITMOE_OBJS) $(LIBSPLITMOE_ASAN_OBJS) $(LIBSPLITMOE_STATIC_OBJS)
$(LIBSPLITMOE_ALL_OBJS): CPPFLAGS += -Iinclude \
	-DSPLITMOE_VERSION_STRING='"$(SPLITMOE_VERSION)"'
$(LIBSPLITMOE_ALL_OBJS): VERSION
# splitmoe_synth's generator and splitmoe_quantize run on OpenMP threads.
LIBSPLITMOE_OMP := $(foreach v,pic asan obj,$(foreach f,api_synth_fill api_quantize,\
	build/$(v)/libsplitmoe/$(f).o))
$(LIBSPLITMOE_OMP): CFLAGS += -fopenmp
# splitmoe_synth carries the fixture's tokenizer files in the library (.incbin).
SYNTH_FIXTURE := tests/fixtures/phimoe-tiny-a
SYNTH_TOK_OBJS := $(foreach v,pic asan obj,build/$(v)/libsplitmoe/api_synth_tokenizer.o)
$(SYNTH_TOK_OBJS): CPPFLAGS += -DSYNTH_FIXTURE='"$(SYNTH_FIXTURE)"'
$(SYNTH_TOK_OBJS): $(addprefix $(SYNTH_FIXTURE)/,tokenizer.model added_tokens.json \
	generation_config.json tokenizer_config.json)

# The engine's batched decode (phimoe_seq_open, phimoe_batch) is wrapped
# once libruntime implements it; until then splitmoe_batch says it is not
# built. The prerequisite rebuilds api.o when that source changes.
LIBSPLITMOE_BATCH_SRC := $(shell grep -rlE --include='*.c' '^int phimoe_seq_open.struct phimoe_session' libruntime 2>/dev/null)
ifneq ($(LIBSPLITMOE_BATCH_SRC),)
$(LIBSPLITMOE_ALL_OBJS): CPPFLAGS += -DSM_HAVE_BATCH
$(LIBSPLITMOE_ALL_OBJS): $(LIBSPLITMOE_BATCH_SRC)
endif

$(LIBSPLITMOE): $(LIBSPLITMOE_OBJS) $(RUNTIME_PIC_OBJS) $(LIBSPLITMOE_MAP)
	@mkdir -p $(@D)
	$(CC) -shared -fopenmp -Wl,--no-undefined -Wl,-soname,$(LIBSPLITMOE_SONAME) \
		-Wl,--version-script,$(LIBSPLITMOE_MAP) -o $@ \
		$(LIBSPLITMOE_OBJS) $(RUNTIME_PIC_OBJS) $(RUNTIME_LDLIBS)

# The development link name, as libsplitmoe-dev installs it.
build/libsplitmoe.so: $(LIBSPLITMOE)
	ln -sf $(LIBSPLITMOE_SONAME) $@

build/splitmoe.pc: libsplitmoe/splitmoe.pc.in VERSION
	@mkdir -p $(@D)
	sed -e 's|@PREFIX@|/usr|' -e 's|@LIBDIR@|$(LIBDIR_MULTIARCH)|' \
		-e 's|@VERSION@|$(SPLITMOE_VERSION)|' $< >$@

.PHONY: libsplitmoe
libsplitmoe: $(LIBSPLITMOE) build/libsplitmoe.so build/splitmoe.pc
ALL_TARGETS += $(LIBSPLITMOE) build/libsplitmoe.so build/splitmoe.pc
