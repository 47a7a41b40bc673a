//! The `apply` operation: load, gather, plan, print, and (unless a dry run) execute.

use crate::desired::DesiredState;
use crate::diagnostic::Diagnostics;
use crate::execute;
use crate::gather;
use crate::inventory::Inventory;
use crate::plan::build::{PlanOptions, plan};
use crate::playbook::Playbook;
use crate::printer::Printer;
use crate::render::Renderer;
use crate::secret::Redactor;
use crate::transport::SshOptions;
use std::path::PathBuf;
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub inventory: PathBuf,
    pub playbook: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    pub dry_run: bool,
    pub limit: Vec<String>,
    pub replace_data: Vec<String>,
    /// Steps run at once; 0 means no limit.
    pub forks: usize,
    pub ssh: SshOptions,
}

/// How an apply ended, for the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApplyResult {
    NoChanges,
    /// Changes are pending (dry run) or were made.
    Changes,
    Failed,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{0}")]
    Input(#[from] Diagnostics),
    #[error("unknown host `{host}` in --{option}: the inventory has {known}")]
    UnknownHost {
        host: String,
        option: &'static str,
        known: String,
    },
}

/// Everything read from the user's files, checked, before any host is contacted.
pub struct Loaded {
    pub inventory: Inventory,
    pub playbook: Playbook,
    pub desired: DesiredState,
}

pub fn load(
    inventory: &std::path::Path,
    playbook: Option<&std::path::Path>,
    templates: Option<&std::path::Path>,
) -> Result<Loaded, Diagnostics> {
    let inventory_result = Inventory::load(inventory);
    let playbook_result = Playbook::load(playbook);
    // Report the problems of both files at once.
    let (inventory, playbook) = match (inventory_result, playbook_result) {
        (Ok(inventory), Ok(playbook)) => (inventory, playbook),
        (inventory, playbook) => {
            let mut problems = Vec::new();
            if let Err(Diagnostics(mut list)) = inventory {
                problems.append(&mut list);
            }
            if let Err(Diagnostics(mut list)) = playbook {
                problems.append(&mut list);
            }
            return Err(Diagnostics(problems));
        }
    };
    let renderer = Renderer::new(templates);
    let desired = DesiredState::build(&inventory, &playbook, &renderer)?;
    Ok(Loaded {
        inventory,
        playbook,
        desired,
    })
}

pub async fn apply(
    options: &ApplyOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<ApplyResult, ApplyError> {
    let loaded = load(
        &options.inventory,
        options.playbook.as_deref(),
        options.templates.as_deref(),
    )?;
    let printer = printer_for(Redactor::new(loaded.desired.secrets.clone()));
    for (names, option) in [
        (&options.limit, "limit"),
        (&options.replace_data, "replace-data"),
    ] {
        if let Some(host) = names
            .iter()
            .find(|name| !loaded.desired.hosts.contains_key(*name))
        {
            return Err(ApplyError::UnknownHost {
                host: host.clone(),
                option,
                known: loaded
                    .desired
                    .hosts
                    .keys()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    let hosts = gather::hosts_to_contact(&loaded.desired, &options.limit);
    let started = Instant::now();
    let gathered = gather::gather(&loaded.desired, &hosts, &options.ssh).await;
    let round_trips: usize = gathered.round_trips().values().sum();
    printer.err(&format!(
        "Gathered facts from {} of {} hosts in {:.2} s ({round_trips} SSH round trips).",
        gathered.connections.len(),
        hosts.len(),
        started.elapsed().as_secs_f64()
    ));
    let plan_options = PlanOptions {
        limit: options.limit.clone(),
        replace_data: options.replace_data.clone(),
    };
    let plan = plan(
        &loaded.desired,
        &loaded.playbook,
        &gathered.facts,
        &plan_options,
    );
    printer.plan(&plan);
    let summary = plan.summary();
    if options.dry_run {
        gathered.close().await;
        return Ok(if summary.unreachable > 0 || summary.refused > 0 {
            ApplyResult::Failed
        } else if summary.changes() > 0 {
            ApplyResult::Changes
        } else {
            ApplyResult::NoChanges
        });
    }
    let forks = if options.forks == 0 {
        usize::MAX
    } else {
        options.forks
    };
    let outcomes = execute::execute(&plan, &gathered.connections, forks, &printer).await;
    printer.results(&plan, &outcomes);
    let per_host: Vec<String> = gathered
        .round_trips()
        .iter()
        .map(|(host, count)| format!("{host} {count}"))
        .collect();
    printer.err(&format!("SSH round trips: {}.", per_host.join(", ")));
    gathered.close().await;
    let failed = outcomes.values().any(|outcome| {
        matches!(
            outcome,
            execute::Outcome::Failed(_) | execute::Outcome::Skipped(_)
        )
    });
    let changed = outcomes
        .values()
        .any(|outcome| matches!(outcome, execute::Outcome::Changed(_)));
    Ok(if failed {
        ApplyResult::Failed
    } else if changed {
        ApplyResult::Changes
    } else {
        ApplyResult::NoChanges
    })
}
