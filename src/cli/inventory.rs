//! `pgconverge inventory`: the inventory as pgconverge reads it, in the JSON
//! shape of `ansible-inventory` (`--list`, `--host`), or its group tree
//! (`--graph`).

use super::args::InventoryArgs;
use clap::Args;
use pgconverge::inventory::Inventory;
use pgconverge::listing;
use pgconverge::printer::Printer;
use pgconverge::secret::Redactor;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints on stdout as `ansible-inventory` does: `--list` every group with its \
hosts and children and every host's variables under `_meta.hostvars`, as JSON; `--host H` one host's \
variables, as JSON; `--graph [GROUP]` the tree of groups and hosts from GROUP (default `all`). \
Values are shown with their templates rendered and every secret as `(sensitive)`; \
pgconverge's own defaults are not listed, and hosts in no PostgreSQL group are left out. \
Contacts no host."
)]
pub struct InventoryCommandArgs {
    #[command(flatten)]
    inventory: InventoryArgs,
    /// Every group and every host's variables
    #[arg(long, conflicts_with_all = ["host", "graph"], required_unless_present_any = ["host", "graph"])]
    list: bool,
    /// One host's variables
    #[arg(long, value_name = "HOST", conflicts_with = "graph")]
    host: Option<String>,
    /// The tree of groups and hosts from GROUP down (default `all`)
    #[arg(long, value_name = "GROUP", num_args = 0..=1, default_missing_value = "all")]
    graph: Option<String>,
}

pub fn run(args: InventoryCommandArgs) -> ExitCode {
    let input = args.inventory.input();
    let inventory = match Inventory::load_input(&input) {
        Ok(inventory) => inventory,
        Err(diagnostics) => {
            super::validate::report(&input, &diagnostics);
            return ExitCode::from(1);
        }
    };
    let printer = Printer::new(Redactor::new(inventory.secret_values()));
    printer.warnings(&inventory.warnings);
    if let Some(group) = &args.graph {
        let Some(lines) = listing::graph(&inventory, group) else {
            let known: Vec<String> = inventory
                .tree
                .keys()
                .map(|name| format!("`{name}`"))
                .collect();
            printer.error(&format!(
                "unknown group `{group}` for --graph: the inventory has {}",
                known.join(", ")
            ));
            return ExitCode::from(1);
        };
        for line in lines {
            printer.out(&line);
        }
        return ExitCode::SUCCESS;
    }
    let document = match &args.host {
        Some(host) => match listing::host(&inventory, host) {
            Some(vars) => vars,
            None => {
                let known: Vec<String> = inventory
                    .hosts
                    .keys()
                    .map(|name| format!("`{name}`"))
                    .collect();
                printer.error(&format!(
                    "unknown host `{host}`: the inventory has {}",
                    known.join(", ")
                ));
                return ExitCode::from(1);
            }
        },
        None => listing::list(&inventory),
    };
    match serde_json::to_string_pretty(&document) {
        Ok(text) => {
            for line in text.lines() {
                printer.out(line);
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            printer.error(&format!("cannot write the JSON: {error}"));
            ExitCode::from(1)
        }
    }
}
