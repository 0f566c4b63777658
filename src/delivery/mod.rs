//! Delivery of stored events to each tenant's backend: POSTs signed with the
//! tenant's own key (`signing`), retried on a capped exponential schedule,
//! recorded attempt by attempt, in order per tenant, at least once.
//!
//! Shape: one *dispatcher* task asks the store for every tenant's head event
//! (see `store::delivery`), starts an *attempt* task for each due head whose
//! tenant has nothing in flight (at most `delivery.concurrency` at once), and
//! sleeps until something changes: the event writer committed, an attempt was
//! recorded, a retry came due, or another process wrote to the database
//! (polled with `PRAGMA data_version` every `delivery.poll_interval`).
//! Attempt outcomes go to one *recorder* thread that commits them in batches;
//! a tenant counts as in flight until its outcome is committed, so its next
//! event never overtakes it. The database is the only queue: a crash loses
//! nothing, and an event is marked delivered only after a 2xx.

pub mod policy;
pub mod signing;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Notify, Semaphore};
use tokio::task::JoinSet;

use crate::clock::now_ms;
use crate::config::{Config, DeliveryConfig};
use crate::ownership::Ownership;
use crate::store::delivery::{AttemptOutcome, Head, Verdict};
use crate::store::{Store, StoreError};
use policy::{classify, parse_retry_after, Policy};

/// Most outcomes committed in one transaction.
const RECORD_BATCH: usize = 512;
/// Most of a non-2xx answer's body kept in `last_error`.
const ERROR_BODY_BYTES: usize = 200;
/// Most of any answer's body read (the rest is dropped with the connection).
const READ_BODY_BYTES: usize = 64 * 1024;

/// Why the delivery workers could not start.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot build the delivery HTTP client: {0}")]
    Client(reqwest::Error),
    #[error("cannot start the delivery recorder: {0}")]
    Recorder(std::io::Error),
}

/// The running delivery workers; see [`Delivery::start`].
pub struct Delivery {
    dispatcher: tokio::task::JoinHandle<()>,
}

struct Shared {
    /// Reads the outbox (scans, polls). Never waits for the write lock.
    store: Store,
    client: reqwest::Client,
    policy: Policy,
    timeout: Duration,
    /// Which tenants are in flight.
    busy: Mutex<InFlight>,
    /// Rings when an outcome was recorded (a tenant is free again).
    wake: Notify,
}

/// Tenants with an attempt in flight or not yet recorded, and those freed
/// since the current scan began: the scan may have read their state from
/// before the outcome was committed, so they wait for the next scan (which
/// the recorder's wake-up guarantees).
#[derive(Default)]
struct InFlight {
    tenants: HashSet<String>,
    freed_since_scan: HashSet<String>,
}

struct Done {
    tenant: String,
    outcome: AttemptOutcome,
}

impl Delivery {
    /// Starts the workers on their own connections to `store`. `commits` changes when the daemon's event writer stored
    /// events; `shutdown` turning true stops them: attempts in flight get
    /// `grace` to finish, the rest are abandoned and stay pending.
    pub fn start(
        config: &Config,
        store: &Store,
        commits: watch::Receiver<u64>,
        ownership: Ownership,
        shutdown: watch::Receiver<bool>,
        grace: Duration,
    ) -> Result<Delivery, DeliveryError> {
        let d = &config.delivery;
        // Reads (scans, polls) and writes (outcomes) on separate connections,
        // so a wait for SQLite's write lock never holds up a scan.
        let (store, writes) = (store.separate(false)?, store.separate(true)?);
        let runtime = tokio::runtime::Handle::current();
        let shared = Arc::new(Shared {
            store,
            client: build_client(d)?,
            policy: Policy::from_config(d),
            timeout: d.timeout,
            busy: Mutex::new(InFlight::default()),
            wake: Notify::new(),
        });
        let (outcomes, inbox) = mpsc::channel::<Done>(d.concurrency.get() * 4);
        let recorder = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name("delivery-recorder".into())
                .spawn(move || record_loop(shared, writes, runtime, inbox))
                .map_err(DeliveryError::Recorder)?
        };
        let dispatcher = tokio::spawn(
            Dispatcher {
                shared,
                config: d.clone(),
                permits: Arc::new(Semaphore::new(d.concurrency.get())),
                outcomes,
                tasks: JoinSet::new(),
                ownership,
            }
            .run(commits, shutdown, grace, recorder),
        );
        tracing::info!(
            concurrency = d.concurrency.get(),
            max_attempts = d.max_attempts.get(),
            timeout_s = d.timeout.as_secs_f64(),
            "delivery workers started"
        );
        Ok(Delivery { dispatcher })
    }

    /// Waits (at most `limit`) for the workers to stop after shutdown.
    pub async fn stopped(self, limit: Duration) {
        if tokio::time::timeout(limit, self.dispatcher).await.is_err() {
            tracing::warn!("delivery workers did not stop in time");
        }
    }
}

