//! One-for-one supervision of workers keyed by tenant. A worker's panic or
//! error is contained in its own task; restarts follow the [`RestartPolicy`]
//! (capped exponential backoff with jitter, quarantine past an intensity
//! limit); first starts are staggered so a thousand tenants do not stampede;
//! shutdown stops every worker in parallel within a deadline.
//!
//! The supervisor runs as its own task and proves it is alive with a
//! heartbeat: health checks read it, so a supervisor that died or stopped
//! answering makes `/healthz/whatsapp`, `/readyz` and `/livez` fail.
//!
//! It knows nothing of WhatsApp: the daemon registers workers through a
//! [`WorkerFactory`].

mod policy;

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot, watch};

use crate::heartbeat::Heartbeat;

pub use policy::{RestartHistory, RestartPolicy};

/// How often the supervisor proves it is alive.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);

/// How a worker's run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerExit {
    /// It stopped because it was asked to: not restarted.
    Stopped,
    /// It failed: restarted according to the policy.
    Failed(String),
    /// It must not be restarted blindly (e.g. another device took over the
    /// session); it stays down until an operator restarts it.
    Parked(String),
}

/// What a run gets: a stop signal to honour, and which start this is.
pub struct WorkerContext {
    pub stop: watch::Receiver<bool>,
    /// 0 for the first start, then 1, 2, ... for restarts.
    pub restarts: u32,
}

pub type WorkerRun = Pin<Box<dyn Future<Output = WorkerExit> + Send>>;

/// Builds one run of a worker; called at every (re)start.
pub trait WorkerFactory: Send + Sync + 'static {
    fn start(&self, key: &str, context: WorkerContext) -> WorkerRun;

    /// Told when the supervisor itself decides a worker's state after a run
    /// ended (backoff, quarantine), so the worker's owner can record and
    /// report it: a quarantined worker has no run left to do so.
    fn supervised(&self, _key: &str, _state: SupervisedState, _reason: &str) {}
}

/// A worker's state as the supervisor sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupervisedState {
    Running,
    /// Failed; waiting for its restart.
    Backoff,
    /// Restarted too often; waits for an operator.
    Quarantined,
    /// Ended in a way that must not be retried automatically.
    Parked,
    Stopped,
}

#[derive(Debug, Clone, Serialize)]
pub struct WorkerStatus {
    pub key: String,
    pub state: SupervisedState,
    pub restarts: u64,
    pub last_error: Option<String>,
}

/// What health checks conclude about the supervisor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SupervisorHealth {
    Running,
    Stopped,
    /// No heartbeat for this long.
    Wedged(Duration),
}

/// Faults a test can inject through the admin socket (only when enabled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SupervisorFault {
    /// The supervisor task ends, as if it had crashed.
    Stop,
    /// The supervisor task stops making progress while staying alive.
    Wedge,
}

enum Command {
    Start {
        key: String,
        factory: Arc<dyn WorkerFactory>,
    },
    Stop {
        key: String,
        reply: oneshot::Sender<()>,
    },
    Restart {
        key: String,
    },
    Snapshot(oneshot::Sender<Vec<WorkerStatus>>),
    Fault(SupervisorFault),
    Shutdown {
        deadline: Duration,
        reply: oneshot::Sender<()>,
    },
    /// From a run's watcher: the run `generation` of `key` ended.
    Exited {
        key: String,
        generation: u64,
        exit: WorkerExit,
    },
    /// From a backoff timer: time to restart `key` (if still that generation).
    RestartDue {
        key: String,
        generation: u64,
    },
}

/// A cheap, cloneable handle to the running supervisor.
#[derive(Clone)]
pub struct SupervisorHandle {
    commands: mpsc::UnboundedSender<Command>,
    shared: Arc<Shared>,
}

struct Shared {
    heartbeat: Heartbeat,
    running: AtomicBool,
}

/// The running supervisor.
pub struct Supervisor {
    handle: SupervisorHandle,
    task: tokio::task::JoinHandle<()>,
}

