#!/usr/bin/env python3
"""Inbound WhatsApp media benchmark (driver; run it through bench/media/run.sh).

One simulator (`wasim`), one daemon (`agentlocator serve`, release, `--features sim`),
N tenants paired by QR, a signed-webhook receiver. Then:

  1. latency: contacts send images (random bytes with a JPEG magic prefix, distinct
     per message) round-robin over the tenants at a steady rate, timed from the
     `POST /admin/send` call to the webhook receiver getting the `whatsapp.message`
     event whose `media.status` is `stored`; in the same run, the same number of text
     messages at the same rate through the same (contact, tenant) pairs, the baseline.
     Every media event is checked: stored, bytes, sha256 (against what was sent, and
     against the file the daemon stored), url.
  2. memory: the daemon's settled RSS, then RSS every 100 ms while K large files
     (16 MiB) download at once, throttled by the simulator so they overlap; peak
     minus idle against the bytes in flight. A second burst with smaller files
     and the same transfer time tells a cost per download from a cost per byte.

Processes, pairing, the receiver and memory readings come from bench/whatsapp/bench.py
(imported, not copied). Python 3.11, standard library only. Every wait is bounded.
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures as futures
import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "whatsapp"))
import bench as wa  # noqa: E402  (bench/whatsapp/bench.py)

MIB = wa.MIB
BenchError = wa.BenchError
log, out, pct = wa.log, wa.out, wa.pct

# A JPEG's start-of-image marker and APP0 (JFIF) segment start: the files look like
# JPEGs to anything sniffing them; the rest is random so no two are alike.
JPEG_MAGIC = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00"


# --------------------------------------------------------------------------
# media events, as the receiver gets them


class MediaEvents:
    """Every `whatsapp.message` whose text (the image caption) starts with `media `."""

    def __init__(self):
        self.lock = threading.Lock()
        self.by_caption: dict[str, list[tuple[int, dict]]] = {}
        self.not_stored = 0

    def on_message(self, event: dict, arrived: int) -> None:
        data = event.get("data") or {}
        text = data.get("text") or ""
        if not text.startswith("media "):
            return
        with self.lock:
            self.by_caption.setdefault(text, []).append((arrived, event))
            if (data.get("media") or {}).get("status") != "stored":
                self.not_stored += 1

    def get(self, caption: str) -> list[tuple[int, dict]]:
        with self.lock:
            return list(self.by_caption.get(caption, ()))

    def stored_at(self, caption: str) -> int | None:
        """Arrival (ns) of the first event for `caption` whose media is stored with a url."""
        for arrived, ev in self.get(caption):
            media = (ev.get("data") or {}).get("media") or {}
            if media.get("status") == "stored" and media.get("url"):
                return arrived
        return None


def image_body(sender: str, to: str, caption: str, size: int) -> tuple[bytes, str]:
    """The `/admin/send` JSON (encoded) and the file's hex sha256."""
    data = JPEG_MAGIC + os.urandom(size - len(JPEG_MAGIC))
    body = {"from": sender, "to": to, "media": {"kind": "image", "mimetype": "image/jpeg",
                                                "data": base64.b64encode(data).decode(), "caption": caption}}
    return json.dumps(body).encode(), hashlib.sha256(data).hexdigest()


def file_sha256(path: str) -> tuple[int, str]:
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            size += len(chunk)
            h.update(chunk)
    return size, h.hexdigest()


