//! One run at a time on a host, and a killed run's work ended: on one lab of
//! three hosts, shared by the scenarios in turn (CI's time is short).
//!
//! 1. A link at the lock directory's name: root follows none, and refuses.
//! 2. Two `apply` runs started together on fresh hosts: one converges, the
//!    other stops before changing anything, naming the host and the holder;
//!    a third run changes nothing.
//! 3. The controller killed (SIGKILL) during a base backup of a few hundred MB:
//!    no process of the dead run remains on the controller or the host, the
//!    next `apply` (waiting for the lock if it must) converges, every row is on
//!    the standby, and the run after it changes nothing.
//! 4. A live run that stalls (stopped with its ssh masters, as on a network
//!    that carries nothing for a while) keeps its lock: a run meanwhile waits
//!    and stops, naming it; resumed, the stalled run ends well.
//! 5. A real client (psql, a multi-host connection string with
//!    `target_session_attrs=read-write`, one sequential id per transaction)
//!    writes through a switchover there and back: every acknowledged row is on
//!    every member after, and the longest gap between acknowledged commits is
//!    printed.
//! 6. Applies started again and again while a switchover runs (its promotion,
//!    then its apply that rejoins the old primary): each is refused by the
//!    switchover's lock, which is held from the first part to the end of the
//!    last, or finds nothing to do once it ended; none gets in between.

use crate::support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{Lab, Release, Run, client, lab_available};

const HOSTS: [&str; 3] = ["h1", "h2", "h3"];

/// Starts `pgconverge ARGS` in the background.
fn spawn(args: &[String], password: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_pgconverge"))
        .args(args)
        .env("PG_REPLICATION_PASSWORD", password)
        .env("NO_COLOR", "1")
        .current_dir(support::repository())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run pgconverge: {error}"))
}

fn finish(child: Child) -> Run {
    Run::from(child.wait_with_output().expect("pgconverge runs"))
}

/// The processes whose parent is `pid` (on this machine).
fn children_of(pid: u32) -> Vec<u32> {
    let mut children = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(child) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let status = std::fs::read_to_string(format!("/proc/{child}/status")).unwrap_or_default();
        let parent = status
            .lines()
            .find_map(|line| line.strip_prefix("PPid:"))
            .and_then(|value| value.trim().parse::<u32>().ok());
        if parent == Some(pid) {
            children.push(child);
        }
    }
    children
}

/// Whether process `pid` still runs (a zombie does not).
fn runs(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|stat| {
            let state = stat.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
            state != Some(Some('Z'))
        })
        .unwrap_or(false)
}

/// A shell command run as root inside a host (no ssh login): its output, and
/// whether it succeeded.
fn on_host(lab: &Lab, host: &str, command: &str) -> String {
    lab.exec(host, &["sh", "-c", command])
}

fn root_state(lab: &Lab, host: &str) -> String {
    on_host(
        lab,
        host,
        "cd / && ls -lA /root/bait-dir && stat -c '%n %U %a' /root/bait-dir",
    )
}

#[test]
fn one_run_at_a_time_and_a_killed_run_leaves_nothing_running() {
    if !lab_available() {
        return;
    }
    let release = Release::BOOKWORM_15;
    let lab = Lab::up_on(3, release);
    let directory = tempfile::tempdir().expect("a temporary directory");
    let inventory = release.example_inventory(directory.path());
    let password = support::unique_password("one-run");
    let started = Instant::now();

    links_at_the_lock_s_name_are_refused(&lab, &inventory, &password);
    eprintln!("links: {:.1} s", started.elapsed().as_secs_f64());

    let scenario = Instant::now();
    two_runs_at_once_one_proceeds(&lab, &inventory, &password);
    eprintln!("two at once: {:.1} s", scenario.elapsed().as_secs_f64());

    let scenario = Instant::now();
    a_killed_run_during_a_base_backup_leaves_nothing_running(&lab, &inventory, &password);
    eprintln!(
        "killed during a clone: {:.1} s",
        scenario.elapsed().as_secs_f64()
    );

    let scenario = Instant::now();
    a_stalled_live_run_keeps_its_lock(&lab, &inventory, &password);
    eprintln!("stalled holder: {:.1} s", scenario.elapsed().as_secs_f64());

    let scenario = Instant::now();
    a_client_loses_no_acknowledged_write_through_switchovers(&lab, &inventory, &password);
    eprintln!(
        "client through switchovers: {:.1} s",
        scenario.elapsed().as_secs_f64()
    );

    let scenario = Instant::now();
    no_run_gets_in_between_the_parts_of_a_switchover(&lab, &inventory, &password);
    eprintln!(
        "applies during a switchover: {:.1} s",
        scenario.elapsed().as_secs_f64()
    );
    eprintln!("all: {:.1} s", started.elapsed().as_secs_f64());
}

