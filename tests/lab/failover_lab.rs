//! End to end on the lab: failover, rejoin with pg_rewind, switchover back, and
//! the gates that refuse a dangerous promotion.

use crate::support;

use std::path::Path;
use support::{Lab, Release, Run, lab_available, pgconverge, repository};

struct Cluster<'a> {
    lab: &'a Lab,
    inventory: String,
    password: String,
    outputs: Vec<String>,
}

impl<'a> Cluster<'a> {
    /// A copy of the example inventory (promote edits it) and a password unique to the run.
    fn new(lab: &'a Lab, directory: &Path, password_prefix: &str) -> Cluster<'a> {
        Cluster {
            lab,
            inventory: lab.release.example_inventory(directory),
            password: format!("{password_prefix}-{}", std::process::id()),
            outputs: Vec::new(),
        }
    }

    fn run(&mut self, args: &[&str]) -> Run {
        let ssh_config = self.lab.ssh_config().display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "-i",
            &self.inventory,
            "--ssh-config",
            &ssh_config,
            "--connect-timeout",
            "3",
        ]);
        let run = pgconverge(&all, &self.password);
        self.outputs.push(run.all());
        run
    }

    /// Waits until every standby has the rows (replication is asynchronous).
    fn wait_for_rows(&self, rows: &str) {
        self.lab.eventually(30, &format!("{rows} rows on every host"), || {
            ["h1", "h2", "h3"].iter().all(|host| {
                let output = self.lab.ssh_output(host, "cd / && runuser -u postgres -- psql -XAtq -d postgres -c 'select count(*) from failover_check'");
                String::from_utf8_lossy(&output.stdout).trim() == rows
            })
        });
    }
}

#[test]
fn failover_rejoin_and_switchover_lose_no_row() {
    failover_rejoin_and_switchover_on(Release::BOOKWORM_15);
}

#[test]
fn failover_rejoin_and_switchover_of_postgresql_17_lose_no_row() {
    failover_rejoin_and_switchover_on(Release::TRIXIE_17);
}

#[test]
fn failover_rejoin_and_switchover_of_postgresql_18_lose_no_row() {
    failover_rejoin_and_switchover_on(Release::FORKY_18);
}