struct Entry {
    factory: Arc<dyn WorkerFactory>,
    state: SupervisedState,
    generation: u64,
    restarts: u64,
    history: RestartHistory,
    last_error: Option<String>,
    stop: Option<watch::Sender<bool>>,
    /// Becomes true when the current run has ended.
    done: Option<watch::Receiver<bool>>,
}

struct Core {
    policy: RestartPolicy,
    stagger: Duration,
    next_start: Instant,
    entries: HashMap<String, Entry>,
    inbox_tx: mpsc::UnboundedSender<Command>,
}

impl Supervisor {
    /// Starts the supervisor task. `stagger` spaces first starts apart.
    pub fn start(policy: RestartPolicy, stagger: Duration) -> Supervisor {
        let (commands, inbox) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared { heartbeat: Heartbeat::new(), running: AtomicBool::new(true) });
        let core = Core {
            policy,
            stagger,
            next_start: Instant::now(),
            entries: HashMap::new(),
            inbox_tx: commands.clone(),
        };
        let task = tokio::spawn(run(core, inbox, shared.clone()));
        Supervisor { handle: SupervisorHandle { commands, shared }, task }
    }

    pub fn handle(&self) -> SupervisorHandle {
        self.handle.clone()
    }

    /// Stops every worker (in parallel) within `deadline`, then the supervisor.
    pub async fn shutdown(self, deadline: Duration) {
        let (reply, done) = oneshot::channel();
        if self.handle.commands.send(Command::Shutdown { deadline, reply }).is_ok() {
            let _ = tokio::time::timeout(deadline + Duration::from_secs(1), done).await;
        }
        if tokio::time::timeout(Duration::from_secs(1), self.task).await.is_err() {
            tracing::warn!("supervisor did not stop in time");
        }
    }
}

/// Marks the supervisor stopped however its task ends, panics included.
struct RunningGuard(Arc<Shared>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        self.0.running.store(false, Ordering::SeqCst);
    }
}

async fn run(mut core: Core, mut inbox: mpsc::UnboundedReceiver<Command>, shared: Arc<Shared>) {
    let _guard = RunningGuard(shared.clone());
    let mut beat = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        let command = tokio::select! {
            _ = beat.tick() => {
                shared.heartbeat.beat();
                continue;
            }
            command = inbox.recv() => command,
        };
        match command {
            None => return,
            Some(Command::Shutdown { deadline, reply }) => {
                core.stop_all(deadline).await;
                let _ = reply.send(());
                return;
            }
            Some(Command::Fault(SupervisorFault::Stop)) => {
                tracing::error!("supervisor stopped by injected fault");
                return;
            }
            Some(Command::Fault(SupervisorFault::Wedge)) => {
                tracing::error!("supervisor wedged by injected fault");
                std::future::pending::<()>().await;
            }
            Some(command) => core.handle(command),
        }
    }
}

impl Core {
    fn handle(&mut self, command: Command) {
        match command {
            Command::Start { key, factory } => self.start(key, factory),
            Command::Stop { key, reply } => self.stop(&key, reply),
            Command::Restart { key } => self.restart(&key),
            Command::Snapshot(reply) => {
                let _ = reply.send(self.snapshot());
            }
            Command::Exited { key, generation, exit } => self.on_exit(&key, generation, exit),
            Command::RestartDue { key, generation } => self.restart_due(&key, generation),
            Command::Shutdown { .. } | Command::Fault(_) => {}
        }
    }

    /// Supervises `key` from now on (no-op while it runs or waits to restart).
    fn start(&mut self, key: String, factory: Arc<dyn WorkerFactory>) {
        if let Some(entry) = self.entries.get(&key) {
            if matches!(entry.state, SupervisedState::Running | SupervisedState::Backoff) {
                return;
            }
        }
        let delay = self.next_stagger_delay();
        let entry = Entry {
            factory,
            state: SupervisedState::Running,
            generation: 0,
            restarts: 0,
            history: RestartHistory::default(),
            last_error: None,
            stop: None,
            done: None,
        };
        self.entries.insert(key.clone(), entry);
        self.spawn_run(&key, delay);
    }

