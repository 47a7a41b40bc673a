//! `pgconverge validate`: check the inventory, playbook and templates without
//! contacting any host.

use super::args::InputArgs;
use clap::Args;
use pgconverge::desired::DesiredState;
use pgconverge::diagnostic::Diagnostics;
use pgconverge::inventory::{Input, Inventory, Role};
use pgconverge::printer::Printer;
use pgconverge::secret::Redactor;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    input: InputArgs,
}

pub fn run(args: ValidateArgs) -> ExitCode {
    match args.input.load() {
        Ok(loaded) => {
            let printer = Printer::new(Redactor::new(loaded.desired.secrets.clone()));
            printer.warnings(&loaded.inventory.warnings);
            printer.out(&summary(&args.input.inventory.input(), &loaded.desired));
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            report(&args.input.inventory.input(), &diagnostics);
            ExitCode::from(1)
        }
    }
}

/// `inventory.yaml: 3 hosts (1 primary, 2 standbys), 24 steps: valid`.
fn summary(inventory: &Input, desired: &DesiredState) -> String {
    let count = |role: Role| {
        desired
            .hosts
            .values()
            .filter(|host| host.role == role)
            .count()
    };
    let plural = |count: usize, one: &str, many: &str| {
        format!("{count} {}", if count == 1 { one } else { many })
    };
    format!(
        "{}: {} ({}, {}), {}: valid",
        inventory.display(),
        plural(desired.hosts.len(), "host", "hosts"),
        plural(count(Role::Primary), "primary", "primaries"),
        plural(count(Role::Standby), "standby", "standbys"),
        plural(desired.graph.nodes().count(), "step", "steps"),
    )
}

/// Prints every diagnostic as one `error: ` line on stderr. When the inventory
/// itself is sound (the problem is in the playbook or a template), its secrets
/// are known and redacted, as everywhere else.
pub(super) fn report(inventory: &Input, diagnostics: &Diagnostics) {
    let printer = Printer::new(redactor_for(inventory));
    for diagnostic in &diagnostics.0 {
        printer.error(&diagnostic.to_string());
    }
}

fn redactor_for(inventory: &Input) -> Redactor {
    let Ok(inventory) = Inventory::load_input(inventory) else {
        return Redactor::default();
    };
    Redactor::new(inventory.secret_values())
}
