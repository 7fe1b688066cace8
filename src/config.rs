//! Settings: flags > environment (`CMDAI_*`) > config file > defaults.
//!
//! The config file is `$XDG_CONFIG_HOME/cmdai/config` (or
//! `~/.config/cmdai/config`; `CMDAI_CONFIG` overrides), `key = value` lines,
//! `#` comments. Keys match the environment variables without the prefix,
//! in lower case: `model`, `device`, `max_tokens`, `timeout`, `allow_critical`,
//! `endpoint`, `remote_model`. The API key is read only from `CMDAI_API_KEY`:
//! config files get shared and committed.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

/// A value that no message may show: `{:?}` prints `***`.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub model: String,
    pub device: String,
    pub max_tokens: usize,
    /// Seconds the helper may take before it gives up (widget mode).
    pub timeout: u64,
    /// Hand over critical commands in widget mode instead of blocking them.
    pub allow_critical: bool,
    /// An OpenAI-compatible server's base URL; None runs the local model.
    pub endpoint: Option<String>,
    /// The model name the server knows; None lets the server choose.
    pub remote_model: Option<String>,
    /// Sent to the endpoint as a bearer token; from the environment only.
    pub api_key: Option<Secret>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            model: crate::models::catalog::DEFAULT_MODEL.to_string(),
            device: "auto".to_string(),
            max_tokens: 128,
            timeout: 60,
            allow_critical: false,
            endpoint: None,
            remote_model: None,
            api_key: None,
        }
    }
}

pub fn config_path() -> Option<PathBuf> {
    let non_empty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    non_empty("CMDAI_CONFIG")
        .or_else(|| non_empty("XDG_CONFIG_HOME").map(|d| d.join("cmdai").join("config")))
        .or_else(|| non_empty("HOME").map(|h| h.join(".config").join("cmdai").join("config")))
}

fn parse_file(text: &str) -> Result<HashMap<String, String>> {
    let mut out = HashMap::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (k, v) = line.split_once('=').ok_or_else(|| {
            // A mistyped key line must not print the key it holds.
            let shown = if line.to_lowercase().contains("key") {
                "…"
            } else {
                line
            };
            Error::usage(format!(
                "config line {} is not `key = value`: {shown}",
                n + 1
            ))
        })?;
        let v = v.trim().trim_matches('"');
        out.insert(k.trim().to_lowercase(), v.to_string());
    }
    Ok(out)
}

/// Settings given as command-line flags: they beat everything else.
#[derive(Debug, Default)]
pub struct Flags {
    pub model: Option<String>,
    pub device: Option<&'static str>,
    pub max_tokens: Option<usize>,
    pub timeout: Option<u64>,
    pub endpoint: Option<String>,
    pub remote_model: Option<String>,
    /// Ignore a configured endpoint: run the local model.
    pub local: bool,
}

impl Settings {
    /// Flags > `CMDAI_*` environment > config file > defaults.
    pub fn resolve(flags: Flags) -> Result<Settings> {
        let mut s = Settings::load()?;
        if let Some(m) = flags.model {
            s.model = m;
        }
        if let Some(d) = flags.device {
            s.device = d.to_string();
        }
        if let Some(n) = flags.max_tokens {
            s.max_tokens = n.clamp(1, 1024);
        }
        if let Some(t) = flags.timeout {
            s.timeout = t.max(1);
        }
        if let Some(e) = flags.endpoint {
            s.set("endpoint", &e)?;
        }
        if let Some(m) = flags.remote_model {
            s.set("remote_model", &m)?;
        }
        if flags.local {
            s.endpoint = None;
        }
        Ok(s)
    }

