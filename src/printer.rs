//! The one printer: the plan and results on stdout, progress and errors on stderr,
//! colours through `anstream` (so NO_COLOR and pipes work), and every line passed
//! through the redactor so no secret is ever shown.

use crate::desired::NodeId;
use crate::execute::Progress;
use crate::inventory::Role;
use crate::live_status::{LiveStatus, copy_progress};
use crate::plan::Outcome;
use crate::plan::{Change, HostPlan, Plan, PlannedStep, Summary};
use crate::secret::Redactor;
use anstyle::{AnsiColor, Style};
use indexmap::IndexMap;
use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::Instant;

const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const RED: Style = AnsiColor::Red.on_default();
const CYAN: Style = AnsiColor::Cyan.on_default();
const BOLD: Style = Style::new().bold();
const DIM: Style = Style::new().dimmed();

/// How a command prints its result (`--format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    // For people, on stdout. (Plain comments: clap would list doc comments as
    // the values' help, changing every `--help`.)
    #[default]
    Human,
    // A versioned JSON document on stdout; the human text and progress on stderr.
    Json,
}

pub struct Printer {
    redactor: Redactor,
    full_diff: bool,
    /// What a long run is doing; drawn as the last line of a terminal.
    live: Mutex<LiveStatus>,
    /// Whether standard error is a terminal: then the live line is drawn under
    /// the other lines; else copies are told in plain lines now and then.
    terminal: bool,
    /// Whether stdout is kept for a JSON document (`--format json`): every line
    /// of text then goes to stderr.
    text_on_stderr: bool,
}

impl Drop for Printer {
    fn drop(&mut self) {
        if self.terminal {
            clear_live_line();
        }
    }
}

impl Printer {
    pub fn new(redactor: Redactor) -> Printer {
        Printer {
            redactor,
            full_diff: false,
            live: Mutex::new(LiveStatus::default()),
            terminal: std::io::stderr().is_terminal(),
            text_on_stderr: false,
        }
    }

    /// Keeps stdout for the JSON document (`--format json`) of a command that
    /// prints text on stdout otherwise: every line of text goes to stderr.
    pub fn with_text_on_stderr(mut self, text_on_stderr: bool) -> Printer {
        self.text_on_stderr = text_on_stderr;
        self
    }

    /// Plans show each file's whole unified diff, also where they show its
    /// settings and rules (`--diff full`).
    pub fn with_full_diff(mut self, full_diff: bool) -> Printer {
        self.full_diff = full_diff;
        self
    }

    /// A line on stdout (on stderr while stdout is kept for JSON). A closed
    /// pipe (`| head`) is not an error worth reporting.
    pub fn out(&self, line: &str) {
        if self.text_on_stderr {
            return self.err(line);
        }
        let _ = writeln!(anstream::stdout(), "{}", self.redactor.redact(line));
    }

    /// A line of progress or diagnostics on stderr (above the live line).
    pub fn err(&self, line: &str) {
        if self.terminal {
            clear_live_line();
        }
        let _ = writeln!(anstream::stderr(), "{}", self.redactor.redact(line));
        self.draw_live_line();
    }

    /// How many hosts have answered while facts are gathered.
    pub fn gathering(&self, done: usize, total: usize) {
        if let Ok(mut live) = self.live.lock() {
            live.gathering(done, total);
        }
        self.draw_live_line();
    }

    /// Draws the live line again, on a terminal: unstyled (the control sequences
    /// go to the terminal itself, which anstream would strip with NO_COLOR) and
    /// cut to the terminal's width so that it never wraps.
    fn draw_live_line(&self) {
        if !self.terminal {
            return;
        }
        let Some(line) = self.live.lock().ok().and_then(|live| live.line()) else {
            return;
        };
        let width = terminal_size::terminal_size_of(std::io::stderr())
            .map(|(width, _)| usize::from(width.0))
            .unwrap_or(80);
        let line: String = self
            .redactor
            .redact(&line)
            .chars()
            .take(width.saturating_sub(1))
            .collect();
        let mut stderr = std::io::stderr().lock();
        let _ = write!(stderr, "\r\x1b[2K{line}");
        let _ = stderr.flush();
    }

    /// Inputs that have no effect, each with its place, before anything runs.
    pub fn warnings(&self, warnings: &[crate::diagnostic::Diagnostic]) {
        for warning in warnings {
            self.err(&format!(
                "{YELLOW}warning{YELLOW:#}: {}",
                shown_lines(&warning.to_string())
            ));
        }
    }

    /// A line per host whose run lock another run held when its facts were read
    /// (`status`, `check`, dry runs, which never take it).
    pub fn locks_held(&self, facts: &crate::facts::GatheredFacts) {
        for (host, facts) in facts {
            if let Ok(facts) = facts
                && let Some(holder) = &facts.run_lock_holder
            {
                self.err(&format!(
                    "{YELLOW}note{YELLOW:#}: {host} is locked by {}: another run is at work there",
                    crate::run_lock::held_text(holder)
                ));
            }
        }
    }

