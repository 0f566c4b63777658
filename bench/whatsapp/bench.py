#!/usr/bin/env python3
"""WhatsApp tenant workers benchmark (driver; run it through bench/whatsapp/run.sh).

For each N: a fresh `wasim serve` and a fresh `agentlocator serve` (data dir of
its own), N tenants whose webhook_url is a local receiver, each paired by QR
through the tenant API and wasim's /admin/scan. Then it measures

  1. the daemon's memory once all N are connected and settled (VmRSS, and
     PSS/Private from smaps_rollup), against an idle daemon with 0 tenants
     measured in the same run;
  2. reconnect-everything-at-boot: SIGTERM, start `serve` again on the same data
     dir, time until all N are `connected` (default stagger, then a small one);
  3. inbound message -> webhook latency: messages sent by wasim contacts
     (POST /admin/send) to the tenants' phones, timed until the tenant's webhook
     receiver gets the signed `whatsapp.message` POST.

Python 3.11, standard library only. Every wait is bounded; every process it
starts is stopped on the way out (and listed in --pid-file for run.sh's trap).
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as futures
import glob
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import resource
import secrets
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from datetime import datetime, timezone

MIB = 1024 * 1024


class BenchError(Exception):
    """A step failed; the message says which and why."""


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def out(msg: str = "") -> None:
    print(msg, flush=True)


# --------------------------------------------------------------------------
# processes


class Procs:
    """Every child we start; stopped by `stop_all` (also on exceptions/signals)."""

    def __init__(self, pid_file: str | None):
        self.pid_file = pid_file
        self.children: list[subprocess.Popen] = []
        self.lock = threading.Lock()

    def start(self, argv, **kw) -> subprocess.Popen:
        p = subprocess.Popen(argv, **kw)
        with self.lock:
            self.children.append(p)
            self._write()
        return p

    def _write(self) -> None:
        if not self.pid_file:
            return
        live = [str(p.pid) for p in self.children if p.poll() is None]
        with open(self.pid_file + ".tmp", "w") as f:
            f.write("\n".join(live) + ("\n" if live else ""))
        os.replace(self.pid_file + ".tmp", self.pid_file)

    def stop(self, p: subprocess.Popen, timeout: float = 60.0) -> float | None:
        """SIGTERM, wait; SIGKILL after `timeout`. Returns seconds to exit (None if killed)."""
        t0 = time.monotonic()
        took = None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout)
                took = time.monotonic() - t0
            except subprocess.TimeoutExpired:
                log(f"pid {p.pid} did not exit {timeout:.0f}s after SIGTERM; SIGKILL")
                p.kill()
                p.wait(10)
        else:
            took = 0.0
        with self.lock:
            self._write()
        return took

    def stop_all(self) -> None:
        for p in reversed(self.children):
            if p.poll() is None:
                try:
                    self.stop(p, timeout=30)
                except Exception as e:  # noqa: BLE001 - best effort on the way out
                    log(f"cannot stop pid {p.pid}: {e}")


# --------------------------------------------------------------------------
# the store: SQLite in each data directory (the default), or PostgreSQL


def find_pg_tool(name: str) -> str:
    """A PostgreSQL client binary: on PATH, else the Debian packages' own
    directory (/usr/lib/postgresql/<version>/bin, where scripts/pg-throwaway finds
    the server; Debian puts only wrappers on PATH, and only with postgresql-client)."""
    found = shutil.which(name)
    if found:
        return found
    for d in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if os.access(os.path.join(d, name), os.X_OK):
            return os.path.join(d, name)
    raise BenchError(f"no `{name}` on PATH nor in /usr/lib/postgresql/*/bin (install postgresql-client)")


class PgDatabases:
    """One fresh, empty PostgreSQL database per data directory, on the server at
    `server_url` (`postgres://user@host:port/postgres`, allowed to CREATE DATABASE).
    Every daemon run on a data directory (its restarts included) gets that
    directory's database in `DATABASE_URL`; a new data directory, a new database."""

    def __init__(self, server_url: str):
        self.server_url = server_url
        self.psql = find_pg_tool("psql")
        self.prefix = f"bench_wa_{os.getpid()}_"
        self.by_dir: dict[str, str] = {}
        self.lock = threading.Lock()

    def _sql(self, sql: str) -> None:
        r = subprocess.run([self.psql, "-qAtX", "-v", "ON_ERROR_STOP=1", self.server_url, "-c", sql],
                           capture_output=True, timeout=120)
        if r.returncode != 0:
            raise BenchError(f"psql `{sql}` failed ({r.returncode}): {r.stderr.decode(errors='replace').strip()}")

    def url_for(self, data_dir: str) -> str:
        """The URL of `data_dir`'s database, created (empty) on first use."""
        with self.lock:
            name = self.by_dir.get(data_dir)
            if name is None:
                name = f"{self.prefix}{len(self.by_dir)}"
                self._sql(f'CREATE DATABASE "{name}"')
                self.by_dir[data_dir] = name
        parts = urllib.parse.urlsplit(self.server_url)
        return urllib.parse.urlunsplit(parts._replace(path=f"/{name}"))

    def drop_all(self) -> None:
        """Best effort: what is left dies with a throwaway server anyway."""
        for name in self.by_dir.values():
            try:
                self._sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            except (BenchError, OSError, subprocess.TimeoutExpired) as e:
                log(f"cannot drop database {name}: {e}")
        self.by_dir.clear()


def store_env(ctx, data_dir: str) -> dict:
    """What points a process (`serve`, `sessions --json`) at `data_dir`'s store:
    nothing on SQLite (the database file in the data dir), `DATABASE_URL` on PostgreSQL."""
    pg = getattr(ctx, "pg", None)
    return {"DATABASE_URL": pg.url_for(data_dir)} if pg else {}


def clean_env(base: dict) -> dict:
    """`base` without what would choose another store or config than the bench's."""
    return {k: v for k, v in base.items()
            if not k.startswith("AGENTLOCATOR_") and k not in ("DATABASE_URL", "PUBLIC_BASE_URL", "FLASK_BASE_URL")}


def pg_server_memory(pid_file: str) -> dict[str, float] | None:
    """The PostgreSQL server's memory, all its processes (the postmaster and its
    children: one backend per pooled connection) summed: RSS (counts shared
    buffers once per process that touched them) and PSS (shares them out).
    `pid_file` is its data directory's postmaster.pid; None when unreadable."""
    try:
        with open(pid_file) as f:
            master = int(f.readline())
        pids = [master]
        with open(f"/proc/{master}/task/{master}/children") as f:
            pids += [int(p) for p in f.read().split()]
        total = {"rss_kib": 0.0, "pss_kib": 0.0, "procs": float(len(pids))}
        for pid in pids:
            total["rss_kib"] += read_kv(f"/proc/{pid}/status")["VmRSS"]
            total["pss_kib"] += read_kv(f"/proc/{pid}/smaps_rollup")["Pss"]
        return total
    except (OSError, ValueError, KeyError):
        return None


# --------------------------------------------------------------------------
# small HTTP helpers (one keep-alive connection per thread and host)

_tls = threading.local()


