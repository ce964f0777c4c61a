# bwarbctl -> build/bwarbctl: every tools/bwarbctl/*.c. Commands register
# themselves (bwarbctl.h); a fragment that adds one needing libraries
# appends them to BWARBCTL_LDLIBS (and generated headers to BWARBCTL_DEPS).
BWARBCTL_SRCS := $(sort $(wildcard tools/bwarbctl/*.c))
BWARBCTL_OBJS := $(patsubst %.c,build/obj/%.o,$(BWARBCTL_SRCS))
BWARBCTL_LDLIBS += -lm

$(BWARBCTL_OBJS): $(BWARBCTL_DEPS)

# calibrate measures with libruntime's code (bwcal.h), on OpenMP threads.
BWARBCTL_LIBOBJS := build/obj/libruntime/arbiter/membw.o build/obj/libruntime/arbiter/bwcal.o
# source perf and top find the memory controllers' counters as splitmoe's
# DRAM counter does (libruntime/arbiter/pmu_discovery.h).
BWARBCTL_LIBOBJS += build/obj/libruntime/arbiter/pmu_discovery.o
BWARBCTL_LDLIBS += -fopenmp

build/bwarbctl: $(BWARBCTL_OBJS) $(BWARBCTL_LIBOBJS)
	@mkdir -p $(@D)
	$(CC) -o $@ $^ $(BWARBCTL_LDLIBS)

ALL_TARGETS += build/bwarbctl
