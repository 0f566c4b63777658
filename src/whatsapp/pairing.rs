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

/// What the worker's live view means for a pairing caller who has already
/// seen `shown`; `None` while there is nothing new. `requested`: the pairing
/// request is still pending (the worker clears it when an attempt ends).
fn step(live: &Live, shown: Option<&Pairing>, requested: bool) -> Option<PairingUpdate> {
    let ended = || Some(PairingUpdate::Ended { reason: live.reason.clone() });
    match live.state {
        Some(WaState::Connected) => Some(PairingUpdate::Paired { phone: live.phone.clone() }),
        Some(WaState::Unpaired | WaState::LoggedOut) if !requested => ended(),
        Some(WaState::Stopped | WaState::Quarantined | WaState::Replaced | WaState::Banned) => ended(),
        _ => match &live.pairing {
            Some(pairing) if shown != Some(pairing) => Some(PairingUpdate::Code { pairing: pairing.clone() }),
            _ => None,
        },
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PairingError {
    #[error("{0}")]
    AlreadyPaired(String),
    #[error("{0}")]
    Busy(String),
}

/// Why an attempt ended without a first code to show.
#[derive(Debug, thiserror::Error)]
pub enum FirstCodeError {
    #[error("the device is already linked")]
    AlreadyLinked,
    /// The attempt ended (expired, refused, failed): the worker's reason.
    #[error("{0}")]
    Ended(String),
    #[error("the worker stopped")]
    WorkerStopped,
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
            let update = {
                let live = self.live.borrow_and_update();
                let requested = self.slot.pair_requests().borrow().is_some();
                step(&live, self.shown.as_ref(), requested)
            };
            if let Some(update) = update {
                if let PairingUpdate::Code { pairing } = &update {
                    self.shown = Some(pairing.clone());
                }
                return Some(update);
            }
            if self.live.changed().await.is_err() {
                return None;
            }
        }
    }

    /// The first code of this attempt (for the QR and pair-code routes).
    pub async fn first_code(&mut self) -> Result<Pairing, FirstCodeError> {
        match self.next().await {
            Some(PairingUpdate::Code { pairing }) => Ok(pairing),
            Some(PairingUpdate::Paired { .. }) => Err(FirstCodeError::AlreadyLinked),
            Some(PairingUpdate::Ended { reason }) => Err(FirstCodeError::Ended(reason)),
            None => Err(FirstCodeError::WorkerStopped),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn live(state: WaState, pairing: Option<Pairing>) -> Live {
        Live { state: Some(state), phone: None, reason: "why".into(), pairing, changes: 0 }
    }

    #[test]
    fn steps_follow_the_worker() {
        let qr = Pairing::Qr { code: "2@a,b,c,d".into(), expires_at_ms: 0, codes_left: 5 };
        // Requested, not yet picked up: wait.
        assert_eq!(step(&live(WaState::Unpaired, None), None, true), None);
        // A code: shown once.
        let pairing = live(WaState::Pairing, Some(qr.clone()));
        assert_eq!(step(&pairing, None, true), Some(PairingUpdate::Code { pairing: qr.clone() }));
        assert_eq!(step(&pairing, Some(&qr), true), None);
        // The attempt ended (the worker cleared the request).
        assert_eq!(
            step(&live(WaState::Unpaired, None), Some(&qr), false),
            Some(PairingUpdate::Ended { reason: "why".into() })
        );
        let mut linked = live(WaState::Connected, None);
        linked.phone = Some("+15550001111".into());
        assert_eq!(
            step(&linked, Some(&qr), false),
            Some(PairingUpdate::Paired { phone: linked.phone.clone() })
        );
        assert!(matches!(step(&live(WaState::Stopped, None), None, true), Some(PairingUpdate::Ended { .. })));
    }
}
