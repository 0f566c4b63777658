//! Which store the end-to-end tests run the daemon on, and the tests' own
//! look into it.
//!
//! `AGENTLOCATOR_TEST_STORE=postgres` (default `sqlite`) runs every
//! `agentlocator` process the harness starts on PostgreSQL: each data
//! directory gets a database of its own on the server in
//! `AGENTLOCATOR_TEST_DATABASE_URL`, named after the directory's path (so
//! every process run against one data directory sees the same database), and
//! created on first use. The process finds it in `DATABASE_URL`.
//!
//! [`Db`] is the tests' connection to a daemon's database on either store:
//! plain SQL both dialects accept, every value read back as text.

use std::cell::RefCell;
use std::collections::HashSet;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;
use std::time::Duration;

/// `sqlite` (the default) or `postgres`: the store the daemons run on.
pub const STORE_ENV: &str = "AGENTLOCATOR_TEST_STORE";
/// The PostgreSQL server the databases are created on (`postgres://...`).
pub const SERVER_ENV: &str = "AGENTLOCATOR_TEST_DATABASE_URL";
/// Starts every database name (default `t_`); the second run gives its child
/// one of its own, so it can drop exactly the databases that child made.
pub const PREFIX_ENV: &str = "AGENTLOCATOR_TEST_DATABASE_PREFIX";

/// Databases this process has created (or found), by name.
static CREATED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Whether this run's daemons use PostgreSQL.
pub fn on_postgres() -> bool {
    match std::env::var(STORE_ENV).as_deref() {
        Ok("postgres") => true,
        Ok("sqlite") | Err(_) => false,
        Ok(other) => panic!("{STORE_ENV}={other}: expected `sqlite` or `postgres`"),
    }
}

/// The server's URL (postgres mode needs one).
pub fn server_url() -> String {
    std::env::var(SERVER_ENV).unwrap_or_else(|_| {
        panic!("{STORE_ENV}=postgres needs a server: set {SERVER_ENV} (e.g. from scripts/pg-throwaway DIR)")
    })
}

/// The database of `data_dir`: the prefix and 16 hex digits of the SHA-256 of its path.
pub fn database_name(data_dir: &Path) -> String {
    let hash = super::sha256_hex(data_dir.as_os_str().as_encoded_bytes());
    format!("{}{}", prefix(), &hash[..16])
}

/// What every test database's name starts with: `AGENTLOCATOR_TEST_DATABASE_PREFIX`, or `t_`.
pub fn prefix() -> String {
    std::env::var(PREFIX_ENV).unwrap_or_else(|_| "t_".into())
}

/// `url` with its database replaced by `database`.
pub fn with_database(url: &str, database: &str) -> String {
    let mut url = url::Url::parse(url).unwrap_or_else(|e| panic!("{SERVER_ENV} is not a URL ({e}): {url}"));
    url.set_path(&format!("/{database}"));
    url.to_string()
}

/// Points `cmd` at the store of `data_dir`: in postgres mode `DATABASE_URL`
/// names that directory's database (created now if need be); in sqlite mode
/// nothing (the binary's default, the database file in the data dir).
pub fn point_at(cmd: &mut Command, data_dir: &Path) {
    if on_postgres() {
        cmd.env("DATABASE_URL", database_url(data_dir));
        // Each daemon is a one-node cluster. A daemon restarted on the same
        // data directory is the same node (it takes its leases back at once),
        // and a short TTL keeps any other wait for a lease short.
        cmd.env("AGENTLOCATOR_CLUSTER__NODE_ID", database_name(data_dir));
        cmd.env("AGENTLOCATOR_CLUSTER__LEASE_TTL", "3s");
    }
}

/// The URL of `data_dir`'s database, which exists once this returns.
pub fn database_url(data_dir: &Path) -> String {
    let name = database_name(data_dir);
    let server = server_url();
    // Held while creating, so two threads never race to create one database.
    let mut created = CREATED.lock().unwrap_or_else(|p| p.into_inner());
    let known = created.get_or_insert_with(HashSet::new);
    if !known.contains(&name) {
        create_database(&server, &name);
        known.insert(name.clone());
    }
    with_database(&server, &name)
}

/// A connection to the server's maintenance database.
pub fn connect_server(server: &str) -> postgres::Client {
    postgres::Client::connect(server, postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the PostgreSQL server at {server}: {e}"))
}

fn create_database(server: &str, name: &str) {
    let mut client = connect_server(server);
    // CREATE DATABASE copies template1 and fails while anyone else is copying
    // it at that instant (another test process): a short retry covers that.
    for attempt in 0.. {
        match client.batch_execute(&format!("CREATE DATABASE \"{name}\"")) {
            Ok(()) => return,
            Err(e) if e.code() == Some(&postgres::error::SqlState::DUPLICATE_DATABASE) => return,
            Err(e) if e.code() == Some(&postgres::error::SqlState::OBJECT_IN_USE) && attempt < 20 => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("CREATE DATABASE {name}: {e}"),
        }
    }
}

/// Drops `data_dir`'s database, when this process made it (its data dir is
/// going away). Best effort: a leftover dies with the throwaway server.
pub fn drop_database(data_dir: &Path) {
    if !on_postgres() {
        return;
    }
    let name = database_name(data_dir);
    let mut created = CREATED.lock().unwrap_or_else(|p| p.into_inner());
    if !created.get_or_insert_with(HashSet::new).remove(&name) {
        return;
    }
    drop_databases(&server_url(), &[name]);
}

/// Drops the databases `names` (FORCE: a killed daemon's sessions may linger).
pub fn drop_databases(server: &str, names: &[String]) {
    let Ok(mut client) = postgres::Client::connect(server, postgres::NoTls) else { return };
    for name in names {
        if let Err(e) = client.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")) {
            eprintln!("note: could not drop test database {name}: {e}");
        }
    }
}

