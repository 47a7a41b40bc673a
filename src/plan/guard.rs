//! The split-brain guard: pgconverge never starts, restarts or leaves writable a
//! primary while another host of the cluster is observed as a writable primary,
//! and never discards what such a host wrote without the user's consent.
//!
//! - A host the inventory calls standby that is a writable primary, while the
//!   inventory's primary is also writable, may hold writes the primary does not
//!   have: the plan is blocked, naming it and how much WAL it wrote after the two
//!   timelines forked, until the inventory says otherwise or `--rejoin HOST`
//!   consents to discarding them. With consent it is fenced (stopped) first, the
//!   primary's start or restart waits for that, and the rest of the plan rejoins
//!   it (`pg_rewind`, or a new base backup).
//! - The same host while the inventory's primary is *not* writable is probably the
//!   real primary and the inventory out of date: rejoining it would leave the
//!   cluster without a primary, so the plan is blocked and nothing runs.
//! - A former primary found stopped is no writable primary: it is rejoined
//!   without any consent, as there is nothing running to stop.
//!
//! Each replication cluster of the inventory is guarded on its own: two
//! primaries of different clusters are no split brain.

use crate::actions::service::ControlServer;
use crate::actions::{Change, DesiredStep, PlannedStep};
use crate::desired::{DesiredState, NodeId};
use crate::facts::timeline::{Fork, fork_point, pretty_size};
use crate::facts::{GatheredFacts, HostFacts, Lsn};
use crate::inventory::Role;

/// The id of the step the guard adds in front of a former primary's steps.
pub const FENCE_STEP: &str = "fence";

/// What the guard decided for the whole plan.
#[derive(Debug, Default)]
pub struct Guard {
    /// Why nothing may run, when the plan is blocked.
    pub blocked: Option<String>,
    /// Former primaries to stop first, each with its fence step.
    pub fences: Vec<(String, PlannedStep)>,
}

pub fn split_brain_guard(
    desired: &DesiredState,
    facts: &GatheredFacts,
    rejoin: &[String],
) -> Guard {
    let clusters: indexmap::IndexSet<&str> = desired
        .hosts
        .values()
        .map(|host| host.cluster.as_str())
        .collect();
    let mut guard = Guard::default();
    let mut blocked = Vec::new();
    let mut writable_beside_primary = Vec::new();
    for cluster in clusters {
        let found = guard_cluster(desired, facts, cluster, rejoin);
        blocked.extend(found.guard.blocked);
        guard.fences.extend(found.guard.fences);
        writable_beside_primary.extend(found.writable_beside_primary);
    }
    // Consent to discard writes only means something for a host that has them.
    for name in rejoin {
        if !writable_beside_primary.contains(name) {
            blocked.push(format!(
                "--rejoin {name}: `{name}` is not a writable primary beside the inventory's primary ({}), so it has no writes to discard: leave it out of --rejoin. Nothing was changed",
                why_not_writable(desired, facts, name)
            ));
        }
    }
    if !blocked.is_empty() {
        guard.blocked = Some(blocked.join("\n"));
        guard.fences.clear();
    }
    guard
}

/// Why a host named by `--rejoin` is no writable primary beside the primary.
fn why_not_writable(desired: &DesiredState, facts: &GatheredFacts, name: &str) -> String {
    let Some(host) = desired.hosts.get(name) else {
        return "it is not a member of the replication cluster".to_string();
    };
    if host.role == Role::Primary {
        return "it is the inventory's primary".to_string();
    }
    match facts.get(name) {
        None => "it is not part of this run".to_string(),
        Some(Err(error)) => format!(
            "its facts could not be read: {}",
            error.lines().next().unwrap_or_default()
        ),
        Some(Ok(host_facts)) => match &host_facts.server {
            None => "its server is not running, and a stopped former primary is rejoined without --rejoin".to_string(),
            Some(server) if server.in_recovery => "it is a standby in recovery".to_string(),
            Some(_) => "it runs a cluster of its own, or the inventory's primary does not accept writes".to_string(),
        },
    }
}

/// The primary of `cluster` in the inventory.
fn primary_of<'a>(
    desired: &'a DesiredState,
    cluster: &str,
) -> Option<&'a crate::desired::DesiredHost> {
    desired
        .hosts
        .values()
        .find(|host| host.role == Role::Primary && host.cluster == cluster)
}

