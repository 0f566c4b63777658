//! The storage traits on the shared SQLite file: the same trait-level
//! behaviour as on PostgreSQL (`behaviour`), and what is SQLite's own: the
//! file's mode, tenants side by side in one file, migrations, reopening.
//! No server needed: every test runs in a temporary directory.

mod behaviour;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use tempfile::TempDir;
use wacore::store::traits::*;
use wacore::store::Device;
use whatsapp_sessions::{Error, SqliteSessions, SQLITE_SCHEMA_VERSION};

/// A fresh session file in its own directory (removed when the `TempDir`
/// drops).
async fn open() -> (TempDir, SqliteSessions) {
    let dir = tempfile::tempdir().unwrap();
    let db = SqliteSessions::open(&dir.path().join("sessions.db")).await.unwrap();
    (dir, db)
}

/// A plain connection on the file, for checking rows behind the store's back.
fn raw(db: &SqliteSessions) -> rusqlite::Connection {
    rusqlite::Connection::open(db.path()).unwrap()
}

#[tokio::test]
async fn signal_state_round_trips() {
    let (_dir, db) = open().await;
    behaviour::signal_state_round_trips(&db.tenant("t1")).await;
}

#[tokio::test]
async fn user_scan_is_literal() {
    let (_dir, db) = open().await;
    behaviour::user_scan_is_literal(&db.tenant("t1")).await;
}

#[tokio::test]
async fn prekeys_and_their_upload_marks() {
    let (_dir, db) = open().await;
    behaviour::prekeys_round_trip(&db.tenant("t1")).await;
    let conn = raw(&db);
    let mut stmt =
        conn.prepare("SELECT id, uploaded FROM wa_prekeys WHERE tenant = 't1' ORDER BY id").unwrap();
    let marks: Vec<(i64, bool)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect();
    assert_eq!(marks, behaviour::PREKEY_MARKS, "a removed key stays removed");
}

#[tokio::test]
async fn app_state_round_trips() {
    let (_dir, db) = open().await;
    behaviour::app_state_round_trips(&db.tenant("t1")).await;
}

#[tokio::test]
async fn device_create_save_load_and_tenant_exists() {
    let (_dir, db) = open().await;
    let s = db.tenant("t1");
    behaviour::device_created_once(&s).await;
    assert!(!db.tenant_exists("t1").await.unwrap(), "an unpaired device is not a paired tenant");
    assert_eq!(db.tenants().await.unwrap(), vec!["t1"], "listed paired or not");
    behaviour::device_saved_and_loaded(&s).await;
    assert!(db.tenant_exists("t1").await.unwrap());
    let pn: Option<String> =
        raw(&db).query_row("SELECT pn FROM wa_device WHERE tenant = 't1'", [], |r| r.get(0)).unwrap();
    assert_eq!(pn.as_deref(), Some("15550001111@s.whatsapp.net"), "pn beside the JSON, as on PostgreSQL");
    assert!(db.delete_tenant("t1").await.unwrap() >= 1);
    assert!(!db.tenant_exists("t1").await.unwrap());
    assert!(!s.exists().await.unwrap());
    assert!(db.tenants().await.unwrap().is_empty());
}

#[tokio::test]
async fn tenants_never_see_each_others_rows() {
    let (_dir, db) = open().await;
    let (a, b) = (db.tenant("a"), db.tenant("b"));
    behaviour::fill_tenant(&a).await;
    behaviour::sees_nothing(&b).await;
    assert_eq!(db.delete_tenant("b").await.unwrap(), 0);
    behaviour::still_filled(&a).await;

    // A tenant whose name is a LIKE pattern matches only itself.
    behaviour::sees_nothing(&db.tenant("%")).await;
    behaviour::fill_tenant(&b).await;
    assert_eq!(db.tenants().await.unwrap(), vec!["a", "b"]);
    assert_eq!(db.delete_tenant("a").await.unwrap(), 9, "a row in each of nine tables");
    behaviour::sees_nothing(&a).await;
    behaviour::still_filled(&b).await;
    let left: i64 = raw(&db)
        .query_row("SELECT COUNT(*) FROM wa_identities WHERE tenant <> 'b'", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0);
}