    /// Stops `key` and forgets it; `reply` is answered once the run has
    /// really ended (it may hold files the caller is about to delete).
    fn stop(&mut self, key: &str, reply: oneshot::Sender<()>) {
        let Some(entry) = self.entries.remove(key) else {
            let _ = reply.send(());
            return;
        };
        if let Some(stop) = &entry.stop {
            let _ = stop.send(true);
        }
        let done = entry.done;
        tokio::spawn(async move {
            if let Some(mut done) = done {
                let _ = done.wait_for(|ended| *ended).await;
            }
            let _ = reply.send(());
        });
    }

    /// Operator restart: clears the history and starts a fresh run.
    fn restart(&mut self, key: &str) {
        let Some(entry) = self.entries.get_mut(key) else { return };
        if let Some(stop) = entry.stop.take() {
            let _ = stop.send(true);
        }
        // The new run starts only once the old one has ended: two runs
        // of one worker must never overlap (two clients, one session).
        let previous = entry.done.clone();
        entry.history.clear();
        entry.state = SupervisedState::Running;
        self.spawn_run_after(key, Duration::ZERO, previous);
    }

    /// Every worker's state, by key.
    fn snapshot(&self) -> Vec<WorkerStatus> {
        let mut statuses: Vec<WorkerStatus> = self
            .entries
            .iter()
            .map(|(key, e)| WorkerStatus {
                key: key.clone(),
                state: e.state,
                restarts: e.restarts,
                last_error: e.last_error.clone(),
            })
            .collect();
        statuses.sort_by(|a, b| a.key.cmp(&b.key));
        statuses
    }

    /// A backoff ended: restarts `key` if it still waits in that generation.
    fn restart_due(&mut self, key: &str, generation: u64) {
        let Some(entry) = self.entries.get_mut(key) else { return };
        if entry.generation != generation || entry.state != SupervisedState::Backoff {
            return;
        }
        entry.state = SupervisedState::Running;
        self.spawn_run(key, Duration::ZERO);
    }

    fn next_stagger_delay(&mut self) -> Duration {
        let now = Instant::now();
        let at = self.next_start.max(now);
        self.next_start = at + self.stagger;
        at - now
    }

    fn spawn_run(&mut self, key: &str, delay: Duration) {
        self.spawn_run_after(key, delay, None);
    }

