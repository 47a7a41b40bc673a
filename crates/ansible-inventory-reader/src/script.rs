//! Running an executable inventory script as Ansible's `script` plugin runs
//! one: `SCRIPT --list` prints the inventory as JSON (groups with `hosts`,
//! `vars` and `children`, host variables under `_meta.hostvars`); a script
//! whose output has no `_meta` is asked for each host's variables with
//! `SCRIPT --host HOST`, as Ansible still does. Each run has a bounded time,
//! after which the script and every process it started are killed.
//!
//! A file is a script when it is executable and starts as the kernel runs a
//! program (`#!` or an ELF header). Ansible tries to run any executable file
//! and reads it as YAML or INI when that fails with "Exec format error"; an
//! inventory file that is merely marked executable is read so here too,
//! without trying.

use serde_json::{Map, Value};
use std::io::Read as _;
use std::os::unix::process::{CommandExt as _, ExitStatusExt as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use wait_timeout::ChildExt as _;

/// How long one run of a script may take: long enough for a cloud API to list
/// a large fleet, short enough that a hung script does not hang a CI job.
pub const TIME_LIMIT: Duration = Duration::from_secs(120);

/// Why a script gave no inventory.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    #[error("cannot run the inventory script `{command}`: {reason}")]
    Start { command: String, reason: String },
    #[error("the inventory script `{command}` {ended}{}", stderr_part(stderr))]
    Failed {
        command: String,
        /// `exited with status 2`, `was killed by signal 9`.
        ended: String,
        stderr: String,
    },
    #[error(
        "the inventory script `{command}` did not finish within {} s and was stopped{}",
        limit.as_secs(),
        stderr_part(stderr)
    )]
    TimedOut {
        command: String,
        limit: Duration,
        stderr: String,
    },
    #[error("the inventory script `{command}` printed {what}, not an inventory's JSON: {reason}")]
    Output {
        command: String,
        what: &'static str,
        reason: String,
    },
}

fn stderr_part(stderr: &str) -> String {
    let stderr = stderr.trim_end();
    if stderr.is_empty() {
        String::new()
    } else {
        format!("; its standard error:\n{stderr}")
    }
}

/// What `SCRIPT --list` gave.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// The name its output is read under in messages: `SCRIPT --list`.
    pub name: PathBuf,
    /// The JSON, with `_meta.hostvars` from `--host` added when the script
    /// gives none.
    pub text: String,
    /// What the script wrote to standard error, which Ansible shows too.
    pub stderr: String,
}

/// Whether `path` is an executable program rather than a file marked executable.
pub fn is_script(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    let executable = std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0);
    if !executable {
        return false;
    }
    let mut start = [0_u8; 4];
    let read = std::fs::File::open(path).and_then(|mut file| file.read(&mut start));
    match read {
        Ok(count) => start[..count].starts_with(b"#!") || start[..count] == *b"\x7fELF",
        Err(_) => false,
    }
}

/// Runs `path --list` (and `--host` for each host when its output has no
/// `_meta`), each run within `limit`.
pub fn list(path: &Path, limit: Duration) -> Result<Listed, ScriptError> {
    let command = format!("{} --list", path.display());
    let output = run(path, &["--list"], limit)?;
    let mut stderr = output.stderr;
    let text = output.stdout;
    // Output that is no JSON map, or has `_meta`, is read as it is: the
    // reader names the place of any mistake in it.
    let mut groups = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(groups)) if !groups.contains_key("_meta") => groups,
        _ => {
            return Ok(Listed {
                name: PathBuf::from(command),
                text,
                stderr,
            });
        }
    };
    let mut hostvars = Map::new();
    for host in host_names(&groups) {
        let output = run(path, &["--host", &host], limit)?;
        stderr.push_str(&output.stderr);
        let vars = if output.stdout.trim().is_empty() {
            Value::Object(Map::new())
        } else {
            serde_json::from_str(&output.stdout).map_err(|error| ScriptError::Output {
                command: format!("{} --host {host}", path.display()),
                what: "something else",
                reason: error.to_string(),
            })?
        };
        hostvars.insert(host, vars);
    }
    groups.insert(
        "_meta".to_string(),
        serde_json::json!({ "hostvars": hostvars }),
    );
    let text = serde_json::to_string_pretty(&Value::Object(groups)).map_err(|error| {
        ScriptError::Output {
            command: command.clone(),
            what: "something else",
            reason: error.to_string(),
        }
    })?;
    Ok(Listed {
        name: PathBuf::from(command),
        text,
        stderr,
    })
}

/// Every host the groups list, once, in order: a group's `hosts`, or the group
/// itself when it is a list of hosts.
fn host_names(groups: &Map<String, Value>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for group in groups.values() {
        let hosts = match group {
            Value::Array(hosts) => Some(hosts),
            Value::Object(parts) => parts.get("hosts").and_then(Value::as_array),
            _ => None,
        };
        for name in hosts.into_iter().flatten().filter_map(Value::as_str) {
            if !names.iter().any(|known| known == name) {
                names.push(name.to_string());
            }
        }
    }
    names
}

struct Output {
    stdout: String,
    stderr: String,
}

