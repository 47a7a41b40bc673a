//! pgBackRest's stanza where the repository is looked after (the repository host,
//! or the primary when the repository is a path on each node): created when
//! missing, before the members archive through it; then, once they do, checked
//! (`pgbackrest check`: the archive works end to end) and given a first full
//! backup when it has none. A converged stanza plans nothing.

use super::{Action, Change, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::facts::FactsRequest;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use serde::Serialize;

/// The package that has the `pgbackrest` command, on Debian and RHEL alike.
pub const PACKAGE: &str = "pgbackrest";

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgbackrestStanza {
    pub stanza: String,
}

/// Creates the stanza (when `create`), checks it (when `check`), and takes a full
/// backup (when `first_backup`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PrepareStanza {
    pub stanza: String,
    pub create: bool,
    pub check: bool,
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
            return format!(
                "{} backup taken (pgbackrest info did not describe it)",
                self.kind.name()
            );
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

/// Restores the backup `label` (the latest) into a scratch directory on its host, recovers it
/// in a throwaway server to the end of the archive, counts `table`'s rows, and
/// removes it all (`pgconverge verify-backup`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyBackup {
    pub stanza: String,
    /// The backup to restore: the latest when the plan was made.
    pub label: String,
    pub table: Option<String>,
    #[serde(skip)]
    pub server: HostSettings,
}

/// The first port the throwaway server of `verify-backup` tries, and how long
/// its start and recovery may take.
const VERIFY_FIRST_PORT: u16 = 55432;
const RECOVERY_SECONDS: u32 = 600;

impl RemoteOperation for VerifyBackup {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "verify_backup",
            include_str!("scripts/verify_backup.sh"),
            &self.server.os_user,
        )
        .text("STANZA", &self.stanza)
        .text("LABEL", &self.label)
        .text("TABLE", self.table.as_deref().unwrap_or_default())
        .text("BIN_DIR", &self.server.bin_dir)
        .number("FIRST_PORT", VERIFY_FIRST_PORT)
        .number("RECOVERY_SECONDS", RECOVERY_SECONDS)
        .text("PACKAGE", PACKAGE);
        Ok(vec![HostScript::own(script)])
    }
}

impl PgbackrestStanza {
    fn read(input: &StepInput) -> Result<String, Diagnostic> {
        input.derived.pgbackrest_stanza.clone().ok_or_else(|| {
            (input.problem)("this step needs `wal_archive: { pgbackrest: ... }`".to_string())
        })
    }

    fn operation(&self, context: &PlanContext, create: bool, first_backup: bool) -> PrepareStanza {
        PrepareStanza {
            stanza: self.stanza.clone(),
            create,
            check: !create,
            first_backup,
            server: context.settings().clone(),
        }
    }
}

impl Action for PgbackrestStanza {
    fn desire(input: &StepInput) -> Result<PgbackrestStanza, Diagnostic> {
        Ok(PgbackrestStanza {
            stanza: PgbackrestStanza::read(input)?,
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.pgbackrest_stanza = Some(self.stanza.clone());
    }

    /// Creates the stanza when it is missing, before the members archive through it
    /// (each segment they push before would fail).
    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let stanza = &self.stanza;
        let host = context.host.name;
        let facts = context.facts.pgbackrest.clone().unwrap_or_default();
        if !facts.installed {
            return PlannedStep {
                refused: Some(format!(
                    "pgBackRest is not installed on {host}: install the package `{PACKAGE}`"
                )),
                ..PlannedStep::change(
                    Change::Create,
                    format!("create the pgBackRest stanza {stanza}"),
                    self.operation(context, true, false),
                )
            };
        }
        match facts.status_code {
            Some(0) | Some(2) => PlannedStep::noop(format!("stanza {stanza} exists")),
            Some(1) | Some(3) => PlannedStep::change(
                Change::Create,
                format!(
                    "create the pgBackRest stanza {stanza} ({}), before the members archive through it",
                    facts.status_message
                ),
                self.operation(context, true, false),
            ),
            Some(code) => PlannedStep {
                refused: Some(format!(
                    "pgbackrest info reports stanza {stanza} on {host} as `{}` (code {code}): see `pgbackrest --stanza={stanza} info` there",
                    facts.status_message
                )),
                ..PlannedStep::change(
                    Change::Update,
                    format!("check the pgBackRest stanza {stanza}"),
                    self.operation(context, false, false),
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
                    self.operation(context, false, false),
                )
            },
        }
    }
}

/// Once every member archives through pgBackRest: `pgbackrest check`, and a
/// first full backup when the stanza has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgbackrestFirstBackup {
    pub stanza: PgbackrestStanza,
}

