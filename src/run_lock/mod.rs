//! One run at a time on a host: the run lock every command that changes
//! anything takes on each host before its facts are read, held by a session of
//! its own on the host's master connection (`hold.sh`) for as long as the run
//! lasts, and the record of who holds it.
//!
//! The kernel decides when a holder is gone: the lock is a `flock` of the
//! holding script, which ends when its session's standard input ends, that is
//! when the run lets go, when pgconverge ends (its private ssh master dies with
//! it), or when sshd sees the connection end. A slow network never takes a live
//! holder's lock: nothing times out but the connection itself (bounded by
//! sshd's `ClientAliveInterval` × `ClientAliveCountMax`, else TCP keepalive).

use crate::script::Script;
use crate::transport::{self, Connection, HeldScript};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The holding script.
const HOLD: &str = include_str!("hold.sh");

/// Shell text run before each script of a run that holds the host's lock: it
/// records the script's process, for the holder to end if the run ends first.
pub const REGISTER_SESSION: &str = include_str!("register_session.sh");

/// Who holds a host's lock: what the holder wrote beside it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HolderRecord {
    pub user: String,
    pub controller: String,
    pub pid: u32,
    pub command: String,
    /// Seconds since the epoch when the run took the lock.
    pub since: u64,
}

impl HolderRecord {
    /// This process, running `command`, from now.
    pub fn of_this_run(command: &str) -> HolderRecord {
        HolderRecord {
            user: std::env::var("USER")
                .or_else(|_| std::env::var("LOGNAME"))
                .unwrap_or_else(|_| format!("uid {}", unsafe_free_uid())),
            controller: controller_name(),
            pid: std::process::id(),
            command: command.to_string(),
            since: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|elapsed| elapsed.as_secs())
                .unwrap_or_default(),
        }
    }

    /// The record as written on the host: `key=value` lines, each value on one
    /// line.
    pub fn to_text(&self) -> String {
        let one_line = |value: &str| value.replace(['\n', '\r'], " ");
        format!(
            "user={}\ncontroller={}\npid={}\ncommand={}\nsince={}\n",
            one_line(&self.user),
            one_line(&self.controller),
            self.pid,
            one_line(&self.command),
            self.since
        )
    }

    /// Reads a record; what is missing or unreadable stays empty. Another run
    /// wrote it: control characters are dropped, so printing it is safe.
    pub fn parse(text: &str) -> HolderRecord {
        let mut record = HolderRecord::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value: String = value.chars().filter(|c| !c.is_control()).collect();
            match key {
                "user" => record.user = value,
                "controller" => record.controller = value,
                "pid" => record.pid = value.trim().parse().unwrap_or_default(),
                "command" => record.command = value,
                "since" => record.since = value.trim().parse().unwrap_or_default(),
                _ => {}
            }
        }
        record
    }

    /// `alice on laptop (pid 4242, pgconverge apply) since 2024-05-01 10:00:00 UTC`,
    /// with how long ago when `now` is given.
    pub fn describe(&self, now: Option<u64>) -> String {
        let known = |value: &str| {
            if value.is_empty() {
                "?".to_string()
            } else {
                value.to_string()
            }
        };
        let ago = match now {
            Some(now) if now >= self.since && self.since > 0 => {
                format!(" ({} ago)", elapsed_text(now - self.since))
            }
            _ => String::new(),
        };
        format!(
            "{} on {} (pid {}, pgconverge {}) since {}{ago}",
            known(&self.user),
            known(&self.controller),
            self.pid,
            known(&self.command),
            utc_time(self.since)
        )
    }
}

/// `45 s`, `3 min 5 s`, `2 h 4 min`.
fn elapsed_text(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds} s"),
        60..3600 => format!("{} min {} s", seconds / 60, seconds % 60),
        _ => format!("{} h {} min", seconds / 3600, seconds / 60 % 60),
    }
}

fn unsafe_free_uid() -> u32 {
    // SAFETY: getuid has no preconditions and cannot fail.
    unsafe { libc::getuid() }
}

/// This machine's host name, as the kernel has it.
fn controller_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_string())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "?".to_string())
}

/// Seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn utc_time(seconds: u64) -> String {
    let days = (seconds / 86_400) as i64;
    let rest = seconds % 86_400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC",
        rest / 3600,
        rest / 60 % 60,
        rest % 60
    )
}

