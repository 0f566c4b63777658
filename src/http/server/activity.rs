//! What one connection is doing (idle, reading a request head, busy) and
//! when it should be closed. Shared by the connection's task, which serves it,
//! and the registry, which picks the connection to evict at the cap; neither
//! needs the other.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use tokio::sync::Notify;

use super::Limits;

#[derive(Debug, Clone, Copy)]
enum Phase {
    Idle(Instant),
    ReadingHead(Instant),
    /// Requests whose response body is not done yet.
    Busy(usize),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CloseReason {
    IdleTimeout,
    HeaderTimeout,
    Evicted,
}

impl CloseReason {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            CloseReason::IdleTimeout => "idle_timeout",
            CloseReason::HeaderTimeout => "header_timeout",
            CloseReason::Evicted => "evicted",
        }
    }
}

struct State {
    phase: Phase,
    /// Asked to close to make room for a new connection.
    evicted: bool,
}

/// What a connection is doing, shared by its reader, its requests, its task
/// and the registry.
pub(super) struct Activity {
    state: Mutex<State>,
    /// Woken on every change that moves or removes the deadline.
    changed: Notify,
}

impl Activity {
    pub(super) fn new() -> Activity {
        Activity {
            state: Mutex::new(State { phase: Phase::Idle(Instant::now()), evicted: false }),
            changed: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Each holder makes one small assignment; a panic cannot leave it half done.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Bytes arrived: while idle, a request head has begun.
    pub(super) fn bytes_read(&self) {
        let mut state = self.lock();
        if let Phase::Idle(_) = state.phase {
            state.phase = Phase::ReadingHead(Instant::now());
            drop(state);
            self.changed.notify_one();
        }
    }

    /// hyper has the whole head and calls the router. This only removes the
    /// deadline, so nobody is woken: a timer that fires finds it gone.
    pub(super) fn request_started(self: &Arc<Self>) -> InFlight {
        let mut state = self.lock();
        state.phase = match state.phase {
            Phase::Busy(n) => Phase::Busy(n + 1),
            Phase::Idle(_) | Phase::ReadingHead(_) => Phase::Busy(1),
        };
        InFlight(self.clone())
    }

    fn request_ended(&self) {
        let mut state = self.lock();
        state.phase = match state.phase {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        };
        drop(state);
        self.changed.notify_one();
    }

    /// When this connection stopped doing anything useful, if it may be
    /// evicted: not while a request is in flight, not twice.
    pub(super) fn evictable_since(&self) -> Option<Instant> {
        let state = self.lock();
        match state.phase {
            _ if state.evicted => None,
            Phase::Idle(since) | Phase::ReadingHead(since) => Some(since),
            Phase::Busy(_) => None,
        }
    }

    pub(super) fn evict(&self) {
        self.lock().evicted = true;
        self.changed.notify_one();
    }

    /// Resolves when the connection should be closed.
    pub(super) async fn closing(&self, limits: Limits) -> CloseReason {
        loop {
            let changed = self.changed.notified();
            match self.check(limits) {
                Ok(reason) => return reason,
                Err(Some(deadline)) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(deadline.into()) => {}
                        () = changed => {}
                    }
                }
                Err(None) => changed.await,
            }
        }
    }

    /// Ok: close now, for this reason. Err: check again at this deadline
    /// (None: only after a change).
    fn check(&self, limits: Limits) -> Result<CloseReason, Option<Instant>> {
        let mut state = self.lock();
        let (reason, deadline) = match state.phase {
            // An eviction that lost the race against a new request is void:
            // a request in flight is never cut off.
            Phase::Busy(_) => {
                state.evicted = false;
                return Err(None);
            }
            _ if state.evicted => return Ok(CloseReason::Evicted),
            Phase::Idle(since) => (CloseReason::IdleTimeout, since + limits.idle_timeout),
            Phase::ReadingHead(since) => (CloseReason::HeaderTimeout, since + limits.header_read_timeout),
        };
        if Instant::now() >= deadline {
            Ok(reason)
        } else {
            Err(Some(deadline))
        }
    }
}

/// A request in flight; dropped with its response body (hyper drops the body
/// once it has been written), which makes the connection idle again.
pub(super) struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_ended();
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const LIMITS: Limits = Limits {
        header_read_timeout: Duration::from_secs(10),
        idle_timeout: Duration::from_secs(60),
        max_connections: 8,
    };

    #[test]
    fn each_phase_has_its_own_deadline() {
        let activity = Arc::new(Activity::new());
        let Err(Some(idle_deadline)) = activity.check(LIMITS) else { panic!("idle has a deadline") };
        activity.bytes_read();
        let Err(Some(head_deadline)) = activity.check(LIMITS) else { panic!("a head has a deadline") };
        assert!(head_deadline < idle_deadline, "the header clock is the shorter one here");
        let in_flight = activity.request_started();
        assert_eq!(activity.check(LIMITS), Err(None), "no clock while a request is in flight");
        assert!(activity.evictable_since().is_none());
        drop(in_flight);
        assert!(matches!(activity.check(LIMITS), Err(Some(_))), "idle again after the response");
    }

    #[test]
    fn eviction_never_cuts_off_a_request_in_flight() {
        let activity = Arc::new(Activity::new());
        activity.evict();
        assert_eq!(activity.check(LIMITS), Ok(CloseReason::Evicted));
        let activity = Arc::new(Activity::new());
        activity.evict();
        let in_flight = activity.request_started();
        assert_eq!(activity.check(LIMITS), Err(None));
        drop(in_flight);
        assert!(matches!(activity.check(LIMITS), Err(Some(_))), "the void eviction is forgotten");
    }

    #[test]
    fn expired_clocks_close() {
        let quick = Limits { header_read_timeout: Duration::ZERO, idle_timeout: Duration::ZERO, ..LIMITS };
        let activity = Arc::new(Activity::new());
        assert_eq!(activity.check(quick), Ok(CloseReason::IdleTimeout));
        activity.bytes_read();
        assert_eq!(activity.check(quick), Ok(CloseReason::HeaderTimeout));
    }
}