    /// A command's gates, one a line: `ok`, `warn` or `CLOSED`, the name, what was seen.
    pub fn gates(&self, gates: &[crate::gate::Gate]) {
        for gate in gates {
            let (style, word) = if gate.passed && gate.warning {
                (YELLOW, "warn")
            } else if gate.passed {
                (GREEN, "ok")
            } else {
                (RED, "CLOSED")
            };
            self.out(&format!(
                "  {style}{word:>6}{style:#}  {}: {}",
                gate.name, gate.detail
            ));
        }
    }

    pub fn error(&self, message: &str) {
        self.err(&format!("{RED}error{RED:#}: {}", shown_lines(message)));
    }

    pub fn plan(&self, plan: &Plan) {
        for line in plan_text_with(plan, self.full_diff).lines() {
            self.out(line);
        }
    }

    /// The human plan on stderr, when stdout carries JSON.
    pub fn plan_to_stderr(&self, plan: &Plan) {
        for line in plan_text_with(plan, self.full_diff).lines() {
            self.err(line);
        }
    }

    /// A JSON document on stdout, redacted like every other line.
    pub fn json(&self, document: &impl serde::Serialize) {
        match serde_json::to_string_pretty(document) {
            Ok(text) => {
                let _ = writeln!(anstream::stdout(), "{}", self.redactor.redact(&text));
            }
            Err(error) => self.error(&format!("cannot write the JSON document: {error}")),
        }
    }

    pub fn redact(&self, text: &str) -> String {
        self.redactor.redact(text)
    }

    /// The closing report of an apply: what changed, what failed, what was not done.
    pub fn results(&self, plan: &Plan, outcomes: &IndexMap<NodeId, Outcome>) {
        let changed = outcomes
            .values()
            .filter(|outcome| matches!(outcome, Outcome::Changed(_)))
            .count();
        let failed: Vec<(&NodeId, &str)> = outcomes
            .iter()
            .filter_map(|(node, outcome)| match outcome {
                Outcome::Failed(reason) => Some((node, reason.as_str())),
                _ => None,
            })
            .collect();
        let skipped: Vec<&NodeId> = outcomes
            .iter()
            .filter(|(_, outcome)| matches!(outcome, Outcome::Skipped(_)))
            .map(|(node, _)| node)
            .collect();
        if failed.is_empty() {
            self.out(&format!(
                "{GREEN}Apply complete{GREEN:#}: {changed} changed, {} steps in all.",
                plan.order.len()
            ));
            return;
        }
        self.out(&format!(
            "{RED}Apply failed{RED:#}: {changed} changed, {} failed, {} not run.",
            failed.len(),
            skipped.len()
        ));
        for (node, reason) in failed {
            let reason: Vec<String> = reason.lines().map(shown).collect();
            self.out(&format!(
                "  {RED}failed{RED:#} {node}: {}",
                reason.join("\n      ")
            ));
        }
        for host in &plan.hosts {
            let done: Vec<&str> = outcomes
                .iter()
                .filter(|(node, outcome)| {
                    node.host == host.name
                        && matches!(outcome, Outcome::Changed(_) | Outcome::Verified(_))
                })
                .map(|(node, _)| node.step.as_str())
                .collect();
            if !done.is_empty() {
                self.out(&format!("  done on {}: {}", host.name, done.join(", ")));
            }
        }
        for host in &plan.hosts {
            let not_run: Vec<&str> = skipped
                .iter()
                .filter(|node| node.host == host.name)
                .map(|node| node.step.as_str())
                .collect();
            if !not_run.is_empty() {
                self.out(&format!(
                    "  not run on {}: {}",
                    host.name,
                    not_run.join(", ")
                ));
            }
        }
        self.out("Run the same command again once the cause is fixed: it continues from where this run stopped.");
    }
}

/// The progress of a command's steps run one after the other (a failover's, an
/// upgrade's) as `HOST: STEP: line`: what each reported when it finished and,
/// with `starts`, what it is about to do.
pub struct StepReports<'a> {
    pub printer: &'a Printer,
    pub starts: bool,
}

impl Progress for StepReports<'_> {
    fn step_started(&self, node: &NodeId, summary: &str) {
        if self.starts {
            self.printer
                .err(&format!("{}: {}: {summary}", node.host, node.step));
        }
    }

    fn step_finished(&self, node: &NodeId, outcome: &Outcome) {
        if let Outcome::Changed(report) | Outcome::Verified(report) = outcome {
            self.printer
                .err(&format!("{}: {}: {report}", node.host, node.step));
        }
    }
}

