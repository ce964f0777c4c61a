#!/usr/bin/env bash
# Carry splitmoe to a machine without the project's runtime libraries
# (the 16-core benchmark machines, shared/bench/README.md):
#   scripts/pack-splitmoe.sh [OUT.tar.xz]   (default .devcarry/splitmoe.tar.xz)
# packs build/splitmoe and every shared library it links (ldd), glibc and
# its loader too (the machine's own glibc may be older than Debian 12's),
# and splitmoe/run, which starts it through that loader from anywhere:
# there, tar xJf OUT.tar.xz; splitmoe/run bench ...
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
cp "$bin" "$stage/splitmoe/splitmoe.bin"
ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\/.*ld-linux/ { print $1 }' |
	while read -r lib; do cp -L "$lib" "$stage/splitmoe/lib/"; done
loader=$(cd "$stage/splitmoe/lib" && ls ld-linux*)
cat >"$stage/splitmoe/run" <<RUN
#!/bin/sh
# splitmoe through the glibc and libraries packed beside it
d=\$(dirname "\$(readlink -f "\$0")")
exec "\$d/lib/$loader" --library-path "\$d/lib" "\$d/splitmoe.bin" "\$@"
RUN
chmod +x "$stage/splitmoe/run"
mkdir -p "$(dirname "$out")"
tar -C "$stage" -cf - splitmoe | xz -T0 -6 >"$out.tmp"
mv "$out.tmp" "$out"
echo "pack-splitmoe: $out, $(du -h "$out" | cut -f1): tar xJf it, then splitmoe/run ..."
