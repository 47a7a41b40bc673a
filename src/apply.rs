//! The `apply` operation: load, gather, plan, print, and (unless a dry run) execute;
//! or, given a saved plan, check that nothing moved since and execute exactly it.

use crate::desired::{DesiredState, NodeId};
use crate::diagnostic::Diagnostics;
use crate::execute;
use crate::facts::{GatheredFacts, fingerprint};
use crate::gather::{self, Gathered};
use crate::inventory::Input;
use crate::inventory::pattern::{Limit, LimitError};
use crate::plan::build::{PlanOptions, plan};
use crate::plan::document::PlanDocument;
use crate::plan::restart::RestartSelection;
use crate::plan::rolling::RestartPolicy;
use crate::plan::saved::{self, InputRecord, SavedPlan, StalePlan};
use crate::plan::{Handover, Outcome, Plan};
use crate::playbook::DEFAULT_PLAYBOOK;
use crate::printer::{Format, Printer};
use crate::render::built_in_templates;
use crate::secret::Redactor;
use crate::session::Session;
use crate::transport::SshOptions;
use indexmap::IndexMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Its sources are required unless a saved plan names the inventory it was
    /// made from; its vault passwords and group names are used either way.
    pub inventory: Input,
    pub playbook: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    /// A plan saved by `apply --dry-run --out FILE`, to execute exactly.
    pub saved_plan: Option<PathBuf>,
    pub dry_run: bool,
    /// With a dry run: where to save the plan.
    pub out: Option<PathBuf>,
    pub format: Format,
    /// `--limit`: Ansible's host patterns (`inventory::pattern`), resolved to
    /// member names once the inventory is read.
    pub limit: Vec<String>,
    pub replace_data: Vec<String>,
    /// How restarts treat the live cluster; `None` for the defaults (or, with a
    /// saved plan, the planned ones).
    pub restarts: Option<RestartPolicy>,
    /// What the run plans: everything the inventory says (`apply`), or only
    /// restarts (`restart`), or only a backup task (`backup`, `verify-backup`).
    pub only: Only,
    /// Writable primaries beside the inventory's primary to stop and rejoin,
    /// discarding what they wrote after the fork (`--rejoin HOST`).
    pub rejoin: Vec<String>,
    /// Hosts that left the replication cluster to stop, keeping their data
    /// (`--decommission HOST`).
    pub decommission: Vec<String>,
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
    #[error(
        "--decommission {host}: `{host}` is still a member of the replication cluster: move it out of the groups that give roles (and drop its `pg_role`), keeping it in the inventory; then `apply --decommission {host}` drops its slot and access rules on the members and stops it"
    )]
    StillMember { host: String },
    #[error(
        "--decommission {host}: the inventory has no host `{host}`, so pgconverge cannot reach it. Keep it listed, outside the groups that give roles, until it is decommissioned, for example under `decommissioned:` with `hosts: {{ {host}: {{ ansible_host: ADDRESS }} }}`"
    )]
    NotInInventory { host: String },
    #[error(
        "--decommission cannot go with --limit: every remaining member drops the removed host's slot and access rules before it stops"
    )]
    DecommissionWithLimit,
    #[error("{0}")]
    Stale(#[from] StalePlan),
    #[error("no inventory: give `-i FILE`")]
    NoInventory,
    #[error("{what} cannot go with a saved plan: the plan already fixes it")]
    NotWithSavedPlan { what: &'static str },
    #[error("cannot read `{path}`: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("cannot write the plan to `{path}`: {reason}")]
    Write { path: PathBuf, reason: String },
    #[error("cannot save the plan: {0}")]
    Save(crate::replace_file::ReplaceError),
    #[error("{0}")]
    Locked(#[from] crate::run_lock::LockError),
    #[error("{0}")]
    Limit(#[from] crate::inventory::pattern::LimitError),
}

/// The three inputs of a plan with their digests.
struct Inputs {
    inventory: InputRecord,
    playbook: InputRecord,
    templates: InputRecord,
}

fn read_inputs(
    inventory: &Input,
    playbook: Option<&Path>,
    templates: Option<&Path>,
) -> Result<Inputs, ApplyError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|error| ApplyError::Read {
            path: path.to_path_buf(),
            reason: error.to_string(),
        })
    };
    let playbook_bytes = match playbook {
        Some(path) => read(path)?,
        None => DEFAULT_PLAYBOOK.as_bytes().to_vec(),
    };
    let mut template_bytes = Vec::new();
    match templates {
        Some(directory) => {
            let entries = std::fs::read_dir(directory).map_err(|error| ApplyError::Read {
                path: directory.to_path_buf(),
                reason: error.to_string(),
            })?;
            let mut paths: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.is_file())
                .collect();
            paths.sort();
            for path in paths {
                template_bytes.extend_from_slice(
                    path.file_name()
                        .map(|name| name.as_encoded_bytes())
                        .unwrap_or_default(),
                );
                template_bytes.push(0);
                template_bytes.extend(read(&path)?);
                template_bytes.push(0);
            }
        }
        None => {
            for (name, source) in built_in_templates() {
                template_bytes.extend_from_slice(name.as_bytes());
                template_bytes.push(0);
                template_bytes.extend_from_slice(source.as_bytes());
                template_bytes.push(0);
            }
        }
    }
    Ok(Inputs {
        inventory: InputRecord {
            path: Some(inventory.first().to_path_buf()),
            sha256: saved::sha256_hex(&inventory_bytes(inventory, read)?),
        },
        playbook: InputRecord {
            path: playbook.map(Path::to_path_buf),
            sha256: saved::sha256_hex(&playbook_bytes),
        },
        templates: InputRecord {
            path: templates.map(Path::to_path_buf),
            sha256: saved::sha256_hex(&template_bytes),
        },
    })
}

