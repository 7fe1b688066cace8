//! `cmdai completions <shell>`: completions for the `cmdai` command itself.

use clap::CommandFactory;

pub fn run(shell: clap_complete::Shell) {
    print!("{}", script(shell));
}

pub fn script(shell: clap_complete::Shell) -> String {
    let mut cmd = super::args::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut cmd, "cmdai", &mut out);
    String::from_utf8_lossy(&out).into_owned()
}