    /// Defaults, overlaid with the config file, then the environment.
    pub fn load() -> Result<Settings> {
        let mut s = Settings::default();
        if let Some(path) = config_path() {
            if let Ok(text) = std::fs::read_to_string(&path) {
                let file = parse_file(&text)
                    .map_err(|e| Error::usage(format!("{}: {}", path.display(), e.message)))?;
                for (k, v) in file {
                    s.set(&k, &v)
                        .map_err(|e| Error::usage(format!("{}: {}", path.display(), e.message)))?;
                }
            }
        }
        for key in [
            "model",
            "device",
            "max_tokens",
            "timeout",
            "allow_critical",
            "endpoint",
            "remote_model",
        ] {
            let var = format!("CMDAI_{}", key.to_uppercase());
            if let Some(v) = std::env::var(&var).ok().filter(|v| !v.is_empty()) {
                s.set(key, &v)
                    .map_err(|e| Error::usage(format!("{var}: {}", e.message)))?;
            }
        }
        if let Some(key) = std::env::var_os("CMDAI_API_KEY").filter(|v| !v.is_empty()) {
            // A header carries visible ASCII only; the value itself is never shown.
            let key = key
                .into_string()
                .ok()
                .filter(|k| k.bytes().all(|b| b.is_ascii_graphic()))
                .ok_or_else(|| {
                    Error::usage(
                        "CMDAI_API_KEY holds spaces, control or non-ASCII characters; an HTTP header cannot carry them",
                    )
                })?;
            s.api_key = Some(Secret(key));
        }
        Ok(s)
    }

    fn set(&mut self, key: &str, value: &str) -> Result<()> {
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| Error::usage(format!("`{key}` must be a whole number, got `{v}`")))
        };
        match key {
            "model" => self.model = value.to_string(),
            "device" => self.device = value.to_string(),
            "max_tokens" => self.max_tokens = number(value)?.clamp(1, 1024) as usize,
            "timeout" => self.timeout = number(value)?.max(1),
            // Empty means unset, so a config file can keep the line.
            "endpoint" => self.endpoint = Some(value.trim().to_string()).filter(|v| !v.is_empty()),
            "remote_model" => {
                self.remote_model = Some(value.trim().to_string()).filter(|v| !v.is_empty())
            }
            "api_key" => {
                return Err(Error::usage(
                    "`api_key` is read only from the CMDAI_API_KEY environment variable, not from a file",
                ))
            }
            "allow_critical" => {
                self.allow_critical = match value {
                    "1" | "true" | "yes" => true,
                    "0" | "false" | "no" => false,
                    _ => return Err(Error::usage(format!("`{key}` must be true or false"))),
                }
            }
            _ => return Err(Error::usage(format!("unknown setting `{key}`"))),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_format() {
        let m = parse_file("# c\nmodel = qwen2.5-coder-0.5b\n\ntimeout=5\n").unwrap();
        assert_eq!(m["model"], "qwen2.5-coder-0.5b");
        assert_eq!(m["timeout"], "5");
        assert!(parse_file("nonsense").is_err());
        let e = parse_file("api_key: sk-typo").unwrap_err();
        assert!(!e.message.contains("sk-typo"), "{}", e.message);
    }

    #[test]
    fn values_are_checked() {
        let mut s = Settings::default();
        assert!(s.set("timeout", "x").is_err());
        assert!(s.set("colour", "red").is_err());
        s.set("allow_critical", "yes").unwrap();
        assert!(s.allow_critical);
        s.set("endpoint", " http://h:8000/v1 ").unwrap();
        assert_eq!(s.endpoint.as_deref(), Some("http://h:8000/v1"));
        s.set("endpoint", "").unwrap();
        assert_eq!(s.endpoint, None);
        let e = s.set("api_key", "sk-in-a-file").unwrap_err();
        assert!(e.message.contains("CMDAI_API_KEY") && !e.message.contains("sk-in-a-file"));
    }

    #[test]
    fn secrets_do_not_print() {
        let s = Settings {
            api_key: Some(Secret("sk-hidden".into())),
            ..Settings::default()
        };
        assert!(!format!("{s:?}").contains("sk-hidden"));
    }
}
