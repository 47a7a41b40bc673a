//! The shell scripts that carry out each operation on a host. Pure: an operation in,
//! script text out. Every value is quoted; every wait is bounded; a failing
//! operation puts back what it changed.

use crate::facts::script::prelude;
use crate::plan::{Operation, ServerContext, ServiceAction};
use crate::playbook::ConfigCheck;
use crate::shell::quote;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// How long a script waits for PostgreSQL to accept connections after a start.
const SERVER_WAIT_SECONDS: u32 = 60;
/// How long verification waits for a standby to stream.
const STREAMING_WAIT_SECONDS: u32 = 60;

/// A script for one host; most operations need one, verification needs two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostScript {
    /// `None` for the host the step belongs to, or the name of another host.
    pub other_host: Option<String>,
    pub script: String,
}

pub fn scripts(operation: &Operation) -> Vec<HostScript> {
    let own = |script: String| {
        vec![HostScript {
            other_host: None,
            script,
        }]
    };
    match operation {
        Operation::CreateOsUser { name, group, home } => own(create_os_user(name, group, home)),
        Operation::EnsureDirectory {
            path,
            owner,
            group,
            mode,
        } => own(ensure_directory(path, owner, group, *mode)),
        Operation::InitCluster { command } => own(format!("{}{command}\n", prelude("root"))),
        Operation::WriteFile {
            path,
            content,
            owner,
            group,
            mode,
            check,
            context,
        } => own(write_file(
            path,
            content.expose(),
            owner,
            group,
            *mode,
            *check,
            context,
        )),
        Operation::BaseBackup {
            upstream_host,
            upstream_port,
            context,
            ..
        } => own(base_backup(upstream_host, *upstream_port, context)),
        Operation::Rewind {
            upstream_host,
            upstream_port,
            context,
            ..
        } => own(rewind(upstream_host, *upstream_port, context)),
        Operation::WriteStandbySignal { data_dir, owner } => own(format!(
            "{}set -e\nF={}/standby.signal\ntouch \"$F\"\nchown {} \"$F\"\necho \"created $F\"\n",
            prelude(owner),
            quote(data_dir),
            quote(owner)
        )),
        Operation::ReplicationRole {
            name,
            verifier,
            context,
        } => own(replication_role(name, verifier.expose(), context)),
        Operation::Service { action, context } => own(service(*action, context)),
        Operation::VerifyArchive {
            directory,
            destination,
            context,
        } => own(verify_archive(directory.as_deref(), destination, context)),
        Operation::GenerateSshKey {
            private_path,
            os_user,
        } => own(generate_ssh_key(private_path, os_user)),
        // The executor reads the collected keys and turns this into a file write first.
        Operation::CollectAuthorizedKeys { .. } => {
            own("echo 'authorized keys were not collected' >&2; exit 1\n".to_string())
        }
        Operation::VerifyStreaming {
            upstream,
            upstream_host,
            context,
            upstream_context,
            application_name,
        } => vec![
            HostScript {
                other_host: None,
                script: verify_standby(upstream_host, context),
            },
            HostScript {
                other_host: Some(upstream.clone()),
                script: verify_upstream(application_name, upstream_context),
            },
        ],
    }
}

/// `psql` as the PostgreSQL OS user over the local socket.
pub(crate) fn psql(context: &ServerContext) -> String {
    format!(
        "as_pg psql -XAtq -h {} -p {} -d postgres -v ON_ERROR_STOP=1",
        quote(&context.socket_dir),
        context.port
    )
}

/// Shell function `wait_for_server`: bounded wait until PostgreSQL answers.
pub(crate) fn wait_for_server(context: &ServerContext) -> String {
    format!(
        "wait_for_server() {{\n  i=0\n  while [ $i -lt {limit} ]; do\n    {psql} -c 'select 1' >/dev/null 2>&1 && return 0\n    i=$((i + 1)); sleep 0.5\n  done\n  echo \"PostgreSQL did not accept connections within {seconds} s\" >&2\n  return 1\n}}\n",
        limit = SERVER_WAIT_SECONDS * 2,
        seconds = SERVER_WAIT_SECONDS,
        psql = psql(context)
    )
}

