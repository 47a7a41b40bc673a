//! Helpers for the end-to-end tests: the lab (real hosts in network namespaces with
//! a real sshd and PostgreSQL each), the pgconverge binary, SSH into lab hosts,
//! and the JSON Schemas a command's document is held to (`schema.rs`).

#![allow(dead_code)]

pub mod client;
mod schema;

pub use schema::assert_matches_schema;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

pub fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn lab_dir() -> PathBuf {
    std::env::var_os("PGCONVERGE_LAB_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/pgconverge-lab"))
}

/// A lab brought up for one test, held under the lab's exclusive lock (the one
/// `lab.sh` takes) so that no other run brings it up or down meanwhile, and torn
/// down when dropped.
pub struct Lab {
    _lock: File,
    pub hosts: usize,
    pub release: Release,
}

/// The Debian release a lab's hosts run (`lab.sh up --release`) and the
/// PostgreSQL major their clusters are made with (`--pg`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub debian: &'static str,
    pub postgres: u32,
}

impl Release {
    /// The machine's own Debian 12 and its PostgreSQL 15.
    pub const BOOKWORM_15: Release = Release {
        debian: "bookworm",
        postgres: 15,
    };
    /// Debian 13 (a root built once by `tests/lab/release-root.sh`) with its
    /// PostgreSQL 17; Debian 12's 15 is installed beside it.
    pub const TRIXIE_17: Release = Release {
        debian: "trixie",
        postgres: 17,
    };
    /// Debian testing (forky, a root built once by `tests/lab/release-root.sh`)
    /// with its PostgreSQL 18; Debian 13's 17 and Debian 12's 15 are installed
    /// beside it.
    pub const FORKY_18: Release = Release {
        debian: "forky",
        postgres: 18,
    };
    /// Debian 13 with clusters of PostgreSQL 15 (17's binaries beside them).
    pub const TRIXIE_15: Release = Release {
        debian: "trixie",
        postgres: 15,
    };
    /// Debian testing with clusters of PostgreSQL 15 (17's and 18's binaries
    /// beside them).
    pub const FORKY_15: Release = Release {
        debian: "forky",
        postgres: 15,
    };
    /// Debian testing with clusters of PostgreSQL 17 (18's binaries beside them).
    pub const FORKY_17: Release = Release {
        debian: "forky",
        postgres: 17,
    };

    /// Debian's configuration directory of the cluster `main`.
    pub fn config_dir(&self) -> String {
        format!("/etc/postgresql/{}/main", self.postgres)
    }

    /// Its data directory.
    pub fn data_dir(&self) -> String {
        format!("/var/lib/postgresql/{}/main", self.postgres)
    }

    /// The version's server binaries.
    pub fn bin_dir(&self) -> String {
        format!("/usr/lib/postgresql/{}/bin", self.postgres)
    }

    /// A copy in `directory` of the README's example inventory, with this
    /// release's `pg_version` (tests edit it, or commands record roles in it).
    pub fn example_inventory(&self, directory: &Path) -> String {
        let example = repository().join("inventory.example.yaml");
        let text = std::fs::read_to_string(&example)
            .unwrap_or_else(|error| panic!("cannot read {}: {error}", example.display()));
        assert!(
            text.contains("    pg_version: 15\n"),
            "the example sets pg_version: 15"
        );
        let copy = directory.join("inventory.yaml");
        std::fs::write(
            &copy,
            text.replace(
                "    pg_version: 15\n",
                &format!("    pg_version: {}\n", self.postgres),
            ),
        )
        .unwrap_or_else(|error| panic!("cannot write {}: {error}", copy.display()));
        copy.display().to_string()
    }
}

/// A replication password no earlier run used: `TAG-PID-NANOSECONDS`.
pub fn unique_password(tag: &str) -> String {
    format!(
        "{tag}-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|duration| duration.as_nanos())
            .unwrap_or(0)
    )
}

/// Whether the machine can run the lab (root, sshd, PostgreSQL). When it cannot,
/// the lab tests fail, unless `PGCONVERGE_SKIP_LAB_TESTS=1` says to skip them.
pub fn lab_available() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false);
    let sshd = Path::new("/usr/sbin/sshd").exists();
    let postgres = Path::new("/usr/bin/pg_createcluster").exists();
    if root && sshd && postgres {
        return true;
    }
    let reason = format!(
        "the lab needs root, /usr/sbin/sshd and pg_createcluster (root: {root}, sshd: {sshd}, postgresql: {postgres})"
    );
    if std::env::var("PGCONVERGE_SKIP_LAB_TESTS").as_deref() == Ok("1") {
        eprintln!("skipping: {reason}");
        return false;
    }
    panic!(
        "{reason}; install them (tests/run.sh does) or set PGCONVERGE_SKIP_LAB_TESTS=1 to skip the lab tests"
    );
}

