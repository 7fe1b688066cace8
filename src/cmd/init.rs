//! `cmdai init <shell>`: print the integration script to eval.

use crate::context::Shell;
use crate::error::Result;

pub fn run(shell: Shell, key: Option<&str>, no_bind: bool) -> Result<()> {
    print!("{}", crate::shell::init_script(shell, key, no_bind)?);
    Ok(())
}