fn failover_rejoin_and_switchover_on(release: Release) {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(3, release);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let mut cluster = Cluster::new(&lab, directory.path(), "pw-failover");
    let converge = cluster.run(&["apply"]);
    assert_eq!(converge.code, Some(0), "{converge}");
    lab.sql("h1", "create table failover_check (id int primary key); insert into failover_check select generate_series(1, 100)");
    cluster.wait_for_rows("100");

    // The primary dies; h2 is promoted and the inventory records it.
    cluster.lab.command(&["kill", "h1"]);
    let status = cluster.run(&["status"]);
    assert_eq!(status.code, Some(2), "{status}");
    assert!(
        status
            .stdout
            .contains("h1, the inventory's primary, is unreachable"),
        "{status}"
    );
    let promote = cluster.run(&["promote", "h2", "--write-inventory"]);
    assert_eq!(promote.code, Some(0), "{promote}");
    assert!(
        promote
            .stderr
            .contains("h2: promote: promoted: out of recovery and accepting writes"),
        "{promote}"
    );
    let inventory = std::fs::read_to_string(&cluster.inventory).unwrap_or_default();
    assert!(
        inventory.contains("h2: { ansible_host: 10.77.0.12, pg_role: primary }")
            && inventory.contains("# An inventory for the local lab"),
        "{inventory}"
    );
    lab.sql(
        "h2",
        "insert into failover_check select generate_series(101, 200)",
    );

    // h1 comes back as a writable primary of the old timeline. A plain apply
    // discards nothing: it stops, names h1 and what it wrote after the fork, and
    // restarts nothing, also as a dry run and for a saved plan.
    cluster.lab.command(&["start", "h1"]);
    assert_eq!(
        lab.sql("h1", "select pg_is_in_recovery()"),
        "f",
        "h1 came back as a primary"
    );
    let started = |host: &str| lab.sql(host, "select pg_postmaster_start_time()");
    let started_before = (started("h1"), started("h2"));
    let refused = cluster.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(refused.code, Some(1), "{refused}");
    for expected in [
        "Blocked: split-brain guard: `h1` is a writable primary beside `h2`, the inventory's primary, and it wrote ",
        " of WAL after their timelines forked",
        "`pgconverge apply --rejoin h1`",
        "Nothing was changed",
    ] {
        assert!(refused.stdout.contains(expected), "{expected}:\n{refused}");
    }
    assert!(!refused.stderr.contains("changed h1/"), "{refused}");
    let saved = directory.path().join("rejoin.json");
    let saved_text = saved.display().to_string();
    let preview = cluster.run(&["apply", "--dry-run", "--out", &saved_text]);
    assert_eq!(preview.code, Some(1), "{preview}");
    assert!(preview.stdout.contains("--rejoin h1"), "{preview}");
    assert!(!saved.exists(), "a blocked plan is not saved");
    assert_eq!(
        (started("h1"), started("h2")),
        started_before,
        "nothing was restarted"
    );
    assert_eq!(lab.sql("h1", "select pg_is_in_recovery()"), "f");
    // --rejoin naming a host without writes to discard is refused, naming it.
    let wrong = cluster.run(&["apply", "--rejoin", "h3"]);
    assert_eq!(wrong.code, Some(1), "{wrong}");
    assert!(
        wrong
            .stdout
            .contains("--rejoin h3: `h3` is not a writable primary beside the inventory's primary"),
        "{wrong}"
    );

    // With consent, apply fences h1, rewinds it onto h2's timeline, and repoints h3.
    let consent = cluster.run(&["apply", "--dry-run", "--rejoin", "h1"]);
    assert_eq!(consent.code, Some(0), "{consent}");
    assert!(
        consent
            .stdout
            .contains("--rejoin h1 discards what it wrote after the fork: "),
        "{consent}"
    );
    let rejoin = cluster.run(&["apply", "--detailed-exitcode", "--rejoin", "h1"]);
    assert_eq!(rejoin.code, Some(2), "{rejoin}");
    assert!(
        rejoin.stdout.contains("! fence") && rejoin.stdout.contains("rejoin h2 with pg_rewind"),
        "{rejoin}"
    );
    assert!(
        rejoin
            .stderr
            .contains("changed h1/base_backup: pg_rewind: Done!"),
        "{rejoin}"
    );
    cluster.wait_for_rows("200");
    assert_eq!(lab.sql("h1", "select pg_is_in_recovery()"), "t");
    assert_eq!(
        lab.sql("h3", "select sender_host from pg_stat_wal_receiver"),
        "10.77.0.12",
        "h3 streams from h2"
    );
    let agreed = cluster.run(&["status"]);
    assert_eq!(agreed.code, Some(0), "{agreed}");

    // A planned switchover gives the primary role back to h1 with no row lost.
    lab.sql(
        "h2",
        "insert into failover_check select generate_series(201, 300)",
    );
    // The dry run shows the switchover's plan and changes nothing.
    let preview = cluster.run(&["switchover", "h1", "--dry-run"]);
    assert_eq!(preview.code, Some(0), "{preview}");
    for line in ["? checkpoint", "! stop", "? catch up", "~ promote"] {
        assert!(preview.stdout.contains(line), "{line}:\n{preview}");
    }
    assert_eq!(lab.sql("h2", "select pg_is_in_recovery()"), "f");
    // The switchover, and the apply it ends with, use the templates given.
    let templates = directory.path().join("templates");
    std::fs::create_dir_all(&templates).unwrap_or_else(|error| panic!("{error}"));
    for name in [
        "pg_hba.conf.j2",
        "pgpass.j2",
        "postgresql.conf.j2",
        "recovery.conf.j2",
    ] {
        let mut text = std::fs::read_to_string(repository().join("templates").join(name))
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        if name == "postgresql.conf.j2" {
            text.push_str("# rendered from the operator's templates\n");
        }
        std::fs::write(templates.join(name), text).unwrap_or_else(|error| panic!("{error}"));
    }
    let templates = templates.display().to_string();
    let switchover = cluster.run(&["switchover", "h1", "--templates", &templates]);
    assert_eq!(switchover.code, Some(0), "{switchover}");
    assert!(
        switchover.stderr.contains("h1: catch up: replayed past"),
        "{switchover}"
    );
    lab.sql(
        "h1",
        "insert into failover_check select generate_series(301, 400)",
    );
    cluster.wait_for_rows("400");
    assert_eq!(lab.sql("h1", "select pg_is_in_recovery()"), "f");
    // The slots the demoted primary kept for the members, which now stream from h1,
    // are dropped by the switchover's apply once it runs as a standby; then
    // nothing is left to do.
    assert!(
        switchover.stdout.contains(
            "drop slots no member streams through, once the server runs: pgconverge_h1, pgconverge_h3"
        ),
        "{switchover}"
    );
    let settled = cluster.run(&["apply", "--detailed-exitcode", "--templates", &templates]);
    assert_eq!(settled.code, Some(0), "{settled}");
    let conf = lab.ssh_output(
        "h1",
        &format!("cat {}/postgresql.conf", release.config_dir()),
    );
    assert!(
        String::from_utf8_lossy(&conf.stdout).contains("# rendered from the operator's templates"),
        "the apply after the switchover did not use the given templates"
    );

    let password = cluster.password.clone();
    for output in &cluster.outputs {
        assert!(
            !output.contains(&password),
            "the password leaked:\n{output}"
        );
    }
}

