//! What applications connect with (`pgconverge connections`): per replication
//! cluster, a libpq URI and a `pg_service.conf` entry for each entry point. Each
//! lists every member and lets libpq pick by the server's answer
//! (`target_session_attrs`), so it stays right after a `promote` or a
//! `switchover` with no reconfiguration: read-write reaches whichever member
//! accepts writes, read-only a hot standby. With hosts in the group
//! `pgbouncer`, a third lists their PgBouncers, which send every connection to
//! the primary (pgconverge points them at the new one when it changes); with
//! `cluster_vip`, a fourth is the virtual IP, which only the primary holds.
//! Pure: from the desired state, no host contacted.

use crate::desired::DesiredState;
use crate::versions::{CLIENT_LOAD_BALANCE, CLIENT_READ_WRITE_TARGET, CLIENT_STANDBY_TARGET};
use indexmap::IndexMap;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};
use serde::Serialize;

/// The version of the JSON document (`--format json`).
pub const FORMAT_VERSION: u32 = 1;

/// What a URI's user or database name must have percent-encoded: everything
/// but RFC 3986's unreserved characters.
const URI_COMPONENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'$')
    .add(b'%')
    .add(b'&')
    .add(b'\'')
    .add(b'(')
    .add(b')')
    .add(b'*')
    .add(b'+')
    .add(b',')
    .add(b'/')
    .add(b':')
    .add(b';')
    .add(b'<')
    .add(b'=')
    .add(b'>')
    .add(b'?')
    .add(b'@')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Who connects to what: the command line's `--user` and `--dbname`, written
/// into every entry point when given.
#[derive(Debug, Clone, Default)]
pub struct ClientIdentity {
    pub user: Option<String>,
    pub dbname: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct ConnectionsDocument {
    pub format_version: u32,
    pub clusters: Vec<ClusterConnections>,
}

#[derive(Debug, Serialize)]
pub struct ClusterConnections {
    pub name: String,
    pub pg_version: String,
    pub entry_points: Vec<EntryPoint>,
    /// What the version's libpq cannot do here, said once.
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct EntryPoint {
    /// `read-write`, `read-only`, `pgbouncer` or `virtual-ip`.
    pub kind: &'static str,
    /// The members it lists (the PgBouncer hosts for `pgbouncer`; for
    /// `virtual-ip` the members that may hold it), in the inventory's order.
    pub hosts: Vec<String>,
    pub uri: String,
    /// Its section name in `pg_service.conf`.
    pub service_name: String,
    /// The section's `key=value` lines, in order.
    pub service: IndexMap<String, String>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConnectionsError {
    #[error(
        "{what} `{value}` cannot be written into pg_service.conf (a line break, a leading or trailing space, or a control character)"
    )]
    Unwritable { what: String, value: String },
    #[error(
        "replication cluster `{0}` cannot name a pg_service.conf section: use letters, digits, `_`, `-` and `.`"
    )]
    ClusterName(String),
}

/// The entry points of every replication cluster of the desired state.
pub fn connections(
    desired: &DesiredState,
    identity: &ClientIdentity,
) -> Result<ConnectionsDocument, ConnectionsError> {
    for (what, value) in [("--user", &identity.user), ("--dbname", &identity.dbname)] {
        if let Some(value) = value {
            service_value(what, value)?;
        }
    }
    // Each cluster once, in the inventory's order.
    let names: indexmap::IndexSet<&str> = desired
        .hosts
        .values()
        .map(|host| host.cluster.as_str())
        .collect();
    let mut clusters = Vec::new();
    for name in names {
        if let Some(found) = cluster(desired, name, identity)? {
            clusters.push(found);
        }
    }
    Ok(ConnectionsDocument {
        format_version: FORMAT_VERSION,
        clusters,
    })
}