fn create_os_user(name: &str, group: &str, home: &str) -> String {
    format!(
        "{prelude}set -e\ngetent group {group} >/dev/null || groupadd --system {group}\ngetent passwd {name} >/dev/null || useradd --system --gid {group} --home-dir {home} --shell /bin/bash {name}\necho \"user {name_text} present\"\n",
        prelude = prelude("root"),
        group = quote(group),
        name = quote(name),
        home = quote(home),
        name_text = plain(name)
    )
}

fn ensure_directory(path: &str, owner: &str, group: &str, mode: u32) -> String {
    format!(
        "{prelude}set -e\nmkdir -p {path}\nchown {owner}:{group} {path}\nchmod {mode:04o} {path}\necho \"directory {path_text} is {owner_text}:{group_text} {mode:04o}\"\n",
        prelude = prelude("root"),
        path = quote(path),
        owner = quote(owner),
        group = quote(group),
        path_text = plain(path),
        owner_text = plain(owner),
        group_text = plain(group),
    )
}

/// Text safe inside double quotes in a script, for messages only.
pub(crate) fn plain(text: &str) -> String {
    text.replace(['"', '$', '`', '\\'], "")
}

/// Writes the file through a temporary file in the same directory and a rename, so
/// a reader never sees half a file. With a check, PostgreSQL reads the new file and
/// a rejected one is put back, leaving the earlier backup alone; an accepted one
/// keeps the version it replaced as `FILE.pgconverge-backup`.
fn write_file(
    path: &str,
    content: &str,
    owner: &str,
    group: &str,
    mode: u32,
    check: Option<ConfigCheck>,
    context: &ServerContext,
) -> String {
    let check_script = match check {
        None => String::new(),
        Some(ConfigCheck::PostgresqlConf) => format!(
            "if ! CHECK=$(as_pg {bin}/postgres -D {data} -c config_file=\"$F\" -C data_directory 2>&1 >/dev/null); then\n  put_back\n  echo \"PostgreSQL rejects the new $F; the previous file is back in place:\" >&2\n  printf '%s\\n' \"$CHECK\" | sed -e 's/^.*\\(LOG\\|FATAL\\|ERROR\\): *//' >&2\n  exit 1\nfi\n",
            bin = quote(&context.bin_dir),
            data = quote(&context.data_dir)
        ),
        Some(ConfigCheck::PgHbaConf) => format!(
            "if {psql} -c 'select 1' >/dev/null 2>&1; then\n  CHECK=$({psql} -F ': ' -c 'select line_number, error from pg_hba_file_rules where error is not null' 2>&1)\n  if [ -n \"$CHECK\" ]; then\n    put_back\n    echo \"PostgreSQL rejects the new $F; the previous file is back in place:\" >&2\n    printf '%s\\n' \"$CHECK\" | sed -e \"s|^|$F line |\" >&2\n    exit 1\n  fi\nfi\n",
            psql = psql(context)
        ),
    };
    format!(
        r#"{prelude}set -e
F={path}
DIR=$(dirname "$F")
if [ ! -d "$DIR" ]; then mkdir -p "$DIR"; chown {owner}:{group} "$DIR"; chmod 0700 "$DIR"; fi
TMP=$(mktemp "$DIR/.pgconverge.XXXXXX")
PREVIOUS=""
trap 'rm -f "$TMP" ${{PREVIOUS:+"$PREVIOUS"}}' EXIT
printf '%s' '{content}' | base64 -d > "$TMP"
chown {owner}:{group} "$TMP"
chmod {mode:04o} "$TMP"
if [ -e "$F" ]; then PREVIOUS=$(mktemp "$DIR/.pgconverge-previous.XXXXXX"); cp -p "$F" "$PREVIOUS"; fi
put_back() {{
  if [ -n "$PREVIOUS" ]; then mv -f "$PREVIOUS" "$F"; PREVIOUS=""; else rm -f "$F"; fi
}}
mv -f "$TMP" "$F"
set +e
{check_script}if [ -n "$PREVIOUS" ]; then mv -f "$PREVIOUS" "$F.pgconverge-backup"; PREVIOUS=""; fi
echo "wrote $F"
"#,
        prelude = prelude(&context.os_user),
        path = quote(path),
        content = STANDARD.encode(content.as_bytes()),
        owner = quote(owner),
        group = quote(group),
    )
}

