//! cmdai: plain English in, one shell command out, with a local model.
//!
//! The flow is one way: `context` → `prompt` → `engine` → `extract` →
//! `safety`; `cli` wires it to the command line and the shell widgets.

pub mod context;
pub mod engine;
pub mod error;
pub mod extract;
pub mod fsutil;
pub mod prompt;
