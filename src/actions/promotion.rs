//! The operations of a promotion and a switchover, which `promote` and
//! `switchover` plan (no playbook step names them): a checkpoint and a clean stop
//! of the old primary (or its fence), its last checkpoint read, the new primary
//! waiting until it has replayed it, and the promotion with the version's
//! mechanism.
//!
//! Every step after the old primary stopped has an undo: when it fails, the old
//! primary is started again, so that the cluster runs as it did before the
//! command (and the PgBouncers the switchover paused resume, pointing at it),
//! and the failure says so, or names the host that is down and why. A
//! failed promotion first makes sure the candidate is, and stays, a standby: a
//! second primary is worse than none, so the old one stays stopped when that
//! cannot be shown.

use super::pgbouncer::{self, Paused};
use super::service::ControlServer;
use super::{RemoteOperation, Undo, UndoScript};
use crate::facts::Lsn;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use serde::Serialize;

/// How long a promoted server may take to accept writes, and a standby to replay
/// the old primary's last record.
const WAIT_SECONDS: u32 = 60;

/// A checkpoint on the primary, so its clean shutdown is quick.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Checkpoint {
    #[serde(skip)]
    pub server: HostSettings,
}

/// Stops the old primary: cleanly before a switchover, or to fence it before a
/// promotion. When the stop fails, nothing was promoted: it is started again if it
/// went down.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StopPrimary {
    pub primary: String,
    #[serde(skip)]
    pub server: HostSettings,
    /// The PgBouncers the switchover paused, resumed when the step fails.
    #[serde(skip)]
    pub resume: Vec<Paused>,
}

/// After a clean stop: the location of the shutdown checkpoint, the last record
/// the old primary wrote, which its report gives. When it cannot be read, the old
/// primary is started again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadLastCheckpoint {
    pub primary: String,
    #[serde(skip)]
    pub server: HostSettings,
    #[serde(skip)]
    pub resume: Vec<Paused>,
}

/// Waits until the new primary has replayed past the old one's last checkpoint,
/// which the step `from_step` of `old_primary` reported. If it does not, nothing
/// was promoted, and the old primary is started again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WaitForReplay {
    pub old_primary: String,
    pub from_step: String,
    pub position: Option<Lsn>,
    #[serde(skip)]
    pub server: HostSettings,
    #[serde(skip)]
    pub old_server: HostSettings,
    #[serde(skip)]
    pub resume: Vec<Paused>,
}

/// Promotes (`pg_promote()` from 12, `pg_ctl promote` from 9.1, the trigger file
/// before) and waits until the server accepts writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Promote {
    pub host: String,
    /// The old primary this command stopped (a switchover, a fence), which runs
    /// again when the promotion fails; `None` for a failover from a primary that
    /// was down already.
    pub old_primary: Option<String>,
    #[serde(skip)]
    pub server: HostSettings,
    #[serde(skip)]
    pub old_server: Option<HostSettings>,
    #[serde(skip)]
    pub resume: Vec<Paused>,
}

/// Starts `host` again with `server`'s start command (a server that runs is left
/// alone); the script runs on `host`, which is another host than the step's when
/// `other_host`.
fn start_again(host: &str, server: &HostSettings, other_host: bool, failed: String) -> UndoScript {
    let script = Script::for_server(
        "start_again",
        include_str!("scripts/start_again.sh"),
        server,
    )
    .text("START_COMMAND", &server.start_command);
    UndoScript {
        script: HostScript {
            other_host: other_host.then(|| host.to_string()),
            script,
        },
        failed,
    }
}

/// What undoes a step after the old primary `host` stopped: it starts again,
/// then the PgBouncers the switchover paused resume.
fn old_primary_starts_again(
    host: &str,
    server: &HostSettings,
    other_host: bool,
    resume: &[Paused],
) -> Undo {
    let mut scripts = vec![start_again(
        host,
        server,
        other_host,
        format!("{host} is down: it did not start again"),
    )];
    scripts.extend(resume.iter().map(pgbouncer::resume));
    Undo {
        scripts,
        done: format!(
            "nothing was promoted, and {host} runs as the primary again{}",
            pgbouncer::resumed(resume)
        ),
    }
}

impl RemoteOperation for Checkpoint {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::for_server(
            "checkpoint",
            include_str!("scripts/checkpoint.sh"),
            &self.server,
        );
        Ok(vec![HostScript::own(script)])
    }
}

