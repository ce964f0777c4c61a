#!/usr/bin/env bash
# Writes vmlinux.h (argument 1) from the BTF of the kernel the tests boot:
# Debian's linux-image of exactly the installed headers' version
# (scripts/kver.sh), unpacked by the VM harness (tests/vm/kernel.sh). Its
# vmlinuz is decompressed with the kernel tree's scripts/extract-vmlinux
# (taken from /usr/src/linux-source-6.1.tar.xz) and bpftool dumps the .BTF
# section as C. The result is cached in .cache/bpf/KVER/ (about 2 MB) so a
# rebuild after `make clean` costs a copy.
set -euo pipefail
out=${1:?usage: gen-vmlinux-h.sh OUTPUT}
top=$(cd "$(dirname "$0")/.." && pwd)
kver=$("$top/scripts/kver.sh")
cache="$top/.cache/bpf/$kver"
if [ ! -s "$cache/vmlinux.h" ]; then
	mkdir -p "$cache"
	imgdir=$("$top/tests/vm/kernel.sh")
	vmlinuz="$imgdir/pkg/boot/vmlinuz-$kver"
	[ -f "$vmlinuz" ] || { echo "bpf: $vmlinuz missing" >&2; exit 1; }
	src=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | head -n1)
	[ -n "$src" ] || { echo "bpf: no /usr/src/linux-source-*.tar.xz (run scripts/deps.sh)" >&2; exit 1; }
	tmp=$(mktemp -d "$cache/tmp.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	echo "bpf: extracting the BTF of $kver from $(basename "$vmlinuz")" >&2
	tar -xJf "$src" -C "$tmp" --wildcards --strip-components=2 \
		'linux-source-*/scripts/extract-vmlinux'
	sh "$tmp/extract-vmlinux" "$vmlinuz" >"$tmp/vmlinux"
	# the section list whole first: grep -q under pipefail can kill
	# readelf with SIGPIPE and fail a kernel that has the section
	readelf -S "$tmp/vmlinux" >"$tmp/sections"
	if ! grep -q '\.BTF ' "$tmp/sections"; then
		echo "bpf: $vmlinuz carries no .BTF section (CONFIG_DEBUG_INFO_BTF off?)" >&2
		exit 1
	fi
	bpftool btf dump file "$tmp/vmlinux" format c >"$tmp/vmlinux.h"
	mv "$tmp/vmlinux.h" "$cache/vmlinux.h"
fi
mkdir -p "$(dirname "$out")"
cp "$cache/vmlinux.h" "$out.tmp"
mv "$out.tmp" "$out"