/// Clones the upstream with `pg_basebackup`. The old data directory is moved aside
/// with a timestamp, never deleted; if the clone fails, it is moved back and the
/// server started again if it ran before.
fn base_backup(upstream_host: &str, upstream_port: u16, context: &ServerContext) -> String {
    let wal_method = if context.pg_version_num >= 1000 {
        "--wal-method=stream"
    } else {
        "--xlog-method=stream"
    };
    format!(
        r#"{prelude}{wait}DATA={data}
case "$DATA" in /|"") echo "refusing to replace data directory '$DATA'" >&2; exit 1;; esac
WAS_RUNNING=0
if [ -f "$DATA/postmaster.pid" ]; then
  WAS_RUNNING=1
  {stop} || {{ echo "could not stop PostgreSQL before the base backup" >&2; exit 1; }}
fi
ASIDE=""
if [ -e "$DATA" ]; then
  ASIDE="$DATA.pgconverge-$(date -u +%Y%m%dT%H%M%SZ)"
  mv "$DATA" "$ASIDE"
fi
install -d -o {owner} -g {group} -m 0700 "$DATA"
if ! OUT=$(as_pg env PGPASSFILE={pgpass} {bin}/pg_basebackup -h {host} -p {port} -U {user} -D "$DATA" {wal_method} --checkpoint=fast --no-password 2>&1); then
  rm -rf "$DATA"
  if [ -n "$ASIDE" ]; then
    mv "$ASIDE" "$DATA"
    if [ $WAS_RUNNING = 1 ]; then {start} >/dev/null 2>&1 && wait_for_server; fi
    echo "pg_basebackup from {host_text} failed; the previous data directory is back in place:" >&2
  else
    echo "pg_basebackup from {host_text} failed:" >&2
  fi
  printf '%s\n' "$OUT" >&2
  exit 1
fi
if [ -n "$ASIDE" ]; then echo "cloned from {host_text}; the previous data directory is kept as $ASIDE"; else echo "cloned from {host_text}"; fi
"#,
        prelude = prelude(&context.os_user),
        wait = wait_for_server(context),
        data = quote(&context.data_dir),
        stop = context.stop_command,
        start = context.start_command,
        owner = quote(&context.os_user),
        group = quote(&context.os_group),
        pgpass = quote(&format!("{}/.pgpass", context.home_dir)),
        bin = quote(&context.bin_dir),
        host = quote(upstream_host),
        host_text = plain(upstream_host),
        port = upstream_port,
        user = quote(&context.replication_user),
    )
}

/// Rejoins a former primary: stops it cleanly (finishing crash recovery in
/// single-user mode if it crashed), then `pg_rewind` copies what diverged from the
/// upstream. Its configuration stays; the recovery step and the start follow.
fn rewind(upstream_host: &str, upstream_port: u16, context: &ServerContext) -> String {
    format!(
        r#"{prelude}DATA={data}
if {psql} -c 'select 1' >/dev/null 2>&1; then
  {stop} || {{ echo "could not stop PostgreSQL before pg_rewind" >&2; exit 1; }}
fi
STATE=$(as_pg {bin}/pg_controldata -D "$DATA" | sed -n 's/^Database cluster state: *//p')
case "$STATE" in
  "shut down"|"shut down in recovery") ;;
  *)
    # pg_rewind needs a cleanly shut down target: finish crash recovery first.
    if ! OUT=$(as_pg {bin}/postgres --single -D "$DATA" -c config_file={config} postgres </dev/null 2>&1); then
      echo "crash recovery of $DATA before pg_rewind failed:" >&2; printf '%s
' "$OUT" >&2; exit 1
    fi
    ;;
esac
SOURCE="host={host} port={port} user={user} dbname=postgres"
if ! OUT=$(as_pg env PGPASSFILE={pgpass} {bin}/pg_rewind --target-pgdata="$DATA" --source-server="$SOURCE" 2>&1); then
  echo "pg_rewind from {host_text} failed:" >&2
  printf '%s
' "$OUT" >&2
  exit 1
fi
printf '%s
' "$OUT" | tail -n 1
"#,
        prelude = prelude(&context.os_user),
        psql = psql(context),
        data = quote(&context.data_dir),
        stop = context.stop_command,
        bin = quote(&context.bin_dir),
        config = quote(&format!("{}/postgresql.conf", context.config_dir)),
        host = conninfo_word(upstream_host),
        port = upstream_port,
        user = conninfo_word(&context.replication_user),
        pgpass = quote(&format!("{}/.pgpass", context.home_dir)),
        host_text = plain(upstream_host),
    )
}

