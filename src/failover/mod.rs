//! Failover (`promote`) and planned switchover: gates checked from facts, then the
//! version's promotion, then the inventory made the truth again.

pub mod gates;
pub mod script;

use crate::actions::service::{ControlServer, ServiceAction};
use crate::apply::{self, ApplyOptions, ApplyResult};
use crate::diagnostic::Diagnostics;
use crate::facts::Lsn;
use crate::gather::{self, Gathered};
use crate::inventory::Role;
use crate::inventory::edit::{self, EditError};
use crate::printer::Printer;
use crate::script::Script;
use crate::secret::Redactor;
use crate::settings::HostSettings;
use crate::transport::SshOptions;
use anstyle::{AnsiColor, Style};
use gates::Checked;
use std::path::PathBuf;

const GREEN: Style = AnsiColor::Green.on_default();
const RED: Style = AnsiColor::Red.on_default();

#[derive(Debug, Clone)]
pub struct FailoverOptions {
    pub inventory: PathBuf,
    pub host: String,
    pub dry_run: bool,
    /// Bytes the new primary may be behind (what it received for a promotion, the
    /// primary for a switchover).
    pub max_lag: u64,
    /// Promotion only: stop the old primary over SSH first if it runs.
    pub fence: bool,
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
        step: &'static str,
        host: String,
        reason: String,
    },
    #[error("{0}")]
    Inventory(#[from] EditError),
    #[error("{0}")]
    Apply(#[from] apply::ApplyError),
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
    let loaded = crate::load::load(&options.inventory, None, None)?;
    let printer = printer_for(Redactor::new(loaded.desired.secrets.clone()));
    if !loaded.desired.hosts.contains_key(&options.host) {
        return Err(FailoverError::UnknownHost {
            host: options.host.clone(),
        });
    }
    let hosts: Vec<String> = loaded.desired.hosts.keys().cloned().collect();
    let gathered = gather::gather(&loaded.desired, &hosts, &options.ssh).await;
    Ok(Prepared {
        printer,
        desired: loaded.desired,
        gathered,
    })
}

fn print_gates(printer: &Printer, checked: &Checked) {
    for gate in &checked.gates {
        let (style, word) = if gate.passed {
            (GREEN, "ok")
        } else {
            (RED, "CLOSED")
        };
        printer.out(&format!(
            "  {style}{word:>6}{style:#}  {}: {}",
            gate.name, gate.detail
        ));
    }
}

impl Prepared {
    fn context(&self, host: &str) -> Result<HostSettings, FailoverError> {
        self.desired
            .hosts
            .get(host)
            .map(|host| host.settings.clone())
            .ok_or_else(|| FailoverError::UnknownHost {
                host: host.to_string(),
            })
    }

    /// Runs one script on a host, reporting what it printed.
    async fn run(
        &self,
        step: &'static str,
        host: &str,
        script: &Script,
    ) -> Result<String, FailoverError> {
        let failed = |reason: String| FailoverError::Step {
            step,
            host: host.to_string(),
            reason,
        };
        let connection = self
            .gathered
            .connections
            .get(host)
            .ok_or_else(|| failed("no connection".to_string()))?;
        let output = connection
            .run(&script.render())
            .await
            .map_err(|error| failed(error.to_string()))?;
        if !output.success() {
            let detail = if output.stderr.trim().is_empty() {
                output.stdout.trim()
            } else {
                output.stderr.trim()
            };
            return Err(failed(detail.to_string()));
        }
        let report = output.stdout.trim().to_string();
        self.printer.err(&format!("{host}: {step}: {report}"));
        Ok(report)
    }

    async fn stop(&self, host: &str) -> Result<(), FailoverError> {
        let stop = ControlServer {
            action: ServiceAction::Stop,
            server: self.context(host)?,
        };
        self.run("stop", host, &stop.script()).await.map(|_| ())
    }

    async fn promote(&self, host: &str) -> Result<(), FailoverError> {
        self.run("promote", host, &script::promote(&self.context(host)?))
            .await
            .map(|_| ())
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
        options.inventory.display()
    ));
    Ok(())
}

