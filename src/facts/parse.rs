//! Reads the facts script's output into `HostFacts`: the base64 of records
//! `KEY LENGTH`, a line feed, LENGTH bytes of the value and a line feed (see
//! `script`), handed to the parser of each family of facts, next to its piece
//! of the script (`host`, `files`, `data_directory`, `timeline`, `pgbackrest`,
//! `server`, `pgbouncer`); a file's content is itself base64 inside its record.

use super::{FactsRequest, HostFacts};
use super::{data_directory, files, host, pgbackrest, pgbouncer, server};
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

/// The records of one facts output, by key.
pub(super) struct Records(HashMap<String, Vec<u8>>);

impl Records {
    /// A record's value as text, without its trailing white space.
    pub(super) fn text(&self, key: &str) -> Option<String> {
        self.0
            .get(key)
            .map(|bytes| String::from_utf8_lossy(bytes).trim_end().to_string())
    }

    /// A record's value as it came.
    pub(super) fn bytes(&self, key: &str) -> Option<&[u8]> {
        self.0.get(key).map(Vec::as_slice)
    }

    /// Whether the script wrote the record at all.
    pub(super) fn has(&self, key: &str) -> bool {
        self.0.contains_key(key)
    }
}

/// Parses the output of the script that `script::build(request)` made.
pub fn parse(request: &FactsRequest, output: &str) -> Result<HostFacts, FactsError> {
    let records = decode_records(output)?;
    let mut facts = HostFacts::default();
    host::read(&records, &mut facts);
    files::read(request, &records, &mut facts)?;
    facts.data_directory = data_directory::read(&records);
    if let Some(stanza) = &request.pgbackrest_stanza {
        facts.pgbackrest = Some(pgbackrest::read(stanza, &records));
    }
    server::read(&records, &mut facts)?;
    pgbouncer::read(request, &records, &mut facts);
    Ok(facts)
}

fn decode_records(output: &str) -> Result<Records, FactsError> {
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
    Ok(Records(values))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::Lsn;
    use crate::facts::server::FIELD_SEPARATOR;
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
            pgbouncer: false,
            pgbouncer_auth: false,
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
            "@@state\nt{sep}1700000000{sep}1690000000{sep}0/3000148{sep}0/3000060{sep}f{sep}12\n@@settings\nshared_buffers{sep}postmaster{sep}t\nwork_mem{sep}user{sep}f\n@@role\n@@wal_receiver\nstreaming{sep}10.0.0.11{sep}5432\n@@replication\n@@archiver\n3{sep}000000010000000000000002{sep}1700000050{sep}1{sep}000000010000000000000001{sep}1700000040\n@@databases\napp\n@@md5_roles\n6c65676163795f617070\n"
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
        assert_eq!(server.md5_roles, vec!["legacy_app".to_string()]);
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
}
