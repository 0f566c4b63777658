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

/// Phone side of pairing by code, stage 2: opens the companion's
/// `link_code_pairing_wrapped_key_bundle` (`salt(32) ‖ iv(12) ‖ AES-GCM`) and derives
/// the adv secret both sides then use for the pair-success HMAC (the mirror of
/// `wacore::pair_code::PairCodeUtils::prepare_key_bundle`).
pub fn open_key_bundle(
    primary_ephemeral: &KeyPair,
    companion_ephemeral_pub: &[u8; 32],
    account: &KeyPair,
    wrapped: &[u8],
) -> Result<([u8; 32], [u8; 32])> {
    use wacore_libsignal::protocol::PublicKey;
    if wrapped.len() != 32 + 12 + 96 + 16 {
        return Err(anyhow!("key bundle is {} bytes", wrapped.len()));
    }
    let companion_eph = PublicKey::from_djb_public_key_bytes(companion_ephemeral_pub)?;
    let eph_shared = primary_ephemeral.private_key.calculate_agreement(&companion_eph)?;
    let mut enc_key = [0u8; 32];
    wacore::crypto::hkdf_sha256_into(
        &eph_shared,
        Some(&wrapped[..32]),
        b"link_code_pairing_key_bundle_encryption_key",
        &mut enc_key,
    )
    .map_err(|_| anyhow!("hkdf"))?;
    let iv: [u8; 12] = wrapped[32..44].try_into().expect("12 bytes");
    let mut bundle = Vec::with_capacity(96);
    wacore_libsignal::crypto::aes_256_gcm_decrypt(&enc_key, &iv, b"", &wrapped[44..], &mut bundle)
        .map_err(|e| anyhow!("key bundle does not open (wrong code?): {e:?}"))?;
    if bundle.len() != 96 {
        return Err(anyhow!("key bundle plaintext is {} bytes", bundle.len()));
    }
    let companion_identity: [u8; 32] = bundle[..32].try_into().expect("32 bytes");
    let identity_shared = account
        .private_key
        .calculate_agreement(&PublicKey::from_djb_public_key_bytes(&companion_identity)?)?;
    let mut combined = Vec::with_capacity(96);
    combined.extend_from_slice(&eph_shared);
    combined.extend_from_slice(&identity_shared);
    combined.extend_from_slice(&bundle[64..96]);
    let mut adv = [0u8; 32];
    wacore::crypto::hkdf_sha256_into(&combined, None, b"adv_secret", &mut adv)
        .map_err(|_| anyhow!("hkdf"))?;
    Ok((companion_identity, adv))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wacore::pair::{DeviceState, PairUtils};

    fn companion() -> DeviceState {
        DeviceState {
            identity_key: KeyPair::generate(&mut rand::rng()),
            noise_key: KeyPair::generate(&mut rand::rng()),
            adv_secret_key: [9u8; 32],
        }
    }

    #[test]
    fn the_clients_own_check_accepts_the_phones_pair_success() {
        let dev = companion();
        let account = KeyPair::generate(&mut rand::rng());
        let identity: [u8; 32] = dev.identity_key.public_key.public_key_bytes().try_into().unwrap();
        let blob = device_identity_hmac(&account, &identity, &dev.adv_secret_key, 4, 4).unwrap();
        let (_, key_index) = PairUtils::do_pair_crypto(&dev, &blob).unwrap();
        assert_eq!(key_index, 4);
    }

    #[test]
    fn a_wrong_adv_secret_is_an_hmac_mismatch() {
        let dev = companion();
        let account = KeyPair::generate(&mut rand::rng());
        let identity: [u8; 32] = dev.identity_key.public_key.public_key_bytes().try_into().unwrap();
        let blob = device_identity_hmac(&account, &identity, &[1u8; 32], 1, 1).unwrap();
        let err = PairUtils::do_pair_crypto(&dev, &blob).unwrap_err();
        assert_eq!(err.text, "hmac-mismatch");
    }

    #[test]
    fn parses_the_five_field_qr() {
        let dev = companion();
        let qr =
            PairUtils::make_qr_data(&dev, "2@abc", wacore::companion_reg::CompanionWebClientType::default());
        let q = parse_qr(&qr).unwrap();
        assert_eq!(q.pairing_ref, "2@abc");
        assert_eq!(q.adv_secret, vec![9u8; 32]);
        assert_eq!(&q.noise_pub[..], dev.noise_key.public_key.public_key_bytes());
        assert!(parse_qr("only,three,fields").is_err());
    }
}
