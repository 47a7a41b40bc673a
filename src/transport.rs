//! SSH transport: the system's OpenSSH client with one multiplexed master
//! connection per host (so `~/.ssh/config`, agents and `known_hosts` work as users
//! expect), and scripts sent on standard input so that no secret is on a command line.

use openssh::{KnownHosts, Session, SessionBuilder, Stdio};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Where and as whom to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub address: String,
    pub port: Option<u16>,
    pub user: Option<String>,
}

/// How every connection is made.
#[derive(Debug, Clone)]
pub struct SshOptions {
    pub config_file: Option<PathBuf>,
    pub connect_timeout: Duration,
    /// Accept and record the key of a host seen for the first time; a changed key is
    /// always refused. Off by default: host keys are checked strictly.
    pub accept_new_host_keys: bool,
}

impl Default for SshOptions {
    fn default() -> Self {
        SshOptions {
            config_file: None,
            connect_timeout: Duration::from_secs(10),
            accept_new_host_keys: false,
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

/// An open connection to one host.
pub struct Connection {
    host: String,
    session: Session,
    round_trips: AtomicUsize,
}

impl Connection {
    pub async fn open(target: &Target, options: &SshOptions) -> Result<Connection, TransportError> {
        let mut builder = SessionBuilder::default();
        builder
            .known_hosts_check(if options.accept_new_host_keys {
                KnownHosts::Add
            } else {
                KnownHosts::Strict
            })
            .connect_timeout(options.connect_timeout)
            .server_alive_interval(Duration::from_secs(15))
            .control_directory(std::env::temp_dir());
        if let Some(config_file) = &options.config_file {
            builder.config_file(config_file);
        }
        if let Some(port) = target.port {
            builder.port(port);
        }
        if let Some(user) = &target.user {
            builder.user(user.clone());
        }
        let session =
            builder
                .connect(&target.address)
                .await
                .map_err(|error| TransportError::Connect {
                    host: target.name.clone(),
                    address: target.address.clone(),
                    reason: error_chain(&error),
                })?;
        Ok(Connection {
            host: target.name.clone(),
            session,
            round_trips: AtomicUsize::new(0),
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
        let mut child = self
            .session
            .command("sh")
            .arg("-s")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .await
            .map_err(|error| lost(error_chain(&error)))?;
        if let Some(mut stdin) = child.stdin().take() {
            stdin
                .write_all(script.as_bytes())
                .await
                .map_err(|error| lost(error.to_string()))?;
            stdin
                .shutdown()
                .await
                .map_err(|error| lost(error.to_string()))?;
        }
        let output = child
            .wait_with_output()
            .await
            .map_err(|error| lost(error_chain(&error)))?;
        Ok(ScriptOutput {
            exit_code: output.status.code(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }

    /// How many scripts this connection has run.
    pub fn round_trips(&self) -> usize {
        self.round_trips.load(Ordering::Relaxed)
    }

    pub async fn close(self) {
        // Closing only ends the master connection; a failure to do so leaves nothing to undo.
        let _ = self.session.close().await;
    }
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
