//! The daemon's metrics upkeep: every five seconds the Prometheus
//! recorder's histogram samples are folded into their summaries.
//!
//! The recorder keeps each histogram sample until something folds it in:
//! rendering `/metrics` does, and so does this. Without it a daemon nobody
//! scrapes kept every delivery's latency sample, about 8 bytes each (some
//! 1.4 MiB an hour at 50 messages/s: part of the growth an hour of steady
//! traffic showed, on both stores and at 10 and 1000 tenants alike).
//!
//! Trimming the heap (glibc `malloc_trim`) was tried here too: it took
//! 2-6 KiB per tenant off the RSS after a restart, but in quiet benches it
//! went with one tenant in a thousand taking 10 s to reconnect after pairing
//! and 33 KiB more per tenant right after pairing (5 of 7 runs, none of 8
//! without it; `bench/whatsapp/README.md`), so it was taken out until that
//! is understood.

use std::time::Duration;

use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::watch;

/// How often upkeep runs (the exporter's own default when it runs upkeep
/// itself).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Runs `metrics`' upkeep every [`UPKEEP_EVERY`] until `shutdown` turns true
/// (a fold takes microseconds: an async task is enough).
pub fn start(metrics: PrometheusHandle, mut shutdown: watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => return,
                _ = tokio::time::sleep(UPKEEP_EVERY) => metrics.run_upkeep(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn upkeep_folds_histogram_samples_in_without_losing_any_and_stops_with_the_daemon() {
        let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for i in 0..1000 {
                metrics::histogram!("upkeep_test_seconds").record(f64::from(i) / 1000.0);
            }
        });
        let (stop, stopped) = watch::channel(false);
        let task = start(handle.clone(), stopped);
        tokio::time::sleep(UPKEEP_EVERY * 2 + Duration::from_millis(10)).await;
        let _ = stop.send(true);
        tokio::time::timeout(Duration::from_secs(1), task).await.expect("stops").expect("no panic");
        let rendered = handle.render();
        assert!(rendered.contains("upkeep_test_seconds_count 1000"), "{rendered}");
    }
}
