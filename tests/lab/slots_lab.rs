//! End to end on a 3-host lab: each standby streams through a replication slot on
//! its upstream, with a cap on the WAL a slot keeps; a standby removed from the
//! inventory loses its slot and its access rules; a standby kept down past its
//! slot's cap is cloned again by the next apply.

use crate::support;

use support::{Lab, lab_available, pgconverge, repository};

fn inventory(directory: &std::path::Path, name: &str, edit: impl Fn(String) -> String) -> String {
    let example = std::fs::read_to_string(repository().join("inventory.example.yaml"))
        .unwrap_or_else(|error| panic!("{error}"));
    let text = edit(example.clone());
    assert_ne!(text, example, "the inventory did not change");
    let path = directory.join(name);
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("{error}"));
    path.display().to_string()
}

fn slots(lab: &Lab) -> String {
    lab.exec_sql(
        "h1",
        "select string_agg(slot_name || ':' || active || ':' || coalesce(wal_status, ''), ',' order by slot_name) from pg_replication_slots",
    )
}

#[test]
fn standbys_stream_through_slots_that_follow_the_inventory() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let password = format!("pw-slots-{}", std::process::id());
    let example = repository()
        .join("inventory.example.yaml")
        .display()
        .to_string();
    let mut outputs = Vec::new();

    // 1. Every standby streams through its slot, and slots keep at most 10GB.
    let converge = lab.apply(&example, &password, &[]);
    outputs.push(converge.all());
    assert_eq!(converge.code, Some(2), "{converge}");
    lab.eventually(30, "both slots are active", || {
        slots(&lab) == "pgconverge_h2:true:reserved,pgconverge_h3:true:reserved"
    });
    assert_eq!(lab.exec_sql("h1", "show max_slot_wal_keep_size"), "10GB");
    assert_eq!(
        lab.exec_sql("h2", "show primary_slot_name"),
        "pgconverge_h2"
    );
    let ssh_config = lab.ssh_config().display().to_string();
    let status = pgconverge(
        &["status", "-i", &example, "--ssh-config", &ssh_config],
        &password,
    );
    outputs.push(status.all());
    assert!(
        status
            .stdout
            .contains("Slots on h1: pgconverge_h2 active, ")
            && status.stdout.contains("pgconverge_h3 active, "),
        "{status}"
    );
    let settled = lab.apply(&example, &password, &[]);
    assert_eq!(settled.code, Some(0), "{settled}");

    // 2. h3 leaves the inventory: its slot and its rules go; h2 streams throughout.
    let without_h3 = inventory(directory.path(), "without-h3.yaml", |text| {
        text.replace("        h3: { ansible_host: 10.77.0.13 }\n", "")
    });
    let plan = lab.apply(&without_h3, &password, &["--dry-run"]);
    outputs.push(plan.all());
    assert!(
        plan.stdout
            .contains("drop slots no member streams through: pgconverge_h3"),
        "{plan}"
    );
    let left = lab.apply(&without_h3, &password, &[]);
    outputs.push(left.all());
    assert_eq!(left.code, Some(2), "{left}");
    assert_eq!(slots(&lab), "pgconverge_h2:true:reserved");
    for host in ["h1", "h2"] {
        let rules = lab.exec(host, &["cat", "/etc/postgresql/15/main/pg_hba.conf"]);
        assert!(
            !rules.contains("10.77.0.13"),
            "h3's rules are gone on {host}\n{rules}"
        );
    }
    assert_eq!(
        lab.exec_sql("h2", "select status from pg_stat_wal_receiver"),
        "streaming"
    );
    assert_eq!(
        lab.exec_sql("h3", "select pg_is_in_recovery()"),
        "t",
        "the removed host itself is not touched"
    );
    let settled = lab.apply(&without_h3, &password, &[]);
    assert_eq!(settled.code, Some(0), "{settled}");

    // 3. With a small cap, h2 kept down while the primary writes loses its slot's
    //    WAL; the next apply clones it again, through a new slot.
    let capped = inventory(directory.path(), "capped.yaml", |text| {
        text.replace("        h3: { ansible_host: 10.77.0.13 }\n", "").replace(
            "    replication_user: replicator\n",
            "    replication_user: replicator\n    max_slot_wal_keep_size: 48MB\n    wal_keep_size: 0\n",
        )
    });
    let applied = lab.apply(&capped, &password, &[]);
    outputs.push(applied.all());
    assert_eq!(applied.code, Some(2), "{applied}");
    lab.exec("h2", &["pg_ctlcluster", "15", "main", "stop"]);
    lab.exec_sql("h1", "create table slot_check (id int)");
    for _ in 0..8 {
        lab.exec_sql(
            "h1",
            "insert into slot_check select generate_series(1, 1000); select pg_switch_wal()",
        );
    }
    lab.exec_sql("h1", "checkpoint");
    lab.eventually(30, "h2's slot is lost", || {
        slots(&lab) == "pgconverge_h2:false:lost"
    });
    let plan = lab.apply(&capped, &password, &["--dry-run"]);
    outputs.push(plan.all());
    assert!(
        plan.stdout
            .contains("its slot on h1 lost WAL it needs (max_slot_wal_keep_size)"),
        "{plan}"
    );
    let recloned = lab.apply(&capped, &password, &[]);
    outputs.push(recloned.all());
    assert_eq!(recloned.code, Some(2), "{recloned}");
    lab.eventually(30, "h2 streams through a new slot", || {
        slots(&lab) == "pgconverge_h2:true:reserved"
    });
    lab.eventually(30, "h2 has every row", || {
        lab.try_sql("h2", "select count(*) from slot_check")
            .as_deref()
            == Ok("8000")
    });
    for output in &outputs {
        assert!(!output.contains(&password), "the password leaked\n{output}");
    }
}