/// What the holding script said, line by line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LockLine {
    Held,
    /// Another run holds it; its record (or none, if it left none).
    Busy(Option<HolderRecord>),
    Waiting(Option<HolderRecord>),
    /// Sessions of a run whose holder was killed, ended before taking the lock.
    Ended(u32),
    Refused(String),
}

impl LockLine {
    pub fn parse(line: &str) -> Option<LockLine> {
        let rest = line.strip_prefix("pgconverge-lock: ")?;
        let (word, argument) = rest.split_once(' ').unwrap_or((rest, ""));
        let record = || {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD
                .decode(argument.trim())
                .ok()
                .filter(|bytes| !bytes.is_empty())
                .map(|bytes| HolderRecord::parse(&String::from_utf8_lossy(&bytes)))
        };
        Some(match word {
            "held" => LockLine::Held,
            "busy" => LockLine::Busy(record()),
            "waiting" => LockLine::Waiting(record()),
            "ended" => LockLine::Ended(argument.trim().parse().unwrap_or_default()),
            "refused" => LockLine::Refused(argument.to_string()),
            _ => return None,
        })
    }
}

/// The holding script for a run of `record`, waiting up to `wait` for a lock
/// another run holds.
pub fn script(record: &HolderRecord, wait: Duration, os_user: &str) -> Script {
    Script::new("run_lock", HOLD, os_user)
        .text("HOLDER", &record.to_text())
        .number("LOCK_WAIT_SECONDS", wait.as_secs())
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{host} is locked by {holder}: another run is at work there, so nothing was changed; wait for it to end, or give --lock-timeout SECONDS to wait for it"
    )]
    Busy { host: String, holder: String },
    #[error("cannot take the run lock on {host}: {reason}; nothing was changed")]
    Failed { host: String, reason: String },
    /// The login could not become root to take it (sudo or su refused).
    #[error("{0}; nothing was changed")]
    Escalation(transport::TransportError),
}

/// The locks a run holds, one per host, in the order they were taken.
#[derive(Default)]
pub struct HeldLocks {
    held: Vec<(String, HeldScript)>,
}

impl HeldLocks {
    /// Lets go of every lock, the last taken first, each once its session
    /// ended whatever of the run still ran there.
    pub async fn release(mut self) {
        while let Some((_, held)) = self.held.pop() {
            let _ = held.release().await;
        }
    }

    pub fn hosts(&self) -> Vec<&str> {
        self.held.iter().map(|(host, _)| host.as_str()).collect()
    }
}

/// What a host's lock needs: its connection and the PostgreSQL OS user (every
/// script's header names it).
pub struct LockTarget {
    pub host: String,
    pub connection: Arc<Connection>,
    pub os_user: String,
    /// Where the host is, which orders the locks.
    pub order: (String, u16),
}

/// Takes the lock of every host, one after the other in the order given (every
/// run takes them in the same order, by address, so two runs never each hold
/// what the other waits for); `said` hears what is worth telling. On the first
/// host that refuses, every lock taken is let go and that host is the error.
pub async fn take(
    targets: Vec<LockTarget>,
    record: &HolderRecord,
    wait: Duration,
    said: &(dyn Fn(&str) + Sync),
) -> Result<HeldLocks, LockError> {
    let mut locks = HeldLocks::default();
    for target in targets {
        let text = script(record, wait, &target.os_user).render();
        let mut held = transport::hold(Arc::clone(&target.connection), &text);
        let mut outcome = None;
        while let Some(line) = held.lines.recv().await {
            match LockLine::parse(&line) {
                Some(LockLine::Held) => {
                    outcome = Some(Ok(()));
                    break;
                }
                Some(LockLine::Waiting(holder)) => said(&format!(
                    "{} is locked by {}: waiting up to {} s",
                    target.host,
                    holder_text(holder.as_ref()),
                    wait.as_secs()
                )),
                Some(LockLine::Ended(count)) => said(&format!(
                    "{}: ended {count} script(s) of a run whose lock holder was killed",
                    target.host
                )),
                Some(LockLine::Busy(holder)) => {
                    outcome = Some(Err(LockError::Busy {
                        host: target.host.clone(),
                        holder: holder_text(holder.as_ref()),
                    }));
                    break;
                }
                Some(LockLine::Refused(reason)) => {
                    outcome = Some(Err(LockError::Failed {
                        host: target.host.clone(),
                        reason,
                    }));
                    break;
                }
                None => {}
            }
        }
        match outcome {
            Some(Ok(())) => {
                target.connection.set_prologue(REGISTER_SESSION.to_string());
                locks.held.push((target.host, held));
            }
            Some(Err(error)) => {
                let _ = held.release().await;
                locks.release().await;
                return Err(error);
            }
            None => {
                let output = held.release().await;
                locks.release().await;
                let reason = match output {
                    Err(error @ transport::TransportError::Become { .. }) => {
                        return Err(LockError::Escalation(error));
                    }
                    Ok(output) => match output.stderr.trim() {
                        "" => format!(
                            "the lock script ended (exit code {}) without taking it",
                            output.exit_code.unwrap_or(-1)
                        ),
                        said => said.to_string(),
                    },
                    Err(error) => error.to_string(),
                };
                return Err(LockError::Failed {
                    host: target.host,
                    reason,
                });
            }
        }
    }
    Ok(locks)
}

