//! `agentlocator db ...`: the store's schema version (`status`).

use clap::Subcommand;
use serde::Serialize;

use super::GlobalOptions;
use crate::error::AppResult;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Which store the configuration names and its schema version
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// What `db status` prints.
#[derive(Debug, Serialize)]
struct StatusView {
    /// `sqlite` or `postgres`.
    backend: &'static str,
    /// The file or the server (never a password).
    location: String,
    /// The schema version the database has, and the newest this build knows.
    schema_version: i64,
    latest_schema_version: i64,
}

pub fn run(global: &GlobalOptions, command: DbCommand) -> AppResult<()> {
    let config = global.load_config()?;
    let data = global.data();
    match command {
        DbCommand::Status { json } => {
            let view = super::runtime()?.block_on(async {
                let store = Store::open(&config.store, &data).await?;
                let schema = store.schema().await?;
                Ok::<_, crate::store::StoreError>(StatusView {
                    backend: schema.backend,
                    location: store.describe(),
                    schema_version: schema.version,
                    latest_schema_version: schema.latest,
                })
            })?;
            if json {
                return super::render::print_json(&view);
            }
            println!("store:   {}", view.location);
            println!(
                "schema:  version {} (this build knows {})",
                view.schema_version, view.latest_schema_version
            );
            Ok(())
        }
    }
}
