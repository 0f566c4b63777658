//! `wasim serve --listen 127.0.0.1:PORT`: the simulated WhatsApp network.

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "wasim", version, about = "A simulated WhatsApp Web server for tests and demos")]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve WebSocket /ws/chat and the /admin API on one port.
    Serve {
        /// Address to listen on (port 0 picks a free one; the bound address is printed).
        #[arg(long, default_value = "127.0.0.1:8765")]
        listen: std::net::SocketAddr,
        /// Delay every frame the server sends by this many milliseconds (a slow network).
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
    },
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match cli.cmd {
        Cmd::Serve { listen, latency_ms } => {
            let listener = match tokio::net::TcpListener::bind(listen).await {
                Ok(l) => l,
                Err(e) => {
                    eprintln!("error: cannot listen on {listen}: {e}; pick another --listen address");
                    return std::process::ExitCode::from(1);
                }
            };
            let addr = listener.local_addr().map(|a| a.to_string()).unwrap_or_default();
            // One line on stdout so scripts can learn the port.
            println!("wasim listening on {addr} (ws://{addr}/ws/chat, http://{addr}/admin)");
            // Ctrl-C or SIGTERM end it gracefully.
            let shutdown = async {
                #[cfg(unix)]
                {
                    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                        .expect("SIGTERM handler");
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                #[cfg(not(unix))]
                let _ = tokio::signal::ctrl_c().await;
            };
            let sim = wasim::Sim::new().with_latency(std::time::Duration::from_millis(latency_ms));
            if let Err(e) = wasim::server::serve(listener, sim, shutdown).await {
                eprintln!("error: server failed: {e}");
                return std::process::ExitCode::from(1);
            }
            std::process::ExitCode::SUCCESS
        }
    }
}
