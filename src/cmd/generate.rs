//! `cmdai REQUEST`: a request in plain words → one command; with `--next`,
//! a different one for the same request (Ctrl-G pressed again).

use crate::cmd::args::GenerateArgs;
use crate::cmd::join_words;
use crate::cmd::suggest::{self, flush_typeahead, Ask, Runner};
use crate::context::Context;
use crate::error::{Error, Result};
use std::time::Instant;

/// Longer requests are refused: they would crowd the model's context and no
/// one types a kilobyte at a prompt on purpose.
pub const MAX_REQUEST_BYTES: usize = 2000;

pub fn validate_request(request: &str) -> Result<&str> {
    let request = request.trim();
    if request.is_empty() {
        return Err(Error::usage(
            "the request is empty: describe the command you want, e.g. `cmdai list files by size`",
        ));
    }
    if request.len() > MAX_REQUEST_BYTES {
        return Err(Error::usage(format!(
            "the request is too long ({} bytes; at most {MAX_REQUEST_BYTES}): shorten it",
            request.len()
        )));
    }
    Ok(request)
}

/// The same bounds for a command given to `fix` or `explain`.
pub fn validate_command<'a>(command: &'a str, verb: &str) -> Result<&'a str> {
    if command.trim().is_empty() {
        return Err(Error::usage(format!(
            "the command to {verb} is empty: quote it, e.g. `cmdai {verb} -- 'ls -la'`"
        )));
    }
    validate_request(command)
        .map_err(|e| Error::usage(e.message.replace("the request", "the command")))
}

pub fn run(args: GenerateArgs) -> Result<()> {
    let widget = args.widget;
    let result = run_inner(args);
    if widget {
        flush_typeahead();
    }
    result
}

fn run_inner(args: GenerateArgs) -> Result<()> {
    let started = Instant::now();
    let request = join_words(&args.request, "request")?;
    let request = validate_request(&request)?;
    let mut runner = Runner::start(&args.engine, args.widget)?;
    runner.opts.temperature = args.temperature.max(0.0);
    runner.opts.seed = args.seed;
    let ctx = Context::gather(runner.shell);
    let ask = Ask {
        kind: "generate",
        prompt: crate::prompt::build(&ctx, request),
        request,
        after: args.next.as_deref(),
        avoid: None,
    };
    let s = suggest::suggest(&mut runner, &ask)?;
    suggest::print(
        &runner,
        &s,
        suggest::output(args.json, args.widget),
        started,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;
    use crate::models::resolve::resolve_model;

    #[test]
    fn requests_are_validated() {
        assert_eq!(validate_request("  ls  ").unwrap(), "ls");
        assert_eq!(validate_request(" \t\n").unwrap_err().kind, Kind::Usage);
        let huge = "a".repeat(MAX_REQUEST_BYTES + 1);
        assert!(validate_request(&huge)
            .unwrap_err()
            .message
            .contains("too long"));
    }

    #[test]
    fn unknown_model_names_are_usage_errors() {
        assert_eq!(
            resolve_model("gpt-17", false).err().unwrap().kind,
            Kind::Usage
        );
        assert_eq!(
            resolve_model("/nonexistent/x.gguf", false)
                .err()
                .unwrap()
                .kind,
            Kind::Model
        );
    }
}
