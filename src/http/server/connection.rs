//! One client connection: hyper serving the router, and the two clocks that
//! close it when the client stalls.
//!
//! A connection is in one phase at a time:
//! - idle (since it opened, or since its last response ended): closed after
//!   `idle_timeout`;
//! - reading a head (bytes arrived while idle): closed unless the request line
//!   and headers are complete `header_read_timeout` after the first byte;
//! - busy (a request in flight, until its response body is done): no clock
//!   here, the router's request time limit applies.

use std::convert::Infallible;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::Router;
use http_body::{Frame, SizeHint};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tower::ServiceExt;

use super::activity::{Activity, InFlight};
use super::registry::Slot;
use super::Limits;

/// The router's response body, carrying its request's [`InFlight`].
struct TrackedBody {
    inner: Body,
    _in_flight: InFlight,
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The socket, telling the connection's [`Activity`] when bytes arrive.
struct Watched {
    stream: TcpStream,
    activity: Arc<Activity>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.bytes_read();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Serves one accepted connection on its own task until the client is done,
/// a clock runs out, it is evicted, or shutdown has let its request finish.
pub(super) fn spawn(
    stream: TcpStream,
    router: Router,
    builder: &http1::Builder,
    limits: Limits,
    slot: Slot,
    graceful: &GracefulShutdown,
) {
    let activity = slot.activity.clone();
    let io = TokioIo::new(Watched { stream, activity: activity.clone() });
    let requests = activity.clone();
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let in_flight = requests.request_started();
        let router = router.clone();
        async move {
            let response = router.oneshot(request.map(Body::new)).await?;
            Ok::<_, Infallible>(response.map(|inner| TrackedBody { inner, _in_flight: in_flight }))
        }
    });
    let connection = graceful.watch(builder.serve_connection(io, service));
    tokio::spawn(async move {
        // Held until the connection is closed: its place under the cap.
        let _slot = slot;
        tokio::select! {
            biased;
            served = connection => {
                if let Err(error) = served {
                    tracing::debug!(%error, "http connection ended with an error");
                }
            }
            reason = activity.closing(limits) => {
                tracing::debug!(reason = reason.as_str(), "http connection closed");
                metrics::counter!("agentlocator_http_connections_closed_total", "reason" => reason.as_str())
                    .increment(1);
            }
        }
    });
}
