//! [`DeviceStore`]: the tenant's own Device (keys, account, pairing), stored
//! whole as its serde JSON, with `pn`/`lid` beside it for queries.

use std::sync::Arc;

use async_trait::async_trait;
use wacore::client_profile::ClientProfile;
use wacore::stats::StorageResourceReport;
use wacore::store::device::DEVICE_PROPS;
use wacore::store::error::{Result, StoreError};
use wacore::store::traits::DeviceStore;
use wacore::store::Device;
use wacore::time::now_secs;

use crate::store::PgSessionStore;

/// The device id `create` reports: one device per tenant, and whatsapp-rust's
/// SQLite store reports its default (1) the same way.
const DEVICE_ID: i32 = 1;

/// Device upsert, shared with the importer.
pub(crate) const SAVE_DEVICE: &str = "INSERT INTO wa_device (tenant, pn, lid, data, updated_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT (tenant) DO UPDATE SET pn = EXCLUDED.pn, lid = EXCLUDED.lid,
        data = EXCLUDED.data, updated_at = EXCLUDED.updated_at";

/// A Device as [`SAVE_DEVICE`]'s `$2..$4`: pn, lid, JSON.
pub(crate) fn encode_device(device: &Device) -> Result<(Option<String>, Option<String>, Vec<u8>)> {
    let data = serde_json::to_vec(device).map_err(|e| StoreError::Serialization(Box::new(e)))?;
    let pn = device.pn.as_ref().map(|j| j.to_string());
    let lid = device.lid.as_ref().map(|j| j.to_string());
    Ok((pn, lid, data))
}

/// A stored Device, with the runtime-only fields serde skips set as
/// whatsapp-rust's SQLite store sets them on load (the builder's overrides
/// apply on top, after loading).
fn decode_device(data: &[u8]) -> Result<Device> {
    let mut device: Device =
        serde_json::from_slice(data).map_err(|e| StoreError::Serialization(Box::new(e)))?;
    device.device_props = Arc::new(DEVICE_PROPS.clone());
    device.client_profile = ClientProfile::web();
    Ok(device)
}

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
