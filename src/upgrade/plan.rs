//! The plans of an upgrade: plain `Plan`s of `actions::upgrade` operations, one
//! step after the other, which `--dry-run` prints and the executor runs. Pure.
//!
//! The upgrade's plan ends before anything of the new version starts: the
//! members stopped (the primary first), their last checkpoints compared, the
//! primary's new cluster made, its configuration carried over and
//! `pg_upgrade --link` run, each standby given its new cluster (by rsync from
//! the primary, or left to be cloned again) and its configuration, and the old
//! clusters marked. Every step's undo puts every member back on the old
//! version. What follows (the apply of the new version, the statistics) has no
//! way back and runs after.

use super::carry::Carried;
use crate::actions::upgrade::{
    AnalyzeNewCluster, CarryConfiguration, CleanUpOldCluster, ClusterShape, CompareCheckpoint,
    InitNewCluster, MarkOldCluster, MemberVersions, OldDirectory, OldDirectoryKind, RollBack,
    RunPgUpgrade, StopForUpgrade, TransferStandby, restore_point,
};
use crate::actions::{Change, PlannedStep};
use crate::desired::DesiredState;
use crate::inventory::HostSettings;
use crate::plan::Plan;
use crate::plan::sequence::Sequence;
use crate::versions::PgVersion;
use indexmap::IndexMap;

/// The step of the primary whose report is its latest checkpoint.
pub const CHECKPOINT: &str = "checkpoint";

/// The members of the cluster being upgraded, and how each standby gets its
/// new cluster.
pub struct Members<'a> {
    pub old: &'a DesiredState,
    pub new: &'a DesiredState,
    pub primary: &'a str,
    pub standbys: &'a [String],
    /// Standbys copied by rsync from the primary, with the login the primary's
    /// user reaches them as; the others are cloned again by the apply after.
    pub rsync_logins: &'a IndexMap<String, String>,
}

impl Members<'_> {
    fn settings(&self, host: &str) -> Option<(&HostSettings, &HostSettings)> {
        Some((
            &self.old.hosts.get(host)?.settings,
            &self.new.hosts.get(host)?.settings,
        ))
    }

    fn all(&self) -> Vec<&str> {
        std::iter::once(self.primary)
            .chain(self.standbys.iter().map(String::as_str))
            .collect()
    }

    /// Every member back on the old version, the primary first.
    pub fn roll_back(&self) -> RollBack {
        RollBack {
            members: self
                .all()
                .into_iter()
                .filter_map(|host| {
                    let (old, new) = self.settings(host)?;
                    Some(MemberVersions {
                        host: host.to_string(),
                        old: old.clone(),
                        new: new.clone(),
                        restore_point: self
                            .rsync_logins
                            .contains_key(host)
                            .then(|| restore_point(old)),
                    })
                })
                .collect(),
        }
    }
}

