#!/bin/sh
# Guest half of the vm suite (tests/vm/selfcheck.sh boots it once):
# checks the guest's view of the world and prints "guest: NAME=VALUE"
# lines for the host to compare, then exits 42 so the host can check that
# a non-zero status comes back.
#   selfcheck-guest.sh TOKEN-FILE
token_file=$1
here=$(dirname "$0")
echo "guest: token=$(cat "$token_file" 2>&1)"
echo "guest: pwd=$(pwd -P)"
echo "guest: uname=$(uname -r)"
echo "guest: uid=$(id -u)"
echo "guest: nobody_uid=$("$here/as-nobody" id -u 2>&1)"
echo "guest: nobody_groups=$("$here/as-nobody" id -G 2>&1)"
# Expected: "Permission denied" from the shell's redirection.
err=$("$here/as-nobody" sh -c 'echo x >/sys/kernel/debug/vm-selfcheck' 2>&1) &&
	err=allowed
echo "guest: nobody_debugfs_write=$(echo "$err" | grep -o 'Permission denied\|allowed' || echo "$err")"
echo "guest: nproc=$(nproc)"
echo "guest: mem_mb=$(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo)"
fstype() { awk -v m="$1" '$2 == m { t = $3 } END { print t }' /proc/mounts; }
for m in / /tmp /dev /proc /sys /sys/kernel/debug /sys/kernel/tracing /sys/fs/bpf; do
	echo "guest: fs[$m]=$(fstype "$m")"
done
if touch /tmp/vm-selfcheck 2>/dev/null; then
	echo "guest: tmp_writable=yes"
else
	echo "guest: tmp_writable=no"
fi
if touch "$token_file.guest" 2>/dev/null; then
	echo "guest: root_writable=yes"
else
	echo "guest: root_writable=no"
fi
# The guest kernel's own modules are where modprobe looks.
if modprobe dummy numdummies=0 2>/dev/null && rmmod dummy; then
	echo "guest: modprobe=works"
else
	echo "guest: modprobe=fails"
fi
# Bulk output (about 0.5 MB) to check that none is lost before power-off.
seq 1 50000 | sed 's/^/seq /'
exit 42