/// The PostgreSQL OS user cannot write in /run, so a link at the lock's name is
/// root's doing (or a leftover of a compromise); planted as root it is still
/// never followed, nor a directory someone else owns used.
fn links_at_the_lock_s_name_are_refused(lab: &Lab, inventory: &str, password: &str) {
    for host in HOSTS {
        on_host(
            lab,
            host,
            "mkdir -p /root/bait-dir && chmod 0700 /root/bait-dir && echo bait > /root/bait-dir/bait",
        );
        let attempt = lab.exec(
            host,
            &[
                "sh",
                "-c",
                "cd / && if runuser -u postgres -- ln -s /root/bait-dir /run/pgconverge 2>/dev/null; then echo planted; else echo refused; fi",
            ],
        );
        assert_eq!(
            attempt.trim(),
            "refused",
            "postgres may write in /run on {host}"
        );
    }
    let before = root_state(lab, "h2");
    on_host(lab, "h2", "ln -s /root/bait-dir /run/pgconverge");
    let refused = lab.apply(inventory, password, &[]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused
            .stderr
            .contains("cannot take the run lock on h2: /run/pgconverge is not a directory of root's with mode 0700; nothing was changed"),
        "{refused}"
    );
    assert_eq!(root_state(lab, "h2"), before, "root followed the link");
    // A real directory of the PostgreSQL OS user's at that name.
    on_host(
        lab,
        "h2",
        "rm /run/pgconverge && mkdir -m 0700 /run/pgconverge && chown postgres /run/pgconverge",
    );
    let refused = lab.apply(inventory, password, &[]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused
            .stderr
            .contains("/run/pgconverge is not a directory of root's"),
        "{refused}"
    );
    assert_eq!(
        on_host(lab, "h2", "ls -A /run/pgconverge | wc -l").trim(),
        "0",
        "root wrote into a directory postgres owns"
    );
    on_host(lab, "h2", "rmdir /run/pgconverge");
    // h1 was locked and let go before h2 refused: its lock is free again.
    assert_eq!(
        on_host(lab, "h1", "flock -n /run/pgconverge/lock true && echo free").trim(),
        "free"
    );
}

fn two_runs_at_once_one_proceeds(lab: &Lab, inventory: &str, password: &str) {
    let args = lab.apply_arguments(inventory, &[]);
    let first = spawn(&args, password);
    let second = spawn(&args, password);
    let runs = [finish(first), finish(second)];
    let proceeded: Vec<&Run> = runs.iter().filter(|run| run.code == Some(2)).collect();
    let stopped: Vec<&Run> = runs.iter().filter(|run| run.code == Some(1)).collect();
    assert!(
        proceeded.len() == 1 && stopped.len() == 1,
        "exactly one run proceeds:\n{}\n{}",
        runs[0],
        runs[1]
    );
    let stopped = stopped[0];
    assert!(
        stopped.stderr.contains("h1 is locked by ")
            && stopped.stderr.contains("pgconverge apply) since ")
            && stopped.stderr.contains("nothing was changed"),
        "the run that stopped names the host and the holder\n{stopped}"
    );
    assert!(
        !stopped.stderr.contains("Gathered facts") && stopped.stdout.trim().is_empty(),
        "the run that stopped planned nothing\n{stopped}"
    );
    let third = lab.apply(inventory, password, &[]);
    assert_eq!(third.code, Some(0), "a third run changes nothing\n{third}");
    // Every lock was let go with its run, and its record with it.
    for host in HOSTS {
        assert_eq!(
            on_host(
                lab,
                host,
                "flock -n /run/pgconverge/lock true && test ! -e /run/pgconverge/holder && echo free"
            )
            .trim(),
            "free",
            "{host}"
        );
    }
}

