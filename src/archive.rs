//! Where WAL is archived and restored from: the inventory variable `wal_archive`
//! read into a form, and the `archive_command`, `restore_command` and
//! `archive_cleanup_command` that form needs. Pure.

use serde::Serialize;
use serde_json::Value;

/// The archive of one host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "form", rename_all = "snake_case")]
pub enum WalArchive {
    /// The default when `wal_archive` is unset: a directory on each node
    /// (`wal_archive_dir`), which no standby reads.
    Local { path: String },
    /// `{ path: DIR }`: a directory every node sees (a shared mount).
    Shared { path: String, cleanup: bool },
    /// `{ command: ..., restore_command: ... }`: another tool (WAL-G, pgBackRest, ...).
    Commands { archive: String, restore: String },
}

/// How a standby gets WAL: streamed from its upstream, or only from the archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationMode {
    Streaming,
    /// A warm standby that recovers only from the archive (the 8.3 pattern).
    Archive,
}

impl WalArchive {
    /// Reads `wal_archive` (or the default local directory when it is unset).
    pub fn from_vars(
        wal_archive: Option<&Value>,
        local_directory: &str,
    ) -> Result<WalArchive, String> {
        let map = match wal_archive {
            None | Some(Value::Null) => {
                return Ok(WalArchive::Local {
                    path: local_directory.to_string(),
                });
            }
            Some(Value::Object(map)) => map,
            Some(other) => {
                return Err(format!(
                    "`wal_archive` must be a map (`{{ path: DIR }}` or `{{ command: ..., restore_command: ... }}`), not {other}"
                ));
            }
        };
        let text = |key: &str| {
            map.get(key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(str::to_string)
        };
        if let Some(unknown) = map.keys().find(|key| {
            !["path", "host", "command", "restore_command", "cleanup"].contains(&key.as_str())
        }) {
            return Err(format!(
                "`wal_archive` has an unknown key `{unknown}` (expected path, host, command, restore_command, cleanup)"
            ));
        }
        if map.contains_key("host") {
            return Err("`wal_archive: { host: ... }` (an archive host reached over SSH) needs the SSH key exchange between the postgres accounts, which pgconverge does not do yet: use a shared `path` or your own `command`".to_string());
        }
        match (text("path"), text("command"), text("restore_command")) {
            (Some(path), None, None) => {
                if !path.starts_with('/') {
                    return Err(format!(
                        "`wal_archive.path` must be an absolute path, not `{path}`"
                    ));
                }
                let cleanup = match map.get("cleanup") {
                    None => false,
                    Some(Value::Bool(cleanup)) => *cleanup,
                    Some(other) => {
                        return Err(format!(
                            "`wal_archive.cleanup` must be true or false, not {other}"
                        ));
                    }
                };
                Ok(WalArchive::Shared {
                    path: path.trim_end_matches('/').to_string(),
                    cleanup,
                })
            }
            (None, Some(archive), Some(restore)) => Ok(WalArchive::Commands { archive, restore }),
            (None, Some(_), None) | (None, None, Some(_)) => {
                Err("`wal_archive` needs both `command` and `restore_command`".to_string())
            }
            (Some(_), _, _) => Err(
                "`wal_archive` takes either `path` or `command` and `restore_command`, not both"
                    .to_string(),
            ),
            (None, None, None) => {
                Err("`wal_archive` needs `path`, or `command` and `restore_command`".to_string())
            }
        }
    }

    /// The directory pgconverge creates and verifies, if the archive is one.
    pub fn directory(&self) -> Option<&str> {
        match self {
            WalArchive::Local { path } | WalArchive::Shared { path, .. } => Some(path),
            WalArchive::Commands { .. } => None,
        }
    }

    /// Copies a finished segment into the archive, never over one that exists, and
    /// fails (so PostgreSQL retries) when it cannot.
    pub fn archive_command(&self) -> String {
        match self {
            WalArchive::Local { path } | WalArchive::Shared { path, .. } => {
                format!("test ! -f {path}/%f && cp %p {path}/%f")
            }
            WalArchive::Commands { archive, .. } => archive.clone(),
        }
    }

    /// How a standby reads a segment back; empty when standbys cannot read this archive.
    pub fn restore_command(&self) -> String {
        match self {
            WalArchive::Local { .. } => String::new(),
            WalArchive::Shared { path, .. } => format!("cp {path}/%f %p"),
            WalArchive::Commands { restore, .. } => restore.clone(),
        }
    }

    /// Removes segments no standby needs any more, when asked for.
    pub fn cleanup_command(&self, bin_dir: &str) -> String {
        match self {
            WalArchive::Shared {
                path,
                cleanup: true,
            } => format!("{bin_dir}/pg_archivecleanup {path} %r"),
            _ => String::new(),
        }
    }
}

impl ReplicationMode {
    pub fn from_vars(value: Option<&Value>) -> Result<ReplicationMode, String> {
        match value.and_then(Value::as_str).unwrap_or("streaming") {
            "streaming" => Ok(ReplicationMode::Streaming),
            "archive" => Ok(ReplicationMode::Archive),
            other => Err(format!(
                "`replication_mode` must be `streaming` or `archive`, not `{other}`"
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ReplicationMode::Streaming => "streaming",
            ReplicationMode::Archive => "archive",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Result<WalArchive, String> {
        WalArchive::from_vars(Some(&value), "/var/lib/postgresql/wal_archive")
    }

    #[test]
    fn unset_means_a_local_directory_that_standbys_do_not_read() {
        let archive =
            WalArchive::from_vars(None, "/var/lib/postgresql/wal_archive").expect("default");
        assert_eq!(
            archive.archive_command(),
            "test ! -f /var/lib/postgresql/wal_archive/%f && cp %p /var/lib/postgresql/wal_archive/%f"
        );
        assert_eq!(archive.restore_command(), "");
    }

    #[test]
    fn a_shared_path_archives_restores_and_cleans_up() {
        let archive = read(json!({ "path": "/mnt/wal/", "cleanup": true })).expect("shared");
        assert_eq!(
            archive.archive_command(),
            "test ! -f /mnt/wal/%f && cp %p /mnt/wal/%f"
        );
        assert_eq!(archive.restore_command(), "cp /mnt/wal/%f %p");
        assert_eq!(
            archive.cleanup_command("/usr/lib/postgresql/15/bin"),
            "/usr/lib/postgresql/15/bin/pg_archivecleanup /mnt/wal %r"
        );
        assert_eq!(archive.directory(), Some("/mnt/wal"));
    }

    #[test]
    fn commands_are_taken_as_written() {
        let archive = read(
            json!({ "command": "wal-g wal-push %p", "restore_command": "wal-g wal-fetch %f %p" }),
        )
        .expect("commands");
        assert_eq!(archive.archive_command(), "wal-g wal-push %p");
        assert_eq!(archive.restore_command(), "wal-g wal-fetch %f %p");
        assert_eq!(archive.directory(), None);
    }

    #[test]
    fn every_mistake_is_named() {
        for (value, expected) in [
            (json!("/mnt/wal"), "must be a map"),
            (json!({ "path": "relative" }), "absolute path"),
            (json!({ "command": "x" }), "needs both"),
            (
                json!({ "path": "/a", "command": "x", "restore_command": "y" }),
                "not both",
            ),
            (json!({ "pth": "/a" }), "unknown key `pth`"),
            (json!({ "host": "h4", "path": "/srv" }), "SSH key exchange"),
            (json!({ "path": "/a", "cleanup": "yes" }), "true or false"),
        ] {
            let error = read(value.clone()).expect_err("a mistake");
            assert!(error.contains(expected), "{value}: {error}");
        }
        assert!(ReplicationMode::from_vars(Some(&json!("warm"))).is_err());
        assert_eq!(
            ReplicationMode::from_vars(None),
            Ok(ReplicationMode::Streaming)
        );
    }
}
