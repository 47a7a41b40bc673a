//! End to end on the lab: what goes wrong is contained and reported. A setting
//! PostgreSQL rejects leaves the file as it was; an unreachable host is named, the
//! other hosts finish, and the next run continues from where this one stopped.

use crate::support;

use support::{Lab, Run, lab_available, pgconverge, repository};

fn apply(lab: &Lab, inventory: &std::path::Path, password: &str, extra: &[&str]) -> Run {
    let ssh_config = lab.ssh_config();
    let mut args = vec![
        "apply",
        "-i",
        inventory.to_str().unwrap_or_default(),
        "--ssh-config",
        ssh_config.to_str().unwrap_or_default(),
        "--connect-timeout",
        "5",
        "--detailed-exitcode",
    ];
    args.extend_from_slice(extra);
    pgconverge(&args, password)
}

/// The example inventory with one line replaced, written to a temporary file.
fn inventory_with(
    directory: &std::path::Path,
    name: &str,
    from: &str,
    to: &str,
) -> std::path::PathBuf {
    let example = std::fs::read_to_string(repository().join("inventory.example.yaml"))
        .unwrap_or_else(|error| panic!("example inventory: {error}"));
    assert!(
        example.contains(from),
        "the example inventory no longer contains `{from}`"
    );
    let path = directory.join(name);
    std::fs::write(&path, example.replace(from, to))
        .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
    path
}

#[test]
fn failures_are_contained_reported_and_resumed() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    let password = format!("pw-failures-{}", std::process::id());
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let example = repository().join("inventory.example.yaml");
    let converge = apply(&lab, &example, &password, &[]);
    assert_eq!(converge.code, Some(2), "{converge}");

    // A value only the server can judge (validate checks names, units, ranges
    // and enums offline, not the time zone database): the step fails with
    // PostgreSQL's error and the line,
    // the file is as it was, and the server keeps running with its configuration.
    let conf = "/etc/postgresql/15/main/postgresql.conf";
    let before = lab.ssh(
        "h2",
        &format!("sha256sum {conf}; ls -a /etc/postgresql/15/main"),
    );
    let bad = inventory_with(
        directory.path(),
        "bad.yaml",
        "h2: { ansible_host: 10.77.0.12 }",
        "h2: { ansible_host: 10.77.0.12, pg_settings: { timezone: Mars/Olympus } }",
    );
    let rejected = apply(&lab, &bad, &password, &[]);
    assert_eq!(rejected.code, Some(1), "{rejected}");
    assert!(
        rejected.stdout.contains(&format!(
            "invalid value for parameter \"TimeZone\": \"Mars/Olympus\" ({conf} line"
        )),
        "PostgreSQL's error with the file and line\n{rejected}"
    );
    assert!(
        rejected
            .stdout
            .contains("not run on h2: altered_settings, pg_service, stale_slots, verify_streaming"),
        "{rejected}"
    );
    assert_eq!(
        lab.ssh(
            "h2",
            &format!("sha256sum {conf}; ls -a /etc/postgresql/15/main")
        ),
        before,
        "the rejected file was not put back exactly"
    );
    assert_eq!(
        lab.sql("h2", "select status from pg_stat_wal_receiver"),
        "streaming"
    );

    // An unreachable host: named, its steps not run, the other hosts converge.
    let work_mem = inventory_with(
        directory.path(),
        "work_mem.yaml",
        "    replication_user: replicator\n",
        "    replication_user: replicator\n    pg_settings: { work_mem: 8MB }\n",
    );
    lab.command(&["kill", "h3"]);
    let partial = apply(&lab, &work_mem, &password, &[]);
    assert_eq!(partial.code, Some(1), "{partial}");
    assert!(
        partial.stdout.contains(
            "h3 (10.77.0.13, standby of h1)\n  unreachable: cannot connect to h3 (10.77.0.13)"
        ),
        "{partial}"
    );
    assert!(partial.stdout.contains("not run on h3:"), "{partial}");
    assert_eq!(
        lab.sql("h1", "show work_mem"),
        "8MB",
        "the reachable primary converged"
    );
    assert_eq!(
        lab.sql("h2", "show work_mem"),
        "8MB",
        "the reachable standby converged"
    );

    // Once h3 is back, the same command finishes the job, and only on h3.
    lab.command(&["start", "h3"]);
    let resumed = apply(&lab, &work_mem, &password, &[]);
    assert_eq!(resumed.code, Some(2), "{resumed}");
    assert!(
        resumed.stderr.contains("changed h3/postgresql_conf")
            && !resumed.stderr.contains("changed h1/"),
        "{resumed}"
    );
    assert_eq!(lab.sql("h3", "show work_mem"), "8MB");
    let settled = apply(&lab, &work_mem, &password, &[]);
    assert_eq!(settled.code, Some(0), "{settled}");

    for run in [&converge, &rejected, &partial, &resumed, &settled] {
        assert!(
            !run.all().contains(&password),
            "the password leaked:\n{run}"
        );
    }
}