/// The client every attempt uses: the configured timeout, no redirects.
fn build_client(d: &DeliveryConfig) -> Result<reqwest::Client, DeliveryError> {
    reqwest::Client::builder()
        .timeout(d.timeout)
        .connect_timeout(d.timeout)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("agentlocator/", env!("CARGO_PKG_VERSION")))
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .map_err(DeliveryError::Client)
}

enum Wake {
    Stop,
    Scan,
    Poll,
}

struct Dispatcher {
    shared: Arc<Shared>,
    config: DeliveryConfig,
    permits: Arc<Semaphore>,
    outcomes: mpsc::Sender<Done>,
    tasks: JoinSet<()>,
    /// Only the tenants this process runs are delivered (on a cluster, each
    /// tenant's events go out from the node holding its lease, in order).
    ownership: Ownership,
}

impl Dispatcher {
    async fn run(
        mut self,
        mut commits: watch::Receiver<u64>,
        mut shutdown: watch::Receiver<bool>,
        grace: Duration,
        recorder: std::thread::JoinHandle<()>,
    ) {
        let poll = self.config.poll_interval;
        let mut writer_alive = true;
        let mut seen_version: Option<i64> = None;
        let mut scan = true;
        let mut next_due: Option<i64> = None;
        loop {
            while self.tasks.try_join_next().is_some() {}
            if scan {
                self.shared.busy.lock().unwrap_or_else(|p| p.into_inner()).freed_since_scan.clear();
                let result = self.shared.store.outbox().heads().await;
                match result {
                    Ok((version, heads)) => {
                        seen_version = Some(version);
                        next_due = self.dispatch(heads);
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "delivery: cannot read the outbox; trying again shortly");
                        next_due = Some(now_ms() + 1000);
                    }
                }
            }
            let until_due = next_due
                .map(|at| Duration::from_millis((at - now_ms()).max(0) as u64))
                .unwrap_or(Duration::from_secs(3600));
            let woke = tokio::select! {
                stop = shutdown.wait_for(|stop| *stop) => { drop(stop); Wake::Stop }
                _ = self.shared.wake.notified() => Wake::Scan,
                // A tenant taken over: its backlog is this node's now.
                _ = self.ownership.changed() => Wake::Scan,
                changed = commits.changed(), if writer_alive => {
                    writer_alive = changed.is_ok();
                    Wake::Scan
                }
                _ = tokio::time::sleep(until_due) => Wake::Scan,
                _ = tokio::time::sleep(poll) => Wake::Poll,
            };
            match woke {
                Wake::Stop => break,
                Wake::Scan => scan = true,
                Wake::Poll => {
                    // Another process (the CLI, a test) may have queued events.
                    let version = self.shared.store.outbox().data_version().await.ok();
                    scan = version.is_none() || version != seen_version;
                }
            }
        }
        self.drain(grace, recorder).await;
    }

    /// Starts attempts for the due heads of idle tenants; returns when the
    /// earliest head that is not yet due will be.
    fn dispatch(&mut self, heads: Vec<Head>) -> Option<i64> {
        let now = now_ms();
        let mut next_due: Option<i64> = None;
        let mut busy = self.shared.busy.lock().unwrap_or_else(|p| p.into_inner());
        for head in heads {
            if busy.tenants.contains(&head.tenant_id)
                || busy.freed_since_scan.contains(&head.tenant_id)
                || !self.ownership.owns(&head.tenant_id)
            {
                continue;
            }
            if head.next_attempt_at_ms > now {
                next_due = Some(next_due.map_or(head.next_attempt_at_ms, |d| d.min(head.next_attempt_at_ms)));
                continue;
            }
            // All permits taken: a finishing attempt rings `wake` and we come back.
            let Ok(permit) = self.permits.clone().try_acquire_owned() else { break };
            busy.tenants.insert(head.tenant_id.clone());
            let shared = self.shared.clone();
            let outcomes = self.outcomes.clone();
            self.tasks.spawn(async move {
                let tenant = head.tenant_id.clone();
                let outcome = attempt(&shared, head).await;
                drop(permit);
                let _ = outcomes.send(Done { tenant, outcome }).await;
            });
        }
        next_due
    }

    /// Shutdown: attempts in flight get `grace` to finish (and be recorded);
    /// the rest are abandoned without a record, so their events stay pending
    /// and go out again after the restart.
    async fn drain(mut self, grace: Duration, recorder: std::thread::JoinHandle<()>) {
        let in_flight = self.tasks.len();
        if in_flight > 0 {
            tracing::info!(in_flight, "delivery: letting attempts in flight finish");
        }
        let deadline = tokio::time::Instant::now() + grace;
        while !self.tasks.is_empty() {
            match tokio::time::timeout_at(deadline, self.tasks.join_next()).await {
                Ok(_) => {}
                Err(_) => {
                    tracing::warn!(
                        abandoned = self.tasks.len(),
                        "delivery: attempts still in flight at the end of the grace period stay pending"
                    );
                    self.tasks.shutdown().await;
                    break;
                }
            }
        }
        // Closing our sender lets the recorder commit what it has and stop.
        drop(self.outcomes);
        let _ = tokio::task::spawn_blocking(move || recorder.join()).await;
        tracing::info!("delivery workers stopped");
    }
}

