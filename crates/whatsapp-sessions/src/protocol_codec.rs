//! The protocol and message-secret rows both backends share (column lists,
//! encodings, batch rules), so PostgreSQL and the shared SQLite file store the
//! same column values and report the same counts.

use std::collections::HashSet;

use wacore::store::error::{Result, StoreError};
use wacore::store::traits::{DeviceInfo, DeviceListRecord, MsgSecretEntry};

/// The columns a [`wacore::store::traits::LidPnMappingEntry`] is read from,
/// in its field order.
pub(crate) const LID_COLUMNS: &str = "lid, phone_number, created_at, learning_source, updated_at";

/// The columns a [`DeviceListRecord`] is read from, in
/// [`device_record`]'s argument order.
pub(crate) const DEVICE_LIST_COLUMNS: &str = "user_id, devices_json, timestamp, phash, raw_id";

/// A device list as its `devices_json` column.
pub(crate) fn devices_json(devices: &[DeviceInfo]) -> Result<String> {
    serde_json::to_string(devices).map_err(|e| StoreError::Serialization(Box::new(e)))
}

/// A stored device-list row (the [`DEVICE_LIST_COLUMNS`]) back to its record.
pub(crate) fn device_record(
    user: String,
    devices_json: &str,
    timestamp: i64,
    phash: Option<String>,
    raw_id: Option<i64>,
) -> Result<DeviceListRecord> {
    let devices: Vec<DeviceInfo> =
        serde_json::from_str(devices_json).map_err(|e| StoreError::Serialization(Box::new(e)))?;
    let raw_id = raw_id
        .map(|v| u32::try_from(v).map_err(|_| StoreError::Validation(format!("raw_id {v}"))))
        .transpose()?;
    Ok(DeviceListRecord { user, devices, timestamp, phash, raw_id })
}

/// What `put_msg_secrets` reports as stored: one per distinct key, however
/// often the batch repeats it (the repeats merge into one row).
pub(crate) fn distinct_secret_keys(entries: &[MsgSecretEntry]) -> usize {
    entries.iter().map(|e| (&*e.chat, &*e.sender, &*e.msg_id)).collect::<HashSet<_>>().len()
}
