//! The plans of a promotion and a switchover: plain `Plan`s of operations, one
//! step after the other, which `--dry-run` prints and the executor runs like any
//! other. Pure: the facts gathered before say which PgBouncers run and which
//! release each is.

use crate::actions::Change;
use crate::actions::pgbouncer::{
    PAUSE_WAIT_SECONDS, PausePgbouncer, Paused, RepointPgbouncer, Target,
};
use crate::actions::promotion::{
    Checkpoint, Promote, ReadLastCheckpoint, StopPrimary, WaitForReplay,
};
use crate::actions::virtual_ip::{HoldVirtualIp, ReleaseVirtualIp};
use crate::desired::DesiredState;
use crate::facts::GatheredFacts;
use crate::plan::Plan;
use crate::plan::sequence::Sequence;
use crate::versions::PgbouncerVersion;

/// The step of the old primary whose report is its last checkpoint.
pub const LAST_CHECKPOINT: &str = "last checkpoint";

/// The id of the step that promotes the new primary: once it succeeded, the
/// primary has changed, whatever fails after it.
pub const PROMOTE: &str = "promote";

/// A PgBouncer of the cluster that runs, which the plan pauses and re-points.
#[derive(Debug, Clone)]
pub struct Bouncer {
    pub host: String,
    pub version: PgbouncerVersion,
}

/// The PgBouncers of `primary`'s cluster whose console answered when the facts
/// were read, and a line for each one the plan leaves to the apply after
/// (unreachable, not installed, not running).
pub fn bouncers(
    desired: &DesiredState,
    facts: &GatheredFacts,
    primary: &str,
) -> (Vec<Bouncer>, Vec<String>) {
    let Some(cluster) = desired.hosts.get(primary).map(|host| host.cluster.as_str()) else {
        return (Vec::new(), Vec::new());
    };
    let mut running = Vec::new();
    let mut left = Vec::new();
    for host in desired
        .hosts
        .values()
        .filter(|host| host.pgbouncer && host.cluster == cluster)
    {
        let found = facts.get(&host.name).map(|facts| {
            facts
                .as_ref()
                .ok()
                .and_then(|facts| facts.pgbouncer.as_ref())
        });
        let why = match found {
            None | Some(None) => Some("its facts could not be read".to_string()),
            Some(Some(bouncer)) => match (bouncer.version(), bouncer.running()) {
                (Some(version), Some(_)) => {
                    running.push(Bouncer {
                        host: host.name.clone(),
                        version,
                    });
                    None
                }
                (None, _) => Some("PgBouncer is not installed there".to_string()),
                (Some(_), None) => Some("its PgBouncer does not run".to_string()),
            },
        };
        if let Some(why) = why {
            left.push(format!(
                "PgBouncer on {}: {why}; the apply after points it at the new primary",
                host.name
            ));
        }
    }
    (running, left)
}

fn stop(sequence: &mut Sequence, host: &str, id: &str, why: &str, resume: &[Paused]) {
    if let Some(desired) = sequence.desired().hosts.get(host) {
        let operation = StopPrimary {
            primary: host.to_string(),
            server: desired.settings.clone(),
            resume: resume.to_vec(),
        };
        sequence.add(
            host,
            id,
            Change::Stop,
            format!("stop PostgreSQL ({why})"),
            operation.into(),
        );
    }
}

/// Promotes `host`; `stopped` is the old primary this command stopped, which
/// runs again if the promotion fails.
fn promote(sequence: &mut Sequence, host: &str, stopped: Option<&str>, resume: &[Paused]) {
    if let Some(desired) = sequence.desired().hosts.get(host) {
        let old_server = stopped
            .and_then(|old| sequence.desired().hosts.get(old))
            .map(|old| old.settings.clone());
        let summary = match stopped {
            Some(old) => format!(
                "promote it and wait until it accepts writes; if it does not, {old} is started again once {host} is shown to stay a standby"
            ),
            None => "promote it and wait until it accepts writes".to_string(),
        };
        let operation = Promote {
            host: host.to_string(),
            old_primary: old_server.as_ref().and(stopped).map(str::to_string),
            server: desired.settings.clone(),
            old_server,
            resume: resume.to_vec(),
        };
        sequence.add(host, PROMOTE, Change::Update, summary, operation.into());
    }
}

