use clap::Parser;

fn main() {
    // A shell widget may call us with SIGINT ignored (bash has no other way
    // to keep its line on Ctrl-C); the helper itself must always be
    // interruptible.
    // SAFETY: resetting a signal disposition before any thread exists.
    unsafe {
        libc::signal(libc::SIGINT, libc::SIG_DFL);
    }
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
    let cli = cmdai::cli::Cli::parse();
    let code = match cmdai::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cmdai: {e}");
            e.exit_code()
        }
    };
    std::process::exit(code);
}