def http_json(addr: str, method: str, path: str, body=None, headers=None, timeout: float = 30.0):
    """(status, parsed JSON or text). Retries once on a dropped keep-alive connection."""
    conns = getattr(_tls, "conns", None)
    if conns is None:
        conns = _tls.conns = {}
    data = None
    hdrs = dict(headers or {})
    if isinstance(body, (bytes, bytearray)):
        # Already-encoded JSON (bench/media builds large bodies ahead of the timed call).
        data = body
        hdrs["Content-Type"] = "application/json"
    elif body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    for attempt in (0, 1):
        conn = conns.get(addr)
        if conn is None:
            host, port = addr.rsplit(":", 1)
            conn = conns[addr] = http.client.HTTPConnection(host, int(port), timeout=timeout)
        try:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conns.pop(addr, None)
            break
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError,
                http.client.CannotSendRequest, http.client.ResponseNotReady):
            conn.close()
            conns.pop(addr, None)
            if attempt:
                raise
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode(errors="replace")
    return resp.status, parsed


def drop_http_conns() -> None:
    for c in getattr(_tls, "conns", {}).values():
        c.close()
    _tls.conns = {}


# --------------------------------------------------------------------------
# the admin socket: one JSON request per line, one JSON reply per line


def admin_call(sock_path: str, request: dict, timeout: float = 30.0):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(json.dumps(request).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 20)
            if not chunk:
                break
            buf += chunk
    finally:
        s.close()
    reply = json.loads(buf)
    if "ok" in reply:
        return reply["ok"]
    raise BenchError(f"admin socket answered {reply.get('error')} to {request.get('kind')}")


# --------------------------------------------------------------------------
# the tenants' webhook receiver


class Receiver:
    def __init__(self):
        self.keys: dict[str, bytes] = {}  # tenant -> signing key (from `tenant add`)
        self.lock = threading.Lock()
        self.messages: dict[str, list[int]] = {}  # text -> arrival times (ns)
        self.event_ids: set[str] = set()
        self.duplicates = 0
        self.connection_events = 0
        self.other_events = 0
        self.bad_signatures = 0
        # Called as on_message(event, arrived_ns) for each new `whatsapp.message`
        # (after the duplicate check, outside the lock); bench/media inspects the events.
        self.on_message = None
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a real backend would

            def do_POST(self):  # noqa: N802 - http.server's naming
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                arrived = time.monotonic_ns()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
                receiver.record(arrived, body, self.headers)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def record(self, arrived: int, body: bytes, headers) -> None:
        try:
            event = json.loads(body)
        except ValueError:
            with self.lock:
                self.other_events += 1
            return
        kind = event.get("type")
        with self.lock:
            if not self.signed(event.get("tenant"), body, headers):
                self.bad_signatures += 1
            if kind == "whatsapp.connection":
                self.connection_events += 1
                return
            if kind != "whatsapp.message":
                self.other_events += 1
                return
            eid = event.get("id")
            if eid in self.event_ids:
                self.duplicates += 1
                return
            self.event_ids.add(eid)
            text = (event.get("data") or {}).get("text") or ""
            self.messages.setdefault(text, []).append(arrived)
            hook = self.on_message
        if hook is not None:
            hook(event, arrived)

    def add_tenant(self, tenant: str, signing_secret: str) -> None:
        with self.lock:
            self.keys[tenant] = base64.b64decode(signing_secret.removeprefix("whsec_"))

    def signed(self, tenant, body: bytes, headers) -> bool:
        """Standard Webhooks: one `v1,<base64 HMAC-SHA256(key, "id.ts.body")>`
        of webhook-signature made with the tenant's key (caller holds the lock)."""
        key = self.keys.get(tenant)
        if key is None:
            return False
        signed = f"{headers.get('webhook-id', '')}.{headers.get('webhook-timestamp', '')}.".encode() + body
        want = "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        return any(hmac.compare_digest(sig, want) for sig in headers.get("webhook-signature", "").split(" "))

    def arrivals(self, text: str) -> list[int] | None:
        with self.lock:
            return self.messages.get(text)

    def message_count(self) -> int:
        with self.lock:
            return len(self.messages)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# --------------------------------------------------------------------------
# wasim and the daemon


def start_wasim(ctx, tag: str):
    logf = open(os.path.join(ctx.work, f"wasim-{tag}.log"), "ab")
    env = dict(os.environ, RUST_LOG=ctx.args.wasim_log)
    p = ctx.procs.start([ctx.args.wasim, "serve", "--listen", "127.0.0.1:0"],
                        stdout=subprocess.PIPE, stderr=logf, env=env, cwd=ctx.work)
    deadline = time.monotonic() + 30
    line = b""
    while time.monotonic() < deadline and not line.endswith(b"\n"):
        if p.poll() is not None:
            raise BenchError(f"wasim exited with {p.returncode}; see {logf.name}")
        ready, _, _ = select.select([p.stdout], [], [], 0.5)
        if ready:
            ch = os.read(p.stdout.fileno(), 4096)
            if not ch:
                break
            line += ch
    text = line.decode(errors="replace")
    if "wasim listening on " not in text:
        raise BenchError(f"wasim did not print its address within 30 s (got {text!r}); see {logf.name}")
    addr = text.split("wasim listening on ", 1)[1].split()[0]

    def drain():
        try:
            while os.read(p.stdout.fileno(), 65536):
                pass
        except OSError:
            pass

    threading.Thread(target=drain, daemon=True).start()
    return p, addr


class Daemon:
    def __init__(self, ctx, data_dir: str, wasim_addr: str, tag: str, extra_env: dict | None = None):
        self.ctx = ctx
        self.data_dir = data_dir
        self.sock = os.path.join(data_dir, "agentlocator.sock")
        self.log_path = os.path.join(ctx.work, f"serve-{tag}.log")
        env = clean_env(os.environ)
        env.update(store_env(ctx, data_dir))
        env.update({
            "AGENTLOCATOR_LISTEN": "127.0.0.1:0",
            "WHATSAPP_WS_URL": f"ws://{wasim_addr}/ws/chat",
            "INTERNAL_SECRET": ctx.secret,
            "RUST_LOG": ctx.args.rust_log,
            # Read only by a build with the `heap-profile` feature (profile.sh): where
            # this daemon writes its live heap by allocation site when it is stopped.
            "AGENTLOCATOR_HEAP_PROFILE": os.path.join(ctx.work, f"dhat-{tag}.json"),
        })
        env.update(extra_env or {})
        self.env = env
        self.logf = open(self.log_path, "ab")
        self.spawned_wall = time.time()
        self.spawned = time.monotonic()
        self.proc = ctx.procs.start(
            [ctx.args.agentlocator, "--config", ctx.config, "--data-dir", data_dir, "--log-format", "json", "serve"],
            stdout=subprocess.DEVNULL, stderr=self.logf, env=env, cwd=ctx.work)
        self.http = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(f"agentlocator serve exited with {self.proc.returncode} at start; "
                                 f"see {self.log_path}:\n{tail(self.log_path)}")
            if os.path.exists(self.sock):
                try:
                    ping = admin_call(self.sock, {"kind": "ping"}, timeout=5)
                    self.http = ping["http"]
                    break
                except (OSError, BenchError, ValueError):
                    pass
            time.sleep(0.02)
        if not self.http:
            raise BenchError(f"agentlocator serve did not answer on {self.sock} within 60 s; see {self.log_path}")
        self.ready = time.monotonic()
        self.auth = {"Authorization": f"Bearer {ctx.secret}"}

    @property
    def pid(self) -> int:
        return self.proc.pid

    def admin(self, request: dict, timeout: float = 30.0):
        return admin_call(self.sock, request, timeout)

    def sessions(self) -> list[dict]:
        return self.admin({"kind": "sessions"}, timeout=30)

    def stop(self) -> float:
        if getattr(self.ctx.args, "kill_daemons", False):
            # A heap profiler's trace then ends with what was live (profile.sh).
            self.proc.kill()
            self.proc.wait(30)
            self.logf.close()
            return 0.0
        took = self.ctx.procs.stop(self.proc, timeout=90)
        self.logf.close()
        if took is None:
            raise BenchError(f"agentlocator serve (pid {self.proc.pid}) ignored SIGTERM for 90 s; killed. "
                             f"See {self.log_path}")
        return took