/// What the guard found in one replication cluster.
struct ClusterGuard {
    guard: Guard,
    /// The hosts that accept writes beside the cluster's writable primary.
    writable_beside_primary: Vec<String>,
}

fn guard_cluster(
    desired: &DesiredState,
    facts: &GatheredFacts,
    cluster: &str,
    rejoin: &[String],
) -> ClusterGuard {
    let nothing = || ClusterGuard {
        guard: Guard::default(),
        writable_beside_primary: Vec::new(),
    };
    let Some(primary) = primary_of(desired, cluster) else {
        return nothing();
    };
    let facts_of = |name: &str| facts.get(name).and_then(|facts| facts.as_ref().ok());
    let writable = |name: &str| facts_of(name).is_some_and(|facts| facts.is_writable_primary());
    // Only a host of the same cluster (the same system identifier) can split it; a
    // fresh standby still runs a cluster of its own. Unknown identifiers count as
    // the same cluster, to err on the safe side.
    let primary_id = facts_of(&primary.name).and_then(|facts| facts.system_identifier());
    let same_cluster = |name: &str| match (
        primary_id,
        facts_of(name).and_then(|facts| facts.system_identifier()),
    ) {
        (Some(primary_id), Some(id)) => primary_id == id,
        _ => true,
    };
    let others: Vec<&str> = desired
        .hosts
        .values()
        .filter(|host| {
            host.cluster == cluster
                && host.role == Role::Standby
                && writable(&host.name)
                && same_cluster(&host.name)
        })
        .map(|host| host.name.as_str())
        .collect();
    if others.is_empty() {
        return nothing();
    }
    let names = others
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if !writable(&primary.name) {
        return ClusterGuard {
            guard: Guard {
                blocked: Some(format!(
                    "split-brain guard: {names} {verb} a writable primary, but the inventory names `{primary}` as the primary and `{primary}` is not one. \
                     Rejoining {names} would leave the cluster without a primary: if {names} {verb} the primary now, record it in the inventory \
                     (`pgconverge promote` with --write-inventory does); otherwise stop {names} first. Nothing was changed",
                    verb = if others.len() == 1 { "is" } else { "are" },
                    primary = primary.name,
                )),
                fences: Vec::new(),
            },
            writable_beside_primary: Vec::new(),
        };
    }
    let mut blocked = Vec::new();
    let mut fences = Vec::new();
    for host in others.iter().filter_map(|name| desired.hosts.get(*name)) {
        let written = written_after_fork(facts_of(&primary.name), facts_of(&host.name));
        if !rejoin.contains(&host.name) {
            blocked.push(format!(
                "split-brain guard: `{name}` is a writable primary beside `{primary}`, the inventory's primary, and {written}. \
                 A plain apply does not discard writes. Either make the inventory say which host is the primary (if `{name}` is, \
                 give it `pg_role: primary` and `{primary}` `pg_role: standby`), or discard what `{name}` wrote: \
                 `pgconverge apply --rejoin {name}` stops it and rejoins it to `{primary}`. Nothing was changed",
                name = host.name,
                primary = primary.name,
                written = written.sentence(),
            ));
            continue;
        }
        let summary = format!(
            "stop PostgreSQL: it is a writable primary beside `{primary}`, and --rejoin {name} discards what it wrote after the fork: {written} (split-brain guard)",
            primary = primary.name,
            name = host.name,
            written = written.amount(),
        );
        let operation = ControlServer::stop(&host.settings);
        let step = PlannedStep {
            id: FENCE_STEP.to_string(),
            destructive: true,
            ..PlannedStep::change(Change::Stop, summary, operation)
        };
        fences.push((host.name.clone(), step));
    }
    ClusterGuard {
        guard: Guard {
            blocked: (!blocked.is_empty()).then(|| blocked.join("\n")),
            fences,
        },
        writable_beside_primary: others.iter().map(|name| name.to_string()).collect(),
    }
}

/// How much WAL a second writable primary wrote after its timeline forked from
/// the inventory's primary's, or why that cannot be told.
enum WrittenAfterFork {
    Bytes { fork: Lsn, position: Lsn },
    Unknown(String),
}

