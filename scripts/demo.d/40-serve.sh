#!/usr/bin/env bash
# splitmoe serve: the trained tiny model (fixture C) behind the
# OpenAI-compatible API on a free loopback port; one question with curl,
# the metrics it left, then SIGTERM (drains, exits 0).
set -u
bin=build/splitmoe
fixture=tests/fixtures/phimoe-tiny-c
if [ ! -x "$bin" ]; then
	echo "$bin is not built (make builds it)" >&2
	exit 1
fi
log=$(mktemp)
pid=
trap 'rm -f "$log"; [ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT
"$bin" serve --model "$fixture" --port 0 --parallel 4 2>"$log" &
pid=$!
port=
for _ in $(seq 600); do
	port=$(sed -n 's|.*on http://127\.0\.0\.1:\([0-9]*\)/.*|\1|p' "$log")
	[ -n "$port" ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
cat "$log"
if [ -z "$port" ]; then
	echo "the server did not start" >&2
	exit 1
fi
url=http://127.0.0.1:$port
q='{"messages":[{"role":"user","content":"What is the GNU General Public License?"}],"max_tokens":48,"temperature":0}'
echo "== curl -s $url/v1/chat/completions -d '$q'"
curl -sS --max-time 300 "$url/v1/chat/completions" -d "$q" || exit 1
echo
echo "== curl -s $url/metrics (some lines)"
curl -sS --max-time 60 "$url/metrics" |
	grep -E '^splitmoe_(requests_total|completion_tokens_total|time_to_first_token_seconds_count|arbiter_grants_total)'
echo "== SIGTERM"
kill -TERM "$pid"
wait "$pid"
rc=$?
pid=
tail -n 3 "$log"
echo "serve exited with status $rc"
exit $rc
