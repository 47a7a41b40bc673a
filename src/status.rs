//! The `status` operation: what each host of the cluster is doing now (role,
//! upstream, timeline, WAL position, replay lag), read in one SSH round trip per
//! host, and every way it disagrees with the inventory. It changes nothing.
//!
//! `report` is pure (desired state × facts in, `StatusReport` out), so every
//! situation is tested with fake facts; `status` adds the IO at the edge: load,
//! gather, print.
//!
//! The JSON document (`--format json`) is the `StatusReport` itself:
//! `format_version` (bumped whenever a field changes meaning or disappears),
//! `pgconverge_version`, `hosts` in inventory order and `disagreements`, each
//! with a `kind`, the `hosts` it concerns and a `message` to act on.

use crate::desired::{DesiredHost, DesiredState};
use crate::diagnostic::Diagnostics;
use crate::facts::GatheredFacts;
use crate::facts::{Archiver, HostFacts, Lsn, ReplicationClient, ServerFacts};
use crate::gather;
use crate::inventory::ReplicationMode;
use crate::inventory::Role;
use crate::load::{OutputFormat, load};
use crate::printer::Printer;
use crate::secret::Redactor;
use crate::transport::SshOptions;
use anstyle::{AnsiColor, Style};
use serde::Serialize;
use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

/// Bumped whenever a field of the status document changes meaning or disappears;
/// adding a field is not a change.
pub const FORMAT_VERSION: u32 = 1;

const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const RED: Style = AnsiColor::Red.on_default();
const BOLD: Style = Style::new().bold();

/// The WAL receiver status of a standby that receives WAL from its upstream.
const STREAMING: &str = "streaming";

#[derive(Debug, Clone, Default)]
pub struct StatusOptions {
    pub inventory: PathBuf,
    pub playbook: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    /// `Json` prints the status document on stdout; progress stays on stderr.
    pub format: OutputFormat,
    pub ssh: SshOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    #[error("{0}")]
    Input(#[from] Diagnostics),
}

/// What a host was seen doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ObservedState {
    /// The server runs and is not in recovery: it accepts writes.
    Primary,
    /// The server runs in recovery.
    Standby,
    /// The host answered but its server does not accept connections.
    Stopped,
    /// The host could not be contacted or its facts could not be read.
    Unreachable,
}

impl fmt::Display for ObservedState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ObservedState::Primary => "primary",
            ObservedState::Standby => "standby",
            ObservedState::Stopped => "stopped",
            ObservedState::Unreachable => "unreachable",
        })
    }
}

/// One host: what the inventory says and what was seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HostStatus {
    pub name: String,
    pub address: String,
    /// `primary` or `standby`, as the inventory has it.
    pub inventory_role: String,
    pub inventory_upstream: Option<String>,
    pub state: ObservedState,
    /// Why the host is unreachable, or why its server does not accept connections.
    pub error: Option<String>,
    /// `None` when the server does not run.
    pub in_recovery: Option<bool>,
    /// The inventory host the WAL receiver streams from, when the sender is one.
    pub upstream: Option<String>,
    /// The sender as the WAL receiver reports it.
    pub sender_host: Option<String>,
    pub sender_port: Option<u16>,
    /// The WAL receiver's status (`streaming`, `waiting`, ...); `None` without one.
    pub wal_receiver: Option<String>,
    /// On a standby the timeline its receiver streams, else the latest checkpoint's.
    pub timeline: Option<u32>,
    /// The WAL position reached: written on a primary, received on a standby.
    pub position: Option<String>,
    /// On a standby, the WAL position replayed.
    pub replay_position: Option<String>,
    /// On a standby, the bytes of WAL it has yet to replay: as its upstream reports
    /// it when the upstream lists it among its replication clients, else received
    /// minus replayed on the standby itself.
    pub replay_lag_bytes: Option<i64>,
    /// On a standby, seconds since the last replayed transaction committed. It
    /// grows on an idle cluster too, so it is lag only while bytes remain.
    pub replay_lag_seconds: Option<i64>,
    pub replay_paused: bool,
    pub system_identifier: Option<String>,
    /// `pg_controldata`'s cluster state (`in production`, `shut down`, ...).
    pub cluster_state: Option<String>,
    /// The standbys streaming from this host, as it reports them.
    pub replication_clients: Vec<ReplicationClient>,
    /// `pg_stat_archiver` of a running primary.
    pub archiver: Option<Archiver>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DisagreementKind {
    /// Two or more hosts accept writes.
    SplitBrain,
    /// A host the inventory calls standby accepts writes.
    StandbyAcceptsWrites,
    /// A host the inventory calls primary runs in recovery.
    PrimaryInRecovery,
    /// The inventory's primary is stopped or unreachable.
    PrimaryDown,
    /// A standby could not be contacted, so its state is unknown.
    Unreachable,
    /// A standby streams from another host than its inventory upstream.
    WrongUpstream,
    /// A standby does not stream (stopped, or no streaming WAL receiver).
    NotStreaming,
    ArchiveFailing,
    /// WAL replay is paused on a standby.
    ReplayPaused,
}