fn holder_text(holder: Option<&HolderRecord>) -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .ok();
    match holder {
        Some(holder) => holder.describe(now),
        None => "a run that left no record".to_string(),
    }
}

/// A lock another run held when the facts were read (`status`, `check`, a dry
/// run), as the facts script saw it.
pub fn held_text(holder: &str) -> String {
    holder_text(Some(&HolderRecord::parse(holder)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> HolderRecord {
        HolderRecord {
            user: "alice".into(),
            controller: "laptop".into(),
            pid: 4242,
            command: "apply".into(),
            since: 1_714_557_600,
        }
    }

    #[test]
    fn a_record_reads_back_as_written() {
        assert_eq!(HolderRecord::parse(&record().to_text()), record());
    }

    #[test]
    fn a_record_says_who_what_and_since_when() {
        assert_eq!(
            record().describe(Some(1_714_557_600 + 185)),
            "alice on laptop (pid 4242, pgconverge apply) since 2024-05-01 10:00:00 UTC (3 min 5 s ago)"
        );
    }

    #[test]
    fn a_value_with_a_line_break_stays_one_line_and_control_characters_never_print() {
        let mut odd = record();
        odd.command = "apply\nsince=0".into();
        let read = HolderRecord::parse(&odd.to_text());
        assert_eq!(read.command, "apply since=0");
        assert_eq!(read.since, 1_714_557_600);
        let hostile = HolderRecord::parse("user=mallory\u{1b}[2J\ncontroller=x\u{7}\n");
        assert_eq!(
            (hostile.user.as_str(), hostile.controller.as_str()),
            ("mallory[2J", "x")
        );
    }

    #[test]
    fn a_missing_or_broken_record_reads_as_unknown_fields() {
        let read = HolderRecord::parse("pid=many\nnonsense\n");
        assert_eq!(read, HolderRecord::default());
        assert!(
            read.describe(None).starts_with("? on ? (pid 0"),
            "{}",
            read.describe(None)
        );
    }

    #[test]
    fn the_script_s_lines_are_read() {
        use base64::Engine;
        let encoded = base64::engine::general_purpose::STANDARD.encode(record().to_text());
        assert_eq!(
            LockLine::parse("pgconverge-lock: held"),
            Some(LockLine::Held)
        );
        assert_eq!(
            LockLine::parse(&format!("pgconverge-lock: busy {encoded}")),
            Some(LockLine::Busy(Some(record())))
        );
        assert_eq!(
            LockLine::parse("pgconverge-lock: busy "),
            Some(LockLine::Busy(None))
        );
        assert_eq!(
            LockLine::parse("pgconverge-lock: ended 2"),
            Some(LockLine::Ended(2))
        );
        assert_eq!(LockLine::parse("something else"), None);
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(utc_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(utc_time(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(utc_time(1_735_689_599), "2024-12-31 23:59:59 UTC");
    }

    #[test]
    fn the_lock_scripts_pass_shellcheck() {
        let held = script(&record(), Duration::from_secs(5), "postgres");
        assert_eq!(crate::script::check::shellcheck(&held), "");
        assert_eq!(
            crate::script::check::shellcheck_text(&format!("#!/bin/sh\n{REGISTER_SESSION}")),
            ""
        );
    }
}
