//! PgBouncer end to end on the lab: three members (h1 the primary, h2 and h3
//! standbys) and PgBouncer (the group `pgbouncer`) on a host of its own, h4,
//! with Debian 12's package (1.18, whose `auth_query` runs in the client's
//! database), or on the standby h3 with forky's (1.26, with `auth_dbname`).
//!
//! 1. `apply` converges: PgBouncer runs with pgconverge's files (the
//!    package's `pgbouncer.ini` kept as `pgbouncer.base.ini`), sends clients to
//!    h1, and the auth role's function is where that release needs it; an
//!    application role the test makes (no superuser) logs in through it with
//!    its own password, which no inventory holds, and a replication role cannot;
//!    the apply after changes nothing.
//! 2. A switchover to h2 and back to h1 while a client writes through
//!    PgBouncer (psql, one sequential id per transaction): every acknowledged
//!    row is on every member after, the client saw no error while either ran
//!    (a pause: the longest gap between acknowledged commits is printed),
//!    PgBouncer sends clients to the new primary each time, and the apply
//!    after changes nothing.
//! 3. h1, the primary, killed; `promote h2`: PgBouncer sends clients to h2 and
//!    keeps no server connection to h1; a write through it lands on h2 (the
//!    time from the kill to that write is printed); h1 started again is
//!    rejoined (`apply --rejoin h1`), and the apply after changes nothing.
//!
//! And the links (PgBouncer on h3): PgBouncer's files are written by root, in root's
//! `/etc/pgbouncer`; on a host where that directory is the PostgreSQL OS
//! user's, that user plants links at every name root's scripts write there
//! (the kept base file, the auth file, the backups), each into the host's
//! private `/root` (LAB-NOTES 18). An apply and a switchover follow none: root's
//! files keep owner, mode and content, the plan names the links, the write is
//! refused; once the directory is root's again, the cluster converges.

use crate::support;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::{Lab, Release, Run, client, lab_available};

const HOSTS: [&str; 3] = ["h1", "h2", "h3"];

/// Where PgBouncer runs: its host and the address the client reaches it at.
#[derive(Clone, Copy)]
struct Bouncer {
    host: &'static str,
    address: &'static str,
}

/// A host of its own, in no replication cluster.
const ALONE: Bouncer = Bouncer {
    host: "h4",
    address: "10.77.0.14",
};

/// The standby h3, a member.
const ON_A_STANDBY: Bouncer = Bouncer {
    host: "h3",
    address: "10.77.0.13",
};
const BOUNCER_PORT: &str = "6432";

/// The application's role, which the test makes on the primary: no superuser,
/// no replication; PgBouncer looks its password up through its auth role.
const APP_USER: &str = "app_writer";
const APP_PASSWORD: &str = "app-writer \"pass\" word";
const APP_TABLE: &str = "bouncer_writes";

/// PgBouncer's auth role's password: a `"`, which its auth file doubles.
const AUTH_PASSWORD: &str = "bouncer \"lab\" pass";
const ROTATED_AUTH_PASSWORD: &str = "bouncer \"rotated\" pass";

/// The example inventory of `release` with PgBouncer where `bouncer` says.
fn inventory(release: Release, directory: &std::path::Path, bouncer: Bouncer) -> String {
    let path = release.example_inventory(directory);
    let text = std::fs::read_to_string(&path).expect("the inventory");
    let text = text.replacen(
        "    replication_user: replicator\n",
        &format!(
            "    replication_user: replicator\n    pgbouncer_auth_password: '{AUTH_PASSWORD}'\n"
        ),
        1,
    );
    assert!(
        text.ends_with("        h3: { ansible_host: 10.77.0.13 }\n"),
        "{text}"
    );
    let entry = if HOSTS.contains(&bouncer.host) {
        "{}".to_string()
    } else {
        format!("{{ ansible_host: {} }}", bouncer.address)
    };
    let text = format!(
        "{text}    pgbouncer:\n      hosts:\n        {}: {entry}\n",
        bouncer.host
    );
    std::fs::write(&path, text).expect("the inventory is written");
    path
}

/// A command of PgBouncer's console, as the PostgreSQL OS user over its
/// socket (as pgconverge reaches it): `|`-separated rows.
fn console(lab: &Lab, bouncer: Bouncer, command: &str) -> String {
    lab.exec(
        bouncer.host,
        &[
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-XAtq",
            "-h",
            "/var/run/postgresql",
            "-p",
            BOUNCER_PORT,
            "-U",
            "pgbouncer",
            "-d",
            "pgbouncer",
            "-c",
            command,
        ],
    )
}

