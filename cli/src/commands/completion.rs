//! `meshctl completion SHELL`: the shell completion script on stdout.

use clap::CommandFactory;
use clap_complete::Shell;

const EXAMPLES: &str = "\
Examples:
  meshctl completion bash > ~/.local/share/bash-completion/completions/meshctl
  meshctl completion zsh > \"${fpath[1]}/_meshctl\"
  meshctl completion fish > ~/.config/fish/completions/meshctl.fish";

/// `meshctl completion`.
#[derive(clap::Args, Debug)]
#[command(after_help = EXAMPLES)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: Shell,
}

/// Prints the script.
pub fn run(args: Args) -> anyhow::Result<()> {
    let mut cmd = crate::cli::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "meshctl", &mut std::io::stdout());
    Ok(())
}
