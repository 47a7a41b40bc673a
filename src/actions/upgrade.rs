//! The operations of `pgconverge upgrade`, which that command plans (no playbook
//! step names them): the read-only probe of its gates (with the scratch
//! `pg_upgrade --check`), the clean stops, the checkpoint comparison, the new
//! cluster, the configuration carried over, `pg_upgrade --link`, a standby's
//! rsync from the primary, the old cluster marked, the statistics after, and
//! `--cleanup`.
//!
//! What concerns only PostgreSQL's own files runs as the PostgreSQL OS user (the
//! probe, pg_upgrade, the rsync, the checks: `Script::as_pg_user`); the scripts
//! that need root act by path only where root alone owns the directory, and
//! the marker `--cleanup` deletes by is root's, where only root can write.
//!
//! Every step from the first stop until the new primary first starts has the
//! same undo: every member back on the old version, running (the new
//! directories moved aside, `pg_control` and a standby's data directory put
//! back). After the new primary started, the old cluster shares its files and
//! must never start again: no step after that has an undo.

use super::service::{ControlServer, RestartChecks, ServiceAction};
use super::{RemoteOperation, Undo, UndoScript};
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use crate::secret::Sensitive;
use crate::versions::DATA_CHECKSUMS_BY_DEFAULT;
use serde::Serialize;

/// The port pg_upgrade runs both servers on while it upgrades (its default).
pub const UPGRADE_PORT: u16 = 50432;

/// What `pg_upgrade --check` runs the scratch cluster on: pg_upgrade's default
/// port, or the next one when the old server already uses it.
pub fn check_port(old_port: u16) -> u16 {
    if old_port == UPGRADE_PORT {
        UPGRADE_PORT + 1
    } else {
        UPGRADE_PORT
    }
}

/// The file of a cluster's configuration in its configuration directory, for
/// `-c config_file=`; `None` when the configuration lives in the data directory
/// (the initdb layout), where the server finds it by itself.
pub fn config_file(server: &HostSettings) -> Option<String> {
    (server.config_dir != server.data_dir).then(|| format!("{}/postgresql.conf", server.config_dir))
}

/// Where a standby's old data directory is kept as hard links before the rsync.
pub fn restore_point(old: &HostSettings) -> String {
    format!("{}.pgconverge-before-upgrade", old.data_dir)
}

/// Where the markers of upgrades are kept: root's, 0700, made by the upgrade in
/// `/var/lib` (root's). A marker names what `--cleanup` deletes, so it must be
/// where no other user, the PostgreSQL OS user above all, can write.
pub const MARKER_DIRECTORY: &str = "/var/lib/pgconverge";

/// The marker of the upgrade to the cluster whose configuration is in
/// `new.config_dir`, which lists the old directories: named after that path.
pub fn marker(new: &HostSettings) -> String {
    format!(
        "{MARKER_DIRECTORY}/upgrade{}.marker",
        new.config_dir.trim_end_matches('/').replace('/', "-")
    )
}

/// A script for the old (`old`) and new (`new`) versions of one member: the
/// server parameters are the new version's, the old one's directories beside.
fn both(name: &'static str, body: &'static str, old: &HostSettings, new: &HostSettings) -> Script {
    Script::for_server(name, body, new)
        .text("OLD_BIN_DIR", &old.bin_dir)
        .text("OLD_DATA_DIR", &old.data_dir)
        .text("OLD_CONFIG_DIR", &old.config_dir)
        .text("NEW_DATA_DIR", &new.data_dir)
        .text("NEW_CONFIG_DIR", &new.config_dir)
        .number("OLD_VERSION", old.pg_version)
        .number("NEW_VERSION", new.pg_version)
}

/// One member as the undo puts it back: its old and new settings, and whether
/// the rsync may have replaced its old data directory (a standby's restore point).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MemberVersions {
    pub host: String,
    #[serde(skip)]
    pub old: HostSettings,
    #[serde(skip)]
    pub new: HostSettings,
    pub restore_point: Option<String>,
}

