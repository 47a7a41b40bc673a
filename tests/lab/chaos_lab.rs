//! Any sequence of role changes and faults converges: seeded random sequences of
//! pgconverge's operations and of faults, on one 3-host lab with synchronous
//! replication (`ANY 1` of the standbys), under a real client's writes.
//!
//! Each sequence starts from a converged cluster whose primary is h1 (a
//! switchover puts it there first), draws its operations from its seed, and
//! runs them one after the other:
//!
//! - a switchover to a standby;
//! - a rolling restart (`pgconverge restart`);
//! - a standby's postmaster killed (a crash), then `apply`;
//! - a standby cut off the network during an `apply` that changes a setting,
//!   then healed, then `apply`;
//! - a failover: the primary's postmaster killed and the host cut off,
//!   `promote --write-inventory` of a standby, heal, `apply`;
//! - the controller killed (SIGKILL) during an `apply` that rolls a restart
//!   through the cluster, then `apply`.
//!
//! Checked after every operation: one `apply` converges the cluster and the next
//! changes nothing; `status` finds nothing to disagree with; exactly one host
//! accepts writes, the one the inventory names, and every standby streams from
//! it. Checked all along (sampled about once a second on every host): never two
//! writable hosts in two sweeps running. Checked after each sequence: every
//! write the client saw acknowledged is on the primary and on every standby
//! (the cluster is synchronous, so a failover loses none either).
//!
//! Reproducible: the run prints its seed and each sequence's operations, and a
//! failure names them. `PGCONVERGE_CHAOS_SEED` sets the seed (20261207 by default),
//! `PGCONVERGE_CHAOS_SEQUENCES` (2 here, for CI) and `PGCONVERGE_CHAOS_OPERATIONS`
//! (3) the size; `tests/chaos.sh COUNT [SEED]` is the long form.
//!
//! Before the sequences, the regressions of what the suite found, by name, and
//! the controller interrupted (SIGINT) during a rolling restart and during a
//! rejoin with pg_rewind, not left to chance.

use crate::support;

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{Lab, Release, Run, client, lab_available};

const HOSTS: [&str; 3] = ["h1", "h2", "h3"];

/// A lab host's address: h1 is 10.77.0.11.
fn address_of(host: &str) -> String {
    format!(
        "10.77.0.{}",
        10 + host.trim_start_matches('h').parse::<u32>().unwrap_or(0)
    )
}

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// One operation of a sequence. Which standby it concerns is drawn as an index
/// into the standbys of the moment (sorted by name), so a seed gives the same
/// operations whichever host is primary.
#[derive(Debug, Clone, Copy)]
enum Operation {
    Switchover {
        standby: usize,
    },
    RollingRestart,
    StandbyCrash {
        standby: usize,
    },
    StandbyCutDuringApply {
        standby: usize,
        after_ms: u64,
    },
    Failover {
        standby: usize,
        /// The apply that rejoins the old primary (a pg_rewind) interrupted
        /// this long after it started, by this signal.
        rejoin_interrupted: Option<(u64, Signal)>,
    },
    ControllerKilledDuringApply {
        after_ms: u64,
        signal: Signal,
    },
    /// A setting only a restart applies changed, applied with
    /// `--restart-primary switchover`: the primary role moves to a standby.
    RestartPrimaryBySwitchover,
}

/// How the controller is stopped: as by `kill -9`, Ctrl-C, or a service manager.
#[derive(Debug, Clone, Copy)]
enum Signal {
    Kill,
    Interrupt,
    Terminate,
}

impl Signal {
    fn draw(rng: &mut StdRng) -> Signal {
        match rng.random_range(0..3) {
            0 => Signal::Kill,
            1 => Signal::Interrupt,
            _ => Signal::Terminate,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Signal::Kill => "KILL",
            Signal::Interrupt => "INT",
            Signal::Terminate => "TERM",
        }
    }
}

