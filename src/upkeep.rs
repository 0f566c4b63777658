//! The daemon's process-wide upkeep, every two seconds on a thread of its
//! own: the metrics recorder's histogram samples are folded into their
//! summaries, and the heap's free pages go back to the kernel.
//!
//! The recorder keeps each histogram sample until something folds it in:
//! rendering `/metrics` does, and so does this. Without it a daemon nobody
//! scrapes kept every delivery's latency sample, about 8 bytes each (some
//! 1.4 MiB an hour at 50 messages/s: part of the growth an hour of steady
//! traffic showed, on both stores and at 10 and 1000 tenants alike).
//!
//! glibc's `free` returns memory to the kernel only from the top of an
//! arena; pages freed in the middle of one (a handshake's buffers, a
//! pairing's prekeys, a burst of messages) stay resident until something
//! reuses them. `malloc_trim(0)` walks every arena and `madvise`s such pages
//! away (glibc 2.8 and later). A daemon holding a thousand clients frees a
//! great deal of that kind of memory after a boot or a pairing: trimming
//! keeps its resident size near its live heap (measured in
//! `bench/whatsapp/README.md`: 95 → 89 KiB per tenant after a restart).
//! A trim took 0.1–0.2 ms at a thousand tenants (7 ms at worst, during a
//! boot of all of them at once), off the async runtime so no task waits for
//! it; an allocation waits only while its own arena is walked. On anything
//! but glibc a trim does nothing.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

/// How often upkeep runs: short enough that the resident size follows the
/// live heap within seconds of a burst, long enough that the pages trimmed
/// and faulted in again cost next to nothing.
const UPKEEP_EVERY: Duration = Duration::from_secs(2);

/// Returns free heap pages to the kernel.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
pub fn trim_heap() {
    // SAFETY: malloc_trim takes no pointer and is thread-safe (it locks
    // each arena in turn); it releases only pages no allocation uses.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Returns free heap pages to the kernel (nothing to do off glibc).
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim_heap() {}

/// The upkeep thread; it stops when this is stopped or dropped.
pub struct Upkeep {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Upkeep {
    /// Runs upkeep every [`UPKEEP_EVERY`] for `metrics`' recorder and the
    /// heap; `None` when the thread cannot be started (logged: the daemon
    /// runs on, its memory then growing with unscraped metrics).
    pub fn start(metrics: PrometheusHandle) -> Option<Upkeep> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new().name("upkeep".into()).spawn(move || {
            // Anything received, or the sender gone, means stop.
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(UPKEEP_EVERY) {
                let start = std::time::Instant::now();
                metrics.run_upkeep();
                trim_heap();
                tracing::trace!(took_us = start.elapsed().as_micros() as u64, "upkeep done");
            }
        });
        match thread {
            Ok(thread) => Some(Upkeep { stop, thread: Some(thread) }),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the upkeep thread: unscraped metrics and freed heap pages stay in memory");
                None
            }
        }
    }

    /// Stops the thread and waits for it (at most one round of upkeep).
    pub fn stop(mut self) {
        self.stop_and_join();
    }

    fn stop_and_join(&mut self) {
        let _ = self.stop.send(());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Upkeep {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

#[cfg(all(test, target_os = "linux", target_env = "gnu"))]
mod tests {
    use super::*;

    fn rss_kib() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).expect("VmRSS");
        line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).expect("kib")
    }

    #[test]
    fn a_trim_gives_back_pages_freed_below_a_live_allocation() {
        // 128 MiB in 4 KiB blocks, all written, then freed, except one block
        // allocated last: it pins the top of the arena, so glibc's own
        // top-of-heap trimming cannot give anything back.
        let blocks: Vec<Vec<u8>> = (0..32 * 1024).map(|i| vec![i as u8 | 1; 4096]).collect();
        let pin = vec![1u8; 4096];
        let before_free = rss_kib();
        drop(blocks);
        let freed = rss_kib();
        trim_heap();
        let trimmed = rss_kib();
        assert!(pin[0] == 1);
        assert!(before_free > 128 * 1024, "the blocks were resident: {before_free} KiB");
        assert!(
            freed.saturating_sub(trimmed) > 64 * 1024,
            "a trim gives back most of the 128 MiB freed: {before_free} KiB in use, {freed} after free, {trimmed} after trim"
        );
    }

    #[test]
    fn upkeep_folds_histogram_samples_in_without_losing_any_and_stops_when_told() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for i in 0..1000 {
                metrics::histogram!("upkeep_test_seconds").record(f64::from(i) / 1000.0);
            }
        });
        let upkeep = Upkeep::start(handle.clone()).expect("thread");
        std::thread::sleep(UPKEEP_EVERY + Duration::from_millis(500));
        let start = std::time::Instant::now();
        upkeep.stop();
        assert!(start.elapsed() < UPKEEP_EVERY, "stopping does not wait for the next round");
        let rendered = handle.render();
        assert!(rendered.contains("upkeep_test_seconds_count 1000"), "{rendered}");
    }
}
