//! The master connection of a host: the one `ssh` process pgconverge starts per
//! host, and the control socket every script then goes through (natively, with
//! no ssh process per script). The socket is private to one run, or, with
//! `--persist`, kept in the user's own directory so that the next run reuses it.
//!
//! A private master is a child of pgconverge that never outlives it: it stays in
//! the foreground (no `-f`, `ControlPersist=no`), in a process group of its own
//! (a terminal's Ctrl-C reaches pgconverge, not it first), and the kernel ends it
//! when pgconverge ends, however pgconverge ends (`PR_SET_PDEATHSIG`, even for
//! SIGKILL). Its TCP connection then closes, sshd ends the run's sessions'
//! channels, and the run lock's session sees its standard input end.

use super::{SshOptions, Target};
use openssh::Session;
use sha2::{Digest, Sha256};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The environment variable that names the directory of persisted sockets.
pub const CONTROL_DIRECTORY_VARIABLE: &str = "PGCONVERGE_CONTROL_DIR";

/// A Unix socket's path must fit in `sun_path` (108 bytes on Linux, with its
/// terminating NUL); ssh adds a temporary suffix while it binds.
const LONGEST_SOCKET_PATH: usize = 80;

/// Where a master's control socket lives.
pub(super) enum ControlSocket {
    /// A directory of this run, removed when the connection ends.
    Private(tempfile::TempDir),
    /// A socket in the persisted directory, left to its master's timeout.
    Persisted(PathBuf),
}

impl ControlSocket {
    pub(super) fn path(&self) -> PathBuf {
        match self {
            ControlSocket::Private(directory) => directory.path().join("master"),
            ControlSocket::Persisted(path) => path.clone(),
        }
    }

    fn log(&self) -> PathBuf {
        with_suffix(&self.path(), ".log")
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut text = path.as_os_str().to_owned();
    text.push(suffix);
    PathBuf::from(text)
}

/// An open master and the socket to reach it through.
pub(super) struct Master {
    pub(super) session: Session,
    pub(super) socket: ControlSocket,
    /// A persisted master that was already running: no handshake was made.
    pub(super) reused: bool,
    /// The `ssh` process of a private master, a child of this one.
    pub(super) process: Option<tokio::process::Child>,
}

/// Starts a master for `target` (or, when persisting, finds the one a run
/// before left and checks that it answers). The error is ssh's own words.
pub(super) async fn open(target: &Target, options: &SshOptions) -> Result<Master, String> {
    let socket = match options.persist {
        None => ControlSocket::Private(
            tempfile::Builder::new()
                .prefix(".pgconverge-ssh-")
                .tempdir_in(std::env::temp_dir())
                .map_err(|error| format!("cannot make the control directory: {error}"))?,
        ),
        Some(_) => ControlSocket::Persisted(persisted_socket(target, options)?),
    };
    let path = socket.path();
    if matches!(socket, ControlSocket::Persisted(_)) && path.exists() {
        let session = Session::resume_mux(path.clone().into_boxed_path(), None);
        if session.check().await.is_ok() {
            return Ok(Master {
                session,
                socket,
                reused: true,
                process: None,
            });
        }
        // A master that ended (its timeout, a reboot) can leave its socket behind;
        // ssh would not bind over it.
        std::fs::remove_file(&path).map_err(|error| {
            format!(
                "cannot remove the stale socket `{}`: {error}",
                path.display()
            )
        })?;
    }
    let process = match socket {
        ControlSocket::Persisted(_) => {
            start(target, options, &socket).await?;
            None
        }
        ControlSocket::Private(_) => Some(start_private(target, options, &socket).await?),
    };
    let session = Session::resume_mux(path.into_boxed_path(), Some(socket.log().into_boxed_path()));
    Ok(Master {
        session,
        socket,
        reused: false,
        process,
    })
}

/// How often a private master's socket is looked for while ssh logs in.
const MASTER_POLL: std::time::Duration = std::time::Duration::from_millis(20);

/// How long a private master may take to log in beyond the connect timeout (a
/// `ProxyCommand`, a slow authentication); ssh's own limits usually end it first.
const LOGIN_MARGIN: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs `ssh -M` in the foreground as a child of this process, ended by the
/// kernel when this process ends, and waits until its control socket answers.
async fn start_private(
    target: &Target,
    options: &SshOptions,
    socket: &ControlSocket,
) -> Result<tokio::process::Child, String> {
    let log = socket.log();
    let stderr_path = with_suffix(&socket.path(), ".stderr");
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|error| format!("cannot make the ssh log: {error}"))?;
    let _ = std::fs::remove_file(&log);
    let mut command = command(target, options, &socket.path(), &log);
    command.stderr(stderr).process_group(0);
    let parent = std::process::id();
    // SAFETY: between fork and exec only async-signal-safe calls: prctl and getppid.
    unsafe {
        command.pre_exec(move || end_with_parent(parent));
    }
    let mut child = command
        .spawn()
        .map_err(|error| format!("cannot run ssh: {error}"))?;
    let path = socket.path();
    let started = std::time::Instant::now();
    let limit = options.connect_timeout + LOGIN_MARGIN;
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            let logged = std::fs::read_to_string(&log).unwrap_or_default();
            let printed = std::fs::read_to_string(&stderr_path).unwrap_or_default();
            return Err([logged.trim(), printed.trim()]
                .into_iter()
                .find(|text| !text.is_empty())
                .map(str::to_string)
                .unwrap_or_else(|| format!("ssh ended with {status}")));
        }
        if path.exists() {
            let probe = Session::resume_mux(path.clone().into_boxed_path(), None);
            if probe.check().await.is_ok() {
                let _ = probe.detach();
                return Ok(child);
            }
            let _ = probe.detach();
        }
        if started.elapsed() > limit {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(format!("ssh did not log in within {} s", limit.as_secs()));
        }
        tokio::time::sleep(MASTER_POLL).await;
    }
}