/// Every member back on the old version: the primary first, so the standbys
/// find it when they start.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RollBack {
    pub members: Vec<MemberVersions>,
}

impl RollBack {
    pub fn script(member: &MemberVersions) -> Script {
        both(
            "upgrade_roll_back",
            include_str!("scripts/upgrade_roll_back.sh"),
            &member.old,
            &member.new,
        )
        // The old server: its port, socket and start command.
        .text("PG_BIN_DIR", &member.old.bin_dir)
        .text("PG_DATA_DIR", &member.old.data_dir)
        .number("PG_MAJOR_NUM", member.old.pg_version.0)
        .number("PG_PORT", member.old.port)
        .text("PG_SOCKET_DIR", &member.old.socket_dir)
        .text("START_COMMAND", &member.old.start_command)
        .text(
            "RESTORE_POINT",
            member.restore_point.as_deref().unwrap_or_default(),
        )
        .text("MARKER", &marker(&member.new))
    }

    fn undo(&self) -> Undo {
        let old = self
            .members
            .first()
            .map(|member| member.old.pg_version.to_string())
            .unwrap_or_default();
        Undo {
            scripts: self
                .members
                .iter()
                .map(|member| UndoScript {
                    script: HostScript {
                        other_host: Some(member.host.clone()),
                        script: RollBack::script(member),
                    },
                    failed: format!(
                        "{} is not back on PostgreSQL {old}: see the lines above, put it back by hand (the old data directory {} is intact but for global/pg_control, renamed pg_control.old)",
                        member.host, member.old.data_dir
                    ),
                })
                .collect(),
            done: format!(
                "nothing was upgraded: every member runs PostgreSQL {old} again (the new directories are kept aside as *.pgconverge-failed-*)"
            ),
        }
    }
}

/// The read-only probe of the gates on one member (and, on the primary, the
/// scratch `pg_upgrade --check`). The command runs it before any plan.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeUpgrade {
    pub primary: bool,
    /// `user@address` of each standby, whose SSH the primary's user tries.
    pub standby_logins: Vec<String>,
    pub run_check: bool,
    pub max_transaction_age_seconds: u64,
    #[serde(skip)]
    pub old: HostSettings,
    #[serde(skip)]
    pub new: HostSettings,
}

impl RemoteOperation for ProbeUpgrade {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        // The live server is the old one: its port, socket and psql.
        let script = both(
            "upgrade_probe",
            include_str!("scripts/upgrade_probe.sh"),
            &self.old,
            &self.new,
        )
        .number("PG_PORT", self.old.port)
        .text("PG_SOCKET_DIR", &self.old.socket_dir)
        .number("ROLE", if self.primary { "primary" } else { "standby" })
        .text("STANDBY_LOGINS", &self.standby_logins.join("\n"))
        .flag("RUN_CHECK", self.run_check)
        .number("CHECK_PORT", check_port(self.old.port))
        .text(
            "OLD_CONFIG_FILE",
            &config_file(&self.old).unwrap_or_default(),
        )
        .number("MAX_TRANSACTION_AGE", self.max_transaction_age_seconds)
        .as_pg_user();
        Ok(vec![HostScript::own(script)])
    }
}

/// A member's clean stop with the old version's command; the primary's waits
/// (boundedly) for transactions older than `--max-transaction-age` first, a
/// standby's until it replayed all it received.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StopForUpgrade {
    pub max_transaction_age_seconds: Option<u64>,
    pub standby: bool,
    #[serde(skip)]
    pub server: HostSettings,
    pub roll_back: RollBack,
}

