//! End to end on a lab of Debian 13 hosts with PostgreSQL 15 and 17 side by side:
//! `pgconverge upgrade` refuses what `pg_upgrade --check` refuses without
//! restarting anything, changes nothing in a dry run, puts every member back on
//! 15 when pg_upgrade fails after the gates passed, or a step fails after
//! pg_upgrade linked the files and a standby was rsynced, and upgrades the cluster to
//! 17 with every row on every member, h2 rsynced from the primary over the
//! members' SSH trust and h3 cloned again; `--cleanup` then removes the old
//! clusters. Links the PostgreSQL OS user plants where the upgrade's root
//! scripts act (any database superuser can become that user) are refused or
//! left unfollowed: root's own files they lead to keep owner, mode and content.
//! On Debian testing hosts: a cluster of 15 upgraded to 18 (its md5 role and
//! rule named by `check` and by a gate that warns), and one of 17 whose columns
//! carry attribute versions refused before anything stops.

use crate::support;

use std::path::Path;
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

    /// Each member's `pg_postmaster_start_time()`.
    fn start_times(&self) -> Vec<String> {
        HOSTS
            .iter()
            .map(|host| self.lab.sql(host, "select pg_postmaster_start_time()"))
            .collect()
    }

    /// What a change would show: the clusters and configuration directories,
    /// every configuration file's checksum, the top of each data directory, and
    /// leftovers of a scratch check.
    fn fingerprint(&self) -> Vec<String> {
        HOSTS
            .iter()
            .map(|host| {
                self.lab.ssh(
                    host,
                    "ls /var/lib/postgresql /etc/postgresql; find /etc/postgresql -type f -exec sha256sum {} + | sort; ls -A /var/lib/postgresql/15/main; ls -d /var/tmp/pgconverge-upgrade* 2>/dev/null; true",
                )
            })
            .collect()
    }

    fn versions(&self) -> Vec<String> {
        HOSTS
            .iter()
            .map(|host| self.lab.sql(host, "show server_version_num"))
            .collect()
    }

    fn wait_for_rows(&self, rows: &str) {
        self.lab
            .eventually(60, &format!("{rows} rows on every member"), || {
                HOSTS.iter().all(|host| {
                    self.lab
                        .try_sql(host, "select count(*) from upgrade_rows")
                        .is_ok_and(|count| count == rows)
                })
            });
    }

    fn streaming_standbys(&self) -> String {
        self.lab.sql(
            "h1",
            "select count(*) from pg_stat_replication where state = 'streaming'",
        )
    }
}

/// Root's own files on every host, private to it (in /root and /srv), that the
/// links below lead to.
const SECRETS: &str = "install -d -m 0700 /root/secret-dir && echo root-secret >/root/secret-dir/file && chmod 0600 /root/secret-dir/file && echo root-secret-file >/root/secret-file && chmod 0600 /root/secret-file && install -d -m 0755 /srv/secret-parent /srv/secret-parent/main && echo srv-secret >/srv/secret-parent/main/file && chmod 0644 /srv/secret-parent/main/file";

/// Owner, mode, size and checksum of each of root's files the links lead to.
fn secrets(lab: &Lab) -> Vec<String> {
    HOSTS
        .iter()
        .map(|host| {
            lab.ssh(
                host,
                "find /root/secret-dir /root/secret-file /srv/secret-parent -exec stat -c '%n %U:%G %a %s' {} + | sort; sha256sum /root/secret-dir/file /root/secret-file /srv/secret-parent/main/file",
            )
        })
        .collect()
}

/// Runs a command as the PostgreSQL OS user on a lab host, as a database
/// superuser can (COPY ... TO PROGRAM).
fn as_postgres(lab: &Lab, host: &str, command: &str) {
    assert!(!command.contains('\''), "{command}");
    lab.ssh(
        host,
        &format!("cd / && su postgres -s /bin/sh -c '{command}'"),
    );
}

/// The example inventory of `release`, with the SSH trust that rsync needs between h1 and h2.
fn inventory(directory: &Path, release: Release) -> String {
    let path = release.example_inventory(directory);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("read the example inventory: {error}"))
        .replace(
            "h1: { ansible_host: 10.77.0.11 }",
            "h1: { ansible_host: 10.77.0.11, pg_ssh_trust: true }",
        )
        .replace(
            "h2: { ansible_host: 10.77.0.12 }",
            "h2: { ansible_host: 10.77.0.12, pg_ssh_trust: true }",
        );
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("write: {error}"));
    path
}