/// The upgrade up to the first start of the new primary.
pub fn upgrade(
    members: &Members,
    shape: &ClusterShape,
    carried: &IndexMap<String, Carried>,
    max_transaction_age_seconds: u64,
) -> Plan {
    let mut sequence = Sequence::new(members.new);
    let roll_back = members.roll_back();
    let primary = members.primary;
    let Some((primary_old, primary_new)) = members.settings(primary) else {
        return sequence.into_plan();
    };
    let (from, to) = (primary_old.pg_version, primary_new.pg_version);
    let way_back = format!(
        "if it or anything after fails before {primary} starts on {to}, every member is put back on {from} and started"
    );
    for host in members.all() {
        let Some((old, _)) = members.settings(host) else {
            continue;
        };
        let is_primary = host == primary;
        let summary = if is_primary {
            format!(
                "stop PostgreSQL {from} cleanly, once no transaction is older than {max_transaction_age_seconds} s; {way_back}"
            )
        } else {
            format!(
                "once it replayed all it received, stop PostgreSQL {from} cleanly, after the primary"
            )
        };
        sequence.add(
            host,
            "stop",
            Change::Stop,
            summary,
            StopForUpgrade {
                max_transaction_age_seconds: is_primary.then_some(max_transaction_age_seconds),
                standby: !is_primary,
                server: old.clone(),
                roll_back: roll_back.clone(),
            }
            .into(),
        );
    }
    for host in members.all() {
        let Some((old, _)) = members.settings(host) else {
            continue;
        };
        let is_primary = host == primary;
        sequence.add(
            host,
            CHECKPOINT,
            Change::Check,
            if is_primary {
                "read its latest checkpoint location (pg_controldata)".to_string()
            } else {
                format!(
                    "its latest checkpoint location must be {primary}'s: it replayed everything"
                )
            },
            CompareCheckpoint {
                from: (!is_primary).then(|| (primary.to_string(), CHECKPOINT.to_string())),
                expected: None,
                server: old.clone(),
                roll_back: roll_back.clone(),
            }
            .into(),
        );
    }
    sequence.add(
        primary,
        "new cluster",
        Change::Create,
        format!(
            "make the PostgreSQL {to} cluster in {} with `{}` (encoding {}, locale {}/{}, data checksums {}, WAL segments of {} MB)",
            primary_new.data_dir,
            primary_new.init_command,
            shape.encoding,
            shape.lc_collate,
            shape.lc_ctype,
            if shape.checksums { "on" } else { "off" },
            shape.wal_segment_mb
        ),
        InitNewCluster {
            shape: shape.clone(),
            old: primary_old.clone(),
            new: primary_new.clone(),
            roll_back: roll_back.clone(),
        }
        .into(),
    );
    let carry = |sequence: &mut Sequence, host: &str| {
        let (Some((old, new)), Some(carried)) = (members.settings(host), carried.get(host)) else {
            return;
        };
        let names: Vec<&str> = carried
            .files
            .iter()
            .map(|file| file.path.as_str())
            .collect();
        sequence.add(
            host,
            "configuration",
            Change::Create,
            format!(
                "carry the configuration over to {}: {}",
                new.config_dir,
                names.join(", ")
            ),
            CarryConfiguration {
                files: carried.files.clone(),
                old: old.clone(),
                new: new.clone(),
                roll_back: roll_back.clone(),
            }
            .into(),
        );
    };
    carry(&mut sequence, primary);
    sequence.add(
        primary,
        "pg_upgrade",
        Change::Update,
        format!(
            "pg_upgrade --link from {} to {}: the old cluster's files become the new one's",
            primary_old.data_dir, primary_new.data_dir
        ),
        RunPgUpgrade {
            old: primary_old.clone(),
            new: primary_new.clone(),
            roll_back: roll_back.clone(),
        }
        .into(),
    );
    for standby in members.standbys {
        let Some((old, new)) = members.settings(standby) else {
            continue;
        };
        if let Some(login) = members.rsync_logins.get(standby) {
            sequence.add(
                standby,
                "rsync",
                Change::ReplaceData,
                format!(
                    "keep {} as {} (hard links), then rsync {} and {} from {primary} over SSH as {login}, and mark it a standby",
                    old.data_dir,
                    restore_point(old),
                    old.data_dir,
                    new.data_dir
                ),
                TransferStandby {
                    primary: primary.to_string(),
                    standby_login: login.clone(),
                    old: old.clone(),
                    new: new.clone(),
                    primary_old: primary_old.clone(),
                    primary_new: primary_new.clone(),
                    roll_back: roll_back.clone(),
                }
                .into(),
            );
        }
        carry(&mut sequence, standby);
    }
    for host in members.all() {
        let Some((old, new)) = members.settings(host) else {
            continue;
        };
        let point = members
            .rsync_logins
            .contains_key(host)
            .then(|| restore_point(old));
        sequence.add(
            host,
            "mark old cluster",
            Change::Update,
            format!(
                "the PostgreSQL {from} cluster starts only by hand from now on; its directories are listed for `upgrade --cleanup`"
            ),
            MarkOldCluster {
                marker_content: MarkOldCluster::content(old, point.as_deref()),
                old: old.clone(),
                new: new.clone(),
                roll_back: roll_back.clone(),
            }
            .into(),
        );
    }
    sequence.into_plan()
}

