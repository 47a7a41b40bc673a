//! Replication slots: each streaming standby streams through a physical slot on its
//! upstream, named after it, made before its base backup so no WAL it needs is
//! removed between the clone and its first connection. Slots pgconverge made for
//! hosts that no longer stream from a member are dropped; slots it did not make
//! (their names lack its prefix) are left alone, but one: with `failover_slots`,
//! a standby's own logical failover slot (a former primary's) that its primary
//! carries on by the same name is dropped, since it stops the standby's slot
//! sync worker from copying the primary's and holds back the primary's vacuum
//! through `hot_standby_feedback`; its consumer follows the primary's.

use super::{Action, Change, Member, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::facts::ReplicationSlot;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use serde::Serialize;

/// What every slot pgconverge makes is named with.
pub const PREFIX: &str = "pgconverge_";

/// The slot a host streams through: the prefix and its inventory name, with any
/// character a slot name cannot hold (`[a-z0-9_]`) written as `_`.
pub fn slot_name(host: &str) -> String {
    let name: String = host
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_lowercase() || c.is_ascii_digit() {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut slot = format!("{PREFIX}{name}");
    slot.truncate(63);
    slot
}

/// A standby's slot on its upstream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StandbySlot {
    pub slot: String,
}

/// The slots on a host that no member streams through any more.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StaleSlots {}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CreateSlot {
    pub slot: String,
    pub upstream: String,
    /// The slot lost WAL: drop it first (its standby is cloned again).
    pub recreate: bool,
    #[serde(skip)]
    pub upstream_server: HostSettings,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DropSlots {
    pub slots: Vec<String>,
    /// Logical failover slots of this standby's own that its primary carries on:
    /// dropped only if, when the step runs, each still is one (logical, made
    /// with failover, not a copy the slot sync worker made).
    pub superseded: Vec<String>,
    #[serde(skip)]
    pub server: HostSettings,
}

/// `pgconverge_h2 (active, 16 MiB kept)`.
fn described(slot: &ReplicationSlot) -> String {
    let activity = if slot.active { "active" } else { "inactive" };
    match slot.retained_bytes {
        Some(bytes) => format!(
            "{} ({activity}, {} MiB kept)",
            slot.name,
            bytes / (1024 * 1024)
        ),
        None => format!("{} ({activity})", slot.name),
    }
}

impl Action for StandbySlot {
    fn desire(input: &StepInput) -> Result<StandbySlot, Diagnostic> {
        Ok(StandbySlot {
            slot: input.derived.replication_slot.clone(),
        })
    }

    fn expose<'a>(&'a self, member: &mut Member<'a>) {
        member.replication_slot.get_or_insert(self.slot.as_str());
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let upstream_name = context.host.upstream.unwrap_or_default();
        let Some(upstream) = context.upstream() else {
            return PlannedStep::refused(format!(
                "upstream `{upstream_name}` is not in the inventory"
            ));
        };
        let operation = |recreate| CreateSlot {
            slot: self.slot.clone(),
            upstream: upstream_name.to_string(),
            recreate,
            upstream_server: upstream.settings.clone(),
        };
        let found = upstream
            .facts
            .and_then(|facts| facts.server.as_ref())
            .and_then(|server| server.slots.iter().find(|slot| slot.name == self.slot));
        match found {
            Some(slot) if slot.lost() => PlannedStep::change(
                Change::Update,
                format!(
                    "make slot {} on {upstream_name} again: it lost WAL this standby needs, so the standby is cloned again",
                    self.slot
                ),
                operation(true),
            ),
            Some(slot) => PlannedStep::noop(format!(
                "streams through slot {} on {upstream_name}",
                described(slot)
            )),
            None => PlannedStep::change(
                Change::Create,
                format!("create slot {} on {upstream_name}", self.slot),
                operation(false),
            ),
        }
    }
}

