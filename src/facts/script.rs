//! The remote facts script: one POSIX shell script, sent on standard input of one
//! SSH command, that prints every fact for `parse` to read. It only reads; it
//! changes nothing on the host.
//!
//! Each fact is a record `KEY LENGTH`, a line feed, the value's LENGTH bytes and a
//! line feed, written by the shell's own `printf` (`LC_ALL=C` makes `${#value}`
//! count bytes); the whole output goes through one `base64` at the end, so it
//! reaches pgconverge as text whatever bytes a value holds. A file's content is
//! base64 in its record (`$(...)` would drop its trailing line feeds). Writing
//! each fact with its own `base64` cost a process or three per fact: at 100
//! hosts on one machine, seconds of CPU.

use super::FactsRequest;
use crate::shell::quote;
use crate::versions::{
    ARCHIVER_STATISTICS, CONNECTION_TLS_STATISTICS, PENDING_RESTART, REPLICATION_SLOTS,
    REWIND_WITHOUT_SUPERUSER, SETTING_SOURCES, SLOT_WAL_STATUS, SYNCHRONOUS_REPLICATION,
    WAL_RECEIVER_SENDER, WalFunctions,
};

/// The separator psql puts between columns: the ASCII unit separator, which no
/// setting name, role attribute or address contains.
pub const FIELD_SEPARATOR: char = '\u{1f}';

/// The shared header and library (`as_pg` runs a command as the PostgreSQL OS
/// user whether we logged in as root, as that user, or with sudo).
fn prelude(os_user: &str) -> String {
    crate::script::Script::new("facts", "", os_user).render()
}

/// The function that writes one record, which both parts of the script use.
const EMIT: &str = "emit() { printf '%s %s\\n%s\\n' \"$1\" \"${#2}\" \"$2\"; }\n";

/// Builds the facts script for one host. Its outer part, run as the login
/// (root), reads only the OS user's passwd entry; everything else is read by an
/// inner script run as the PostgreSQL OS user (`as_pg sh -s`, the script on
/// standard input). Most paths the plan compares are in directories that user
/// owns (the data directory, its home, `/etc/postgresql/V/C` on Debian): read
/// as root, a link planted there would show root-only files in the plan. Where
/// the user does not exist yet, nothing can be theirs, and the login reads.
pub fn build(request: &FactsRequest) -> String {
    let mut script = prelude(&request.settings.os_user);
    script.push_str(EMIT);
    script.push_str(&format!(
        "# shellcheck disable=SC2016\nPGCONVERGE_FACTS={}\n",
        quote(&inner(request))
    ));
    script.push_str(
        r#"{
PASSWD=$(getent passwd "$PG_OS_USER")
emit os_user.passwd "$PASSWD"
# The run lock's holder, read only by root, only in root's own 0700 directory,
# and only while the lock is held: while the holding process its record names
# runs, with the start time it records (a PID is reused). Nothing here takes
# the lock.
if [ "$(id -u)" = 0 ] && [ ! -L /run/pgconverge ] && [ -d /run/pgconverge ] \
  && [ "$(stat -c '%u %a' /run/pgconverge)" = "0 700" ] \
  && [ -f /run/pgconverge/holder ] && [ ! -L /run/pgconverge/holder ]; then
  LOCK_RECORD=$(head -c 4000 /run/pgconverge/holder)
  LOCK_PID=$(printf '%s\n' "$LOCK_RECORD" | sed -n 's/^holder_pid=\([0-9][0-9]*\)$/\1/p')
  LOCK_START=$(printf '%s\n' "$LOCK_RECORD" | sed -n 's/^holder_start=\([0-9][0-9]*\)$/\1/p')
  LOCK_STAT=''
  if [ -n "$LOCK_PID" ] && [ -n "$LOCK_START" ] && { IFS= read -r LOCK_STAT <"/proc/$LOCK_PID/stat"; } 2>/dev/null; then
    # shellcheck disable=SC2086 # splitting the fields is the point
    set -- ${LOCK_STAT##*) }
    if [ "$#" -ge 20 ]; then
      shift 19
      if [ "$1" = "$LOCK_START" ]; then emit run_lock.holder "$LOCK_RECORD"; fi
    fi
    set --
  fi
fi
if [ -n "$PASSWD" ]; then
  printf '%s' "$PGCONVERGE_FACTS" | as_pg sh -s
else
  printf '%s' "$PGCONVERGE_FACTS" | sh -s
fi
} | base64 -w0
"#,
    );
    script
}

