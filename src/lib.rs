//! cmdai: plain English in, one shell command out, with a local model.
//!
//! A request flows one way: `context` → `prompt` → `engine` → `extract` →
//! `safety`; `cli` and `generate` wire it to the command line and the shell
//! widgets; `models` gets the weights onto disk.

pub mod cli;
pub mod config;
pub mod context;
pub mod engine;
pub mod error;
pub mod extract;
pub mod fsutil;
pub mod generate;
pub mod ground;
pub mod model_cmd;
pub mod models;
pub mod prepare;
pub mod prompt;
pub mod safety;
pub mod shell;
