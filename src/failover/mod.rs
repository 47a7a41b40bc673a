//! Failover (`promote`) and planned switchover: gates checked from facts, then the
//! version's promotion, then the inventory made the truth again.

pub mod gates;
pub mod plan;

use crate::apply::{self, ApplyOptions, ApplyResult};
use crate::diagnostic::Diagnostics;
use crate::execute;
use crate::gather::Gathered;
use crate::inventory::Role;
use crate::inventory::edit::{self, EditError};
use crate::plan::Plan;
use crate::plan::rolling::PrimaryRestart;
use crate::printer::{Printer, StepReports};
use crate::secret::Redactor;
use crate::session::Session;
use crate::transport::SshOptions;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct FailoverOptions {
    pub inventory: crate::inventory::Input,
    /// The playbook and templates, as for `apply` (also for the apply that follows).
    pub playbook: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    pub host: String,
    pub dry_run: bool,
    /// Bytes the new primary may be behind (what it received for a promotion, the
    /// primary for a switchover).
    pub max_lag: u64,
    /// Promotion only: stop the old primary over SSH first if it runs.
    pub fence: bool,
    /// Promotion only: promote an asynchronous standby although the cluster has
    /// synchronous ones (commits they alone received are lost).
    pub accept_async: bool,
    /// Promotion: write the new roles into the inventory. A switchover always does.
    pub write_inventory: bool,
    pub ssh: SshOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum FailoverError {
    #[error("{0}")]
    Input(#[from] Diagnostics),
    #[error("`{host}` is not a host of the inventory")]
    UnknownHost { host: String },
    #[error("a gate is closed: nothing was changed")]
    GateClosed,
    #[error("{step} failed on {host}: {reason}")]
    Step {
        step: String,
        host: String,
        reason: String,
    },
    #[error("{0}")]
    Inventory(#[from] EditError),
    #[error("{0}")]
    Apply(#[from] apply::ApplyError),
    #[error("{0}")]
    Locked(#[from] crate::run_lock::LockError),
}

/// What the loaded inventory and the gathered facts give a failover.
struct Prepared {
    printer: Printer,
    desired: crate::desired::DesiredState,
    gathered: Gathered,
}

async fn prepare(
    options: &FailoverOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<Prepared, FailoverError> {
    let session = Session::start(
        &options.inventory,
        options.playbook.as_deref(),
        options.templates.as_deref(),
        printer_for,
    )?;
    if !session.desired().hosts.contains_key(&options.host) {
        return Err(FailoverError::UnknownHost {
            host: options.host.clone(),
        });
    }
    let hosts: Vec<String> = session.desired().hosts.keys().cloned().collect();
    let gathered = session.gather(&hosts, &options.ssh).await?;
    Ok(Prepared {
        printer: session.printer,
        desired: session.loaded.desired,
        gathered,
    })
}

/// How a plan of a promotion or a switchover went.
struct Ran {
    /// The first failure, if any.
    result: Result<(), FailoverError>,
    /// The new primary was promoted (whatever failed after it: a PgBouncer that
    /// was not re-pointed, which the apply after points at it).
    promoted: bool,
}

impl Prepared {
    /// Runs the plan's steps in order; the first failure is the error.
    async fn run(&self, plan: &Plan, new_primary: &str) -> Ran {
        let reports = StepReports {
            printer: &self.printer,
            starts: false,
        };
        let outcomes = execute::execute(plan, &self.gathered.connections, 1, &reports).await;
        let promoted = outcomes
            .get(&crate::desired::NodeId::new(new_primary, plan::PROMOTE))
            .is_some_and(crate::plan::Outcome::succeeded);
        let result = match execute::first_failure(plan, &outcomes) {
            Some((node, reason)) => Err(FailoverError::Step {
                step: node.step.clone(),
                host: node.host.clone(),
                reason: reason.to_string(),
            }),
            None => Ok(()),
        };
        Ran { result, promoted }
    }

    /// The lines that name each PgBouncer of the cluster the plan leaves to
    /// the apply after.
    fn bouncers_left(&self, primary: &str) {
        let (_, left) = plan::bouncers(&self.desired, &self.gathered.facts, primary);
        for line in left {
            self.printer.out(&format!("note: {line}"));
        }
    }
}

/// Records the new roles, or says how to.
fn record_roles(
    printer: &Printer,
    options: &FailoverOptions,
    new_primary: &str,
    old_primary: Option<&str>,
    write: bool,
) -> Result<(), FailoverError> {
    let mut roles = vec![(new_primary, Role::Primary)];
    if let Some(old) = old_primary {
        roles.push((old, Role::Standby));
    }
    let wanted = roles
        .iter()
        .map(|(host, role)| {
            format!(
                "`pg_role: {}` on {host}",
                if *role == Role::Primary {
                    "primary"
                } else {
                    "standby"
                }
            )
        })
        .collect::<Vec<_>>()
        .join(" and ");
    if !write {
        printer.out(&format!("{new_primary} is the primary now. Record it in the inventory: set {wanted} (or move them between the groups), or run again with --write-inventory."));
        return Ok(());
    }
    edit::write_roles(&options.inventory, &roles)?;
    printer.out(&format!(
        "Recorded in `{}`: {wanted}.",
        options.inventory.first().display()
    ));
    Ok(())
}

/// `pgconverge promote HOST`: a failover.
pub async fn promote(
    options: &FailoverOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<ApplyResult, FailoverError> {
    if options.write_inventory {
        edit::editable_file(&options.inventory)?;
    }
    let prepared = prepare(options, printer_for).await?;
    let printer = &prepared.printer;
    let checked = gates::promote(
        &prepared.desired,
        &prepared.gathered.facts,
        &options.host,
        options.max_lag,
        options.fence,
        options.accept_async,
    );
    printer.out(&format!("Promote {}:", options.host));
    printer.gates(&checked.gates);
    if !checked.passed() {
        prepared.gathered.close().await;
        return Err(FailoverError::GateClosed);
    }
    // The old primary's host, reached over SSH whatever its server does: the
    // virtual IP is taken from it first.
    let reached = checked.old_primary.as_deref().filter(|old| {
        prepared
            .gathered
            .facts
            .get(*old)
            .is_some_and(|facts| facts.is_ok())
    });
    let plan = plan::promotion(
        &prepared.desired,
        &prepared.gathered.facts,
        &options.host,
        checked.fence.as_deref(),
        reached,
    );
    printer.plan(&plan);
    prepared.bouncers_left(&options.host);
    if options.dry_run {
        prepared.gathered.close().await;
        return Ok(ApplyResult::Changes);
    }
    let ran = prepared.run(&plan, &options.host).await;
    prepared.gathered.close().await;
    let Ran { result, promoted } = ran;
    let result = if promoted { result } else { Ok(result?) };
    // The roles are recorded once the new primary was promoted, even when a
    // PgBouncer was not re-pointed after (the next apply does it); that failure
    // is the command's error after.
    record_roles(
        printer,
        options,
        &options.host,
        checked.old_primary.as_deref(),
        options.write_inventory,
    )?;
    if let Err(error) = result {
        printer.out(&format!(
            "Next: `pgconverge apply -i {}` points PgBouncer at {} where this did not, repoints the other standbys and rejoins the old primary once it is reachable.",
            options.inventory.first().display(),
            options.host
        ));
        return Err(error);
    }
    printer.out(&format!(
        "Next: `pgconverge apply -i {}` repoints the other standbys and rejoins the old primary once it is reachable.",
        options.inventory.first().display()
    ));
    Ok(ApplyResult::Changes)
}

/// `pgconverge switchover HOST`: a planned change of primary with no data loss.
pub async fn switchover(
    options: &FailoverOptions,
    printer_for: impl Fn(Redactor) -> Printer,
) -> Result<ApplyResult, FailoverError> {
    switchover_holding(options, printer_for, &[]).await
}

/// The switchover, after an earlier part of the same command that still holds
/// the run locks of `held`. Its own locks are held through the apply that ends
/// it: no other run finds the cluster between the promotion and the rejoin.
async fn switchover_holding(
    options: &FailoverOptions,
    printer_for: impl Fn(Redactor) -> Printer,
    held: &[&str],
) -> Result<ApplyResult, FailoverError> {
    // A switchover records the new roles: an inventory they cannot be written
    // into is refused before anything changes.
    edit::editable_file(&options.inventory)?;
    let options = &FailoverOptions {
        ssh: options.ssh.holding(held),
        ..options.clone()
    };
    let prepared = prepare(options, &printer_for).await?;
    let printer = &prepared.printer;
    let checked = gates::switchover(
        &prepared.desired,
        &prepared.gathered.facts,
        &options.host,
        options.max_lag,
    );
    printer.out(&format!("Switch over to {}:", options.host));
    printer.gates(&checked.gates);
    let Some(old) = checked.old_primary.clone().filter(|_| checked.passed()) else {
        prepared.gathered.close().await;
        return Err(FailoverError::GateClosed);
    };
    let plan = plan::switchover(
        &prepared.desired,
        &prepared.gathered.facts,
        &old,
        &options.host,
    );
    printer.plan(&plan);
    prepared.bouncers_left(&old);
    if options.dry_run {
        printer.out(&format!(
            "Then the roles are recorded in the inventory and apply rejoins {old} as a standby of {}.",
            options.host
        ));
        prepared.gathered.close().await;
        return Ok(ApplyResult::Changes);
    }
    let ran = prepared.run(&plan, &options.host).await;
    // Once the new primary was promoted the roles are recorded and the apply
    // runs, even when a PgBouncer was not re-pointed after: the apply points it
    // at the new primary (and says so when it cannot).
    let recorded = match ran.result {
        Err(error) if !ran.promoted => Err(error),
        result => {
            if let Err(error) = result {
                printer.out(&format!(
                    "warning: {error}; {} is the primary all the same",
                    options.host
                ));
            }
            record_roles(printer, options, &options.host, Some(&old), true)
        }
    };
    if let Err(error) = recorded {
        prepared.gathered.close().await;
        return Err(error);
    }
    printer.out(&format!(
        "Rejoining {old} as a standby of {}:",
        options.host
    ));
    let apply_options = ApplyOptions {
        inventory: options.inventory.clone(),
        playbook: options.playbook.clone(),
        templates: options.templates.clone(),
        ssh: options.ssh.holding(&prepared.gathered.locks.hosts()),
        ..ApplyOptions::default()
    };
    let rejoined = apply::apply(&apply_options, printer_for).await;
    prepared.gathered.close().await;
    Ok(rejoined?)
}

/// `apply --restart-primary switchover` (and `restart`): the plan runs with the
/// primary's restart left out; once every step succeeded, the primary role goes
/// to the plan's candidate by a switchover (its gates, the inventory recorded, the
/// old primary rejoined as a standby, which starts it with its new configuration).
pub async fn apply_handing_over(
    options: &ApplyOptions,
    printer_for: impl Fn(Redactor) -> Printer,
) -> Result<ApplyResult, FailoverError> {
    let asked = options
        .restarts
        .is_some_and(|policy| policy.primary == PrimaryRestart::Switchover);
    if asked && !options.dry_run {
        // The switchover records the new roles: refused before anything changes.
        edit::editable_file(&options.inventory)?;
    }
    let (result, pending) = apply::apply_with_handover(options, &printer_for).await?;
    let Some(apply::PendingHandover { handover, gathered }) = pending else {
        return Ok(result);
    };
    let switchover_options = FailoverOptions {
        inventory: options.inventory.clone(),
        playbook: options.playbook.clone(),
        templates: options.templates.clone(),
        host: handover.candidate.clone(),
        dry_run: false,
        max_lag: options.restarts.unwrap_or_default().max_lag_bytes,
        fence: false,
        accept_async: false,
        write_inventory: true,
        ssh: options.ssh.clone(),
    };
    // The apply's locks are held until the switchover and its apply ended.
    let switched =
        switchover_holding(&switchover_options, printer_for, &gathered.locks.hosts()).await;
    gathered.close().await;
    switched?;
    Ok(ApplyResult::Changes)
}
