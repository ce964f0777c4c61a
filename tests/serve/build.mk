# splitmoe serve and chat on fixture C, ASan+UBSan binary, loopback only.
#
#   check-serve   tests/serve/test_serve.py: HTTP replies (plain, SSE),
#                 8 concurrent greedy requests against `splitmoe run`,
#                 disconnects, bad bodies, /metrics, SIGTERM; then
#                 tests/serve/test_chat.py: chat through a pseudo-terminal.
#                 About 10 s on 2 cores.
SERVE_FIXTURE := tests/fixtures/phimoe-tiny-c
.PHONY: check-serve
check-serve: build/splitmoe-asan
	@export ASAN_OPTIONS=detect_leaks=1 SERVE_TMP=build; rc=0; \
	python3 tests/serve/test_serve.py build/splitmoe-asan $(SERVE_FIXTURE) || rc=1; \
	python3 tests/serve/test_chat.py build/splitmoe-asan $(SERVE_FIXTURE) || rc=1; \
	exit $$rc
CHECK_SUITES += serve
