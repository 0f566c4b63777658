//! `agentlocator config check`.

use clap::Subcommand;

use super::render::print_json;
use super::GlobalOptions;
use crate::config::DEFAULT_CONFIG_PATH;
use crate::error::{AppError, AppResult};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Validate the effective configuration and print it, secrets redacted
    Check {
        /// Print JSON instead of TOML
        #[arg(long)]
        json: bool,
    },
}

pub fn run(global: &GlobalOptions, command: ConfigCommand) -> AppResult<()> {
    let ConfigCommand::Check { json } = command;
    let config = global.load_config()?;
    let shown = config.redacted();
    if json {
        return print_json(&shown);
    }
    let source = match &global.config {
        Some(path) => path.display().to_string(),
        None if std::path::Path::new(DEFAULT_CONFIG_PATH).is_file() => DEFAULT_CONFIG_PATH.to_string(),
        None => "built-in defaults".to_string(),
    };
    let secret_note = if config.security.internal_secret.is_some() {
        "configured".to_string()
    } else {
        let path = global.data().secret_path();
        if path.is_file() {
            format!("kept in {}", path.display())
        } else {
            format!("not set; `serve` will generate one into {}", path.display())
        }
    };
    let text = toml::to_string_pretty(&shown).map_err(|e| AppError::failed(e.to_string()))?;
    println!("# configuration is valid");
    println!("# source: {source}, then the environment");
    println!("# internal secret: {secret_note}");
    println!("# secrets are shown as <redacted>");
    print!("{text}");
    Ok(())
}