/// One way the cluster differs from the inventory, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Disagreement {
    pub kind: DisagreementKind,
    pub hosts: Vec<String>,
    pub message: String,
}

/// The status of every host and every disagreement with the inventory; as JSON,
/// the versioned document `status --format json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusReport {
    pub format_version: u32,
    pub pgconverge_version: String,
    pub hosts: Vec<HostStatus>,
    pub disagreements: Vec<Disagreement>,
}

impl StatusReport {
    pub fn agrees(&self) -> bool {
        self.disagreements.is_empty()
    }
}

/// Loads the inventory, reads every host once, prints the status in the format
/// asked for, and returns the report (its disagreements decide the exit code).
pub async fn status(
    options: &StatusOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<StatusReport, StatusError> {
    let loaded = load(
        &options.inventory,
        options.playbook.as_deref(),
        options.templates.as_deref(),
    )?;
    let printer = printer_for(Redactor::new(loaded.desired.secrets.clone()));
    let hosts = gather::hosts_to_contact(&loaded.desired, &[]);
    let started = Instant::now();
    let gathered = gather::gather(&loaded.desired, &hosts, &options.ssh).await;
    printer.err(&format!(
        "Gathered facts from {} of {} hosts in {:.2} s.",
        gathered.connections.len(),
        hosts.len(),
        started.elapsed().as_secs_f64()
    ));
    let status_report = report(&loaded.desired, &gathered.facts);
    gathered.close().await;
    match options.format {
        OutputFormat::Human => {
            for line in text(&status_report).lines() {
                printer.out(line);
            }
        }
        OutputFormat::Json => printer.json(&status_report),
    }
    Ok(status_report)
}

/// The status of every host of `desired`, in inventory order, and every
/// disagreement with the inventory. Pure.
pub fn report(desired: &DesiredState, facts: &GatheredFacts) -> StatusReport {
    let hosts: Vec<HostStatus> = desired
        .hosts
        .values()
        .map(|host| host_status(desired, facts, host))
        .collect();
    let disagreements = disagreements(desired, facts, &hosts);
    StatusReport {
        format_version: FORMAT_VERSION,
        pgconverge_version: env!("CARGO_PKG_VERSION").to_string(),
        hosts,
        disagreements,
    }
}

fn facts_of<'a>(facts: &'a GatheredFacts, host: &str) -> Option<&'a HostFacts> {
    facts.get(host).and_then(|result| result.as_ref().ok())
}

fn server_of<'a>(facts: &'a GatheredFacts, host: &str) -> Option<&'a ServerFacts> {
    facts_of(facts, host).and_then(|facts| facts.server.as_ref())
}

fn host_status(desired: &DesiredState, facts: &GatheredFacts, host: &DesiredHost) -> HostStatus {
    let mut status = HostStatus {
        name: host.name.clone(),
        address: host.address.clone(),
        inventory_role: role_name(host.role).to_string(),
        inventory_upstream: host.upstream.clone(),
        state: ObservedState::Unreachable,
        error: None,
        in_recovery: None,
        upstream: None,
        sender_host: None,
        sender_port: None,
        wal_receiver: None,
        timeline: None,
        position: None,
        replay_position: None,
        replay_lag_bytes: None,
        replay_lag_seconds: None,
        replay_paused: false,
        system_identifier: None,
        cluster_state: None,
        replication_clients: Vec::new(),
        archiver: None,
    };
    let host_facts = match facts.get(&host.name) {
        Some(Ok(host_facts)) => host_facts,
        Some(Err(error)) => {
            status.error = Some(one_line(error));
            return status;
        }
        None => {
            status.error = Some("its facts were not gathered".to_string());
            return status;
        }
    };
    let data = &host_facts.data_directory;
    status.system_identifier = data.system_identifier.clone();
    status.cluster_state = data.cluster_state.clone();
    status.timeline = data.timeline;
    let Some(server) = &host_facts.server else {
        status.state = ObservedState::Stopped;
        status.error = host_facts.server_error.as_deref().map(one_line);
        return status;
    };
    status.in_recovery = Some(server.in_recovery);
    status.position = server.position.map(|lsn| lsn.to_string());
    status.replication_clients = server.replication_clients.clone();
    if !server.in_recovery {
        status.state = ObservedState::Primary;
        status.archiver = server.archiver.clone();
        return status;
    }
    status.state = ObservedState::Standby;
    status.replay_position = server.replay_position.map(|lsn| lsn.to_string());
    status.replay_paused = server.replay_paused;
    status.replay_lag_seconds = server.replay_lag_seconds;
    if let Some(receiver) = &server.wal_receiver {
        status.wal_receiver = Some(receiver.status.clone());
        status.timeline = receiver.timeline.or(status.timeline);
        if !receiver.sender_host.is_empty() {
            status.sender_host = Some(receiver.sender_host.clone());
            status.sender_port = receiver.sender_port;
            status.upstream =
                inventory_host_at(desired, &receiver.sender_host, receiver.sender_port)
                    .map(str::to_string);
        }
    }
    // The upstream's view counts what the standby has not even received yet;
    // the standby's own view is the fallback when the upstream does not list it.
    let upstream_view = status
        .upstream
        .as_deref()
        .and_then(|upstream| client_entry(facts, upstream, &host.name))
        .and_then(|client| client.replay_lag_bytes);
    status.replay_lag_bytes = upstream_view.or_else(|| own_lag_bytes(server));
    status
}

