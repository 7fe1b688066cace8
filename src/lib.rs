//! cmdai: plain English in, one shell command out, with a local model.
//!
//! A request flows one way: `context` → `prompt` → `engine` → `extract` →
//! `ground` → `safety`; `cmd` wires it to the command line and the shell
//! widgets (one file per command); `models` gets the weights onto disk and
//! `prepare` builds the prompt cache ahead of the first request. `remote`
//! asks an OpenAI-compatible server instead of the local engine when an
//! endpoint is configured.

mod alternatives;
pub mod cmd;
mod config;
pub mod context;
pub mod engine;
pub mod error;
mod extract;
mod fsutil;
mod ground;
mod installed;
pub mod models;
mod prepare;
pub mod prompt;
mod remote;
pub mod safety;
mod shell;
