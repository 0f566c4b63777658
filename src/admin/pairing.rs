//! `tenant pair` on the daemon: one pairing as a stream of admin replies,
//! one per step (a code, then `paired` or `ended`; or an error), whichever
//! node the operator asked. The tenant's worker runs on one node: there its
//! steps are followed ([`here`]). On a cluster, asked on another node, that
//! node relays the owner's own stream ([`relay`]), read from the owner's
//! internal pairing route (`GET /api/whatsapp/{tenant}/pairing`, under the
//! internal secret, through `cluster::peers`), so the operator sees the
//! same lines as if they had asked the owner.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;
use tokio::sync::mpsc;

use super::{AdminError, AdminReply};
use crate::cluster::peers::Peers;
use crate::store::cluster::Owner;
use crate::store::Store;
use crate::tenants::TenantId;
use crate::whatsapp::{PairRequest, PairingUpdate, WhatsApp};

/// The path of the owner's pairing stream, which [`relay`] reads.
pub fn route(tenant: &TenantId, phone: Option<&str>) -> String {
    match phone {
        // A checked +E164 number: `+` is the only character to escape.
        Some(phone) => format!("/api/whatsapp/{tenant}/pairing?phone={}", phone.replace('+', "%2B")),
        None => format!("/api/whatsapp/{tenant}/pairing"),
    }
}

/// How long pairing waits for this node to take a tenant it does not hold
/// yet (one lease round, normally immediate).
pub const LEASE_WAIT: Duration = Duration::from_secs(3);

/// How often a relay checks that the tenant's lease has not moved.
const OWNER_CHECK: Duration = Duration::from_secs(1);

/// Longest line a relay accepts from the owner (a QR code is ~250 bytes).
const MAX_LINE_BYTES: usize = 64 * 1024;

/// A pairing's replies, produced by a task of their own; dropping this
/// stops the task (the operator or the peer went away).
pub struct Replies {
    receiver: mpsc::Receiver<AdminReply>,
    task: tokio::task::AbortHandle,
}

impl Replies {
    /// Runs `produce` with the sending side.
    pub fn spawn<F>(produce: impl FnOnce(Sender) -> F) -> Replies
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (sender, receiver) = mpsc::channel(4);
        let task = tokio::spawn(produce(Sender(sender))).abort_handle();
        Replies { receiver, task }
    }

    /// The next reply; `None` once the last one was taken.
    pub async fn next(&mut self) -> Option<AdminReply> {
        self.receiver.recv().await
    }
}

impl Drop for Replies {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Where a pairing's replies go.
pub struct Sender(mpsc::Sender<AdminReply>);

impl Sender {
    /// False once nobody reads any more.
    pub async fn send(&self, reply: AdminReply) -> bool {
        self.0.send(reply).await.is_ok()
    }

