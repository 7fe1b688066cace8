//! `cmdai REQUEST`: a request in plain words → one command; with `--next`,
//! a different one for the same request (Ctrl-G pressed again).

use crate::cmd::args::GenerateArgs;
use crate::cmd::join_words;
use crate::cmd::suggest::{self, Ask, Output, Runner, Unlisted};
use crate::config::{Flags, Settings};
use crate::context::{Context, Shell};
use crate::error::{Error, Kind, Result};
use std::time::{Duration, Instant};

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
    suggest::flushing_typeahead(args.widget, || run_inner(args))
}

fn run_inner(args: GenerateArgs) -> Result<()> {
    let started = Instant::now();
    let request = join_words(&args.request, "request")?;
    let request = validate_request(&request)?;
    let settings = Settings::resolve(Flags {
        endpoint: args.endpoint.clone(),
        remote_model: args.remote_model.clone(),
        local: args.local,
        ..args.engine.flags()
    })?;
    if let Some(endpoint) = &settings.endpoint {
        return ask_remote(&args, &settings, endpoint, request, started);
    }
    let mut runner = Runner::start(&args.engine, args.widget)?;
    runner.opts.temperature = args.temperature.max(0.0);
    runner.opts.seed = args.seed;
    let ctx = Context::gather(runner.shell);
    let unlisted = (!ctx.listing.is_empty()).then(|| Unlisted {
        prompt: crate::prompt::build(
            &Context {
                listing: Vec::new(),
                ..ctx.clone()
            },
            request,
        ),
        listing: ctx.listing.clone(),
    });
    let ask = Ask {
        kind: "generate",
        prompt: crate::prompt::build(&ctx, request),
        request,
        after: args.next.as_deref(),
        avoid: None,
        unlisted,
    };
    let s = suggest::suggest(&mut runner, &ask)?;
    suggest::print(
        &runner,
        &s,
        suggest::output(args.json, args.widget),
        started,
    )
}

/// The same prompt as chat messages to an OpenAI-compatible server. Ctrl-G
/// again asks it once more with some randomness, since a server keeps no
/// alternatives between calls.
fn ask_remote(
    args: &GenerateArgs,
    settings: &Settings,
    endpoint: &str,
    request: &str,
    started: Instant,
) -> Result<()> {
    let endpoint = crate::remote::Endpoint::parse(endpoint)?;
    // The HTTP client keeps the timeout itself and says which step hung;
    // the watchdog only backs it up.
    suggest::arm_watchdog(settings.timeout, Duration::from_secs(2), args.widget);
    let shell = args.engine.shell.unwrap_or_else(Shell::from_env);
    let ctx = Context::gather(shell);
    let messages = crate::prompt::messages(&ctx, request);
    let (temperature, seed) = match args.next {
        Some(_) => (
            0.8,
            started.elapsed().as_nanos() as u64 ^ u64::from(std::process::id()),
        ),
        None => (args.temperature.max(0.0), args.seed),
    };
    let reply = crate::remote::chat(
        &endpoint,
        &crate::remote::Request {
            messages: &messages,
            model: settings.remote_model.as_deref(),
            max_tokens: settings.max_tokens,
            temperature,
            seed,
            timeout: Duration::from_secs(settings.timeout),
            api_key: settings.api_key.as_ref(),
        },
    )?;
    let cmd = crate::extract::command_in_reply(&reply.content)?;
    let cmd = suggest::ground(&cmd, request, shell);
    if args
        .next
        .as_deref()
        .is_some_and(|n| crate::alternatives::same(n, &cmd))
    {
        return Err(Error::new(
            Kind::NoCommand,
            "no other command found for this request: try rephrasing it",
        ));
    }
    let report = serde_json::json!({
        "backend": "remote",
        "endpoint": endpoint.shown(),
        "model": reply.model.as_deref().or(settings.remote_model.as_deref()),
        "shell": shell.name(),
        "finish_reason": reply.finish_reason,
        "tokens": {
            "prompt": reply.prompt_tokens,
            "cached": reply.cached_tokens,
            "generated": reply.generated_tokens,
        },
        "timings_ms": {
            "request": suggest::round(reply.request_ms),
            "total": suggest::round(started.elapsed().as_secs_f64() * 1000.0),
        },
    });
    let out: Output = suggest::output(args.json, args.widget);
    let assessment = crate::safety::assess(&cmd);
    suggest::show(&cmd, &assessment, out, settings.allow_critical, report)
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
