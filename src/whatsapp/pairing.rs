//! Pairing as its callers see it: ask the tenant's worker to pair (by QR or
//! by phone-number code), then follow the codes it shows until the phone
//! links the device or the attempt ends. The QR route, `tenant pair` through
//! the admin socket and `tenant pair` without a daemon all use this.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::slot::{Live, PairRequest, Pairing, Slot};
use super::state::WaState;
use super::Shared;
use crate::tenants::TenantId;

/// One step of a pairing, in the order callers see them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum PairingUpdate {
    /// A (new) code to show.
    Code { pairing: Pairing },
    /// The phone linked the device and the client logged in.
    Paired { phone: Option<String> },
    /// The attempt ended without a link (expired, refused).
    Ended { reason: String },
}

#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    #[error("{0}")]
    AlreadyPaired(String),
    #[error("{0}")]
    Busy(String),
}

pub struct PairingSession {
    shared: Arc<Shared>,
    slot: Arc<Slot>,
    tenant: TenantId,
    live: watch::Receiver<Live>,
    shown: Option<Pairing>,
}

impl PairingSession {
    pub(super) fn new(shared: Arc<Shared>, slot: Arc<Slot>, tenant: TenantId) -> Self {
        let live = slot.watch();
        PairingSession { shared, slot, tenant, live, shown: None }
    }

    /// Asks the worker to pair. Refused when a device is linked, or when a
    /// pairing of the other kind is under way (one at a time).
    pub async fn begin(&mut self, request: PairRequest) -> Result<(), PairingError> {
        let stored = super::stored_session(&self.shared.store, &self.tenant).await;
        let state = self.slot.state().or(stored.as_ref().map(|s| s.0));
        // A recorded phone means a linked device, whatever the worker does now
        // (stopped and quarantined workers keep their device).
        let linked = stored.as_ref().is_some_and(|s| s.1.is_some());
        match state {
            None | Some(WaState::Unpaired | WaState::LoggedOut) => {}
            Some(WaState::Stopped | WaState::Quarantined) if !linked => {}
            Some(WaState::Pairing) => {
                let current = self.slot.pair_requests().borrow().clone();
                if current.as_ref().is_some_and(|c| c != &request) {
                    return Err(PairingError::Busy(format!(
                        "tenant `{}` is already pairing the other way; wait for it to end or finish it",
                        self.tenant
                    )));
                }
            }
            Some(other) => {
                return Err(PairingError::AlreadyPaired(format!(
                    "tenant `{}` already has a linked WhatsApp device (state {other}); log it out first \
                     (agentlocator tenant logout {})",
                    self.tenant, self.tenant
                )))
            }
        }
        // Watch from here on: what came before belongs to an earlier attempt.
        self.live.borrow_and_update();
        self.slot.request_pairing(request);
        Ok(())
    }

    /// The next step; `None` when the worker went away.
    pub async fn next(&mut self) -> Option<PairingUpdate> {
        loop {
            {
                let live = self.live.borrow_and_update();
                if live.state == Some(WaState::Connected) {
                    return Some(PairingUpdate::Paired { phone: live.phone.clone() });
                }
                if matches!(live.state, Some(WaState::Unpaired | WaState::LoggedOut)) && self.shown.is_some()
                {
                    return Some(PairingUpdate::Ended { reason: live.reason.clone() });
                }
                if matches!(live.state, Some(WaState::Unpaired | WaState::LoggedOut))
                    && self.slot.pair_requests().borrow().is_none()
                {
                    return Some(PairingUpdate::Ended { reason: live.reason.clone() });
                }
                if let Some(pairing) = &live.pairing {
                    if self.shown.as_ref() != Some(pairing) {
                        self.shown = Some(pairing.clone());
                        return Some(PairingUpdate::Code { pairing: pairing.clone() });
                    }
                }
                if matches!(
                    live.state,
                    Some(WaState::Stopped | WaState::Quarantined | WaState::Replaced | WaState::Banned)
                ) {
                    return Some(PairingUpdate::Ended { reason: live.reason.clone() });
                }
            }
            if self.live.changed().await.is_err() {
                return None;
            }
        }
    }

    /// The first code of this attempt (for the QR and pair-code routes).
    pub async fn first_code(&mut self) -> Result<Pairing, String> {
        match self.next().await {
            Some(PairingUpdate::Code { pairing }) => Ok(pairing),
            Some(PairingUpdate::Paired { .. }) => Err("the device is already linked".into()),
            Some(PairingUpdate::Ended { reason }) => Err(reason),
            None => Err("the worker stopped".into()),
        }
    }
}