#[test]
fn gates_refuse_a_dangerous_promotion() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let mut cluster = Cluster::new(&lab, directory.path(), "pw-gates");
    let converge = cluster.run(&["apply"]);
    assert_eq!(converge.code, Some(0), "{converge}");

    // The old primary is alive and not fenced.
    let alive = cluster.run(&["promote", "h2"]);
    assert_eq!(alive.code, Some(1), "{alive}");
    assert!(
        alive
            .stdout
            .contains("CLOSED  old primary is down: h1 runs and accepts connections"),
        "{alive}"
    );

    // A lagging standby: replay paused while the primary writes.
    lab.sql("h2", "select pg_wal_replay_pause()");
    lab.sql(
        "h1",
        "create table gate_check as select generate_series(1, 10000) as id",
    );
    lab.eventually(30, "h2 receives WAL it has not replayed", || {
        lab.sql(
            "h2",
            "select pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn()) > 0",
        ) == "t"
    });
    let lagging = cluster.run(&["promote", "h2", "--fence", "--dry-run"]);
    assert_eq!(lagging.code, Some(1), "{lagging}");
    assert!(
        lagging.stdout.contains("CLOSED  replay is not paused"),
        "{lagging}"
    );
    assert!(
        lagging.stdout.contains("CLOSED  caught up: replayed"),
        "{lagging}"
    );
    lab.sql("h2", "select pg_wal_replay_resume()");

    // A second primary: h3 promoted behind pgconverge's back.
    lab.sql("h3", "select pg_promote()");
    lab.eventually(30, "h3 accepts writes", || {
        lab.sql("h3", "select pg_is_in_recovery()") == "f"
    });
    let second = cluster.run(&["promote", "h2", "--fence", "--dry-run"]);
    assert_eq!(second.code, Some(1), "{second}");
    assert!(
        second
            .stdout
            .contains("CLOSED  no other writable primary: h3 already accepts writes"),
        "{second}"
    );
    assert_eq!(
        lab.sql("h1", "select pg_is_in_recovery()"),
        "f",
        "a refused promotion changed nothing"
    );
    assert_eq!(
        lab.sql("h2", "select pg_is_in_recovery()"),
        "t",
        "a refused promotion changed nothing"
    );

    // The promoted standby wrote on its own timeline: apply names it and what it
    // wrote after the fork, and stops, restarting nothing, until --rejoin h3.
    lab.sql("h3", "create table written_on_h3 (id int)");
    let started = |host: &str| lab.sql(host, "select pg_postmaster_start_time()");
    let started_before = (started("h1"), started("h3"));
    let refused = cluster.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused.stdout.contains(
            "split-brain guard: `h3` is a writable primary beside `h1`, the inventory's primary, and it wrote "
        ) && refused.stdout.contains("`pgconverge apply --rejoin h3`"),
        "{refused}"
    );
    assert_eq!((started("h1"), started("h3")), started_before);
    assert_eq!(lab.sql("h3", "select pg_is_in_recovery()"), "f");
    let rejoin = cluster.run(&["apply", "--detailed-exitcode", "--rejoin", "h3"]);
    assert_eq!(rejoin.code, Some(2), "{rejoin}");
    assert!(
        rejoin
            .stdout
            .contains("--rejoin h3 discards what it wrote after the fork: "),
        "{rejoin}"
    );
    lab.eventually(30, "h3 streams from h1 again", || {
        lab.try_sql("h3", "select status from pg_stat_wal_receiver")
            .as_deref()
            == Ok("streaming")
    });
    assert_eq!(
        lab.sql(
            "h3",
            "select count(*) from pg_tables where tablename = 'written_on_h3'"
        ),
        "0",
        "h3's own writes were discarded"
    );
}