impl WrittenAfterFork {
    fn amount(&self) -> String {
        match self {
            WrittenAfterFork::Bytes { fork, position } => format!(
                "{} ({fork} → {position})",
                pretty_size(position.0.saturating_sub(fork.0))
            ),
            WrittenAfterFork::Unknown(reason) => {
                format!("how much WAL it wrote after the fork cannot be told: {reason}")
            }
        }
    }

    fn sentence(&self) -> String {
        match self {
            WrittenAfterFork::Bytes { .. } => format!(
                "it wrote {} of WAL after their timelines forked",
                self.amount()
            ),
            WrittenAfterFork::Unknown(_) => self.amount(),
        }
    }
}

fn written_after_fork(
    primary: Option<&HostFacts>,
    writable: Option<&HostFacts>,
) -> WrittenAfterFork {
    let (Some(primary), Some(writable)) = (primary, writable) else {
        return WrittenAfterFork::Unknown("the facts of both hosts are needed".to_string());
    };
    let Some(position) = writable.server.as_ref().and_then(|server| server.position) else {
        return WrittenAfterFork::Unknown("its WAL position is unknown".to_string());
    };
    match fork_point(writable, primary) {
        Fork::At(fork) => WrittenAfterFork::Bytes { fork, position },
        Fork::Unknown(reason) => WrittenAfterFork::Unknown(reason),
    }
}

