//! End to end on the lab: a WAL archive in a directory every host sees (the lab's
//! /srv/wal_shared), a warm standby that recovers only from it, the archiver
//! verified, and a broken archive reported as a failed step.
//! (The archive host reached over SSH, and cutting it off, come with the key
//! exchange between the postgres accounts.)

use crate::support;

use support::{Lab, Release, lab_available, pgconverge};

const ARCHIVE: &str = "/srv/wal_shared";

fn inventory(release: Release, directory: &std::path::Path) -> String {
    let example = std::fs::read_to_string(release.example_inventory(directory))
        .unwrap_or_else(|error| panic!("example inventory: {error}"));
    let text = example
        .replace(
            "    replication_user: replicator\n",
            &format!("    replication_user: replicator\n    wal_archive: {{ path: {ARCHIVE} }}\n"),
        )
        .replace(
            "h3: { ansible_host: 10.77.0.13 }",
            "h3: { ansible_host: 10.77.0.13, replication_mode: archive }",
        );
    assert!(
        text.contains("wal_archive") && text.contains("replication_mode: archive"),
        "the example inventory changed shape"
    );
    let path = directory.join("archive.yaml");
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("write: {error}"));
    path.display().to_string()
}

#[test]
fn a_shared_archive_feeds_a_warm_standby_and_a_broken_one_fails_the_apply() {
    a_shared_archive_feeds_a_warm_standby_on(Release::BOOKWORM_15);
}

#[test]
fn a_shared_archive_feeds_a_warm_standby_of_postgresql_17_and_a_broken_one_fails_the_apply() {
    a_shared_archive_feeds_a_warm_standby_on(Release::TRIXIE_17);
}

#[test]
fn a_shared_archive_feeds_a_warm_standby_of_postgresql_18_and_a_broken_one_fails_the_apply() {
    a_shared_archive_feeds_a_warm_standby_on(Release::FORKY_18);
}

fn a_shared_archive_feeds_a_warm_standby_on(release: Release) {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(3, release);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let inventory = inventory(release, directory.path());
    let ssh_config = lab.ssh_config().display().to_string();
    let password = format!("pw-archive-{}", std::process::id());
    let mut outputs = Vec::new();
    let mut run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-i", &inventory, "--ssh-config", &ssh_config]);
        let run = pgconverge(&all, &password);
        outputs.push(run.all());
        run
    };

    let converge = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(converge.code, Some(2), "{converge}");
    assert!(
        converge.stderr.contains("ok h1/verify_archive: segment")
            && converge.stderr.contains(&format!("reached {ARCHIVE}")),
        "{converge}"
    );
    assert!(
        converge
            .stdout
            .contains("~ restore_command  '' → cp /srv/wal_shared/%f %p  (reload)"),
        "{converge}"
    );
    assert_eq!(lab.sql("h3", "select pg_is_in_recovery()"), "t");
    assert_eq!(
        lab.sql("h3", "select count(*) from pg_stat_wal_receiver"),
        "0",
        "h3 recovers from the archive only"
    );

    // A row written on the primary reaches the warm standby through the archive.
    lab.sql("h1", "create table archive_check (note text); insert into archive_check values ('through the archive')");
    lab.sql("h1", "select pg_switch_wal()");
    lab.eventually(60, "the row reaches h3 through the archive", || {
        let output = lab.ssh_output("h3", "cd / && runuser -u postgres -- psql -XAtq -d postgres -c 'select note from archive_check'");
        String::from_utf8_lossy(&output.stdout).trim() == "through the archive"
    });
    assert_eq!(
        lab.sql("h1", "select failed_count from pg_stat_archiver"),
        "0"
    );
    let status = run(&["status"]);
    assert_eq!(
        status.code,
        Some(0),
        "a warm standby that does not stream agrees with the inventory\n{status}"
    );
    assert!(status.stdout.contains("Archiver of h1:"), "{status}");
    let quiet = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(quiet.code, Some(0), "{quiet}");

    // The archive breaks (a command that cannot write): the apply that brings it
    // in verifies the archiver and fails with the reason.
    let good = std::fs::read_to_string(&inventory).unwrap_or_default();
    let broken_text = good.replace(
        &format!("wal_archive: {{ path: {ARCHIVE} }}"),
        &format!("wal_archive: {{ command: \"cp %p /nonexistent/%f\", restore_command: \"cp {ARCHIVE}/%f %p\" }}"),
    );
    assert_ne!(broken_text, good);
    std::fs::write(&inventory, broken_text).unwrap_or_else(|error| panic!("write: {error}"));
    let broken = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(broken.code, Some(1), "{broken}");
    assert!(
        broken
            .stdout
            .contains("fails: pg_stat_archiver failed_count rose"),
        "{broken}"
    );
    assert!(lab.sql("h1", "select failed_count > 0 from pg_stat_archiver") == "t");

    // Repaired, the same command verifies the archive again.
    std::fs::write(&inventory, good).unwrap_or_else(|error| panic!("write: {error}"));
    let repaired = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(repaired.code, Some(2), "{repaired}");
    assert!(
        repaired.stderr.contains("ok h1/verify_archive"),
        "{repaired}"
    );
    let settled = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(settled.code, Some(0), "{settled}");

    for output in &outputs {
        assert!(
            !output.contains(&password),
            "the password leaked:\n{output}"
        );
    }
}
