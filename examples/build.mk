# examples/: programs written against the public API only (include/ and
# libsplitmoe.so.0), as a user of the installed libsplitmoe-dev builds
# them.
build/examples/%: examples/%.c include/splitmoe.h build/libsplitmoe.so.0 build/libsplitmoe.so
	@mkdir -p $(@D)
	$(CC) $(CSTD) $(WARN) $(OPT) -Iinclude -o $@ $< -Lbuild -lsplitmoe -Wl,-rpath,'$$ORIGIN/..'

ALL_TARGETS += build/examples/generate
