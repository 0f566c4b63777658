#!/usr/bin/env python3
"""Cluster benchmark (driver; run it through bench/cluster/run.sh).

One PostgreSQL database, one `wasim serve`, K `agentlocator serve` nodes (release,
`--features sim`) on that database, each with its own node id. N tenants are added
and paired by QR through the first node (calls for a tenant another node holds are
forwarded to it). Then:

  1. failover: the node holding the most tenants is SIGKILLed; measured from the
     kill until every one of its tenants is `connected` on a survivor (the time each
     tenant connected is taken from the survivors' `whatsapp state` log lines, and
     confirmed in the database: a live lease held by a survivor, state `connected`).
     The node is then started again under the same id and the time until the
     tenants are spread evenly again and all connected is measured too. Repeated
     `--kills` times, for each lease TTL in `--ttls` (all nodes restarted with the
     next TTL, the tenants staying paired).
  2. webhooks/s: signed Twilio voice webhooks from the load generator (bench/twilio/)
     with `--twilio-conns` connections to one node, then spread round-robin over all
     K nodes, in the same run; every webhook answered 200 is checked in the database.

Processes, pairing, the receiver and log reading come from bench/whatsapp/bench.py
(imported, not copied). Python 3.11, standard library only. Every wait is bounded;
nothing is asserted about time: the figures are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "whatsapp"))
import bench as wa  # noqa: E402  (bench/whatsapp/bench.py)

BenchError = wa.BenchError
log, out = wa.log, wa.out

TWILIO_TOKEN = "bench-cluster-auth-token-0123456789"


# --------------------------------------------------------------------------
# the shared database


class Db:
    """The cluster's one database (created empty on the server at `server_url`), read with psql."""

    def __init__(self, server_url: str):
        self.server = wa.PgDatabases(server_url)
        self.url = self.server.url_for("cluster")
        self.psql = self.server.psql

    def rows(self, sql: str) -> list[list[str]]:
        """Every row the script `sql` prints (psql meta-commands allowed), tab-separated fields."""
        r = subprocess.run([self.psql, "-qAtX", "-F", "\t", "-v", "ON_ERROR_STOP=1", self.url],
                           input=sql.encode(), capture_output=True, timeout=120)
        if r.returncode != 0:
            raise BenchError(f"psql failed ({r.returncode}): {r.stderr.decode(errors='replace').strip()}")
        return [line.split("\t") for line in r.stdout.decode().splitlines() if line]

    def leases(self) -> dict[str, tuple[str, str]]:
        """tenant -> (node holding a live lease, recorded state); tenants without one are absent."""
        rows = self.rows("SELECT l.tenant_id, l.owner, t.wa_state FROM tenant_leases l "
                         "JOIN tenants t ON t.id = l.tenant_id WHERE l.expires_at > now();")
        return {r[0]: (r[1], r[2]) for r in rows}

    def drop(self) -> None:
        self.server.drop_all()