impl Guard {
    /// The edges the fences add: the primary's service step and each former primary's
    /// own steps wait for the fence.
    pub fn edges(&self, desired: &DesiredState, order: &[NodeId]) -> Vec<(NodeId, NodeId)> {
        let mut edges = Vec::new();
        for (host, _) in &self.fences {
            let Some(primary) = desired
                .hosts
                .get(host)
                .and_then(|fenced| primary_of(desired, &fenced.cluster))
            else {
                continue;
            };
            let is_service = |step: &str| {
                primary
                    .steps
                    .get(step)
                    .is_some_and(|step| matches!(step, DesiredStep::Service(_)))
            };
            let fence = NodeId {
                host: host.clone(),
                step: FENCE_STEP.to_string(),
            };
            for node in order.iter().filter(|node| {
                &node.host == host || (node.host == primary.name && is_service(&node.step))
            }) {
                edges.push((node.clone(), fence.clone()));
            }
        }
        edges
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::Change;
    use crate::plan::build::PlanOptions;
    use crate::plan::check::{Fixture, check};

    fn rejoin(host: &str) -> PlanOptions {
        PlanOptions {
            rejoin: vec![host.to_string()],
            ..PlanOptions::default()
        }
    }

    fn blocked(fixture: &Fixture) -> String {
        fixture.plan().blocked.unwrap_or_default()
    }

    #[test]
    fn a_writable_standby_beside_the_primary_blocks_the_plan_until_rejoin() {
        let fixture = Fixture::converged().promoted_beside_the_primary("db2");
        let plan = fixture.plan();
        insta::assert_snapshot!(plan.blocked.clone().unwrap_or_default(), @"split-brain guard: `db2` is a writable primary beside `db1`, the inventory's primary, and it wrote 16 MB (0/3000060 → 0/4000000) of WAL after their timelines forked. A plain apply does not discard writes. Either make the inventory say which host is the primary (if `db2` is, give it `pg_role: primary` and `db1` `pg_role: standby`), or discard what `db2` wrote: `pgconverge apply --rejoin db2` stops it and rejoins it to `db1`. Nothing was changed");
        let fenced = plan
            .hosts
            .iter()
            .any(|host| host.steps.iter().any(|step| step.id == super::FENCE_STEP));
        assert!(!fenced, "nothing is stopped without consent");
        assert!(crate::printer::plan_text(&plan).contains("Blocked"));
    }

    #[test]
    fn rejoin_consents_the_host_is_fenced_and_rewound() {
        let fixture = Fixture::converged()
            .promoted_beside_the_primary("db2")
            .options(rejoin("db2"));
        let plan = fixture.plan();
        assert_eq!(plan.blocked, None);
        let steps = plan
            .host("db2")
            .map(|host| host.steps.clone())
            .unwrap_or_default();
        assert_eq!(
            steps
                .first()
                .map(|step| (step.id.as_str(), step.change, step.destructive)),
            Some((super::FENCE_STEP, Change::Stop, true))
        );
        let base_backup = steps
            .iter()
            .find(|step| step.id == "base_backup")
            .map(|step| step.summary.clone())
            .unwrap_or_default();
        assert!(
            base_backup.starts_with("rejoin db1 with pg_rewind"),
            "{base_backup}"
        );
        // The stop itself is the service's operation (its parameters are pinned
        // by the service's tests): here, what the plan says and that it stops.
        let text = check(&fixture, "db2", "fence");
        assert!(
            text.starts_with("! fence: stop PostgreSQL: it is a writable primary beside `db1`, and --rejoin db2 discards what it wrote after the fork: 16 MB (0/3000060 → 0/4000000) (split-brain guard)\n")
                && text.contains("on db2: control_server.sh")
                && text.contains("SERVICE_ACTION=stop"),
            "{text}"
        );
    }

    #[test]
    fn the_fork_of_a_writable_host_on_the_older_timeline_is_in_the_primarys_history() {
        // db1, the inventory's primary, was promoted (timeline 2); db2, the old
        // primary, came back and wrote on timeline 1.
        let fixture = Fixture::converged()
            .former_primary("db2")
            .edit("db1", |facts| {
                facts.data_directory.timeline = Some(2);
                facts.data_directory.history = crate::facts::timeline::TimelineHistory::parse(
                    "00000002.history",
                    "1\t0/3000060\tno recovery target specified\n",
                );
            })
            .edit("db2", |facts| {
                facts.data_directory.timeline = Some(1);
                if let Some(server) = facts.server.as_mut() {
                    server.position = crate::facts::Lsn::parse("0/3800000");
                }
            });
        let blocked = blocked(&fixture);
        assert!(
            blocked.contains("`db2` is a writable primary beside `db1`")
                && blocked.contains("it wrote 8192 kB (0/3000060 → 0/3800000) of WAL"),
            "{blocked}"
        );
    }

    #[test]
    fn a_fork_that_cannot_be_told_is_said_not_guessed() {
        let fixture = Fixture::converged()
            .promoted_beside_the_primary("db2")
            .edit("db2", |facts| facts.data_directory.history = None);
        let blocked = blocked(&fixture);
        assert!(
            blocked.contains("how much WAL it wrote after the fork cannot be told: the history of its timeline 2 is not in its data directory")
                && blocked.contains("--rejoin db2"),
            "{blocked}"
        );
    }

    #[test]
    fn rejoin_of_a_host_that_is_no_writable_primary_is_an_error_naming_it() {
        let standby = Fixture::converged().options(rejoin("db3"));
        assert_eq!(
            blocked(&standby),
            "--rejoin db3: `db3` is not a writable primary beside the inventory's primary (it is a standby in recovery), so it has no writes to discard: leave it out of --rejoin. Nothing was changed"
        );
        let primary = Fixture::converged().options(rejoin("db1"));
        assert!(blocked(&primary).contains("(it is the inventory's primary)"));
        // Consent for one host does not cover another.
        let other = Fixture::converged()
            .promoted_beside_the_primary("db2")
            .options(rejoin("db3"));
        let blocked = blocked(&other);
        assert!(
            blocked.contains("--rejoin db2` stops it") && blocked.contains("--rejoin db3: `db3`"),
            "{blocked}"
        );
    }

    #[test]
    fn a_former_primary_found_stopped_is_rejoined_without_consent() {
        let fixture = Fixture::converged()
            .promoted_beside_the_primary("db2")
            .edit("db2", |facts| {
                facts.server = None;
                facts.server_error = Some("connection refused".into());
                facts.data_directory.postmaster_pid = false;
            });
        let plan = fixture.plan();
        assert_eq!(plan.blocked, None);
        let base_backup = check(&fixture, "db2", "base_backup");
        assert!(
            base_backup.starts_with("~ base_backup: rejoin db1 with pg_rewind"),
            "{base_backup}"
        );
        let stopped = Fixture::converged()
            .former_primary("db2")
            .edit("db2", |facts| facts.server = None)
            .options(rejoin("db2"));
        assert!(
            blocked(&stopped).contains("its server is not running, and a stopped former primary is rejoined without --rejoin"),
            "{}",
            blocked(&stopped)
        );
    }
}