/// A connection-string value that can stand inside the double-quoted `SOURCE=`:
/// single-quoted for libpq, with shell-special characters removed.
fn conninfo_word(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .filter(|c| !matches!(c, '"' | '$' | '`' | '\\' | '\''))
        .collect();
    format!("'{cleaned}'")
}

/// Creates or alters the role with a precomputed SCRAM verifier, so the plaintext
/// password never reaches the server; statement logging is off for the session so
/// the verifier does not land in the server log either.
fn replication_role(name: &str, verifier: &str, context: &ServerContext) -> String {
    let identifier = format!("\"{}\"", name.replace('"', "\"\""));
    let literal = |text: &str| format!("'{}'", text.replace('\'', "''"));
    format!(
        r#"{prelude}{psql} <<'PGCONVERGE_SQL'
SET log_statement = 'none';
SET log_min_duration_statement = -1;
DO $pgconverge$
BEGIN
  IF EXISTS (SELECT FROM pg_roles WHERE rolname = {name_literal}) THEN
    ALTER ROLE {identifier} WITH REPLICATION LOGIN PASSWORD {verifier};
  ELSE
    CREATE ROLE {identifier} WITH REPLICATION LOGIN PASSWORD {verifier};
  END IF;
END
$pgconverge$;
{grants}PGCONVERGE_SQL
echo "role {name_text} has REPLICATION LOGIN and the wanted password"
"#,
        grants = rewind_grants(&identifier, context.pg_version_num),
        name_text = plain(name),
        prelude = prelude(&context.os_user),
        psql = psql(context),
        name_literal = literal(name),
        verifier = literal(verifier),
    )
}

fn service(action: ServiceAction, context: &ServerContext) -> String {
    let body = match action {
        ServiceAction::Start => format!(
            "{start}\nwait_for_server\necho started\n",
            start = context.start_command
        ),
        ServiceAction::Stop => format!(
            "{stop}\ni=0\nwhile {psql} -c 'select 1' >/dev/null 2>&1; do\n  i=$((i + 1)); [ $i -lt {limit} ] || {{ echo \"PostgreSQL still answers after the stop\" >&2; exit 1; }}; sleep 0.5\ndone\necho stopped\n",
            stop = context.stop_command,
            psql = psql(context),
            limit = SERVER_WAIT_SECONDS * 2
        ),
        ServiceAction::Restart => format!(
            "{restart}\nwait_for_server\necho restarted\n",
            restart = context.restart_command
        ),
        // After a reload PostgreSQL reports settings that need a restart; the restart
        // follows from the server's own answer, not from what this run remembers.
        ServiceAction::Reload => format!(
            r#"BEFORE=$({psql} -c "select pg_conf_load_time()")
{reload}
i=0
while [ $i -lt 20 ] && [ "$({psql} -c "select pg_conf_load_time()")" = "$BEFORE" ]; do i=$((i + 1)); sleep 0.25; done
PENDING=$({psql} -c "select string_agg(name, ', ') from pg_settings where pending_restart")
if [ -n "$PENDING" ]; then
  {restart}
  wait_for_server
  echo "reloaded, then restarted: $PENDING need a restart"
else
  echo reloaded
fi
"#,
            psql = psql(context),
            reload = context.reload_command,
            restart = context.restart_command
        ),
    };
    format!(
        "{}set -e\n{}{body}",
        prelude(&context.os_user),
        wait_for_server(context)
    )
}

/// Makes the OS user's key pair on the host if it has none: the private key never
/// leaves the host; the plan and the output show fingerprints only.
fn generate_ssh_key(private_path: &str, os_user: &str) -> String {
    format!(
        "{prelude}set -e\nKEY={key}\nDIR=$(dirname \"$KEY\")\nas_pg mkdir -p \"$DIR\"\nas_pg chmod 700 \"$DIR\"\n[ -f \"$KEY\" ] || as_pg ssh-keygen -q -t ed25519 -N '' -C \"$PG_OS_USER@$(hostname)\" -f \"$KEY\"\nssh-keygen -lf \"$KEY.pub\"\n",
        prelude = prelude(os_user),
        key = quote(private_path),
    )
}

