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
    InitNewCluster, MarkOldCluster, MemberVersions, RollBack, RunPgUpgrade, StopForUpgrade,
    TransferStandby, restore_point,
};
use crate::actions::{Change, PlannedStep};
use crate::desired::DesiredState;
use crate::inventory::HostSettings;
use crate::plan::Plan;
use crate::plan::sequence::Sequence;
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

/// `upgrade --cleanup`: each member's old directories, as its marker lists them.
pub fn cleanup(desired: &DesiredState, members: &[&str]) -> Plan {
    let mut sequence = Sequence::new(desired);
    for host in members {
        let Some(desired_host) = desired.hosts.get(*host) else {
            continue;
        };
        let marker = crate::actions::upgrade::marker(&desired_host.settings);
        let mut step = PlannedStep {
            id: "cleanup".to_string(),
            ..PlannedStep::change(
                Change::Update,
                format!(
                    "DELETE the old cluster's directories that {marker} lists (data directory, configuration, restore point), once PostgreSQL {} runs here",
                    desired_host.settings.pg_version
                ),
                CleanUpOldCluster {
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

    #[test]
    fn cleanup_is_destructive_and_says_so() {
        let new = desired(Some(17));
        let plan = cleanup(&new, &["db1", "db2"]);
        let text = anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string();
        assert!(text.contains("DELETE the old cluster's directories that /etc/postgresql/17/pgconverge-upgrade-main.marker lists"), "{text}");
        assert!(
            plan.hosts
                .iter()
                .all(|host| host.steps.iter().all(|step| step.destructive))
        );
        let analyze = analyze(&new, "db1");
        assert_eq!(analyze.order.len(), 1);
    }
}
