#!/usr/bin/env bash
# Builds (once) the debug guest kernel: linux-source-6.1 (Debian's, the
# series the module targets) configured by allnoconfig with
# tests/vm/debug.config forced in (KCONFIG_ALLCONFIG): only what the VM
# harness and the suites use, plus lockdep with PROVE_RAW_LOCK_NESTING,
# DEBUG_ATOMIC_SLEEP, KASAN, UBSAN, KFENCE; into .cache/debug-kernel/.
# Lays it out like tests/vm/kernel.sh's images: .cache/vm/KVER/pkg with
# boot/, lib/modules/KVER (modules.dep), and vmlinux, and prints that
# directory; the module builds against .cache/debug-kernel/build (KDIR).
# Rebuilt when the fragment or this script changes. About 11 minutes of CPU
# (see README, "Debug kernel"); runs niced.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
src_tar=/usr/src/linux-source-6.1.tar.xz
base="$top/.cache/debug-kernel"
src="$base/linux-source-6.1"
obj="$base/build"
frag="$top/tests/vm/debug.config"
hash=$(cat "$frag" "$0" | sha256sum | cut -c1-16)
mkdir -p "$base"
exec 9>"$base/.lock"
flock 9
if [ -f "$base/ready-$hash" ]; then
	cat "$base/ready-$hash"
	exit 0
fi
[ -f "$src_tar" ] || { echo "debug-kernel: $src_tar missing (apt-get install linux-source-6.1)" >&2; exit 1; }
[ -d "$src" ] || tar -xJf "$src_tar" -C "$base"
jobs=${DEBUG_KERNEL_JOBS:-$(nproc)}
mk() { nice -n 10 make -s -C "$src" O="$obj" "$@"; }
t0=$(date +%s)
mkdir -p "$obj"
# The configuration is made again only when the fragment changed (a new
# .config would rebuild everything).
# allnoconfig: every question Kconfig asks is answered no unless the
# fragment answers it (the base used to be x86_64_defconfig +
# kvm_guest.config: 23 minutes of build for drivers the guest never uses).
cfg_hash=$( (echo allnoconfig; cat "$frag") | sha256sum | cut -c1-16)
if [ "$(cat "$obj/.config-hash" 2>/dev/null)" != "$cfg_hash" ]; then
	mk KCONFIG_ALLCONFIG="$frag" allnoconfig >&2
	echo "$cfg_hash" >"$obj/.config-hash"
fi
# Every requested option must have survived Kconfig.
bad=0
while IFS= read -r line; do
	case $line in ''|\#*) continue ;; esac
	opt=${line%%=*} val=${line#*=}
	if [ "$val" = n ]; then
		grep -qE "^$opt=" "$obj/.config" && { echo "debug-kernel: $opt is not off" >&2; bad=1; }
	else
		grep -qxF "$line" "$obj/.config" || { echo "debug-kernel: $line did not stick" >&2; bad=1; }
	fi
done <"$frag"
[ $bad -eq 0 ] || echo "debug-kernel: (options above were overridden by Kconfig dependencies)" >&2
mk -j"$jobs" bzImage modules >&2
kver=$(cat "$obj/include/config/kernel.release")
dir="$top/.cache/vm/$kver"
rm -rf "$dir"
mkdir -p "$dir/pkg/boot"
mk INSTALL_MOD_PATH="$dir/pkg" INSTALL_MOD_STRIP=1 modules_install >&2
rm -f "$dir/pkg/lib/modules/$kver/build" "$dir/pkg/lib/modules/$kver/source"
# The bzImage, not the ELF vmlinux: with KASAN this kernel dies before its
# first console line when entered through PVH (the generic kernel boots
# that way); the bzImage's own decompressor and set-up work.
cp "$obj/arch/x86/boot/bzImage" "$dir/pkg/boot/vmlinuz-$kver"
touch "$dir/vmlinux.done" && echo debug >"$dir/ready"
echo "debug-kernel: built $kver in $(( $(date +%s) - t0 )) s with -j$jobs" >&2
echo "$(( $(date +%s) - t0 )) s, -j$jobs, $(date -u +%FT%TZ)" >>"$base/build-seconds"
echo "$dir" >"$base/ready-$hash"
echo "$dir"