/// The part of the facts script run as the PostgreSQL OS user: every record
/// but the passwd entry, ended by the `end` record.
pub(crate) fn inner(request: &FactsRequest) -> String {
    let mut script = prelude(&request.settings.os_user);
    script.push_str(EMIT);
    script.push_str(
        r#"# A link is reported as a link (with where it leads), never read through:
# the plan refuses to act on it.
emit_path() {
  if [ -L "$2" ]; then emit "$1.link" "$(readlink "$2")"
  elif [ -e "$2" ]; then emit "$1.stat" "$(stat -c '%U:%G:%a:%Y' "$2")"; fi
}
emit_file() {
  if [ -L "$2" ]; then emit_path "$1" "$2"
  elif [ -f "$2" ]; then
    emit_path "$1" "$2"
    if [ -r "$2" ]; then emit "$1.content" "$(base64 -w0 < "$2")"; else emit "$1.unreadable" yes; fi
  fi
}
# count_existing PATH...: how many of the paths exist, in $COUNT (an unmatched
# pattern stays as written, and does not).
count_existing() {
  COUNT=0
  for f in "$@"; do if [ -e "$f" ]; then COUNT=$((COUNT + 1)); fi; done
}
"#,
    );
    let bin_dir = quote(&request.settings.bin_dir);
    script.push_str(&format!(
        "if [ -x {bin_dir}/postgres ]; then emit postgres_installed yes; fi\n"
    ));
    // What a server can start with: the host's memory and the libraries installed.
    script.push_str(&format!(
        "if [ -r /proc/meminfo ]; then while read -r key value _; do if [ \"$key\" = MemTotal: ]; then emit memory_kb \"$value\"; break; fi; done < /proc/meminfo; fi\n\
LIBDIR=$({bin_dir}/pg_config --pkglibdir 2>/dev/null || echo {bin_dir}/../lib)\n\
if [ -d \"$LIBDIR\" ]; then emit libraries \"$(for f in \"$LIBDIR\"/*.so; do [ -e \"$f\" ] && printf '%s\\n' \"${{f##*/}}\"; done)\"; fi\n"
    ));
    // The TCP sockets in the LISTEN state (state 0A), as `ADDRESS:PORT` in hex: a
    // port the new configuration names may already be taken. procfs has them on
    // every Linux, where `ss` may not be installed.
    script.push_str(
        "if [ -r /proc/net/tcp ]; then emit listening \"$(awk '$4 == \"0A\" { print $2 }' /proc/net/tcp /proc/net/tcp6 2>/dev/null)\"; fi\n",
    );
    for (index, path) in request.files.iter().enumerate() {
        script.push_str(&format!("emit_file file.{index} {}\n", quote(path)));
    }
    for (index, path) in request.directories.iter().enumerate() {
        script.push_str(&format!(
            "if [ -L {path} ] || [ -d {path} ]; then emit_path directory.{index} {path}; fi\n",
            path = quote(path)
        ));
    }
    for (index, path) in request.readable.iter().enumerate() {
        script.push_str(&format!(
            "if as_pg test -r {path}; then emit readable.{index} yes; else emit readable.{index} no; fi\n",
            path = quote(path)
        ));
    }
    if let Some(stanza) = &request.pgbackrest_stanza {
        // Read-only: info reads the repository, it changes nothing.
        script.push_str(&format!(
            "if command -v pgbackrest >/dev/null 2>&1; then emit pgbackrest.info \"$(as_pg pgbackrest --stanza={stanza} --output=json info 2>&1)\"; else emit pgbackrest.missing yes; fi\n",
            stanza = quote(stanza)
        ));
    }
    script.push_str(&data_directory_section(request));
    script.push_str(super::timeline::SCRIPT);
    script.push_str(&server_section(request));
    // The last record: without it the output was cut short (the script stopped
    // at an error, or the connection broke).
    script.push_str("emit end yes\n");
    script
}

