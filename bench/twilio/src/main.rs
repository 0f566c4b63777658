//! Load generator for `bench/twilio.sh`.
//!
//! Runs two phases against a running `agentlocator serve`, each from `--conns`
//! keep-alive HTTP/1.1 connections for `--seconds`: `GET /healthz` (the
//! baseline), then signed Twilio voice webhooks (`POST /webhook/voice`, a new
//! CallSid each). Prints requests/s and p50/p99/p99.9 latency for both and
//! their ratio, and writes the CallSid of every webhook answered 200 to
//! `--acked-out` so the script can check each one is in the database.
//!
//! Usage: twilio-bench --base http://127.0.0.1:PORT --token TOKEN --to +E164
//!        [--conns 64] [--seconds 10] [--warmup 2] [--threads 1] [--acked-out FILE]
//!
//! `--base` may list several servers, comma-separated (the nodes of a cluster,
//! bench/cluster/): the connections are spread over them round-robin, each
//! signing for the server it talks to.

use std::io::Write;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

#[derive(Clone)]
struct Args {
    bases: Vec<String>,
    token: String,
    to: String,
    conns: usize,
    seconds: f64,
    warmup: f64,
    threads: usize,
    acked_out: Option<String>,
}

fn parse_args() -> Args {
    let mut args = Args {
        bases: Vec::new(),
        token: String::new(),
        to: String::new(),
        conns: 64,
        seconds: 10.0,
        warmup: 2.0,
        threads: 1,
        acked_out: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        match flag.as_str() {
            "--base" => {
                args.bases = value.split(',').map(|b| b.trim().trim_end_matches('/').to_string()).collect()
            }
            "--token" => args.token = value,
            "--to" => args.to = value,
            "--conns" => args.conns = value.parse().expect("--conns"),
            "--seconds" => args.seconds = value.parse().expect("--seconds"),
            "--warmup" => args.warmup = value.parse().expect("--warmup"),
            "--threads" => args.threads = value.parse().expect("--threads"),
            "--acked-out" => args.acked_out = Some(value),
            other => panic!("unknown option {other}"),
        }
    }
    assert!(
        args.bases.iter().all(|b| !b.is_empty())
            && !args.bases.is_empty()
            && !args.token.is_empty()
            && !args.to.is_empty(),
        "--base, --token and --to are required"
    );
    args
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Healthz,
    Voice,
}

#[derive(Default)]
struct Tally {
    latencies_us: Vec<u32>,
    errors: u64,
    acked: Vec<String>,
}

