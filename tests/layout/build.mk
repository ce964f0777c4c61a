# Suite 'layout' (a second): libruntime's folders and the way they depend
# on each other (tests/layout/check_layout.py, README "Layout"), splitmoe's
# subcommands and evaluator on the public API only (check_api_only.sh),
# then the checker itself on copies of the tree with one fault each.
.PHONY: check-layout
check-layout: build/splitmoe
	@rc=0; tests/layout/check_layout.py --no-plan libruntime || rc=1; \
	LAYOUT_TESTS_BEFORE=5 tests/layout/check_api_only.sh --no-plan || rc=1; \
	LAYOUT_TESTS_BEFORE=7 tests/layout/check_faults.sh || rc=1; exit $$rc
CHECK_SUITES += layout
