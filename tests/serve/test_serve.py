#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""splitmoe serve over loopback HTTP, as TAP: replies (plain and streamed),
8 concurrent greedy requests each equal to `splitmoe run` alone, a client
leaving mid-stream frees its slot, bad bodies get the right status and a
field-naming error, /metrics parses, SIGTERM drains and exits 0.

usage: test_serve.py SPLITMOE FIXTURE_DIR
"""
import concurrent.futures
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

BIN, FIXTURE = sys.argv[1], sys.argv[2]
TIMEOUT = 120          # seconds for any one HTTP exchange (ASan is slow)
PROMPTS = [
    "The GNU General Public License",
    "The licenses for most software",
    "When we speak of free software",
    "To protect your rights",
    "For example, if you distribute copies",
    "Developers that use the GNU GPL",
    "Some devices are designed to deny users",
    "Finally, every program is threatened",
]
N_TOKENS = 16

n_test = 0
failed = 0


def ok(cond, what, detail=""):
    global n_test, failed
    n_test += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n_test, what), flush=True)
    if not cond:
        failed += 1
        for line in str(detail).splitlines()[:20]:
            print("#   " + line, flush=True)
    return cond


def start_server(*extra):
    """The server on a free loopback port (--port 0): (process, port)."""
    errlog = open(os.path.join(os.environ.get("SERVE_TMP", "/tmp"), "serve-%d.log" % os.getpid()),
                  "w+")
    p = subprocess.Popen([BIN, "serve", "--model", FIXTURE, "--port", "0", "--threads", "1",
                          "--arbiter", "off", *extra], stderr=errlog, stdout=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline:
        errlog.seek(0)
        m = re.search(r"on http://127\.0\.0\.1:(\d+)/", errlog.read())
        if m:
            return p, int(m.group(1)), errlog
        if p.poll() is not None:
            break
        time.sleep(0.1)
    errlog.seek(0)
    print("Bail out! the server did not start: " + errlog.read().replace("\n", " | "))
    p.kill()
    sys.exit(1)


def request(port, method, path, body=None, raw=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT)
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    c.request(method, path, body=data, headers={"Content-Type": "application/json"})
    r = c.getresponse()
    out = r.status, r.getheader("Content-Type", ""), r.read()
    c.close()
    return out


def post(port, path, body=None, raw=None):
    status, _, data = request(port, "POST", path, body, raw)
    try:
        return status, json.loads(data)
    except ValueError:
        return status, data


def run_alone(prompt, *extra):
    """What `splitmoe run` generates for prompt, greedy, alone."""
    r = subprocess.run([BIN, "run", "--model", FIXTURE, "--threads", "1", "--arbiter", "off",
                        "--prompt", prompt, "-n", str(N_TOKENS), *extra],
                       capture_output=True, timeout=TIMEOUT, text=True)
    assert r.returncode == 0, r.stderr
    return r.stdout[:-1]        # run ends the text with one newline


def sse_events(port, path, body):
    """curl -N: the data lines of a streamed reply."""
    r = subprocess.run(["curl", "-sS", "-N", "--max-time", str(TIMEOUT), "-H",
                        "Content-Type: application/json", "-d", json.dumps(body),
                        "http://127.0.0.1:%d%s" % (port, path)],
                       capture_output=True, timeout=TIMEOUT + 5, text=True)
    return [ln[6:] for ln in r.stdout.split("\n") if ln.startswith("data: ")], r


def metrics(port):
    status, ctype, data = request(port, "GET", "/metrics")
    return status, ctype, data.decode()


PROM_LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*"'
                       r'(,[a-zA-Z_][a-zA-Z0-9_]*="[^"\\]*")*)?\})? (\S+)$')


def parse_prometheus(text):
    """{name: {labels: value}} from the text format; raises on a bad line."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        m = PROM_LINE.match(line)
        if not m:
            raise ValueError("bad metrics line: %r" % line)
        float(m.group(5))
        out.setdefault(m.group(1), {})[m.group(3) or ""] = float(m.group(5))
    return out


