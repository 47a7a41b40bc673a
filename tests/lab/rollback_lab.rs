//! End to end on a converged 3-host lab: a change that stops a server from starting
//! is undone. The server runs again with its previous configuration, replication
//! stays intact, a rollout stops at the first member that fails (standbys first, so
//! never the primary), and what can be caught before a restart is refused before it.

use crate::support;

use support::{Lab, Run, lab_available, pgconverge, repository};

const CONF: &str = "/etc/postgresql/15/main/postgresql.conf";

/// The example inventory with `vars` added to the host `host` (or to `all`).
fn inventory(directory: &std::path::Path, name: &str, host: Option<&str>, vars: &str) -> String {
    let example = std::fs::read_to_string(repository().join("inventory.example.yaml"))
        .unwrap_or_else(|error| panic!("{error}"));
    let text = match host {
        Some(host) => {
            let address = format!("10.77.0.1{}", &host[1..]);
            example.replace(
                &format!("{host}: {{ ansible_host: {address} }}"),
                &format!("{host}: {{ ansible_host: {address}, {vars} }}"),
            )
        }
        None => example.replace(
            "    replication_user: replicator\n",
            &format!("    replication_user: replicator\n    {vars}\n"),
        ),
    };
    assert_ne!(text, example, "the inventory did not change");
    let path = directory.join(name);
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("{error}"));
    path.display().to_string()
}

fn start_times(lab: &Lab) -> Vec<String> {
    ["h1", "h2", "h3"]
        .iter()
        .map(|host| lab.exec_sql(host, "select pg_postmaster_start_time()"))
        .collect()
}

fn streaming_standbys(lab: &Lab) -> String {
    lab.exec_sql(
        "h1",
        "select string_agg(application_name, ',' order by application_name) from pg_stat_replication where state = 'streaming'",
    )
}