/// The virtual IP moves to `new` once it accepts writes: let go on `old` when
/// that host is reached (a switchover's, a fenced one), then taken on `new`.
/// Both run when the step does, each doing nothing if it is already so.
fn move_virtual_ip(sequence: &mut Sequence, old: Option<&str>, new: &str) {
    let Some(new_host) = sequence.desired().hosts.get(new) else {
        return;
    };
    let Some(vip) = new_host.settings.virtual_ip.clone() else {
        return;
    };
    let host_address = new_host.address.clone();
    let cidr = vip.cidr();
    if let Some(old) = old {
        sequence.add(
            old,
            "release virtual IP",
            Change::Update,
            format!("remove virtual IP {cidr}, if it holds it: {new} takes it"),
            ReleaseVirtualIp { vip: vip.clone() }.into(),
        );
    }
    sequence.add(
        new,
        "hold virtual IP",
        Change::Update,
        format!("add virtual IP {cidr} and announce it, unless it holds it"),
        HoldVirtualIp { vip, host_address }.into(),
    );
}

/// PgBouncer's pause on each of `bouncers`, before the old primary stops;
/// the PgBouncers paused, for the undo of every step after.
fn pause(sequence: &mut Sequence, bouncers: &[Bouncer], old: &str, new: &str) -> Vec<Paused> {
    let mut paused: Vec<Paused> = Vec::new();
    for bouncer in bouncers {
        let Some(desired) = sequence.desired().hosts.get(&bouncer.host) else {
            continue;
        };
        let operation = PausePgbouncer {
            host: bouncer.host.clone(),
            before: paused.clone(),
            server: desired.settings.clone(),
        };
        sequence.add(
            &bouncer.host,
            "pause pgbouncer",
            Change::Update,
            format!(
                "pause PgBouncer before {old} stops: new clients and transactions wait until it points at {new} (the server connections in use get up to {PAUSE_WAIT_SECONDS} s to be released); if anything after fails, it resumes"
            ),
            operation.into(),
        );
        paused.push(Paused {
            host: bouncer.host.clone(),
            server: desired.settings.clone(),
        });
    }
    paused
}

/// Each of `bouncers` re-pointed at `new` once it accepts writes (and resumed).
fn repoint(sequence: &mut Sequence, bouncers: &[Bouncer], new: &str, reconnect: bool) {
    let Some(new_host) = sequence.desired().hosts.get(new) else {
        return;
    };
    let target = Target {
        name: new.to_string(),
        host: new_host.settings.replication_host.clone(),
        port: new_host.settings.port,
    };
    for bouncer in bouncers {
        let Some(desired) = sequence.desired().hosts.get(&bouncer.host) else {
            continue;
        };
        let (summary, operation) = match RepointPgbouncer::new(
            &bouncer.host,
            &desired.settings,
            &target,
            bouncer.version,
            reconnect,
        ) {
            Ok(operation) => {
                let summary = if reconnect {
                    format!(
                        "point PgBouncer at {target} and close its server connections to the old primary as they are released"
                    )
                } else {
                    format!("point PgBouncer at {target} and resume it")
                };
                (summary, operation)
            }
            Err(reason) => {
                let step = crate::actions::PlannedStep {
                    id: "point pgbouncer".to_string(),
                    ..crate::actions::PlannedStep::refused(reason)
                };
                sequence.push(&bouncer.host, step);
                continue;
            }
        };
        sequence.add(
            &bouncer.host,
            "point pgbouncer",
            Change::Update,
            summary,
            operation.into(),
        );
    }
}

