//! md5's end: the roles whose stored password is an md5 hash and the
//! pg_hba.conf rules that use md5, as a host's facts show them. PostgreSQL 18
//! deprecates md5 (`versions::MD5_DEPRECATED`): it still accepts it and warns,
//! and a later major is to remove it. `status` notes them, `check` warns of
//! them and `upgrade --to 18` lists them among its gates. Pure.

use super::report::{Note, NoteKind};
use crate::desired::DesiredState;
use crate::facts::{GatheredFacts, HostFacts};
use crate::pgconf::hba;
use crate::versions::SCRAM_SHA_256;

/// What of one host still uses md5.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Md5Use {
    /// Roles whose stored password is md5, by name (never the hash).
    pub roles: Vec<String>,
    /// Rules of the host's pg_hba.conf whose method is md5, as
    /// `PATH:LINE` and the rule's text.
    pub rules: Vec<String>,
}

impl Md5Use {
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.rules.is_empty()
    }
}

/// The pg_hba.conf the facts hold for the host: the file the running server
/// names (`hba_file`), else a file of the facts named `pg_hba.conf`.
fn hba_file(facts: &HostFacts) -> Option<(&str, String)> {
    let named = facts
        .server
        .as_ref()
        .and_then(|server| server.settings.get("hba_file"))
        .map(|setting| setting.value.as_str())
        .filter(|path| facts.file(path).is_some());
    let path = named.or_else(|| {
        facts
            .files
            .keys()
            .map(String::as_str)
            .find(|path| path.ends_with("/pg_hba.conf"))
    })?;
    let file = facts.file(path)?;
    Some((path, String::from_utf8_lossy(&file.content).into_owned()))
}

/// The md5 passwords and rules one host's facts show (roles only when its
/// server runs; rules when the facts hold its pg_hba.conf).
pub fn on_host(facts: &HostFacts) -> Md5Use {
    let roles = facts
        .server
        .as_ref()
        .map(|server| server.md5_roles.clone())
        .unwrap_or_default();
    let rules = hba_file(facts)
        .map(|(path, text)| rules_in(path, &text))
        .unwrap_or_default();
    Md5Use { roles, rules }
}

/// The rules of the pg_hba.conf at `path` whose method is md5, as `PATH:LINE`
/// and the rule's text.
pub fn rules_in(path: &str, text: &str) -> Vec<String> {
    hba::rules(text)
        .into_iter()
        .filter(|rule| rule.method.eq_ignore_ascii_case("md5"))
        .map(|rule| format!("{path}:{} `{}`", rule.line, rule.text))
        .collect()
}

/// What to do about md5, said once after each note.
pub const ADVICE: &str = "PostgreSQL 18 deprecates md5 (it warns at each md5 login) and a later major removes it: set those passwords again with password_encryption = scram-sha-256 and make the rules scram-sha-256 (a scram-sha-256 rule refuses an md5 password; an md5 rule accepts both)";

/// The text of one host's md5 use, without advice.
pub fn describe(host: &str, found: &Md5Use) -> String {
    let mut parts = Vec::new();
    if !found.roles.is_empty() {
        parts.push(format!(
            "roles with an md5 password: {}",
            found.roles.join(", ")
        ));
    }
    if !found.rules.is_empty() {
        parts.push(format!(
            "pg_hba.conf rules using md5: {}",
            found.rules.join(", ")
        ));
    }
    format!("{host}: {}", parts.join("; "))
}

/// A note for each host that uses md5 where the version offers SCRAM instead
/// ([`SCRAM_SHA_256`], 10; before, md5 is the only hash and nothing can be done).
/// Roles are cluster-wide, so the members of one cluster share them: each
/// cluster's md5 roles are named on its first host that reports them.
pub(super) fn notes(desired: &DesiredState, facts: &GatheredFacts) -> Vec<Note> {
    let mut notes = Vec::new();
    let mut clusters_named: Vec<&str> = Vec::new();
    for (name, host) in &desired.hosts {
        if !SCRAM_SHA_256.in_version(host.settings.pg_version) {
            continue;
        }
        let Some(Ok(host_facts)) = facts.get(name) else {
            continue;
        };
        let mut found = on_host(host_facts);
        if clusters_named.contains(&host.cluster.as_str()) {
            found.roles.clear();
        } else if !found.roles.is_empty() {
            clusters_named.push(host.cluster.as_str());
        }
        if found.is_empty() {
            continue;
        }
        notes.push(Note {
            kind: NoteKind::Md5,
            hosts: vec![name.clone()],
            message: format!("{}: {ADVICE}", describe(name, &found)),
        });
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ObservedFile, ObservedSetting, PathAttributes};
    use crate::status::check::{THREE_HOSTS, desired, healthy};

    const HBA: &str = "local all postgres peer\nhost all all 10.0.0.0/8 md5\nhost replication all 10.0.0.0/8 scram-sha-256\n";

    /// The healthy cluster with md5 roles on every member (a standby has its
    /// primary's `pg_authid`) and an md5 rule in db2's pg_hba.conf.
    fn with_md5() -> GatheredFacts {
        let mut cluster = healthy();
        for (name, host) in cluster.iter_mut() {
            let Ok(host) = host else { continue };
            if let Some(server) = host.server.as_mut() {
                server.md5_roles = vec!["legacy_app".into(), "reports".into()];
                server.settings.insert(
                    "hba_file".into(),
                    ObservedSetting::example(
                        "postmaster",
                        "/etc/postgresql/15/main/pg_hba.conf",
                        "",
                        "string",
                    ),
                );
            }
            if name == "db2" {
                host.files.insert(
                    "/etc/postgresql/15/main/pg_hba.conf".into(),
                    ObservedFile {
                        attributes: PathAttributes {
                            owner: "postgres".into(),
                            group: "postgres".into(),
                            mode: 0o640,
                            modified: 0,
                        },
                        content: HBA.as_bytes().to_vec(),
                    },
                );
            }
        }
        cluster
    }

    #[test]
    fn md5_roles_are_named_once_per_cluster_and_md5_rules_per_host() {
        let notes = notes(&desired(THREE_HOSTS), &with_md5());
        let messages: Vec<&str> = notes.iter().map(|note| note.message.as_str()).collect();
        assert_eq!(notes.len(), 2, "{messages:?}");
        assert_eq!(notes[0].hosts, vec!["db1".to_string()]);
        assert!(
            messages[0].starts_with("db1: roles with an md5 password: legacy_app, reports: "),
            "{}",
            messages[0]
        );
        assert!(
            messages[1].starts_with(
                "db2: pg_hba.conf rules using md5: /etc/postgresql/15/main/pg_hba.conf:2 `host all all 10.0.0.0/8 md5`: "
            ),
            "{}",
            messages[1]
        );
    }

    #[test]
    fn a_cluster_without_md5_has_no_note() {
        assert!(notes(&desired(THREE_HOSTS), &healthy()).is_empty());
    }

    #[test]
    fn a_host_without_its_pg_hba_conf_in_the_facts_reports_roles_only() {
        let mut cluster = with_md5();
        if let Some(Ok(db1)) = cluster.get_mut("db1")
            && let Some(server) = db1.server.as_mut()
        {
            server.md5_roles = vec!["legacy_app".into()];
        }
        let found = on_host(
            cluster["db1"]
                .as_ref()
                .unwrap_or_else(|error| panic!("{error}")),
        );
        assert_eq!(found.roles, vec!["legacy_app".to_string()]);
        assert!(
            found.rules.is_empty(),
            "db1 has no pg_hba.conf in its facts"
        );
    }
}
