//! The simulated primary phone's side of QR pairing: what it signs for a new
//! companion device (WhatsApp's ADV, "account device verification").

use anyhow::{Result, anyhow};
use base64::Engine as _;
use buffa::Message as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use wacore_libsignal::protocol::KeyPair;
use waproto::whatsapp::{self as wa, ADVEncryptionType};

/// Prefix of the account signature over a companion's identity (whatsmeow's
/// `AdvAccountSignaturePrefix`); the client verifies exactly this layout.
const ADV_PREFIX_ACCOUNT_SIGNATURE: &[u8] = &[6, 0];

/// The fields of a QR string `ref,noisePub,identityPub,advSecret,clientType`.
#[derive(Debug, Clone)]
pub struct QrData {
    pub pairing_ref: String,
    pub noise_pub: [u8; 32],
    pub identity_pub: [u8; 32],
    pub adv_secret: Vec<u8>,
}

pub fn parse_qr(qr: &str) -> Result<QrData> {
    let parts: Vec<&str> = qr.trim().split(',').collect();
    if parts.len() < 4 {
        return Err(anyhow!("QR code has {} fields, expected 5", parts.len()));
    }
    let b64 = base64::engine::general_purpose::STANDARD;
    let key = |s: &str, what: &str| -> Result<[u8; 32]> {
        b64.decode(s)
            .map_err(|e| anyhow!("QR {what}: {e}"))?
            .try_into()
            .map_err(|_| anyhow!("QR {what} is not 32 bytes"))
    };
    Ok(QrData {
        pairing_ref: parts[0].to_string(),
        noise_pub: key(parts[1], "noise key")?,
        identity_pub: key(parts[2], "identity key")?,
        adv_secret: b64.decode(parts[3]).map_err(|e| anyhow!("QR adv secret: {e}"))?,
    })
}

/// Builds the `ADVSignedDeviceIdentityHMAC` the phone returns in `<pair-success>`:
/// the account (phone identity) key XEdDSA-signs `[6,0] ‖ details ‖ companion
/// identity`, and the whole signed identity is HMAC-SHA256'd with the QR's adv secret.
pub fn device_identity_hmac(
    account: &KeyPair,
    companion_identity: &[u8; 32],
    adv_secret: &[u8],
    raw_id: u32,
    key_index: u32,
) -> Result<Vec<u8>> {
    let details = wa::ADVDeviceIdentity {
        raw_id: Some(raw_id),
        timestamp: Some(now_secs()),
        key_index: Some(key_index),
        account_type: Some(ADVEncryptionType::E2EE),
        device_type: Some(ADVEncryptionType::E2EE),
    }
    .encode_to_vec();
    let mut to_sign = Vec::with_capacity(2 + details.len() + 32);
    to_sign.extend_from_slice(ADV_PREFIX_ACCOUNT_SIGNATURE);
    to_sign.extend_from_slice(&details);
    to_sign.extend_from_slice(companion_identity);
    let signature = account
        .private_key
        .calculate_signature(&to_sign, &mut rand::rng())
        .map_err(|e| anyhow!("account signature: {e}"))?;
    let signed = wa::ADVSignedDeviceIdentity {
        details: Some(details),
        account_signature_key: Some(account.public_key.public_key_bytes().to_vec()),
        account_signature: Some(signature.to_vec()),
        device_signature: None,
    }
    .encode_to_vec();
    let mut mac =
        <Hmac<Sha256> as KeyInit>::new_from_slice(adv_secret).map_err(|e| anyhow!("hmac key: {e}"))?;
    mac.update(&signed);
    Ok(wa::ADVSignedDeviceIdentityHMAC {
        details: Some(signed),
        hmac: Some(mac.finalize().into_bytes().to_vec()),
        account_type: Some(ADVEncryptionType::E2EE),
    }
    .encode_to_vec())
}

pub fn now_secs() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}