def per_node(leases: dict[str, tuple[str, str]], tenants: set[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for t in tenants:
        if t in leases:
            counts[leases[t][0]] = counts.get(leases[t][0], 0) + 1
    return dict(sorted(counts.items()))


def fmt_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {c}" for n, c in counts.items()) or "none"


# --------------------------------------------------------------------------
# the tenants' webhook receiver


class Receiver(wa.Receiver):
    """bench/whatsapp's receiver, also counting repeated `whatsapp.connection` events
    (by event id): these are what a failover and a hand-over deliver."""

    def __init__(self):
        super().__init__()
        self.connection_ids: set[str] = set()
        self.connection_duplicates = 0

    def record(self, arrived: int, body: bytes, headers) -> None:
        try:
            event = json.loads(body)
        except ValueError:
            event = {}
        if isinstance(event, dict) and event.get("type") == "whatsapp.connection":
            with self.lock:
                if event.get("id") in self.connection_ids:
                    self.connection_duplicates += 1
                self.connection_ids.add(event.get("id"))
        super().record(arrived, body, headers)


# --------------------------------------------------------------------------
# nodes


class Cluster:
    def __init__(self, ctx, wasim: str):
        self.ctx, self.wasim = ctx, wasim
        self.nodes: dict[str, wa.Daemon] = {}
        self.starts: dict[str, int] = {}

    def start(self, node_id: str, ttl_s: int) -> wa.Daemon:
        k = self.starts[node_id] = self.starts.get(node_id, 0) + 1
        env = {"DATABASE_URL": self.ctx.db.url, "AGENTLOCATOR_CLUSTER__NODE_ID": node_id,
               "AGENTLOCATOR_CLUSTER__LEASE_TTL": f"{ttl_s}s", "TWILIO_AUTH_TOKEN": TWILIO_TOKEN}
        d = wa.Daemon(self.ctx, os.path.join(self.ctx.work, f"data-{node_id}"), self.wasim,
                      f"{node_id}-{k}", extra_env=env)
        self.nodes[node_id] = d
        return d

    def kill(self, node_id: str) -> float:
        """SIGKILL; the wall-clock time of the kill."""
        d = self.nodes.pop(node_id)
        at = time.time()
        d.proc.kill()
        d.proc.wait(30)
        d.logf.close()
        self.ctx.procs._write()
        return at

    def stop_all(self) -> None:
        for node_id in list(self.nodes):
            self.nodes.pop(node_id).stop()

    def first(self) -> wa.Daemon:
        return next(iter(self.nodes.values()))


def wait_settled(ctx, cluster: Cluster, timeout: float, what: str) -> tuple[float, dict[str, int]]:
    """Until every tenant has a live lease on a running node, the counts differ by at
    most one and every tenant is `connected`: (seconds it took, per-node counts)."""
    t0 = time.monotonic()
    tenants, live = ctx.tenants, set(cluster.nodes)
    counts: dict[str, int] = {}
    connected = 0
    while time.monotonic() - t0 < timeout:
        leases = ctx.db.leases()
        counts = per_node(leases, tenants)
        connected = sum(1 for t in tenants if t in leases and leases[t][1] == "connected")
        held = sum(c for n, c in counts.items() if n in live)
        if held == len(tenants) and set(counts) == live and max(counts.values()) - min(counts.values()) <= 1 \
                and connected == len(tenants):
            return time.monotonic() - t0, counts
        for n, d in cluster.nodes.items():
            if d.proc.poll() is not None:
                raise BenchError(f"node {n} exited ({d.proc.returncode}); see {d.log_path}")
        time.sleep(0.25)
    raise BenchError(f"{what}: not settled within {timeout:.0f} s: per node {fmt_counts(counts)}, "
                     f"{connected}/{len(tenants)} connected")


# --------------------------------------------------------------------------
# failover


def wasim_counters(wasim: str) -> dict | None:
    """wasim's login counters; None from a wasim too old to count them (404)."""
    st, body = wa.http_json(wasim, "GET", "/admin/counters")
    if st == 404:
        return None
    if st != 200 or not isinstance(body, dict):
        raise BenchError(f"wasim /admin/counters answered {st} {body}")
    return body


def login_deltas(before: dict | None, after: dict | None) -> dict:
    """New logins and logins that replaced a live one (two clients for one device) between two readings."""
    if before is None or after is None:
        return {"logins": None, "replaced_logins": None}
    return {k: after.get(k, 0) - before.get(k, 0) for k in ("logins", "replaced_logins")}


def fmt_logins(d: dict) -> str:
    if d["logins"] is None:
        return "wasim counts no logins"
    return f"wasim logins +{d['logins']}, replaced logins +{d['replaced_logins']}"


def connected_in_logs(followers: list[wa.LogFollower], victims: set[str], since_wall: float,
                      seen: dict[str, float]) -> None:
    """Records in `seen` the first `connected` state line of each victim after `since_wall`."""
    for f in followers:
        for rec in f.records():
            t = rec.get("tenant")
            if rec.get("message") == "whatsapp state" and rec.get("state") == "connected" and t in victims \
                    and t not in seen:
                at = wa.wall_of(rec["timestamp"])
                if at >= since_wall:
                    seen[t] = at - since_wall


def follow_from_now(d: wa.Daemon) -> wa.LogFollower:
    f = wa.LogFollower(d.log_path)
    f.pos = os.path.getsize(d.log_path)
    return f


def failover(ctx, cluster: Cluster, ttl_s: int) -> dict:
    """Kills the node with the most tenants; times its tenants' move to the survivors."""
    leases = ctx.db.leases()
    before = per_node(leases, ctx.tenants)
    # The most tenants; on a tie, the node killed least often so far (then by name).
    victim = max(before, key=lambda n: (before[n], -ctx.kills.get(n, 0), n))
    ctx.kills[victim] = ctx.kills.get(victim, 0) + 1
    victims = {t for t in ctx.tenants if leases.get(t, ("", ""))[0] == victim}
    counters0 = wasim_counters(cluster.wasim)
    followers = [follow_from_now(d) for n, d in cluster.nodes.items() if n != victim]
    killed_wall = cluster.kill(victim)
    killed = time.monotonic()
    seen: dict[str, float] = {}
    moved_s = None
    timeout = ttl_s * 3 + 60 + len(victims) * 0.2
    while time.monotonic() - killed < timeout:
        connected_in_logs(followers, victims, killed_wall, seen)
        now = time.monotonic() - killed
        leases = ctx.db.leases()
        held = [t for t in victims if t in leases and leases[t][0] != victim]
        if moved_s is None and len(held) == len(victims):
            moved_s = now
        done = len(held) == len(victims) and all(leases[t][1] == "connected" for t in held)
        # The state row may still read `connected` from before the kill until the
        # survivor's worker records `connecting`: the log lines settle it when there are.
        if done and (not ctx.log_states or len(seen) == len(victims)):
            break
        time.sleep(0.2)
    else:
        raise BenchError(f"{len(victims) - len(seen)} of {victim}'s {len(victims)} tenants not connected on a "
                         f"survivor within {timeout:.0f} s of the kill")
    confirmed_s = time.monotonic() - killed
    firsts = sorted(seen.values())
    counters1 = wasim_counters(cluster.wasim)
    after = per_node(ctx.db.leases(), ctx.tenants)
    res = {
        "ttl_s": ttl_s, "victim": victim, "victims": len(victims), "before": before, "after": after,
        "all_s": firsts[-1] if len(firsts) == len(victims) else confirmed_s,
        "source": "log" if len(firsts) == len(victims) else "poll",
        "first_s": firsts[0] if firsts else None, "median_s": statistics.median(firsts) if firsts else None,
        "leases_moved_s": moved_s, "confirmed_s": confirmed_s, **login_deltas(counters0, counters1),
    }
    out(f"  kill {victim} ({len(victims)} tenants; before: {fmt_counts(before)}): all its tenants connected on a "
        f"survivor {res['all_s']:.2f} s after the SIGKILL (from {res['source']}; first {fmt_s(res['first_s'])}, "
        f"median {fmt_s(res['median_s'])}; every lease moved at {fmt_s(moved_s)} (polled); confirmed in the "
        f"database at {confirmed_s:.2f} s); after: {fmt_counts(after)}; {fmt_logins(res)}")
    return res


def fmt_n(v: int | None) -> str:
    return "-" if v is None else str(v)


def fmt_s(v: float | None) -> str:
    return "-" if v is None else f"{v:.2f} s"


def rejoin(ctx, cluster: Cluster, node_id: str, ttl_s: int) -> dict:
    """Starts `node_id` again; times until the tenants are spread evenly and connected."""
    counters0 = wasim_counters(cluster.wasim)
    t0 = time.monotonic()
    cluster.start(node_id, ttl_s)
    _, counts = wait_settled(ctx, cluster, ttl_s * 4 + 120, f"{node_id} back")
    total = time.monotonic() - t0
    counters1 = wasim_counters(cluster.wasim)
    res = {"node": node_id, "settled_s": total, "after": counts, **login_deltas(counters0, counters1)}
    out(f"  {node_id} started again: spread evenly and all connected {total:.2f} s after its start "
        f"({fmt_counts(counts)}; {fmt_logins(res)})")
    return res


def ttl_round(ctx, cluster: Cluster, ttl_s: int) -> list[dict]:
    out(f"\n=== failover, lease TTL {ttl_s} s, {len(ctx.tenants)} tenants on {len(cluster.nodes)} nodes")
    cycles = []
    for k in range(ctx.args.kills):
        log(f"TTL {ttl_s} s: kill {k + 1}/{ctx.args.kills}")
        f = failover(ctx, cluster, ttl_s)
        f["rejoin"] = rejoin(ctx, cluster, f["victim"], ttl_s)
        cycles.append(f)
    return cycles


def restart_all(ctx, cluster: Cluster, ttl_s: int) -> None:
    """Every node stopped (SIGTERM), then all started with lease TTL `ttl_s`."""
    ids = sorted(cluster.nodes)
    cluster.stop_all()
    t0 = time.monotonic()
    for node_id in ids:
        cluster.start(node_id, ttl_s)
    _, counts = wait_settled(ctx, cluster, ttl_s * 4 + 180, f"restart with TTL {ttl_s} s")
    out(f"\nall nodes restarted with lease TTL {ttl_s} s: spread and all connected {time.monotonic() - t0:.2f} s "
        f"after the first start ({fmt_counts(counts)})")


# --------------------------------------------------------------------------
# webhooks/s through one node and through all


def loadgen_line(text: str, name: str) -> dict:
    """From `webhook  64 conns 10 s: N ok, E errors, R req/s, p50 A ms, p99 B ms, p99.9 C ms`."""
    for line in text.splitlines():
        if line.startswith(name):
            m = re.search(r"(\d+) ok, (\d+) errors, (\d+) req/s, p50 ([\d.]+) ms, p99 ([\d.]+) ms", line)
            if m:
                return {"ok": int(m[1]), "errors": int(m[2]), "rps": float(m[3]), "p50": float(m[4]),
                        "p99": float(m[5])}
    raise BenchError(f"no `{name}` figures in the load generator's output:\n{text}")


def missing_acked(ctx, tenant: str, acked_file: str) -> tuple[int, int, int]:
    """(acknowledged, stored, acknowledged but not stored) for `tenant`'s voice webhooks."""
    sql = f"""CREATE TEMP TABLE acked (sid TEXT PRIMARY KEY);
\\copy acked FROM '{acked_file}' WITH (FORMAT csv)
SELECT (SELECT COUNT(*) FROM acked),
       (SELECT COUNT(*) FROM events WHERE tenant_id = '{tenant}' AND type = 'twilio.voice'),
       (SELECT COUNT(*) FROM acked WHERE NOT EXISTS (
            SELECT 1 FROM events WHERE tenant_id = '{tenant}'
              AND dedupe_key >= 'voice:' || acked.sid || ':' AND dedupe_key < 'voice:' || acked.sid || ';'));"""
    rows = ctx.db.rows(sql)
    a, s, m = (int(x) for x in rows[-1])
    return a, s, m


def webhook_run(ctx, cluster: Cluster, spread: int, round_no: int) -> dict:
    args = ctx.args
    tenant = f"tw{round_no}n{spread}"
    number = f"+1555222{round_no:02d}{spread:02d}"
    req = {"kind": "tenant", "request": {"op": "add", "id": tenant, "settings": {"twilio_numbers": [number]}}}
    if cluster.first().admin(req).get("result") != "created":
        raise BenchError(f"tenant add {tenant} refused")
    nodes = list(cluster.nodes.values())[:spread]
    bases = ",".join(f"http://{d.http}" for d in nodes)
    acked = os.path.join(ctx.work, f"acked-{tenant}.txt")
    log(f"webhooks: {args.twilio_conns} connections over {spread} node(s), round {round_no + 1}")
    r = subprocess.run([args.loadgen, "--base", bases, "--token", TWILIO_TOKEN, "--to", number,
                        "--conns", str(args.twilio_conns), "--seconds", str(args.twilio_seconds),
                        "--warmup", str(args.twilio_warmup), "--acked-out", acked],
                       capture_output=True, timeout=args.twilio_seconds * 2 + args.twilio_warmup * 2 + 120)
    text = r.stdout.decode(errors="replace")
    if r.returncode != 0:
        raise BenchError(f"load generator failed ({r.returncode}): {r.stderr.decode(errors='replace')}")
    res = {"nodes": spread, "round": round_no, "healthz": loadgen_line(text, "healthz"),
           "webhook": loadgen_line(text, "webhook")}
    res["acked"], res["stored"], res["missing"] = missing_acked(ctx, tenant, acked)
    w = res["webhook"]
    out(f"  {spread} node(s), round {round_no + 1}: webhook {w['rps']:.0f} req/s (p50 {w['p50']:.2f} ms, p99 "
        f"{w['p99']:.2f} ms, {w['errors']} errors); healthz {res['healthz']['rps']:.0f} req/s; "
        f"{res['acked']} acknowledged, {res['stored']} stored, {res['missing']} acknowledged but missing")
    return res


def webhooks(ctx, cluster: Cluster) -> list[dict]:
    k = len(cluster.nodes)
    out(f"\n=== signed Twilio webhooks, {ctx.args.twilio_conns} connections, {ctx.args.twilio_seconds} s "
        f"(+{ctx.args.twilio_warmup} s warm-up) each: 1 node, then round-robin over {k}; "
        f"{ctx.args.twilio_rounds} round(s)")
    runs = []
    for r in range(ctx.args.twilio_rounds):
        for spread in (1, k):
            runs.append(webhook_run(ctx, cluster, spread, r))
    return runs


# --------------------------------------------------------------------------
# summary


def summary(ctx, res: dict) -> None:
    args = ctx.args
    out("\n=== summary")
    out(f"machine: {os.cpu_count()} CPUs shared by PostgreSQL, wasim, the {args.nodes} nodes and the drivers; "
        f"load average at the end {' '.join('%.2f' % x for x in os.getloadavg())}")
    out(f"{len(ctx.tenants)} tenants on {args.nodes} nodes, one PostgreSQL database; prekeys {args.prekeys}; "
        f"pairing {res.get('pair_s', float('nan')):.1f} s")
    for ttl, cycles in res.get("failover", {}).items():
        if not cycles:
            continue
        alls = [c["all_s"] for c in cycles]
        out(f"\nlease TTL {ttl} s: SIGKILL of the busiest node -> all its tenants connected on a survivor")
        out("| cycle | killed | its tenants | before | after | all connected s | first s | median s | "
            "leases moved s | logins | replaced | rejoin: settled s |")
        out("|---|---|---|---|---|---|---|---|---|---|---|---|")
        for i, c in enumerate(cycles):
            rj = c.get("rejoin", {})
            out(f"| {i + 1} | {c['victim']} | {c['victims']} | {fmt_counts(c['before'])} | {fmt_counts(c['after'])} "
                f"| {c['all_s']:.2f} | {fmt_s(c['first_s'])[:-2]} | {fmt_s(c['median_s'])[:-2]} | "
                f"{fmt_s(c['leases_moved_s'])[:-2]} | {fmt_n(c['logins'])} | {fmt_n(c['replaced_logins'])} | "
                f"{rj.get('settled_s', float('nan')):.2f} |")
        out(f"median over {len(alls)} kill(s): {statistics.median(alls):.2f} s (TTL {ttl} s)")
    rec = ctx.receiver
    out(f"\ntenants' webhook receiver: {rec.connection_events} whatsapp.connection deliveries "
        f"({rec.connection_duplicates} of them repeated an event id already received), {rec.other_events} other, "
        f"{rec.bad_signatures} bad signatures")
    runs = res.get("webhooks") or []
    if runs:
        out(f"\nsigned Twilio webhooks/s, {args.twilio_conns} connections (medians of {args.twilio_rounds} round(s))")
        by = {}
        for r in runs:
            by.setdefault(r["nodes"], []).append(r)
        for n, rs in sorted(by.items()):
            out(f"  {n} node(s): {statistics.median(r['webhook']['rps'] for r in rs):.0f} webhooks/s "
                f"(each round: {', '.join('%.0f' % r['webhook']['rps'] for r in rs)}; p99 "
                f"{statistics.median(r['webhook']['p99'] for r in rs):.2f} ms); healthz "
                f"{statistics.median(r['healthz']['rps'] for r in rs):.0f} req/s")
        if len(by) == 2:
            (a, ra), (b, rb) = sorted(by.items())
            ratio = statistics.median(r["webhook"]["rps"] for r in rb) / statistics.median(r["webhook"]["rps"] for r in ra)
            out(f"  ratio {b} nodes / {a} node: {ratio:.2f}")
        out(f"  acknowledged but missing: {sum(r['missing'] for r in runs)} "
            f"(of {sum(r['acked'] for r in runs)} acknowledged)")


# --------------------------------------------------------------------------
# main


def measure(ctx, res: dict) -> None:
    args = ctx.args
    wasim_p, wasim = wa.start_wasim(ctx, "cluster")
    cluster = Cluster(ctx, wasim)
    ttls = ctx.ttls
    for i in range(args.nodes):
        cluster.start(f"n{i + 1}", ttls[0])
    d = cluster.first()
    took = wa.add_tenants(ctx, d, args.tenants)
    ctx.tenants = {wa.tid(i) for i in range(1, args.tenants + 1)}
    out(f"  {args.tenants} tenants added through n1: {took:.2f} s")
    log(f"pairing {args.tenants} tenants through n1, {args.pair_concurrency} at a time")
    t0 = time.monotonic()
    wa.pair_all(ctx, d, wasim, args.tenants)
    res["pair_s"] = time.monotonic() - t0
    out(f"  paired {args.tenants} in {res['pair_s']:.1f} s")
    ctx.log_states = any(r.get("message") == "whatsapp state" for r in wa.LogFollower(d.log_path).records())
    took, counts = wait_settled(ctx, cluster, 300, "after pairing")
    out(f"  spread and all connected: {fmt_counts(counts)} ({took:.2f} s after the last pairing)")
    res["failover"] = {}
    for i, ttl in enumerate(ttls):
        if i:
            restart_all(ctx, cluster, ttl)
        res["failover"][ttl] = ttl_round(ctx, cluster, ttl)
    for n, node in cluster.nodes.items():
        wa.report_log(node.log_path, n)
    res["webhooks"] = webhooks(ctx, cluster)
    cluster.stop_all()
    ctx.procs.stop(wasim_p, timeout=10)


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    wa.add_common_args(ap)
    ap.add_argument("--database-url", required=True,
                    help="a PostgreSQL server (postgres://user@host:port/postgres, may CREATE DATABASE)")
    ap.add_argument("--loadgen", required=True, help="bench/twilio's twilio-bench binary")
    ap.add_argument("--tenants", type=int, default=300)
    ap.add_argument("--nodes", type=int, default=3)
    ap.add_argument("--ttls", default="15", help="lease TTLs in seconds, comma-separated (default 15)")
    ap.add_argument("--kills", type=int, default=3, help="kill/restart cycles per TTL")
    ap.add_argument("--twilio-conns", type=int, default=64)
    ap.add_argument("--twilio-seconds", type=int, default=10)
    ap.add_argument("--twilio-warmup", type=int, default=2)
    ap.add_argument("--twilio-rounds", type=int, default=2, help="(1 node, all nodes) pairs of runs")
    args = ap.parse_args()
    if not 1 <= args.tenants <= 9999:
        ap.error("--tenants: 1 to 9999 (phone numbers are +1555000NNNN)")
    if args.nodes < 2:
        ap.error("--nodes: at least 2 (one is killed)")
    return args


def main() -> int:
    args = parse_args()
    ctx = wa.Ctx()
    ctx.args = args
    ctx.ttls = [int(x) for x in args.ttls.split(",") if x.strip()]
    ctx.work = os.path.abspath(args.work)
    os.makedirs(ctx.work, exist_ok=True)
    ctx.procs = wa.Procs(args.pid_file)
    ctx.secret = secrets.token_hex(16)
    ctx.config = os.path.join(ctx.work, "agentlocator.toml")
    ctx.pg = None  # wa.Daemon would give each data directory a database: the nodes share ctx.db
    ctx.tenants = set()
    ctx.kills = {}
    try:
        ctx.db = Db(args.database_url)
    except BenchError as e:
        print(f"FAIL: {e}", file=sys.stderr)
        return 1
    with open(ctx.config, "w") as f:
        f.write(f"# written by bench/cluster/bench.py\n[whatsapp]\nprekeys = {args.prekeys}\n")

    wa.stop_on_signals()
    ctx.receiver = Receiver()
    ctx.log_states = False
    out(f"agentlocator cluster benchmark: {args.tenants} tenants, {args.nodes} nodes, lease TTL(s) "
        f"{', '.join(f'{t} s' for t in ctx.ttls)}, {args.kills} kill(s) each; {os.cpu_count()} CPUs; load average "
        f"{' '.join('%.2f' % x for x in os.getloadavg())} at start; work dir {ctx.work}")
    res: dict = {}
    try:
        status = wa.run_guarded(ctx, lambda: measure(ctx, res))
    finally:
        ctx.db.drop()
    summary(ctx, res)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"results": res, "args": vars(args)}, f, indent=1, default=str)
    missing = sum(r["missing"] for r in res.get("webhooks") or [])
    if missing:
        out(f"FAIL: {missing} acknowledged webhooks are missing from the database")
        status = status or 1
    return status


if __name__ == "__main__":
    sys.exit(main())
