//! `agentlocator check go`: the command line here, the client in `go`.

mod go;

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;

use super::GlobalOptions;
use crate::error::{AppError, AppResult};
use go::GoOptions;
pub use go::ReportFormat;

#[derive(Debug, Subcommand)]
pub enum CheckCommand {
    /// The four GO checks: /healthz, /version, /healthz/whatsapp, /readyz
    Go {
        /// Base URL of the deployment [default: the configured http.listen]
        #[arg(long)]
        url: Option<String>,
        #[arg(long, value_enum, default_value = "text")]
        format: ReportFormat,
        /// Also write a JUnit XML report here
        #[arg(long, value_name = "PATH")]
        junit: Option<PathBuf>,
        /// Seconds each check may take
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=600))]
        timeout: u64,
    },
}

pub fn run(global: &GlobalOptions, command: CheckCommand) -> AppResult<()> {
    let CheckCommand::Go { url, format, junit, timeout } = command;
    let base_url = match url {
        Some(url) => url,
        None => default_url(global)?,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::failed(format!("cannot start the async runtime: {e}")))?;
    let options = GoOptions { base_url, timeout: Duration::from_secs(timeout), format, junit };
    Ok(runtime.block_on(go::run(options))?)
}

/// The configured listen address as a URL a client can use: a wildcard
/// address becomes loopback.
fn default_url(global: &GlobalOptions) -> AppResult<String> {
    let addr = global.load_config()?.listen_addr()?;
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    };
    Ok(format!("http://{}", std::net::SocketAddr::new(ip, addr.port())))
}
