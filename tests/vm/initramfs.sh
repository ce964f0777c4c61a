#!/usr/bin/env bash
# Builds the guest's busybox initramfs for the unpacked kernel in DIR (as
# printed by tests/vm/kernel.sh) and prints its path. The archive lives in
# DIR and is named after a hash of its inputs (tests/vm/init, this script,
# the module list, busybox, the kernel), so it is rebuilt when one changes.
# Uncompressed cpio: decompressing under TCG costs more than reading it.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:?usage: initramfs.sh KERNEL-CACHE-DIR}
kver=$(basename "$dir")
moddir="$dir/pkg/lib/modules/$kver"
busybox=${BUSYBOX:-/bin/busybox}
# What the guest needs before the host root is mounted: the PCI transport,
# the 9p file system over virtio, and virtio-serial for the command output.
wanted="virtio_pci 9pnet_virtio 9p virtio_console"

if ! "$busybox" --list >/dev/null 2>&1; then
	echo "vm: $busybox is not a busybox binary (install busybox-static)" >&2
	exit 1
fi
if LC_ALL=C readelf -l "$busybox" 2>/dev/null | grep 'INTERP' >/dev/null; then
	echo "vm: $busybox is dynamically linked (install busybox-static)" >&2
	exit 1
fi

# Named after its inputs (checked on every run, so kept cheap: no parsing).
hash=$( {
	echo "$kver $wanted"
	stat -L -c '%s %Y' "$moddir/modules.dep" "$busybox"
	cat "$here/init" "$0"
} | sha256sum | cut -c1-16)
out="$dir/initramfs-$hash.cpio"
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi
exec 9>"$dir/.initramfs.lock"
flock 9
if [ -f "$out" ]; then
	echo "$out"
	exit 0
fi

# Dependency order from modules.dep: each module after everything it uses.
declare -A deps seen
while IFS=: read -r mod rest; do
	deps[$mod]=$rest
done <"$moddir/modules.dep"
order=()
visit() {
	local m=$1 d
	[ -n "${seen[$m]:-}" ] && return
	seen[$m]=1
	for d in ${deps[$m]}; do
		visit "$d"
	done
	order+=("$m")
}
for name in $wanted; do
	path=$(grep -E "(^|/)$name\.ko:" "$moddir/modules.dep" | cut -d: -f1 || true)
	if [ -z "$path" ]; then
		echo "vm: module $name not in $moddir/modules.dep" >&2
		exit 1
	fi
	visit "$path"
done


stage=$(mktemp -d "$dir/initramfs.XXXXXX")
trap 'rm -rf "$stage" "$stage.cpio"' EXIT
mkdir -p "$stage"/{bin,dev,proc,sys,newroot,host,modules}
cp "$busybox" "$stage/bin/busybox"
for a in $("$busybox" --list); do
	[ "$a" = busybox ] || ln -s busybox "$stage/bin/$a"
done
install -m 755 "$here/init" "$stage/init"
for m in "${order[@]}"; do
	cp "$moddir/$m" "$stage/modules/"
	basename "$m" >>"$stage/modules/order"
done
# The kernel opens /dev/console before /init; without the node (not root)
# init reopens it itself after mounting devtmpfs.
[ "$(id -u)" -eq 0 ] && mknod -m 600 "$stage/dev/console" c 5 1
(cd "$stage" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc --quiet -R 0:0) >"$stage.cpio"
mv "$stage.cpio" "$out"
# Older archives are dead weight.
find "$dir" -maxdepth 1 -name 'initramfs-*.cpio' ! -name "$(basename "$out")" -delete
echo "$out"