#[test]
fn an_upgrade_to_17_keeps_every_row_and_goes_back_when_it_fails() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(3, Release::TRIXIE_15);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let cluster = Cluster {
        lab: &lab,
        inventory: inventory(directory.path(), Release::TRIXIE_15),
        password: format!("pw-upgrade-{}", std::process::id()),
    };
    let converge = cluster.run(&["apply"]);
    assert_eq!(converge.code, Some(0), "{converge}");
    lab.sql(
        "h1",
        "create table upgrade_rows (id int primary key, note text); insert into upgrade_rows select n, 'before' from generate_series(1, 100) n",
    );
    cluster.wait_for_rows("100");
    lab.eventually(60, "two standbys streaming", || {
        cluster.streaming_standbys() == "2"
    });

    // A column type pg_upgrade refuses from 15 to 17: the gate names the check,
    // and no server restarted.
    lab.sql("h1", "create table refused (a aclitem)");
    let started = cluster.start_times();
    let refused = cluster.run(&["upgrade", "--to", "17"]);
    assert_eq!(refused.code, Some(1), "{refused}");
    let all = refused.all();
    assert!(
        all.contains("CLOSED  pg_upgrade --check")
            && all.contains("Checking for incompatible \"aclitem\" data type: Your installation contains the \"aclitem\" data type in user tables")
            && all.contains("Your installation contains the \"aclitem\" data type in user tables"),
        "{refused}"
    );
    assert!(all.contains("nothing was changed"), "{refused}");
    assert_eq!(cluster.start_times(), started, "no server restarted");
    lab.sql("h1", "drop table refused");

    // A dry run changes nothing, and runs every gate.
    let before = cluster.fingerprint();
    let dry = cluster.run(&["upgrade", "--to", "17", "--dry-run"]);
    assert_eq!(dry.code, Some(0), "{dry}");
    assert!(
        dry.stdout
            .contains("ok  pg_upgrade --check: clusters are compatible"),
        "{dry}"
    );
    assert!(
        dry.stdout
            .contains("h2 gets the upgraded cluster by rsync from h1")
            && dry
                .stdout
                .contains("h3 gets its new data directory by a base backup of h1"),
        "{dry}"
    );
    assert_eq!(cluster.fingerprint(), before, "{dry}");
    assert_eq!(cluster.start_times(), started, "{dry}");

    // pg_upgrade fails after the gates passed: a view on a column PostgreSQL 17
    // moved out of pg_stat_bgwriter dumps, but does not restore in 17. Every
    // member is put back on 15, running, with its rows, the standbys streaming.
    lab.sql(
        "h1",
        "create view checkpoints as select buffers_checkpoint from pg_stat_bgwriter",
    );
    let failed = cluster.run(&["upgrade", "--to", "17"]);
    assert_eq!(failed.code, Some(1), "{failed}");
    assert!(
        failed.all().contains("pg_upgrade failed")
            && failed.all().contains("buffers_checkpoint")
            && failed
                .all()
                .contains("nothing was upgraded: every member runs PostgreSQL 15 again"),
        "{failed}"
    );
    for (host, version) in HOSTS.iter().zip(cluster.versions()) {
        assert!(version.starts_with("15"), "{host} runs {version}: {failed}");
    }
    cluster.wait_for_rows("100");
    lab.eventually(60, "two standbys streaming after the rollback", || {
        cluster.streaming_standbys() == "2"
    });
    for host in HOSTS {
        lab.ssh(host, "test ! -e /var/lib/postgresql/17/main && test ! -e /etc/postgresql/17/main && test ! -e /var/lib/postgresql/15/main/global/pg_control.old");
    }
    lab.sql("h1", "drop view checkpoints");

    // A failure after pg_upgrade linked h1's files into the new cluster and h2
    // was rsynced from it: h3's new configuration directory cannot be made (a
    // file stands where it goes). Every member is put back on 15 all the same,
    // h1 from its `pg_control.old`, h2 from its restore point.
    lab.ssh("h3", "touch /etc/postgresql/17");
    let late = cluster.run(&["upgrade", "--to", "17"]);
    assert_eq!(late.code, Some(1), "{late}");
    let all = late.all();
    assert!(
        all.contains("h1: pg_upgrade: upgraded with pg_upgrade --link")
            && all.contains("h2: rsync: kept /var/lib/postgresql/15/main as the restore point")
            && all.contains("cannot create directory '/etc/postgresql/17'")
            && all.contains("nothing was upgraded: every member runs PostgreSQL 15 again"),
        "{late}"
    );
    for (host, version) in HOSTS.iter().zip(cluster.versions()) {
        assert!(version.starts_with("15"), "{host} runs {version}: {late}");
    }
    cluster.wait_for_rows("100");
    lab.eventually(60, "two standbys streaming after the late rollback", || {
        cluster.streaming_standbys() == "2"
    });
    lab.ssh(
        "h1",
        "test -f /var/lib/postgresql/15/main/global/pg_control && test ! -e /var/lib/postgresql/15/main/global/pg_control.old",
    );
    lab.ssh(
        "h2",
        "test -f /var/lib/postgresql/15/main/standby.signal && test ! -e /var/lib/postgresql/15/main.pgconverge-before-upgrade",
    );
    lab.ssh("h3", "rm /etc/postgresql/17");

    // A link the PostgreSQL OS user plants on the way to the new configuration
    // directory, to root's own directory: the init command, which runs as root,
    // would make the cluster through it. It is refused, naming it, and every
    // member is put back on 15; what it leads to is untouched.
    for host in HOSTS {
        lab.ssh(host, SECRETS);
    }
    let secrets_before = secrets(&lab);
    as_postgres(
        &lab,
        "h1",
        "rmdir /etc/postgresql/17 2>/dev/null; ln -sT /root/secret-dir /etc/postgresql/17",
    );
    let planted = cluster.run(&["upgrade", "--to", "17"]);
    assert_eq!(planted.code, Some(1), "{planted}");
    let all = planted.all();
    assert!(
        all.contains("/etc/postgresql/17 is a link (to /root/secret-dir) in a directory another user can write: refusing to make the new cluster through it")
            && all.contains("nothing was upgraded: every member runs PostgreSQL 15 again"),
        "{planted}"
    );
    for (host, version) in HOSTS.iter().zip(cluster.versions()) {
        assert!(
            version.starts_with("15"),
            "{host} runs {version}: {planted}"
        );
    }
    assert_eq!(secrets(&lab), secrets_before, "{planted}");
    as_postgres(&lab, "h1", "rm /etc/postgresql/17");
    cluster.wait_for_rows("100");
    lab.eventually(60, "two standbys streaming after the refused link", || {
        cluster.streaming_standbys() == "2"
    });

    // Links that let the upgrade go on, where a root that followed them would
    // overwrite root's file (the kept start.conf) or carry it over into the new
    // configuration, readable by the PostgreSQL OS user (a conf.d file).
    for host in HOSTS {
        as_postgres(
            &lab,
            host,
            "ln -s /root/secret-file /etc/postgresql/15/main/start.conf.pgconverge-upgrade && mkdir -p /etc/postgresql/15/main/conf.d && ln -s /root/secret-file /etc/postgresql/15/main/conf.d/secret.txt",
        );
    }

    // The upgrade.
    let upgraded = cluster.run(&["upgrade", "--to", "17", "--write-inventory"]);
    assert_eq!(upgraded.code, Some(0), "{upgraded}");
    let written =
        std::fs::read_to_string(&cluster.inventory).unwrap_or_else(|error| panic!("read: {error}"));
    assert!(
        written.contains("    pg_version: 17\n    ansible_user: root\n")
            && written.starts_with("# An inventory for the local lab")
            && !written.contains("pg_version: 15"),
        "pg_version is set in place, the comments and order kept:\n{written}"
    );
    for (host, version) in HOSTS.iter().zip(cluster.versions()) {
        let number: u32 = version.parse().unwrap_or(0);
        assert!(number >= 170_000, "{host} runs {version}: {upgraded}");
    }
    lab.eventually(60, "two standbys streaming from h1 on 17", || {
        cluster.streaming_standbys() == "2"
    });
    lab.sql(
        "h1",
        "insert into upgrade_rows select n, 'after' from generate_series(101, 150) n",
    );
    cluster.wait_for_rows("150");
    assert_eq!(
        lab.sql(
            "h2",
            "select count(*) from upgrade_rows where note = 'before'"
        ),
        "100"
    );
    let again = cluster.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{again}");

    // h2 was rsynced: its new files are hard links to its old ones, as on the
    // primary; h3 was cloned: none is.
    let linked = "find /var/lib/postgresql/17/main/base -type f -links +1 | head -n 1";
    assert!(!lab.ssh("h1", linked).is_empty(), "h1's files are linked");
    assert!(
        !lab.ssh("h2", linked).is_empty(),
        "h2 kept the links: {upgraded}"
    );
    assert!(
        lab.ssh("h3", linked).is_empty(),
        "h3 was cloned: {upgraded}"
    );
    lab.ssh(
        "h2",
        "test -d /var/lib/postgresql/15/main.pgconverge-before-upgrade",
    );
    // No planted link was followed; the marker is root's, where only root writes.
    assert_eq!(secrets(&lab), secrets_before, "{upgraded}");
    for host in HOSTS {
        lab.ssh(
            host,
            "test -f /etc/postgresql/15/main/start.conf.pgconverge-upgrade && test ! -L /etc/postgresql/15/main/start.conf.pgconverge-upgrade && test ! -e /etc/postgresql/17/main/conf.d/secret.txt && test ! -L /etc/postgresql/17/main/conf.d/secret.txt",
        );
        assert_eq!(
            lab.ssh(
                host,
                "stat -c '%U %a' /var/lib/pgconverge /var/lib/pgconverge/upgrade-etc-postgresql-17-main.marker"
            ),
            "root 700\nroot 600",
            "{host}"
        );
    }

    // The old clusters go only with --cleanup, whose dry run names every path.
    for host in HOSTS {
        lab.ssh(host, "test -d /var/lib/postgresql/15/main");
    }
    let dry = cluster.run(&["upgrade", "--cleanup", "--dry-run"]);
    assert_eq!(dry.code, Some(0), "{dry}");
    assert!(
        dry.stdout.contains("DELETE /var/lib/postgresql/15/main (the old data directory), /etc/postgresql/15/main (the old configuration directory)")
            && dry.stdout.contains("/var/lib/postgresql/15/main.pgconverge-before-upgrade (the restore point of the old data directory)"),
        "{dry}"
    );
    for host in HOSTS {
        lab.ssh(
            host,
            "test -d /var/lib/postgresql/15/main && test -d /etc/postgresql/15/main",
        );
    }

    // A marker that names anything but the old version's directories is
    // refused by name, and nothing is deleted anywhere.
    let marker = "/var/lib/pgconverge/upgrade-etc-postgresql-17-main.marker";
    lab.ssh(
        "h3",
        &format!("cp -p {marker} /root/marker.saved && sed -i 's|^old_config_dir .*|old_config_dir /srv/secret-parent|' {marker}"),
    );
    let tampered = cluster.run(&["upgrade", "--cleanup"]);
    assert_eq!(tampered.code, Some(1), "{tampered}");
    assert!(
        tampered.all().contains("h3: refusing to delete /srv/secret-parent: the marker names it as the old configuration directory, which the inventory puts at /etc/postgresql/15/main for PostgreSQL 15")
            && tampered.all().contains("nothing was removed"),
        "{tampered}"
    );
    lab.ssh("h3", &format!("mv -f /root/marker.saved {marker}"));
    for host in HOSTS {
        lab.ssh(host, "test -d /var/lib/postgresql/15/main");
    }

    // A link the PostgreSQL OS user puts in place of the old version's
    // directory, to root's own: the delete runs as that user there, so it
    // fails and root's files stay.
    as_postgres(
        &lab,
        "h1",
        "mv /var/lib/postgresql/15 /var/lib/postgresql/15.real && ln -s /srv/secret-parent /var/lib/postgresql/15",
    );
    let through = cluster.run(&["upgrade", "--cleanup"]);
    assert_eq!(through.code, Some(1), "{through}");
    assert!(
        through
            .all()
            .contains("could not remove all of /var/lib/postgresql/15/main"),
        "{through}"
    );
    assert_eq!(secrets(&lab), secrets_before, "{through}");
    as_postgres(
        &lab,
        "h1",
        "rm /var/lib/postgresql/15 && mv /var/lib/postgresql/15.real /var/lib/postgresql/15",
    );
    let cleanup = cluster.run(&["upgrade", "--cleanup"]);
    assert_eq!(cleanup.code, Some(0), "{cleanup}");
    assert!(
        cleanup
            .all()
            .contains("removed /var/lib/postgresql/15/main"),
        "{cleanup}"
    );
    for host in HOSTS {
        lab.ssh(
            host,
            "test ! -e /var/lib/postgresql/15/main && test ! -e /etc/postgresql/15/main && test ! -e /var/lib/postgresql/15/main.pgconverge-before-upgrade",
        );
    }
    cluster.wait_for_rows("150");
}

