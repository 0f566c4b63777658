//! Shell completion scripts, generated from the command definitions. The
//! checked-in copies under `completions/` are compared with these by a test.

use std::io::Write;

use clap::CommandFactory;
use clap_complete::Shell;

use super::Cli;

pub fn write(shell: Shell, out: &mut dyn Write) -> std::io::Result<()> {
    let mut command = Cli::command();
    let mut buffer = Vec::new();
    clap_complete::generate(shell, &mut command, "agentlocator", &mut buffer);
    out.write_all(&buffer)
}

/// File name of the checked-in script for `shell`.
pub fn file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "agentlocator.bash",
        Shell::Zsh => "_agentlocator",
        Shell::Fish => "agentlocator.fish",
        Shell::Elvish => "agentlocator.elv",
        Shell::PowerShell => "_agentlocator.ps1",
        _ => "agentlocator.unknown",
    }
}