impl RemoteOperation for StopForUpgrade {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let stop = ControlServer {
            action: ServiceAction::Stop,
            roll_back: Vec::new(),
            restart: RestartChecks {
                max_lag_bytes: None,
                max_transaction_age_seconds: self.max_transaction_age_seconds,
            },
            standbys: Vec::new(),
            server: self.server.clone(),
        };
        let mut scripts = Vec::new();
        if self.standby {
            scripts.push(HostScript::own(
                Script::for_server(
                    "upgrade_replayed",
                    include_str!("scripts/upgrade_replayed.sh"),
                    &self.server,
                )
                .as_pg_user(),
            ));
        }
        scripts.push(HostScript::own(stop.script()));
        Ok(scripts)
    }

    fn undo(&self) -> Option<Undo> {
        Some(self.roll_back.undo())
    }
}

/// The `Latest checkpoint location` of a stopped member (old pg_controldata);
/// a standby's must be the primary's, which that step (`from`) reported.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompareCheckpoint {
    /// `(primary, step)` for a standby; `None` on the primary.
    pub from: Option<(String, String)>,
    pub expected: Option<String>,
    #[serde(skip)]
    pub server: HostSettings,
    pub roll_back: RollBack,
}

impl RemoteOperation for CompareCheckpoint {
    fn needs_report_of(&self) -> Option<(&str, &str)> {
        match (&self.from, &self.expected) {
            (Some((host, step)), None) => Some((host.as_str(), step.as_str())),
            _ => None,
        }
    }

    fn given_report(&self, report: &str) -> Result<CompareCheckpoint, String> {
        let location = report.trim();
        if crate::facts::Lsn::parse(location).is_none() {
            return Err(format!(
                "cannot read the primary's latest checkpoint from `{report}`"
            ));
        }
        Ok(CompareCheckpoint {
            expected: Some(location.to_string()),
            ..self.clone()
        })
    }

    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        if self.from.is_some() && self.expected.is_none() {
            return Err("the primary's latest checkpoint was not read".to_string());
        }
        let script = Script::for_server(
            "upgrade_checkpoint",
            include_str!("scripts/upgrade_checkpoint.sh"),
            &self.server,
        )
        .text("EXPECTED", self.expected.as_deref().unwrap_or_default())
        .as_pg_user();
        Ok(vec![HostScript::own(script)])
    }

    fn undo(&self) -> Option<Undo> {
        Some(self.roll_back.undo())
    }
}

/// What the new cluster is made with: the old one's template0 encoding and
/// locale, data checksums and WAL segment size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ClusterShape {
    pub encoding: String,
    pub lc_collate: String,
    pub lc_ctype: String,
    pub checksums: bool,
    pub wal_segment_mb: u64,
}

/// The new version's cluster, made by the inventory's init command.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InitNewCluster {
    pub shape: ClusterShape,
    #[serde(skip)]
    pub old: HostSettings,
    #[serde(skip)]
    pub new: HostSettings,
    pub roll_back: RollBack,
}

impl RemoteOperation for InitNewCluster {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = both(
            "upgrade_init",
            include_str!("scripts/upgrade_init.sh"),
            &self.old,
            &self.new,
        )
        .text("INIT_COMMAND", &self.new.init_command)
        .text("ENCODING", &self.shape.encoding)
        .text("LC_COLLATE", &self.shape.lc_collate)
        .text("LC_CTYPE", &self.shape.lc_ctype)
        .flag("CHECKSUMS", self.shape.checksums)
        // The old cluster's setting (its pg_controldata) is `CHECKSUMS`; a new
        // version that turns them on by default must be told `--no-data-checksums`.
        .flag(
            "NO_DATA_CHECKSUMS",
            DATA_CHECKSUMS_BY_DEFAULT.in_version(self.new.pg_version),
        )
        .number("WAL_SEGMENT_MB", self.shape.wal_segment_mb);
        Ok(vec![HostScript::own(script)])
    }

    fn undo(&self) -> Option<Undo> {
        Some(self.roll_back.undo())
    }
}

/// One file of the configuration carried over to the new version.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarriedFile {
    pub path: String,
    pub mode: u32,
    /// A configuration may hold secrets (a passphrase command): never printed.
    #[serde(skip)]
    pub content: Sensitive<String>,
}

