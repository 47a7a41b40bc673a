//! A standby's data directory: kept when it already follows its upstream, cloned
//! with `pg_basebackup` when it holds another cluster or none (the old one moved
//! aside, never deleted), or brought onto the upstream's timeline with `pg_rewind`
//! when it is a former primary of the same cluster.

use super::{Action, Change, Member, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::facts::HostFacts;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use crate::versions::{PG_WAL, REWIND_WITHOUT_SUPERUSER};
use indexmap::IndexMap;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaseBackup {
    /// `base_backup_method: pgbackrest`: the stanza whose latest backup a new
    /// standby is restored from, instead of loading its upstream with pg_basebackup.
    pub pgbackrest_stanza: Option<String>,
}

/// Replaces the data directory with a base backup of the upstream.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CloneUpstream {
    pub upstream: String,
    pub upstream_host: String,
    pub upstream_port: u16,
    /// The slot on the upstream the clone streams its WAL through.
    pub slot: Option<String>,
    /// Restore the latest backup of this pgBackRest stanza as a standby, rather
    /// than copy the upstream with pg_basebackup.
    pub pgbackrest_stanza: Option<String>,
    #[serde(skip)]
    pub server: HostSettings,
}

/// Brings a former primary onto its upstream's timeline with `pg_rewind`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rewind {
    pub upstream: String,
    pub upstream_host: String,
    pub upstream_port: u16,
    #[serde(skip)]
    pub server: HostSettings,
}

/// What a standby's data directory needs, judged by facts.
#[derive(Debug, Clone, PartialEq, Eq)]
enum DataDirectoryAction {
    /// It already is a standby of its upstream's cluster.
    Keep,
    /// A fresh base backup, for the reason given.
    Clone(String),
    /// It belongs to the upstream's cluster but ran as a primary (a former primary
    /// after a failover): `pg_rewind` brings it onto the upstream's timeline.
    Rewind(String),
}

/// Whether this run gives the host a new data directory: a new cluster, a base
/// backup, or a rewind that stops it and brings it onto its upstream's timeline.
pub fn replaces_data(host: &Member, members: &IndexMap<String, Member>) -> bool {
    let Some(facts) = host.facts else {
        return false;
    };
    if host.initialises_cluster && !facts.data_directory.exists() {
        return true;
    }
    host.clones_upstream && decide(host, facts, members) != DataDirectoryAction::Keep
}

/// A standby not streaming from its upstream, on an older timeline than the upstream.
fn behind_upstream_timeline(facts: &HostFacts, upstream: Option<&Member>) -> bool {
    let upstream_address = upstream.map(|upstream| upstream.settings.replication_host.as_str());
    let receiver = facts
        .server
        .as_ref()
        .and_then(|server| server.wal_receiver.as_ref());
    let streaming = receiver.is_some_and(|receiver| {
        receiver.status == "streaming" && Some(receiver.sender_host.as_str()) == upstream_address
    });
    let own = receiver
        .and_then(|receiver| receiver.timeline)
        .or(facts.data_directory.timeline);
    let theirs = upstream
        .and_then(|upstream| upstream.facts)
        .and_then(|facts| facts.data_directory.timeline);
    !streaming && matches!((own, theirs), (Some(own), Some(theirs)) if own < theirs)
}