def check_events(ctx, data_dir: str, expected: dict[str, dict], size: int) -> dict:
    """Checks every expected media message's event(s); returns counts and a few examples."""
    lost = dup = bad = 0
    problems: list[str] = []

    def problem(msg: str) -> None:
        if len(problems) < 5:
            problems.append(msg)

    for caption, want in expected.items():
        evs = ctx.media.get(caption)
        if not evs:
            lost += 1
            problem(f"{caption}: no event")
            continue
        dup += len(evs) - 1
        _, ev = evs[0]
        data = ev.get("data") or {}
        media = data.get("media") or {}
        why = []
        if ev.get("tenant") != want["tenant"]:
            why.append(f"tenant {ev.get('tenant')} (want {want['tenant']})")
        if data.get("from") != want["from"]:
            why.append(f"from {data.get('from')} (want {want['from']})")
        if data.get("type") != "image":
            why.append(f"type {data.get('type')}")
        if media.get("status") != "stored":
            why.append(f"status {media.get('status')} ({media.get('error')})")
        if media.get("bytes") != size:
            why.append(f"bytes {media.get('bytes')} (want {size})")
        if media.get("sha256") != want["sha256"]:
            why.append("sha256 differs from the file sent")
        if media.get("mimetype") != "image/jpeg":
            why.append(f"mimetype {media.get('mimetype')}")
        if "media_download" in data:
            why.append("the event still carries its download reference")
        url = media.get("url") or ""
        prefix = f"/api/whatsapp/{want['tenant']}/media/"
        if prefix not in url:
            why.append(f"url {url!r}")
        else:
            # The file the daemon stored: data dir/tenants/<id>/media/<media id>.
            media_id = url.split(prefix, 1)[1]
            path = os.path.join(data_dir, "tenants", want["tenant"], "media", media_id)
            try:
                on_disk = file_sha256(path)
                if on_disk != (size, want["sha256"]):
                    why.append(f"stored file {path} is {on_disk[0]} bytes, sha256 {on_disk[1][:12]}...")
            except OSError as e:
                why.append(f"stored file unreadable: {e}")
        if why:
            bad += 1
            problem(f"{caption}: {'; '.join(why)}")
    return {"lost": lost, "duplicates": dup, "bad": bad, "problems": problems}


def part_files(data_dir: str, tenants: list[str]) -> int:
    """`.part` files (downloads in progress) in those tenants' media dirs."""
    n = 0
    for t in tenants:
        try:
            with os.scandir(os.path.join(data_dir, "tenants", t, "media")) as it:
                n += sum(1 for e in it if e.name.endswith(".part"))
        except OSError:
            pass
    return n


# --------------------------------------------------------------------------
# memory sampling


def status_sample(pid: int) -> dict:
    st = wa.read_kv(f"/proc/{pid}/status")
    return {"rss_kib": st["VmRSS"], "anon_kib": st.get("RssAnon", 0), "hwm_kib": st.get("VmHWM", 0),
            "threads": st.get("Threads", 0)}


