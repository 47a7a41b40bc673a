//! A real client for the write-loss tests: psql, from the machine, inserting one
//! sequential id per transaction through libpq's multi-host connection string
//! (`target_session_attrs=read-write`), so it writes to whichever member accepts
//! writes, or through another entry point (PgBouncer, `Writer::through`). An id
//! counts as acknowledged only when psql exits 0; every other attempt counts as
//! an error the client saw.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// The lab's first three hosts, as the client connects to them.
pub const LAB_HOSTS: &str = "10.77.0.11,10.77.0.12,10.77.0.13";
/// The client's role and password: the tests create it, and give it INSERT on
/// [`TABLE`]; the inventory lets it in from the machine's bridge address.
pub const USER: &str = "writer";
pub const PASSWORD: &str = "writer-password";
pub const TABLE: &str = "client_writes";
/// The `pg_hba_extra` line that lets the client in.
pub const HBA_LINE: &str = "host postgres writer 10.77.0.1/32 scram-sha-256";
/// The SQL that makes the client's role and table, run on the primary.
pub const SETUP_SQL: &str = "create role writer login password 'writer-password'; create table client_writes (id bigint primary key); grant insert on client_writes to writer";

/// A commit that takes longer than this (a synchronous commit waiting for a
/// standby that is away) is given up: psql is killed, and the id is not
/// acknowledged. No `statement_timeout`: a cancelled wait for synchronous
/// replication still reports the commit as done.
const ONE_INSERT_SECONDS: u64 = 10;

/// What a client saw: the ids it was told were committed, each with when, and
/// when each attempt that failed ended (psql did not exit 0, or was given up).
#[derive(Debug, Default, Clone)]
pub struct Acknowledged {
    pub ids: Vec<u64>,
    pub at: Vec<Instant>,
    pub failed_at: Vec<Instant>,
}

impl Acknowledged {
    /// The longest time between two acknowledged commits.
    pub fn longest_gap(&self) -> Duration {
        self.at
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .max()
            .unwrap_or_default()
    }

    /// The longest time without an acknowledged commit between `from` and
    /// `to`: a gap counts when it overlaps that time.
    pub fn longest_gap_within(&self, from: Instant, to: Instant) -> Duration {
        let mut edges: Vec<Instant> = vec![from];
        edges.extend(self.at.iter().copied().filter(|at| *at > from && *at < to));
        edges.push(to);
        let before = self.at.iter().copied().filter(|at| *at <= from).max();
        let after = self.at.iter().copied().find(|at| *at >= to);
        if let Some(before) = before {
            edges[0] = before;
        }
        if let Some(after) = after
            && let Some(last) = edges.last_mut()
        {
            *last = after;
        }
        edges
            .windows(2)
            .map(|pair| pair[1] - pair[0])
            .max()
            .unwrap_or_default()
    }

    /// The attempts that failed between `from` and `to`.
    pub fn failures_within(&self, from: Instant, to: Instant) -> usize {
        self.failed_at
            .iter()
            .filter(|at| **at >= from && **at <= to)
            .count()
    }

    /// `select count(*)` of the acknowledged ids present in the table.
    pub fn count_present_sql(&self) -> String {
        self.count_present_sql_in(TABLE)
    }

    /// The same for the ids a client wrote into `table`. The ids go as runs of
    /// consecutive ones (`id between A and B`): a long run's tens of thousands
    /// listed one by one outgrow a command line's argument.
    pub fn count_present_sql_in(&self, table: &str) -> String {
        let mut ids = self.ids.clone();
        ids.sort_unstable();
        let mut runs: Vec<(u64, u64)> = Vec::new();
        for id in ids {
            match runs.last_mut() {
                Some((_, last)) if *last == id => {}
                Some((_, last)) if *last + 1 == id => *last = id,
                _ => runs.push((id, id)),
            }
        }
        let condition = if runs.is_empty() {
            "false".to_string()
        } else {
            runs.iter()
                .map(|(first, last)| {
                    if first == last {
                        format!("id = {first}")
                    } else {
                        format!("id between {first} and {last}")
                    }
                })
                .collect::<Vec<_>>()
                .join(" or ")
        };
        format!("select count(*) from {table} where {condition}")
    }
}

