//! A host's typed settings: the paths, commands and names pgconverge itself acts on,
//! read once from the host's inventory variables.

use crate::archive::ReplicationMode;
use crate::diagnostic::Diagnostic;
use crate::inventory::{Host, Inventory};
use crate::secret::Sensitive;
use crate::versions::PgVersion;
use serde::Serialize;
use serde_json::Value;

/// The settings of one host that pgconverge itself acts on (paths, commands, names).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HostSettings {
    pub pg_version: PgVersion,
    pub port: u16,
    pub config_dir: String,
    pub data_dir: String,
    pub bin_dir: String,
    pub socket_dir: String,
    pub home_dir: String,
    pub os_user: String,
    pub os_group: String,
    pub init_command: String,
    pub start_command: String,
    pub stop_command: String,
    pub restart_command: String,
    pub reload_command: String,
    pub replication_user: String,
    pub replication_password: Option<Sensitive<String>>,
    /// The address other nodes use to stream from this one.
    pub replication_host: String,
    /// Whether a standby streams or recovers from the archive only.
    pub replication_mode: ReplicationMode,
}

impl HostSettings {
    /// Reads the typed settings from a host's merged inventory variables.
    pub fn from_host(inventory: &Inventory, host: &Host) -> Result<HostSettings, Diagnostic> {
        let problem = |message: String| {
            Diagnostic::new(
                &inventory.source,
                None,
                None,
                format!("host `{}`: {message}", host.name),
            )
        };
        let text = |name: &str| -> Result<String, Diagnostic> {
            match host.vars.get(name) {
                Some(Value::String(text)) => Ok(text.clone()),
                Some(Value::Number(number)) => Ok(number.to_string()),
                Some(other) => Err(problem(format!(
                    "variable `{name}` must be a string, not `{other}`"
                ))),
                None => Err(problem(format!("variable `{name}` is not set"))),
            }
        };
        let version_value = host.vars.get("pg_version").cloned().unwrap_or(Value::Null);
        let pg_version = PgVersion::parse(&version_value).ok_or_else(|| {
            problem(format!(
                "`pg_version` = {version_value} is not a PostgreSQL major version"
            ))
        })?;
        let port_text = text("pg_port")?;
        let port = port_text
            .parse::<u16>()
            .map_err(|_| problem(format!("`pg_port` = {port_text} is not a port number")))?;
        let replication_password = match host.vars.get("replication_password") {
            Some(Value::String(password)) => Some(Sensitive::new(password.clone())),
            _ => None,
        };
        Ok(HostSettings {
            pg_version,
            port,
            config_dir: text("pg_config_dir")?,
            data_dir: text("pg_data_dir")?,
            bin_dir: text("pg_bin_dir")?,
            socket_dir: text("pg_socket_dir")?,
            home_dir: text("pg_home_dir")?,
            os_user: text("pg_os_user")?,
            os_group: text("pg_os_group")?,
            init_command: text("pg_init_command")?,
            start_command: text("pg_start_command")?,
            stop_command: text("pg_stop_command")?,
            restart_command: text("pg_restart_command")?,
            reload_command: text("pg_reload_command")?,
            replication_user: text("replication_user")?,
            replication_password,
            replication_host: text("replication_host")?,
            replication_mode: ReplicationMode::from_vars(host.vars.get("replication_mode"))
                .map_err(problem)?,
        })
    }
}

#[cfg(test)]
impl HostSettings {
    /// The settings of a Debian PostgreSQL 15 host, for unit tests.
    pub fn example() -> HostSettings {
        HostSettings {
            pg_version: PgVersion(1500),
            port: 5432,
            config_dir: "/etc/postgresql/15/main".into(),
            data_dir: "/var/lib/postgresql/15/main".into(),
            bin_dir: "/usr/lib/postgresql/15/bin".into(),
            socket_dir: "/var/run/postgresql".into(),
            home_dir: "/var/lib/postgresql".into(),
            os_user: "postgres".into(),
            os_group: "postgres".into(),
            init_command: "pg_createcluster 15 main".into(),
            start_command: "pg_ctlcluster 15 main start".into(),
            stop_command: "pg_ctlcluster 15 main stop -m fast".into(),
            restart_command: "pg_ctlcluster 15 main restart -m fast".into(),
            reload_command: "pg_ctlcluster 15 main reload".into(),
            replication_user: "replicator".into(),
            replication_password: None,
            replication_host: "10.0.0.11".into(),
            replication_mode: ReplicationMode::Streaming,
        }
    }
}
