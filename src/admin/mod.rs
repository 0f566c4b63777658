//! The local admin socket (`DATA_DIR/agentlocator.sock`, mode 0600): how
//! operator commands reach a running daemon. One JSON request per line in, one
//! JSON reply per line out. Access control is the socket's file mode: only the
//! daemon's own user can connect.
//!
//! `client` is the operator's side (blocking, for CLI commands), `server`
//! the daemon's (it performs the request and answers).

pub mod client;
pub mod pairing;
pub mod server;

use serde::{Deserialize, Serialize};

use crate::tenants::{TenantError, TenantId, TenantRequest};

/// Set to 1 to let the admin socket inject faults (tests only).
pub const FAULT_INJECTION_ENV: &str = "AGENTLOCATOR_FAULT_INJECTION";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdminRequest {
    /// Is a daemon there, and which one?
    Ping,
    Tenant {
        request: TenantRequest,
    },
    /// Pair the tenant's WhatsApp; answered by a stream of lines, one per
    /// pairing step (`{"ok":{"event":"code",...}}`), the last one `paired`
    /// or `ended` (or an error).
    Pair {
        tenant: TenantId,
        /// Pair by code for this phone (+E164) instead of by QR.
        phone: Option<String>,
    },
    /// Unlink the tenant's WhatsApp device and wipe its session store.
    Logout {
        tenant: TenantId,
    },
    /// Every tenant's session, with the supervisor's view and the node
    /// holding its lease.
    Sessions,
    /// Test-only fault injection, refused unless the daemon was started with
    /// `AGENTLOCATOR_FAULT_INJECTION=1` (see `server::inject_fault`).
    Fault {
        target: String,
        action: String,
    },
}

/// One reply line: `{"ok": ...}` or `{"error": {"code": ..., "message": ...}}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminReply {
    Ok(serde_json::Value),
    Error(AdminError),
}

impl AdminReply {
    /// The reply as one line of the protocol, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec(self).unwrap_or_else(|e| {
            format!(r#"{{"error":{{"code":"internal","message":"cannot encode reply: {e}"}}}}"#).into_bytes()
        });
        bytes.push(b'\n');
        bytes
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    pub code: String,
    pub message: String,
}

impl AdminError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self { code: code.into(), message: message.into() }
    }
}

impl From<TenantError> for AdminError {
    fn from(e: TenantError) -> Self {
        let code = match &e {
            TenantError::NotFound(_) => "not_found",
            TenantError::Conflict(_) => "conflict",
            TenantError::Invalid(_) => "invalid",
            TenantError::Store(_) => "store",
        };
        AdminError::new(code, e.to_string())
    }
}

impl From<AdminError> for TenantError {
    fn from(e: AdminError) -> Self {
        match e.code.as_str() {
            "not_found" => TenantError::NotFound(e.message),
            "conflict" => TenantError::Conflict(e.message),
            "invalid" => TenantError::Invalid(e.message),
            _ => TenantError::Store(e.message),
        }
    }
}
