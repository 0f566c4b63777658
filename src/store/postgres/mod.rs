//! The durable store on PostgreSQL: the same tables, guarantees and
//! functions as the embedded SQLite store, for deployments where several
//! nodes share one database. Each submodule mirrors the SQLite module of the
//! same name function by function (async, on a pooled connection or inside a
//! transaction); [`migrations`] owns the schema.

pub mod blobs;
pub mod cluster;
pub mod content;
pub mod delivery;
pub mod events;
pub mod jobs;
pub mod migrations;
pub mod tenants;
pub mod whatsapp;
pub mod writer;

#[cfg(test)]
pub(crate) mod testdb;

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};

/// How long a connection attempt may take when the URL does not say
/// (`connect_timeout`): a server that does not answer is reported, not waited for.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a caller waits for a free pooled connection before failing: a
/// pool exhausted for that long means the database is not keeping up, which
/// is better reported than queued behind without end.
const WAIT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum PgError {
    /// A statement failed (or the connection broke while running it).
    #[error("PostgreSQL: {}", chain(.0))]
    Db(tokio_postgres::Error),
    /// No pooled connection could be had.
    #[error("PostgreSQL connection pool: {}", chain(.0))]
    Pool(PoolError),
    /// The server could not be reached or refused the session. `target` is
    /// `host:port/dbname`, never the password.
    #[error("PostgreSQL {target}: {message}")]
    Connect { target: String, message: String },
    /// The URL cannot be used (`url` is redacted).
    #[error("PostgreSQL URL {url}: {message}")]
    Config { url: String, message: String },
    #[error("the PostgreSQL database was written by a newer agentlocator (schema {found}, this build knows {known}); upgrade the binary")]
    TooNew { found: i64, known: i64 },
    #[error("PostgreSQL: {what} did not finish within {after:?}")]
    Timeout { what: &'static str, after: Duration },
    /// A stored value this build cannot read (e.g. an unknown enum name).
    #[error("PostgreSQL: unexpected value {value:?} in {column}")]
    Corrupt { column: String, value: String },
}

// Not `#[from]`: that would also make the inner error the `source`, and
// `chain` already puts its text (and its causes') in the message.
impl From<tokio_postgres::Error> for PgError {
    fn from(e: tokio_postgres::Error) -> Self {
        PgError::Db(e)
    }
}

impl From<PoolError> for PgError {
    fn from(e: PoolError) -> Self {
        PgError::Pool(e)
    }
}

/// An operator command that fails on this ends with exit 1 and its message.
impl crate::error::CommandFailure for PgError {}

impl PgError {
    /// Whether the failure is the server's absence rather than the request's
    /// fault: no connection could be had, the connection broke, the server is
    /// shutting down or starting up, or it did not answer in time. Such a
    /// request succeeds later unchanged, so callers answer "try again" (503).
    pub fn is_unavailable(&self) -> bool {
        match self {
            PgError::Pool(_) | PgError::Connect { .. } | PgError::Timeout { .. } => true,
            PgError::Db(e) => match e.code() {
                // No server error code: the connection itself failed (closed, I/O).
                None => true,
                // Class 08 is "connection exception"; 57P01-57P03 are admin
                // shutdown, crash shutdown and "cannot connect now" (starting up).
                Some(code) => {
                    let code = code.code();
                    code.starts_with("08") || matches!(code, "57P01" | "57P02" | "57P03")
                }
            },
            PgError::Config { .. } | PgError::TooNew { .. } | PgError::Corrupt { .. } => false,
        }
    }
}

/// An error and its causes on one line. tokio-postgres keeps the useful part
/// ("connection refused", the server's message) in the causes, so its own
/// text alone ("db error") says little.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        source = cause.source();
    }
    text
}

