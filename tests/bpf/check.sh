#!/usr/bin/env bash
# make check-bpf: boots the VM once for tests/bpf/vm-suite.sh (and the
# harness's dmesg check) and numbers the TAP result lines.
set -o pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
"$top/tests/vm/run" --check-dmesg --timeout "${BPF_VM_TIMEOUT:-400}" -- \
	"$top/tests/bpf/vm-suite.sh" |
	awk '/^(not )?ok( [0-9]+)?( |$)/ {
		n++
		sub(/^ok( [0-9]+)?/, "ok " n)
		sub(/^not ok( [0-9]+)?/, "not ok " n)
	}
	{ print; fflush() }'
