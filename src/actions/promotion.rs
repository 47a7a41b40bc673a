//! The operations of a promotion and a switchover, which `promote` and
//! `switchover` plan (no playbook step names them): a checkpoint and a clean stop
//! of the old primary, its last checkpoint read, the new primary waiting until it
//! has replayed it, and the promotion with the version's mechanism.

use super::{RemoteOperation, Undo};
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

/// After a clean stop: the location of the shutdown checkpoint, the last record
/// the old primary wrote, which its report gives.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReadLastCheckpoint {
    #[serde(skip)]
    pub server: HostSettings,
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
}

/// Promotes (`pg_promote()` from 12, `pg_ctl promote` from 9.1, the trigger file
/// before) and waits until the server accepts writes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Promote {
    #[serde(skip)]
    pub server: HostSettings,
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

impl RemoteOperation for ReadLastCheckpoint {
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
        let old = &self.old_primary;
        let script = Script::for_server(
            "start_again",
            include_str!("scripts/start_again.sh"),
            &self.old_server,
        )
        .text("START_COMMAND", &self.old_server.start_command);
        Some(Undo {
            scripts: vec![HostScript {
                other_host: Some(old.clone()),
                script,
            }],
            done: format!("{old} runs as the primary again"),
            failed: format!("{old} could not be started again: start it by hand"),
        })
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
                .number("WAIT_SECONDS", WAIT_SECONDS);
        Ok(vec![HostScript::own(script)])
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
    };
    vec![
        Checkpoint {
            server: server.clone(),
        }
        .into(),
        ReadLastCheckpoint {
            server: server.clone(),
        }
        .into(),
        wait.into(),
        Promote {
            server: server.clone(),
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
        };
        assert!(wait.scripts().is_err());
        assert!(wait.given_report("not a position").is_err());
        let given = wait
            .given_report("3/148")
            .unwrap_or_else(|error| panic!("{error}"));
        let scripts = given.scripts().unwrap_or_else(|error| panic!("{error}"));
        assert!(scripts[0].script.describe().contains("POSITION=3/148"));
        for script in given.undo().map(|undo| undo.scripts).unwrap_or_default() {
            assert_eq!(script.other_host.as_deref(), Some("db1"));
            assert_eq!(shellcheck(&script.script), "");
        }
    }
}
