#!/usr/bin/env bash
# Suite 'vm': checks the VM harness itself (tests/vm/run) in three guest
# boots plus a few no-boot cases. TAP on stdout. About 30 s on 2 cores.
#   1. the guest's view: repo at the same path and current directory, the
#      guest kernel is scripts/kver.sh's, root and uid 65534, mounts,
#      resources, modprobe; output and a non-zero status come back; the
#      guest dmesg check passes on a clean run
#   2. status 0 comes back; a current directory under /tmp is visible; a
#      WARNING in the guest log is caught by tests/vm/check-dmesg; --dmesg
#      saves the log
#   3. a kernel panic ends the run with status 125 and a clear message
#   and a --timeout that expires (exit 124), killed during boot.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
run=tests/vm/run
work=$(mktemp -d "${TMPDIR:-/tmp}/vm-selfcheck.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
# Run directories (and so QEMU's command lines) under $work: see the last test.
export TMPDIR=$work
n=0
fails=0
tap() { # tap OK|FAIL WHAT [detail...]
	n=$((n + 1))
	if [ "$1" = OK ]; then
		echo "ok $n - $2"
	else
		echo "not ok $n - $2"
		shift 2
		[ $# -gt 0 ] && printf '# %s\n' "$@"
		fails=$((fails + 1))
	fi
}
expect() { # expect WHAT GOT WANT
	if [ "$2" = "$3" ]; then tap OK "$1"; else tap FAIL "$1" "got '$2', want '$3'"; fi
}
field() { sed -n "s|^guest: $1=||p" "$work/out1" | head -n 1; }

token=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')
mkdir -p build/vm-selfcheck
echo "$token" >build/vm-selfcheck/token
# No boot: a missing module is reported before anything starts.
BWARB_KO=/nonexistent/bwarb.ko $run --load -- true >/dev/null 2>"$work/err0"
rc=$?
if [ $rc -eq 125 ] && grep -q 'BWARB_KO=/nonexistent/bwarb.ko does not exist' "$work/err0"; then
	tap OK "--load without the module fails with 125 and says why"
else
	tap FAIL "--load without the module fails with 125 and says why" "status $rc" "$(cat "$work/err0")"
fi

# Boot 1, from a subdirectory so that the current directory is checked too.
t0=$(date +%s)
(cd tests/vm && ./run --check-dmesg --timeout 240 -- \
	"$top/tests/vm/selfcheck-guest.sh" "$top/build/vm-selfcheck/token") >"$work/out1" 2>"$work/err1"
rc=$?
echo "# boot 1: $(( $(date +%s) - t0 )) s"
grep -v '^seq ' "$work/out1" | sed 's/^/# | /'
[ -s "$work/err1" ] && sed 's/^/# stderr | /' "$work/err1"
expect "non-zero exit status of COMMAND comes back" "$rc" 42
expect "output comes back; the repo is at the same path in the guest" "$(field token)" "$token"
expect "bulk output comes back whole (50000 lines, in order)" \
	"$(grep '^seq ' "$work/out1" | md5sum)" "$(seq 1 50000 | sed 's/^/seq /' | md5sum)"
expect "COMMAND runs in the current directory" "$(field pwd)" "$top/tests/vm"
expect "guest kernel is scripts/kver.sh's" "$(field uname)" "$(scripts/kver.sh)"
expect "COMMAND runs as root" "$(field uid)" 0
expect "tests/vm/as-nobody runs as uid 65534" "$(field nobody_uid)" 65534
expect "tests/vm/as-nobody drops supplementary groups" "$(field nobody_groups)" 65534
expect "uid 65534 cannot write to debugfs" "$(field nobody_debugfs_write)" "Permission denied"
expect "guest has 2 vCPUs" "$(field nproc)" 2
mem=$(field mem_mb)
if [ -n "$mem" ] && [ "$mem" -ge 900 ]; then tap OK "guest has about 1 GiB of memory ($mem MB)"; else tap FAIL "guest has about 1 GiB of memory" "MemTotal $mem MB"; fi
expect "host root is 9p" "$(field 'fs\[/\]')" 9p
expect "/tmp is tmpfs" "$(field 'fs\[/tmp\]')" tmpfs
expect "/sys/kernel/debug is debugfs" "$(field 'fs\[/sys/kernel/debug\]')" debugfs
expect "/sys/kernel/tracing is tracefs" "$(field 'fs\[/sys/kernel/tracing\]')" tracefs
expect "/sys/fs/bpf is bpffs" "$(field 'fs\[/sys/fs/bpf\]')" bpf
expect "/tmp is writable" "$(field tmp_writable)" yes
expect "the host root is read-only" "$(field root_writable)" no
expect "modprobe finds the guest kernel's modules" "$(field modprobe)" works
if grep -qx 'ok - guest dmesg clean' "$work/out1"; then
	tap OK "--check-dmesg passes on a clean run"
else
	tap FAIL "--check-dmesg passes on a clean run"
fi

# Boot 2: status 0, a warning in the guest log, and a current directory
# under /tmp (hidden by the guest's own /tmp unless the harness binds it).
echo two >"$work/marker"
(cd "$work" && "$top/$run" --dmesg "$work/dmesg2" --timeout 240 -- \
	sh -c 'echo "WARNING: CPU: 0 PID: 1 at vm-selfcheck injected" >/dev/kmsg; cat marker') \
	>"$work/out2" 2>"$work/err2"
rc=$?
expect "zero exit status of COMMAND comes back" "$rc" 0
expect "a current directory under the host's /tmp is visible in the guest" "$(cat "$work/out2")" two
if [ -s "$work/dmesg2" ] && grep -q 'vm-run: command start' "$work/dmesg2"; then
	tap OK "--dmesg saves the guest kernel log"
else
	tap FAIL "--dmesg saves the guest kernel log" "$(cat "$work/err2")"
fi
tests/vm/check-dmesg "$work/dmesg2" >"$work/check2"
rc=$?
if [ $rc -eq 1 ] && grep -q '^not ok - guest dmesg clean' "$work/check2" &&
	grep -q '^# .*vm-selfcheck injected' "$work/check2"; then
	tap OK "check-dmesg fails on a WARNING and shows the line"
else
	tap FAIL "check-dmesg fails on a WARNING and shows the line" "status $rc" "$(cat "$work/check2")"
fi

# Boot 3: a kernel panic ends the run at once, with the console.
$run --timeout 240 -- sh -c 'echo c >/proc/sysrq-trigger; sleep 600' >/dev/null 2>"$work/err3"
rc=$?
if [ $rc -eq 125 ] && grep -q 'guest kernel panicked' "$work/err3" &&
	grep -q 'Kernel panic' "$work/err3"; then
	tap OK "a kernel panic exits 125 with a message and the console tail"
else
	tap FAIL "a kernel panic exits 125 with a message and the console tail" "status $rc" "$(tail -n 5 "$work/err3")"
fi

# A timeout (killed while booting: any phase will do).
t0=$(date +%s)
$run --timeout 3 -- sleep 600 >/dev/null 2>"$work/err4"
rc=$?
took=$(( $(date +%s) - t0 ))
if [ $rc -eq 124 ] && grep -q 'timeout: guest still running after 3 s' "$work/err4" && [ $took -lt 30 ]; then
	tap OK "--timeout kills the guest and exits 124 with a message"
else
	tap FAIL "--timeout kills the guest and exits 124 with a message" "status $rc after $took s" "$(head -n 3 "$work/err4")"
fi
# (the pattern does not match its own grep: "[.]" is not ".")
if grep -la "$work/vm-run[.]" /proc/[0-9]*/cmdline >/dev/null 2>&1; then
	tap FAIL "no QEMU left behind"
else
	tap OK "no QEMU left behind"
fi
echo "1..$n"
[ $fails -eq 0 ]
