# splitmoe serve and chat on fixture C, ASan+UBSan binary, loopback only.
#
#   check-serve   tests/serve/test_serve.py: HTTP replies (plain, SSE),
#                 8 concurrent greedy requests against `splitmoe run`,
#                 disconnects, bad bodies, /metrics, SIGTERM; then
#                 tests/serve/test_chat.py: chat through a pseudo-terminal.
#                 About 10 s on 2 cores.
SERVE_FIXTURE := tests/fixtures/phimoe-tiny-c
.PHONY: check-serve
# (PoCL's cache shared with the gpu suites: a kernel's first compile in
# PoCL leaves allocations of its own that LeakSanitizer reports.)
check-serve: build/splitmoe-asan
	@mkdir -p build/pocl-cache
	@export ASAN_OPTIONS=detect_leaks=1 SERVE_TMP=build POCL_CACHE_DIR=$(abspath build/pocl-cache); rc=0; \
	python3 tests/serve/test_serve.py build/splitmoe-asan $(SERVE_FIXTURE) || rc=1; \
	python3 tests/serve/test_chat.py build/splitmoe-asan $(SERVE_FIXTURE) || rc=1; \
	exit $$rc
CHECK_SUITES += serve