impl Action for PgbackrestFirstBackup {
    fn desire(input: &StepInput) -> Result<PgbackrestFirstBackup, Diagnostic> {
        Ok(PgbackrestFirstBackup {
            stanza: PgbackrestStanza {
                stanza: PgbackrestStanza::read(input)?,
            },
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        self.stanza.facts_needed(request);
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let stanza = &self.stanza.stanza;
        let facts = context.facts.pgbackrest.clone().unwrap_or_default();
        match facts.status_code {
            // The stanza step refuses what cannot go on; nothing to add here.
            _ if !facts.installed => {
                PlannedStep::noop("no backup without pgBackRest (see the stanza step)".to_string())
            }
            Some(0) if !facts.backups.is_empty() => {
                let last = facts.last_backup();
                PlannedStep::noop(format!(
                    "stanza {stanza} is ok: {} backup(s), the last {} {}",
                    facts.backups.len(),
                    last.map(|backup| backup.kind.as_str()).unwrap_or_default(),
                    last.map(|backup| backup.label.as_str()).unwrap_or_default()
                ))
            }
            Some(0) | Some(1) | Some(2) | Some(3) => PlannedStep::change(
                Change::Create,
                format!(
                    "check the pgBackRest stanza {stanza} and take a first full backup: it has none"
                ),
                self.stanza.operation(context, false, true),
            ),
            _ => PlannedStep::noop(format!(
                "no backup while the stanza {stanza} is not ok (see the stanza step)"
            )),
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
        .flag("CHECK", self.check)
        .flag("FIRST_BACKUP", self.first_backup)
        .text("PACKAGE", PACKAGE);
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::pgbackrest::PgbackrestFacts;
    use crate::plan::check::{Fixture, check, pgbackrest_inventory};

    fn with(facts: Option<PgbackrestFacts>) -> String {
        let fixture = Fixture::converged_with(&pgbackrest_inventory()).edit("arch1", |host| {
            host.pgbackrest = facts.clone();
        });
        format!(
            "{}\n{}",
            check(&fixture, "arch1", "pgbackrest_stanza"),
            check(&fixture, "arch1", "pgbackrest_backup")
        )
    }

    #[test]
    fn a_missing_stanza_is_created_checked_and_backed_up() {
        let text = with(Some(PgbackrestFacts::parse(
            "main",
            r#"[{"name":"main","status":{"code":1,"message":"missing stanza path"},"backup":[]}]"#,
        )));
        assert!(
            text.contains("create the pgBackRest stanza main (missing stanza path), before the members archive through it"),
            "{text}"
        );
        assert!(
            text.contains(
                "check the pgBackRest stanza main and take a first full backup: it has none"
            ) && text.contains("CREATE=yes")
                && text.contains("FIRST_BACKUP=yes"),
            "{text}"
        );
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

    #[test]
    fn a_backup_is_reported_in_one_line_from_pgbackrests_json() {
        let take = TakeBackup {
            stanza: "main".into(),
            kind: BackupKind::Incr,
            server: HostSettings::example(),
        };
        let output = "INFO [{\"name\":\"main\",\"status\":{\"code\":0,\"message\":\"ok\"},\"backup\":[{\"label\":\"20261201-101010F_20261201-111111I\",\"type\":\"incr\",\"timestamp\":{\"start\":200,\"stop\":212},\"info\":{\"size\":33554432,\"repository\":{\"size\":4194304,\"delta\":1048576}},\"archive\":{\"start\":\"000000010000000000000006\",\"stop\":\"000000010000000000000007\"}}]}]";
        assert_eq!(
            take.reported(output),
            "incr backup 20261201-101010F_20261201-111111I: 32 MB, 1 MB added to the repository, in 12 s, WAL 000000010000000000000006 to 000000010000000000000007"
        );
    }
}
