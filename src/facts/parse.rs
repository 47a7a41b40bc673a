//! Reads the facts script's output into `HostFacts`: the base64 of records
//! `KEY LENGTH`, a line feed, LENGTH bytes of the value and a line feed (see
//! `script`); a file's content is itself base64 inside its record.

use super::script::FIELD_SEPARATOR;
use super::*;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use std::collections::HashMap;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FactsError {
    #[error("the facts output stops before its end")]
    Incomplete,
    #[error("the facts output is not base64")]
    NotBase64,
    #[error("record {record} of the facts output is not `KEY LENGTH` and that many bytes")]
    MalformedRecord { record: usize },
    #[error("fact `{key}` is not valid base64")]
    BadEncoding { key: String },
    #[error("fact `{key}` has an unexpected value `{value}`")]
    BadValue { key: String, value: String },
}

/// Parses the output of the script that `script::build(request)` made.
pub fn parse(request: &FactsRequest, output: &str) -> Result<HostFacts, FactsError> {
    let values = decode_records(output)?;
    let text = |key: &str| {
        values
            .get(key)
            .map(|bytes| String::from_utf8_lossy(bytes).trim_end().to_string())
    };
    let mut facts = HostFacts {
        // The passwd entry's sixth field.
        os_user_home: text("os_user.passwd")
            .and_then(|entry| entry.split(':').nth(5).map(str::to_string))
            .filter(|home| !home.is_empty()),
        postgres_installed: values.contains_key("postgres_installed"),
        run_lock_holder: text("run_lock.holder"),
        memory_kb: text("memory_kb").and_then(|kb| kb.trim().parse().ok()),
        installed_libraries: text("libraries").map(|list| {
            list.lines()
                .filter_map(|file| file.trim().strip_suffix(".so"))
                .map(str::to_string)
                .collect()
        }),
        listening: text("listening")
            .map(|lines| lines.lines().filter_map(listening_socket).collect()),
        ..HostFacts::default()
    };
    for (index, path) in request.files.iter().enumerate() {
        if let Some(target) = text(&format!("file.{index}.link")) {
            facts.links.insert(path.clone(), target);
        }
        if text(&format!("file.{index}.unreadable")).is_some() {
            facts.unreadable.push(path.clone());
        }
        if let Some(stat) = text(&format!("file.{index}.stat")) {
            let key = format!("file.{index}.content");
            let content = match values.get(&key) {
                Some(encoded) => STANDARD
                    .decode(encoded)
                    .map_err(|_| FactsError::BadEncoding { key })?,
                None => Vec::new(),
            };
            let attributes = parse_attributes(&format!("file.{index}.stat"), &stat)?;
            facts.files.insert(
                path.clone(),
                ObservedFile {
                    attributes,
                    content,
                },
            );
        }
    }
    for (index, path) in request.readable.iter().enumerate() {
        if let Some(answer) = text(&format!("readable.{index}")) {
            facts.readable.insert(path.clone(), answer == "yes");
        }
    }
    for (index, path) in request.directories.iter().enumerate() {
        if let Some(target) = text(&format!("directory.{index}.link")) {
            facts.links.insert(path.clone(), target);
        }
        if let Some(stat) = text(&format!("directory.{index}.stat")) {
            facts.directories.insert(
                path.clone(),
                parse_attributes(&format!("directory.{index}.stat"), &stat)?,
            );
        }
    }
    let controldata = text("data.controldata").unwrap_or_default();
    let control = |label: &str| {
        controldata.lines().find_map(|line| {
            line.strip_prefix(label)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(|value| value.trim().to_string())
        })
    };
    facts.data_directory = DataDirectory {
        pg_version: text("data.pg_version"),
        system_identifier: control("Database system identifier").filter(|id| !id.is_empty()),
        cluster_state: control("Database cluster state"),
        timeline: control("Latest checkpoint's TimeLineID")
            .and_then(|timeline| timeline.parse().ok()),
        wal_log_hints: control("wal_log_hints setting").is_some_and(|value| value == "on"),
        checksums: control("Data page checksum version").is_some_and(|value| value != "0"),
        standby_signal: values.contains_key("data.standby_signal"),
        recovery_conf: values.contains_key("data.recovery_conf"),
        database_directories: text("data.database_directories")
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or(0),
        postmaster_pid: values.contains_key("data.postmaster_pid"),
        postmaster_port: text("data.postmaster_pid").and_then(|port| port.trim().parse().ok()),
        rewind_failed: text("data.rewind_failed"),
        slots_on_disk: text("data.slots_on_disk")
            .map(|names| {
                names
                    .lines()
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        wal_ready_segments: text("data.wal_ready").and_then(|count| count.trim().parse().ok()),
        history: text("timeline.file").and_then(|name| {
            timeline::TimelineHistory::parse(&name, &text("timeline.history").unwrap_or_default())
        }),
    };
    if let Some(stanza) = &request.pgbackrest_stanza {
        facts.pgbackrest = Some(match text("pgbackrest.info") {
            Some(output) => pgbackrest::PgbackrestFacts::parse(stanza, &output),
            None => pgbackrest::PgbackrestFacts::default(),
        });
    }
    if let Some(server) = text("server") {
        facts.server = Some(parse_server(&server)?);
    } else {
        facts.server_error = text("server_error").map(|error| error.trim().to_string());
    }
    Ok(facts)
}

/// One socket of `/proc/net/tcp` or `tcp6`: `0100007F:1538` is 127.0.0.1:5432. The
/// address is written as 32-bit words in the host's byte order, read here as
/// little-endian (x86 and ARM servers).
fn listening_socket(line: &str) -> Option<ListeningSocket> {
    let (address, port) = line.trim().split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::new();
    for index in (0..address.len()).step_by(8) {
        let word = u32::from_str_radix(address.get(index..index + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    let address = match bytes.len() {
        4 => std::net::IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => std::net::IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some(ListeningSocket { address, port })
}

fn decode_records(output: &str) -> Result<HashMap<String, Vec<u8>>, FactsError> {
    let bytes = STANDARD
        .decode(output.trim())
        .map_err(|_| FactsError::NotBase64)?;
    let mut values = HashMap::new();
    let mut rest = bytes.as_slice();
    let mut record = 0;
    while !rest.is_empty() {
        record += 1;
        let (key, value, after) =
            split_record(rest).ok_or(FactsError::MalformedRecord { record })?;
        values.insert(key.to_string(), value.to_vec());
        rest = after;
    }
    if values.remove("end").is_none() {
        return Err(FactsError::Incomplete);
    }
    Ok(values)
}

/// The first record of `bytes`: its key, its value and what follows it.
fn split_record(bytes: &[u8]) -> Option<(&str, &[u8], &[u8])> {
    let header_end = bytes.iter().position(|&byte| byte == b'\n')?;
    let header = std::str::from_utf8(&bytes[..header_end]).ok()?;
    let (key, length) = header.split_once(' ')?;
    let length: usize = length.parse().ok()?;
    let value_start = header_end + 1;
    let value_end = value_start.checked_add(length)?;
    let value = bytes.get(value_start..value_end)?;
    (bytes.get(value_end) == Some(&b'\n')).then(|| (key, value, &bytes[value_end + 1..]))
}

fn parse_attributes(key: &str, stat: &str) -> Result<PathAttributes, FactsError> {
    let bad = || FactsError::BadValue {
        key: key.to_string(),
        value: stat.to_string(),
    };
    let fields: Vec<&str> = stat.trim().split(':').collect();
    let [owner, group, mode, modified] = fields.as_slice() else {
        return Err(bad());
    };
    Ok(PathAttributes {
        owner: owner.to_string(),
        group: group.to_string(),
        mode: u32::from_str_radix(mode, 8).map_err(|_| bad())?,
        modified: modified.parse().map_err(|_| bad())?,
    })
}

/// Splits psql's output into the sections the script marked with `@@name`.
fn sections(output: &str) -> HashMap<&str, Vec<Vec<&str>>> {
    let mut sections: HashMap<&str, Vec<Vec<&str>>> = HashMap::new();
    let mut current = "";
    for line in output.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            current = name.trim();
            sections.entry(current).or_default();
        } else if !line.is_empty() {
            sections
                .entry(current)
                .or_default()
                .push(line.split(FIELD_SEPARATOR).collect());
        }
    }
    sections
}

/// Text the facts query sent hex-encoded (so a line break in a value cannot split a row).
fn from_hex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|index| u8::from_str_radix(hex.get(2 * index..2 * index + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

fn parse_server(output: &str) -> Result<ServerFacts, FactsError> {
    let sections = sections(output);
    let rows = |name: &str| sections.get(name).cloned().unwrap_or_default();
    let state = rows("state");
    let state_row = state.first().ok_or_else(|| FactsError::BadValue {
        key: "server.state".into(),
        value: output.chars().take(200).collect(),
    })?;
    let field = |row: &Vec<&str>, index: usize| row.get(index).copied().unwrap_or("").to_string();
    let flag = |row: &Vec<&str>, index: usize| row.get(index) == Some(&"t");
    let settings = rows("settings")
        .iter()
        .map(|row| {
            (
                field(row, 0),
                ObservedSetting {
                    context: field(row, 1),
                    pending_restart: flag(row, 2),
                    value: from_hex(&field(row, 3)),
                    unit: field(row, 4),
                    vartype: field(row, 5),
                    source: field(row, 6),
                    source_file: from_hex(&field(row, 7)),
                    default_value: from_hex(&field(row, 8)),
                },
            )
        })
        .collect();
    let replication_role = rows("role").first().map(|row| ObservedRole {
        can_login: flag(row, 0),
        replication: flag(row, 1),
        password_verifier: Sensitive::new(field(row, 2)),
        rewind_grants: flag(row, 3),
    });
    let wal_receiver = rows("wal_receiver").first().map(|row| WalReceiver {
        timeline: field(row, 3).parse().ok(),
        ..wal_receiver(&field(row, 0), &field(row, 1), &field(row, 2))
    });
    let replication_clients = rows("replication")
        .iter()
        .map(|row| ReplicationClient {
            application_name: field(row, 0),
            client_address: field(row, 1),
            state: field(row, 2),
            replay_lag_bytes: field(row, 3).parse().ok(),
            ssl: match field(row, 4).as_str() {
                "t" | "true" => Some(true),
                "f" | "false" => Some(false),
                _ => None,
            },
            sync_state: field(row, 5),
        })
        .collect();
    let slots = rows("slots")
        .iter()
        .map(|row| ReplicationSlot {
            name: field(row, 0),
            active: flag(row, 1),
            wal_status: field(row, 2),
            retained_bytes: field(row, 3).parse().ok(),
        })
        .collect();
    Ok(ServerFacts {
        slots,
        in_recovery: flag(state_row, 0),
        configuration_loaded: field(state_row, 1).parse().unwrap_or(0),
        started: field(state_row, 2).parse().unwrap_or(0),
        position: Lsn::parse(&field(state_row, 3)),
        replay_position: Lsn::parse(&field(state_row, 4)),
        replay_paused: flag(state_row, 5) || field(state_row, 5) == "true",
        replay_lag_seconds: field(state_row, 6).parse().ok(),
        settings,
        replication_role,
        wal_receiver,
        replication_clients,
        archiver: rows("archiver").first().map(|row| Archiver {
            archived_count: field(row, 0).parse().unwrap_or(0),
            last_archived_wal: field(row, 1),
            last_archived: field(row, 2).parse().ok(),
            failed_count: field(row, 3).parse().unwrap_or(0),
            last_failed_wal: field(row, 4),
            last_failed: field(row, 5).parse().ok(),
        }),
        user_databases: rows("databases").iter().map(|row| field(row, 0)).collect(),
    })
}

/// Before PostgreSQL 11 the receiver's host is only in its connection string.
fn wal_receiver(status: &str, host_or_conninfo: &str, port: &str) -> WalReceiver {
    if host_or_conninfo.contains('=') {
        let value = |name: &str| {
            host_or_conninfo
                .split_whitespace()
                .find_map(|pair| {
                    pair.strip_prefix(name)
                        .and_then(|rest| rest.strip_prefix('='))
                })
                .map(|value| value.trim_matches('\'').to_string())
        };
        return WalReceiver {
            timeline: None,
            status: status.to_string(),
            sender_host: value("host").unwrap_or_default(),
            sender_port: value("port").and_then(|port| port.parse().ok()),
        };
    }
    WalReceiver {
        status: status.to_string(),
        sender_host: host_or_conninfo.to_string(),
        sender_port: port.parse().ok(),
        timeline: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::HostSettings;

    fn request() -> FactsRequest {
        FactsRequest {
            settings: HostSettings {
                bin_dir: "/bin".into(),
                data_dir: "/data".into(),
                socket_dir: "/run/postgresql".into(),
                ..HostSettings::example()
            },
            files: vec!["/etc/pg.conf".into(), "/etc/missing.conf".into()],
            directories: vec!["/srv/wal".into()],
            readable: Vec::new(),
            pgbackrest_stanza: None,
        }
    }

    /// One record as the facts script writes it, before the whole output is
    /// made base64 (`encoded`).
    fn line(key: &str, value: &str) -> String {
        format!("{key} {}\n{value}\n", value.len())
    }

    fn encoded(records: &str) -> String {
        STANDARD.encode(format!("{records}{}", line("end", "yes")))
    }

    #[test]
    fn listening_sockets_are_read_from_proc_net_tcp() {
        let output = [
            line(
                "listening",
                "0100007F:1538\n00000000:0016\n00000000000000000000000001000000:1538\n00000000000000000000000000000000:0016\n",
            ),
            line("data.pg_version", "15"),
            line("data.postmaster_pid", "5433"),
        ]
        .concat();
        let facts = parse(&request(), &encoded(&output)).unwrap_or_else(|error| panic!("{error}"));
        let sockets: Vec<String> = facts
            .listening
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            sockets,
            ["127.0.0.1:5432", "0.0.0.0:22", "[::1]:5432", "[::]:22"]
        );
        assert_eq!(facts.data_directory.postmaster_port, Some(5433));
        let unreadable = parse(&request(), &encoded("")).unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(unreadable.listening, None);
    }

    #[test]
    fn a_running_standby_is_read_completely() {
        let sep = FIELD_SEPARATOR;
        let server = format!(
            "@@state\nt{sep}1700000000{sep}1690000000{sep}0/3000148{sep}0/3000060{sep}f{sep}12\n@@settings\nshared_buffers{sep}postmaster{sep}t\nwork_mem{sep}user{sep}f\n@@role\n@@wal_receiver\nstreaming{sep}10.0.0.11{sep}5432\n@@replication\n@@archiver\n3{sep}000000010000000000000002{sep}1700000050{sep}1{sep}000000010000000000000001{sep}1700000040\n@@databases\napp\n"
        );
        let output = [
            line(
                "os_user.passwd",
                "postgres:x:104:110::/var/lib/postgresql:/bin/bash",
            ),
            line("postgres_installed", "yes"),
            line("file.0.stat", "postgres:postgres:644:1700000100"),
            line("file.0.content", &STANDARD.encode("port = 5432\n")),
            line("directory.0.stat", "postgres:postgres:700:1"),
            line("data.pg_version", "15\n"),
            line("data.controldata", "pg_control version number:            1300\nDatabase system identifier:           7301\nDatabase cluster state:               in archive recovery\nLatest checkpoint's TimeLineID:       2\nwal_log_hints setting:                on\nData page checksum version:           0\n"),
            line("data.database_directories", "4"),
            line("data.standby_signal", "yes"),
            line("server", &server),
        ]
        .concat();
        let facts = parse(&request(), &encoded(&output)).expect("parses");
        assert_eq!(facts.os_user_home.as_deref(), Some("/var/lib/postgresql"));
        assert_eq!(
            facts
                .file("/etc/pg.conf")
                .map(|file| file.content.as_slice()),
            Some(&b"port = 5432\n"[..])
        );
        assert_eq!(
            facts.file("/etc/pg.conf").map(|file| file.attributes.mode),
            Some(0o644)
        );
        assert!(facts.file("/etc/missing.conf").is_none());
        assert_eq!(
            facts.directories.get("/srv/wal").map(|dir| dir.mode),
            Some(0o700)
        );
        assert_eq!(facts.system_identifier(), Some("7301"));
        assert!(facts.data_directory.standby_signal);
        assert_eq!(
            facts.data_directory.cluster_state.as_deref(),
            Some("in archive recovery")
        );
        assert_eq!(facts.data_directory.timeline, Some(2));
        assert!(facts.data_directory.wal_log_hints && !facts.data_directory.checksums);
        let server = facts.server.expect("running");
        assert!(server.in_recovery);
        assert_eq!(server.started, 1690000000);
        assert_eq!(server.position, Lsn::parse("0/3000148"));
        assert_eq!(
            server.replay_position.map(|lsn| lsn.to_string()).as_deref(),
            Some("0/3000060")
        );
        assert!(!server.replay_paused);
        assert_eq!(server.replay_lag_seconds, Some(12));
        assert_eq!(server.settings_pending_restart(), vec!["shared_buffers"]);
        assert!(server.replication_role.is_none());
        assert_eq!(
            server.wal_receiver.map(|receiver| receiver.sender_host),
            Some("10.0.0.11".to_string())
        );
        assert_eq!(server.user_databases, vec!["app".to_string()]);
        let archiver = server.archiver.expect("archiver");
        assert_eq!((archiver.archived_count, archiver.failed_count), (3, 1));
        assert!(
            !archiver.failing(),
            "the last failure is older than the last success"
        );
    }

    #[test]
    fn the_newest_timeline_history_is_read() {
        let output = [
            line("data.pg_version", "15\n"),
            line("timeline.file", "00000002.history"),
            line(
                "timeline.history",
                "1\t0/3000060\tno recovery target specified\n",
            ),
        ]
        .concat();
        let facts = parse(&request(), &encoded(&output)).expect("parses");
        let history = facts.data_directory.history.clone().expect("a history");
        assert_eq!(history.timeline, 2);
        assert_eq!(
            history
                .switches
                .first()
                .map(|switch| (switch.parent, switch.switch_point)),
            Lsn::parse("0/3000060").map(|point| (1, point))
        );
        assert_eq!(facts.data_directory.current_timeline(), Some(2));
    }

    #[test]
    fn a_stopped_server_reports_why() {
        let output = line("server_error", "psql: error: connection refused\n");
        let facts = parse(&request(), &encoded(&output)).expect("parses");
        assert!(!facts.is_running());
        assert_eq!(
            facts.server_error.as_deref(),
            Some("psql: error: connection refused")
        );
        assert!(!facts.data_directory.exists());
    }

    #[test]
    fn garbage_is_an_error_not_empty_facts() {
        assert_eq!(parse(&request(), "!!!\n"), Err(FactsError::NotBase64));
        for malformed in [
            "no-length-here\nvalue\n",
            "key 10\nshort\n",
            "key 3\nlonger\n",
            "key 3\nabc",
            "key x\nabc\n",
        ] {
            let output = format!("{}{malformed}", line("good", "first"));
            assert_eq!(
                parse(&request(), &STANDARD.encode(output)),
                Err(FactsError::MalformedRecord { record: 2 }),
                "{malformed:?}"
            );
        }
        let bad_content = [
            line("file.0.stat", "postgres:postgres:644:1"),
            line("file.0.content", "not base64!"),
        ]
        .concat();
        assert!(matches!(
            parse(&request(), &encoded(&bad_content)),
            Err(FactsError::BadEncoding { .. })
        ));
        // Cut short: every record whole, but not the last one.
        let cut = STANDARD.encode(line("data.pg_version", "15"));
        assert_eq!(parse(&request(), &cut), Err(FactsError::Incomplete));
        assert_eq!(parse(&request(), ""), Err(FactsError::Incomplete));
    }

    #[test]
    fn old_receiver_conninfo_gives_host_and_port() {
        let receiver = wal_receiver(
            "streaming",
            "user=replicator host=10.0.0.11 port=5433 application_name=db2",
            "",
        );
        assert_eq!(receiver.sender_host, "10.0.0.11");
        assert_eq!(receiver.sender_port, Some(5433));
    }
}
