//! The executor: carries out exactly the steps of a plan, each after the steps it
//! depends on, independent ones in parallel (at most `forks` at once). A failed or
//! refused step stops its dependents on every host; the others go on.

use crate::actions::Operation;
use crate::desired::NodeId;
use crate::live_status::PROGRESS_MARKER;
use crate::plan::{Change, Outcome, Plan};
use crate::transport::{Connection, ScriptOutput};
use indexmap::IndexMap;
use std::sync::Arc;
use tokio::task::JoinSet;

/// Reports progress while the executor works (the printer implements it).
pub trait Progress: Send + Sync {
    fn step_started(&self, node: &NodeId, summary: &str);
    fn step_finished(&self, node: &NodeId, outcome: &Outcome);

    /// A running step's script reported its progress (a line it marked with
    /// `PROGRESS_MARKER`, without the marker).
    fn step_said(&self, _node: &NodeId, _line: &str) {}

    /// How many of the steps that change or check something have finished.
    fn steps_counted(&self, _done: usize, _total: usize) {}
}

/// A progress line of a running step, sent from its task to the executor.
type Said = (NodeId, String);

/// The first step of `plan`'s order that failed or did not run, with why: what
/// a command that runs its steps one after the other reports.
pub fn first_failure<'a>(
    plan: &'a Plan,
    outcomes: &'a IndexMap<NodeId, Outcome>,
) -> Option<(&'a NodeId, &'a str)> {
    plan.order.iter().find_map(|node| match outcomes.get(node) {
        Some(Outcome::Failed(reason)) => Some((node, reason.as_str())),
        Some(_) => None,
        None => Some((node, "it did not run")),
    })
}

/// Runs the plan. `connections` holds a connection for every reachable host.
pub async fn execute(
    plan: &Plan,
    connections: &IndexMap<String, Arc<Connection>>,
    forks: usize,
    progress: &dyn Progress,
) -> IndexMap<NodeId, Outcome> {
    let dependencies: IndexMap<NodeId, Vec<NodeId>> = plan.dependencies.iter().cloned().collect();
    let mut outcomes: IndexMap<NodeId, Outcome> = IndexMap::new();
    let mut running: JoinSet<(NodeId, Outcome)> = JoinSet::new();
    let mut started: std::collections::HashSet<NodeId> = std::collections::HashSet::new();
    let forks = forks.max(1);
    let (said, mut heard) = tokio::sync::mpsc::unbounded_channel::<Said>();
    let counted: std::collections::HashSet<&NodeId> = plan
        .order
        .iter()
        .filter(|node| {
            plan.step(node)
                .is_some_and(|step| step.change != Change::Noop && step.operation.is_some())
        })
        .collect();
    let mut done = 0;
    let mut count = |node: &NodeId| {
        if counted.contains(node) {
            done += 1;
            progress.steps_counted(done, counted.len());
        }
    };
    progress.steps_counted(0, counted.len());
    loop {
        for node in &plan.order {
            if started.contains(node) || running.len() >= forks {
                continue;
            }
            let deps = dependencies
                .get(node)
                .map(Vec::as_slice)
                .unwrap_or_default();
            if deps.iter().any(|dep| !outcomes.contains_key(dep)) {
                continue;
            }
            started.insert(node.clone());
            let ordering_only = |dep: &NodeId| {
                plan.ordering_only
                    .iter()
                    .any(|(dependent, target)| dependent == node && target == dep)
            };
            if let Some(blocker) = deps.iter().find(|dep| {
                !ordering_only(dep)
                    && outcomes
                        .get(*dep)
                        .is_some_and(|outcome| !outcome.succeeded())
            }) {
                let outcome = Outcome::Skipped(format!("{blocker} did not succeed"));
                progress.step_finished(node, &outcome);
                count(node);
                outcomes.insert(node.clone(), outcome);
                continue;
            }
            match immediate_outcome(plan, node, connections) {
                Some(outcome) => {
                    progress.step_finished(node, &outcome);
                    count(node);
                    outcomes.insert(node.clone(), outcome);
                }
                None => {
                    let Some(step) = plan.step(node) else {
                        continue;
                    };
                    progress.step_started(node, &step.summary);
                    let node = node.clone();
                    let mut step = step.clone();
                    if let Err(reason) = give_report(&mut step, &outcomes) {
                        let outcome = Outcome::Failed(reason);
                        progress.step_finished(&node, &outcome);
                        count(&node);
                        outcomes.insert(node, outcome);
                        continue;
                    }
                    let connections = connections.clone();
                    let said = said.clone();
                    running.spawn(async move {
                        let outcome = run_step(&node, &step, &connections, &said).await;
                        (node, outcome)
                    });
                }
            }
        }
        if outcomes.len() == plan.order.len() {
            break;
        }
        let joined = tokio::select! {
            joined = running.join_next() => joined,
            Some((node, line)) = heard.recv() => {
                progress.step_said(&node, &line);
                continue;
            }
        };
        match joined {
            Some(Ok((node, outcome))) => {
                // Progress lines the step sent before it ended come first.
                while let Ok((node, line)) = heard.try_recv() {
                    progress.step_said(&node, &line);
                }
                progress.step_finished(&node, &outcome);
                count(&node);
                outcomes.insert(node, outcome);
            }
            Some(Err(error)) => {
                // A step task panicked: that is a bug, but the other hosts still finish.
                eprintln!("internal error in a step: {error}");
            }
            None => {
                // Nothing runs and nothing is ready: the remaining steps wait on steps
                // that will never finish, which `topological_order` rules out.
                break;
            }
        }
    }
    outcomes
}

