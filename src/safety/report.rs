//! `cmdai check` output and the one-line risk note after a generated command.

use super::{Assessment, Level};
use nu_ansi_term::{Color, Style};

/// Colors only on a terminal, and never with NO_COLOR set.
pub fn use_color(is_tty: bool) -> bool {
    is_tty && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

fn style(level: Level) -> Style {
    match level {
        Level::Safe => Color::Green.normal(),
        Level::Moderate => Color::Yellow.normal(),
        Level::High => Color::LightRed.bold(),
        Level::Critical => Color::White.on(Color::Red).bold(),
    }
}

fn label(level: Level, color: bool) -> String {
    let text = level.name().to_uppercase();
    if color {
        style(level).paint(text).to_string()
    } else {
        text
    }
}

/// "cmdai: HIGH risk: it recursively deletes build" for stderr.
pub fn one_line(a: &Assessment, is_tty: bool) -> String {
    format!(
        "cmdai: {} risk: it {}",
        label(a.level, use_color(is_tty)),
        a.summary()
    )
}

pub fn render(command: &str, a: &Assessment, color: bool) -> String {
    let mut out = format!("{}  {command}\n", label(a.level, color));
    for f in &a.findings {
        out.push_str(&format!(
            "  - [{}] it {} ({})\n",
            f.level.name(),
            f.reason,
            f.rule
        ));
    }
    out
}

/// The same `cmd`, `risk` and `reasons` as `cmdai --json`, plus the exit
/// code and each finding's rule.
pub fn to_json(command: &str, a: &Assessment) -> serde_json::Value {
    serde_json::json!({
        "cmd": command,
        "risk": a.level.name(),
        "reasons": a.reasons(),
        "exit_code": a.level.exit_code(),
        "findings": a.findings.iter().map(|f| serde_json::json!({
            "level": f.level.name(),
            "rule": f.rule.name(),
            "reason": f.reason,
        })).collect::<Vec<_>>(),
    })
}