/// `pgconverge promote HOST`: a failover.
pub async fn promote(
    options: &FailoverOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<ApplyResult, FailoverError> {
    let prepared = prepare(options, printer_for).await?;
    let printer = &prepared.printer;
    let checked = gates::promote(
        &prepared.desired,
        &prepared.gathered.facts,
        &options.host,
        options.max_lag,
        options.fence,
    );
    printer.out(&format!("Promote {}:", options.host));
    print_gates(printer, &checked);
    if !checked.passed() {
        prepared.gathered.close().await;
        return Err(FailoverError::GateClosed);
    }
    if options.dry_run {
        if let Some(fence) = &checked.fence {
            printer.out(&format!("Would stop PostgreSQL on {fence} (fence)."));
        }
        printer.out(&format!(
            "Would promote {} and wait until it accepts writes.",
            options.host
        ));
        prepared.gathered.close().await;
        return Ok(ApplyResult::Changes);
    }
    if let Some(fence) = &checked.fence {
        prepared.stop(fence).await?;
    }
    prepared.promote(&options.host).await?;
    prepared.gathered.close().await;
    record_roles(
        printer,
        options,
        &options.host,
        checked.old_primary.as_deref(),
        options.write_inventory,
    )?;
    printer.out(&format!(
        "Next: `pgconverge apply -i {}` repoints the other standbys and rejoins the old primary once it is reachable.",
        options.inventory.display()
    ));
    Ok(ApplyResult::Changes)
}

/// `pgconverge switchover HOST`: a planned change of primary with no data loss.
pub async fn switchover(
    options: &FailoverOptions,
    printer_for: impl Fn(Redactor) -> Printer,
) -> Result<ApplyResult, FailoverError> {
    let prepared = prepare(options, &printer_for).await?;
    let printer = &prepared.printer;
    let checked = gates::switchover(
        &prepared.desired,
        &prepared.gathered.facts,
        &options.host,
        options.max_lag,
    );
    printer.out(&format!("Switch over to {}:", options.host));
    print_gates(printer, &checked);
    let Some(old) = checked.old_primary.clone().filter(|_| checked.passed()) else {
        prepared.gathered.close().await;
        return Err(FailoverError::GateClosed);
    };
    if options.dry_run {
        printer.out(&format!(
            "Would checkpoint and stop {old}, wait until {host} has replayed its last record, promote {host}, record the roles in the inventory and rejoin {old} as a standby of {host}.",
            host = options.host
        ));
        prepared.gathered.close().await;
        return Ok(ApplyResult::Changes);
    }
    let old_context = prepared.context(&old)?;
    prepared
        .run("checkpoint", &old, &script::checkpoint(&old_context))
        .await?;
    prepared.stop(&old).await?;
    let last = prepared
        .run(
            "last checkpoint",
            &old,
            &script::last_checkpoint(&old_context),
        )
        .await?;
    let position = Lsn::parse(&last).ok_or_else(|| FailoverError::Step {
        step: "last checkpoint",
        host: old.clone(),
        reason: format!("cannot read `{last}`"),
    })?;
    let new_context = prepared.context(&options.host)?;
    if let Err(error) = prepared
        .run(
            "catch up",
            &options.host,
            &script::wait_for_replay(&new_context, position),
        )
        .await
    {
        // Nothing was promoted: the old primary takes its role back.
        let restarted = prepared
            .run("start again", &old, &script::start(&old_context))
            .await;
        printer.error(&format!(
            "{error}; {}",
            if restarted.is_ok() {
                format!("{old} runs as the primary again")
            } else {
                format!("{old} could not be started again: start it by hand")
            }
        ));
        prepared.gathered.close().await;
        return Err(error);
    }
    prepared.promote(&options.host).await?;
    prepared.gathered.close().await;
    record_roles(printer, options, &options.host, Some(&old), true)?;
    printer.out(&format!(
        "Rejoining {old} as a standby of {}:",
        options.host
    ));
    let apply_options = ApplyOptions {
        inventory: Some(options.inventory.clone()),
        ssh: options.ssh.clone(),
        ..ApplyOptions::default()
    };
    Ok(apply::apply(&apply_options, printer_for).await?)
}
