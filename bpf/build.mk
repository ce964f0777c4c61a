# eBPF programs (CO-RE, clang -target bpf), their libbpf skeletons, and
# the userspace loaders in build/libbwarb-bpf.a (used by bwarbctl trace/top
# and tests/bpf).
#
# vmlinux.h is generated at build time from the BTF of the kernel the VM
# tests boot (bpf/gen-vmlinux-h.sh; cached in .cache/bpf/KVER/), never
# committed.

BPF_OUT      := $(BUILD)/bpf
BPF_PROGS    := tracer sampler
BPF_OBJS     := $(BPF_PROGS:%=$(BPF_OUT)/%.bpf.o)
BPF_SKELS    := $(BPF_PROGS:%=$(BPF_OUT)/%.skel.h)
BPFTOOL      ?= bpftool
# -mcpu=v3: atomic compare-and-swap (6.1 has it) for the wait maximum.
BPF_CFLAGS   := -target bpf -mcpu=v3 -D__TARGET_ARCH_x86 -g -O2 -Wall -Werror \
		-I$(BPF_OUT) -I. -Ibpf

BPF_USER_SRCS := bpf/trace_ctl.c bpf/sampler_ctl.c
BPF_LIB       := $(BUILD)/libbwarb-bpf.a
BPF_LIB_ASAN  := $(BUILD)/libbwarb-bpf-asan.a
# Link line for users of $(BPF_LIB).
BPF_LDLIBS    := -lbpf -lelf -lz -lm

ALL_TARGETS += $(BPF_SKELS) $(BPF_LIB)

$(BPF_OUT)/vmlinux.h: bpf/gen-vmlinux-h.sh
	@mkdir -p $(@D)
	bpf/gen-vmlinux-h.sh $@

# clang's object keeps DWARF; `bpftool gen object` links it into the final
# object with BTF only, which the skeleton embeds.
$(BPF_OUT)/%.clang.o: bpf/%.bpf.c bpf/bwarb_bpf.h $(BPF_OUT)/vmlinux.h
	@mkdir -p $(@D)
	$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BPF_OUT)/%.bpf.o: $(BPF_OUT)/%.clang.o
	$(BPFTOOL) gen object $@ $<

$(BPF_OUT)/%.skel.h: $(BPF_OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf >$@.tmp
	mv $@.tmp $@

.PRECIOUS: $(BPF_OUT)/%.clang.o $(BPF_OUT)/%.bpf.o

# The loaders include the skeletons from $(BPF_OUT).
build/obj/bpf/%.o build/asan/bpf/%.o: CPPFLAGS += -I$(BPF_OUT)
build/obj/bpf/trace_ctl.o build/asan/bpf/trace_ctl.o: $(BPF_OUT)/tracer.skel.h
build/obj/bpf/sampler_ctl.o build/asan/bpf/sampler_ctl.o: $(BPF_OUT)/sampler.skel.h

$(BPF_LIB): $(BPF_USER_SRCS:%.c=build/obj/%.o)
	@rm -f $@
	ar rcs $@ $^

$(BPF_LIB_ASAN): $(BPF_USER_SRCS:%.c=build/asan/%.o)
	@rm -f $@
	ar rcs $@ $^

# bwarbctl's trace and top commands (tools/bwarbctl/cmd_{trace,top}.c).
BWARBCTL_LDLIBS += $(BPF_LIB) $(BPF_LDLIBS)
build/bwarbctl: $(BPF_LIB)