#[tokio::test]
async fn the_file_is_private() {
    let (_dir, db) = open().await;
    db.tenant("t1").create().await.unwrap();
    let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(db.path().to_path_buf()), 0o600);
    let mut wal = db.path().as_os_str().to_owned();
    wal.push("-wal");
    assert_eq!(mode(PathBuf::from(wal)), 0o600, "SQLite gives the WAL the file's mode");
}

#[tokio::test]
async fn opening_needs_the_directory() {
    let dir = tempfile::tempdir().unwrap();
    let err = SqliteSessions::open(&dir.path().join("missing/sessions.db")).await.unwrap_err();
    assert!(matches!(err, Error::File { .. }), "{err}");
}

#[tokio::test]
async fn concurrent_opens_migrate_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    let (x, y) = tokio::join!(SqliteSessions::open(&path), SqliteSessions::open(&path));
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(x.schema_version().await.unwrap(), SQLITE_SCHEMA_VERSION);
    assert_eq!(y.schema_version().await.unwrap(), SQLITE_SCHEMA_VERSION);
    let again = SqliteSessions::open(&path).await.unwrap();
    assert_eq!(again.schema_version().await.unwrap(), SQLITE_SCHEMA_VERSION);
    let rows: i64 = raw(&x).query_row("SELECT COUNT(*) FROM wa_schema_version", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, SQLITE_SCHEMA_VERSION);

    raw(&x)
        .execute("INSERT INTO wa_schema_version (version) VALUES (?1)", [SQLITE_SCHEMA_VERSION + 1])
        .unwrap();
    let err = SqliteSessions::open(&path).await.unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");
}

#[tokio::test]
async fn reopening_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sessions.db");
    let mut device = Device::new();
    device.pn = Some("15550002222@s.whatsapp.net".parse().unwrap());
    {
        let db = SqliteSessions::open(&path).await.unwrap();
        let s = db.tenant("t1");
        s.save(&device).await.unwrap();
        s.put_session("x@lid", b"record").await.unwrap();
    }
    let db = SqliteSessions::open(&path).await.unwrap();
    assert!(db.tenant_exists("t1").await.unwrap());
    let s = db.tenant("t1");
    assert_eq!(s.load().await.unwrap().unwrap().pn, device.pn);
    assert_eq!(s.get_session("x@lid").await.unwrap().unwrap(), &b"record"[..]);
}

/// Many tenants at once on one writer and two readers: every call lands,
/// none waits forever, each tenant reads its own rows.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tenants_share_the_connections() {
    let (_dir, db) = open().await;
    let tasks: Vec<_> = (0..64u8)
        .map(|i| {
            let s = db.tenant(&format!("t{i}"));
            tokio::spawn(async move {
                for round in 0..5u8 {
                    s.put_session("x@lid", &[i, round]).await.unwrap();
                    assert_eq!(s.get_session("x@lid").await.unwrap().unwrap(), &[i, round][..]);
                    assert!(s.has_signal_state_for_user("x").await.unwrap());
                }
            })
        })
        .collect();
    for t in tasks {
        tokio::time::timeout(std::time::Duration::from_secs(60), t).await.unwrap().unwrap();
    }
    let rows: i64 = raw(&db).query_row("SELECT COUNT(*) FROM wa_sessions", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 64);
}

/// The tables hold the same columns, in the same order, as PostgreSQL's, so
/// a row copies column for column (the PostgreSQL side is checked against
/// this list in `tests/store.rs`).
#[tokio::test]
async fn tables_match_the_tenant_tables() {
    let (_dir, db) = open().await;
    let conn = raw(&db);
    let mut stmt = conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'wa\\_%' ESCAPE '\\' ORDER BY name")
        .unwrap();
    let tables: Vec<String> = stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
    assert_eq!(tables.len(), 19, "18 tenant tables and the version table: {tables:?}");
    for table in &tables {
        let key: Option<String> = conn
            .query_row(&format!("SELECT name FROM pragma_table_info('{table}') WHERE pk = 1"), [], |r| {
                r.get(0)
            })
            .ok();
        if table != "wa_schema_version" {
            assert_eq!(key.as_deref(), Some("tenant"), "{table} is keyed by tenant first");
        }
    }
}
