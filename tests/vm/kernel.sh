#!/usr/bin/env bash
# tests/vm/kernel.sh [FLAVOUR]
#
# Makes sure the Debian linux-image matching the installed linux-headers
# (scripts/kver.sh) is unpacked under .cache/vm/KVER/pkg, with modules.dep
# generated, and prints that directory. Never installs the package: the
# image is fetched with `apt-get download` and unpacked with dpkg-deb.
# Safe to run concurrently (flock) and a quick no-op once done.
#
# FLAVOUR "rt": Debian's PREEMPT_RT kernel of the same ABI
# (linux-image-ABI-rt-amd64), and, since the module must be built against
# it, its headers (linux-headers-ABI-rt-amd64 and -common-rt) unpacked
# under .cache/vm/KVER/headers, never installed (installed, they would
# become the newest headers and change scripts/kver.sh in every checkout);
# the kbuild scripts are the installed linux-kbuild-6.1. KDIR for the
# module: .cache/vm/KVER/headers/usr/src/linux-headers-KVER.
# FLAVOUR "debug" is tests/vm/debug-kernel.sh (built, not fetched).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
flavour=${1:-}
case $flavour in
''|generic) flavour= ;;
rt) ;;
debug) exec "$top/tests/vm/debug-kernel.sh" ;;
*) echo "vm: unknown kernel flavour '$flavour' (rt, debug)" >&2; exit 1 ;;
esac
kver=$("$top/scripts/kver.sh")
if [ -z "$kver" ]; then
	echo "vm: no /usr/src/linux-headers-*-amd64 installed (run scripts/deps.sh)" >&2
	exit 1
fi
hdr_ver=$kver
[ -n "$flavour" ] && kver=${kver%-amd64}-$flavour-amd64
cache="$top/.cache/vm"
dir="$cache/$kver"
if [ -f "$dir/ready" ] && [ -f "$dir/vmlinux.done" ] &&
	{ [ -z "$flavour" ] || [ -f "$dir/headers.done" ]; }; then
	echo "$dir"
	exit 0
fi
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

