# Suite 'layout' (a second): libruntime's folders and the way they depend
# on each other (tests/layout/check_layout.py, README "Layout"), then the
# checker itself on copies of the tree with one fault each.
.PHONY: check-layout
check-layout:
	@rc=0; tests/layout/check_layout.py --no-plan libruntime || rc=1; \
	tests/layout/check_faults.sh || rc=1; exit $$rc
CHECK_SUITES += layout
