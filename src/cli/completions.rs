//! `pgconverge completions SHELL`: the shell's completion script, generated from
//! the clap definitions, so it never falls behind the options.

use clap::{Args, CommandFactory};
use clap_complete::Shell;
use pgconverge::printer::Printer;
use pgconverge::secret::Redactor;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints the completion script on stdout. Installed by hand: \
`pgconverge completions bash > ~/.local/share/bash-completion/completions/pgconverge`, \
`pgconverge completions zsh > ~/.zfunc/_pgconverge` (with `fpath+=~/.zfunc` before `compinit`), \
`pgconverge completions fish > ~/.config/fish/completions/pgconverge.fish`. \
The Debian package installs them for every user."
)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    shell: Shell,
}

pub fn run(args: CompletionsArgs) -> ExitCode {
    let mut command = super::Cli::command();
    let name = command.get_name().to_string();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    let printer = Printer::new(Redactor::default());
    for line in String::from_utf8_lossy(&script).lines() {
        printer.out(line);
    }
    ExitCode::SUCCESS
}
