//! What `cmdai REQUEST` and `cmdai fix` share: loading the model under a
//! watchdog, the prompt → engine → extract → ground → safety pipeline, the
//! next different suggestion (Ctrl-G pressed again), and the three outputs
//! (terminal, `--json`, `--widget`).

use crate::alternatives::{self, State};
use crate::cmd::args::EngineArgs;
use crate::config::Settings;
use crate::context::{Shell, Userland};
use crate::engine::{self, Engine, GenOptions, Generation, PrefixCache, TilesUsed};
use crate::error::{Error, Kind, Result};
use crate::models::resolve::resolve_model;
use crate::models::store;
use crate::prompt::{Prompt, Segment};
use crate::safety::{self, Assessment, Level};
use std::io::IsTerminal;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Model calls one press may spend looking for a different command (a
/// branch can lead back to a command already shown).
const MAX_TRIES: usize = 3;

/// Runs a command; in widget mode then discards keys typed while the model
/// was thinking: an Enter pressed early must not run an unreviewed
/// suggestion.
pub fn flushing_typeahead(widget: bool, run: impl FnOnce() -> Result<()>) -> Result<()> {
    let result = run();
    if widget {
        flush_typeahead();
    }
    result
}

/// Discards keys typed at the terminal so far.
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
pub fn arm_watchdog(secs: u64, grace: Duration, widget: bool) {
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

/// A loaded model and the settings it runs with.
pub struct Runner {
    pub settings: Settings,
    pub shell: Shell,
    pub model_name: String,
    model_id: String,
    engine: Engine,
    pub opts: GenOptions,
    widget: bool,
    /// Whether this call built the prompt cache (reported by --json).
    pub prepared: Option<PrefixCache>,
}

impl Runner {
    pub fn start(args: &EngineArgs, widget: bool) -> Result<Runner> {
        let settings = Settings::resolve(args.flags())?;
        let shell = args.shell.unwrap_or_else(Shell::from_env);
        let may_fetch = !widget && std::io::stderr().is_terminal();
        let model_name = settings.model.clone();
        let model = resolve_model(&model_name, may_fetch)?;
        // After a first-use download, which may rightly take minutes.
        arm_watchdog(settings.timeout, Duration::ZERO, widget);
        let device = engine::select_device(&settings.device)?;
        // A widget call must not block the shell for seconds: without the
        // tile file it answers on the GGUF's blocks, and has the file built
        // in the background for the next call.
        let tiles = model.tiles(!widget);
        let engine = Engine::load(&model.path, model.id.clone(), &device, tiles.as_ref())?;
        if widget
            && device.is_cpu()
            && engine.tiles == TilesUsed::Off
            && engine::tiles::supported()
            && crate::prepare::can_save()
        {
            crate::prepare::spawn(&model_name);
        }
        let opts = GenOptions {
            max_tokens: settings.max_tokens,
            temperature: 0.0,
            seed: 0,
            cache_dir: store::kv_dir().ok(),
            may_build_prefix: false,
            forced: Vec::new(),
        };
        Ok(Runner {
            settings,
            shell,
            model_name,
            model_id: model.id,
            engine,
            opts,
            widget,
            prepared: None,
        })
    }

    /// Runs `prompt` until `done`. A missing prompt cache is built once: in
    /// the background for a widget (which must not block the shell), in the
    /// foreground with progress otherwise.
    pub fn generate(
        &mut self,
        prompt: &Prompt,
        done: impl Fn(&str) -> bool + Copy,
    ) -> Result<Generation> {
        match self.engine.generate(prompt, &self.opts, done) {
            Err(e) if e.kind == Kind::NotReady && crate::prepare::can_save() => {
                if self.widget {
                    return Err(crate::prepare::start_in_background(&self.model_name));
                }
                self.prepared = Some(crate::prepare::build(
                    &mut self.engine,
                    &self.model_name,
                    false,
                )?);
                arm_watchdog(self.settings.timeout, Duration::ZERO, self.widget);
                self.engine.generate(prompt, &self.opts, done)
            }
            // An unwritable cache dir: answer anyway, prefilling every time.
            Err(e) if e.kind == Kind::NotReady => {
                self.opts.may_build_prefix = true;
                self.engine.generate(prompt, &self.opts, done)
            }
            other => other,
        }
    }

    pub fn decode(&mut self, tokens: &[u32]) -> Result<String> {
        self.engine.decode(tokens)
    }
}

/// What to ask for.
pub struct Ask<'a> {
    /// `generate` or `fix`: part of the alternatives' key.
    pub kind: &'a str,
    pub prompt: Prompt,
    /// The user's words, for grounding (`ground::adapt`).
    pub request: &'a str,
    /// The command shown now: give a different one.
    pub after: Option<&'a str>,
    /// A command never to suggest (the one that failed).
    pub avoid: Option<&'a str>,
    /// The request without the directory listing, asked instead when the
    /// answer copies the listing.
    pub unlisted: Option<Unlisted>,
}

pub struct Unlisted {
    pub prompt: Prompt,
    /// The names `prompt` leaves out.
    pub listing: Vec<String>,
}

pub struct Suggestion {
    pub cmd: String,
    pub assessment: Assessment,
    /// The last model call's details; None when the command was known.
    pub generation: Option<Generation>,
    /// Answered without the directory listing, which the first answer
    /// copied.
    pub unlisted: bool,
}

/// The command for `ask`: the most likely one, or with `after` the next
/// distinct one. Alternatives branch off the most likely answer at the
/// step where the model hesitated most (its runner-up token there, then
/// greedy again), which costs about one normal call; up to
/// `MAX_CANDIDATES` distinct ones, then the first comes round again.
pub fn suggest(r: &mut Runner, ask: &Ask) -> Result<Suggestion> {
    let dir = store::cache_dir().ok().map(|d| alternatives::dir(&d));
    let key = alternatives::key(&[
        ask.kind,
        &r.model_id,
        r.shell.name(),
        &cwd(),
        &turn_text(&ask.prompt),
        ask.avoid.unwrap_or(""),
    ]);
    let loaded = match (&dir, ask.after) {
        (Some(dir), Some(_)) => alternatives::load(dir, &key),
        _ => None,
    };
    let mut last = None;
    let mut state = match loaded {
        Some(state) => state,
        None => {
            let (generation, unlisted) = first_answer(r, ask)?;
            let mut state = State::new(generation.tokens.clone(), generation.choices.clone());
            state.unlisted = unlisted;
            let first = finish(&generation.text, ask.request, r.shell);
            match first {
                Ok(cmd) if !ask.avoid.is_some_and(|a| alternatives::same(a, &cmd)) => {
                    state.candidates.push(cmd)
                }
                // Asked for the first answer: its failure is the answer.
                Err(e) if ask.after.is_none() && ask.avoid.is_none() => return Err(e),
                _ => {}
            }
            last = Some(generation);
            state
        }
    };
    // Only a widget presses again; other callers leave no state behind.
    let keep = r.widget || ask.after.is_some();
    let save = |state: &State| {
        if let (Some(dir), true) = (&dir, keep) {
            // Without it the next press recomputes: slower, not wrong.
            let _ = alternatives::save(dir, &key, state);
        }
    };
    let current = ask.after.or(ask.avoid);
    let Some(current) = current else {
        // The first press: the greedy answer, kept for the next.
        let cmd = state.candidates.first().cloned().ok_or_else(|| {
            Error::new(
                Kind::NoCommand,
                "the model gave no command: try rephrasing the request",
            )
        })?;
        // A program this machine lacks cannot be the answer while the
        // model has another idea that only uses what is installed.
        if !crate::installed::missing(&cmd).is_empty() {
            let runnable = |c: &str| crate::installed::missing(c).is_empty();
            if let Some((other, generation)) = branch(r, ask, &mut state, None, runnable)? {
                state.candidates.retain(|c| c != &other);
                state.candidates.insert(0, other.clone());
                save(&state);
                return Ok(suggestion(other, Some(generation), state.unlisted));
            }
        }
        save(&state);
        return Ok(suggestion(cmd, last, state.unlisted));
    };
    let at = state
        .candidates
        .iter()
        .position(|c| alternatives::same(c, current));
    if ask.after.is_none() {
        // A fix whose greedy answer differs from the failed command.
        if let Some(cmd) = state.candidates.first().cloned() {
            save(&state);
            return Ok(suggestion(cmd, last, state.unlisted));
        }
    } else if let Some(cmd) = at.and_then(|i| state.candidates.get(i + 1)).cloned() {
        return Ok(suggestion(cmd, last, state.unlisted));
    }
    if state.candidates.len() < alternatives::MAX_CANDIDATES {
        if let Some((cmd, generation)) = branch(r, ask, &mut state, Some(current), |_| true)? {
            save(&state);
            return Ok(suggestion(cmd, Some(generation), state.unlisted));
        }
        save(&state);
    }
    match state.after(current) {
        Some(cmd) => Ok(suggestion(cmd.to_string(), last, state.unlisted)),
        None if ask.avoid.is_some() && ask.after.is_none() => Err(Error::new(
            Kind::NoCommand,
            "no corrected command found: the model only repeats the failed one",
        )),
        None => Err(Error::new(
            Kind::NoCommand,
            "no other command found for this request: try rephrasing it",
        )),
    }
}

/// The greedy answer to `ask`, or, where it copies the directory listing
/// into its operands, the greedy answer to the request without the listing
/// (then true): the model pastes what it was shown, not what was asked.
/// Decoding stops as soon as a pasted listing shows (three names), before
/// the rest of it is written out. One pasted folder may be the model's
/// reading of the request ("my photos" as `Pictures/`): the answer without
/// the listing is taken only where it makes up no name instead.
fn first_answer(r: &mut Runner, ask: &Ask) -> Result<(Generation, bool)> {
    use crate::extract::{command, is_complete};
    use crate::ground::{pasted_listing, Paste};
    let Some(u) = &ask.unlisted else {
        return Ok((r.generate(&ask.prompt, is_complete)?, false));
    };
    let paste = |t: &str| pasted_listing(t, &u.listing, ask.request);
    let generation = r.generate(&ask.prompt, |t| {
        is_complete(t) || paste(t) == Some(Paste::Listing)
    })?;
    let Some(how) = paste(&generation.text) else {
        return Ok((generation, false));
    };
    let other = r.generate(&u.prompt, is_complete)?;
    if let Ok(cmd) = command(&other.text) {
        let keep_other = match how {
            Paste::Listing => true,
            Paste::Folder => {
                let first = command(&generation.text).unwrap_or_default();
                let here = std::env::current_dir().unwrap_or_default();
                crate::ground::made_up_names(&cmd, &first, &here).is_empty()
            }
        };
        if keep_other {
            return Ok((other, true));
        }
    }
    match how {
        Paste::Folder => Ok((generation, false)),
        // No command without the listing either: the pasted one, in full.
        Paste::Listing => Ok((r.generate(&ask.prompt, is_complete)?, false)),
    }
}

/// The next new command off the greedy answer's untried branches (at most
/// `MAX_TRIES` model calls) that `accept`s, added to the candidates: never
/// the command shown now, the failed one, or a critical one unless allowed.
fn branch(
    r: &mut Runner,
    ask: &Ask,
    state: &mut State,
    current: Option<&str>,
    accept: impl Fn(&str) -> bool,
) -> Result<Option<(String, Generation)>> {
    let greedy_text = r.decode(&state.answer)?;
    let mut tries = 0;
    while tries < MAX_TRIES {
        let Some(forced) = state.take_branch() else {
            break;
        };
        // A token that only splits the same text differently leads back
        // to the same answer: not worth a model call.
        if greedy_text.starts_with(&r.decode(&forced)?) {
            continue;
        }
        tries += 1;
        r.opts.forced = forced;
        let prompt = match &ask.unlisted {
            Some(u) if state.unlisted => &u.prompt,
            _ => &ask.prompt,
        };
        let generation = r.generate(prompt, crate::extract::is_complete);
        r.opts.forced.clear();
        let generation = generation?;
        let Ok(cmd) = finish(&generation.text, ask.request, r.shell) else {
            continue;
        };
        let critical = safety::assess(&cmd).level == Level::Critical;
        if state.knows(&cmd)
            || current.is_some_and(|c| alternatives::same(&cmd, c))
            || ask.avoid.is_some_and(|a| alternatives::same(a, &cmd))
            || critical && !r.settings.allow_critical
        {
            continue;
        }
        state.candidates.push(cmd.clone());
        if accept(&cmd) {
            return Ok(Some((cmd, generation)));
        }
    }
    Ok(None)
}

fn suggestion(cmd: String, generation: Option<Generation>, unlisted: bool) -> Suggestion {
    Suggestion {
        assessment: safety::assess(&cmd),
        cmd,
        generation,
        unlisted,
    }
}

/// Model text → the command for this machine, shell and directory.
fn finish(text: &str, request: &str, shell: Shell) -> Result<String> {
    let cmd = crate::extract::command(text)?;
    Ok(ground(&cmd, request, shell))
}

/// [`crate::ground::adapt`] for a command that will run here.
pub fn ground(cmd: &str, request: &str, shell: Shell) -> String {
    let cwd = std::env::current_dir().unwrap_or_default();
    let target = crate::ground::Target {
        userland: Userland::of_this_system(),
        shell,
        cwd: &cwd,
    };
    crate::ground::adapt(cmd, request, target)
}

fn cwd() -> String {
    std::env::current_dir()
        .map(|d| d.display().to_string())
        .unwrap_or_default()
}

/// The per-call part of a prompt (request, listing, shell) as one string.
fn turn_text(p: &Prompt) -> String {
    p.turn
        .iter()
        .map(|s| match s {
            Segment::Template(t) | Segment::User(t) => t.as_str(),
        })
        .collect::<Vec<_>>()
        .join("\u{0}")
}

/// Where the answer goes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Terminal,
    Json,
    Widget,
}

