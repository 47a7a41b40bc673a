//! The judgement of `pgconverge check`, pure over the status report, the facts and
//! the plan: every problem found, each with its state, and the cluster's state
//! (the worst of them) in the Nagios/Icinga convention.

use crate::facts::GatheredFacts;
use crate::plan::Plan;
use crate::status::{DisagreementKind, HostStatus, ObservedState, StatusReport};
use serde::Serialize;

/// A monitoring state, ordered from best to worst; its number is the exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum State {
    Ok,
    Warning,
    Unknown,
    Critical,
}

impl State {
    pub fn exit_code(self) -> u8 {
        match self {
            State::Ok => 0,
            State::Warning => 1,
            State::Critical => 2,
            State::Unknown => 3,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            State::Ok => "OK",
            State::Warning => "WARNING",
            State::Critical => "CRITICAL",
            State::Unknown => "UNKNOWN",
        }
    }
}

/// Lag a standby may have before the check warns or is critical: in bytes of WAL
/// not replayed, and in seconds since the last replayed commit while bytes remain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LagLimit {
    pub bytes: u64,
    pub seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Thresholds {
    pub warn_lag: LagLimit,
    pub crit_lag: LagLimit,
    /// WAL segments waiting to be archived (`.ready`) before the check warns.
    pub warn_ready_segments: u64,
    /// WAL an inactive slot may keep before the check warns.
    pub warn_slot_bytes: u64,
    /// Seconds since the last pgBackRest backup finished before the check is critical.
    pub max_backup_age: u64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        const MIB: u64 = 1024 * 1024;
        Thresholds {
            warn_lag: LagLimit {
                bytes: 16 * MIB,
                seconds: 60,
            },
            crit_lag: LagLimit {
                bytes: 256 * MIB,
                seconds: 300,
            },
            warn_ready_segments: 16,
            warn_slot_bytes: 1024 * MIB,
            // A daily backup, and two hours for it to run late.
            max_backup_age: 26 * 3600,
        }
    }
}

/// One thing the check found, on one host or on the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub state: State,
    pub host: Option<String>,
    pub message: String,
}

/// A number for graphs: `label=value[unit];warn;crit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measure {
    pub label: String,
    pub value: i64,
    pub unit: &'static str,
    pub warn: Option<u64>,
    pub crit: Option<u64>,
}

