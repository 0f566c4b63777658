//! The HTTP client every tenant's WhatsApp client uses for media: uploads to
//! and downloads from WhatsApp's media hosts. One client (one connection
//! pool) for all tenants, with limits the library's default lacks: a connect
//! and per-read time limit (a stalled host is noticed and the download
//! retried), a time limit for the whole transfer, no redirects, and a cap on
//! what a host may send (the size cap plus WhatsApp's padding and MAC).
//!
//! The media hosts come from WhatsApp's server (the `media_conn` query),
//! never from a message: the inbound path builds its download from the
//! message's path and keys only (`media_in`), so a contact cannot point us at
//! a host of their choosing.
//!
//! Builds with the `sim` feature talk to the simulated network, whose media
//! host is a plain-HTTP listener on loopback: there, and only for loopback
//! hosts, `https://` becomes `http://`.

use std::time::Duration;

use async_trait::async_trait;
use whatsapp_rust::http::{HttpClient, HttpRequest, HttpResponse, UreqHttpClient};
use whatsapp_rust::wacore::net::{StreamingHttpResponse, UploadBody};

/// What a host may send beyond the file itself: AES-CBC padding (≤ 16
/// bytes), the 10-byte MAC, and headroom for small JSON answers.
const BODY_OVERHEAD: u64 = 64 * 1024;

/// Connecting to a media host and waiting for any one read.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const READ_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone)]
pub struct MediaHttp {
    inner: UreqHttpClient,
}

impl MediaHttp {
    /// `max_bytes`: the largest file; `transfer_timeout`: one whole transfer.
    pub fn new(max_bytes: u64, transfer_timeout: Duration) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_per_read(Some(READ_TIMEOUT.min(transfer_timeout)))
            .timeout_global(Some(transfer_timeout))
            // Small buffers: media is streamed, the JSON answers are tiny.
            .input_buffer_size(16 * 1024)
            .output_buffer_size(16 * 1024)
            .max_idle_connections(8)
            .max_idle_connections_per_host(4)
            .user_agent(concat!("agentlocator/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let inner =
            UreqHttpClient::with_agent(agent).with_max_body_bytes(max_bytes.saturating_add(BODY_OVERHEAD));
        Self { inner }
    }
}

/// `https://` to a loopback host becomes `http://` in `sim` builds (the
/// simulated media host speaks plain HTTP); every other URL is unchanged.
fn route(mut request: HttpRequest) -> HttpRequest {
    if cfg!(feature = "sim") {
        if let Some(rest) = request.url.strip_prefix("https://") {
            let host = rest.split(['/', '?']).next().unwrap_or_default();
            let loopback = ["127.0.0.1:", "localhost:", "[::1]:"].iter().any(|h| host.starts_with(h));
            if loopback {
                request.url = format!("http://{rest}");
            }
        }
    }
    request
}

#[async_trait]
impl HttpClient for MediaHttp {
    async fn execute(&self, request: HttpRequest) -> anyhow::Result<HttpResponse> {
        self.inner.execute(route(request)).await
    }

    fn supports_streaming(&self) -> bool {
        true
    }

    fn execute_streaming(&self, request: HttpRequest) -> anyhow::Result<StreamingHttpResponse> {
        self.inner.execute_streaming(route(request))
    }

    fn supports_upload_streaming(&self) -> bool {
        true
    }

    fn execute_upload(
        &self,
        request: HttpRequest,
        body: UploadBody,
        content_length: u64,
    ) -> anyhow::Result<HttpResponse> {
        self.inner.execute_upload(route(request), body, content_length)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_hosts_lose_tls_and_only_in_sim_builds() {
        let routed = |url: &str| route(HttpRequest::get(url)).url;
        let remote = "https://mmg.whatsapp.net/v/t62/x.enc?auth=a&token=b";
        assert_eq!(routed(remote), remote);
        // A loopback name hidden in the path or query changes nothing.
        let tricky = "https://mmg.whatsapp.net/127.0.0.1:80/x";
        assert_eq!(routed(tricky), tricky);
        let local = "https://127.0.0.1:8765/mms/image/x?auth=a";
        let expected = if cfg!(feature = "sim") { "http://127.0.0.1:8765/mms/image/x?auth=a" } else { local };
        assert_eq!(routed(local), expected);
    }
}