/// `text` as an SQL string literal (standard quoting, which both dialects use).
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

enum Conn {
    Sqlite(rusqlite::Connection),
    Postgres(Box<postgres::Client>),
}

/// How many WhatsApp session devices `tenant` has stored, paired or not: on
/// SQLite in the data dir's shared session file (none when it does not
/// exist yet), on PostgreSQL in the daemon's database. 0 after a wipe.
pub fn session_devices(data_dir: &Path, tenant: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM wa_device WHERE tenant = {}", quote(tenant));
    if on_postgres() {
        return Db::open(data_dir).i64(&sql);
    }
    let file = data_dir.join("whatsapp-sessions.db");
    if !file.exists() {
        return 0;
    }
    let conn = rusqlite::Connection::open(&file).expect("open the session file");
    conn.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
    conn.query_row(&sql, [], |r| r.get(0)).expect("count session devices")
}

/// A connection to the database of one data dir, on this run's store.
pub struct Db(RefCell<Conn>);

impl Db {
    pub fn open(data_dir: &Path) -> Db {
        let conn = if on_postgres() {
            let url = database_url(data_dir);
            let client = postgres::Client::connect(&url, postgres::NoTls)
                .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
            Conn::Postgres(Box::new(client))
        } else {
            let conn = rusqlite::Connection::open(data_dir.join("agentlocator.db")).expect("open db");
            conn.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
            Conn::Sqlite(conn)
        };
        Db(RefCell::new(conn))
    }

    /// Runs `sql`, one or more statements.
    pub fn execute(&self, sql: &str) {
        self.try_execute(sql).unwrap_or_else(|e| panic!("{}: {e}", abridged(sql)))
    }

    /// Runs `sql`; the database's error, if any.
    pub fn try_execute(&self, sql: &str) -> Result<(), String> {
        match &mut *self.0.borrow_mut() {
            Conn::Sqlite(conn) => conn.execute_batch(sql).map_err(|e| e.to_string()),
            Conn::Postgres(client) => client.batch_execute(sql).map_err(|e| postgres_error(&e)),
        }
    }

    /// Every row of the query `sql`, each value as text (NULL as `None`).
    pub fn rows(&self, sql: &str) -> Vec<Vec<Option<String>>> {
        let result = match &mut *self.0.borrow_mut() {
            Conn::Sqlite(conn) => sqlite_rows(conn, sql).map_err(|e| e.to_string()),
            Conn::Postgres(client) => postgres_rows(client, sql).map_err(|e| postgres_error(&e)),
        };
        result.unwrap_or_else(|e| panic!("{}: {e}", abridged(sql)))
    }

    /// The first column of the one row `sql` returns, as a number (e.g. a COUNT).
    pub fn i64(&self, sql: &str) -> i64 {
        let rows = self.rows(sql);
        let value = rows.first().and_then(|row| row.first().cloned().flatten());
        value.and_then(|v| v.parse().ok()).unwrap_or_else(|| panic!("{sql}: not one number: {rows:?}"))
    }