impl Measure {
    fn text(&self) -> String {
        let limit = |value: Option<u64>| value.map(|value| value.to_string()).unwrap_or_default();
        format!(
            "{}={}{};{};{}",
            self.label,
            self.value,
            self.unit,
            limit(self.warn),
            limit(self.crit)
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    pub state: State,
    /// The first line: state, then what is wrong (or that all is well), then the
    /// measures after `|`.
    pub summary: String,
    pub findings: Vec<Finding>,
    pub measures: Vec<Measure>,
}

/// Judges the cluster at `now` (seconds since the epoch). `plan` is the plan an
/// apply would run now (`None` when it could not be made).
pub fn evaluate(
    report: &StatusReport,
    facts: &GatheredFacts,
    plan: Option<&Plan>,
    thresholds: &Thresholds,
    now: i64,
) -> Health {
    let mut findings = Vec::new();
    for disagreement in &report.disagreements {
        let state = match disagreement.kind {
            DisagreementKind::WrongUpstream
            | DisagreementKind::ReplayPaused
            | DisagreementKind::NotSynchronous => State::Warning,
            _ => State::Critical,
        };
        findings.push(Finding {
            state,
            host: disagreement.hosts.first().cloned(),
            message: disagreement.message.clone(),
        });
    }
    // A note (md5 passwords and rules) is no disagreement, but the server warns
    // of it at each login and a later major refuses it: a warning.
    for note in &report.notes {
        findings.push(Finding {
            state: State::Warning,
            host: note.hosts.first().cloned(),
            message: note.message.clone(),
        });
    }
    let mut measures = Vec::new();
    for host in &report.hosts {
        host_findings(host, facts, thresholds, &mut findings, &mut measures);
    }
    failover_slot_findings(report, facts, &mut findings);
    for (host, host_facts) in facts {
        if let Ok(host_facts) = host_facts
            && let Some(pgbackrest) = &host_facts.pgbackrest
        {
            backup_findings(
                host,
                pgbackrest,
                thresholds,
                now,
                &mut findings,
                &mut measures,
            );
        }
    }
    match plan {
        Some(plan) if plan.blocked.is_none() => {
            let changes = plan.summary().changes();
            if changes > 0 {
                let hosts: Vec<&str> = plan
                    .hosts
                    .iter()
                    .filter(|host| host.steps.iter().any(|step| step.change.is_change()))
                    .map(|host| host.name.as_str())
                    .collect();
                findings.push(Finding {
                    state: State::Warning,
                    host: None,
                    message: format!(
                        "configuration drift: {changes} change{} pending on {} (`pgconverge apply --dry-run` shows them)",
                        if changes == 1 { "" } else { "s" },
                        hosts.join(", ")
                    ),
                });
            }
        }
        // A blocked plan is a split brain the disagreements already name.
        Some(_) => {}
        None => findings.push(Finding {
            state: State::Unknown,
            host: None,
            message: "configuration drift unknown: no plan could be made".to_string(),
        }),
    }
    let state = findings
        .iter()
        .map(|finding| finding.state)
        .max()
        .unwrap_or(State::Ok);
    let summary = summary(report, &findings, &measures, state);
    Health {
        state,
        summary,
        findings,
        measures,
    }
}

fn host_findings(
    host: &HostStatus,
    facts: &GatheredFacts,
    thresholds: &Thresholds,
    findings: &mut Vec<Finding>,
    measures: &mut Vec<Measure>,
) {
    let mut found = |state: State, message: String| {
        findings.push(Finding {
            state,
            host: Some(host.name.clone()),
            message,
        })
    };
    if host.state == ObservedState::Standby {
        let bytes = host.replay_lag_bytes.unwrap_or(0).max(0) as u64;
        let seconds = host
            .replay_lag_seconds
            .filter(|_| bytes > 0)
            .unwrap_or(0)
            .max(0) as u64;
        let over = |limit: LagLimit| bytes >= limit.bytes || seconds >= limit.seconds;
        let state = if over(thresholds.crit_lag) {
            State::Critical
        } else if over(thresholds.warn_lag) {
            State::Warning
        } else {
            State::Ok
        };
        if state != State::Ok {
            found(
                state,
                format!(
                    "{} replays {bytes} bytes ({seconds} s) behind its upstream (warning at {} bytes or {} s, critical at {} bytes or {} s)",
                    host.name,
                    thresholds.warn_lag.bytes,
                    thresholds.warn_lag.seconds,
                    thresholds.crit_lag.bytes,
                    thresholds.crit_lag.seconds
                ),
            );
        }
        measures.push(Measure {
            label: format!("{}_lag", host.name),
            value: bytes as i64,
            unit: "B",
            warn: Some(thresholds.warn_lag.bytes),
            crit: Some(thresholds.crit_lag.bytes),
        });
        measures.push(Measure {
            label: format!("{}_lag_seconds", host.name),
            value: seconds as i64,
            unit: "s",
            warn: Some(thresholds.warn_lag.seconds),
            crit: Some(thresholds.crit_lag.seconds),
        });
    }
    let Some(host_facts) = facts.get(&host.name).and_then(|facts| facts.as_ref().ok()) else {
        return;
    };
    if let Some(ready) = host_facts.data_directory.wal_ready_segments
        && host.state == ObservedState::Primary
    {
        if ready >= thresholds.warn_ready_segments {
            found(
                State::Warning,
                format!(
                    "{} has {ready} WAL segments waiting to be archived (warning at {})",
                    host.name, thresholds.warn_ready_segments
                ),
            );
        }
        measures.push(Measure {
            label: format!("{}_archive_ready", host.name),
            value: ready as i64,
            unit: "",
            warn: Some(thresholds.warn_ready_segments),
            crit: None,
        });
    }
    let Some(server) = host_facts.server.as_ref() else {
        return;
    };
    for slot in &server.slots {
        let retained = slot.retained_bytes.unwrap_or(0).max(0) as u64;
        if slot.lost() {
            found(
                State::Critical,
                format!(
                    "slot {} on {} lost WAL its standby needs: `pgconverge apply` clones it again",
                    slot.name, host.name
                ),
            );
        } else if !slot.active && retained >= thresholds.warn_slot_bytes {
            found(
                State::Warning,
                format!(
                    "inactive slot {} on {} keeps {retained} bytes of WAL (warning at {})",
                    slot.name, host.name, thresholds.warn_slot_bytes
                ),
            );
        }
    }
    let pending = server.settings_pending_restart();
    if !pending.is_empty() {
        found(
            State::Warning,
            format!(
                "{} waits for a restart to apply {} (`pgconverge restart --pending`)",
                host.name,
                pending.join(", ")
            ),
        );
    }
}

/// The primary's failover slots that a standby syncing slots has no ready copy
/// of: promoting that standby would leave their consumers without a slot.
fn failover_slot_findings(
    report: &StatusReport,
    facts: &GatheredFacts,
    findings: &mut Vec<Finding>,
) {
    let server_of = |name: &str| {
        facts
            .get(name)
            .and_then(|facts| facts.as_ref().ok())
            .and_then(|facts| facts.server.as_ref())
    };
    let primary_slots: Vec<&str> = report
        .hosts
        .iter()
        .filter(|host| host.state == ObservedState::Primary)
        .filter_map(|host| server_of(&host.name))
        .filter(|server| !server.in_recovery)
        // `synced` means nothing on a primary: a promoted standby's copies keep it.
        .flat_map(|server| server.failover_slots.iter())
        .map(|slot| slot.name.as_str())
        .collect();
    if primary_slots.is_empty() {
        return;
    }
    for host in report
        .hosts
        .iter()
        .filter(|host| host.state == ObservedState::Standby)
    {
        let Some(server) = server_of(&host.name) else {
            continue;
        };
        let syncs = server
            .settings
            .get("sync_replication_slots")
            .is_some_and(|setting| setting.value == "on");
        if !syncs {
            continue;
        }
        let missing: Vec<&str> = primary_slots
            .iter()
            .copied()
            .filter(|name| {
                !server
                    .failover_slots
                    .iter()
                    .any(|copy| copy.name == *name && copy.ready())
            })
            .collect();
        if !missing.is_empty() {
            findings.push(Finding {
                state: State::Warning,
                host: Some(host.name.clone()),
                message: format!(
                    "{} has no ready copy of the failover slot{} {}: promoting it would leave {} consumer without a slot",
                    host.name,
                    if missing.len() == 1 { "" } else { "s" },
                    missing.join(", "),
                    if missing.len() == 1 { "its" } else { "their" }
                ),
            });
        }
    }
}

/// The repository's state and the age of its last backup, where it is looked after.
fn backup_findings(
    host: &str,
    pgbackrest: &crate::facts::pgbackrest::PgbackrestFacts,
    thresholds: &Thresholds,
    now: i64,
    findings: &mut Vec<Finding>,
    measures: &mut Vec<Measure>,
) {
    let mut found = |state: State, message: String| {
        findings.push(Finding {
            state,
            host: Some(host.to_string()),
            message,
        })
    };
    match pgbackrest.status_code {
        _ if !pgbackrest.installed => {
            return found(
                State::Critical,
                format!("pgBackRest is not installed on {host}: no backup can be taken"),
            );
        }
        None => {
            return found(
                State::Unknown,
                format!(
                    "pgbackrest info failed on {host}: {}",
                    pgbackrest.error.as_deref().unwrap_or("no answer")
                ),
            );
        }
        Some(0) => {}
        Some(2) => {
            return found(
                State::Critical,
                format!("the repository on {host} has no backup"),
            );
        }
        Some(code) => {
            return found(
                State::Critical,
                format!(
                    "pgBackRest's stanza on {host} is not ok: {} (code {code})",
                    pgbackrest.status_message
                ),
            );
        }
    }
    let Some(last) = pgbackrest.last_backup() else {
        return found(
            State::Critical,
            format!("the repository on {host} has no backup"),
        );
    };
    let age = (now - last.finished).max(0) as u64;
    if age > thresholds.max_backup_age {
        found(
            State::Critical,
            format!(
                "the last backup on {host} ({} {}) finished {} h ago (--max-backup-age {} h)",
                last.kind,
                last.label,
                age / 3600,
                thresholds.max_backup_age / 3600
            ),
        );
    }
    measures.push(Measure {
        label: "backup_age".to_string(),
        value: age as i64,
        unit: "s",
        warn: None,
        crit: Some(thresholds.max_backup_age),
    });
}

fn summary(
    report: &StatusReport,
    findings: &[Finding],
    measures: &[Measure],
    state: State,
) -> String {
    let text = if findings.is_empty() {
        let primaries = report
            .hosts
            .iter()
            .filter(|host| host.state == ObservedState::Primary)
            .map(|host| host.name.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        let standbys = report
            .hosts
            .iter()
            .filter(|host| host.state == ObservedState::Standby)
            .count();
        format!(
            "{} hosts as the inventory says: primary {primaries}, {standbys} standbys streaming",
            report.hosts.len()
        )
    } else {
        let mut worst: Vec<&Finding> = findings.iter().collect();
        worst.sort_by_key(|finding| std::cmp::Reverse(finding.state));
        worst
            .iter()
            .map(|finding| finding.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    };
    let perfdata = measures
        .iter()
        .map(Measure::text)
        .collect::<Vec<_>>()
        .join(" ");
    let line = format!("PGCONVERGE {} - {text}", state.name());
    if perfdata.is_empty() {
        line
    } else {
        format!("{line} | {perfdata}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::check::{
        MIB, THREE_HOSTS, client, desired, facts, healthy, primary, standby, stopped,
    };
    use crate::status::report;

    const NOW: i64 = 1_800_000_000;

    fn judge(facts: &GatheredFacts) -> Health {
        let desired = desired(THREE_HOSTS);
        let report = report(&desired, facts);
        let plan = Plan {
            hosts: Vec::new(),
            blocked: None,
            order: Vec::new(),
            dependencies: Vec::new(),
            ordering_only: Vec::new(),
            handover: None,
        };
        evaluate(&report, facts, Some(&plan), &Thresholds::default(), NOW)
    }

    #[test]
    fn a_healthy_cluster_is_ok_with_its_measures() {
        let health = judge(&healthy());
        assert_eq!(health.state, State::Ok, "{health:?}");
        assert_eq!(
            health.summary,
            "PGCONVERGE OK - 3 hosts as the inventory says: primary db1, 2 standbys streaming | db2_lag=0B;16777216;268435456 db2_lag_seconds=0s;60;300 db3_lag=0B;16777216;268435456 db3_lag_seconds=0s;60;300"
        );
    }

    #[test]
    fn a_stopped_standby_is_critical_and_named_first() {
        let health = judge(&facts(vec![
            (
                "db1",
                Ok(primary(
                    1,
                    "0/5000060",
                    vec![client("db3", "10.0.0.13", Some(0))],
                )),
            ),
            ("db2", Ok(stopped())),
            (
                "db3",
                Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
            ),
        ]));
        assert_eq!(health.state, State::Critical);
        assert_eq!(health.state.exit_code(), 2);
        assert!(
            health
                .summary
                .starts_with("PGCONVERGE CRITICAL - db2 is stopped"),
            "{}",
            health.summary
        );
    }

    #[test]
    fn lag_warns_then_is_critical() {
        let lagging = |bytes: i64| {
            let mut db2 = standby(Some("10.0.0.11"), "0/5000060", "0/5000060");
            if let Some(server) = db2.server.as_mut() {
                server.replay_lag_seconds = Some(5);
            }
            facts(vec![
                (
                    "db1",
                    Ok(primary(
                        1,
                        "0/5000060",
                        vec![
                            client("db2", "10.0.0.12", Some(bytes)),
                            client("db3", "10.0.0.13", Some(0)),
                        ],
                    )),
                ),
                ("db2", Ok(db2)),
                (
                    "db3",
                    Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
                ),
            ])
        };
        assert_eq!(judge(&lagging(MIB)).state, State::Ok);
        let warned = judge(&lagging(20 * MIB));
        assert_eq!(warned.state, State::Warning);
        assert!(
            warned
                .summary
                .contains("db2 replays 20971520 bytes (5 s) behind its upstream"),
            "{}",
            warned.summary
        );
        assert_eq!(judge(&lagging(300 * MIB)).state, State::Critical);
    }

    #[test]
    fn pending_restarts_and_lost_slots_are_found() {
        let mut cluster = healthy();
        if let Some(Ok(db1)) = cluster.get_mut("db1")
            && let Some(server) = db1.server.as_mut()
        {
            server.settings.insert(
                "shared_buffers".into(),
                crate::facts::ObservedSetting {
                    context: "postmaster".into(),
                    pending_restart: true,
                    value: "16384".into(),
                    unit: "8kB".into(),
                    vartype: "integer".into(),
                    source: "configuration file".into(),
                    source_file: String::new(),
                    default_value: "1024".into(),
                },
            );
            server.slots.push(crate::facts::ReplicationSlot {
                name: "pgconverge_db9".into(),
                active: false,
                wal_status: "lost".into(),
                retained_bytes: None,
            });
        }
        let health = judge(&cluster);
        assert_eq!(health.state, State::Critical);
        let messages: Vec<&str> = health
            .findings
            .iter()
            .map(|finding| finding.message.as_str())
            .collect();
        assert!(
            messages.contains(&"slot pgconverge_db9 on db1 lost WAL its standby needs: `pgconverge apply` clones it again")
                && messages.contains(&"db1 waits for a restart to apply shared_buffers (`pgconverge restart --pending`)"),
            "{messages:?}"
        );
    }

    #[test]
    fn a_failover_slot_without_a_ready_copy_on_a_syncing_standby_is_a_warning() {
        let slot = crate::facts::FailoverSlot::example;
        let mut cluster = healthy();
        for (name, host) in cluster.iter_mut() {
            let Ok(host) = host else { continue };
            let Some(server) = host.server.as_mut() else {
                continue;
            };
            match name.as_str() {
                "db1" => server.failover_slots = vec![slot("cdc", false, false)],
                "db2" => server.failover_slots = vec![slot("cdc", true, true)],
                _ => server.failover_slots = vec![slot("cdc", true, false)],
            }
            if name != "db1" {
                server.settings.insert(
                    "sync_replication_slots".into(),
                    crate::plan::check::setting("sighup", "on", "", "bool"),
                );
            }
        }
        let health = judge(&cluster);
        assert_eq!(health.state, State::Warning, "{:?}", health.findings);
        let slots: Vec<&Finding> = health
            .findings
            .iter()
            .filter(|finding| finding.message.contains("failover slot"))
            .collect();
        assert_eq!(slots.len(), 1, "{:?}", health.findings);
        assert_eq!(
            slots[0].message,
            "db2 has no ready copy of the failover slot cdc: promoting it would leave its consumer without a slot"
        );
    }

    #[test]
    fn an_md5_password_is_a_warning() {
        let mut cluster = healthy();
        for host in cluster.values_mut() {
            if let Ok(host) = host
                && let Some(server) = host.server.as_mut()
            {
                server.md5_roles = vec!["legacy_app".into()];
            }
        }
        let health = judge(&cluster);
        assert_eq!(health.state, State::Warning);
        let md5: Vec<&Finding> = health
            .findings
            .iter()
            .filter(|finding| finding.message.contains("md5"))
            .collect();
        assert_eq!(md5.len(), 1, "{:?}", health.findings);
        assert_eq!(md5[0].host.as_deref(), Some("db1"));
        assert!(
            md5[0].message.starts_with(
                "db1: roles with an md5 password: legacy_app: PostgreSQL 18 deprecates md5"
            ),
            "{}",
            md5[0].message
        );
        assert!(
            health.summary.starts_with("PGCONVERGE WARNING"),
            "{}",
            health.summary
        );
    }

    /// The document `check --format json` prints, for clusters healthy, lagging,
    /// with a stopped standby, an unreachable host, pending restarts and lost
    /// slots, md5 and a backup: each matches `docs/schemas/check.schema.json`.
    #[test]
    fn every_check_document_matches_its_schema() {
        let mut troubled = healthy();
        if let Some(Ok(db1)) = troubled.get_mut("db1")
            && let Some(server) = db1.server.as_mut()
        {
            server.md5_roles = vec!["legacy_app".into()];
            server.slots.push(crate::facts::ReplicationSlot {
                name: "pgconverge_db9".into(),
                active: false,
                wal_status: "lost".into(),
                retained_bytes: None,
            });
            db1.data_directory.wal_ready_segments = Some(40);
            db1.pgbackrest = Some(crate::facts::pgbackrest::PgbackrestFacts::parse(
                "main",
                &format!(
                    r#"[{{"name":"main","status":{{"code":0,"message":"ok"}},"backup":[{{"label":"L1F","type":"full","timestamp":{{"start":{},"stop":{}}}}}]}}]"#,
                    NOW - 3660,
                    NOW - 3600
                ),
            ));
        }
        let unreachable = facts(vec![
            (
                "db1",
                Ok(primary(
                    1,
                    "0/5000060",
                    vec![client("db2", "10.0.0.12", Some(300 * MIB))],
                )),
            ),
            (
                "db2",
                Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
            ),
            (
                "db3",
                Err("ssh: connect to host: Connection refused".into()),
            ),
        ]);
        let stopped_standby = facts(vec![
            ("db1", Ok(primary(1, "0/5000060", Vec::new()))),
            ("db2", Ok(stopped())),
            (
                "db3",
                Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
            ),
        ]);
        let mut md5 = healthy();
        if let Some(Ok(db1)) = md5.get_mut("db1")
            && let Some(server) = db1.server.as_mut()
        {
            server.md5_roles = vec!["legacy_app".into()];
        }
        let mut states = Vec::new();
        for (name, cluster) in [
            ("healthy", healthy()),
            ("md5", md5),
            ("troubled", troubled),
            ("unreachable", unreachable),
            ("stopped standby", stopped_standby),
        ] {
            let health = judge(&cluster);
            states.push(health.state);
            let round_trips = cluster
                .iter()
                .map(|(host, facts)| (host.clone(), usize::from(facts.is_ok())))
                .collect();
            let value = serde_json::json!(crate::health::Document::new(&health, round_trips));
            let problems = crate::plan::check::schema_problems("check", &value);
            assert!(problems.is_empty(), "{name}: {problems:#?}\n{value:#}");
        }
        assert!(
            states.contains(&State::Ok)
                && states.contains(&State::Warning)
                && states.contains(&State::Critical),
            "{states:?}"
        );
        // A summary that says another state than the document does not match.
        let health = judge(&healthy());
        let mut value =
            serde_json::json!(crate::health::Document::new(&health, Default::default()));
        value["state"] = "WARNING".into();
        assert!(!crate::plan::check::schema_problems("check", &value).is_empty());
    }

    #[test]
    fn the_last_backup_must_be_younger_than_the_limit() {
        let with_backup = |finished: i64| {
            let mut cluster = healthy();
            if let Some(Ok(db1)) = cluster.get_mut("db1") {
                db1.pgbackrest = Some(crate::facts::pgbackrest::PgbackrestFacts::parse(
                    "main",
                    &format!(
                        r#"[{{"name":"main","status":{{"code":0,"message":"ok"}},"backup":[{{"label":"L1F","type":"full","timestamp":{{"start":{},"stop":{finished}}}}}]}}]"#,
                        finished - 60
                    ),
                ));
            }
            judge(&cluster)
        };
        let fresh = with_backup(NOW - 3600);
        assert_eq!(fresh.state, State::Ok, "{fresh:?}");
        assert!(
            fresh.summary.contains("backup_age=3600s;;93600"),
            "{}",
            fresh.summary
        );
        let stale = with_backup(NOW - 30 * 3600);
        assert_eq!(stale.state, State::Critical);
        assert!(
            stale.summary.contains(
                "the last backup on db1 (full L1F) finished 30 h ago (--max-backup-age 26 h)"
            ),
            "{}",
            stale.summary
        );
    }
}
