//! What a path operand really names, after the normalisation a shell and the
//! kernel would do: `$HOME`, `"${HOME}"`, `${HOME:?}` and `~` are your home,
//! `//`, `/./` and `/tmp/..` are `/`, `~/..` is `/home`. Each target is then
//! placed in one class, and the delete and permission rules rate the class.

use super::super::parse;

/// Top-level system directories: deleting or re-permissioning them
/// recursively breaks the machine.
const SYSTEM_DIRS: &[&str] = &[
    "/bin",
    "/boot",
    "/dev",
    "/etc",
    "/home",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/media",
    "/mnt",
    "/nix",
    "/opt",
    "/proc",
    "/root",
    "/run",
    "/sbin",
    "/snap",
    "/srv",
    "/sys",
    "/usr",
    "/var",
    "/System",
    "/Library",
    "/Applications",
    "/Users",
    "/Volumes",
    "/private",
    "/usr/bin",
    "/usr/lib",
    "/usr/local",
    "/usr/sbin",
    "/usr/share",
    "/var/lib",
];

/// Block devices by name prefix under /dev.
const DEVICE_PREFIXES: &[&str] = &[
    "/dev/sd",
    "/dev/hd",
    "/dev/vd",
    "/dev/xvd",
    "/dev/nvme",
    "/dev/mmcblk",
    "/dev/disk",
    "/dev/rdisk",
    "/dev/md",
    "/dev/dm-",
    "/dev/mapper/",
    "/dev/loop",
    "/dev/sr",
    "/dev/mem",
    "/dev/kmem",
    "/dev/port",
];

const SYSTEM_FILES: &[&str] = &[
    "/etc/passwd",
    "/etc/shadow",
    "/etc/group",
    "/etc/gshadow",
    "/etc/sudoers",
    "/etc/fstab",
];

/// Shared temp directories: what is under them is scratch, they are not.
const TEMP_ROOTS: &[&str] = &[
    "/tmp",
    "/var/tmp",
    "/dev/shm",
    "/private/tmp",
    "/private/var/tmp",
    "/var/folders",
    "/private/var/folders",
];

/// System caches: package lists and downloads that are fetched again.
const ABS_CACHES: &[&str] = &["/var/cache", "/var/lib/apt/lists"];

/// A path component that makes everything at and below it a cache or scratch space.
const CACHE_NAMES: &[&str] = &[
    ".cache",
    "cache",
    "caches",
    "Caches",
    "__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".parcel-cache",
    ".sass-cache",
    ".eslintcache",
    ".npm",
    ".pnpm-store",
    ".yarn-cache",
    "tmp",
    "temp",
    ".tmp",
    "Trash",
    ".Trash",
];

/// Home subdirectories that only hold downloaded or rebuilt things.
const HOME_CACHES: &[&[&str]] = &[
    &[".cargo", "registry"],
    &[".cargo", "git"],
    &[".gradle", "caches"],
    &[".m2", "repository"],
    &[".rustup", "tmp"],
    &[".rustup", "downloads"],
    &[".local", "share", "Trash"],
    &[".yarn", "cache"],
    &[".bun", "install", "cache"],
    &["go", "pkg", "mod"],
    &["Library", "Developer", "Xcode", "DerivedData"],
];

/// The last component names something a build or tool regenerates.
const BUILD_OUTPUTS: &[&str] = &[
    "node_modules",
    "target",
    "build",
    "dist",
    "out",
    ".next",
    ".nuxt",
    ".svelte-kit",
    ".turbo",
    ".angular",
    ".gradle",
    ".tox",
    ".nox",
    ".venv",
    "venv",
    ".eggs",
    "coverage",
    "htmlcov",
    ".coverage",
    "_build",
    "cmake-build-debug",
    "cmake-build-release",
    "DerivedData",
    ".terraform",
    ".dart_tool",
    "vendor",
];

/// Where a path starts.
#[derive(Debug, Clone, PartialEq)]
enum Base {
    Root,
    Home,
    /// The current directory, `up` levels higher.
    Cwd {
        up: usize,
    },
    /// A variable or substitution whose value is unknown.
    Unknown,
}

