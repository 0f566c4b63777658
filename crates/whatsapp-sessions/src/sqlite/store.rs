//! [`SqliteSessions`], the shared session file and its connections, and
//! [`SqliteSessionStore`], one tenant's view of it with the read and write
//! plumbing every trait implementation goes through.
//!
//! The costs here are fixed, whatever the tenant count: one writer and
//! [`READERS`] reader connections, each with its page cache and statement
//! cache. A thousand tenants on whatsapp-rust's own SQLite store are a
//! thousand files and connections of ~176 KiB each.

use std::fs::OpenOptions;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use rusqlite::{Connection, Transaction, TransactionBehavior};
use tokio::sync::{Mutex, OwnedMutexGuard, Semaphore};
use wacore::stats::StorageResourceReport;
use wacore::store::error::StoreError;

use crate::error::Error;
use crate::sqlite::conn_thread::ConnThread;
use crate::sqlite::schema;

/// Reader connections. Reads run beside the writer (WAL) and beside each
/// other; two let one slow read (a tenant list, a report) not hold up the
/// per-message lookups, and more would only add caches on two cores.
const READERS: usize = 2;

/// How long a statement waits for another process's lock (a second daemon
/// migrating, a backup) before failing with SQLITE_BUSY; whatsapp-rust's
/// SQLite store waits as long. Within this process the writer mutex already
/// serialises writes, so it only matters across processes.
const BUSY_TIMEOUT_MS: u32 = 5_000;

/// Writer page cache, KiB (a negative `cache_size` is KiB). Shared by every
/// tenant: it keeps the upper index levels and the pages of the tenants
/// being written. A page it no longer holds is read again from the kernel's
/// page cache (microseconds, and reclaimable), so a larger one buys little:
/// with 4 MiB here and 1 MiB per reader, 1000 tenants' inbound latency and
/// memory measured the same, within the noise of one run each.
const WRITER_CACHE_KIB: i64 = 2 * 1024;

/// Reader page cache, KiB: readers mostly hit pages the OS caches anyway
/// (WAL reads go through the -shm index), so each keeps a smaller one.
const READER_CACHE_KIB: i64 = 512;

/// Prepared statements each connection keeps: the five traits use about a
/// hundred distinct statements, so this holds them all and none is parsed
/// twice; the cache is bounded, so an unexpected statement cannot grow it.
const STATEMENT_CACHE: usize = 128;

/// What a closure given to [`SqliteSessionStore::write`] or
/// [`SqliteSessionStore::read`] can fail with: a statement, or a value the
/// closure refuses (both `?`-convert).
#[derive(Debug)]
pub(crate) enum SqlError {
    Sqlite(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for SqlError {
    fn from(e: rusqlite::Error) -> Self {
        SqlError::Sqlite(e)
    }
}

impl From<StoreError> for SqlError {
    fn from(e: StoreError) -> Self {
        SqlError::Store(e)
    }
}

impl From<SqlError> for StoreError {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::Sqlite(e) => StoreError::Database(Box::new(e)),
            SqlError::Store(e) => e,
        }
    }
}

impl From<SqlError> for Error {
    fn from(e: SqlError) -> Self {
        match e {
            SqlError::Sqlite(e) => Error::Sqlite(e),
            SqlError::Store(e) => Error::Store(e),
        }
    }
}

/// The result of a closure run on a connection.
pub(crate) type SqlResult<T> = std::result::Result<T, SqlError>;

/// The shared session database: a writer connection and a few readers, WAL.
///
/// Cheap to clone (one `Arc`). Every tenant's store is a clone of this and
/// its name, so the connections and caches are paid once per process.
#[derive(Clone)]
pub struct SqliteSessions {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    /// tokio's mutex, taken before handing work to the connection's thread:
    /// a queue of writes waits as futures, not as parked threads, and there
    /// is no poisoning (a panicking closure's transaction rolls back).
    writer: Arc<Mutex<ConnThread>>,
    readers: Vec<Arc<Mutex<ConnThread>>>,
    /// One permit per reader: a permit holder always finds a free reader.
    reader_permits: Arc<Semaphore>,
    /// Where the search for a free reader starts, so readers take turns.
    next_reader: AtomicUsize,
}

impl std::fmt::Debug for SqliteSessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSessions").field("path", &self.inner.path).finish_non_exhaustive()
    }
}

impl SqliteSessions {
    /// Opens the session file at `path` (creating it with mode 0600 when
    /// missing; its directory must exist) and migrates it.
    pub async fn open(path: &Path) -> Result<Self, Error> {
        let path = path.to_path_buf();
        let inner = tokio::task::spawn_blocking(move || Inner::open(path))
            .await
            .map_err(|e| Error::Store(joined(e)))??;
        Ok(Self { inner: Arc::new(inner) })
    }

