//! End to end on the lab: the PostgreSQL OS user, which any database superuser
//! reaches (`COPY ... TO PROGRAM`), plants links at every path pgconverge's root
//! scripts touch, each pointing at a file or directory only root may touch, then
//! an operator runs `apply` with steps that write through each of those paths (a
//! managed `ALTER SYSTEM` setting reset, a deleted `standby.signal`, a password
//! rotation, key trust on). Root must follow none of them: every root-owned
//! target keeps its owner, mode and content, nothing appears where only root may
//! write, no root-only content reaches any output, and the plan refuses the
//! links by name; once they are gone, the cluster converges.
//!
//! Links point only into each host's private `/root` (LAB-NOTES 18), never at a
//! file the hosts share with the machine.

use crate::support;

use support::{Lab, Release, lab_available};

const HOSTS: [&str; 3] = ["h1", "h2", "h3"];

/// What root alone owns on a host: `/root`'s entries, with the owner, mode and
/// digest of each bait file and of the bait directory's contents.
fn root_state(lab: &Lab, host: &str) -> String {
    lab.ssh(
        host,
        "cd / && ls -A /root | sort && stat -c '%n %U:%G %a' /root /root/bait* /root/bait-dir/* && sha256sum /root/bait-* /root/bait-dir/* 2>/dev/null | sort",
    )
}

/// Runs a shell command as the PostgreSQL OS user on a host (what a database
/// superuser can do with `COPY ... TO PROGRAM`).
fn as_postgres(lab: &Lab, host: &str, command: &str) -> String {
    let quoted = shlex::try_quote(command)
        .map(|quoted| quoted.into_owned())
        .unwrap_or_default();
    lab.ssh(
        host,
        &format!("cd / && runuser -u postgres -- sh -ec {quoted}"),
    )
}

/// Runs pgconverge with `args` against the lab's hosts, as `inventory` names them.
fn pgconverge_on(lab: &Lab, inventory: &str, password: &str, args: &[&str]) -> support::Run {
    let ssh_config = lab.ssh_config().display().to_string();
    let mut all = args.to_vec();
    all.extend([
        "-i",
        inventory,
        "--ssh-config",
        &ssh_config,
        "--connect-timeout",
        "3",
    ]);
    support::pgconverge(&all, password)
}

