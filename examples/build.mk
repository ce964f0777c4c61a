# examples/: programs written against the public API only (include/ and
# libsplitmoe.so.0), as a user of the installed libsplitmoe-dev builds
# them. The suite 'examples' runs generate on fixture A and compares its
# text with `splitmoe run`'s.
EXAMPLES_FIXTURE := tests/fixtures/phimoe-tiny-a

build/examples/%: examples/%.c include/splitmoe.h $(LIBSPLITMOE) build/libsplitmoe.so
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) -Iinclude -o $@ $< -Lbuild -lsplitmoe -Wl,-rpath,'$$ORIGIN/..'

ALL_TARGETS += build/examples/generate

.PHONY: check-examples
check-examples: build/examples/generate build/splitmoe
	@tests/examples/generate.sh build/examples/generate build/splitmoe $(EXAMPLES_FIXTURE)
CHECK_SUITES += examples