/// One POST of one event; never panics, always yields an outcome.
async fn attempt(shared: &Shared, head: Head) -> AttemptOutcome {
    let at_ms = now_ms();
    let answer = post(shared, &head, at_ms).await;
    let class = classify(answer.status);
    let attempts = u32::try_from(head.attempts + 1).unwrap_or(u32::MAX);
    let verdict = shared.policy.verdict(class, attempts, answer.retry_after, now_ms(), &mut rand::rng());
    let result = match verdict {
        Verdict::Delivered => "delivered",
        Verdict::RetryAt(_) => "retry",
        Verdict::Dead => "dead",
    };
    metrics::counter!("agentlocator_delivery_attempts_total", "result" => result).increment(1);
    metrics::histogram!("agentlocator_delivery_attempt_seconds").record(answer.latency.as_secs_f64());
    log_verdict(&head, attempts, &verdict, &answer);
    AttemptOutcome {
        seq: head.seq,
        at_ms,
        status_code: answer.status,
        latency_ms: answer.latency.as_millis() as i64,
        error: answer.error,
        verdict,
    }
}

/// What one POST got back.
struct Answer {
    /// `None` when no answer came (a transport error).
    status: Option<u16>,
    retry_after: Option<Duration>,
    /// Why it was not a 2xx, in one line.
    error: Option<String>,
    latency: Duration,
}

/// Signs the event as of `at_ms` and POSTs it to the tenant's webhook.
async fn post(shared: &Shared, head: &Head, at_ms: i64) -> Answer {
    let body = signing::body(&head.id, &head.kind, &head.tenant_id, head.created_at_ms, &head.data);
    let timestamp = at_ms.div_euclid(1000);
    let signature = signing::signature_header(&head.keys.valid_at(at_ms), &head.id, timestamp, &body);
    let started = Instant::now();
    let sent = shared
        .client
        .post(&head.webhook_url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(signing::HEADER_ID, &head.id)
        .header(signing::HEADER_TIMESTAMP, timestamp.to_string())
        .header(signing::HEADER_SIGNATURE, signature)
        .body(body)
        .send()
        .await;
    let (status, retry_after, error) = match sent {
        Ok(response) => read_status(response, shared).await,
        Err(e) => (None, None, Some(describe(&e, shared))),
    };
    Answer { status, retry_after, error, latency: started.elapsed() }
}

/// An answer's status, its `Retry-After`, and for a non-2xx the error kept
/// in `last_error` (with the head of its body).
async fn read_status(
    mut response: reqwest::Response,
    shared: &Shared,
) -> (Option<u16>, Option<Duration>, Option<String>) {
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, chrono::Utc::now()));
    let (head_of_body, read_error) = read_answer(&mut response, shared).await;
    let error = if (200..300).contains(&status) {
        None
    } else {
        let text = String::from_utf8_lossy(&head_of_body[..head_of_body.len().min(ERROR_BODY_BYTES)])
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Some(match (text.is_empty(), read_error) {
            (_, Some(e)) => format!("HTTP {status}; {e}"),
            (true, None) => format!("HTTP {status}"),
            (false, None) => format!("HTTP {status}: {text}"),
        })
    };
    (Some(status), retry_after, error)
}