/// Hands a step the report of the earlier step its operation needs (a switchover's
/// wait gets the old primary's last checkpoint).
fn give_report(
    step: &mut crate::plan::PlannedStep,
    outcomes: &IndexMap<NodeId, Outcome>,
) -> Result<(), String> {
    let Some(operation) = &step.operation else {
        return Ok(());
    };
    let Some((host, id)) = operation.needs_report_of() else {
        return Ok(());
    };
    let node = NodeId::new(host, id);
    let report = match outcomes.get(&node) {
        Some(Outcome::Changed(report) | Outcome::Verified(report)) => report.clone(),
        _ => return Err(format!("{node} gave no report to go on")),
    };
    step.operation = Some(operation.given_report(&report)?);
    Ok(())
}

/// Steps decided without contacting the host: no-ops, refusals, unreachable hosts.
fn immediate_outcome(
    plan: &Plan,
    node: &NodeId,
    connections: &IndexMap<String, Arc<Connection>>,
) -> Option<Outcome> {
    let host = plan.host(&node.host)?;
    if let Some(error) = &host.error {
        return Some(Outcome::Failed(format!("not run: {error}")));
    }
    let Some(step) = plan.step(node) else {
        return Some(Outcome::Failed(
            "the step is missing from the plan".to_string(),
        ));
    };
    if let Some(reason) = &step.refused {
        return Some(Outcome::Failed(format!("refused: {reason}")));
    }
    if step.change == Change::Noop || step.operation.is_none() {
        return Some(Outcome::Unchanged);
    }
    if !connections.contains_key(&node.host) {
        return Some(Outcome::Failed(format!("no connection to {}", node.host)));
    }
    None
}

