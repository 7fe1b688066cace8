//! `cmdai model …`: fetch, prepare, list, path, verify, rm.

use super::args::ModelAction;
use crate::error::{Error, Result};
use crate::models::catalog::{self, ModelSpec, CATALOG, DEFAULT_MODEL};
use crate::models::resolve::resolve_model;
use crate::models::{fetch, store};

fn spec(name: Option<&str>) -> Result<&'static ModelSpec> {
    let name = name.unwrap_or(DEFAULT_MODEL);
    catalog::find(name).ok_or_else(|| {
        Error::usage(format!(
            "unknown model `{name}`; known models: {}",
            catalog::names()
        ))
    })
}

pub fn run(action: ModelAction) -> Result<()> {
    match action {
        ModelAction::Fetch { name, source } => {
            let spec = spec(name.as_deref())?;
            let path = fetch::fetch(spec, source)?;
            let model = resolve_model(spec.name, false)?;
            crate::prepare::prepare(&model, spec.name, false)?;
            println!("{}", path.display());
        }
        ModelAction::Prepare { name, quiet } => {
            // A path to a .gguf file works too, like everywhere else.
            let name = name.unwrap_or_else(|| DEFAULT_MODEL.to_string());
            let model = resolve_model(&name, false)?;
            crate::prepare::prepare(&model, &name, quiet)?;
        }
        ModelAction::List => {
            for m in CATALOG {
                let mark = if store::is_installed(m)? {
                    "installed"
                } else {
                    "-"
                };
                let default = if m.name == DEFAULT_MODEL {
                    " (default)"
                } else {
                    ""
                };
                println!(
                    "{:<20} {:>9}  {:>5} MB  {}{default}",
                    m.name,
                    mark,
                    m.size / 1_000_000,
                    m.summary
                );
            }
        }
        ModelAction::Path { name } => {
            println!("{}", store::model_path(spec(name.as_deref())?)?.display())
        }
        ModelAction::Verify { name } => {
            let spec = spec(name.as_deref())?;
            store::verify(spec)?;
            println!("{}: ok (sha256 {})", spec.name, spec.sha256);
        }
        ModelAction::Rm { name } => {
            let spec = spec(name.as_deref())?;
            if store::remove(spec)? {
                println!("removed {}", spec.name);
            } else {
                println!("{} was not installed", spec.name);
            }
        }
    }
    Ok(())
}
