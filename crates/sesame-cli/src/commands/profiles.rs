//! `sesame profiles [--json | --names]`: the profiles of the configuration file.

use serde_json::json;
use sesame::Error;
use sesame_app::config::Config;

use crate::cli::{Global, ProfilesArgs};
use crate::{exit, out};

pub fn run(global: &Global, args: &ProfilesArgs) -> Result<i32, Error> {
    let config = Config::load(global.config.as_deref())?;
    let default = config.default_profile.as_deref();
    if args.names {
        for name in config.profiles.keys() {
            out::line(name);
        }
        return Ok(exit::OK);
    }
    if args.json {
        let list: Vec<_> = config
            .profiles
            .iter()
            .map(|(name, p)| {
                json!({
                    "name": name,
                    "auth": p.auth_kind().as_str(),
                    "base_url": p.base_url,
                    "default": Some(name.as_str()) == default,
                })
            })
            .collect();
        out::line(serde_json::to_string_pretty(&list).unwrap_or_default());
        return Ok(exit::OK);
    }
    if config.profiles.is_empty() {
        let where_ = config
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the configuration file".into());
        eprintln!("sesame: no profiles in {where_}; add one with `sesame config init`");
        return Ok(exit::OK);
    }
    let width = config.profiles.keys().map(|n| n.len()).max().unwrap_or(0).max(4);
    let kinds = config
        .profiles
        .values()
        .map(|p| p.auth_kind().as_str().len())
        .max()
        .unwrap_or(0)
        .max(4);
    out::line(format!("  {:<width$}  {:<kinds$}  BASE_URL", "NAME", "AUTH"));
    for (name, p) in &config.profiles {
        let mark = if Some(name.as_str()) == default { "*" } else { " " };
        out::line(
            format!(
                "{mark} {name:<width$}  {:<kinds$}  {}",
                p.auth_kind().as_str(),
                p.base_url.as_deref().unwrap_or("-")
            )
            .trim_end(),
        );
    }
    Ok(exit::OK)
}