# The uncompressed ELF kernel boots through its PVH entry point: no BIOS
# real-mode set-up and, above all, no xz decompression under TCG (seconds
# on an idle machine, half a minute on a loaded one). tests/vm/run falls
# back to the bzImage when this is not possible.
extract_vmlinux() {
	local bz="$dir/pkg/boot/vmlinuz-$kver" off
	rm -f "$dir/vmlinux" "$dir/vmlinux.tmp"
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$bz" | head -n 1 | cut -d: -f1)
	if [ -n "$off" ] &&
		xz -dc --single-stream < <(tail -c +$((off + 1)) "$bz") >"$dir/vmlinux.tmp" 2>/dev/null &&
		LC_ALL=C readelf -n "$dir/vmlinux.tmp" 2>/dev/null | grep 'Xen.*(0x00000012)' >/dev/null; then
		mv "$dir/vmlinux.tmp" "$dir/vmlinux"
	else
		rm -f "$dir/vmlinux.tmp"
		echo "vm: no PVH-bootable vmlinux in $bz, booting the bzImage (slower)" >&2
	fi
	touch "$dir/vmlinux.done"
}
# The headers of a flavour, unpacked beside its image; their absolute
# references (the common part's Makefile, the kbuild scripts) are pointed
# at the unpacked copy and at the installed linux-kbuild-6.1.
fetch_headers() {
	local hdl deb h common
	[ -f "$dir/headers.done" ] && return 0
	hdl=$(mktemp -d "$cache/dl.XXXXXX")
	common="linux-headers-${kver%-amd64}"
	common="${common%-$flavour}-common-$flavour"
	echo "vm: fetching linux-headers-$kver and $common (once)" >&2
	(cd "$hdl" && apt-get -q -o APT::Sandbox::User=root download \
		"linux-headers-$kver${want:+=$want}" "$common${want:+=$want}" >&2)
	rm -rf "$dir/headers"
	mkdir -p "$dir/headers"
	for deb in "$hdl"/*.deb; do
		dpkg-deb -x "$deb" "$dir/headers"
	done
	rm -rf "$hdl"
	h="$dir/headers/usr/src/linux-headers-$kver"
	sed -i "s|/usr/src/$common/|$dir/headers/usr/src/$common/|" "$h/Makefile"
	for l in scripts tools; do
		for d in "$h" "$dir/headers/usr/src/$common"; do
			[ -L "$d/$l" ] && ln -sfn "/usr/lib/linux-kbuild-6.1/$l" "$d/$l"
		done
	done
	touch "$dir/headers.done"
}
want=$(dpkg-query -W -f='${Version}' "linux-headers-$hdr_ver" 2>/dev/null || true)
if [ -f "$dir/ready" ]; then
	[ -f "$dir/vmlinux.done" ] || extract_vmlinux
	[ -z "$flavour" ] || fetch_headers
	echo "$dir"
	exit 0
fi

# Prefer exactly the version of the headers package; the ABI name in kver
# guarantees module compatibility if the mirror has moved on.
pkg="linux-image-$kver"
have_pkg() { apt-cache show "$1" >/dev/null 2>&1; }
if ! have_pkg "$pkg" && ! have_pkg "$pkg-unsigned"; then
	if [ "$(id -u)" -eq 0 ]; then
		echo "vm: $pkg not in the apt lists, running apt-get update" >&2
		apt-get update -q >&2
	fi
fi
if ! have_pkg "$pkg"; then
	pkg="$pkg-unsigned"
	if ! have_pkg "$pkg"; then
		echo "vm: neither linux-image-$kver nor $pkg is known to apt; if the mirror has moved to a newer ABI, upgrade the headers (apt-get install linux-headers-amd64) so that scripts/kver.sh names it" >&2
		exit 1
	fi
fi
spec="$pkg"
if [ -n "$want" ] && apt-cache show "$pkg=$want" >/dev/null 2>&1; then
	spec="$pkg=$want"
elif [ -n "$want" ]; then
	echo "vm: $pkg $want not on the mirror, using its candidate (same ABI $kver)" >&2
fi

dl=$(mktemp -d "$cache/dl.XXXXXX")
trap 'rm -rf "$dl"' EXIT
echo "vm: fetching $spec (about 70 MB, once)" >&2
(cd "$dl" && apt-get -q -o APT::Sandbox::User=root download "$spec" >&2)
deb=$(ls "$dl"/*.deb)
echo "vm: unpacking $(basename "$deb") into ${dir#"$top"/}" >&2
rm -rf "$dir"
mkdir -p "$dl/pkg"
dpkg-deb -x "$deb" "$dl/pkg"
rm -rf "$dl/pkg/usr" "$deb"
if [ ! -f "$dl/pkg/boot/vmlinuz-$kver" ] || [ ! -d "$dl/pkg/lib/modules/$kver" ]; then
	echo "vm: $deb holds no boot/vmlinuz-$kver or lib/modules/$kver" >&2
	exit 1
fi
PATH=$PATH:/sbin:/usr/sbin depmod -b "$dl/pkg" "$kver"
mkdir -p "$dir"
mv "$dl/pkg" "$dir/pkg"
echo "$spec" >"$dir/ready"
extract_vmlinux
[ -z "$flavour" ] || fetch_headers
# Kernels of earlier header versions are dead weight (about 440 MB each);
# the other flavours of this version and the debug kernel stay.
abi=${hdr_ver%-amd64}
find "$cache" -mindepth 1 -maxdepth 1 -type d -name '*-amd64' \
	! -name "$abi-amd64" ! -name "$abi-*-amd64" ! -name 'dl.*' -exec rm -rf {} +
echo "$dir"
