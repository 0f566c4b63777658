//! Server (responder) side of WhatsApp's Noise XX handshake, and the framed,
//! counter-IV AES-GCM transport that follows it.
//!
//! Reuses `wacore-noise`'s `NoiseHandshake` (the same symmetric state the client
//! runs), so both ends stay byte-compatible by construction.

use anyhow::{Context, Result, anyhow};
use buffa::Message as _;
use wacore_binary::consts::{NOISE_PATTERN_XX, WA_CONN_HEADER};
use wacore_libsignal::protocol::KeyPair;
use wacore_noise::{NoiseCipher, NoiseHandshake};
use waproto::whatsapp::{self as wa, HandshakeMessage, cert_chain::noise_certificate};

/// The server's long-lived Noise identity plus the certificate chain it presents.
pub struct ServerIdentity {
    pub static_kp: KeyPair,
    pub cert_chain: Vec<u8>,
}

impl ServerIdentity {
    pub fn generate() -> Self {
        let static_kp = KeyPair::generate(&mut rand::rng());
        let key: [u8; 32] =
            static_kp.public_key.public_key_bytes().try_into().expect("curve25519 public key is 32 bytes");
        Self { cert_chain: build_cert_chain(&key), static_kp }
    }
}

/// A chain the client accepts only with `danger-skip-cert-chain-verify`
/// (signatures are zero: nobody but WhatsApp holds the root key).
///
/// Both `not_after` values lie in the past on purpose: the client then never
/// caches the chain for a Noise IK resume (`select_pattern` falls back to XX),
/// so this responder only has to speak XX. The client does not check validity
/// times during XX itself.
pub fn build_cert_chain(server_static_pub: &[u8; 32]) -> Vec<u8> {
    let intermediate = noise_certificate::Details {
        serial: Some(1),
        issuer_serial: Some(0),
        key: Some(vec![0xCC; 32]),
        not_before: Some(1_000_000_000),
        not_after: Some(1_000_000_001),
    };
    let leaf = noise_certificate::Details {
        serial: Some(2),
        issuer_serial: Some(1),
        key: Some(server_static_pub.to_vec()),
        not_before: Some(1_000_000_000),
        not_after: Some(1_000_000_001),
    };
    wa::CertChain {
        leaf: buffa::MessageField::some(wa::cert_chain::NoiseCertificate {
            details: Some(leaf.encode_to_vec()),
            signature: Some(vec![0u8; 64]),
        }),
        intermediate: buffa::MessageField::some(wa::cert_chain::NoiseCertificate {
            details: Some(intermediate.encode_to_vec()),
            signature: Some(vec![0u8; 64]),
        }),
    }
    .encode_to_vec()
}

/// Responder state between the client's hello and its finish.
pub struct XxResponder {
    noise: NoiseHandshake,
    ephemeral: KeyPair,
}

impl XxResponder {
    /// Consumes the client's `HandshakeMessage{client_hello}`; returns the responder
    /// and the encoded `server_hello` to send back.
    pub fn respond(client_hello: &[u8], server: &ServerIdentity) -> Result<(Self, Vec<u8>)> {
        let msg = HandshakeMessage::decode_from_slice(client_hello).context("client hello")?;
        let hello = msg.client_hello.into_option().ok_or_else(|| anyhow!("no client_hello"))?;
        if hello.r#static.is_some() {
            // An IK attempt: our expired chain should prevent this.
            return Err(anyhow!("Noise IK is not supported by the simulator"));
        }
        let client_eph =
            hello.ephemeral.filter(|e| e.len() == 32).ok_or_else(|| anyhow!("client ephemeral missing"))?;

        let mut noise = NoiseHandshake::new(NOISE_PATTERN_XX, &WA_CONN_HEADER)?;
        noise.authenticate(&client_eph);
        let ephemeral = KeyPair::generate(&mut rand::rng());
        noise.authenticate(ephemeral.public_key.public_key_bytes());
        // ee
        noise.mix_shared_secret(ephemeral.private_key.serialize(), &client_eph)?;
        let enc_static = noise.encrypt(server.static_kp.public_key.public_key_bytes())?;
        // es (server static with client ephemeral)
        noise.mix_shared_secret(server.static_kp.private_key.serialize(), &client_eph)?;
        let enc_cert = noise.encrypt(&server.cert_chain)?;