async fn run_step(
    node: &NodeId,
    step: &crate::plan::PlannedStep,
    connections: &IndexMap<String, Arc<Connection>>,
    said: &tokio::sync::mpsc::UnboundedSender<Said>,
) -> Outcome {
    let Some(operation) = &step.operation else {
        return Outcome::Unchanged;
    };
    let given_reads;
    let operation = match read_when_run(operation, connections).await {
        Ok(Some(operation)) => {
            given_reads = operation;
            &given_reads
        }
        Ok(None) => operation,
        Err(reason) => return Outcome::Failed(reason),
    };
    let host_scripts = match operation.scripts() {
        Ok(host_scripts) => host_scripts,
        Err(reason) => return Outcome::Failed(reason),
    };
    let mut reports = Vec::new();
    for host_script in host_scripts {
        let host = host_script.other_host.as_deref().unwrap_or(&node.host);
        let Some(connection) = connections.get(host) else {
            return Outcome::Failed(format!("no connection to {host}"));
        };
        let watch = |line: &str| {
            if let Some(progress) = line.strip_prefix(PROGRESS_MARKER) {
                // The executor is the receiver and outlives every step.
                let _ = said.send((node.clone(), progress.to_string()));
            }
        };
        let output = connection
            .run_watched(&host_script.script.render(), &watch)
            .await
            .map(without_progress);
        let failure = match output {
            Ok(output) if output.success() => {
                reports.push(operation.reported(output.stdout.trim()));
                continue;
            }
            Ok(output) => operation.explained_failure(failure_text(host, &output)),
            Err(error) => error.to_string(),
        };
        return Outcome::Failed(match operation.undo() {
            Some(undo) => format!(
                "{failure}; {}",
                run_undo(&node.host, undo, connections).await
            ),
            None => failure,
        });
    }
    let report = reports
        .into_iter()
        .filter(|report| !report.is_empty())
        .collect::<Vec<_>>()
        .join("; ");
    if step.change == Change::Check {
        Outcome::Verified(report)
    } else {
        Outcome::Changed(report)
    }
}

/// The output without the progress lines it reported as it ran, so that a
/// failure is told in the script's own words only.
fn without_progress(mut output: ScriptOutput) -> ScriptOutput {
    if output.stderr.contains(PROGRESS_MARKER) {
        output.stderr = output
            .stderr
            .split_inclusive('\n')
            .filter(|line| !line.starts_with(PROGRESS_MARKER))
            .collect();
    }
    output
}

/// Runs what puts back a failed step's effect, and says how that went: what
/// the first script that fails leaves as it is, and why, in the host's words.
async fn run_undo(
    own_host: &str,
    undo: crate::actions::Undo,
    connections: &IndexMap<String, Arc<Connection>>,
) -> String {
    for step in &undo.scripts {
        let host = step.script.other_host.as_deref().unwrap_or(own_host);
        let Some(connection) = connections.get(host) else {
            return format!("{}: no connection to {host}", step.failed);
        };
        match connection.run(&step.script.script.render()).await {
            Ok(output) if output.success() => {}
            Ok(output) => return format!("{}: {}", step.failed, failure_text(host, &output)),
            Err(error) => return format!("{}: {error}", step.failed),
        }
    }
    undo.done
}

/// Runs what the operation reads from hosts when its step runs
/// (`RemoteOperation::reads_when_run`: the public keys made earlier in this run),
/// one after the other, and gives the operation it then stands for; `None` when
/// it reads nothing.
async fn read_when_run(
    operation: &Operation,
    connections: &IndexMap<String, Arc<Connection>>,
) -> Result<Option<Operation>, String> {
    let reads = operation.reads_when_run();
    if reads.is_empty() {
        return Ok(None);
    }
    let mut outputs = Vec::new();
    for read in reads {
        let host = &read.host;
        let connection = connections
            .get(host)
            .ok_or_else(|| format!("no connection to {host} to read {}", read.what))?;
        let output = connection
            .run(&read.script.render())
            .await
            .map_err(|error| error.to_string())?;
        if !output.success() {
            return Err(format!(
                "cannot read {}: {}",
                read.named,
                output.stderr.trim()
            ));
        }
        outputs.push(output.stdout);
    }
    operation.given_reads(&outputs).map(Some)
}

fn failure_text(host: &str, output: &ScriptOutput) -> String {
    let detail = if output.stderr.trim().is_empty() {
        output.stdout.trim()
    } else {
        output.stderr.trim()
    };
    let code = output
        .exit_code
        .map(|code| format!("exit code {code}"))
        .unwrap_or_else(|| "killed by a signal".to_string());
    if detail.is_empty() {
        format!("failed on {host} ({code})")
    } else {
        format!("failed on {host} ({code}): {detail}")
    }
}