/// In the child, before ssh runs: ask the kernel to kill it when its parent
/// ends, and end at once if the parent (`parent`) already did. The signal comes
/// when the thread that forked ends; tokio's worker threads live as long as the
/// runtime, which is the whole run.
fn end_with_parent(parent: u32) -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_PDEATHSIG and a signal number reads no memory.
    let set = unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) };
    if set != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: getppid has no preconditions.
    if unsafe { libc::getppid() } as u32 != parent {
        return Err(std::io::Error::other("pgconverge ended"));
    }
    Ok(())
}

/// Runs `ssh -M -f` for a persisted master: it forks once authenticated and stays
/// until closed or idle for the persist time.
async fn start(
    target: &Target,
    options: &SshOptions,
    socket: &ControlSocket,
) -> Result<(), String> {
    let log = socket.log();
    // ssh's usage errors come before it reads `-E`: they go to stderr, which is a
    // file (a pipe would stay open in the master that ssh forks off).
    let stderr_path = with_suffix(&socket.path(), ".stderr");
    let stderr = std::fs::File::create(&stderr_path)
        .map_err(|error| format!("cannot make the ssh log: {error}"))?;
    let _ = std::fs::remove_file(&log);
    let status = command(target, options, &socket.path(), &log)
        .stderr(stderr)
        .status()
        .await
        .map_err(|error| format!("cannot run ssh: {error}"))?;
    let printed = std::fs::read_to_string(&stderr_path).unwrap_or_default();
    let _ = std::fs::remove_file(&stderr_path);
    if status.success() {
        return Ok(());
    }
    let logged = std::fs::read_to_string(&log).unwrap_or_default();
    Err([logged.trim(), printed.trim()]
        .into_iter()
        .find(|text| !text.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("ssh ended with {status}")))
}

/// The variables of pgconverge's own environment that ssh is given; no other one
/// reaches it. A master lives as long as the run, or past it with `--persist`,
/// and runs the `ProxyCommand` of an inventory: the vault password file's name,
/// `PG_REPLICATION_PASSWORD` and whatever else a template read with `env()` are
/// not for it.
///
/// - `PATH` finds ssh's helpers and a `ProxyCommand`'s program; `SHELL` is the
///   shell ssh runs a `ProxyCommand` with.
/// - `HOME`, `USER` and `LOGNAME` are who the user is, as ssh and the programs
///   it starts expect them (`~/.ssh`, `%u`).
/// - `SSH_AUTH_SOCK` reaches the user's agent, which holds the login key.
/// - `KRB5CCNAME` is the Kerberos ticket of a `GSSAPIAuthentication` login.
/// - `LANG`, `LC_ALL` and `LC_CTYPE` decide how ssh shows its messages.
///
/// `SSH_ASKPASS` and `DISPLAY` are left out: the master runs with
/// `BatchMode=yes`, so ssh never asks for a passphrase or password. An ssh
/// configuration that reads another variable (`IdentityFile ${KEYS}/id`, a
/// `ProxyCommand` that needs cloud credentials from the environment) does not
/// see it: write the value into the configuration instead.
const SSH_ENVIRONMENT: [&str; 10] = [
    "PATH",
    "SHELL",
    "HOME",
    "USER",
    "LOGNAME",
    "SSH_AUTH_SOCK",
    "KRB5CCNAME",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
];