/// A failover: stop the old primary first when asked to fence it, promote; the
/// virtual IP is taken from `reached`, the old primary's host when SSH reaches
/// it (its server down or fenced), before the new primary takes it; then the
/// PgBouncers of the cluster are pointed at the new primary.
pub fn promotion(
    desired: &DesiredState,
    facts: &GatheredFacts,
    host: &str,
    fence: Option<&str>,
    reached: Option<&str>,
) -> Plan {
    let mut sequence = Sequence::new(desired);
    if let Some(old) = fence {
        stop(
            &mut sequence,
            old,
            "fence",
            &format!("fence: {host} becomes the primary; if it does not, {old} is started again"),
            &[],
        );
    }
    promote(&mut sequence, host, fence, &[]);
    move_virtual_ip(&mut sequence, reached.or(fence), host);
    let (bouncers, _) = bouncers(desired, facts, host);
    repoint(&mut sequence, &bouncers, host, true);
    sequence.into_plan()
}

/// A switchover from `old` to `new` with no data loss: checkpoint the old
/// primary, pause the cluster's PgBouncers, stop the old primary cleanly, read
/// its last checkpoint, wait until the new primary has replayed it (or start
/// the old one again and resume the PgBouncers), promote, move the virtual IP,
/// then point each PgBouncer at the new primary and resume it.
pub fn switchover(desired: &DesiredState, facts: &GatheredFacts, old: &str, new: &str) -> Plan {
    let mut sequence = Sequence::new(desired);
    let (Some(old_host), Some(new_host)) = (desired.hosts.get(old), desired.hosts.get(new)) else {
        return sequence.into_plan();
    };
    let (bouncers, _) = bouncers(desired, facts, old);
    sequence.add(
        old,
        "checkpoint",
        Change::Check,
        "checkpoint, so that the clean shutdown is quick".to_string(),
        Checkpoint {
            server: old_host.settings.clone(),
        }
        .into(),
    );
    let paused = pause(&mut sequence, &bouncers, old, new);
    stop(
        &mut sequence,
        old,
        "stop",
        &format!(
            "cleanly, so that {new} can replay its last record; if anything after fails, it is started again"
        ),
        &paused,
    );
    sequence.add(
        old,
        LAST_CHECKPOINT,
        Change::Check,
        "read the location of the shutdown checkpoint".to_string(),
        ReadLastCheckpoint {
            primary: old.to_string(),
            server: old_host.settings.clone(),
            resume: paused.clone(),
        }
        .into(),
    );
    sequence.add(
        new,
        "catch up",
        Change::Check,
        format!("wait until it has replayed {old}'s shutdown checkpoint; if it does not, {old} is started again"),
        WaitForReplay {
            old_primary: old.to_string(),
            from_step: LAST_CHECKPOINT.to_string(),
            position: None,
            server: new_host.settings.clone(),
            old_server: old_host.settings.clone(),
            resume: paused.clone(),
        }
        .into(),
    );
    promote(&mut sequence, new, Some(old), &paused);
    move_virtual_ip(&mut sequence, Some(old), new);
    repoint(&mut sequence, &bouncers, new, false);
    sequence.into_plan()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::NodeId;
    use crate::inventory::Inventory;
    use crate::playbook::Playbook;
    use crate::render::Renderer;

    fn desired() -> DesiredState {
        let text = "all:\n  vars:\n    pg_version: 15\n    replication_password: x\n  children:\n    primary:\n      hosts:\n        db1: { ansible_host: 10.0.0.11 }\n    standby:\n      hosts:\n        db2: { ansible_host: 10.0.0.12 }\n";
        let inventory = Inventory::parse(std::path::Path::new("inventory.yaml"), text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"))
    }

    #[test]
    fn a_switchover_runs_its_steps_one_after_the_other() {
        let plan = switchover(&desired(), &GatheredFacts::new(), "db1", "db2");
        let text = anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string();
        insta::assert_snapshot!(text);
        let order: Vec<String> = plan.order.iter().map(ToString::to_string).collect();
        assert_eq!(
            order,
            [
                "db1/checkpoint",
                "db1/stop",
                "db1/last checkpoint",
                "db2/catch up",
                "db2/promote"
            ]
        );
        // Every step after the old primary stopped starts it again when it fails;
        // the checkpoint before changes nothing.
        let undoes: Vec<bool> = plan
            .order
            .iter()
            .filter_map(|node| plan.step(node))
            .map(|step| {
                step.operation
                    .as_ref()
                    .is_some_and(|operation| operation.undo().is_some())
            })
            .collect();
        assert_eq!(undoes, [false, true, true, true, true]);
        for (index, (node, dependencies)) in plan.dependencies.iter().enumerate() {
            let expected: Vec<&NodeId> = plan.order[..index].last().into_iter().collect();
            assert_eq!(dependencies.iter().collect::<Vec<_>>(), expected, "{node}");
        }
    }

    #[test]
    fn the_virtual_ip_moves_once_the_new_primary_accepts_writes() {
        let text = "all:\n  vars:\n    pg_version: 15\n    cluster_vip: 10.0.0.100/24\n    replication_password: x\n  children:\n    primary:\n      hosts:\n        db1: { ansible_host: 10.0.0.11 }\n    standby:\n      hosts:\n        db2: { ansible_host: 10.0.0.12 }\n";
        let inventory = Inventory::parse(std::path::Path::new("inventory.yaml"), text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        let desired = DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"));
        let order =
            |plan: &Plan| -> Vec<String> { plan.order.iter().map(ToString::to_string).collect() };
        assert_eq!(
            order(&switchover(&desired, &GatheredFacts::new(), "db1", "db2")),
            [
                "db1/checkpoint",
                "db1/stop",
                "db1/last checkpoint",
                "db2/catch up",
                "db2/promote",
                "db1/release virtual IP",
                "db2/hold virtual IP"
            ]
        );
        assert_eq!(
            order(&promotion(
                &desired,
                &GatheredFacts::new(),
                "db2",
                Some("db1"),
                Some("db1")
            )),
            [
                "db1/fence",
                "db2/promote",
                "db1/release virtual IP",
                "db2/hold virtual IP"
            ]
        );
        // Its server down but its host reached: the virtual IP is taken from it.
        assert_eq!(
            order(&promotion(
                &desired,
                &GatheredFacts::new(),
                "db2",
                None,
                Some("db1")
            )),
            [
                "db2/promote",
                "db1/release virtual IP",
                "db2/hold virtual IP"
            ]
        );
        // The old primary out of reach: the new one takes it.
        assert_eq!(
            order(&promotion(
                &desired,
                &GatheredFacts::new(),
                "db2",
                None,
                None
            )),
            ["db2/promote", "db2/hold virtual IP"]
        );
    }

    #[test]
    fn a_fenced_promotion_stops_the_old_primary_first() {
        let plan = promotion(
            &desired(),
            &GatheredFacts::new(),
            "db2",
            Some("db1"),
            Some("db1"),
        );
        let order: Vec<String> = plan.order.iter().map(ToString::to_string).collect();
        assert_eq!(order, ["db1/fence", "db2/promote"]);
        let undoes = |plan: &Plan| -> Vec<bool> {
            plan.order
                .iter()
                .filter_map(|node| plan.step(node))
                .map(|step| {
                    step.operation
                        .as_ref()
                        .is_some_and(|operation| operation.undo().is_some())
                })
                .collect()
        };
        // The fence and the promotion both start db1 again when they fail.
        assert_eq!(undoes(&plan), [true, true]);
        let unfenced = promotion(&desired(), &GatheredFacts::new(), "db2", None, Some("db1"));
        assert_eq!(unfenced.order.len(), 1);
        // db1 was down already: nothing of this command to undo.
        assert_eq!(undoes(&unfenced), [false]);
    }

    #[test]
    fn a_switchover_pauses_pgbouncer_before_the_stop_and_resumes_it_on_the_new_primary() {
        let fixture = crate::plan::check::Fixture::pgbouncer_converged();
        let plan = switchover(&fixture.desired, &fixture.facts, "db1", "db2");
        let text = anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string();
        insta::assert_snapshot!(text);
        let order: Vec<String> = plan.order.iter().map(ToString::to_string).collect();
        assert_eq!(
            order,
            [
                "db1/checkpoint",
                "db3/pause pgbouncer",
                "pgb1/pause pgbouncer",
                "db1/stop",
                "db1/last checkpoint",
                "db2/catch up",
                "db2/promote",
                "db3/point pgbouncer",
                "pgb1/point pgbouncer",
            ]
        );
        // Every step from the first pause on puts back what it can when it
        // fails: the paused PgBouncers resume (after the old primary started
        // again, once it stopped).
        let undo_hosts = |node: &str| -> Vec<String> {
            let step = plan
                .order
                .iter()
                .find(|other| other.to_string() == node)
                .and_then(|node| plan.step(node))
                .unwrap_or_else(|| panic!("no step {node}"));
            step.operation
                .as_ref()
                .and_then(|operation| operation.undo())
                .map(|undo| {
                    undo.scripts
                        .iter()
                        .map(|script| {
                            format!(
                                "{}@{}",
                                script.script.script.name(),
                                script.script.other_host.as_deref().unwrap_or("own")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default()
        };
        assert_eq!(undo_hosts("db3/pause pgbouncer"), ["resume_pgbouncer@db3"]);
        assert_eq!(
            undo_hosts("pgb1/pause pgbouncer"),
            ["resume_pgbouncer@db3", "resume_pgbouncer@pgb1"]
        );
        assert_eq!(
            undo_hosts("db1/stop"),
            [
                "start_again@own",
                "resume_pgbouncer@db3",
                "resume_pgbouncer@pgb1"
            ]
        );
        assert_eq!(
            undo_hosts("db2/catch up"),
            [
                "start_again@db1",
                "resume_pgbouncer@db3",
                "resume_pgbouncer@pgb1"
            ]
        );
        assert_eq!(
            undo_hosts("db2/promote"),
            [
                "still_standby@own",
                "start_again@db1",
                "start_again@own",
                "resume_pgbouncer@db3",
                "resume_pgbouncer@pgb1"
            ]
        );
        // The new target is db2, written for the PgBouncer each host has.
        let point = plan
            .order
            .iter()
            .find(|node| node.to_string() == "db3/point pgbouncer")
            .and_then(|node| plan.step(node))
            .and_then(|step| step.operation.as_ref());
        let Some(crate::actions::Operation::RepointPgbouncer(point)) = point else {
            panic!("no re-point of db3");
        };
        assert!(!point.reconnect);
        assert!(
            point
                .databases
                .content
                .expose()
                .contains("* = host=10.0.0.12 port=5432\n"),
            "{}",
            point.databases.content.expose()
        );
    }

    #[test]
    fn a_promote_points_pgbouncer_at_the_new_primary_and_drops_the_old_connections() {
        let fixture = crate::plan::check::Fixture::pgbouncer_converged()
            .unreachable("db1")
            .edit("pgb1", |facts| {
                if let Some(bouncer) = facts.pgbouncer.as_mut() {
                    bouncer.console = Some(Err("connection refused".into()));
                }
            });
        let plan = promotion(&fixture.desired, &fixture.facts, "db2", None, None);
        let order: Vec<String> = plan.order.iter().map(ToString::to_string).collect();
        // pgb1's PgBouncer does not run: the apply after points it.
        assert_eq!(order, ["db2/promote", "db3/point pgbouncer"]);
        let (_, left) = bouncers(&fixture.desired, &fixture.facts, "db2");
        assert_eq!(
            left,
            [
                "PgBouncer on pgb1: its PgBouncer does not run; the apply after points it at the new primary"
            ]
        );
        let text = anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string();
        assert!(
            text.contains("point PgBouncer at db2 (10.0.0.12:5432) and close its server connections to the old primary as they are released"),
            "{text}"
        );
        let step = plan.order.last().and_then(|node| plan.step(node));
        let Some(crate::actions::Operation::RepointPgbouncer(point)) =
            step.and_then(|step| step.operation.as_ref())
        else {
            panic!("no re-point");
        };
        assert!(point.reconnect);
    }
}