/// The new version's configuration: the host's own files (base file, conf.d,
/// access rules, ALTER SYSTEM settings) with the old version's paths rewritten,
/// and pgconverge's postgresql.conf as the new version renders it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CarryConfiguration {
    pub files: Vec<CarriedFile>,
    #[serde(skip)]
    pub old: HostSettings,
    #[serde(skip)]
    pub new: HostSettings,
    pub roll_back: RollBack,
}

impl RemoteOperation for CarryConfiguration {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        use base64::Engine;
        let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
        let files: Vec<String> = self
            .files
            .iter()
            .map(|file| {
                format!(
                    "{:o} {} {}",
                    file.mode,
                    encode(&file.path),
                    encode(file.content.expose())
                )
            })
            .collect();
        let script = both(
            "upgrade_carry_configuration",
            include_str!("scripts/upgrade_carry_configuration.sh"),
            &self.old,
            &self.new,
        )
        .text("CONFIG_DIR", &self.new.config_dir)
        .hidden("FILES", &files.join("\n"));
        Ok(vec![HostScript::own(script)])
    }

    fn undo(&self) -> Option<Undo> {
        Some(self.roll_back.undo())
    }
}

/// `pg_upgrade --link` on the primary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunPgUpgrade {
    #[serde(skip)]
    pub old: HostSettings,
    #[serde(skip)]
    pub new: HostSettings,
    pub roll_back: RollBack,
}

impl RemoteOperation for RunPgUpgrade {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = both(
            "upgrade_run",
            include_str!("scripts/upgrade_run.sh"),
            &self.old,
            &self.new,
        )
        .number("UPGRADE_PORT", UPGRADE_PORT)
        .text(
            "OLD_CONFIG_FILE",
            &config_file(&self.old).unwrap_or_default(),
        )
        .text(
            "NEW_CONFIG_FILE",
            &config_file(&self.new).unwrap_or_default(),
        )
        .as_pg_user();
        Ok(vec![HostScript::own(script)])
    }

    fn undo(&self) -> Option<Undo> {
        Some(self.roll_back.undo())
    }
}

/// The longest directory both paths are under, and each path below it.
pub fn common_parent(first: &str, second: &str) -> (String, String, String) {
    let first_parts: Vec<&str> = first.trim_end_matches('/').split('/').collect();
    let second_parts: Vec<&str> = second.trim_end_matches('/').split('/').collect();
    let shared = first_parts
        .iter()
        .zip(&second_parts)
        .take_while(|(a, b)| a == b)
        .count()
        // Both keep at least their last component.
        .min(first_parts.len() - 1)
        .min(second_parts.len() - 1);
    let parent = first_parts[..shared].join("/");
    let parent = if parent.is_empty() {
        "/".to_string()
    } else {
        parent
    };
    (
        parent,
        first_parts[shared..].join("/"),
        second_parts[shared..].join("/"),
    )
}

/// A standby gets the primary's upgraded cluster by rsync over the members'
/// SSH trust: a restore point of its old data directory first, then the
/// primary's rsync of both data directories, then `standby.signal`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TransferStandby {
    pub primary: String,
    /// `user@address` the primary's user reaches this standby's as.
    pub standby_login: String,
    #[serde(skip)]
    pub old: HostSettings,
    #[serde(skip)]
    pub new: HostSettings,
    /// The primary's settings: the rsync runs there, as its user.
    #[serde(skip)]
    pub primary_old: HostSettings,
    #[serde(skip)]
    pub primary_new: HostSettings,
    pub roll_back: RollBack,
}

