# The reference evaluator of `splitmoe eval`: eval_core.h, on the public
# API only (the tests run it on a runtime session through
# tests/eval/build.mk). Linked as build/libeval.a (optimised) or
# build/libeval-asan.a (ASan+UBSan), each with the API's implementation
# (libsplitmoe/) it runs on.
EVAL_SRCS := $(sort $(wildcard tools/eval/*.c))
EVAL_LIB := build/libeval.a
EVAL_ASAN_LIB := build/libeval-asan.a

# splitmoe.h for the evaluator and for the tests that include it
$(patsubst %.c,build/obj/%.o,$(EVAL_SRCS)) $(patsubst %.c,build/asan/%.o,$(EVAL_SRCS)) \
	build/asan/tests/numerics/%.o build/asan/tests/gpu/%.o: CPPFLAGS += -Iinclude

$(EVAL_LIB): $(patsubst %.c,build/obj/%.o,$(EVAL_SRCS)) $(LIBSPLITMOE_STATIC_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(EVAL_ASAN_LIB): $(patsubst %.c,build/asan/%.o,$(EVAL_SRCS)) $(LIBSPLITMOE_ASAN_OBJS)
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

ALL_TARGETS += $(EVAL_LIB)
