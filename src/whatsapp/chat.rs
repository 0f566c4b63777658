//! What a tenant's backend does in a chat besides sending: marking a
//! contact's messages read (blue ticks) and showing typing / recording.

use whatsapp_rust::features::ChatStateType;

use super::outbound::{connected_client, recipient};
use super::slot::Slot;
use super::SendError;
use crate::tenants::TenantId;

/// Most message ids one read call takes.
pub const MAX_READ_IDS: usize = 100;
const MAX_ID_LEN: usize = 128;

/// A typing indicator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Presence {
    Composing,
    Recording,
    Paused,
}

impl Presence {
    pub fn parse(s: &str) -> Option<Presence> {
        Some(match s {
            "composing" => Presence::Composing,
            "recording" => Presence::Recording,
            "paused" => Presence::Paused,
            _ => return None,
        })
    }
}

/// Checks the ids: 1 to [`MAX_READ_IDS`], each 1 to 128 printable ASCII
/// characters (stanza ids are hex or base32-like; anything else is not one).
fn check_ids(ids: &[String]) -> Result<(), SendError> {
    if ids.is_empty() || ids.len() > MAX_READ_IDS {
        return Err(SendError::Invalid(format!("`message_ids` must hold 1 to {MAX_READ_IDS} ids")));
    }
    if let Some(bad) = ids
        .iter()
        .find(|id| id.is_empty() || id.len() > MAX_ID_LEN || !id.bytes().all(|b| b.is_ascii_graphic()))
    {
        let shown: String = bad.chars().take(40).collect();
        return Err(SendError::Invalid(format!(
            "`message_ids`: `{}` is not a message id (1 to {MAX_ID_LEN} printable ASCII characters)",
            shown.escape_default()
        )));
    }
    Ok(())
}

/// Marks `ids` in `chat` read. In a group, `sender` is who sent them.
pub(super) async fn mark_read(
    slot: &Slot,
    tenant: &TenantId,
    chat: &str,
    sender: Option<&str>,
    ids: &[String],
) -> Result<(), SendError> {
    let chat = recipient(chat)?;
    let sender = sender.map(recipient).transpose()?;
    check_ids(ids)?;
    let client = connected_client(slot, tenant)?;
    let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
    client
        .mark_as_read(&chat, sender.as_ref(), &ids)
        .await
        .map_err(|e| SendError::Failed(format!("the read receipt was not sent: {e}")))
}

/// Shows `state` to `chat`.
pub(super) async fn presence(
    slot: &Slot,
    tenant: &TenantId,
    chat: &str,
    state: Presence,
) -> Result<(), SendError> {
    let chat = recipient(chat)?;
    let client = connected_client(slot, tenant)?;
    let state = match state {
        Presence::Composing => ChatStateType::Composing,
        Presence::Recording => ChatStateType::Recording,
        Presence::Paused => ChatStateType::Paused,
    };
    client
        .chatstate()
        .send(&chat, state)
        .await
        .map_err(|e| SendError::Failed(format!("the chat state was not sent: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_bounded_and_printable() {
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_ids(&ids(&["3EB0C431C26A1916E35A"])).is_ok());
        assert!(check_ids(&[]).is_err());
        assert!(check_ids(&vec!["A".to_string(); MAX_READ_IDS]).is_ok());
        assert!(check_ids(&vec!["A".to_string(); MAX_READ_IDS + 1]).is_err());
        assert!(check_ids(&ids(&[""])).is_err());
        assert!(check_ids(&ids(&["has space"])).is_err());
        assert!(check_ids(&ids(&["new\nline"])).is_err());
        assert!(check_ids(&ids(&["é"])).is_err());
        assert!(check_ids(&["x".repeat(MAX_ID_LEN)]).is_ok());
        assert!(check_ids(&["x".repeat(MAX_ID_LEN + 1)]).is_err());
        assert_eq!(Presence::parse("recording"), Some(Presence::Recording));
        assert_eq!(Presence::parse("typing"), None);
    }
}