#[test]
fn a_change_that_stops_a_server_from_starting_is_undone() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let password = format!("pw-rollback-{}", std::process::id());
    let example = repository()
        .join("inventory.example.yaml")
        .display()
        .to_string();
    let converge = lab.apply(&example, &password, &[]);
    assert_eq!(converge.code, Some(2), "{converge}");
    lab.eventually(30, "both standbys stream", || {
        streaming_standbys(&lab) == "h2,h3"
    });
    let mut outputs = vec![converge.all()];

    // 1. The primary cannot bind an address it does not have: it is restarted,
    //    fails, and runs again with its previous configuration.
    let before = start_times(&lab);
    let conf_before = lab.exec("h1", &["cat", CONF]);
    let bad_primary = inventory(
        directory.path(),
        "bad-primary.yaml",
        Some("h1"),
        "listen_addresses: 10.77.0.99",
    );
    let failed = lab.apply(&bad_primary, &password, &[]);
    outputs.push(failed.all());
    assert_eq!(failed.code, Some(1), "{failed}");
    assert!(
        failed
            .stdout
            .contains("PostgreSQL did not start with the new configuration")
            && failed
                .stdout
                .contains("could not bind IPv4 address \"10.77.0.99\""),
        "the server's own reason is quoted\n{failed}"
    );
    assert!(
        failed
            .stdout
            .contains("PostgreSQL runs again with the previous configuration"),
        "{failed}"
    );
    assert_eq!(
        lab.exec("h1", &["cat", CONF]),
        conf_before,
        "the previous file is back"
    );
    assert!(
        lab.exec("h1", &["cat", &format!("{CONF}.pgconverge-rejected")])
            .contains("10.77.0.99"),
        "the rejected file is kept for inspection"
    );
    assert_eq!(lab.exec_sql("h1", "show listen_addresses"), "*");
    lab.eventually(30, "both standbys stream again", || {
        streaming_standbys(&lab) == "h2,h3"
    });
    let after = start_times(&lab);
    assert_ne!(after[0], before[0], "the primary was restarted");
    assert_eq!(after[1..], before[1..], "no standby was restarted");

    // 2. The same on one standby: it runs again and streams; nobody else restarts.
    let before = start_times(&lab);
    let bad_standby = inventory(
        directory.path(),
        "bad-standby.yaml",
        Some("h2"),
        "listen_addresses: 10.77.0.99",
    );
    let failed = lab.apply(&bad_standby, &password, &[]);
    outputs.push(failed.all());
    assert_eq!(failed.code, Some(1), "{failed}");
    assert!(
        failed
            .stdout
            .contains("PostgreSQL runs again with the previous configuration and streams"),
        "{failed}"
    );
    let after = start_times(&lab);
    assert_eq!(
        (&after[0], &after[2]),
        (&before[0], &before[2]),
        "only h2 restarted"
    );
    assert_eq!(
        lab.exec_sql("h2", "select status from pg_stat_wal_receiver"),
        "streaming"
    );

    // 3. The same change on every member: standbys go first, one at a time; the
    //    first fails and is rolled back, and nothing else restarts.
    let before = start_times(&lab);
    let bad_everywhere = inventory(
        directory.path(),
        "bad-everywhere.yaml",
        None,
        "listen_addresses: 10.77.0.99",
    );
    let dry_run = lab.apply(&bad_everywhere, &password, &["--dry-run"]);
    assert!(
        dry_run
            .stdout
            .contains("after h3's restart (standbys first, the primary last)"),
        "the plan shows the rolling order\n{dry_run}"
    );
    let failed = lab.apply(&bad_everywhere, &password, &[]);
    outputs.push(failed.all());
    assert_eq!(failed.code, Some(1), "{failed}");
    let after = start_times(&lab);
    let restarted: Vec<bool> = after.iter().zip(&before).map(|(a, b)| a != b).collect();
    assert_eq!(
        restarted,
        vec![false, true, false],
        "only the first standby was restarted (and rolled back)\n{failed}"
    );
    assert_eq!(streaming_standbys(&lab), "h2,h3");

    // 4. Caught before any restart: a library that is not installed.
    let before = start_times(&lab);
    let missing_library = inventory(
        directory.path(),
        "missing-library.yaml",
        Some("h1"),
        "pg_settings: { shared_preload_libraries: pgconverge_missing_library }",
    );
    let refused = lab.apply(&missing_library, &password, &[]);
    outputs.push(refused.all());
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused.stdout.contains(
            "shared_preload_libraries names \"pgconverge_missing_library\", which is not installed"
        ),
        "{refused}"
    );
    assert_eq!(start_times(&lab), before, "nothing was restarted");
    let installed_library = inventory(
        directory.path(),
        "installed-library.yaml",
        Some("h1"),
        "pg_settings: { shared_preload_libraries: pg_stat_statements }",
    );
    let planned = lab.apply(&installed_library, &password, &["--dry-run"]);
    assert!(
        planned
            .stdout
            .contains("~ shared_preload_libraries  '' → pg_stat_statements  (restart)")
            && !planned.stdout.contains("refused"),
        "an installed library is not refused\n{planned}"
    );

    // 4b. Caught before any restart: a port another process listens on (a process
    //     of this test, on h3's 5433, which h3 is then told to use).
    let listener = lab.exec(
        "h3",
        &[
            "sh",
            "-c",
            "perl -MIO::Socket::INET -e 'my $s = IO::Socket::INET->new(LocalAddr => q(0.0.0.0), LocalPort => 5433, Listen => 1, ReuseAddr => 1) or die; sleep 300' </dev/null >/dev/null 2>&1 & echo $!",
        ],
    );
    lab.eventually(10, "the listener listens", || {
        lab.exec("h3", &["cat", "/proc/net/tcp"])
            .contains(":1539 00000000:0000 0A")
    });
    let taken_port = inventory(
        directory.path(),
        "taken-port.yaml",
        Some("h3"),
        "pg_port: 5433",
    );
    let refused = lab.apply(&taken_port, &password, &[]);
    outputs.push(refused.all());
    lab.exec("h3", &["kill", listener.trim()]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused
            .stdout
            .contains("port 5433 is taken: another process listens on 0.0.0.0:5433"),
        "{refused}"
    );
    assert_eq!(start_times(&lab), before, "nothing was restarted");
    assert_eq!(streaming_standbys(&lab), "h2,h3");

    // 5. With the inventory fixed, a run changes only what was asked: a reload.
    let fixed = inventory(
        directory.path(),
        "fixed.yaml",
        None,
        "pg_settings: { work_mem: 16MB }",
    );
    let repaired = lab.apply(&fixed, &password, &[]);
    outputs.push(repaired.all());
    assert_eq!(repaired.code, Some(2), "{repaired}");
    assert!(
        !repaired.stdout.contains("restart PostgreSQL"),
        "{repaired}"
    );
    assert_eq!(start_times(&lab), before, "nothing was restarted");
    for host in ["h1", "h2", "h3"] {
        assert_eq!(lab.exec_sql(host, "show work_mem"), "16MB");
        assert_eq!(lab.exec_sql(host, "show listen_addresses"), "*");
    }
    for output in &outputs {
        assert!(!output.contains(&password), "the password leaked\n{output}");
    }
}

