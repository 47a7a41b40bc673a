//! `pgconverge upgrade`: an in-place major-version upgrade of a streaming
//! cluster, following the PostgreSQL documentation's pg_upgrade procedure for
//! standbys. Gates first (each printed, all judged before anything changes),
//! then the plan up to the new primary's first start (every step of which puts
//! every member back on the old version when it fails), then the normal apply
//! of the new version (which starts the servers, clones the standbys that were
//! not rsynced and verifies streaming) and the statistics. `--cleanup`, a run
//! of its own, removes the old directories afterwards.

pub mod carry;
pub mod gates;
pub mod plan;

use crate::actions::RemoteOperation;
use crate::actions::upgrade::{ClusterShape, ProbeUpgrade, ReadUpgradeMarker};
use crate::apply::{self, ApplyOptions, ApplyResult};
use crate::desired::DesiredState;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::execute;
use crate::gather::{self, Gathered};
use crate::inventory::edit::{self, EditError};
use crate::inventory::{Input, Role};
use crate::plan::Plan;
use crate::printer::Format;
use crate::printer::{Printer, StepReports};
use crate::secret::Redactor;
use crate::session::{Session, load};
use crate::transport::SshOptions;
use crate::versions::PgVersion;
use gates::Probe;
use indexmap::IndexMap;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct UpgradeOptions {
    pub inventory: Input,
    pub playbook: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    /// The new major version (`--to`); ignored by `--cleanup`.
    pub to: Option<PgVersion>,
    pub dry_run: bool,
    pub write_inventory: bool,
    pub max_transaction_age_seconds: u64,
    /// Remove the old clusters an earlier upgrade left (a run of its own).
    pub cleanup: bool,
    /// `Json`: the gates' document on stdout (`gates::Document`), every line
    /// of text on stderr.
    pub format: Format,
    pub ssh: SshOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum UpgradeError {
    #[error("{0}")]
    Input(#[from] Diagnostics),
    #[error("{0}")]
    Locked(#[from] crate::run_lock::LockError),
    #[error("{0}")]
    Cluster(String),
    #[error("a gate is closed: nothing was changed, no server was restarted")]
    GateClosed,
    #[error("{step} failed on {host}: {reason}")]
    Step {
        step: String,
        host: String,
        reason: String,
    },
    #[error(
        "PostgreSQL {to} was started from the upgraded files, so there is no way back to {from} (the old cluster shares them): {reason}. Each member's state: {states}. Fix the cause and run `pgconverge apply -i {inventory}` with `pg_version: {to}`{record}"
    )]
    AfterStart {
        from: PgVersion,
        to: PgVersion,
        reason: String,
        states: String,
        inventory: String,
        record: String,
    },
    #[error("{0}")]
    Inventory(#[from] EditError),
    #[error("{0}")]
    Apply(#[from] apply::ApplyError),
}

/// Runs `plan` one step after the other; the first failure is the error.
async fn run(plan: &Plan, gathered: &Gathered, printer: &Printer) -> Result<(), UpgradeError> {
    let reports = StepReports {
        printer,
        starts: true,
    };
    let outcomes = execute::execute(plan, &gathered.connections, 1, &reports).await;
    match execute::first_failure(plan, &outcomes) {
        Some((node, reason)) => Err(UpgradeError::Step {
            step: node.step.clone(),
            host: node.host.clone(),
            reason: reason.to_string(),
        }),
        None => Ok(()),
    }
}

/// The steps in the order they run: `1. db1/stop, 2. db2/stop, ...`.
fn order_text(plan: &Plan) -> String {
    plan.order
        .iter()
        .enumerate()
        .map(|(index, node)| format!("{}. {node}", index + 1))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The primary and the standbys of the one replication cluster the inventory
/// describes; every standby streams from the primary.
fn members(desired: &DesiredState) -> Result<(String, Vec<String>), UpgradeError> {
    let primaries: Vec<&str> = desired
        .hosts
        .values()
        .filter(|host| !host.outside && host.role == Role::Primary)
        .map(|host| host.name.as_str())
        .collect();
    let [primary] = primaries.as_slice() else {
        return Err(UpgradeError::Cluster(format!(
            "an upgrade needs one replication cluster with one primary, and the inventory names {} ({}): pick one with --cluster",
            primaries.len(),
            primaries.join(", ")
        )));
    };
    let standbys: Vec<String> = desired
        .hosts
        .values()
        .filter(|host| !host.outside && host.role == Role::Standby)
        .map(|host| host.name.clone())
        .collect();
    if let Some(cascading) = desired
        .hosts
        .values()
        .find(|host| host.role == Role::Standby && host.upstream.as_deref() != Some(*primary))
    {
        return Err(UpgradeError::Cluster(format!(
            "{} streams from {}, not from the primary: pgconverge upgrades only standbys of the primary",
            cascading.name,
            cascading.upstream.as_deref().unwrap_or("?")
        )));
    }
    Ok((primary.to_string(), standbys))
}

/// The inventory with `pg_version` set to `version` above everything it says.
fn with_version(input: &Input, version: PgVersion) -> Input {
    let value = version.inventory_value();
    let mut extra_vars: Vec<(String, serde_json::Value)> = input
        .extra_vars
        .iter()
        .filter(|(name, _)| name != "pg_version")
        .cloned()
        .collect();
    extra_vars.push(("pg_version".to_string(), value));
    Input {
        extra_vars,
        ..input.clone()
    }
}

/// Whether `host` has `pg_ssh_trust: true`.
fn trusts(inventory: &crate::inventory::Inventory, host: &str) -> bool {
    inventory
        .hosts
        .get(host)
        .and_then(|host| host.vars.get("pg_ssh_trust"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
}

/// Runs each member's probe, the primary's with `pg_upgrade --check`.
async fn probe_all(
    gathered: &Gathered,
    probes: Vec<(String, ProbeUpgrade)>,
) -> IndexMap<String, Result<Probe, String>> {
    let mut found = IndexMap::new();
    for (host, probe) in probes {
        let Some(connection) = gathered.connections.get(&host) else {
            let why = gathered
                .facts
                .get(&host)
                .and_then(|facts| facts.as_ref().err().cloned())
                .unwrap_or_else(|| "no connection".to_string());
            found.insert(host, Err(why));
            continue;
        };
        let scripts = match probe.scripts() {
            Ok(scripts) => scripts,
            Err(reason) => {
                found.insert(host, Err(reason));
                continue;
            }
        };
        let mut result = Err("the probe has no script".to_string());
        for host_script in scripts {
            result = match connection.run(&host_script.script.render()).await {
                Ok(output) if output.success() => {
                    Probe::parse(&output.stdout).map_err(|error| error.to_string())
                }
                Ok(output) => Err(format!(
                    "the probe failed (exit code {}): {}",
                    output.exit_code.unwrap_or(-1),
                    output.stderr.trim()
                )),
                Err(error) => Err(error.to_string()),
            };
        }
        found.insert(host, result);
    }
    found
}

/// `pgconverge upgrade --to V`.
pub async fn upgrade(
    options: &UpgradeOptions,
    printer_for: impl Fn(Redactor) -> Printer,
) -> Result<ApplyResult, UpgradeError> {
    if options.cleanup {
        return cleanup(options, printer_for).await;
    }
    let Some(target) = options.to else {
        return Err(UpgradeError::Cluster(
            "name the new version with --to V (or pass --cleanup)".to_string(),
        ));
    };
    if options.write_inventory {
        edit::editable_file(&options.inventory)?;
    }
    let old_loaded = load(
        &options.inventory,
        options.playbook.as_deref(),
        options.templates.as_deref(),
    )?;
    let new_input = with_version(&options.inventory, target);
    let new_loaded = load(
        &new_input,
        options.playbook.as_deref(),
        options.templates.as_deref(),
    )?;
    let session = Session::new(old_loaded, &printer_for);
    let (old_loaded, printer) = (&session.loaded, &session.printer);
    let (old, new) = (&old_loaded.desired, &new_loaded.desired);
    let (primary, standbys) = members(old)?;
    let current = old.hosts[&primary].settings.pg_version;
    if let Some(other) = old
        .hosts
        .values()
        .find(|host| !host.outside && host.settings.pg_version != current)
    {
        return Err(UpgradeError::Cluster(format!(
            "{} has pg_version {} and {primary} {current}: an upgrade starts from one version",
            other.name, other.settings.pg_version
        )));
    }
    let everyone: Vec<String> = std::iter::once(primary.clone())
        .chain(standbys.iter().cloned())
        .collect();
    let gathered = session.gather(&everyone, &options.ssh).await?;
    // Standbys go by rsync when they and the primary trust each other over SSH
    // and keep their data in the same place.
    let mut rsync_logins = IndexMap::new();
    if trusts(&old_loaded.inventory, &primary) {
        for standby in &standbys {
            let same_places = new.hosts[standby].settings.data_dir
                == new.hosts[&primary].settings.data_dir
                && old.hosts[standby].settings.data_dir == old.hosts[&primary].settings.data_dir;
            if trusts(&old_loaded.inventory, standby) && same_places {
                let host = &old.hosts[standby];
                rsync_logins.insert(
                    standby.clone(),
                    format!("{}@{}", host.settings.os_user, host.address),
                );
            }
        }
    }
    let probes = everyone
        .iter()
        .map(|host| {
            let is_primary = *host == primary;
            let logins = if is_primary {
                rsync_logins.values().cloned().collect()
            } else {
                Vec::new()
            };
            let probe = ProbeUpgrade {
                primary: is_primary,
                standby_logins: logins,
                run_check: is_primary,
                max_transaction_age_seconds: options.max_transaction_age_seconds,
                old: old.hosts[host].settings.clone(),
                new: new.hosts[host].settings.clone(),
            };
            (host.clone(), probe)
        })
        .collect();
    printer.out(&format!(
        "Upgrade {} from PostgreSQL {current} to {target}:",
        everyone.join(", ")
    ));
    let probed = probe_all(&gathered, probes).await;
    let gate_inputs = gates::Inputs {
        facts: &gathered.facts,
        probes: &probed,
        primary: &primary,
        standbys: &standbys,
        rsync_logins: &rsync_logins,
        current,
        target,
        max_transaction_age_seconds: options.max_transaction_age_seconds,
    };
    let gate_list = gates::check(&gate_inputs);
    printer.gates(&gate_list);
    if options.format == Format::Json {
        printer.json(&gates::Document::new(&gate_inputs, &gate_list));
    }
    if gate_list.iter().any(|gate| !gate.passed) {
        gathered.close().await;
        return Err(UpgradeError::GateClosed);
    }
    let Some(Ok(primary_probe)) = probed.get(&primary) else {
        gathered.close().await;
        return Err(UpgradeError::GateClosed);
    };
    let shape = ClusterShape {
        encoding: primary_probe.encoding.clone().unwrap_or_default(),
        lc_collate: primary_probe.lc_collate.clone().unwrap_or_default(),
        lc_ctype: primary_probe.lc_ctype.clone().unwrap_or_default(),
        checksums: primary_probe.checksums.as_deref() == Some("on"),
        wal_segment_mb: primary_probe.wal_segment_size.unwrap_or(16 * 1024 * 1024) / (1024 * 1024),
    };
    let mut carried = IndexMap::new();
    for host in &everyone {
        let (old_settings, new_settings) = (&old.hosts[host].settings, &new.hosts[host].settings);
        let is_primary = *host == primary;
        // With the configuration in the data directory (the initdb layout), a
        // standby's comes with the primary's files, by rsync or the clone.
        if !is_primary && new_settings.config_dir == new_settings.data_dir {
            continue;
        }
        let Some(Ok(probe)) = probed.get(host) else {
            continue;
        };
        let rendered = new.hosts[host]
            .steps
            .values()
            .find_map(|step| match step {
                crate::actions::DesiredStep::PostgresqlConf(conf) => Some(&conf.file),
                _ => None,
            })
            .map(|file| (file.path.as_str(), file.content.as_str()));
        let mut observed = probe.files.clone();
        if !is_primary {
            // A standby's ALTER SYSTEM settings come with the primary's data directory.
            observed.retain(|path, _| !path.ends_with("/postgresql.auto.conf"));
        }
        let host_carried = carry::carry(&observed, old_settings, new_settings, rendered);
        let warnings: Vec<Diagnostic> = host_carried
            .warnings
            .iter()
            .map(|warning| {
                Diagnostic::new(
                    &new_settings.config_dir,
                    None,
                    None,
                    format!("{host}: {warning}"),
                )
            })
            .collect();
        printer.warnings(&warnings);
        carried.insert(host.clone(), host_carried);
    }
    let members = plan::Members {
        old,
        new,
        primary: &primary,
        standbys: &standbys,
        rsync_logins: &rsync_logins,
    };
    let upgrade_plan = plan::upgrade(
        &members,
        &shape,
        &carried,
        options.max_transaction_age_seconds,
    );
    printer.plan(&upgrade_plan);
    printer.out(&format!("In this order: {}", order_text(&upgrade_plan)));
    let inventory_name = options.inventory.first().display().to_string();
    for standby in &standbys {
        printer.out(&match rsync_logins.get(standby) {
            Some(login) => format!("{standby} gets the upgraded cluster by rsync from {primary} (as {login})"),
            None => format!("{standby} gets its new data directory by a base backup of {primary} in the apply below (no pg_ssh_trust for rsync)"),
        });
    }
    printer.out(&format!(
        "Then: the apply of PostgreSQL {target} starts {primary}, then the standbys, clones the ones not rsynced and verifies streaming (from here there is no way back to {current}); then `vacuumdb --all --analyze-in-stages` on {primary}."
    ));
    if options.dry_run {
        gathered.close().await;
        printer.out("Dry run: nothing was changed.");
        return Ok(ApplyResult::Changes);
    }
    let result = run(&upgrade_plan, &gathered, printer).await;
    if let Err(error) = result {
        gathered.close().await;
        return Err(error);
    }
    // The locks stay held to the end: the apply of the new version and the
    // analyze are parts of this run, and no other run may come in between.
    let ssh = options.ssh.holding(&gathered.locks.hosts());
    let finished: Result<ApplyResult, UpgradeError> = async {
        // The new version's state is the truth from here: recorded first when asked,
        // so that the apply reads it from the inventory itself.
        let apply_input = if options.write_inventory {
            edit::write_version(&options.inventory, target)?;
            printer.out(&format!(
                "Recorded in `{inventory_name}`: `pg_version: {target}`."
            ));
            options.inventory.clone()
        } else {
            new_input.clone()
        };
        printer.out(&format!("Starting PostgreSQL {target}:"));
        let apply_options = ApplyOptions {
            inventory: apply_input,
            playbook: options.playbook.clone(),
            templates: options.templates.clone(),
            ssh: ssh.clone(),
            ..ApplyOptions::default()
        };
        let record = if options.write_inventory {
            String::new()
        } else {
            format!(" (set it in `{inventory_name}` first)")
        };
        let after_start = |reason: String, states: String| UpgradeError::AfterStart {
            from: current,
            to: target,
            reason,
            states,
            inventory: inventory_name.clone(),
            record: record.clone(),
        };
        let applied = apply::apply(&apply_options, &printer_for).await;
        let states = format!(
            "{primary} has the upgraded cluster in {}; {}",
            new.hosts[&primary].settings.data_dir,
            standbys
                .iter()
                .map(|standby| match rsync_logins.get(standby) {
                    Some(_) => format!("{standby} has the rsynced cluster"),
                    None => format!("{standby} is cloned by the apply"),
                })
                .collect::<Vec<_>>()
                .join(", ")
        );
        match applied {
            Ok(ApplyResult::Failed) => {
                return Err(after_start(
                    "the apply of the new version failed (its steps are above)".into(),
                    states,
                ));
            }
            Err(error) => return Err(after_start(error.to_string(), states)),
            Ok(_) => {}
        }
        let analyzed = gather::gather(
            new,
            std::slice::from_ref(&primary),
            &ssh,
            &|_, _| {},
        )
        .await?;
        let analyze = plan::analyze(new, &primary);
        let result = run(&analyze, &analyzed, printer).await;
        analyzed.close().await;
        if let Err(error) = result {
            printer.error(&format!(
                "{error}; the upgrade itself is done: run `vacuumdb --all --analyze-in-stages` on {primary} by hand"
            ));
        }
        printer.out(&format!(
            "Every member runs PostgreSQL {target}. The old clusters are kept (they start only by hand); remove them with `pgconverge upgrade --cleanup -i {inventory_name}` once you are sure."
        ));
        if !options.write_inventory {
            printer.out(&format!(
                "Record the new version in the inventory: set `pg_version: {target}` in `{inventory_name}`, or run upgrades with --write-inventory."
            ));
        }
        Ok(ApplyResult::Changes)
    }
    .await;
    gathered.close().await;
    finished
}

/// `pgconverge upgrade --cleanup`: the old directories an upgrade left. Each
/// member's marker is read first (read-only, also in a dry run), and the paths
/// it names are checked against the inventory's directories of the old version
/// it records: the plan names every path it deletes, and a marker naming
/// anything else stops the whole run before anything is deleted.
async fn cleanup(
    options: &UpgradeOptions,
    printer_for: impl Fn(Redactor) -> Printer,
) -> Result<ApplyResult, UpgradeError> {
    let session = Session::start(
        &options.inventory,
        options.playbook.as_deref(),
        options.templates.as_deref(),
        printer_for,
    )?;
    let (loaded, printer) = (&session.loaded, &session.printer);
    let (primary, standbys) = members(&loaded.desired)?;
    let everyone: Vec<String> = std::iter::once(primary).chain(standbys).collect();
    let gathered = session.gather(&everyone, &options.ssh).await?;
    let markers = read_markers(&gathered, &loaded.desired, &everyone).await;
    let mut found = IndexMap::new();
    let mut refused = Vec::new();
    let mut old_states: IndexMap<u32, DesiredState> = IndexMap::new();
    for (host, marker) in markers {
        let content = match marker {
            Ok(Some(content)) => content,
            Ok(None) => {
                printer.out(&format!("{host}: no upgrade marker: nothing to clean up"));
                continue;
            }
            Err(reason) => {
                refused.push(format!("{host}: {reason}"));
                continue;
            }
        };
        let version = match plan::marker_version(&content) {
            Ok(version) => version,
            Err(reason) => {
                refused.push(format!("{host}: {reason}"));
                continue;
            }
        };
        if !old_states.contains_key(&version.0) {
            let old_input = with_version(&options.inventory, version);
            match load(
                &old_input,
                options.playbook.as_deref(),
                options.templates.as_deref(),
            ) {
                Ok(old) => {
                    old_states.insert(version.0, old.desired);
                }
                Err(error) => {
                    gathered.close().await;
                    return Err(error.into());
                }
            }
        }
        let (Some(old), Some(new)) = (
            old_states
                .get(&version.0)
                .and_then(|state| state.hosts.get(&host)),
            loaded.desired.hosts.get(&host),
        ) else {
            continue;
        };
        match plan::checked_directories(&content, &old.settings, &new.settings) {
            Ok(directories) => {
                found.insert(
                    host,
                    plan::MemberCleanup {
                        marker_content: content,
                        directories,
                    },
                );
            }
            Err(reasons) => refused.extend(
                reasons
                    .into_iter()
                    .map(|reason| format!("{host}: {reason}")),
            ),
        }
    }
    if !refused.is_empty() {
        gathered.close().await;
        return Err(UpgradeError::Cluster(format!(
            "the upgrade markers name what `--cleanup` does not delete; nothing was removed:\n  {}",
            refused.join("\n  ")
        )));
    }
    let plan = plan::cleanup(&loaded.desired, &found);
    printer.out("Remove the old clusters an upgrade left (destructive: the data of the old version is deleted):");
    printer.plan(&plan);
    if options.dry_run {
        gathered.close().await;
        printer.out("Dry run: nothing was removed.");
        return Ok(ApplyResult::Changes);
    }
    let result = run(&plan, &gathered, printer).await;
    gathered.close().await;
    result?;
    Ok(ApplyResult::Changes)
}

/// Each member's upgrade marker: its content, `None` without one, or why it
/// could not be read.
async fn read_markers(
    gathered: &Gathered,
    desired: &DesiredState,
    hosts: &[String],
) -> IndexMap<String, Result<Option<String>, String>> {
    let mut found = IndexMap::new();
    for host in hosts {
        let (Some(connection), Some(desired_host)) =
            (gathered.connections.get(host), desired.hosts.get(host))
        else {
            let why = gathered
                .facts
                .get(host)
                .and_then(|facts| facts.as_ref().err().cloned())
                .unwrap_or_else(|| "no connection".to_string());
            found.insert(host.clone(), Err(why));
            continue;
        };
        let read = ReadUpgradeMarker {
            server: desired_host.settings.clone(),
        };
        let mut result = Err("reading the marker has no script".to_string());
        for host_script in read.scripts().unwrap_or_default() {
            result = match connection.run(&host_script.script.render()).await {
                Ok(output) if output.success() => ReadUpgradeMarker::parse(&output.stdout),
                Ok(output) => Err(format!(
                    "reading the upgrade marker failed (exit code {}): {}",
                    output.exit_code.unwrap_or(-1),
                    output.stderr.trim()
                )),
                Err(error) => Err(error.to_string()),
            };
        }
        found.insert(host.clone(), result);
    }
    found
}