/// A path after expansion of known variables and removal of `.`, `..` and `//`.
#[derive(Debug, Clone, PartialEq)]
pub struct Norm {
    base: Base,
    comps: Vec<String>,
    /// The last component was a bare glob (`*`, `.*`, `**`): everything in the path.
    pub all_in: bool,
}

/// The class of a delete or chmod target, from worst to least bad.
#[derive(Debug, Clone, PartialEq)]
pub enum Place {
    /// `/`, your home, a system directory or someone's home: the description.
    Precious(String),
    /// A variable or substitution: its text.
    Unknown(String),
    /// `.`, `*`, `..`, `../x`: the description.
    Here(String),
    /// An absolute path outside temp and caches, or a home subtree.
    Outside(String),
    /// A named path in the project, a build output, a cache or a temp dir.
    Named,
}

/// `$HOME`, `${HOME}`, `${HOME:?msg}`, `${HOME:-x}` → Some("HOME", rest);
/// `${HOME%/*}` and other operators that change the value → None.
fn variable(s: &str) -> Option<(&str, &str)> {
    let s = s.strip_prefix('$')?;
    if let Some(inner) = s.strip_prefix('{') {
        let close = inner.find('}')?;
        let body = &inner[..close];
        let name_len = body
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(body.len());
        let (name, op) = body.split_at(name_len);
        let keeps_value = op.is_empty()
            || ["?", ":?", "-", ":-", "=", ":="]
                .iter()
                .any(|p| op.starts_with(p));
        keeps_value.then_some((name, &inner[close + 1..]))
    } else {
        let name_len = s
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len());
        Some((&s[..name_len], &s[name_len..]))
    }
}

fn is_glob_all(comp: &str) -> bool {
    comp.contains(['*', '?'])
        && comp
            .chars()
            .all(|c| matches!(c, '*' | '?' | '[' | ']' | '!' | '^' | '.'))
}

/// Normalises a path operand as the shell and kernel would.
pub fn normalize(raw: &str) -> Norm {
    let t = raw.trim();
    let (base, mut comps, rest): (Base, Vec<String>, &str) = if parse::has_placeholder(t) {
        (Base::Unknown, Vec::new(), "")
    } else if let Some(rest) = t.strip_prefix('~') {
        let user_len = rest.find('/').unwrap_or(rest.len());
        let (user, rest) = rest.split_at(user_len);
        match user {
            "" => (Base::Home, Vec::new(), rest),
            "+" => (Base::Cwd { up: 0 }, Vec::new(), rest),
            "-" => (Base::Unknown, Vec::new(), ""),
            u => (Base::Root, vec!["home".into(), u.into()], rest),
        }
    } else if t.starts_with('$') {
        match variable(t) {
            Some((name, rest)) if rest.is_empty() || rest.starts_with('/') => match name {
                "HOME" => (Base::Home, Vec::new(), rest),
                "PWD" => (Base::Cwd { up: 0 }, Vec::new(), rest),
                "TMPDIR" | "TMP" | "TEMP" => (Base::Root, vec!["tmp".into()], rest),
                "XDG_CACHE_HOME" => (Base::Home, vec![".cache".into()], rest),
                _ => (Base::Unknown, Vec::new(), ""),
            },
            _ => (Base::Unknown, Vec::new(), ""),
        }
    } else if let Some(rest) = t.strip_prefix('/') {
        (Base::Root, Vec::new(), rest)
    } else {
        (Base::Cwd { up: 0 }, Vec::new(), t)
    };
    let mut base = base;
    let mut all_in = false;
    if base == Base::Unknown {
        return Norm {
            base,
            comps,
            all_in,
        };
    }
    for comp in rest.split('/') {
        all_in = false;
        match comp {
            "" | "." => {}
            ".." => {
                if comps.pop().is_none() {
                    match &mut base {
                        Base::Root | Base::Unknown => {}
                        // Above your home is /home (or /Users): a system directory.
                        Base::Home => {
                            base = Base::Root;
                            comps.push("home".into());
                        }
                        Base::Cwd { up } => *up += 1,
                    }
                }
            }
            c if c.contains('$') => {
                return Norm {
                    base: Base::Unknown,
                    comps: Vec::new(),
                    all_in: false,
                };
            }
            c if is_glob_all(c) => all_in = true,
            c => comps.push(c.to_string()),
        }
    }
    // A glob in the middle (`*/build`) still names `build`; only a trailing one
    // means "everything in".
    Norm {
        base,
        comps,
        all_in,
    }
}

