//! Synchronous standbys: which standbys a primary waits for before a commit
//! returns, checked against the cluster (each streams from the primary, there are
//! enough of them, the version has the form), and written as the primary's
//! `synchronous_standby_names`.

use super::settings::{HostSettings, ReplicationMode, SyncMethod};
use super::{Inventory, Role};
use crate::versions::{QUORUM_COMMIT, SEVERAL_SYNCHRONOUS_STANDBYS, SYNCHRONOUS_REPLICATION};
use ansible_inventory_reader::report::Problems;
use ansible_inventory_reader::resolve::ResolvedHost;
use indexmap::IndexMap;

/// The most bytes of `application_name` PostgreSQL keeps (NAMEDATALEN - 1).
const APPLICATION_NAME_LIMIT: usize = 63;

/// One host as the rules below see it.
pub struct Member<'a> {
    pub role: Role,
    pub upstream: Option<&'a str>,
    pub settings: &'a HostSettings,
    pub vars: &'a ResolvedHost<'a>,
}

/// Reports each synchronous standby that cannot be one, and each primary whose
/// synchronous standbys do not fit its `synchronous_count` or its version.
pub fn check(members: &IndexMap<&str, Member>, problems: &mut Problems) {
    let at = |member: &Member, name: &str| {
        member
            .vars
            .vars
            .get(name)
            .map(|found| found.location.clone())
    };
    for (name, member) in members {
        if member.role != Role::Standby
            || member.settings.replication_mode != ReplicationMode::Synchronous
        {
            continue;
        }
        let Some(location) = at(member, "replication_mode") else {
            continue;
        };
        let upstream = member.upstream.and_then(|upstream| members.get(upstream));
        if let (Some(upstream_name), Some(upstream)) = (member.upstream, upstream)
            && upstream.role != Role::Primary
        {
            problems.add_for_host(
                location.clone(),
                name,
                "",
                format!(
                    " is `replication_mode: synchronous` but streams from `{upstream_name}`, a standby: only a primary waits for standbys; let it stream from the primary, or make it `streaming`"
                ),
            );
        }
        if name.len() > APPLICATION_NAME_LIMIT || !name.bytes().all(|byte| byte.is_ascii_graphic())
        {
            problems.add_for_host(
                location,
                name,
                "",
                format!(
                    " is `replication_mode: synchronous`, but its name is its application_name, which PostgreSQL keeps only as up to {APPLICATION_NAME_LIMIT} printable ASCII characters: the primary would not recognise it"
                ),
            );
        }
    }
    for (name, primary) in members {
        if primary.role != Role::Primary {
            continue;
        }
        let standbys = synchronous_standbys_of(members, name);
        if standbys.is_empty() {
            continue;
        }
        let settings = primary.settings;
        let version = settings.pg_version;
        let listed = standbys
            .iter()
            .map(|standby| format!("`{standby}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let problem = |problems: &mut Problems, variable: &str, after: String| {
            if let Some(location) = at(primary, variable) {
                problems.add_for_host(location, name, format!("`{variable}` of "), after);
            }
        };
        if !SYNCHRONOUS_REPLICATION.in_version(version) {
            problem(
                problems,
                "pg_version",
                format!(
                    " is {version}, which has no synchronous replication (9.1 and later), but {listed} are synchronous standbys of it"
                ),
            );
            continue;
        }
        let count = settings.synchronous_count as usize;
        if count > standbys.len() {
            problem(
                problems,
                "synchronous_count",
                format!(
                    " is {count}, but its synchronous standbys are only {listed}: every commit would wait forever"
                ),
            );
        }
        if settings.synchronous_method == SyncMethod::Any && !QUORUM_COMMIT.in_version(version) {
            problem(
                problems,
                "synchronous_method",
                format!(" is `any`, which needs PostgreSQL 10 or later (this is {version})"),
            );
        }
        if count > 1 && !SEVERAL_SYNCHRONOUS_STANDBYS.in_version(version) {
            problem(
                problems,
                "synchronous_count",
                format!(
                    " is {count}, but PostgreSQL {version} waits for one synchronous standby only (several from 9.6)"
                ),
            );
        }
    }
}

/// The synchronous standbys that stream from `primary`, in inventory order.
fn synchronous_standbys_of<'a>(members: &IndexMap<&'a str, Member>, primary: &str) -> Vec<&'a str> {
    members
        .iter()
        .filter(|(_, member)| {
            member.role == Role::Standby
                && member.upstream == Some(primary)
                && member.settings.replication_mode == ReplicationMode::Synchronous
        })
        .map(|(name, _)| *name)
        .collect()
}

