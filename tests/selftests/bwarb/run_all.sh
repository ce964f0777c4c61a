#!/bin/sh
# Runs in the guest (tests/vm/run --load), from the repository top: every
# bwarb selftest binary, one after the other. Exit status: non-zero if any
# failed.
rc=0
for t in build/selftests/bwarb*_test; do
	[ -x "$t" ] || continue
	echo "# running $t"
	"$t" || rc=1
done
exit $rc
