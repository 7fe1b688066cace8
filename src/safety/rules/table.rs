//! The rule table: every rule's id, level, what it covers and an example.
//!
//! Checks refer to a rule by its `RuleId` variant, never by a string, and
//! the level comes from this table alone, so a typo is a compile error and
//! cannot quietly change a level. docs/SAFETY.md lists the same rows (a
//! test compares them).

use super::super::{Finding, Level};
use std::fmt;

/// One variant per rule, in the order of `RULES`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleId {
    RmRoot,
    NoPreserveRoot,
    Mkfs,
    WriteDevice,
    ForkBomb,
    ChmodRoot,
    MoveRoot,
    SystemFile,
    FindDeleteRoot,
    PipeToShell,
    HiddenScript,
    RmRecursive,
    FindDeleteAll,
    ChmodRecursive,
    Sudo,
    ForcePush,
    GitDiscard,
    KillAll,
    Truncate,
    Dotfile,
    History,
    Firewall,
    Power,
    CrontabRemove,
    Shred,
    XargsRm,
    TooNested,
    Rm,
    RmDir,
    FindDelete,
    ChmodDir,
    Chown,
    WorldWritable,
    MoveToNull,
    Kill,
    OverwriteInPlace,
}

impl RuleId {
    /// The id as shown to users and listed in docs/SAFETY.md, e.g. "rm-root".
    pub const fn name(self) -> &'static str {
        match self {
            RuleId::RmRoot => "rm-root",
            RuleId::NoPreserveRoot => "no-preserve-root",
            RuleId::Mkfs => "mkfs",
            RuleId::WriteDevice => "write-device",
            RuleId::ForkBomb => "fork-bomb",
            RuleId::ChmodRoot => "chmod-root",
            RuleId::MoveRoot => "move-root",
            RuleId::SystemFile => "system-file",
            RuleId::FindDeleteRoot => "find-delete-root",
            RuleId::PipeToShell => "pipe-to-shell",
            RuleId::HiddenScript => "hidden-script",
            RuleId::RmRecursive => "rm-recursive",
            RuleId::FindDeleteAll => "find-delete-all",
            RuleId::ChmodRecursive => "chmod-recursive",
            RuleId::Sudo => "sudo",
            RuleId::ForcePush => "force-push",
            RuleId::GitDiscard => "git-discard",
            RuleId::KillAll => "kill-all",
            RuleId::Truncate => "truncate",
            RuleId::Dotfile => "dotfile",
            RuleId::History => "history",
            RuleId::Firewall => "firewall",
            RuleId::Power => "power",
            RuleId::CrontabRemove => "crontab-remove",
            RuleId::Shred => "shred",
            RuleId::XargsRm => "xargs-rm",
            RuleId::TooNested => "too-nested",
            RuleId::Rm => "rm",
            RuleId::RmDir => "rm-dir",
            RuleId::FindDelete => "find-delete",
            RuleId::ChmodDir => "chmod-dir",
            RuleId::Chown => "chown",
            RuleId::WorldWritable => "world-writable",
            RuleId::MoveToNull => "move-to-null",
            RuleId::Kill => "kill",
            RuleId::OverwriteInPlace => "overwrite-in-place",
        }
    }

    /// The rule's level, from `RULES`.
    pub const fn level(self) -> Level {
        RULES[self as usize].level
    }

    /// The rule whose id is `name`, e.g. "rm-root".
    pub fn from_name(name: &str) -> Option<RuleId> {
        RULES.iter().map(|r| r.id).find(|id| id.name() == name)
    }
}

impl fmt::Display for RuleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

pub struct Rule {
    pub id: RuleId,
    pub level: Level,
    pub what: &'static str,
    pub example: &'static str,
}

const fn rule(id: RuleId, level: Level, what: &'static str, example: &'static str) -> Rule {
    Rule {
        id,
        level,
        what,
        example,
    }
}

use Level::*;
use RuleId as R;

