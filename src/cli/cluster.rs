//! `agentlocator cluster status [--json]`: the nodes sharing the PostgreSQL
//! store, whether each is alive, and how many tenants each runs. Read from the
//! database, so it answers from any machine that reaches it, whether or not a
//! daemon runs there.

use clap::Subcommand;
use serde::Serialize;

use super::render::{print_json, print_table};
use super::GlobalOptions;
use crate::error::{AppError, AppResult};
use crate::store::cluster::NodeRow;
use crate::store::StoreError;

#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// The nodes sharing the database: address, version, last heartbeat, tenants held, alive
    Status {
        #[arg(long)]
        json: bool,
    },
}

/// What `cluster status --json` prints. Tools read `id`, `address`,
/// `version`, `last_heartbeat` and `tenants` of each node: new fields may
/// join them, none may be renamed.
#[derive(Debug, Serialize)]
struct StatusView {
    /// The live nodes first, then by id.
    nodes: Vec<NodeRow>,
}

pub fn run(global: &GlobalOptions, command: ClusterCommand) -> AppResult<()> {
    match command {
        ClusterCommand::Status { json } => status(global, json),
    }
}

fn status(global: &GlobalOptions, json: bool) -> AppResult<()> {
    let config = global.load_config()?;
    // Refused before opening anything: SQLite serves one daemon, so there is
    // no cluster to show, and the data directory may hold no database at all.
    if config.store.url.is_none() {
        return Err(StoreError::NotShared.into());
    }
    let nodes = super::runtime()?.block_on(async {
        let store = super::open_existing_store(global).await?;
        Ok::<_, AppError>(store.cluster().nodes(config.cluster.lease_ttl).await?)
    })?;
    if json {
        return print_json(&StatusView { nodes });
    }
    if nodes.is_empty() {
        println!("No node has joined yet: each `agentlocator serve` on this database joins when it starts.");
        return Ok(());
    }
    print_table(&["ID", "ADDRESS", "VERSION", "LAST HEARTBEAT", "TENANTS", "ALIVE"], &rows(&nodes));
    Ok(())
}

/// The table's cells, one row per node (shown through `render::safe` by
/// `print_table`: node ids and addresses come from the database).
fn rows(nodes: &[NodeRow]) -> Vec<Vec<String>> {
    nodes
        .iter()
        .map(|n| {
            vec![
                n.id.clone(),
                n.address.clone(),
                n.version.clone(),
                n.last_heartbeat.clone(),
                n.tenants.to_string(),
                if n.alive { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, tenants: i64, alive: bool) -> NodeRow {
        NodeRow {
            id: id.into(),
            address: format!("http://{id}:8080"),
            version: "1.2.3".into(),
            last_heartbeat: "2026-11-28T02:40:00.000Z".into(),
            tenants,
            alive,
        }
    }

    #[test]
    fn one_row_per_node_with_its_tenants_and_liveness() {
        let rows = rows(&[node("a", 3, true), node("b", 0, false)]);
        assert_eq!(
            rows,
            vec![
                vec!["a", "http://a:8080", "1.2.3", "2026-11-28T02:40:00.000Z", "3", "yes"],
                vec!["b", "http://b:8080", "1.2.3", "2026-11-28T02:40:00.000Z", "0", "no"],
            ]
        );
    }

    #[test]
    fn the_json_keeps_the_field_names_tools_read() {
        let json = serde_json::to_value(StatusView { nodes: vec![node("a", 3, true)] }).expect("encode");
        let n = &json["nodes"][0];
        assert_eq!(n["id"], "a");
        assert_eq!(n["address"], "http://a:8080");
        assert_eq!(n["version"], "1.2.3");
        assert_eq!(n["last_heartbeat"], "2026-11-28T02:40:00.000Z");
        assert_eq!(n["tenants"], 3);
        assert_eq!(n["alive"], true);
    }
}
