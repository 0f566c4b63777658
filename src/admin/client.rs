//! The operator side of the admin socket (blocking: CLI commands are short).

use std::io::{BufRead, BufReader, ErrorKind, Write};
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
        let io = |source| ClientError::Io { path: "agentlocator.sock".into(), source };
        let mut line = serde_json::to_vec(request).map_err(|e| ClientError::Protocol(e.to_string()))?;
        line.push(b'\n');
        self.stream.write_all(&line).map_err(io)?;
        let mut reply = String::new();
        BufReader::new(&self.stream).read_line(&mut reply).map_err(io)?;
        if reply.is_empty() {
            return Err(ClientError::Protocol("the daemon closed the connection without answering".into()));
        }
        match serde_json::from_str::<AdminReply>(&reply).map_err(|e| ClientError::Protocol(e.to_string()))? {
            AdminReply::Ok(value) => Ok(value),
            AdminReply::Error(error) => Err(ClientError::Remote(error)),
        }
    }
}