def reset_hwm(pid: int) -> bool:
    """Resets VmHWM (peak RSS) to the current RSS (`clear_refs` 5, Linux 4.0+)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class Sampler:
    """VmRSS, RssAnon, threads and downloads in flight (`.part` files), every `interval` s."""

    def __init__(self, pid: int, data_dir: str, tenants: list[str], interval: float = 0.1):
        self.pid, self.data_dir, self.tenants, self.interval = pid, data_dir, tenants, interval
        self.samples: list[dict] = []
        self.stop_evt = threading.Event()
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self) -> None:
        nxt = time.monotonic()
        while not self.stop_evt.is_set():
            try:
                s = status_sample(self.pid)
            except (OSError, KeyError):
                break
            s["t"] = time.monotonic() - self.t0
            s["parts"] = part_files(self.data_dir, self.tenants)
            self.samples.append(s)
            nxt += self.interval
            self.stop_evt.wait(max(0.0, nxt - time.monotonic()))

    def stop(self) -> dict:
        self.stop_evt.set()
        self.thread.join(5)
        ss = self.samples
        if not ss:
            return {"samples": 0}
        peak = max(ss, key=lambda s: s["rss_kib"])
        return {"samples": len(ss), "peak_rss_kib": peak["rss_kib"], "peak_at_s": peak["t"],
                "peak_anon_kib": max(s["anon_kib"] for s in ss), "peak_threads": max(s["threads"] for s in ss),
                "peak_parts": max(s["parts"] for s in ss), "first_rss_kib": ss[0]["rss_kib"],
                "series": [(round(s["t"], 2), s["rss_kib"], s["parts"], s["threads"]) for s in ss]}


# --------------------------------------------------------------------------
# 1. latency


def media_round(ctx, d, wasim: str, n: int, tag: str, messages: int, rate: float, size: int) -> dict:
    """`messages` images of `size` bytes, contact(seq+1) -> tenant seq % n + 1 (the same
    pairs as the text rounds), one every 1/rate s; then waits for every event."""
    interval = 1.0 / rate
    expected: dict[str, dict] = {}
    refused: list[str] = []
    send_ms: list[float] = []
    first_of_tenant: set[str] = set()
    sampler = Sampler(d.pid, d.data_dir, [wa.tid(i) for i in range(1, n + 1)])
    start = time.monotonic() + 0.05
    for seq in range(messages):
        i = seq % n + 1
        caption = f"media {tag}-{seq}"
        sender = wa.contact(seq + 1)
        body, sha = image_body(sender, wa.phone(i), caption, size)  # built before the clock starts
        delay = start + seq * interval - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t0 = time.monotonic_ns()
        st, resp = wa.http_json(wasim, "POST", "/admin/send", body, timeout=60)
        send_ms.append((time.monotonic_ns() - t0) / 1e6)
        if st == 200:
            first = wa.tid(i) not in first_of_tenant
            first_of_tenant.add(wa.tid(i))
            expected[caption] = {"t0": t0, "sha256": sha, "tenant": wa.tid(i), "from": sender, "first": first}
        else:
            refused.append(f"{st} {str(resp)[:200]}")
    send_span = time.monotonic() - start
    wa.wait_for(ctx.args.arrival_timeout, lambda: all(ctx.media.stored_at(c) for c in expected))
    mem = sampler.stop()
    lat, lat_first, lat_later = [], [], []
    for caption, want in expected.items():
        at = ctx.media.stored_at(caption)
        if at is None:
            continue
        ms = (at - want["t0"]) / 1e6
        lat.append(ms)
        (lat_first if want["first"] else lat_later).append(ms)
    for xs in (lat, lat_first, lat_later, send_ms):
        xs.sort()
    checks = check_events(ctx, d.data_dir, expected, size)
    leftover = part_files(d.data_dir, [wa.tid(i) for i in range(1, n + 1)])
    return {
        "sent": len(expected), "refused": len(refused), "refused_first": refused[:3],
        "rate": messages / send_span if send_span > 0 else float("nan"), "size": size,
        "p50": pct(lat, 50), "p90": pct(lat, 90), "p99": pct(lat, 99), "max": lat[-1] if lat else float("nan"),
        "min": lat[0] if lat else float("nan"),
        "first_p50": pct(lat_first, 50), "later_p50": pct(lat_later, 50), "firsts": len(lat_first),
        "send_p50": pct(send_ms, 50), "send_p99": pct(send_ms, 99),
        "leftover_parts": leftover, "peak_rss_kib": mem.get("peak_rss_kib"), "peak_parts": mem.get("peak_parts"),
        "peak_threads": mem.get("peak_threads"), **checks,
    }


def text_round(ctx, wasim: str, n: int, round_no: int, messages: int, rate: float) -> dict:
    """bench/whatsapp's own latency round (contact(seq+1) -> tenant seq % n + 1)."""
    saved = (ctx.args.messages, ctx.args.rate)
    ctx.args.messages, ctx.args.rate = messages, rate
    try:
        return wa.latency_round(ctx, wasim, n, round_no, 0)
    finally:
        ctx.args.messages, ctx.args.rate = saved


def fmt_lat(r: dict) -> str:
    return (f"p50 {r['p50']:.1f} ms, p90 {r['p90']:.1f} ms, p99 {r['p99']:.1f} ms, max {r['max']:.1f} ms "
            f"(min {r['min']:.1f}; /admin/send itself p50 {r['send_p50']:.1f} ms)")


# --------------------------------------------------------------------------
# 2. memory under concurrent large downloads


def media_fault(wasim: str, body: dict) -> dict:
    st, resp = wa.http_json(wasim, "POST", "/admin/media-fault", body)
    if st != 200:
        raise BenchError(f"wasim /admin/media-fault {body} answered {st} {resp}")
    return resp


def media_stats(wasim: str) -> dict:
    st, resp = wa.http_json(wasim, "GET", "/admin/media-stats")
    if st != 200:
        raise BenchError(f"wasim /admin/media-stats answered {st} {resp}")
    return resp