    fn spawn_run_after(&mut self, key: &str, delay: Duration, previous: Option<watch::Receiver<bool>>) {
        let Some(entry) = self.entries.get_mut(key) else { return };
        entry.generation += 1;
        let generation = entry.generation;
        let (stop_tx, stop_rx) = watch::channel(false);
        let (done_tx, done_rx) = watch::channel(false);
        entry.stop = Some(stop_tx);
        entry.done = Some(done_rx);
        let restarts = entry.restarts as u32;
        let factory = entry.factory.clone();
        let owned_key = key.to_string();
        let mut early_stop = stop_rx.clone();
        let run = tokio::spawn(async move {
            if let Some(mut previous) = previous {
                let _ = previous.wait_for(|ended| *ended).await;
            }
            // A worker stopped while it still waits for its staggered start
            // never starts at all.
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = early_stop.wait_for(|stop| *stop) => return WorkerExit::Stopped,
            }
            factory.start(&owned_key, WorkerContext { stop: stop_rx, restarts }).await
        });
        let inbox = self.inbox_tx.clone();
        let key = key.to_string();
        tokio::spawn(async move {
            let exit = match run.await {
                Ok(exit) => exit,
                Err(e) if e.is_panic() => {
                    WorkerExit::Failed(format!("panicked: {}", panic_message(&*e.into_panic())))
                }
                Err(_) => WorkerExit::Stopped,
            };
            let _ = done_tx.send(true);
            let _ = inbox.send(Command::Exited { key, generation, exit });
        });
    }

    fn on_exit(&mut self, key: &str, generation: u64, exit: WorkerExit) {
        let policy = self.policy.clone();
        let Some(entry) = self.entries.get_mut(key) else { return };
        if entry.generation != generation {
            return; // an older run, replaced by an operator restart
        }
        entry.stop = None;
        match exit {
            WorkerExit::Stopped => entry.state = SupervisedState::Stopped,
            WorkerExit::Parked(reason) => {
                tracing::warn!(worker = key, %reason, "worker parked; it waits for an operator");
                entry.last_error = Some(reason);
                entry.state = SupervisedState::Parked;
            }
            WorkerExit::Failed(reason) => {
                entry.last_error = Some(reason.clone());
                if entry.history.record(Instant::now(), &policy) {
                    tracing::error!(
                        worker = key, %reason, restarts = entry.history.recent(),
                        "worker restarted too often; quarantined until an operator restarts it"
                    );
                    entry.state = SupervisedState::Quarantined;
                    entry.factory.supervised(key, SupervisedState::Quarantined, &reason);
                    return;
                }
                entry.restarts += 1;
                let delay = policy.delay(entry.history.recent() as u32);
                tracing::warn!(worker = key, %reason, ?delay, "worker failed; restarting after backoff");
                entry.state = SupervisedState::Backoff;
                entry.factory.supervised(key, SupervisedState::Backoff, &reason);
                let inbox = self.inbox_tx.clone();
                let key = key.to_string();
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = inbox.send(Command::RestartDue { key, generation });
                });
            }
        }
    }

    /// Signals every run to stop at once, then waits for all of them until
    /// `deadline`; stragglers are reported (and aborted with the runtime).
    async fn stop_all(&mut self, deadline: Duration) {
        let mut waiting = Vec::new();
        for (key, entry) in self.entries.drain() {
            if let Some(stop) = &entry.stop {
                let _ = stop.send(true);
            }
            if let Some(done) = entry.done {
                waiting.push((key, done));
            }
        }
        let all = async {
            for (_, done) in &mut waiting {
                let _ = done.wait_for(|ended| *ended).await;
            }
        };
        if tokio::time::timeout(deadline, all).await.is_err() {
            let late: Vec<&str> =
                waiting.iter().filter(|(_, d)| !*d.borrow()).map(|(k, _)| k.as_str()).collect();
            tracing::warn!(?deadline, workers = ?late, "workers did not stop within the deadline");
        }
    }
}

/// What a panic said: its message when it had one.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}

impl SupervisorHandle {
    pub fn health(&self, wedged_after: Duration) -> SupervisorHealth {
        if !self.shared.running.load(Ordering::SeqCst) {
            return SupervisorHealth::Stopped;
        }
        match self.shared.heartbeat.silent_for(wedged_after) {
            Some(silent) => SupervisorHealth::Wedged(silent),
            None => SupervisorHealth::Running,
        }
    }

    /// Starts supervising `key` (no-op when it already runs).
    pub fn start_worker(&self, key: &str, factory: Arc<dyn WorkerFactory>) -> bool {
        self.commands.send(Command::Start { key: key.to_string(), factory }).is_ok()
    }

    /// Stops `key` and forgets it; resolves once its run has ended (or `timeout`).
    pub async fn stop_worker(&self, key: &str, timeout: Duration) -> bool {
        let (reply, done) = oneshot::channel();
        if self.commands.send(Command::Stop { key: key.to_string(), reply }).is_err() {
            return false;
        }
        tokio::time::timeout(timeout, done).await.is_ok_and(|r| r.is_ok())
    }

    /// Operator restart: clears quarantine/parking and starts a fresh run now.
    pub fn restart_worker(&self, key: &str) -> bool {
        self.commands.send(Command::Restart { key: key.to_string() }).is_ok()
    }

    /// Every worker's state; `None` when the supervisor does not answer in time.
    pub async fn snapshot(&self, timeout: Duration) -> Option<Vec<WorkerStatus>> {
        let (reply, answer) = oneshot::channel();
        self.commands.send(Command::Snapshot(reply)).ok()?;
        tokio::time::timeout(timeout, answer).await.ok()?.ok()
    }

    pub async fn inject_fault(&self, fault: SupervisorFault) -> bool {
        self.commands.send(Command::Fault(fault)).is_ok()
    }
}

#[cfg(test)]
mod tests;