/// Received minus replayed, on the standby itself.
fn own_lag_bytes(server: &ServerFacts) -> Option<i64> {
    let (Some(Lsn(received)), Some(Lsn(replayed))) = (server.position, server.replay_position)
    else {
        return None;
    };
    i64::try_from(received.saturating_sub(replayed)).ok()
}

/// The replication client `standby` as `upstream` reports it: standbys connect
/// with their inventory name as `application_name`.
fn client_entry<'a>(
    facts: &'a GatheredFacts,
    upstream: &str,
    standby: &str,
) -> Option<&'a ReplicationClient> {
    server_of(facts, upstream)?
        .replication_clients
        .iter()
        .find(|client| client.application_name == standby)
}

/// The inventory host a WAL receiver's sender names: the one whose
/// `replication_host` or address is `sender_host`, preferring one whose port
/// matches too.
fn inventory_host_at<'a>(
    desired: &'a DesiredState,
    sender_host: &str,
    sender_port: Option<u16>,
) -> Option<&'a str> {
    let candidates: Vec<&DesiredHost> = desired
        .hosts
        .values()
        .filter(|host| host.settings.replication_host == sender_host || host.address == sender_host)
        .collect();
    candidates
        .iter()
        .find(|host| sender_port == Some(host.settings.port))
        .or(candidates.first())
        .map(|host| host.name.as_str())
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Primary => "primary",
        Role::Standby => "standby",
        Role::Archive => "archive",
    }
}

fn disagreements(
    desired: &DesiredState,
    facts: &GatheredFacts,
    hosts: &[HostStatus],
) -> Vec<Disagreement> {
    let mut found = Vec::new();
    // An archive host may run a PostgreSQL of its own: only members count.
    let writable: Vec<&str> = hosts
        .iter()
        .filter(|host| host.state == ObservedState::Primary && host.inventory_role != "archive")
        .map(|host| host.name.as_str())
        .collect();
    let inventory_primaries: Vec<&str> = desired
        .hosts
        .values()
        .filter(|host| host.role == Role::Primary)
        .map(|host| host.name.as_str())
        .collect();
    if writable.len() > 1 {
        found.push(Disagreement {
            kind: DisagreementKind::SplitBrain,
            hosts: writable.iter().map(|name| name.to_string()).collect(),
            message: format!(
                "split brain: {} accept writes at the same time; let applications write to one of them only (the inventory's primary is {}), then make the others standbys again",
                names(&writable),
                names(&inventory_primaries)
            ),
        });
    }
    for (host, status) in desired.hosts.values().zip(hosts) {
        match host.role {
            Role::Primary => primary_disagreements(host, status, &writable, &mut found),
            Role::Standby => standby_disagreements(host, status, facts, &mut found),
            Role::Archive => {}
        }
        if let Some(archiver) = status
            .archiver
            .as_ref()
            .filter(|archiver| archiver.failing())
        {
            found.push(Disagreement {
                kind: DisagreementKind::ArchiveFailing,
                hosts: vec![host.name.clone()],
                message: format!(
                    "archiving fails on {}: the last attempt ({}) failed, {} failures in all; the server log has the archive command's error, and `pgconverge apply` verifies the archive once it is fixed",
                    host.name, archiver.last_failed_wal, archiver.failed_count
                ),
            });
        }
        if status.replay_paused {
            found.push(Disagreement {
                kind: DisagreementKind::ReplayPaused,
                hosts: vec![host.name.clone()],
                message: format!(
                    "replay is paused on {}, so it falls behind: resume it with `select {}();` on {}",
                    host.name,
                    if host.settings.pg_version.0 >= 1000 {
                        "pg_wal_replay_resume"
                    } else {
                        "pg_xlog_replay_resume"
                    },
                    host.name
                ),
            });
        }
    }
    found
}

