//! `pgconverge man --dir DIR` (hidden): the manual pages of the command and of
//! every subcommand, generated from the clap definitions for packages
//! (`packaging/build-deb.sh`), never written by hand.

use clap::{Args, CommandFactory};
use pgconverge::printer::Printer;
use pgconverge::secret::Redactor;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Writes `pgconverge.1` and one `pgconverge-SUBCOMMAND.1` per subcommand into \
DIR (made if missing), in section 1, dated by the commit the binary was built from."
)]
pub struct ManArgs {
    /// The directory to write the pages into
    #[arg(long, value_name = "DIR")]
    dir: PathBuf,
}

pub fn run(args: ManArgs) -> ExitCode {
    let printer = Printer::new(Redactor::default());
    let mut command = super::Cli::command().disable_help_subcommand(true);
    command.build();
    let written = std::fs::create_dir_all(&args.dir).and_then(|()| {
        let mut written = 0;
        write_pages(command, &args.dir, &mut written)?;
        Ok(written)
    });
    match written {
        Ok(written) => {
            printer.err(&format!(
                "Wrote {written} manual pages to `{}`",
                args.dir.display()
            ));
            ExitCode::SUCCESS
        }
        Err(error) => {
            printer.error(&format!(
                "cannot write the manual pages to `{}`: {error}",
                args.dir.display()
            ));
            ExitCode::from(1)
        }
    }
}

/// Writes the page of `command` and, first, those of its visible subcommands.
fn write_pages(command: clap::Command, dir: &Path, written: &mut usize) -> std::io::Result<()> {
    for subcommand in command.get_subcommands().filter(|sub| !sub.is_hide_set()) {
        write_pages(subcommand.clone(), dir, written)?;
    }
    let mut page = clap_mangen::Man::new(command);
    if let Some(date) = super::version::commit_date() {
        page = page.date(date);
    }
    page.generate_to(dir)?;
    *written += 1;
    Ok(())
}
