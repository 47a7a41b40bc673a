//! SSH transport: the system's OpenSSH client with one multiplexed master
//! connection per host (so `~/.ssh/config`, agents and `known_hosts` work as users
//! expect), scripts sent on standard input so that no secret is on a command line,
//! and each script a new session on the master's socket, with no ssh process of
//! its own.

mod escalation;
mod master;

pub use master::{CONTROL_DIRECTORY_VARIABLE, disconnect_all};

use crate::secret::Sensitive;
use master::{ControlSocket, Master};
use openssh::{Session, Stdio};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

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
    /// `--persist`: keep each master connection for this long once idle, in the
    /// user's private directory, and reuse the one a run before left.
    pub persist: Option<Duration>,
    /// Take each host's run lock before its facts are read, and hold it to the
    /// end of the run: every command that changes anything.
    pub run_lock: Option<RunLock>,
}

/// The run lock a command takes (`run_lock`): what it is, and how long it waits
/// for a host another run holds (`--lock-timeout`; zero: not at all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunLock {
    pub command: String,
    pub wait: Duration,
    /// Hosts whose lock an earlier part of this same command still holds (the
    /// apply that ends a switchover, the switchover that ends an apply with
    /// `--restart-primary switchover`): not taken again, never let go between
    /// the parts.
    pub held: Vec<String>,
}

impl SshOptions {
    /// The same options for a later part of the command, whose earlier part
    /// still holds the run locks of `held`.
    pub fn holding(&self, held: &[&str]) -> SshOptions {
        let mut ssh = self.clone();
        if let Some(run_lock) = &mut ssh.run_lock {
            run_lock
                .held
                .extend(held.iter().map(|host| host.to_string()));
        }
        ssh
    }
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            config_file: None,
            connect_timeout: Duration::from_secs(10),
            accept_new_host_keys: false,
            escalate: false,
            persist: None,
            run_lock: None,
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

/// How many scripts run at once on one connection. Each is an SSH session on the
/// host's one master, and sshd refuses sessions beyond its `MaxSessions` (10
/// unless configured) with "no more sessions": many steps of other hosts run a
/// script on the same host (every standby makes its slot on its upstream and
/// checks its stream there), so a primary with more standbys than that would fail
/// theirs. Kept below 10 because sshd frees a session only once its channel's
/// close has gone both ways.
pub const SESSIONS_PER_HOST: usize = 8;

/// How often a session the server refuses is asked for, at most, and the pause
/// before the first retry (each pause is one longer: 0.1 s, 0.2 s, ... in all
/// at most 4.5 s).
const SESSION_OPEN_ATTEMPTS: u32 = 10;
const SESSION_OPEN_PAUSE: Duration = Duration::from_millis(100);

/// An open connection to one host.
pub struct Connection {
    host: String,
    escalation: Option<Escalation>,
    /// `None` once closed, and for a local connection.
    master: Option<Master>,
    round_trips: AtomicUsize,
    /// The sessions a script may take; a script waits for a free one.
    sessions: tokio::sync::Semaphore,
    /// Shell text run before every script from now on (the run lock's record of
    /// each session, once this run holds the host's lock).
    prologue: std::sync::OnceLock<String>,
}

impl Drop for Connection {
    /// A connection dropped without `close` still ends a master of its own: its
    /// ssh process is killed (the kernel would end it with pgconverge anyway).
    fn drop(&mut self) {
        if let Some(master) = &mut self.master
            && let Some(process) = &mut master.process
        {
            let _ = process.start_kill();
        }
    }
}

impl Connection {
    /// Starts the master connection with the system's ssh (or reuses a persisted
    /// one), then works through its control socket. A failure is ssh's own words.
    pub async fn open(target: &Target, options: &SshOptions) -> Result<Connection, TransportError> {
        let connection = |master| Connection {
            host: target.name.clone(),
            escalation: target.escalation.clone(),
            master,
            round_trips: AtomicUsize::new(0),
            sessions: tokio::sync::Semaphore::new(SESSIONS_PER_HOST),
            prologue: std::sync::OnceLock::new(),
        };
        if target.local {
            return Ok(connection(None));
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
        let master = master::open(target, options).await.map_err(failed)?;
        Ok(connection(Some(master)))
    }

    pub fn host(&self) -> &str {
        &self.host
    }

    /// Whether this connection reused a master a run before left (`--persist`).
    pub fn reused(&self) -> bool {
        self.master.as_ref().is_some_and(|master| master.reused)
    }

    /// Runs a POSIX shell script on the host: one SSH round trip.
    pub async fn run(&self, script: &str) -> Result<ScriptOutput, TransportError> {
        self.run_watched(script, &|_| {}).await
    }

    /// The same, telling `watch` each line the script writes to standard error as
    /// it comes (a line ends at a newline or a carriage return, as progress
    /// meters write them); the whole output is returned at the end as well.
    pub async fn run_watched(
        &self,
        script: &str,
        watch: &(dyn Fn(&str) + Sync),
    ) -> Result<ScriptOutput, TransportError> {
        // The semaphore is never closed, so acquiring only waits.
        let _session = self.sessions.acquire().await;
        self.round_trips.fetch_add(1, Ordering::Relaxed);
        let lost = |reason: String| TransportError::Run {
            host: self.host.clone(),
            reason,
        };
        let (arguments, input) = match self.prologue.get() {
            Some(prologue) => {
                escalation::invocation(self.escalation.as_ref(), &format!("{prologue}{script}"))
            }
            None => escalation::invocation(self.escalation.as_ref(), script),
        };
        let output = match &self.master {
            None => run_here(&arguments, &input, watch).await,
            Some(master) => run_there(&master.session, &arguments, &input, watch).await,
        }
        .map_err(lost)?;
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if let Some(escalation) = &self.escalation
            && output.exit_code == Some(escalation::ESCALATION_REFUSED)
        {
            return Err(TransportError::Become {
                host: self.host.clone(),
                method: escalation.method.name(),
                user: escalation.user.clone(),
                reason: escalation::reason(&stderr),
            });
        }
        Ok(ScriptOutput {
            exit_code: output.exit_code,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr,
        })
    }

    /// Runs `prologue` before every script from now on; set once.
    pub fn set_prologue(&self, prologue: String) {
        let _ = self.prologue.set(prologue);
    }

    /// How many scripts this connection has run.
    pub fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::Relaxed)
    }

