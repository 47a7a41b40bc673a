//! SSH transport: the system's OpenSSH client with one multiplexed master
//! connection per host (so `~/.ssh/config`, agents and `known_hosts` work as users
//! expect), and scripts sent on standard input so that no secret is on a command line.

use crate::secret::Sensitive;
use openssh::{Session, Stdio};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Where and as whom to connect.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Target {
    pub name: String,
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
    /// `-i`: the private key to log in with.
    pub identity_file: Option<String>,
    /// More options for ssh (`ansible_ssh_common_args`, `ansible_ssh_extra_args`),
    /// put before the `--` that ends them.
    pub ssh_args: Vec<String>,
    /// Run every script as another user, through sudo or su.
    pub escalation: Option<Escalation>,
    /// `ansible_connection: local`: this machine is the host; scripts run here.
    pub local: bool,
}

/// How a script becomes another user after login.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EscalationMethod {
    Sudo,
    Su,
}

impl EscalationMethod {
    pub fn name(self) -> &'static str {
        match self {
            EscalationMethod::Sudo => "sudo",
            EscalationMethod::Su => "su",
        }
    }
}

/// Escalation after login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    pub method: EscalationMethod,
    pub user: String,
    /// Sent on standard input before the script, when sudo or su asks for one.
    pub password: Option<Sensitive<String>>,
}

/// How every connection is made.
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub config_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Accept and record the key of a host seen for the first time; a changed key is
    /// always refused. Off by default: host keys are checked strictly.
    pub accept_new_host_keys: bool,
    /// `-b`: become root with sudo where the inventory does not say.
    pub escalate: bool,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            config_file: None,
            connect_timeout: Duration::from_secs(10),
            accept_new_host_keys: false,
            escalate: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot connect to {host} ({address}): {reason}")]
    Connect {
        host: String,
        address: String,
        reason: String,
    },
    #[error("lost the connection to {host}: {reason}")]
    Run { host: String, reason: String },
    #[error("cannot become {user} with {method} on {host}: {reason}")]
    Become {
        host: String,
        method: &'static str,
        user: String,
        reason: String,
    },
}

/// Runs the script as `$1` with su. The first line of standard input is the
/// password (empty when none is given), which su reads through PAM from its own
/// standard input; the script reaches the shell on another descriptor, so that
/// nothing PAM reads past the password can be taken from it.
const SU: &str = r#"IFS= read -r password
exec 3<&0
if ! out=$(printf '%s\n' "$password" | su -c true "$1" 2>&1 3<&-); then printf '%s\n' "$out" >&2; exit 97; fi
printf '%s\n' "$password" | su -c 'exec sh -s <&3 3<&-' "$1""#;

/// The exit status the escalation wrappers end with when sudo itself refuses,
/// so a refusal is told from a failing script.
const ESCALATION_REFUSED: i32 = 97;

/// Runs the script (standard input) with `sudo -n`: no password is asked.
/// `$1` is the user to become. sudo's answer to a probe decides first, so its
/// refusal is reported as such before any of the script runs.
const SUDO_WITHOUT_PASSWORD: &str = r#"if ! out=$(sudo -n -u "$1" -- true 2>&1 </dev/null); then printf '%s\n' "$out" >&2; exit 97; fi
exec sudo -n -u "$1" -- sh -s"#;

/// The same with a password: the first line of standard input, given to sudo on
/// its standard input (never on a command line) when it asks for one, and the
/// rest is the script. `-k` makes sudo ask every time, so the password line is
/// never left for the script to read.
const SUDO_WITH_PASSWORD: &str = r#"IFS= read -r password
if sudo -n -u "$1" -- true 2>/dev/null </dev/null; then exec sudo -n -u "$1" -- sh -s; fi
if ! out=$(printf '%s\n' "$password" | sudo -S -k -p '' -u "$1" -- true 2>&1); then printf '%s\n' "$out" >&2; exit 97; fi
{ printf '%s\n' "$password"; cat; } | sudo -S -k -p '' -u "$1" -- sh -s"#;

/// What a script printed and how it ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptOutput {
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ScriptOutput {
    pub fn success(&self) -> bool {
        self.exit_code == Some(0)
    }
}

/// An open connection to one host.
pub struct Connection {
    host: String,
    escalation: Option<Escalation>,
    /// `None` once closed, and for a local connection.
    session: Option<Session>,
    local: bool,
    round_trips: AtomicUsize,
    /// Holds the control socket and the master's log; removed when dropped.
    control_directory: Option<tempfile::TempDir>,
}

impl Drop for Connection {
    /// A connection dropped without `close` still ends its master, which would
    /// otherwise outlive pgconverge (it was started with `ControlPersist=yes`).
    fn drop(&mut self) {
        let Some(control_directory) = &self.control_directory else {
            return;
        };
        let control = control_directory.path().join("master");
        if control.exists() {
            // Nothing more can be done here if ssh cannot be asked to exit.
            let _ = std::process::Command::new("ssh")
                .arg("-S")
                .arg(&control)
                .args(["-O", "exit", "--", "pgconverge-master"])
                .stdin(std::process::Stdio::null())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .status();
        }
    }
}