/// A switchover whose promotion fails after the old primary stopped: the
/// candidate's data directory lost its write permission (an operator's `chmod`),
/// so it streams and replays as before but `pg_promote()` cannot create its signal
/// file there. The switchover shows the candidate is still a standby, starts the
/// old primary again, says so, and records nothing in the inventory.
#[test]
fn a_switchover_whose_promotion_fails_starts_the_old_primary_again() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let mut cluster = Cluster::new(&lab, directory.path(), "pw-switchover-undo");
    let converge = cluster.run(&["apply"]);
    assert_eq!(converge.code, Some(0), "{converge}");
    lab.sql("h1", "create table failover_check (id int primary key); insert into failover_check select generate_series(1, 100)");
    cluster.wait_for_rows("100");
    let inventory_before = std::fs::read_to_string(&cluster.inventory).unwrap_or_default();
    let started_before = lab.sql("h1", "select pg_postmaster_start_time()");

    let data = "/var/lib/postgresql/15/main";
    lab.exec("h2", &["chmod", "0500", data]);
    let failed = cluster.run(&["switchover", "h2"]);
    lab.exec("h2", &["chmod", "0700", data]);
    assert_eq!(failed.code, Some(1), "{failed}");
    let all = failed.all();
    assert!(
        all.contains("h1: stop: stopped"),
        "the old primary was stopped\n{failed}"
    );
    assert!(
        all.contains("promote failed on h2")
            && all.contains("could not create file \"promote\": Permission denied"),
        "PostgreSQL's own reason is quoted\n{failed}"
    );
    assert!(
        all.contains("h2 is still a standby, and h1 runs as the primary again"),
        "{failed}"
    );
    assert_ne!(
        lab.sql("h1", "select pg_postmaster_start_time()"),
        started_before,
        "h1 was stopped and started again"
    );
    assert_eq!(lab.sql("h1", "select pg_is_in_recovery()"), "f");
    assert_eq!(lab.sql("h2", "select pg_is_in_recovery()"), "t");
    assert_eq!(
        std::fs::read_to_string(&cluster.inventory).unwrap_or_default(),
        inventory_before,
        "no role was recorded"
    );
    // Both standbys stream from h1 again: rows written on it reach them.
    lab.sql(
        "h1",
        "insert into failover_check select generate_series(101, 200)",
    );
    cluster.wait_for_rows("200");
    lab.eventually(30, "both standbys stream from h1", || {
        lab.sql(
            "h1",
            "select string_agg(application_name, ',' order by application_name) from pg_stat_replication where state = 'streaming'",
        ) == "h2,h3"
    });
    let agreed = cluster.run(&["status"]);
    assert_eq!(agreed.code, Some(0), "{agreed}");
    let password = cluster.password.clone();
    for output in &cluster.outputs {
        assert!(
            !output.contains(&password),
            "the password leaked:\n{output}"
        );
    }
}