/// Runs the script with `arguments`, no standard input, in a process group of
/// its own so that a script that runs too long is killed with all it started.
fn run(path: &Path, arguments: &[&str], limit: Duration) -> Result<Output, ScriptError> {
    let command = std::iter::once(path.display().to_string())
        .chain(arguments.iter().map(|argument| argument.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    // A bare name would be looked up in PATH; the script is the file here.
    let program = if path.components().count() > 1 {
        path.to_path_buf()
    } else {
        Path::new(".").join(path)
    };
    let mut child = Command::new(program)
        .args(arguments)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .map_err(|error| ScriptError::Start {
            command: command.clone(),
            reason: error.to_string(),
        })?;
    // Both pipes are read while the script runs, so that a script writing
    // much never blocks on a full pipe.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            bytes
        })
    };
    let stdout = drain(child.stdout.take().map(|pipe| Box::new(pipe) as _));
    let stderr = drain(child.stderr.take().map(|pipe| Box::new(pipe) as _));
    let status = match child.wait_timeout(limit) {
        Ok(Some(status)) => status,
        Ok(None) | Err(_) => {
            let group = i32::try_from(child.id()).unwrap_or(0);
            if group > 0 {
                // SAFETY: kill(2) with a negative id signals the process group
                // the script leads, which this run made; it touches no memory.
                unsafe {
                    libc::kill(-group, libc::SIGKILL);
                }
            }
            let _ = child.wait();
            // A process that left the group may still hold the pipe: what it
            // said is waited for a moment only.
            let stderr = join_within(stderr, Duration::from_secs(1)).unwrap_or_default();
            return Err(ScriptError::TimedOut {
                command,
                limit,
                stderr: String::from_utf8_lossy(&stderr).into_owned(),
            });
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned();
    if !status.success() {
        let ended = match (status.code(), status.signal()) {
            (Some(code), _) => format!("exited with status {code}"),
            (None, Some(signal)) => format!("was killed by signal {signal}"),
            (None, None) => "failed".to_string(),
        };
        return Err(ScriptError::Failed {
            command,
            ended,
            stderr,
        });
    }
    let stdout = String::from_utf8(stdout).map_err(|error| ScriptError::Output {
        command,
        what: "text that is not UTF-8",
        reason: error.to_string(),
    })?;
    Ok(Output { stdout, stderr })
}

/// What a reading thread read, if it ends within `wait`.
fn join_within(reader: std::thread::JoinHandle<Vec<u8>>, wait: Duration) -> Option<Vec<u8>> {
    let deadline = std::time::Instant::now() + wait;
    while !reader.is_finished() {
        if std::time::Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    reader.join().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn script(directory: &Path, name: &str, body: &str) -> PathBuf {
        let path = directory.join(name);
        std::fs::write(&path, body).expect("the script");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        path
    }

    #[test]
    fn only_an_executable_program_is_a_script() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let program = script(directory.path(), "inventory.sh", "#!/bin/sh\necho '{}'\n");
        assert!(is_script(&program));
        let marked = script(directory.path(), "hosts", "[primary]\ndb1\n");
        assert!(!is_script(&marked));
        let plain = directory.path().join("plain.sh");
        std::fs::write(&plain, "#!/bin/sh\n").expect("written");
        assert!(!is_script(&plain));
    }

    #[test]
    fn a_failing_script_is_named_with_its_status_and_stderr() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = script(
            directory.path(),
            "cloud.py",
            "#!/bin/sh\necho 'no credentials for the API' >&2\nexit 3\n",
        );
        let error = list(&path, TIME_LIMIT).expect_err("it fails");
        assert_eq!(
            error.to_string(),
            format!(
                "the inventory script `{} --list` exited with status 3; its standard error:\nno credentials for the API",
                path.display()
            )
        );
    }

    #[test]
    fn a_script_that_hangs_is_stopped_with_what_it_started() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let marker = directory.path().join("still-running");
        let path = script(
            directory.path(),
            "slow.sh",
            &format!(
                "#!/bin/sh\necho started >&2\n(sleep 2; touch '{}') &\nsleep 30\n",
                marker.display()
            ),
        );
        let started = std::time::Instant::now();
        let error = list(&path, Duration::from_millis(500)).expect_err("it is stopped");
        assert!(started.elapsed() < Duration::from_secs(5), "{error}");
        assert!(
            matches!(&error, ScriptError::TimedOut { stderr, .. } if stderr == "started\n"),
            "{error:?}"
        );
        std::thread::sleep(Duration::from_secs(3));
        assert!(!marker.exists(), "a process the script started outlived it");
    }

    #[test]
    fn without_meta_each_host_is_asked_for_its_variables() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = script(
            directory.path(),
            "old.sh",
            "#!/bin/sh\nif [ \"$1\" = --list ]; then echo '{\"primary\": [\"db1\"], \"standby\": {\"hosts\": [\"db2\"]}}'; else echo \"{\\\"asked\\\": \\\"$2\\\"}\"; fi\n",
        );
        let listed = list(&path, TIME_LIMIT).expect("it runs");
        let value: Value = serde_json::from_str(&listed.text).expect("JSON");
        assert_eq!(
            value["_meta"]["hostvars"],
            serde_json::json!({"db1": {"asked": "db1"}, "db2": {"asked": "db2"}})
        );
    }
}