/// After the new version runs: its statistics, on the primary.
pub fn analyze(desired: &DesiredState, primary: &str) -> Plan {
    let mut sequence = Sequence::new(desired);
    if let Some(host) = desired.hosts.get(primary) {
        sequence.add(
            primary,
            "analyze",
            Change::Update,
            "vacuumdb --all --analyze-in-stages: pg_upgrade carries no optimizer statistics"
                .to_string(),
            AnalyzeNewCluster {
                server: host.settings.clone(),
            }
            .into(),
        );
    }
    sequence.into_plan()
}

/// What `upgrade --cleanup` deletes on one member: its marker as it was read
/// (the script deletes nothing if it changed since) and the directories it
/// names, each checked against the inventory (`checked_directories`).
#[derive(Debug, Clone, PartialEq)]
pub struct MemberCleanup {
    pub marker_content: String,
    pub directories: Vec<OldDirectory>,
}

/// The old version a marker records (`old_version V`), whose directories the
/// inventory gives with that `pg_version`.
pub fn marker_version(content: &str) -> Result<PgVersion, String> {
    let versions: Vec<&str> = content
        .lines()
        .filter_map(|line| line.strip_prefix("old_version "))
        .collect();
    let [version] = versions.as_slice() else {
        return Err(format!(
            "the marker records {} old versions, not one: refusing every path it names",
            versions.len()
        ));
    };
    PgVersion::parse(&serde_json::Value::String((*version).to_string()))
        .ok_or_else(|| format!("the marker's old version `{version}` is not a PostgreSQL version: refusing every path it names"))
}

/// The directories a marker names that `--cleanup` may delete: only the old
/// version's data directory, its configuration directory (when apart from
/// it) and a standby's restore point, each exactly where the inventory puts
/// them with the old `pg_version` (`old`), and none that is, or holds, the
/// new version's data or configuration directory (`new`). Anything else the
/// marker names is refused by name, and then nothing is deleted.
pub fn checked_directories(
    content: &str,
    old: &HostSettings,
    new: &HostSettings,
) -> Result<Vec<OldDirectory>, Vec<String>> {
    let mut directories: Vec<OldDirectory> = Vec::new();
    let mut refused = Vec::new();
    if old.pg_version >= new.pg_version {
        refused.push(format!(
            "the marker's old version {} is not older than PostgreSQL {}, which the inventory names: refusing every path it names",
            old.pg_version, new.pg_version
        ));
    }
    for line in content.lines().filter(|line| !line.is_empty()) {
        let (word, path) = line.split_once(' ').unwrap_or((line, ""));
        if word == "old_version" {
            continue;
        }
        let Some(kind) = OldDirectoryKind::from_keyword(word) else {
            refused.push(format!(
                "refusing `{line}`: not a directory an upgrade records"
            ));
            continue;
        };
        let expected = match kind {
            OldDirectoryKind::DataDirectory => Some(old.data_dir.clone()),
            OldDirectoryKind::ConfigurationDirectory => {
                (old.config_dir != old.data_dir).then(|| old.config_dir.clone())
            }
            OldDirectoryKind::RestorePoint => Some(restore_point(old)),
        };
        let holds = |inner: &str| {
            inner == path || inner.starts_with(&format!("{}/", path.trim_end_matches('/')))
        };
        if expected.as_deref() != Some(path) {
            refused.push(format!(
                "refusing to delete {path}: the marker names it as {}, which the inventory puts {} for PostgreSQL {}",
                kind.description(),
                match &expected {
                    Some(expected) => format!("at {expected}"),
                    None => "nowhere apart from the data directory".to_string(),
                },
                old.pg_version
            ));
        } else if !path.starts_with('/')
            || path == "/"
            || holds(&new.data_dir)
            || holds(&new.config_dir)
        {
            refused.push(format!(
                "refusing to delete {path}: it is, or holds, PostgreSQL {}'s data or configuration directory",
                new.pg_version
            ));
        } else if !directories.iter().any(|known| known.path == path) {
            directories.push(OldDirectory {
                kind,
                path: path.to_string(),
            });
        }
    }
    if refused.is_empty() {
        Ok(directories)
    } else {
        Err(refused)
    }
}

