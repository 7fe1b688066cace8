//! From what the user names (a catalog model or a `.gguf` path) to the file
//! to run and an id for its prompt cache.

use crate::error::{Error, Result};
use crate::models::{catalog, fetch, store};
use std::path::PathBuf;

/// The model file to run and an id for its prefix cache.
pub struct ResolvedModel {
    pub path: PathBuf,
    pub id: String,
    /// A catalog model, in cmdai's own store.
    pub catalog: bool,
}

impl ResolvedModel {
    /// Where its pre-laid-out weights live: beside a catalog model's file
    /// (links followed, so caches that link to one store share one tile
    /// file), in the cache's models dir for other files (not beside a
    /// user's own file, which may be anywhere).
    pub fn tiles(&self, may_build: bool) -> Option<crate::engine::TilesAt> {
        let real = std::fs::canonicalize(&self.path).unwrap_or_else(|_| self.path.clone());
        let dir = match real.parent() {
            Some(dir) if self.catalog => dir.to_path_buf(),
            _ => store::models_dir().ok()?,
        };
        Some(crate::engine::TilesAt {
            path: crate::engine::tiles::path_for(&dir, &real, &self.id),
            may_build,
            announce: may_build,
        })
    }
}

/// A catalog name or a path to a GGUF file. A missing catalog model is
/// fetched only when a person is watching (`may_fetch`).
pub fn resolve_model(name: &str, may_fetch: bool) -> Result<ResolvedModel> {
    if let Some(spec) = catalog::find(name) {
        if !store::is_installed(spec)? {
            if !may_fetch {
                return Err(store::not_installed(spec));
            }
            eprintln!(
                "cmdai: {} is not installed yet; downloading it once ({} MB)",
                spec.name,
                spec.size / 1_000_000
            );
            fetch::fetch(spec, fetch::Source::Auto)?;
        }
        return Ok(ResolvedModel {
            path: store::model_path(spec)?,
            id: spec.sha256.to_string(),
            catalog: true,
        });
    }
    let path = PathBuf::from(name);
    if !name.ends_with(".gguf") && !name.contains('/') {
        return Err(Error::usage(format!(
            "unknown model `{name}`: use one of {} or a path to a .gguf file",
            catalog::names()
        )));
    }
    let meta = std::fs::metadata(&path)
        .map_err(|e| Error::model(format!("model file {} not found ({e})", path.display())))?;
    // Custom files have no catalog checksum; path, size and mtime identify
    // them well enough for the prefix cache (a changed file gets a new key).
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let canonical = std::fs::canonicalize(&path).unwrap_or(path.clone());
    Ok(ResolvedModel {
        id: format!("{}:{}:{mtime}", canonical.display(), meta.len()),
        path,
        catalog: false,
    })
}
