#!/usr/bin/env bash
# TAP: dkms.conf builds bwarb.ko with `dkms build` against each kernel
# headers tree given, in a private DKMS tree under WORK (nothing of
# /var/lib/dkms or /usr/src is touched; modules are not signed).
#   dkms.sh WORK VERSION KVER...
set -u
work=$(mkdir -p "$1" && cd "$1" && pwd) version=$2
shift 2
top=$(cd "$(dirname "$0")/../.." && pwd)
src=$work/src/bwarb-$version
rm -rf "$work" && mkdir -p "$src/kmod/uapi" "$work/tree"
# The source tree as bwarb-dkms installs it (make install).
cp "$top/Kbuild" "$top/dkms.conf" "$src/" && cp "$top"/kmod/*.[ch] "$src/kmod/" &&
	cp "$top"/kmod/uapi/*.h "$src/kmod/uapi/"
n=0 fail=0
conf_version=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$src/dkms.conf")
n=$((n + 1))
if [ "$conf_version" = "$version" ]; then
	echo "ok $n - dkms.conf's PACKAGE_VERSION is VERSION's ($version)"
else
	fail=1
	echo "not ok $n - dkms.conf's PACKAGE_VERSION ($conf_version) is VERSION's ($version)"
fi
for k in "$@"; do
	n=$((n + 1))
	if [ ! -e "/lib/modules/$k/build/Makefile" ]; then
		echo "not ok $n - dkms build for $k: no headers in /lib/modules/$k/build"
		fail=1
		continue
	fi
	# sign_file pointing nowhere: dkms would otherwise make a MOK key in
	# /var/lib/dkms to sign a module nobody loads.
	if (cd "$work" && sign_file=/nonexistent dkms build -m bwarb -v "$version" -k "$k" \
		--sourcetree "$work/src" --dkmstree "$work/tree") >"$work/$k.log" 2>&1 &&
		modinfo -F vermagic "$work/tree/bwarb/$version/$k/x86_64/module/bwarb.ko" |
		grep -q "^$k "; then
		echo "ok $n - dkms build: bwarb.ko for $k"
	else
		fail=1
		echo "not ok $n - dkms build: bwarb.ko for $k"
		sed 's/^/# /' "$work/$k.log" | tail -n 30
	fi
done
exit $fail
