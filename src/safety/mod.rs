//! Risk assessment of a command, before the user can run it.
//!
//! The command is split into the simple commands a shell would run
//! (`parse`), wrappers such as `sudo` or `bash -c '…'` are looked through,
//! and each simple command is checked against the rules (`rules`). The
//! worst finding decides the level.

mod parse;
pub mod report;
mod rules;

pub use rules::RULES;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Safe,
    Moderate,
    High,
    Critical,
}

impl Level {
    pub fn name(self) -> &'static str {
        match self {
            Level::Safe => "safe",
            Level::Moderate => "moderate",
            Level::High => "high",
            Level::Critical => "critical",
        }
    }

    /// `cmdai check`'s exit code for this level.
    pub fn exit_code(self) -> i32 {
        match self {
            Level::Safe => 0,
            Level::Moderate => 10,
            Level::High => 11,
            Level::Critical => 12,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    pub level: Level,
    /// The rule's id, as listed in docs/SAFETY.md.
    pub rule: &'static str,
    /// A short phrase that completes "it …", e.g. "recursively deletes your home directory".
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Assessment {
    pub level: Level,
    pub findings: Vec<Finding>,
}

impl Assessment {
    pub fn reasons(&self) -> Vec<String> {
        self.findings.iter().map(|f| f.reason.clone()).collect()
    }

    /// The worst findings' reasons, joined: "recursively deletes / and runs as root".
    pub fn summary(&self) -> String {
        let mut worst: Vec<&str> = self
            .findings
            .iter()
            .filter(|f| f.level == self.level)
            .map(|f| f.reason.as_str())
            .collect();
        worst.dedup();
        worst.join("; ")
    }
}

/// How deep `bash -c "$(…)"`-style nesting is followed.
const MAX_DEPTH: usize = 6;

pub fn assess(command: &str) -> Assessment {
    let mut findings = Vec::new();
    assess_into(command, 0, &mut findings);
    let mut seen = std::collections::HashSet::new();
    findings.retain(|f| seen.insert((f.rule, f.reason.clone())));
    findings.sort_by_key(|f| std::cmp::Reverse(f.level));
    let level = findings.first().map(|f| f.level).unwrap_or(Level::Safe);
    Assessment { level, findings }
}

fn assess_into(src: &str, depth: usize, out: &mut Vec<Finding>) {
    if depth > MAX_DEPTH {
        out.push(Finding {
            level: Level::High,
            rule: "too-nested",
            reason: "is nested too deeply to check".into(),
        });
        return;
    }
    rules::whole_text(src, out);
    let script = parse::split(src);
    let mut payloads = Vec::new();
    for (i, cmd) in script.commands.iter().enumerate() {
        let next_piped: Vec<&parse::Simple> = script.commands[i + 1..]
            .iter()
            .take_while(|c| c.piped)
            .collect();
        rules::simple(cmd, &next_piped, &mut payloads, out);
    }
    for nested in script.nested.iter().chain(&payloads) {
        assess_into(nested, depth + 1, out);
    }
}