fn data_directory_section(request: &FactsRequest) -> String {
    let data_dir = quote(&request.settings.data_dir);
    let bin_dir = quote(&request.settings.bin_dir);
    format!(
        r#"DATA={data_dir}
if [ -f "$DATA/PG_VERSION" ]; then
  PG_VERSION_FILE=''
  IFS= read -r PG_VERSION_FILE < "$DATA/PG_VERSION" || true
  emit data.pg_version "$PG_VERSION_FILE"
  emit data.controldata "$(as_pg {bin_dir}/pg_controldata -D "$DATA" 2>/dev/null)"
  count_existing "$DATA"/base/*
  emit data.database_directories "$COUNT"
  [ -f "$DATA/standby.signal" ] && emit data.standby_signal yes
  [ -f "$DATA/recovery.conf" ] && emit data.recovery_conf yes
  if [ -f "$DATA/postmaster.pid" ]; then
    # Its fourth line is the port.
    POSTMASTER_PORT=''
    {{ read -r _; read -r _; read -r _; read -r POSTMASTER_PORT; }} < "$DATA/postmaster.pid" || true
    emit data.postmaster_pid "$POSTMASTER_PORT"
  fi
  [ -f "$DATA/pgconverge-rewind-failed" ] && emit data.rewind_failed "$(head -c 4000 "$DATA/pgconverge-rewind-failed")"
  if [ -d "$DATA/pg_replslot" ]; then
    SLOTS=''
    for f in "$DATA"/pg_replslot/*; do if [ -e "$f" ]; then SLOTS="$SLOTS${{f##*/}}
