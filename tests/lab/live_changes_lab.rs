//! End to end on a 4-host lab, the changes operators make to a live cluster every
//! week: h2 a synchronous standby (a commit waits while it is down), a raised
//! `max_connections` rolled out standby by standby before the primary, a restart
//! that waits for an old transaction, `pgconverge restart` in the same order,
//! members joining (h4) and leaving (h3) while the others stream throughout, and
//! a primary's restart made a switchover (`--restart-primary switchover`).

use crate::support;

use std::time::{Duration, Instant};
use support::{Lab, lab_available, pgconverge};

const BASE: &str = "all:
  vars:
    pg_version: 15
    ansible_user: root
    replication_user: replicator
    replication_password: \"{{ env('PG_REPLICATION_PASSWORD') }}\"
  children:
    primary:
      hosts:
        h1: { ansible_host: 10.77.0.11 }
    standby:
      hosts:
        h2: { ansible_host: 10.77.0.12, replication_mode: synchronous }
        h3: { ansible_host: 10.77.0.13 }
";

fn write(directory: &std::path::Path, name: &str, text: &str) -> String {
    let path = directory.join(name);
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("{error}"));
    path.display().to_string()
}

/// When the host's postmaster started, in seconds since the epoch (microseconds kept).
fn started(lab: &Lab, host: &str) -> f64 {
    lab.exec_sql(
        host,
        "select extract(epoch from pg_postmaster_start_time())",
    )
    .parse()
    .unwrap_or_else(|error| panic!("start time of {host}: {error}"))
}

fn slots(lab: &Lab) -> String {
    lab.exec_sql(
        "h1",
        "select string_agg(slot_name || ':' || active, ',' order by slot_name) from pg_replication_slots",
    )
}

/// Waits, bounded, for a background psql; `None` if it is still running.
fn finished_within(child: &mut std::process::Child, limit: Duration) -> Option<bool> {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status.success());
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