    /// Sends `error`, the last reply.
    pub async fn fail(&self, error: AdminError) {
        self.send(AdminReply::Error(error)).await;
    }
}

/// Whether `reply` ends a pairing: an error, `paired` or `ended`.
fn is_last(reply: &AdminReply) -> bool {
    match reply {
        AdminReply::Ok(step) => step.get("event").and_then(Value::as_str) != Some("code"),
        AdminReply::Error(_) => true,
    }
}

/// Pairs `tenant` on this node's own worker (the caller checked that this
/// node runs it) and sends each step until the phone links the device or
/// the attempt ends.
pub async fn here(whatsapp: &WhatsApp, tenant: &TenantId, request: PairRequest, out: &Sender) {
    whatsapp.start(tenant);
    let mut session = whatsapp.pairing(tenant);
    if let Err(e) = session.begin(request).await {
        return out.fail(AdminError::new("conflict", e.to_string())).await;
    }
    while let Some(update) = session.next().await {
        let reply = match serde_json::to_value(&update) {
            Ok(value) => AdminReply::Ok(value),
            Err(e) => AdminReply::Error(AdminError::new("internal", e.to_string())),
        };
        let last = !matches!(update, PairingUpdate::Code { .. });
        if !out.send(reply).await || last {
            return;
        }
    }
    out.fail(AdminError::new("unavailable", "the tenant's worker stopped during pairing")).await;
}

/// Relays `owner`'s pairing of `tenant` (its stream, line by line) until
/// its last step; an error when the owner cannot be reached, the stream
/// breaks, or the tenant's lease moves meanwhile.
pub async fn relay(
    store: &Store,
    peers: &Peers,
    owner: &Owner,
    tenant: &TenantId,
    phone: Option<&str>,
    out: &Sender,
) {
    tracing::info!(%tenant, node = %owner.node, "pairing through the tenant's node");
    let mut lines = match open(peers, owner, tenant, phone).await {
        Ok(lines) => lines,
        Err(e) => return out.fail(e).await,
    };
    let mut check = tokio::time::interval(OWNER_CHECK);
    check.tick().await;
    loop {
        tokio::select! {
            line = lines.next_line() => {
                let reply = match line {
                    Ok(line) => serde_json::from_slice::<AdminReply>(&line).unwrap_or_else(|e| {
                        AdminReply::Error(AdminError::new(
                            "unavailable",
                            format!("node {} sent a pairing step this node cannot read: {e}", owner.node),
                        ))
                    }),
                    Err(why) => AdminReply::Error(lost(owner, tenant, &why)),
                };
                let last = is_last(&reply);
                if !out.send(reply).await || last {
                    return;
                }
            }
            _ = check.tick() => if let Some(moved) = moved(store, owner, tenant).await {
                return out.fail(moved).await;
            },
        }
    }
}

/// Opens the owner's pairing stream.
async fn open(
    peers: &Peers,
    owner: &Owner,
    tenant: &TenantId,
    phone: Option<&str>,
) -> Result<Lines, AdminError> {
    let path = route(tenant, phone);
    let request =
        peers.request(owner, reqwest::Method::GET, &path, &reqwest::header::HeaderMap::new()).map_err(
            |e| AdminError::new("unavailable", format!("cannot pair through node {}: {e}", owner.node)),
        )?;
    let response = request.send().await.map_err(|e| {
        let error = crate::outbound_error::describe(&e);
        AdminError::new(
            "unavailable",
            format!(
                "tenant `{tenant}` runs on node {}, which cannot be reached ({error}); try again",
                owner.node
            ),
        )
    })?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let body: String = body.chars().take(500).collect();
        return Err(AdminError::new(
            "unavailable",
            format!("node {} refused to pair tenant `{tenant}` ({status}): {body}", owner.node),
        ));
    }
    Ok(Lines { body: Box::pin(response.bytes_stream()), buffer: Vec::new() })
}

/// The stream broke before its last step.
fn lost(owner: &Owner, tenant: &TenantId, why: &str) -> AdminError {
    AdminError::new(
        "unavailable",
        format!(
            "lost node {} during the pairing of tenant `{tenant}` ({why}); check `agentlocator sessions`, \
             then run `agentlocator tenant pair {tenant}` again if it is not connected",
            owner.node
        ),
    )
}

/// An error when `tenant`'s lease is no longer `owner`'s (another node took
/// it, or none holds it any more); `None` while it is, or when the database
/// cannot say right now (the stream itself then tells).
async fn moved(store: &Store, owner: &Owner, tenant: &TenantId) -> Option<AdminError> {
    let now = store.cluster().owner(tenant.as_str()).await.ok()?;
    let again = format!("run `agentlocator tenant pair {tenant}` again");
    match now {
        Some(now) if now.node == owner.node && now.token == owner.token => None,
        Some(now) => Some(AdminError::new(
            "moved",
            format!(
                "tenant `{tenant}` moved from node {} to node {} during pairing; {again}",
                owner.node, now.node
            ),
        )),
        None => Some(AdminError::new(
            "moved",
            format!(
                "node {} lost tenant `{tenant}`'s lease during pairing; {again} in a few seconds",
                owner.node
            ),
        )),
    }
}

/// The owner's answer, one line at a time.
struct Lines {
    body: std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>,
    buffer: Vec<u8>,
}

impl Lines {
    /// The next line (without its newline). Cancel-safe: a chunk is only
    /// taken from the body together with its append to the buffer.
    async fn next_line(&mut self) -> Result<Vec<u8>, String> {
        loop {
            if let Some(end) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=end).take(end).collect();
                return Ok(line);
            }
            if self.buffer.len() > MAX_LINE_BYTES {
                return Err(format!("a line longer than {MAX_LINE_BYTES} bytes"));
            }
            match self.body.next().await {
                Some(Ok(chunk)) => self.buffer.extend_from_slice(&chunk),
                Some(Err(e)) => return Err(crate::outbound_error::describe(&e)),
                None => return Err("the connection closed".into()),
            }
        }
    }
}
