# The public API (include/splitmoe.h, libsplitmoe/).
#
#   check-examples   test_api: the wrappers under ASan+UBSan (cmocka, TAP);
#                    test_api_core: configuration, reports, system calls;
#                    test_api_arbiter: arbiter clients, calibration, counter;
#                    test_api_files: splitmoe_quantize and splitmoe_synth
#                    write directories that load (cmocka, TAP);
#                    generate.sh: examples/generate on libsplitmoe.so.0
#                    gives `splitmoe run`'s text on fixture A, and the
#                    library exports splitmoe_* only
API_FIXTURE := tests/fixtures/phimoe-tiny-a

build/asan/tests/examples/test_api.o build/asan/tests/examples/test_api_core.o \
		build/asan/tests/examples/test_api_files.o: \
	CPPFLAGS += -Iinclude \
	-DSPLITMOE_VERSION_STRING='"$(SPLITMOE_VERSION)"'

build/examples/test_api build/examples/test_api_core: build/examples/%: \
		build/asan/tests/examples/%.o $(LIBSPLITMOE_ASAN_OBJS) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $< $(LIBSPLITMOE_ASAN_OBJS) $(RUNTIME_ASAN_LIB) \
		$(RUNTIME_LDLIBS) -lcmocka

# test_api_arbiter: the arbiter clients, calibration and DRAM counter.
build/asan/tests/examples/test_api_arbiter.o: CPPFLAGS += -Iinclude

build/examples/test_api_arbiter: build/asan/tests/examples/test_api_arbiter.o \
		$(LIBSPLITMOE_ASAN_OBJS) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $< $(LIBSPLITMOE_ASAN_OBJS) $(RUNTIME_ASAN_LIB) \
		$(RUNTIME_LDLIBS) -lcmocka

build/examples/test_api_files: build/asan/tests/examples/test_api_files.o \
		$(LIBSPLITMOE_ASAN_OBJS) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $< $(LIBSPLITMOE_ASAN_OBJS) $(RUNTIME_ASAN_LIB) \
		$(RUNTIME_LDLIBS) -lcmocka

.PHONY: check-examples
check-examples: build/examples/test_api build/examples/test_api_core \
		build/examples/test_api_arbiter build/examples/test_api_files build/examples/generate \
		build/splitmoe
	@export CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1; rc=0; \
	build/examples/test_api $(API_FIXTURE) || rc=1; \
	build/examples/test_api_core $(API_FIXTURE) || rc=1; \
	build/examples/test_api_arbiter $(API_FIXTURE) || rc=1; \
	build/examples/test_api_files $(API_FIXTURE) || rc=1; \
	tests/examples/generate.sh build/examples/generate build/splitmoe $(API_FIXTURE) || rc=1; \
	exit $$rc
CHECK_SUITES += examples