        let reply = HandshakeMessage {
            server_hello: buffa::MessageField::some(wa::handshake_message::ServerHello {
                ephemeral: Some(ephemeral.public_key.public_key_bytes().to_vec()),
                r#static: Some(enc_static),
                payload: Some(enc_cert),
                ..Default::default()
            }),
            ..Default::default()
        };
        Ok((Self { noise, ephemeral }, reply.encode_to_vec()))
    }

    /// Consumes `client_finish`; returns the client's static key, its decrypted
    /// `ClientPayload`, and the transport ciphers (server write, server read).
    pub fn finish(mut self, client_finish: &[u8]) -> Result<Finished> {
        let msg = HandshakeMessage::decode_from_slice(client_finish).context("client finish")?;
        let fin = msg.client_finish.into_option().ok_or_else(|| anyhow!("no client_finish"))?;
        let client_static = self.noise.decrypt(fin.r#static.as_deref().unwrap_or_default())?;
        let client_static: [u8; 32] =
            client_static.try_into().map_err(|_| anyhow!("client static is not 32 bytes"))?;
        // se (server ephemeral with client static)
        self.noise.mix_shared_secret(self.ephemeral.private_key.serialize(), &client_static)?;
        let payload = self.noise.decrypt(fin.payload.as_deref().unwrap_or_default())?;
        let payload = wa::ClientPayload::decode_from_slice(&payload).context("client payload")?;
        // split() yields (initiator write, initiator read): mirrored for the responder.
        let (client_write, client_read) = self.noise.finish()?;
        Ok(Finished { client_static, payload, write: client_read, read: client_write })
    }
}

pub struct Finished {
    pub client_static: [u8; 32],
    pub payload: wa::ClientPayload,
    pub write: NoiseCipher,
    pub read: NoiseCipher,
}

/// Post-handshake transport: one counter per direction, 3-byte length frames.
pub struct Transport {
    write: NoiseCipher,
    read: NoiseCipher,
    write_counter: u32,
    read_counter: u32,
}

impl Transport {
    pub fn new(write: NoiseCipher, read: NoiseCipher) -> Self {
        Self { write, read, write_counter: 0, read_counter: 0 }
    }

    /// Encrypts one plaintext (flag byte + binary node) into a length-prefixed frame.
    pub fn seal(&mut self, plaintext: &[u8]) -> Result<Vec<u8>> {
        let ct = self.write.encrypt_with_counter(self.write_counter, plaintext)?;
        self.write_counter += 1;
        wacore_noise::framing::encode_frame(&ct, None)
    }

    /// Decrypts one frame body (without its length prefix).
    pub fn open(&mut self, frame: &[u8]) -> Result<Vec<u8>> {
        let mut buf = frame.to_vec();
        self.read.decrypt_in_place_with_counter(self.read_counter, &mut buf)?;
        self.read_counter += 1;
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wacore_noise::XxHandshakeState;

    /// The client's own XX initiator completes against this responder, and the
    /// transport keys agree in both directions.
    #[test]
    fn xx_round_trip_with_the_client_state_machine() {
        let server = ServerIdentity::generate();
        let client_static = KeyPair::generate(&mut rand::rng());
        let payload =
            wa::ClientPayload { username: Some(15550001111), device: Some(3), ..Default::default() }
                .encode_to_vec();
        let mut client = XxHandshakeState::new(client_static, payload, &WA_CONN_HEADER).unwrap();
        let hello = client.build_client_hello().unwrap();
        let (responder, server_hello) = XxResponder::respond(&hello, &server).unwrap();
        let finish = client.read_server_hello_and_build_client_finish(&server_hello).unwrap();
        let fin = responder.finish(&finish).unwrap();
        assert_eq!(fin.payload.username, Some(15550001111));
        assert_eq!(fin.payload.device, Some(3));
        let out = client.finish().unwrap();
        // Server -> client.
        let mut t = Transport::new(fin.write, fin.read);
        let frame = t.seal(b"\0hello").unwrap();
        let mut body = frame[3..].to_vec();
        out.read_cipher.decrypt_in_place_with_counter(0, &mut body).unwrap();
        assert_eq!(body, b"\0hello");
        // Client -> server.
        let ct = out.write_cipher.encrypt_with_counter(0, b"\0hi").unwrap();
        assert_eq!(t.open(&ct).unwrap(), b"\0hi");
    }
}