impl Connection {
    /// Starts the master connection with the system's ssh, then works through its
    /// control socket. The destination comes after `--`, so no inventory value can
    /// be read as an option, and a failure is ssh's own words.
    pub async fn open(target: &Target, options: &SshOptions) -> Result<Connection, TransportError> {
        if target.local {
            return Ok(Connection {
                host: target.name.clone(),
                escalation: target.escalation.clone(),
                session: None,
                local: true,
                round_trips: AtomicUsize::new(0),
                control_directory: None,
            });
        }
        let failed = |reason: String| TransportError::Connect {
            host: target.name.clone(),
            address: target.address.clone(),
            reason,
        };
        for (what, value) in [
            ("address", Some(&target.address)),
            ("user", target.user.as_ref()),
        ] {
            if value.is_some_and(|value| value.is_empty() || value.starts_with('-')) {
                return Err(failed(format!("the {what} is empty or starts with `-`")));
            }
        }
        let control_directory = tempfile::Builder::new()
            .prefix(".pgconverge-ssh-")
            .tempdir_in(std::env::temp_dir())
            .map_err(|error| failed(format!("cannot make the control directory: {error}")))?;
        let control = control_directory.path().join("master");
        let log = control_directory.path().join("log");
        // ssh's usage errors come before it reads `-E`: they go to stderr, which is a
        // file (a pipe would stay open in the master that ssh forks off).
        let stderr_path = control_directory.path().join("stderr");
        let stderr = std::fs::File::create(&stderr_path)
            .map_err(|error| failed(format!("cannot make the ssh log: {error}")))?;
        let status = master_command(target, options, &control, &log)
            .stderr(stderr)
            .status()
            .await
            .map_err(|error| failed(format!("cannot run ssh: {error}")))?;
        if !status.success() {
            let logged = std::fs::read_to_string(&log).unwrap_or_default();
            let printed = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            let reason = [logged.trim(), printed.trim()]
                .into_iter()
                .find(|text| !text.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("ssh ended with {status}"));
            return Err(failed(reason));
        }
        let session = Session::resume(control.into_boxed_path(), Some(log.into_boxed_path()));
        Ok(Connection {
            host: target.name.clone(),
            escalation: target.escalation.clone(),
            session: Some(session),
            local: false,
            round_trips: AtomicUsize::new(0),
            control_directory: Some(control_directory),
        })
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Runs a POSIX shell script on the host: one SSH round trip.
    pub async fn run(&self, script: &str) -> Result<ScriptOutput, TransportError> {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let lost = |reason: String| TransportError::Run {
            host: self.host.clone(),
            reason,
        };
        let mut arguments: Vec<&str> = Vec::new();
        let mut input = Vec::new();
        match &self.escalation {
            None => arguments.push("-s"),
            Some(escalation) => {
                let password = escalation
                    .password
                    .as_ref()
                    .map(|password| password.expose().as_str());
                let wrapper = match (escalation.method, password) {
                    (EscalationMethod::Sudo, None) => SUDO_WITHOUT_PASSWORD,
                    (EscalationMethod::Sudo, Some(_)) => SUDO_WITH_PASSWORD,
                    (EscalationMethod::Su, _) => SU,
                };
                // su always reads a password line, empty when none is given.
                if password.is_some() || escalation.method == EscalationMethod::Su {
                    input.extend_from_slice(password.unwrap_or_default().as_bytes());
                    input.push(b'\n');
                }
                arguments.extend(["-c", wrapper, "pgconverge-become", &escalation.user]);
            }
        }
        input.extend_from_slice(script.as_bytes());
        let output = if self.local {
            run_here(&arguments, &input).await
        } else {
            let session = self
                .session
                .as_ref()
                .ok_or_else(|| lost("the connection is closed".to_string()))?;
            run_there(session, &arguments, &input).await
        }
        .map_err(lost)?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if let Some(escalation) = &self.escalation
            && output.status.code() == Some(ESCALATION_REFUSED)
        {
            return Err(TransportError::Become {
                host: self.host.clone(),
                method: escalation.method.name(),
                user: escalation.user.clone(),
                reason: escalation_reason(&stderr),
            });
        }
        Ok(ScriptOutput {
            exit_code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
        })
    }

    /// How many scripts this connection has run.
    pub fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::Relaxed)
    }

    pub async fn close(mut self) {
        // Closing only ends the master connection; a failure to do so leaves nothing to undo.
        if let Some(session) = self.session.take() {
            let _ = session.close().await;
        }
    }
}

/// Runs `sh ARGUMENTS` over the connection with `input` on its standard input.
async fn run_there(
    session: &Session,
    arguments: &[&str],
    input: &[u8],
) -> Result<std::process::Output, String> {
    let mut child = session
        .command("sh")
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .await
        .map_err(|error| error_chain(&error))?;
    if let Some(stdin) = child.stdin().take() {
        feed(stdin, input).await?;
    }
    child
        .wait_with_output()
        .await
        .map_err(|error| error_chain(&error))
}

