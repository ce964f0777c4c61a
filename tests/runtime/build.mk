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

# make fuzz: libFuzzer (clang-14) on the safetensors and YAML parsers,
# seeded with the fixture's checkpoint, its corrupt variants and the YAML
# files; FUZZ_SECONDS per run (default 120).
FUZZ_SECONDS ?= 120
RT_FUZZ_SRCS := tests/runtime/fuzz_safetensors.c libruntime/model/safetensors.c \
	libruntime/model/dtype.c libruntime/model/model.c libruntime/model/model_config.c \
	libruntime/config/config_yaml.c libruntime/config/options.c libruntime/config/split_rules.c \
	libruntime/model/json_file.c libruntime/util/errbuf.c
build/runtime/fuzz_safetensors: $(RT_FUZZ_SRCS) libruntime/model/safetensors.h libruntime/config/config_yaml.h
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS) $(CSTD) -g -O1 -fsanitize=fuzzer,address,undefined $(RT_FUZZ_SRCS) \
		-o $@ -ljson-c -lyaml -lm

.PHONY: fuzz-runtime
fuzz-runtime: build/runtime/fuzz_safetensors $(RT_VARIANTS)/cases.tsv
	@mkdir -p build/runtime/fuzz-corpus
	@cp -L $(RT_FIXTURE)/model.safetensors build/runtime/fuzz-corpus/fixture.safetensors
	@for d in $(RT_VARIANTS)/*/; do f=$$d/model.safetensors; \
		[ -f $$f ] && [ $$(stat -Lc %s $$f) -lt 4000000 ] && cp -L $$f build/runtime/fuzz-corpus/$$(basename $$d).safetensors; done; true
	@cp configs/splitmoe.yaml build/runtime/fuzz-corpus/
	build/runtime/fuzz_safetensors -max_total_time=$(FUZZ_SECONDS) -max_len=65536 \
		-rss_limit_mb=1024 -artifact_prefix=build/runtime/ build/runtime/fuzz-corpus
FUZZ_TARGETS += fuzz-runtime

# Quantized model files: splitmoe quantize on fixtures A and C, the files'
# logits against --quant at load, run/info/eval on them, every bad variant
# of make_bad_qfiles.py, interruption (quant_files.sh, TAP); then the
# library's view of fixture A's files (test_qfiles, cmocka).
QF_FIXTURE_C := ../shared/fixtures/phimoe-tiny-c
QF_WORK := build/runtime/qfiles

.PHONY: check-quant-files
check-quant-files: build/runtime/test_qfiles build/splitmoe-asan build/splitmoe \
		$(RT_VARIANTS)/cases.tsv
	@export CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1; rc=0; \
	tests/runtime/quant_files.sh build/splitmoe-asan build/splitmoe $(RT_FIXTURE) \
		$(QF_FIXTURE_C) $(QF_WORK) $(RT_VARIANTS) || rc=1; \
	build/runtime/test_qfiles $(RT_FIXTURE) $(QF_WORK) || rc=1; \
	exit $$rc
CHECK_SUITES += quant-files
