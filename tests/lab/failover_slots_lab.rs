//! End to end on Debian testing hosts with PostgreSQL 18 and `failover_slots:
//! true`: a real logical consumer, a subscriber on a fourth host (h4, outside
//! the inventory) whose subscription is made with `failover = true` and connects
//! to whichever member accepts writes, gets every row once, with no gap,
//! through a switchover and then a failover. The standbys copy the
//! subscription's slot; a switchover waits for a ready copy; the demoted
//! primary's own slot, which the new primary carries on, is dropped so its slot
//! sync worker copies the new primary's; and the apply after each role change
//! changes nothing.

use crate::support;

use support::{Lab, Release, Run, lab_available};

const MEMBERS: [&str; 3] = ["h1", "h2", "h3"];

struct Cluster<'a> {
    lab: &'a Lab,
    inventory: String,
    password: String,
}

impl Cluster<'_> {
    fn run(&self, args: &[&str]) -> Run {
        self.lab.run(&self.inventory, &self.password, args)
    }

    /// Waits until `host` has a copy of the subscription's slot `sub` that a
    /// promotion keeps, as far as the subscriber confirmed on `primary`. A copy
    /// stays temporary until the slot's catalog xmin passes the one the standby
    /// reserved, which a quiet primary moves only with a standby snapshot: each
    /// try logs one there, as a busy primary does every 15 s.
    fn wait_for_ready_copy(&self, primary: &str, host: &str) {
        self.lab
            .eventually(120, &format!("a ready copy of sub on {host}"), || {
                self.lab.sql(primary, "select pg_log_standby_snapshot()");
                let confirmed = self.lab.sql(
                    primary,
                    "select confirmed_flush_lsn from pg_replication_slots where slot_name = 'sub'",
                );
                self.lab
                    .try_sql(
                        host,
                        &format!("select count(*) from pg_replication_slots where slot_name = 'sub' and synced and not temporary and invalidation_reason is null and confirmed_flush_lsn >= '{confirmed}'"),
                    )
                    .is_ok_and(|count| count == "1")
            });
    }

    /// Waits until the subscriber has rows 1 to `rows`, each once (its primary
    /// key refuses a second copy, which would stop its apply worker).
    fn wait_for_subscriber(&self, rows: u32) {
        let wanted = format!("{rows}|1|{rows}");
        self.lab
            .eventually(120, &format!("rows 1 to {rows} on the subscriber"), || {
                self.lab
                    .try_sql("h4", "select count(*), min(id), max(id) from events")
                    .is_ok_and(|found| found == wanted)
            });
    }

    /// The member the subscription streams from, as its walsender shows.
    fn subscribed_to(&self, host: &str) -> bool {
        self.lab
            .try_sql(
                host,
                "select count(*) from pg_stat_replication where application_name = 'sub' and state = 'streaming'",
            )
            .is_ok_and(|count| count == "1")
    }
}

#[test]
fn a_subscriber_gets_every_row_once_through_a_switchover_and_a_failover() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(4, Release::FORKY_18);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let inventory = Release::FORKY_18.example_inventory(directory.path());
    let text = std::fs::read_to_string(&inventory).unwrap_or_default();
    std::fs::write(
        &inventory,
        text.replacen(
            "    replication_user: replicator\n",
            "    replication_user: replicator\n    failover_slots: true\n    pg_hba_extra:\n      - host postgres cdc_user 10.77.0.14/32 scram-sha-256\n",
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
    for host in MEMBERS {
        assert_eq!(lab.sql(host, "show wal_level"), "logical", "{host}");
        assert_eq!(lab.sql(host, "show sync_replication_slots"), "on", "{host}");
    }
    assert_eq!(
        lab.sql("h1", "show synchronized_standby_slots"),
        "pgconverge_h2,pgconverge_h3"
    );

    // The publication on h1; h4 subscribes with failover, through a
    // connection string that finds whichever member accepts writes.
    let consumer_password = support::unique_password("cdc");
    lab.sql(
        "h1",
        &format!("create role cdc_user login replication password '{consumer_password}'"),
    );
    lab.sql("h1", "create table events (id int primary key)");
    lab.sql("h1", "grant select on events to cdc_user");
    lab.sql("h1", "create publication pub for table events");
    lab.sql("h4", "create table events (id int primary key)");
    lab.sql(
        "h4",
        &format!("create subscription sub connection 'host=10.77.0.11,10.77.0.12,10.77.0.13 port=5432 dbname=postgres user=cdc_user password={consumer_password} target_session_attrs=read-write connect_timeout=2' publication pub with (failover = true)"),
    );
    lab.sql("h1", "insert into events select generate_series(1, 10)");
    cluster.wait_for_subscriber(10);
    cluster.wait_for_ready_copy("h1", "h2");
    cluster.wait_for_ready_copy("h1", "h3");
    let check = cluster.run(&["check"]);
    assert!(!check.all().contains("failover slot"), "{check}");

    // A switchover to h2; rows before and after it reach the subscriber once.
    lab.sql("h1", "insert into events select generate_series(11, 20)");
    let switchover = cluster.run(&["switchover", "h2"]);
    assert_eq!(switchover.code, Some(0), "{switchover}");
    let all = switchover.all();
    assert!(
        all.contains("ok  failover slots: h2 has a ready copy of sub")
            && all.contains("dropped its own failover slot sub"),
        "{switchover}"
    );
    lab.sql("h2", "insert into events select generate_series(21, 30)");
    cluster.wait_for_subscriber(30);
    lab.eventually(60, "the subscription streams from h2", || {
        cluster.subscribed_to("h2")
    });
    assert_eq!(
        lab.sql(
            "h2",
            "select count(*) from pg_replication_slots where slot_name = 'sub'"
        ),
        "1",
        "the slot is on the new primary"
    );
    let again = cluster.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{again}");

    // A failover: h2's postmaster killed, h3 promoted, the old primary rejoined.
    cluster.wait_for_ready_copy("h2", "h1");
    cluster.wait_for_ready_copy("h2", "h3");
    lab.sql("h2", "insert into events select generate_series(31, 40)");
    cluster.wait_for_subscriber(40);
    cluster.wait_for_ready_copy("h2", "h3");
    lab.ssh(
        "h2",
        "kill -9 $(head -n 1 /var/lib/postgresql/18/main/postmaster.pid)",
    );
    let promote = cluster.run(&["promote", "h3", "--write-inventory"]);
    assert_eq!(promote.code, Some(0), "{promote}");
    assert!(
        promote
            .all()
            .contains("failover slots: h3 has a ready copy of sub"),
        "{promote}"
    );
    assert_eq!(
        lab.sql(
            "h3",
            "select count(*) from pg_replication_slots where slot_name = 'sub'"
        ),
        "1",
        "the slot is on the new primary"
    );
    lab.sql("h3", "insert into events select generate_series(41, 50)");
    cluster.wait_for_subscriber(50);
    lab.eventually(60, "the subscription streams from h3", || {
        cluster.subscribed_to("h3")
    });
    let rejoin = cluster.run(&["apply"]);
    assert_eq!(rejoin.code, Some(0), "{rejoin}");
    assert_eq!(
        lab.sql(
            "h3",
            "select count(*) from pg_stat_replication where state = 'streaming' and application_name in ('h1', 'h2')"
        ),
        "2",
        "{rejoin}"
    );
    cluster.wait_for_ready_copy("h3", "h1");
    cluster.wait_for_ready_copy("h3", "h2");
    lab.sql("h3", "insert into events select generate_series(51, 60)");
    cluster.wait_for_subscriber(60);
    let converged = cluster.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(converged.code, Some(0), "{converged}");
}