/// Where PgBouncer sends the database `postgres`: `HOST|PORT`.
fn target(lab: &Lab, bouncer: Bouncer) -> String {
    console(lab, bouncer, "SHOW DATABASES")
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            (fields.first() == Some(&"postgres")).then(|| format!("{}|{}", fields[1], fields[2]))
        })
        .unwrap_or_default()
}

/// SQL through PgBouncer, from the machine, as `user` with `password`.
fn through_bouncer(
    bouncer: Bouncer,
    user: &str,
    password: &str,
    sql: &str,
) -> Result<String, String> {
    let conninfo = format!(
        "host={} port={BOUNCER_PORT} dbname=postgres user={user} connect_timeout=10",
        bouncer.address
    );
    let output = Command::new("psql")
        .args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-d", &conninfo, "-c", sql])
        .env("PGPASSWORD", password)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run psql: {error}"));
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// A client that writes through PgBouncer as the application's role.
fn bouncer_writer(bouncer: Bouncer) -> client::Writer {
    client::Writer::through(
        format!(
            "host={} port={BOUNCER_PORT} dbname=postgres user={APP_USER} connect_timeout=10",
            bouncer.address
        ),
        APP_PASSWORD.to_string(),
        APP_TABLE.to_string(),
    )
}

/// No secret of the inventory in a run's output, in any form its files write it.
fn assert_no_secret(run: &Run, password: &str) {
    let all = run.all();
    for secret in [
        password.to_string(),
        AUTH_PASSWORD.to_string(),
        AUTH_PASSWORD.replace('"', "\"\""),
        ROTATED_AUTH_PASSWORD.to_string(),
        ROTATED_AUTH_PASSWORD.replace('"', "\"\""),
    ] {
        assert!(!all.contains(&secret), "a secret is in the output\n{run}");
    }
}

#[test]
fn clients_follow_the_primary_through_pgbouncer_on_a_host_of_its_own() {
    clients_follow_the_primary_on(Release::BOOKWORM_15, ALONE);
}

#[test]
fn clients_follow_the_primary_through_pgbouncer_on_a_standby_of_forky() {
    clients_follow_the_primary_on(Release::FORKY_18, ON_A_STANDBY);
}

fn clients_follow_the_primary_on(release: Release, bouncer: Bouncer) {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(if bouncer.host == "h4" { 4 } else { 3 }, release);
    let directory = tempfile::tempdir().expect("a temporary directory");
    let inventory = inventory(release, directory.path(), bouncer);
    let h = bouncer.host;
    let password = support::unique_password("bouncer");
    let run = |args: &[&str]| {
        let run = lab.run(&inventory, &password, args);
        assert_no_secret(&run, &password);
        run
    };
    let started = Instant::now();

    // 1. Converged: PgBouncer sends clients to h1.
    let converge = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(converge.code, Some(2), "{converge}");
    for step in [
        format!("{h}/pgbouncer_auth_file"),
        format!("{h}/pgbouncer_databases"),
        format!("{h}/pgbouncer_ini"),
        "h1/pgbouncer_auth".to_string(),
        format!("{h}/pgbouncer_service"),
    ] {
        assert!(
            converge.stderr.contains(&format!("changed {step}")),
            "{step}\n{converge}"
        );
    }
    assert_eq!(
        target(&lab, bouncer),
        "10.77.0.11|5432",
        "PgBouncer sends clients to h1"
    );
    let files = lab.exec(
        h,
        &[
            "sh",
            "-c",
            "cd /etc/pgbouncer && stat -c '%n %U:%G %a' pgbouncer.ini pgbouncer.databases.ini pgconverge-users.txt pgbouncer.base.ini",
        ],
    );
    for line in [
        "pgbouncer.ini root:postgres 640",
        "pgbouncer.databases.ini root:postgres 640",
        "pgconverge-users.txt root:postgres 640",
    ] {
        assert!(files.contains(line), "{line}\n{files}");
    }
    assert!(
        files.contains("pgbouncer.base.ini "),
        "the package's file is kept\n{files}"
    );
    // The lookup function: in postgres; in template1 too (so in every new
    // database) where the release runs auth_query in the client's database.
    let functions_in = |database: &str| {
        lab.try_sql_in(
            "h1",
            database,
            "select count(*) from pg_proc where proname = 'pgbouncer_auth'",
        )
        .unwrap_or_else(|error| panic!("{database} on h1: {error}"))
    };
    assert_eq!(functions_in("postgres"), "1");
    let every_database = release == Release::BOOKWORM_15;
    assert_eq!(
        functions_in("template1"),
        if every_database { "1" } else { "0" },
        "{}",
        release.debian
    );
    let quiet = run(&["apply", "--dry-run", "--detailed-exitcode"]);
    assert_eq!(
        quiet.code,
        Some(0),
        "the apply after changes nothing\n{quiet}"
    );

    // The application's role, made here: its password is in no inventory.
    lab.exec_sql(
        "h1",
        &format!(
            "create role {APP_USER} login password '{}'; create table {APP_TABLE} (id bigint primary key); grant select, insert on {APP_TABLE} to {APP_USER}",
            APP_PASSWORD.replace('\'', "''")
        ),
    );
    lab.eventually(30, "the role reaches the standbys", || {
        lab.try_sql(
            "h2",
            &format!("select count(*) from pg_roles where rolname = '{APP_USER}'"),
        )
        .is_ok_and(|count| count == "1")
    });
    let who = through_bouncer(
        bouncer,
        APP_USER,
        APP_PASSWORD,
        "select current_user, inet_server_addr()",
    )
    .unwrap_or_else(|error| panic!("the application logs in through PgBouncer: {error}"));
    assert_eq!(who, format!("{APP_USER}|10.77.0.11"));
    assert!(
        through_bouncer(bouncer, APP_USER, "not its password", "select 1").is_err(),
        "a wrong password is refused"
    );
    assert!(
        through_bouncer(bouncer, "replicator", &password, "select 1").is_err(),
        "the lookup function gives no replication role's password"
    );
    // `connections` contacts no host: no SSH options.
    let connections = support::pgconverge(&["connections", "-i", &inventory], &password);
    assert!(
        connections.stdout.contains(&format!(
            "pgbouncer   postgresql://{}:6432/",
            bouncer.address
        )),
        "{connections}"
    );

    // 2. A switchover to h2 and back to h1 under a client writing through
    // PgBouncer.
    let writer = bouncer_writer(bouncer);
    std::thread::sleep(Duration::from_secs(2));
    let mut windows = Vec::new();
    for (to_host, to_address) in [("h2", "10.77.0.12"), ("h1", "10.77.0.11")] {
        let from = Instant::now();
        let switchover = run(&["switchover", to_host]);
        let to = Instant::now();
        assert_eq!(switchover.code, Some(0), "{switchover}");
        for step in [
            format!("{h}: pause pgbouncer: "),
            format!("{h}: point pgbouncer: "),
        ] {
            assert!(switchover.stderr.contains(&step), "{step}\n{switchover}");
        }
        assert_eq!(
            target(&lab, bouncer),
            format!("{to_address}|5432"),
            "PgBouncer sends clients to {to_host}"
        );
        let quiet = run(&["apply", "--dry-run", "--detailed-exitcode"]);
        assert_eq!(
            quiet.code,
            Some(0),
            "the apply after the switchover to {to_host} changes nothing\n{quiet}"
        );
        windows.push((to_host, from, to, switchover));
        std::thread::sleep(Duration::from_secs(2));
    }
    let acknowledged = writer.stop();
    assert!(
        acknowledged.ids.len() > 20,
        "the client wrote: {} rows acknowledged",
        acknowledged.ids.len()
    );
    let wanted = acknowledged.ids.len().to_string();
    let present = acknowledged.count_present_sql_in(APP_TABLE);
    for host in HOSTS {
        lab.eventually(30, &format!("every acknowledged row on {host}"), || {
            lab.try_sql(host, &present)
                .is_ok_and(|count| count == wanted)
        });
    }
    for (to_host, from, to, switchover) in &windows {
        let errors = acknowledged.failures_within(*from, *to);
        eprintln!(
            "{}: a switchover to {to_host} under a client writing through PgBouncer on {h}: {} failed attempts while it ran; longest gap between acknowledged commits while it ran {:.2} s; the switchover took {:.1} s",
            release.debian,
            errors,
            acknowledged.longest_gap_within(*from, *to).as_secs_f64(),
            (*to - *from).as_secs_f64()
        );
        assert_eq!(
            errors, 0,
            "the client saw errors while PgBouncer was to pause it\n{switchover}"
        );
    }
    eprintln!(
        "{}: there and back: {} rows acknowledged, none lost; {} failed attempts in all; longest gap between acknowledged commits {:.2} s",
        release.debian,
        acknowledged.ids.len(),
        acknowledged.failed_at.len(),
        acknowledged.longest_gap().as_secs_f64(),
    );

    // 3. The primary h1 killed, h2 promoted: PgBouncer follows.
    lab.eventually(60, "h2 and h3 have replayed all h1 wrote", || {
        lab.try_sql(
            "h1",
            "select count(*) from pg_stat_replication where state = 'streaming' and replay_lsn = pg_current_wal_lsn()",
        )
        .is_ok_and(|count| count == "2")
    });
    let killed = Instant::now();
    lab.command(&["kill", "h1"]);
    let promote = run(&["promote", "h2", "--write-inventory"]);
    assert_eq!(promote.code, Some(0), "{promote}");
    assert!(
        promote.stderr.contains(&format!("{h}: point pgbouncer: ")),
        "{promote}"
    );
    assert_eq!(
        target(&lab, bouncer),
        "10.77.0.12|5432",
        "PgBouncer sends clients to h2"
    );
    // Server connections to h1 close as they are released (RECONNECT, and
    // h1's own end of them went with it).
    lab.eventually(
        10,
        "no server connection to the old primary is left",
        || !console(&lab, bouncer, "SHOW SERVERS").contains("10.77.0.11"),
    );
    let mut written = None;
    for _ in 0..30 {
        if through_bouncer(
            bouncer,
            APP_USER,
            APP_PASSWORD,
            &format!("insert into {APP_TABLE} values (1000000)"),
        )
        .is_ok()
        {
            written = Some(killed.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
    let written = written.expect("a write through PgBouncer after the promotion");
    assert_eq!(
        lab.exec_sql(
            "h2",
            &format!("select count(*) from {APP_TABLE} where id = 1000000")
        ),
        "1",
        "the write landed on h2"
    );
    eprintln!(
        "{}: h1 killed, h2 promoted: the first write through PgBouncer {:.1} s after the kill",
        release.debian,
        written.as_secs_f64()
    );
    lab.command(&["start", "h1"]);
    let rejoin = run(&["apply", "--rejoin", "h1", "--detailed-exitcode"]);
    assert_eq!(rejoin.code, Some(2), "h1 is rejoined\n{rejoin}");
    lab.eventually(60, "h1 and h3 stream from h2", || {
        lab.try_sql(
            "h2",
            "select count(*) from pg_stat_replication where state = 'streaming'",
        )
        .is_ok_and(|count| count == "2")
    });
    let quiet = run(&["apply", "--dry-run", "--detailed-exitcode"]);
    assert_eq!(
        quiet.code,
        Some(0),
        "the apply after the promotion and rejoin changes nothing\n{quiet}"
    );
    assert_eq!(target(&lab, bouncer), "10.77.0.12|5432");
    eprintln!("all: {:.1} s", started.elapsed().as_secs_f64());
}

/// What root alone owns on h3: `/root`'s bait, with owner, mode and digest.
fn root_state(lab: &Lab) -> String {
    lab.exec(
        "h3",
        &[
            "sh",
            "-c",
            "cd / && ls -A /root | sort && stat -c '%n %U:%G %a' /root/bait-* && sha256sum /root/bait-* | sort",
        ],
    )
}

/// A shell command as the PostgreSQL OS user on h3 (what a database superuser
/// can do with `COPY ... TO PROGRAM`).
fn as_postgres(lab: &Lab, command: &str) -> String {
    lab.exec(
        "h3",
        &["runuser", "-u", "postgres", "--", "sh", "-ec", command],
    )
}

#[test]
fn root_follows_no_link_the_postgres_user_plants_among_pgbouncer_s_files() {
    if !lab_available() {
        return;
    }
    let release = Release::BOOKWORM_15;
    let lab = Lab::up_on(3, release);
    let directory = tempfile::tempdir().expect("a temporary directory");
    let inventory = inventory(release, directory.path(), ON_A_STANDBY);
    let password = support::unique_password("bouncer-links");
    let run = |args: &[&str]| {
        let run = lab.run(&inventory, &password, args);
        assert_no_secret(&run, &password);
        run
    };
    let converge = run(&["apply"]);
    assert_eq!(converge.code, Some(0), "{converge}");

    // Root's bait on h3, and /etc/pgbouncer given to the PostgreSQL OS user, as
    // some hosts have it.
    lab.exec(
        "h3",
        &[
            "sh",
            "-c",
            "cd / && umask 077 && for name in base users ini-backup databases-backup users-backup; do echo ROOT-ONLY-$name > /root/bait-$name; done && chown postgres:postgres /etc/pgbouncer",
        ],
    );
    let before = root_state(&lab);
    assert!(before.contains("/root/bait-base root:root 600"), "{before}");
    // The user plants a link at every name root's scripts write there.
    as_postgres(
        &lab,
        "cd /etc/pgbouncer && mv pgbouncer.base.ini base.saved && ln -s /root/bait-base pgbouncer.base.ini \
         && mv pgconverge-users.txt users.saved && ln -s /root/bait-users pgconverge-users.txt \
         && ln -sfn /root/bait-ini-backup pgbouncer.ini.pgconverge-backup \
         && ln -sfn /root/bait-databases-backup pgbouncer.databases.ini.pgconverge-backup \
         && ln -sfn /root/bait-users-backup pgconverge-users.txt.pgconverge-backup",
    );
    // A new setting and a rotated auth password: pgbouncer.ini and the auth file
    // are written again.
    let text = std::fs::read_to_string(&inventory).expect("the inventory");
    std::fs::write(
        &inventory,
        text.replace(AUTH_PASSWORD, ROTATED_AUTH_PASSWORD).replacen(
            "    replication_user: replicator\n",
            "    replication_user: replicator\n    pgbouncer_settings: { max_client_conn: 150 }\n",
            1,
        ),
    )
    .expect("the inventory is written");
    let apply = run(&["apply"]);
    assert_ne!(apply.code, Some(0), "a refused plan is no success\n{apply}");
    for refused in [
        "`/etc/pgbouncer/pgbouncer.base.ini` is a link to `/root/bait-base`",
        "`/etc/pgbouncer/pgconverge-users.txt` is a link to `/root/bait-users`",
    ] {
        assert!(apply.stdout.contains(refused), "{refused}\n{apply}");
    }
    assert_eq!(root_state(&lab), before, "root's files untouched\n{apply}");
    assert!(!apply.all().contains("ROOT-ONLY"), "{apply}");

    // The switchover's re-point writes pgbouncer.databases.ini as root: refused
    // in a directory the PostgreSQL OS user may change, and PgBouncer resumed.
    let switchover = run(&["switchover", "h2"]);
    assert!(
        switchover
            .all()
            .contains("/etc/pgbouncer can be changed by a user other than root: refusing to write /etc/pgbouncer/pgbouncer.databases.ini there as root"),
        "{switchover}"
    );
    assert!(
        switchover.all().contains("PgBouncer on h3 resumed"),
        "{switchover}"
    );
    assert_eq!(
        root_state(&lab),
        before,
        "root's files untouched\n{switchover}"
    );
    assert!(!switchover.all().contains("ROOT-ONLY"), "{switchover}");
    assert_eq!(
        lab.exec_sql("h2", "select pg_is_in_recovery()"),
        "f",
        "h2 is the primary all the same\n{switchover}"
    );

    // The links gone and the directory root's again, the cluster converges.
    as_postgres(
        &lab,
        "cd /etc/pgbouncer && rm pgbouncer.base.ini pgconverge-users.txt pgbouncer.ini.pgconverge-backup \
         pgbouncer.databases.ini.pgconverge-backup pgconverge-users.txt.pgconverge-backup \
         && mv base.saved pgbouncer.base.ini && mv users.saved pgconverge-users.txt",
    );
    lab.exec("h3", &["chown", "root:root", "/etc/pgbouncer"]);
    let repaired = run(&["apply"]);
    assert!(
        matches!(repaired.code, Some(0 | 2)),
        "the cluster converges once the links are gone\n{repaired}"
    );
    let quiet = run(&["apply", "--dry-run", "--detailed-exitcode"]);
    assert_eq!(quiet.code, Some(0), "nothing is left to do\n{quiet}");
    assert_eq!(
        target(&lab, ON_A_STANDBY),
        "10.77.0.12|5432",
        "PgBouncer sends clients to h2"
    );
    assert_eq!(
        root_state(&lab),
        before,
        "root's files untouched after the repair"
    );
    let config = console(&lab, ON_A_STANDBY, "SHOW CONFIG");
    assert!(
        config
            .lines()
            .any(|line| line.starts_with("max_client_conn|150|")),
        "{config}"
    );
}