fn decide(
    host: &Member,
    facts: &HostFacts,
    members: &IndexMap<String, Member>,
) -> DataDirectoryAction {
    let upstream_name = host.upstream.unwrap_or("?");
    let upstream = members.get(upstream_name);
    let data = &facts.data_directory;
    let version = host.settings.pg_version;
    if !data.exists() {
        return DataDirectoryAction::Clone(format!("{} holds no cluster", host.settings.data_dir));
    }
    if data.rewind_interrupted {
        return DataDirectoryAction::Clone(format!(
            "a pg_rewind into it was cut short on an earlier run ({}.pgconverge-rewinding is still there): it is half rewound, so it is cloned instead",
            host.settings.data_dir
        ));
    }
    let upstream_facts = upstream.and_then(|upstream| upstream.facts);
    let upstream_initialised_now = upstream.is_some_and(|upstream| upstream.initialises_cluster)
        && upstream_facts.is_some_and(|facts| !facts.data_directory.exists());
    let upstream_id = upstream_facts.and_then(HostFacts::system_identifier);
    let clone = DataDirectoryAction::Clone;
    let rewind = |reason: String| match &data.rewind_failed {
        Some(failure) => clone(format!(
            "pg_rewind failed to rejoin it on an earlier run ({}), so it is cloned instead",
            failure
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .unwrap_or("no reason given")
                .trim()
        )),
        None => DataDirectoryAction::Rewind(reason),
    };
    let is_standby = data.standby_signal || data.recovery_conf;
    let slot_lost = host.replication_slot.is_some_and(|name| {
        upstream_facts
            .and_then(|facts| facts.server.as_ref())
            .is_some_and(|server| {
                server
                    .slots
                    .iter()
                    .any(|slot| slot.name == name && slot.lost())
            })
    });
    let rewind_possible =
        REWIND_WITHOUT_SUPERUSER.in_version(version) && (data.wal_log_hints || data.checksums);
    match (facts.system_identifier(), upstream_id) {
        _ if upstream_initialised_now => {
            clone(format!("{upstream_name} gets a new cluster in this run"))
        }
        (Some(own), Some(theirs)) if own != theirs => clone(format!(
            "its system identifier {own} is not {upstream_name}'s ({theirs})"
        )),
        (None, _) => clone("its system identifier cannot be read".to_string()),
        (_, None) => clone(format!("{upstream_name}'s system identifier is unknown")),
        _ if is_standby && slot_lost => clone(format!(
            "its slot on {upstream_name} lost WAL it needs (max_slot_wal_keep_size)"
        )),
        _ if is_standby && !behind_upstream_timeline(facts, upstream) => DataDirectoryAction::Keep,
        // A standby left on an older timeline than its upstream, not streaming from
        // it: it may have received WAL past the fork (from an old primary that came
        // back). pg_rewind repairs that, or reports that nothing diverged.
        _ if is_standby && !rewind_possible => clone(format!(
            "it does not stream from {upstream_name}, whose timeline is newer, and pg_rewind cannot run here"
        )),
        _ if is_standby => rewind(format!(
            "it does not stream from {upstream_name}, whose timeline is newer (it may have received WAL past the fork)"
        )),
        _ if !REWIND_WITHOUT_SUPERUSER.in_version(version) => clone(format!(
            "it ran as a primary, and pg_rewind needs PostgreSQL 11 or later to run without a superuser (this is {version})"
        )),
        _ if !rewind_possible => clone(
            "it ran as a primary, and pg_rewind needs wal_log_hints or data checksums, which it has neither of".to_string(),
        ),
        _ => rewind(format!(
            "it ran as a primary of the same cluster (timeline {})",
            data.timeline
                .map(|timeline| timeline.to_string())
                .unwrap_or_else(|| "?".into())
        )),
    }
}

impl Action for BaseBackup {
    fn desire(input: &StepInput) -> Result<BaseBackup, Diagnostic> {
        let derived = input.derived;
        let pgbackrest_stanza = match derived.base_backup_method.as_str() {
            "" | "pg_basebackup" => None,
            "pgbackrest" if derived.pgbackrest_stanza.is_some() => {
                derived.pgbackrest_stanza.clone()
            }
            "pgbackrest" => {
                return Err((input.problem)(
                    "`base_backup_method: pgbackrest` needs `wal_archive: { pgbackrest: ... }`"
                        .to_string(),
                ));
            }
            other => {
                return Err((input.problem)(format!(
                    "`base_backup_method` must be `pg_basebackup` or `pgbackrest`, not `{other}`"
                )));
            }
        };
        Ok(BaseBackup { pgbackrest_stanza })
    }