/// A converged lab whose h1 became a former primary that diverged: h1 dies, h2 is
/// promoted (the inventory records it) and takes rows 101-200, h1 comes back,
/// writes on its own timeline into new WAL segments, and is stopped cleanly, so the
/// next apply plans to rejoin it with pg_rewind. Rows 1-100 were written before.
struct Diverged<'a> {
    lab: &'a Lab,
    _directory: tempfile::TempDir,
    inventory: String,
    password: String,
    outputs: Vec<String>,
}

impl<'a> Diverged<'a> {
    fn new(lab: &'a Lab, password_prefix: &str) -> Diverged<'a> {
        let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let inventory = directory.path().join("inventory.yaml");
        std::fs::copy(repository().join("inventory.example.yaml"), &inventory)
            .unwrap_or_else(|error| panic!("{error}"));
        let mut diverged = Diverged {
            lab,
            inventory: inventory.display().to_string(),
            _directory: directory,
            password: format!("{password_prefix}-{}", std::process::id()),
            outputs: Vec::new(),
        };
        let converge = diverged.run(&["apply"]);
        assert_eq!(converge.code, Some(0), "{converge}");
        lab.exec_sql(
            "h1",
            "create table rewind_check (id int primary key); insert into rewind_check select generate_series(1, 100)",
        );
        lab.eventually(30, "h2 has the rows", || diverged.rows("h2") == "100");
        lab.command(&["kill", "h1"]);
        let promote = diverged.run(&["promote", "h2", "--write-inventory"]);
        assert_eq!(promote.code, Some(0), "{promote}");
        lab.exec_sql(
            "h2",
            "insert into rewind_check select generate_series(101, 200)",
        );
        lab.command(&["start", "h1"]);
        assert_eq!(lab.exec_sql("h1", "select pg_is_in_recovery()"), "f");
        for _ in 0..3 {
            lab.exec_sql("h1", "insert into rewind_check select generate_series(1001, 1100) on conflict do nothing; select pg_switch_wal()");
        }
        lab.exec("h1", &["pg_ctlcluster", "15", "main", "stop"]);
        diverged
    }

    fn run(&mut self, args: &[&str]) -> Run {
        let ssh_config = self.lab.ssh_config().display().to_string();
        let mut all = args.to_vec();
        all.extend(["-i", &self.inventory, "--ssh-config", &ssh_config]);
        let run = pgconverge(&all, &self.password);
        self.outputs.push(run.all());
        run
    }

    fn rows(&self, host: &str) -> String {
        self.lab
            .try_sql(host, "select count(*) from rewind_check")
            .unwrap_or_default()
    }

    /// After a rewind failed: the next apply clones h2 into h1 (with `extra`), h1
    /// streams from h2 with every row of the primary, the directory that failed is
    /// kept aside, and then nothing is left to do.
    fn recovers_by_a_clone(&mut self, extra: &[&str]) -> Run {
        let mut args = vec!["apply", "--detailed-exitcode"];
        args.extend_from_slice(extra);
        let recovered = self.run(&args);
        assert_eq!(recovered.code, Some(2), "{recovered}");
        assert!(
            recovered
                .stderr
                .contains("changed h1/base_backup: cloned from 10.77.0.12"),
            "h1 is recovered by a base backup\n{recovered}"
        );
        let lab = self.lab;
        lab.eventually(30, "h1 streams from h2", || {
            lab.exec_sql(
                "h1",
                "select coalesce(sender_host, '') from pg_stat_wal_receiver",
            ) == "10.77.0.12"
        });
        assert_eq!(self.rows("h2"), "200", "the primary lost no row");
        lab.eventually(30, "h1 has the primary's rows", || self.rows("h1") == "200");
        let settled = self.run(&["apply", "--detailed-exitcode"]);
        assert_eq!(settled.code, Some(0), "{settled}");
        for output in &self.outputs {
            assert!(
                !output.contains(&self.password),
                "the password leaked\n{output}"
            );
        }
        recovered
    }
}

const DATA: &str = "/var/lib/postgresql/15/main";

#[test]
fn a_rewind_that_fails_leaves_a_directory_the_next_apply_recovers() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    let mut diverged = Diverged::new(&lab, "pw-rewind");
    // The WAL pg_rewind needs to find where h1 and h2 diverged is lost.
    lab.exec(
        "h1",
        &[
            "sh",
            "-c",
            "cd /var/lib/postgresql/15/main/pg_wal && ls | grep -E '^[0-9A-F]{24}$' | sort | head -n -1 | xargs rm -f",
        ],
    );