impl Operation {
    fn kind(&self) -> &'static str {
        match self {
            Operation::Switchover { .. } => "switchover",
            Operation::RollingRestart => "rolling restart",
            Operation::StandbyCrash { .. } => "standby crashed, then apply",
            Operation::StandbyCutDuringApply { .. } => "standby cut during an apply",
            Operation::Failover { .. } => "failover (primary killed and cut, promote, apply)",
            Operation::ControllerKilledDuringApply { .. } => "controller killed during an apply",
            Operation::RestartPrimaryBySwitchover => "apply --restart-primary switchover",
        }
    }

    fn draw(rng: &mut StdRng) -> Operation {
        let standby = rng.random_range(0..2);
        match rng.random_range(0..7) {
            0 => Operation::Switchover { standby },
            1 => Operation::RollingRestart,
            2 => Operation::StandbyCrash { standby },
            3 => Operation::StandbyCutDuringApply {
                standby,
                after_ms: rng.random_range(0..2000),
            },
            4 => Operation::Failover {
                standby,
                rejoin_interrupted: if rng.random_bool(0.5) {
                    Some((rng.random_range(200..3000), Signal::draw(rng)))
                } else {
                    None
                },
            },
            5 => Operation::ControllerKilledDuringApply {
                after_ms: rng.random_range(500..6000),
                signal: Signal::draw(rng),
            },
            _ => Operation::RestartPrimaryBySwitchover,
        }
    }
}