impl RemoteOperation for StopPrimary {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let stop = ControlServer::stop(&self.server);
        Ok(vec![HostScript::own(stop.script())])
    }

    fn undo(&self) -> Option<Undo> {
        Some(old_primary_starts_again(
            &self.primary,
            &self.server,
            false,
            &self.resume,
        ))
    }
}

impl RemoteOperation for ReadLastCheckpoint {
    fn undo(&self) -> Option<Undo> {
        Some(old_primary_starts_again(
            &self.primary,
            &self.server,
            false,
            &self.resume,
        ))
    }

    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::for_server(
            "last_checkpoint",
            include_str!("scripts/last_checkpoint.sh"),
            &self.server,
        );
        Ok(vec![HostScript::own(script)])
    }
}

impl RemoteOperation for WaitForReplay {
    fn needs_report_of(&self) -> Option<(&str, &str)> {
        self.position
            .is_none()
            .then_some((self.old_primary.as_str(), self.from_step.as_str()))
    }

    /// The operation with the position the old primary's step reported.
    fn given_report(&self, report: &str) -> Result<WaitForReplay, String> {
        let position = Lsn::parse(report).ok_or_else(|| {
            format!(
                "cannot read the last checkpoint of {} from `{report}`",
                self.old_primary
            )
        })?;
        Ok(WaitForReplay {
            position: Some(position),
            ..self.clone()
        })
    }

    /// Nothing was promoted: the old primary is started again.
    fn undo(&self) -> Option<Undo> {
        Some(old_primary_starts_again(
            &self.old_primary,
            &self.old_server,
            true,
            &self.resume,
        ))
    }

    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let Some(position) = self.position else {
            return Err(format!(
                "the last checkpoint of {} was not read",
                self.old_primary
            ));
        };
        let script = Script::for_server(
            "wait_for_replay",
            include_str!("scripts/wait_for_replay.sh"),
            &self.server,
        )
        .text("POSITION", &position.to_string())
        .number("WAIT_SECONDS", WAIT_SECONDS);
        Ok(vec![HostScript::own(script)])
    }
}

impl RemoteOperation for Promote {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script =
            Script::for_server("promote", include_str!("scripts/promote.sh"), &self.server)
                .number("WAIT_SECONDS", WAIT_SECONDS)
                .number("STOP_IF_UNFINISHED", u8::from(self.old_server.is_some()))
                .text("STOP_COMMAND", &self.server.stop_command);
        Ok(vec![HostScript::own(script)])
    }

    /// The old primary this command stopped runs again, once this server is shown
    /// to be a standby that cannot finish the promotion later (promote.sh stopped
    /// it if one was asked for and did not finish); then this server is started
    /// again if it is down.
    fn undo(&self) -> Option<Undo> {
        let (Some(old), Some(old_server)) = (&self.old_primary, &self.old_server) else {
            return None;
        };
        let new = &self.host;
        let resumes = self.resume.iter().map(pgbouncer::resume);
        let still_standby = Script::for_server(
            "still_standby",
            include_str!("scripts/still_standby.sh"),
            &self.server,
        );
        Some(Undo {
            scripts: vec![
                UndoScript {
                    script: HostScript::own(still_standby),
                    failed: format!(
                        "{old} stays stopped, so that there are never two primaries: {new} may be one"
                    ),
                },
                start_again(
                    old,
                    old_server,
                    true,
                    format!("{new} is still a standby, but {old} is down: it did not start again"),
                ),
                start_again(
                    new,
                    &self.server,
                    false,
                    format!(
                        "{old} runs as the primary again, but {new} is down: it did not start again as a standby"
                    ),
                ),
            ]
            .into_iter()
            .chain(resumes)
            .collect(),
            done: format!(
                "{new} is still a standby, and {old} runs as the primary again{}",
                pgbouncer::resumed(&self.resume)
            ),
        })
    }
}

