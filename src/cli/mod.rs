//! The command line: global options, subcommands, and the one place that turns
//! an error into its message and exit code.

mod check;
mod cluster;
mod config_cmd;
mod db;
mod events;
mod logging;
mod pair;
mod render;
mod sessions;
mod tenant;

pub mod completions;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::paths::DataDir;

#[derive(Debug, Parser)]
#[command(
    name = "agentlocator",
    version = crate::health::build_info::VERSION,
    about = "Links tenants' WhatsApp and Twilio numbers to their backends as signed, durable webhooks",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Args)]
pub struct GlobalOptions {
    /// Configuration file [default: config/agentlocator.toml when it exists]
    #[arg(long, global = true, env = "AGENTLOCATOR_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Where the database, secrets and tenant data live
    #[arg(long, global = true, env = "AGENTLOCATOR_DATA_DIR", default_value = "./data", value_name = "PATH")]
    pub data_dir: PathBuf,
    /// Log format (logs go to stderr)
    #[arg(long, global = true, env = "AGENTLOCATOR_LOG_FORMAT", default_value = "text", value_enum)]
    pub log_format: logging::LogFormat,
    /// More logging (-v debug, -vv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count, conflicts_with = "quiet")]
    pub verbose: u8,
    /// Less logging (-q warnings, -qq errors only)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub quiet: u8,
}

impl GlobalOptions {
    pub fn load_config(&self) -> AppResult<Config> {
        Config::load(self.config.as_deref())
    }

    pub fn data(&self) -> DataDir {
        DataDir::new(&self.data_dir)
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: HTTP service, WhatsApp supervisor, admin socket
    Serve,
    /// Inspect the configuration
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// Manage tenants (businesses)
    #[command(subcommand)]
    Tenant(tenant::TenantCommand),
    /// Checks against a deployment
    #[command(subcommand)]
    Check(check::CheckCommand),
    /// One row per tenant WhatsApp worker: state, phone, since, reconnects, last error, memory
    Sessions {
        #[arg(long)]
        json: bool,
        /// Refresh every 2 seconds until interrupted (with --json: one document per line)
        #[arg(long)]
        watch: bool,
    },
    /// Inspect, replay and retry the events delivered to tenants' backends
    #[command(subcommand)]
    Events(events::EventsCommand),
    /// The store: schema version
    #[command(subcommand)]
    Db(db::DbCommand),
    /// The nodes sharing the PostgreSQL store
    #[command(subcommand)]
    Cluster(cluster::ClusterCommand),
    /// Print a shell completion script
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    // Everything this process creates is private to its user, whatever the
    // caller's umask: sockets, databases, secrets, recordings.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let cli = Cli::parse();
    logging::init(cli.global.log_format, cli.global.verbose, cli.global.quiet);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::from(error.exit_code())
        }
    }
}

fn run(cli: Cli) -> AppResult<()> {
    match cli.command {
        Command::Serve => {
            let config = cli.global.load_config()?;
            runtime()?.block_on(crate::daemon::serve(config, cli.global.data()))
        }
        Command::Config(command) => config_cmd::run(&cli.global, command),
        Command::Tenant(command) => tenant::run(&cli.global, command),
        Command::Check(command) => check::run(&cli.global, command),
        Command::Events(command) => events::run(&cli.global, command),
        Command::Db(command) => db::run(&cli.global, command),
        Command::Cluster(command) => cluster::run(&cli.global, command),
        Command::Sessions { json, watch } => sessions::run(&cli.global, json, watch),
        Command::Completions { shell } => completions::write(shell, &mut std::io::stdout())
            .map_err(|e| AppError::failed(format!("cannot write completions: {e}"))),
    }
}

/// The store an existing deployment uses, for commands that read it: with
/// the embedded SQLite, a missing database file is an error naming the data
/// directory rather than a new empty database.
async fn open_existing_store(global: &GlobalOptions) -> AppResult<crate::store::Store> {
    let config = global.load_config()?;
    let data = global.data();
    let path = data.db_path();
    if config.store.url.is_none() && !path.is_file() {
        return Err(AppError::failed(format!(
            "no database at {}; pass the daemon's --data-dir (or AGENTLOCATOR_DATA_DIR)",
            path.display()
        )));
    }
    Ok(crate::store::Store::open(&config.store, &data).await?)
}

pub(crate) fn runtime() -> AppResult<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| AppError::failed(format!("cannot start the async runtime: {e}")))
}
