//! In-process transport: a whatsapp-rust `TransportFactory` whose byte pipe is a
//! pair of channels into a simulator connection task. No sockets.

use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;
use wacore::net::{DisconnectReason, Transport, TransportEvent, TransportFactory};

use crate::Sim;

/// What a connection task hands to its transport adapter.
#[derive(Debug)]
pub(crate) enum Outbound {
    Data(Bytes),
    /// The server ends the connection (after flushing what precedes it).
    Close,
}

/// Builds transports connected to `sim`. Pass it to
/// `Bot::builder().with_transport_factory(...)`.
#[derive(Clone)]
pub struct SimTransportFactory {
    sim: Sim,
}

impl SimTransportFactory {
    pub fn new(sim: &Sim) -> Self {
        Self { sim: sim.clone() }
    }
}

struct ChannelTransport {
    to_server: std::sync::Mutex<Option<mpsc::UnboundedSender<Bytes>>>,
}

#[async_trait]
impl Transport for ChannelTransport {
    async fn send(&self, data: Bytes) -> Result<(), anyhow::Error> {
        let guard = self.to_server.lock().expect("transport lock");
        match guard.as_ref() {
            Some(tx) => tx.send(data).map_err(|_| anyhow::anyhow!("simulator connection closed")),
            None => Err(anyhow::anyhow!("transport disconnected")),
        }
    }

    async fn disconnect(&self) {
        // Dropping the sender ends the server's inbound stream.
        self.to_server.lock().expect("transport lock").take();
    }
}

#[async_trait]
impl TransportFactory for SimTransportFactory {
    async fn create_transport(
        &self,
    ) -> Result<(Arc<dyn Transport>, async_channel::Receiver<TransportEvent>), anyhow::Error> {
        let (in_tx, in_rx) = mpsc::unbounded_channel::<Bytes>();
        let (out_tx, mut out_rx) = mpsc::unbounded_channel::<Outbound>();
        let (ev_tx, ev_rx) = async_channel::unbounded();
        let _ = ev_tx.try_send(TransportEvent::Connected);
        self.sim.accept(in_rx, out_tx);
        tokio::spawn(async move {
            loop {
                match out_rx.recv().await {
                    Some(Outbound::Data(b)) => {
                        if ev_tx.send(TransportEvent::DataReceived(b)).await.is_err() {
                            return;
                        }
                    }
                    Some(Outbound::Close) | None => {
                        let _ = ev_tx.send(TransportEvent::Disconnected(DisconnectReason::StreamEnded)).await;
                        return;
                    }
                }
            }
        });
        Ok((Arc::new(ChannelTransport { to_server: std::sync::Mutex::new(Some(in_tx)) }), ev_rx))
    }
}
