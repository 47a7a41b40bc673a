//! `pgconverge connections`.

use super::args::InputArgs;
use clap::Args;
use pgconverge::connections::{ClientIdentity, connections, text};
use pgconverge::printer::{Format, Printer};
use pgconverge::secret::Redactor;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints, per replication cluster, what applications connect with: a read-write \
libpq URI (every member, `target_session_attrs=read-write`: libpq connects to whichever accepts \
writes) and a read-only one (every member, `target_session_attrs=standby`, with \
`load_balance_hosts=random` from 16), and the same as `pg_service.conf` sections \
(`[CLUSTER-rw]`, `[CLUSTER-ro]`). Each lists every member, so it is right before and after a \
`promote` or `switchover` with no change. With hosts in the group `pgbouncer`, a third entry \
point lists their PgBouncers (`[CLUSTER-pgbouncer]`), which send every connection to the primary \
and which pgconverge points at the new one. What a libpq older than the inventory's PostgreSQL \
cannot do is not checked: the entry points assume clients of the same major or newer. Contacts \
no host."
)]
pub struct ConnectionsArgs {
    #[command(flatten)]
    input: InputArgs,
    /// The role the applications log in as, written into every entry point
    #[arg(long, value_name = "ROLE")]
    user: Option<String>,
    /// The database the applications use, written into every entry point
    #[arg(long, value_name = "NAME")]
    dbname: Option<String>,
    /// `json` prints one document on stdout: `format_version` and, per cluster, its
    /// `entry_points` (`kind`, `hosts`, `uri`, `service_name`, `service`) and `notes`
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub fn run(args: ConnectionsArgs) -> ExitCode {
    let loaded = match args.input.load() {
        Ok(loaded) => loaded,
        Err(diagnostics) => {
            super::validate::report(&args.input.inventory.input(), &diagnostics);
            return ExitCode::from(1);
        }
    };
    let printer = Printer::new(Redactor::new(loaded.desired.secrets.clone()));
    printer.warnings(&loaded.inventory.warnings);
    let identity = ClientIdentity {
        user: args.user,
        dbname: args.dbname,
    };
    match connections(&loaded.desired, &identity) {
        Ok(document) => {
            match args.format {
                Format::Human => {
                    for line in text(&document).trim_end().lines() {
                        printer.out(line);
                    }
                }
                Format::Json => printer.json(&document),
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            printer.error(&error.to_string());
            ExitCode::from(1)
        }
    }
}
