//! Risk assessment of a command, before the user can run it.
//!
//! The command is split into the simple commands a shell would run
//! (`parse`), wrappers such as `sudo` or `bash -c '…'` are looked through,
//! and each simple command is checked against the rules (`rules`, whose
//! table with every rule's level is `rules::table`). The worst finding
//! decides the level.

mod parse;
pub mod report;
mod rules;

pub use rules::table::{Rule, RuleId, RULES};

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
    /// The rule, listed in docs/SAFETY.md under `rule.name()`.
    pub rule: RuleId,
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

/// The names of the programs `command` runs (past `sudo`, `env`, `LANG=C`
/// and the like), nested substitutions included, in order.
pub fn programs(command: &str) -> Vec<String> {
    let mut out = Vec::new();
    programs_into(command, 0, &mut out);
    out
}

fn programs_into(src: &str, depth: usize, out: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    let script = parse::split(src);
    for simple in &script.commands {
        if let Some(first) = rules::unwrap(&simple.words).0.first() {
            out.push(first.clone());
        }
    }
    for nested in &script.nested {
        programs_into(nested, depth + 1, out);
    }
}

fn assess_into(src: &str, depth: usize, out: &mut Vec<Finding>) {
    if depth > MAX_DEPTH {
        rules::table::emit(out, RuleId::TooNested, "is nested too deeply to check");
        return;
    }
    rules::whole_text(src, out);
    let script = parse::split(src);
    let mut payloads = Vec::new();
    rules::script(&script, &mut payloads, out);
    for nested in script.nested.iter().chain(&payloads) {
        assess_into(nested, depth + 1, out);
    }
}
