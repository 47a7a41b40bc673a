//! The status for people: an aligned table of the hosts, the archivers, then the
//! disagreements or the line saying there are none.

use super::report::{HostStatus, ObservedState, StatusReport};
use crate::human::size;
use anstyle::{AnsiColor, Style};

const GREEN: Style = AnsiColor::Green.on_default();
const YELLOW: Style = AnsiColor::Yellow.on_default();
const RED: Style = AnsiColor::Red.on_default();
const BOLD: Style = Style::new().bold();

const HEADER: [&str; 11] = [
    "HOST",
    "INVENTORY",
    "OBSERVED",
    "RECOVERY",
    "UPSTREAM",
    "TIMELINE",
    "LSN",
    "REPLAY LAG",
    "WAL RECEIVER",
    "TLS",
    "SYNC",
];

/// The column of the observed state, red when a host is stopped or unreachable.
const OBSERVED_COLUMN: usize = 2;

/// The status for people: an aligned table of the hosts, then the disagreements
/// or the line saying there are none. Styled; `anstream` strips the styles where
/// colours are off.
pub fn text(report: &StatusReport) -> String {
    let mut lines = table(&report.hosts);
    lines.extend(report.hosts.iter().filter_map(archiver_line));
    lines.extend(report.hosts.iter().filter_map(altered_line));
    lines.extend(report.hosts.iter().filter_map(slots_line));
    lines.extend(report.virtual_ips.iter().map(|vip| {
        let holders = if vip.holders.is_empty() {
            "no member".to_string()
        } else {
            vip.holders.join(", ")
        };
        format!(
            "Virtual IP {} of {}: on {holders}",
            vip.address, vip.cluster
        )
    }));
    lines.push(String::new());
    lines.extend(verdict(report));
    for note in &report.notes {
        lines.push(format!("{YELLOW}note{YELLOW:#}: {}", note.message));
    }
    lines.join("\n")
}

/// The header and a row per host, each column as wide as its widest cell.
fn table(hosts: &[HostStatus]) -> Vec<String> {
    let rows: Vec<Vec<String>> = hosts.iter().map(row).collect();
    let widths = column_widths(&rows);
    let mut lines = vec![aligned(
        HEADER
            .iter()
            .map(|title| (title.to_string(), BOLD))
            .collect(),
        &widths,
    )];
    for (host, cells) in hosts.iter().zip(rows) {
        let observed_style = match host.state {
            ObservedState::Stopped | ObservedState::Unreachable => RED,
            ObservedState::Primary | ObservedState::Standby => Style::new(),
        };
        lines.push(aligned(
            cells
                .into_iter()
                .enumerate()
                .map(|(column, cell)| {
                    (
                        cell,
                        if column == OBSERVED_COLUMN {
                            observed_style
                        } else {
                            Style::new()
                        },
                    )
                })
                .collect(),
            &widths,
        ));
    }
    lines
}

/// The width of each column: its widest cell or its title.
fn column_widths(rows: &[Vec<String>]) -> Vec<usize> {
    HEADER
        .iter()
        .enumerate()
        .map(|(column, title)| {
            rows.iter()
                .map(|cells| cells[column].chars().count())
                .chain([title.len()])
                .max()
                .unwrap_or(0)
        })
        .collect()
}

/// One line of the table: each cell styled and padded to its column's width
/// plus two spaces, the last one not padded.
fn aligned(cells: Vec<(String, Style)>, widths: &[usize]) -> String {
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
}

/// `Archiver of db1: 12 archived (last ...), 0 failed (last none)`, for a host
/// whose archiver was read.
fn archiver_line(host: &HostStatus) -> Option<String> {
    let archiver = host.archiver.as_ref()?;
    let last = |wal: &str| {
        if wal.is_empty() {
            "none".to_string()
        } else {
            wal.to_string()
        }
    };
    Some(format!(
        "Archiver of {}: {} archived (last {}), {} failed (last {})",
        host.name,
        archiver.archived_count,
        last(&archiver.last_archived_wal),
        archiver.failed_count,
        last(&archiver.last_failed_wal)
    ))
}

/// `ALTER SYSTEM on db1: work_mem = '32MB' (left alone), ...`, for a host with
/// settings made with `ALTER SYSTEM`.
fn altered_line(host: &HostStatus) -> Option<String> {
    if host.altered_settings.is_empty() {
        return None;
    }
    let settings: Vec<String> = host
        .altered_settings
        .iter()
        .map(|setting| {
            let what = if setting.managed {
                "overrides a managed setting; apply resets it"
            } else {
                "left alone"
            };
            format!("{} = '{}' ({what})", setting.name, setting.value)
        })
        .collect();
    Some(format!(
        "ALTER SYSTEM on {}: {}",
        host.name,
        settings.join(", ")
    ))
}

/// `Slots on db1: pgconverge_db2 active, 16.0 MiB kept; ...`, for a host with slots.
fn slots_line(host: &HostStatus) -> Option<String> {
    if host.slots.is_empty() {
        return None;
    }
    let slots: Vec<String> = host
        .slots
        .iter()
        .map(|slot| {
            let mut text = format!(
                "{} {}",
                slot.name,
                if slot.active { "active" } else { "inactive" }
            );
            if let Some(bytes) = slot.retained_bytes {
                text.push_str(&format!(", {} kept", size(bytes)));
            }
            if slot.lost() {
                text.push_str(", lost (its standby needs a new base backup)");
            }
            text
        })
        .collect();
    Some(format!("Slots on {}: {}", host.name, slots.join("; ")))
}

/// The line saying the cluster agrees with the inventory, or the count of
/// disagreements and a line for each.
fn verdict(report: &StatusReport) -> Vec<String> {
    if report.agrees() {
        return vec![format!(
            "{GREEN}The cluster agrees with the inventory.{GREEN:#}"
        )];
    }
    let count = report.disagreements.len();
    let mut lines = vec![format!(
        "{YELLOW}{count} {} with the inventory:{YELLOW:#}",
        if count == 1 {
            "disagreement"
        } else {
            "disagreements"
        }
    )];
    for disagreement in &report.disagreements {
        lines.push(format!("  - {}", disagreement.message));
    }
    lines
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
        match host.tls {
            Some(true) => "yes".to_string(),
            Some(false) => "no".to_string(),
            None => dash(),
        },
        host.sync_state.clone().unwrap_or_else(dash),
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

#[cfg(test)]
mod tests {
    //! The table, its lag column and the closing line as the user reads them,
    //! pinned with insta.

    use crate::status::check::{MIB, check, client, facts, healthy, primary, standby};

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
}