    /// The names of the tables the daemon made.
    fn tables(&self) -> Vec<String> {
        let sql = if on_postgres() {
            "SELECT tablename FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        };
        self.rows(sql).into_iter().filter_map(|row| row.into_iter().next().flatten()).collect()
    }
}

fn sqlite_rows(conn: &rusqlite::Connection, sql: &str) -> rusqlite::Result<Vec<Vec<Option<String>>>> {
    use rusqlite::types::ValueRef;
    let mut stmt = conn.prepare(sql)?;
    let columns = stmt.column_count();
    let rows = stmt.query_map([], |row| {
        (0..columns)
            .map(|i| {
                Ok(match row.get_ref(i)? {
                    ValueRef::Null => None,
                    ValueRef::Integer(n) => Some(n.to_string()),
                    ValueRef::Real(x) => Some(x.to_string()),
                    ValueRef::Text(t) => Some(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Some(hex::encode(b)),
                })
            })
            .collect()
    })?;
    rows.collect()
}

fn postgres_rows(
    client: &mut postgres::Client,
    sql: &str,
) -> Result<Vec<Vec<Option<String>>>, postgres::Error> {
    // The simple query protocol hands every value over as text: the same
    // shape as the SQLite side, whatever the column types are.
    let messages = client.simple_query(sql)?;
    Ok(messages
        .iter()
        .filter_map(|message| match message {
            postgres::SimpleQueryMessage::Row(row) => {
                Some((0..row.len()).map(|i| row.get(i).map(str::to_string)).collect())
            }
            _ => None,
        })
        .collect())
}

/// The server's own message: `postgres::Error` alone shows only "db error".
fn postgres_error(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => db.to_string(),
        None => error.to_string(),
    }
}

/// The start of `sql`, for a message (a batch of inserts can be long).
fn abridged(sql: &str) -> String {
    match sql.char_indices().nth(300) {
        Some((end, _)) => format!("{}...", &sql[..end]),
        None => sql.to_string(),
    }
}

/// Whether `needle` appears anywhere in the database of `data_dir`: in
/// SQLite's files (database and write-ahead log, byte for byte), or in any
/// row of any table on PostgreSQL.
pub fn holds(data_dir: &Path, needle: &str) -> bool {
    if !on_postgres() {
        let contains = |bytes: Vec<u8>| bytes.windows(needle.len()).any(|w| w == needle.as_bytes());
        let db = std::fs::read(data_dir.join("agentlocator.db")).expect("the database file");
        // The write-ahead log may be gone (checkpointed into the file).
        let wal = std::fs::read(data_dir.join("agentlocator.db-wal")).unwrap_or_default();
        return contains(db) || contains(wal);
    }
    let db = Db::open(data_dir);
    db.tables().iter().any(|table| {
        db.i64(&format!("SELECT COUNT(*) FROM \"{table}\" t WHERE strpos(t::text, {}) > 0", quote(needle)))
            > 0
    })
}

/// Another process holding the database's write lock: while it lives (or
/// until `release`), the daemon can read but not write. SQLite: an open
/// `BEGIN IMMEDIATE`. PostgreSQL: every table locked in EXCLUSIVE mode
/// inside an open transaction, which likewise lets reads go on and makes
/// every write wait.
pub struct WriteLock(Db);

impl WriteLock {
    pub fn take(data_dir: &Path) -> WriteLock {
        let db = Db::open(data_dir);
        if on_postgres() {
            let tables: Vec<String> = db.tables().iter().map(|t| format!("\"{t}\"")).collect();
            db.execute(&format!("BEGIN; LOCK TABLE {} IN EXCLUSIVE MODE", tables.join(", ")));
        } else {
            db.execute("BEGIN IMMEDIATE");
        }
        WriteLock(db)
    }

    pub fn release(self) {
        self.0.execute("ROLLBACK");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The variable a command for `data_dir` gets: `None` when removed.
    fn database_url_of(data_dir: &Path) -> Option<String> {
        let cmd = crate::harness::command_for(Path::new("/"), data_dir);
        let value = cmd.get_envs().find(|(name, _)| *name == "DATABASE_URL").and_then(|(_, value)| value);
        value.map(|v| v.to_string_lossy().into_owned())
    }

    #[test]
    fn every_process_of_a_data_dir_gets_that_dirs_store() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (one, other) = (dir.path().join("data"), dir.path().join("other"));
        if !on_postgres() {
            assert_eq!(database_url_of(&one), None, "the host's DATABASE_URL never reaches the binary");
            return;
        }
        let url = database_url_of(&one).expect("DATABASE_URL set");
        assert_eq!(database_url_of(&one).as_deref(), Some(url.as_str()), "the same database every time");
        assert_ne!(database_url_of(&other).as_deref(), Some(url.as_str()), "a database per data dir");
        assert!(url.ends_with(&format!("/{}", database_name(&one))), "{url}");
        let mut client = postgres::Client::connect(&url, postgres::NoTls).expect("the database exists");
        assert_eq!(client.query_one("SELECT 1", &[]).expect("query").get::<_, i32>(0), 1);
        println!("{} -> {url}", one.display());
        drop(client);
        drop_database(&one);
        drop_database(&other);
    }

    #[test]
    fn the_write_lock_lets_reads_through_and_holds_writes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let data_dir = dir.path().join("data");
        std::fs::create_dir(&data_dir).expect("mkdir");
        let other = Db::open(&data_dir);
        other.execute("CREATE TABLE probe (id INTEGER PRIMARY KEY); INSERT INTO probe (id) VALUES (1)");
        let lock = WriteLock::take(&data_dir);
        assert_eq!(other.i64("SELECT COUNT(*) FROM probe"), 1, "reads go on");
        // Give up on a write after 300 ms instead of waiting.
        let give_up = if on_postgres() { "SET lock_timeout = '300ms'" } else { "PRAGMA busy_timeout = 300" };
        other.execute(give_up);
        let write = other.try_execute("INSERT INTO probe (id) VALUES (2)");
        assert!(write.is_err(), "a write waits for the lock");
        lock.release();
        other.execute("INSERT INTO probe (id) VALUES (2)");
        assert_eq!(other.i64("SELECT COUNT(*) FROM probe"), 2, "and goes through once it is released");
        drop(other);
        drop_database(&data_dir);
    }
}