/// `upgrade --cleanup`: on each member with a marker, the old directories it
/// names (checked), each listed in the step's summary.
pub fn cleanup(desired: &DesiredState, members: &IndexMap<String, MemberCleanup>) -> Plan {
    let mut sequence = Sequence::new(desired);
    for (host, found) in members {
        let Some(desired_host) = desired.hosts.get(host) else {
            continue;
        };
        let marker = crate::actions::upgrade::marker(&desired_host.settings);
        let listed: Vec<String> = found
            .directories
            .iter()
            .map(|directory| format!("{} ({})", directory.path, directory.kind.description()))
            .collect();
        let mut step = PlannedStep {
            id: "cleanup".to_string(),
            ..PlannedStep::change(
                Change::Update,
                format!(
                    "DELETE {}, once PostgreSQL {} runs here (as {marker} lists them)",
                    if listed.is_empty() {
                        "nothing".to_string()
                    } else {
                        listed.join(", ")
                    },
                    desired_host.settings.pg_version
                ),
                CleanUpOldCluster {
                    directories: found.directories.clone(),
                    marker_content: found.marker_content.clone(),
                    server: desired_host.settings.clone(),
                },
            )
        };
        step.destructive = true;
        sequence.push(host, step);
    }
    sequence.into_plan()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::Operation;
    use crate::actions::RemoteOperation;
    use crate::desired::NodeId;
    use crate::inventory::{Input, Inventory};
    use crate::playbook::Playbook;
    use crate::render::Renderer;

    const INVENTORY: &str = "all:\n  vars:\n    pg_version: 15\n    replication_password: x\n  children:\n    primary:\n      hosts:\n        db1: { ansible_host: 10.0.0.11 }\n    standby:\n      hosts:\n        db2: { ansible_host: 10.0.0.12 }\n        db3: { ansible_host: 10.0.0.13 }\n";

    fn desired(version: Option<u32>) -> DesiredState {
        let inventory = match version {
            None => Inventory::parse(std::path::Path::new("inventory.yaml"), INVENTORY, &|_| None),
            Some(version) => {
                let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
                let path = directory.path().join("inventory.yaml");
                std::fs::write(&path, INVENTORY).unwrap_or_else(|error| panic!("{error}"));
                Inventory::load_input(&Input {
                    extra_vars: vec![("pg_version".into(), serde_json::Value::from(version))],
                    ..Input::from_path(&path)
                })
            }
        }
        .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"))
    }

    fn shape() -> ClusterShape {
        ClusterShape {
            encoding: "UTF8".into(),
            lc_collate: "C.UTF-8".into(),
            lc_ctype: "C.UTF-8".into(),
            checksums: false,
            wal_segment_mb: 16,
        }
    }

    #[test]
    fn the_extra_version_moves_every_directory_and_command() {
        let new = desired(Some(17));
        let settings = &new.hosts["db2"].settings;
        assert_eq!(settings.pg_version, crate::versions::PgVersion(1700));
        assert_eq!(settings.data_dir, "/var/lib/postgresql/17/main");
        assert_eq!(settings.bin_dir, "/usr/lib/postgresql/17/bin");
        assert_eq!(settings.start_command, "pg_ctlcluster 17 main start");
    }

    #[test]
    fn an_upgrade_runs_its_steps_one_after_the_other() {
        let (old, new) = (desired(None), desired(Some(17)));
        let mut rsync = IndexMap::new();
        rsync.insert("db2".to_string(), "postgres@10.0.0.12".to_string());
        let standbys = vec!["db2".to_string(), "db3".to_string()];
        let members = Members {
            old: &old,
            new: &new,
            primary: "db1",
            standbys: &standbys,
            rsync_logins: &rsync,
        };
        let mut carried = IndexMap::new();
        for host in ["db1", "db2", "db3"] {
            let observed: IndexMap<String, String> = [(
                "/etc/postgresql/15/main/postgresql.base.conf".to_string(),
                "port = 5432\n".to_string(),
            )]
            .into_iter()
            .collect();
            carried.insert(
                host.to_string(),
                super::super::carry::carry(
                    &observed,
                    &old.hosts[host].settings,
                    &new.hosts[host].settings,
                    None,
                ),
            );
        }
        let plan = upgrade(&members, &shape(), &carried, 300);
        let text = anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string();
        insta::assert_snapshot!(text);
        let order: Vec<String> = plan.order.iter().map(ToString::to_string).collect();
        assert_eq!(
            order,
            [
                "db1/stop",
                "db2/stop",
                "db3/stop",
                "db1/checkpoint",
                "db2/checkpoint",
                "db3/checkpoint",
                "db1/new cluster",
                "db1/configuration",
                "db1/pg_upgrade",
                "db2/rsync",
                "db2/configuration",
                "db3/configuration",
                "db1/mark old cluster",
                "db2/mark old cluster",
                "db3/mark old cluster",
            ]
        );
        // Every step rolls every member back when it fails.
        for node in &plan.order {
            let undo = plan
                .step(node)
                .and_then(|step| step.operation.as_ref())
                .and_then(Operation::undo)
                .unwrap_or_else(|| panic!("{node} has no undo"));
            let hosts: Vec<Option<&str>> = undo
                .scripts
                .iter()
                .map(|script| script.script.other_host.as_deref())
                .collect();
            assert_eq!(hosts, [Some("db1"), Some("db2"), Some("db3")], "{node}");
        }
        for (index, (node, dependencies)) in plan.dependencies.iter().enumerate() {
            let expected: Vec<&NodeId> = plan.order[..index].last().into_iter().collect();
            assert_eq!(dependencies.iter().collect::<Vec<_>>(), expected, "{node}");
        }
        // Only the primary's stop waits for old transactions.
        let waits: Vec<Option<u64>> = plan
            .order
            .iter()
            .filter_map(|node| match plan.step(node)?.operation.as_ref()? {
                Operation::StopForUpgrade(stop) => Some(stop.max_transaction_age_seconds),
                _ => None,
            })
            .collect();
        assert_eq!(waits, [Some(300), None, None]);
    }

    fn found(old: &HostSettings, new: &HostSettings, point: Option<&str>) -> MemberCleanup {
        let content = MarkOldCluster::content(old, point);
        let directories =
            checked_directories(&content, old, new).unwrap_or_else(|refused| panic!("{refused:?}"));
        MemberCleanup {
            marker_content: content,
            directories,
        }
    }

    #[test]
    fn cleanup_lists_every_path_it_deletes_and_is_destructive() {
        let (old, new) = (desired(None), desired(Some(17)));
        let mut members = IndexMap::new();
        members.insert(
            "db1".to_string(),
            found(&old.hosts["db1"].settings, &new.hosts["db1"].settings, None),
        );
        let point = restore_point(&old.hosts["db2"].settings);
        members.insert(
            "db2".to_string(),
            found(
                &old.hosts["db2"].settings,
                &new.hosts["db2"].settings,
                Some(&point),
            ),
        );
        let plan = cleanup(&new, &members);
        let text = anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string();
        assert!(
            text.contains("DELETE /var/lib/postgresql/15/main (the old data directory), /etc/postgresql/15/main (the old configuration directory), once PostgreSQL 17 runs here (as /var/lib/pgconverge/upgrade-etc-postgresql-17-main.marker lists them)"),
            "{text}"
        );
        assert!(
            text.contains("/var/lib/postgresql/15/main.pgconverge-before-upgrade (the restore point of the old data directory)"),
            "{text}"
        );
        assert!(
            plan.hosts
                .iter()
                .all(|host| host.steps.iter().all(|step| step.destructive))
        );
        // The script is given exactly those paths, and the marker as it was read.
        let Some(Operation::CleanUpOldCluster(clean)) = plan.hosts[1].steps[0].operation.as_ref()
        else {
            panic!("db2 cleans up");
        };
        let described = clean.scripts().unwrap_or_else(|error| panic!("{error}"))[0]
            .script
            .describe();
        assert!(
            described.contains("PATHS='/var/lib/postgresql/15/main\n/etc/postgresql/15/main\n/var/lib/postgresql/15/main.pgconverge-before-upgrade'"),
            "{described}"
        );
        let analyze = analyze(&new, "db1");
        assert_eq!(analyze.order.len(), 1);
    }

    #[test]
    fn a_marker_naming_anything_but_the_old_directories_is_refused_by_name() {
        let (old, new) = (desired(None), desired(Some(17)));
        let (old, new) = (&old.hosts["db1"].settings, &new.hosts["db1"].settings);
        let refused = |content: &str| {
            checked_directories(content, old, new)
                .err()
                .unwrap_or_else(|| panic!("`{content}` must be refused"))
                .join("\n")
        };
        let planted = refused(
            "old_version 15\nold_data_dir /root/secret\nold_config_dir /etc/postgresql/15/main",
        );
        assert!(
            planted.contains("refusing to delete /root/secret: the marker names it as the old data directory, which the inventory puts at /var/lib/postgresql/15/main for PostgreSQL 15"),
            "{planted}"
        );
        assert!(!planted.contains("/etc/postgresql/15/main"), "{planted}");
        let config = refused(
            "old_version 15\nold_data_dir /var/lib/postgresql/15/main\nold_config_dir /etc",
        );
        assert!(
            config.contains(
                "refusing to delete /etc: the marker names it as the old configuration directory"
            ),
            "{config}"
        );
        let point = refused("old_version 15\nrestore_point /srv/backup");
        assert!(point.contains("refusing to delete /srv/backup"), "{point}");
        let unknown = refused("old_version 15\nold_wal_dir /var/lib/postgresql/15/wal");
        assert!(
            unknown.contains("refusing `old_wal_dir /var/lib/postgresql/15/wal`: not a directory an upgrade records"),
            "{unknown}"
        );
        // The new version's own directories, even where the old settings agree.
        let same = HostSettings {
            data_dir: new.data_dir.clone(),
            ..old.clone()
        };
        let in_use = checked_directories(
            &format!("old_version 15\nold_data_dir {}", new.data_dir),
            &same,
            new,
        )
        .err()
        .unwrap_or_default()
        .join("\n");
        assert!(
            in_use.contains("refusing to delete /var/lib/postgresql/17/main: it is, or holds, PostgreSQL 17's data or configuration directory"),
            "{in_use}"
        );
        // A marker of the version that runs now names that version's directories.
        let current = checked_directories(
            "old_version 17\nold_data_dir /var/lib/postgresql/17/main",
            new,
            new,
        )
        .err()
        .unwrap_or_default()
        .join("\n");
        assert!(
            current.contains("is not older than PostgreSQL 17"),
            "{current}"
        );
        assert_eq!(
            marker_version("old_version 15\nold_data_dir /x"),
            Ok(crate::versions::PgVersion(1500))
        );
        assert!(marker_version("old_data_dir /x").is_err());
        assert!(marker_version("old_version 15\nold_version 16").is_err());
        assert!(marker_version("old_version fifteen").is_err());
    }
}
