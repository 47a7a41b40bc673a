//! pgBackRest as the repository host sees it: `pgbackrest info --output=json`
//! (`pgbackrest.sh`, the facts script's piece for a host that looks after a
//! stanza's repository) read into the stanza's state and its backups.

use super::parse::Records;
use crate::script::Script;
use serde::Serialize;
use serde_json::Value;

const SCRIPT: &str = include_str!("pgbackrest.sh");

/// Adds the stanza and the piece that asks `pgbackrest info` about it.
pub(super) fn ask(script: Script, stanza: &str) -> Script {
    script.text("PGBACKREST_STANZA", stanza).piece(SCRIPT)
}

/// The stanza's state, from what `pgbackrest info` said; `installed` false
/// when the host has no `pgbackrest`.
pub(super) fn read(stanza: &str, records: &Records) -> PgbackrestFacts {
    match records.text("pgbackrest.info") {
        Some(output) => PgbackrestFacts::parse(stanza, &output),
        None => PgbackrestFacts::default(),
    }
}

/// What `pgbackrest info` says of one stanza.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PgbackrestFacts {
    /// The `pgbackrest` command is there.
    pub installed: bool,
    /// `status.code`: 0 ok, 1 missing stanza path, 2 no valid backups, 3 missing
    /// stanza data, others a problem to look at; `None` when info gave no answer.
    pub status_code: Option<i64>,
    pub status_message: String,
    /// The backups, oldest first.
    pub backups: Vec<Backup>,
    /// What info printed when it could not be read (its own error).
    pub error: Option<String>,
}

/// One backup in the repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Backup {
    pub label: String,
    /// `full`, `diff` or `incr`.
    pub kind: String,
    /// When it started and finished, seconds since the epoch.
    pub started: i64,
    pub finished: i64,
    /// The database's size, and what the backup takes in the repository.
    pub size: Option<u64>,
    pub repository_size: Option<u64>,
    /// The WAL it needs to be consistent: first and last segment.
    pub wal_start: String,
    pub wal_stop: String,
}

impl PgbackrestFacts {
    /// The state of stanza `stanza` from the output of `pgbackrest info --output=json`.
    pub fn parse(stanza: &str, output: &str) -> PgbackrestFacts {
        let facts = PgbackrestFacts {
            installed: true,
            ..PgbackrestFacts::default()
        };
        let Ok(Value::Array(stanzas)) = serde_json::from_str::<Value>(output.trim()) else {
            return PgbackrestFacts {
                error: Some(output.trim().to_string()),
                ..facts
            };
        };
        let Some(found) = stanzas
            .iter()
            .find(|entry| entry["name"].as_str() == Some(stanza))
        else {
            return PgbackrestFacts {
                error: Some(format!("pgbackrest info does not list the stanza {stanza}")),
                ..facts
            };
        };
        let backups = found["backup"]
            .as_array()
            .map(|backups| backups.iter().map(backup).collect())
            .unwrap_or_default();
        PgbackrestFacts {
            status_code: found["status"]["code"].as_i64(),
            status_message: found["status"]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            backups,
            ..facts
        }
    }

    pub fn last_backup(&self) -> Option<&Backup> {
        self.backups.iter().max_by_key(|backup| backup.finished)
    }
}

fn backup(entry: &Value) -> Backup {
    let text = |value: &Value| value.as_str().unwrap_or_default().to_string();
    Backup {
        label: text(&entry["label"]),
        kind: text(&entry["type"]),
        started: entry["timestamp"]["start"].as_i64().unwrap_or(0),
        finished: entry["timestamp"]["stop"].as_i64().unwrap_or(0),
        size: entry["info"]["size"].as_u64(),
        repository_size: entry["info"]["repository"]["delta"]
            .as_u64()
            .or_else(|| entry["info"]["repository"]["size"].as_u64()),
        wal_start: text(&entry["archive"]["start"]),
        wal_stop: text(&entry["archive"]["stop"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_stanza_is_code_1() {
        let facts = PgbackrestFacts::parse(
            "main",
            r#"[{"archive":[],"backup":[],"cipher":"none","db":[],"name":"main","status":{"code":1,"message":"missing stanza path"}}]"#,
        );
        assert_eq!(facts.status_code, Some(1));
        assert_eq!(facts.status_message, "missing stanza path");
        assert!(facts.backups.is_empty() && facts.error.is_none());
    }

    #[test]
    fn backups_are_read_with_their_times_sizes_and_wal() {
        let facts = PgbackrestFacts::parse(
            "main",
            r#"[{"name":"main","status":{"code":0,"message":"ok"},"backup":[
                {"label":"20261201-101010F","type":"full","timestamp":{"start":100,"stop":160},
                 "info":{"size":31000000,"repository":{"size":4000000,"delta":4000000}},
                 "archive":{"start":"000000010000000000000004","stop":"000000010000000000000004"}},
                {"label":"20261201-101010F_20261201-111111I","type":"incr","timestamp":{"start":200,"stop":210},
                 "info":{"size":31000000,"repository":{"size":4000000,"delta":12000}},
                 "archive":{"start":"000000010000000000000006","stop":"000000010000000000000006"}}]}]"#,
        );
        assert_eq!(facts.status_code, Some(0));
        assert_eq!(facts.backups.len(), 2);
        let last = facts.last_backup();
        assert_eq!(last.map(|backup| backup.kind.as_str()), Some("incr"));
        assert_eq!(last.and_then(|backup| backup.repository_size), Some(12000));
    }

    #[test]
    fn an_unreadable_answer_is_kept_as_the_error() {
        let facts = PgbackrestFacts::parse("main", "ERROR: [029]: missing '=' in key/value");
        assert_eq!(facts.status_code, None);
        assert_eq!(
            facts.error.as_deref(),
            Some("ERROR: [029]: missing '=' in key/value")
        );
    }
}