impl Lab {
    pub fn up(hosts: usize) -> Lab {
        Lab::up_with(hosts, Release::BOOKWORM_15, &[])
    }

    /// A lab whose hosts run `release`.
    pub fn up_on(hosts: usize, release: Release) -> Lab {
        Lab::up_with(hosts, release, &[])
    }

    /// A lab whose sshd refuses root logins, and whose h3 accepts logins only
    /// through h1 (a bastion): pgconverge logs in as `deploy` (sudo without a
    /// password), `opsadmin` (sudo with its password) or `visitor` (no sudo); the
    /// test reads hosts through `exec`, not ssh.
    pub fn up_without_root_login(hosts: usize) -> Lab {
        Lab::up_with(
            hosts,
            Release::BOOKWORM_15,
            &[
                ("PGCONVERGE_LAB_ROOT_LOGIN", "no"),
                ("PGCONVERGE_LAB_ONLY_THROUGH", "h3=h1"),
            ],
        )
    }

    fn up_with(hosts: usize, release: Release, environment: &[(&str, &str)]) -> Lab {
        let lock_path = PathBuf::from(format!("{}.lock", lab_dir().display()));
        let lock = File::create(&lock_path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", lock_path.display()));
        lock.lock()
            .unwrap_or_else(|error| panic!("cannot lock {}: {error}", lock_path.display()));
        let output = Command::new("bash")
            .arg(repository().join("tests/lab/lab.sh"))
            .args(["up", &hosts.to_string()])
            .args(["--release", release.debian])
            .args(["--pg", &release.postgres.to_string()])
            .env("PGCONVERGE_LAB_LOCK_HELD", "1")
            .envs(environment.iter().copied())
            .output()
            .unwrap_or_else(|error| panic!("cannot run tests/lab/lab.sh: {error}"));
        assert!(
            output.status.success(),
            "lab up failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        Lab {
            _lock: lock,
            hosts,
            release,
        }
    }

    pub fn ssh_config(&self) -> PathBuf {
        lab_dir().join("ssh_config")
    }

    /// Runs a shell command on a lab host over real SSH and returns its stdout;
    /// panics with stderr when it fails.
    pub fn ssh(&self, host: &str, command: &str) -> String {
        let output = self.ssh_output(host, command);
        assert!(
            output.status.success(),
            "ssh {host} `{command}` failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_string()
    }

    pub fn ssh_output(&self, host: &str, command: &str) -> Output {
        Command::new("ssh")
            .arg("-F")
            .arg(self.ssh_config())
            .arg("-o")
            .arg("BatchMode=yes")
            .arg(host)
            .arg(command)
            .output()
            .unwrap_or_else(|error| panic!("cannot run ssh: {error}"))
    }

    /// Runs SQL as postgres on a lab host and returns the unaligned result.
    pub fn sql(&self, host: &str, sql: &str) -> String {
        let quoted = shlex::try_quote(sql)
            .map(|q| q.into_owned())
            .unwrap_or_default();
        self.ssh(
            host,
            &format!("cd / && runuser -u postgres -- psql -XAtq -d postgres -c {quoted}"),
        )
    }

    /// Runs SQL as postgres inside a lab host, entering its namespaces from the
    /// machine (no ssh login), and returns the unaligned result.
    pub fn exec_sql(&self, host: &str, sql: &str) -> String {
        self.try_sql(host, sql)
            .unwrap_or_else(|error| panic!("{sql} on {host}: {error}"))
    }

    /// The same, but an error (a table replication has not brought yet) is returned,
    /// for `eventually` to poll.
    pub fn try_sql(&self, host: &str, sql: &str) -> Result<String, String> {
        self.try_sql_in(host, "postgres", sql)
    }

    /// SQL in `database`, as [`Lab::try_sql`] runs it in `postgres`.
    pub fn try_sql_in(&self, host: &str, database: &str, sql: &str) -> Result<String, String> {
        let output = run_lab(&[
            "exec", host, "runuser", "-u", "postgres", "--", "psql", "-XAtq", "-d", database, "-c",
            sql,
        ]);
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    /// Starts SQL as postgres inside a lab host in the background (a commit that
    /// waits, a long transaction); the caller waits for it, bounded, and kills it
    /// if it must.
    pub fn spawn_sql(&self, host: &str, sql: &str) -> std::process::Child {
        Command::new("bash")
            .arg(repository().join("tests/lab/lab.sh"))
            .args([
                "exec",
                host,
                "runuser",
                "-u",
                "postgres",
                "--",
                "psql",
                "-XAtq",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
            ])
            .env("PGCONVERGE_LAB_LOCK_HELD", "1")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot run tests/lab/lab.sh: {error}"))
    }

    /// Runs a command inside a lab host, entering its namespaces from the machine
    /// (no ssh login), and returns what it printed.
    pub fn exec(&self, host: &str, command: &[&str]) -> String {
        let mut args = vec!["exec", host];
        args.extend_from_slice(command);
        let output = run_lab(&args);
        assert!(
            output.status.success(),
            "{command:?} on {host}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// What a lab host's sshd logged.
    pub fn sshd_log(&self, host: &str) -> String {
        std::fs::read_to_string(lab_dir().join("hosts").join(host).join("var-log/sshd.log"))
            .unwrap_or_default()
    }

    /// Runs `lab.sh ARGS` (kill, start, cut, heal a host) under the lock this test holds.
    pub fn command(&self, args: &[&str]) {
        let output = run_lab(args);
        assert!(
            output.status.success(),
            "lab.sh {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }

    /// The arguments of `pgconverge apply -i INVENTORY --detailed-exitcode
    /// EXTRA...` against the lab.
    pub fn apply_arguments(&self, inventory: &str, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "apply",
            "-i",
            inventory,
            "--ssh-config",
            &self.ssh_config().display().to_string(),
            "--detailed-exitcode",
        ]
        .iter()
        .map(|arg| arg.to_string())
        .collect();
        args.extend(extra.iter().map(|arg| arg.to_string()));
        args
    }

    /// Runs `pgconverge ARGS -i INVENTORY` against the lab, with a short connect
    /// timeout (3 s) for the commands that meet a dead host.
    pub fn run(&self, inventory: &str, password: &str, args: &[&str]) -> Run {
        let ssh_config = self.ssh_config().display().to_string();
        let mut all: Vec<&str> = args.to_vec();
        all.extend([
            "-i",
            inventory,
            "--ssh-config",
            &ssh_config,
            "--connect-timeout",
            "3",
        ]);
        pgconverge(&all, password)
    }

    /// Runs that apply.
    pub fn apply(&self, inventory: &str, password: &str, extra: &[&str]) -> Run {
        let args = self.apply_arguments(inventory, extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        pgconverge(&args, password)
    }

    /// The same with standard output and error on a terminal (util-linux's
    /// `script` gives it one): the run's `stdout` is the terminal's transcript,
    /// both streams with every control sequence, and `stderr` is empty.
    pub fn apply_in_terminal(&self, inventory: &str, password: &str, extra: &[&str]) -> Run {
        let mut words = vec![env!("CARGO_BIN_EXE_pgconverge").to_string()];
        words.extend(self.apply_arguments(inventory, extra));
        let command = shlex::try_join(words.iter().map(String::as_str))
            .expect("no argument holds a NUL byte");
        let output = Command::new("script")
            .args(["--quiet", "--return", "--command", &command, "/dev/null"])
            .env("PG_REPLICATION_PASSWORD", password)
            .env("NO_COLOR", "1")
            .stdin(std::process::Stdio::null())
            .current_dir(repository())
            .output()
            .unwrap_or_else(|error| panic!("cannot run script: {error}"));
        Run::from(output)
    }

    /// Polls `check` once a second, at most `seconds` times.
    pub fn eventually(&self, seconds: u32, what: &str, mut check: impl FnMut() -> bool) {
        for _ in 0..seconds {
            if check() {
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
        panic!("{what}: not true after {seconds} s");
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if std::env::var("PGCONVERGE_KEEP_LAB").as_deref() == Ok("1") {
            return;
        }
        let output = run_lab(&["down"]);
        if !output.status.success() {
            eprintln!(
                "lab down failed: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
}

fn run_lab(args: &[&str]) -> Output {
    Command::new("bash")
        .arg(repository().join("tests/lab/lab.sh"))
        .args(args)
        // The test holds the lab's lock for its whole run; lab.sh must not wait on it.
        .env("PGCONVERGE_LAB_LOCK_HELD", "1")
        .output()
        .unwrap_or_else(|error| panic!("cannot run tests/lab/lab.sh: {error}"))
}

/// The output of one pgconverge run, stdout and stderr kept apart.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit code {:?}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Runs the pgconverge binary with an environment holding the replication password.
pub fn pgconverge(args: &[&str], password: &str) -> Run {
    pgconverge_with(args, password, &[])
}

/// The same with more environment variables (a sudo or su password, say).
pub fn pgconverge_with(args: &[&str], password: &str, environment: &[(&str, &str)]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_pgconverge"))
        .args(args)
        .env("PG_REPLICATION_PASSWORD", password)
        .envs(environment.iter().copied())
        .env("NO_COLOR", "1")
        .current_dir(repository())
        .output()
        .unwrap_or_else(|error| panic!("cannot run pgconverge: {error}"));
    Run::from(output)
}

impl From<std::process::Output> for Run {
    fn from(output: std::process::Output) -> Run {
        Run {
            code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}