impl RemoteOperation for TransferStandby {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        if self.primary_old.data_dir != self.old.data_dir
            || self.primary_new.data_dir != self.new.data_dir
        {
            return Err(
                "rsync needs the same data directories on the primary and the standby".to_string(),
            );
        }
        let prepare = both(
            "upgrade_prepare_standby",
            include_str!("scripts/upgrade_prepare_standby.sh"),
            &self.old,
            &self.new,
        )
        .text("RESTORE_POINT", &restore_point(&self.old));
        let (parent, old_relative, new_relative) =
            common_parent(&self.old.data_dir, &self.new.data_dir);
        let rsync = both(
            "upgrade_rsync",
            include_str!("scripts/upgrade_rsync.sh"),
            &self.primary_old,
            &self.primary_new,
        )
        .text("COMMON_PARENT", &parent)
        .text("OLD_RELATIVE", &old_relative)
        .text("NEW_RELATIVE", &new_relative)
        .text("STANDBY_LOGIN", &self.standby_login)
        .as_pg_user();
        let signal = Script::for_server(
            "upgrade_standby_signal",
            include_str!("scripts/upgrade_standby_signal.sh"),
            &self.new,
        )
        .as_pg_user();
        Ok(vec![
            HostScript::own(prepare),
            HostScript {
                other_host: Some(self.primary.clone()),
                script: rsync,
            },
            HostScript::own(signal),
        ])
    }

    fn undo(&self) -> Option<Undo> {
        Some(self.roll_back.undo())
    }
}

/// The old cluster no longer starts at boot, and the marker lists its
/// directories for `--cleanup`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MarkOldCluster {
    /// The directories `--cleanup` removes, one `KIND PATH` a line.
    pub marker_content: String,
    #[serde(skip)]
    pub old: HostSettings,
    #[serde(skip)]
    pub new: HostSettings,
    pub roll_back: RollBack,
}

impl MarkOldCluster {
    /// The marker's lines: the old data directory, the old configuration
    /// directory when it is apart from it, a standby's restore point.
    pub fn content(old: &HostSettings, restore_point: Option<&str>) -> String {
        let mut lines = vec![
            format!("old_version {}", old.pg_version),
            format!("old_data_dir {}", old.data_dir),
        ];
        if old.config_dir != old.data_dir {
            lines.push(format!("old_config_dir {}", old.config_dir));
        }
        if let Some(point) = restore_point {
            lines.push(format!("restore_point {point}"));
        }
        lines.join("\n")
    }
}

impl RemoteOperation for MarkOldCluster {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = both(
            "upgrade_mark_old",
            include_str!("scripts/upgrade_mark_old.sh"),
            &self.old,
            &self.new,
        )
        .text("MARKER", &marker(&self.new))
        .text("MARKER_CONTENT", &self.marker_content);
        Ok(vec![HostScript::own(script)])
    }

    fn undo(&self) -> Option<Undo> {
        Some(self.roll_back.undo())
    }
}

/// `vacuumdb --all --analyze-in-stages` with the new version, on the primary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AnalyzeNewCluster {
    #[serde(skip)]
    pub server: HostSettings,
}

impl RemoteOperation for AnalyzeNewCluster {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::for_server(
            "upgrade_analyze",
            include_str!("scripts/upgrade_analyze.sh"),
            &self.server,
        )
        .as_pg_user();
        Ok(vec![HostScript::own(script)])
    }
}

/// What an old directory `--cleanup` deletes is, as the marker names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OldDirectoryKind {
    DataDirectory,
    ConfigurationDirectory,
    RestorePoint,
}

impl OldDirectoryKind {
    /// The marker's word for it.
    pub fn keyword(self) -> &'static str {
        match self {
            OldDirectoryKind::DataDirectory => "old_data_dir",
            OldDirectoryKind::ConfigurationDirectory => "old_config_dir",
            OldDirectoryKind::RestorePoint => "restore_point",
        }
    }

    pub fn from_keyword(word: &str) -> Option<OldDirectoryKind> {
        [
            OldDirectoryKind::DataDirectory,
            OldDirectoryKind::ConfigurationDirectory,
            OldDirectoryKind::RestorePoint,
        ]
        .into_iter()
        .find(|kind| kind.keyword() == word)
    }

    /// What it is, in a sentence.
    pub fn description(self) -> &'static str {
        match self {
            OldDirectoryKind::DataDirectory => "the old data directory",
            OldDirectoryKind::ConfigurationDirectory => "the old configuration directory",
            OldDirectoryKind::RestorePoint => "the restore point of the old data directory",
        }
    }
}

