//! The plans of a promotion and a switchover: plain `Plan`s of operations, one
//! step after the other, which `--dry-run` prints and the executor runs like any
//! other. Pure.

use crate::actions::Change;
use crate::actions::promotion::{
    Checkpoint, Promote, ReadLastCheckpoint, StopPrimary, WaitForReplay,
};
use crate::actions::virtual_ip::{HoldVirtualIp, ReleaseVirtualIp};
use crate::desired::DesiredState;
use crate::plan::Plan;
use crate::plan::sequence::Sequence;

/// The step of the old primary whose report is its last checkpoint.
pub const LAST_CHECKPOINT: &str = "last checkpoint";

fn stop(sequence: &mut Sequence, host: &str, id: &str, why: &str) {
    if let Some(desired) = sequence.desired().hosts.get(host) {
        let operation = StopPrimary {
            primary: host.to_string(),
            server: desired.settings.clone(),
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
fn promote(sequence: &mut Sequence, host: &str, stopped: Option<&str>) {
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
        };
        sequence.add(host, "promote", Change::Update, summary, operation.into());
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

/// A failover: stop the old primary first when asked to fence it, then promote;
/// the virtual IP is taken from `reached`, the old primary's host when SSH
/// reaches it (its server down or fenced), before the new primary takes it.
pub fn promotion(
    desired: &DesiredState,
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
        );
    }
    promote(&mut sequence, host, fence);
    move_virtual_ip(&mut sequence, reached.or(fence), host);
    sequence.into_plan()
}

/// A switchover from `old` to `new` with no data loss: checkpoint and stop the old
/// primary cleanly, read its last checkpoint, wait until the new primary has
/// replayed it (or start the old one again), then promote.
pub fn switchover(desired: &DesiredState, old: &str, new: &str) -> Plan {
    let mut sequence = Sequence::new(desired);
    let (Some(old_host), Some(new_host)) = (desired.hosts.get(old), desired.hosts.get(new)) else {
        return sequence.into_plan();
    };
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
    stop(
        &mut sequence,
        old,
        "stop",
        &format!(
            "cleanly, so that {new} can replay its last record; if anything after fails, it is started again"
        ),
    );
    sequence.add(
        old,
        LAST_CHECKPOINT,
        Change::Check,
        "read the location of the shutdown checkpoint".to_string(),
        ReadLastCheckpoint {
            primary: old.to_string(),
            server: old_host.settings.clone(),
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
        }
        .into(),
    );
    promote(&mut sequence, new, Some(old));
    move_virtual_ip(&mut sequence, Some(old), new);
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
        let plan = switchover(&desired(), "db1", "db2");
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
            order(&switchover(&desired, "db1", "db2")),
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
            order(&promotion(&desired, "db2", Some("db1"), Some("db1"))),
            [
                "db1/fence",
                "db2/promote",
                "db1/release virtual IP",
                "db2/hold virtual IP"
            ]
        );
        // Its server down but its host reached: the virtual IP is taken from it.
        assert_eq!(
            order(&promotion(&desired, "db2", None, Some("db1"))),
            [
                "db2/promote",
                "db1/release virtual IP",
                "db2/hold virtual IP"
            ]
        );
        // The old primary out of reach: the new one takes it.
        assert_eq!(
            order(&promotion(&desired, "db2", None, None)),
            ["db2/promote", "db2/hold virtual IP"]
        );
    }

    #[test]
    fn a_fenced_promotion_stops_the_old_primary_first() {
        let plan = promotion(&desired(), "db2", Some("db1"), Some("db1"));
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
        let unfenced = promotion(&desired(), "db2", None, Some("db1"));
        assert_eq!(unfenced.order.len(), 1);
        // db1 was down already: nothing of this command to undo.
        assert_eq!(undoes(&unfenced), [false]);
    }
}