    fn expose<'a>(&'a self, member: &mut Member<'a>) {
        member.clones_upstream = true;
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let upstream_name = context.host.upstream.unwrap_or_default();
        let Some(upstream) = context.upstream() else {
            return PlannedStep::refused(format!(
                "upstream `{upstream_name}` is not in the inventory"
            ));
        };
        let settings = context.settings();
        let data_dir = &settings.data_dir;
        let reason = match decide(context.host, context.facts, context.members) {
            DataDirectoryAction::Keep => {
                return PlannedStep::noop(format!(
                    "data directory is a standby of {upstream_name} (system identifier {})",
                    context.facts.system_identifier().unwrap_or("?")
                ));
            }
            DataDirectoryAction::Rewind(reason) => {
                return PlannedStep::change(
                    Change::Update,
                    format!(
                        "rejoin {upstream_name} with pg_rewind: {reason}; what was written on it after the split is discarded"
                    ),
                    Rewind {
                        upstream: upstream_name.to_string(),
                        upstream_host: upstream.settings.replication_host.clone(),
                        upstream_port: upstream.settings.port,
                        server: settings.clone(),
                    },
                );
            }
            DataDirectoryAction::Clone(reason) => reason,
        };
        // From the repository only once it holds a backup: on the first converge it
        // has none yet, and the clone copies the upstream as without pgBackRest.
        let from_repository = self.pgbackrest_stanza.as_ref().filter(|_| {
            context.members.values().any(|member| {
                member
                    .facts
                    .and_then(|facts| facts.pgbackrest.as_ref())
                    .is_some_and(|pgbackrest| {
                        pgbackrest.status_code == Some(0) && !pgbackrest.backups.is_empty()
                    })
            })
        });
        let method = match (&self.pgbackrest_stanza, from_repository) {
            (_, Some(stanza)) => {
                format!("from the pgBackRest repository (stanza {stanza}, restored as a standby)")
            }
            (Some(_), None) => {
                "with pg_basebackup (the pgBackRest repository has no backup yet)".to_string()
            }
            (None, None) => "with pg_basebackup".to_string(),
        };
        let operation = CloneUpstream {
            upstream: upstream_name.to_string(),
            upstream_host: upstream.settings.replication_host.clone(),
            upstream_port: upstream.settings.port,
            slot: context.host.replication_slot.map(str::to_string),
            pgbackrest_stanza: from_repository.cloned(),
            server: settings.clone(),
        };
        if !context.facts.data_directory.exists() {
            return PlannedStep::change(
                Change::Create,
                format!("clone {upstream_name} into {data_dir} {method} ({reason})"),
                operation,
            );
        }
        let mut step = PlannedStep::change(
            Change::ReplaceData,
            format!(
                "replace {data_dir} with a base backup of {upstream_name}: {reason}; the old directory is moved aside, not deleted"
            ),
            operation,
        );
        // A directory a cut-short pg_rewind left half rewound starts as nothing:
        // the rewind this apply already planned, once, discarded what it wrote
        // after the split, and it is kept aside all the same.
        if context.facts.has_user_databases() && !context.facts.data_directory.rewind_interrupted {
            step.destructive = true;
            if !context.replace_data_allowed {
                let databases = context
                    .facts
                    .server
                    .as_ref()
                    .map(|server| server.user_databases.join(", "))
                    .filter(|list| !list.is_empty())
                    .map(|list| format!(" ({list})"))
                    .unwrap_or_default();
                step.refused = Some(format!(
                    "{data_dir} holds user databases{databases}: pass `--replace-data {}` to replace it",
                    context.host.name
                ));
            }
        }
        step
    }
}

fn passfile(server: &HostSettings) -> String {
    format!("{}/.pgpass", server.home_dir)
}

