//! `wasim-big [serve] --listen ADDR`: stock `wasim serve` (same router, same
//! simulator) whose admin API accepts request bodies up to 128 MiB, so
//! `POST /admin/send` can carry a 16 MiB file in base64. Prints the same
//! `wasim listening on ADDR` line as `wasim serve`; stops on SIGTERM or Ctrl-C.

use std::process::ExitCode;

/// The largest request body: 64 MiB (the simulator's media host limit) in
/// base64 plus the JSON around it.
const BODY_LIMIT: usize = 128 * 1024 * 1024;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    // `wasim-big [serve] --listen ADDR`: the `wasim serve` command line (without --latency-ms).
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).skip_while(|a| *a == "serve").collect();
    let listen = match args.as_slice() {
        ["--listen", addr] => addr.to_string(),
        _ => {
            eprintln!("usage: wasim-big [serve] --listen ADDR   (port 0 picks one)");
            return ExitCode::from(2);
        }
    };
    let listener = match tokio::net::TcpListener::bind(&listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {listen}: {e}");
            return ExitCode::from(1);
        }
    };
    let addr = match listener.local_addr() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(1);
        }
    };
    println!("wasim listening on {addr} (ws://{addr}/ws/chat, http://{addr}/admin)");
    let sim = wasim::Sim::new();
    // What `wasim::server::serve` does, plus the body limit: routes that set
    // their own (the media host's uploads) keep theirs.
    sim.set_media_host(addr);
    let app = wasim::server::router(sim).layer(axum::extract::DefaultBodyLimit::max(BODY_LIMIT));
    let shutdown = async {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(t) => t,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    };
    if let Err(e) = axum::serve(listener, app).with_graceful_shutdown(shutdown).await {
        eprintln!("error: server failed: {e}");
        return ExitCode::from(1);
    }
    ExitCode::SUCCESS
}
