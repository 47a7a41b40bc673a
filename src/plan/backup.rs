//! `pgconverge backup`: a plan of one step, a pgBackRest backup where the
//! repository is looked after (the repository host, or the primary), once its
//! stanza is ready. Pure.

use super::build::PlanOptions;
use super::{Change, HostPlan, NodeId, Plan, PlannedStep};
use crate::actions::DesiredStep;
use crate::actions::pgbackrest::{BackupKind, TakeBackup, VerifyBackup};
use crate::desired::DesiredState;
use crate::facts::GatheredFacts;

/// The id of the backup step.
pub const BACKUP_STEP: &str = "backup";
/// The id of the step that proves a backup restores.
pub const VERIFY_STEP: &str = "verify-backup";

/// What `pgconverge backup` or `verify-backup` asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupTask {
    Take(BackupKind),
    /// Restore the latest backup on `host` (the repository's host when `None`)
    /// and count the rows of `table`.
    Verify {
        host: Option<String>,
        table: Option<String>,
    },
}

/// A backup of `kind` on the host whose playbook step keeps the stanza; blocked
/// when the inventory has no pgBackRest stanza.
pub fn plan(
    desired: &DesiredState,
    facts: &GatheredFacts,
    options: &PlanOptions,
    task: &BackupTask,
) -> Plan {
    let in_scope =
        |host: &str| options.limit.is_empty() || options.limit.iter().any(|name| name == host);
    if let BackupTask::Verify {
        host: Some(name), ..
    } = task
        && !desired.hosts.contains_key(name)
    {
        return Plan {
            hosts: Vec::new(),
            blocked: Some(format!("--host {name}: not a host of the inventory")),
            order: Vec::new(),
            dependencies: Vec::new(),
            ordering_only: Vec::new(),
            handover: None,
        };
    }
    let mut hosts = Vec::new();
    let mut order = Vec::new();
    for host in desired.hosts.values().filter(|host| in_scope(&host.name)) {
        let Some(stanza) = host.steps.values().find_map(|step| match step {
            DesiredStep::PgbackrestStanza(stanza) => Some(stanza.stanza.clone()),
            _ => None,
        }) else {
            continue;
        };
        let mut planned = HostPlan::of(host);
        let step = match facts.get(&host.name) {
            Some(Ok(host_facts)) => {
                let pgbackrest = host_facts.pgbackrest.as_ref();
                let code = pgbackrest.and_then(|pgbackrest| pgbackrest.status_code);
                let backups = pgbackrest.map_or(0, |pgbackrest| pgbackrest.backups.len());
                let (step, not_ready) = match task {
                    BackupTask::Take(kind) => (
                        PlannedStep::change(
                            Change::Create,
                            format!("take a {} backup of stanza {stanza}", kind.name()),
                            TakeBackup {
                                stanza: stanza.clone(),
                                kind: *kind,
                                server: host.settings.clone(),
                            },
                        ),
                        !matches!(code, Some(0) | Some(2)),
                    ),
                    BackupTask::Verify { host: on, table } => {
                        let Some(restorer) = desired.hosts.get(on.as_deref().unwrap_or(&host.name))
                        else {
                            continue;
                        };
                        planned = HostPlan::of(restorer);
                        (
                            PlannedStep::check(
                                format!(
                                    "restore the latest backup of stanza {stanza} into a scratch directory on {}, recover it to the end of the archive in a throwaway server{}, then remove it",
                                    restorer.name,
                                    table
                                        .as_deref()
                                        .map(|table| format!(" and count the rows of {table}"))
                                        .unwrap_or_default()
                                ),
                                VerifyBackup {
                                    stanza: stanza.clone(),
                                    label: pgbackrest
                                        .and_then(|pgbackrest| pgbackrest.last_backup())
                                        .map(|backup| backup.label.clone())
                                        .unwrap_or_default(),
                                    table: table.clone(),
                                    server: restorer.settings.clone(),
                                },
                            ),
                            code != Some(0) || backups == 0,
                        )
                    }
                };
                if not_ready {
                    PlannedStep {
                        refused: Some(format!(
                            "the stanza {stanza} on {} is not ready{} ({}): run `pgconverge apply` first",
                            host.name,
                            if matches!(task, BackupTask::Verify { .. }) {
                                " or has no backup"
                            } else {
                                ""
                            },
                            pgbackrest
                                .map(|pgbackrest| pgbackrest.status_message.clone())
                                .filter(|message| !message.is_empty())
                                .unwrap_or_else(|| "pgBackRest did not answer".to_string())
                        )),
                        ..step
                    }
                } else {
                    step
                }
            }
            Some(Err(error)) => {
                planned.error = Some(error.clone());
                hosts.push(planned);
                continue;
            }
            None => {
                planned.error = Some("no facts were gathered".to_string());
                hosts.push(planned);
                continue;
            }
        };
        let id = match task {
            BackupTask::Take(_) => BACKUP_STEP,
            BackupTask::Verify { .. } => VERIFY_STEP,
        };
        order.push(NodeId::new(&planned.name, id));
        planned.steps.push(PlannedStep {
            id: id.to_string(),
            ..step
        });
        hosts.push(planned);
    }
    let blocked = hosts.is_empty().then(|| {
        "the inventory archives no WAL with pgBackRest: set `wal_archive: { pgbackrest: ... }` first".to_string()
    });
    Plan {
        hosts,
        blocked,
        dependencies: order
            .iter()
            .map(|node| (node.clone(), Vec::new()))
            .collect(),
        order,
        ordering_only: Vec::new(),
        handover: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::pgbackrest::PgbackrestFacts;
    use crate::plan::check::{Fixture, pgbackrest_inventory};

    #[test]
    fn a_backup_runs_where_the_repository_is_once_its_stanza_is_ready() {
        let ready = Fixture::converged_with(&pgbackrest_inventory()).edit("arch1", |host| {
            host.pgbackrest = Some(PgbackrestFacts::parse(
                "main",
                r#"[{"name":"main","status":{"code":0,"message":"ok"},"backup":[]}]"#,
            ));
        });
        let planned = plan(
            &ready.desired,
            &ready.facts,
            &PlanOptions::default(),
            &BackupTask::Take(BackupKind::Incr),
        );
        assert_eq!(planned.order, vec![NodeId::new("arch1", BACKUP_STEP)]);
        let step = planned.step(&NodeId::new("arch1", BACKUP_STEP));
        assert!(
            step.is_some_and(|step| step.summary == "take a incr backup of stanza main"
                && step.refused.is_none()),
            "{step:?}"
        );
        let missing = Fixture::converged_with(&pgbackrest_inventory());
        let refused = plan(
            &missing.desired,
            &missing.facts,
            &PlanOptions::default(),
            &BackupTask::Take(BackupKind::Full),
        );
        assert!(
            refused
                .step(&NodeId::new("arch1", BACKUP_STEP))
                .and_then(|step| step.refused.as_deref())
                .is_some_and(|reason| reason.contains("run `pgconverge apply` first")),
            "{refused:?}"
        );
        let none = Fixture::converged();
        let blocked = plan(
            &none.desired,
            &none.facts,
            &PlanOptions::default(),
            &BackupTask::Take(BackupKind::Full),
        );
        assert!(blocked.blocked.is_some());
    }
}