#[test]
fn root_follows_no_link_the_postgres_user_plants() {
    if !lab_available() {
        return;
    }
    let release = Release::BOOKWORM_15;
    let lab = Lab::up_on(3, release);
    let directory = tempfile::tempdir().expect("a temporary directory");
    let inventory = release.example_inventory(directory.path());
    // Key trust on: every member authorizes the others' keys.
    let text = std::fs::read_to_string(&inventory).expect("the inventory");
    std::fs::write(
        &inventory,
        text.replace("    pg_version:", "    pg_ssh_trust: true\n    pg_version:"),
    )
    .expect("the inventory is written");
    let password = support::unique_password("first");
    let converged = lab.apply(&inventory, &password, &[]);
    assert!(
        matches!(converged.code, Some(0 | 2)),
        "the cluster converges\n{converged}"
    );

    // Root's bait on every host: a 0700 directory with a secret, and 0600 files.
    for host in HOSTS {
        lab.ssh(
            host,
            "cd / && umask 077 && mkdir /root/bait-dir && echo ROOT-ONLY-DIRECTORY > /root/bait-dir/secret \
             && for name in keys auto pgpass conf hba known; do echo ROOT-ONLY-$name > /root/bait-$name; done",
        );
    }
    let before: Vec<String> = HOSTS.iter().map(|host| root_state(&lab, host)).collect();
    assert!(
        before
            .iter()
            .all(|state| state.contains("/root/bait-dir root:root 700")),
        "the bait is in place: {before:?}"
    );

    // The PostgreSQL OS user plants its links.
    let data = release.data_dir();
    let config = release.config_dir();
    for host in HOSTS {
        as_postgres(
            &lab,
            host,
            &format!(
                "cd ~ && mv wal_archive wal_archive.moved && ln -s /root/bait-dir wal_archive \
                 && ln -sfn /root/bait-keys .ssh/authorized_keys \
                 && ln -sfn /root/bait-known .ssh/known_hosts.pgconverge-backup \
                 && ln -sfn /root/bait-pgpass .pgpass.pgconverge-backup \
                 && ln -sfn /root/bait-auto {data}/postgresql.auto.conf.pgconverge-backup \
                 && ln -sfn /root/bait-conf {config}/postgresql.conf.pgconverge-backup \
                 && ln -sfn /root/bait-hba {config}/pg_hba.conf.pgconverge-backup"
            ),
        );
    }
    for standby in ["h2", "h3"] {
        // A deleted standby.signal, in its place a link to a file root would make.
        as_postgres(
            &lab,
            standby,
            &format!("rm {data}/standby.signal && ln -s /root/made-by-root {data}/standby.signal"),
        );
    }
    // A managed setting set with ALTER SYSTEM, which the next apply resets, and
    // a new setting, so every member's postgresql.conf is written again.
    lab.sql("h1", "alter system set archive_mode = off");
    let text = std::fs::read_to_string(&inventory).expect("the inventory");
    std::fs::write(
        &inventory,
        text.replace(
            "    pg_version:",
            "    pg_settings: { work_mem: 8MB }\n    pg_version:",
        ),
    )
    .expect("the inventory is written");

    // The operator's apply, with the replication password rotated.
    let rotated = support::unique_password("rotated");
    let apply = lab.apply(&inventory, &rotated, &[]);
    let after: Vec<String> = HOSTS.iter().map(|host| root_state(&lab, host)).collect();
    for (host, (before, after)) in HOSTS.iter().zip(before.iter().zip(&after)) {
        assert_eq!(
            before, after,
            "{host}: root's files kept owner, mode and content, and nothing new appeared in /root\n{apply}"
        );
    }
    assert!(
        !apply.all().contains("ROOT-ONLY"),
        "no root-only content reaches the output\n{apply}"
    );
    assert!(
        !apply.all().contains(&rotated),
        "the rotated password is never shown\n{apply}"
    );
    for refused in [
        "`/var/lib/postgresql/wal_archive` is a link to `/root/bait-dir`",
        "`/var/lib/postgresql/.ssh/authorized_keys` is a link to `/root/bait-keys`",
    ] {
        assert!(
            apply.stdout.contains(refused),
            "refused by name: {refused}\n{apply}"
        );
    }
    assert_ne!(apply.code, Some(0), "a refused plan is no success\n{apply}");
    for standby in ["h2", "h3"] {
        let signal = lab.ssh(
            standby,
            &format!("cd / && stat -c %F {data}/standby.signal"),
        );
        assert_eq!(
            signal, "symbolic link",
            "{standby}: the link is left, never followed"
        );
    }

    // The links removed, the cluster converges again, with the rotated password.
    for host in HOSTS {
        as_postgres(
            &lab,
            host,
            &format!(
                "cd ~ && rm wal_archive && mv wal_archive.moved wal_archive && rm .ssh/authorized_keys \
                 .ssh/known_hosts.pgconverge-backup .pgpass.pgconverge-backup \
                 {data}/postgresql.auto.conf.pgconverge-backup {config}/postgresql.conf.pgconverge-backup \
                 {config}/pg_hba.conf.pgconverge-backup"
            ),
        );
    }
    for standby in ["h2", "h3"] {
        as_postgres(&lab, standby, &format!("rm {data}/standby.signal"));
    }
    let repaired = lab.apply(&inventory, &rotated, &[]);
    assert!(
        matches!(repaired.code, Some(0 | 2)),
        "the cluster converges once the links are gone\n{repaired}"
    );
    let quiet = lab.apply(&inventory, &rotated, &["--dry-run"]);
    assert_eq!(quiet.code, Some(0), "nothing is left to do\n{quiet}");
    lab.eventually(30, "both standbys stream from h1", || {
        lab.sql(
            "h1",
            "select count(*) from pg_stat_replication where state = 'streaming'",
        ) == "2"
    });
    assert_eq!(
        lab.sql("h1", "select count(*) from pg_file_settings where name = 'archive_mode' and sourcefile like '%auto.conf'"),
        "0",
        "the ALTER SYSTEM setting of a managed name was reset"
    );
    let final_state: Vec<String> = HOSTS.iter().map(|host| root_state(&lab, host)).collect();
    assert_eq!(
        before, final_state,
        "root's files untouched after the repair\n{repaired}"
    );
    assert_eq!(lab.sql("h2", "show work_mem"), "8MB");

    switchovers_follow_no_link(&lab, &inventory, &rotated, &before);
    a_failover_and_rejoin_follow_no_link(&lab, &inventory, &rotated, &before);
}