def burst(ctx, d, wasim: str, tag: str, count: int, size: int, throttle: int) -> dict:
    """`count` images of `size` bytes sent at once to tenants 1..count, downloaded at
    `throttle` bytes/s each; RSS sampled every 100 ms from just before the first send
    until every event has arrived and the download threads had time to go."""
    args = ctx.args
    tenants = [wa.tid(i) for i in range(1, count + 1)]
    log(f"{tag}: building {count} files of {size / MIB:g} MiB")
    jobs = []
    for k in range(count):
        caption = f"media {tag}-{k}"
        sender = wa.contact(k + 1)
        body, sha = image_body(sender, wa.phone(k + 1), caption, size)
        jobs.append((caption, body, {"sha256": sha, "tenant": tenants[k], "from": sender}))
    media_fault(wasim, {"throttle_bytes_per_s": throttle})
    idle = wa.mem_settled(d.pid, args.settle, args.readings, args.reading_gap)
    stats0 = media_stats(wasim)
    hwm_reset = reset_hwm(d.pid)
    sampler = Sampler(d.pid, d.data_dir, tenants, args.sample_interval)
    expected: dict[str, dict] = {}
    refused: list[str] = []
    t_start = time.monotonic_ns()

    def send(job):
        caption, body, want = job
        t0 = time.monotonic_ns()
        st, resp = wa.http_json(wasim, "POST", "/admin/send", body, timeout=120)
        return caption, want, t0, (time.monotonic_ns() - t0) / 1e6, st, resp

    send_ms = []
    with futures.ThreadPoolExecutor(args.send_concurrency, thread_name_prefix="send") as pool:
        for caption, want, t0, ms, st, resp in pool.map(send, jobs):
            send_ms.append(ms)
            if st == 200:
                expected[caption] = dict(want, t0=t0)
            else:
                refused.append(f"{st} {str(resp)[:200]}")
    sent_span = (time.monotonic_ns() - t_start) / 1e9
    del jobs
    deadline = time.monotonic() + args.arrival_timeout + size / max(throttle, 1)
    while time.monotonic() < deadline:
        if all(ctx.media.stored_at(c) for c in expected):
            break
        time.sleep(0.1)
    all_in = (time.monotonic_ns() - t_start) / 1e9
    time.sleep(1.0)  # a few samples after the last event
    mem = sampler.stop()
    hwm = status_sample(d.pid)["hwm_kib"] if hwm_reset else None
    stats1 = media_stats(wasim)
    media_fault(wasim, {"reset": True})
    lat = sorted((ctx.media.stored_at(c) - w["t0"]) / 1e6 for c, w in expected.items() if ctx.media.stored_at(c))
    checks = check_events(ctx, d.data_dir, expected, size)
    after = wa.mem_settled(d.pid, args.settle, args.readings, args.reading_gap)
    res = {
        "tag": tag, "count": count, "size": size, "throttle": throttle, "sent": len(expected),
        "refused": len(refused), "refused_first": refused[:3], "send_span_s": sent_span,
        "send_p50_ms": pct(sorted(send_ms), 50), "all_in_s": all_in,
        "lat_p50_s": pct(lat, 50) / 1000, "lat_max_s": (lat[-1] / 1000) if lat else float("nan"),
        "downloads": stats1["downloads"] - stats0["downloads"], "idle": idle, "after": after,
        "hwm_kib": hwm, **{k: v for k, v in mem.items() if k != "series"}, "series": mem.get("series"), **checks,
    }
    res["peak_kib"] = max(mem.get("peak_rss_kib", 0), hwm or 0)
    res["delta_kib"] = res["peak_kib"] - idle["rss_kib"]
    return res


def fmt_burst(b: dict) -> list[str]:
    inflight = b["count"] * b["size"] / MIB
    return [
        f"{b['count']} x {b['size'] / MIB:g} MiB at {b['throttle'] / MIB:.2f} MiB/s each: sent in {b['send_span_s']:.1f} s "
        f"(/admin/send p50 {b['send_p50_ms']:.0f} ms), all stored events in at {b['all_in_s']:.1f} s; send -> stored "
        f"p50 {b['lat_p50_s']:.1f} s, max {b['lat_max_s']:.1f} s; wasim served {b['downloads']} downloads",
        f"downloads in flight at once (.part files, sampled): peak {b['peak_parts']}; threads peak {b['peak_threads']} "
        f"(idle {b['idle']['threads']:.0f})",
        f"idle RSS (settled) {b['idle']['rss_kib'] / 1024:.1f} MiB; peak RSS {b['peak_kib'] / 1024:.1f} MiB "
        f"(sampled every {b.get('interval', 0.1) * 1000:.0f} ms: {b['peak_rss_kib'] / 1024:.1f} MiB at {b['peak_at_s']:.1f} s, "
        f"{b['samples']} samples; VmHWM since the burst began: "
        f"{'%.1f MiB' % (b['hwm_kib'] / 1024) if b['hwm_kib'] else 'n/a'}); peak RssAnon {b['peak_anon_kib'] / 1024:.1f} MiB",
        f"peak - idle {b['delta_kib'] / 1024:.1f} MiB; per download {b['delta_kib'] / b['count']:.0f} KiB; "
        f"bytes in flight {inflight:.0f} MiB, so peak - idle is {100 * b['delta_kib'] / 1024 / inflight:.1f} % of them",
        f"settled RSS afterwards {b['after']['rss_kib'] / 1024:.1f} MiB (threads {b['after']['threads']:.0f})",
        f"checked: lost {b['lost']}, duplicates {b['duplicates']}, bad {b['bad']}, refused sends {b['refused']}"
        + (f"; {b['problems']}" if b["problems"] else "") + (f"; {b['refused_first']}" if b["refused_first"] else ""),
    ]


