use clap::Parser;

extern "C" fn on_interrupt(_: libc::c_int) {
    // SAFETY: _exit is async-signal-safe.
    unsafe { libc::_exit(130) }
}

/// Prefill allocates and frees megabyte tensors per layer; by default glibc
/// serves those with fresh mmaps (and trims freed heap) until a free raises
/// its thresholds, so each one is page-faulted in again: 130k minor faults
/// per request, prefill 10-30 % slower. The old tokenizer's garbage used to
/// raise them by accident. Fixed thresholds keep freed blocks for reuse
/// (39k faults).
fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets allocator parameters; called before any
    // thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 1 << 30);
    }
}

fn main() {
    // Ctrl-C ends cmdai with exit code 130, the documented "interrupted",
    // also when the calling shell ignores SIGINT and we inherited that (the
    // bash widget's way to keep its line on Ctrl-C). A plain exit status
    // also keeps the calling shell from acting as if it was interrupted.
    // SAFETY: installing a handler before any thread exists; the handler
    // only calls the async-signal-safe _exit.
    unsafe {
        libc::signal(
            libc::SIGINT,
            on_interrupt as *const () as libc::sighandler_t,
        );
    }
    // candle runs large elementwise ops on its own pool, whose workers spin
    // while they wait; cmdai runs every heavy op on its rayon pool, and the
    // two fought over the cores (prefill 15 % slower with both). A pool of
    // one is candle's inline path. Set before any thread exists.
    if std::env::var_os("CANDLE_NUM_THREADS").is_none() {
        std::env::set_var("CANDLE_NUM_THREADS", "1");
    }
    keep_freed_memory();
    // A bug must still end in one line the widgets can show, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let msg = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        eprintln!(
            "cmdai: internal error: {}; please report it",
            cmdai::error::one_line(&msg)
        );
    }));
    let cli = cmdai::cmd::args::Cli::parse();
    let code = match cmdai::cmd::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cmdai: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