def gauge(port, name):
    return parse_prometheus(metrics(port)[2])[name][""]


def main():
    srv, port, errlog = start_server("--parallel", "8")

    status, ctype, data = request(port, "GET", "/health")
    ok(status == 200 and json.loads(data) == {"status": "ok"}, "GET /health", data)
    status, ctype, data = request(port, "GET", "/v1/models")
    ok(status == 200 and json.loads(data)["data"][0]["id"] == os.path.basename(FIXTURE),
       "GET /v1/models names the model", data)

    # plain replies
    alone = [run_alone(p) for p in PROMPTS]
    status, r = post(port, "/v1/completions", {"model": "x", "prompt": PROMPTS[0],
                                                "max_tokens": N_TOKENS, "temperature": 0})
    ok(status == 200 and r["choices"][0]["text"] == alone[0] and r["object"] == "text_completion",
       "completion equals splitmoe run", (r, alone[0]))
    ok(status == 200 and r["usage"]["completion_tokens"] <= N_TOKENS and
       r["usage"]["total_tokens"] == r["usage"]["prompt_tokens"] + r["usage"]["completion_tokens"]
       and r["choices"][0]["finish_reason"] in ("stop", "length"), "completion usage counts", r)
    chat = {"messages": [{"role": "system", "content": "You answer."},
                         {"role": "user", "content": "What is free software?"}],
            "max_tokens": N_TOKENS, "temperature": 0}
    status, r = post(port, "/v1/chat/completions", chat)
    ok(status == 200 and r["object"] == "chat.completion" and
       r["choices"][0]["message"]["role"] == "assistant" and
       isinstance(r["choices"][0]["message"]["content"], str) and r["usage"]["prompt_tokens"] > 10,
       "chat completion", r)
    whole = r["choices"][0]["message"]["content"] if status == 200 else None

    # streamed: the same text, in chunks, ending with [DONE]
    events, cp = sse_events(port, "/v1/chat/completions",
                            dict(chat, stream=True, stream_options={"include_usage": True}))
    ok(cp.returncode == 0 and events and events[-1] == "[DONE]", "stream ends with data: [DONE]",
       cp.stdout[-500:] + cp.stderr)
    try:
        chunks = [json.loads(e) for e in events[:-1]]
        text = "".join(c["choices"][0]["delta"].get("content", "") for c in chunks if c["choices"])
        finish = [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]]
        usage = [c["usage"] for c in chunks if "usage" in c]
    except (ValueError, KeyError, IndexError) as e:
        text, finish, usage = None, [], []
        ok(False, "stream events parse", e)
    ok(text == whole and finish[-1] in ("stop", "length") and
       all(c["object"] == "chat.completion.chunk" for c in chunks),
       "streamed chat equals the plain reply", (text, whole))
    ok(len(usage) == 1 and usage[0]["completion_tokens"] >= 1, "stream usage chunk", usage)
    events, cp = sse_events(port, "/v1/completions", {"prompt": PROMPTS[1], "max_tokens": N_TOKENS,
                                                      "temperature": 0, "stream": True})
    text = "".join(json.loads(e)["choices"][0]["text"] for e in events[:-1])
    ok(events[-1:] == ["[DONE]"] and text == alone[1], "streamed completion equals splitmoe run",
       (text, alone[1]))
    status, r = post(port, "/v1/completions", {"prompt": PROMPTS[0], "max_tokens": N_TOKENS,
                                               "temperature": 0, "stop": ["license", "License"]})
    cut = min((alone[0].find(s) for s in ("license", "License") if s in alone[0]),
              default=len(alone[0]))
    ok(status == 200 and r["choices"][0]["text"] == alone[0][:cut], "stop strings end the reply",
       (r, alone[0]))
    status, r1 = post(port, "/v1/completions", {"prompt": PROMPTS[2], "max_tokens": N_TOKENS,
                                                "temperature": 1.0, "top_p": 0.9, "top_k": 20,
                                                "seed": 7})
    status2, r2 = post(port, "/v1/completions", {"prompt": PROMPTS[2], "max_tokens": N_TOKENS,
                                                 "temperature": 1.0, "top_p": 0.9, "top_k": 20,
                                                 "seed": 7})
    ok(status == status2 == 200 and r1["choices"][0]["text"] == r2["choices"][0]["text"],
       "sampling with a seed repeats", (r1, r2))

    # 8 at once, greedy: each equals its run alone
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        got = list(ex.map(lambda p: post(port, "/v1/completions",
                                         {"prompt": p, "max_tokens": N_TOKENS, "temperature": 0}),
                          PROMPTS))
    same = [s == 200 and r["choices"][0]["text"] == a for (s, r), a in zip(got, alone)]
    ok(all(same), "8 concurrent greedy requests each equal splitmoe run alone",
       [(r, a) for (s, r), a, k in zip(got, alone, same) if not k])

    # a prompt of several steps' rows (-b 256) is prefilled in chunks
    # while the others decode
    long_prompt = " ".join(PROMPTS * 12)
    long_alone = run_alone(long_prompt)
    with concurrent.futures.ThreadPoolExecutor(3) as ex:
        got = list(ex.map(lambda p: post(port, "/v1/completions",
                                         {"prompt": p, "max_tokens": N_TOKENS, "temperature": 0}),
                          [PROMPTS[4], long_prompt, PROMPTS[5]]))
    ok([(st, r["choices"][0]["text"]) for st, r in got] ==
       [(200, alone[4]), (200, long_alone), (200, alone[5])] and
       got[1][1]["usage"]["prompt_tokens"] > 600,
       "a long prompt, chunked beside running sequences, equals splitmoe run", got)

    # a client leaving mid-stream frees its slot
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    body = json.dumps({"prompt": PROMPTS[3], "max_tokens": 3000, "temperature": 0,
                       "stream": True}).encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    got = b""
    while got.count(b"data: ") < 2:
        got += s.recv(4096)
    deadline = time.time() + 30     # the gauge is published after each step
    while time.time() < deadline and gauge(port, "splitmoe_running_requests") != 1:
        time.sleep(0.05)
    running_before = gauge(port, "splitmoe_running_requests")
    s.close()
    deadline = time.time() + 30
    while time.time() < deadline and gauge(port, "splitmoe_running_requests") != 0:
        time.sleep(0.1)
    ok(running_before == 1 and gauge(port, "splitmoe_running_requests") == 0,
       "a client leaving mid-stream frees its slot", running_before)
    toks = parse_prometheus(metrics(port)[2])["splitmoe_completion_tokens_total"][""]
    status, r = post(port, "/v1/completions", {"prompt": PROMPTS[0], "max_tokens": N_TOKENS,
                                               "temperature": 0})
    ok(status == 200 and r["choices"][0]["text"] == alone[0], "served after the disconnect", r)
    ok(toks < 9 * N_TOKENS + 3000 - 100, "the abandoned request stopped early", toks)

    # bad bodies
    cases = [
        ("/v1/chat/completions", b'{"messages": [', 400, None),
        ("/v1/chat/completions", b'{"messages": []} trailing', 400, None),
        ("/v1/chat/completions", b'[1, 2]', 400, None),
        ("/v1/chat/completions", json.dumps({"messages": [{"role": "user", "content": "x"}],
                                             "frobnicate": 1}).encode(), 400, "frobnicate"),
        ("/v1/chat/completions", json.dumps({"messages": [{"role": "robot", "content": "x"}]}
                                            ).encode(), 400, "messages[0].role"),
        ("/v1/chat/completions", json.dumps({"messages": [{"role": "user", "content": "x",
                                                           "mood": "sad"}]}).encode(), 400,
         "messages[0].mood"),
        ("/v1/completions", json.dumps({"prompt": "x", "temperature": "hot"}).encode(), 400,
         "temperature"),
        ("/v1/completions", json.dumps({"prompt": "x", "max_tokens": 0}).encode(), 400,
         "max_tokens"),
        ("/v1/completions", json.dumps({"prompt": "x", "max_tokens": 10 ** 9}).encode(), 400,
         "max_tokens"),
        ("/v1/completions", json.dumps({"prompt": "x", "top_p": 0}).encode(), 400, "top_p"),
        ("/v1/completions", json.dumps({"prompt": "x", "stream": "yes"}).encode(), 400, "stream"),
        ("/v1/completions", json.dumps({"prompt": "x", "stop": ["a"] * 5}).encode(), 400, "stop"),
        ("/v1/completions", json.dumps({"messages": []}).encode(), 400, "messages"),
        ("/v1/completions", json.dumps({"prompt": "word " * 5000}).encode(), 400, "prompt"),
        ("/v1/completions", b'{"prompt": "' + b"a" * (2 << 20) + b'"}', 413, None),
        ("/v1/completions", b'{"prompt": "caf\xc3"}', 400, None),
        ("/v1/completions", b'{"pr\xffompt": "x"}', 400, None),
    ]
    bad = []
    for path, raw, want, param in cases:
        status, r = post(port, path, raw=raw)
        good = (status == want and isinstance(r, dict) and
                r["error"]["type"] == "invalid_request_error" and
                r["error"]["param"] == param and r["error"]["message"])
        if not good:
            bad.append((path, raw[:60], status, r))
    ok(not bad, "malformed, bad-field, unknown-field, too-long and oversized bodies rejected", bad)
    status, _, data = request(port, "GET", "/v1/chat/completions")
    ok(status == 405 and "error" in json.loads(data), "GET on a POST route: 405", data)
    status, _, data = request(port, "GET", "/v2/nothing")
    ok(status == 404 and "error" in json.loads(data), "unknown path: 404", data)

    # metrics
    status, ctype, text = metrics(port)
    try:
        m = parse_prometheus(text)
        parsed = True
    except ValueError as e:
        m, parsed = {}, False
        ok(False, "metrics parse", e)
    ok(status == 200 and ctype.startswith("text/plain") and parsed, "/metrics parses", text[:300])
    need = ["splitmoe_requests_total", "splitmoe_prompt_tokens_total",
            "splitmoe_completion_tokens_total", "splitmoe_decode_tokens_per_second",
            "splitmoe_queue_depth", "splitmoe_running_requests",
            "splitmoe_time_to_first_token_seconds_count"]
    ok(all(k in m for k in need), "metrics hold requests, tokens, tok/s, queue, ttft",
       [k for k in need if k not in m])
    ok(m.get("splitmoe_requests_total", {}).get('path="/v1/completions",status="400"', 0) >= 8
       and m.get("splitmoe_time_to_first_token_seconds_count", {}).get("", 0) >= 10,
       "metrics count what happened", text[:1500])

    # SIGTERM drains and exits 0
    srv.send_signal(signal.SIGTERM)
    try:
        rc = srv.wait(timeout=60)
    except subprocess.TimeoutExpired:
        srv.kill()
        rc = None
    errlog.seek(0)
    log = errlog.read()
    ok(rc == 0, "SIGTERM: exits 0", log[-2000:])
    ok("ERROR: AddressSanitizer" not in log and "runtime error" not in log,
       "no sanitizer report", log[-3000:])

    # one slot: a second request waits for the first, then is served
    srv, port, errlog = start_server("--parallel", "1", "--queue", "2", "--arbiter", "process")
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        got = list(ex.map(lambda p: post(port, "/v1/completions",
                                         {"prompt": p, "max_tokens": N_TOKENS, "temperature": 0}),
                          PROMPTS[:2]))
    ok(all(s == 200 and r["choices"][0]["text"] == a for (s, r), a in zip(got, alone[:2])),
       "--parallel 1 queues and serves both", got)
    # one running, two waiting: a fourth is told 503
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    body = json.dumps({"prompt": PROMPTS[3], "max_tokens": 3000, "temperature": 0,
                       "stream": True}).encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
    got = b""
    while got.count(b"data: ") < 2:
        got += s.recv(4096)
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        waiting = [ex.submit(post, port, "/v1/completions",
                             {"prompt": p, "max_tokens": N_TOKENS, "temperature": 0})
                   for p in PROMPTS[:2]]
        deadline = time.time() + 30
        while time.time() < deadline and gauge(port, "splitmoe_queue_depth") != 2:
            time.sleep(0.05)
        status, r = post(port, "/v1/completions", {"prompt": "x", "max_tokens": 1})
        ok(status == 503 and r["error"]["type"] == "server_overloaded",
           "the queue full: 503 server_overloaded", (status, r))
        s.close()       # the running one leaves: the waiting ones run
        got = [w.result(timeout=TIMEOUT) for w in waiting]
    ok(all(st == 200 and r["choices"][0]["text"] == a for (st, r), a in zip(got, alone[:2])),
       "the waiting requests are served", got)
    # the session's own arbiter client (process arbiter): grants and waits
    m = parse_prometheus(metrics(port)[2])
    lab = 'arbiter="process",client="cpu"'
    ok(m.get("splitmoe_arbiter_grants_total", {}).get(lab, 0) > 0
       and lab in m.get("splitmoe_arbiter_waits_total", {})
       and lab in m.get("splitmoe_arbiter_wait_seconds_total", {}),
       "metrics: the cpu client's grants, waits and wait time", m.get("splitmoe_arbiter_waits_total"))

    # SIGTERM with a reply streaming: the client still gets a whole stream
    s = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    body = json.dumps({"prompt": PROMPTS[3], "max_tokens": 400, "temperature": 0,
                       "stream": True}).encode()
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    got = b""
    while got.count(b"data: ") < 2:
        got += s.recv(4096)
    srv.send_signal(signal.SIGTERM)
    deadline = time.time() + 60
    while time.time() < deadline:
        chunk = s.recv(65536)
        if not chunk:
            break
        got += chunk
    s.close()
    try:
        rc = srv.wait(timeout=60)
    except subprocess.TimeoutExpired:
        srv.kill()
        rc = None
    ok(rc == 0 and b"data: [DONE]" in got, "SIGTERM mid-stream: the stream ends whole, exits 0",
       (rc, got[-300:]))

    # refusals at start: a non-loopback-looking host name is not an address
    r = subprocess.run([BIN, "serve", "--model", FIXTURE, "--host", "localhost", "--port", "0"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    ok(r.returncode != 0 and "--host" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
       "--host must be a numeric address: one line", r.stderr)
    r = subprocess.run([BIN, "serve", "--model", FIXTURE, "--device", "split", "--parallel", "2",
                        "--port", "0"], capture_output=True, text=True, timeout=TIMEOUT)
    ok(r.returncode != 0 and "--parallel 1" in r.stderr and len(r.stderr.strip().splitlines()) == 1,
       "--device split with --parallel 2: refused in one line", r.stderr)

    # --device gpu runs one sequence, on the software Level Zero driver
    swgpu = os.path.abspath(os.path.join(os.path.dirname(BIN), "libze_swgpu.so"))
    if not os.path.exists(swgpu):
        global n_test
        n_test += 1
        print("ok %d - --device gpu --parallel 1 # SKIP no %s" % (n_test, swgpu))
    else:
        os.environ["ZE_ENABLE_ALT_DRIVERS"] = swgpu
        gpu_alone = [run_alone(p, "--device", "gpu") for p in PROMPTS[:2]]
        srv, port, errlog = start_server("--device", "gpu", "--parallel", "1")
        del os.environ["ZE_ENABLE_ALT_DRIVERS"]
        got = [post(port, "/v1/completions", {"prompt": p, "max_tokens": N_TOKENS,
                                              "temperature": 0}) for p in PROMPTS[:2]]
        srv.send_signal(signal.SIGTERM)
        try:
            rc = srv.wait(timeout=60)
        except subprocess.TimeoutExpired:
            srv.kill()
            rc = None
        ok(rc == 0 and all(s == 200 and r["choices"][0]["text"] == a
                           for (s, r), a in zip(got, gpu_alone)),
           "--device gpu --parallel 1: replies equal splitmoe run --device gpu, exits 0",
           (got, rc))
    print("1..%d" % n_test)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
