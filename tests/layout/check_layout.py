#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""libruntime's layout, as TAP: every source lies in a folder of FOLDERS,
names what it includes by its folder ("model/model.h"), includes only from
its own folder and the folders below it; no header includes itself through
others, and no two modules (x.c with x.h) depend on each other: x.c
reaching y.h through its includes while y.c reaches x.h.

Usage: check_layout.py [--no-plan] [LIBRUNTIME_DIR]   (default: libruntime)
--no-plan leaves out the "1..N" line, for a suite that goes on.
"""
import os
import re
import sys

# Each folder and what it may include besides itself, lowest first (the
# README's "Layout" says the same in words).
FOLDERS = {
    "util": set(),
    "arbiter": {"util", "kmod"},
    "model": {"util"},
    "backend": {"model", "util"},
    "cpu": {"backend", "model", "arbiter", "util"},
    "ze": {"backend", "model", "arbiter", "util"},
    "engine": {"cpu", "backend", "model", "arbiter", "util"},
    "sched": {"engine", "cpu", "ze", "backend", "model", "arbiter", "util"},
    # the edge: options' names and the YAML, typed once for all below
    "config": {"sched", "engine", "cpu", "ze", "backend", "model", "arbiter", "util"},
}
SOURCE = re.compile(r"\.(c|cc|h)$")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def sources(top):
    for dirpath, _, files in os.walk(top):
        for f in sorted(files):
            if SOURCE.search(f):
                yield os.path.relpath(os.path.join(dirpath, f), top)


def module(path):
    return os.path.splitext(path)[0]


def find_cycle(graph):
    """A cycle of graph (node -> set of nodes) as a list, or None."""
    state = {}

    def visit(n, stack):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state:
                c = visit(m, stack)
                if c:
                    return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state:
            c = visit(n, [])
            if c:
                return c
    return None


def main():
    args = sys.argv[1:]
    plan = "--no-plan" not in args
    args = [a for a in args if a != "--no-plan"]
    top = args[0] if args else "libruntime"
    files = list(sources(top))
    tests = []

    bad = [f for f in files
           if os.sep not in f or f.split(os.sep)[0] not in FOLDERS]
    tests.append(("every source lies in a folder of the layout", bad))

    wrong, unknown = [], []
    incs = {}
    for f in files:
        folder = f.split(os.sep)[0]
        with open(os.path.join(top, f), encoding="utf-8") as fh:
            text = fh.read()
        for inc in INCLUDE.findall(text):
            parts = inc.split("/")
            if len(parts) < 2:
                unknown.append(f"{f}: \"{inc}\" names no folder")
                continue
            to = parts[0]
            if to == "kmod":
                if to not in FOLDERS[folder]:
                    wrong.append(f"{f} -> {inc}")
                continue
            if to not in FOLDERS or not os.path.exists(os.path.join(top, inc)):
                unknown.append(f"{f}: \"{inc}\" is no libruntime header")
                continue
            if to != folder and to not in FOLDERS[folder]:
                wrong.append(f"{f} -> {inc}")
            incs.setdefault(f, set()).add(inc)
    tests.append(("includes name a libruntime folder and header", unknown))
    tests.append(("no folder includes from a folder above it", wrong))

    headers = {f: incs.get(f, set()) for f in files if f.endswith(".h")}
    cycle = find_cycle(headers)
    tests.append(("no include cycle between headers",
                  [" -> ".join(cycle)] if cycle else []))

    def reach(f):
        seen, todo = set(), list(incs.get(f, ()))
        while todo:
            h = todo.pop()
            if h not in seen:
                seen.add(h)
                todo.extend(incs.get(h, ()))
        return seen

    impl = {module(f) for f in files if not f.endswith(".h")}
    mods = {}
    for f in files:
        if f.endswith(".h"):
            continue
        deps = {module(h) for h in reach(f)} & impl
        mods[module(f)] = deps - {module(f)}
    cycle = find_cycle(mods)
    tests.append(("no two modules depend on each other",
                  [" -> ".join(cycle)] if cycle else []))

    if plan:
        print(f"1..{len(tests)}")
    rc = 0
    for i, (what, problems) in enumerate(tests, 1):
        if problems:
            rc = 1
            print(f"not ok {i} - {what}")
            for p in problems:
                print(f"# {p}")
        else:
            print(f"ok {i} - {what}")
    return rc


if __name__ == "__main__":
    sys.exit(main())
