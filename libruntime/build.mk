# libruntime: every .c/.cc in libruntime/*/ (the folders and the way
# they depend on each other: README, "Layout"; tests/layout checks it) plus the shared arbitration core,
# as build/libruntime.a (optimised) and build/libruntime-asan.a (for tests).
RUNTIME_SRCS := $(sort $(wildcard libruntime/*/*.c) $(wildcard libruntime/*/*.cc)) $(wildcard kmod/arb_core.c)
RUNTIME_OBJS := $(patsubst %,build/obj/%.o,$(basename $(RUNTIME_SRCS)))
RUNTIME_ASAN_OBJS := $(patsubst %,build/asan/%.o,$(basename $(RUNTIME_SRCS)))
# Position-independent objects for the shared library (libsplitmoe/build.mk).
RUNTIME_PIC_OBJS := $(patsubst %,build/pic/%.o,$(basename $(RUNTIME_SRCS)))
RUNTIME_LIB := build/libruntime.a
RUNTIME_ASAN_LIB := build/libruntime-asan.a
# What anything linking libruntime needs.
RUNTIME_LDLIBS := -ldnnl -lyaml -ljson-c -lsentencepiece -lze_loader -ldrm -lstdc++ -lm -lpthread
# oneDNN threads through OpenMP (Debian build): omp_set_num_threads()
RUNTIME_LDLIBS += -lgomp
CPPFLAGS += -I/usr/include/libdrm
# Our own kernels (cpu/cpu_gemv.c, the CPU backend's expert pass) fork OpenMP
# teams themselves.
build/obj/libruntime/%.o build/asan/libruntime/%.o build/pic/libruntime/%.o: CFLAGS += -fopenmp

$(RUNTIME_LIB): $(RUNTIME_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(RUNTIME_ASAN_LIB): $(RUNTIME_ASAN_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

ALL_TARGETS += $(RUNTIME_LIB)

# The kernel arbiter links the /dev/bwarb client library
# (libruntime/arbiter/bwarb_client.c) only once that file is in the tree; until then
# arbiter_kernel.c reports the backend as not built. The prerequisite
# rebuilds it when the file appears.
ifneq ($(wildcard libruntime/arbiter/bwarb_client.c),)
build/obj/libruntime/arbiter/arbiter_kernel.o build/asan/libruntime/arbiter/arbiter_kernel.o \
	build/pic/libruntime/arbiter/arbiter_kernel.o: CPPFLAGS += -DSM_HAVE_BWARB_CLIENT
endif
build/obj/libruntime/arbiter/arbiter_kernel.o build/asan/libruntime/arbiter/arbiter_kernel.o \
	build/pic/libruntime/arbiter/arbiter_kernel.o: $(wildcard libruntime/arbiter/bwarb_client.c)

# cpu_attention.c (OpenMP like every file here, above): FMA contraction
# in its kernels (-std=c11 turns contraction off otherwise); no trapping
# math, so that the selects of its softmax loops vectorise without AVX-512
# masking (nothing there reads FP exception flags).
build/obj/libruntime/cpu/cpu_attention.o build/asan/libruntime/cpu/cpu_attention.o \
	build/pic/libruntime/cpu/cpu_attention.o: CFLAGS += -ffp-contract=fast -fno-trapping-math

# The installed SPIR-V modules (debian/splitmoe.install), the last place
# ze/ze_device.c looks for them.
SM_KERNEL_INSTALL_DIR := /usr/share/splitmoe/kernels
build/obj/libruntime/ze/ze_device.o build/asan/libruntime/ze/ze_device.o \
	build/pic/libruntime/ze/ze_device.o: CPPFLAGS += -DSM_INSTALLED_KERNEL_DIR='"$(SM_KERNEL_INSTALL_DIR)"'