/// Writes the whole input to a child's standard input and closes it.
async fn feed(mut stdin: impl AsyncWriteExt + Unpin, input: &[u8]) -> Result<(), String> {
    stdin
        .write_all(input)
        .await
        .map_err(|error| error.to_string())?;
    stdin.shutdown().await.map_err(|error| error.to_string())
}

/// The same on this machine, for `ansible_connection: local`.
async fn run_here(arguments: &[&str], input: &[u8]) -> Result<std::process::Output, String> {
    let mut child = tokio::process::Command::new("sh")
        .args(arguments)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|error| error.to_string())?;
    if let Some(stdin) = child.stdin.take() {
        feed(stdin, input).await?;
    }
    child
        .wait_with_output()
        .await
        .map_err(|error| error.to_string())
}

/// What sudo or su said, in the words an operator acts on.
fn escalation_reason(stderr: &str) -> String {
    // su prompts on standard error even when the password comes on standard input.
    let said = stderr.trim().trim_start_matches("Password:").trim();
    if said.contains("a password is required") {
        format!("{said} (set `ansible_become_password`, or give the login NOPASSWD rights)")
    } else if said.contains("incorrect password") || said.contains("Sorry, try again") {
        format!("{said} (sudo refused `ansible_become_password`)")
    } else if said.contains("Authentication failure") {
        format!("{said} (su refused `ansible_become_password`, or it is not set)")
    } else if said.contains("not in the sudoers file") || said.contains("is not allowed to") {
        format!("{said} (the login has no sudo rights for this)")
    } else if said.is_empty() {
        "the escalation was refused without a reason".to_string()
    } else {
        said.to_string()
    }
}

/// `ssh` as the master of the connection: it forks once authenticated and stays
/// until `close`, writing its messages to `log`.
fn master_command(
    target: &Target,
    options: &SshOptions,
    control: &Path,
    log: &Path,
) -> tokio::process::Command {
    let mut command = tokio::process::Command::new("ssh");
    command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .arg("-E")
        .arg(log)
        .arg("-S")
        .arg(control)
        .args(["-M", "-f", "-N"])
        .args(["-o", "ControlPersist=yes", "-o", "BatchMode=yes"])
        .arg("-o")
        .arg(if options.accept_new_host_keys {
            "StrictHostKeyChecking=accept-new"
        } else {
            "StrictHostKeyChecking=yes"
        })
        .arg("-o")
        .arg(format!(
            "ConnectTimeout={}",
            options.connect_timeout.as_secs().max(1)
        ))
        .args(["-o", "ServerAliveInterval=15"]);
    if let Some(config_file) = &options.config_file {
        command.arg("-F").arg(config_file);
    }
    if let Some(port) = target.port {
        command.arg("-p").arg(port.to_string());
    }
    if let Some(user) = &target.user {
        command.arg("-l").arg(user);
    }
    if let Some(identity_file) = &target.identity_file {
        command.arg("-i").arg(identity_file);
    }
    command.args(&target.ssh_args);
    command.arg("--").arg(&target.address);
    command
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(cause_text.trim());
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(address: &str, user: Option<&str>) -> Target {
        Target {
            name: "db1".into(),
            address: address.into(),
            port: Some(1),
            user: user.map(str::to_string),
            ..Target::default()
        }
    }

    fn reason(target: &Target) -> String {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        match runtime.block_on(Connection::open(target, &SshOptions::default())) {
            Ok(_) => panic!("the connection must fail"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_refused_login_is_reported_in_ssh_s_own_words() {
        // ssh refuses the user name before it contacts anything.
        let text = reason(&target("127.0.0.1", Some("bad user$(id)")));
        assert!(
            text.contains("remote username contains invalid characters"),
            "{text}"
        );
        assert!(!text.contains("os error 2"), "{text}");
    }

    #[test]
    fn a_destination_that_looks_like_an_option_is_never_passed_to_ssh() {
        let text = reason(&target("-oProxyCommand=touch /tmp/pwned", None));
        assert!(text.contains("starts with `-`"), "{text}");
        let text = reason(&target("127.0.0.1", Some("-oProxyCommand=x")));
        assert!(text.contains("starts with `-`"), "{text}");
    }

    #[test]
    fn a_local_connection_runs_scripts_on_this_machine() {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let local = Target {
            name: "controller".into(),
            local: true,
            ..Target::default()
        };
        let output = runtime.block_on(async {
            let connection = Connection::open(&local, &SshOptions::default())
                .await
                .unwrap_or_else(|error| panic!("{error}"));
            let output = connection.run("printf '%s' \"$((6 * 7))\"\nexit 3\n").await;
            connection.close().await;
            output
        });
        let output = output.unwrap_or_else(|error| panic!("{error}"));
        assert_eq!((output.exit_code, output.stdout.as_str()), (Some(3), "42"));
    }
}
