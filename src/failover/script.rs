//! The scripts of a promotion and a switchover: bodies in `scripts/*.sh`, each
//! after the shared header and library. Pure: settings in, script out; every wait
//! is bounded.

use crate::facts::Lsn;
use crate::script::Script;
use crate::settings::HostSettings;

/// How long a promoted server may take to accept writes, and a standby to replay
/// the old primary's last record.
const WAIT_SECONDS: u32 = 60;

/// Promotes with the version's mechanism and waits until the server accepts writes.
pub fn promote(server: &HostSettings) -> Script {
    Script::for_server("promote", include_str!("scripts/promote.sh"), server)
        .number("WAIT_SECONDS", WAIT_SECONDS)
}

/// A checkpoint on the primary, so its clean shutdown is quick.
pub fn checkpoint(server: &HostSettings) -> Script {
    Script::for_server("checkpoint", include_str!("scripts/checkpoint.sh"), server)
}

/// After a clean stop: the location of the shutdown checkpoint.
pub fn last_checkpoint(server: &HostSettings) -> Script {
    Script::for_server(
        "last_checkpoint",
        include_str!("scripts/last_checkpoint.sh"),
        server,
    )
}

/// Waits until the standby has replayed past `position`.
pub fn wait_for_replay(server: &HostSettings, position: Lsn) -> Script {
    Script::for_server(
        "wait_for_replay",
        include_str!("scripts/wait_for_replay.sh"),
        server,
    )
    .text("POSITION", &position.to_string())
    .number("WAIT_SECONDS", WAIT_SECONDS)
}

/// Starts the old primary again, when a switchover has to be undone.
pub fn start(server: &HostSettings) -> Script {
    Script::for_server("start", include_str!("scripts/start.sh"), server)
        .text("START_COMMAND", &server.start_command)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::check::shellcheck;
    use crate::versions::PgVersion;

    fn server(version: u32) -> HostSettings {
        HostSettings {
            pg_version: PgVersion(version),
            ..HostSettings::example()
        }
    }

    #[test]
    fn every_script_passes_shellcheck() {
        let position = Lsn(0x3_0000_0148);
        for version in [900, 1100, 1500] {
            let server = server(version);
            for script in [
                promote(&server),
                checkpoint(&server),
                last_checkpoint(&server),
                wait_for_replay(&server, position),
                start(&server),
            ] {
                assert_eq!(shellcheck(&script), "", "{}", script.name());
            }
        }
        assert!(
            wait_for_replay(&server(1500), position)
                .describe()
                .contains("POSITION=3/148")
        );
    }
}
