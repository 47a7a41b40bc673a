//! The remote facts script: one POSIX shell script, sent on standard input of one
//! SSH command, that prints every fact for `parse` to read. It only reads; it
//! changes nothing on the host.
//!
//! It is put together from pieces, each a checked `.sh` file of its family of
//! facts beside that family's parser (`host`, `files`, `pgbackrest`,
//! `data_directory`, `timeline`, `server`, `pgbouncer`), after one header of parameters
//! that `Script` quotes: what differs from host to host (paths, the role, the
//! SQL its version understands) reaches the pieces only as shell variables.
//!
//! Each fact is a record `KEY LENGTH`, a line feed, the value's LENGTH bytes and a
//! line feed, written by the shell's own `printf` (`records.sh`); the whole
//! output goes through one `base64` at the end, so it reaches pgconverge as
//! text whatever bytes a value holds. A file's content is base64 in its record
//! (`$(...)` would drop its trailing line feeds). Writing each fact with its own
//! `base64` cost a process or three per fact: at 100 hosts on one machine,
//! seconds of CPU.

use super::{FactsRequest, data_directory, files, host, pgbackrest, pgbouncer, server, timeline};
use crate::script::Script;

/// `emit` and the helpers that write records, which both parts of the script use.
const RECORDS: &str = include_str!("records.sh");

/// The outer part: the passwd entry, the run lock's holder, then the inner part.
const OUTER: &str = include_str!("outer.sh");

/// The last record, which tells a whole output from one cut short.
const END: &str = include_str!("end.sh");

/// Builds the facts script for one host. Its outer part, run as the login
/// (root), reads only the OS user's passwd entry and the run lock's holder;
/// everything else is read by an inner script run as the PostgreSQL OS user
/// (`as_pg sh -s`, the script on standard input). Most paths the plan compares
/// are in directories that user owns (the data directory, its home,
/// `/etc/postgresql/V/C` on Debian): read as root, a link planted there would
/// show root-only files in the plan. Where the user does not exist yet,
/// nothing can be theirs, and the login reads.
pub fn build(request: &FactsRequest) -> String {
    outer(request).render()
}

/// The outer part, holding the inner one as the parameter `PGCONVERGE_FACTS`.
pub(crate) fn outer(request: &FactsRequest) -> Script {
    Script::new("facts", RECORDS, &request.settings.os_user)
        .hidden("PGCONVERGE_FACTS", &inner(request).render())
        .piece(host::RUN_LOCK_HOLDER)
        .piece(OUTER)
}

