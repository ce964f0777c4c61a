# swgpu: the software Level Zero driver (one integrated "GPU" on PoCL),
# build/libze_swgpu.so. Loaded by the real loader with
# ZE_ENABLE_ALT_DRIVERS=$(abspath build/libze_swgpu.so); never linked
# against the loader itself. Only the loader's table getters are exported.
SWGPU_SRCS := $(sort $(wildcard tools/swgpu/*.c))
SWGPU_OBJS := $(patsubst %.c,build/pic/%.o,$(SWGPU_SRCS))
SWGPU_LIB  := build/libze_swgpu.so

build/pic/tools/swgpu/%.o: tools/swgpu/%.c tools/swgpu/swgpu.h
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -fvisibility=hidden -MMD -MP -c $< -o $@

$(SWGPU_LIB): $(SWGPU_OBJS)
	$(CC) -shared -Wl,--no-undefined -Wl,-soname,libze_swgpu.so -o $@ $^ -lOpenCL -lpthread

.PHONY: swgpu
swgpu: $(SWGPU_LIB)

ALL_TARGETS += $(SWGPU_LIB)