/// A cluster's entry points; none for a cluster of archive hosts alone.
fn cluster(
    desired: &DesiredState,
    name: &str,
    identity: &ClientIdentity,
) -> Result<Option<ClusterConnections>, ConnectionsError> {
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(ConnectionsError::ClusterName(name.to_string()));
    }
    let members: Vec<_> = desired
        .hosts
        .values()
        .filter(|host| host.cluster == name && host.role.is_member())
        .collect();
    // The oldest member's version: what every member's clients can do.
    let Some(version) = members.iter().map(|host| host.settings.pg_version).min() else {
        return Ok(None);
    };
    let hosts: Vec<String> = members.iter().map(|host| host.name.clone()).collect();
    let addresses: Vec<(String, u16)> = members
        .iter()
        .map(|host| (host.settings.replication_host.clone(), host.settings.port))
        .collect();
    for (address, _) in &addresses {
        service_value("an address", address)?;
    }
    let mut notes = Vec::new();
    let mut entry_points = Vec::new();
    if CLIENT_READ_WRITE_TARGET.in_version(version) {
        entry_points.push(entry_point(
            "read-write",
            &format!("{name}-rw"),
            &hosts,
            &addresses,
            &[("target_session_attrs", "read-write")],
            identity,
        ));
    } else {
        notes.push(format!(
            "libpq before 10 ({version}) cannot pick the member that accepts writes: no entry point"
        ));
    }
    if CLIENT_STANDBY_TARGET.in_version(version) {
        let mut options = vec![("target_session_attrs", "standby")];
        if CLIENT_LOAD_BALANCE.in_version(version) {
            options.push(("load_balance_hosts", "random"));
        } else {
            notes.push(format!(
                "libpq before 16 ({version}) has no load_balance_hosts: read-only connections go to the first standby that answers"
            ));
        }
        entry_points.push(entry_point(
            "read-only",
            &format!("{name}-ro"),
            &hosts,
            &addresses,
            &options,
            identity,
        ));
    } else {
        notes.push(format!(
            "libpq before 14 ({version}) cannot insist on a standby (target_session_attrs=standby): no read-only entry point"
        ));
    }
    let bouncers: Vec<_> = desired
        .hosts
        .values()
        .filter(|host| host.cluster == name && host.pgbouncer)
        .collect();
    if !bouncers.is_empty() {
        let hosts: Vec<String> = bouncers.iter().map(|host| host.name.clone()).collect();
        let addresses: Vec<(String, u16)> = bouncers
            .iter()
            .map(|host| {
                (
                    host.settings.replication_host.clone(),
                    host.settings.pgbouncer.port,
                )
            })
            .collect();
        for (address, _) in &addresses {
            service_value("an address", address)?;
        }
        entry_points.push(entry_point(
            "pgbouncer",
            &format!("{name}-pgbouncer"),
            &hosts,
            &addresses,
            &[],
            identity,
        ));
    }
    if let Some(vip) = members
        .iter()
        .find_map(|host| host.settings.virtual_ip.as_ref())
    {
        let ports: indexmap::IndexSet<u16> =
            members.iter().map(|host| host.settings.port).collect();
        match ports.iter().collect::<Vec<_>>().as_slice() {
            [port] => {
                // libpq still asks: a virtual IP left on a standby is refused,
                // never written to.
                let options: &[(&str, &str)] = if CLIENT_READ_WRITE_TARGET.in_version(version) {
                    &[("target_session_attrs", "read-write")]
                } else {
                    &[]
                };
                entry_points.push(entry_point(
                    "virtual-ip",
                    &format!("{name}-vip"),
                    &hosts,
                    &[(vip.address.to_string(), **port)],
                    options,
                    identity,
                ));
            }
            _ => notes.push(format!(
                "the members listen on different ports ({}): the virtual IP {} has no one port, so no virtual-ip entry point",
                ports
                    .iter()
                    .map(u16::to_string)
                    .collect::<Vec<_>>()
                    .join(", "),
                vip.address
            )),
        }
    }
    Ok(Some(ClusterConnections {
        name: name.to_string(),
        pg_version: version.to_string(),
        entry_points,
        notes,
    }))
}

