//! The daemon's metrics upkeep, every five seconds on a thread of its own:
//! the Prometheus recorder's histogram samples are folded into their
//! summaries.
//!
//! The recorder keeps each histogram sample until something folds it in:
//! rendering `/metrics` does, and so does this. Without it a daemon nobody
//! scrapes kept every delivery's latency sample, about 8 bytes each (some
//! 1.4 MiB an hour at 50 messages/s: part of the growth an hour of steady
//! traffic showed, on both stores and at 10 and 1000 tenants alike).
//!
//! This thread also trimmed the heap (glibc `malloc_trim`) for a while: it
//! took 6 KiB per tenant off the RSS after a restart, but in quiet benches
//! it went with one tenant in a thousand taking 10 s to reconnect after
//! pairing and 33 KiB more per tenant right after pairing (5 of 7 runs, none
//! of 8 without it; `bench/whatsapp/README.md`), so it was taken out until
//! that is understood.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;

/// How often upkeep runs (the exporter's own default when it runs upkeep
/// itself).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The upkeep thread; it stops when this is stopped or dropped.
pub struct Upkeep {
    stop: mpsc::Sender<()>,
    thread: Option<JoinHandle<()>>,
}

impl Upkeep {
    /// Runs upkeep every [`UPKEEP_EVERY`] for `metrics`' recorder; `None`
    /// when the thread cannot be started (logged: the daemon runs on, its
    /// memory then growing with unscraped metrics).
    pub fn start(metrics: PrometheusHandle) -> Option<Upkeep> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new().name("upkeep".into()).spawn(move || {
            // Anything received, or the sender gone, means stop.
            while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(UPKEEP_EVERY) {
                let start = std::time::Instant::now();
                metrics.run_upkeep();
                tracing::trace!(took_us = start.elapsed().as_micros() as u64, "upkeep done");
            }
        });
        match thread {
            Ok(thread) => Some(Upkeep { stop, thread: Some(thread) }),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the metrics upkeep thread: unscraped histogram samples stay in memory");
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

#[cfg(test)]
mod tests {
    use super::*;

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
