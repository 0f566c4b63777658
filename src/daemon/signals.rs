//! Waiting for the signals that end `serve`.

use tokio::signal::unix::{signal, SignalKind};

/// Resolves with the name of the first SIGTERM or SIGINT received.
pub async fn wait_for_shutdown() -> &'static str {
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    match (terminate, interrupt) {
        (Ok(mut terminate), Ok(mut interrupt)) => tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        },
        // Without signal handlers we cannot shut down gracefully; say so and
        // fall back to Ctrl-C, which tokio handles another way.
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}