/// What an apply works from once its inputs are read and checked: the session
/// (the desired state, the printer), the inputs' digests, and the hosts it is
/// limited to and may replace the data of.
struct Run {
    session: Session,
    inputs: Inputs,
    plan_options: PlanOptions,
}

/// A run with the facts of its hosts and the plan made from them.
struct Planned {
    run: Run,
    gathered: Gathered,
    plan: Plan,
    document: PlanDocument,
}

pub async fn apply(
    options: &ApplyOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<ApplyResult, ApplyError> {
    let (result, handover) = apply_with_handover(options, printer_for).await?;
    if let Some(pending) = handover {
        pending.gathered.close().await;
    }
    Ok(result)
}

/// A primary's restart that is a switchover still to run, and the run's
/// connections, kept open so that its locks are held until that switchover
/// ends.
pub struct PendingHandover {
    pub handover: Handover,
    pub gathered: Gathered,
}

/// `apply`, also giving the primary's restart that is a switchover still to run
/// (`--restart-primary switchover`; `failover::apply_handing_over` runs it) with
/// the run's connections still open. None after a dry run or a failure.
pub async fn apply_with_handover(
    options: &ApplyOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<(ApplyResult, Option<PendingHandover>), ApplyError> {
    let planned = match &options.saved_plan {
        Some(path) => plan_from_saved(path, options, printer_for).await?,
        None => plan_from_inventory(options, printer_for).await?,
    };
    let printer = &planned.run.session.printer;
    match options.format {
        Format::Human => printer.plan(&planned.plan),
        Format::Json => printer.plan_to_stderr(&planned.plan),
    }
    if planned.plan.blocked.is_some() {
        if options.format == Format::Json {
            printer.json(&planned.document);
        }
        planned.gathered.close().await;
        return Ok((ApplyResult::Failed, None));
    }
    if options.dry_run {
        return Ok((finish_dry_run(options, planned).await?, None));
    }
    let handover = planned.plan.handover.clone();
    let (result, gathered) = execute_and_report(options, planned).await;
    match handover {
        Some(handover) if result != ApplyResult::Failed => {
            Ok((result, Some(PendingHandover { handover, gathered })))
        }
        _ => {
            gathered.close().await;
            Ok((result, None))
        }
    }
}

/// The bytes a saved plan's inventory digest covers: the one file, or every
/// file the inventory reads (sources, `group_vars`, `host_vars`) with its name.
fn inventory_bytes(
    inventory: &Input,
    read: impl Fn(&Path) -> Result<Vec<u8>, ApplyError>,
) -> Result<Vec<u8>, ApplyError> {
    let files = inventory.files();
    if let [only] = files.as_slice() {
        return read(only);
    }
    let mut bytes = Vec::new();
    for file in &files {
        bytes.extend_from_slice(file.as_os_str().as_encoded_bytes());
        bytes.push(0);
        bytes.extend(read(file)?);
        bytes.push(0);
    }
    Ok(bytes)
}

/// Plans from the inventory, playbook and templates the options name.
async fn plan_from_inventory(
    options: &ApplyOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<Planned, ApplyError> {
    if options.inventory.sources.is_empty() {
        return Err(ApplyError::NoInventory);
    }
    let mut inventory = options.inventory.clone();
    inventory.outside = options.decommission.clone();
    let plan_options = PlanOptions {
        limit: options.limit.clone(),
        replace_data: options.replace_data.clone(),
        restarts: options.restarts.unwrap_or_default(),
        rejoin: options.rejoin.clone(),
        decommission: options.decommission.clone(),
    };
    let run = start(
        &inventory,
        options.playbook.clone(),
        options.templates.clone(),
        plan_options,
        printer_for,
    )?;
    let only = options.only.clone();
    gather_and_plan(run, &options.ssh, only).await
}

/// Plans again from the inputs a saved plan was made from (unless the options
/// name others), and goes no further unless every input, secret and host is as
/// it was and the new plan equals the saved one.
async fn plan_from_saved(
    path: &Path,
    options: &ApplyOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<Planned, ApplyError> {
    let saved = saved_plan_for(path, options)?;
    let mut inventory = options.inventory.clone();
    if inventory.sources.is_empty() {
        let planned = saved
            .inventory
            .path
            .clone()
            .ok_or(ApplyError::NoInventory)?;
        inventory.sources.push(planned);
    }
    let playbook = options
        .playbook
        .clone()
        .or_else(|| saved.playbook.path.clone());
    let templates = options
        .templates
        .clone()
        .or_else(|| saved.templates.path.clone());
    inventory.outside = saved.decommission.clone();
    let plan_options = PlanOptions {
        limit: saved.limit.clone(),
        replace_data: saved.replace_data.clone(),
        restarts: saved.restarts,
        rejoin: saved.rejoin.clone(),
        decommission: saved.decommission.clone(),
    };
    let run = start(&inventory, playbook, templates, plan_options, printer_for)?;
    let inputs = &run.inputs;
    SavedPlan::check_input("inventory", &saved.inventory, &inputs.inventory)?;
    SavedPlan::check_input("playbook", &saved.playbook, &inputs.playbook)?;
    SavedPlan::check_input("templates", &saved.templates, &inputs.templates)?;
    let loaded = &run.session.loaded;
    saved.check_secrets(&loaded.desired.secrets, &loaded.inventory.sensitive_vars)?;

    let planned = gather_and_plan(run, &options.ssh, Only::Everything).await?;
    let checked = saved
        .check_facts(
            &planned.gathered.facts,
            &secret_files(planned.run.session.desired()),
        )
        .and_then(|()| saved.check_plan(&planned.document));
    if let Err(stale) = checked {
        planned.gathered.close().await;
        return Err(stale.into());
    }
    planned
        .run
        .session
        .printer
        .err("The saved plan still holds: every input and every host is as planned.");
    Ok(planned)
}

/// Reads and loads the inputs, makes the printer (which redacts their secrets),
/// resolves `--limit`'s patterns to the members they select (a saved plan's
/// names select themselves) and checks that the hosts the plan options name
/// are in the inventory.
fn start(
    inventory: &Input,
    playbook: Option<PathBuf>,
    templates: Option<PathBuf>,
    mut plan_options: PlanOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<Run, ApplyError> {
    let inputs = read_inputs(inventory, playbook.as_deref(), templates.as_deref())?;
    let session = Session::start(
        inventory,
        playbook.as_deref(),
        templates.as_deref(),
        printer_for,
    )?;
    if !plan_options.limit.is_empty() {
        let limit = Limit::read(&plan_options.limit).map_err(LimitError::from)?;
        plan_options.limit = session.loaded.inventory.limit(&limit)?;
    }
    check_hosts(session.desired(), &plan_options)?;
    Ok(Run {
        session,
        inputs,
        plan_options,
    })
}

/// What a run plans: everything the inventory says, or only restarts, or only a backup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Only {
    #[default]
    Everything,
    Restarts(RestartSelection),
    Backup(crate::plan::backup::BackupTask),
}

/// Reads the facts of the hosts in scope, one round trip each, and plans.
async fn gather_and_plan(run: Run, ssh: &SshOptions, only: Only) -> Result<Planned, ApplyError> {
    let (session, plan_options) = (&run.session, &run.plan_options);
    let desired = session.desired();
    let mut hosts = gather::hosts_to_contact(desired, &plan_options.limit);
    hosts.extend(plan_options.decommission.iter().cloned());
    let started = Instant::now();
    let gathered = session.gather(&hosts, ssh).await?;
    let round_trips: usize = gathered.round_trips().values().sum();
    let reused = match gathered.reused() {
        0 => String::new(),
        reused => format!(", {reused} persisted connections reused"),
    };
    session.printer.err(&format!(
        "Gathered facts from {} of {} hosts in {:.2} s ({round_trips} SSH round trips{reused}).",
        gathered.connections.len(),
        hosts.len(),
        started.elapsed().as_secs_f64()
    ));
    let plan = match only {
        Only::Restarts(selection) => {
            crate::plan::restart::plan(desired, &gathered.facts, plan_options, selection)
        }
        Only::Backup(task) => {
            crate::plan::backup::plan(desired, &gathered.facts, plan_options, &task)
        }
        Only::Everything => plan(
            desired,
            &session.loaded.playbook,
            &gathered.facts,
            plan_options,
        ),
    };
    let document = PlanDocument::of_plan(&plan);
    Ok(Planned {
        run,
        gathered,
        plan,
        document,
    })
}

/// Ends a dry run: saves the plan when asked to, prints the JSON document when
/// asked for, and says whether anything would change.
async fn finish_dry_run(
    options: &ApplyOptions,
    planned: Planned,
) -> Result<ApplyResult, ApplyError> {
    let Planned {
        run,
        gathered,
        plan,
        document,
    } = planned;
    let printer = &run.session.printer;
    if let Some(out) = &options.out {
        let saved_plan = saved_plan_of(
            run.session.desired(),
            run.inputs,
            run.plan_options,
            &gathered.facts,
            &document,
        );
        write_plan(out, &saved_plan, printer)?;
    }
    if options.format == Format::Json {
        printer.json(&document);
    }
    gathered.close().await;
    let summary = plan.summary();
    Ok(if summary.unreachable > 0 || summary.refused > 0 {
        ApplyResult::Failed
    } else if summary.changes() > 0 {
        ApplyResult::Changes
    } else {
        ApplyResult::NoChanges
    })
}

/// The plan to save: its inputs' digests, the hosts it is limited to, the
/// fingerprints of the secrets and of each host's facts (salted with a new key,
/// kept with them), and the plan itself.
fn saved_plan_of(
    desired: &DesiredState,
    inputs: Inputs,
    plan_options: PlanOptions,
    facts: &GatheredFacts,
    document: &PlanDocument,
) -> SavedPlan {
    let salt = saved::new_secret_key();
    let secret_files = secret_files(desired);
    SavedPlan {
        format_version: document.format_version,
        pgconverge_version: document.pgconverge_version.clone(),
        inventory: inputs.inventory,
        playbook: inputs.playbook,
        templates: inputs.templates,
        limit: plan_options.limit,
        replace_data: plan_options.replace_data,
        restarts: plan_options.restarts,
        rejoin: plan_options.rejoin,
        decommission: plan_options.decommission,
        secrets: saved::secret_fingerprints(&salt, &desired.secrets),
        facts: facts
            .iter()
            .filter_map(|(host, facts)| {
                let files = secret_files
                    .get(host)
                    .map(Vec::as_slice)
                    .unwrap_or_default();
                facts
                    .as_ref()
                    .ok()
                    .map(|facts| (host.clone(), fingerprint::fingerprint(facts, &salt, files)))
            })
            .collect(),
        secret_key: salt,
        plan: document.clone(),
    }
}

/// Executes the plan, prints the results and the SSH round trips per host, and
/// says how it went; the connections (and locks) are the caller's to close.
async fn execute_and_report(options: &ApplyOptions, planned: Planned) -> (ApplyResult, Gathered) {
    let Planned {
        run,
        gathered,
        plan,
        ..
    } = planned;
    let printer = &run.session.printer;
    let forks = if options.forks == 0 {
        usize::MAX
    } else {
        options.forks
    };
    let outcomes = execute::execute(&plan, &gathered.connections, forks, printer).await;
    match options.format {
        Format::Human => printer.results(&plan, &outcomes),
        Format::Json => printer.json(&PlanDocument::of_apply(&plan, &outcomes)),
    }
    let per_host: Vec<String> = gathered
        .round_trips()
        .iter()
        .map(|(host, count)| format!("{host} {count}"))
        .collect();
    printer.err(&format!("SSH round trips: {}.", per_host.join(", ")));
    (result_of(&outcomes), gathered)
}

/// Failed when a step failed or was skipped, else whether any step changed something.
fn result_of(outcomes: &IndexMap<NodeId, Outcome>) -> ApplyResult {
    let failed = outcomes
        .values()
        .any(|outcome| matches!(outcome, Outcome::Failed(_) | Outcome::Skipped(_)));
    let changed = outcomes
        .values()
        .any(|outcome| matches!(outcome, Outcome::Changed(_)));
    if failed {
        ApplyResult::Failed
    } else if changed {
        ApplyResult::Changes
    } else {
        ApplyResult::NoChanges
    }
}

/// Per host, the files that hold a secret (the playbook marks them `sensitive`).
fn secret_files(desired: &DesiredState) -> indexmap::IndexMap<String, Vec<String>> {
    desired
        .hosts
        .values()
        .map(|host| {
            let files = host
                .steps
                .values()
                .filter_map(crate::actions::DesiredStep::rendered_file)
                .filter(|file| file.sensitive)
                .map(|file| file.path.clone())
                .collect();
            (host.name.clone(), files)
        })
        .collect()
}

/// Reads a saved plan and refuses the options a saved plan already fixes.
fn saved_plan_for(path: &Path, options: &ApplyOptions) -> Result<SavedPlan, ApplyError> {
    if options.dry_run {
        return Err(ApplyError::NotWithSavedPlan { what: "--dry-run" });
    }
    if !options.limit.is_empty() {
        return Err(ApplyError::NotWithSavedPlan { what: "--limit" });
    }
    if !options.replace_data.is_empty() {
        return Err(ApplyError::NotWithSavedPlan {
            what: "--replace-data",
        });
    }
    if options.only != Only::Everything {
        return Err(ApplyError::NotWithSavedPlan {
            what: "restart or backup",
        });
    }
    if !options.rejoin.is_empty() {
        return Err(ApplyError::NotWithSavedPlan { what: "--rejoin" });
    }
    if !options.decommission.is_empty() {
        return Err(ApplyError::NotWithSavedPlan {
            what: "--decommission",
        });
    }
    if options.restarts.is_some() {
        return Err(ApplyError::NotWithSavedPlan {
            what: "--max-lag, --max-transaction-age or --restart-primary",
        });
    }
    Ok(SavedPlan::read(path)?)
}

fn check_hosts(desired: &DesiredState, options: &PlanOptions) -> Result<(), ApplyError> {
    for (names, option) in [
        (&options.limit, "limit"),
        (&options.replace_data, "replace-data"),
        (&options.rejoin, "rejoin"),
    ] {
        if let Some(host) = names.iter().find(|name| !desired.hosts.contains_key(*name)) {
            return Err(ApplyError::UnknownHost {
                host: host.clone(),
                option,
                known: desired
                    .hosts
                    .keys()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
    }
    if !options.decommission.is_empty() && !options.limit.is_empty() {
        return Err(ApplyError::DecommissionWithLimit);
    }
    for host in &options.decommission {
        if desired.outside.contains_key(host) {
            continue;
        }
        return Err(if desired.hosts.contains_key(host) {
            ApplyError::StillMember { host: host.clone() }
        } else {
            ApplyError::NotInInventory { host: host.clone() }
        });
    }
    Ok(())
}

/// Writes the plan through the redactor, so that even a secret that slipped into a
/// diff does not reach the file. The file is its owner's alone (0600) from its
/// creation on: a plan shows the cluster's configuration and hosts.
fn write_plan(path: &Path, saved: &SavedPlan, printer: &Printer) -> Result<(), ApplyError> {
    let text = serde_json::to_string_pretty(saved).map_err(|error| ApplyError::Write {
        path: path.to_path_buf(),
        reason: error.to_string(),
    })?;
    let contents = printer.redact(&text) + "\n";
    crate::replace_file::write_private(path, contents.as_bytes()).map_err(ApplyError::Save)?;
    printer.err(&format!(
        "Saved the plan to `{}`: apply it with `pgconverge apply {}`.",
        path.display(),
        path.display()
    ));
    Ok(())
}
