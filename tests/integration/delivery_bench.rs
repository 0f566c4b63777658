//! Delivery benchmark (not a test: it asserts nothing about time and is
//! ignored by `cargo test`). Run it with bench/delivery/run.sh, i.e.
//!
//!     cargo test --release --test integration delivery_bench -- --ignored --nocapture
//!
//! 1. Latency: signed Twilio SMS webhooks (`POST /webhook/{tenant}/sms`) at a
//!    steady rate spread over 100 tenants, each with its own webhook URL on a
//!    real HTTP receiver; measured from the webhook's ack (the daemon's 200
//!    with TwiML: the event is durable) to the receiver getting the event.
//! 2. Throughput: a backlog of events stored at once (another process's
//!    commit, as after an outage) over the same 100 tenants and a receiver that
//!    answers 200 at once; delivered events per second.
//!
//! Environment knobs: BENCH_RATES (events/s, comma-separated, default
//! "200,1000"), BENCH_SECONDS (per rate, default 10), BENCH_BACKLOG (default
//! 20000), BENCH_CONCURRENCY (delivery.concurrency, default 32).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::harness::receiver::{insert_sms, open_db, Receiver, Reply};
use crate::harness::{eventually, form_body, twilio_signature, Daemon, DaemonOptions};

const TENANTS: usize = 100;
const AUTH_TOKEN: &str = "bench-twilio-auth-token";
const SECRET: &str = "bench-internal-secret-0123456789";

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// Arrival time of each event at the receiver, by the SMS sid in its data.
type Arrivals = Arc<Mutex<HashMap<String, Instant>>>;

