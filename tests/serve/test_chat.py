#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""splitmoe chat through a pseudo-terminal, as TAP: a question streams an
answer, Ctrl-C stops the reply and keeps the session, /reset, Ctrl-D exits
0, nothing but whole UTF-8 on the terminal.

usage: test_chat.py SPLITMOE FIXTURE_DIR [FIRST_TEST_NUMBER]
"""
import os
import pty
import select
import signal
import sys
import time

BIN, FIXTURE = sys.argv[1], sys.argv[2]
n_test = int(sys.argv[3]) - 1 if len(sys.argv) > 3 else 0
failed = 0


def ok(cond, what, detail=""):
    global n_test, failed
    n_test += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n_test, what), flush=True)
    if not cond:
        failed += 1
        for line in repr(detail)[-1500:].split("\\n")[:20]:
            print("#   " + line, flush=True)
    return cond


class Term:
    def __init__(self, argv):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            os.execv(argv[0], argv)
        self.buf = b""

    def read_until(self, pred, timeout):
        """Read until pred(bytes read so far) or timeout; the bytes read."""
        start, deadline = len(self.buf), time.time() + timeout
        while not pred(self.buf[start:]) and time.time() < deadline:
            r, _, _ = select.select([self.fd], [], [], 0.1)
            if r:
                try:
                    chunk = os.read(self.fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                self.buf += chunk
        return self.buf[start:]

    def send(self, data):
        os.write(self.fd, data)

    def wait(self, timeout):
        deadline = time.time() + timeout
        while time.time() < deadline:
            self.read_until(lambda b: False, 0.1)    # drain, or the child blocks
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                return os.waitstatus_to_exitcode(status)
        os.kill(self.pid, signal.SIGKILL)
        os.waitpid(self.pid, 0)
        return None


def main():
    t = Term([BIN, "chat", "--model", FIXTURE, "--threads", "1", "--arbiter", "off",
              "-n", "3000"])
    out = t.read_until(lambda b: b.endswith(b"> "), 120)
    ok(out.endswith(b"> ") and b"/reset" in out, "chat starts and prompts", out)

    t.send(b"The GNU General Public License\n")
    # the echo, then the reply as it is generated
    first = t.read_until(lambda b: len(b.split(b"License\r\n", 1)[-1]) > 40, 120)
    reply = first.split(b"License\r\n", 1)[-1]
    ok(len(reply) > 40, "a question streams an answer", first)
    t.send(b"\x03")
    out = t.read_until(lambda b: b.endswith(b"> "), 60)
    ok(b"[stopped]" in out and out.endswith(b"> "), "Ctrl-C stops the reply and prompts again",
       out[-300:])

    t.send(b"What is free software?\n")
    out = t.read_until(lambda b: len(b) > 80, 120)
    t.send(b"\x03")
    out += t.read_until(lambda b: b.endswith(b"> "), 60)
    ok(len(out) > 80 and out.endswith(b"> "), "the session goes on after Ctrl-C", out[-300:])

    t.send(b"/reset\n")
    out = t.read_until(lambda b: b.endswith(b"> "), 60)
    ok(b"(conversation reset)" in out, "/reset", out)

    t.send(b"\x04")
    rc = t.wait(60)
    ok(rc == 0, "Ctrl-D leaves with status 0", rc)
    try:
        t.buf.decode("utf-8")
        valid = True
    except UnicodeDecodeError as e:
        valid = e
    ok(valid is True, "the terminal got valid UTF-8 only", valid)
    ok(b"AddressSanitizer" not in t.buf and b"runtime error" not in t.buf, "no sanitizer report",
       t.buf[-2000:])

    t = Term([BIN, "chat", "--model", FIXTURE, "--threads", "1", "--arbiter", "off", "-n", "4"])
    t.read_until(lambda b: b.endswith(b"> "), 120)
    t.send(b"Hello\n")
    out = t.read_until(lambda b: b.endswith(b"> "), 120)
    t.send(b"/exit\n")
    rc = t.wait(60)
    ok(out.endswith(b"> ") and rc == 0, "a short reply ends by itself; /exit leaves with 0",
       (out, rc))
    # replies of up to 4080 tokens: after one turn the context (4096) cannot
    # hold another, and chat says so and starts over
    t = Term([BIN, "chat", "--model", FIXTURE, "--threads", "1", "--arbiter", "off",
              "-n", "4080"])
    t.read_until(lambda b: b.endswith(b"> "), 120)
    t.send(b"Hello\n")
    t.read_until(lambda b: len(b) > 40, 120)
    t.send(b"\x03")
    t.read_until(lambda b: b.endswith(b"> "), 60)
    t.send(b"And then?\n")
    out = t.read_until(lambda b: len(b) > 120, 120)
    t.send(b"\x03")
    out += t.read_until(lambda b: b.endswith(b"> "), 60)
    t.send(b"\x04")
    rc = t.wait(60)
    ok(b"the context is full: the conversation starts over" in out and rc == 0,
       "a full context is said and the conversation starts over", (out, rc))
    print("1..%d" % n_test)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
