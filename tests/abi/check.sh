#!/usr/bin/env bash
# TAP: docs/ABI/ (the kernel's Documentation/ABI format) against kmod/.
#   check.sh GET_ABI_PL
# 1: the kernel's own parser (scripts/get_abi.pl validate) accepts it;
# 2: every sysfs attribute, module parameter and debugfs file kmod/
#    creates has a What: entry, and every What: names one that exists.
set -u
get_abi=$1
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

if perl "$get_abi" --dir docs/ABI validate >"$tmp/validate" 2>&1 && ! grep -q . "$tmp/validate"; then
	echo "ok 1 - get_abi.pl validate: docs/ABI parses as the kernel's ABI files"
else
	fail=1
	sed 's/^/# /' "$tmp/validate"
	echo "not ok 1 - get_abi.pl validate: docs/ABI parses as the kernel's ABI files"
fi

# What the module creates. Its attribute arrays list &NAME_attr.attr (or
# .kattr.attr), all on the one kobject /sys/kernel/bwarb.
{
	grep -ohE '&[a-z0-9_]+_attr(\.kattr)?\.attr' kmod/*.c |
		sed -E 's/^&([a-z0-9_]+)_attr.*/\/sys\/kernel\/bwarb\/\1/'
	grep -ohE '^module_param\([a-z0-9_]+' kmod/*.c |
		sed 's/^module_param(/\/sys\/module\/bwarb\/parameters\//'
	grep -ohE 'debugfs_create_file\("[^"]+"' kmod/*.c |
		sed -E 's/^debugfs_create_file\("(.*)"/\/sys\/kernel\/debug\/bwarb\/\1/'
} | sort -u >"$tmp/created"
grep -hE '^What:' docs/ABI/*/* | awk '{print $2}' | sort -u >"$tmp/documented"
if [ "$(wc -l <"$tmp/created")" -ge 30 ] && diff "$tmp/created" "$tmp/documented" >"$tmp/diff"; then
	echo "ok 2 - docs/ABI has one What: for each of the $(wc -l <"$tmp/created") files kmod/ creates, and no other"
else
	fail=1
	sed 's/^/# (< created, > documented) /' "$tmp/diff"
	echo "not ok 2 - docs/ABI has one What: for each file kmod/ creates, and no other"
fi
exit $fail