fn a_killed_run_during_a_base_backup_leaves_nothing_running(
    lab: &Lab,
    inventory: &str,
    password: &str,
) {
    // About 300 MB on the primary, then h3 without its data directory (moved
    // aside, as a person would): the next apply clones it.
    let rows = 1_200_000;
    lab.exec_sql(
        "h1",
        &format!(
            "create table big as select g as id, repeat('x', 200) as pad from generate_series(1, {rows}) g"
        ),
    );
    on_host(
        lab,
        "h3",
        "pg_ctlcluster 15 main stop && mv -T /var/lib/postgresql/15/main /var/lib/postgresql/15/main.moved-by-test",
    );
    let args = lab.apply_arguments(inventory, &[]);
    let mut run = spawn(&args, password);
    let pid = run.id();
    let staging = "/var/lib/postgresql/15/main.pgconverge-cloning";
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let copied = on_host(
            lab,
            "h3",
            &format!("du -sm {staging} 2>/dev/null | cut -f1 || true"),
        );
        if copied.trim().parse::<u64>().unwrap_or(0) >= 30 {
            break;
        }
        if let Ok(Some(_)) = run.try_wait() {
            panic!(
                "the apply ended before the copy was under way\n{}",
                finish(run)
            );
        }
        assert!(Instant::now() < deadline, "no base backup under way");
        std::thread::sleep(Duration::from_millis(100));
    }
    let masters = children_of(pid);
    assert!(
        !masters.is_empty(),
        "pgconverge has its ssh masters as children"
    );
    Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .status()
        .expect("kill runs");
    let killed = finish(run);
    assert_eq!(killed.code, None, "killed by a signal\n{killed}");
    let killed_at = Instant::now();
    // On the controller: the dead run's ssh masters end with it.
    lab.eventually(10, "the dead run's ssh masters end", || {
        masters.iter().all(|master| !runs(*master))
    });
    let controller_seconds = killed_at.elapsed().as_secs_f64();
    // On the host: no pg_basebackup, no session of the run, the lock free.
    lab.eventually(30, "the dead run's scripts on h3 end and its lock is let go", || {
        on_host(
            lab,
            "h3",
            "if pgrep -x pg_basebackup >/dev/null; then echo copying; elif ! flock -n /run/pgconverge/lock true; then echo locked; else echo done; fi",
        )
        .trim()
            == "done"
    });
    let host_seconds = killed_at.elapsed().as_secs_f64();
    eprintln!(
        "after SIGKILL: controller clean in {controller_seconds:.1} s, host clean in {host_seconds:.1} s"
    );
    assert_eq!(
        on_host(
            lab,
            "h3",
            "test -e /var/lib/postgresql/15/main && echo present || echo absent"
        )
        .trim(),
        "absent",
        "a copy cut short is never at the data directory's name"
    );
    let next = lab.apply(inventory, password, &["--lock-timeout", "60"]);
    assert!(
        matches!(next.code, Some(0) | Some(2)),
        "the next apply converges\n{next}"
    );
    lab.eventually(60, "every row is on h3", || {
        lab.try_sql("h3", "select count(*) from big")
            .is_ok_and(|count| count == rows.to_string())
    });
    let after = lab.apply(inventory, password, &[]);
    assert_eq!(
        after.code,
        Some(0),
        "the run after changes nothing\n{after}"
    );
    assert_eq!(
        on_host(
            lab,
            "h3",
            "test -d /var/lib/postgresql/15/main.moved-by-test && echo kept"
        )
        .trim(),
        "kept",
        "a directory moved aside stays aside"
    );
    lab.exec_sql("h1", "drop table big");
}

fn a_stalled_live_run_keeps_its_lock(lab: &Lab, inventory: &str, password: &str) {
    let mut args = lab.apply_arguments(inventory, &[]);
    args[0] = "restart".to_string();
    args.retain(|arg| arg != "--detailed-exitcode");
    let mut holder = spawn(&args, password);
    let pid = holder.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let record = on_host(lab, "h1", "cat /run/pgconverge/holder 2>/dev/null || true");
        if record.contains(&format!("pid={pid}\n")) {
            break;
        }
        if let Ok(Some(_)) = holder.try_wait() {
            panic!(
                "the restart ended before it was seen holding h1\n{}",
                finish(holder)
            );
        }
        assert!(Instant::now() < deadline, "the restart never held h1");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Stalled: the run and its ssh masters stop; nothing crosses the network.
    let stopped: Vec<u32> = std::iter::once(pid).chain(children_of(pid)).collect();
    let signal = |name: &str| {
        for process in &stopped {
            let _ = Command::new("kill")
                .args([name, &process.to_string()])
                .status();
        }
    };
    signal("-STOP");
    let waited = Instant::now();
    let meanwhile = lab.apply(inventory, password, &["--lock-timeout", "5"]);
    let status = support::pgconverge(
        &[
            "status",
            "-i",
            inventory,
            "--ssh-config",
            &lab.ssh_config().display().to_string(),
        ],
        password,
    );
    std::thread::sleep(Duration::from_secs(20));
    signal("-CONT");
    assert_eq!(meanwhile.code, Some(1), "{meanwhile}");
    assert!(
        waited.elapsed() >= Duration::from_secs(5)
            && meanwhile.stderr.contains("h1 is locked by ")
            && meanwhile
                .stderr
                .contains(&format!("(pid {pid}, pgconverge restart)"))
            && meanwhile.stderr.contains("waiting up to 5 s"),
        "a run meanwhile waits, then stops naming the holder\n{meanwhile}"
    );
    assert!(
        status
            .stderr
            .contains(&format!("(pid {pid}, pgconverge restart)")),
        "status says who holds the lock\n{status}"
    );
    let resumed = finish(holder);
    assert_eq!(
        resumed.code,
        Some(0),
        "the stalled run ends well once resumed\n{resumed}"
    );
}