pub fn print(r: &Runner, s: &Suggestion, out: Output, started: Instant) -> Result<()> {
    let g = s.generation.as_ref();
    let t = g.map(|g| g.timings.clone()).unwrap_or_default();
    let cache = r
        .prepared
        .or(g.map(|g| g.prefix_cache))
        .map(PrefixCache::name);
    let report = serde_json::json!({
        "backend": "local",
        "model": r.model_name,
        "device": r.engine.device_name(),
        "shell": r.shell.name(),
        "prefix_cache": cache,
        "listing_cache": g.and_then(|g| g.shared_cache).map(PrefixCache::name),
        "listing_left_out": s.unlisted,
        "tokens": {
            "prefix": g.map(|g| g.prefix_tokens),
            "request": g.map(|g| g.request_tokens),
            "generated": g.map(|g| g.generated_tokens),
            "drafted": g.map(|g| g.speculation.drafted),
            "accepted": g.map(|g| g.speculation.accepted),
            "checks": g.map(|g| g.speculation.checks),
        },
        "timings_ms": {
            "load": round(t.load_ms),
            "tokenize": round(t.tokenize_ms),
            "prefix": round(t.prefix_ms),
            "listing": round(t.shared_ms),
            "prefill": round(t.prefill_ms),
            "decode": round(t.decode_ms),
            "total": round(started.elapsed().as_secs_f64() * 1000.0),
        },
    });
    show(
        &s.cmd,
        &s.assessment,
        out,
        r.settings.allow_critical,
        report,
    )
}