/// One old directory `--cleanup` deletes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OldDirectory {
    pub kind: OldDirectoryKind,
    pub path: String,
}

/// `upgrade --cleanup`'s read of the marker an upgrade left on one member,
/// which the command runs before any plan (read-only).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadUpgradeMarker {
    #[serde(skip)]
    pub server: HostSettings,
}

impl ReadUpgradeMarker {
    /// The marker's content (its trailing newlines left out, as a shell's
    /// `$(cat)` reads it), or `None` when there is none; an output cut short
    /// or of another shape is an error.
    pub fn parse(output: &str) -> Result<Option<String>, String> {
        use base64::Engine;
        let mut lines = output.lines();
        let found = match lines.next() {
            Some("marker absent") => None,
            Some(line) if line.starts_with("marker ") => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(line["marker ".len()..].trim())
                    .map_err(|error| format!("the marker's content is unreadable: {error}"))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| "the marker is not UTF-8 text".to_string())?;
                Some(text.trim_end_matches('\n').to_string())
            }
            _ => return Err(format!("unexpected output reading the marker: `{output}`")),
        };
        if lines.next() != Some("end yes") {
            return Err("the read of the marker was cut short".to_string());
        }
        Ok(found)
    }
}

impl RemoteOperation for ReadUpgradeMarker {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "upgrade_read_marker",
            include_str!("scripts/upgrade_read_marker.sh"),
            &self.server.os_user,
        )
        .text("MARKER", &marker(&self.server));
        Ok(vec![HostScript::own(script)])
    }
}

/// `upgrade --cleanup`: the old directories the plan names, which the command
/// read from the marker and checked against the inventory's directories of
/// the old version, deleted once the new version runs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CleanUpOldCluster {
    pub directories: Vec<OldDirectory>,
    /// The marker as it was read: the script deletes nothing if it changed.
    pub marker_content: String,
    #[serde(skip)]
    pub server: HostSettings,
}

impl RemoteOperation for CleanUpOldCluster {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let paths: Vec<&str> = self
            .directories
            .iter()
            .map(|directory| directory.path.as_str())
            .collect();
        let script = Script::for_server(
            "upgrade_cleanup",
            include_str!("scripts/upgrade_cleanup.sh"),
            &self.server,
        )
        .text("MARKER", &marker(&self.server))
        .text("MARKER_CONTENT", &self.marker_content)
        .text("PATHS", &paths.join("\n"))
        .text("CONFIG_DIR", &self.server.config_dir)
        .number("NEW_VERSION", self.server.pg_version);
        Ok(vec![HostScript::own(script)])
    }
}

