//! Each tenant's WhatsApp state (and its history) and the idempotency of sends.

/// One state change to record.
#[derive(Debug, Clone)]
pub struct StateUpdate {
    pub state: String,
    pub reason: String,
    /// Set the linked phone (`Some(None)` clears it); `None` leaves it.
    pub phone: Option<Option<String>>,
    /// Set `last_error` (never cleared: it is the last one seen).
    pub error: Option<String>,
    /// Count one more reconnect.
    pub reconnect: bool,
    /// When a ban ends (unix seconds); cleared by any other state.
    pub banned_until: Option<i64>,
}

/// What recording a state change did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Recorded; the state it replaced.
    Replaced(String),
    /// The tenant no longer exists: nothing recorded.
    NoTenant,
    /// The write carried a lease token the tenant's lease no longer has
    /// (another node took the tenant, or the lease expired): this node's
    /// worker lost the lease, and nothing was recorded.
    LeaseLost,
}

/// What a send with an Idempotency-Key may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendClaim {
    /// First use of the key (or a retry after a failed send): go ahead.
    Proceed,
    /// Already sent: answer this message id again, send nothing.
    AlreadySent { message_id: String },
    /// A send with this key is under way right now (or its process died
    /// mid-send: whether it reached WhatsApp is unknown, so it is not repeated).
    InProgress,
    /// The send with this key ended without knowing whether the message
    /// reached WhatsApp (it timed out mid-send): never repeated blindly.
    OutcomeUnknown,
    /// The key was used for a different request.
    KeyReused,
}

/// How a claimed send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// WhatsApp took it: the message id.
    Sent(String),
    /// Certainly not sent (refused before anything was written): the key may
    /// be used again.
    Failed(String),
    /// It may or may not have reached WhatsApp: the key is never used again.
    Unknown(String),
}
