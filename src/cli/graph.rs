//! `pgconverge graph`.

use clap::Args;
use pgconverge::apply::load;
use pgconverge::graph_dot::dot;
use pgconverge::printer::Printer;
use pgconverge::secret::Redactor;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints the step graph across hosts as Graphviz DOT on stdout: a cluster per host, \
a node per step, an edge from each step to the steps that wait for it (dashed between hosts). \
Contacts no host. Draw it with `pgconverge graph -i inventory.yaml | dot -Tsvg > steps.svg`."
)]
pub struct GraphArgs {
    /// The Ansible-style YAML inventory
    #[arg(short, long, value_name = "FILE")]
    inventory: PathBuf,
    /// A playbook to use instead of the built-in one
    #[arg(short, long, value_name = "FILE")]
    playbook: Option<PathBuf>,
    /// A directory of templates to use instead of the built-in ones
    #[arg(long, value_name = "DIR")]
    templates: Option<PathBuf>,
}

pub fn run(args: GraphArgs) -> ExitCode {
    match load(
        &args.inventory,
        args.playbook.as_deref(),
        args.templates.as_deref(),
    ) {
        Ok(loaded) => {
            let printer = Printer::new(Redactor::new(loaded.desired.secrets.clone()));
            for line in dot(&loaded.desired).lines() {
                printer.out(line);
            }
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            super::validate::report(&args.inventory, &diagnostics);
            ExitCode::from(1)
        }
    }
}
