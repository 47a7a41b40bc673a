//! Fingerprints of a host's facts, component by component, so that a saved plan can
//! tell whether the host is still as it was planned and, if not, say what moved.

use super::HostFacts;
use indexmap::IndexMap;
use sha2::{Digest, Sha256};

/// Component name (`file /etc/.../postgresql.conf`, `server`, …) → short digest.
pub type Fingerprint = IndexMap<String, String>;

/// How long the slow hash of a secret takes to compute: enough that guessing a
/// password from a plan file costs as much as guessing it from a SCRAM verifier.
const SECRET_ITERATIONS: u32 = 20_000;

/// The content of a file holding a secret (the `.pgpass`) is hashed slowly with the
/// plan's salt, never with a plain digest that would let a plan file confirm a
/// guessed password cheaply.
pub fn secret_digest(salt: &str, secret: &[u8]) -> String {
    let mut output = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<Sha256>(secret, salt.as_bytes(), SECRET_ITERATIONS, &mut output);
    output.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Fingerprints everything the planner reads. Left out: `pg_stat_replication`'s
/// per-client state, which moves on its own and decides nothing in the plan.
/// Files in `secret_files` are fingerprinted with `secret_digest` under `salt`.
pub fn fingerprint(facts: &HostFacts, salt: &str, secret_files: &[String]) -> Fingerprint {
    let mut components = Fingerprint::new();
    let mut add = |name: String, parts: &[&[u8]]| {
        components.insert(name, digest(parts));
    };
    add(
        "os user".into(),
        &[
            facts.os_user_home.as_deref().unwrap_or("(none)").as_bytes(),
            &[u8::from(facts.postgres_installed)],
        ],
    );
    add(
        "host resources".into(),
        &[
            facts.memory_kb.unwrap_or(0).to_string().as_bytes(),
            facts
                .installed_libraries
                .as_ref()
                .map(|libraries| libraries.join(","))
                .unwrap_or_default()
                .as_bytes(),
        ],
    );
    for (path, file) in &facts.files {
        let attributes = format!(
            "{}:{}:{:o}:{}",
            file.attributes.owner,
            file.attributes.group,
            file.attributes.mode,
            file.attributes.modified
        );
        if secret_files.contains(path) {
            let content = secret_digest(salt, &file.content);
            add(
                format!("file {path}"),
                &[attributes.as_bytes(), content.as_bytes()],
            );
        } else {
            add(
                format!("file {path}"),
                &[attributes.as_bytes(), &file.content],
            );
        }
    }
    for (path, attributes) in &facts.directories {
        add(
            format!("directory {path}"),
            &[format!(
                "{}:{}:{:o}",
                attributes.owner, attributes.group, attributes.mode
            )
            .as_bytes()],
        );
    }
    let data = &facts.data_directory;
    let data_text = format!(
        "{:?}|{:?}|{}|{}|{}|{}",
        data.pg_version,
        data.system_identifier,
        data.standby_signal,
        data.recovery_conf,
        data.database_directories,
        data.postmaster_pid
    );
    add("data directory".into(), &[data_text.as_bytes()]);
    match &facts.server {
        None => add("server".into(), &[b"not running"]),
        Some(server) => {
            let state = format!(
                "running|{}|{}|{}",
                server.in_recovery, server.configuration_loaded, server.started
            );
            add("server".into(), &[state.as_bytes()]);
            add(
                "settings pending restart".into(),
                &[server.settings_pending_restart().join(",").as_bytes()],
            );
            let role = match &server.replication_role {
                None => "(none)".to_string(),
                Some(role) => format!(
                    "{}|{}|{}|{}",
                    role.can_login,
                    role.replication,
                    role.rewind_grants,
                    digest(&[role.password_verifier.expose().as_bytes()])
                ),
            };
            add("replication role".into(), &[role.as_bytes()]);
            let receiver = server
                .wal_receiver
                .as_ref()
                .map(|r| format!("{}|{}|{:?}", r.status, r.sender_host, r.sender_port))
                .unwrap_or_default();
            add("WAL receiver".into(), &[receiver.as_bytes()]);
            add(
                "user databases".into(),
                &[server.user_databases.join(",").as_bytes()],
            );
            if let Some(role) = &server.pgbouncer_role {
                let role = format!(
                    "{}|{}|{}",
                    role.can_login,
                    role.privileged,
                    digest(&[role.password_verifier.expose().as_bytes()])
                );
                add("PgBouncer's auth role".into(), &[role.as_bytes()]);
            }
        }
    }
    if let Some(bouncer) = &facts.pgbouncer {
        // What the plan reads of it: its release, its psql, and where its
        // database `postgres` goes and its settings, or that it does not answer
        // (the databases its clients use come and go on their own).
        let console = match &bouncer.console {
            None => "(not asked)".to_string(),
            Some(Err(_)) => "(does not answer)".to_string(),
            Some(Ok(console)) => {
                let mut lines: Vec<String> = console
                    .databases
                    .iter()
                    .filter(|database| database.name == "postgres")
                    .map(|database| {
                        format!(
                            "database {}={}:{:?}/{}",
                            database.name, database.host, database.port, database.database
                        )
                    })
                    .collect();
                lines.extend(console.settings.iter().map(|(name, setting)| {
                    format!("setting {name}={}|{}", setting.value, setting.changeable)
                }));
                lines.join("\n")
            }
        };
        let state = format!("{:?}|{:?}|{console}", bouncer.version_text, bouncer.psql);
        add("PgBouncer".into(), &[state.as_bytes()]);
    }
    if let Some(auth) = &facts.pgbouncer_auth {
        let functions = match &auth.functions {
            None => "(not read)".to_string(),
            Some(Err(_)) => "(could not be read)".to_string(),
            Some(Ok(functions)) => functions
                .iter()
                .map(|(database, verdict)| format!("{database}={verdict}"))
                .collect::<Vec<_>>()
                .join("\n"),
        };
        add("PgBouncer's auth function".into(), &[functions.as_bytes()]);
    }
    components
}

/// The components whose fingerprints differ, in a sentence-ready list.
pub fn changes(planned: &Fingerprint, now: &Fingerprint) -> Vec<String> {
    let mut changed: Vec<String> = planned
        .iter()
        .filter(|(name, digest)| now.get(*name) != Some(digest))
        .map(|(name, _)| name.clone())
        .collect();
    changed.extend(
        now.keys()
            .filter(|name| !planned.contains_key(*name))
            .cloned(),
    );
    changed
}

fn digest(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    hasher
        .finalize()
        .iter()
        .take(12)
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ObservedFile, PathAttributes, ServerFacts};

    fn facts() -> HostFacts {
        let mut facts = HostFacts {
            os_user_home: Some("/var/lib/postgresql".into()),
            postgres_installed: true,
            ..HostFacts::default()
        };
        facts.files.insert(
            "/etc/pg.conf".into(),
            ObservedFile {
                attributes: PathAttributes {
                    owner: "postgres".into(),
                    group: "postgres".into(),
                    mode: 0o644,
                    modified: 1,
                },
                content: b"port = 5432\n".to_vec(),
            },
        );
        facts.server = Some(ServerFacts {
            in_recovery: false,
            configuration_loaded: 10,
            started: 5,
            position: None,
            replay_position: None,
            replay_paused: false,
            replay_lag_seconds: None,
            settings: IndexMap::new(),
            replication_role: None,
            wal_receiver: None,
            replication_clients: Vec::new(),
            slots: Vec::new(),
            failover_slots: Vec::new(),
            user_databases: Vec::new(),
            md5_roles: Vec::new(),
            pgbouncer_role: None,
            archiver: None,
        });
        facts
    }

    fn plain(facts: &HostFacts) -> Fingerprint {
        fingerprint(facts, "salt", &[])
    }

    #[test]
    fn same_facts_same_fingerprint() {
        assert_eq!(plain(&facts()), plain(&facts()));
        assert!(changes(&plain(&facts()), &plain(&facts())).is_empty());
    }

    #[test]
    fn secret_file_is_hashed_with_the_salt_not_plainly() {
        let secret_files = vec!["/etc/pg.conf".to_string()];
        let salted = fingerprint(&facts(), "salt-a", &secret_files);
        assert_ne!(
            salted,
            fingerprint(&facts(), "salt-b", &secret_files),
            "the salt changes the fingerprint"
        );
        assert_ne!(
            salted.get("file /etc/pg.conf"),
            plain(&facts()).get("file /etc/pg.conf")
        );
        assert_eq!(salted, fingerprint(&facts(), "salt-a", &secret_files));
    }

    #[test]
    fn an_edit_and_a_restart_are_named() {
        let planned = plain(&facts());
        let mut now = facts();
        if let Some(file) = now.files.get_mut("/etc/pg.conf") {
            file.content = b"port = 5433\n".to_vec();
        }
        if let Some(server) = now.server.as_mut() {
            server.started = 6;
        }
        assert_eq!(
            changes(&planned, &plain(&now)),
            vec!["file /etc/pg.conf".to_string(), "server".to_string()]
        );
    }
}