/// The environment ssh runs with: each of `SSH_ENVIRONMENT` that `lookup` finds
/// set, in that order.
pub(super) fn ssh_environment(
    lookup: impl Fn(&str) -> Option<std::ffi::OsString>,
) -> Vec<(&'static str, std::ffi::OsString)> {
    SSH_ENVIRONMENT
        .iter()
        .filter_map(|name| lookup(name).map(|value| (*name, value)))
        .collect()
}

/// `ssh` as the master of the connection, writing its messages to `log`. The
/// destination comes after `--`, so no inventory value can be read as an option.
fn command(
    target: &Target,
    options: &SshOptions,
    control: &Path,
    log: &Path,
) -> tokio::process::Command {
    // A private master stays in the foreground, a child of this process; a
    // persisted one forks off and stays until idle for the persist time.
    let (persist, fork) = match options.persist {
        None => ("ControlPersist=no".to_string(), None),
        Some(idle) => (
            format!("ControlPersist={}s", idle.as_secs().max(1)),
            Some("-f"),
        ),
    };
    let mut command = tokio::process::Command::new("ssh");
    command
        .env_clear()
        .envs(ssh_environment(|name| std::env::var_os(name)))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .arg("-E")
        .arg(log)
        .arg("-S")
        .arg(control)
        .args(["-M", "-N"])
        .args(fork)
        .arg("-o")
        .arg(persist)
        .args(["-o", "BatchMode=yes"])
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

/// The persisted socket of a target: named after everything that decides where
/// and as whom ssh logs in, so a changed inventory or option never reuses a
/// connection made for another.
fn persisted_socket(target: &Target, options: &SshOptions) -> Result<PathBuf, String> {
    let directory = persisted_directory()?;
    let mut digest = Sha256::new();
    let config_file = options
        .config_file
        .as_ref()
        .map(|path| path.to_string_lossy().into_owned());
    let mut fields = vec![
        Some(target.address.clone()),
        target.port.map(|port| port.to_string()),
        target.user.clone(),
        target.identity_file.clone(),
        config_file,
        Some(options.accept_new_host_keys.to_string()),
    ];
    fields.extend(target.ssh_args.iter().cloned().map(Some));
    for field in &fields {
        // A length before each field keeps ("ab", "c") apart from ("a", "bc").
        let text = field.as_deref().unwrap_or("\u{0}none");
        digest.update((text.len() as u64).to_le_bytes());
        digest.update(text.as_bytes());
    }
    let name = hex::encode(&digest.finalize()[..8]);
    let socket = directory.join(name);
    if socket.as_os_str().len() > LONGEST_SOCKET_PATH {
        return Err(format!(
            "the socket directory `{}` is too long for a Unix socket; set {CONTROL_DIRECTORY_VARIABLE} to a shorter one",
            directory.display()
        ));
    }
    Ok(socket)
}

/// The directory of persisted sockets: `$PGCONVERGE_CONTROL_DIR`, else
/// `$XDG_RUNTIME_DIR/pgconverge`, else `~/.cache/pgconverge/ssh`. It is made
/// private (0700) and refused when another user owns it or others may enter it,
/// since whoever reaches a socket runs commands on the host as its login.
fn persisted_directory() -> Result<PathBuf, String> {
    let directory = if let Some(directory) = std::env::var_os(CONTROL_DIRECTORY_VARIABLE) {
        PathBuf::from(directory)
    } else if let Some(runtime) = std::env::var_os("XDG_RUNTIME_DIR") {
        PathBuf::from(runtime).join("pgconverge")
    } else if let Some(home) = std::env::var_os("HOME") {
        PathBuf::from(home).join(".cache/pgconverge/ssh")
    } else {
        return Err(format!(
            "no directory for persisted connections: set {CONTROL_DIRECTORY_VARIABLE}, XDG_RUNTIME_DIR or HOME"
        ));
    };
    let shown = directory.display();
    if !directory.exists() {
        std::fs::create_dir_all(&directory)
            .map_err(|error| format!("cannot make `{shown}`: {error}"))?;
        std::fs::set_permissions(&directory, std::fs::Permissions::from_mode(0o700))
            .map_err(|error| format!("cannot make `{shown}` private: {error}"))?;
    }
    let metadata = std::fs::symlink_metadata(&directory)
        .map_err(|error| format!("cannot read `{shown}`: {error}"))?;
    // A file made here now is owned by this process's user: the directory must be too.
    let probe = tempfile::tempfile_in(&directory)
        .map_err(|error| format!("cannot write in `{shown}`: {error}"))?;
    let own_uid = probe
        .metadata()
        .map_err(|error| format!("cannot read a file in `{shown}`: {error}"))?
        .uid();
    if !metadata.is_dir() || metadata.uid() != own_uid || metadata.mode() & 0o077 != 0 {
        return Err(format!(
            "`{shown}` must be a directory of this user that no one else may enter (mode 0700)"
        ));
    }
    Ok(directory)
}

/// Ends every persisted master (`pgconverge disconnect`); returns how many
/// answered. Sockets left by masters that already ended are removed.
pub async fn disconnect_all() -> Result<usize, String> {
    let directory = persisted_directory()?;
    let entries = std::fs::read_dir(&directory)
        .map_err(|error| format!("cannot read `{}`: {error}", directory.display()))?;
    let mut closed = 0;
    for entry in entries {
        let entry =
            entry.map_err(|error| format!("cannot read `{}`: {error}", directory.display()))?;
        let path = entry.path();
        let is_socket = entry
            .file_type()
            .map(|kind| std::os::unix::fs::FileTypeExt::is_socket(&kind))
            .unwrap_or(false);
        if is_socket {
            let session = Session::resume_mux(path.clone().into_boxed_path(), None);
            if session.check().await.is_ok() && session.close().await.is_ok() {
                closed += 1;
            }
            let _ = std::fs::remove_file(&path);
        }
        if path.extension().is_some_and(|extension| extension == "log") {
            let _ = std::fs::remove_file(&path);
        }
    }
    Ok(closed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::ffi::OsString;

    #[test]
    fn ssh_is_given_only_what_it_needs_of_the_environment() {
        let environment: HashMap<&str, &str> = [
            ("PATH", "/usr/bin:/bin"),
            ("HOME", "/home/me"),
            ("USER", "me"),
            ("SSH_AUTH_SOCK", "/run/user/1000/agent"),
            ("LC_ALL", "C.UTF-8"),
            ("PG_REPLICATION_PASSWORD", "the secret"),
            ("ANSIBLE_VAULT_PASSWORD_FILE", "/home/me/.vault"),
            ("PGCONVERGE_CONTROL_DIR", "/home/me/.pgconverge"),
            ("SSH_ASKPASS", "/usr/bin/ksshaskpass"),
        ]
        .into_iter()
        .collect();
        let given = ssh_environment(|name| environment.get(name).map(OsString::from));
        let names: Vec<&str> = given.iter().map(|(name, _)| *name).collect();
        assert_eq!(names, ["PATH", "HOME", "USER", "SSH_AUTH_SOCK", "LC_ALL"]);
        assert_eq!(given[1].1, OsString::from("/home/me"));
    }

    #[test]
    fn the_master_command_sets_no_variable_beyond_those() {
        let target = Target {
            name: "db1".to_string(),
            address: "10.0.0.11".to_string(),
            port: None,
            user: None,
            identity_file: None,
            ssh_args: Vec::new(),
            escalation: None,
            local: false,
        };
        let command = command(
            &target,
            &SshOptions::default(),
            Path::new("/tmp/control"),
            Path::new("/tmp/log"),
        );
        // std writes a command as a shell would run it: a cleared environment
        // shows as `env -i`, which is the only way to see it from outside.
        let shown = format!("{:?}", command.as_std());
        assert!(shown.starts_with("env -i "), "{shown}");
        for (name, _) in command.as_std().get_envs() {
            let name = name.to_string_lossy();
            assert!(
                SSH_ENVIRONMENT.contains(&name.as_ref()),
                "ssh is given `{name}`"
            );
        }
    }
}
