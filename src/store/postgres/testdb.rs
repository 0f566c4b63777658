//! Test support: a fresh, randomly named database per test on the server in
//! `AGENTLOCATOR_TEST_DATABASE_URL`, dropped again when the test ends. When
//! the variable is unset the tests that need one print a note and pass, so
//! `cargo test` works on a machine without PostgreSQL.

use deadpool_postgres::Pool;

use super::{connect, migrations};

const ENV: &str = "AGENTLOCATOR_TEST_DATABASE_URL";

pub(crate) struct TestDb {
    pub pool: Pool,
    /// The URL of this test's database (for a second pool).
    pub url: String,
    admin_url: String,
    name: String,
}

impl TestDb {
    /// A migrated database, or `None` (with a note) without a test server.
    pub async fn create() -> Option<TestDb> {
        let db = TestDb::empty().await?;
        migrations::migrate(&db.pool).await.expect("migrate");
        Some(db)
    }

    /// A database with no tables yet.
    pub async fn empty() -> Option<TestDb> {
        let Ok(admin_url) = std::env::var(ENV) else {
            eprintln!("{ENV} is unset: skipping a PostgreSQL test");
            return None;
        };
        let name = format!("agentlocator_test_{}", ulid::Ulid::new().to_string().to_lowercase());
        let admin = connect(&admin_url, 1, std::time::Duration::from_secs(5)).await.expect("the test server");
        let client = admin.get().await.expect("admin connection");
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.expect("create database");
        let url = with_database(&admin_url, &name);
        let pool =
            connect(&url, 8, std::time::Duration::from_secs(5)).await.expect("connect to the test database");
        Some(TestDb { pool, url, admin_url, name })
    }
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.find('?') {
        Some(q) => (&url[..q], &url[q..]),
        None => (url, ""),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..].find('/').map_or(base.len(), |i| authority_start + i);
    format!("{}/{name}{query}", &base[..path_start])
}

impl Drop for TestDb {
    fn drop(&mut self) {
        self.pool.close();
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // The synchronous client cannot run on the test's runtime thread.
        let dropped = std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&admin_url, postgres::NoTls)?;
            client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test database {}", self.name);
        }
    }
}

/// A bare tenant row (no numbers, an empty signing key) for tests that need
/// events or jobs to reference a tenant.
pub(crate) async fn insert_tenant(
    c: &impl deadpool_postgres::GenericClient,
    id: &str,
    webhook_url: Option<&str>,
) {
    c.execute(
        "INSERT INTO tenants (id, name, webhook_url, token_hash, token_rotated_at, created_at, updated_at, wa_state_since)
         VALUES ($1, $1, $2, $1, 0, 0, 0, 0)",
        &[&id, &webhook_url],
    )
    .await
    .expect("tenant");
}