# --------------------------------------------------------------------------
# the run


class Ctx:
    pass


def run(ctx) -> dict:
    args = ctx.args
    n = args.tenants
    res: dict = {"n": n}
    wasim_p, wasim = wa.start_wasim(ctx, "media")
    data_dir = os.path.join(ctx.work, "data")
    try:
        extra = dict(kv.split("=", 1) for kv in args.daemon_env)
        d = wa.Daemon(ctx, data_dir, wasim, "media", extra)
        took = wa.add_tenants(ctx, d, n)
        log(f"pairing {n} tenants, {args.pair_concurrency} at a time")
        t0 = time.monotonic()
        wa.pair_all(ctx, d, wasim, n)
        out(f"  {n} tenants added ({took:.2f} s) and paired ({time.monotonic() - t0:.1f} s)")
        ok, states = wa.count_connected(d.sessions())
        if ok != n:
            raise BenchError(f"after pairing only {ok}/{n} connected: {states}")
        m = wa.mem_settled(d.pid, args.settle, args.readings, args.reading_gap)
        res["mem_after_pairing"] = m
        out(f"  memory after pairing (settled): {wa.fmt_mem(m)}")

        # Sessions first: every (contact, tenant) pair of the rounds sends once, so the
        # text and media rounds both run on established Signal sessions (`msg`).
        log(f"warm-up: {args.messages} text messages at {args.warmup_rate}/s (sets up the contacts' sessions)")
        w = text_round(ctx, wasim, n, 0, args.messages, args.warmup_rate)
        out(f"  warm-up (new contacts, pkmsg): {w['sent']} text messages, lost {w['lost']}")
        if w["lost"] or w["refused"]:
            raise BenchError(f"warm-up: lost {w['lost']}, refused {w['refused']} {w['refused_first']}")

        log(f"text round: {args.messages} at {args.rate}/s")
        t = text_round(ctx, wasim, n, 1, args.messages, args.rate)
        res["text"] = t
        out(f"  text  (baseline): {t['sent']} sent at {t['rate']:.2f}/s, lost {t['lost']}, duplicates {t['dup_texts']}: "
            + fmt_lat(t))
        log(f"media round: {args.messages} images of {args.size_kib} KiB at {args.rate}/s")
        mr = media_round(ctx, d, wasim, n, "lat", args.messages, args.rate, args.size_kib * 1024)
        res["media"] = mr
        out(f"  media ({args.size_kib / 1024:g} MiB image): {mr['sent']} sent at {mr['rate']:.2f}/s, lost {mr['lost']}, "
            f"duplicates {mr['duplicates']}, bad {mr['bad']}: " + fmt_lat(mr))
        out(f"    first image of each tenant ({mr['firsts']}, includes its media_conn query) p50 {mr['first_p50']:.1f} ms; "
            f"later ones p50 {mr['later_p50']:.1f} ms; downloads in flight peak {mr['peak_parts']}; "
            f"RSS peak {mr['peak_rss_kib'] / 1024:.1f} MiB; .part files left {mr['leftover_parts']}")
        for p in mr["problems"] + mr["refused_first"]:
            out(f"    ! {p}")
        wa.report_log(d.log_path, "latency")

        res["bursts"] = []
        for k, size_mib in enumerate(args.burst_sizes_mib):
            size = int(size_mib * MIB)
            # The same transfer time for every size: the first size at --throttle-mib-s.
            throttle = int(args.throttle_mib_s * MIB * size_mib / args.burst_sizes_mib[0])
            log(f"memory burst {k + 1}: {args.burst} x {size_mib:g} MiB at {throttle / MIB:.2f} MiB/s each")
            b = burst(ctx, d, wasim, f"burst{k + 1}", args.burst, size, throttle)
            b["interval"] = args.sample_interval
            res["bursts"].append(b)
            out(f"  memory burst {k + 1}:")
            for line in fmt_burst(b):
                out(f"    {line}")
        wa.report_log(d.log_path, "media bursts")
        res["wasim_rss_kib"] = wa.mem_sample(wasim_p.pid)["rss_kib"]
        res["shutdown_s"] = d.stop()
    finally:
        wa.drop_http_conns()
        ctx.procs.stop(wasim_p, timeout=10)
    return res


