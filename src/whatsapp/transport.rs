//! The WebSocket transport every tenant's client connects through: one for
//! the daemon, with one TLS configuration and a short event queue.
//!
//! It does what whatsapp-rust's own tokio transport does (dial, then a task
//! that reads frames into an event channel while sends go straight to the
//! socket), with two costs per tenant taken out:
//! - that transport, given no connector, builds a fresh rustls client
//!   configuration at every connect (root store, and a resumption cache sized
//!   for 256 servers, about 15 KiB: `bench/tls`), and each TLS stream keeps its
//!   own for the connection's life. Here every connection shares one, and its
//!   session cache lets reconnects resume TLS sessions;
//! - its event channel holds 64 frames, allocated up front (about 5 KiB per
//!   connection). The client handles frames one at a time, so a few read
//!   ahead keep it busy; past them the socket's own buffers hold the rest.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Mutex};
use tokio_websockets::{ClientBuilder, CloseCode, Connector, MaybeTlsStream, Message, WebSocketStream};
use whatsapp_rust::transport::{
    default_tls_connector, DisconnectReason, Transport, TransportEvent, TransportFactory,
};
use whatsapp_rust::wacore::net::{WHATSAPP_WEB_ORIGIN, WHATSAPP_WEB_WS_URL};

/// Frames read ahead of the client.
const EVENT_QUEUE: usize = 8;

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// A cheap handle on the daemon's one transport; each tenant's client gets a
/// clone.
#[derive(Clone)]
pub struct SharedTransport(Arc<Dialer>);

struct Dialer {
    url: String,
    connector: Connector,
}

impl SharedTransport {
    /// Connects to `ws_url` (a simulated network) when given, else to
    /// WhatsApp. The configuration has checked `ws_url` parses.
    pub fn new(ws_url: Option<&str>) -> SharedTransport {
        let url = ws_url.unwrap_or(WHATSAPP_WEB_WS_URL).to_string();
        SharedTransport(Arc::new(Dialer { url, connector: default_tls_connector() }))
    }

    /// Whether two handles share one dialer (and so one TLS configuration).
    #[cfg(test)]
    fn same_as(&self, other: &SharedTransport) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl std::fmt::Debug for SharedTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTransport").field("url", &self.0.url).finish_non_exhaustive()
    }
}

#[async_trait]
impl TransportFactory for SharedTransport {
    async fn create_transport(
        &self,
    ) -> Result<(Arc<dyn Transport>, async_channel::Receiver<TransportEvent>), anyhow::Error> {
        // The configuration refused a URL this would not parse.
        let url: http::Uri =
            self.0.url.parse().map_err(|e| anyhow::anyhow!("cannot parse {}: {e}", self.0.url))?;
        let (socket, _) = ClientBuilder::from_uri(url)
            .connector(&self.0.connector)
            // WhatsApp Web's origin, also against the simulator: it names the
            // endpoint being stood in for, not the host dialled.
            .add_header(http::header::ORIGIN, http::HeaderValue::from_static(WHATSAPP_WEB_ORIGIN))?
            .connect()
            .await
            .map_err(|e| anyhow::anyhow!("WebSocket connect failed: {e}"))?;
        let (sink, stream) = socket.split();
        let (events, events_out) = async_channel::bounded(EVENT_QUEUE);
        let (shutdown, shutdown_seen) = watch::channel(false);
        // Queued before the reader starts, so it precedes every frame.
        let _ = events.try_send(TransportEvent::Connected);
        tokio::spawn(read_frames(stream, events, shutdown_seen));
        Ok((Arc::new(WsTransport { sink: Mutex::new(Some(sink)), shutdown }), events_out))
    }
}

/// One connection's sending half; the reading half is [`read_frames`].
struct WsTransport {
    sink: Mutex<Option<SplitSink<Socket, Message>>>,
    shutdown: watch::Sender<bool>,
}

#[async_trait]
impl Transport for WsTransport {
    async fn send(&self, data: Bytes) -> Result<(), anyhow::Error> {
        let mut sink = self.sink.lock().await;
        let sink = sink.as_mut().ok_or_else(|| anyhow::anyhow!("Socket is closed"))?;
        sink.send(Message::binary(data)).await.map_err(|e| anyhow::anyhow!("WebSocket send error: {e}"))
    }

    async fn disconnect(&self) {
        let _ = self.shutdown.send(true);
        if let Some(mut sink) = self.sink.lock().await.take() {
            let _ = sink.send(Message::close(Some(CloseCode::NORMAL_CLOSURE), "")).await;
        }
    }
}

/// Hands each binary frame to the client until the socket ends or the
/// transport is told to disconnect; the last event says why it ended.
async fn read_frames(
    mut stream: SplitStream<Socket>,
    events: async_channel::Sender<TransportEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    // Stays `Unknown` when we disconnected: the client knows why.
    let mut reason = DisconnectReason::Unknown;
    loop {
        let frame = tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            frame = stream.next() => frame,
        };
        match frame {
            Some(Ok(message)) if message.is_binary() => {
                let data = TransportEvent::DataReceived(Bytes::from(message.into_payload()));
                tokio::select! {
                    biased;
                    _ = shutdown.changed() => break,
                    sent = events.send(data) => if sent.is_err() { break },
                }
            }
            Some(Ok(message)) if message.is_close() => {
                let (code, text) = match message.as_close() {
                    Some((code, text)) => (Some(u16::from(code)), text.to_owned()),
                    None => (None, String::new()),
                };
                reason = DisconnectReason::ServerClose { code, reason: text };
                break;
            }
            // Pings and pongs are answered by tokio-websockets; WhatsApp sends no text.
            Some(Ok(_)) => {}
            Some(Err(e)) => {
                reason = DisconnectReason::ReadError(e.to_string());
                break;
            }
            None => {
                reason = DisconnectReason::StreamEnded;
                break;
            }
        }
    }
    let _ = events.send(TransportEvent::Disconnected(reason)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clones_share_one_dialer() {
        let transport = SharedTransport::new(Some("ws://127.0.0.1:9/ws"));
        assert!(transport.same_as(&transport.clone()));
        let whatsapp = SharedTransport::new(None);
        assert!(!transport.same_as(&whatsapp));
        assert_eq!(whatsapp.0.url, WHATSAPP_WEB_WS_URL);
    }
}