/// A client writing in a thread of its own until [`Writer::stop`].
pub struct Writer {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Acknowledged>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// The client of the members: [`USER`] on every one of [`LAB_HOSTS`], libpq
    /// picking the one that accepts writes.
    pub fn start() -> Writer {
        let conninfo = format!(
            "host={LAB_HOSTS} port=5432 dbname=postgres user={USER} target_session_attrs=read-write connect_timeout=2"
        );
        Writer::through(conninfo, PASSWORD.to_string(), TABLE.to_string())
    }

    /// A client that connects with `conninfo` and `password` and inserts into
    /// `table` (PgBouncer's entry point, a role of the test's own).
    pub fn through(conninfo: String, password: String, table: String) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Acknowledged::default()));
        let thread = {
            let stop = Arc::clone(&stop);
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || write_until(&conninfo, &password, &table, &stop, &seen))
        };
        Writer {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    /// What was acknowledged so far (the client goes on).
    pub fn so_far(&self) -> Acknowledged {
        self.seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default()
    }

    pub fn stop(mut self) -> Acknowledged {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            thread.join().expect("the client ends");
        }
        self.so_far()
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn write_until(
    conninfo: &str,
    password: &str,
    table: &str,
    stop: &AtomicBool,
    seen: &Mutex<Acknowledged>,
) {
    let mut id = 0u64;
    while !stop.load(Ordering::Relaxed) {
        id += 1;
        let child = Command::new("psql")
            .args(["-XAtq", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-c"])
            .arg(format!("insert into {table} values ({id})"))
            .env("PGPASSWORD", password)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let Ok(mut child) = child else {
            std::thread::sleep(Duration::from_millis(200));
            continue;
        };
        let ok = committed(&mut child);
        if let Ok(mut seen) = seen.lock() {
            if ok {
                seen.ids.push(id);
                seen.at.push(Instant::now());
            } else {
                seen.failed_at.push(Instant::now());
            }
        }
    }
}

/// Waits for one psql, at most [`ONE_INSERT_SECONDS`]; one still running then is
/// killed and its insert is not acknowledged.
fn committed(child: &mut std::process::Child) -> bool {
    let deadline = Instant::now() + Duration::from_secs(ONE_INSERT_SECONDS);
    while Instant::now() < deadline {
        match child.try_wait() {
            Ok(Some(status)) => return status.success(),
            Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    false
}

/// The URI of the entry point of this kind (`read-write`, `virtual-ip`, ...)
/// that `pgconverge connections --format json` prints for the first cluster of
/// `inventory`, as the client's role in `postgres`; `Err` says why there is none
/// (with the run). It contacts no host: the inventory alone.
pub fn entry_point_uri(inventory: &str, password: &str, kind: &str) -> Result<String, String> {
    let run = super::pgconverge(
        &[
            "connections",
            "-i",
            inventory,
            "--user",
            USER,
            "--dbname",
            "postgres",
            "--format",
            "json",
        ],
        password,
    );
    let document: serde_json::Value = serde_json::from_str(&run.stdout)
        .map_err(|error| format!("connections --format json: {error}\n{run}"))?;
    document["clusters"][0]["entry_points"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|entry| entry["kind"] == kind)
        .and_then(|entry| entry["uri"].as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("no {kind} entry point\n{run}"))
}

#[test]
fn the_acknowledged_ids_go_as_runs() {
    let acknowledged = |ids: Vec<u64>| Acknowledged {
        ids,
        ..Acknowledged::default()
    };
    assert_eq!(
        acknowledged(vec![5, 1, 2, 3, 7, 8]).count_present_sql_in("t"),
        "select count(*) from t where id between 1 and 3 or id = 5 or id between 7 and 8"
    );
    assert_eq!(
        acknowledged(Vec::new()).count_present_sql_in("t"),
        "select count(*) from t where false"
    );
    // 30,000 ids in a row: one run, well under a command line's limit.
    let long = acknowledged((1..=30_000).collect()).count_present_sql_in("t");
    assert_eq!(long, "select count(*) from t where id between 1 and 30000");
}