fn a_client_loses_no_acknowledged_write_through_switchovers(
    lab: &Lab,
    inventory: &str,
    password: &str,
) {
    // The client connects from the machine (the bridge's address) as `writer`.
    let text = std::fs::read_to_string(inventory).expect("the inventory");
    std::fs::write(
        inventory,
        text.replacen(
            "    replication_user: replicator\n",
            &format!(
                "    replication_user: replicator\n    pg_hba_extra:\n      - {}\n",
                client::HBA_LINE
            ),
            1,
        ),
    )
    .expect("the inventory is written");
    let access = lab.apply(inventory, password, &[]);
    assert_eq!(access.code, Some(2), "{access}");
    lab.exec_sql("h1", client::SETUP_SQL);
    let switch = |to: &str| {
        support::pgconverge(
            &[
                "switchover",
                to,
                "-i",
                inventory,
                "--ssh-config",
                &lab.ssh_config().display().to_string(),
                "--connect-timeout",
                "3",
            ],
            password,
        )
    };
    let writer = client::Writer::start();
    std::thread::sleep(Duration::from_secs(2));
    let there = switch("h2");
    let back = if there.code == Some(0) {
        std::thread::sleep(Duration::from_secs(2));
        Some(switch("h1"))
    } else {
        None
    };
    std::thread::sleep(Duration::from_secs(2));
    let acknowledged = writer.stop();
    assert_eq!(there.code, Some(0), "switchover to h2\n{there}");
    let back = back.expect("switched there");
    assert_eq!(back.code, Some(0), "switchover back to h1\n{back}");
    assert!(
        acknowledged.ids.len() > 20,
        "the client wrote: {} rows acknowledged",
        acknowledged.ids.len()
    );
    let wanted = acknowledged.ids.len().to_string();
    let present = acknowledged.count_present_sql();
    for host in HOSTS {
        lab.eventually(30, &format!("every acknowledged row on {host}"), || {
            lab.try_sql(host, &present)
                .is_ok_and(|count| count == wanted)
        });
    }
    eprintln!(
        "client through a switchover there and back: {} rows acknowledged, none lost; longest gap between acknowledged commits {:.2} s",
        acknowledged.ids.len(),
        acknowledged.longest_gap().as_secs_f64()
    );
}

fn no_run_gets_in_between_the_parts_of_a_switchover(lab: &Lab, inventory: &str, password: &str) {
    let switchover: Vec<String> = [
        "switchover",
        "h2",
        "-i",
        inventory,
        "--ssh-config",
        &lab.ssh_config().display().to_string(),
    ]
    .iter()
    .map(|arg| arg.to_string())
    .collect();
    let mut running = spawn(&switchover, password);
    // The applies start once the switchover holds h1's lock: one started
    // before would take it first, and the switchover would rightly stop.
    lab.eventually(30, "the switchover holds h1's lock", || {
        on_host(lab, "h1", "cat /run/pgconverge/holder 2>/dev/null || true")
            .contains("command=switchover")
    });
    let mut refused = 0;
    let mut nothing_to_do = 0;
    // When each refusal says the lock was taken: one time, or the lock was let
    // go and taken again between the parts (each part takes a second or more).
    let mut taken_at: Vec<String> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(180);
    while Instant::now() < deadline {
        if running.try_wait().ok().flatten().is_some() {
            break;
        }
        let apply = lab.apply(inventory, password, &[]);
        match apply.code {
            Some(1) if apply.stderr.contains("pgconverge switchover) since ") => {
                refused += 1;
                let since = apply
                    .stderr
                    .split("pgconverge switchover) since ")
                    .nth(1)
                    .and_then(|rest| rest.split(" UTC").next())
                    .unwrap_or_default()
                    .to_string();
                if !taken_at.contains(&since) {
                    taken_at.push(since);
                }
            }
            Some(0) => nothing_to_do += 1,
            _ => panic!(
                "an apply started during the switchover neither waited for its lock nor found nothing to do\n{apply}"
            ),
        }
    }
    let switched = finish(running);
    assert_eq!(
        switched.code,
        Some(0),
        "the switchover succeeds\n{switched}"
    );
    assert!(
        switched.all().contains("Rejoining h1 as a standby of h2"),
        "the switchover ran its apply\n{switched}"
    );
    assert!(
        refused > 0,
        "at least one apply ran while the switchover did ({nothing_to_do} found nothing to do)"
    );
    assert_eq!(
        taken_at.len(),
        1,
        "the switchover held one lock from its first part to its last, never let go between them: taken at {taken_at:?}"
    );
    eprintln!(
        "applies during the switchover: {refused} refused by its lock (taken once, at {}), {nothing_to_do} after it with nothing to do",
        taken_at[0]
    );
    let back = lab.apply(inventory, password, &[]);
    assert_eq!(back.code, Some(0), "the cluster is converged\n{back}");
}