    /// Ends the master connection, unless it is persisted: then it stays for the
    /// next run until its idle time is over.
    pub async fn close(mut self) {
        let Some(master) = self.master.take() else {
            return;
        };
        match master.socket {
            // Closing only ends the master connection; a failure to do so leaves
            // nothing to undo (the directory and the socket go with it).
            ControlSocket::Private(_) => {
                let _ = master.session.close().await;
                if let Some(mut process) = master.process {
                    let _ = process.wait().await;
                }
            }
            ControlSocket::Persisted(_) => {
                let _ = master.session.detach();
            }
        }
    }
}

/// A script that runs as a session of its own until it is released: it sees its
/// standard input end when the run releases it, when the run ends, or when the
/// connection does (the run lock's holder). Its standard output comes line by
/// line as it is written.
pub struct HeldScript {
    pub lines: tokio::sync::mpsc::UnboundedReceiver<String>,
    release: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<ScriptOutput, TransportError>>,
}

impl HeldScript {
    /// Closes the script's standard input and waits for it to end.
    pub async fn release(mut self) -> Result<ScriptOutput, TransportError> {
        if let Some(release) = self.release.take() {
            let _ = release.send(());
        }
        match (&mut self.task).await {
            Ok(result) => result,
            Err(error) => Err(TransportError::Run {
                host: String::new(),
                reason: error.to_string(),
            }),
        }
    }
}

/// Starts `script` on `connection` as a session held open (`HeldScript`). It
/// takes none of the connection's script sessions: sshd's ten are eight
/// scripts, this one, and one to spare.
pub fn hold(connection: std::sync::Arc<Connection>, script: &str) -> HeldScript {
    let (lines_sender, lines) = tokio::sync::mpsc::unbounded_channel();
    let (release, released) = tokio::sync::oneshot::channel();
    let (arguments, input) = escalation::invocation(connection.escalation.as_ref(), script);
    let arguments: Vec<String> = arguments.into_iter().map(str::to_string).collect();
    let task = tokio::spawn(async move {
        connection.round_trips.fetch_add(1, Ordering::Relaxed);
        let arguments: Vec<&str> = arguments.iter().map(String::as_str).collect();
        let held = Held {
            input: &input,
            lines: lines_sender,
            released,
        };
        let output = match &connection.master {
            None => hold_here(&arguments, held).await,
            Some(master) => hold_there(&master.session, &arguments, held).await,
        }
        .map_err(|reason| TransportError::Run {
            host: connection.host.clone(),
            reason,
        })?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        // sudo or su refused: said as for any other script, never as the held
        // script's own failure.
        if let Some(escalation) = &connection.escalation
            && output.exit_code == Some(escalation::ESCALATION_REFUSED)
        {
            return Err(TransportError::Become {
                host: connection.host.clone(),
                method: escalation.method.name(),
                user: escalation.user.clone(),
                reason: escalation::reason(&stderr),
            });
        }
        Ok(ScriptOutput {
            exit_code: output.exit_code,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    });
    HeldScript {
        lines,
        release: Some(release),
        task,
    }
}

/// What a held script is given: its input, where its lines go, and the signal
/// that releases it.
struct Held<'a> {
    input: &'a [u8],
    lines: tokio::sync::mpsc::UnboundedSender<String>,
    released: tokio::sync::oneshot::Receiver<()>,
}

/// Opens a session for `sh ARGUMENTS` on the master, asking again (boundedly)
/// while sshd refuses it for its `MaxSessions`.
async fn open_session<'s>(
    session: &'s Session,
    arguments: &[&str],
) -> Result<openssh::Child<&'s Session>, String> {
    let mut refusals = 0;
    loop {
        let spawned = session
            .command("sh")
            .args(arguments)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await;
        match spawned {
            Ok(child) => return Ok(child),
            // sshd refuses a session beyond its MaxSessions, and counts one
            // until its channel's close has gone both ways: a session just ended
            // may still count. Nothing ran, so opening it again is safe.
            Err(openssh::Error::SshMux(openssh_mux_client::Error::RequestFailure(_)))
                if refusals < SESSION_OPEN_ATTEMPTS - 1 =>
            {
                refusals += 1;
                tokio::time::sleep(SESSION_OPEN_PAUSE * refusals).await;
            }
            Err(error) => return Err(error_chain(&error)),
        }
    }
}

