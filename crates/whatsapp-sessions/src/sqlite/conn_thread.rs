//! [`ConnThread`]: a SQLite connection that lives on an OS thread of its own
//! and runs the closures sent to it there.
//!
//! Why not `spawn_blocking`: each call would run on whichever thread of
//! tokio's blocking pool is free, and glibc gives each thread its own malloc
//! arena, so one connection's page cache and statements ended up spread over
//! a dozen arenas, each keeping its freed pages. At 1000 tenants, forcing one
//! arena (`GLIBC_TUNABLES=glibc.malloc.arena_max=1`) measured 4 KiB less per
//! tenant after a restart; one thread per connection measured 2-3 KiB less
//! (91 against 93 and 94 KiB, one run each), without changing how the rest
//! of the process allocates. And the connection is never moved between
//! threads.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::mpsc;

use rusqlite::Connection;

/// What the connection's thread runs: the caller's closure and the sending
/// of its result.
type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A connection on its own thread. Callers serialise their use of it (the
/// writer's mutex, a reader's mutex), so at most one job waits in its queue;
/// the thread ends when the handle is dropped.
pub(crate) struct ConnThread {
    jobs: mpsc::Sender<Job>,
}

impl ConnThread {
    /// Moves `conn` to a new thread named `name`.
    pub(crate) fn spawn(name: &str, mut conn: Connection) -> std::io::Result<ConnThread> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new().name(name.to_string()).spawn(move || {
            for job in queue {
                job(&mut conn);
            }
        })?;
        Ok(ConnThread { jobs })
    }

    /// Runs `f` on the connection's thread and waits (as a future) for what
    /// it returns; `Err` says why it did not: a panic in `f` (caught there,
    /// so the thread and its connection stay usable, and a transaction `f`
    /// had open is rolled back as it unwinds), or a thread that is gone.
    pub(crate) async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> R + Send + 'static,
    ) -> Result<R, &'static str> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let out =
                catch_unwind(AssertUnwindSafe(|| f(conn))).map_err(|_| "a session store statement panicked");
            // The caller may have stopped waiting (cancelled); nothing to do then.
            let _ = reply.send(out);
        });
        self.jobs.send(job).map_err(|_| STOPPED)?;
        answer.await.map_err(|_| STOPPED)?
    }
}

const STOPPED: &str = "the session connection's thread has stopped";
