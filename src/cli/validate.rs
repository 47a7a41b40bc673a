//! `pgconverge validate`: check the inventory, playbook and templates without
//! contacting any host.

use super::args::InputArgs;
use clap::Args;
use pgconverge::desired::DesiredState;
use pgconverge::diagnostic::{self, Diagnostic, Diagnostics, Severity};
use pgconverge::inventory::{Input, Inventory, Role};
use pgconverge::printer::{Format, Printer};
use pgconverge::secret::Redactor;
use std::process::ExitCode;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    input: InputArgs,
    /// `json` prints one document on stdout: `format_version`, `valid`, the counts and every
    /// diagnostic with its `severity`, `message`, `file`, `line` and `column`
    #[arg(long, value_enum, default_value = "human")]
    format: Format,
}

pub fn run(args: ValidateArgs) -> ExitCode {
    let input = args.input.inventory.input();
    match (args.input.load(), args.format) {
        (Ok(loaded), Format::Human) => {
            let printer = Printer::new(Redactor::new(loaded.desired.secrets.clone()));
            printer.warnings(&loaded.inventory.warnings);
            printer.out(&summary(&input, &loaded.desired));
            ExitCode::SUCCESS
        }
        (Ok(loaded), Format::Json) => {
            let printer = Printer::new(Redactor::new(loaded.desired.secrets.clone()));
            let summary = summary(&input, &loaded.desired);
            printer.out(&document(&[], &loaded.inventory.warnings, Some(&summary)));
            ExitCode::SUCCESS
        }
        (Err(diagnostics), Format::Human) => {
            report(&input, &diagnostics);
            ExitCode::from(1)
        }
        (Err(diagnostics), Format::Json) => {
            let printer = Printer::new(redactor_for(&input));
            printer.out(&document(&diagnostics.0, &[], None));
            ExitCode::from(1)
        }
    }
}

/// The JSON document of `validate --format json`. A broken inventory gives its
/// errors only: warnings are found once it reads whole.
fn document(errors: &[Diagnostic], warnings: &[Diagnostic], summary: Option<&str>) -> String {
    let diagnostics: Vec<serde_json::Value> = errors
        .iter()
        .map(|error| diagnostic::to_json(error, Severity::Error))
        .chain(
            warnings
                .iter()
                .map(|warning| diagnostic::to_json(warning, Severity::Warning)),
        )
        .collect();
    let document = serde_json::json!({
        "format_version": 1,
        "valid": errors.is_empty(),
        "error_count": errors.len(),
        "warning_count": warnings.len(),
        "summary": summary,
        "diagnostics": diagnostics,
    });
    serde_json::to_string_pretty(&document).unwrap_or_default()
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
