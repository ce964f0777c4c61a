#!/bin/bash
# SPDX-License-Identifier: MIT
# splitmoe's subcommands use only the public API (issue 15): as TAP,
#  1. every file of tools/splitmoe and of the evaluator it runs
#     (tools/eval) includes "splitmoe.h", its own folder's headers or the
#     other's ("tools/eval/..."), nothing of libruntime/;
#  2. their compiled objects call nothing that libruntime
#     (build/libruntime.a) defines: their undefined symbols are their
#     own, splitmoe_* or the system's.
# Usage: check_api_only.sh [--no-plan]   (after `make build/splitmoe`)
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
[ "${1:-}" = --no-plan ] || echo "1..2"
n=$(( ${LAYOUT_TESTS_BEFORE:-0} ))
rc=0

dirs="tools/splitmoe tools/eval"
bad=$(for f in $(for d in $dirs; do ls $d/*.[ch]; done); do
	grep -oE '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[^"]+"' "$f" |
		sed -E 's/.*"([^"]+)"/\1/' | while read -r inc; do
			[ "$inc" = splitmoe.h ] && continue
			[ -f "$(dirname "$f")/$inc" ] && [ "${inc#*/}" = "$inc" ] && continue
			case $inc in tools/splitmoe/*|tools/eval/*) [ -f "$inc" ] && continue ;; esac
			echo "$f -> $inc"
		done
done)
n=$((n + 1))
if [ -z "$bad" ]; then
	echo "ok $n - tools/splitmoe and tools/eval include only splitmoe.h and their own headers"
else
	echo "not ok $n - tools/splitmoe and tools/eval include only splitmoe.h and their own headers"
	sed 's/^/# /' <<<"$bad"
	rc=1
fi

n=$((n + 1))
# The objects of today's sources (a moved source leaves a stale object).
objs=$(for f in tools/splitmoe/*.c tools/eval/*.c; do
	o=build/obj/${f%.c}.o
	[ -f "$o" ] && echo "$o"
done)
if [ -z "$objs" ] || [ ! -f build/libruntime.a ]; then
	echo "not ok $n - the objects of tools/splitmoe and tools/eval call only the API (build/splitmoe not built)"
	exit 1
fi
defined=$(nm -g --defined-only $objs 2>/dev/null | awk 'NF == 3 { print $3 }' | sort -u)
undef=$(nm -u $objs 2>/dev/null | awk 'NF >= 2 { print $2 }' | sort -u |
	comm -23 - <(echo "$defined"))
internal=$(nm -g --defined-only build/libruntime.a 2>/dev/null |
	awk 'NF == 3 { print $3 }' | sort -u)
leak=$(comm -12 <(echo "$undef") <(echo "$internal") | grep -v '^splitmoe_')
if [ -z "$leak" ]; then
	echo "ok $n - the objects of tools/splitmoe and tools/eval call only the API ($(echo "$undef" | grep -c '^splitmoe_') splitmoe_* functions)"
else
	echo "not ok $n - the objects of tools/splitmoe and tools/eval call only the API"
	sed 's/^/# calls libruntime: /' <<<"$leak" | head -40
	rc=1
fi
exit $rc
