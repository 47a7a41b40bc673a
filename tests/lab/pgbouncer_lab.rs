//! PgBouncer end to end on the lab: three hosts (h1 the primary, h2 and h3
//! standbys), PgBouncer on h3 (the group `pgbouncer`), Debian's package of the
//! release (1.18 on Debian 12, whose `auth_query` runs in the client's
//! database; 1.26 on forky, with `auth_dbname`).
//!
//! 1. `apply` converges: PgBouncer runs on h3 with pgconverge's files (the
//!    package's `pgbouncer.ini` kept as `pgbouncer.base.ini`), sends clients to
//!    h1, and the auth role's function is where that release needs it; an
//!    application role the test makes (no superuser) logs in through it with
//!    its own password, which no inventory holds, and a replication role cannot;
//!    the apply after changes nothing.
//! 2. A switchover to h2 while a client writes through PgBouncer (psql, one
//!    sequential id per transaction): every acknowledged row is on every member
//!    after, the client saw no error while it ran (a pause: the longest gap
//!    between acknowledged commits is printed), PgBouncer sends clients to h2,
//!    and the apply after changes nothing.
//! 3. h2, the primary, killed; `promote h1`: PgBouncer sends clients to h1 and
//!    keeps no server connection to h2; a write through it lands on h1 (the
//!    time from the kill to that write is printed); h2 started again is
//!    rejoined (`apply --rejoin h2`), and the apply after changes nothing.
//!
//! And the links: PgBouncer's files are written by root, in root's
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

/// h3, where PgBouncer runs, as the client reaches it.
const BOUNCER: &str = "10.77.0.13";
const BOUNCER_PORT: &str = "6432";

/// The application's role, which the test makes on the primary: no superuser,
/// no replication; PgBouncer looks its password up through its auth role.
const APP_USER: &str = "app_writer";
const APP_PASSWORD: &str = "app-writer \"pass\" word";
const APP_TABLE: &str = "bouncer_writes";

/// PgBouncer's auth role's password: a `"`, which its auth file doubles.
const AUTH_PASSWORD: &str = "bouncer \"lab\" pass";
const ROTATED_AUTH_PASSWORD: &str = "bouncer \"rotated\" pass";

/// The example inventory of `release` with PgBouncer on h3.
fn inventory(release: Release, directory: &std::path::Path) -> String {
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
    let text = format!("{text}    pgbouncer:\n      hosts:\n        h3: {{}}\n");
    std::fs::write(&path, text).expect("the inventory is written");
    path
}

/// A command of PgBouncer's console on h3, as the PostgreSQL OS user over its
/// socket (as pgconverge reaches it): `|`-separated rows.
fn console(lab: &Lab, command: &str) -> String {
    lab.exec(
        "h3",
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
fn target(lab: &Lab) -> String {
    console(lab, "SHOW DATABASES")
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            (fields.first() == Some(&"postgres")).then(|| format!("{}|{}", fields[1], fields[2]))
        })
        .unwrap_or_default()
}