impl Norm {
    /// The absolute path, for paths that start at `/`.
    fn absolute(&self) -> Option<String> {
        (self.base == Base::Root).then(|| format!("/{}", self.comps.join("/")))
    }

    fn is_home_dir(&self) -> bool {
        self.base == Base::Root
            && self.comps.len() == 2
            && (self.comps[0] == "home" || self.comps[0] == "Users")
    }

    fn has_cache_part(&self) -> bool {
        let comps: Vec<&str> = self.comps.iter().map(String::as_str).collect();
        // In /home/NAME/…, what follows NAME is a home subtree.
        let in_home = match self.base {
            Base::Home => Some(&comps[..]),
            Base::Root if comps.len() > 2 && (comps[0] == "home" || comps[0] == "Users") => {
                Some(&comps[2..])
            }
            _ => None,
        };
        if in_home.is_some_and(|h| HOME_CACHES.iter().any(|c| h.starts_with(c))) {
            return true;
        }
        if let Some(abs) = self.absolute() {
            if TEMP_ROOTS.iter().any(|r| {
                abs.strip_prefix(r)
                    .is_some_and(|rest| rest.len() > 1 && rest.starts_with('/'))
            }) {
                return true;
            }
            if ABS_CACHES
                .iter()
                .any(|c| abs == *c || abs.strip_prefix(c).is_some_and(|r| r.starts_with('/')))
            {
                return true;
            }
        }
        // A cache component counts when it is not the top of an absolute path.
        let skip = usize::from(self.base == Base::Root);
        comps.iter().skip(skip).any(|c| CACHE_NAMES.contains(c))
    }

    fn is_build_output(&self) -> bool {
        self.comps
            .last()
            .is_some_and(|c| BUILD_OUTPUTS.contains(&c.as_str()) || c.ends_with(".egg-info"))
            && !(self.base == Base::Root && self.comps.len() == 1)
    }

    /// Where this target falls. `raw` is what the user wrote, for messages.
    pub fn place(&self, raw: &str) -> Place {
        let raw = raw.trim();
        // Name what `..` resolved to; other spellings (`//`, `$HOME`) are plain enough.
        let shown = |what: String| {
            if raw.contains("..") {
                format!("{what} ({raw} is {what})")
            } else {
                what
            }
        };
        let everything = |what: String| {
            if self.all_in {
                format!("everything in {what}")
            } else {
                what
            }
        };
        match &self.base {
            // `rm -rf ""` names nothing.
            _ if raw.is_empty() => Place::Named,
            Base::Unknown => Place::Unknown(raw.to_string()),
            Base::Home if self.comps.is_empty() => {
                Place::Precious(shown("your home directory".into()))
            }
            Base::Root if self.comps.is_empty() => Place::Precious(shown("/".into())),
            Base::Root => {
                let abs = self.absolute().unwrap_or_default();
                if SYSTEM_DIRS.contains(&abs.as_str()) || self.is_home_dir() {
                    Place::Precious(shown(abs))
                } else if self.has_cache_part() || self.is_build_output() {
                    Place::Named
                } else {
                    Place::Outside(everything(shown(abs)))
                }
            }
            Base::Home => {
                if self.has_cache_part() || self.is_build_output() {
                    Place::Named
                } else {
                    Place::Outside(everything(shown(format!("~/{}", self.comps.join("/")))))
                }
            }
            Base::Cwd { up: 0 } if self.comps.is_empty() => {
                Place::Here("everything in the current directory".into())
            }
            Base::Cwd { up: 0 } => Place::Named,
            Base::Cwd { .. } if self.comps.is_empty() && !self.all_in => {
                Place::Here("the parent directory".into())
            }
            Base::Cwd { .. } => Place::Here(format!("{raw} (outside the current directory)")),
        }
    }

    /// Your home directory itself (not a path under it).
    pub fn is_home(&self) -> bool {
        self.base == Base::Home && self.comps.is_empty()
    }

    pub fn is_device(&self) -> bool {
        self.absolute()
            .is_some_and(|p| DEVICE_PREFIXES.iter().any(|d| p.starts_with(d)))
    }