    /// The session file.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// One tenant's view (cheap: a clone of the handle and the tenant name).
    pub fn tenant(&self, tenant: &str) -> SqliteSessionStore {
        SqliteSessionStore { db: self.clone(), tenant: Arc::from(tenant) }
    }

    /// Whether `tenant` has a paired device (a phone number) stored; an
    /// unpaired device row does not count.
    pub async fn tenant_exists(&self, tenant: &str) -> Result<bool, Error> {
        let tenant = tenant.to_string();
        Ok(self.with_reader(move |conn| Ok(schema::tenant_exists(conn, &tenant)?)).await?)
    }

    /// Deletes every row of `tenant` (logout, tenant removal) in one
    /// transaction; returns how many rows went. A store for the tenant then
    /// starts unpaired.
    pub async fn delete_tenant(&self, tenant: &str) -> Result<u64, Error> {
        Ok(self.tenant(tenant).write(|tx, tenant| Ok(schema::delete_rows(tx, tenant)?)).await?)
    }

    /// The tenants with a device row (paired or not), sorted.
    pub async fn tenants(&self) -> Result<Vec<String>, Error> {
        Ok(self.with_reader(|conn| Ok(schema::tenants(conn)?)).await?)
    }

    /// The schema version the file is at.
    pub async fn schema_version(&self) -> Result<i64, Error> {
        Ok(self.with_reader(|conn| Ok(schema::version_on(conn)?)).await?)
    }

    /// The whole file's process memory, estimated as whatsapp-rust's SQLite
    /// store estimates one session's: each connection's page cache, bounded by
    /// the file's size. A fixed cost shared by every tenant, so it is reported
    /// here once rather than by each tenant's `DeviceStore::resource_report`.
    pub async fn resource_report(&self) -> Result<StorageResourceReport, Error> {
        let (page_size, pages): (i64, i64) = self
            .with_reader(|c| {
                let size = c.pragma_query_value(None, "page_size", |r| r.get(0))?;
                Ok((size, c.pragma_query_value(None, "page_count", |r| r.get(0))?))
            })
            .await?;
        let file = u64::try_from(page_size.saturating_mul(pages)).unwrap_or(0);
        let caches = std::iter::once(WRITER_CACHE_KIB).chain([READER_CACHE_KIB; READERS]);
        let memory = caches.map(|kib| file.min(kib.unsigned_abs() * 1024)).sum();
        Ok(StorageResourceReport {
            memory_bytes: Some(memory),
            pages: u64::try_from(pages).ok(),
            ..StorageResourceReport::default()
        })
    }

    /// Runs `f` on the writer connection, on its thread.
    pub(crate) async fn with_writer<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> SqlResult<T> + Send + 'static,
    ) -> SqlResult<T> {
        let writer = self.inner.writer.lock().await;
        writer.run(f).await.map_err(thread_failed)?
    }

    /// Runs `f` on a free reader connection, on its thread; waits
    /// (as a future, in turn) while every reader is busy.
    pub(crate) async fn with_reader<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> SqlResult<T> + Send + 'static,
    ) -> SqlResult<T> {
        let permit = self.inner.reader_permits.clone().acquire_owned().await.map_err(|e| {
            // The semaphore is never closed; should it be, say so rather than hang.
            StoreError::Connection(Box::new(e))
        })?;
        let reader = self.free_reader().await;
        let out = reader.run(move |conn| f(conn)).await.map_err(thread_failed).and_then(|out| out);
        // The reader goes back before the permit, so whoever takes the
        // permit next finds it free.
        drop(reader);
        drop(permit);
        out
    }

    /// A reader nobody holds. With a permit in hand one is always free; the
    /// wait at the end is only a fallback that cannot fail.
    async fn free_reader(&self) -> OwnedMutexGuard<ConnThread> {
        let readers = &self.inner.readers;
        let start = self.inner.next_reader.fetch_add(1, Ordering::Relaxed);
        for i in 0..readers.len() {
            if let Ok(conn) = readers[(start + i) % readers.len()].clone().try_lock_owned() {
                return conn;
            }
        }
        readers[start % readers.len()].clone().lock_owned().await
    }
}