def tail(path: str, n: int = 15) -> str:
    try:
        with open(path, "rb") as f:
            return b"".join(f.readlines()[-n:]).decode(errors="replace")
    except OSError:
        return ""


def log_problems(path: str, limit: int = 8) -> tuple[int, int, list[str]]:
    """(warnings, errors, a few distinct messages) in a JSON log."""
    warns = errs = 0
    seen: dict[str, int] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                level = rec.get("level", "")
                if level not in ("WARN", "ERROR"):
                    continue
                if level == "WARN":
                    warns += 1
                else:
                    errs += 1
                msg = rec.get("message", "")
                key = f"{level} {rec.get('target', '')}: {msg}"
                for extra in ("error", "reason"):
                    if extra in rec:
                        key += f" ({extra}={str(rec[extra])[:160]})"
                seen[key] = seen.get(key, 0) + 1
    except OSError:
        pass
    top = sorted(seen.items(), key=lambda kv: -kv[1])[:limit]
    return warns, errs, [f"{c}x {k}" for k, c in top]


def report_log(path: str, what: str) -> None:
    warns, errs, top = log_problems(path)
    if warns or errs:
        out(f"    daemon log ({what}): {warns} WARN, {errs} ERROR lines in {os.path.basename(path)}; most frequent:")
        for line in top:
            out(f"      {line}")


# --------------------------------------------------------------------------
# memory


def read_kv(path: str) -> dict[str, int]:
    vals = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                vals[parts[0][:-1]] = int(parts[1])
    return vals


def non_negative_int(text: str) -> int:
    """An argparse type: a whole number, 0 or more."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more (got {value})")
    return value


def mem_sample(pid: int) -> dict[str, float]:
    st = read_kv(f"/proc/{pid}/status")
    s = {"rss_kib": st["VmRSS"], "hwm_kib": st.get("VmHWM", 0), "threads": st.get("Threads", 0),
         # What VmRSS is made of: the heap and stacks (anon), mapped files (the
         # binary, SQLite's -shm WAL index of each session file, and the session
         # files themselves when mmap is on: those pages are reclaimable) and shmem.
         "rss_anon_kib": st.get("RssAnon", 0), "rss_file_kib": st.get("RssFile", 0),
         "rss_shmem_kib": st.get("RssShmem", 0)}
    try:
        s["fds"] = len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        pass
    try:
        r = read_kv(f"/proc/{pid}/smaps_rollup")
        s["pss_kib"] = r["Pss"]
        s["private_kib"] = r.get("Private_Clean", 0) + r.get("Private_Dirty", 0)
        s["anon_kib"] = r.get("Anonymous", 0)
    except (OSError, KeyError):
        pass
    return s


def mem_settled(pid: int, settle: float, readings: int, gap: float) -> dict[str, float]:
    time.sleep(settle)
    samples = []
    for i in range(readings):
        if i:
            time.sleep(gap)
        samples.append(mem_sample(pid))
    med = {k: statistics.median(s[k] for s in samples) for k in samples[0]}
    med["rss_spread_kib"] = max(s["rss_kib"] for s in samples) - min(s["rss_kib"] for s in samples)
    return med


def fmt_mem(m: dict) -> str:
    parts = [f"VmRSS {m['rss_kib'] / 1024:.1f} MiB"]
    if "pss_kib" in m:
        parts.append(f"PSS {m['pss_kib'] / 1024:.1f} MiB")
        parts.append(f"Private {m['private_kib'] / 1024:.1f} MiB")
    parts.append(f"HWM {m['hwm_kib'] / 1024:.1f} MiB")
    parts.append(f"threads {m['threads']:.0f}")
    if "fds" in m:
        parts.append(f"fds {m['fds']:.0f}")
    parts.append(f"(5-reading spread {m['rss_spread_kib']:.0f} KiB)")
    return ", ".join(parts)


def pg_memory(ctx, res: dict, key: str) -> None:
    """On PostgreSQL with --pg-pid-file: the server's memory now, into res[key] and printed.
    The tenants' sessions live there, not in the daemon, so the daemon's RSS alone
    is not the whole cost of a tenant."""
    pid_file = getattr(ctx.args, "pg_pid_file", None)
    if not getattr(ctx, "pg", None) or not pid_file:
        return
    m = pg_server_memory(pid_file)
    if m is None:
        out(f"    PostgreSQL server memory: cannot read it (from {pid_file})")
        return
    res[key] = m
    out(f"    PostgreSQL server (all {m['procs']:.0f} processes): RSS {m['rss_kib'] / 1024:.1f} MiB, "
        f"PSS {m['pss_kib'] / 1024:.1f} MiB")


def client_estimate(d: "Daemon") -> str:
    """What the tenants' whatsapp-rust clients estimate they retain (`sessions` memory_bytes)."""
    est = [v["memory_bytes"] for v in d.sessions() if v.get("memory_bytes") is not None]
    if not est:
        return "no client memory estimates"
    return (f"clients' own estimate of their retained heap: {sum(est) / 1024:.0f} KiB in all, "
            f"{statistics.mean(est) / 1024:.1f} KiB per client ({len(est)} clients)")


def kib(v: float) -> str:
    return f"{v:.0f} KiB ({v / 1024:.2f} MiB)"


# --------------------------------------------------------------------------
# tenants and pairing


def tid(i: int) -> str:
    return f"t{i:04d}"


def phone(i: int) -> str:
    return f"+1555000{i:04d}"


def contact(i: int) -> str:
    return f"+1555777{i:04d}"


def add_tenants(ctx, d: Daemon, n: int) -> float:
    t0 = time.monotonic()
    for i in range(1, n + 1):
        req = {"kind": "tenant", "request": {"op": "add", "id": tid(i), "settings": {"webhook_url": ctx.receiver.url}}}
        res = d.admin(req)
        if res.get("result") != "created":
            raise BenchError(f"tenant add {tid(i)}: unexpected answer {res}")
        ctx.receiver.add_tenant(tid(i), res["signing_secret"])
    return time.monotonic() - t0


