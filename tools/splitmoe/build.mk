# splitmoe CLI -> build/splitmoe (and build/splitmoe-asan for the tests).
SPLITMOE_SRCS := $(sort $(wildcard tools/splitmoe/*.c))
SPLITMOE_OBJS := $(patsubst %.c,build/obj/%.o,$(SPLITMOE_SRCS))
SPLITMOE_ASAN_OBJS := $(patsubst %.c,build/asan/%.o,$(SPLITMOE_SRCS))
# serve's HTTP server
SPLITMOE_LDLIBS := -lmicrohttpd
# Subcommands on the public API (include/splitmoe.h; so far tokenize) link
# its implementation in.
SPLITMOE_OBJS += $(LIBSPLITMOE_STATIC_OBJS)
SPLITMOE_ASAN_OBJS += $(LIBSPLITMOE_ASAN_OBJS)
$(patsubst %.c,build/obj/%.o,$(SPLITMOE_SRCS)) \
	$(patsubst %.c,build/asan/%.o,$(SPLITMOE_SRCS)): CPPFLAGS += -Iinclude

build/splitmoe: $(SPLITMOE_OBJS) $(EVAL_LIB) $(RUNTIME_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $(SPLITMOE_OBJS) $(EVAL_LIB) $(RUNTIME_LIB) $(RUNTIME_LDLIBS) $(SPLITMOE_LDLIBS)

build/splitmoe-asan: $(SPLITMOE_ASAN_OBJS) $(EVAL_ASAN_LIB) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $(SPLITMOE_ASAN_OBJS) $(EVAL_ASAN_LIB) $(RUNTIME_ASAN_LIB) $(RUNTIME_LDLIBS) $(SPLITMOE_LDLIBS)

ALL_TARGETS += build/splitmoe