impl Inner {
    /// Creates the file if needed, opens the writer (which sets WAL and
    /// migrates), then the readers.
    fn open(path: PathBuf) -> Result<Inner, Error> {
        create_private(&path)?;
        let mut writer = connect(&path, WRITER_CACHE_KIB)?;
        // Persistent in the file; set by the writer before anyone reads.
        writer.pragma_update(None, "journal_mode", "WAL")?;
        schema::migrate(&mut writer)?;
        let readers = (0..READERS)
            .map(|i| {
                let conn = connect(&path, READER_CACHE_KIB)?;
                // A reader never writes: a bug that tried would fail loudly
                // instead of writing outside the writer's transactions.
                conn.pragma_update(None, "query_only", true)?;
                Ok(Arc::new(Mutex::new(on_thread(&format!("wa-sessions-r{i}"), conn, &path)?)))
            })
            .collect::<Result<Vec<_>, Error>>()?;
        Ok(Inner {
            writer: Arc::new(Mutex::new(on_thread("wa-sessions-w", writer, &path)?)),
            path,
            readers,
            reader_permits: Arc::new(Semaphore::new(READERS)),
            next_reader: AtomicUsize::new(0),
        })
    }
}

/// Creates `path` empty with mode 0600 unless it exists, so the session keys
/// are never readable by others, not even between SQLite creating the file
/// and a chmod. SQLite gives the -wal and -shm files the database's mode.
fn create_private(path: &Path) -> Result<(), Error> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(source) => Err(Error::File { path: path.to_path_buf(), source }),
    }
}

/// `conn` moved to a thread of its own (see [`ConnThread`]).
fn on_thread(name: &str, conn: Connection, path: &Path) -> Result<ConnThread, Error> {
    ConnThread::spawn(name, conn).map_err(|source| Error::File { path: path.to_path_buf(), source })
}

/// One connection with the settings every connection shares.
fn connect(path: &Path, cache_kib: i64) -> Result<Connection, Error> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_millis(u64::from(BUSY_TIMEOUT_MS)))?;
    // What whatsapp-rust's SQLite store runs with: in WAL mode a crash loses
    // no committed transaction, a power cut at most the last few; the
    // durability is the same as before this backend.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "cache_size", -cache_kib)?;
    // PostgreSQL's LIKE is case-sensitive, SQLite's is not by default; the
    // prefix scans must match the same addresses on both backends.
    conn.pragma_update(None, "case_sensitive_like", true)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// A connection's thread that could not run a closure, as a store error.
fn thread_failed(why: &'static str) -> SqlError {
    SqlError::Store(StoreError::Database(why.into()))
}

/// A blocking task that panicked or was cancelled, as a store error.
fn joined(e: tokio::task::JoinError) -> StoreError {
    StoreError::Database(Box::new(e))
}

/// whatsapp-rust's storage for one tenant, in the shared SQLite file.
///
/// Cheap to clone (the shared handle and the tenant name); holds no cache of
/// its own, so an idle tenant costs nothing.
#[derive(Clone)]
pub struct SqliteSessionStore {
    db: SqliteSessions,
    tenant: Arc<str>,
}

impl std::fmt::Debug for SqliteSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteSessionStore").field("tenant", &self.tenant).finish_non_exhaustive()
    }
}

impl SqliteSessionStore {
    /// The tenant this store reads and writes.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The shared database this store is a view of.
    pub fn sessions(&self) -> &SqliteSessions {
        &self.db
    }

    /// Runs `f` (given the tenant) on the writer connection inside one
    /// IMMEDIATE transaction, committed when `f` returns `Ok` and rolled back
    /// otherwise, on a blocking thread. IMMEDIATE takes the write lock at
    /// BEGIN, so a read-then-write closure never fails half-way on another
    /// process's write.
    pub(crate) async fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Transaction<'_>, &str) -> SqlResult<T> + Send + 'static,
    ) -> wacore::store::error::Result<T> {
        let tenant = self.tenant.clone();
        let out = self
            .db
            .with_writer(move |conn| {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let out = f(&tx, &tenant)?;
                tx.commit()?;
                Ok(out)
            })
            .await;
        Ok(out?)
    }

    /// Runs `f` (given the tenant) on a reader connection (`query_only`), on
    /// a blocking thread. Each statement sees the commits before it; a closure
    /// whose statements must see one snapshot wraps them in
    /// `conn.unchecked_transaction()`.
    pub(crate) async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection, &str) -> SqlResult<T> + Send + 'static,
    ) -> wacore::store::error::Result<T> {
        let tenant = self.tenant.clone();
        Ok(self.db.with_reader(move |conn| f(conn, &tenant)).await?)
    }
}