/// The role changes' scripts (promotion, its markers, the rejoin of the old
/// primary, the apply that follows) with links planted at the names they touch:
/// a switchover to h2 and back to h1 succeed, and root's files stay as they were.
fn switchovers_follow_no_link(lab: &Lab, inventory: &str, password: &str, before: &[String]) {
    let data = Release::BOOKWORM_15.data_dir();
    let config = Release::BOOKWORM_15.config_dir();
    for host in HOSTS {
        as_postgres(
            lab,
            host,
            &format!(
                "ln -sfn /root/bait-auto {data}/pgconverge-promotion-unfinished \
                 && ln -sfn /root/bait-auto {data}/postgresql.auto.conf.pgconverge-backup \
                 && ln -sfn /root/bait-conf {config}/postgresql.conf.pgconverge-backup \
                 && ln -sfn /root/bait-hba {config}/pg_hba.conf.pgconverge-backup"
            ),
        );
    }
    // A rewind's reason, which the facts read: a link must not show root's file.
    as_postgres(
        lab,
        "h3",
        &format!("ln -sfn /root/bait-known {data}/pgconverge-rewind-failed"),
    );
    // Not `promote.trigger`: PostgreSQL 15 itself stops when it cannot stat its
    // promote_trigger_file (a link into /root), which the PostgreSQL OS user
    // could do to its own server anyway; pgconverge writes that file only
    // before 9.1, as that user.
    let mut outputs = Vec::new();
    for (target, old_primary) in [("h2", "h1"), ("h1", "h2")] {
        let started = lab.sql(target, "select pg_postmaster_start_time()");
        let run = pgconverge_on(lab, inventory, password, &["switchover", target]);
        outputs.push(run.all());
        assert_eq!(
            run.code,
            Some(0),
            "the switchover to {target} succeeds with the links in place\n{run}"
        );
        assert_eq!(lab.sql(target, "select pg_is_in_recovery()"), "f");
        assert_eq!(
            lab.sql(target, "select pg_postmaster_start_time()"),
            started,
            "the switchover and its apply promote {target} without restarting it\n{run}"
        );
        lab.eventually(60, &format!("{old_primary} streams from {target}"), || {
            lab.sql(old_primary, "select pg_is_in_recovery()") == "t"
        });
        let after: Vec<String> = HOSTS.iter().map(|host| root_state(lab, host)).collect();
        assert_eq!(
            before,
            after.as_slice(),
            "root's files kept owner, mode and content through the switchover to {target}\n{run}"
        );
    }
    for output in &outputs {
        assert!(
            !output.contains("ROOT-ONLY"),
            "no root-only content reaches the output\n{output}"
        );
    }
}

