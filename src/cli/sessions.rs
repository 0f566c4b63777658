//! `agentlocator sessions [--json] [--watch]`: one row per tenant worker.
//! From the daemon when one runs (with the supervisor's view and memory),
//! else from the database (the state last recorded). On PostgreSQL each row
//! names the node holding the tenant's lease.

use std::io::IsTerminal;
use std::time::Duration;

use super::render::{or_dash, print_json, print_table};
use super::GlobalOptions;
use crate::admin::client::AdminClient;
use crate::admin::AdminRequest;
use crate::error::{AppError, AppResult};
use crate::whatsapp::views::ListedSession;

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
            print_views(&views, live, config.store.url.is_some());
        }
        if !watch {
            return Ok(());
        }
        std::thread::sleep(WATCH_EVERY);
    }
}

/// The sessions, and whether they come from a running daemon.
fn load(global: &GlobalOptions, config: &crate::config::Config) -> AppResult<(Vec<ListedSession>, bool)> {
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
    let views = super::runtime()?.block_on(async {
        let store = crate::store::Store::open(&config.store, &data).await?;
        crate::whatsapp::views::listed(&store, None).await
    })?;
    Ok((views, false))
}

/// The table; `shared` (PostgreSQL) adds the NODE column.
fn print_views(views: &[ListedSession], live: bool, shared: bool) {
    if views.is_empty() {
        println!("No tenants yet; add one with `agentlocator tenant add <id>`.");
        return;
    }
    let mut header = vec!["TENANT", "STATE", "PHONE", "SINCE", "RECONNECTS", "LAST ERROR", "MEMORY"];
    if shared {
        header.push("NODE");
    }
    let rows: Vec<Vec<String>> = views.iter().map(|v| row(v, shared)).collect();
    print_table(&header, &rows);
    if !live {
        println!("(no daemon running: states as last recorded)");
    }
}

fn row(listed: &ListedSession, shared: bool) -> Vec<String> {
    let (v, w) = (&listed.view, &listed.view.whatsapp);
    let state = match &w.banned_until {
        Some(until) => format!("{} until {until}", w.state),
        None => w.state.clone(),
    };
    let mut row = vec![
        v.tenant.clone(),
        state,
        or_dash(w.phone.as_deref()),
        w.since.clone(),
        w.reconnects.to_string(),
        or_dash(w.last_error.as_deref()),
        v.memory_bytes.map_or_else(|| "-".into(), |b| format!("{:.1} KiB", b as f64 / 1024.0)),
    ];
    if shared {
        row.push(or_dash(listed.node.as_deref()));
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A session as the daemon's admin socket answers it.
    fn listed(node: Option<&str>) -> ListedSession {
        serde_json::from_value(serde_json::json!({
            "tenant": "alpha", "state": "connected", "phone": "+15550001111",
            "since": "2026-11-28T02:40:00Z", "reconnects": 2, "last_error": null,
            "worker": "running", "memory_bytes": 2048, "node": node,
        }))
        .expect("decode")
    }

    #[test]
    fn the_node_column_shows_only_on_a_shared_store() {
        let alone = row(&listed(None), false);
        assert_eq!(
            alone,
            ["alpha", "connected", "+15550001111", "2026-11-28T02:40:00Z", "2", "-", "2.0 KiB"]
        );
        assert_eq!(row(&listed(Some("node-a")), true).last().map(String::as_str), Some("node-a"));
        assert_eq!(row(&listed(None), true).last().map(String::as_str), Some("-"));
    }
}
