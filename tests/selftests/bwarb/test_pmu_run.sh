#!/bin/bash
# Runs in the VM guest (tests/vm/run --load, so bwarb.ko is loaded): loads
# the test PMU, runs the counters selftests with bwarbctl, leaves the
# source 'declared' with no counters and the test PMU unloaded.
set -u
top=$(cd "$(dirname "$0")/../../.." && pwd)
cd "$top" || exit 1
export BWARBCTL="$top/build/bwarbctl"
if ! grep -q '^bwarb_test_pmu ' /proc/modules; then
	insmod "${TEST_PMU_KO:-build/bwarb_test_pmu.ko}" nr_pmus=2 || {
		echo "not ok 1 - insmod ${TEST_PMU_KO:-build/bwarb_test_pmu.ko}"
		exit 1
	}
fi
build/selftests/test_pmu_counters
rc=$?
echo declared >/sys/kernel/bwarb/source 2>/dev/null
echo clear >/sys/kernel/bwarb/counters 2>/dev/null
grep -q '^bwarb_test_pmu ' /proc/modules && rmmod bwarb_test_pmu
exit $rc