/// The part of the facts script run as the PostgreSQL OS user: every record
/// but the passwd entry and the run lock's holder, ended by the `end` record.
pub(crate) fn inner(request: &FactsRequest) -> Script {
    let script = Script::for_server("facts", RECORDS, &request.settings);
    let script = files::ask(host::ask(script, request), request);
    let script = match &request.pgbackrest_stanza {
        Some(stanza) => pgbackrest::ask(script, stanza),
        None => script,
    };
    let script = timeline::ask(data_directory::ask(script));
    pgbouncer::ask(server::ask(script, request), request).piece(END)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::HostSettings;
    use crate::versions::PgVersion;

    fn request() -> FactsRequest {
        FactsRequest {
            settings: HostSettings {
                replication_user: "repl'icator".into(),
                ..HostSettings::example()
            },
            files: vec![
                "/etc/postgresql/15/main/postgresql.conf".into(),
                "/tmp/with space".into(),
            ],
            directories: vec!["/srv/wal archive".into()],
            readable: vec!["/etc/ssl/private/with space.key".into()],
            pgbackrest_stanza: Some("main".into()),
            pgbouncer: true,
            pgbouncer_auth: true,
        }
    }

    /// Every value that differs from host to host is in the header, quoted, and
    /// nowhere else: the pieces read them as variables.
    #[test]
    fn values_reach_the_script_only_in_its_quoted_header() {
        let script = inner(&request()).render();
        let header_end = script
            .find(crate::script::LIBRARY)
            .expect("the library follows the header");
        let (header, pieces) = script.split_at(header_end);
        for quoted in [
            "'/tmp/with space'",
            "'/srv/wal archive'",
            "'/etc/ssl/private/with space.key'",
            r#"PG_REPLICATION_USER="repl'icator""#,
            "PGBACKREST_STANZA=main",
        ] {
            assert!(header.contains(quoted), "{quoted} in {header}");
        }
        for value in ["with space", "wal archive", "icator", "pg_settings"] {
            assert!(!pieces.contains(value), "{value} outside the header");
        }
    }

    /// The script is checked for several versions (their SQL differs) and
    /// requests (a stanza adds a piece), both parts, with every parameter's
    /// value hidden from shellcheck as the action scripts are checked.
    #[test]
    fn the_script_passes_shellcheck_for_every_kind_of_host() {
        for version in [803, 906, 1200, 1500, 1700, 1800] {
            for stanza in [None, Some("main".to_string())] {
                let mut request = request();
                request.settings.pg_version = PgVersion(version);
                request.pgbackrest_stanza = stanza;
                for script in [outer(&request), inner(&request)] {
                    assert_eq!(
                        crate::script::check::shellcheck(&script),
                        "",
                        "{version}: {}",
                        script.describe()
                    );
                }
                // And as sent, with the values written out.
                let findings = crate::script::check::shellcheck_sent(&build(&request));
                assert_eq!(findings, "", "{version}");
            }
        }
    }

    #[test]
    fn script_is_valid_posix_shell() {
        let status = std::process::Command::new("sh")
            .arg("-n")
            .arg("-c")
            .arg(build(&request()))
            .status()
            .expect("sh runs");
        assert!(status.success());
    }

    #[test]
    fn what_sh_writes_is_read_back_byte_for_byte() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let data = directory.path().join("data");
        std::fs::create_dir_all(data.join("pg_replslot/slot_a")).expect("a data directory");
        std::fs::write(data.join("PG_VERSION"), "15\n").expect("PG_VERSION");
        // Trailing line feeds and a byte that is no UTF-8: a file's content as it is.
        let content = b"port = 5432\n\xff\n\n".to_vec();
        let file = directory.path().join("with space.conf");
        std::fs::write(&file, &content).expect("a file");
        let text = |path: &std::path::Path| path.to_string_lossy().into_owned();
        // Links where a file and a directory are asked for: reported as links.
        let linked_file = directory.path().join("linked.conf");
        std::os::unix::fs::symlink(&file, &linked_file).expect("a link");
        let linked_directory = directory.path().join("linked");
        std::os::unix::fs::symlink(directory.path(), &linked_directory).expect("a link");
        let request = FactsRequest {
            settings: HostSettings {
                data_dir: text(&data),
                bin_dir: text(&directory.path().join("no bin")),
                socket_dir: text(directory.path()),
                // The inner part runs as this user: the one running the test,
                // who can read the temporary directory.
                os_user: current_user(),
                ..HostSettings::example()
            },
            files: vec![
                text(&file),
                text(&directory.path().join("missing")),
                text(&linked_file),
            ],
            directories: vec![text(directory.path()), text(&linked_directory)],
            readable: Vec::new(),
            pgbackrest_stanza: None,
            pgbouncer: false,
            pgbouncer_auth: false,
        };
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg(build(&request))
            .output()
            .expect("sh runs");
        assert!(output.status.success(), "{output:?}");
        let stdout = String::from_utf8(output.stdout).expect("base64 is text");
        let facts = super::super::parse::parse(&request, &stdout)
            .unwrap_or_else(|error| panic!("{error}: {stdout}"));
        let read = facts.file(&text(&file)).expect("the file was read");
        assert_eq!(read.content, content);
        assert!(
            facts
                .file(&text(&directory.path().join("missing")))
                .is_none()
        );
        assert_eq!(facts.directories.len(), 1);
        assert!(facts.file(&text(&linked_file)).is_none());
        assert_eq!(
            facts.links.get(&text(&linked_file)),
            Some(&text(&file)),
            "a linked file is reported as a link, not read"
        );
        assert_eq!(
            facts.links.get(&text(&linked_directory)),
            Some(&text(directory.path()))
        );
        assert_eq!(facts.data_directory.pg_version.as_deref(), Some("15"));
        assert_eq!(facts.data_directory.slots_on_disk, ["slot_a"]);
        assert!(facts.memory_kb.is_some_and(|kb| kb > 0));
        // No server listens on the temporary socket directory.
        assert!(facts.server.is_none());
        assert!(facts.server_error.is_some_and(|error| !error.is_empty()));
    }

    fn current_user() -> String {
        let output = std::process::Command::new("id")
            .arg("-un")
            .output()
            .expect("id runs");
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    #[test]
    fn old_servers_get_queries_they_understand() {
        let mut old = request();
        old.settings.pg_version = crate::versions::PgVersion(906);
        let script = build(&old);
        assert!(script.contains("coalesce(conninfo, '')"));
        assert!(!script.contains("sender_host"));
    }
}
