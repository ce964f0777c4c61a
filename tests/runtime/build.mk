# Runtime tests (loading, tokenizer, YAML config, sampler, CLI), ASan+UBSan.
#
#   check-runtime   cmocka suites (TAP) then tests/runtime/cli.sh (TAP)
#
# Corrupt, sharded and re-typed checkpoints are generated from the fixture
# into build/runtime/variants/ by tests/runtime/make_bad_fixtures.py.
RT_FIXTURE := tests/fixtures/phimoe-tiny-a
RT_VARIANTS := build/runtime/variants
RT_TESTS := test_loader test_tokenizer test_config test_sampler
RT_BINS := $(addprefix build/runtime/,$(RT_TESTS))

$(RT_VARIANTS)/cases.tsv: tests/runtime/make_bad_fixtures.py $(wildcard $(RT_FIXTURE)/*)
	@mkdir -p $(@D)
	python3 tests/runtime/make_bad_fixtures.py $(RT_FIXTURE) $(RT_VARIANTS)

build/runtime/%: build/asan/tests/runtime/%.o $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $< $(RUNTIME_ASAN_LIB) $(RUNTIME_LDLIBS) -lcmocka

.PHONY: check-runtime
check-runtime: $(RT_BINS) build/splitmoe-asan $(RT_VARIANTS)/cases.tsv
	@export CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1; rc=0; \
	build/runtime/test_loader $(RT_FIXTURE) $(RT_VARIANTS) || rc=1; \
	build/runtime/test_tokenizer $(RT_FIXTURE) $(RT_VARIANTS) || rc=1; \
	build/runtime/test_config configs/splitmoe.yaml build/runtime || rc=1; \
	build/runtime/test_sampler || rc=1; \
	tests/runtime/cli.sh build/splitmoe-asan $(RT_FIXTURE) $(RT_VARIANTS) || rc=1; \
	exit $$rc
CHECK_SUITES += runtime
