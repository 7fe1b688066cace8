//! The command layer: each `cmdai` command is one file with a `run`, on top
//! of the pipeline stages (context, prompt, engine, extract, ground, safety,
//! models), which never import from here.

pub mod args;
mod check;
mod completions;
mod explain;
mod fix;
mod generate;
mod init;
mod model;
mod suggest;

use crate::error::{Error, Result};
use args::{Cli, Command};
use std::ffi::OsString;

/// Runs the command line; the value is the exit code.
pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        None => generate::run(cli.generate).map(|()| 0),
        Some(Command::Init {
            shell,
            key,
            no_bind,
        }) => init::run(shell.into(), key.as_deref(), no_bind).map(|()| 0),
        Some(Command::Model { action }) => model::run(action).map(|()| 0),
        Some(Command::Check { command, json }) => {
            check::run(&join_words(&command, "command")?, json)
        }
        Some(Command::Fix {
            command,
            status,
            engine,
            json,
            widget,
            next,
        }) => fix::run(fix::FixArgs {
            command: &command,
            status,
            engine: &engine,
            json,
            widget,
            next: next.as_deref(),
        })
        .map(|()| 0),
        Some(Command::Explain { command, engine }) => explain::run(&command, &engine),
        Some(Command::Completions { shell }) => {
            completions::run(shell);
            Ok(0)
        }
    }
}

/// Joins argv words into one request; bytes that are not UTF-8 are refused
/// rather than silently mangled.
pub fn join_words(words: &[OsString], what: &str) -> Result<String> {
    let mut parts = Vec::with_capacity(words.len());
    for w in words {
        parts.push(
            w.to_str()
                .ok_or_else(|| Error::usage(format!("the {what} is not valid UTF-8 text")))?,
        );
    }
    Ok(parts.join(" "))
}