async fn hold_there(
    session: &Session,
    arguments: &[&str],
    held: Held<'_>,
) -> Result<RawOutput, String> {
    let mut child = open_session(session, arguments).await?;
    let (stdout, stderr) = keep(
        child.stdin().take(),
        child.stdout().take(),
        child.stderr().take(),
        held,
    )
    .await?;
    let exit_code = match child.wait().await {
        Ok(status) => status.code(),
        Err(openssh::Error::RemoteProcessTerminated) => None,
        Err(error) => return Err(error_chain(&error)),
    };
    Ok(RawOutput {
        exit_code,
        stdout,
        stderr,
    })
}

async fn hold_here(arguments: &[&str], held: Held<'_>) -> Result<RawOutput, String> {
    let mut child = tokio::process::Command::new("sh")
        .args(arguments)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|error| error.to_string())?;
    let (stdout, stderr) = keep(
        child.stdin.take(),
        child.stdout.take(),
        child.stderr.take(),
        held,
    )
    .await?;
    let status = child.wait().await.map_err(|error| error.to_string())?;
    Ok(RawOutput {
        exit_code: status.code(),
        stdout,
        stderr,
    })
}

/// Writes the input and keeps standard input open until released; tells each
/// line of standard output as it comes and collects both outputs until the
/// script ends.
async fn keep(
    stdin: Option<impl AsyncWriteExt + Unpin>,
    stdout: Option<impl AsyncRead + Unpin>,
    stderr: Option<impl AsyncRead + Unpin>,
    held: Held<'_>,
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let Held {
        input,
        lines,
        released,
    } = held;
    let write = async move {
        if let Some(mut stdin) = stdin {
            // A script that ended early no longer reads: that is its answer.
            if stdin.write_all(input).await.is_ok() && stdin.flush().await.is_ok() {
                let _ = released.await;
            }
            drop(stdin);
        }
    };
    let read_stdout = async move {
        let mut bytes = Vec::new();
        if let Some(stdout) = stdout {
            let mut reader = tokio::io::BufReader::new(stdout);
            loop {
                let mut line = Vec::new();
                let read = tokio::io::AsyncBufReadExt::read_until(&mut reader, b'\n', &mut line)
                    .await
                    .map_err(|error| error.to_string())?;
                if read == 0 {
                    break;
                }
                bytes.extend_from_slice(&line);
                let text = String::from_utf8_lossy(&line).trim_end().to_string();
                let _ = lines.send(text);
            }
        }
        Ok::<_, String>(bytes)
    };
    let read_stderr = async move {
        let mut bytes = Vec::new();
        if let Some(mut stderr) = stderr {
            stderr
                .read_to_end(&mut bytes)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok::<_, String>(bytes)
    };
    let (_, stdout, stderr) = tokio::join!(write, read_stdout, read_stderr);
    Ok((stdout?, stderr?))
}

/// What a script wrote and how it ended, before it is read as text.
struct RawOutput {
    /// `None` when the script was ended by a signal.
    exit_code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

/// Runs `sh ARGUMENTS` over the connection with `input` on its standard input.
async fn run_there(
    session: &Session,
    arguments: &[&str],
    input: &[u8],
    watch: &(dyn Fn(&str) + Sync),
) -> Result<RawOutput, String> {
    let mut child = open_session(session, arguments).await?;
    let (stdout, stderr) = exchange(
        child.stdin().take(),
        child.stdout().take(),
        child.stderr().take(),
        input,
        watch,
    )
    .await?;
    let exit_code = match child.wait().await {
        Ok(status) => status.code(),
        // The native client reports 127 (the shell's "not found") as an error of
        // its own; for a script it is only an exit status.
        Err(openssh::Error::Remote(error)) if error.kind() == std::io::ErrorKind::NotFound => {
            Some(127)
        }
        Err(openssh::Error::RemoteProcessTerminated) => None,
        Err(error) => return Err(error_chain(&error)),
    };
    Ok(RawOutput {
        exit_code,
        stdout,
        stderr,
    })
}

/// Writes the input and reads both outputs at once, so that neither side waits
/// on a full pipe; standard error is told to `watch` line by line.
async fn exchange(
    stdin: Option<impl AsyncWriteExt + Unpin>,
    stdout: Option<impl AsyncRead + Unpin>,
    stderr: Option<impl AsyncRead + Unpin>,
    input: &[u8],
    watch: &(dyn Fn(&str) + Sync),
) -> Result<(Vec<u8>, Vec<u8>), String> {
    let write = async {
        match stdin {
            Some(stdin) => feed(stdin, input).await,
            None => Ok(()),
        }
    };
    let read_stdout = async {
        let mut bytes = Vec::new();
        if let Some(mut stdout) = stdout {
            stdout
                .read_to_end(&mut bytes)
                .await
                .map_err(|error| error.to_string())?;
        }
        Ok::<_, String>(bytes)
    };
    let read_stderr = async {
        let mut bytes = Vec::new();
        if let Some(mut stderr) = stderr {
            let mut told = 0;
            let mut chunk = [0u8; 4096];
            loop {
                let read = stderr
                    .read(&mut chunk)
                    .await
                    .map_err(|error| error.to_string())?;
                if read == 0 {
                    break;
                }
                bytes.extend_from_slice(&chunk[..read]);
                while let Some(end) = bytes[told..]
                    .iter()
                    .position(|byte| *byte == b'\n' || *byte == b'\r')
                {
                    let line = String::from_utf8_lossy(&bytes[told..told + end]);
                    if !line.is_empty() {
                        watch(&line);
                    }
                    told += end + 1;
                }
            }
        }
        Ok::<_, String>(bytes)
    };
    // A script may end without reading all of its input: its output still counts.
    let (_, stdout, stderr) = tokio::join!(write, read_stdout, read_stderr);
    Ok((stdout?, stderr?))
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
async fn run_here(
    arguments: &[&str],
    input: &[u8],
    watch: &(dyn Fn(&str) + Sync),
) -> Result<RawOutput, String> {
    let mut child = tokio::process::Command::new("sh")
        .args(arguments)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|error| error.to_string())?;
    let (stdout, stderr) = exchange(
        child.stdin.take(),
        child.stdout.take(),
        child.stderr.take(),
        input,
        watch,
    )
    .await?;
    let status = child.wait().await.map_err(|error| error.to_string())?;
    Ok(RawOutput {
        exit_code: status.code(),
        stdout,
        stderr,
    })
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

    /// A primary's sshd refused the slots of the standbys beyond its
    /// `MaxSessions` ("no more sessions") when a hundred standbys made theirs at
    /// once: scripts on one connection now wait for a free session.
    #[test]
    fn scripts_on_one_connection_wait_for_a_free_session() {
        let runtime = tokio::runtime::Runtime::new().expect("a runtime");
        let local = Target {
            name: "primary".into(),
            local: true,
            ..Target::default()
        };
        let running = tempfile::tempdir().expect("a temporary directory");
        // Each script is in `running` while it runs and prints how many are there.
        let script = format!(
            "mkdir {dir}/$$ && ls {dir} | wc -l && sleep 0.2 && rmdir {dir}/$$",
            dir = crate::shell::quote(&running.path().to_string_lossy())
        );
        let most = runtime.block_on(async {
            let connection = std::sync::Arc::new(
                Connection::open(&local, &SshOptions::default())
                    .await
                    .unwrap_or_else(|error| panic!("{error}")),
            );
            let mut scripts = tokio::task::JoinSet::new();
            for _ in 0..3 * SESSIONS_PER_HOST {
                let connection = std::sync::Arc::clone(&connection);
                let script = script.clone();
                scripts.spawn(async move { connection.run(&script).await });
            }
            let mut most = 0;
            while let Some(joined) = scripts.join_next().await {
                let output = joined
                    .expect("no panic")
                    .unwrap_or_else(|error| panic!("{error}"));
                assert!(output.success(), "{output:?}");
                let seen: usize = output.stdout.trim().parse().expect("a count");
                most = most.max(seen);
            }
            most
        });
        assert!(
            (2..=SESSIONS_PER_HOST).contains(&most),
            "at most {SESSIONS_PER_HOST} scripts at once, and some in parallel: {most} seen"
        );
    }
}