def pair_one(ctx, d: Daemon, wasim: str, i: int) -> float:
    t = tid(i)
    t0 = time.monotonic()
    deadline = t0 + ctx.args.pair_timeout
    for attempt in range(5):
        # The QR (starts pairing; waits up to 10 s for the worker's first code).
        while True:
            st, body = http_json(d.http, "GET", f"/api/whatsapp/{t}/qr?format=json", headers=d.auth, timeout=30)
            if st == 200:
                break
            if st == 409 and isinstance(body, dict) and body.get("error", {}).get("code") == "already_paired":
                return time.monotonic() - t0
            if st in (503, 409) and time.monotonic() < deadline:
                time.sleep(0.5)
                continue
            raise BenchError(f"{t}: GET qr answered {st} {body}")
        st, body = http_json(wasim, "POST", "/admin/scan", {"qr": body["code"], "phone": phone(i)}, timeout=30)
        if st == 200:
            break
        if st == 404 and attempt < 4 and time.monotonic() < deadline:
            time.sleep(0.5)  # the code rotated under us: fetch the current one
            continue
        raise BenchError(f"{t}: wasim /admin/scan answered {st} {body}")
    while time.monotonic() < deadline:
        st, body = http_json(d.http, "GET", f"/api/whatsapp/{t}/status", headers=d.auth, timeout=30)
        if st == 200 and body.get("state") == "connected":
            if body.get("phone") != phone(i):
                raise BenchError(f"{t}: connected as {body.get('phone')}, expected {phone(i)}")
            return time.monotonic() - t0
        if st == 200 and body.get("state") in ("logged_out", "banned", "replaced", "quarantined"):
            raise BenchError(f"{t}: state {body.get('state')} after the scan: {body}")
        time.sleep(0.1)
    raise BenchError(f"{t}: not connected {ctx.args.pair_timeout:.0f} s after asking for its QR "
                     f"(last status {st} {body}); see {d.log_path}")


def pair_all(ctx, d: Daemon, wasim: str, n: int) -> list[float]:
    times: list[float] = []
    done = 0
    last_report = time.monotonic()
    with futures.ThreadPoolExecutor(ctx.args.pair_concurrency, thread_name_prefix="pair") as pool:
        jobs = [pool.submit(pair_one, ctx, d, wasim, i) for i in range(1, n + 1)]
        try:
            for job in futures.as_completed(jobs):
                times.append(job.result())
                done += 1
                if time.monotonic() - last_report > 15:
                    last_report = time.monotonic()
                    log(f"  paired {done}/{n}")
        except BaseException:
            for j in jobs:
                j.cancel()
            raise
    return times


def count_connected(views: list[dict], since_floor: str | None = None) -> tuple[int, dict[str, int]]:
    states: dict[str, int] = {}
    ok = 0
    for v in views:
        states[v["state"]] = states.get(v["state"], 0) + 1
        if v["state"] == "connected" and (since_floor is None or v["since"] >= since_floor):
            ok += 1
    return ok, states


class LogFollower:
    """Reads a JSON-lines log as it grows."""

    def __init__(self, path: str):
        self.path, self.pos, self.partial = path, 0, b""

    def records(self):
        try:
            with open(self.path, "rb") as f:
                f.seek(self.pos)
                data = f.read()
        except OSError:
            return
        self.pos += len(data)
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            try:
                yield json.loads(line)
            except ValueError:
                continue


def wall_of(ts: str) -> float:
    return datetime.fromisoformat(ts.replace("Z", "+00:00")).timestamp()


def wait_all_connected(ctx, d: Daemon, n: int, timeout: float, since_floor: str | None = None) -> dict:
    """Until the admin socket's `sessions` shows all N `connected` (since this boot).

    When the daemon logs its state changes (RUST_LOG at info), the time each tenant
    connected is taken from its `whatsapp state` log line (microseconds, no observer
    cost) and `sessions` is asked only every 2 s and to confirm the end. Otherwise
    `sessions` is polled every 100 ms (less when it gets slow).
    """
    follower = LogFollower(d.log_path)
    from_log: dict[str, float] = {}
    from_poll: dict[str, float] = {}
    call_times: list[float] = []
    deadline = time.monotonic() + timeout
    states: dict[str, int] = {}
    next_poll = 0.0
    while time.monotonic() < deadline:
        for rec in follower.records():
            if rec.get("message") == "whatsapp state" and rec.get("state") == "connected" and "tenant" in rec:
                from_log.setdefault(rec["tenant"], wall_of(rec["timestamp"]) - d.spawned_wall)
        now = time.monotonic()
        if now >= next_poll or len(from_log) >= n:
            c0 = time.monotonic()
            views = d.sessions()
            c1 = time.monotonic()
            call_times.append(c1 - c0)
            for v in views:
                if v["state"] == "connected" and (since_floor is None or v["since"] >= since_floor):
                    from_poll.setdefault(v["tenant"], c0 - d.spawned)
            ok, states = count_connected(views, since_floor)
            if ok == n and len(views) == n:
                use_log = ctx.log_states and len(from_log) == n
                firsts = sorted((from_log if use_log else from_poll).values())
                return {"all_s": firsts[-1] if use_log else c0 - d.spawned, "source": "log" if use_log else "poll",
                        "confirmed_s": c0 - d.spawned, "firsts": firsts, "calls": call_times}
            if ctx.log_states and len(from_log) < n:
                interval = 2.0
            else:
                # Keep the observer under ~20 % of the daemon's time (`sessions`
                # walks every tenant: tens of ms at N = 1000, more in a stampede).
                interval = max(0.1, 4 * (c1 - c0)) if not ctx.log_states else 0.05
            next_poll = c0 + interval
        if d.proc.poll() is not None:
            raise BenchError(f"the daemon exited ({d.proc.returncode}) while tenants connected; see {d.log_path}")
        time.sleep(0.05)
    raise BenchError(f"only {max(len(from_poll), len(from_log))}/{n} tenants connected within {timeout:.0f} s "
                     f"(states now {states}); see {d.log_path}:\n{tail(d.log_path)}")