fn entry_point(
    kind: &'static str,
    service_name: &str,
    hosts: &[String],
    addresses: &[(String, u16)],
    options: &[(&str, &str)],
    identity: &ClientIdentity,
) -> EntryPoint {
    let host_list = addresses
        .iter()
        .map(|(address, port)| format!("{}:{port}", uri_host(address)))
        .collect::<Vec<_>>()
        .join(",");
    let user = identity
        .user
        .as_deref()
        .map(|user| format!("{}@", utf8_percent_encode(user, URI_COMPONENT)))
        .unwrap_or_default();
    let dbname = identity
        .dbname
        .as_deref()
        .map(|dbname| utf8_percent_encode(dbname, URI_COMPONENT).to_string())
        .unwrap_or_default();
    let query = options
        .iter()
        .map(|(key, value)| format!("{key}={value}"))
        .collect::<Vec<_>>()
        .join("&");
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    let uri = format!("postgresql://{user}{host_list}/{dbname}{query}");
    let mut service: IndexMap<String, String> = IndexMap::new();
    service.extend([
        (
            "host".to_string(),
            addresses
                .iter()
                .map(|(address, _)| address.as_str())
                .collect::<Vec<_>>()
                .join(","),
        ),
        (
            "port".to_string(),
            addresses
                .iter()
                .map(|(_, port)| port.to_string())
                .collect::<Vec<_>>()
                .join(","),
        ),
    ]);
    if let Some(dbname) = &identity.dbname {
        service.insert("dbname".to_string(), dbname.clone());
    }
    if let Some(user) = &identity.user {
        service.insert("user".to_string(), user.clone());
    }
    service.extend(
        options
            .iter()
            .map(|(key, value)| (key.to_string(), value.to_string())),
    );
    EntryPoint {
        kind,
        hosts: hosts.to_vec(),
        uri,
        service_name: service_name.to_string(),
        service,
    }
}

/// An IPv6 address is bracketed in a URI.
fn uri_host(address: &str) -> String {
    if address.contains(':') {
        format!("[{address}]")
    } else {
        address.to_string()
    }
}

/// A value libpq reads back from `pg_service.conf` as written: one line, no
/// space at either end (libpq trims them), no control character.
fn service_value(what: &str, value: &str) -> Result<(), ConnectionsError> {
    if value.trim() != value || value.chars().any(char::is_control) {
        return Err(ConnectionsError::Unwritable {
            what: what.to_string(),
            value: value.escape_debug().to_string(),
        });
    }
    Ok(())
}

