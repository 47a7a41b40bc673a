//! End to end on a 4-host lab with pgBackRest: h4 keeps the repository
//! (`wal_archive: { pgbackrest: { repo_host: h4 } }`). apply sets up the SSH trust
//! both ways, pgbackrest.conf on every host, the stanza, checks it and takes a
//! first full backup; WAL is archived through archive-push; a second apply changes
//! nothing. On Debian 12 (PostgreSQL 15, pgBackRest 2.x of bookworm) and on forky
//! (PostgreSQL 18, pgBackRest 2.60).

use crate::support;

use support::{Lab, Release, lab_available};

fn inventory(directory: &std::path::Path, release: Release) -> String {
    let example = std::fs::read_to_string(release.example_inventory(directory))
        .unwrap_or_else(|error| panic!("example inventory: {error}"));
    let text = example
        .replace(
            "    replication_user: replicator\n",
            "    replication_user: replicator\n    wal_archive: { pgbackrest: { repo_host: h4, stanza: main, retention_full: 2 } }\n",
        )
        .replace(
            "        h3: { ansible_host: 10.77.0.13 }\n",
            "        h3: { ansible_host: 10.77.0.13 }\n    archive:\n      hosts:\n        h4: { ansible_host: 10.77.0.14 }\n",
        );
    assert!(
        text.contains("repo_host: h4") && text.contains("h4: { ansible_host: 10.77.0.14 }"),
        "the example inventory changed shape:\n{text}"
    );
    let path = directory.join("pgbackrest.yaml");
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("write: {error}"));
    path.display().to_string()
}

/// `pgbackrest info` on the repository host, as postgres.
fn info(lab: &Lab) -> String {
    lab.exec(
        "h4",
        &[
            "runuser",
            "-u",
            "postgres",
            "--",
            "pgbackrest",
            "--stanza=main",
            "info",
        ],
    )
}

#[test]
fn a_cluster_archives_and_backs_up_through_pgbackrest() {
    a_cluster_archives_and_backs_up_through_pgbackrest_on(Release::BOOKWORM_15);
}

#[test]
fn a_cluster_of_postgresql_18_archives_and_backs_up_through_pgbackrest() {
    a_cluster_archives_and_backs_up_through_pgbackrest_on(Release::FORKY_18);
}