"; fi; done
    emit data.slots_on_disk "$SLOTS"
  fi
  count_existing "$DATA"/pg_wal/archive_status/*.ready "$DATA"/pg_xlog/archive_status/*.ready
  emit data.wal_ready "$COUNT"
fi
"#
    )
}

fn server_section(request: &FactsRequest) -> String {
    let version = request.settings.pg_version;
    let wal = WalFunctions::for_version(version);
    let wal_receiver_query = if WAL_RECEIVER_SENDER.in_version(version) {
        "select status, coalesce(sender_host, ''), coalesce(sender_port::text, ''), coalesce(received_tli::text, '') from pg_stat_wal_receiver;"
    } else {
        // Before 11 the receiver reports only its connection string; `parse` reads host and port from it.
        "select status, coalesce(conninfo, ''), '', coalesce(received_tli::text, '') from pg_stat_wal_receiver;"
    };
    // The position a server has reached: written on a primary, received on a standby;
    // the replay position and pause state only mean something in recovery.
    let state_query = format!(
        "select pg_is_in_recovery(), extract(epoch from pg_conf_load_time())::bigint, extract(epoch from pg_postmaster_start_time())::bigint, \
case when pg_is_in_recovery() then coalesce({receive}, {replay})::text else {current}::text end, \
case when pg_is_in_recovery() then coalesce({replay}::text, '') else '' end, \
case when pg_is_in_recovery() then {paused}::text else 'false' end, \
coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp())::bigint::text, '');",
        receive = wal.receive,
        replay = wal.replay,
        current = wal.current,
        paused = wal.paused,
    );
    let replication_query = format!(
        "select coalesce(application_name, ''), coalesce(host(client_addr), ''), coalesce(state, ''), \
coalesce({diff}(case when pg_is_in_recovery() then {replay} else {current} end, {replay_column})::bigint::text, ''), {ssl}, {sync_state} from pg_stat_replication{ssl_join};",
        diff = wal.diff,
        current = wal.current,
        replay = wal.replay,
        ssl = if CONNECTION_TLS_STATISTICS.in_version(version) {
            "coalesce(pg_stat_ssl.ssl::text, '')"
        } else {
            "''"
        },
        ssl_join = if CONNECTION_TLS_STATISTICS.in_version(version) {
            " left join pg_stat_ssl using (pid)"
        } else {
            ""
        },
        sync_state = if SYNCHRONOUS_REPLICATION.in_version(version) {
            "coalesce(sync_state, '')"
        } else {
            "''"
        },
        replay_column = wal.replay_column,
    );
    let pending_restart = if PENDING_RESTART.in_version(version) {
        "pending_restart"
    } else {
        "false"
    };
    // Values and file names travel hex-encoded: a line break in one cannot split a row.
    let hex = |column: &str| format!("encode(convert_to(coalesce({column}, ''), 'UTF8'), 'hex')");
    let hex_setting = hex("setting");
    let (vartype, hex_sourcefile, hex_boot_val) = if SETTING_SOURCES.in_version(version) {
        ("vartype".to_string(), hex("sourcefile"), hex("boot_val"))
    } else {
        ("''".to_string(), "''".to_string(), "''".to_string())
    };
    // pg_rewind may run as a non-superuser from 11 when it may read the source's files.
    let rewind_grant = if REWIND_WITHOUT_SUPERUSER.in_version(version) {
        "has_function_privilege(rolname, 'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)', 'execute')"
    } else {
        "false"
    };
    let archiver_query = if ARCHIVER_STATISTICS.in_version(version) {
        "select archived_count, coalesce(last_archived_wal, ''), coalesce(extract(epoch from last_archived_time)::bigint::text, ''), \
failed_count, coalesce(last_failed_wal, ''), coalesce(extract(epoch from last_failed_time)::bigint::text, '') from pg_stat_archiver;"
    } else {
        "select 0, '', '', 0, '', '';"
    };
    let slots_query = if SLOT_WAL_STATUS.in_version(version) {
        format!(
            "select slot_name, active, coalesce(wal_status, ''), coalesce({diff}(case when pg_is_in_recovery() then {replay} else {current} end, restart_lsn)::bigint::text, '') from pg_replication_slots where slot_type = 'physical' order by slot_name;",
            diff = wal.diff,
            replay = wal.replay,
            current = wal.current
        )
    } else if REPLICATION_SLOTS.in_version(version) {
        format!(
            "select slot_name, active, '', coalesce({diff}(case when pg_is_in_recovery() then {replay} else {current} end, restart_lsn)::bigint::text, '') from pg_replication_slots where slot_type = 'physical' order by slot_name;",
            diff = wal.diff,
            replay = wal.replay,
            current = wal.current
        )
    } else {
        "select '', false, '', '' where false;".to_string()
    };
    let separator = FIELD_SEPARATOR;
    format!(
        r#"# The version's own psql where it is: Debian's psql in PATH is a Perl wrapper
# that finds it, at the cost of a Perl interpreter per host.
if [ -x {bin_dir}/psql ]; then PSQL={bin_dir}/psql; else PSQL=psql; fi
if SQL_OUT=$(as_pg "$PSQL" -XAtq -h {socket} -p {port} -d postgres -v ON_ERROR_STOP=1 -v role={role} -F '{separator}' 2>&1 <<'PGCONVERGE_SQL'
\echo @@state
{state_query}
\echo @@settings
select name, context, {pending_restart}, {hex_setting}, coalesce(unit, ''), {vartype}, source, {hex_sourcefile}, {hex_boot_val} from pg_settings;
\echo @@role
select rolcanlogin, rolreplication, coalesce(rolpassword, ''), {rewind_grant} from pg_authid where rolname = :'role';
\echo @@wal_receiver
{wal_receiver_query}
\echo @@replication
{replication_query}
\echo @@slots
{slots_query}
\echo @@archiver
{archiver_query}
\echo @@databases
select datname from pg_database where datname not in ('postgres', 'template0', 'template1');
PGCONVERGE_SQL
); then emit server "$SQL_OUT"; else emit server_error "$SQL_OUT"; fi
"#,
        bin_dir = quote(&request.settings.bin_dir),
        socket = quote(&request.settings.socket_dir),
        port = request.settings.port,
        role = quote(&request.settings.replication_user),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::HostSettings;

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
        }
    }

    #[test]
    fn script_quotes_every_value_it_interpolates() {
        let script = inner(&request());
        assert!(
            script.contains("emit_file file.1 '/tmp/with space'"),
            "{script}"
        );
        assert!(script.contains("[ -d '/srv/wal archive' ]"), "{script}");
        assert!(
            script.contains(
                "if as_pg test -r '/etc/ssl/private/with space.key'; then emit readable.0 yes"
            ),
            "{script}"
        );
        assert!(script.contains(r#"-v role="repl'icator""#), "{script}");
    }

    #[test]
    fn the_script_passes_shellcheck() {
        assert_eq!(
            crate::script::check::shellcheck_text(&build(&request())),
            ""
        );
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
