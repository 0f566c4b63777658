//! The tenant id rule, enforced in this one place by every entry point (CLI
//! arguments, URL paths, admin-socket requests) before an id touches a path or
//! a query.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize};

pub const TENANT_ID_RULE: &str =
    "a tenant id is 1 to 63 characters: lowercase letters a-z, digits, '-' and '_', starting with a letter or digit";

/// A tenant id that is known to match `^[a-z0-9][a-z0-9_-]{0,62}$`, so it is
/// safe as a path component and in SQL parameters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct TenantId(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tenant id `{shown}`: {TENANT_ID_RULE}")]
pub struct InvalidTenantId {
    /// The rejected input, escaped so control characters cannot reach a terminal.
    shown: String,
}

impl TenantId {
    pub fn parse(raw: &str) -> Result<Self, InvalidTenantId> {
        let bytes = raw.as_bytes();
        let first_ok = matches!(bytes.first(), Some(b'a'..=b'z' | b'0'..=b'9'));
        let rest_ok = bytes.iter().skip(1).all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'));
        if first_ok && rest_ok && bytes.len() <= 63 {
            Ok(TenantId(raw.to_string()))
        } else {
            let shown: String = raw.chars().take(80).flat_map(char::escape_default).collect();
            Err(InvalidTenantId { shown })
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for TenantId {
    type Err = InvalidTenantId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TenantId::parse(s)
    }
}

impl<'de> Deserialize<'de> for TenantId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        TenantId::parse(&raw).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_the_rule() {
        for ok in ["a", "acme", "0", "a-b_c", "z9", &"a".repeat(63)] {
            assert!(TenantId::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn refuses_everything_else() {
        let long = "a".repeat(64);
        for bad in
            ["", "..", ".", "a/b", "%2e%2e", "UPPER", "Acme", "é", "-a", "_a", "a b", "a.b", "a\0", &long]
        {
            let err = TenantId::parse(bad).unwrap_err();
            assert!(err.to_string().contains("invalid tenant id"), "{bad}");
        }
    }

    #[test]
    fn error_escapes_control_characters() {
        let err = TenantId::parse("a\u{1b}[31m").unwrap_err().to_string();
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
