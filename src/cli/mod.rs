//! The command line: clap definitions and one small function per subcommand that
//! builds an options struct and calls the library.

mod apply;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "pgconverge",
    version,
    about = "Plan and converge PostgreSQL primary/standby clusters over SSH"
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show what would change (--dry-run) or converge every host to the inventory
    Apply(apply::ApplyArgs),
}

/// Parses the arguments, runs the subcommand and turns its result into an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::from(1);
        }
    };
    match cli.command {
        Command::Apply(args) => runtime.block_on(apply::run(args)),
    }
}
