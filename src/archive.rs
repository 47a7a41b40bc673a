//! Where WAL is archived and restored from: the inventory variable `wal_archive`
//! read into a form, and the `archive_command`, `restore_command` and
//! `archive_cleanup_command` that form needs. Pure.

use crate::shell::quote;
use serde::Serialize;
use serde_json::Value;

/// Options for the archiver's own SSH connections: never prompt, give up quickly
/// (PostgreSQL retries), check host keys against the known_hosts pgconverge writes.
const SSH_OPTIONS: &str = "-o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=yes";

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
    /// `{ host: NAME, path: DIR }`: a directory on an archive host of the inventory,
    /// reached over SSH as the PostgreSQL OS user with the keys pgconverge exchanges.
    Remote {
        host: String,
        login: String,
        path: String,
    },
    /// `{ pgbackrest: { stanza: NAME, repo_path: DIR, repo_host: HOST, retention_full: N } }`:
    /// pgBackRest pushes and gets WAL and takes backups; its repository is on an
    /// archive host (reached over SSH with the keys pgconverge exchanges), or, without
    /// `repo_host`, at `repo_path` on each node (storage they share).
    Pgbackrest(Pgbackrest),
}

/// The pgBackRest form of `wal_archive`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pgbackrest {
    pub stanza: String,
    pub repo_path: String,
    /// The archive host that keeps the repository, with its address.
    pub repo_host: Option<String>,
    pub repo_address: Option<String>,
    /// Full backups the repository keeps (`repo1-retention-full`).
    pub retention_full: u32,
}

impl Pgbackrest {
    /// Whether `host` is where backups are taken and the repository is looked
    /// after: the repository host, or (without one) the primary.
    pub fn keeps_repository(&self, host: &str, is_primary: bool) -> bool {
        match &self.repo_host {
            Some(repo_host) => repo_host == host,
            None => is_primary,
        }
    }

    /// The command line of pgBackRest for this stanza, as a PostgreSQL command.
    fn command(&self, arguments: &str) -> String {
        format!(
            "pgbackrest --stanza={} {arguments}",
            command_word(&self.stanza)
        )
    }
}

/// Reads `wal_archive: { pgbackrest: {...} }`.
fn pgbackrest(
    value: &Value,
    archive_host: &dyn Fn(&str) -> Option<ArchiveHost>,
) -> Result<WalArchive, String> {
    let Value::Object(map) = value else {
        return Err(format!(
            "`wal_archive.pgbackrest` must be a map (`{{ stanza: NAME, repo_path: DIR, repo_host: HOST }}`), not {value}"
        ));
    };
    const KEYS: [&str; 4] = ["stanza", "repo_path", "repo_host", "retention_full"];
    if let Some(unknown) = map.keys().find(|key| !KEYS.contains(&key.as_str())) {
        return Err(format!(
            "`wal_archive.pgbackrest` has an unknown key `{unknown}` (expected {})",
            KEYS.join(", ")
        ));
    }
    let text = |key: &str| map.get(key).and_then(Value::as_str).map(str::trim);
    let stanza = text("stanza").unwrap_or("main").to_string();
    if stanza.is_empty()
        || !stanza
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c))
    {
        return Err(format!(
            "`wal_archive.pgbackrest.stanza` must be letters, digits, `_`, `-` and `.`, not {stanza:?}"
        ));
    }
    let repo_path = text("repo_path")
        .unwrap_or("/var/lib/pgbackrest")
        .to_string();
    if !repo_path.starts_with('/')
        || repo_path.contains(['\n', '\r', '\0'])
        || repo_path.trim() != repo_path
    {
        return Err(format!(
            "`wal_archive.pgbackrest.repo_path` must be an absolute path on one line, not {repo_path:?}"
        ));
    }
    let retention_full = match map.get("retention_full") {
        None => 2,
        Some(value) => match value.as_u64().and_then(|count| u32::try_from(count).ok()) {
            Some(count) if count >= 1 => count,
            _ => {
                return Err(format!(
                    "`wal_archive.pgbackrest.retention_full` must be a whole number of at least 1, not {value}"
                ));
            }
        },
    };
    let (repo_host, repo_address) = match text("repo_host") {
        None => (None, None),
        Some(host) => {
            let Some(found) = archive_host(host) else {
                return Err(format!(
                    "`wal_archive.pgbackrest.repo_host` names `{host}`, which is not a host of the inventory"
                ));
            };
            if !found.is_archive_role {
                return Err(format!(
                    "`wal_archive.pgbackrest.repo_host` names `{host}`, which is not in the group `archive`"
                ));
            }
            (Some(host.to_string()), Some(found.address))
        }
    };
    Ok(WalArchive::Pgbackrest(Pgbackrest {
        stanza,
        repo_path: repo_path.trim_end_matches('/').to_string(),
        repo_host,
        repo_address,
        retention_full,
    }))
}

