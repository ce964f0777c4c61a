# The public API's introspection (include/splitmoe.h: profile, tensors, memory bandwidth):
#
#   check-api-introspect   test_introspect under ASan+UBSan (cmocka, TAP) on
#                          fixture A: DRAM bandwidth in a child process, the
#                          model's tensors by index and by name, the routing
#                          against the engine's, the op-class profile, the KV
#                          block of the batching pool. A few seconds.
INTROSPECT_FIXTURE := tests/fixtures/phimoe-tiny-a

build/asan/tests/api_introspect/test_introspect.o: CPPFLAGS += -Iinclude

build/api_introspect/test_introspect: build/asan/tests/api_introspect/test_introspect.o \
		$(LIBSPLITMOE_ASAN_OBJS) $(RUNTIME_ASAN_LIB)
	@mkdir -p $(@D)
	$(CC) $(SANITIZE) -o $@ $< $(LIBSPLITMOE_ASAN_OBJS) $(RUNTIME_ASAN_LIB) \
		$(RUNTIME_LDLIBS) -lcmocka

.PHONY: check-api-introspect
check-api-introspect: build/api_introspect/test_introspect
	@CMOCKA_MESSAGE_OUTPUT=TAP ASAN_OPTIONS=detect_leaks=1 \
		build/api_introspect/test_introspect $(INTROSPECT_FIXTURE)
CHECK_SUITES += api-introspect
