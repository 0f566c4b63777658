//! The operator side of the admin socket (blocking: CLI commands are short).

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use super::{AdminError, AdminReply, AdminRequest};

/// How long a command waits for the daemon's answer.
const REPLY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct AdminClient {
    stream: UnixStream,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("admin socket {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the daemon sent a reply this command cannot read: {0}")]
    Protocol(String),
    #[error(transparent)]
    Remote(#[from] AdminError),
}

impl AdminClient {
    /// Connects when a daemon listens on `path`; `Ok(None)` when none runs (no
    /// socket, or a stale one left by a daemon that died).
    pub fn connect(path: &Path) -> Result<Option<AdminClient>, ClientError> {
        match UnixStream::connect(path) {
            Ok(stream) => {
                stream
                    .set_read_timeout(Some(REPLY_TIMEOUT))
                    .and_then(|()| stream.set_write_timeout(Some(REPLY_TIMEOUT)))
                    .map_err(|source| ClientError::Io { path: path.display().to_string(), source })?;
                Ok(Some(AdminClient { stream }))
            }
            Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::ConnectionRefused) => Ok(None),
            Err(source) => Err(ClientError::Io { path: path.display().to_string(), source }),
        }
    }

    /// Sends one request and reads its single reply.
    pub fn call(&mut self, request: &AdminRequest) -> Result<serde_json::Value, ClientError> {
        self.send(request)?;
        self.next_reply()
    }

    /// Sends a request whose answer is a stream of replies (read them with
    /// [`AdminClient::next_reply`]).
    pub fn send(&mut self, request: &AdminRequest) -> Result<(), ClientError> {
        let mut line = serde_json::to_vec(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.stream.write_all(&line).map_err(socket_error)
    }

    /// Reads the next reply line; waits at most `timeout` when given.
    pub fn next_reply_within(&mut self, timeout: Duration) -> Result<serde_json::Value, ClientError> {
        self.stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1)))).map_err(socket_error)?;
        self.next_reply()
    }

    pub fn next_reply(&mut self) -> Result<serde_json::Value, ClientError> {
        // Byte by byte up to the newline: a buffered reader would swallow the
        // start of the next reply of a stream.
        let mut reply = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            match self.stream.read(&mut byte).map_err(socket_error)? {
                0 if reply.is_empty() => {
                    return Err(ClientError::Protocol(
                        "the daemon closed the connection without answering".into(),
                    ))
                }
                0 => break,
                _ if byte[0] == b'\n' => break,
                _ => reply.push(byte[0]),
            }
        }
        match serde_json::from_slice::<AdminReply>(&reply)
            .map_err(|e| ClientError::Protocol(e.to_string()))?
        {
            AdminReply::Ok(value) => Ok(value),
            AdminReply::Error(error) => Err(ClientError::Remote(error)),
        }
    }
}

fn socket_error(source: std::io::Error) -> ClientError {
    ClientError::Io { path: "agentlocator.sock".into(), source }
}
