#!/bin/sh
# SPDX-License-Identifier: MIT
# The layout checker finds each kind of fault: a copy of libruntime with
# one fault planted, whose check must report "not ok" on the right line.
# TAP; numbering goes on from LAYOUT_TESTS_BEFORE (check_layout.py's five),
# the plan comes last.
set -u
work=build/layout
n=${LAYOUT_TESTS_BEFORE:-5}
rc=0

# fault NAME EXPECTED-LINE SCRIPT: SCRIPT plants the fault in $work/lr.
fault() {
	name=$1 want=$2 plant=$3
	n=$((n + 1))
	rm -rf "$work" && mkdir -p "$work" && cp -r libruntime "$work/lr"
	(cd "$work/lr" && sh -c "$plant")
	if tests/layout/check_layout.py "$work/lr" >"$work/out" 2>&1; then
		echo "not ok $n - checker finds $name (it passed)"
		rc=1
	elif grep -q "^not ok .* - $want" "$work/out"; then
		echo "ok $n - checker finds $name"
	else
		echo "not ok $n - checker finds $name"
		sed 's/^/# /' "$work/out"
		rc=1
	fi
}

fault "a file outside the folders" "every source lies" \
	'touch stray.c'
fault "an include without its folder" "includes name" \
	'sed -i "s|#include \"model/dtype.h\"|#include \"dtype.h\"|" model/dtype.c'
fault "model including the engine" "no folder includes from a folder above" \
	'sed -i "0,/#include \"model\/dtype.h\"/s||#include \"engine/sampler.h\"\n&|" model/model.h'
fault "a header cycle" "no include cycle between headers" \
	'sed -i "0,/#include <stdint.h>/s||&\n#include \"model/model.h\"|" model/dtype.h'
fault "model and safetensors needing each other" "no two modules" \
	'sed -i "s|#include \"model/dtype.h\"|#include \"model/model.h\"|" model/safetensors.h'
rm -rf "$work"
echo "1..$n"
exit $rc