#[test]
fn a_live_cluster_changes_one_member_at_a_time() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(4);
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let password = format!("pw-live-{}", std::process::id());
    let inventory = write(directory.path(), "inventory.yaml", BASE);
    let ssh_config = lab.ssh_config().display().to_string();
    let mut outputs = Vec::new();

    // 1. Both standbys stream through slots with a cap; h1 waits for h2.
    let converge = lab.apply(&inventory, &password, &[]);
    outputs.push(converge.all());
    assert_eq!(converge.code, Some(2), "{converge}");
    lab.eventually(30, "both slots are active", || {
        slots(&lab) == "pgconverge_h2:true,pgconverge_h3:true"
    });
    assert_eq!(lab.exec_sql("h1", "show max_slot_wal_keep_size"), "10GB");
    assert_eq!(
        lab.exec_sql("h1", "show synchronous_standby_names"),
        "FIRST 1 (\"h2\")"
    );
    lab.eventually(30, "h2 is synchronous, h3 asynchronous", || {
        lab.exec_sql(
            "h1",
            "select string_agg(application_name || ':' || sync_state, ',' order by application_name) from pg_stat_replication",
        ) == "h2:sync,h3:async"
    });
    let status = pgconverge(
        &["status", "-i", &inventory, "--ssh-config", &ssh_config],
        &password,
    );
    outputs.push(status.all());
    assert_eq!(status.code, Some(0), "{status}");
    let h2_row = status
        .stdout
        .lines()
        .find(|line| line.starts_with("h2 "))
        .unwrap_or_default();
    assert!(h2_row.trim_end().ends_with("sync"), "{status}");
    let settled = lab.apply(&inventory, &password, &[]);
    assert_eq!(settled.code, Some(0), "{settled}");
    let check = pgconverge(
        &[
            "check",
            "-i",
            &inventory,
            "--ssh-config",
            &ssh_config,
            "--format",
            "json",
        ],
        &password,
    );
    outputs.push(check.all());
    assert_eq!(check.code, Some(0), "{check}");
    let document: serde_json::Value = serde_json::from_str(&check.stdout)
        .unwrap_or_else(|error| panic!("check --format json: {error}\n{check}"));
    assert_eq!(document["state"], "OK", "{check}");
    assert_eq!(
        document["round_trips"],
        serde_json::json!({ "h1": 1, "h2": 1, "h3": 1 }),
        "one SSH round trip per host\n{check}"
    );

    // 2. A commit on the primary waits while h2 is stopped, and returns when it is back.
    lab.exec_sql("h1", "create table live_check (id int primary key)");
    lab.exec("h2", &["pg_ctlcluster", "15", "main", "stop", "-m", "fast"]);
    let mut commit = lab.spawn_sql("h1", "insert into live_check values (1)");
    let waited = finished_within(&mut commit, Duration::from_secs(4));
    assert_eq!(waited, None, "the commit returned while h2 was down");
    // The monitoring check is CRITICAL and names the stopped standby.
    let check = pgconverge(
        &["check", "-i", &inventory, "--ssh-config", &ssh_config],
        &password,
    );
    outputs.push(check.all());
    assert_eq!(check.code, Some(2), "{check}");
    assert!(
        check
            .stdout
            .starts_with("PGCONVERGE CRITICAL - h2 is stopped"),
        "{check}"
    );
    assert_eq!(
        lab.exec_sql(
            "h1",
            "select count(*) from pg_stat_activity where wait_event = 'SyncRep'"
        ),
        "1",
        "the commit waits for the synchronous standby"
    );
    lab.exec("h2", &["pg_ctlcluster", "15", "main", "start"]);
    let returned = finished_within(&mut commit, Duration::from_secs(30));
    if returned.is_none() {
        let _ = commit.kill();
    }
    assert_eq!(returned, Some(true), "the commit returned once h2 was back");
    lab.eventually(30, "h2 has the row", || {
        lab.try_sql("h2", "select count(*) from live_check")
            .as_deref()
            == Ok("1")
    });

    // 3. A raised max_connections rolls out: h2, then h3, then h1, each after
    //    the one before is back; h1 only once an old transaction has ended.
    let raised = write(
        directory.path(),
        "raised.yaml",
        &BASE.replace(
            "    pg_version: 15\n",
            "    pg_version: 15\n    max_connections: 200\n",
        ),
    );
    let plan = lab.apply(&raised, &password, &["--dry-run"]);
    outputs.push(plan.all());
    assert!(
        plan.stdout.contains(
            "restart PostgreSQL: max_connections need a restart; after h3's restart (standbys first, the primary last)"
        ) && plan.stdout.contains("after h2's restart"),
        "{plan}"
    );
    let before: Vec<f64> = ["h1", "h2", "h3"]
        .iter()
        .map(|host| started(&lab, host))
        .collect();
    // A transaction that will be 12 s old: the primary's restart waits for it
    // to end (--max-transaction-age 1) rather than cut it off.
    let mut old_transaction = lab.spawn_sql(
        "h1",
        "begin; insert into live_check values (2); select pg_sleep(12); commit;",
    );
    let rolled = lab.apply(&raised, &password, &["--max-transaction-age", "1"]);
    outputs.push(rolled.all());
    assert_eq!(rolled.code, Some(2), "{rolled}");
    let transaction_ended = finished_within(&mut old_transaction, Duration::from_secs(30));
    if transaction_ended.is_none() {
        let _ = old_transaction.kill();
    }
    assert_eq!(
        transaction_ended,
        Some(true),
        "the old transaction committed: the restart waited for it\n{rolled}"
    );
    let after: Vec<f64> = ["h1", "h2", "h3"]
        .iter()
        .map(|host| started(&lab, host))
        .collect();
    for (index, host) in ["h1", "h2", "h3"].iter().enumerate() {
        assert!(after[index] > before[index], "{host} restarted\n{rolled}");
        assert_eq!(lab.exec_sql(host, "show max_connections"), "200");
    }
    assert!(
        after[1] < after[2] && after[2] < after[0],
        "h2, then h3, then h1 (start times {after:?})\n{rolled}"
    );
    assert_eq!(
        lab.exec_sql("h1", "select count(*) from live_check"),
        "2",
        "the old transaction's row is there"
    );
    let settled = lab.apply(&raised, &password, &[]);
    assert_eq!(settled.code, Some(0), "{settled}");

    // 4. `pgconverge restart` restarts in the same order and changes nothing else;
    //    with --pending it finds nothing to restart.
    let pending = pgconverge(
        &[
            "restart",
            "-i",
            &raised,
            "--ssh-config",
            &ssh_config,
            "--pending",
            "--detailed-exitcode",
        ],
        &password,
    );
    outputs.push(pending.all());
    assert_eq!(pending.code, Some(0), "{pending}");
    let restart = pgconverge(
        &[
            "restart",
            "-i",
            &raised,
            "--ssh-config",
            &ssh_config,
            "--detailed-exitcode",
        ],
        &password,
    );
    outputs.push(restart.all());
    assert_eq!(restart.code, Some(2), "{restart}");
    let again: Vec<f64> = ["h1", "h2", "h3"]
        .iter()
        .map(|host| started(&lab, host))
        .collect();
    assert!(
        again[1] > after[1] && again[1] < again[2] && again[2] < again[0],
        "restart: h2, then h3, then h1 (start times {again:?})\n{restart}"
    );
    let settled = lab.apply(&raised, &password, &[]);
    assert_eq!(settled.code, Some(0), "{settled}");

    // 5. h4 joins and h3 leaves: h4 streams through its slot, h3's slot and
    //    rules are gone, h2 streamed throughout (the same WAL sender) and h1 and
    //    h2 did not restart.
    let sender = |lab: &Lab| {
        lab.exec_sql(
            "h1",
            "select backend_start from pg_stat_replication where application_name = 'h2'",
        )
    };
    let h2_sender = sender(&lab);
    let running = [started(&lab, "h1"), started(&lab, "h2")];
    let changed = write(
        directory.path(),
        "h4-for-h3.yaml",
        &BASE
            .replace(
                "    pg_version: 15\n",
                "    pg_version: 15\n    max_connections: 200\n",
            )
            .replace(
                "        h3: { ansible_host: 10.77.0.13 }\n",
                "        h4: { ansible_host: 10.77.0.14 }\n",
            ),
    );
    let plan = lab.apply(&changed, &password, &["--dry-run"]);
    outputs.push(plan.all());
    assert!(
        plan.stdout
            .contains("drop slots no member streams through: pgconverge_h3"),
        "{plan}"
    );
    // On a terminal, a live line under the step lines shows the steps done and
    // h4's base backup with its bytes copied.
    let joined = lab.apply_in_terminal(&changed, &password, &[]);
    outputs.push(joined.all());
    assert_eq!(joined.code, Some(2), "{joined}");
    let live_lines: Vec<&str> = joined
        .stdout
        .split("\r\x1b[2K")
        .skip(1)
        .filter(|drawn| !drawn.is_empty() && !drawn.contains('\n'))
        .collect();
    assert!(
        live_lines.iter().any(|line| line.starts_with("steps ")),
        "the live line counts the steps\n{joined}"
    );
    assert!(
        live_lines
            .iter()
            .any(|line| line.contains("h4/base_backup copied ") && line.contains("iB (")),
        "the live line shows the base backup's progress\n{joined}"
    );
    assert!(
        !joined.stdout.contains("h4/base_backup: copied"),
        "no plain progress lines on a terminal\n{joined}"
    );
    lab.eventually(30, "h2 and h4 stream through their slots", || {
        slots(&lab) == "pgconverge_h2:true,pgconverge_h4:true"
    });
    assert_eq!(
        lab.exec_sql("h4", "select status from pg_stat_wal_receiver"),
        "streaming"
    );
    lab.eventually(30, "h4 has every row", || {
        lab.try_sql("h4", "select count(*) from live_check")
            .as_deref()
            == Ok("2")
    });
    for host in ["h1", "h2", "h4"] {
        let rules = lab.exec(host, &["cat", "/etc/postgresql/15/main/pg_hba.conf"]);
        assert!(
            !rules.contains("10.77.0.13"),
            "h3's rules are gone on {host}\n{rules}"
        );
    }
    assert_eq!(sender(&lab), h2_sender, "h2 streamed throughout");
    assert_eq!(
        [started(&lab, "h1"), started(&lab, "h2")],
        running,
        "h1 and h2 were not restarted\n{joined}"
    );
    assert_eq!(
        lab.exec_sql("h3", "select pg_is_in_recovery()"),
        "t",
        "the removed host itself is not touched"
    );

    // 6. With --restart-primary switchover, a raised max_connections reaches the
    //    primary by a switchover: h2 (the synchronous standby) becomes the primary,
    //    the inventory records it, h1 rejoins as its standby with the new value.
    let switched = write(
        directory.path(),
        "switchover.yaml",
        &std::fs::read_to_string(&changed)
            .unwrap_or_default()
            .replace("max_connections: 200", "max_connections: 300"),
    );
    let plan = lab.apply(
        &switched,
        &password,
        &["--dry-run", "--restart-primary", "switchover"],
    );
    outputs.push(plan.all());
    assert!(
        plan.stdout
            .contains("by a switchover to h2 once every other step succeeded"),
        "{plan}"
    );
    let handed = lab.apply(&switched, &password, &["--restart-primary", "switchover"]);
    outputs.push(handed.all());
    assert_eq!(handed.code, Some(2), "{handed}");
    assert_eq!(lab.exec_sql("h2", "select pg_is_in_recovery()"), "f");
    lab.eventually(60, "h1 and h4 stream from h2", || {
        lab.try_sql(
            "h2",
            "select string_agg(application_name, ',' order by application_name) from pg_stat_replication where state = 'streaming'",
        )
        .as_deref()
            == Ok("h1,h4")
    });
    for host in ["h1", "h2", "h4"] {
        assert_eq!(lab.exec_sql(host, "show max_connections"), "300", "{host}");
    }
    let recorded = std::fs::read_to_string(&switched).unwrap_or_default();
    assert!(
        recorded.contains("pg_role: primary") && recorded.contains("pg_role: standby"),
        "{recorded}"
    );
    lab.eventually(30, "h1 has every row", || {
        lab.try_sql("h1", "select count(*) from live_check")
            .as_deref()
            == Ok("2")
    });

    // 7. A final apply changes nothing.
    let last = lab.apply(&switched, &password, &[]);
    outputs.push(last.all());
    assert_eq!(last.code, Some(0), "{last}");
    for output in &outputs {
        assert!(!output.contains(&password), "the password leaked\n{output}");
    }
}
