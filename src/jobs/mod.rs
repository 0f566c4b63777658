//! The background job runner: takes due jobs from the store's durable queue
//! (`store::jobs`), runs each with the handler registered for its kind, and
//! retries failures with capped exponential backoff and jitter. After the
//! last attempt the job is kept as `failed` and its held event is released
//! with the error (and the error is logged), so nothing waits forever and
//! nothing fails silently.
//!
//! The runner knows nothing of Twilio: modules register a [`JobHandler`] per
//! kind (for jobs of held events the kind is the event's type).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

use crate::backoff::{Backoff, Jitter};
use crate::clock::now_ms;
use crate::config::JobsConfig;
use crate::store::jobs::Job;
use crate::store::{EventWriter, Store};

pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// Why an attempt failed.
#[derive(Debug, Clone)]
pub struct JobError {
    pub message: String,
    /// Retrying cannot help (e.g. the event is gone): fail now.
    pub permanent: bool,
    /// The job could not start for a reason outside it (its tenant is
    /// offline): try again after this long, without counting the attempt.
    pub wait: Option<Duration>,
}

impl JobError {
    pub fn retry(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: false, wait: None }
    }
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { message: message.into(), permanent: true, wait: None }
    }
    pub fn wait(message: impl Into<String>, wait: Duration) -> Self {
        Self { message: message.into(), permanent: false, wait: Some(wait) }
    }
}

/// A directory that could not be made may be made on the next attempt (a
/// full disk, a permission fixed by the operator): retry.
impl From<crate::paths::PathError> for JobError {
    fn from(e: crate::paths::PathError) -> Self {
        JobError::retry(e.to_string())
    }
}

/// A blocking step that panicked or was cancelled: retry.
impl From<tokio::task::JoinError> for JobError {
    fn from(e: tokio::task::JoinError) -> Self {
        JobError::retry(format!("background step failed: {e}"))
    }
}

/// What runs the jobs of one kind.
pub trait JobHandler: Send + Sync + 'static {
    /// One attempt. `Ok(patch)`: done; the keys of `patch` are merged into the
    /// job's held event (if any), which is then released for delivery.
    fn run(&self, job: Job) -> BoxFuture<Result<serde_json::Value, JobError>>;

    /// What is merged into the held event when the job fails for good.
    fn failure_patch(&self, job: &Job, error: &str) -> serde_json::Value {
        serde_json::json!({"job_error": {"kind": job.kind, "error": error, "attempts": job.attempts}})
    }
}

/// Wakes the runner(s) of this process: call after storing a held event or a
/// job so it starts at once rather than at the next poll.
pub fn wake() {
    wakeup().notify_waiters();
}

fn wakeup() -> &'static Notify {
    static WAKE: OnceLock<Notify> = OnceLock::new();
    WAKE.get_or_init(Notify::new)
}

pub struct Runner {
    store: Store,
    /// Told when a job released its held event, so delivery sends it at once.
    events: EventWriter,
    config: JobsConfig,
    handlers: HashMap<String, Arc<dyn JobHandler>>,
}

/// A started runner; [`RunnerHandle::shutdown`] stops it.
pub struct RunnerHandle {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Runner {
    pub fn new(store: Store, events: EventWriter, config: JobsConfig) -> Self {
        Self { store, events, config, handlers: HashMap::new() }
    }

    pub fn register(&mut self, kind: &str, handler: impl JobHandler) {
        self.handlers.insert(kind.to_string(), Arc::new(handler));
    }

