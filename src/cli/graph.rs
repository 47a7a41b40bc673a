//! `pgconverge graph`.

use super::args::InputArgs;
use clap::Args;
use pgconverge::graph_dot::dot;
use pgconverge::printer::Printer;
use pgconverge::secret::Redactor;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(
    after_help = "Prints the step graph across hosts as Graphviz DOT on stdout: a cluster per host, \
a node per step, an edge from each step to the steps that wait for it (dashed between hosts). \
Contacts no host. Draw it with `pgconverge graph -i inventory.yaml | dot -Tsvg > steps.svg`."
)]
pub struct GraphArgs {
    #[command(flatten)]
    input: InputArgs,
}

pub fn run(args: GraphArgs) -> ExitCode {
    match args.input.load() {
        Ok(loaded) => {
            let printer = Printer::new(Redactor::new(loaded.desired.secrets.clone()));
            for line in dot(&loaded.desired).lines() {
                printer.out(line);
            }
            ExitCode::SUCCESS
        }
        Err(diagnostics) => {
            super::validate::report(&args.input.inventory.input(), &diagnostics);
            ExitCode::from(1)
        }
    }
}
