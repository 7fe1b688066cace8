//! One error type for the whole crate. Every error carries the exit code the
//! shell widgets rely on (see DESIGN.md, "Command line"), so `main` never has
//! to guess how to exit.

use std::fmt;

/// What went wrong, as far as the exit code is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The model answered, but nothing in it is a usable command (exit 1).
    NoCommand,
    /// The request or the flags are wrong (exit 2).
    Usage,
    /// The model is not installed, or its file is unreadable or corrupt (exit 3).
    Model,
    /// The model is installed but its prompt cache is not built yet (exit 3).
    NotReady,
    /// Safety refused to hand over a critical command (exit 4).
    Blocked,
    /// Anything else: I/O, a failed download, an engine failure (exit 1).
    Other,
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::NoCommand | Kind::Other => 1,
            Kind::Usage => 2,
            Kind::Model | Kind::NotReady => 3,
            Kind::Blocked => 4,
        }
    }
}

/// An error with a one-line message meant for the user.
#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(Kind::Usage, message)
    }
    pub fn model(message: impl Into<String>) -> Self {
        Self::new(Kind::Model, message)
    }
    pub fn other(message: impl Into<String>) -> Self {
        Self::new(Kind::Other, message)
    }
    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Adds what the program was doing to a lower-level error.
pub trait Context<T> {
    fn context(self, kind: Kind, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: fmt::Display> Context<T> for std::result::Result<T, E> {
    fn context(self, kind: Kind, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::new(kind, format!("{}: {}", what(), one_line(&e.to_string()))))
    }
}

/// Candle and tokenizers errors can span lines (backtraces, nested causes);
/// the widgets show one line, so keep the first.
pub fn one_line(s: &str) -> String {
    s.lines().next().unwrap_or("").trim().to_string()
}

impl From<candle_core::Error> for Error {
    fn from(e: candle_core::Error) -> Self {
        Error::other(format!("inference failed: {}", one_line(&e.to_string())))
    }
}
