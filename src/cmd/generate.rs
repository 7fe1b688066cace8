//! `cmdai REQUEST`: the request-to-command pipeline and its output, for a
//! person at a terminal, for `--json`, and for the shell widgets.

use crate::cmd::args::GenerateArgs;
use crate::cmd::join_words;
use crate::config::{Flags, Settings};
use crate::context::{Context, Shell, Userland};
use crate::engine::{self, Engine, GenOptions};
use crate::error::{Error, Kind, Result};
use crate::models::resolve::resolve_model;
use crate::models::store;
use crate::safety::{self, Level};
use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};
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

/// In widget mode, discards keys typed while the model was thinking: an
/// Enter pressed early must not run an unreviewed suggestion.
pub fn flush_typeahead() {
    use std::os::fd::AsRawFd;
    if let Ok(tty) = std::fs::File::open("/dev/tty") {
        // SAFETY: tcflush on a descriptor we own; failure is harmless.
        unsafe {
            libc::tcflush(tty.as_raw_fd(), libc::TCIFLUSH);
        }
    }
}

/// Ends the process with a one-line error if no answer comes within `secs`
/// (plus `grace`, for a backend that keeps the time itself and should be
/// the one to say what hung). Calling it again restarts the clock: a
/// one-time preparation, shown with its own progress, does not count
/// against the answer's time.
fn arm_watchdog(secs: u64, grace: Duration, widget: bool) {
    static DEADLINE: Mutex<Option<Instant>> = Mutex::new(None);
    let mut deadline = DEADLINE.lock().unwrap_or_else(PoisonError::into_inner);
    let first = deadline.is_none();
    *deadline = Some(Instant::now() + Duration::from_secs(secs) + grace);
    drop(deadline);
    if !first {
        return;
    }
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(50));
        let deadline = *DEADLINE.lock().unwrap_or_else(PoisonError::into_inner);
        if deadline.is_some_and(|d| Instant::now() >= d) {
            eprintln!("cmdai: no answer within {secs}s; try again, or raise --timeout");
            if widget {
                flush_typeahead();
            }
            std::process::exit(1);
        }
    });
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
    let total = Instant::now();
    let request = join_words(&args.request, "request")?;
    let request = validate_request(&request)?;
    let settings = Settings::resolve(Flags {
        model: args.model.clone(),
        device: args.device.map(|d| d.name()),
        max_tokens: args.max_tokens,
        timeout: args.timeout,
        endpoint: args.endpoint.clone(),
        remote_model: args.remote_model.clone(),
        local: args.local,
    })?;

    let shell = args.shell.unwrap_or_else(Shell::from_env);
    let answer = match &settings.endpoint {
        Some(endpoint) => ask_remote(&args, &settings, endpoint, shell, request)?,
        None => ask_local(&args, &settings, shell, request)?,
    };
    let cmd = crate::ground::adapt(&answer.cmd, request, Userland::of_this_system());
    let assessment = safety::assess(&cmd);

    if args.json {
        let mut out = answer.report;
        out.insert("cmd".into(), cmd.into());
        out.insert("risk".into(), assessment.level.name().into());
        out.insert("reasons".into(), assessment.reasons().into());
        out.insert("shell".into(), shell.name().into());
        if let Some(t) = out.get_mut("timings_ms").and_then(|t| t.as_object_mut()) {
            t.insert(
                "total".into(),
                round(total.elapsed().as_secs_f64() * 1000.0).into(),
            );
        }
        println!("{}", serde_json::Value::Object(out));
        return Ok(());
    }

    if args.widget {
        if assessment.level == Level::Critical && !settings.allow_critical {
            return Err(Error::new(
                Kind::Blocked,
                format!("blocked `{cmd}`: it {}", assessment.summary()),
            ));
        }
        print!("{cmd}");
        if assessment.level >= Level::High {
            eprintln!(
                "cmdai: careful, {} risk: it {}",
                assessment.level.name(),
                assessment.summary()
            );
        }
        return Ok(());
    }

    println!("{cmd}");
    if assessment.level > Level::Safe {
        eprintln!(
            "{}",
            safety::report::one_line(&assessment, std::io::stderr().is_terminal())
        );
    }
    Ok(())
}

/// A backend's command, before grounding and safety, and what `--json`
/// reports about how it was made.
struct Answer {
    cmd: String,
    report: serde_json::Map<String, serde_json::Value>,
}

