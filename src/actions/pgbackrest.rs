//! pgBackRest's stanza where the repository is looked after (the repository host,
//! or the primary when the repository is a path on each node): created when
//! missing, checked (`pgbackrest check`: the archive works end to end), and given
//! a first full backup when it has none. A converged stanza plans nothing.

use super::{Action, Change, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::facts::FactsRequest;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use serde::Serialize;
use serde_json::Value;

/// The package that has the `pgbackrest` command, on Debian and RHEL alike.
pub const PACKAGE: &str = "pgbackrest";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgbackrestStanza {
    pub stanza: String,
}

/// Creates the stanza (when `create`), checks it, and takes a full backup (when
/// `first_backup`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrepareStanza {
    pub stanza: String,
    pub create: bool,
    pub first_backup: bool,
    #[serde(skip)]
    pub server: HostSettings,
}

/// What a backup copies: everything, or what changed since the last full (`diff`)
/// or since the last backup of any kind (`incr`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BackupKind {
    Full,
    Diff,
    Incr,
}

impl BackupKind {
    pub fn name(self) -> &'static str {
        match self {
            BackupKind::Full => "full",
            BackupKind::Diff => "diff",
            BackupKind::Incr => "incr",
        }
    }
}

/// A backup now (`pgconverge backup`), reported by its summary line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TakeBackup {
    pub stanza: String,
    pub kind: BackupKind,
    #[serde(skip)]
    pub server: HostSettings,
}

impl RemoteOperation for TakeBackup {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "pgbackrest_backup",
            include_str!("scripts/pgbackrest_backup.sh"),
            &self.server.os_user,
        )
        .text("STANZA", &self.stanza)
        .text("BACKUP_TYPE", self.kind.name())
        .text("PACKAGE", PACKAGE);
        Ok(vec![HostScript::own(script)])
    }

    /// `full backup 20261201-101010F: 30 MB, 4 MB added to the repository, in 12 s,
    /// WAL 0000000100000000000000004 to ...`, from the info JSON the script printed last.
    fn reported(&self, output: &str) -> String {
        let json = output
            .lines()
            .rev()
            .find_map(|line| line.strip_prefix("INFO "))
            .unwrap_or_default();
        let facts = crate::facts::pgbackrest::PgbackrestFacts::parse(&self.stanza, json);
        let Some(backup) = facts.last_backup() else {
            return format!("{} backup taken (pgbackrest info did not describe it)", self.kind.name());
        };
        const MB: u64 = 1024 * 1024;
        format!(
            "{} backup {}: {} MB, {} MB added to the repository, in {} s, WAL {} to {}",
            backup.kind,
            backup.label,
            backup.size.unwrap_or(0) / MB,
            backup.repository_size.unwrap_or(0) / MB,
            backup.finished - backup.started,
            backup.wal_start,
            backup.wal_stop
        )
    }
}

impl Action for PgbackrestStanza {
    fn desire(input: &StepInput) -> Result<PgbackrestStanza, Diagnostic> {
        let stanza = input
            .variables
            .get("pgbackrest_stanza")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if stanza.is_empty() {
            return Err((input.problem)(
                "the pgbackrest_stanza step needs `wal_archive: { pgbackrest: ... }`".to_string(),
            ));
        }
        Ok(PgbackrestStanza { stanza })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.pgbackrest_stanza = Some(self.stanza.clone());
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let stanza = &self.stanza;
        let host = context.host.name;
        let operation = |create, first_backup| PrepareStanza {
            stanza: stanza.clone(),
            create,
            first_backup,
            server: context.settings().clone(),
        };
        let facts = context.facts.pgbackrest.clone().unwrap_or_default();
        if !facts.installed {
            return PlannedStep {
                refused: Some(format!(
                    "pgBackRest is not installed on {host}: install the package `{PACKAGE}`"
                )),
                ..PlannedStep::change(
                    Change::Create,
                    format!("create the pgBackRest stanza {stanza}, check it and take a first full backup"),
                    operation(true, true),
                )
            };
        }
        match facts.status_code {
            Some(0) => {
                let Some(last) = facts.last_backup() else {
                    return PlannedStep::noop(format!("stanza {stanza} is ok"));
                };
                PlannedStep::noop(format!(
                    "stanza {stanza} is ok: {} backup(s), the last {} {}",
                    facts.backups.len(),
                    last.kind,
                    last.label
                ))
            }
            Some(1) | Some(3) => PlannedStep::change(
                Change::Create,
                format!(
                    "create the pgBackRest stanza {stanza}, check it and take a first full backup ({})",
                    facts.status_message
                ),
                operation(true, true),
            ),
            Some(2) => PlannedStep::change(
                Change::Create,
                format!("check the pgBackRest stanza {stanza} and take a first full backup: it has none"),
                operation(false, true),
            ),
            Some(code) => PlannedStep {
                refused: Some(format!(
                    "pgbackrest info reports stanza {stanza} on {host} as `{}` (code {code}): see `pgbackrest --stanza={stanza} info` there",
                    facts.status_message
                )),
                ..PlannedStep::change(
                    Change::Update,
                    format!("check the pgBackRest stanza {stanza}"),
                    operation(false, false),
                )
            },
            None => PlannedStep {
                refused: Some(format!(
                    "pgbackrest info failed on {host}: {}",
                    facts.error.as_deref().unwrap_or("no answer")
                )),
                ..PlannedStep::change(
                    Change::Update,
                    format!("check the pgBackRest stanza {stanza}"),
                    operation(false, false),
                )
            },
        }
    }
}

impl RemoteOperation for PrepareStanza {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "pgbackrest_stanza",
            include_str!("scripts/pgbackrest_stanza.sh"),
            &self.server.os_user,
        )
        .text("STANZA", &self.stanza)
        .flag("CREATE", self.create)
        .flag("FIRST_BACKUP", self.first_backup)
        .text("PACKAGE", PACKAGE);
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use crate::facts::pgbackrest::PgbackrestFacts;
    use crate::plan::check::{Fixture, PGBACKREST_INVENTORY, check};

    fn with(facts: Option<PgbackrestFacts>) -> String {
        let fixture = Fixture::converged_with(PGBACKREST_INVENTORY).edit("arch1", |host| {
            host.pgbackrest = facts.clone();
        });
        check(&fixture, "arch1", "pgbackrest_stanza")
    }

    #[test]
    fn a_missing_stanza_is_created_checked_and_backed_up() {
        let text = with(Some(PgbackrestFacts::parse(
            "main",
            r#"[{"name":"main","status":{"code":1,"message":"missing stanza path"},"backup":[]}]"#,
        )));
        assert!(
            text.contains("create the pgBackRest stanza main, check it and take a first full backup (missing stanza path)"),
            "{text}"
        );
        assert!(text.contains("CREATE=yes") && text.contains("FIRST_BACKUP=yes"), "{text}");
    }

    #[test]
    fn a_stanza_with_a_backup_is_left_alone() {
        let text = with(Some(PgbackrestFacts::parse(
            "main",
            r#"[{"name":"main","status":{"code":0,"message":"ok"},"backup":[{"label":"20261201-101010F","type":"full","timestamp":{"start":1,"stop":2}}]}]"#,
        )));
        assert!(
            text.contains("stanza main is ok: 1 backup(s), the last full 20261201-101010F"),
            "{text}"
        );
    }

    #[test]
    fn a_missing_command_names_the_package() {
        let text = with(Some(PgbackrestFacts::default()));
        assert!(
            text.contains("pgBackRest is not installed on arch1: install the package `pgbackrest`"),
            "{text}"
        );
    }
}
