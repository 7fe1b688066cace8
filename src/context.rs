//! What the prompt may know about where the command will run: the target
//! shell, the OS flavour, the working directory and a bounded list of the
//! names in it. Nothing here leaves the machine, and no file is ever read.

use std::path::Path;

/// How many directory entries the prompt may mention.
const MAX_ENTRIES: usize = 20;
/// And how many bytes of names in all. Every name is prefilled on every
/// request (~4 bytes a token, ~25 ms a token on a laptop CPU): 600 bytes
/// cost seconds in a busy directory, 120 about a second at worst.
const MAX_LISTING_BYTES: usize = 120;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Sh,
}

impl Shell {
    pub fn parse(name: &str) -> Option<Shell> {
        match name {
            "bash" => Some(Shell::Bash),
            "zsh" => Some(Shell::Zsh),
            "fish" => Some(Shell::Fish),
            "sh" | "dash" | "ksh" => Some(Shell::Sh),
            _ => None,
        }
    }

    /// The user's login shell from `$SHELL`, bash when unknown.
    pub fn from_env() -> Shell {
        std::env::var("SHELL")
            .ok()
            .and_then(|s| Path::new(&s).file_name()?.to_str().and_then(Shell::parse))
            .unwrap_or(Shell::Bash)
    }

    pub fn name(self) -> &'static str {
        match self {
            Shell::Bash => "bash",
            Shell::Zsh => "zsh",
            Shell::Fish => "fish",
            Shell::Sh => "sh",
        }
    }
}

/// Whose flags the standard tools take: they differ (`find -perm /m` vs
/// `+m`, `sed -i` vs `sed -i ''`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Userland {
    Gnu,
    Bsd,
}

impl Userland {
    pub fn of_this_system() -> Userland {
        if cfg!(any(
            target_os = "macos",
            target_os = "freebsd",
            target_os = "openbsd",
            target_os = "netbsd"
        )) {
            Userland::Bsd
        } else {
            Userland::Gnu
        }
    }
}

#[derive(Debug, Clone)]
pub struct Context {
    pub shell: Shell,
    /// e.g. "Linux (GNU coreutils)" or "macOS (BSD userland)".
    pub os: &'static str,
    /// Names in the cwd, directories with a trailing `/`, bounded.
    pub listing: Vec<String>,
}

impl Context {
    pub fn gather(shell: Shell) -> Context {
        let listing = std::env::current_dir()
            .map(|cwd| list_dir(&cwd))
            .unwrap_or_default();
        Context {
            shell,
            os: os_flavour(),
            listing,
        }
    }
}

pub fn os_flavour() -> &'static str {
    if cfg!(target_os = "macos") {
        "macOS (BSD userland)"
    } else if cfg!(target_os = "linux") {
        "Linux (GNU coreutils)"
    } else if cfg!(target_os = "freebsd") {
        "FreeBSD (BSD userland)"
    } else {
        "Unix"
    }
}

/// A sorted, bounded listing of visible names, directories first (requests
/// name them in paths more than files). Large directories are cut: the model
/// only needs a hint of what is here, and the prompt must stay short.
pub fn list_dir(dir: &Path) -> Vec<String> {
    listing(dir).0
}

/// [`list_dir`], and whether it names everything `*` matches there: nothing
/// cut, no name left out (one with a line break, or not UTF-8).
pub fn listing(dir: &Path) -> (Vec<String>, bool) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return (Vec::new(), false);
    };
    let entries: Vec<_> = entries.filter_map(|e| e.ok()).take(500).collect();
    let read_all = entries.len() < 500;
    let mut visible = 0;
    let mut names: Vec<String> = entries
        .iter()
        .filter(|e| !e.file_name().as_encoded_bytes().starts_with(b"."))
        .inspect(|_| visible += 1)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            if name.contains(['\n', '\r']) {
                return None;
            }
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            Some(if is_dir { format!("{name}/") } else { name })
        })
        .collect();
    names.sort_by(|a, b| (!a.ends_with('/'), a).cmp(&(!b.ends_with('/'), b)));
    let mut out = Vec::new();
    let mut bytes = 0;
    for n in names {
        if out.len() >= MAX_ENTRIES || bytes + n.len() > MAX_LISTING_BYTES {
            break;
        }
        bytes += n.len() + 1;
        out.push(n);
    }
    let whole = read_all && out.len() == visible;
    (out, whole)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listing_is_sorted_bounded_and_marks_dirs() {
        let dir = std::env::temp_dir().join(format!("cmdai-ctx-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join(".hidden"), "").unwrap();
        for i in 0..100 {
            std::fs::write(dir.join(format!("f{i:03}.txt")), "").unwrap();
        }
        let l = list_dir(&dir);
        assert!(l.len() <= MAX_ENTRIES);
        assert!(l.iter().map(|n| n.len() + 1).sum::<usize>() <= MAX_LISTING_BYTES + 1);
        assert_eq!(l[..2], ["sub/", "f000.txt"]);
        assert!(!l.iter().any(|n| n.starts_with('.')));
        std::fs::create_dir_all(dir.join("z-dir")).unwrap();
        assert_eq!(list_dir(&dir)[..3], ["sub/", "z-dir/", "f000.txt"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn shell_names() {
        assert_eq!(Shell::parse("zsh"), Some(Shell::Zsh));
        assert_eq!(Shell::parse("pwsh"), None);
    }
}