/// Runs the write `sql` with `params` (a cached statement); returns the rows
/// affected.
pub(crate) fn exec(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> SqlResult<u64> {
    // usize to u64 never truncates on the platforms Rust supports.
    Ok(conn.prepare_cached(sql)?.execute(params)? as u64)
}

/// The first column of the row `sql` returns, if it returns one.
pub(crate) fn value<T: rusqlite::types::FromSql>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> SqlResult<Option<T>> {
    use rusqlite::OptionalExtension;
    Ok(conn.prepare_cached(sql)?.query_row(params, |r| r.get(0)).optional()?)
}

/// Whether `sql` returns a row.
pub(crate) fn exists(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> SqlResult<bool> {
    Ok(conn.prepare_cached(sql)?.exists(params)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open() -> (tempfile::TempDir, SqliteSessions) {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteSessions::open(&dir.path().join("s.db")).await.unwrap();
        (dir, db)
    }

    const PUT: &str = "INSERT INTO wa_sessions (tenant, address, record) VALUES (?1, 'x', x'00')";
    const HAS: &str = "SELECT 1 FROM wa_sessions WHERE tenant = ?1";

    #[tokio::test]
    async fn a_failed_write_rolls_back() {
        let (_dir, db) = open().await;
        let s = db.tenant("t");
        let refused = s
            .write(|tx, t| {
                exec(tx, PUT, [t])?;
                Err::<(), _>(StoreError::Validation("no".into()).into())
            })
            .await;
        assert!(matches!(refused, Err(StoreError::Validation(_))));
        assert!(!s.read(|c, t| exists(c, HAS, [t])).await.unwrap(), "nothing committed");
        s.write(|tx, t| exec(tx, PUT, [t])).await.unwrap();
        assert!(s.read(|c, t| exists(c, HAS, [t])).await.unwrap(), "the writer is usable after");
    }

    #[tokio::test]
    async fn a_panicking_write_rolls_back_and_frees_the_writer() {
        let (_dir, db) = open().await;
        let s = db.tenant("t");
        let panicked = s
            .write(|tx, t| -> SqlResult<()> {
                exec(tx, PUT, [t])?;
                panic!("in the closure")
            })
            .await;
        assert!(matches!(panicked, Err(StoreError::Database(_))));
        assert!(!s.read(|c, t| exists(c, HAS, [t])).await.unwrap());
        s.write(|tx, t| exec(tx, PUT, [t])).await.unwrap();
    }

    #[tokio::test]
    async fn readers_never_write() {
        let (_dir, db) = open().await;
        for _ in 0..READERS {
            let refused = db.tenant("t").read(|c, t| exec(c, PUT, [t])).await;
            assert!(matches!(refused, Err(StoreError::Database(_))), "query_only");
        }
    }

    #[tokio::test]
    async fn connections_have_their_settings() {
        let (_dir, db) = open().await;
        let pragma = |name: &'static str| {
            db.with_reader(move |c| {
                let v = c.pragma_query_value(None, name, |r| r.get::<_, rusqlite::types::Value>(0))?;
                Ok(match v {
                    rusqlite::types::Value::Integer(i) => i.to_string(),
                    rusqlite::types::Value::Text(s) => s,
                    other => format!("{other:?}"),
                })
            })
        };
        assert_eq!(pragma("journal_mode").await.unwrap(), "wal");
        assert_eq!(pragma("synchronous").await.unwrap(), "1", "NORMAL");
        assert_eq!(pragma("busy_timeout").await.unwrap(), BUSY_TIMEOUT_MS.to_string());
        assert_eq!(pragma("cache_size").await.unwrap(), (-READER_CACHE_KIB).to_string());
        let writer_cache =
            db.with_writer(|c| Ok(c.pragma_query_value(None, "cache_size", |r| r.get::<_, i64>(0))?));
        assert_eq!(writer_cache.await.unwrap(), -WRITER_CACHE_KIB);
    }

    #[tokio::test]
    async fn the_report_is_bounded_by_the_file_and_the_caches() {
        let (_dir, db) = open().await;
        let small = db.resource_report().await.unwrap();
        let (pages, memory) = (small.pages.unwrap(), small.memory_bytes.unwrap());
        assert!(pages > 0 && memory > 0);
        assert!(memory <= pages * 4096 * (1 + READERS as u64), "a small file bounds the caches");
        let s = db.tenant("t");
        s.write(|tx, t| {
            let sql = "INSERT INTO wa_sessions (tenant, address, record) VALUES (?1, ?2, zeroblob(4096))";
            for i in 0..4000 {
                exec(tx, sql, rusqlite::params![t, i.to_string()])?;
            }
            Ok(())
        })
        .await
        .unwrap();
        let big = db.resource_report().await.unwrap();
        let caps = (WRITER_CACHE_KIB + READER_CACHE_KIB * READERS as i64) as u64 * 1024;
        assert_eq!(big.memory_bytes, Some(caps), "a big file: the caches' capacity");
    }
}
