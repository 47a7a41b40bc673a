//! Verification after apply: a standby streams from its upstream (seen from both
//! ends), and a segment switch on the primary reaches the WAL archive. Each runs
//! when this run changes the server or the facts do not already vouch for it.

use super::{Action, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use serde::Serialize;

/// How long verification waits for streaming or for the archiver.
const WAIT_SECONDS: u32 = 60;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyStreaming {}

/// The primary's archiver: a segment switch reaches the archive.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyArchive {
    pub directory: Option<String>,
    pub destination: String,
    /// With pgBackRest, its own end-to-end check (`pgbackrest check`) verifies.
    pub pgbackrest_stanza: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckStreaming {
    pub upstream: String,
    pub upstream_host: String,
    pub application_name: String,
    #[serde(skip)]
    pub server: HostSettings,
    #[serde(skip)]
    pub upstream_server: HostSettings,
}

/// Switches to a new WAL segment on the primary and waits until the archiver
/// has archived it (and, for a directory, until it is there) with no new failure.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckArchive {
    pub directory: Option<String>,
    pub destination: String,
    pub pgbackrest_stanza: Option<String>,
    #[serde(skip)]
    pub server: HostSettings,
}

impl Action for VerifyStreaming {
    fn desire(_input: &StepInput) -> Result<VerifyStreaming, Diagnostic> {
        Ok(VerifyStreaming {})
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let upstream_name = context.host.upstream.unwrap_or_default();
        let Some(upstream) = context.upstream() else {
            return PlannedStep::refused(format!(
                "upstream `{upstream_name}` is not in the inventory"
            ));
        };
        let upstream_host = &upstream.settings.replication_host;
        let streaming = context
            .facts
            .server
            .as_ref()
            .and_then(|server| server.wal_receiver.as_ref())
            .is_some_and(|receiver| {
                receiver.status == "streaming" && &receiver.sender_host == upstream_host
            });
        if streaming && !context.host.data_replaced {
            return PlannedStep::noop(format!("streams from {upstream_name} ({upstream_host})"));
        }
        PlannedStep::check(
            format!("verify that it streams from {upstream_name} ({upstream_host}) after apply"),
            CheckStreaming {
                upstream: upstream_name.to_string(),
                upstream_host: upstream_host.clone(),
                application_name: context.host.name.to_string(),
                server: context.settings().clone(),
                upstream_server: upstream.settings.clone(),
            },
        )
    }
}

impl Action for VerifyArchive {
    fn desire(input: &StepInput) -> Result<VerifyArchive, Diagnostic> {
        let derived = input.derived;
        Ok(VerifyArchive {
            directory: derived.wal_archive_segment_dir.clone(),
            destination: derived.wal_archive_destination.clone(),
            pgbackrest_stanza: derived.pgbackrest_stanza.clone(),
        })
    }

    /// Verified when this run changes the server, or when the archiver has never
    /// archived or its last attempt failed; otherwise its statistics vouch for it.
    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let destination = &self.destination;
        let archiver = context
            .lasting_server()
            .and_then(|server| server.archiver.as_ref());
        let reason = match archiver {
            _ if context.server_changes => {
                Some("the server's configuration changes in this run".to_string())
            }
            None => Some("the server does not run yet".to_string()),
            Some(archiver) if archiver.failing() => Some(format!(
                "its last attempt failed ({}, {} failures in all)",
                archiver.last_failed_wal, archiver.failed_count
            )),
            Some(archiver) if archiver.archived_count == 0 => {
                Some("it has archived nothing yet".to_string())
            }
            Some(_) => None,
        };
        match (reason, archiver) {
            (Some(reason), _) => PlannedStep::check(
                format!("verify that a segment switch reaches {destination} after apply: {reason}"),
                CheckArchive {
                    directory: self.directory.clone(),
                    destination: destination.clone(),
                    pgbackrest_stanza: self.pgbackrest_stanza.clone(),
                    server: context.settings().clone(),
                },
            ),
            (None, Some(archiver)) => PlannedStep::noop(format!(
                "the archiver works: last archived {}, {} archived, {} failed in all",
                archiver.last_archived_wal, archiver.archived_count, archiver.failed_count
            )),
            (None, None) => PlannedStep::noop(String::new()),
        }
    }
}

impl RemoteOperation for CheckStreaming {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let standby = Script::for_server(
            "check_standby_streams",
            include_str!("scripts/check_standby_streams.sh"),
            &self.server,
        )
        .text("UPSTREAM_HOST", &self.upstream_host)
        .number("WAIT_SECONDS", WAIT_SECONDS);
        let upstream = Script::for_server(
            "check_upstream_sends",
            include_str!("scripts/check_upstream_sends.sh"),
            &self.upstream_server,
        )
        .text("APPLICATION_NAME", &self.application_name)
        .number("WAIT_SECONDS", WAIT_SECONDS);
        Ok(vec![
            HostScript::own(standby),
            HostScript {
                other_host: Some(self.upstream.clone()),
                script: upstream,
            },
        ])
    }
}

impl RemoteOperation for CheckArchive {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::for_server(
            "check_archive",
            include_str!("scripts/check_archive.sh"),
            &self.server,
        )
        .text("ARCHIVE_DIR", self.directory.as_deref().unwrap_or_default())
        .text("DESTINATION", &self.destination)
        .text(
            "PGBACKREST_STANZA",
            self.pgbackrest_stanza.as_deref().unwrap_or_default(),
        )
        .number("WAIT_SECONDS", WAIT_SECONDS);
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    #[test]
    fn a_new_standby_is_verified_from_both_ends() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db2", "verify_streaming"));
    }

    #[test]
    fn a_streaming_standby_is_not_verified_again() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db2", "verify_streaming"));
    }

    #[test]
    fn a_working_archiver_vouches_for_itself() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db1", "verify_archive"));
    }

    #[test]
    fn a_failing_archiver_is_verified() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(archiver) = facts
                .server
                .as_mut()
                .and_then(|server| server.archiver.as_mut())
            {
                archiver.failed_count = 3;
                archiver.last_failed_wal = "000000010000000000000006".into();
                archiver.last_failed = Some(1_950);
            }
        });
        insta::assert_snapshot!(check(&fixture, "db1", "verify_archive"));
    }
}