/// Brings up `release`'s lab, converges it and writes 100 rows, every member
/// having them and both standbys streaming.
fn cluster_with_rows<'a>(lab: &'a Lab, release: Release, directory: &Path) -> Cluster<'a> {
    let cluster = Cluster {
        lab,
        inventory: inventory(directory, release),
        password: format!("pw-upgrade-{}-{}", release.postgres, std::process::id()),
    };
    let converge = cluster.run(&["apply"]);
    assert_eq!(converge.code, Some(0), "{converge}");
    lab.sql(
        "h1",
        "create table upgrade_rows (id int primary key, note text); insert into upgrade_rows select n, 'before' from generate_series(1, 100) n",
    );
    cluster.wait_for_rows("100");
    lab.eventually(60, "two standbys streaming", || {
        cluster.streaming_standbys() == "2"
    });
    cluster
}

#[test]
fn an_upgrade_to_18_from_15_keeps_every_row_and_one_from_17_stamped_columns_is_refused_first() {
    if !lab_available() {
        return;
    }
    // 17 to 18: PostgreSQL 17.12 stamps an attribute version (the column option
    // pg_attver) on every column, which 18.6's server does not know: its
    // pg_upgrade would fail restoring the schema after every member stopped.
    // The gate refuses it first, and no server restarts.
    {
        let lab = Lab::up_on(3, Release::FORKY_17);
        let directory =
            tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
        let cluster = cluster_with_rows(&lab, Release::FORKY_17, directory.path());
        let started = cluster.start_times();
        assert_ne!(
            lab.sql("h1", "select count(*) from pg_attribute where attrelid = 'upgrade_rows'::regclass and array_to_string(attoptions, ',') like '%pg_attver=%'"),
            "0",
            "this 17 stamps attribute versions on its columns (17.12 does): without them, this part tests nothing"
        );
        let refused = cluster.run(&["upgrade", "--to", "18"]);
        assert_eq!(refused.code, Some(1), "{refused}");
        let all = refused.all();
        assert!(
            all.contains("CLOSED  attribute versions")
                && all.contains("columns of h1 carry an attribute version")
                && all.contains("unrecognized parameter \"pg_attver\"")
                && all.contains("nothing was changed"),
            "{refused}"
        );
        assert_eq!(cluster.start_times(), started, "no server restarted");
        for (host, version) in HOSTS.iter().zip(cluster.versions()) {
            let number: u32 = version.parse().unwrap_or(0);
            assert!(
                (170_000..180_000).contains(&number),
                "{host} runs {version}"
            );
        }
    }

    // 15 to 18: every row on every member, the standbys streaming after, the
    // new cluster without data checksums as the old one (18's initdb turns
    // them on unless told not to).
    let lab = Lab::up_on(3, Release::FORKY_15);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let cluster = cluster_with_rows(&lab, Release::FORKY_15, directory.path());
    // md5's end: a role with an md5 password and a pg_hba.conf rule using md5,
    // which `check` warns of and the upgrade to 18 names in a gate that warns
    // and lets it go on.
    lab.sql(
        "h1",
        "set password_encryption = 'md5'; create role legacy_app login password 'legacy-app-pw'",
    );
    let text = std::fs::read_to_string(&cluster.inventory).unwrap_or_default();
    std::fs::write(
        &cluster.inventory,
        text.replacen(
            "    replication_user: replicator\n",
            "    replication_user: replicator\n    pg_hba_extra:\n      - host all legacy_app 10.77.0.0/24 md5\n",
            1,
        ),
    )
    .unwrap_or_else(|error| panic!("write the inventory: {error}"));
    let reloaded = cluster.run(&["apply"]);
    assert_eq!(reloaded.code, Some(0), "{reloaded}");
    let check = cluster.run(&["check"]);
    assert!(
        check.stdout.starts_with("PGCONVERGE WARNING")
            && check
                .all()
                .contains("roles with an md5 password: legacy_app")
            && check.all().contains("pg_hba.conf rules using md5"),
        "{check}"
    );
    let upgraded = cluster.run(&["upgrade", "--to", "18", "--write-inventory"]);
    assert_eq!(upgraded.code, Some(0), "{upgraded}");
    assert!(
        upgraded
            .all()
            .contains("ok  attribute versions: no column carries one")
            && upgraded.all().contains("warn  md5 authentication: ")
            && upgraded
                .all()
                .contains("roles with an md5 password: legacy_app"),
        "{upgraded}"
    );
    for (host, version) in HOSTS.iter().zip(cluster.versions()) {
        let number: u32 = version.parse().unwrap_or(0);
        assert!(number >= 180_000, "{host} runs {version}: {upgraded}");
        assert_eq!(lab.sql(host, "show data_checksums"), "off", "{host}");
    }
    lab.eventually(60, "two standbys streaming from h1 on 18", || {
        cluster.streaming_standbys() == "2"
    });
    lab.sql(
        "h1",
        "insert into upgrade_rows select n, 'after' from generate_series(101, 150) n",
    );
    cluster.wait_for_rows("150");
    let again = cluster.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{again}");
}