fn sign(token: &str, url: &str, params: &[(&str, &str)]) -> String {
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(token.as_bytes()).expect("key");
    mac.update(url.as_bytes());
    for (k, v) in sorted {
        mac.update(k.as_bytes());
        mac.update(v.as_bytes());
    }
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

fn request(args: &Args, base: &str, host: &str, mode: Mode, call_sid: &str) -> Request<Full<Bytes>> {
    match mode {
        Mode::Healthz => {
            Request::get("/healthz").header("host", host).body(Full::new(Bytes::new())).expect("request")
        }
        Mode::Voice => {
            let params = [
                ("AccountSid", "ACbench00000000000000000000000000"),
                ("CallSid", call_sid),
                ("CallStatus", "ringing"),
                ("Direction", "inbound"),
                ("From", "+15559990000"),
                ("To", args.to.as_str()),
            ];
            let url = format!("{base}/webhook/voice");
            let signature = sign(&args.token, &url, &params);
            let mut body = url::form_urlencoded::Serializer::new(String::new());
            for (k, v) in params {
                body.append_pair(k, v);
            }
            Request::post("/webhook/voice")
                .header("host", host)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", signature)
                .body(Full::new(Bytes::from(body.finish())))
                .expect("request")
        }
    }
}

async fn connection(
    args: Args,
    mode: Mode,
    worker: usize,
    start_recording: Instant,
    deadline: Instant,
) -> Tally {
    // Connection `worker` talks to one server, the bases taken in turn.
    let base = args.bases[worker % args.bases.len()].clone();
    let host = base.split("://").nth(1).unwrap_or(&base).to_string();
    let mut tally = Tally::default();
    let mut n: u64 = 0;
    'reconnect: while Instant::now() < deadline {
        let stream = match TcpStream::connect(&host).await {
            Ok(s) => s,
            Err(_) => {
                tally.errors += 1;
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let (mut sender, conn) = match hyper::client::conn::http1::handshake(TokioIo::new(stream)).await {
            Ok(pair) => pair,
            Err(_) => {
                tally.errors += 1;
                continue;
            }
        };
        tokio::spawn(async move {
            let _ = conn.await;
        });
        while Instant::now() < deadline {
            n += 1;
            let call_sid = format!("CA{worker:08x}{n:024x}");
            let req = request(&args, &base, &host, mode, &call_sid);
            let started = Instant::now();
            let answer = match sender.send_request(req).await {
                Ok(response) => {
                    let status = response.status().as_u16();
                    response.into_body().collect().await.map(|_| status).ok()
                }
                Err(_) => None,
            };
            let took = started.elapsed();
            match answer {
                Some(200) => {
                    if mode == Mode::Voice {
                        tally.acked.push(call_sid);
                    }
                    if started >= start_recording {
                        tally.latencies_us.push(took.as_micros().min(u32::MAX as u128) as u32);
                    }
                }
                Some(_) => tally.errors += 1,
                None => {
                    tally.errors += 1;
                    continue 'reconnect;
                }
            }
        }
    }
    tally
}

struct Figures {
    requests: usize,
    errors: u64,
    rps: f64,
    p50: f64,
    p99: f64,
    p999: f64,
}

async fn phase(args: &Args, mode: Mode) -> (Figures, Vec<String>) {
    let start = Instant::now();
    let recording_from = start + Duration::from_secs_f64(args.warmup);
    let deadline = recording_from + Duration::from_secs_f64(args.seconds);
    let tasks: Vec<_> = (0..args.conns)
        .map(|w| {
            tokio::spawn(connection(
                args.clone(),
                mode,
                w + if mode == Mode::Voice { 0 } else { 1 << 20 },
                recording_from,
                deadline,
            ))
        })
        .collect();
    let mut all = Tally::default();
    for task in tasks {
        let t = task.await.expect("connection task");
        all.latencies_us.extend(t.latencies_us);
        all.errors += t.errors;
        all.acked.extend(t.acked);
    }
    let mut lat = all.latencies_us;
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return f64::NAN;
        }
        let idx = ((p * lat.len() as f64).ceil() as usize).clamp(1, lat.len()) - 1;
        lat[idx] as f64 / 1000.0
    };
    let figures = Figures {
        requests: lat.len(),
        errors: all.errors,
        rps: lat.len() as f64 / args.seconds,
        p50: pct(0.50),
        p99: pct(0.99),
        p999: pct(0.999),
    };
    (figures, all.acked)
}

fn show(name: &str, args: &Args, f: &Figures) {
    println!(
        "{name:<8} {conns} conns {secs:.0} s: {req} ok, {err} errors, {rps:.0} req/s, p50 {p50:.2} ms, p99 {p99:.2} ms, p99.9 {p999:.2} ms",
        conns = args.conns,
        secs = args.seconds,
        req = f.requests,
        err = f.errors,
        rps = f.rps,
        p50 = f.p50,
        p99 = f.p99,
        p999 = f.p999
    );
}

fn main() {
    let args = parse_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads)
        .enable_all()
        .build()
        .expect("runtime");
    let (health, _) = runtime.block_on(phase(&args, Mode::Healthz));
    show("healthz", &args, &health);
    let (voice, acked) = runtime.block_on(phase(&args, Mode::Voice));
    show("webhook", &args, &voice);
    println!(
        "ratio    webhook/healthz: throughput {:.2}, p50 {:.2}x, p99 {:.2}x, p99.9 {:.2}x",
        voice.rps / health.rps,
        voice.p50 / health.p50,
        voice.p99 / health.p99,
        voice.p999 / health.p999
    );
    println!("acked    {} webhooks answered 200 (warm-up included)", acked.len());
    if let Some(path) = &args.acked_out {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("acked-out"));
        for sid in &acked {
            writeln!(out, "{sid}").expect("write");
        }
    }
}
