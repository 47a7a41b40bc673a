//! Decommissioning a host that left the replication cluster (`apply --decommission
//! HOST`): its server is stopped and its data directory kept, and where the Debian
//! layout has a `start.conf` the cluster is set to `manual`, so it does not start
//! again on boot (`pg_ctlcluster` still starts it by hand). A stopped host with a
//! `manual` cluster plans nothing.
//!
//! These are not playbook steps: the planner adds them for the hosts the option
//! names, after every step of the remaining members, so that each member has
//! dropped the host's slot and access rules before it stops.

use super::file::WriteFile;
use super::service::ControlServer;
use super::{Change, PlannedStep};
use crate::facts::{FactsRequest, HostFacts};
use crate::inventory::HostSettings;
use crate::secret::Sensitive;

/// The id of the step that stops the server.
pub const STOP_STEP: &str = "decommission";
/// The id of the step that keeps the cluster from starting on boot.
pub const AUTOSTART_STEP: &str = "decommission_autostart";

/// Debian's per-cluster start configuration: `auto`, `manual` or `disabled`.
fn start_conf(settings: &HostSettings) -> String {
    format!("{}/start.conf", settings.config_dir.trim_end_matches('/'))
}

/// The facts the decision reads beyond the data directory and the server.
pub fn facts_needed(settings: &HostSettings, request: &mut FactsRequest) {
    request.want_file(&start_conf(settings));
}

/// The steps that decommission the host, in order: stop, then autostart off.
pub fn plan(host: &str, settings: &HostSettings, facts: &HostFacts) -> Vec<PlannedStep> {
    let mut steps = vec![stop(host, settings, facts)];
    steps.extend(autostart(settings, facts));
    steps
}

fn stop(host: &str, settings: &HostSettings, facts: &HostFacts) -> PlannedStep {
    let data_dir = &settings.data_dir;
    let step = |planned: PlannedStep| PlannedStep {
        id: STOP_STEP.to_string(),
        ..planned
    };
    if facts.is_running() {
        let operation = ControlServer::stop(settings);
        return step(PlannedStep::change(
            Change::Stop,
            format!(
                "stop PostgreSQL: {host} is no member of the replication cluster any more (--decommission); its data directory {data_dir} is kept"
            ),
            operation,
        ));
    }
    if !facts.data_directory.exists() {
        return step(PlannedStep::noop(format!(
            "no cluster in {data_dir}, nothing runs"
        )));
    }
    let mut planned = step(PlannedStep::noop(format!(
        "PostgreSQL is stopped; its data directory {data_dir} is kept"
    )));
    if facts.data_directory.postmaster_pid {
        // A server that is starting, or crashed and left its pid file: stopping
        // it could fail or stop nothing, so a person looks.
        planned.warnings.push(format!(
            "{data_dir}/postmaster.pid is there but the server does not answer ({}): look at the host",
            facts
                .server_error
                .as_deref()
                .and_then(|error| error.lines().next())
                .unwrap_or("no answer")
        ));
    }
    planned
}