fn verify_archive(directory: Option<&str>, destination: &str, context: &ServerContext) -> String {
    let (switch, file_name) = if context.pg_version_num >= 1000 {
        ("pg_switch_wal()", "pg_walfile_name")
    } else {
        ("pg_switch_xlog()", "pg_xlogfile_name")
    };
    let destination = plain(destination);
    let in_directory = match directory {
        Some(directory) => format!(
            "[ -f {}/\"$SEGMENT\" ] || {{ echo \"pg_stat_archiver reports $SEGMENT archived, but it is not in {destination}\" >&2; exit 1; }}\n",
            quote(directory)
        ),
        None => String::new(),
    };
    format!(
        r#"{prelude}FAILED_BEFORE=$({psql} -c "select failed_count from pg_stat_archiver")
SEGMENT=$({psql} -c "select {file_name}({switch})")
i=0
while [ $i -lt {limit} ]; do
  STATE=$({psql} -F ' ' -c "select coalesce(last_archived_wal >= '$SEGMENT', false), failed_count, coalesce(last_failed_wal, '-') from pg_stat_archiver")
  set -- $STATE
  if [ "$2" != "$FAILED_BEFORE" ]; then
    echo "archiving into {destination} fails: pg_stat_archiver failed_count rose from $FAILED_BEFORE to $2 (last failed segment $3); see the server log for the archive command's error" >&2
    exit 1
  fi
  if [ "$1" = t ]; then
    {in_directory}echo "segment $SEGMENT reached {destination}"
    exit 0
  fi
  i=$((i + 1)); sleep 0.5
done
echo "segment $SEGMENT did not reach {destination} within {seconds} s" >&2
exit 1
"#,
        prelude = prelude(&context.os_user),
        psql = psql(context),
        limit = STREAMING_WAIT_SECONDS * 2,
        seconds = STREAMING_WAIT_SECONDS,
    )
}

fn verify_standby(upstream_host: &str, context: &ServerContext) -> String {
    let receiver_host = if context.pg_version_num >= 1100 {
        "sender_host"
    } else {
        "conninfo"
    };
    format!(
        r#"{prelude}i=0
while [ $i -lt {limit} ]; do
  STATE=$({psql} -c "select status || ' ' || coalesce({receiver_host}, '') from pg_stat_wal_receiver" 2>/dev/null)
  case "$STATE" in "streaming "*{host_pattern}*) echo "streaming from {host_text}"; exit 0;; esac
  i=$((i + 1)); sleep 1
done
echo "not streaming from {host_text} after {limit} s (WAL receiver: ${{STATE:-none}})" >&2
exit 1
"#,
        prelude = prelude(&context.os_user),
        limit = STREAMING_WAIT_SECONDS,
        psql = psql(context),
        host_pattern = quote(upstream_host),
        host_text = plain(upstream_host),
    )
}

fn verify_upstream(application_name: &str, context: &ServerContext) -> String {
    let name = application_name.replace('\'', "''");
    format!(
        r#"{prelude}i=0
while [ $i -lt {limit} ]; do
  STATE=$({psql} -c "select state from pg_stat_replication where application_name = '{name}'" 2>/dev/null)
  [ "$STATE" = streaming ] && {{ echo "pg_stat_replication shows {name_text} streaming"; exit 0; }}
  i=$((i + 1)); sleep 1
done
echo "pg_stat_replication does not show {name_text} streaming after {limit} s" >&2
exit 1
"#,
        prelude = prelude(&context.os_user),
        limit = STREAMING_WAIT_SECONDS,
        psql = psql(context),
        name_text = application_name.replace(['"', '$', '`', '\\', '\''], ""),
    )
}

