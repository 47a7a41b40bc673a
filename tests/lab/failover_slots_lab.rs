//! End to end on Debian testing hosts with PostgreSQL 18 and `failover_slots:
//! true`: a logical consumer's slot follows a switchover and a failover. The
//! standbys copy the primary's failover slot; a switchover waits for a ready
//! copy; after it, and after `promote` and `apply`, the consumer reads on the new
//! primary every change it had not confirmed; the demoted primary's own slot,
//! which the new primary carries on, is dropped so its slot sync worker copies
//! the new primary's; and the apply after each role change changes nothing.

use crate::support;

use support::{Lab, Release, Run, lab_available};

const HOSTS: [&str; 3] = ["h1", "h2", "h3"];

struct Cluster<'a> {
    lab: &'a Lab,
    inventory: String,
    password: String,
}

impl Cluster<'_> {
    fn run(&self, args: &[&str]) -> Run {
        self.lab.run(&self.inventory, &self.password, args)
    }

    /// Waits until `host` has a copy of `cdc` that a promotion keeps, as far as
    /// the consumer confirmed on `primary`. A copy stays temporary until the
    /// slot's catalog xmin passes the one the standby reserved, which a quiet
    /// primary never moves: each try logs a standby snapshot there and lets the
    /// consumer confirm it, as a busy primary and a live consumer would (the
    /// consumer has read every row by then, so it reads no row here).
    fn wait_for_ready_copy(&self, primary: &str, host: &str) {
        self.lab
            .eventually(120, &format!("a ready copy of cdc on {host}"), || {
                self.lab.sql(primary, "select pg_log_standby_snapshot()");
                assert_eq!(self.consume(primary), Vec::<u32>::new(), "no row is left to read");
                let confirmed = self.lab.sql(
                    primary,
                    "select confirmed_flush_lsn from pg_replication_slots where slot_name = 'cdc'",
                );
                self.lab
                    .try_sql(
                        host,
                        &format!("select count(*) from pg_replication_slots where slot_name = 'cdc' and synced and not temporary and invalidation_reason is null and confirmed_flush_lsn >= '{confirmed}'"),
                    )
                    .is_ok_and(|count| count == "1")
            });
    }

    /// The ids of the rows of `events` the slot `cdc` decodes on `host` (and
    /// confirms: they are consumed).
    fn consume(&self, host: &str) -> Vec<u32> {
        let text = self.lab.sql(
            host,
            "select string_agg(substring(data from 'id\\[integer\\]:([0-9]+)'), ' ') from pg_logical_slot_get_changes('cdc', null, null) where data like 'table public.events: INSERT:%'",
        );
        text.split_whitespace()
            .filter_map(|id| id.parse().ok())
            .collect()
    }

    fn wait_for_rows(&self, rows: u32) {
        self.lab
            .eventually(60, &format!("{rows} rows on every member"), || {
                HOSTS.iter().all(|host| {
                    self.lab
                        .try_sql(host, "select count(*) from events")
                        .is_ok_and(|count| count == rows.to_string())
                })
            });
    }
}

#[test]
fn a_logical_consumer_goes_on_after_a_switchover_and_a_failover() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(3, Release::FORKY_18);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let inventory = Release::FORKY_18.example_inventory(directory.path());
    let text = std::fs::read_to_string(&inventory).unwrap_or_default();
    std::fs::write(
        &inventory,
        text.replacen(
            "    replication_user: replicator\n",
            "    replication_user: replicator\n    failover_slots: true\n",
            1,
        ),
    )
    .unwrap_or_else(|error| panic!("write the inventory: {error}"));
    let cluster = Cluster {
        lab: &lab,
        inventory,
        password: support::unique_password("failover-slots"),
    };
    let converge = cluster.run(&["apply"]);
    assert_eq!(converge.code, Some(0), "{converge}");
    for host in HOSTS {
        assert_eq!(lab.sql(host, "show wal_level"), "logical", "{host}");
        assert_eq!(lab.sql(host, "show sync_replication_slots"), "on", "{host}");
    }
    assert_eq!(
        lab.sql("h1", "show synchronized_standby_slots"),
        "pgconverge_h2,pgconverge_h3"
    );

    // A consumer's slot on h1, made with failover; it reads rows 1 to 10.
    lab.sql("h1", "create table events (id int primary key)");
    lab.sql(
        "h1",
        "select pg_create_logical_replication_slot('cdc', 'test_decoding', false, false, true)",
    );
    lab.sql("h1", "insert into events select generate_series(1, 10)");
    assert_eq!(cluster.consume("h1"), (1..=10).collect::<Vec<_>>());
    cluster.wait_for_ready_copy("h1", "h2");
    cluster.wait_for_ready_copy("h1", "h3");
    let check = cluster.run(&["check"]);
    assert!(!check.all().contains("failover slot"), "{check}");

    // Rows 11 to 20, not read yet; a switchover to h2.
    lab.sql("h1", "insert into events select generate_series(11, 20)");
    cluster.wait_for_rows(20);
    let switchover = cluster.run(&["switchover", "h2"]);
    assert_eq!(switchover.code, Some(0), "{switchover}");
    assert!(
        switchover
            .all()
            .contains("ok  failover slots: h2 has a ready copy of cdc"),
        "{switchover}"
    );
    let read = cluster.consume("h2");
    assert!(
        (11..=20).all(|id| read.contains(&id)) && read.iter().all(|id| *id > 10),
        "h2 decodes what the consumer had not confirmed on h1, and nothing it had: {read:?}"
    );
    // h1, a standby now, copies h2's slot in place of its own, which the
    // switchover's apply dropped.
    assert!(
        switchover
            .all()
            .contains("dropped its own failover slot cdc"),
        "{switchover}"
    );
    cluster.wait_for_ready_copy("h2", "h1");
    let again = cluster.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{again}");

    // A failover: h2's postmaster killed, h3 promoted, the old primary rejoined.
    lab.sql("h2", "insert into events select generate_series(21, 30)");
    cluster.wait_for_rows(30);
    assert_eq!(cluster.consume("h2"), (21..=30).collect::<Vec<_>>());
    cluster.wait_for_ready_copy("h2", "h3");
    lab.sql("h2", "insert into events select generate_series(31, 40)");
    cluster.wait_for_rows(40);
    lab.ssh(
        "h2",
        "kill -9 $(head -n 1 /var/lib/postgresql/18/main/postmaster.pid)",
    );
    let promote = cluster.run(&["promote", "h3", "--write-inventory"]);
    assert_eq!(promote.code, Some(0), "{promote}");
    // At least once: the copy had what the consumer confirmed when it last
    // synced, so nothing unconfirmed is missed.
    let read = cluster.consume("h3");
    assert!(
        (31..=40).all(|id| read.contains(&id)) && read.iter().all(|id| *id > 20),
        "h3 decodes the rows the consumer had not confirmed: {read:?}"
    );
    let rejoin = cluster.run(&["apply"]);
    assert_eq!(rejoin.code, Some(0), "{rejoin}");
    assert_eq!(
        lab.sql(
            "h3",
            "select count(*) from pg_stat_replication where state = 'streaming'"
        ),
        "2",
        "{rejoin}"
    );
    cluster.wait_for_ready_copy("h3", "h1");
    cluster.wait_for_ready_copy("h3", "h2");
    let converged = cluster.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(converged.code, Some(0), "{converged}");
}