/// One of each operation, for the tests that check every script.
#[cfg(test)]
pub fn examples(server: &HostSettings) -> Vec<super::Operation> {
    let wait = WaitForReplay {
        old_primary: "db1".into(),
        from_step: "last checkpoint".into(),
        position: Some(Lsn(0x3_0000_0148)),
        server: server.clone(),
        old_server: server.clone(),
        resume: Vec::new(),
    };
    vec![
        Checkpoint {
            server: server.clone(),
        }
        .into(),
        StopPrimary {
            primary: "db1".into(),
            server: server.clone(),
            resume: Vec::new(),
        }
        .into(),
        ReadLastCheckpoint {
            primary: "db1".into(),
            server: server.clone(),
            resume: Vec::new(),
        }
        .into(),
        wait.into(),
        Promote {
            host: "db2".into(),
            old_primary: Some("db1".into()),
            server: server.clone(),
            old_server: Some(server.clone()),
            resume: Vec::new(),
        }
        .into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::check::shellcheck;

    #[test]
    fn the_position_comes_from_the_old_primarys_report() {
        let wait = WaitForReplay {
            old_primary: "db1".into(),
            from_step: "last checkpoint".into(),
            position: None,
            server: HostSettings::example(),
            old_server: HostSettings::example(),
            resume: Vec::new(),
        };
        assert!(wait.scripts().is_err());
        assert!(wait.given_report("not a position").is_err());
        let given = wait
            .given_report("3/148")
            .unwrap_or_else(|error| panic!("{error}"));
        let scripts = given.scripts().unwrap_or_else(|error| panic!("{error}"));
        assert!(scripts[0].script.describe().contains("POSITION=3/148"));
        for step in given.undo().map(|undo| undo.scripts).unwrap_or_default() {
            assert_eq!(step.script.other_host.as_deref(), Some("db1"));
            assert_eq!(shellcheck(&step.script.script), "");
        }
    }

    #[test]
    fn a_failed_promotion_starts_the_old_primary_only_after_the_candidate_is_shown_a_standby() {
        let promote = Promote {
            host: "db2".into(),
            old_primary: Some("db1".into()),
            server: HostSettings::example(),
            old_server: Some(HostSettings::example()),
            resume: Vec::new(),
        };
        let undo = promote
            .undo()
            .unwrap_or_else(|| panic!("a promotion after a stop has an undo"));
        let order: Vec<(&str, Option<&str>)> = undo
            .scripts
            .iter()
            .map(|step| (step.script.script.name(), step.script.other_host.as_deref()))
            .collect();
        assert_eq!(
            order,
            [
                ("still_standby", None),
                ("start_again", Some("db1")),
                ("start_again", None)
            ]
        );
        assert_eq!(
            undo.done,
            "db2 is still a standby, and db1 runs as the primary again"
        );
        assert!(undo.scripts[0].failed.starts_with("db1 stays stopped"));
        for step in &undo.scripts {
            assert_eq!(shellcheck(&step.script.script), "");
        }
        let scripts = promote.scripts().unwrap_or_else(|error| panic!("{error}"));
        assert!(
            scripts[0]
                .script
                .describe()
                .contains("STOP_IF_UNFINISHED=1")
        );
        // A failover from a primary that was down already: nothing to start again,
        // and a promotion that finishes late is what was asked for.
        let failover = Promote {
            old_primary: None,
            old_server: None,
            ..promote
        };
        assert!(failover.undo().is_none());
        let scripts = failover.scripts().unwrap_or_else(|error| panic!("{error}"));
        assert!(
            scripts[0]
                .script
                .describe()
                .contains("STOP_IF_UNFINISHED=0")
        );
    }

    #[test]
    fn every_step_after_the_old_primary_stopped_starts_it_again_when_it_fails() {
        let server = HostSettings::example();
        let stop = StopPrimary {
            primary: "db1".into(),
            server: server.clone(),
            resume: Vec::new(),
        };
        let read = ReadLastCheckpoint {
            primary: "db1".into(),
            server: server.clone(),
            resume: Vec::new(),
        };
        for undo in [stop.undo(), read.undo()] {
            let undo = undo.unwrap_or_else(|| panic!("an undo"));
            assert_eq!(undo.scripts.len(), 1);
            assert_eq!(undo.scripts[0].script.other_host, None);
            assert_eq!(undo.scripts[0].script.script.name(), "start_again");
            assert_eq!(
                undo.done,
                "nothing was promoted, and db1 runs as the primary again"
            );
        }
        assert!(
            Checkpoint { server }.undo().is_none(),
            "a checkpoint changes nothing to undo"
        );
    }
}