    pub fn is_system_file(&self) -> bool {
        self.absolute()
            .is_some_and(|p| SYSTEM_FILES.contains(&p.as_str()) || p.starts_with("/boot/"))
    }

    pub fn is_dotfile(&self) -> bool {
        self.base == Base::Home && self.comps.first().is_some_and(|c| c.starts_with('.'))
    }

    pub fn is_dev_null(&self) -> bool {
        self.absolute().is_some_and(|p| p == "/dev/null")
    }
}

/// The class of a raw operand.
pub fn place(raw: &str) -> Place {
    normalize(raw).place(raw)
}

/// `Some(description)` when `raw` is `/`, `~`, a system directory or a home directory.
pub fn precious(raw: &str) -> Option<String> {
    match place(raw) {
        Place::Precious(what) => Some(what),
        _ => None,
    }
}

pub fn is_device(raw: &str) -> bool {
    normalize(raw).is_device()
}

pub fn is_system_file(raw: &str) -> bool {
    normalize(raw).is_system_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_precious(s: &str) -> bool {
        precious(s).is_some()
    }

    #[test]
    fn normalisation_finds_root_and_home() {
        for p in [
            "/",
            "//",
            "/./",
            "/tmp/..",
            "/tmp/../",
            "/*",
            "/.",
            "/usr/..",
            "/../..",
            "~",
            "~/",
            "$HOME",
            "${HOME}",
            "${HOME:?}",
            "${HOME:?}/",
            "$HOME/*",
            "~/..",
            "~/../..",
            "~/.cache/..",
            "/etc",
            "/etc/",
            "//etc//",
            "/home/alice",
            "/home/alice/*",
            "~bob",
            "/Users/al",
            "/var/../etc",
            "~/.*",
        ] {
            assert!(is_precious(p), "{p}");
        }
        for p in [
            "build",
            "./tmp",
            "/tmp/x",
            "~/Documents",
            "~/.cache/pip",
            "/var/www",
            "$DIR",
            "..",
            ".",
            "*",
            "${HOME%/*}x",
            "/etc/nginx",
            "~/.bashrc",
            "/tmp",
            "/tmp/*",
            "/tmpx/y",
        ] {
            assert!(!is_precious(p), "{p}");
        }
    }

    #[test]
    fn places() {
        assert_eq!(place("build"), Place::Named);
        assert_eq!(place("./tmp"), Place::Named);
        assert_eq!(place("*.egg-info"), Place::Named);
        assert_eq!(place("build/*"), Place::Named);
        assert_eq!(place("~/.cache/pip"), Place::Named);
        assert_eq!(place("/tmp/myapp-cache"), Place::Named);
        assert_eq!(place("$TMPDIR/x"), Place::Named);
        assert_eq!(place("~/projects/app/node_modules"), Place::Named);
        assert_eq!(place("/var/lib/apt/lists/*"), Place::Named);
        assert_eq!(place(""), Place::Named);
        assert!(matches!(place("."), Place::Here(_)));
        assert!(matches!(place("*"), Place::Here(_)));
        assert!(matches!(place("./*"), Place::Here(_)));
        assert!(matches!(place(".."), Place::Here(_)));
        assert!(matches!(place("../x"), Place::Here(_)));
        assert!(matches!(place("build/../.."), Place::Here(_)));
        assert!(matches!(place("~/Documents"), Place::Outside(_)));
        assert!(matches!(place("/var/www/html"), Place::Outside(_)));
        assert!(matches!(place("/build"), Place::Outside(_)));
        assert!(matches!(place("$DIR/"), Place::Unknown(_)));
        assert!(matches!(place("~/$X"), Place::Unknown(_)));
        assert!(matches!(place("__SUBST0__"), Place::Unknown(_)));
        assert!(matches!(place("/tmp/*"), Place::Outside(_)));
        assert!(matches!(place("/tmpx/y"), Place::Outside(_)));
    }

    #[test]
    fn files_and_devices() {
        assert!(is_system_file("/etc//passwd"));
        assert!(is_system_file("/tmp/../etc/shadow"));
        assert!(is_device("/dev/./sda"));
        assert!(normalize("$HOME/.bashrc").is_dotfile());
        assert!(normalize("${HOME}/.zshrc").is_dotfile());
        assert!(!normalize("~/notes.txt").is_dotfile());
    }
}
