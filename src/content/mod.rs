//! Stored content the API serves to a tenant's backend: WhatsApp media a
//! contact sent and Twilio call recordings. The store keeps the bytes
//! (`store::blobs`) and rows (`store::content`); events carry absolute URLs
//! to them, built here. Serving a file over HTTP (ranges, `ETag`) is
//! `http::file`.

use std::net::SocketAddr;

use crate::ids::TenantId;
use crate::paths::ContentKind;

/// Whether `id` can name stored content of `kind`: a media id is
/// `[A-Za-z0-9_-]{1,64}`, a recording a Twilio RecordingSid. Checked before
/// the id reaches the database or a path.
pub fn valid_id(kind: ContentKind, id: &str) -> bool {
    match kind {
        ContentKind::WhatsappMedia => {
            (1..=64).contains(&id.len())
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        }
        ContentKind::Recording => {
            crate::ids::twilio_sid::parse(crate::ids::twilio_sid::RECORDING, id).is_some()
        }
    }
}

/// Builds the absolute URLs events carry.
#[derive(Debug, Clone)]
pub struct PublicUrls {
    /// No trailing slash.
    base: String,
}

impl PublicUrls {
    /// From `http.public_base_url` when set; else the address the daemon
    /// listens on (an unspecified address as loopback), which only reaches
    /// backends on the same machine: the daemon warns at start.
    pub fn new(public_base_url: Option<&str>, listening: SocketAddr) -> Self {
        let base = match public_base_url {
            Some(base) => base.trim_end_matches('/').to_string(),
            None => {
                let mut addr = listening;
                if addr.ip().is_unspecified() {
                    addr.set_ip(match addr {
                        SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                        SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
                    });
                }
                format!("http://{addr}")
            }
        };
        Self { base }
    }

    /// The base every URL starts with (no trailing slash).
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Where the API serves one stored file.
    pub fn of(&self, kind: ContentKind, tenant: &TenantId, id: &str) -> String {
        match kind {
            ContentKind::WhatsappMedia => format!("{}/api/whatsapp/{tenant}/media/{id}", self.base),
            ContentKind::Recording => format!("{}/api/recordings/{tenant}/{id}", self.base),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked_per_kind() {
        let media = ContentKind::WhatsappMedia;
        assert!(valid_id(media, "3EB0_abc-XYZ"));
        assert!(valid_id(media, &"a".repeat(64)));
        for bad in ["", "../x", "a/b", "a.b", "a b", "é", &"a".repeat(65)] {
            assert!(!valid_id(media, bad), "{bad}");
        }
        let sid = "RE0123456789abcdef0123456789abcdef";
        assert!(valid_id(ContentKind::Recording, sid));
        assert!(!valid_id(ContentKind::Recording, "RE0123"));
        assert!(!valid_id(ContentKind::Recording, "AC0123456789abcdef0123456789abcdef"));
    }

    #[test]
    fn urls_use_the_public_base_else_the_listening_address() {
        let tenant = TenantId::parse("acme").expect("id");
        let listening: SocketAddr = "0.0.0.0:5000".parse().expect("addr");
        let public = PublicUrls::new(Some("https://gw.example.com/"), listening);
        assert_eq!(
            public.of(ContentKind::WhatsappMedia, &tenant, "m1"),
            "https://gw.example.com/api/whatsapp/acme/media/m1"
        );
        let local = PublicUrls::new(None, listening);
        assert_eq!(
            local.of(ContentKind::Recording, &tenant, "RE0123"),
            "http://127.0.0.1:5000/api/recordings/acme/RE0123"
        );
    }
}
