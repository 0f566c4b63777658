//! `agentlocator db ...`: the store's schema version (`status`), and a
//! stopped SQLite deployment moved into PostgreSQL (`copy`).

use clap::Subcommand;
use serde::Serialize;

use super::GlobalOptions;
use crate::config::StoreConfig;
use crate::error::AppResult;
use crate::paths::DataDir;
use crate::store::copy::{copy_sqlite_to_postgres, redact, CopyReport};

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Which store the configuration names and its schema version
    Status {
        #[arg(long)]
        json: bool,
    },
    /// Copy a stopped SQLite deployment into an empty PostgreSQL database
    Copy {
        /// The target database (postgres://...); it must be empty
        #[arg(long, value_name = "URL")]
        to: String,
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
    match command {
        DbCommand::Copy { to, json } => copy(&global.load_config()?.store, &global.data(), &to, json),
        DbCommand::Status { json } => {
            let view = super::runtime()?.block_on(async {
                let store = super::open_existing_store(global).await?;
                let schema = store.schema().await?;
                Ok::<_, crate::error::AppError>(StatusView {
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

/// What `db copy --json` prints.
#[derive(Debug, Serialize)]
struct CopyView {
    /// Rows copied per table.
    tables: std::collections::BTreeMap<&'static str, u64>,
    /// How many tenants' WhatsApp sessions were imported.
    sessions: usize,
    /// Those tenants.
    sessions_imported: Vec<String>,
    /// Tenants whose session file held no device (they pair as before).
    sessions_without_device: Vec<String>,
    /// Stored files (media, recordings) copied into the database.
    files: u64,
    /// Live rows whose file was already gone (`tenant/kind/id`).
    files_missing: Vec<String>,
}

fn copy(settings: &StoreConfig, data: &DataDir, url: &str, json: bool) -> AppResult<()> {
    let report = super::runtime()?.block_on(copy_sqlite_to_postgres(data, settings, url))?;
    if json {
        return super::render::print_json(&CopyView {
            tables: report.tables.iter().copied().collect(),
            sessions: report.sessions.len(),
            sessions_imported: report.sessions.clone(),
            sessions_without_device: report.sessions_without_device.clone(),
            files: report.files,
            files_missing: report.files_missing.clone(),
        });
    }
    print_copy(data, url, &report);
    Ok(())
}

fn print_copy(data: &DataDir, url: &str, report: &CopyReport) {
    println!("copied {} into PostgreSQL {}", data.db_path().display(), redact(url));
    println!("{:<22} {:>10}", "TABLE", "ROWS");
    for (table, rows) in &report.tables {
        println!("{table:<22} {rows:>10}");
    }
    println!("WhatsApp sessions imported: {}", report.sessions.len());
    if !report.sessions_without_device.is_empty() {
        println!("no session to import (never paired): {}", report.sessions_without_device.join(", "));
    }
    println!("stored files (media, recordings) copied: {}", report.files);
    if !report.files_missing.is_empty() {
        println!(
            "already gone from {} (their URLs answer 410, as before): {}",
            data.root().display(),
            report.files_missing.join(", ")
        );
    }
}
