//! `agentlocator sessions [--json] [--watch]`: one row per tenant worker.
//! From the daemon when one runs (with the supervisor's view and memory),
//! else from the database (the state last recorded).

use std::io::IsTerminal;
use std::time::Duration;

use super::render::{or_dash, print_json, print_table};
use super::GlobalOptions;
use crate::admin::client::AdminClient;
use crate::admin::AdminRequest;
use crate::error::{AppError, AppResult};
use crate::whatsapp::views::SessionView;

/// How often `--watch` refreshes.
const WATCH_EVERY: Duration = Duration::from_secs(2);

pub fn run(global: &GlobalOptions, json: bool, watch: bool) -> AppResult<()> {
    let config = global.load_config()?;
    loop {
        let (views, live) = load(global, &config)?;
        if json {
            if watch {
                // One compact document per refresh (JSON lines), so a consumer
                // can read the stream line by line.
                let line = serde_json::to_string(&views)
                    .map_err(|e| AppError::failed(format!("cannot encode JSON: {e}")))?;
                println!("{line}");
            } else {
                print_json(&views)?;
            }
        } else {
            if watch && std::io::stdout().is_terminal() {
                print!("\x1b[2J\x1b[H");
            }
            print_views(&views, live);
        }
        if !watch {
            return Ok(());
        }
        std::thread::sleep(WATCH_EVERY);
    }
}

/// The sessions, and whether they come from a running daemon.
fn load(global: &GlobalOptions, config: &crate::config::Config) -> AppResult<(Vec<SessionView>, bool)> {
    let data = global.data();
    let connected = AdminClient::connect(&data.socket_path())
        .map_err(|e| AppError::unreachable(format!("{e}; check that you may access the data directory")))?;
    if let Some(mut client) = connected {
        let value = client
            .call(&AdminRequest::Sessions)
            .map_err(|e| AppError::unreachable(format!("daemon did not answer: {e}")))?;
        let views = serde_json::from_value(value).map_err(|e| {
            AppError::failed(format!(
                "the daemon answered in a form this command cannot read ({e}); are both the same version?"
            ))
        })?;
        return Ok((views, true));
    }
    data.ensure()?;
    let rows = super::runtime()?.block_on(async {
        let store = crate::store::Store::open(&config.store, &data).await?;
        store.tenants().list().await
    })?;
    Ok((rows.iter().map(SessionView::from_row).collect(), false))
}

fn print_views(views: &[SessionView], live: bool) {
    if views.is_empty() {
        println!("No tenants yet; add one with `agentlocator tenant add <id>`.");
        return;
    }
    let rows: Vec<Vec<String>> = views
        .iter()
        .map(|v| {
            let w = &v.whatsapp;
            let state = match &w.banned_until {
                Some(until) => format!("{} until {until}", w.state),
                None => w.state.clone(),
            };
            vec![
                v.tenant.clone(),
                state,
                or_dash(w.phone.as_deref()),
                w.since.clone(),
                w.reconnects.to_string(),
                or_dash(w.last_error.as_deref()),
                v.memory_bytes.map_or_else(|| "-".into(), |b| format!("{:.1} KiB", b as f64 / 1024.0)),
            ]
        })
        .collect();
    print_table(&["TENANT", "STATE", "PHONE", "SINCE", "RECONNECTS", "LAST ERROR", "MEMORY"], &rows);
    if !live {
        println!("(no daemon running: states as last recorded)");
    }
}