/// Opens a pool of at most `pool_size` connections to `url` and checks that
/// one connection works. `sslmode` in the URL decides TLS (`disable`,
/// `prefer`, the default, or `require`); certificates are checked against the
/// Mozilla roots.
pub async fn connect(url: &str, pool_size: usize, lock_timeout: Duration) -> Result<Pool, PgError> {
    let config = parse(url, lock_timeout)?;
    let target = target(&config);
    let manager = Manager::from_config(
        config,
        tokio_postgres_rustls::MakeRustlsConnect::new(tls_config()),
        // `Fast` checks only that the connection is not known closed, which
        // is what a server restart leaves behind (it ends every session, the
        // client notices, the pool drops the connection at checkout and makes
        // a new one). A connection that broke unnoticed fails its next
        // statement once (the caller answers 503) and is dropped then.
        // `Verified` would catch that too, at one round trip per checkout,
        // on every webhook: not worth it for a failure that costs one retry.
        ManagerConfig { recycling_method: RecyclingMethod::Fast },
    );
    let pool = Pool::builder(manager)
        .max_size(pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .wait_timeout(Some(WAIT_TIMEOUT))
        .build()
        .map_err(|e| PgError::Config { url: redact(url), message: e.to_string() })?;
    let client = pool.get().await.map_err(|e| connect_error(&target, e))?;
    client.simple_query("SELECT 1").await.map_err(|e| PgError::Connect { target, message: chain(&e) })?;
    Ok(pool)
}

fn parse(url: &str, lock_timeout: Duration) -> Result<tokio_postgres::Config, PgError> {
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e: tokio_postgres::Error| PgError::Config { url: redact(url), message: chain(&e) })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    // A statement waiting for another's lock gives up, as a SQLite connection
    // does after its busy timeout: a caller (the jobs loop, a shutdown) must
    // never wait on a lock for ever. Options the URL sets come first, so an
    // operator's own lock_timeout wins.
    let ours = format!("-c lock_timeout={}", lock_timeout.as_millis());
    let options = match config.get_options() {
        Some(theirs) if theirs.contains("lock_timeout") => theirs.to_string(),
        Some(theirs) => format!("{ours} {theirs}"),
        None => ours,
    };
    config.options(&options);
    Ok(config)
}

/// `host:port/dbname` of the first host, for messages.
fn target(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let db = config.get_dbname().or(config.get_user()).unwrap_or("postgres");
    format!("{host}:{port}/{db}")
}

fn connect_error(target: &str, e: PoolError) -> PgError {
    let message = match &e {
        // The pool's own wording ("Error occurred while creating a new
        // object") says nothing an operator can act on; the cause does.
        PoolError::Backend(cause) => chain(cause),
        other => chain(other),
    };
    PgError::Connect { target: target.to_string(), message }
}

/// rustls with the Mozilla roots and the ring provider named explicitly (the
/// process may not have installed a default provider).
fn tls_config() -> rustls::ClientConfig {
    let roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
    match rustls::ClientConfig::builder_with_provider(provider).with_safe_default_protocol_versions() {
        Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
        // ring supports the default versions; this branch is unreachable in
        // practice, and the plain builder is the same configuration.
        Err(_) => rustls::ClientConfig::builder().with_root_certificates(roots).with_no_client_auth(),
    }
}

/// The daemon's PostgreSQL database: its connection pool (shared by every
/// component and every tenant's session) and the server it points at.
pub struct Pg {
    pool: Pool,
    target: String,
}

impl Pg {
    /// Connects and brings the daemon's schema up to date (under the
    /// migration lock, so nodes starting together migrate once).
    pub async fn open(url: &str, pool_size: usize, lock_timeout: Duration) -> Result<Pg, PgError> {
        let pool = connect(url, pool_size, lock_timeout).await?;
        migrations::migrate(&pool).await?;
        Ok(Pg { pool, target: redact(url) })
    }

    pub async fn client(&self) -> Result<deadpool_postgres::Client, PgError> {
        Ok(self.pool.get().await?)
    }

    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// The URL without its password.
    pub fn target(&self) -> &str {
        &self.target
    }
}

