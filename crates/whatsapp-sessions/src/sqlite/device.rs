//! [`DeviceStore`] on the shared SQLite file: the tenant's Device, stored as
//! on PostgreSQL (its serde JSON, with `pn`/`lid` beside it for queries).

use async_trait::async_trait;
use rusqlite::params;
use wacore::stats::StorageResourceReport;
use wacore::store::error::Result;
use wacore::store::traits::DeviceStore;
use wacore::store::Device;
use wacore::time::now_secs;

use crate::codec::{decode_device, encode_device, DEVICE_ID};
use crate::sqlite::store::{exec, exists, value, SqliteSessionStore};

/// Device upsert: `?2..?4` as [`encode_device`] gives them, `?5` the time.
pub(crate) const SAVE_DEVICE: &str = "INSERT INTO wa_device (tenant, pn, lid, data, updated_at)
    VALUES (?1, ?2, ?3, ?4, ?5)
    ON CONFLICT (tenant) DO UPDATE SET pn = excluded.pn, lid = excluded.lid,
        data = excluded.data, updated_at = excluded.updated_at";

#[async_trait]
impl DeviceStore for SqliteSessionStore {
    async fn save(&self, device: &Device) -> Result<()> {
        let (pn, lid, data) = encode_device(device)?;
        self.write(move |tx, t| exec(tx, SAVE_DEVICE, params![t, pn, lid, data, now_secs()])).await?;
        Ok(())
    }

    async fn load(&self) -> Result<Option<Device>> {
        let sql = "SELECT data FROM wa_device WHERE tenant = ?1";
        let data: Option<Vec<u8>> = self.read(move |c, t| value(c, sql, [t])).await?;
        data.map(|d| decode_device(&d)).transpose()
    }

    async fn exists(&self) -> Result<bool> {
        self.read(|c, t| exists(c, "SELECT 1 FROM wa_device WHERE tenant = ?1", [t])).await
    }

    /// Stores a fresh unpaired Device unless one is there already (a second
    /// start racing the first must not replace the keys it is pairing with).
    async fn create(&self) -> Result<i32> {
        let (pn, lid, data) = encode_device(&Device::new())?;
        let sql = "INSERT INTO wa_device (tenant, pn, lid, data, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (tenant) DO NOTHING";
        self.write(move |tx, t| exec(tx, sql, params![t, pn, lid, data, now_secs()])).await?;
        Ok(DEVICE_ID)
    }

    /// The page and statement caches are fixed costs of the shared file, paid
    /// once whatever the tenant count, so a tenant holds no memory of its own
    /// (as on PostgreSQL, where the data is not in this process): reporting
    /// the shared caches here would count them once per tenant.
    /// `snapshot_db` keeps the default no-op: the file holds every tenant's
    /// keys, so a copy of it is not one session's snapshot.
    async fn resource_report(&self) -> StorageResourceReport {
        StorageResourceReport { memory_bytes: Some(0), ..StorageResourceReport::default() }
    }
}
