//! End to end on a fresh 3-host lab (h1 primary, h2 and h3 standbys), with the
//! real pgconverge binary, real OpenSSH and real PostgreSQL: the scenario
//! docs/testing.md describes, from a dry run that changes nothing to a repaired
//! hand edit, on PostgreSQL 15 (Debian 12), 17 (Debian 13) and 18 (Debian testing).

use crate::support;

use support::{Lab, Release, Run, lab_available};

/// What a dry run must leave as it was: each host's configuration and data directory identity.
fn fingerprint(lab: &Lab, host: &str) -> String {
    let release = lab.release;
    lab.ssh(
        host,
        &format!(
            "cd / && sha256sum {config}/*.conf; ls -a {config} /var/lib/postgresql; \
             LC_ALL=C {bin}/pg_controldata -D {data} | grep 'system identifier'",
            config = release.config_dir(),
            bin = release.bin_dir(),
            data = release.data_dir(),
        ),
    )
}

fn postmaster_start_times(lab: &Lab) -> Vec<String> {
    ["h1", "h2", "h3"]
        .iter()
        .map(|host| lab.sql(host, "select pg_postmaster_start_time()"))
        .collect()
}

/// Runs pgconverge with an `ssh` first in PATH that logs each time it is run,
/// then is the system's ssh; returns the run and how many ssh processes it started.
fn counting_ssh(
    lab: &Lab,
    inventory: &str,
    password: &str,
    args: &[&str],
    control: &std::path::Path,
) -> (Run, usize) {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let log = directory.path().join("ssh.log");
    let wrapper = directory.path().join("ssh");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec /usr/bin/ssh \"$@\"\n",
            log.display()
        ),
    )
    .expect("the wrapper is written");
    std::fs::set_permissions(
        &wrapper,
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("the wrapper is executable");
    let path = format!(
        "{}:{}",
        directory.path().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut dry_run = vec!["--dry-run"];
    dry_run.extend_from_slice(args);
    let all = lab.apply_arguments(inventory, &dry_run);
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let run = support::pgconverge_with(
        &all,
        password,
        &[
            ("PATH", path.as_str()),
            (
                "PGCONVERGE_CONTROL_DIR",
                control.to_str().unwrap_or_default(),
            ),
        ],
    );
    let started = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .lines()
        .count();
    (run, started)
}

fn connections_are_one_ssh_process_per_host_and_persist(
    lab: &Lab,
    inventory: &str,
    password: &str,
) {
    let control = tempfile::tempdir().expect("a temporary directory");
    let control_directory = control.path().join("sockets");
    let (cold, started) = counting_ssh(lab, inventory, password, &[], &control_directory);
    assert_eq!(cold.code, Some(0), "{cold}");
    assert_eq!(
        started, 3,
        "one ssh process per host, none per script or to close\n{cold}"
    );
    assert!(
        !control_directory.exists(),
        "without --persist nothing is kept\n{cold}"
    );

    let (first, started) =
        counting_ssh(lab, inventory, password, &["--persist"], &control_directory);
    assert_eq!((first.code, started), (Some(0), 3), "{first}");
    let mode = std::fs::metadata(&control_directory)
        .map(|metadata| std::os::unix::fs::PermissionsExt::mode(&metadata.permissions()) & 0o777);
    assert_eq!(mode.ok(), Some(0o700), "the sockets' directory is private");
    let (warm, started) =
        counting_ssh(lab, inventory, password, &["--persist"], &control_directory);
    assert_eq!(warm.code, Some(0), "{warm}");
    assert_eq!(
        started, 0,
        "a run after a persisted one starts no ssh\n{warm}"
    );
    assert!(
        warm.stderr.contains("3 persisted connections reused"),
        "{warm}"
    );

    let disconnected = disconnect(password, &control_directory);
    assert_eq!(disconnected.code, Some(0), "{disconnected}");
    assert!(
        disconnected
            .stderr
            .contains("Closed 3 persisted connection(s)"),
        "{disconnected}"
    );
    let (after, started) =
        counting_ssh(lab, inventory, password, &["--persist"], &control_directory);
    assert_eq!(
        (after.code, started),
        (Some(0), 3),
        "disconnected masters are gone: the next run connects again\n{after}"
    );
    let closed = disconnect(password, &control_directory);
    assert_eq!(closed.code, Some(0), "{closed}");
}

fn disconnect(password: &str, control_directory: &std::path::Path) -> Run {
    support::pgconverge_with(
        &["disconnect"],
        password,
        &[(
            "PGCONVERGE_CONTROL_DIR",
            control_directory.to_str().unwrap_or_default(),
        )],
    )
}

#[test]
fn converges_a_fresh_cluster_and_then_changes_nothing() {
    converges_and_then_changes_nothing_on(Release::BOOKWORM_15);
}

#[test]
fn converges_a_fresh_cluster_of_postgresql_17_and_then_changes_nothing() {
    converges_and_then_changes_nothing_on(Release::TRIXIE_17);
}

#[test]
fn converges_a_fresh_cluster_of_postgresql_18_and_then_changes_nothing() {
    converges_and_then_changes_nothing_on(Release::FORKY_18);
}

fn converges_and_then_changes_nothing_on(release: Release) {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(3, release);
    let directory = tempfile::tempdir().expect("a temporary directory");
    let inventory = release.example_inventory(directory.path());
    let apply = |lab: &Lab, password: &str, extra: &[&str]| lab.apply(&inventory, password, extra);
    // A password unique to this run, so that finding it in any output is a real leak.
    let password = format!(
        "pw-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    );
    let mut outputs: Vec<String> = Vec::new();

    // 1. The dry run contacts every host, shows the changes and changes nothing.
    let before: Vec<String> = ["h1", "h2", "h3"]
        .iter()
        .map(|host| fingerprint(&lab, host))
        .collect();
    let dry_run = apply(&lab, &password, &["--dry-run"]);
    outputs.push(dry_run.all());
    assert_eq!(
        dry_run.code,
        Some(2),
        "a dry run with pending changes exits 2\n{dry_run}"
    );
    assert!(
        dry_run
            .stdout
            .contains("~ archive_mode  off → on  (restart)"),
        "the plan shows the settings that change\n{dry_run}"
    );
    assert!(
        dry_run.stdout.contains("base_backup"),
        "the standbys are to be cloned\n{dry_run}"
    );
    assert!(
        dry_run.stderr.contains("Gathered facts from 3 of 3 hosts")
            && dry_run.stderr.contains("(3 SSH round trips)"),
        "one round trip per host\n{dry_run}"
    );
    let after: Vec<String> = ["h1", "h2", "h3"]
        .iter()
        .map(|host| fingerprint(&lab, host))
        .collect();
    assert_eq!(before, after, "the dry run changed a host");

    // 2. Apply converges.
    let first = apply(&lab, &password, &[]);
    outputs.push(first.all());
    assert_eq!(
        first.code,
        Some(2),
        "an apply that made changes exits 2\n{first}"
    );
    assert!(first.stdout.contains("Apply complete"), "{first}");
    for standby in ["h2", "h3"] {
        assert!(
            first.stderr.lines().any(|line| line
                .starts_with(&format!("{standby}/base_backup: copied "))
                && line.contains("iB (")),
            "a base backup tells its progress in plain lines when stderr is no terminal\n{first}"
        );
    }
    assert!(
        !first.stderr.contains("pgconverge-progress"),
        "progress markers are read, never shown\n{first}"
    );

    // 3. A row written on the primary is read on both standbys, every server of
    // the release's major.
    for host in ["h1", "h2", "h3"] {
        assert_eq!(
            lab.sql(
                host,
                "select current_setting('server_version_num')::int / 10000"
            ),
            release.postgres.to_string(),
            "{host} runs PostgreSQL {}",
            release.postgres
        );
    }
    lab.sql("h1", "create table converge_check (id int primary key, note text); insert into converge_check values (1, 'written on h1')");
    for standby in ["h2", "h3"] {
        lab.eventually(30, &format!("the row reaches {standby}"), || {
            let output = lab.ssh_output(standby, "cd / && runuser -u postgres -- psql -XAtq -d postgres -c 'select note from converge_check where id = 1'");
            String::from_utf8_lossy(&output.stdout).trim() == "written on h1"
        });
        assert_eq!(lab.sql(standby, "select pg_is_in_recovery()"), "t");
    }

    // 4. A second apply changes nothing and restarts nothing.
    let started = postmaster_start_times(&lab);
    let second = apply(&lab, &password, &[]);
    outputs.push(second.all());
    assert_eq!(
        second.code,
        Some(0),
        "a converged cluster needs no change\n{second}"
    );
    assert!(second.stdout.contains("No changes"), "{second}");
    assert!(
        second.stderr.contains("SSH round trips: h1 2, h2 2, h3 2."),
        "a no-op apply is two round trips per host: its run lock and its facts\n{second}"
    );
    assert_eq!(
        postmaster_start_times(&lab),
        started,
        "the second apply restarted a server"
    );

    // 4b. A no-op costs one ssh process per host (its master), and with --persist
    // a second run reuses those masters: no ssh process at all.
    connections_are_one_ssh_process_per_host_and_persist(&lab, &inventory, &password);

    // 5. A hand edit on a standby is shown by the dry run and repaired by apply.
    let config = release.config_dir();
    lab.ssh(
        "h2",
        &format!("echo \"work_mem = '64MB'\" >> {config}/postgresql.conf"),
    );
    let drift = apply(&lab, &password, &["--dry-run"]);
    outputs.push(drift.all());
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(
        drift.stdout.contains("-work_mem = '64MB'"),
        "the diff shows the hand edit being removed\n{drift}"
    );
    let repair = apply(&lab, &password, &["--forks", "1"]);
    outputs.push(repair.all());
    assert_eq!(repair.code, Some(2), "{repair}");
    assert!(
        !lab.ssh("h2", &format!("cat {config}/postgresql.conf"))
            .contains("64MB"),
        "the hand edit is gone"
    );
    assert_eq!(
        lab.sql("h2", "show work_mem"),
        "8MB",
        "the repaired file is loaded, with the host's own tuning"
    );
    let settled = apply(&lab, &password, &[]);
    outputs.push(settled.all());
    assert_eq!(settled.code, Some(0), "{settled}");

    // 6. From PostgreSQL 16 a standby asks for SCRAM and nothing less: an
    // upstream that asks for a cleartext password is refused, not answered.
    if release.postgres >= 16 {
        a_standby_refuses_an_upstream_that_asks_for_a_cleartext_password(&lab, release);
    }

    // 7. The password never appears in any output.
    for output in &outputs {
        assert!(
            !output.contains(&password),
            "the password leaked into the output:\n{output}"
        );
    }
}

/// h1 gets a first `pg_hba.conf` rule that asks h2 for its replication password
/// in clear text, and h2's connection is broken: libpq on h2 must refuse to send
/// the password (`require_auth=scram-sha-256` in its `primary_conninfo`). Once
/// the rule is gone, h2 streams again.
fn a_standby_refuses_an_upstream_that_asks_for_a_cleartext_password(lab: &Lab, release: Release) {
    let config = release.config_dir();
    let log = format!(
        "/var/log/postgresql/postgresql-{}-main.log",
        release.postgres
    );
    lab.ssh(
        "h1",
        &format!(
            "cd / && cp -p {config}/pg_hba.conf /root/pg_hba.conf.kept \
             && {{ echo 'host replication replicator 10.77.0.12/32 password'; cat /root/pg_hba.conf.kept; }} > {config}/pg_hba.conf \
             && runuser -u postgres -- psql -XAtq -c 'select pg_reload_conf()' \
             && runuser -u postgres -- psql -XAtq -c \"select pg_terminate_backend(pid) from pg_stat_replication where client_addr = '10.77.0.12'\""
        ),
    );
    lab.eventually(30, "h2 refuses the cleartext password", || {
        lab.ssh("h2", &format!("cd / && cat {log}"))
            .contains("server requested a cleartext password")
    });
    assert_eq!(
        lab.sql(
            "h1",
            "select count(*) from pg_stat_replication where client_addr = '10.77.0.12'"
        ),
        "0",
        "h2 does not stream while its upstream asks for a cleartext password"
    );
    lab.ssh(
        "h1",
        &format!(
            "cd / && cp -p /root/pg_hba.conf.kept {config}/pg_hba.conf \
             && runuser -u postgres -- psql -XAtq -c 'select pg_reload_conf()'"
        ),
    );
    lab.eventually(60, "h2 streams again once the rule is gone", || {
        lab.sql(
            "h1",
            "select count(*) from pg_stat_replication where client_addr = '10.77.0.12' and state = 'streaming'",
        ) == "1"
    });
}
