# The reference evaluator on a runtime session of the caller's making
# (tests/eval/eval_reference.h): what the numerics and gpu suites run the
# fixture's criteria through, with backends and options the public API has
# no names for. build/libeval-tests-asan.a holds it, the evaluator's core
# (tools/eval/) and the API's implementation it runs on; `splitmoe eval`
# needs none of it. Named literally: tools/ and libsplitmoe/'s fragments
# are included after this one.
TEST_EVAL_SRCS := $(sort $(wildcard tests/eval/*.c) $(wildcard tools/eval/*.c) \
	$(wildcard libsplitmoe/*.c))
TEST_EVAL_ASAN_LIB := build/libeval-tests-asan.a

build/asan/tests/eval/%.o: CPPFLAGS += -Iinclude

$(TEST_EVAL_ASAN_LIB): $(patsubst %.c,build/asan/%.o,$(TEST_EVAL_SRCS))
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^
