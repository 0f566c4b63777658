//! The supervisor of tenant workers. It owns the registry of workers and runs
//! as its own task; health checks read its heartbeat, so a supervisor that
//! died or stopped answering makes `/healthz/whatsapp` and `/readyz` fail.
//!
//! It knows nothing of WhatsApp: workers are registered by the daemon.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How often the supervisor proves it is alive.
const HEARTBEAT_EVERY: Duration = Duration::from_millis(250);

/// A worker's state as the supervisor reports it.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerStatus {
    pub tenant: String,
    pub state: String,
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
    Snapshot(oneshot::Sender<Vec<WorkerStatus>>),
    Fault(SupervisorFault),
}

/// A cheap, cloneable handle to the running supervisor.
#[derive(Clone)]
pub struct SupervisorHandle {
    commands: mpsc::Sender<Command>,
    shared: Arc<Shared>,
}

struct Shared {
    started: Instant,
    /// Milliseconds after `started` of the last heartbeat.
    last_beat_ms: AtomicU64,
    running: AtomicBool,
}

/// The running supervisor: its handle and its task.
pub struct Supervisor {
    handle: SupervisorHandle,
    task: JoinHandle<()>,
}

impl Supervisor {
    pub fn start() -> Supervisor {
        let (commands, inbox) = mpsc::channel(64);
        let shared = Arc::new(Shared {
            started: Instant::now(),
            last_beat_ms: AtomicU64::new(0),
            running: AtomicBool::new(true),
        });
        let task = tokio::spawn(run(inbox, shared.clone()));
        Supervisor { handle: SupervisorHandle { commands, shared }, task }
    }

    pub fn handle(&self) -> SupervisorHandle {
        self.handle.clone()
    }

    /// Stops every worker within `deadline`, then the supervisor itself.
    pub async fn shutdown(self, deadline: Duration) {
        // No workers yet: closing the inbox ends the loop. Workers (issue 6)
        // will be stopped in parallel here before the loop ends.
        drop(self.handle.commands);
        if tokio::time::timeout(deadline, self.task).await.is_err() {
            tracing::warn!(?deadline, "supervisor did not stop in time");
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

async fn run(mut inbox: mpsc::Receiver<Command>, shared: Arc<Shared>) {
    let _guard = RunningGuard(shared.clone());
    let mut beat = tokio::time::interval(HEARTBEAT_EVERY);
    loop {
        tokio::select! {
            _ = beat.tick() => {
                let ms = shared.started.elapsed().as_millis() as u64;
                shared.last_beat_ms.store(ms, Ordering::SeqCst);
            }
            command = inbox.recv() => match command {
                None => return,
                Some(Command::Snapshot(reply)) => {
                    let _ = reply.send(Vec::new());
                }
                Some(Command::Fault(SupervisorFault::Stop)) => {
                    tracing::error!("supervisor stopped by injected fault");
                    return;
                }
                Some(Command::Fault(SupervisorFault::Wedge)) => {
                    tracing::error!("supervisor wedged by injected fault");
                    std::future::pending::<()>().await;
                }
            },
        }
    }
}

impl SupervisorHandle {
    pub fn health(&self, wedged_after: Duration) -> SupervisorHealth {
        if !self.shared.running.load(Ordering::SeqCst) {
            return SupervisorHealth::Stopped;
        }
        let now = self.shared.started.elapsed();
        let last = Duration::from_millis(self.shared.last_beat_ms.load(Ordering::SeqCst));
        let silent = now.saturating_sub(last);
        if silent > wedged_after {
            SupervisorHealth::Wedged(silent)
        } else {
            SupervisorHealth::Running
        }
    }

    /// Every worker's state; `None` when the supervisor does not answer in time.
    pub async fn snapshot(&self, timeout: Duration) -> Option<Vec<WorkerStatus>> {
        let (reply, answer) = oneshot::channel();
        let asked = async {
            self.commands.send(Command::Snapshot(reply)).await.ok()?;
            answer.await.ok()
        };
        tokio::time::timeout(timeout, asked).await.ok().flatten()
    }

    pub async fn inject_fault(&self, fault: SupervisorFault) -> bool {
        self.commands.send(Command::Fault(fault)).await.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn health_follows_the_task() {
        let supervisor = Supervisor::start();
        let handle = supervisor.handle();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(handle.health(Duration::from_secs(1)), SupervisorHealth::Running);
        assert_eq!(handle.snapshot(Duration::from_secs(1)).await.map(|w| w.len()), Some(0));
        assert!(handle.inject_fault(SupervisorFault::Wedge).await);
        tokio::time::sleep(Duration::from_millis(700)).await;
        assert!(matches!(handle.health(Duration::from_millis(400)), SupervisorHealth::Wedged(_)));
        assert!(handle.snapshot(Duration::from_millis(100)).await.is_none());
        supervisor.task.abort();
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(handle.health(Duration::from_secs(1)), SupervisorHealth::Stopped);
    }
}