fn log_verdict(head: &Head, attempts: u32, verdict: &Verdict, answer: &Answer) {
    let status = answer.status;
    let error = answer.error.as_deref().unwrap_or("");
    match verdict {
        Verdict::Delivered => {
            tracing::debug!(event = %head.id, tenant = %head.tenant_id, status, "delivered")
        }
        Verdict::RetryAt(at) => tracing::info!(
            event = %head.id, tenant = %head.tenant_id, attempt = attempts,
            error, retry_in_ms = at - now_ms(),
            "delivery failed; will retry"
        ),
        Verdict::Dead => tracing::warn!(
            event = %head.id, tenant = %head.tenant_id, attempts,
            error,
            "delivery failed for the last time; the event is dead until replayed (`agentlocator events replay`)"
        ),
    }
}

/// Reads at most `READ_BODY_BYTES` of an answer (keeping its first
/// `ERROR_BODY_BYTES` for `last_error`), then stops: the caller drops the
/// response, which closes the connection, so an endless body holds no slot.
/// Also says why reading failed, if it did.
async fn read_answer(response: &mut reqwest::Response, shared: &Shared) -> (Vec<u8>, Option<String>) {
    let mut head = Vec::new();
    let mut read = 0;
    while read < READ_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                read += chunk.len();
                let keep = ERROR_BODY_BYTES.saturating_sub(head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..keep]);
            }
            Ok(None) => break,
            Err(e) => return (head, Some(describe(&e, shared))),
        }
    }
    (head, None)
}

/// A transport error in one line, without the URL (it is in `events show`).
fn describe(error: &reqwest::Error, shared: &Shared) -> String {
    let text = crate::outbound_error::describe(error);
    if error.is_timeout() {
        return format!("{text}: no answer within {}", humantime::format_duration(shared.timeout));
    }
    text
}

/// The recorder thread: commits outcomes in batches, then frees their
/// tenants and wakes the dispatcher.
fn record_loop(
    shared: Arc<Shared>,
    writes: Store,
    runtime: tokio::runtime::Handle,
    mut inbox: mpsc::Receiver<Done>,
) {
    while let Some(batch) = crate::batch::recv_batch_blocking(&mut inbox, RECORD_BATCH, |_| 1) {
        let outcomes: Vec<AttemptOutcome> = batch.iter().map(|d| d.outcome.clone()).collect();
        let mut tries = 0;
        loop {
            match runtime.block_on(writes.outbox().record_attempts(outcomes.clone())) {
                Ok(()) => break,
                Err(e) if tries < 10 => {
                    tries += 1;
                    tracing::warn!(error = %e, tries, "delivery: cannot record attempts; retrying");
                    std::thread::sleep(Duration::from_millis(200 * tries));
                }
                Err(e) => {
                    // Not recorded: the events stay pending as they were and go
                    // out again (at least once, never lost).
                    tracing::error!(error = %e, events = outcomes.len(), "delivery: attempts not recorded");
                    break;
                }
            }
        }
        {
            let mut busy = shared.busy.lock().unwrap_or_else(|p| p.into_inner());
            for done in &batch {
                busy.tenants.remove(&done.tenant);
                busy.freed_since_scan.insert(done.tenant.clone());
            }
        }
        shared.wake.notify_one();
    }
}
