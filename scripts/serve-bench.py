#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Load on splitmoe serve: for each concurrency C, C clients at once each
stream one greedy completion of --tokens tokens; prints aggregate decode
tok/s, per-sequence tok/s and time to first token (ms). Starts the server
itself on a free loopback port (--parallel = the largest C), so the
numbers are the engine's batching through HTTP. A benchmark: it measures,
it checks nothing.

usage: scripts/serve-bench.py --bin build/splitmoe --model DIR
           [--concurrency 1,8,32] [--tokens 64] [--prompt TEXT] [-- SERVER FLAGS...]
"""
import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time


def stream_one(port, prompt, tokens, out, i):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=3600)
    body = {"prompt": prompt, "max_tokens": tokens, "temperature": 0, "stream": True,
            "stream_options": {"include_usage": True}}
    t0 = time.monotonic()
    c.request("POST", "/v1/completions", body=json.dumps(body),
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    first, n = None, 0
    for line in r:
        if not line.startswith(b"data: ") or line.startswith(b"data: [DONE]"):
            continue
        ev = json.loads(line[6:])
        if ev.get("usage"):
            n = ev["usage"]["completion_tokens"]
        elif first is None and ev["choices"][0]["text"]:
            first = time.monotonic()
    end = time.monotonic()
    c.close()
    out[i] = (t0, first or end, end, n)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", default="build/splitmoe")
    ap.add_argument("--model", required=True)
    ap.add_argument("--concurrency", default="1,8,32")
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--prompt", default="The GNU General Public License is a free, copyleft "
                    "license for software and other kinds of works.")
    ap.add_argument("server_flags", nargs="*")
    a = ap.parse_args()
    levels = [int(x) for x in a.concurrency.split(",")]
    log = tempfile.NamedTemporaryFile("w+")
    srv = subprocess.Popen([a.bin, "serve", "--model", a.model, "--port", "0", "--parallel",
                            str(max(levels)), "--queue", str(max(levels)), *a.server_flags],
                           stderr=log)
    port = None
    for _ in range(6000):
        log.seek(0)
        m = re.search(r"on http://127\.0\.0\.1:(\d+)/", log.read())
        if m:
            port = int(m.group(1))
            break
        if srv.poll() is not None:
            break
        time.sleep(0.1)
    if port is None:
        log.seek(0)
        sys.exit("serve-bench: the server did not start:\n" + log.read())
    log.seek(0)
    print(log.read().strip())
    stream_one(port, a.prompt, 4, [None], 0)     # warm-up: first-touch of the weights
    print("%6s %12s %14s %14s %12s %12s" % ("conc", "agg tok/s", "per-seq tok/s", "ttft mean ms",
                                             "ttft max ms", "wall s"))
    for c in levels:
        out = [None] * c
        th = [threading.Thread(target=stream_one, args=(port, a.prompt, a.tokens, out, i))
              for i in range(c)]
        t0 = time.monotonic()
        for t in th:
            t.start()
        for t in th:
            t.join()
        wall = time.monotonic() - t0
        toks = sum(o[3] for o in out)
        per_seq = [(o[3] - 1) / (o[2] - o[1]) for o in out if o[3] > 1 and o[2] > o[1]]
        ttft = [(o[1] - o[0]) * 1e3 for o in out]
        print("%6d %12.1f %14.2f %14.1f %12.1f %12.2f" % (
            c, toks / wall, statistics.mean(per_seq) if per_seq else 0.0,
            statistics.mean(ttft), max(ttft), wall), flush=True)
    srv.terminate()
    srv.wait(timeout=60)


if __name__ == "__main__":
    main()