#[test]
#[ignore = "benchmark: run bench/delivery/run.sh"]
fn delivery_latency_and_throughput() {
    let rates: Vec<u64> = std::env::var("BENCH_RATES")
        .unwrap_or_else(|_| "200,1000".into())
        .split(',')
        .filter_map(|r| r.trim().parse().ok())
        .collect();
    let seconds: u64 = env_or("BENCH_SECONDS", 10);
    let backlog: usize = env_or("BENCH_BACKLOG", 20_000);
    let concurrency: usize = env_or("BENCH_CONCURRENCY", 32);

    let daemon = Daemon::start_with(DaemonOptions {
        env: vec![("INTERNAL_SECRET".into(), SECRET.into()), ("TWILIO_AUTH_TOKEN".into(), AUTH_TOKEN.into())],
        config_toml: Some(format!(
            "[delivery]\nconcurrency = {concurrency}\n[http]\nbody_limit_bytes = 1048576\n"
        )),
        data_dir: None,
    });
    let arrivals: Arrivals = Arc::new(Mutex::new(HashMap::new()));
    let sink = arrivals.clone();
    let receiver = Receiver::start(move |_, got| {
        let at = got.at;
        let body: serde_json::Value = serde_json::from_slice(&got.body).unwrap_or_default();
        if let Some(sid) = body["data"]["MessageSid"].as_str().or(body["data"]["sid"].as_str()) {
            sink.lock().expect("arrivals").entry(sid.to_string()).or_insert(at);
        }
        Reply::Status(200)
    });
    let tenants: Vec<String> = (0..TENANTS).map(|i| format!("t{i:03}")).collect();
    for t in &tenants {
        let url = format!("{}/{t}", receiver.url());
        daemon.add_tenant_with(t, &["--webhook-url", &url]);
    }
    println!("delivery benchmark: {TENANTS} tenants, delivery.concurrency = {concurrency}, release build");
    println!("machine: {} CPUs (shared with the sender and the receiver)", num_cpus());

    let runtime =
        tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("rt");
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build().expect("client");
    let mut serial = 0u64;
    for rate in rates {
        let total = (rate * seconds) as usize;
        let acks: Arc<Mutex<HashMap<String, (Instant, Instant)>>> = Arc::new(Mutex::new(HashMap::new()));
        let failures = Arc::new(Mutex::new(0usize));
        let started = Instant::now();
        runtime.block_on(async {
            let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..total {
                ticker.tick().await;
                serial += 1;
                let tenant = &tenants[(i * 7 + i / TENANTS) % TENANTS];
                let sid = format!("SM{serial:032x}");
                let url = format!("http://{}/webhook/{tenant}/sms", daemon.addr);
                let params = vec![
                    ("MessageSid", sid.clone()),
                    ("From", "+15550000001".to_string()),
                    ("To", "+15550000002".to_string()),
                    ("Body", format!("bench message {i}")),
                ];
                let signature = twilio_signature(AUTH_TOKEN, &url, &params);
                let body = form_body(&params);
                let request = client
                    .post(&url)
                    .header("X-Twilio-Signature", signature)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .body(body);
                let acks = acks.clone();
                let failures = failures.clone();
                tasks.spawn(async move {
                    let sent = Instant::now();
                    match request.send().await {
                        Ok(r) if r.status().is_success() => {
                            let acked = Instant::now();
                            let _ = r.bytes().await;
                            acks.lock().expect("acks").insert(sid, (sent, acked));
                        }
                        Ok(r) => {
                            let n = {
                                let mut f = failures.lock().expect("f");
                                *f += 1;
                                *f
                            };
                            if n <= 3 {
                                eprintln!(
                                    "webhook answered {}: {}",
                                    r.status(),
                                    r.text().await.unwrap_or_default()
                                );
                            }
                        }
                        Err(e) => {
                            *failures.lock().expect("f") += 1;
                            eprintln!("webhook failed: {e}");
                        }
                    }
                });
            }
            while tasks.join_next().await.is_some() {}
        });
        let send_secs = started.elapsed().as_secs_f64();
        let acked: Vec<String> = acks.lock().expect("acks").keys().cloned().collect();
        let all_in = eventually(Duration::from_secs(60), || {
            let got = arrivals.lock().expect("arrivals");
            acked.iter().all(|sid| got.contains_key(sid))
        });
        let got = arrivals.lock().expect("arrivals").clone();
        let acks = acks.lock().expect("acks").clone();
        let mut from_ack: Vec<f64> = Vec::new();
        let mut from_send: Vec<f64> = Vec::new();
        let mut ack_times: Vec<f64> = Vec::new();
        for (sid, (sent, acked)) in &acks {
            ack_times.push(acked.duration_since(*sent).as_secs_f64() * 1000.0);
            if let Some(at) = got.get(sid) {
                // The event is durable before the ack, so it may arrive first: negative.
                let signed_ms = if *at >= *acked {
                    at.duration_since(*acked).as_secs_f64() * 1000.0
                } else {
                    -(acked.duration_since(*at).as_secs_f64() * 1000.0)
                };
                from_ack.push(signed_ms);
                from_send.push(at.saturating_duration_since(*sent).as_secs_f64() * 1000.0);
            }
        }
        for v in [&mut from_ack, &mut from_send, &mut ack_times] {
            v.sort_by(|a, b| a.partial_cmp(b).expect("number"));
        }
        println!(
            "\nsteady {rate}/s for {seconds}s: sent {total} in {send_secs:.1}s, acked {}, refused {}, delivered {}{}",
            acks.len(),
            failures.lock().expect("f"),
            from_ack.len(),
            if all_in { "" } else { " (NOT ALL within 60 s)" }
        );
        println!(
            "  webhook ack -> receiver: p50 {:.2} ms  p90 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
            percentile(&from_ack, 50.0),
            percentile(&from_ack, 90.0),
            percentile(&from_ack, 99.0),
            from_ack.last().copied().unwrap_or(f64::NAN)
        );
        println!(
            "  webhook sent -> receiver: p50 {:.2} ms  p99 {:.2} ms;  webhook ack time p50 {:.2} ms  p99 {:.2} ms",
            percentile(&from_send, 50.0),
            percentile(&from_send, 99.0),
            percentile(&ack_times, 50.0),
            percentile(&ack_times, 99.0)
        );
    }

    // Throughput: a backlog stored in one commit by another process.
    let db = open_db(&daemon.data_dir);
    let events: Vec<(String, serde_json::Value)> = (0..backlog)
        .map(|i| {
            (
                tenants[i % TENANTS].clone(),
                serde_json::json!({"sid": format!("BL{i:010}"), "Body": "backlog"}),
            )
        })
        .collect();
    let committed = Instant::now();
    insert_sms(&db, &events);
    let commit_secs = committed.elapsed().as_secs_f64();
    let done = eventually(Duration::from_secs(300), || {
        let got = arrivals.lock().expect("arrivals");
        got.keys().filter(|k| k.starts_with("BL")).count() == backlog
    });
    let got = arrivals.lock().expect("arrivals").clone();
    let mut times: Vec<Instant> =
        got.iter().filter(|(k, _)| k.starts_with("BL")).map(|(_, at)| *at).collect();
    times.sort();
    let first = times.first().copied().unwrap_or(committed);
    let last = times.last().copied().unwrap_or(committed);
    let span = last.duration_since(first).as_secs_f64();
    println!(
        "\nbacklog of {backlog} events over {TENANTS} tenants, fast receiver{}:",
        if done { "" } else { " (NOT ALL delivered within 300 s)" }
    );
    println!(
        "  delivered {} events in {:.2}s from the first to the last: {:.0} events/s ({:.0} events/s counting from the commit; commit took {:.2}s)",
        times.len(),
        span,
        times.len() as f64 / span.max(1e-9),
        times.len() as f64 / last.duration_since(committed).as_secs_f64().max(1e-9),
        commit_secs
    );
    println!("  receiver requests in total: {}", receiver.requests());
}

fn num_cpus() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}
