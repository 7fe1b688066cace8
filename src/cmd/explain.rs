//! `cmdai explain -- COMMAND`: what each part of a command does, in a few
//! model-written lines, then the same risk report as `cmdai check`.

use crate::cmd::args::EngineArgs;
use crate::cmd::generate::validate_command;
use crate::cmd::join_words;
use crate::cmd::suggest::Runner;
use crate::context::Context;
use crate::error::{Error, Kind, Result};
use crate::safety::{assess, report};
use std::ffi::OsString;
use std::io::IsTerminal;

/// Lines of explanation shown; the model is stopped once it starts another.
const MAX_LINES: usize = 6;
/// Tokens for those lines, unless --max-tokens says otherwise.
const MAX_TOKENS: usize = 120;

pub fn run(command: &[OsString], engine: &EngineArgs) -> Result<i32> {
    let command = join_words(command, "command")?;
    let command = validate_command(&command, "explain")?;
    // The risk report needs no model: it comes first, so it is right even
    // when the explanation cannot be had.
    let assessment = assess(command);
    let mut runner = Runner::start(engine, false)?;
    if engine.max_tokens.is_none() {
        runner.opts.max_tokens = MAX_TOKENS;
    }
    // Its prefix is one short system turn: built and saved on first use.
    runner.opts.may_build_prefix = true;
    let ctx = Context::gather(runner.shell);
    let prompt = crate::prompt::build_explain(&ctx, command);
    let generation = runner.generate(&prompt, |text| text.matches('\n').count() >= MAX_LINES)?;
    let text = format!("{}{}", crate::prompt::EXPLAIN_PRIMER, generation.text);
    let lines = tidy(&text);
    if lines.is_empty() {
        return Err(Error::new(
            Kind::NoCommand,
            "the model gave no explanation; `cmdai check` still rates the command",
        ));
    }
    let color = report::use_color(std::io::stdout().is_terminal());
    for line in lines {
        println!("{line}");
    }
    println!();
    print!("{}", report::render(command, &assessment, color));
    Ok(0)
}

/// The explanation's lines: no blanks, no code fences, at most `MAX_LINES`.
fn tidy(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with("```"))
        .take(MAX_LINES)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explanation_is_a_few_plain_lines() {
        let text = "```\n`ls`: lists files\n\n`-a`: hidden ones too\n```\n1\n2\n3\n4\n5\n6";
        let lines = tidy(text);
        assert_eq!(lines[..2], ["`ls`: lists files", "`-a`: hidden ones too"]);
        assert_eq!(lines.len(), MAX_LINES);
    }
}
