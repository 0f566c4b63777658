//! [`DeviceStore`]: the tenant's own Device (keys, account, pairing), stored
//! whole as its serde JSON, with `pn`/`lid` beside it for queries.

use async_trait::async_trait;
use wacore::stats::StorageResourceReport;
use wacore::store::error::Result;
use wacore::store::traits::DeviceStore;
use wacore::store::Device;
use wacore::time::now_secs;

use crate::codec::{decode_device, encode_device, DEVICE_ID};
use crate::store::PgSessionStore;

/// Device upsert (`$2..$4` as [`encode_device`] gives them).
const SAVE_DEVICE: &str = "INSERT INTO wa_device (tenant, pn, lid, data, updated_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (tenant) DO UPDATE SET pn = EXCLUDED.pn, lid = EXCLUDED.lid,
        data = EXCLUDED.data, updated_at = EXCLUDED.updated_at";

#[async_trait]
impl DeviceStore for PgSessionStore {
    async fn save(&self, device: &Device) -> Result<()> {
        let (pn, lid, data) = encode_device(device)?;
        self.exec(SAVE_DEVICE, &[&pn, &lid, &data, &now_secs()]).await?;
        Ok(())
    }

    async fn load(&self) -> Result<Option<Device>> {
        let sql = "SELECT data FROM wa_device WHERE tenant = $1";
        let Some(row) = self.row(sql, &[]).await? else {
            return Ok(None);
        };
        decode_device(row.get::<_, &[u8]>(0)).map(Some)
    }

    async fn exists(&self) -> Result<bool> {
        let sql = "SELECT EXISTS (SELECT 1 FROM wa_device WHERE tenant = $1)";
        self.scalar(sql, &[]).await
    }

    /// Stores a fresh unpaired Device unless one is there already (a second
    /// start racing the first must not replace the keys it is pairing with).
    async fn create(&self) -> Result<i32> {
        let (pn, lid, data) = encode_device(&Device::new())?;
        let sql = "INSERT INTO wa_device (tenant, pn, lid, data, updated_at)
            VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant) DO NOTHING";
        self.exec(sql, &[&pn, &lid, &data, &now_secs()]).await?;
        Ok(DEVICE_ID)
    }

    /// The data lives in PostgreSQL, not in this process.
    async fn resource_report(&self) -> StorageResourceReport {
        StorageResourceReport { memory_bytes: Some(0), ..StorageResourceReport::default() }
    }
}
