#!/usr/bin/env bash
# TAP: examples/generate (the public API, libsplitmoe.so.0) gives the same
# greedy continuation as `splitmoe run`, on fixture A.
#   generate.sh GENERATE SPLITMOE FIXTURE
set -u
gen=$1 cli=$2 fixture=$3
prompt="The license"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 fail=0
ok() { n=$((n + 1)); echo "ok $n - $1"; }
notok() { n=$((n + 1)); fail=1; echo "not ok $n - $1"; sed 's/^/# /' "$2"; }

if "$gen" "$fixture" "$prompt" 12 >"$tmp/api.out" 2>"$tmp/api.err"; then
	ok "generate runs 12 greedy tokens through libsplitmoe"
else
	notok "generate runs 12 greedy tokens through libsplitmoe" "$tmp/api.err"
fi
"$cli" run --model "$fixture" --prompt "$prompt" -n 12 >"$tmp/cli.out" 2>"$tmp/cli.err" ||
	notok "splitmoe run on the same prompt" "$tmp/cli.err"
if [ -s "$tmp/cli.out" ] && cmp -s "$tmp/api.out" "$tmp/cli.out"; then
	ok "the API's text equals splitmoe run's ($(wc -c <"$tmp/cli.out") bytes)"
else
	{ echo "api: $(cat "$tmp/api.out")"; echo "cli: $(cat "$tmp/cli.out")"; } >"$tmp/diff"
	notok "the API's text equals splitmoe run's" "$tmp/diff"
fi
if grep -q 'prefill [0-9]* tokens at .* tok/s, decode 11 at' "$tmp/api.err"; then
	ok "the session's stats count the prompt and 11 decode steps"
else
	notok "the session's stats count the prompt and 11 decode steps" "$tmp/api.err"
fi
# Bad input: one line naming the directory, non-zero exit.
if ! "$gen" "$tmp/missing" "$prompt" >/dev/null 2>"$tmp/bad.err" &&
	[ "$(wc -l <"$tmp/bad.err")" -eq 1 ] && grep -q "$tmp/missing" "$tmp/bad.err"; then
	ok "a missing model directory: one line naming it ($(cat "$tmp/bad.err"))"
else
	notok "a missing model directory: one line naming it" "$tmp/bad.err"
fi
# Only the public API leaves the library.
if nm -D --defined-only "$(dirname "$gen")/../libsplitmoe.so.0" | awk '$2 != "A" {print $3}' |
	grep -v '^splitmoe_' >"$tmp/leaked"; then
	notok "libsplitmoe.so.0 exports splitmoe_* only" "$tmp/leaked"
else
	ok "libsplitmoe.so.0 exports splitmoe_* only"
fi
exit $fail