fn primary_disagreements(
    host: &DesiredHost,
    status: &HostStatus,
    writable: &[&str],
    found: &mut Vec<Disagreement>,
) {
    let name = &host.name;
    let others: Vec<&str> = writable
        .iter()
        .copied()
        .filter(|other| other != name)
        .collect();
    let down = |what: String| {
        let mut message = if others.is_empty() {
            match status.state {
                ObservedState::Unreachable => format!("{what}: check the host and its SSH access"),
                _ if status.system_identifier.is_none() => {
                    format!("{what}: `pgconverge apply` creates and starts it")
                }
                _ => format!("{what}: start it with `pgconverge apply`"),
            }
        } else {
            format!(
                "{what} while {} {} writes: do not start {name} as a primary; if {} is the primary now, make it the primary in the inventory",
                names(&others),
                if others.len() == 1 {
                    "accepts"
                } else {
                    "accept"
                },
                names(&others)
            )
        };
        if status.state == ObservedState::Unreachable {
            message.push_str(&format!(
                "; the error was: {}",
                status.error.as_deref().unwrap_or("none given")
            ));
        }
        Disagreement {
            kind: DisagreementKind::PrimaryDown,
            hosts: vec![name.clone()],
            message,
        }
    };
    match status.state {
        ObservedState::Primary => {}
        ObservedState::Unreachable => found.push(down(format!(
            "{name}, the inventory's primary, is unreachable"
        ))),
        ObservedState::Stopped => found.push(down(format!(
            "{name}, the inventory's primary, {}",
            stopped_reason(host, status)
        ))),
        ObservedState::Standby => found.push(Disagreement {
            kind: DisagreementKind::PrimaryInRecovery,
            hosts: vec![name.clone()],
            message: format!(
                "{name} runs in recovery{} although the inventory makes it the primary: if another host is the primary now, make it the primary in the inventory",
                status
                    .upstream
                    .as_deref()
                    .or(status.sender_host.as_deref())
                    .map(|upstream| format!(" (streaming from {upstream})"))
                    .unwrap_or_default()
            ),
        }),
    }
}

fn standby_disagreements(
    host: &DesiredHost,
    status: &HostStatus,
    facts: &GatheredFacts,
    found: &mut Vec<Disagreement>,
) {
    let name = &host.name;
    let wanted = host.upstream.as_deref().unwrap_or("its upstream");
    let mut disagreement = |kind: DisagreementKind, message: String| {
        found.push(Disagreement {
            kind,
            hosts: vec![name.clone()],
            message,
        })
    };
    match status.state {
        ObservedState::Primary => disagreement(
            DisagreementKind::StandbyAcceptsWrites,
            format!(
                "{name} accepts writes although the inventory makes it a standby of {wanted}: if {name} is the primary now, make it the primary in the inventory; otherwise `pgconverge apply --dry-run` shows how {name} becomes a standby of {wanted} again"
            ),
        ),
        ObservedState::Unreachable => {
            // The upstream may still say whether the standby streams; one that
            // does not run cannot say either.
            let running_upstream = host
                .upstream
                .as_deref()
                .filter(|upstream| server_of(facts, upstream).is_some());
            let upstream_says = match running_upstream {
                Some(upstream) => match client_entry(facts, upstream, name) {
                    Some(client) => format!(" ({upstream} reports it {})", client.state),
                    None => format!(" ({upstream} does not report it streaming)"),
                },
                None => String::new(),
            };
            disagreement(
                DisagreementKind::Unreachable,
                format!(
                    "{name} is unreachable, so its state is unknown{upstream_says}: check the host and its SSH access; the error was: {}",
                    status.error.as_deref().unwrap_or("none given")
                ),
            )
        }
        ObservedState::Stopped => disagreement(
            DisagreementKind::NotStreaming,
            format!(
                "{name} {}, so it does not stream from {wanted}: `pgconverge apply` {}",
                stopped_reason(host, status),
                if status.system_identifier.is_some() {
                    "starts it"
                } else {
                    "clones it"
                }
            ),
        ),
        ObservedState::Standby => {
            let streaming = status.wal_receiver.as_deref() == Some(STREAMING);
            let source = status.upstream.as_deref().or(status.sender_host.as_deref());
            match source {
                Some(source) if streaming && Some(source) != host.upstream.as_deref() => {
                    let raw = match (&status.upstream, &status.sender_host) {
                        (Some(_), Some(sender)) if sender != source => format!(" ({sender})"),
                        _ => String::new(),
                    };
                    disagreement(
                        DisagreementKind::WrongUpstream,
                        format!(
                            "{name} streams from {source}{raw}, not from its inventory upstream {wanted}: make {source} its upstream in the inventory, or run `pgconverge apply` to point it back at {wanted}"
                        ),
                    )
                }
                // A warm standby recovers from the archive and streams from nobody.
                _ if !streaming && host.settings.replication_mode == ReplicationMode::Streaming => {
                    disagreement(
                        DisagreementKind::NotStreaming,
                        format!(
                            "{name} is in recovery but does not stream from {wanted} (WAL receiver: {}): check that {wanted} runs and accepts replication connections from {name}; `pgconverge apply --dry-run` shows what differs",
                            status.wal_receiver.as_deref().unwrap_or("none")
                        ),
                    )
                }
                _ => {}
            }
        }
    }
}