#[test]
fn a_removed_standby_is_decommissioned_after_the_members_forget_it() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let password = format!("pw-decommission-{}", std::process::id());
    let example = repository()
        .join("inventory.example.yaml")
        .display()
        .to_string();
    let mut outputs = Vec::new();
    let converge = lab.apply(&example, &password, &[]);
    outputs.push(converge.all());
    assert_eq!(converge.code, Some(2), "{converge}");
    lab.eventually(30, "both slots are active", || {
        slots(&lab) == "pgconverge_h2:true:reserved,pgconverge_h3:true:reserved"
    });

    // Only a host the inventory lists outside the role groups can be decommissioned.
    let member = lab.apply(&example, &password, &["--decommission", "h3"]);
    assert_eq!(member.code, Some(1), "{member}");
    assert!(
        member
            .stderr
            .contains("`h3` is still a member of the replication cluster"),
        "{member}"
    );
    let without_h3 = inventory(directory.path(), "without-h3.yaml", |text| {
        text.replace("        h3: { ansible_host: 10.77.0.13 }\n", "")
    });
    let unknown = lab.apply(&without_h3, &password, &["--decommission", "h3"]);
    assert_eq!(unknown.code, Some(1), "{unknown}");
    assert!(
        unknown.stderr.contains("the inventory has no host `h3`")
            && unknown.stderr.contains("`decommissioned:`"),
        "{unknown}"
    );

    // h3 leaves the standbys for a group that gives no role.
    let moved = inventory(directory.path(), "h3-decommissioned.yaml", |text| {
        text.replace(
            "        h3: { ansible_host: 10.77.0.13 }\n",
            "    decommissioned:\n      hosts:\n        h3: { ansible_host: 10.77.0.13 }\n",
        )
    });
    let preview = lab.apply(&moved, &password, &["--dry-run", "--decommission", "h3"]);
    outputs.push(preview.all());
    assert_eq!(preview.code, Some(2), "{preview}");
    for expected in [
        "h3 (10.77.0.13, decommissioned: no member of the replication cluster)",
        "! decommission ",
        "auto → manual",
        "drop slots no member streams through: pgconverge_h3",
    ] {
        assert!(preview.stdout.contains(expected), "{expected}:\n{preview}");
    }
    assert_eq!(
        lab.exec_sql("h3", "select pg_is_in_recovery()"),
        "t",
        "the dry run changed nothing"
    );

    let decommissioned = lab.apply(&moved, &password, &["--decommission", "h3"]);
    outputs.push(decommissioned.all());
    assert_eq!(decommissioned.code, Some(2), "{decommissioned}");
    // Names first: the members drop h3's slot and rules before h3 stops.
    let dropped = decommissioned.stderr.find("changed h1/stale_slots");
    let rules = decommissioned.stderr.find("changed h1/pg_hba_conf");
    let stopped = decommissioned.stderr.find("changed h3/decommission:");
    assert!(
        dropped.is_some() && rules.is_some() && stopped > dropped && stopped > rules,
        "{decommissioned}"
    );
    let clusters = lab.exec("h3", &["pg_lsclusters", "-h"]);
    // `15 main 5432 down,recovery postgres ...`: the status column.
    let status = clusters.split_whitespace().nth(3).unwrap_or_default();
    assert!(
        status.starts_with("down"),
        "h3's server is stopped\n{clusters}"
    );
    lab.exec(
        "h3",
        &["test", "-f", "/var/lib/postgresql/15/main/PG_VERSION"],
    );
    let start_conf = lab.exec("h3", &["cat", "/etc/postgresql/15/main/start.conf"]);
    assert!(
        start_conf.lines().any(|line| line == "manual"),
        "{start_conf}"
    );
    assert_eq!(slots(&lab), "pgconverge_h2:true:reserved");
    for host in ["h1", "h2"] {
        let rules = lab.exec(host, &["cat", "/etc/postgresql/15/main/pg_hba.conf"]);
        assert!(
            !rules.contains("10.77.0.13"),
            "h3's rules are gone on {host}\n{rules}"
        );
    }
    assert_eq!(lab.exec_sql("h1", "select pg_is_in_recovery()"), "f");
    lab.eventually(30, "h2 streams", || {
        lab.try_sql("h2", "select status from pg_stat_wal_receiver")
            .as_deref()
            == Ok("streaming")
    });

    // Idempotent: a stopped, decommissioned host plans nothing; a plain apply
    // never contacts it.
    let again = lab.apply(&moved, &password, &["--decommission", "h3"]);
    outputs.push(again.all());
    assert_eq!(again.code, Some(0), "{again}");
    let plain = lab.apply(&moved, &password, &[]);
    outputs.push(plain.all());
    assert_eq!(plain.code, Some(0), "{plain}");
    assert!(!plain.stdout.contains("h3 ("), "{plain}");
    for output in &outputs {
        assert!(!output.contains(&password), "the password leaked\n{output}");
    }
}