impl RemoteOperation for CloneUpstream {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let server = &self.server;
        let wal_method = if PG_WAL.in_version(server.pg_version) {
            "--wal-method=stream"
        } else {
            "--xlog-method=stream"
        };
        // pg_basebackup takes these from the environment (PGREQUIREAUTH,
        // PGCHANNELBINDING), as it takes sslmode; an empty one is not set.
        let auth_pairs = server.replication_auth();
        let auth = |name: &str| {
            auth_pairs
                .iter()
                .find(|(pair, _)| *pair == name)
                .map(|(_, value)| value.clone())
                .unwrap_or_default()
        };
        let script = Script::for_server(
            "clone_upstream",
            include_str!("scripts/clone_upstream.sh"),
            server,
        )
        .text("STOP_COMMAND", &server.stop_command)
        .text("START_COMMAND", &server.start_command)
        .text("PASSFILE", &passfile(server))
        .text("UPSTREAM_HOST", &self.upstream_host)
        .number("UPSTREAM_PORT", self.upstream_port)
        .text("REPLICATION_USER", &server.replication_user)
        .text("SLOT_NAME", self.slot.as_deref().unwrap_or_default())
        .text(
            "PGBACKREST_STANZA",
            self.pgbackrest_stanza.as_deref().unwrap_or_default(),
        )
        .text("SSLMODE", server.replication_sslmode.name())
        .text("REQUIRE_AUTH", &auth("require_auth"))
        .text("CHANNEL_BINDING", &auth("channel_binding"))
        .number("WAL_METHOD", wal_method);
        Ok(vec![HostScript::own(script)])
    }
}