/// The primary dies, h2 is promoted, and h1 comes back and is rejoined with
/// pg_rewind (`apply --rejoin h1`), with links planted at the names the
/// promotion, the rewind and the apply touch: root's files stay as they were.
fn a_failover_and_rejoin_follow_no_link(
    lab: &Lab,
    inventory: &str,
    password: &str,
    before: &[String],
) {
    let data = Release::BOOKWORM_15.data_dir();
    let config = Release::BOOKWORM_15.config_dir();
    // No link stays in a data directory that pg_rewind reads from: the source
    // server stats every file there, and one leading into /root stops it (the
    // PostgreSQL OS user can stop its own cluster anyway). Links go only where a
    // root script of the failover or the rejoin acts: the configuration files'
    // backups, the candidate's promotion marker (removed before promoting), and
    // h1's rewind marker below (removed before pg_rewind runs).
    for host in HOSTS {
        as_postgres(
            lab,
            host,
            &format!(
                "rm -f {data}/postgresql.auto.conf.pgconverge-backup {data}/pgconverge-promotion-unfinished \\
                 && ln -sfn /root/bait-conf {config}/postgresql.conf.pgconverge-backup \\
                 && ln -sfn /root/bait-hba {config}/pg_hba.conf.pgconverge-backup"
            ),
        );
    }
    as_postgres(
        lab,
        "h2",
        &format!("ln -sfn /root/bait-auto {data}/pgconverge-promotion-unfinished"),
    );
    let run = |args: &[&str]| pgconverge_on(lab, inventory, password, args);
    let started = lab.sql("h2", "select pg_postmaster_start_time()");
    lab.command(&["kill", "h1"]);
    let promote = run(&["promote", "h2", "--write-inventory"]);
    assert_eq!(promote.code, Some(0), "h2 is promoted\n{promote}");
    lab.command(&["start", "h1"]);
    // What rewind.sh removes before it runs: a link there is removed, never followed.
    as_postgres(
        lab,
        "h1",
        &format!("ln -sfn /root/bait-known {data}/pgconverge-rewind-failed"),
    );
    let rejoin = run(&["apply", "--rejoin", "h1"]);
    assert_eq!(rejoin.code, Some(0), "h1 is rewound and rejoined\n{rejoin}");
    lab.eventually(60, "h1 streams from h2", || {
        lab.sql("h1", "select pg_is_in_recovery()") == "t"
            && lab.sql(
                "h2",
                "select count(*) from pg_stat_replication where state = 'streaming'",
            ) == "2"
    });
    assert_eq!(
        lab.sql("h2", "select pg_postmaster_start_time()"),
        started,
        "neither the promotion nor the apply after it restarted h2\n{rejoin}"
    );
    let after: Vec<String> = HOSTS.iter().map(|host| root_state(lab, host)).collect();
    assert_eq!(
        before,
        after.as_slice(),
        "root's files kept owner, mode and content through the failover and rejoin\n{promote}\n{rejoin}"
    );
    for output in [promote.all(), rejoin.all()] {
        assert!(
            !output.contains("ROOT-ONLY"),
            "no root-only content reaches the output\n{output}"
        );
    }

    // The rejoined standby's postmaster is killed (a crash): the next apply
    // converges it. It used to plan a rewind whose crash recovery ran in
    // single-user mode, which refuses standby.signal, on every apply for good.
    lab.exec(
        "h1",
        &[
            "sh",
            "-c",
            &format!("kill -9 \"$(head -n 1 {data}/postmaster.pid)\""),
        ],
    );
    lab.eventually(30, "h1's server is down", || {
        lab.try_sql("h1", "select 1").is_err()
    });
    let recovered = run(&["apply"]);
    assert!(
        matches!(recovered.code, Some(0 | 2)),
        "a crashed standby is brought back by the next apply\n{recovered}"
    );
    lab.eventually(60, "h1 streams from h2 again", || {
        lab.sql(
            "h2",
            "select count(*) from pg_stat_replication where state = 'streaming'",
        ) == "2"
    });
    let quiet = run(&["apply", "--dry-run", "--detailed-exitcode"]);
    assert_eq!(quiet.code, Some(0), "nothing is left to do\n{quiet}");
}