/// The document as people read it: each cluster's URIs, then its
/// `pg_service.conf` sections.
pub fn text(document: &ConnectionsDocument) -> String {
    let mut out = String::new();
    for cluster in &document.clusters {
        out.push_str(&format!(
            "# {} (PostgreSQL {}): {}\n",
            cluster.name,
            cluster.pg_version,
            cluster
                .entry_points
                .first()
                .map(|entry| entry.hosts.join(", "))
                .unwrap_or_default()
        ));
        for entry in &cluster.entry_points {
            out.push_str(&format!("{:<11} {}\n", entry.kind, entry.uri));
        }
        for note in &cluster.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out.push_str("\n# pg_service.conf\n");
        for entry in &cluster.entry_points {
            out.push_str(&format!("[{}]\n", entry.service_name));
            for (key, value) in &entry.service {
                out.push_str(&format!("{key}={value}\n"));
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::check::{THREE_HOSTS, desired};

    #[test]
    fn every_member_is_listed_and_libpq_picks_by_the_server_s_answer() {
        let (state, _) = desired(THREE_HOSTS);
        let document = connections(&state, &ClientIdentity::default()).expect("connections");
        insta::assert_snapshot!(text(&document));
        insta::assert_snapshot!(
            "every_member_is_listed_json",
            serde_json::to_string_pretty(&document).expect("JSON")
        );
        crate::plan::check::assert_matches_schema("connections", &serde_json::json!(document));
    }

    #[test]
    fn the_user_and_database_are_encoded_for_the_uri_and_kept_for_the_service_file() {
        let (state, _) = desired(THREE_HOSTS);
        let identity = ClientIdentity {
            user: Some("app user@x".to_string()),
            dbname: Some("sales/2026".to_string()),
        };
        let document = connections(&state, &identity).expect("connections");
        let entry = &document.clusters[0].entry_points[0];
        assert!(
            entry.uri.starts_with("postgresql://app%20user%40x@")
                && entry
                    .uri
                    .contains("/sales%2F2026?target_session_attrs=read-write"),
            "{}",
            entry.uri
        );
        assert_eq!(
            entry.service.get("user").map(String::as_str),
            Some("app user@x")
        );
    }

    #[test]
    fn a_value_the_service_file_cannot_hold_is_refused() {
        let (state, _) = desired(THREE_HOSTS);
        let identity = ClientIdentity {
            user: Some("app\nhost=evil".to_string()),
            dbname: None,
        };
        let error = connections(&state, &identity).expect_err("refused");
        assert_eq!(
            error.to_string(),
            "--user `app\\nhost=evil` cannot be written into pg_service.conf (a line break, a leading or trailing space, or a control character)"
        );
    }

    #[test]
    fn what_the_version_s_libpq_has_decides_the_entry_points() {
        let kinds = |version: &str| {
            let (state, _) = desired(&THREE_HOSTS.replace("pg_version: 15", version));
            let document = connections(&state, &ClientIdentity::default()).expect("connections");
            let cluster = &document.clusters[0];
            (
                cluster
                    .entry_points
                    .iter()
                    .map(|entry| entry.uri.rsplit('?').next().unwrap_or_default().to_string())
                    .collect::<Vec<_>>(),
                cluster.notes.len(),
            )
        };
        assert_eq!(
            kinds("pg_version: 17"),
            (
                vec![
                    "target_session_attrs=read-write".to_string(),
                    "target_session_attrs=standby&load_balance_hosts=random".to_string()
                ],
                0
            )
        );
        assert_eq!(
            kinds("pg_version: 12"),
            (vec!["target_session_attrs=read-write".to_string()], 1)
        );
        assert_eq!(kinds("pg_version: 9.6"), (Vec::new(), 2));
    }

    #[test]
    fn an_ipv6_address_is_bracketed_in_the_uri() {
        assert_eq!(uri_host("fd00::11"), "[fd00::11]");
        assert_eq!(uri_host("db1.example.com"), "db1.example.com");
    }

    #[test]
    fn the_pgbouncer_hosts_are_an_entry_point_of_their_own() {
        let (state, _) = desired(&crate::plan::check::pgbouncer_inventory());
        let identity = ClientIdentity {
            user: Some("app".to_string()),
            dbname: Some("app".to_string()),
        };
        let document = connections(&state, &identity).expect("connections");
        insta::assert_snapshot!(text(&document));
        crate::plan::check::assert_matches_schema("connections", &serde_json::json!(document));
    }

    #[test]
    fn the_virtual_ip_is_an_entry_point_that_still_asks_for_the_primary() {
        let inventory = THREE_HOSTS.replace(
            "    pg_version: 15\n",
            "    pg_version: 15\n    cluster_vip: 10.0.0.50/24\n",
        );
        let (state, _) = desired(&inventory);
        let document = connections(&state, &ClientIdentity::default()).expect("connections");
        let vip = document.clusters[0]
            .entry_points
            .iter()
            .find(|entry| entry.kind == "virtual-ip")
            .expect("a virtual-ip entry point");
        assert_eq!(
            vip.uri,
            "postgresql://10.0.0.50:5432/?target_session_attrs=read-write"
        );
        assert_eq!(vip.service_name, "main-vip");
        assert_eq!(vip.hosts, ["db1", "db2", "db3"]);
        assert_eq!(vip.service["host"], "10.0.0.50");
        crate::plan::check::assert_matches_schema("connections", &serde_json::json!(document));

        // Members on different ports: the address has no one port, and says so.
        let inventory = inventory.replace(
            "db3: { ansible_host: 10.0.0.13 }",
            "db3: { ansible_host: 10.0.0.13, pg_port: 5433 }",
        );
        let (state, _) = desired(&inventory);
        let document = connections(&state, &ClientIdentity::default()).expect("connections");
        let cluster = &document.clusters[0];
        assert!(
            cluster
                .entry_points
                .iter()
                .all(|entry| entry.kind != "virtual-ip"),
            "{cluster:?}"
        );
        assert!(
            cluster.notes.contains(&"the members listen on different ports (5432, 5433): the virtual IP 10.0.0.50 has no one port, so no virtual-ip entry point".to_string()),
            "{:?}",
            cluster.notes
        );
    }
}