impl Progress for Printer {
    fn step_started(&self, node: &NodeId, summary: &str) {
        self.err(&format!("{DIM}{node}{DIM:#}: {}", shown(summary)));
    }

    fn step_said(&self, node: &NodeId, line: &str) {
        let Some((copied, total)) = copy_progress(line) else {
            self.err(&format!("{DIM}{node}{DIM:#}: {}", shown(line)));
            return;
        };
        let plain =
            self.live.lock().ok().and_then(|mut live| {
                live.copying(&node.to_string(), copied, total, Instant::now())
            });
        match plain {
            Some(plain) if !self.terminal => self.err(&plain),
            _ => self.draw_live_line(),
        }
    }

    fn steps_counted(&self, done: usize, total: usize) {
        if let Ok(mut live) = self.live.lock() {
            live.steps(done, total);
        }
        self.draw_live_line();
    }

    fn step_finished(&self, node: &NodeId, outcome: &Outcome) {
        if let Ok(mut live) = self.live.lock() {
            live.finished(&node.to_string());
        }
        match outcome {
            Outcome::Unchanged => {}
            Outcome::Changed(report) => self.err(&format!(
                "{GREEN}changed{GREEN:#} {node}: {}",
                one_line(report)
            )),
            Outcome::Verified(report) => {
                self.err(&format!("{GREEN}ok{GREEN:#} {node}: {}", one_line(report)))
            }
            Outcome::Failed(reason) => self.err(&format!(
                "{RED}failed{RED:#} {node}: {}",
                shown_lines(reason)
            )),
            Outcome::Skipped(reason) => self.err(&format!(
                "{YELLOW}skipped{YELLOW:#} {node}: {}",
                shown_lines(reason)
            )),
        }
    }
}

/// Wipes the live line, so that the next line is written where it was.
fn clear_live_line() {
    let mut stderr = std::io::stderr().lock();
    let _ = write!(stderr, "\r\x1b[2K");
    let _ = stderr.flush();
}

/// The plan as `terraform plan` shows one: host by host, step by step, with diffs
/// and a closing summary line. Styled; `anstream` strips the styles where colours
/// are off.
pub fn plan_text(plan: &Plan) -> String {
    plan_text_with(plan, false)
}

/// The plan; with `full_diff`, every file's unified diff also where its settings
/// and rules are listed.
pub fn plan_text_with(plan: &Plan, full_diff: bool) -> String {
    let mut lines = Vec::new();
    for (index, host) in plan.hosts.iter().enumerate() {
        let earlier = &plan.hosts[..index];
        host_plan(host, earlier, full_diff, &mut lines);
    }
    if let Some(blocked) = &plan.blocked {
        lines.push(format!("{RED}Blocked{RED:#}: {blocked}."));
    }
    lines.push(summary_line(&plan.summary()));
    lines.join("\n")
}

fn host_plan(host: &HostPlan, earlier: &[HostPlan], full_diff: bool, lines: &mut Vec<String>) {
    let role = match (&host.role, &host.upstream) {
        _ if host.outside => "decommissioned: no member of the replication cluster".to_string(),
        (Role::Primary, _) => "primary".to_string(),
        (Role::Standby, Some(upstream)) => format!("standby of {upstream}"),
        (Role::Standby, None) => "standby".to_string(),
        (Role::Archive, _) => "archive host".to_string(),
        (Role::Pgbouncer, _) => "PgBouncer host".to_string(),
    };
    lines.push(format!(
        "{BOLD}{}{BOLD:#} ({}, {role})",
        shown(&host.name),
        shown(&host.address)
    ));
    if let Some(error) = &host.error {
        lines.push(format!("  {RED}unreachable{RED:#}: {}", one_line(error)));
        return;
    }
    // A step with nothing to do and nothing to say is named in one closing line
    // (its summary stays in the JSON plan), so the changes stand out.
    let (shown_steps, unchanged): (Vec<&PlannedStep>, Vec<&PlannedStep>) =
        host.steps.iter().partition(|step| {
            step.change != Change::Noop || !step.warnings.is_empty() || step.refused.is_some()
        });
    let width = shown_steps
        .iter()
        .map(|step| step.id.len())
        .max()
        .unwrap_or(0);
    for step in shown_steps {
        let same = same_details(step, earlier);
        step_lines(step, width, full_diff, same, lines);
    }
    if !unchanged.is_empty() {
        let names: Vec<String> = unchanged.iter().map(|step| shown(&step.id)).collect();
        lines.push(format!("      {DIM}unchanged: {}{DIM:#}", names.join(", ")));
    }
}

/// The details a step shares with the same step of an earlier host, and that host:
/// the plan says so in one line instead of repeating them.
struct SameDetails<'a> {
    host: &'a str,
    lines: Vec<&'a str>,
}