impl RemoteOperation for Rewind {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let server = &self.server;
        let mut pairs = vec![
            ("host", self.upstream_host.clone()),
            ("port", self.upstream_port.to_string()),
            ("user", server.replication_user.clone()),
            ("dbname", "postgres".to_string()),
            ("sslmode", server.replication_sslmode.name().to_string()),
        ];
        pairs.extend(server.replication_auth());
        let source = crate::conninfo::join(&pairs);
        let script = Script::for_server("rewind", include_str!("scripts/rewind.sh"), server)
            .text("STOP_COMMAND", &server.stop_command)
            .text(
                "CONFIG_FILE",
                &format!("{}/postgresql.conf", server.config_dir),
            )
            .text("PASSFILE", &passfile(server))
            .text("UPSTREAM_HOST", &self.upstream_host)
            .text("SOURCE_CONNINFO", &source);
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    #[test]
    fn a_standby_of_its_upstream_is_kept() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db2", "base_backup"));
    }

    #[test]
    fn a_fresh_standby_is_cloned() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db2", "base_backup"));
    }

    #[test]
    fn with_base_backup_method_pgbackrest_a_standby_is_restored_from_the_repository() {
        let inventory = crate::plan::check::pgbackrest_inventory().replace(
            "db3: { ansible_host: 10.0.0.13 }",
            "db3: { ansible_host: 10.0.0.13, base_backup_method: pgbackrest }",
        );
        let lost = |facts: &mut crate::facts::HostFacts| {
            facts.data_directory = crate::facts::DataDirectory::default();
            facts.server = None;
        };
        let without_backup = Fixture::converged_with(&inventory).edit("db3", lost);
        assert!(
            check(&without_backup, "db3", "base_backup")
                .contains("with pg_basebackup (the pgBackRest repository has no backup yet)")
        );
        let with_backup = without_backup.edit("arch1", |facts| {
            facts.pgbackrest = Some(crate::facts::pgbackrest::PgbackrestFacts::parse(
                "main",
                r#"[{"name":"main","status":{"code":0,"message":"ok"},"backup":[{"label":"L1F","type":"full","timestamp":{"start":1,"stop":2}}]}]"#,
            ));
        });
        let text = check(&with_backup, "db3", "base_backup");
        assert!(
            text.contains("from the pgBackRest repository (stanza main, restored as a standby)")
                && text.contains("PGBACKREST_STANZA=main"),
            "{text}"
        );
    }

    #[test]
    fn user_databases_are_not_replaced_without_consent() {
        let fixture = Fixture::fresh().edit("db2", |facts| {
            if let Some(server) = facts.server.as_mut() {
                server.user_databases = vec!["shop".into()];
            }
        });
        insta::assert_snapshot!(check(&fixture, "db2", "base_backup"));
    }

    #[test]
    fn a_former_primary_of_the_same_cluster_is_rewound() {
        let fixture = Fixture::converged().former_primary("db2");
        insta::assert_snapshot!(check(&fixture, "db2", "base_backup"));
    }

    /// The three hosts on PostgreSQL 17 with replication over verified TLS.
    fn hardened_inventory() -> String {
        crate::plan::check::THREE_HOSTS.replace(
            "pg_version: 15",
            "pg_version: 17\n    replication_sslmode: verify-full",
        )
    }

    #[test]
    fn pg_rewind_of_17_over_tls_requires_scram_and_channel_binding() {
        let fixture = Fixture::converged_with(&hardened_inventory()).former_primary("db2");
        let text = check(&fixture, "db2", "base_backup");
        assert!(
            text.contains("SOURCE_CONNINFO='host=10.0.0.11 port=5432 user=replicator dbname=postgres sslmode=verify-full require_auth=scram-sha-256 channel_binding=require'"),
            "{text}"
        );
    }

    #[test]
    fn pg_basebackup_of_17_over_tls_requires_scram_and_channel_binding() {
        let lost = |facts: &mut crate::facts::HostFacts| {
            facts.data_directory = crate::facts::DataDirectory::default();
            facts.server = None;
        };
        let fixture = Fixture::converged_with(&hardened_inventory()).edit("db2", lost);
        let text = check(&fixture, "db2", "base_backup");
        assert!(text.contains("REQUIRE_AUTH=scram-sha-256"), "{text}");
        assert!(text.contains("CHANNEL_BINDING=require"), "{text}");
    }

    #[test]
    fn a_standby_whose_rewind_was_cut_short_is_cloned_instead() {
        // Its user databases (on disk: the server is down) need no
        // `--replace-data`: half rewound, it holds nothing a start could use.
        let fixture = Fixture::converged()
            .former_primary("db2")
            .edit("db2", |facts| {
                facts.data_directory.rewind_interrupted = true;
                facts.data_directory.database_directories = 5;
                facts.server = None;
                assert!(facts.has_user_databases());
            });
        let text = check(&fixture, "db2", "base_backup");
        assert!(
            text.contains("a pg_rewind into it was cut short on an earlier run (/var/lib/postgresql/15/main.pgconverge-rewinding is still there): it is half rewound, so it is cloned instead"),
            "{text}"
        );
        assert!(text.contains("clone_upstream.sh"), "{text}");
        assert!(!text.contains("refused"), "{text}");
        // Even where its timeline alone would say it streams as it is.
        let fixture = Fixture::converged().edit("db2", |facts| {
            facts.data_directory.rewind_interrupted = true;
        });
        let text = check(&fixture, "db2", "base_backup");
        assert!(
            text.contains("it is half rewound, so it is cloned instead"),
            "{text}"
        );
    }

    #[test]
    fn a_former_primary_that_failed_to_rewind_is_cloned_instead() {
        let fixture = Fixture::converged().former_primary("db2").edit("db2", |facts| {
            facts.data_directory.rewind_failed = Some(
                "pg_rewind: error: could not open file \"pg_wal/000000010000000000000003\": No such file or directory\n".into(),
            );
        });
        let text = check(&fixture, "db2", "base_backup");
        assert!(
            text.contains("pg_rewind failed to rejoin it on an earlier run (pg_rewind: error: could not open file \"pg_wal/000000010000000000000003\": No such file or directory), so it is cloned instead"),
            "{text}"
        );
        assert!(text.contains("clone_upstream.sh"), "{text}");
    }
}
