#!/usr/bin/env bash
# Carry splitmoe to a machine without the project's runtime libraries
# (the 16-core benchmark machines, shared/bench/README.md):
#   scripts/pack-splitmoe.sh [OUT.tar.xz]   (default .devcarry/splitmoe.tar.xz)
# packs build/splitmoe and every shared library it links (ldd) but glibc's
# own; there: tar xJf OUT.tar.xz; LD_LIBRARY_PATH=splitmoe/lib splitmoe/splitmoe ...
set -eu
out=${1:-.devcarry/splitmoe.tar.xz}
bin=build/splitmoe
if [ ! -x "$bin" ]; then
	echo "pack-splitmoe: $bin is missing: make build/splitmoe first" >&2
	exit 1
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/splitmoe/lib"
cp "$bin" "$stage/splitmoe/"
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | while read -r lib; do
	case $(basename "$lib") in
	libc.so.* | libm.so.* | libpthread.so.* | libdl.so.* | librt.so.* | ld-linux*) ;;
	*) cp -L "$lib" "$stage/splitmoe/lib/" ;;
	esac
done
mkdir -p "$(dirname "$out")"
tar -C "$stage" -cf - splitmoe | xz -T0 -6 >"$out.tmp"
mv "$out.tmp" "$out"
echo "pack-splitmoe: $out, $(du -h "$out" | cut -f1): tar xJf it, then LD_LIBRARY_PATH=splitmoe/lib splitmoe/splitmoe ..."
