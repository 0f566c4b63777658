//! Tracing setup: text or JSON lines on stderr, level from -v/-q or RUST_LOG.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

pub fn init(format: LogFormat, verbose: u8, quiet: u8) {
    let level = match 2 + verbose as i8 - quiet as i8 {
        i8::MIN..=0 => "error",
        1 => "warn",
        2 => "info",
        3 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let filter = quiet_secrets(filter);
    // Colour only for a person at a terminal, and never under NO_COLOR.
    let ansi = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let builder =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
}

/// whatsapp-rust logs the pairing code it generates at info level; a code
/// lets whoever reads the log link their own phone, so those targets only
/// ever log warnings, whatever RUST_LOG says.
const SECRET_LOGGING_TARGETS: &[&str] = &["Bot/PairCode", "Client/PairCode"];

fn quiet_secrets(mut filter: EnvFilter) -> EnvFilter {
    for target in SECRET_LOGGING_TARGETS {
        if let Ok(directive) = format!("{target}=warn").parse() {
            filter = filter.add_directive(directive);
        }
    }
    filter
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_code_targets_are_held_to_warnings() {
        let filter = quiet_secrets(EnvFilter::new("trace"));
        let shown = filter.to_string();
        for target in SECRET_LOGGING_TARGETS {
            assert!(shown.contains(&format!("{target}=warn")), "{shown}");
        }
    }
}
