//! `cmdai check COMMAND`: the risk report; the exit code encodes the level.

use crate::error::Result;
use crate::safety::{assess, report};
use std::io::IsTerminal;

pub fn run(command: &str, json: bool) -> Result<i32> {
    let a = assess(command);
    if json {
        println!("{}", report::to_json(command, &a));
    } else {
        let color = report::use_color(std::io::stdout().is_terminal());
        print!("{}", report::render(command, &a, color));
    }
    Ok(a.level.exit_code())
}
