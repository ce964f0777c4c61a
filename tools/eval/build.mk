# The reference evaluator (eval_reference.h): a tool over libruntime, not
# part of it. `splitmoe eval` and the numerics/gpu suites link it as
# build/libeval.a (optimised) or build/libeval-asan.a (ASan+UBSan).
EVAL_SRCS := $(sort $(wildcard tools/eval/*.c))
EVAL_LIB := build/libeval.a
EVAL_ASAN_LIB := build/libeval-asan.a

$(EVAL_LIB): $(patsubst %.c,build/obj/%.o,$(EVAL_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(EVAL_ASAN_LIB): $(patsubst %.c,build/asan/%.o,$(EVAL_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

ALL_TARGETS += $(EVAL_LIB)