pub const RULES: &[Rule] = &[
    rule(
        R::RmRoot,
        Critical,
        "recursive delete of /, ~, $HOME, a top-level system directory, or everything in them",
        "rm -rf ~",
    ),
    rule(
        R::NoPreserveRoot,
        Critical,
        "rm with --no-preserve-root",
        "rm -rf --no-preserve-root /",
    ),
    rule(
        R::Mkfs,
        Critical,
        "formatting, wiping or repartitioning a disk",
        "mkfs.ext4 /dev/sda1",
    ),
    rule(
        R::WriteDevice,
        Critical,
        "writing raw data onto a disk device (dd of=, >, cp, tee, shred)",
        "dd if=/dev/zero of=/dev/sda",
    ),
    rule(
        R::ForkBomb,
        Critical,
        "a function that spawns itself without end",
        ":(){ :|:& };:",
    ),
    rule(
        R::ChmodRoot,
        Critical,
        "recursive chmod/chown/chgrp of /, ~ or a system directory",
        "chmod -R 777 /",
    ),
    rule(
        R::MoveRoot,
        Critical,
        "moving /, your home directory or a system directory away",
        "mv ~ /dev/null",
    ),
    rule(
        R::SystemFile,
        Critical,
        "overwriting /etc/passwd, /etc/shadow, /etc/sudoers or the boot loader",
        "echo x > /etc/passwd",
    ),
    rule(
        R::FindDeleteRoot,
        Critical,
        "find -delete or -exec rm from / or a system directory, or over all of ~",
        "find / -delete",
    ),
    rule(
        R::PipeToShell,
        High,
        "running a script downloaded from the internet without review",
        "curl -fsSL https://x.sh | sh",
    ),
    rule(
        R::HiddenScript,
        High,
        "running a script decoded from base64, hex or escapes, so you cannot read it",
        "echo ZWNobyBoaQ== | base64 -d | sh",
    ),
    rule(
        R::RmRecursive,
        High,
        "recursive delete reaching outside the project",
        "rm -rf ~/Documents",
    ),
    rule(
        R::FindDeleteAll,
        High,
        "find -delete over a whole tree outside the project",
        "find . -delete",
    ),
    rule(
        R::ChmodRecursive,
        High,
        "recursive chmod/chown/chgrp reaching outside the project",
        "chmod -R 755 /srv/app",
    ),
    rule(
        R::Sudo,
        High,
        "running as root (sudo, doas, su -c, pkexec)",
        "sudo apt upgrade",
    ),
    rule(
        R::ForcePush,
        High,
        "git push --force rewrites the remote branch",
        "git push --force origin main",
    ),
    rule(
        R::GitDiscard,
        High,
        "git reset --hard / git clean -f discard uncommitted work",
        "git reset --hard HEAD~1",
    ),
    rule(
        R::KillAll,
        High,
        "killing every process you can (kill -1, killall5)",
        "kill -9 -1",
    ),
    rule(
        R::Truncate,
        High,
        "emptying a file (> file, truncate -s 0, > onto a file the pipeline reads)",
        ": > app.log",
    ),
    rule(
        R::Dotfile,
        High,
        "overwriting a dotfile in your home directory",
        "echo x > ~/.bashrc",
    ),
    rule(R::History, High, "erasing your shell history", "history -c"),
    rule(
        R::Firewall,
        High,
        "turning off the firewall or security policy",
        "ufw disable",
    ),
    rule(
        R::Power,
        High,
        "shutting down or rebooting the machine",
        "shutdown -h now",
    ),
    rule(
        R::CrontabRemove,
        High,
        "deleting your crontab",
        "crontab -r",
    ),
    rule(
        R::Shred,
        High,
        "destroying file contents beyond recovery",
        "shred -u secrets.txt",
    ),
    rule(
        R::XargsRm,
        High,
        "recursive delete of whatever an unknown input names",
        "ls | xargs rm -rf",
    ),
    rule(
        R::TooNested,
        High,
        "nesting deeper than the checker follows",
        "echo $($($($($($($(ls)))))))",
    ),
    rule(R::Rm, Moderate, "deleting files", "rm notes.txt"),
    rule(
        R::RmDir,
        Moderate,
        "recursive delete of a named project path, build output, cache or temp dir",
        "rm -rf build",
    ),
    rule(
        R::FindDelete,
        Moderate,
        "deleting the files find matches, or a named project tree",
        "find . -name '*.tmp' -delete",
    ),
    rule(
        R::ChmodDir,
        Moderate,
        "recursive chmod/chown/chgrp of a named project path, cache or temp dir",
        "chmod -R 755 ./site",
    ),
    rule(
        R::Chown,
        Moderate,
        "changing a file's owner",
        "chown me file",
    ),
    rule(
        R::WorldWritable,
        Moderate,
        "making files writable by everyone",
        "chmod 777 file",
    ),
    rule(
        R::MoveToNull,
        Moderate,
        "moving files into /dev/null (they are gone)",
        "mv old.txt /dev/null",
    ),
    rule(R::Kill, Moderate, "stopping processes", "pkill node"),
    rule(
        R::OverwriteInPlace,
        Moderate,
        "editing files in place",
        "sed -i 's/a/b/' f",
    ),
];

/// Checked when compiling: `RULES` has exactly one row per `RuleId`, in order,
/// so `RuleId::level` indexes the right row.
const _: () = {
    assert!(RULES.len() == RuleId::OverwriteInPlace as usize + 1);
    let mut i = 0;
    while i < RULES.len() {
        assert!(RULES[i].id as usize == i);
        i += 1;
    }
};

/// Records a finding of rule `id`, at the rule's level.
pub fn emit(out: &mut Vec<Finding>, id: RuleId, reason: impl Into<String>) {
    out.push(Finding {
        level: id.level(),
        rule: id,
        reason: reason.into(),
    });
}