fn a_cluster_archives_and_backs_up_through_pgbackrest_on(release: Release) {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(4, release);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let inventory = inventory(directory.path(), release);
    let major = release.postgres.to_string();
    let data = release.data_dir();
    let password = format!("pw-pgbackrest-{}", std::process::id());

    let converge = lab.apply(&inventory, &password, &[]);
    assert_eq!(converge.code, Some(2), "{converge}");
    assert!(
        converge
            .stderr
            .contains("changed h4/pgbackrest_stanza: created stanza main")
            && converge
                .stderr
                .contains("changed h4/pgbackrest_backup: stanza main passes pgbackrest check")
            && converge.stderr.contains("took a full backup"),
        "{converge}"
    );
    let repository = info(&lab);
    assert!(
        repository.contains("status: ok") && repository.contains("full backup: "),
        "{repository}"
    );
    // archive_command is pgBackRest's, and the last segment went through it.
    assert_eq!(
        lab.exec_sql("h1", "show archive_command"),
        "pgbackrest --stanza=main archive-push %p"
    );
    lab.exec_sql("h1", "select pg_switch_wal()");
    lab.eventually(30, "h1 archives through pgBackRest", || {
        lab.try_sql(
            "h1",
            "select last_archived_time > coalesce(last_failed_time, 'epoch') from pg_stat_archiver",
        )
        .as_deref()
            == Ok("t")
    });
    // The stanza was made before h1 archived through it: not one push failed.
    assert_eq!(
        lab.exec_sql("h1", "select failed_count from pg_stat_archiver"),
        "0"
    );
    let settled = lab.apply(&inventory, &password, &[]);
    assert_eq!(settled.code, Some(0), "{settled}");
    assert!(
        settled.stdout.contains("pgbackrest_backup")
            && !settled.stderr.contains("pgbackrest_backup:"),
        "{settled}"
    );
    // Rows written, then an incremental backup for cron: its summary line.
    lab.exec_sql(
        "h1",
        "create table backup_check (id int primary key); insert into backup_check select generate_series(1, 1000)",
    );
    let ssh_config = lab.ssh_config().display().to_string();
    let backup = support::pgconverge(
        &[
            "backup",
            "-i",
            &inventory,
            "--ssh-config",
            &ssh_config,
            "--type",
            "incr",
        ],
        &password,
    );
    assert_eq!(backup.code, Some(0), "{backup}");
    assert!(
        backup.stderr.contains("changed h4/backup: incr backup ")
            && backup.stderr.contains(" MB added to the repository, in ")
            && backup.stderr.contains(", WAL 0000000"),
        "{backup}"
    );
    assert!(info(&lab).contains("incr backup: "), "{}", info(&lab));

    // The latest backup restores, on h4, with the rows; the primary is untouched.
    let h1_started = lab.exec_sql("h1", "select pg_postmaster_start_time()");
    let verify = support::pgconverge(
        &[
            "verify-backup",
            "-i",
            &inventory,
            "--ssh-config",
            &ssh_config,
            "--table",
            "public.backup_check",
        ],
        &password,
    );
    assert_eq!(verify.code, Some(0), "{verify}");
    assert!(
        verify
            .stderr
            .contains("ok h4/verify-backup: restored backup ")
            && verify
                .stderr
                .contains("recovered to the end of the archive in ")
            && verify
                .stderr
                .contains("; public.backup_check has 1000 rows"),
        "{verify}"
    );
    assert_eq!(
        lab.exec_sql("h1", "select pg_postmaster_start_time()"),
        h1_started,
        "the primary was not touched"
    );
    // The monitoring check sees the fresh backup.
    let check = support::pgconverge(
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
    assert_eq!(check.code, Some(0), "{check}");
    let document: serde_json::Value = serde_json::from_str(&check.stdout)
        .unwrap_or_else(|error| panic!("check --format json: {error}\n{check}"));
    assert_eq!(document["state"], "OK", "{check}");
    assert!(
        document["measures"]
            .as_array()
            .is_some_and(|measures| measures
                .iter()
                .any(|measure| measure["label"] == "backup_age")),
        "{check}"
    );
    lab.exec(
        "h2",
        &["pg_ctlcluster", &major, "main", "stop", "-m", "fast"],
    );
    let stopped = support::pgconverge(
        &["check", "-i", &inventory, "--ssh-config", &ssh_config],
        &password,
    );
    assert_eq!(stopped.code, Some(2), "{stopped}");
    assert!(
        stopped
            .stdout
            .starts_with("PGCONVERGE CRITICAL - h2 is stopped"),
        "{stopped}"
    );
    lab.exec("h2", &["pg_ctlcluster", &major, "main", "start"]);
    let leftovers = lab.exec(
        "h4",
        &[
            "sh",
            "-c",
            "ls -d /var/tmp/pgconverge-verify-backup.* 2>/dev/null || true",
        ],
    );
    assert_eq!(leftovers.trim(), "", "the scratch directory is removed");

    // h3 lost its data directory: with base_backup_method: pgbackrest it is
    // restored from the repository as a standby, and streams with every row.
    lab.exec(
        "h3",
        &["pg_ctlcluster", &major, "main", "stop", "-m", "fast"],
    );
    lab.exec("h3", &["sh", "-c", &format!("rm -rf {data}")]);
    let from_repository = std::fs::read_to_string(&inventory)
        .unwrap_or_default()
        .replace(
            "h3: { ansible_host: 10.77.0.13 }",
            "h3: { ansible_host: 10.77.0.13, base_backup_method: pgbackrest }",
        );
    let from_repository_path = directory.path().join("from-repository.yaml");
    std::fs::write(&from_repository_path, from_repository)
        .unwrap_or_else(|error| panic!("write: {error}"));
    let from_repository_path = from_repository_path.display().to_string();
    let recloned = lab.apply(&from_repository_path, &password, &[]);
    assert_eq!(recloned.code, Some(2), "{recloned}");
    assert!(
        recloned.stderr.contains(
            "changed h3/base_backup: cloned from the pgBackRest repository (stanza main)"
        ),
        "{recloned}"
    );
    lab.eventually(60, "h3 streams with every row", || {
        lab.try_sql("h3", "select count(*) from backup_check")
            .as_deref()
            == Ok("1000")
            && lab
                .try_sql("h3", "select status from pg_stat_wal_receiver")
                .as_deref()
                == Ok("streaming")
    });

    // A damaged file in the repository makes it fail, saying what is damaged.
    lab.exec(
        "h4",
        &[
            "sh",
            "-c",
            "f=$(find /var/lib/pgbackrest/backup/main -path '*F/pg_data/base/*' -type f -size +1k | head -n 1); printf 'damaged' | dd of=\"$f\" bs=1 seek=64 conv=notrunc 2>/dev/null; echo \"$f\"",
        ],
    );
    let damaged = support::pgconverge(
        &[
            "verify-backup",
            "-i",
            &inventory,
            "--ssh-config",
            &ssh_config,
        ],
        &password,
    );
    assert_eq!(damaged.code, Some(1), "{damaged}");
    assert!(
        damaged.stderr.contains("failed h4/verify-backup: ")
            && (damaged
                .stderr
                .contains("pgbackrest verify fails for stanza main")
                || damaged
                    .stderr
                    .contains("pgbackrest restore of stanza main failed")),
        "{damaged}"
    );
    for output in [
        converge.all(),
        settled.all(),
        backup.all(),
        verify.all(),
        check.all(),
        recloned.all(),
        damaged.all(),
    ] {
        assert!(!output.contains(&password), "the password leaked\n{output}");
    }
}

#[test]
fn without_a_repository_host_the_primary_keeps_a_shared_repository() {
    without_a_repository_host_the_primary_keeps_a_shared_repository_on(Release::BOOKWORM_15);
}

/// The same on PostgreSQL 18 (pgBackRest 2.60 of Debian testing).
#[test]
fn without_a_repository_host_the_primary_of_postgresql_18_keeps_a_shared_repository() {
    without_a_repository_host_the_primary_keeps_a_shared_repository_on(Release::FORKY_18);
}

fn without_a_repository_host_the_primary_keeps_a_shared_repository_on(release: Release) {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(3, release);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let example = std::fs::read_to_string(release.example_inventory(directory.path()))
        .unwrap_or_else(|error| panic!("example inventory: {error}"));
    let text = example.replace(
        "    replication_user: replicator\n",
        "    replication_user: replicator\n    wal_archive: { pgbackrest: { repo_path: /srv/wal_shared/pgbackrest } }\n",
    );
    assert_ne!(text, example);
    let path = directory.path().join("shared.yaml");
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("write: {error}"));
    let inventory = path.display().to_string();
    let password = format!("pw-pgbackrest-shared-{}", std::process::id());

    let converge = lab.apply(&inventory, &password, &[]);
    assert_eq!(converge.code, Some(2), "{converge}");
    assert!(
        converge
            .stderr
            .contains("changed h1/pgbackrest_stanza: created stanza main")
            && converge.stderr.contains("changed h1/pgbackrest_backup: ")
            && converge.stderr.contains("took a full backup"),
        "{converge}"
    );
    assert_eq!(
        lab.exec_sql("h1", "select failed_count from pg_stat_archiver"),
        "0"
    );
    // A standby reads a segment back from the shared repository.
    lab.exec_sql("h1", "select pg_switch_wal()");
    let segment = lab.exec_sql("h1", "select last_archived_wal from pg_stat_archiver");
    lab.exec(
        "h2",
        &[
            "runuser",
            "-u",
            "postgres",
            "--",
            "pgbackrest",
            "--stanza=main",
            "archive-get",
            &segment,
            "/tmp/archive-get-check",
        ],
    );
    // A differential backup, and the latest backup restored on the primary,
    // which keeps the repository, beside its running cluster: the rows are
    // there, the server untouched.
    lab.exec_sql(
        "h1",
        "create table backup_check (id int primary key); insert into backup_check select generate_series(1, 500)",
    );
    let backup = lab.run(&inventory, &password, &["backup", "--type", "diff"]);
    assert_eq!(backup.code, Some(0), "{backup}");
    assert!(
        backup.stderr.contains("changed h1/backup: diff backup "),
        "{backup}"
    );
    let started = lab.exec_sql("h1", "select pg_postmaster_start_time()");
    let verify = lab.run(
        &inventory,
        &password,
        &["verify-backup", "--table", "public.backup_check"],
    );
    assert_eq!(verify.code, Some(0), "{verify}");
    assert!(
        verify
            .stderr
            .contains("ok h1/verify-backup: restored backup ")
            && verify.stderr.contains("; public.backup_check has 500 rows"),
        "{verify}"
    );
    assert_eq!(
        lab.exec_sql("h1", "select pg_postmaster_start_time()"),
        started,
        "the primary was not touched"
    );
    let settled = lab.apply(&inventory, &password, &[]);
    assert_eq!(settled.code, Some(0), "{settled}");
}
