//! The data directory as it is on disk, whether or not the server runs
//! (`data_directory.sh`): `PG_VERSION`, `pg_controldata`'s fields, the files
//! that mark a standby, `postmaster.pid`'s port, a failed rewind's words, the
//! slots kept on disk and the WAL segments waiting to be archived; its newest
//! timeline history is `timeline`'s.

use super::parse::Records;
use super::{DataDirectory, timeline};
use crate::script::Script;

const SCRIPT: &str = include_str!("data_directory.sh");

pub(super) fn ask(script: Script) -> Script {
    script.piece(SCRIPT)
}

pub(super) fn read(records: &Records) -> DataDirectory {
    let controldata = records.text("data.controldata").unwrap_or_default();
    let control = |label: &str| {
        controldata.lines().find_map(|line| {
            line.strip_prefix(label)
                .and_then(|rest| rest.strip_prefix(':'))
                .map(|value| value.trim().to_string())
        })
    };
    DataDirectory {
        pg_version: records.text("data.pg_version"),
        system_identifier: control("Database system identifier").filter(|id| !id.is_empty()),
        cluster_state: control("Database cluster state"),
        timeline: control("Latest checkpoint's TimeLineID")
            .and_then(|timeline| timeline.parse().ok()),
        wal_log_hints: control("wal_log_hints setting").is_some_and(|value| value == "on"),
        checksums: control("Data page checksum version").is_some_and(|value| value != "0"),
        standby_signal: records.has("data.standby_signal"),
        recovery_conf: records.has("data.recovery_conf"),
        database_directories: records
            .text("data.database_directories")
            .and_then(|count| count.trim().parse().ok())
            .unwrap_or(0),
        postmaster_pid: records.has("data.postmaster_pid"),
        postmaster_port: records
            .text("data.postmaster_pid")
            .and_then(|port| port.trim().parse().ok()),
        rewind_failed: records.text("data.rewind_failed"),
        rewind_interrupted: records.has("data.rewind_interrupted"),
        slots_on_disk: records
            .text("data.slots_on_disk")
            .map(|names| {
                names
                    .lines()
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default(),
        wal_ready_segments: records
            .text("data.wal_ready")
            .and_then(|count| count.trim().parse().ok()),
        history: timeline::read(records),
    }
}