/// The sequence's seed for its index: a sequence reproduces alone from it.
fn sequence_seed(seed: u64, index: u64) -> u64 {
    seed.wrapping_add(index.wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// Samples every host's `pg_is_in_recovery()` about once a second, from the
/// machine (through the hosts' namespaces, so a cut host is seen too), and
/// records each time two hosts were writable in two sweeps running.
struct WritableSampler {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<String>>>,
    thread: Option<std::thread::JoinHandle<u64>>,
}

impl WritableSampler {
    /// At most this many sweeps (a bound: a day of sweeps).
    const MOST_SWEEPS: u64 = 86_400;

    fn start() -> WritableSampler {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let thread = {
            let stop = Arc::clone(&stop);
            let seen = Arc::clone(&seen);
            std::thread::spawn(move || {
                let mut previous: Vec<&str> = Vec::new();
                let mut sweeps = 0;
                while !stop.load(Ordering::Relaxed) && sweeps < Self::MOST_SWEEPS {
                    sweeps += 1;
                    let writable: Vec<&str> = HOSTS
                        .iter()
                        .copied()
                        .filter(|host| writable(host))
                        .collect();
                    if writable.len() > 1
                        && previous.len() > 1
                        && let Ok(mut seen) = seen.lock()
                    {
                        seen.push(format!(
                            "sweeps {} and {sweeps}: writable {previous:?}, then {writable:?}",
                            sweeps - 1
                        ));
                    }
                    previous = writable;
                    std::thread::sleep(Duration::from_millis(500));
                }
                sweeps
            })
        };
        WritableSampler {
            stop,
            seen,
            thread: Some(thread),
        }
    }

    fn two_writable(&self) -> Vec<String> {
        self.seen
            .lock()
            .map(|seen| seen.clone())
            .unwrap_or_default()
    }

    fn stop(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .map(|thread| thread.join().expect("the sampler ends"))
            .unwrap_or(0)
    }
}

/// Whether HOST's server answers and accepts writes (bounded: 5 s).
fn writable(host: &str) -> bool {
    Command::new("bash")
        .arg(support::repository().join("tests/lab/lab.sh"))
        .args([
            "exec",
            host,
            "timeout",
            "5",
            "runuser",
            "-u",
            "postgres",
            "--",
            "psql",
            "-XAtq",
            "-d",
            "postgres",
            "-c",
            "select pg_is_in_recovery()",
        ])
        .env("PGCONVERGE_LAB_LOCK_HELD", "1")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .is_ok_and(|output| {
            output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "f"
        })
}

/// The run: the lab, its inventory, and what happened so far (for a failure's
/// message).
struct Chaos<'a> {
    lab: &'a Lab,
    inventory: String,
    password: String,
    /// The primary the inventory names now.
    primary: String,
    history: Vec<String>,
    /// `work_mem` and `max_connections` as the inventory sets them now: the
    /// operations that need an apply with something to do change them.
    work_mem_mb: u32,
    max_connections: u32,
}

impl Chaos<'_> {
    fn fail(&self, what: &str) -> ! {
        panic!(
            "{what}\n--- what ran, in order (reproduce with the seed and operations above)\n{}",
            self.history.join("\n")
        );
    }

    fn note(&mut self, line: String) {
        eprintln!("{line}");
        self.history.push(line);
    }

    fn arguments(&self, args: &[&str]) -> Vec<String> {
        let mut all: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
        all.extend(
            [
                "-i",
                &self.inventory,
                "--ssh-config",
                &self.lab.ssh_config().display().to_string(),
                "--connect-timeout",
                "3",
            ]
            .map(str::to_string),
        );
        all
    }

    fn run(&mut self, args: &[&str]) -> Run {
        let started = Instant::now();
        let all = self.arguments(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let run = support::pgconverge(&all, &self.password);
        self.note(format!(
            "  pgconverge {}: exit {:?} in {:.1} s",
            args.join(" "),
            run.code,
            started.elapsed().as_secs_f64()
        ));
        run
    }

    fn spawn(&mut self, args: &[&str]) -> Child {
        self.note(format!(
            "  pgconverge {} (in the background)",
            args.join(" ")
        ));
        Command::new(env!("CARGO_BIN_EXE_pgconverge"))
            .args(self.arguments(args))
            .env("PG_REPLICATION_PASSWORD", &self.password)
            .env("NO_COLOR", "1")
            .current_dir(support::repository())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run pgconverge: {error}"))
    }

    /// The standbys of the moment, by name.
    fn standbys(&self) -> Vec<&'static str> {
        HOSTS
            .iter()
            .copied()
            .filter(|host| *host != self.primary)
            .collect()
    }

    fn standby(&self, index: usize) -> &'static str {
        self.standbys()[index % 2]
    }

    fn lab_command(&mut self, args: &[&str]) {
        self.note(format!("  lab.sh {}", args.join(" ")));
        self.lab.command(args);
    }

    fn kill_postmaster(&mut self, host: &str) {
        let data = Release::BOOKWORM_15.data_dir();
        self.note(format!("  kill -9 {host}'s postmaster"));
        self.lab.exec(
            host,
            &[
                "sh",
                "-c",
                &format!("kill -9 \"$(head -n 1 {data}/postmaster.pid)\""),
            ],
        );
        for _ in 0..30 {
            if self.lab.try_sql(host, "select 1").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        self.fail(&format!(
            "{host}'s server still answers 30 s after its postmaster was killed"
        ));
    }

    /// Rewrites one line of the inventory (a setting the next apply changes).
    fn edit_inventory(&mut self, from: &str, to: &str) {
        let text = std::fs::read_to_string(&self.inventory).expect("the inventory");
        assert!(text.contains(from), "the inventory has `{from}`\n{text}");
        std::fs::write(&self.inventory, text.replacen(from, to, 1)).expect("the inventory");
        self.note(format!("  inventory: `{}` -> `{}`", from.trim(), to.trim()));
    }

    fn change_work_mem(&mut self) {
        let next = if self.work_mem_mb == 4 { 5 } else { 4 };
        self.edit_inventory(
            &format!("      work_mem: {}MB\n", self.work_mem_mb),
            &format!("      work_mem: {next}MB\n"),
        );
        self.work_mem_mb = next;
    }

    fn change_max_connections(&mut self) {
        let next = if self.max_connections == 100 {
            110
        } else {
            100
        };
        self.edit_inventory(
            &format!("    max_connections: {}\n", self.max_connections),
            &format!("    max_connections: {next}\n"),
        );
        self.max_connections = next;
    }

    /// Waits, bounded, for a background run; kills it when it takes too long.
    fn finish(&mut self, mut child: Child, most_seconds: u64) -> Run {
        let deadline = Instant::now() + Duration::from_secs(most_seconds);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                let run = Run::from(child.wait_with_output().expect("pgconverge ran"));
                self.note(format!("  the background run ended: exit {:?}", run.code));
                return run;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        let _ = child.kill();
        let run = Run::from(child.wait_with_output().expect("pgconverge ran"));
        self.fail(&format!(
            "a background run still ran after {most_seconds} s\n{run}"
        ));
    }

    /// One apply converges the cluster (a waiting lock is waited for), the next
    /// changes nothing, and the cluster is as the inventory says.
    fn converge(&mut self) {
        let first = self.run(&["apply", "--detailed-exitcode", "--lock-timeout", "60"]);
        if !matches!(first.code, Some(0 | 2)) {
            self.fail(&format!("the apply after the operation failed\n{first}"));
        }
        let second = self.run(&["apply", "--detailed-exitcode"]);
        if second.code != Some(0) {
            self.fail(&format!(
                "the apply after the converging one still changes something\n{second}\n--- the converging apply\n{first}"
            ));
        }
        self.as_the_inventory_says();
    }

    /// `status` agrees with the inventory, and, read independently on the hosts:
    /// the inventory's primary is the one writable host and every standby streams
    /// from it.
    fn as_the_inventory_says(&mut self) {
        let (status, inventory_primary) = self.status_and_inventory_primary();
        if inventory_primary != self.primary {
            self.fail(&format!(
                "the inventory names {inventory_primary} as primary, not {}",
                self.primary
            ));
        }
        if status.code != Some(0) {
            self.fail(&format!("status disagrees with the inventory\n{status}"));
        }
        let writable: Vec<&str> = HOSTS
            .iter()
            .copied()
            .filter(|host| writable(host))
            .collect();
        if writable != [self.primary.as_str()] {
            self.fail(&format!(
                "writable hosts: {writable:?}; the inventory's primary is {}",
                self.primary
            ));
        }
        let streaming = self.lab.try_sql(
            &self.primary,
            "select string_agg(application_name, ',' order by application_name) from pg_stat_replication where state = 'streaming'",
        );
        let wanted = self.standbys().join(",");
        if streaming.as_deref() != Ok(wanted.as_str()) {
            self.fail(&format!(
                "the primary {} sends to {streaming:?}, not to every standby ({wanted})",
                self.primary
            ));
        }
    }

    fn switchover(&mut self, to: &str) {
        let run = self.run(&["switchover", to]);
        if run.code != Some(0) {
            self.fail(&format!("the switchover to {to} failed\n{run}"));
        }
        self.primary = to.to_string();
    }

    fn apply_operation(&mut self, operation: Operation) {
        match operation {
            Operation::Switchover { standby } => {
                let to = self.standby(standby);
                self.switchover(to);
            }
            Operation::RollingRestart => {
                let run = self.run(&["restart"]);
                if run.code != Some(0) {
                    self.fail(&format!("the rolling restart failed\n{run}"));
                }
                self.standbys_stream_right_after("the rolling restart");
            }
            Operation::StandbyCrash { standby } => {
                let host = self.standby(standby);
                self.kill_postmaster(host);
            }
            Operation::StandbyCutDuringApply { standby, after_ms } => {
                let host = self.standby(standby);
                self.change_work_mem();
                let child = self.spawn(&["apply"]);
                std::thread::sleep(Duration::from_millis(after_ms));
                self.lab_command(&["cut", host]);
                // Whatever it did: it may have finished before the cut, or
                // failed on the cut host.
                let run = self.finish(child, 180);
                if !matches!(run.code, Some(0 | 1)) {
                    self.fail(&format!("the apply during the cut ended badly\n{run}"));
                }
                self.lab_command(&["heal", host]);
            }
            Operation::Failover {
                standby,
                rejoin_interrupted,
            } => {
                let old = self.fail_over(standby);
                self.lab_command(&["heal", &old]);
                if let Some((after_ms, signal)) = rejoin_interrupted {
                    self.interrupted_apply(&["apply"], after_ms, signal);
                }
            }
            Operation::ControllerKilledDuringApply { after_ms, signal } => {
                self.change_max_connections();
                self.interrupted_apply(&["apply"], after_ms, signal);
            }
            Operation::RestartPrimaryBySwitchover => {
                self.change_max_connections();
                let run = self.run(&["apply", "--restart-primary", "switchover"]);
                if run.code != Some(0) {
                    self.fail(&format!("apply --restart-primary switchover failed\n{run}"));
                }
                self.primary = self.inventory_primary();
            }
        }
        self.converge();
    }

    /// The primary killed and cut off, a standby (the one of this index, or the
    /// other where this one received less WAL) promoted with
    /// `--write-inventory`; the old primary, still cut off, is returned.
    fn fail_over(&mut self, standby: usize) -> String {
        let old = self.primary.clone();
        let candidates = [self.standby(standby), self.standby(standby + 1)];
        self.kill_postmaster(&old);
        self.lab_command(&["cut", &old]);
        let mut promoted = None;
        for candidate in candidates {
            let run = self.run(&["promote", candidate, "--write-inventory"]);
            if run.code == Some(0) {
                promoted = Some(candidate);
                break;
            }
            // The one refusal that is right here: the other standby
            // received more WAL (promoting this one would lose it).
            if !run.all().contains("received more WAL") {
                self.fail(&format!("the promotion of {candidate} failed\n{run}"));
            }
        }
        let Some(promoted) = promoted else {
            self.fail("neither standby could be promoted");
        };
        self.primary = promoted.to_string();
        self.read_write_entry_point_reaches_the_primary();
        old
    }

    /// Right after a promotion, before anything else changed: the read-write URI
    /// `pgconverge connections` prints reaches the new primary.
    fn read_write_entry_point_reaches_the_primary(&mut self) {
        let uri = client::entry_point_uri(&self.inventory, &self.password, "read-write")
            .map(|uri| format!("{uri}&connect_timeout=2"))
            .unwrap_or_else(|error| self.fail(&error));
        let output = Command::new("psql")
            .args(["-XAtq", "-d", &uri, "-c"])
            .arg("select inet_server_addr()::text || ' ' || pg_is_in_recovery()")
            .env("PGPASSWORD", client::PASSWORD)
            .stdin(Stdio::null())
            .output()
            .expect("psql runs");
        let answer = String::from_utf8_lossy(&output.stdout).trim().to_string();
        let wanted = format!("{}/32 false", address_of(&self.primary));
        if answer != wanted {
            self.fail(&format!(
                "the read-write URI {uri} reached `{answer}`, not the new primary {} (`{wanted}`): {}",
                self.primary,
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        self.note(format!("  the read-write URI reaches {}", self.primary));
    }

    /// Starts `pgconverge ARGS`, stops it with SIGNAL after `after_ms`, and
    /// waits for it (bounded).
    fn interrupted_apply(&mut self, args: &[&str], after_ms: u64, signal: Signal) {
        let child = self.spawn(args);
        std::thread::sleep(Duration::from_millis(after_ms));
        let sent = Command::new("kill")
            .args(["-s", signal.name(), &child.id().to_string()])
            .status()
            .is_ok_and(|status| status.success());
        self.note(format!(
            "  SIG{} to it after {after_ms} ms ({})",
            signal.name(),
            if sent { "sent" } else { "it had ended" }
        ));
        self.finish(child, 120);
    }

    /// The primary the inventory names, as `status` reads it.
    fn inventory_primary(&mut self) -> String {
        self.status_and_inventory_primary().1
    }

    /// `status --format json` (its exit code says whether anything disagrees
    /// with the inventory), and the one primary the inventory names.
    fn status_and_inventory_primary(&mut self) -> (Run, String) {
        let status = self.run(&["status", "--format", "json"]);
        let report: serde_json::Value = serde_json::from_str(&status.stdout)
            .unwrap_or_else(|error| self.fail(&format!("status --format json: {error}\n{status}")));
        let primaries: Vec<String> = report["hosts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|host| host["inventory_role"] == "primary")
            .filter_map(|host| host["name"].as_str().map(str::to_string))
            .collect();
        match primaries.as_slice() {
            [one] => {
                let one = one.clone();
                (status, one)
            }
            _ => self.fail(&format!("the inventory names {primaries:?} as primary")),
        }
    }

    /// Right after a run that restarted the primary said it was complete, every
    /// standby streams from it (it used to say so while they reconnected).
    fn standbys_stream_right_after(&mut self, what: &str) {
        let streaming = self.lab.try_sql(
            &self.primary,
            "select count(*) from pg_stat_replication where state = 'streaming'",
        );
        if streaming.as_deref() != Ok("2") {
            self.fail(&format!(
                "right after {what}, {streaming:?} standbys stream from the primary {}, not 2",
                self.primary
            ));
        }
    }
}

#[test]
fn any_sequence_of_role_changes_and_faults_converges() {
    if !lab_available() {
        return;
    }
    // CI's short form runs a fixed seed, whose sequences the long run passed;
    // `tests/chaos.sh` draws a new one by default. (Seed 1796500001, drawn by a
    // CI run, found a rejoin that fails once after a killed apply: issue 32.)
    let seed = setting("PGCONVERGE_CHAOS_SEED", 20_261_207);
    let sequences = setting("PGCONVERGE_CHAOS_SEQUENCES", 2);
    // The index of the first sequence: a long run stopped after sequence N goes
    // on, with the same seed, from N + 1.
    let first = setting("PGCONVERGE_CHAOS_FIRST", 0);
    let operations = setting("PGCONVERGE_CHAOS_OPERATIONS", 3);
    let release = Release::BOOKWORM_15;
    let lab = Lab::up_on(3, release);
    let directory = tempfile::tempdir().expect("a temporary directory");
    let inventory = release.example_inventory(directory.path());
    let text = std::fs::read_to_string(&inventory).expect("the inventory");
    std::fs::write(
        &inventory,
        text.replacen(
            "    replication_user: replicator\n",
            &format!(
                "    replication_user: replicator\n    replication_mode: synchronous\n    synchronous_method: any\n    synchronous_count: 1\n    max_connections: 100\n    pg_settings:\n      work_mem: 4MB\n    pg_hba_extra:\n      - {}\n",
                client::HBA_LINE
            ),
            1,
        ),
    )
    .expect("the inventory is written");
    let mut chaos = Chaos {
        lab: &lab,
        inventory,
        password: support::unique_password("chaos"),
        primary: "h1".to_string(),
        history: Vec::new(),
        work_mem_mb: 4,
        max_connections: 100,
    };
    let started = Instant::now();
    chaos.note(format!(
        "chaos: seed {seed}, {sequences} sequences of {operations} operations from sequence {first}"
    ));
    chaos.converge();
    lab.exec_sql("h1", client::SETUP_SQL);

    a_primary_restart_is_complete_once_its_standbys_stream_again(&mut chaos);
    a_role_change_never_restarts_the_new_primary(&mut chaos);
    a_standby_that_crashes_after_a_role_change_converges(&mut chaos);
    a_stopped_standby_starts_below_the_limits_its_primary_last_logged(&mut chaos);
    an_interrupted_controller_leaves_nothing_the_next_apply_cannot_finish(&mut chaos);
    a_rewind_cut_short_is_cloned_by_the_next_apply(&mut chaos);
    a_server_a_killed_run_left_starting_is_stopped_before_the_rewind(&mut chaos);

    let writer = client::Writer::start();
    let sampler = WritableSampler::start();
    // Per kind of operation: the longest write outage the client saw, and how
    // many ran.
    let mut gaps: std::collections::BTreeMap<&str, (Duration, u32)> =
        std::collections::BTreeMap::new();
    for index in first..first + sequences {
        let sequence_seed = sequence_seed(seed, index);
        let mut rng = StdRng::seed_from_u64(sequence_seed);
        let drawn: Vec<Operation> = (0..operations).map(|_| Operation::draw(&mut rng)).collect();
        chaos.note(format!(
            "sequence {index} (PGCONVERGE_CHAOS_SEED={sequence_seed} PGCONVERGE_CHAOS_SEQUENCES=1): {drawn:?}"
        ));
        if chaos.primary != "h1" {
            chaos.note("  back to h1 first".to_string());
            chaos.switchover("h1");
            chaos.converge();
        }
        for operation in drawn {
            let at = Instant::now();
            chaos.note(format!("{operation:?}"));
            chaos.apply_operation(operation);
            let gap = writer.so_far().longest_gap_within(at, Instant::now());
            chaos.note(format!(
                "  done in {:.1} s; longest gap between acknowledged commits {:.2} s",
                at.elapsed().as_secs_f64(),
                gap.as_secs_f64()
            ));
            let worst = gaps.entry(operation.kind()).or_insert((Duration::ZERO, 0));
            *worst = (worst.0.max(gap), worst.1 + 1);
            let two = sampler.two_writable();
            if !two.is_empty() {
                chaos.fail(&format!("two hosts accepted writes at once: {two:?}"));
            }
        }
        let acknowledged = writer.so_far();
        let wanted = acknowledged.ids.len().to_string();
        let present = acknowledged.count_present_sql();
        let primary = chaos.primary.clone();
        // On the primary, and on every standby once it replayed them.
        for host in HOSTS {
            let mut found = String::new();
            for _ in 0..30 {
                found = lab.try_sql(host, &present).unwrap_or_default();
                if found == wanted {
                    break;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
            if found != wanted {
                chaos.fail(&format!(
                    "{host} has {found} of the {wanted} acknowledged writes (the primary is {primary})"
                ));
            }
        }
        chaos.note(format!(
            "sequence {index}: converged; {wanted} acknowledged writes so far, all on every member; longest gap between acknowledged commits {:.2} s",
            acknowledged.longest_gap().as_secs_f64()
        ));
    }
    let acknowledged = writer.stop();
    let sweeps = sampler.stop();
    assert!(
        acknowledged.ids.len() > 20 || sequences == 0,
        "the client wrote: {} rows acknowledged",
        acknowledged.ids.len()
    );
    assert!(sweeps > 0 || sequences == 0, "the sampler swept the hosts");
    eprintln!(
        "chaos: seed {seed}: {sequences} sequences of {operations} operations converged in {:.0} s; {} writes acknowledged, none lost; {sweeps} sweeps, never two writable hosts",
        started.elapsed().as_secs_f64(),
        acknowledged.ids.len()
    );
    for (kind, (gap, count)) in &gaps {
        eprintln!(
            "chaos: {kind} ({count}): longest gap between acknowledged commits {:.2} s",
            gap.as_secs_f64()
        );
    }
}

/// Regression: a restart of the primary (a rolling restart, or an apply that
/// changes a setting only a restart applies) said "complete" while its standbys
/// were still reconnecting, and a switchover a second later was refused. Now
/// the primary's restart ends once they stream again.
fn a_primary_restart_is_complete_once_its_standbys_stream_again(chaos: &mut Chaos) {
    chaos.note(
        "regression: a primary's restart completes once its standbys stream again".to_string(),
    );
    let restart = chaos.run(&["restart"]);
    if restart.code != Some(0) {
        chaos.fail(&format!("the rolling restart failed\n{restart}"));
    }
    chaos.standbys_stream_right_after("`pgconverge restart`");
    if !restart.all().contains("stream from it again") {
        chaos.fail(&format!(
            "the primary's restart says its standbys stream again\n{restart}"
        ));
    }
    chaos.change_max_connections();
    let apply = chaos.run(&["apply", "--detailed-exitcode"]);
    if apply.code != Some(2) {
        chaos.fail(&format!("the apply that restarts every member\n{apply}"));
    }
    chaos.standbys_stream_right_after("an apply that restarted every member");
    chaos.converge();
}

/// Regression: after every switchover (and every promote and its apply) the
/// next apply planned a reload of the new primary and then restarted it
/// (`recovery_target_timeline` written only on standbys): a second outage
/// right after the first, which the plan did not show. Both are checked: a
/// switchover, then a promote and the apply after it.
fn a_role_change_never_restarts_the_new_primary(chaos: &mut Chaos) {
    chaos.note("regression: a role change never restarts the new primary".to_string());
    let started = chaos
        .lab
        .exec_sql("h2", "select pg_postmaster_start_time()");
    chaos.switchover("h2");
    let after = chaos
        .lab
        .exec_sql("h2", "select pg_postmaster_start_time()");
    if after != started {
        chaos.fail(&format!(
            "the switchover restarted the new primary h2 (started {started}, now {after})"
        ));
    }
    chaos.converge();
    // A promote, then the apply that rejoins the old primary: the promoted
    // standby keeps the postmaster it had right after its promotion.
    let old = chaos.fail_over(0);
    let promoted = chaos.primary.clone();
    let started = chaos
        .lab
        .exec_sql(&promoted, "select pg_postmaster_start_time()");
    chaos.lab_command(&["heal", &old]);
    chaos.converge();
    let after = chaos
        .lab
        .exec_sql(&promoted, "select pg_postmaster_start_time()");
    if after != started {
        chaos.fail(&format!(
            "the apply after the promotion restarted the new primary {promoted} (started {started}, now {after})"
        ));
    }
    chaos.note(format!(
        "  {promoted} kept the postmaster it had right after its promotion"
    ));
}

/// Regression: a standby that had been through a role change and then crashed
/// was planned a pg_rewind whose crash recovery ran in single-user mode, which
/// refuses standby.signal: every apply failed, for good. Here h1, rejoined as
/// a standby of h2 by the switchover before, is killed.
fn a_standby_that_crashes_after_a_role_change_converges(chaos: &mut Chaos) {
    chaos.note(
        "regression: a standby that crashes after a role change is brought back by the next apply"
            .to_string(),
    );
    let standby = chaos.standby(0);
    chaos.kill_postmaster(standby);
    chaos.converge();
}

/// Regression: a standby that is down while an apply lowers a hot-standby limit
/// (here `max_connections` 110 to 100; the chaos suite found it after a
/// controller killed during such an apply) was started with the lower value
/// before it had replayed its primary's: PostgreSQL stopped it at once
/// ("recovery aborted because of insufficient parameter settings"), the step
/// rolled back and the apply failed. Now it is started with the limits its
/// control file holds until it has replayed the primary's, then with its
/// configuration.
fn a_stopped_standby_starts_below_the_limits_its_primary_last_logged(chaos: &mut Chaos) {
    chaos.note(
        "regression: a stopped standby starts below the hot-standby limits its primary last logged"
            .to_string(),
    );
    if chaos.max_connections != 110 {
        chaos.change_max_connections();
        chaos.converge();
    }
    let standby = chaos.standby(0);
    chaos.note(format!("  pg_ctlcluster 15 main stop on {standby}"));
    chaos
        .lab
        .exec(standby, &["sh", "-c", "pg_ctlcluster 15 main stop"]);
    chaos.change_max_connections();
    chaos.converge();
}

/// Not left to chance: Ctrl-C (SIGINT) during an apply that rolls a restart
/// through the cluster, and during the apply that rejoins a failed primary with
/// pg_rewind (1.5 s in, once its facts are read); each time the next apply
/// converges and the one after changes nothing.
fn an_interrupted_controller_leaves_nothing_the_next_apply_cannot_finish(chaos: &mut Chaos) {
    chaos.note("scenario: SIGINT during a rolling restart, then during a rejoin".to_string());
    chaos.apply_operation(Operation::ControllerKilledDuringApply {
        after_ms: 4000,
        signal: Signal::Interrupt,
    });
    chaos.apply_operation(Operation::Failover {
        standby: 0,
        rejoin_interrupted: Some((1500, Signal::Interrupt)),
    });
}

/// Regression (seed 1796500001, sequence 0, drawn by a CI run): the apply that
/// rejoins a failed primary killed while its pg_rewind copied left a half
/// rewound directory, whose timeline history pg_rewind had begun to replace;
/// the next apply failed (`pg_rewind --dry-run`: "could not find common
/// ancestor"). Now a mark beside the directory outlives such a run, and the
/// next apply clones instead. Here the new primary gets 200 MB the old lacks,
/// so pg_rewind copies long enough for the controller to be killed (SIGKILL)
/// once the mark is seen.
fn a_rewind_cut_short_is_cloned_by_the_next_apply(chaos: &mut Chaos) {
    chaos.note(
        "regression: a rejoin killed inside pg_rewind is cloned by the next apply".to_string(),
    );
    let old = chaos.fail_over(0);
    let primary = chaos.primary.clone();
    chaos.lab.exec_sql(
        &primary,
        "create table chaos_bulk as select g, repeat('x', 100) as pad from generate_series(1, 1500000) g",
    );
    chaos.lab_command(&["heal", &old]);
    let mark = format!("{}.pgconverge-rewinding", Release::BOOKWORM_15.data_dir());
    let child = chaos.spawn(&["apply"]);
    let started = Instant::now();
    let mut seen = false;
    // Bounded: the rejoin starts within seconds, and its copy lasts a while.
    while started.elapsed() < Duration::from_secs(90) {
        let found = chaos.lab.exec(
            &old,
            &["sh", "-c", &format!("if [ -e {mark} ]; then echo yes; fi")],
        );
        if found.trim() == "yes" {
            seen = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let killed = Command::new("kill")
        .args(["-s", "KILL", &child.id().to_string()])
        .status()
        .is_ok_and(|status| status.success());
    chaos.note(format!(
        "  SIGKILL to it {:.1} s in, the mark {} ({})",
        started.elapsed().as_secs_f64(),
        if seen { "seen" } else { "never seen" },
        if killed { "sent" } else { "it had ended" }
    ));
    let run = chaos.finish(child, 60);
    if !seen || !killed {
        chaos.fail(&format!(
            "the rejoin's pg_rewind was not caught running on {old}\n{run}"
        ));
    }
    let first = chaos.run(&["apply", "--detailed-exitcode", "--lock-timeout", "60"]);
    if first.code != Some(2)
        || !first
            .stdout
            .contains("a pg_rewind into it was cut short on an earlier run")
    {
        chaos.fail(&format!(
            "the apply after a rewind cut short did not clone {old}\n{first}"
        ));
    }
    chaos.converge();
    chaos.lab.exec_sql(&primary, "drop table chaos_bulk");
}

/// Regression (found by killing the rejoin's apply at each 200 ms from 2.2 s
/// on): a run killed once it had started the rewound standby left that server
/// recovering and not yet answering; the next apply planned the rewind again,
/// took the server for a crashed one, and its crash recovery could not start
/// beside it (`lock file "postmaster.pid" already exists`). Now a server that
/// runs from the directory without answering is stopped first. Here it is made
/// on purpose: the failed primary started as a standby with no upstream and
/// `hot_standby = off`, which never answers.
fn a_server_a_killed_run_left_starting_is_stopped_before_the_rewind(chaos: &mut Chaos) {
    chaos.note(
        "regression: a server that runs without answering is stopped before a rewind".to_string(),
    );
    let old = chaos.fail_over(1);
    chaos.lab_command(&["heal", &old]);
    let release = Release::BOOKWORM_15;
    let data = release.data_dir();
    chaos.lab.exec(
        &old,
        &[
            "runuser",
            "-u",
            "postgres",
            "--",
            "sh",
            "-c",
            &format!(
                "touch {data}/standby.signal && {bin}/pg_ctl start -W -D {data} -l /tmp/not-answering.log -o '-c config_file={config}/postgresql.conf -c hot_standby=off -c primary_conninfo='",
                bin = release.bin_dir(),
                config = release.config_dir(),
            ),
        ],
    );
    std::thread::sleep(Duration::from_secs(3));
    let running = chaos.lab.exec(
        &old,
        &[
            "sh",
            "-c",
            &format!("if [ -f {data}/postmaster.pid ]; then echo running; fi"),
        ],
    );
    if running.trim() != "running" || chaos.lab.try_sql(&old, "select 1").is_ok() {
        chaos.fail(&format!(
            "the server started on {old} should run without answering ({running:?})"
        ));
    }
    chaos.converge();
}