impl Action for StaleSlots {
    fn desire(_input: &StepInput) -> Result<StaleSlots, Diagnostic> {
        Ok(StaleSlots {})
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let wanted: Vec<&str> = context
            .members
            .values()
            .filter(|member| member.upstream == Some(context.host.name))
            .filter_map(|member| member.replication_slot)
            .collect();
        let is_stale = |name: &str| name.starts_with(PREFIX) && !wanted.contains(&name);
        // Each stale slot with its line in the plan. A stopped server keeps its
        // slots in its data directory (a primary demoted by a switchover; a rewind
        // keeps `pg_replslot/`, a clone does not): they are dropped once it runs.
        let (stale, when): (Vec<(String, String)>, &str) = match context.facts.server.as_ref() {
            Some(server) => (
                server
                    .slots
                    .iter()
                    .filter(|slot| is_stale(&slot.name))
                    .map(|slot| (slot.name.clone(), described(slot)))
                    .collect(),
                "",
            ),
            None => (
                context
                    .facts
                    .data_directory
                    .slots_on_disk
                    .iter()
                    .filter(|name| is_stale(name))
                    .map(|name| (name.clone(), format!("{name} (in pg_replslot)")))
                    .collect(),
                ", once the server runs",
            ),
        };
        let superseded = superseded_failover_slots(context);
        if stale.is_empty() && superseded.is_empty() {
            return PlannedStep::noop(match context.facts.server {
                Some(_) => format!("{} slot(s) for members that stream from it", wanted.len()),
                None => "the server does not run: its slots are looked at when it does".into(),
            });
        }
        let names: Vec<String> = stale.iter().map(|(name, _)| name.clone()).collect();
        let upstream = context.host.upstream.unwrap_or_default();
        let mut summary = Vec::new();
        if !names.is_empty() {
            summary.push(format!(
                "drop slots no member streams through{when}: {}",
                names.join(", ")
            ));
        }
        if !superseded.is_empty() {
            summary.push(format!(
                "drop its own failover slots that {upstream} carries on{when}: {}",
                superseded.join(", ")
            ));
        }
        let mut details: Vec<String> = stale
            .iter()
            .map(|(_, shown)| format!("- {shown}  (no member streams through it)"))
            .collect();
        details.extend(superseded.iter().map(|name| {
            format!("- {name}  (a logical slot of its own from before; its consumer follows {upstream}'s, which this standby copies once it is gone)")
        }));
        PlannedStep {
            details,
            ..PlannedStep::change(
                Change::Update,
                summary.join("; "),
                DropSlots {
                    slots: names,
                    superseded,
                    server: context.settings().clone(),
                },
            )
        }
    }
}

/// A standby's own logical failover slots (it was the primary) that its upstream,
/// the primary, has by the same name: the primary's is the one the consumer
/// uses now, and this one stops the slot sync worker from copying it. A running
/// standby's slots are known by kind; a stopped one's only by name, on disk, so
/// the drop checks the kind again when it runs.
fn superseded_failover_slots(context: &PlanContext) -> Vec<String> {
    if !context.settings().failover_slots {
        return Vec::new();
    }
    let Some(carried) = context
        .upstream()
        .and_then(|upstream| upstream.facts)
        .and_then(|facts| facts.server.as_ref())
        .filter(|server| !server.in_recovery)
        .map(|server| &server.failover_slots)
    else {
        return Vec::new();
    };
    let carried_on = |name: &str| carried.iter().any(|slot| slot.name == name);
    match context.facts.server.as_ref() {
        Some(server) if server.in_recovery => server
            .failover_slots
            .iter()
            .filter(|slot| !slot.synced && carried_on(&slot.name))
            .map(|slot| slot.name.clone())
            .collect(),
        // Still a primary: the apply that makes it a standby stops it first.
        Some(_) => Vec::new(),
        None => context
            .facts
            .data_directory
            .slots_on_disk
            .iter()
            .filter(|name| !name.starts_with(PREFIX) && carried_on(name))
            .cloned()
            .collect(),
    }
}

impl RemoteOperation for CreateSlot {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::for_server(
            "create_slot",
            include_str!("scripts/create_slot.sh"),
            &self.upstream_server,
        )
        .text("SLOT_NAME", &self.slot)
        .number("RECREATE", u8::from(self.recreate));
        Ok(vec![HostScript {
            other_host: Some(self.upstream.clone()),
            script,
        }])
    }
}