def summary(ctx, res: dict) -> None:
    args = ctx.args
    out("\n=== summary")
    out(f"machine: {os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.2f}; {res['n']} tenants; "
        f"jobs.concurrency {ctx.effective['jobs']['concurrency']}, whatsapp.media_max_bytes "
        f"{ctx.effective['whatsapp']['media_max_bytes']}; RUST_LOG={args.rust_log}"
        + (f"; daemon env {' '.join(args.daemon_env)}" if args.daemon_env else ""))
    t, m = res.get("text"), res.get("media")
    if t and m:
        out(f"\ninbound -> webhook latency, {args.messages} messages each at {args.rate}/s over {res['n']} tenants "
            f"(established contacts)")
        out("| messages | p50 ms | p90 ms | p99 ms | max ms | lost | duplicates | bad |")
        out("|---|---|---|---|---|---|---|---|")
        out(f"| text | {t['p50']:.1f} | {t['p90']:.1f} | {t['p99']:.1f} | {t['max']:.1f} | {t['lost']} | {t['dup_texts']} | - |")
        out(f"| image {args.size_kib / 1024:g} MiB (until `stored`) | {m['p50']:.1f} | {m['p90']:.1f} | {m['p99']:.1f} | "
            f"{m['max']:.1f} | {m['lost']} | {m['duplicates']} | {m['bad']} |")
        out(f"| ratio media/text | {m['p50'] / t['p50']:.1f}x | {m['p90'] / t['p90']:.1f}x | {m['p99'] / t['p99']:.1f}x | "
            f"{m['max'] / t['max']:.1f}x | | | |")
        out(f"media - text at p50: {m['p50'] - t['p50']:.1f} ms; wasim's /admin/send p50 text {t['send_p50']:.1f} ms, "
            f"image {m['send_p50']:.1f} ms")
    for b in res.get("bursts", []):
        inflight = b["count"] * b["size"] / MIB
        out(f"\nmemory, {b['count']} concurrent downloads of {b['size'] / MIB:g} MiB (peak {b['peak_parts']} in flight): "
            f"idle {b['idle']['rss_kib'] / 1024:.1f} MiB, peak {b['peak_kib'] / 1024:.1f} MiB, peak-idle "
            f"{b['delta_kib'] / 1024:.1f} MiB = {b['delta_kib'] / b['count']:.0f} KiB per download; in flight "
            f"{inflight:.0f} MiB (peak-idle is {100 * b['delta_kib'] / 1024 / inflight:.1f} % of it); "
            f"after {b['after']['rss_kib'] / 1024:.1f} MiB; lost {b['lost']}, bad {b['bad']}")
    if "mem_after_pairing" in res:
        out(f"\ndaemon RSS after pairing {res['mem_after_pairing']['rss_kib'] / 1024:.1f} MiB (before any media); "
            f"wasim RSS at the end {res.get('wasim_rss_kib', 0) / 1024:.0f} MiB")
    rec = ctx.receiver
    out(f"receiver: {rec.message_count()} distinct messages, {rec.duplicates} duplicate deliveries, "
        f"{rec.bad_signatures} bad signatures, {ctx.media.not_stored} media events not `stored`")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    wa.add_common_args(ap)
    ap.add_argument("--tenants", type=int, default=100)
    ap.add_argument("--messages", type=int, default=300, help="messages per round (text, then media)")
    ap.add_argument("--rate", type=float, default=5.0, help="messages per second in the timed rounds")
    ap.add_argument("--warmup-rate", type=float, default=50.0)
    ap.add_argument("--size-kib", type=int, default=1024, help="image size in the latency round")
    ap.add_argument("--burst", type=int, default=50, help="concurrent large downloads")
    ap.add_argument("--burst-sizes-mib", default="16,4",
                    help="file size of each burst; later bursts get a proportional throttle (same transfer time)")
    ap.add_argument("--throttle-mib-s", type=float, default=2.0, help="per download, for the first burst size")
    ap.add_argument("--send-concurrency", type=int, default=8, help="parallel /admin/send calls in a burst")
    ap.add_argument("--sample-interval", type=float, default=0.1)
    ap.add_argument("--jobs-concurrency", type=int, default=64)
    ap.add_argument("--media-max-mib", type=int, default=64)
    ap.add_argument("--daemon-env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra environment for the daemon (e.g. AGENTLOCATOR_DELIVERY__POLL_INTERVAL=20ms)")
    args = ap.parse_args()
    args.burst_sizes_mib = [float(x) for x in args.burst_sizes_mib.split(",") if x]
    if not 1 <= args.tenants <= 9999:
        ap.error("--tenants: 1..9999")
    if args.burst > args.tenants:
        ap.error("--burst: at most --tenants (one download per tenant)")
    if args.size_kib * 1024 <= len(JPEG_MAGIC):
        ap.error("--size-kib: too small")
    for kv in args.daemon_env:
        if "=" not in kv:
            ap.error(f"--daemon-env {kv}: KEY=VALUE")

    ctx = Ctx()
    ctx.args = args
    ctx.work = os.path.abspath(args.work)
    os.makedirs(ctx.work, exist_ok=True)
    ctx.procs = wa.Procs(args.pid_file)
    ctx.secret = secrets.token_hex(16)
    ctx.config = os.path.join(ctx.work, "agentlocator.toml")
    with open(ctx.config, "w") as f:
        f.write("# written by bench/media/bench.py\n[whatsapp]\n")
        f.write(f"prekeys = {args.prekeys}\nmedia_max_bytes = {args.media_max_mib * MIB}\n")
        f.write(f"[jobs]\nconcurrency = {args.jobs_concurrency}\n")
    ctx.effective = wa.effective_config(ctx, dict(kv.split("=", 1) for kv in args.daemon_env))
    if ctx.effective is None:
        return 1

    wa.stop_on_signals()

    ctx.receiver = wa.Receiver()
    ctx.media = MediaEvents()
    ctx.receiver.on_message = ctx.media.on_message
    out(f"agentlocator inbound media benchmark: {args.tenants} tenants; {os.cpu_count()} CPUs; load average "
        f"{os.getloadavg()[0]:.2f} at start; work dir {ctx.work}")
    eff = ctx.effective
    out(f"settings: jobs.concurrency {eff['jobs']['concurrency']}, whatsapp.media_max_bytes "
        f"{eff['whatsapp']['media_max_bytes']}, delivery.poll_interval {eff['delivery']['poll_interval']}; "
        f"{args.messages} text then {args.messages} images of {args.size_kib} KiB at {args.rate}/s; bursts of "
        f"{args.burst} x {', '.join('%g' % s for s in args.burst_sizes_mib)} MiB ({args.throttle_mib_s:g} MiB/s each for "
        f"the first size); RUST_LOG={args.rust_log}; webhook receiver {ctx.receiver.url}")
    res: dict = {}
    status = wa.run_guarded(ctx, lambda: res.update(run(ctx)))
    if res.get("media"):
        summary(ctx, res)
    if args.json_out:
        with open(args.json_out, "w") as f:
            json.dump({"results": res, "args": vars(args)}, f, indent=1, default=str)
    failures = []
    if res.get("text") and (res["text"]["lost"] or res["text"]["refused"]):
        failures.append(f"text: lost {res['text']['lost']}, refused {res['text']['refused']}")
    for part in [res.get("media")] + res.get("bursts", []):
        if part and (part["lost"] or part["bad"] or part["refused"] or part["duplicates"]):
            failures.append(f"media: lost {part['lost']}, bad {part['bad']}, refused {part['refused']}, "
                            f"duplicates {part['duplicates']}")
    for f_ in failures:
        out(f"FAIL: {f_}")
    return status or (1 if failures else 0)


if __name__ == "__main__":
    sys.exit(main())