fn ask_local(
    args: &GenerateArgs,
    settings: &Settings,
    shell: Shell,
    request: &str,
) -> Result<Answer> {
    let may_fetch = !args.widget && std::io::stderr().is_terminal();
    let model_name = settings.model.clone();
    let model = resolve_model(&model_name, may_fetch)?;
    // After a first-use download, which may rightly take minutes.
    arm_watchdog(settings.timeout, Duration::ZERO, args.widget);
    let device = engine::select_device(&settings.device)?;
    let mut engine = Engine::load(&model.path, model.id, &device)?;

    let ctx = Context::gather(shell);
    let prompt = crate::prompt::build(&ctx, request);
    let mut opts = GenOptions {
        max_tokens: settings.max_tokens,
        temperature: args.temperature.max(0.0),
        seed: args.seed,
        cache_dir: store::kv_dir().ok(),
        may_build_prefix: false,
    };
    let complete = crate::extract::is_complete;
    // Whether this call built the prompt cache (reported by --json).
    let mut prepared = None;
    let generation = match engine.generate(&prompt, &opts, complete) {
        // The prompt cache is missing and could be saved: build it once, in
        // the background for a widget (which must not block the shell), in
        // the foreground with progress otherwise.
        Err(e) if e.kind == Kind::NotReady && crate::prepare::can_save() => {
            if args.widget {
                return Err(crate::prepare::start_in_background(&model_name));
            }
            prepared = Some(crate::prepare::build(&mut engine, &model_name, false)?);
            arm_watchdog(settings.timeout, Duration::ZERO, args.widget);
            engine.generate(&prompt, &opts, complete)?
        }
        // An unwritable cache dir: answer anyway, prefilling every time.
        Err(e) if e.kind == Kind::NotReady => {
            opts.may_build_prefix = true;
            engine.generate(&prompt, &opts, complete)?
        }
        other => other?,
    };
    let cmd = crate::extract::command(&generation.text)?;
    let t = &generation.timings;
    let report = serde_json::json!({
        "backend": "local",
        "model": model_name,
        "prefix_cache": prepared.unwrap_or(generation.prefix_cache).name(),
        "tokens": {
            "prefix": generation.prefix_tokens,
            "request": generation.request_tokens,
            "generated": generation.generated_tokens,
        },
        "timings_ms": {
            "load": round(t.load_ms),
            "tokenize": round(t.tokenize_ms),
            "prefix": round(t.prefix_ms),
            "prefill": round(t.prefill_ms),
            "decode": round(t.decode_ms),
        },
    });
    Ok(Answer {
        cmd,
        report: into_map(report),
    })
}

fn ask_remote(
    args: &GenerateArgs,
    settings: &Settings,
    endpoint: &str,
    shell: Shell,
    request: &str,
) -> Result<Answer> {
    let endpoint = crate::remote::Endpoint::parse(endpoint)?;
    // The HTTP client keeps the timeout itself and says which step hung;
    // the watchdog only backs it up.
    arm_watchdog(settings.timeout, Duration::from_secs(2), args.widget);
    let ctx = Context::gather(shell);
    let messages = crate::prompt::messages(&ctx, request);
    let reply = crate::remote::chat(
        &endpoint,
        &crate::remote::Request {
            messages: &messages,
            model: settings.remote_model.as_deref(),
            max_tokens: settings.max_tokens,
            temperature: args.temperature.max(0.0),
            seed: args.seed,
            timeout: Duration::from_secs(settings.timeout),
            api_key: settings.api_key.as_ref(),
        },
    )?;
    let cmd = crate::extract::command_in_reply(&reply.content)?;
    let report = serde_json::json!({
        "backend": "remote",
        "endpoint": endpoint.shown(),
        "model": reply.model.as_deref().or(settings.remote_model.as_deref()),
        "finish_reason": reply.finish_reason,
        "tokens": {
            "prompt": reply.prompt_tokens,
            "cached": reply.cached_tokens,
            "generated": reply.generated_tokens,
        },
        "timings_ms": {
            "request": round(reply.request_ms),
        },
    });
    Ok(Answer {
        cmd,
        report: into_map(report),
    })
}

fn into_map(v: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
    match v {
        serde_json::Value::Object(m) => m,
        _ => serde_json::Map::new(),
    }
}

fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

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