def since_floor_of(wall: float) -> str:
    return datetime.fromtimestamp(int(wall), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def offline_states(ctx, data_dir: str) -> dict[str, int]:
    """States as recorded in the database (no daemon running): `sessions --json`."""
    env = clean_env(os.environ)
    env.update(store_env(ctx, data_dir))
    r = subprocess.run([ctx.args.agentlocator, "--config", ctx.config, "--data-dir", data_dir, "-q", "sessions", "--json"],
                       capture_output=True, timeout=60, cwd=ctx.work, env=env)
    if r.returncode != 0:
        raise BenchError(f"sessions --json failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    return count_connected(json.loads(r.stdout))[1]


# --------------------------------------------------------------------------
# latency


# Contacts +1555777NNNN: 1..M in the first rounds, CONTACTS_AGAIN+1.. in the last one.
CONTACTS_AGAIN = 5000


def pct(sorted_vals: list[float], p: float) -> float:
    if not sorted_vals:
        return float("nan")
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def latency_round(ctx, wasim: str, n: int, round_no: int, contact_base: int) -> dict:
    m, rate = ctx.args.messages, ctx.args.rate
    interval = 1.0 / rate
    sent: list[str] = []
    refused: list[str] = []
    send_ms: list[float] = []
    start = time.monotonic() + 0.05
    for seq in range(m):
        due = start + seq * interval
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        i = seq % n + 1
        t0 = time.monotonic_ns()
        text = f"bench {round_no}-{seq} {t0}"
        st, body = http_json(wasim, "POST", "/admin/send", {"from": contact(contact_base + seq + 1), "to": phone(i), "text": text},
                             timeout=30)
        send_ms.append((time.monotonic_ns() - t0) / 1e6)
        if st == 200:
            sent.append(text)
        else:
            refused.append(f"{st} {body}")
    send_span = time.monotonic() - start
    wait_for(ctx.args.arrival_timeout, lambda: all(ctx.receiver.arrivals(t) for t in sent))
    lat: list[float] = []
    lost = 0
    dup = 0
    for t in sent:
        arr = ctx.receiver.arrivals(t)
        if not arr:
            lost += 1
            continue
        dup += len(arr) - 1
        t0 = int(t.rsplit(" ", 1)[1])
        lat.append((min(arr) - t0) / 1e6)
    lat.sort()
    send_ms.sort()
    return {
        "sent": len(sent), "refused": len(refused), "refused_first": refused[:3], "lost": lost, "dup_texts": dup,
        "rate": len(send_ms) / send_span if send_span > 0 else float("nan"),
        "p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99), "max": lat[-1] if lat else float("nan"),
        "min": lat[0] if lat else float("nan"),
        "send_p50": pct(send_ms, 50), "send_p99": pct(send_ms, 99),
    }


# --------------------------------------------------------------------------
# one N


def steady_traffic(ctx, d: Daemon, wasim: str, n: int) -> dict:
    """A round of steady traffic on the restarted daemon, --steady-seconds long: rounds
    of --messages at --rate, to the contacts of the latency rounds (established
    sessions), every --steady-new-every-th round (tenth) to new contacts while there
    are numbers left (new sessions keep being set up, as in real life). One RSS
    reading after each round shows whether memory keeps growing."""
    args = ctx.args
    start = time.monotonic()
    rounds: list[dict] = []
    # (seconds, VmRSS, RssAnon, RssFile + RssShmem) in KiB: whether what grows
    # is the heap (anon) or mapped files (the binary, SQLite's WAL index).
    trend: list[tuple[float, float, float, float]] = []
    next_new = CONTACTS_AGAIN + args.messages
    while time.monotonic() - start < args.steady_seconds:
        k = len(rounds)
        base, kind = 0, "established"
        every = args.steady_new_every
        if every and k % every == every - 1 and next_new + args.messages <= 9999:
            base, kind, next_new = next_new, "new", next_new + args.messages
        lr = latency_round(ctx, wasim, n, 1000 + k, base)
        lr["contacts"] = kind
        rounds.append(lr)
        m = mem_sample(d.pid)
        trend.append((time.monotonic() - start, m["rss_kib"], m["rss_anon_kib"], m["rss_file_kib"] + m["rss_shmem_kib"]))
        if lr["lost"]:
            raise BenchError(f"steady traffic round {k + 1}: {lr['lost']} messages lost")
    p99s = sorted(r["p99"] for r in rounds)
    res = {"seconds": time.monotonic() - start, "rounds": len(rounds), "sent": sum(r["sent"] for r in rounds),
           "p50_median": statistics.median(r["p50"] for r in rounds), "p99_median": statistics.median(p99s),
           "p99_max": p99s[-1], "rss_trend": trend}
    shown = trend if len(trend) <= 6 else [trend[int(i * (len(trend) - 1) / 5)] for i in range(6)]
    out(f"  steady traffic: {res['rounds']} rounds, {res['sent']} messages in {res['seconds']:.0f} s: p50 (median "
        f"of rounds) {res['p50_median']:.2f} ms, p99 median {res['p99_median']:.2f} ms, worst round p99 "
        f"{res['p99_max']:.2f} ms; RSS over time: "
        + ", ".join(f"{t:.0f} s {v / 1024:.1f} MiB (anon {a / 1024:.1f}, files {f / 1024:.1f})" for t, v, a, f in shown))
    return res


def boot(ctx, data_dir: str, wasim: str, n: int, tag: str, extra_env: dict | None, stagger_ms: int) -> tuple[Daemon, dict]:
    d = Daemon(ctx, data_dir, wasim, tag, extra_env)
    floor_s = since_floor_of(d.spawned_wall)
    timeout = 120 + n * (stagger_ms / 1000.0) * 3 + n * 0.2
    w = wait_all_connected(ctx, d, n, timeout, since_floor=floor_s)
    firsts, calls = w["firsts"], w["calls"]
    res = {
        "stagger_ms": stagger_ms, "all_s": w["all_s"], "source": w["source"], "confirmed_s": w["confirmed_s"],
        "admin_ready_s": d.ready - d.spawned, "first_s": firsts[0], "median_tenant_s": statistics.median(firsts),
        "floor_s": (n - 1) * stagger_ms / 1000.0, "poll_ms_median": statistics.median(calls) * 1000,
        "poll_ms_max": max(calls) * 1000, "polls": len(calls),
    }
    return d, res


def fmt_boot(b: dict) -> str:
    how = "from the daemon's state log lines" if b["source"] == "log" else "polling `sessions`"
    return (f"all connected {b['all_s']:.2f} s after spawn ({how}; `sessions` confirmed at {b['confirmed_s']:.2f} s); "
            f"floor (N-1)*stagger = {b['floor_s']:.2f} s; admin socket up at {b['admin_ready_s']:.2f} s, "
            f"first tenant {b['first_s']:.2f} s, median tenant {b['median_tenant_s']:.2f} s; {b['polls']} `sessions` "
            f"calls, median {b['poll_ms_median']:.1f} ms / max {b['poll_ms_max']:.1f} ms each")


def run_n(ctx, n: int) -> dict:
    args = ctx.args
    res: dict = {"n": n}
    out(f"\n=== N = {n} tenants")
    wasim_p, wasim = start_wasim(ctx, f"n{n}")
    data_dir = os.path.join(ctx.work, f"data-n{n}")
    try:
        d = Daemon(ctx, data_dir, wasim, f"n{n}-pair")
        took = add_tenants(ctx, d, n)
        out(f"  tenants added over the admin socket: {took:.2f} s ({n / took:.0f}/s)")
        log(f"N={n}: pairing {n} tenants, {args.pair_concurrency} at a time (prekeys {args.prekeys})")
        t0 = time.monotonic()
        ptimes = pair_all(ctx, d, wasim, n)
        pair_wall = time.monotonic() - t0
        ptimes.sort()
        res["pair"] = {"wall_s": pair_wall, "per_s": n / pair_wall, "p50_s": pct(ptimes, 50), "max_s": ptimes[-1]}
        out(f"  paired {n} in {pair_wall:.1f} s ({n / pair_wall:.1f}/s with {args.pair_concurrency} in flight; "
            f"one tenant QR->connected p50 {pct(ptimes, 50):.2f} s, max {ptimes[-1]:.2f} s)")
        ok, states = count_connected(d.sessions())
        if ok != n:
            raise BenchError(f"after pairing only {ok}/{n} connected: {states}")
        # Does the daemon log its state changes (RUST_LOG at info)? Then boot times come from there.
        ctx.log_states = any(r.get("message") == "whatsapp state" for r in LogFollower(d.log_path).records())
        m = mem_settled(d.pid, args.settle, args.readings, args.reading_gap)
        res["mem_after_pairing"] = m
        out(f"  memory after pairing (settled):       {fmt_mem(m)}")
        pg_memory(ctx, res, "pg_after_pairing")
        out(f"    {client_estimate(d)}")
        res["wasim_rss_kib"] = mem_sample(wasim_p.pid)["rss_kib"]
        report_log(d.log_path, "pairing")
        res["shutdown_s"] = [d.stop()]
        out(f"  SIGTERM -> exit: {res['shutdown_s'][0]:.2f} s; recorded states now {offline_states(ctx, data_dir)}")

        # reconnect everything at boot, default stagger; then memory and latency on that daemon
        d, b = boot(ctx, data_dir, wasim, n, f"n{n}-boot", None, ctx.stagger)
        res["boot"] = [b]
        out(f"  boot (stagger {ctx.stagger} ms):  {fmt_boot(b)}")
        m = mem_settled(d.pid, args.settle, args.readings, args.reading_gap)
        res["mem_after_boot"] = m
        out(f"  memory after reconnect-at-boot (settled): {fmt_mem(m)}")
        pg_memory(ctx, res, "pg_after_boot")
        out(f"    {client_estimate(d)}")
        res["latency"] = []
        # Round 1: every (contact, tenant) pair is new, so each message is a Signal
        # `pkmsg` (session set-up on both sides); the following rounds repeat the same
        # pairs (`msg`, established sessions); a last round uses new contacts again, to
        # tell the session set-up apart from warm-up.
        plan = [("new", 0)] + [("established", 0)] * (args.latency_repeats - 1)
        if args.latency_repeats >= 2:
            plan.append(("new", CONTACTS_AGAIN))
        for r, (kind, base) in enumerate(plan):
            lr = latency_round(ctx, wasim, n, r, base)
            lr["contacts"] = kind
            res["latency"].append(lr)
            out(f"  latency round {r + 1} ({kind} contacts): {lr['sent']} sent at {lr['rate']:.1f}/s (refused {lr['refused']}), "
                f"lost {lr['lost']}, duplicates {lr['dup_texts']}: p50 {lr['p50']:.2f} ms, p90 {lr['p90']:.2f} ms, "
                f"p99 {lr['p99']:.2f} ms, max {lr['max']:.2f} ms (min {lr['min']:.2f}; /admin/send itself p50 "
                f"{lr['send_p50']:.2f} ms)")
            if lr["refused"]:
                out(f"    refused by wasim: {lr['refused_first']}")
        m2 = mem_settled(d.pid, 1.0, args.readings, args.reading_gap)
        res["mem_after_latency"] = m2
        out(f"  memory after the latency rounds:      {fmt_mem(m2)}")
        if args.steady_seconds > 0:
            res["steady"] = steady_traffic(ctx, d, wasim, n)
            m4 = mem_settled(d.pid, args.settle, args.readings, args.reading_gap)
            res["mem_after_steady"] = m4
            out(f"  memory after {args.steady_seconds:.0f} s of steady traffic (settled): {fmt_mem(m4)}")
        report_log(d.log_path, "boot + latency")
        res["shutdown_s"].append(d.stop())

        # extra boots: default stagger again (noise), then the small stagger
        for k in range(args.boot_repeats - 1):
            d, b = boot(ctx, data_dir, wasim, n, f"n{n}-boot{k + 2}", None, ctx.stagger)
            res["boot"].append(b)
            out(f"  boot (stagger {ctx.stagger} ms) again: {fmt_boot(b)}")
            res["shutdown_s"].append(d.stop())
        res["boot_fast"] = []
        for k in range(args.boot_repeats):
            env = {"AGENTLOCATOR_WHATSAPP__CONNECT_STAGGER": f"{args.fast_stagger_ms}ms"}
            d, b = boot(ctx, data_dir, wasim, n, f"n{n}-fastboot{k + 1}", env, args.fast_stagger_ms)
            res["boot_fast"].append(b)
            out(f"  boot (stagger {args.fast_stagger_ms} ms):   {fmt_boot(b)}")
            if k == 0:
                m3 = mem_settled(d.pid, args.settle, args.readings, args.reading_gap)
                res["mem_after_fast_boot"] = m3
                out(f"  memory after the stagger-{args.fast_stagger_ms} boot (settled): {fmt_mem(m3)}")
            report_log(d.log_path, f"stagger {args.fast_stagger_ms} boot")
            res["shutdown_s"].append(d.stop())
        out(f"  SIGTERM -> exit times: {', '.join(f'{s:.2f} s' for s in res['shutdown_s'])}")
        res["wasim_rss_kib"] = mem_sample(wasim_p.pid)["rss_kib"]
    finally:
        drop_http_conns()
        ctx.procs.stop(wasim_p, timeout=10)
    return res


def baseline(ctx) -> dict:
    out("\n=== N = 0 (idle daemon, no tenants, same wasim URL settings)")
    wasim_p, wasim = start_wasim(ctx, "n0")
    try:
        res = {}
        d = Daemon(ctx, os.path.join(ctx.work, "data-n0"), wasim, "n0")
        m = mem_settled(d.pid, ctx.args.settle, ctx.args.readings, ctx.args.reading_gap)
        out(f"  memory idle:   {fmt_mem(m)}")
        res["mem"] = m
        pg_memory(ctx, res, "pg_after_pairing")
        d.stop()
        # the same after a restart, as the N > 0 daemons are measured after one
        d = Daemon(ctx, os.path.join(ctx.work, "data-n0"), wasim, "n0-restart")
        m = mem_settled(d.pid, ctx.args.settle, ctx.args.readings, ctx.args.reading_gap)
        out(f"  memory idle after a restart: {fmt_mem(m)}")
        res["mem_restart"] = m
        pg_memory(ctx, res, "pg_after_boot")
        d.stop()
        return res
    finally:
        ctx.procs.stop(wasim_p, timeout=10)


# --------------------------------------------------------------------------
# summary


def summary(ctx, base: dict, results: list[dict]) -> None:
    args = ctx.args
    out("\n=== summary")
    out(f"machine: {os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.2f}; "
        f"prekeys {args.prekeys}; stagger {ctx.stagger} ms (fast boot {args.fast_stagger_ms} ms); RUST_LOG={args.rust_log}")
    out(f"store: {ctx.store_name}")
    b0 = base["mem_restart"]
    fields = [("rss_kib", "VmRSS")]
    if "pss_kib" in b0:
        fields += [("pss_kib", "PSS"), ("private_kib", "Private")]
    for which, title in (("mem_after_boot", "after reconnect-at-boot"), ("mem_after_pairing", "after pairing"),
                         ("mem_after_fast_boot", f"after stagger-{args.fast_stagger_ms} boot"),
                         ("mem_after_steady", f"after {args.steady_seconds:.0f} s of steady traffic")):
        if not any(r.get(which) for r in results):
            continue
        out(f"\nmemory {title} (medians of {args.readings} readings; N = 0 is the idle daemon, "
            f"{'after a restart' if which != 'mem_after_pairing' else 'fresh'})")
        zero = base["mem_restart"] if which != "mem_after_pairing" else base["mem"]
        header = "| N | " + " | ".join(f"{t} MiB | ({t}(N)-{t}(0))/N" for _, t in fields) + " |"
        out(header)
        out("|" + "---|" * (1 + 2 * len(fields)))
        out("| 0 | " + " | ".join(f"{zero[f] / 1024:.1f} | -" for f, _ in fields) + " |")
        for r in results:
            m = r.get(which)
            if not m:
                continue
            out(f"| {r['n']} | " + " | ".join(f"{m[f] / 1024:.1f} | {kib((m[f] - zero[f]) / r['n'])}" for f, _ in fields) + " |")
        ms = [r for r in results if r.get(which)]
        if len(ms) >= 2:
            lo, hi = ms[0], ms[-1]
            for f, t in fields:
                slope = (hi[which][f] - lo[which][f]) / (hi["n"] - lo["n"])
                aim = MEMORY_AIMS_KIB.get(which)
                verdict = "" if aim is None else f" ({'within' if slope <= aim else 'OVER'} the {aim} KiB aim)"
                out(f"  slope {t} (N={lo['n']}..{hi['n']}): {kib(slope)} per tenant{verdict}")
            parts = [(f, t, u) for f, t, u in BREAKDOWN if f in hi[which] and f in lo[which]]
            out("  per tenant, by kind: " + ", ".join(
                f"{t} {(hi[which][f] - lo[which][f]) / (hi['n'] - lo['n']):.{2 if u else 0}f}{u or ' KiB'}"
                for f, t, u in parts))
    pg_summary(base, results)
    out("\nboot: spawn -> all N connected (s; each run)")
    out("| N | stagger ms | floor (N-1)*stagger | all connected | median tenant | first tenant | `sessions` confirmed |")
    out("|---|---|---|---|---|---|---|")
    for r in results:
        for key in ("boot", "boot_fast"):
            bs = r.get(key) or []
            if bs:
                def col(k):
                    return ", ".join("%.2f" % b[k] for b in bs)
                src = "" if all(b["source"] == "log" for b in bs) else " (poll)"
                out(f"| {r['n']} | {bs[0]['stagger_ms']} | {bs[0]['floor_s']:.2f} | {col('all_s')}{src} | "
                    f"{col('median_tenant_s')} | {col('first_s')} | {col('confirmed_s')} |")
    out(f"\ninbound message -> webhook latency ({args.messages} messages/round at {args.rate}/s, round-robin over "
        f"the N tenants; medians of the rounds' percentiles)")
    out("| N | contacts | rounds | p50 ms | p90 ms | p99 ms | max ms | lost | (per-round p50s) |")
    out("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        for kind, what in (("new", "new (pkmsg)"), ("established", "established (msg)")):
            ls = [x for x in r.get("latency") or [] if x.get("contacts") == kind]
            if not ls:
                continue
            med = {k: statistics.median(x[k] for x in ls) for k in ("p50", "p90", "p99", "max")}
            out(f"| {r['n']} | {what} | {len(ls)} | {med['p50']:.2f} | {med['p90']:.2f} | {med['p99']:.2f} | "
                f"{med['max']:.2f} | {sum(x['lost'] for x in ls)} | {', '.join('%.2f' % x['p50'] for x in ls)} |")
    rec = ctx.receiver
    out(f"\nreceiver: {rec.message_count()} distinct messages, {rec.duplicates} duplicate deliveries, "
        f"{rec.connection_events} whatsapp.connection events (ignored), {rec.other_events} other, "
        f"{rec.bad_signatures} bad signatures")
    for r in results:
        out(f"N={r['n']}: pairing {r['pair']['wall_s']:.1f} s ({r['pair']['per_s']:.1f}/s); "
            f"wasim RSS {r['wasim_rss_kib'] / 1024:.1f} MiB")


def pg_summary(base: dict, results: list[dict]) -> None:
    """The PostgreSQL server's memory (PSS of all its processes) at each N, when measured."""
    if "pg_after_boot" not in base:
        return
    out("\nPostgreSQL server memory (PSS of all its processes, MiB; (PSS(N)-PSS(0))/N; N = 0 is the idle daemon's)")
    out("| N | after pairing | per tenant | after reconnect-at-boot | per tenant |")
    out("|---|---|---|---|---|")
    out(f"| 0 | {base['pg_after_pairing']['pss_kib'] / 1024:.1f} | - | {base['pg_after_boot']['pss_kib'] / 1024:.1f} | - |")
    for r in results:
        cells = []
        for key in ("pg_after_pairing", "pg_after_boot"):
            m, zero = r.get(key), base.get(key)
            cells.append(f"{m['pss_kib'] / 1024:.1f} | {kib((m['pss_kib'] - zero['pss_kib']) / r['n'])}"
                         if m and zero else "- | -")
        out(f"| {r['n']} | " + " | ".join(cells) + " |")


class Ctx:
    pass


# The aims per connected tenant (RSS slope): right after pairing, and after a
# restart (the reconnect-at-boot daemons).
MEMORY_AIMS_KIB = {"mem_after_pairing": 180, "mem_after_boot": 90, "mem_after_fast_boot": 90}

# VmRSS by kind (/proc/PID/status), per tenant in the summary.
BREAKDOWN = [("rss_anon_kib", "anonymous (heap, stacks)", ""),
             ("rss_file_kib", "file-backed (SQLite's -shm WAL index, mapped files)", ""),
             ("rss_shmem_kib", "shmem", ""), ("threads", "threads", " threads"),
             ("fds", "fds", " fds")]


def add_common_args(ap) -> None:
    """The options every sim-driven bench takes: the binaries, the scratch
    directory, pairing, how long to wait and how to read memory, and logging."""
    ap.add_argument("--agentlocator", required=True, help="release binary built with --features sim")
    ap.add_argument("--wasim", required=True, help="the wasim binary")
    ap.add_argument("--work", required=True, help="scratch directory (data dirs, logs)")
    ap.add_argument("--pid-file", help="where the pids of live children are kept (for a trap)")
    ap.add_argument("--prekeys", type=int, default=812, help="whatsapp.prekeys (default 812, WhatsApp Web's)")
    ap.add_argument("--pair-concurrency", type=int, default=12)
    ap.add_argument("--pair-timeout", type=float, default=180.0, help="per tenant, seconds")
    ap.add_argument("--arrival-timeout", type=float, default=60.0)
    ap.add_argument("--settle", type=float, default=3.0)
    ap.add_argument("--readings", type=int, default=5)
    ap.add_argument("--reading-gap", type=float, default=1.0)
    ap.add_argument("--rust-log", default="info")
    ap.add_argument("--wasim-log", default="warn")
    ap.add_argument("--json-out", help="write all figures here as JSON")
    ap.add_argument("--kill-daemons", action="store_true",
                    help="stop each daemon with SIGKILL instead of SIGTERM (profile.sh: a heaptrack trace "
                         "then ends with the daemon's live heap)")


def effective_config(ctx, extra_env: dict | None = None) -> dict | None:
    """The daemon's effective configuration (`config check --json`) for the
    bench's config file and `extra_env`; None, said on stderr, when refused."""
    check_env = clean_env(os.environ)
    check_env.update({"AGENTLOCATOR_LISTEN": "127.0.0.1:0", "WHATSAPP_WS_URL": "ws://127.0.0.1:1/ws/chat"})
    check_env.update(extra_env or {})
    r = subprocess.run([ctx.args.agentlocator, "--config", ctx.config, "--data-dir", os.path.join(ctx.work, "check"),
                        "config", "check", "--json"], capture_output=True, env=check_env, timeout=60, cwd=ctx.work)
    if r.returncode != 0:
        print(f"FAIL: `config check` refused the bench configuration ({r.returncode}): "
              f"{r.stderr.decode(errors='replace')}", file=sys.stderr)
        return None
    return json.loads(r.stdout)


def wait_for(timeout: float, done) -> bool:
    """Polls `done()` every 100 ms until it holds or `timeout` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return True
        time.sleep(0.1)
    return done()


def duration_ms(text: str) -> int:
    """A humantime duration as the daemon prints it ("10ms", "1s 500ms") in milliseconds."""
    units = {"ns": 1e-6, "us": 1e-3, "ms": 1, "s": 1000, "m": 60_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]+)", text)
    if not parts:
        raise BenchError(f"not a duration: {text!r}")
    return round(sum(float(n) * units[u] for n, u in parts))


def run_guarded(ctx, body) -> int:
    """Runs the measurements, then stops every process the bench started, however
    they ended: 0, 1 after a bench failure (said on stdout), 130 when interrupted.
    What `body` recorded before a failure stays recorded for the summary."""
    try:
        body()
        return 0
    except BenchError as e:
        out(f"\nFAIL: {e}")
        return 1
    except KeyboardInterrupt as e:
        out(f"\ninterrupted ({e})")
        return 130
    finally:
        ctx.procs.stop_all()
        ctx.receiver.close()
        if getattr(ctx, "pg", None):
            ctx.pg.drop_all()



def stop_on_signals() -> None:
    """SIGTERM and SIGHUP end the run as Ctrl-C does, so its cleanup (the
    `finally` blocks that stop every process it started) runs either way."""

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(ap)
    ap.add_argument("--ns", default="10,100,1000", help="tenant counts, comma-separated")
    ap.add_argument("--stagger-ms", type=int, default=None, help="whatsapp.connect_stagger in milliseconds (default: the built-in)")
    ap.add_argument("--fast-stagger-ms", type=int, default=0)
    ap.add_argument("--boot-repeats", type=int, default=2)
    ap.add_argument("--messages", type=int, default=300)
    ap.add_argument("--rate", type=float, default=50.0)
    ap.add_argument("--steady-seconds", type=float, default=0.0,
                    help="after the latency rounds, this long of steady traffic (rounds of --messages at "
                         "--rate), then memory again (default 0: none)")
    ap.add_argument("--steady-new-every", type=non_negative_int, default=10,
                    help="in the steady traffic, every K-th round goes to new contacts while there are "
                         "numbers left (default 10; 0: established contacts only, so that what memory "
                         "still grows is not new sessions)")
    ap.add_argument("--database-url", default=os.environ.get("BENCH_DATABASE_URL") or None,
                    help="run on PostgreSQL: a server URL (postgres://user@host:port/postgres, may CREATE "
                         "DATABASE); every data directory gets a fresh database there (default: env "
                         "BENCH_DATABASE_URL; unset: SQLite)")
    ap.add_argument("--pg-pid-file", help="with --database-url: the server's postmaster.pid, to read its memory too")
    ap.add_argument("--latency-repeats", type=int, default=3,
                    help="rounds with the same contacts (the first sets up their sessions); "
                         "with 2 or more, one more round with new contacts")
    args = ap.parse_args()

    ns = sorted({int(x) for x in args.ns.replace(" ", ",").split(",") if x})
    if not ns or ns[0] < 1:
        ap.error("--ns: give positive tenant counts")
    if args.messages > 4000:
        ap.error("--messages: at most 4000 a round")
    if ns[-1] > 9999:
        ap.error("--ns: at most 9999 tenants (phone numbers are +1555000NNNN)")

    ctx = Ctx()
    ctx.args = args
    ctx.work = os.path.abspath(args.work)
    os.makedirs(ctx.work, exist_ok=True)
    ctx.procs = Procs(args.pid_file)
    ctx.secret = secrets.token_hex(16)
    ctx.config = os.path.join(ctx.work, "agentlocator.toml")
    try:
        ctx.pg = PgDatabases(args.database_url) if args.database_url else None
    except BenchError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    ctx.store_name = "PostgreSQL (a fresh database per data directory)" if ctx.pg else "SQLite (in each data directory)"
    with open(ctx.config, "w") as f:
        f.write("# written by bench/whatsapp/bench.py\n[whatsapp]\n")
        f.write(f"prekeys = {args.prekeys}\n")
        if args.stagger_ms is not None:
            f.write(f"connect_stagger = \"{args.stagger_ms}ms\"\n")
    # The effective settings, as the daemon will see them (file + the environment it gets).
    checked = effective_config(ctx)
    if checked is None:
        return 1
    effective = checked["whatsapp"]
    ctx.stagger = duration_ms(effective["connect_stagger"])
    if int(effective["prekeys"]) != args.prekeys:
        print(f"FAIL: prekeys {effective['prekeys']} in effect, not {args.prekeys}", file=sys.stderr)
        return 1

    stop_on_signals()

    ctx.receiver = Receiver()
    ctx.log_states = False
    out(f"agentlocator WhatsApp benchmark: N = {', '.join(map(str, ns))}; store {ctx.store_name}; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.2f} at start; work dir {ctx.work}")
    out(f"settings: prekeys {args.prekeys}, connect_stagger {ctx.stagger} ms (also a boot with "
        f"{args.fast_stagger_ms}), pairing {args.pair_concurrency} at a time, {args.messages} messages a round "
        f"at {args.rate}/s, {args.latency_repeats} round(s) with the same contacts"
        f"{' + 1 with new ones' if args.latency_repeats >= 2 else ''}, RUST_LOG={args.rust_log}; webhook receiver {ctx.receiver.url}")
    # Each connected tenant holds ~5 descriptors in the daemon on SQLite (its WebSocket,
    # the session store's db/-wal/-shm, its lock file; on PostgreSQL fewer: the sessions
    # share the pool). The daemon keeps the limit it inherits.
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 6 * ns[-1] + 200
    if soft != resource.RLIM_INFINITY and soft < want:
        out(f"WARNING: the open-files limit the daemon inherits is {soft} (ulimit -n); N = {ns[-1]} needs about "
            f"{want}. Expect `Too many open files` and quarantined tenants; raise it with `ulimit -n {want}`.")
    results: list[dict] = []
    baselines: list[dict] = []

    def measure() -> None:
        baselines.append(baseline(ctx))
        for n in ns:
            results.append(run_n(ctx, n))

    status = run_guarded(ctx, measure)
    base = baselines[0] if baselines else None
    if base and results:
        summary(ctx, base, results)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"store": ctx.store_name, "baseline": base, "results": results, "args": vars(args)}, f,
                      indent=1, default=str)
    lost = sum(x["lost"] for r in results for x in r.get("latency", []))
    if lost:
        out(f"FAIL: {lost} messages never reached the webhook")
        status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