/// The `start.conf` change, when the host has one (the Debian layout).
fn autostart(settings: &HostSettings, facts: &HostFacts) -> Option<PlannedStep> {
    let path = start_conf(settings);
    let observed = facts.file(&path)?;
    let text = String::from_utf8_lossy(&observed.content).into_owned();
    let step = |planned: PlannedStep| PlannedStep {
        id: AUTOSTART_STEP.to_string(),
        ..planned
    };
    // The first line that is not a comment or blank says it, as pg_ctlcluster reads it.
    let mode = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap_or("auto");
    if mode == "manual" || mode == "disabled" {
        return Some(step(PlannedStep::noop(format!(
            "{path} says {mode}: the cluster does not start on boot"
        ))));
    }
    let mut replaced = false;
    let mut content: String = text
        .lines()
        .map(|line| {
            if !replaced && line.trim() == mode {
                replaced = true;
                "manual".to_string()
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    if !replaced {
        content.push_str("\nmanual");
    }
    content.push('\n');
    let operation = WriteFile {
        path: path.clone(),
        content: Sensitive::new(content),
        owner: observed.attributes.owner.clone(),
        group: observed.attributes.group.clone(),
        mode: observed.attributes.mode,
        check: None,
        keep_as: None,
        server: settings.clone(),
    };
    Some(step(PlannedStep {
        details: vec![format!("~ {mode} → manual")],
        ..PlannedStep::change(
            Change::Update,
            format!(
                "update {path}: {mode} → manual, so the cluster does not start on boot (pg_ctlcluster still starts it)"
            ),
            operation,
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::desired::NodeId;
    use crate::plan::build::PlanOptions;
    use crate::plan::check::{Fixture, check};

    fn stopped(facts: &mut HostFacts) {
        facts.server = None;
        facts.server_error = Some("connection refused".into());
        facts.data_directory.postmaster_pid = false;
    }

    #[test]
    fn a_removed_host_is_stopped_after_the_members_forget_it() {
        let fixture = Fixture::removed_standby();
        // The stop itself is the service's operation (its parameters are pinned
        // by the service's tests): here, what the plan says and that it stops.
        let text = check(&fixture, "db3", STOP_STEP);
        assert!(
            text.starts_with("! decommission: stop PostgreSQL: db3 is no member of the replication cluster any more (--decommission); its data directory /var/lib/postgresql/15/main is kept\n")
                && text.contains("on db3: control_server.sh")
                && text.contains("SERVICE_ACTION=stop"),
            "{text}"
        );
        let autostart = check(&fixture, "db3", AUTOSTART_STEP);
        assert!(
            autostart.starts_with(
                "~ decommission_autostart: update /etc/postgresql/15/main/start.conf: auto → manual"
            ),
            "{autostart}"
        );
        let plan = fixture.plan();
        let text = anstream::adapter::strip_str(&crate::printer::plan_text(&plan)).to_string();
        assert!(
            text.contains("db3 (10.0.0.13, decommissioned: no member of the replication cluster)"),
            "{text}"
        );
        assert!(
            text.contains("drop slots no member streams through: pgconverge_db3"),
            "{text}"
        );
        // Names first: the stop waits for the members' slot and access rules.
        let waits_for = |step: &str| {
            plan.dependencies
                .iter()
                .find(|(node, _)| node == &NodeId::new("db3", STOP_STEP))
                .is_some_and(|(_, deps)| {
                    deps.iter().any(|dep| dep.host == "db1" && dep.step == step)
                })
        };
        assert!(waits_for("stale_slots") && waits_for("pg_hba_conf") && waits_for("pg_service"));
        let last = plan.order.iter().position(|node| node.host == "db3");
        let members_last = plan.order.iter().rposition(|node| node.host != "db3");
        assert!(last > members_last, "{:?}", plan.order);
    }

    #[test]
    fn a_stopped_decommissioned_host_plans_nothing() {
        let fixture = Fixture::removed_standby().edit("db3", |facts| {
            stopped(facts);
            facts.files.insert(
                "/etc/postgresql/15/main/start.conf".into(),
                crate::facts::ObservedFile {
                    attributes: crate::plan::check::attributes("postgres", 0o644),
                    content: b"# Automatic startup configuration\n\nmanual\n".to_vec(),
                },
            );
        });
        let plan = fixture.plan();
        let db3 = plan
            .host("db3")
            .map(|host| host.steps.clone())
            .unwrap_or_default();
        assert_eq!(db3.len(), 2);
        assert!(
            db3.iter().all(|step| step.change == Change::Noop),
            "{db3:?}"
        );
        assert_eq!(
            check(&fixture, "db3", STOP_STEP),
            "  decommission: PostgreSQL is stopped; its data directory /var/lib/postgresql/15/main is kept\n"
        );
    }

    #[test]
    fn without_start_conf_only_the_server_is_stopped() {
        let fixture = Fixture::removed_standby().edit("db3", |facts| {
            facts
                .files
                .shift_remove("/etc/postgresql/15/main/start.conf");
        });
        let plan = fixture.plan();
        let ids: Vec<String> = plan
            .host("db3")
            .map(|host| host.steps.iter().map(|step| step.id.clone()).collect())
            .unwrap_or_default();
        assert_eq!(ids, [STOP_STEP]);
    }

    #[test]
    fn a_plain_apply_never_touches_the_removed_host() {
        let fixture = Fixture::removed_standby().options(PlanOptions::default());
        let plan = fixture.plan();
        assert!(plan.host("db3").is_none());
        assert!(plan.order.iter().all(|node| node.host != "db3"));
    }

    #[test]
    fn a_server_that_does_not_answer_but_has_a_pid_file_is_named() {
        let fixture = Fixture::removed_standby().edit("db3", |facts| {
            stopped(facts);
            facts.data_directory.postmaster_pid = true;
            facts.server_error = Some("FATAL: the database system is starting up".into());
        });
        let stop = check(&fixture, "db3", STOP_STEP);
        assert!(
            stop.contains("warning: /var/lib/postgresql/15/main/postmaster.pid is there but the server does not answer (FATAL: the database system is starting up)"),
            "{stop}"
        );
    }
}