/// Prints a command where `out` says; `report` (how it was made) joins the
/// command, its risk and reasons in `--json`.
pub fn show(
    cmd: &str,
    assessment: &Assessment,
    out: Output,
    allow_critical: bool,
    report: serde_json::Value,
) -> Result<()> {
    match out {
        Output::Json => {
            let mut json = serde_json::json!({
                "cmd": cmd,
                "risk": assessment.level.name(),
                "reasons": assessment.reasons(),
            });
            if let (Some(json), serde_json::Value::Object(report)) = (json.as_object_mut(), report)
            {
                json.extend(report);
            }
            println!("{json}");
        }
        Output::Widget => {
            if assessment.level == Level::Critical && !allow_critical {
                return Err(Error::new(
                    Kind::Blocked,
                    format!("blocked `{cmd}`: it {}", assessment.summary()),
                ));
            }
            print!("{cmd}");
            // The widget shows this line as a message under the prompt: no color.
            if assessment.level >= Level::High {
                eprintln!("{}", safety::report::one_line(assessment, false));
            }
        }
        Output::Terminal => {
            println!("{cmd}");
            if assessment.level > Level::Safe {
                eprintln!(
                    "{}",
                    safety::report::one_line(assessment, std::io::stderr().is_terminal())
                );
            }
        }
    }
    Ok(())
}

pub fn output(json: bool, widget: bool) -> Output {
    if json {
        Output::Json
    } else if widget {
        Output::Widget
    } else {
        Output::Terminal
    }
}

pub fn round(ms: f64) -> f64 {
    (ms * 10.0).round() / 10.0
}