/// `url` without its password, for logs and messages. Handles both the URL
/// form (`postgres://user:secret@host/db`) and the key=value form
/// (`host=h password=secret`).
pub fn redact(url: &str) -> String {
    if let Some(scheme_end) = url.find("://") {
        let rest = &url[scheme_end + 3..];
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let authority = &rest[..authority_end];
        let redacted_authority = match authority.rfind('@') {
            Some(at) => match authority[..at].find(':') {
                Some(colon) => format!("{}:***{}", &authority[..colon], &authority[at..]),
                None => authority.to_string(),
            },
            None => authority.to_string(),
        };
        let tail = redact_password_parameter(&rest[authority_end..], '&');
        return format!("{}://{redacted_authority}{tail}", &url[..scheme_end]);
    }
    redact_password_parameter(url, ' ')
}

/// Replaces the value of `password=` in a `separator`-separated list.
fn redact_password_parameter(text: &str, separator: char) -> String {
    text.split(separator)
        .map(|part| {
            let key_start = part.rfind(['?', separator]).map_or(0, |i| i + 1);
            if part[key_start..].starts_with("password=") {
                format!("{}password=***", &part[..key_start])
            } else {
                part.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(&separator.to_string())
}

/// Proves the database accepts a durable write right now: an upsert of the
/// probe row, all of it (waiting for a connection included) within `timeout`.
/// A failure names the server (`target`, without its password), so `/readyz`
/// tells an operator which database is gone, not just that one is.
pub async fn probe_write(pool: &Pool, target: &str, timeout: Duration) -> Result<(), PgError> {
    try_probe_write(pool, timeout).await.map_err(|e| match e {
        PgError::Pool(e) => connect_error(target, e),
        PgError::Db(e) => PgError::Connect { target: target.to_string(), message: chain(&e) },
        PgError::Timeout { what, after } => PgError::Connect {
            target: target.to_string(),
            message: format!("{what} did not finish within {after:?}"),
        },
        other => other,
    })
}

async fn try_probe_write(pool: &Pool, timeout: Duration) -> Result<(), PgError> {
    let write = async {
        let client = pool.get().await?;
        client
            .execute(
                "INSERT INTO health_probe (id, checked_at) VALUES (1, extract(epoch FROM now())::bigint)
                 ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at",
                &[],
            )
            .await?;
        Ok::<(), PgError>(())
    };
    tokio::time::timeout(timeout, write)
        .await
        .map_err(|_| PgError::Timeout { what: "the health probe write", after: timeout })?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_reach_the_redacted_url() {
        assert_eq!(
            redact("postgres://app:s3cret@db:5432/agent?sslmode=require"),
            "postgres://app:***@db:5432/agent?sslmode=require"
        );
        assert_eq!(redact("postgresql://app@db/agent"), "postgresql://app@db/agent");
        assert_eq!(
            redact("postgres://db/agent?user=app&password=s3cret"),
            "postgres://db/agent?user=app&password=***"
        );
        assert_eq!(redact("host=db password=s3cret user=app"), "host=db password=*** user=app");
    }

    #[tokio::test]
    async fn a_refused_connection_names_the_server_and_not_the_password() {
        // A port nothing listens on: bind one, then free it.
        let port =
            std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
        let url = format!("postgres://app:s3cret@127.0.0.1:{port}/agent?sslmode=disable");
        let message =
            connect(&url, 2, Duration::from_secs(5)).await.expect_err("nothing listens").to_string();
        assert!(message.starts_with(&format!("PostgreSQL 127.0.0.1:{port}/agent: ")), "{message}");
        assert!(message.to_lowercase().contains("refused"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[tokio::test]
    async fn a_bad_url_is_reported_redacted() {
        let message = connect("postgres://app:s3cret@db/agent?sslmode=sometimes", 1, Duration::from_secs(5))
            .await
            .expect_err("bad")
            .to_string();
        assert!(message.contains("postgres://app:***@db/agent"), "{message}");
        assert!(!message.contains("s3cret"), "{message}");
    }

    #[tokio::test]
    async fn the_probe_writes_within_its_timeout() {
        let Some(db) = testdb::TestDb::create().await else { return };
        probe_write(&db.pool, "test", Duration::from_secs(5)).await.expect("probe");
        probe_write(&db.pool, "test", Duration::from_secs(5)).await.expect("probe again (upsert)");
    }
}
