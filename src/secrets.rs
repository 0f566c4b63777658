//! Secrets: the internal secret (the admin bearer token, nothing else), tenant
//! API tokens, which are shown once and stored only as a hash, and tenant
//! webhook signing keys, shown once as `whsec_...` and stored as raw bytes
//! (the daemon needs them to sign every delivery).

use std::io::ErrorKind as IoErrorKind;

use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::error::{AppError, AppResult};
use crate::paths::{create_private_file, DataDir};

/// Where the effective internal secret came from (for the log, never the value).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretSource {
    Configured,
    StoredFile,
    GeneratedNow,
}

/// The internal secret as `serve` uses it: the configured one, else the one
/// kept in `DATA_DIR/internal_secret`, else 32 fresh random bytes (hex) written
/// there once with mode 0600.
pub fn internal_secret(config: &Config, data: &DataDir) -> AppResult<(String, SecretSource)> {
    if let Some(secret) = &config.security.internal_secret {
        return Ok((secret.clone(), SecretSource::Configured));
    }
    let path = data.secret_path();
    if let Some(stored) = read_stored_secret(data)? {
        return Ok((stored, SecretSource::StoredFile));
    }
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let secret = hex::encode(bytes);
    match create_private_file(&path, secret.as_bytes()) {
        Ok(()) => Ok((secret, SecretSource::GeneratedNow)),
        // Another process created it between our read and our write: use theirs.
        Err(e) if e.kind() == IoErrorKind::AlreadyExists => read_stored_secret(data)?
            .map(|s| (s, SecretSource::StoredFile))
            .ok_or_else(|| AppError::failed(format!("{} is empty", path.display()))),
        Err(e) => Err(AppError::failed(format!("cannot write {}: {e}", path.display()))),
    }
}

fn read_stored_secret(data: &DataDir) -> AppResult<Option<String>> {
    let path = data.secret_path();
    match std::fs::read_to_string(&path) {
        Ok(text) if !text.trim().is_empty() => Ok(Some(text.trim().to_string())),
        Ok(_) => Ok(None),
        Err(e) if e.kind() == IoErrorKind::NotFound => Ok(None),
        Err(e) => Err(AppError::failed(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Prefix that makes a leaked token recognisable (secret scanners, logs).
const TOKEN_PREFIX: &str = "alt_";

/// A new tenant API token: 32 random bytes, URL-safe base64, prefixed.
pub fn new_api_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{TOKEN_PREFIX}{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// What is stored for a token. A plain SHA-256 suffices: the token carries 256
/// bits of randomness, so there is nothing for a slow hash to protect.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Compares a presented token with a stored hash in constant time.
pub fn token_matches(presented: &str, stored_hash: &str) -> bool {
    let presented_hash = token_hash(presented);
    presented_hash.as_bytes().ct_eq(stored_hash.as_bytes()).into()
}

/// How a signing secret is shown: the Standard Webhooks libraries strip this
/// prefix and base64-decode the rest to get the key.
const SIGNING_SECRET_PREFIX: &str = "whsec_";

/// A new webhook signing key: 32 random bytes (HMAC-SHA256 gains nothing from more).
pub fn new_signing_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rng().fill_bytes(&mut key);
    key
}

/// The signing key as a tenant's backend is given it: `whsec_` + standard base64.
pub fn signing_secret_text(key: &[u8]) -> String {
    format!("{SIGNING_SECRET_PREFIX}{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// Constant-time equality of two secrets given as strings (e.g. the internal
/// secret presented as a bearer token).
pub fn secrets_equal(a: &str, b: &str) -> bool {
    // Hash first so the comparison length does not depend on the secret's length.
    let (ha, hb) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    ha.ct_eq(&hb).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_roundtrip() {
        let token = new_api_token();
        assert!(token.starts_with("alt_") && token.len() > 40);
        let stored = token_hash(&token);
        assert!(token_matches(&token, &stored));
        assert!(!token_matches(&new_api_token(), &stored));
        assert_ne!(stored, token);
    }

    #[test]
    fn signing_secrets_are_shown_the_standard_webhooks_way() {
        let key = new_signing_key();
        assert_ne!(key, new_signing_key());
        let text = signing_secret_text(&key);
        let encoded = text.strip_prefix("whsec_").expect("prefix");
        let decoded = base64::engine::general_purpose::STANDARD.decode(encoded).expect("standard base64");
        assert_eq!(decoded, key);
    }

    #[test]
    fn generated_secret_is_kept_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let data = DataDir::new(dir.path());
        let config = Config::default();
        let (first, source) = internal_secret(&config, &data).expect("generate");
        assert_eq!(source, SecretSource::GeneratedNow);
        assert_eq!(first.len(), 64);
        let mode = std::fs::metadata(data.secret_path()).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let (again, source) = internal_secret(&config, &data).expect("reuse");
        assert_eq!((again, source), (first, SecretSource::StoredFile));
    }
}
