//! The scripts of a promotion and a switchover. Pure: context in, script out; every
//! wait is bounded.

use crate::execute::script::{plain, psql, wait_for_server};
use crate::facts::Lsn;
use crate::facts::script::prelude;
use crate::plan::ServerContext;
use crate::shell::quote;

/// How long a promoted server may take to accept writes, and a standby to replay
/// the old primary's last record.
const WAIT_SECONDS: u32 = 60;

/// Promotes with the version's mechanism (`pg_promote()` from 12, `pg_ctl promote`
/// from 9.1, the trigger file before) and waits until the server accepts writes.
pub fn promote(context: &ServerContext) -> String {
    let data = quote(&context.data_dir);
    let trigger = if context.pg_version_num >= 1200 {
        format!(
            "[ \"$({psql} -c 'select pg_promote(true, {WAIT_SECONDS})')\" = t ] || {{ echo 'pg_promote() did not finish' >&2; exit 1; }}\n",
            psql = psql(context)
        )
    } else if context.pg_version_num >= 901 {
        format!(
            "as_pg {}/pg_ctl promote -D {data} >/dev/null || exit 1\n",
            quote(&context.bin_dir)
        )
    } else {
        format!(
            "touch {data}/promote.trigger && chown {} {data}/promote.trigger\n",
            quote(&context.os_user)
        )
    };
    let xid = if context.pg_version_num >= 1300 {
        "pg_current_xact_id()"
    } else {
        "txid_current()"
    };
    format!(
        r#"{prelude}{wait}wait_for_server || exit 1
{trigger}i=0
while [ $i -lt {limit} ]; do
  if [ "$({psql} -c 'select pg_is_in_recovery()')" = f ] && {psql} -c 'select {xid}' >/dev/null 2>&1; then
    echo "promoted: out of recovery and accepting writes"; exit 0
  fi
  i=$((i + 1)); sleep 0.5
done
echo "still in recovery or read-only {seconds} s after the promotion" >&2
exit 1
"#,
        prelude = prelude(&context.os_user),
        wait = wait_for_server(context),
        psql = psql(context),
        limit = WAIT_SECONDS * 2,
        seconds = WAIT_SECONDS,
    )
}

/// A checkpoint on the primary, so its clean shutdown is quick.
pub fn checkpoint(context: &ServerContext) -> String {
    format!(
        "{}{} -c CHECKPOINT >/dev/null && echo checkpoint\n",
        prelude(&context.os_user),
        psql(context)
    )
}

/// After a clean stop: the location of the shutdown checkpoint, the last record
/// the old primary wrote, which the new one must have replayed.
pub fn last_checkpoint(context: &ServerContext) -> String {
    format!(
        "{prelude}OUT=$(as_pg {bin}/pg_controldata -D {data})\ncase \"$(printf '%s\\n' \"$OUT\" | sed -n 's/^Database cluster state: *//p')\" in\n  \"shut down\") ;;\n  *) echo 'the primary is not cleanly shut down' >&2; exit 1;;\nesac\nprintf '%s\\n' \"$OUT\" | sed -n \"s/^Latest checkpoint location: *//p\"\n",
        prelude = prelude(&context.os_user),
        bin = quote(&context.bin_dir),
        data = quote(&context.data_dir),
    )
}

/// Waits until the standby has replayed past `position`.
pub fn wait_for_replay(context: &ServerContext, position: Lsn) -> String {
    let (diff, replayed) = if context.pg_version_num >= 1000 {
        ("pg_wal_lsn_diff", "pg_last_wal_replay_lsn()")
    } else {
        ("pg_xlog_location_diff", "pg_last_xlog_replay_location()")
    };
    format!(
        r#"{prelude}i=0
while [ $i -lt {limit} ]; do
  [ "$({psql} -c "select {diff}({replayed}, '{position}') > 0")" = t ] && {{ echo "replayed past {position}"; exit 0; }}
  i=$((i + 1)); sleep 0.5
done
echo "did not replay past {position} within {seconds} s (replayed: $({psql} -c "select {replayed}"))" >&2
exit 1
"#,
        prelude = prelude(&context.os_user),
        psql = psql(context),
        limit = WAIT_SECONDS * 2,
        seconds = WAIT_SECONDS,
    )
}

/// Starts the old primary again, when a switchover has to be undone.
pub fn start(context: &ServerContext) -> String {
    format!(
        "{}{}{}\nwait_for_server && echo \"started {}\"\n",
        prelude(&context.os_user),
        wait_for_server(context),
        context.start_command,
        plain(&context.data_dir)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(version: u32) -> ServerContext {
        ServerContext {
            os_user: "postgres".into(),
            pg_version_num: version,
            bin_dir: "/usr/lib/postgresql/15/bin".into(),
            data_dir: "/var/lib/postgresql/15/main".into(),
            socket_dir: "/var/run/postgresql".into(),
            port: 5432,
            start_command: "pg_ctlcluster 15 main start".into(),
            ..ServerContext::default()
        }
    }

    #[test]
    fn each_version_promotes_its_own_way() {
        assert!(promote(&context(1500)).contains("select pg_promote(true, 60)"));
        assert!(promote(&context(1100)).contains("/pg_ctl promote -D"));
        assert!(promote(&context(900)).contains("promote.trigger"));
        assert!(promote(&context(1200)).contains("txid_current()"));
        assert!(promote(&context(1500)).contains("pg_current_xact_id()"));
    }

    #[test]
    fn every_script_is_valid_posix_shell() {
        let position = Lsn(0x3_0000_0148);
        for version in [900, 1100, 1500] {
            let context = context(version);
            for script in [
                promote(&context),
                checkpoint(&context),
                last_checkpoint(&context),
                wait_for_replay(&context, position),
                start(&context),
            ] {
                let output = std::process::Command::new("sh")
                    .arg("-n")
                    .arg("-c")
                    .arg(&script)
                    .output()
                    .expect("sh runs");
                assert!(
                    output.status.success(),
                    "{}\n{script}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
        }
        assert!(wait_for_replay(&context(1500), position).contains("'3/148'"));
    }
}
