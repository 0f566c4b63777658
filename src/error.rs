//! One error type for every operator command, mapped to the exit codes of
//! the README's "Exit codes" in exactly one place (`AppError::exit_code`).

use std::fmt;

/// What kind of failure ended a command; decides the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// A check or an operation failed (exit 1).
    Failed,
    /// The command line was wrong in a way clap could not see (exit 2).
    Usage,
    /// The configuration is invalid (exit 3).
    Config,
    /// The daemon or a URL could not be reached (exit 4).
    Unreachable,
}

/// An error meant for an operator: one line saying what was wrong and what to do.
#[derive(Debug, Clone)]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
}

impl AppError {
    pub fn failed(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Failed, message: message.into() }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Usage, message: message.into() }
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Config, message: message.into() }
    }
    pub fn unreachable(message: impl Into<String>) -> Self {
        Self { kind: ErrorKind::Unreachable, message: message.into() }
    }

    pub fn exit_code(&self) -> u8 {
        match self.kind {
            ErrorKind::Failed => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Config => 3,
            ErrorKind::Unreachable => 4,
        }
    }
}

impl fmt::Display for AppError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Keep it to one line whatever the source said.
        f.write_str(&self.message.replace('\n', " "))
    }
}

impl std::error::Error for AppError {}

pub type AppResult<T> = Result<T, AppError>;

/// A module's error that ends an operator command with exit 1 and its own
/// message. A module marks its error with this (beside the error, so this
/// module names none of them); an error that needs another exit code has its
/// own `From` instead (`check go`'s).
pub trait CommandFailure: std::error::Error {}

impl<E: CommandFailure> From<E> for AppError {
    fn from(e: E) -> Self {
        AppError::failed(e.to_string())
    }
}
