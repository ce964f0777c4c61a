# splitmoe CLI -> build/splitmoe (and build/splitmoe-asan for the tests).
SPLITMOE_SRCS := $(sort $(wildcard tools/splitmoe/*.c))
SPLITMOE_OBJS := $(patsubst %.c,build/obj/%.o,$(SPLITMOE_SRCS))
SPLITMOE_ASAN_OBJS := $(patsubst %.c,build/asan/%.o,$(SPLITMOE_SRCS))

build/splitmoe: $(SPLITMOE_OBJS) $(RUNTIME_LIB)
	@mkdir -p $(@D)
	$(CC) -o $@ $(SPLITMOE_OBJS) $(RUNTIME_LIB) $(RUNTIME_LDLIBS)

build/splitmoe-asan: $(SPLITMOE_ASAN_OBJS) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $(SPLITMOE_ASAN_OBJS) $(RUNTIME_ASAN_LIB) $(RUNTIME_LDLIBS)

ALL_TARGETS += build/splitmoe