/// From PostgreSQL 11 the replication role may run `pg_rewind` against this server
/// once it can read the files pg_rewind compares; before, pg_rewind needs a superuser.
fn rewind_grants(identifier: &str, version_num: u32) -> String {
    if version_num < 1100 {
        return String::new();
    }
    [
        "pg_catalog.pg_ls_dir(text, boolean, boolean)",
        "pg_catalog.pg_stat_file(text, boolean)",
        "pg_catalog.pg_read_binary_file(text)",
        "pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)",
    ]
    .iter()
    .map(|function| format!("GRANT EXECUTE ON FUNCTION {function} TO {identifier};\n"))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Sensitive;

    fn context() -> ServerContext {
        ServerContext {
            os_user: "postgres".into(),
            os_group: "postgres".into(),
            pg_version_num: 1500,
            bin_dir: "/usr/lib/postgresql/15/bin".into(),
            data_dir: "/var/lib/postgresql/15/main".into(),
            config_dir: "/etc/postgresql/15/main".into(),
            socket_dir: "/var/run/postgresql".into(),
            port: 5432,
            home_dir: "/var/lib/postgresql".into(),
            replication_user: "replicator".into(),
            start_command: "pg_ctlcluster 15 main start".into(),
            stop_command: "pg_ctlcluster 15 main stop -m fast".into(),
            restart_command: "pg_ctlcluster 15 main restart -m fast".into(),
            reload_command: "pg_ctlcluster 15 main reload".into(),
        }
    }

    fn every_operation() -> Vec<Operation> {
        vec![
            Operation::CreateOsUser {
                name: "postgres".into(),
                group: "postgres".into(),
                home: "/var/lib/postgresql".into(),
            },
            Operation::EnsureDirectory {
                path: "/srv/wal archive".into(),
                owner: "postgres".into(),
                group: "postgres".into(),
                mode: 0o700,
            },
            Operation::InitCluster {
                command: "pg_createcluster 15 main".into(),
            },
            Operation::WriteFile {
                path: "/etc/postgresql/15/main/postgresql.conf".into(),
                content: Sensitive::new("port = 5432\n".into()),
                owner: "postgres".into(),
                group: "postgres".into(),
                mode: 0o644,
                check: Some(ConfigCheck::PostgresqlConf),
                context: context(),
            },
            Operation::WriteFile {
                path: "/etc/postgresql/15/main/pg_hba.conf".into(),
                content: Sensitive::new("local all all peer\n".into()),
                owner: "postgres".into(),
                group: "postgres".into(),
                mode: 0o640,
                check: Some(ConfigCheck::PgHbaConf),
                context: context(),
            },
            Operation::BaseBackup {
                upstream: "db1".into(),
                upstream_host: "10.0.0.11".into(),
                upstream_port: 5432,
                context: context(),
            },
            Operation::WriteStandbySignal {
                data_dir: "/var/lib/postgresql/15/main".into(),
                owner: "postgres".into(),
            },
            Operation::ReplicationRole {
                name: "replicator".into(),
                verifier: Sensitive::new("SCRAM-SHA-256$4096:c2FsdA==$a:b".into()),
                context: context(),
            },
            Operation::Service {
                action: ServiceAction::Reload,
                context: context(),
            },
            Operation::VerifyArchive {
                directory: Some("/srv/wal shared".into()),
                destination: "/srv/wal shared".into(),
                context: context(),
            },
            Operation::GenerateSshKey {
                private_path: "/var/lib/postgresql/.ssh/id_ed25519".into(),
                os_user: "postgres".into(),
            },
            Operation::VerifyStreaming {
                upstream: "db1".into(),
                upstream_host: "10.0.0.11".into(),
                context: context(),
                upstream_context: context(),
                application_name: "db2".into(),
            },
        ]
    }

    #[test]
    fn every_script_is_valid_posix_shell() {
        for operation in every_operation() {
            for host_script in scripts(&operation) {
                let output = std::process::Command::new("sh")
                    .arg("-n")
                    .arg("-c")
                    .arg(&host_script.script)
                    .output()
                    .expect("sh runs");
                assert!(
                    output.status.success(),
                    "{operation:?}: {}\n{}",
                    String::from_utf8_lossy(&output.stderr),
                    host_script.script
                );
            }
        }
    }

    #[test]
    fn file_content_travels_encoded_so_no_quoting_can_break_it() {
        let operation = Operation::WriteFile {
            path: "/tmp/x".into(),
            content: Sensitive::new("a'b $(c) `d`\n".into()),
            owner: "postgres".into(),
            group: "postgres".into(),
            mode: 0o600,
            check: None,
            context: context(),
        };
        let script = &scripts(&operation)[0].script;
        assert!(script.contains(&STANDARD.encode("a'b $(c) `d`\n")));
        assert!(!script.contains("$(c)"));
    }

    #[test]
    fn verification_checks_both_ends() {
        let verify = every_operation().pop().expect("verify operation");
        let scripts = scripts(&verify);
        assert_eq!(scripts.len(), 2);
        assert_eq!(scripts[1].other_host.as_deref(), Some("db1"));
        assert!(scripts[1].script.contains("pg_stat_replication"));
        assert!(scripts[0].script.contains("pg_stat_wal_receiver"));
    }
}