    // The rewind fails without changing the directory, and says what comes next.
    let failed = diverged.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(failed.code, Some(1), "{failed}");
    assert!(
        failed.stdout.contains(
            "pg_rewind --dry-run from 10.77.0.12 failed; the data directory is unchanged"
        ),
        "{failed}"
    );
    let dry_run = diverged.run(&["apply", "--dry-run"]);
    assert!(
        dry_run
            .stdout
            .contains("pg_rewind failed to rejoin it on an earlier run"),
        "the next plan clones instead of rewinding again\n{dry_run}"
    );

    // The next apply recovers h1 with a base backup (its own writes after the split
    // are discarded, so it needs consent); nothing written on h2 is lost.
    diverged.recovers_by_a_clone(&["--replace-data", "h1"]);
    let aside = lab.exec("h1", &["sh", "-c", &format!("ls -d {DATA}.pgconverge-*")]);
    assert!(!aside.trim().is_empty(), "the old directory is kept aside");
}

/// The dry run passes, and the real pg_rewind fails after it has changed files: a
/// file it must overwrite in h1's data directory belongs to root (restored by hand
/// as root, say), so pg_rewind, which runs as postgres, cannot open it. By then it
/// has truncated the files before it in its order (`base/`, `global/`), so the
/// directory is half rewound: it must be moved aside, never started. The next
/// apply clones into the empty directory left, without `--replace-data`.
#[test]
fn a_rewind_that_fails_part_way_leaves_no_half_rewound_directory() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    let mut diverged = Diverged::new(&lab, "pw-rewind-part-way");
    lab.exec(
        "h1",
        &[
            "sh",
            "-c",
            &format!("chown root:root {DATA}/pg_xact/0000 && chmod 0600 {DATA}/pg_xact/0000"),
        ],
    );

    let failed = diverged.run(&["apply", "--detailed-exitcode"]);
    assert_eq!(failed.code, Some(1), "{failed}");
    assert!(
        failed
            .stdout
            .contains("pg_rewind from 10.77.0.12 failed part way; the data directory is kept as /var/lib/postgresql/15/main.pgconverge-rewind-failed-"),
        "{failed}"
    );
    assert!(
        failed.stdout.contains(&format!(
            "could not open target file \"{DATA}/pg_xact/0000\": Permission denied"
        )),
        "pg_rewind's own error is quoted\n{failed}"
    );
    // Nothing of the half-rewound directory is in use: the data directory is empty,
    // the server does not run, and what pg_rewind left is kept aside.
    let listing = lab.exec("h1", &["ls", "-A", DATA]);
    assert_eq!(listing.trim(), "", "the data directory is left empty");
    assert!(
        lab.try_sql("h1", "select 1").is_err(),
        "no server runs on h1"
    );
    let aside = lab.exec(
        "h1",
        &[
            "sh",
            "-c",
            &format!("ls -d {DATA}.pgconverge-rewind-failed-*"),
        ],
    );
    assert_eq!(aside.lines().count(), 1, "{aside}");
    let aside = aside.trim().to_string();
    assert!(
        lab.exec("h1", &["ls", &format!("{aside}/pg_xact")])
            .contains("0000"),
        "the half-rewound directory is kept whole"
    );
    // pg_rewind truncates each file it copies whole before it fetches it: files it
    // reached before the one it could not open are empty, as it left them.
    let truncated = lab.exec(
        "h1",
        &["find", &aside, "-name", "pg_filenode.map", "-size", "0"],
    );
    assert!(
        !truncated.trim().is_empty(),
        "pg_rewind had changed the directory before it failed"
    );
    let dry_run = diverged.run(&["apply", "--dry-run"]);
    assert!(
        dry_run.stdout.contains(&format!(
            "clone h2 into {DATA} with pg_basebackup ({DATA} holds no cluster)"
        )),
        "the next plan clones into the empty directory\n{dry_run}"
    );
    // An empty directory holds no user data: the clone needs no consent.
    diverged.recovers_by_a_clone(&[]);
    assert!(
        lab.exec("h1", &["ls", "-d", &aside]).contains(&aside),
        "the half-rewound directory is still kept aside"
    );
}