impl Inventory {
    /// The synchronous standbys streaming from `host`, in inventory order (none
    /// when it is no primary).
    pub fn synchronous_standbys(&self, host: &str) -> Vec<&str> {
        if self
            .hosts
            .get(host)
            .is_none_or(|found| found.role != Role::Primary)
        {
            return Vec::new();
        }
        self.hosts
            .values()
            .filter(|other| {
                other.role == Role::Standby
                    && other.upstream.as_deref() == Some(host)
                    && other.settings.replication_mode == ReplicationMode::Synchronous
            })
            .map(|other| other.name.as_str())
            .collect()
    }

    /// Whether any host of `host`'s replication cluster is a synchronous standby.
    pub fn has_synchronous_standbys(&self, host: &str) -> bool {
        let Some(cluster) = self.hosts.get(host).map(|found| &found.cluster) else {
            return false;
        };
        self.hosts.values().any(|other| {
            &other.cluster == cluster
                && other.role == Role::Standby
                && other.settings.replication_mode == ReplicationMode::Synchronous
        })
    }
}

/// `synchronous_standby_names` of a primary with these synchronous standbys, in
/// the form of its version: `FIRST n (...)` or `ANY n (...)` from 10, `n (...)` in
/// 9.6, the bare list before. Each name is double-quoted, as the setting's own
/// grammar reads a name (a `"` doubled). Empty when there are none.
pub fn standby_names(settings: &HostSettings, standbys: &[&str]) -> String {
    if standbys.is_empty() {
        return String::new();
    }
    let list = standbys
        .iter()
        .map(|name| format!("\"{}\"", name.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(", ");
    let count = settings.synchronous_count;
    match settings.pg_version.0 {
        1000.. => {
            let method = settings.synchronous_method.name().to_ascii_uppercase();
            format!("{method} {count} ({list})")
        }
        906.. => format!("{count} ({list})"),
        _ => list,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::versions::PgVersion;

    fn primary(version: u32, method: SyncMethod, count: u32) -> HostSettings {
        HostSettings {
            pg_version: PgVersion(version),
            synchronous_method: method,
            synchronous_count: count,
            ..HostSettings::example()
        }
    }

    #[test]
    fn names_take_the_form_of_the_version() {
        let names = ["db2", "db-3.example"];
        assert_eq!(
            standby_names(&primary(1500, SyncMethod::First, 1), &names),
            r#"FIRST 1 ("db2", "db-3.example")"#
        );
        assert_eq!(
            standby_names(&primary(1500, SyncMethod::Any, 2), &names),
            r#"ANY 2 ("db2", "db-3.example")"#
        );
        assert_eq!(
            standby_names(&primary(906, SyncMethod::First, 1), &names),
            r#"1 ("db2", "db-3.example")"#
        );
        assert_eq!(
            standby_names(&primary(902, SyncMethod::First, 1), &names),
            r#""db2", "db-3.example""#
        );
        assert_eq!(standby_names(&primary(1500, SyncMethod::First, 1), &[]), "");
    }

    #[test]
    fn a_quote_in_a_name_is_doubled() {
        assert_eq!(
            standby_names(&primary(1500, SyncMethod::First, 1), &["a\"b"]),
            r#"FIRST 1 ("a""b")"#
        );
    }
}
