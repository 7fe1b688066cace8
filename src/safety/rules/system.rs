//! The machine and its state: processes, firewall, power, cron, shell
//! history, git history, fork bombs.

use super::super::Finding;
use super::has_flag;
use super::table::{emit, RuleId};

/// Checks that need the raw text: fork bombs are functions, and functions
/// are not simple commands.
pub fn whole_text(src: &str, out: &mut Vec<Finding>) {
    let compact: String = src.chars().filter(|c| !c.is_whitespace()).collect();
    // name(){ name|name& };name  — any name, `function` keyword or not.
    if let Some(def) = compact.find("(){") {
        let name = compact[..def]
            .rsplit([';', '&', '|', '\n'])
            .next()
            .unwrap_or("")
            .trim_start_matches("function");
        if !name.is_empty() {
            let body = &compact[def + 3..];
            if body.contains(&format!("{name}|{name}&")) || body.contains(&format!("{name}&{name}"))
            {
                emit(
                    out,
                    RuleId::ForkBomb,
                    "is a fork bomb: it starts copies of itself until the machine freezes",
                );
            }
        }
    }
}

pub fn git(args: &[String], out: &mut Vec<Finding>) {
    let sub = args
        .iter()
        .find(|a| !a.starts_with('-'))
        .map(|s| s.as_str());
    match sub {
        Some("push") => {
            let force = args.iter().any(|a| {
                a == "--force"
                    || a == "-f"
                    || a.starts_with("--force-with-lease")
                    || a == "--mirror"
                    || a == "--delete"
            }) || args.iter().any(|a| a.starts_with('+') && a.len() > 1);
            if force {
                emit(
                    out,
                    RuleId::ForcePush,
                    "overwrites the remote branch's history",
                );
            }
        }
        Some("reset") if args.iter().any(|a| a == "--hard") => {
            emit(out, RuleId::GitDiscard, "discards uncommitted changes")
        }
        Some("clean") if has_flag(args, 'f', "force") => {
            emit(out, RuleId::GitDiscard, "deletes untracked files")
        }
        _ => {}
    }
}

/// Everything else: processes, firewall, power, cron, history.
pub fn other(name: &str, args: &[String], out: &mut Vec<Finding>) {
    match name {
        "kill" => {
            if args.iter().any(|a| a == "-1") {
                emit(out, RuleId::KillAll, "kills every process you own");
            } else {
                emit(out, RuleId::Kill, "stops processes");
            }
        }
        "killall5" => emit(out, RuleId::KillAll, "kills every process"),
        "pkill" | "killall" => emit(out, RuleId::Kill, "stops processes by name"),
        "history" if args.iter().any(|a| a == "-c") => {
            emit(out, RuleId::History, "erases your shell history")
        }
        "ufw" if args.first().is_some_and(|a| a == "disable") => {
            emit(out, RuleId::Firewall, "turns off the firewall")
        }
        "iptables" | "ip6tables" if args.iter().any(|a| a == "-F" || a == "--flush") => {
            emit(out, RuleId::Firewall, "removes all firewall rules")
        }
        "nft" if args.iter().any(|a| a == "flush") => {
            emit(out, RuleId::Firewall, "removes all firewall rules")
        }
        "setenforce" if args.first().is_some_and(|a| a == "0") => {
            emit(out, RuleId::Firewall, "turns off SELinux")
        }
        "systemctl" | "service" => {
            let stops = args
                .iter()
                .any(|a| a == "stop" || a == "disable" || a == "mask");
            let guard = args.iter().any(|a| {
                ["firewalld", "ufw", "nftables", "iptables", "apparmor"]
                    .iter()
                    .any(|g| a.starts_with(g))
            });
            if stops && guard {
                emit(out, RuleId::Firewall, "turns off the firewall");
            }
            if args
                .iter()
                .any(|a| a == "poweroff" || a == "reboot" || a == "halt")
            {
                emit(out, RuleId::Power, "shuts down or reboots the machine");
            }
        }
        "shutdown" | "reboot" | "halt" | "poweroff" => {
            emit(out, RuleId::Power, "shuts down or reboots the machine")
        }
        "init" | "telinit" if args.first().is_some_and(|a| a == "0" || a == "6") => {
            emit(out, RuleId::Power, "shuts down or reboots the machine")
        }
        "crontab" if args.iter().any(|a| a == "-r") => {
            emit(out, RuleId::CrontabRemove, "deletes your crontab")
        }
        _ => {}
    }
}
