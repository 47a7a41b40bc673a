//! `pgconverge render`.

use super::args::InputArgs;
use clap::Args;
use pgconverge::printer::Printer;
use pgconverge::render_out::{RenderError, RenderOptions, render};
use pgconverge::secret::Redactor;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Writes the files a host should have under DIR, mirroring their absolute paths \
(DIR/etc/postgresql/15/main/postgresql.conf), for review or golden tests. Contacts no host.\n\n\
A sensitive file (the .pgpass) is written with `(sensitive)` and a note in place of its content: \
the replication password is never written. Any other secret of the inventory that a template \
puts into a file is replaced by `(sensitive)` as well."
)]
pub struct RenderArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The host whose files are written
    #[arg(long, value_name = "HOST")]
    host: String,
    /// The directory to write into (created if needed); secrets are written as `(sensitive)`
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
}

pub fn run(args: RenderArgs) -> ExitCode {
    let options = RenderOptions {
        inventory: args.input.inventory.input(),
        playbook: args.input.playbook,
        templates: args.input.templates,
        host: args.host,
        out: args.out,
    };
    match render(&options, Printer::new) {
        Ok(_) => ExitCode::SUCCESS,
        Err(RenderError::Input(diagnostics)) => {
            super::validate::report(&options.inventory, &diagnostics);
            ExitCode::from(1)
        }
        Err(error) => {
            Printer::new(Redactor::default()).error(&error.to_string());
            ExitCode::from(1)
        }
    }
}
