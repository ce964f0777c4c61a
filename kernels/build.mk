# kernels: OpenCL C (1.2) compiled at build time to SPIR-V for the iGPU
# path: clang-14 to SPIR bitcode, then llvm-spirv-14. One module per .cl,
# build/kernels/NAME.spv. The shared header bf16.h is a dependency of all.
KERNEL_SRCS := $(sort $(wildcard kernels/*.cl))
KERNEL_SPVS := $(patsubst kernels/%.cl,build/kernels/%.spv,$(KERNEL_SRCS))
LLVM_SPIRV  := llvm-spirv-14
KERNEL_CFLAGS := -cc1 -triple spir64 -cl-std=CL1.2 -emit-llvm-bc \
	-finclude-default-header -O2 -Ikernels

build/kernels/%.bc: kernels/%.cl kernels/bf16.h
	@mkdir -p $(@D)
	$(CLANG) $(KERNEL_CFLAGS) $< -o $@

build/kernels/%.spv: build/kernels/%.bc
	$(LLVM_SPIRV) $< -o $@

.PHONY: kernels
kernels: $(KERNEL_SPVS)

ALL_TARGETS += $(KERNEL_SPVS)
