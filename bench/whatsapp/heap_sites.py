#!/usr/bin/env python3
"""Where a daemon's heap is, by allocation site: groups the bytes live at one
moment by what asked for them. PROFILE is either
  - a dhat profile (*.json) a `heap-profile` build writes when it is told to
    stop (its `eb`, bytes at the end): Rust allocations only, or
  - heaptrack's "leaked" stacks (`heaptrack_print --flamegraph-cost-type leaked
    -F FILE`) of a daemon killed with SIGKILL: every malloc, SQLite's included.
See profile.sh, which makes both.

  heap_sites.py PROFILE [--tenants N] [--baseline PROFILE0] [--top K]

With --baseline (an idle daemon's profile, 0 tenants) and --tenants, each group
is also given per tenant: (bytes(N) - bytes(0)) / N.

A site's group is chosen from its call stack (innermost frame first):
  - SQLite's own allocations (C code, heaptrack only) by what they are: page
    cache, prepared statements, lookaside, schema, the connection itself;
  - a few cross-cutting kinds first: tokio tasks (a spawned future's state,
    whoever spawned it), tokio channels, the WebSocket and Noise transport;
  - otherwise the first frame of our code or of a library that is not the
    allocator, std, a collection or a serialisation helper, as `crate::module`.
Python 3.11, standard library only.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import defaultdict

# Frames that say nothing about who wanted the memory.
PLUMBING = re.compile(
    r"^(<)?(alloc|core|std|hashbrown|dhat|bytes|smallvec|indexmap|arrayvec|serde|serde_json|prost|"
    r"parking_lot|lock_api|once_cell|dashmap|crossbeam_\w+|__rg_|\[root\]|memchr|ahash|foldhash|"
    r"futures_util|futures_core|pin_project|scopeguard|either|hex|base64|tracing|tracing_core)\b")

# Cross-cutting kinds, matched anywhere in the stack, in this order.
KINDS = [
    ("tokio tasks (spawned futures' state)", re.compile(r"tokio::runtime::task::(raw::RawTask::new|core::Cell)|tokio::task::spawn")),
    ("tokio channels and sync", re.compile(r"tokio::sync::")),
    ("WebSocket and Noise transport", re.compile(r"tungstenite|tokio_websockets|noise|transport::|NoiseSocket|FrameSocket")),
    ("SQLite session store (Rust side: diesel, r2d2)", re.compile(r"diesel::|r2d2::|whatsapp_rust_sqlite_storage::")),
    ("PostgreSQL session store (Rust side)", re.compile(r"whatsapp_sessions::|tokio_postgres::|deadpool")),
]

# SQLite's allocations, by the SQLite function on the stack (the first that matches).
SQLITE_KINDS = [
    ("pcache1", "SQLite page cache"), ("setupLookaside", "SQLite lookaside"),
    ("sqlite3InitOne", "SQLite schema"), ("sqlite3InitCallback", "SQLite schema"),
    ("sqlite3WalOpen", "SQLite WAL"), ("walIndex", "SQLite WAL"),
    ("sqlite3VdbeMakeReady", "SQLite prepared statements"), ("sqlite3LockAndPrepare", "SQLite prepared statements"),
    ("sqlite3BtreeOpen", "SQLite connection (btree, pager)"), ("openDatabase", "SQLite connection (btree, pager)"),
]
SQLITE_FRAME = re.compile(r"^(sqlite3|pcache1)")

# dhat: "0x55...: path::to::fn (file.rs:1:2)"; heaptrack: "path::to::fn::h0123 (file.rs)",
# or a v0-mangled name ("_RNv...Cs<hash>_3std...") whose crate names are length-prefixed.
FRAME = re.compile(r"^(?:0x[0-9a-f]+: )?(.*?)(?: \(.*\))?$")
V0_CRATE = re.compile(r"Cs[0-9A-Za-z]+_(\d+)([A-Za-z_][A-Za-z_0-9]*)")


def function_of(frame: str) -> str:
    m = FRAME.match(frame)
    fn = m.group(1) if m else frame
    if fn.startswith("_R"):
        # v0 mangling: keep the first crate name, enough for grouping.
        c = V0_CRATE.search(fn)
        return f"{c.group(2)[:int(c.group(1))]}::?" if c else fn
    # legacy mangling as heaptrack prints it: `_$LT$` is `<`, `..` is `::`.
    fn = fn.replace("_$LT$", "<").replace("$LT$", "<").replace("$GT$", ">").replace("..", "::")
    return re.sub(r"::h[0-9a-f]{16}$", "", fn)


def owner(fn: str) -> str | None:
    """`crate::module` of a function path, None for plumbing."""
    if PLUMBING.match(fn):
        return None
    # `<T as Trait>::f` and `<T>::f`: the implementing type's crate.
    name = fn.lstrip("<&* ").removeprefix("mut ").removeprefix("dyn ")
    parts = [p for p in re.split(r"::", name) if p]
    if not parts:
        return None
    return "::".join(parts[:2]) if len(parts) > 2 else parts[0]


def group_of(frames: list[str]) -> str:
    """`frames`: innermost (the allocation) first."""
    if any(SQLITE_FRAME.match(f) for f in frames):
        joined = "\n".join(frames)
        return next((name for pat, name in SQLITE_KINDS if pat in joined), "SQLite other")
    fns = [function_of(f) for f in frames]
    stack = "\n".join(fns)
    for name, pattern in KINDS:
        if pattern.search(stack):
            return name
    for fn in fns:
        o = owner(fn)
        if o:
            return o
    return "(unattributed)"


def live_sites(path: str):
    """(innermost-first frames, live bytes, live blocks) of each site."""
    if path.endswith(".json"):
        with open(path) as f:
            prof = json.load(f)
        ftbl = prof["ftbl"]
        for pp in prof["pps"]:
            if pp.get("eb"):
                yield [ftbl[i] for i in pp["fs"]], pp["eb"], pp.get("ebk") or 0
        return
    # heaptrack's flame-graph lines: "root;...;leaf BYTES" (no block counts).
    with open(path) as f:
        for line in f:
            stack, _, cost = line.rstrip("\n").rpartition(" ")
            if cost.isdigit() and int(cost):
                yield list(reversed(stack.split(";"))), int(cost), 0


def load(path: str) -> dict[str, tuple[int, int]]:
    groups: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for frames, size, blocks in live_sites(path):
        g = groups[group_of(frames)]
        g[0] += size
        g[1] += blocks
    return {k: (v[0], v[1]) for k, v in groups.items()}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile")
    ap.add_argument("--baseline", help="an idle daemon's profile (0 tenants)")
    ap.add_argument("--tenants", type=int, help="connected tenants in PROFILE")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args()
    cur = load(args.profile)
    base = load(args.baseline) if args.baseline else {}
    n = args.tenants
    total = sum(b for b, _ in cur.values())
    total0 = sum(b for b, _ in base.values())
    rows = sorted(cur.items(), key=lambda kv: -(kv[1][0] - base.get(kv[0], (0, 0))[0]))
    per = n and args.baseline
    print(f"live heap: {total / 1024:.0f} KiB in {sum(k for _, k in cur.values())} blocks"
          + (f"; idle daemon {total0 / 1024:.0f} KiB; per tenant {(total - total0) / n / 1024:.1f} KiB" if per else ""))
    print("| group | KiB | blocks |" + (" KiB per tenant |" if per else ""))
    print("|---|---|---|" + ("---|" if per else ""))
    for name, (b, k) in rows[:args.top]:
        cell = f" {(b - base.get(name, (0, 0))[0]) / n / 1024:.1f} |" if per else ""
        print(f"| {name} | {b / 1024:.0f} | {k} |{cell}")
    rest = rows[args.top:]
    if rest:
        b = sum(v[0] for _, v in rest)
        b0 = sum(base.get(k, (0, 0))[0] for k, _ in rest)
        cell = f" {(b - b0) / n / 1024:.1f} |" if per else ""
        print(f"| ({len(rest)} more groups) | {b / 1024:.0f} | {sum(v[1] for _, v in rest)} |{cell}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
