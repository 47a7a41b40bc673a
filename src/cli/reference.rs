//! `pgconverge reference` (hidden): the command reference in Markdown, generated
//! from the clap definitions as the manual pages and completions are. The
//! repository keeps it as `docs/commands.md`, and `tests/offline/docs.rs` fails
//! when that copy differs from what this prints.

use clap::{Arg, Args, Command, CommandFactory};
use pgconverge::printer::Printer;
use pgconverge::secret::Redactor;
use std::process::ExitCode;

#[derive(Debug, Args)]
#[command(after_help = "Prints the reference on stdout, as `docs/commands.md` holds it.")]
pub struct ReferenceArgs {}

pub fn run(_args: ReferenceArgs) -> ExitCode {
    let mut command = super::Cli::command().disable_help_subcommand(true);
    command.build();
    let printer = Printer::new(Redactor::default());
    for line in markdown(&command).lines() {
        printer.out(line);
    }
    ExitCode::SUCCESS
}

/// The whole reference: the command's own section, then one per visible
/// subcommand, in the order `--help` lists them.
fn markdown(command: &Command) -> String {
    let name = command.get_name();
    let subcommands: Vec<&Command> = visible_subcommands(command);
    let mut text = String::new();
    text.push_str("# Command reference\n\n");
    text.push_str(
        "<!-- Generated from the clap definitions by the hidden `pgconverge reference`; do not edit. \
`tests/offline/docs.rs` fails when this file is stale, and \
`PGCONVERGE_UPDATE_GOLDEN=1 cargo test --test offline docs::` writes it again. -->\n\n",
    );
    text.push_str(&format!(
        "Every command and option, as `{name} --help` and `{name} COMMAND --help` print \
them. The guides in this directory say when to use which; [usage.md](usage.md#exit-codes) \
lists every command's exit codes.\n\n"
    ));
    for subcommand in &subcommands {
        text.push_str(&format!(
            "- [`{}`](#{}): {}\n",
            subcommand.get_name(),
            anchor(&format!("{name} {}", subcommand.get_name())),
            about(subcommand)
        ));
    }
    text.push('\n');
    text.push_str(&format!("## {name}\n\n{}\n\n", about(command)));
    text.push_str(&usage_block(command));
    text.push_str(&arguments_section(command, true));
    for subcommand in subcommands {
        text.push_str(&section(subcommand, name));
    }
    text
}

fn visible_subcommands(command: &Command) -> Vec<&Command> {
    command
        .get_subcommands()
        .filter(|subcommand| !subcommand.is_hide_set())
        .collect()
}

/// A subcommand's section (and its own subcommands', should it have any).
fn section(command: &Command, parent: &str) -> String {
    let full_name = format!("{parent} {}", command.get_name());
    let mut text = format!("## {full_name}\n\n{}\n\n", about(command));
    text.push_str(&usage_block(command));
    text.push_str(&arguments_section(command, false));
    if let Some(after) = command
        .get_after_long_help()
        .or_else(|| command.get_after_help())
    {
        text.push_str(&format!("{after}\n\n"));
    }
    for subcommand in visible_subcommands(command) {
        text.push_str(&section(subcommand, &full_name));
    }
    text
}

fn about(command: &Command) -> String {
    command
        .get_long_about()
        .or_else(|| command.get_about())
        .map(|about| about.to_string())
        .unwrap_or_default()
}

fn usage_block(command: &Command) -> String {
    let usage = command.clone().render_usage().to_string();
    let usage = usage.trim_start_matches("Usage:").trim();
    format!("```text\n{usage}\n```\n\n")
}

/// The arguments and options, each a list item with its help, default and
/// possible values. `--help` and `--version` are listed for the top command only.
fn arguments_section(command: &Command, top: bool) -> String {
    let shown = |arg: &&Arg| {
        !arg.is_hide_set() && (top || !matches!(arg.get_id().as_str(), "help" | "version"))
    };
    let positionals: Vec<&Arg> = command.get_positionals().filter(|arg| shown(arg)).collect();
    let options: Vec<&Arg> = command
        .get_arguments()
        .filter(|arg| !arg.is_positional())
        .filter(|arg| shown(arg))
        .collect();
    let mut text = String::new();
    for (title, args) in [("Arguments", positionals), ("Options", options)] {
        if args.is_empty() {
            continue;
        }
        text.push_str(&format!("**{title}**\n\n"));
        for arg in args {
            text.push_str(&format!("- `{}`: {}\n", arg_name(arg), arg_help(arg)));
        }
        text.push('\n');
    }
    text
}

/// The argument as `--help` writes it: `-i, --inventory <PATH>`, `[PLAN]`.
fn arg_name(arg: &Arg) -> String {
    match (arg.get_short(), arg.get_long()) {
        (Some(short), Some(_)) => format!("-{short}, {arg}"),
        _ => arg.to_string(),
    }
}

/// The help `--help` prints for the argument, with its default and possible
/// values as clap adds them (`[default: human] [possible values: human, json]`).
fn arg_help(arg: &Arg) -> String {
    let mut help = arg
        .get_long_help()
        .or_else(|| arg.get_help())
        .map(|help| help.to_string())
        .unwrap_or_default();
    // A flag's `false` and its `true`/`false` are no values one types.
    if !arg.get_action().takes_values() {
        return help;
    }
    let defaults: Vec<String> = arg
        .get_default_values()
        .iter()
        .map(|value| value.to_string_lossy().into_owned())
        .collect();
    if !defaults.is_empty() && !arg.is_hide_default_value_set() {
        help.push_str(&format!(" [default: {}]", defaults.join(", ")));
    }
    let possible: Vec<String> = arg
        .get_possible_values()
        .into_iter()
        .filter(|value| !value.is_hide_set())
        .map(|value| value.get_name().to_string())
        .collect();
    if !possible.is_empty() && !arg.is_hide_possible_values_set() {
        help.push_str(&format!(" [possible values: {}]", possible.join(", ")));
    }
    help
}

/// The anchor GitHub gives a heading: lower case, spaces as `-`.
fn anchor(heading: &str) -> String {
    heading
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}