    /// Starts the loop on the current runtime. Jobs a previous process left
    /// `running` (a crash, a kill) are queued again first.
    pub fn start(self) -> RunnerHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(stopped));
        RunnerHandle { stop, task }
    }

    async fn run(self, mut stopped: watch::Receiver<bool>) {
        match self.store.jobs().requeue_running().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(jobs = n, "background jobs interrupted by the last stop queued again"),
            Err(e) => tracing::error!(error = %e, "cannot requeue interrupted background jobs"),
        }
        let this = Arc::new(self);
        let mut running: JoinSet<()> = JoinSet::new();
        let poll = this.config.poll_interval;
        loop {
            let wake = wakeup().notified();
            tokio::pin!(wake);
            wake.as_mut().enable();
            let free = this.config.concurrency.get().saturating_sub(running.len());
            // A stop is heard even while the store is slow to answer (a
            // lock held elsewhere): the claim is one statement, safe to drop.
            let sleep_for = tokio::select! {
                _ = stopped.wait_for(|s| *s) => break,
                sleep_for = Runner::claim_round(&this, free, &mut running) => sleep_for.min(poll),
            };
            tokio::select! {
                _ = stopped.wait_for(|s| *s) => break,
                _ = &mut wake => {}
                Some(_) = running.join_next(), if !running.is_empty() => {}
                _ = tokio::time::sleep(sleep_for) => {}
            }
        }
        // Interrupted attempts stay `running` in the store and are queued
        // again when the daemon next starts.
        running.abort_all();
        while running.join_next().await.is_some() {}
    }

    /// Starts up to `free` due jobs; returns how long until the next is due.
    async fn claim_round(this: &Arc<Self>, free: usize, running: &mut JoinSet<()>) -> Duration {
        if free == 0 {
            return Duration::MAX;
        }
        match this.store.jobs().claim_due(now_ms(), free).await {
            Ok(jobs) => {
                for job in jobs {
                    let runner = this.clone();
                    running.spawn(async move { runner.attempt(job).await });
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot read the job queue"),
        }
        match this.store.jobs().next_due_ms().await {
            Ok(Some(due)) => {
                let wait = Duration::from_millis(due.saturating_sub(now_ms()).max(0) as u64);
                wait.max(Duration::from_millis(5))
            }
            _ => Duration::MAX,
        }
    }

    async fn attempt(&self, job: Job) {
        let Some(handler) = self.handlers.get(&job.kind).cloned() else {
            let error = format!("no handler for jobs of kind `{}`", job.kind);
            self.give_up(&job, &error, serde_json::json!({"job_error": {"kind": job.kind, "error": error}}))
                .await;
            return;
        };
        match handler.run(job.clone()).await {
            Ok(patch) => {
                match self.store.jobs().finish(&job, None, &patch).await {
                    Ok(()) => {
                        self.events.announce_released();
                        tracing::info!(job = job.id, kind = %job.kind, attempts = job.attempts, "background job done")
                    }
                    // Left `running`: it is queued again at the next start.
                    Err(e) => {
                        tracing::error!(job = job.id, error = %e, "background job done but not recorded")
                    }
                }
            }
            Err(JobError { message, wait: Some(wait), .. }) => {
                tracing::debug!(job = job.id, kind = %job.kind, reason = %message, "background job waits");
                let (id, at) = (job.id, now_ms() + wait.as_millis() as i64);
                if let Err(e) = self.store.jobs().defer(id, at, &message).await {
                    tracing::error!(job = id, error = %e, "cannot put a waiting background job back");
                }
            }
            Err(error) if error.permanent || job.attempts >= i64::from(self.config.max_attempts.get()) => {
                let patch = handler.failure_patch(&job, &error.message);
                self.give_up(&job, &error.message, patch).await;
            }
            Err(error) => {
                let delay = self.backoff(job.attempts);
                tracing::warn!(
                    job = job.id, kind = %job.kind, attempt = job.attempts, max_attempts = self.config.max_attempts.get(),
                    retry_in_ms = delay.as_millis() as u64, error = %error.message,
                    "background job attempt failed; retrying"
                );
                let (id, at, message) = (job.id, now_ms() + delay.as_millis() as i64, error.message);
                if let Err(e) = self.store.jobs().retry_at(id, at, &message).await {
                    tracing::error!(job = id, error = %e, "cannot schedule the retry of a background job");
                }
            }
        }
    }

    async fn give_up(&self, job: &Job, error: &str, patch: serde_json::Value) {
        tracing::error!(
            job = job.id, kind = %job.kind, event = job.event_id.as_deref().unwrap_or("-"),
            attempts = job.attempts, error, "background job failed for good; its event is released with the error"
        );
        match self.store.jobs().finish(job, Some(error), &patch).await {
            Ok(()) => self.events.announce_released(),
            Err(e) => tracing::error!(job = job.id, error = %e, "cannot record a failed background job"),
        }
    }

    /// min(cap, base * 2^(attempt-1)), then a random 50–100% of it.
    fn backoff(&self, attempt: i64) -> Duration {
        let backoff = Backoff {
            base: self.config.backoff_base,
            cap: self.config.backoff_cap,
            jitter: Jitter::down_to(0.5),
        };
        backoff.delay(attempt.clamp(1, i64::from(u32::MAX)) as u32, &mut rand::rng())
    }
}

impl RunnerHandle {
    /// Stops taking jobs and interrupts those running (they resume at the next start).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_capped_and_jittered() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = Store::open_sqlite(&dir.path().join("t.db"), Duration::from_secs(1)).expect("open");
        let events = EventWriter::start(&store).expect("writer");
        let runner = Runner::new(
            store,
            events,
            JobsConfig {
                backoff_base: Duration::from_millis(100),
                backoff_cap: Duration::from_secs(1),
                ..JobsConfig::default()
            },
        );
        for _ in 0..50 {
            let first = runner.backoff(1).as_millis();
            assert!((50..=100).contains(&first), "{first}");
            let late = runner.backoff(40).as_millis();
            assert!((500..=1000).contains(&late), "{late}");
        }
    }
}
