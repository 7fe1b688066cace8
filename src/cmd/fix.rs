//! `cmdai fix [--status N] -- COMMAND`: a corrected command for one that
//! failed. The widget calls it on an empty line after a failure, with the
//! last history entry and its exit status; with `--next`, another one.

use crate::cmd::args::EngineArgs;
use crate::cmd::generate::validate_command;
use crate::cmd::join_words;
use crate::cmd::suggest::{self, Ask, Runner};
use crate::context::Context;
use crate::error::Result;
use std::ffi::OsString;
use std::time::Instant;

pub struct FixArgs<'a> {
    pub command: &'a [OsString],
    pub status: Option<i32>,
    pub engine: &'a EngineArgs,
    pub json: bool,
    pub widget: bool,
    pub next: Option<&'a str>,
}

pub fn run(args: FixArgs) -> Result<()> {
    suggest::flushing_typeahead(args.widget, || run_inner(args))
}

fn run_inner(args: FixArgs) -> Result<()> {
    let started = Instant::now();
    let failed = join_words(args.command, "command")?;
    let failed = validate_command(&failed, "fix")?;
    let mut runner = Runner::start(args.engine, args.widget)?;
    let ctx = Context::gather(runner.shell);
    let ask = Ask {
        kind: "fix",
        prompt: crate::prompt::build_fix(&ctx, failed, args.status),
        request: failed,
        after: args.next,
        // Handing back the command that just failed is no fix.
        avoid: Some(failed),
        unlisted: None,
    };
    let s = suggest::suggest(&mut runner, &ask)?;
    suggest::print(
        &runner,
        &s,
        suggest::output(args.json, args.widget),
        started,
    )
}
