//! Where this run's store keeps stored files (WhatsApp media, recordings):
//! on SQLite as files under `DATA_DIR/tenants/<id>/<media|recordings>/`, on
//! PostgreSQL as chunks beside their rows. Downloads are staged on disk in
//! that same directory on both stores, so leftovers are looked for there.

use std::path::{Path, PathBuf};

use super::store::{on_postgres, quote, Db};
use super::Daemon;

/// A kind of stored file: its directory name and its `content.kind`.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    dir: &'static str,
    column: &'static str,
}

pub const MEDIA: Kind = Kind { dir: "media", column: "whatsapp" };
pub const RECORDINGS: Kind = Kind { dir: "recordings", column: "recording" };

/// The tenant's directory for `kind` (where downloads are staged, and where
/// SQLite keeps the files).
pub fn dir(data_dir: &Path, tenant: &str, kind: Kind) -> PathBuf {
    data_dir.join("tenants").join(tenant).join(kind.dir)
}

/// Names of the files in `dir(...)` (none when it does not exist).
fn names_in(dir: &Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut names: Vec<String> =
        entries.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

fn is_staged(name: &str) -> bool {
    name.starts_with('.') || name.ends_with(".part")
}

/// Staged downloads left on disk (`.part` and hidden files), on either store.
pub fn leftovers(daemon: &Daemon, tenant: &str, kind: Kind) -> Vec<String> {
    names_in(&dir(&daemon.data_dir, tenant, kind)).into_iter().filter(|n| is_staged(n)).collect()
}

/// The stored files of `tenant` of `kind`, by stored name with their length,
/// sorted by name.
pub fn stored_files(daemon: &Daemon, tenant: &str, kind: Kind) -> Vec<(String, u64)> {
    if !on_postgres() {
        let dir = dir(&daemon.data_dir, tenant, kind);
        let stored = names_in(&dir).into_iter().filter(|n| !is_staged(n));
        return stored.map(|n| (n.clone(), std::fs::metadata(dir.join(&n)).expect("stat").len())).collect();
    }
    let rows = Db::open(&daemon.data_dir).rows(&format!(
        "SELECT c.file, sum(octet_length(k.data)) FROM content c
         JOIN content_chunks k USING (tenant_id, kind, id)
         WHERE c.tenant_id = {} AND c.kind = {} GROUP BY c.file ORDER BY c.file",
        quote(tenant),
        quote(kind.column)
    ));
    rows.into_iter()
        .map(|r| {
            let name = r[0].clone().expect("file");
            (name, r[1].as_deref().and_then(|n| n.parse().ok()).expect("length"))
        })
        .collect()
}

/// The bytes of one stored file, or `None` when it is not stored.
pub fn stored_bytes(daemon: &Daemon, tenant: &str, kind: Kind, name: &str) -> Option<Vec<u8>> {
    if !on_postgres() {
        return std::fs::read(dir(&daemon.data_dir, tenant, kind).join(name)).ok();
    }
    let rows = Db::open(&daemon.data_dir).rows(&format!(
        "SELECT string_agg(k.data, ''::bytea ORDER BY k.n) FROM content c
         JOIN content_chunks k USING (tenant_id, kind, id)
         WHERE c.tenant_id = {} AND c.kind = {} AND c.file = {}",
        quote(tenant),
        quote(kind.column),
        quote(name)
    ));
    // bytea comes as text: `\x` and hex digits.
    let text = rows.into_iter().next()?.into_iter().next()??;
    Some(hex::decode(text.trim_start_matches("\\x")).expect("bytea hex"))
}

/// Deletes a stored file's bytes behind the daemon's back, as an operator
/// removing a file by hand would (its row stays).
pub fn remove_by_hand(daemon: &Daemon, tenant: &str, kind: Kind, name: &str) {
    if !on_postgres() {
        std::fs::remove_file(dir(&daemon.data_dir, tenant, kind).join(name)).expect("remove by hand");
        return;
    }
    Db::open(&daemon.data_dir).execute(&format!(
        "DELETE FROM content_chunks k USING content c
         WHERE (k.tenant_id, k.kind, k.id) = (c.tenant_id, c.kind, c.id)
           AND c.tenant_id = {} AND c.kind = {} AND c.file = {}",
        quote(tenant),
        quote(kind.column),
        quote(name)
    ));
}