/// SQL through PgBouncer, from the machine, as `user` with `password`.
fn through_bouncer(user: &str, password: &str, sql: &str) -> Result<String, String> {
    let conninfo = format!(
        "host={BOUNCER} port={BOUNCER_PORT} dbname=postgres user={user} connect_timeout=10"
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
fn bouncer_writer() -> client::Writer {
    client::Writer::through(
        format!(
            "host={BOUNCER} port={BOUNCER_PORT} dbname=postgres user={APP_USER} connect_timeout=10"
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
fn clients_follow_the_primary_through_pgbouncer() {
    clients_follow_the_primary_on(Release::BOOKWORM_15);
}

#[test]
fn clients_follow_the_primary_through_pgbouncer_of_forky() {
    clients_follow_the_primary_on(Release::FORKY_18);
}

fn clients_follow_the_primary_on(release: Release) {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(3, release);
    let directory = tempfile::tempdir().expect("a temporary directory");
    let inventory = inventory(release, directory.path());
    let password = support::unique_password("bouncer");
    let run = |args: &[&str]| {
        let run = lab.run(&inventory, &password, args);
        assert_no_secret(&run, &password);
        run
    };
    let started = Instant::now();

    // 1. Converged: PgBouncer on h3 sends clients to h1.
    let converge = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(converge.code, Some(2), "{converge}");
    for step in [
        "h3/pgbouncer_auth_file",
        "h3/pgbouncer_databases",
        "h3/pgbouncer_ini",
        "h1/pgbouncer_auth",
        "h3/pgbouncer_service",
    ] {
        assert!(
            converge.stderr.contains(&format!("changed {step}")),
            "{step}\n{converge}"
        );
    }
    assert_eq!(
        target(&lab),
        "10.77.0.11|5432",
        "PgBouncer sends clients to h1"
    );
    let files = lab.exec(
        "h3",
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
        lab.exec(
            "h1",
            &[
                "runuser",
                "-u",
                "postgres",
                "--",
                "psql",
                "-XAtq",
                "-d",
                database,
                "-c",
                "select count(*) from pg_proc where proname = 'pgbouncer_auth'",
            ],
        )
        .trim()
        .to_string()
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
        APP_USER,
        APP_PASSWORD,
        "select current_user, inet_server_addr()",
    )
    .unwrap_or_else(|error| panic!("the application logs in through PgBouncer: {error}"));
    assert_eq!(who, format!("{APP_USER}|10.77.0.11"));
    assert!(
        through_bouncer(APP_USER, "not its password", "select 1").is_err(),
        "a wrong password is refused"
    );
    assert!(
        through_bouncer("replicator", &password, "select 1").is_err(),
        "the lookup function gives no replication role's password"
    );
    // `connections` contacts no host: no SSH options.
    let connections = support::pgconverge(&["connections", "-i", &inventory], &password);
    assert!(
        connections
            .stdout
            .contains("pgbouncer   postgresql://10.77.0.13:6432/"),
        "{connections}"
    );

    // 2. A switchover under a client writing through PgBouncer.
    let writer = bouncer_writer();
    std::thread::sleep(Duration::from_secs(2));
    let from = Instant::now();
    let switchover = run(&["switchover", "h2"]);
    let to = Instant::now();
    std::thread::sleep(Duration::from_secs(2));
    let acknowledged = writer.stop();
    assert_eq!(switchover.code, Some(0), "{switchover}");
    for step in ["h3: pause pgbouncer: ", "h3: point pgbouncer: "] {
        assert!(switchover.stderr.contains(step), "{step}\n{switchover}");
    }
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
    let errors = acknowledged.failures_within(from, to);
    eprintln!(
        "{}: a switchover under a client writing through PgBouncer: {} rows acknowledged, none lost; {} failed attempts while it ran ({} in all); longest gap between acknowledged commits {:.2} s (while it ran {:.2} s); the switchover took {:.1} s",
        release.debian,
        acknowledged.ids.len(),
        errors,
        acknowledged.failed_at.len(),
        acknowledged.longest_gap().as_secs_f64(),
        acknowledged.longest_gap_within(from, to).as_secs_f64(),
        (to - from).as_secs_f64()
    );
    assert_eq!(
        errors, 0,
        "the client saw errors while PgBouncer was to pause it\n{switchover}"
    );
    assert_eq!(
        target(&lab),
        "10.77.0.12|5432",
        "PgBouncer sends clients to h2"
    );
    let quiet = run(&["apply", "--dry-run", "--detailed-exitcode"]);
    assert_eq!(
        quiet.code,
        Some(0),
        "the apply after the switchover changes nothing\n{quiet}"
    );

    // 3. The primary killed, h1 promoted: PgBouncer follows.
    lab.eventually(60, "h1 and h3 have replayed all h2 wrote", || {
        lab.try_sql(
            "h2",
            "select count(*) from pg_stat_replication where state = 'streaming' and replay_lsn = pg_current_wal_lsn()",
        )
        .is_ok_and(|count| count == "2")
    });
    let killed = Instant::now();
    lab.command(&["kill", "h2"]);
    let promote = run(&["promote", "h1", "--write-inventory"]);
    assert_eq!(promote.code, Some(0), "{promote}");
    assert!(
        promote.stderr.contains("h3: point pgbouncer: "),
        "{promote}"
    );
    assert_eq!(
        target(&lab),
        "10.77.0.11|5432",
        "PgBouncer sends clients to h1"
    );
    // Server connections to h2 close as they are released (RECONNECT, and
    // h2's own end of them went with it).
    lab.eventually(
        10,
        "no server connection to the old primary is left",
        || !console(&lab, "SHOW SERVERS").contains("10.77.0.12"),
    );
    let mut written = None;
    for _ in 0..30 {
        if through_bouncer(
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
            "h1",
            &format!("select count(*) from {APP_TABLE} where id = 1000000")
        ),
        "1",
        "the write landed on h1"
    );
    eprintln!(
        "{}: h2 killed, h1 promoted: the first write through PgBouncer {:.1} s after the kill",
        release.debian,
        written.as_secs_f64()
    );
    lab.command(&["start", "h2"]);
    let rejoin = run(&["apply", "--rejoin", "h2", "--detailed-exitcode"]);
    assert_eq!(rejoin.code, Some(2), "h2 is rejoined\n{rejoin}");
    lab.eventually(60, "h2 and h3 stream from h1", || {
        lab.try_sql(
            "h1",
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
    assert_eq!(target(&lab), "10.77.0.11|5432");
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
    let inventory = inventory(release, directory.path());
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
        target(&lab),
        "10.77.0.12|5432",
        "PgBouncer sends clients to h2"
    );
    assert_eq!(
        root_state(&lab),
        before,
        "root's files untouched after the repair"
    );
    let config = console(&lab, "SHOW CONFIG");
    assert!(
        config
            .lines()
            .any(|line| line.starts_with("max_client_conn|150|")),
        "{config}"
    );
}