/// One of each operation, for the tests that check every script.
#[cfg(test)]
pub fn examples(old: &HostSettings, new: &HostSettings) -> Vec<super::Operation> {
    let roll_back = RollBack {
        members: vec![
            MemberVersions {
                host: "db1".into(),
                old: old.clone(),
                new: new.clone(),
                restore_point: None,
            },
            MemberVersions {
                host: "db2".into(),
                old: old.clone(),
                new: new.clone(),
                restore_point: Some(restore_point(old)),
            },
        ],
    };
    vec![
        ProbeUpgrade {
            primary: true,
            standby_logins: vec!["postgres@10.0.0.12".into()],
            run_check: true,
            max_transaction_age_seconds: 300,
            old: old.clone(),
            new: new.clone(),
        }
        .into(),
        StopForUpgrade {
            max_transaction_age_seconds: None,
            standby: true,
            server: old.clone(),
            roll_back: roll_back.clone(),
        }
        .into(),
        CompareCheckpoint {
            from: Some(("db1".into(), "checkpoint".into())),
            expected: Some("0/5000028".into()),
            server: old.clone(),
            roll_back: roll_back.clone(),
        }
        .into(),
        InitNewCluster {
            shape: ClusterShape {
                encoding: "UTF8".into(),
                lc_collate: "C.UTF-8".into(),
                lc_ctype: "C.UTF-8".into(),
                checksums: true,
                wal_segment_mb: 16,
            },
            old: old.clone(),
            new: new.clone(),
            roll_back: roll_back.clone(),
        }
        .into(),
        CarryConfiguration {
            files: vec![CarriedFile {
                path: format!("{}/postgresql.base.conf", new.config_dir),
                mode: 0o644,
                content: Sensitive::new("port = 5432\n".into()),
            }],
            old: old.clone(),
            new: new.clone(),
            roll_back: roll_back.clone(),
        }
        .into(),
        RunPgUpgrade {
            old: old.clone(),
            new: new.clone(),
            roll_back: roll_back.clone(),
        }
        .into(),
        TransferStandby {
            primary: "db1".into(),
            standby_login: "postgres@10.0.0.12".into(),
            old: old.clone(),
            new: new.clone(),
            primary_old: old.clone(),
            primary_new: new.clone(),
            roll_back: roll_back.clone(),
        }
        .into(),
        MarkOldCluster {
            marker_content: MarkOldCluster::content(old, None),
            old: old.clone(),
            new: new.clone(),
            roll_back,
        }
        .into(),
        AnalyzeNewCluster {
            server: new.clone(),
        }
        .into(),
        ReadUpgradeMarker {
            server: new.clone(),
        }
        .into(),
        CleanUpOldCluster {
            directories: vec![
                OldDirectory {
                    kind: OldDirectoryKind::DataDirectory,
                    path: old.data_dir.clone(),
                },
                OldDirectory {
                    kind: OldDirectoryKind::ConfigurationDirectory,
                    path: old.config_dir.clone(),
                },
            ],
            marker_content: MarkOldCluster::content(old, None),
            server: new.clone(),
        }
        .into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::PgVersion;

    pub fn new_settings() -> HostSettings {
        let old = HostSettings::example();
        HostSettings {
            pg_version: PgVersion(1700),
            config_dir: "/etc/postgresql/17/main".into(),
            data_dir: "/var/lib/postgresql/17/main".into(),
            bin_dir: "/usr/lib/postgresql/17/bin".into(),
            init_command: "pg_createcluster 17 main".into(),
            start_command: "pg_ctlcluster 17 main start".into(),
            stop_command: "pg_ctlcluster 17 main stop -m fast".into(),
            ..old
        }
    }

    #[test]
    fn the_rsync_names_both_data_directories_below_their_common_parent() {
        assert_eq!(
            common_parent("/var/lib/postgresql/15/main", "/var/lib/postgresql/17/main"),
            (
                "/var/lib/postgresql".to_string(),
                "15/main".to_string(),
                "17/main".to_string()
            )
        );
        assert_eq!(
            common_parent("/var/lib/pgsql/15/data", "/srv/pg17"),
            (
                "/".to_string(),
                "var/lib/pgsql/15/data".to_string(),
                "srv/pg17".to_string()
            )
        );
    }

    #[test]
    fn the_marker_is_roots_and_lists_the_old_directories() {
        let new = new_settings();
        assert_eq!(
            marker(&new),
            "/var/lib/pgconverge/upgrade-etc-postgresql-17-main.marker"
        );
        let old = HostSettings::example();
        assert_eq!(
            MarkOldCluster::content(
                &old,
                Some("/var/lib/postgresql/15/main.pgconverge-before-upgrade")
            ),
            "old_version 15\nold_data_dir /var/lib/postgresql/15/main\nold_config_dir /etc/postgresql/15/main\nrestore_point /var/lib/postgresql/15/main.pgconverge-before-upgrade"
        );
    }

    #[test]
    fn every_step_before_the_new_primary_starts_rolls_every_member_back() {
        let old = HostSettings::example();
        let new = new_settings();
        let operations = examples(&old, &new);
        let with_undo: Vec<&str> = operations
            .iter()
            .filter(|operation| operation.undo().is_some())
            .map(|operation| operation.name())
            .collect();
        assert_eq!(
            with_undo,
            [
                "StopForUpgrade",
                "CompareCheckpoint",
                "InitNewCluster",
                "CarryConfiguration",
                "RunPgUpgrade",
                "TransferStandby",
                "MarkOldCluster"
            ]
        );
        let Some(undo) = operations[4].undo() else {
            panic!("the carry-over has an undo");
        };
        let hosts: Vec<Option<&str>> = undo
            .scripts
            .iter()
            .map(|step| step.script.other_host.as_deref())
            .collect();
        assert_eq!(hosts, [Some("db1"), Some("db2")]);
        let standby = undo.scripts[1].script.script.describe();
        assert!(
            standby.contains("START_COMMAND='pg_ctlcluster 15 main start'"),
            "{standby}"
        );
        assert!(
            standby.contains("RESTORE_POINT=/var/lib/postgresql/15/main.pgconverge-before-upgrade"),
            "{standby}"
        );
        assert!(
            standby.contains("PG_DATA_DIR=/var/lib/postgresql/15/main\n"),
            "{standby}"
        );
        assert!(undo.done.starts_with("nothing was upgraded"));
    }

    #[test]
    fn the_marker_is_read_strictly() {
        assert_eq!(
            ReadUpgradeMarker::parse("marker absent\nend yes\n"),
            Ok(None)
        );
        assert_eq!(
            ReadUpgradeMarker::parse("marker b2xkX3ZlcnNpb24gMTUK\nend yes\n"),
            Ok(Some("old_version 15".to_string()))
        );
        assert!(ReadUpgradeMarker::parse("marker b2xkX3ZlcnNpb24gMTUK\n").is_err());
        assert!(ReadUpgradeMarker::parse("something\nend yes\n").is_err());
        assert!(ReadUpgradeMarker::parse("marker !!\nend yes\n").is_err());
    }

    #[test]
    fn only_what_concerns_postgresql_alone_runs_as_its_os_user() {
        let old = HostSettings::example();
        let new = new_settings();
        let mut as_pg = Vec::new();
        let mut as_root = Vec::new();
        for operation in examples(&old, &new) {
            for host_script in operation.scripts().unwrap_or_default() {
                let script = host_script.script;
                if script.runs_as_pg_user() {
                    as_pg.push(script.name());
                } else {
                    as_root.push(script.name());
                }
            }
        }
        assert_eq!(
            as_pg,
            [
                "upgrade_probe",
                "upgrade_replayed",
                "upgrade_checkpoint",
                "upgrade_run",
                "upgrade_rsync",
                "upgrade_standby_signal",
                "upgrade_analyze"
            ]
        );
        // Root's: the service's stop, the init command, directories made in
        // root's directories, the marker, and deletes checked at run time.
        assert_eq!(
            as_root,
            [
                "control_server",
                "upgrade_init",
                "upgrade_carry_configuration",
                "upgrade_prepare_standby",
                "upgrade_mark_old",
                "upgrade_read_marker",
                "upgrade_cleanup"
            ]
        );
    }

    #[test]
    fn a_standby_compares_its_checkpoint_with_the_primarys_report() {
        let compare = CompareCheckpoint {
            from: Some(("db1".into(), "checkpoint".into())),
            expected: None,
            server: HostSettings::example(),
            roll_back: RollBack {
                members: Vec::new(),
            },
        };
        assert_eq!(compare.needs_report_of(), Some(("db1", "checkpoint")));
        assert!(compare.scripts().is_err());
        assert!(compare.given_report("no position").is_err());
        let given = compare
            .given_report("0/5000028\n")
            .unwrap_or_else(|error| panic!("{error}"));
        let scripts = given.scripts().unwrap_or_else(|error| panic!("{error}"));
        assert!(scripts[0].script.describe().contains("EXPECTED=0/5000028"));
    }
}
