//! Backend-neutral conversions between whatsapp-rust's values and the stored
//! columns, shared by the PostgreSQL and the SQLite backend so both hold the
//! same bytes and apply the same rules.

use std::sync::Arc;

use wacore::appstate::hash::HashState;
use wacore::client_profile::ClientProfile;
use wacore::store::device::DEVICE_PROPS;
use wacore::store::error::{Result, StoreError};
use wacore::store::Device;

/// The device id `create` reports: one device per tenant, and whatsapp-rust's
/// SQLite store reports its default (1) the same way.
pub(crate) const DEVICE_ID: i32 = 1;

/// A Device as its stored columns: pn, lid, JSON.
pub(crate) fn encode_device(device: &Device) -> Result<(Option<String>, Option<String>, Vec<u8>)> {
    let data = serde_json::to_vec(device).map_err(|e| StoreError::Serialization(Box::new(e)))?;
    let pn = device.pn.as_ref().map(|j| j.to_string());
    let lid = device.lid.as_ref().map(|j| j.to_string());
    Ok((pn, lid, data))
}

/// A stored Device, with the runtime-only fields serde skips set as
/// whatsapp-rust's SQLite store sets them on load (the builder's overrides
/// apply on top, after loading).
pub(crate) fn decode_device(data: &[u8]) -> Result<Device> {
    let mut device: Device =
        serde_json::from_slice(data).map_err(|e| StoreError::Serialization(Box::new(e)))?;
    device.device_props = Arc::new(DEVICE_PROPS.clone());
    device.client_profile = ClientProfile::web();
    Ok(device)
}

/// A collection version as stored: its serde JSON (the struct has no stable
/// binary form of its own; JSON keeps every field, present and future).
pub(crate) fn encode_version(state: &HashState) -> Result<Vec<u8>> {
    serde_json::to_vec(state).map_err(|e| StoreError::Serialization(Box::new(e)))
}

/// A stored collection version. An undecodable one reads as the default, as
/// in whatsapp-rust's SQLite store: the collection then re-syncs from 0.
pub(crate) fn decode_version(data: &[u8]) -> HashState {
    serde_json::from_slice(data).unwrap_or_default()
}

/// An app-state version as the signed 64-bit column both databases have.
pub(crate) fn version_i64(version: u64) -> Result<i64> {
    i64::try_from(version)
        .map_err(|_| StoreError::Validation(format!("app-state version {version} exceeds i64")))
}

/// A stored identity key back to its 32 bytes.
pub(crate) fn identity_key(address: &str, key: Vec<u8>) -> Result<[u8; 32]> {
    let len = key.len();
    key.try_into().map_err(|_| {
        StoreError::Validation(format!("identity key for '{address}' has invalid length {len} (expected 32)"))
    })
}

/// Only 32-byte index MACs are ever asked for, so a stored key of any other
/// length is not an answer; `None` drops it.
pub(crate) fn index_mac(key: &[u8]) -> Option<[u8; 32]> {
    <[u8; 32]>::try_from(key).ok()
}

/// A `LIKE` pattern matching `prefix` literally, then anything (with
/// `ESCAPE '\'`, PostgreSQL's default escape).
pub(crate) fn prefix_pattern(prefix: &str) -> String {
    let mut out = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The two `LIKE` patterns of a user's Signal addresses: `user@server`
/// (device 0) and `user:device@server`.
pub(crate) fn user_address_patterns(user: &str) -> (String, String) {
    (prefix_pattern(&format!("{user}@")), prefix_pattern(&format!("{user}:")))
}

/// A count of deleted rows as the traits' `u32` (saturating: a sweep that
/// removed more than four billion rows still reports "many").
pub(crate) fn count_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// A stored 64-bit id back to the `u32` it was written from.
pub(crate) fn id_u32(id: i64) -> Result<u32> {
    u32::try_from(id).map_err(|_| StoreError::Validation(format!("stored id {id} is not a u32")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_patterns_escape_wildcards() {
        assert_eq!(prefix_pattern("a_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(user_address_patterns("12"), ("12@%".to_string(), "12:%".to_string()));
    }

    #[test]
    fn ids_and_counts_stay_in_range() {
        assert_eq!(id_u32(i64::from(u32::MAX)).ok(), Some(u32::MAX));
        assert!(id_u32(-1).is_err());
        assert_eq!(count_u32(u64::MAX), u32::MAX);
    }
}
