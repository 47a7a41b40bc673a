//! End to end on a 4-host lab with pgBackRest: h4 keeps the repository
//! (`wal_archive: { pgbackrest: { repo_host: h4 } }`). apply sets up the SSH trust
//! both ways, pgbackrest.conf on every host, the stanza, checks it and takes a
//! first full backup; WAL is archived through archive-push; a second apply changes
//! nothing.

mod support;

use support::{Lab, lab_available, repository};

fn inventory(directory: &std::path::Path) -> String {
    let example = std::fs::read_to_string(repository().join("inventory.example.yaml"))
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
        &["runuser", "-u", "postgres", "--", "pgbackrest", "--stanza=main", "info"],
    )
}

#[test]
fn a_cluster_archives_and_backs_up_through_pgbackrest() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(4);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let inventory = inventory(directory.path());
    let password = format!("pw-pgbackrest-{}", std::process::id());

    let converge = lab.apply(&inventory, &password, &[]);
    assert_eq!(converge.code, Some(2), "{converge}");
    assert!(
        converge.stderr.contains("changed h4/pgbackrest_stanza: created stanza main")
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
    let settled = lab.apply(&inventory, &password, &[]);
    assert_eq!(settled.code, Some(0), "{settled}");
    assert!(
        settled.stdout.contains("unchanged:") && !settled.stdout.contains("took a full backup"),
        "{settled}"
    );
    for output in [converge.all(), settled.all()] {
        assert!(!output.contains(&password), "the password leaked\n{output}");
    }
}