/// What the form `{ host: NAME }` needs to know about the inventory's hosts.
pub struct ArchiveHost {
    /// `user@address` to reach the archive host with.
    pub login: String,
    pub address: String,
    pub is_archive_role: bool,
}

impl WalArchive {
    /// Reads `wal_archive` (or the default local directory when it is unset).
    pub fn from_vars(
        wal_archive: Option<&Value>,
        local_directory: &str,
        archive_host: &dyn Fn(&str) -> Option<ArchiveHost>,
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
        if let Some(settings) = map.get("pgbackrest") {
            if map.len() > 1 {
                return Err(
                    "`wal_archive: { pgbackrest: ... }` takes no other key beside `pgbackrest`"
                        .to_string(),
                );
            }
            return pgbackrest(settings, archive_host);
        }
        if let Some(unknown) = map.keys().find(|key| {
            !["path", "host", "command", "restore_command", "cleanup"].contains(&key.as_str())
        }) {
            return Err(format!(
                "`wal_archive` has an unknown key `{unknown}` (expected path, host, command, restore_command, cleanup, pgbackrest)"
            ));
        }
        if let Some(host) = text("host") {
            let Some(found) = archive_host(&host) else {
                return Err(format!(
                    "`wal_archive.host` names `{host}`, which is not a host of the inventory"
                ));
            };
            if !found.is_archive_role {
                return Err(format!(
                    "`wal_archive.host` names `{host}`, which is not in the group `archive`"
                ));
            }
            let Some(path) = text("path").filter(|path| path.starts_with('/')) else {
                return Err(
                    "`wal_archive: { host: ... }` needs an absolute `path` on the archive host"
                        .to_string(),
                );
            };
            if map.contains_key("command")
                || map.contains_key("restore_command")
                || map.contains_key("cleanup")
            {
                return Err("`wal_archive: { host: ..., path: ... }` takes no `command`, `restore_command` or `cleanup`".to_string());
            }
            return Ok(WalArchive::Remote {
                host,
                login: found.login,
                path: path.trim_end_matches('/').to_string(),
            });
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

    /// The directory pgconverge creates on `host` and verifies, if it has one there.
    pub fn directory_on(&self, host: &str) -> Option<&str> {
        match self {
            WalArchive::Local { path } | WalArchive::Shared { path, .. } => Some(path),
            WalArchive::Remote {
                host: archive_host,
                path,
                ..
            } if archive_host == host => Some(path),
            WalArchive::Pgbackrest(pgbackrest) => match &pgbackrest.repo_host {
                Some(repo_host) if repo_host == host => Some(&pgbackrest.repo_path),
                Some(_) => None,
                None => Some(&pgbackrest.repo_path),
            },
            WalArchive::Remote { .. } | WalArchive::Commands { .. } => None,
        }
    }

    /// The directory a segment lands in as a file of its name, which the archive
    /// check looks for; none for pgBackRest (its repository has its own layout).
    pub fn segment_directory_on(&self, host: &str) -> Option<&str> {
        match self {
            WalArchive::Pgbackrest(_) => None,
            _ => self.directory_on(host),
        }
    }

    /// Where segments go, in words for messages.
    pub fn destination(&self) -> String {
        match self {
            WalArchive::Local { path } | WalArchive::Shared { path, .. } => path.clone(),
            WalArchive::Remote { host, path, .. } => format!("{path} on the archive host {host}"),
            WalArchive::Commands { .. } => "the archive command's destination".to_string(),
            WalArchive::Pgbackrest(pgbackrest) => match &pgbackrest.repo_host {
                Some(host) => format!(
                    "the pgBackRest repository {} on {host} (stanza {})",
                    pgbackrest.repo_path, pgbackrest.stanza
                ),
                None => format!(
                    "the pgBackRest repository {} (stanza {})",
                    pgbackrest.repo_path, pgbackrest.stanza
                ),
            },
        }
    }

    /// The pgBackRest settings, when WAL goes through pgBackRest.
    pub fn pgbackrest(&self) -> Option<&Pgbackrest> {
        match self {
            WalArchive::Pgbackrest(pgbackrest) => Some(pgbackrest),
            _ => None,
        }
    }

    /// Whether the archive is reached over SSH, so the postgres accounts need keys.
    pub fn over_ssh(&self) -> bool {
        match self {
            WalArchive::Remote { .. } => true,
            WalArchive::Pgbackrest(pgbackrest) => pgbackrest.repo_host.is_some(),
            _ => false,
        }
    }

    /// Copies a finished segment into the archive, never over one that exists, and
    /// fails (so PostgreSQL retries) when it cannot. A segment already there with
    /// the same bytes is archived: a new primary offers again the segments its
    /// predecessor archived (after a switchover, a rejoin with pg_rewind, a crash
    /// between the copy and PostgreSQL's note of it), and refusing them would
    /// stop archiving for good; a different segment under that name still fails.
    /// The copy is written under a temporary name and renamed, so a copy cut
    /// short is never taken for a segment. Paths and logins are quoted for the
    /// shell that runs the command (and, over SSH, for the remote one too).
    pub fn archive_command(&self) -> String {
        match self {
            WalArchive::Local { path } | WalArchive::Shared { path, .. } => {
                let path = command_word(path);
                format!(
                    "if test -f {path}/%f; then cmp -s %p {path}/%f; else cp %p {path}/%f.tmp && mv {path}/%f.tmp {path}/%f; fi"
                )
            }
            WalArchive::Commands { archive, .. } => archive.clone(),
            WalArchive::Pgbackrest(pgbackrest) => pgbackrest.command("archive-push %p"),
            // One SSH connection per segment: refuse to overwrite, write under a
            // temporary name, rename. ssh exits 255 when it cannot connect, and
            // PostgreSQL takes an exit status above 125 as fatal (the archiver
            // restarts and pg_stat_archiver never counts the failure): `|| exit 1`
            // makes every failure an ordinary one, which PostgreSQL retries.
            WalArchive::Remote { login, path, .. } => {
                let path = command_word(path);
                let remote = format!(
                    "if test -f {path}/%f; then cmp -s - {path}/%f; else cat > {path}/%f.tmp && mv {path}/%f.tmp {path}/%f; fi"
                );
                format!(
                    "ssh {SSH_OPTIONS} -- {} {} < %p || exit 1",
                    command_word(login),
                    quote(&remote)
                )
            }
        }
    }

    /// How a standby reads a segment back; empty when standbys cannot read this archive.
    pub fn restore_command(&self) -> String {
        match self {
            WalArchive::Local { .. } => String::new(),
            WalArchive::Shared { path, .. } => format!("cp {}/%f %p", command_word(path)),
            WalArchive::Commands { restore, .. } => restore.clone(),
            WalArchive::Pgbackrest(pgbackrest) => pgbackrest.command("archive-get %f \"%p\""),
            // For a restore_command an exit status above 125 shuts the standby down.
            WalArchive::Remote { login, path, .. } => {
                let source = command_word(&format!("{login}:{path}"));
                format!("scp -q {SSH_OPTIONS} -- {source}/%f %p || exit 1")
            }
        }
    }

    /// Removes segments no standby needs any more, when asked for.
    pub fn cleanup_command(&self, bin_dir: &str) -> String {
        match self {
            WalArchive::Shared {
                path,
                cleanup: true,
            } => format!(
                "{}/pg_archivecleanup {} %r",
                command_word(bin_dir),
                command_word(path)
            ),
            _ => String::new(),
        }
    }
}

/// A value for a command PostgreSQL runs (`archive_command` and the like): quoted
/// for the shell, with `%` doubled so PostgreSQL does not read it as `%p` or `%f`.
pub fn command_word(value: &str) -> String {
    quote(value).replace('%', "%%")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Result<WalArchive, String> {
        WalArchive::from_vars(
            Some(&value),
            "/var/lib/postgresql/wal_archive",
            &|name| match name {
                "arch1" => Some(ArchiveHost {
                    login: "postgres@10.0.0.20".into(),
                    address: "10.0.0.20".into(),
                    is_archive_role: true,
                }),
                "db1" => Some(ArchiveHost {
                    login: "postgres@10.0.0.11".into(),
                    address: "10.0.0.11".into(),
                    is_archive_role: false,
                }),
                _ => None,
            },
        )
    }

    #[test]
    fn unset_means_a_local_directory_that_standbys_do_not_read() {
        let archive = WalArchive::from_vars(None, "/var/lib/postgresql/wal_archive", &|_| None)
            .expect("default");
        assert_eq!(
            archive.archive_command(),
            "if test -f /var/lib/postgresql/wal_archive/%f; then cmp -s %p /var/lib/postgresql/wal_archive/%f; else cp %p /var/lib/postgresql/wal_archive/%f.tmp && mv /var/lib/postgresql/wal_archive/%f.tmp /var/lib/postgresql/wal_archive/%f; fi"
        );
        assert_eq!(archive.restore_command(), "");
    }

    #[test]
    fn a_shared_path_archives_restores_and_cleans_up() {
        let archive = read(json!({ "path": "/mnt/wal/", "cleanup": true })).expect("shared");
        assert_eq!(
            archive.archive_command(),
            "if test -f /mnt/wal/%f; then cmp -s %p /mnt/wal/%f; else cp %p /mnt/wal/%f.tmp && mv /mnt/wal/%f.tmp /mnt/wal/%f; fi"
        );
        assert_eq!(archive.restore_command(), "cp /mnt/wal/%f %p");
        assert_eq!(
            archive.cleanup_command("/usr/lib/postgresql/15/bin"),
            "/usr/lib/postgresql/15/bin/pg_archivecleanup /mnt/wal %r"
        );
        assert_eq!(archive.directory_on("db1"), Some("/mnt/wal"));
    }

    #[test]
    fn an_archive_host_is_reached_over_ssh_without_overwriting() {
        let archive = read(json!({ "host": "arch1", "path": "/srv/wal_archive" })).expect("remote");
        assert_eq!(
            archive.archive_command(),
            "ssh -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=yes -- postgres@10.0.0.20 'if test -f /srv/wal_archive/%f; then cmp -s - /srv/wal_archive/%f; else cat > /srv/wal_archive/%f.tmp && mv /srv/wal_archive/%f.tmp /srv/wal_archive/%f; fi' < %p || exit 1"
        );
        assert_eq!(
            archive.restore_command(),
            "scp -q -o BatchMode=yes -o ConnectTimeout=10 -o StrictHostKeyChecking=yes -- postgres@10.0.0.20:/srv/wal_archive/%f %p || exit 1"
        );
        assert_eq!(archive.directory_on("arch1"), Some("/srv/wal_archive"));
        assert_eq!(archive.directory_on("db1"), None);
        assert!(archive.over_ssh());
    }

    #[test]
    fn commands_are_taken_as_written() {
        let archive = read(
            json!({ "command": "wal-g wal-push %p", "restore_command": "wal-g wal-fetch %f %p" }),
        )
        .expect("commands");
        assert_eq!(archive.archive_command(), "wal-g wal-push %p");
        assert_eq!(archive.restore_command(), "wal-g wal-fetch %f %p");
        assert_eq!(archive.directory_on("db1"), None);
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
            (
                json!({ "host": "h9", "path": "/srv" }),
                "not a host of the inventory",
            ),
            (
                json!({ "host": "db1", "path": "/srv" }),
                "not in the group `archive`",
            ),
            (json!({ "host": "arch1" }), "absolute `path`"),
            (json!({ "path": "/a", "cleanup": "yes" }), "true or false"),
        ] {
            let error = read(value.clone()).expect_err("a mistake");
            assert!(error.contains(expected), "{value}: {error}");
        }
    }

    /// What PostgreSQL does with a command before it runs it with `sh -c`.
    fn substitute(command: &str, path: &str, file: &str) -> String {
        command
            .replace("%%", "\u{0}")
            .replace("%p", path)
            .replace("%f", file)
            .replace('\u{0}', "%")
    }

    const AWKWARD: &str = "/wal it's $HOME `x` 100%f";

    #[test]
    fn an_awkward_shared_path_is_used_literally_by_archive_and_restore() {
        let scratch = tempfile::tempdir().expect("a temporary directory");
        let archive = format!("{}{AWKWARD}", scratch.path().display());
        std::fs::create_dir_all(&archive).expect("the archive directory");
        let segment = scratch.path().join("pg_wal_segment");
        std::fs::write(&segment, "wal bytes").expect("a segment");
        let form = read(json!({ "path": archive })).expect("a shared path");
        let run = |command: String| {
            let status = std::process::Command::new("sh")
                .arg("-c")
                .arg(&command)
                .status()
                .expect("sh runs");
            assert!(status.success(), "{command}");
        };
        run(substitute(
            &form.archive_command(),
            &segment.display().to_string(),
            "000000010000000000000001",
        ));
        let archived = std::path::Path::new(&archive).join("000000010000000000000001");
        assert_eq!(
            std::fs::read_to_string(&archived).ok().as_deref(),
            Some("wal bytes")
        );
        let restored = scratch.path().join("RECOVERYXLOG");
        run(substitute(
            &form.restore_command(),
            &restored.display().to_string(),
            "000000010000000000000001",
        ));
        assert_eq!(
            std::fs::read_to_string(&restored).ok().as_deref(),
            Some("wal bytes")
        );
    }

    /// A segment offered again with the same bytes (a new primary's, after a
    /// switchover or a rejoin) is archived; one with other bytes under the same
    /// name is refused and the archived one kept. Found by the chaos suite: a
    /// primary that had been rewound offered a segment its predecessor had
    /// archived, `test ! -f` refused it, and archiving stopped for good.
    #[test]
    fn a_segment_archived_again_with_the_same_bytes_succeeds_and_other_bytes_fail() {
        let scratch = tempfile::tempdir().expect("a temporary directory");
        let archive = scratch.path().join("archive");
        std::fs::create_dir_all(&archive).expect("the archive directory");
        let form = read(json!({ "path": archive.display().to_string() })).expect("a path");
        let segment = scratch.path().join("segment");
        let archive_it = |bytes: &str| {
            std::fs::write(&segment, bytes).expect("a segment");
            let command = substitute(
                &form.archive_command(),
                &segment.display().to_string(),
                "000000010000000000000003",
            );
            std::process::Command::new("sh")
                .arg("-c")
                .arg(&command)
                .status()
                .expect("sh runs")
                .success()
        };
        let archived = || std::fs::read_to_string(archive.join("000000010000000000000003")).ok();
        assert!(archive_it("first bytes"), "a new segment is archived");
        assert!(archive_it("first bytes"), "the same bytes again succeed");
        assert!(
            !archive_it("other bytes"),
            "other bytes under the name fail"
        );
        assert_eq!(archived().as_deref(), Some("first bytes"));
        assert!(
            !archive.join("000000010000000000000003.tmp").exists(),
            "no temporary copy is left"
        );
    }

    #[test]
    fn an_awkward_remote_path_reaches_the_remote_shell_as_one_word() {
        let form = read(json!({ "host": "arch1", "path": AWKWARD })).expect("a remote path");
        let command = substitute(&form.archive_command(), "/pg/RECOVERYXLOG", "SEGMENT");
        let local = shlex::split(&command).expect("the local shell can parse it");
        // ssh OPTIONS... LOGIN REMOTE < %p || exit 1
        let remote = &local[local
            .iter()
            .position(|word| word == "postgres@10.0.0.20")
            .expect("the login")
            + 1];
        // shlex splits as the shell does but keeps `;` on the word before it.
        let words: Vec<String> = shlex::split(remote)
            .expect("the remote shell can parse it")
            .into_iter()
            .map(|word| word.trim_end_matches(';').to_string())
            .collect();
        assert!(words.contains(&format!("{AWKWARD}/SEGMENT")), "{words:?}");
        assert!(
            words.contains(&format!("{AWKWARD}/SEGMENT.tmp")),
            "{words:?}"
        );
    }

    #[test]
    fn pgbackrest_pushes_and_gets_wal_through_its_repository_host() {
        let archive = read(serde_json::json!({
            "pgbackrest": { "repo_host": "arch1", "stanza": "main", "retention_full": 3 }
        }));
        let Ok(archive) = archive else {
            panic!("{archive:?}");
        };
        assert_eq!(
            archive.archive_command(),
            "pgbackrest --stanza=main archive-push %p"
        );
        assert_eq!(
            archive.restore_command(),
            "pgbackrest --stanza=main archive-get %f \"%p\""
        );
        assert!(archive.over_ssh());
        assert_eq!(archive.directory_on("arch1"), Some("/var/lib/pgbackrest"));
        assert_eq!(archive.directory_on("db1"), None);
        assert_eq!(archive.segment_directory_on("arch1"), None);
        assert_eq!(
            archive
                .pgbackrest()
                .map(|pgbackrest| (pgbackrest.retention_full, pgbackrest.repo_address.clone())),
            Some((3, Some("10.0.0.20".to_string())))
        );
    }

    #[test]
    fn pgbackrest_mistakes_are_named() {
        for (value, expected) in [
            (
                serde_json::json!({ "pgbackrest": { "repo_host": "db1" } }),
                "`wal_archive.pgbackrest.repo_host` names `db1`, which is not in the group `archive`",
            ),
            (
                serde_json::json!({ "pgbackrest": { "stanza": "a b" } }),
                "`wal_archive.pgbackrest.stanza` must be letters, digits, `_`, `-` and `.`, not \"a b\"",
            ),
            (
                serde_json::json!({ "pgbackrest": { "retention": 2 } }),
                "`wal_archive.pgbackrest` has an unknown key `retention` (expected stanza, repo_path, repo_host, retention_full)",
            ),
            (
                serde_json::json!({ "pgbackrest": {}, "path": "/srv" }),
                "`wal_archive: { pgbackrest: ... }` takes no other key beside `pgbackrest`",
            ),
        ] {
            assert_eq!(read(value), Err(expected.to_string()));
        }
    }
}
