//! `pgconverge disconnect`: ends the SSH connections `--persist` kept open.

use clap::Args;
use pgconverge::printer::Printer;
use pgconverge::secret::Redactor;
use pgconverge::transport::{CONTROL_DIRECTORY_VARIABLE, disconnect_all};
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Ends every master connection a run with --persist left open (they end by themselves \
once idle for the time --persist gave). Their sockets are in $PGCONVERGE_CONTROL_DIR, else \
$XDG_RUNTIME_DIR/pgconverge, else ~/.cache/pgconverge/ssh."
)]
pub struct DisconnectArgs {}

pub async fn run(_args: DisconnectArgs) -> ExitCode {
    let printer = Printer::new(Redactor::default());
    match disconnect_all().await {
        Ok(closed) => {
            printer.err(&format!("Closed {closed} persisted connection(s)"));
            ExitCode::SUCCESS
        }
        Err(reason) => {
            printer.error(&format!(
                "{reason} (the directory is set with {CONTROL_DIRECTORY_VARIABLE})"
            ));
            ExitCode::from(1)
        }
    }
}