impl RemoteOperation for DropSlots {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::for_server(
            "drop_slots",
            include_str!("scripts/drop_slots.sh"),
            &self.server,
        )
        .text("SLOT_NAMES", &self.slots.join("\n"))
        .text("SUPERSEDED_NAMES", &self.superseded.join("\n"));
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::check::{Fixture, check};

    #[test]
    fn slot_names_are_what_postgresql_accepts() {
        assert_eq!(slot_name("h2"), "pgconverge_h2");
        assert_eq!(slot_name("DB-2.example"), "pgconverge_db_2_example");
        assert_eq!(slot_name(&"x".repeat(80)).len(), 63);
    }

    #[test]
    fn a_standby_without_its_slot_gets_one_on_its_upstream() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(server) = facts.server.as_mut() {
                server.slots.clear();
            }
        });
        insta::assert_snapshot!(check(&fixture, "db2", "replication_slot"));
    }

    #[test]
    fn a_standbys_own_failover_slot_that_its_primary_carries_on_is_dropped() {
        let slot =
            |name: &str, synced: bool| crate::facts::FailoverSlot::example(name, synced, false);
        let inventory = crate::plan::check::THREE_HOSTS
            .replace("pg_version: 15", "pg_version: 17")
            .replace("  vars:\n", "  vars:\n    failover_slots: true\n");
        let with = |db2_slots: Vec<crate::facts::FailoverSlot>| {
            Fixture::converged_with(&inventory)
                .edit("db1", |facts| {
                    if let Some(server) = facts.server.as_mut() {
                        server.failover_slots = vec![slot("cdc", true)];
                    }
                })
                .edit("db2", move |facts| {
                    if let Some(server) = facts.server.as_mut() {
                        server.failover_slots = db2_slots;
                    }
                })
        };
        // db2 was the primary: its own cdc stops the sync of db1's (which db1,
        // promoted, keeps marked synced: that means nothing on a primary).
        let text = check(
            &with(vec![slot("cdc", false), slot("other", false)]),
            "db2",
            "stale_slots",
        );
        assert!(
            text.contains("drop its own failover slots that db1 carries on: cdc\n")
                && !text.contains("other"),
            "{text}"
        );
        // Its copy of db1's: nothing to do.
        let text = check(&with(vec![slot("cdc", true)]), "db2", "stale_slots");
        assert!(!text.contains("drop"), "{text}");
        // Stopped: by name on disk, checked again when it runs.
        let stopped = with(Vec::new()).edit("db2", |facts| {
            facts.server = None;
            facts.data_directory.slots_on_disk = vec!["cdc".into(), "pgconverge_db3".into()];
        });
        let text = check(&stopped, "db2", "stale_slots");
        assert!(
            text.contains(
                "drop its own failover slots that db1 carries on, once the server runs: cdc"
            ),
            "{text}"
        );
    }

    #[test]
    fn slots_no_member_streams_through_are_dropped() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(server) = facts.server.as_mut() {
                server.slots = ["pgconverge_db2", "pgconverge_db9", "barman"]
                    .iter()
                    .map(|name| ReplicationSlot {
                        name: name.to_string(),
                        active: false,
                        wal_status: "reserved".into(),
                        retained_bytes: Some(32 * 1024 * 1024),
                    })
                    .collect();
            }
        });
        let text = check(&fixture, "db1", "stale_slots");
        assert!(
            text.contains("drop slots no member streams through: pgconverge_db9\n"),
            "{text}"
        );
        assert!(
            !text.contains("barman"),
            "a slot pgconverge did not make is left alone\n{text}"
        );
    }

    #[test]
    fn a_stopped_servers_slots_on_disk_are_dropped_once_it_runs() {
        // db2 stopped, with the slots it kept as a primary before a switchover.
        let fixture = Fixture::converged().edit("db2", |facts| {
            facts.server = None;
            facts.data_directory.slots_on_disk = vec!["pgconverge_db3".into(), "barman".into()];
        });
        let text = check(&fixture, "db2", "stale_slots");
        assert!(
            text.contains(
                "drop slots no member streams through, once the server runs: pgconverge_db3\n"
            ),
            "{text}"
        );
        assert!(!text.contains("barman"), "{text}");
        let none = Fixture::converged().edit("db2", |facts| facts.server = None);
        assert!(check(&none, "db2", "stale_slots").contains("the server does not run"));
    }
}