/// `is stopped (cluster state `shut down`)`, or `holds no cluster in DIR`.
fn stopped_reason(host: &DesiredHost, status: &HostStatus) -> String {
    if status.system_identifier.is_none() && status.cluster_state.is_none() {
        return format!("holds no cluster in `{}`", host.settings.data_dir);
    }
    match &status.cluster_state {
        Some(state) => format!("is stopped (cluster state `{state}`)"),
        None => "is stopped".to_string(),
    }
}

/// `db1`, `db1 and db2`, `db1, db2 and db3`.
fn names(list: &[&str]) -> String {
    match list {
        [] => "none".to_string(),
        [one] => one.to_string(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join("; ")
}

/// The status for people: an aligned table of the hosts, then the disagreements
/// or the line saying there are none. Styled; `anstream` strips the styles where
/// colours are off.
pub fn text(report: &StatusReport) -> String {
    let header = [
        "HOST",
        "INVENTORY",
        "OBSERVED",
        "RECOVERY",
        "UPSTREAM",
        "TIMELINE",
        "LSN",
        "REPLAY LAG",
        "WAL RECEIVER",
    ];
    let rows: Vec<Vec<String>> = report.hosts.iter().map(row).collect();
    let widths: Vec<usize> = header
        .iter()
        .enumerate()
        .map(|(column, title)| {
            rows.iter()
                .map(|cells| cells[column].chars().count())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<(String, Style)>| {
        let last = cells.len().saturating_sub(1);
        cells
            .into_iter()
            .enumerate()
            .map(|(column, (cell, style))| {
                let padding = if column == last {
                    0
                } else {
                    widths[column] - cell.chars().count() + 2
                };
                format!("{style}{cell}{style:#}{}", " ".repeat(padding))
            })
            .collect::<String>()
    };
    let mut lines = vec![line(
        header
            .iter()
            .map(|title| (title.to_string(), BOLD))
            .collect(),
    )];
    for (host, cells) in report.hosts.iter().zip(rows) {
        let observed_style = match host.state {
            ObservedState::Stopped | ObservedState::Unreachable => RED,
            ObservedState::Primary | ObservedState::Standby => Style::new(),
        };
        lines.push(line(
            cells
                .into_iter()
                .enumerate()
                .map(|(column, cell)| {
                    (
                        cell,
                        if column == 2 {
                            observed_style
                        } else {
                            Style::new()
                        },
                    )
                })
                .collect(),
        ));
    }
    for host in &report.hosts {
        if let Some(archiver) = &host.archiver {
            let last = |wal: &str| {
                if wal.is_empty() {
                    "none".to_string()
                } else {
                    wal.to_string()
                }
            };
            lines.push(format!(
                "Archiver of {}: {} archived (last {}), {} failed (last {})",
                host.name,
                archiver.archived_count,
                last(&archiver.last_archived_wal),
                archiver.failed_count,
                last(&archiver.last_failed_wal)
            ));
        }
    }
    lines.push(String::new());
    if report.agrees() {
        lines.push(format!(
            "{GREEN}The cluster agrees with the inventory.{GREEN:#}"
        ));
    } else {
        let count = report.disagreements.len();
        lines.push(format!(
            "{YELLOW}{count} {} with the inventory:{YELLOW:#}",
            if count == 1 {
                "disagreement"
            } else {
                "disagreements"
            }
        ));
        for disagreement in &report.disagreements {
            lines.push(format!("  - {}", disagreement.message));
        }
    }
    lines.join("\n")
}

fn row(host: &HostStatus) -> Vec<String> {
    let dash = || "-".to_string();
    let inventory = match (&host.inventory_role[..], &host.inventory_upstream) {
        ("standby", Some(upstream)) => format!("standby of {upstream}"),
        (role, _) => role.to_string(),
    };
    let recovery = match host.in_recovery {
        Some(true) => "yes".to_string(),
        Some(false) => "no".to_string(),
        None => dash(),
    };
    vec![
        host.name.clone(),
        inventory,
        host.state.to_string(),
        recovery,
        host.upstream
            .clone()
            .or_else(|| host.sender_host.clone())
            .unwrap_or_else(dash),
        host.timeline
            .map(|timeline| timeline.to_string())
            .unwrap_or_else(dash),
        host.position.clone().unwrap_or_else(dash),
        lag(host),
        host.wal_receiver.clone().unwrap_or_else(dash),
    ]
}

/// `16.0 MiB, 42 s`; the seconds only while bytes remain, because on an idle
/// cluster they grow on a standby that has replayed everything.
fn lag(host: &HostStatus) -> String {
    if host.state != ObservedState::Standby {
        return "-".to_string();
    }
    let mut parts = Vec::new();
    if let Some(bytes) = host.replay_lag_bytes {
        parts.push(size(bytes));
    }
    if let Some(seconds) = host.replay_lag_seconds
        && host.replay_lag_bytes != Some(0)
    {
        parts.push(format!("{seconds} s"));
    }
    if host.replay_paused {
        parts.push("paused".to_string());
    }
    if parts.is_empty() {
        return "-".to_string();
    }
    parts.join(", ")
}

/// `512 B`, `1.5 KiB`, `16.0 MiB`, `2.0 GiB`.
fn size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if bytes.abs() < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value.abs() >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

#[cfg(test)]
mod tests {
    //! Status tests: inventory + fake facts in, the status as the user reads it
    //! out, pinned with insta. Fakes are fine here: `report` is pure.

    use super::*;
    use crate::facts::{DataDirectory, WalReceiver};
    use crate::inventory::Inventory;
    use crate::playbook::Playbook;
    use crate::render::Renderer;
    use DisagreementKind::*;

    const THREE_HOSTS: &str = "all:\n  vars:\n    pg_version: 15\n    replication_password: secret-pw\n  children:\n    primary:\n      hosts:\n        db1: { ansible_host: 10.0.0.11 }\n    standby:\n      hosts:\n        db2: { ansible_host: 10.0.0.12 }\n        db3: { ansible_host: 10.0.0.13, replication_host: db3-replication.internal }\n";

    const SYSTEM_IDENTIFIER: &str = "7300000000000000001";
    const MIB: i64 = 1024 * 1024;

    fn desired(inventory: &str) -> DesiredState {
        let inventory =
            Inventory::parse(std::path::Path::new("inventory.yaml"), inventory, &|_| None)
                .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"))
    }

    fn lsn(text: &str) -> Option<Lsn> {
        Some(Lsn::parse(text).unwrap_or_else(|| panic!("bad LSN {text}")))
    }

    fn data_directory(cluster_state: &str, timeline: u32) -> DataDirectory {
        DataDirectory {
            pg_version: Some("15".into()),
            system_identifier: Some(SYSTEM_IDENTIFIER.into()),
            cluster_state: Some(cluster_state.into()),
            timeline: Some(timeline),
            database_directories: 3,
            ..DataDirectory::default()
        }
    }

    fn server(in_recovery: bool, position: &str) -> ServerFacts {
        ServerFacts {
            in_recovery,
            configuration_loaded: 2_000,
            started: 1_500,
            position: lsn(position),
            replay_position: None,
            replay_paused: false,
            replay_lag_seconds: None,
            settings: Default::default(),
            replication_role: None,
            wal_receiver: None,
            replication_clients: Vec::new(),
            user_databases: Vec::new(),
            archiver: None,
        }
    }

    /// A standby as the primary sees it: `lag` bytes behind, when it says.
    fn client(name: &str, address: &str, lag: Option<i64>) -> ReplicationClient {
        ReplicationClient {
            application_name: name.into(),
            client_address: address.into(),
            state: "streaming".into(),
            replay_lag_bytes: lag,
        }
    }

    /// A running, writable primary on `timeline` with these standbys streaming from it.
    fn primary(timeline: u32, position: &str, clients: Vec<ReplicationClient>) -> HostFacts {
        let mut running = server(false, position);
        running.replication_clients = clients;
        HostFacts {
            postgres_installed: true,
            data_directory: DataDirectory {
                postmaster_pid: true,
                ..data_directory("in production", timeline)
            },
            server: Some(running),
            ..HostFacts::default()
        }
    }

    /// A running standby whose WAL receiver streams from `sender` (`None`: no receiver).
    fn standby(sender: Option<&str>, received: &str, replayed: &str) -> HostFacts {
        let mut running = server(true, received);
        running.replay_position = lsn(replayed);
        running.replay_lag_seconds = Some(3_600);
        running.wal_receiver = sender.map(|sender| WalReceiver {
            status: STREAMING.into(),
            sender_host: sender.into(),
            sender_port: Some(5432),
            timeline: Some(1),
        });
        HostFacts {
            postgres_installed: true,
            data_directory: DataDirectory {
                standby_signal: true,
                postmaster_pid: true,
                ..data_directory("in archive recovery", 1)
            },
            server: Some(running),
            ..HostFacts::default()
        }
    }

    fn stopped() -> HostFacts {
        HostFacts {
            postgres_installed: true,
            data_directory: data_directory("shut down", 1),
            server_error: Some("psql: error: connection to server on socket \"/var/run/postgresql/.s.PGSQL.5432\" failed: No such file or directory".into()),
            ..HostFacts::default()
        }
    }

    /// db1 primary at `0/5000060`, db2 and db3 streaming from it, caught up.
    fn healthy() -> GatheredFacts {
        facts(vec![
            (
                "db1",
                Ok(primary(
                    1,
                    "0/5000060",
                    vec![
                        client("db2", "10.0.0.12", Some(0)),
                        client("db3", "10.0.0.13", Some(0)),
                    ],
                )),
            ),
            (
                "db2",
                Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
            ),
            (
                "db3",
                Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
            ),
        ])
    }

    fn facts(hosts: Vec<(&str, Result<HostFacts, String>)>) -> GatheredFacts {
        hosts
            .into_iter()
            .map(|(name, facts)| (name.to_string(), facts))
            .collect()
    }

    /// Reports on `facts` against the three-host inventory, checks the kinds of
    /// disagreement found, and returns the status as the user reads it.
    fn check(facts: GatheredFacts, expected: &[(DisagreementKind, &str)]) -> String {
        let report = report(&desired(THREE_HOSTS), &facts);
        let text = anstream::adapter::strip_str(&text(&report)).to_string();
        let found: Vec<(DisagreementKind, String)> = report
            .disagreements
            .iter()
            .map(|disagreement| (disagreement.kind, disagreement.hosts.join(",")))
            .collect();
        let expected: Vec<(DisagreementKind, String)> = expected
            .iter()
            .map(|(kind, hosts)| (*kind, hosts.to_string()))
            .collect();
        assert_eq!(found, expected, "{text}");
        assert_eq!(report.agrees(), expected.is_empty(), "{text}");
        text
    }

    #[test]
    fn a_healthy_cluster_agrees_with_the_inventory() {
        let text = check(healthy(), &[]);
        assert!(
            text.ends_with("The cluster agrees with the inventory."),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_standby_promoted_while_the_inventory_primary_is_stopped() {
        let mut db2 = primary(2, "0/6000000", Vec::new());
        db2.data_directory.standby_signal = false;
        let text = check(
            facts(vec![
                ("db1", Ok(stopped())),
                ("db2", Ok(db2)),
                ("db3", Ok(standby(None, "0/5000060", "0/5000060"))),
            ]),
            &[
                (PrimaryDown, "db1"),
                (StandbyAcceptsWrites, "db2"),
                (NotStreaming, "db3"),
            ],
        );
        assert!(
            text.contains("while db2 accepts writes: do not start db1 as a primary"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn two_writable_primaries_are_a_split_brain_that_names_both() {
        let mut facts = healthy();
        facts.insert("db2".into(), Ok(primary(2, "0/6000000", Vec::new())));
        let text = check(
            facts,
            &[(SplitBrain, "db1,db2"), (StandbyAcceptsWrites, "db2")],
        );
        assert!(
            text.contains("split brain: db1 and db2 accept writes at the same time"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn a_standby_streaming_from_the_wrong_host() {
        let mut facts = healthy();
        facts.insert(
            "db1".into(),
            Ok(primary(
                1,
                "0/5000060",
                vec![client("db2", "10.0.0.12", Some(0))],
            )),
        );
        let mut db2 = standby(Some("10.0.0.11"), "0/5000060", "0/5000060");
        if let Some(server) = &mut db2.server {
            server.replication_clients = vec![client("db3", "10.0.0.13", Some(0))];
        }
        facts.insert("db2".into(), Ok(db2));
        facts.insert(
            "db3".into(),
            Ok(standby(Some("10.0.0.12"), "0/5000060", "0/5000060")),
        );
        let text = check(facts, &[(WrongUpstream, "db3")]);
        assert!(
            text.contains("db3 streams from db2 (10.0.0.12), not from its inventory upstream db1"),
            "{text}"
        );
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_unreachable_host_is_reported_with_its_error() {
        let mut facts = healthy();
        facts.insert(
            "db1".into(),
            Ok(primary(
                1,
                "0/5000060",
                vec![client("db2", "10.0.0.12", Some(0))],
            )),
        );
        facts.insert(
            "db3".into(),
            Err("cannot connect to db3 (10.0.0.13): ssh: connect to host 10.0.0.13 port 22: Connection refused".into()),
        );
        let text = check(facts, &[(Unreachable, "db3")]);
        assert!(text.contains("Connection refused"), "{text}");
        assert!(text.contains("db1 does not report it streaming"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn an_unreachable_upstream_is_not_quoted_about_its_unreachable_standby() {
        let unreachable = |host: &str| Err(format!("cannot connect to {host}: Connection refused"));
        let text = check(
            facts(vec![
                ("db1", unreachable("db1")),
                ("db2", unreachable("db2")),
                ("db3", unreachable("db3")),
            ]),
            &[
                (PrimaryDown, "db1"),
                (Unreachable, "db2"),
                (Unreachable, "db3"),
            ],
        );
        assert!(
            text.contains("db2 is unreachable, so its state is unknown: check the host"),
            "{text}"
        );
    }

    #[test]
    fn an_unreachable_standby_the_upstream_reports_streaming_says_so() {
        let mut facts = healthy();
        facts.insert("db3".into(), Err("Connection timed out".into()));
        let text = check(facts, &[(Unreachable, "db3")]);
        assert!(text.contains("(db1 reports it streaming)"), "{text}");
    }

    #[test]
    fn an_unreachable_inventory_primary_is_down() {
        let mut facts = healthy();
        facts.insert(
            "db1".into(),
            Err("ssh: connect to host 10.0.0.11 port 22: No route to host".into()),
        );
        facts.insert("db2".into(), Ok(standby(None, "0/5000060", "0/5000060")));
        facts.insert("db3".into(), Ok(standby(None, "0/5000060", "0/5000060")));
        let text = check(
            facts,
            &[
                (PrimaryDown, "db1"),
                (NotStreaming, "db2"),
                (NotStreaming, "db3"),
            ],
        );
        assert!(
            text.contains("db1, the inventory's primary, is unreachable: check the host and its SSH access; the error was: ssh: connect to host 10.0.0.11 port 22: No route to host"),
            "{text}"
        );
    }

    #[test]
    fn a_lagging_standby_shows_its_lag() {
        // db1 reports db2 20 MiB behind; for db3 it reports no lag, so db3's own
        // received-minus-replayed (16 MiB) is shown.
        let mut db2 = standby(Some("10.0.0.11"), "0/9000000", "0/8800000");
        let mut db3 = standby(Some("10.0.0.11"), "0/9000000", "0/8000000");
        for host in [&mut db2, &mut db3] {
            if let Some(server) = &mut host.server {
                server.replay_lag_seconds = Some(42);
            }
        }
        let text = check(
            facts(vec![
                (
                    "db1",
                    Ok(primary(
                        1,
                        "0/A400000",
                        vec![
                            client("db2", "10.0.0.12", Some(20 * MIB)),
                            client("db3", "10.0.0.13", None),
                        ],
                    )),
                ),
                ("db2", Ok(db2)),
                ("db3", Ok(db3)),
            ]),
            &[],
        );
        let row = |host: &str| {
            text.lines()
                .find(|line| line.starts_with(host))
                .unwrap_or_else(|| panic!("no row for {host}\n{text}"))
                .to_string()
        };
        assert!(row("db2").contains("20.0 MiB, 42 s"), "{text}");
        assert!(row("db3").contains("16.0 MiB, 42 s"), "{text}");
        insta::assert_snapshot!(text);
    }

    #[test]
    fn paused_replay_is_a_disagreement() {
        let mut facts = healthy();
        let mut db2 = standby(Some("10.0.0.11"), "0/5000060", "0/4000000");
        if let Some(server) = &mut db2.server {
            server.replay_paused = true;
        }
        facts.insert("db2".into(), Ok(db2));
        let text = check(facts, &[(ReplayPaused, "db2")]);
        assert!(
            text.contains("select pg_wal_replay_resume();` on db2"),
            "{text}"
        );
    }

    #[test]
    fn the_upstream_is_named_by_inventory_host_when_the_sender_is_one() {
        let desired = desired(THREE_HOSTS);
        let cases = [
            ("10.0.0.11", Some(5432), Some("db1")),
            ("10.0.0.12", None, Some("db2")),
            // db3's `replication_host` differs from its address; either names it.
            ("db3-replication.internal", Some(5432), Some("db3")),
            ("10.0.0.13", Some(5432), Some("db3")),
            ("10.9.9.9", Some(5432), None),
        ];
        for (sender, port, expected) in cases {
            assert_eq!(
                inventory_host_at(&desired, sender, port),
                expected,
                "{sender}"
            );
        }
    }

    #[test]
    fn a_standby_streaming_from_a_host_outside_the_inventory_shows_the_raw_host() {
        let mut facts = healthy();
        facts.insert(
            "db3".into(),
            Ok(standby(Some("10.9.9.9"), "0/5000060", "0/5000060")),
        );
        let text = check(facts, &[(WrongUpstream, "db3")]);
        assert!(
            text.contains("db3 streams from 10.9.9.9, not from its inventory upstream db1"),
            "{text}"
        );
    }

    #[test]
    fn sizes_read_like_people_write_them() {
        assert_eq!(size(0), "0 B");
        assert_eq!(size(1023), "1023 B");
        assert_eq!(size(1536), "1.5 KiB");
        assert_eq!(size(16 * MIB), "16.0 MiB");
        assert_eq!(size(3 * 1024 * MIB), "3.0 GiB");
    }

    #[test]
    fn json_document_is_pinned() {
        let mut db2 = primary(2, "0/6000000", Vec::new());
        db2.data_directory.standby_signal = false;
        let facts = facts(vec![
            ("db1", Ok(stopped())),
            ("db2", Ok(db2)),
            ("db3", Ok(standby(None, "0/5000060", "0/5000060"))),
        ]);
        let report = report(&desired(THREE_HOSTS), &facts);
        let text = serde_json::to_string_pretty(&report)
            .unwrap_or_else(|error| panic!("{error}"))
            .replace(env!("CARGO_PKG_VERSION"), "VERSION");
        let value: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(value["format_version"], 1);
        insta::assert_snapshot!(text);
    }
}