fn same_details<'a>(step: &'a PlannedStep, earlier: &'a [HostPlan]) -> Option<SameDetails<'a>> {
    earlier
        .iter()
        .filter_map(|host| {
            let other = host.steps.iter().find(|other| other.id == step.id)?;
            let lines: Vec<&str> = step
                .details
                .iter()
                .filter(|line| other.details.contains(line))
                .map(String::as_str)
                .collect();
            Some(SameDetails {
                host: &host.name,
                lines,
            })
        })
        .filter(|same| same.lines.len() >= 2)
        .max_by_key(|same| same.lines.len())
}

fn step_lines(
    step: &PlannedStep,
    width: usize,
    full_diff: bool,
    same: Option<SameDetails>,
    lines: &mut Vec<String>,
) {
    let style = match step.change {
        Change::Noop => DIM,
        Change::Create => GREEN,
        Change::Update => YELLOW,
        Change::Start | Change::Stop | Change::Restart | Change::Reload => CYAN,
        Change::ReplaceData => RED,
        Change::Check => Style::new(),
    };
    let mut line = format!(
        "  {style}{:>3} {:<width$}{style:#}  {}",
        step.change.symbol(),
        shown(&step.id),
        shown(&step.summary)
    );
    if step.destructive {
        line.push_str(&format!(" {RED}[destructive]{RED:#}"));
    }
    lines.push(line);
    if let Some(reason) = &step.refused {
        lines.push(format!("        {RED}refused{RED:#}: {}", shown(reason)));
    }
    for warning in &step.warnings {
        lines.push(format!(
            "        {YELLOW}warning{YELLOW:#}: {}",
            shown(warning)
        ));
    }
    if let Some(same) = &same {
        lines.push(format!(
            "        {DIM}= the same {} changes as on {}{DIM:#}",
            same.lines.len(),
            shown(same.host)
        ));
    }
    let repeated = |detail: &str| {
        same.as_ref()
            .is_some_and(|same| same.lines.contains(&detail))
    };
    for detail in step.details.iter().filter(|detail| !repeated(detail)) {
        let style = match detail.chars().next() {
            Some('+') => GREEN,
            Some('-') => RED,
            Some('~') => YELLOW,
            _ => Style::new(),
        };
        lines.push(format!("        {style}{}{style:#}", shown(detail)));
    }
    // A secret file's diff is only `(sensitive)`; for a new file the summary says enough.
    let diff = step
        .diff
        .as_ref()
        .filter(|_| full_diff || step.details.is_empty())
        .filter(|diff| step.change != Change::Create || diff.as_str() != crate::secret::REDACTED);
    for diff_line in diff.iter().flat_map(|diff| diff.lines()) {
        let style = match diff_line.chars().next() {
            Some('+') => GREEN,
            Some('-') => RED,
            Some('@') => CYAN,
            _ => Style::new(),
        };
        lines.push(format!("        {style}{}{style:#}", shown(diff_line)));
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(shown)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Text of several lines, each shown safely, the lines kept.
fn shown_lines(text: &str) -> String {
    text.lines().map(shown).collect::<Vec<_>>().join("\n")
}

/// A value as a reviewer must see it: a line break, a carriage return or any other
/// control character (an escape sequence that moves the cursor, say) is shown
/// escaped, so nothing a host or an inventory holds can pass for a line of the
/// plan. Tabs stay.
pub fn shown(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\t' => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => out.push(c),
        }
    }
    out
}

/// The closing line of a plan, like `terraform plan`'s.
pub fn summary_line(summary: &Summary) -> String {
    if summary.changes() == 0 && summary.refused == 0 && summary.unreachable == 0 {
        return "No changes: every host matches the inventory.".to_string();
    }
    let mut line = format!(
        "Plan: {} to create, {} to change, {} to start, {} to restart, {} to reload, {} data directories to replace",
        summary.create,
        summary.update,
        summary.start,
        summary.restart,
        summary.reload,
        summary.replace_data
    );
    if summary.stop > 0 {
        line.push_str(&format!(", {} to stop", summary.stop));
    }
    if summary.destructive > 0 {
        line.push_str(&format!(", {} destructive", summary.destructive));
    }
    if summary.refused > 0 {
        line.push_str(&format!(", {} refused", summary.refused));
    }
    if summary.unreachable > 0 {
        line.push_str(&format!(", {} hosts unreachable", summary.unreachable));
    }
    line.push('.');
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_in_values_are_shown_escaped() {
        assert_eq!(shown("plain text\twith a tab"), "plain text\twith a tab");
        assert_eq!(shown("a\nb = 1"), "a\\nb = 1");
        assert_eq!(shown("\u{1b}[2Kfake"), "\\u{1b}[2Kfake");
        assert_eq!(shown("x\ry"), "x\\ry");
    }
}
