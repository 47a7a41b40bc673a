//! Facts: what is really on a host, gathered in one SSH round trip by a remote
//! script (`script`) and read back by a pure parser (`parse`). Each family of
//! facts is a module with its piece of the script (a `.sh` file) and its
//! parser: `host`, `files`, `data_directory`, `timeline`, `pgbackrest`, the
//! running server's `server`, `settings`, `replication` and `slots`, and
//! `pgbouncer` (PgBouncer on its hosts, its auth function on the primary).

mod data_directory;
mod files;
pub mod fingerprint;
mod host;
pub mod parse;
pub mod pgbackrest;
pub mod pgbouncer;
mod replication;
pub mod script;
mod server;
mod settings;
mod slots;
pub mod timeline;

use crate::inventory::HostSettings;
use crate::secret::Sensitive;
use indexmap::IndexMap;
use serde::Serialize;

/// What the facts script must look at on one host: paths and names come from the
/// host's desired state, so the script reports exactly what the plan compares.
#[derive(Debug, Clone, PartialEq)]
pub struct FactsRequest {
    /// The host's settings: how to reach PostgreSQL, which role to look at.
    pub settings: HostSettings,
    /// Files whose content and attributes the plan compares, in step order.
    pub files: Vec<String>,
    /// Directories whose existence and attributes the plan compares.
    pub directories: Vec<String>,
    /// Files the server must be able to read (a TLS certificate or key a new
    /// configuration names): the script says whether the PostgreSQL OS user can.
    pub readable: Vec<String>,
    /// The pgBackRest stanza whose repository this host looks after (`pgbackrest info`).
    pub pgbackrest_stanza: Option<String>,
    /// The host runs PgBouncer: its binary and its console are read.
    pub pgbouncer: bool,
    /// The host makes PgBouncer's auth function: each database's is read.
    pub pgbouncer_auth: bool,
}

impl FactsRequest {
    /// A request for the host with these settings that asks for no path yet.
    pub fn new(settings: HostSettings) -> FactsRequest {
        FactsRequest {
            settings,
            files: Vec::new(),
            directories: Vec::new(),
            readable: Vec::new(),
            pgbackrest_stanza: None,
            pgbouncer: false,
            pgbouncer_auth: false,
        }
    }

    /// Why pgconverge refuses to act on a path of this request, as the facts
    /// show them: a link (root would follow it, a write would land where it
    /// leads), or a file the PostgreSQL OS user, who reads and writes the files
    /// pgconverge manages, cannot read.
    pub fn refused_path(&self, facts: &HostFacts) -> Option<String> {
        for path in self.files.iter().chain(&self.directories) {
            if let Some(target) = facts.links.get(path) {
                return Some(format!(
                    "`{path}` is a link to `{target}`: pgconverge never acts through a link (another user may have planted it); remove it, or name its target in the inventory"
                ));
            }
            if facts.unreadable.contains(path) {
                return Some(format!(
                    "`{path}` cannot be read by the PostgreSQL OS user `{}`, as whom pgconverge reads the files it manages; give it to that user",
                    self.settings.os_user
                ));
            }
        }
        None
    }
    /// The facts script reports this file's content and attributes.
    pub fn want_file(&mut self, path: &str) {
        if !self.files.iter().any(|file| file == path) {
            self.files.push(path.to_string());
        }
    }

    /// The facts script reports whether the PostgreSQL OS user can read this file.
    pub fn want_readable(&mut self, path: &str) {
        if !self.readable.iter().any(|file| file == path) {
            self.readable.push(path.to_string());
        }
    }

    /// The facts script reports whether this directory exists, with its attributes.
    pub fn want_directory(&mut self, path: &str) {
        if !self.directories.iter().any(|directory| directory == path) {
            self.directories.push(path.to_string());
        }
    }
}

/// Facts of each host, or why they could not be gathered.
pub type GatheredFacts = IndexMap<String, Result<HostFacts, String>>;

/// Owner, group, mode and modification time of a path on the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathAttributes {
    pub owner: String,
    pub group: String,
    /// Permission bits, as `stat` prints them in octal (`640`).
    pub mode: u32,
    /// Seconds since the epoch.
    pub modified: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedFile {
    pub attributes: PathAttributes,
    #[serde(skip)]
    pub content: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedSetting {
    pub context: String,
    pub pending_restart: bool,
    /// The value in force, in the setting's base unit (`pg_settings.setting`).
    pub value: String,
    /// The base unit of `value` (`8kB`, `ms`), empty for a setting without one.
    pub unit: String,
    /// `bool`, `integer`, `real`, `string` or `enum`.
    pub vartype: String,
    /// Where the value comes from (`default`, `configuration file`, ...).
    pub source: String,
    /// The file that sets it, for a value from a configuration file.
    pub source_file: String,
    /// The value when nothing sets it (`pg_settings.boot_val`).
    pub default_value: String,
}

#[cfg(test)]
impl ObservedSetting {
    /// A setting as a test needs it: its context and value, the rest plain.
    pub fn example(context: &str, value: &str, unit: &str, vartype: &str) -> ObservedSetting {
        ObservedSetting {
            context: context.into(),
            pending_restart: false,
            value: value.into(),
            unit: unit.into(),
            vartype: vartype.into(),
            source: "configuration file".into(),
            source_file: String::new(),
            default_value: value.into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedRole {
    pub can_login: bool,
    pub replication: bool,
    /// The stored password verifier; compared, never printed.
    pub password_verifier: Sensitive<String>,
    /// The role may read the files `pg_rewind` needs (PostgreSQL 11 and later).
    pub rewind_grants: bool,
}

/// PgBouncer's auth role on the primary (`pgbouncer_auth_user`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObservedBouncerRole {
    pub can_login: bool,
    /// SUPERUSER, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS: more than it needs.
    pub privileged: bool,
    /// The stored password verifier; compared, never printed.
    pub password_verifier: Sensitive<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WalReceiver {
    pub status: String,
    pub sender_host: String,
    pub sender_port: Option<u16>,
    /// The timeline the receiver streams (`received_tli`).
    pub timeline: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicationClient {
    pub application_name: String,
    pub client_address: String,
    pub state: String,
    /// How far the client's replay is behind this server, in bytes.
    pub replay_lag_bytes: Option<i64>,
    /// The connection is encrypted (`pg_stat_ssl.ssl`); `None` before 9.5.
    pub ssl: Option<bool>,
    /// `sync`, `potential`, `quorum` or `async` (`pg_stat_replication.sync_state`);
    /// empty before 9.1.
    pub sync_state: String,
}

/// A physical replication slot (`pg_replication_slots`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReplicationSlot {
    pub name: String,
    pub active: bool,
    /// `reserved`, `extended`, `unreserved` or `lost` (13 and later); empty before.
    pub wal_status: String,
    /// WAL the slot keeps on this server, in bytes.
    pub retained_bytes: Option<i64>,
}

impl ReplicationSlot {
    /// The slot no longer has the WAL its standby needs: a new base backup does.
    pub fn lost(&self) -> bool {
        self.wal_status == "lost"
    }
}

/// A logical replication slot made with `failover` (PostgreSQL 17 and later):
/// on a primary, one its standbys copy; on a standby, such a copy (`synced`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailoverSlot {
    pub name: String,
    /// The output plugin (`pgoutput`, `test_decoding`, ...).
    pub plugin: String,
    pub database: String,
    /// A standby's copy, made by its slot sync worker (on a primary, a copy it
    /// kept from before its promotion: it means nothing there).
    pub synced: bool,
    /// A copy not yet usable: its primary's slot has not passed the position the
    /// standby could start it at, and a promotion would drop it.
    pub temporary: bool,
    /// Why PostgreSQL invalidated it (`wal_removed`, `rows_removed`, ...), or empty.
    pub invalidation_reason: String,
}

#[cfg(test)]
impl FailoverSlot {
    /// A consumer's `pgoutput` slot in the database `app`, for unit tests.
    pub fn example(name: &str, synced: bool, temporary: bool) -> FailoverSlot {
        FailoverSlot {
            name: name.into(),
            plugin: "pgoutput".into(),
            database: "app".into(),
            synced,
            temporary,
            invalidation_reason: String::new(),
        }
    }
}

impl FailoverSlot {
    /// A standby's copy that a promotion keeps and a consumer can go on from.
    pub fn ready(&self) -> bool {
        self.synced && !self.temporary && self.invalidation_reason.is_empty()
    }
}

/// `pg_stat_archiver`: how the server's archiving goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Archiver {
    pub archived_count: i64,
    pub last_archived_wal: String,
    /// Seconds since the epoch.
    pub last_archived: Option<i64>,
    pub failed_count: i64,
    pub last_failed_wal: String,
    pub last_failed: Option<i64>,
}

impl Archiver {
    /// The last attempt failed: a failure after the last success, or failures and no success.
    pub fn failing(&self) -> bool {
        match (self.last_failed, self.last_archived) {
            (Some(failed), Some(archived)) => failed > archived,
            (Some(_), None) => true,
            _ => false,
        }
    }
}

/// What a running server reports about itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerFacts {
    pub in_recovery: bool,
    /// When the server last read its configuration files (seconds since the epoch).
    pub configuration_loaded: i64,
    /// When the server started (seconds since the epoch): a restart changes it.
    pub started: i64,
    /// The WAL position reached: written on a primary, received on a standby.
    pub position: Option<Lsn>,
    /// On a standby, the WAL position replayed.
    pub replay_position: Option<Lsn>,
    pub replay_paused: bool,
    /// On a standby, seconds since the last replayed transaction committed.
    pub replay_lag_seconds: Option<i64>,
    pub settings: IndexMap<String, ObservedSetting>,
    pub replication_role: Option<ObservedRole>,
    pub wal_receiver: Option<WalReceiver>,
    pub replication_clients: Vec<ReplicationClient>,
    /// Physical replication slots (9.4 and later).
    pub slots: Vec<ReplicationSlot>,
    /// Logical slots made with `failover` (17 and later).
    pub failover_slots: Vec<FailoverSlot>,
    pub user_databases: Vec<String>,
    pub archiver: Option<Archiver>,
    /// Roles whose stored password is an md5 hash (names only, never the hash).
    pub md5_roles: Vec<String>,
    /// PgBouncer's auth role (`pgbouncer_auth_user`), when it exists.
    pub pgbouncer_role: Option<ObservedBouncerRole>,
}

impl ServerFacts {
    pub fn settings_pending_restart(&self) -> Vec<&str> {
        self.settings
            .iter()
            .filter(|(_, setting)| setting.pending_restart)
            .map(|(name, _)| name.as_str())
            .collect()
    }
}

/// The data directory as seen on disk, whether or not the server runs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DataDirectory {
    /// Content of `PG_VERSION`, when the directory holds a cluster.
    pub pg_version: Option<String>,
    pub system_identifier: Option<String>,
    /// `pg_controldata`'s "Database cluster state" (`in production`, `shut down`, ...).
    pub cluster_state: Option<String>,
    /// The timeline of the latest checkpoint.
    pub timeline: Option<u32>,
    /// `pg_rewind` needs one of these two.
    pub wal_log_hints: bool,
    pub checksums: bool,
    pub standby_signal: bool,
    pub recovery_conf: bool,
    /// Number of database directories under `base/`; a fresh cluster has three.
    pub database_directories: usize,
    /// `postmaster.pid` is present.
    pub postmaster_pid: bool,
    /// The port `postmaster.pid` names (its fourth line): the one a server that
    /// runs from this directory holds, even when it does not answer.
    pub postmaster_port: Option<u16>,
    /// What `pg_rewind` said when it last failed to rejoin this directory
    /// (`pgconverge-rewind-failed` in it): rewinding again would fail again.
    pub rewind_failed: Option<String>,
    /// A `pg_rewind` into this directory was cut short (the run killed while it
    /// copied): `DATA.pgconverge-rewinding` is still beside it. The directory
    /// is half rewound, fit neither to start nor to rewind again.
    pub rewind_interrupted: bool,
    /// The replication slots kept in the directory (`pg_replslot/`), which a
    /// stopped server still has when it starts.
    pub slots_on_disk: Vec<String>,
    /// WAL segments waiting to be archived (`archive_status/*.ready`).
    pub wal_ready_segments: Option<u64>,
    /// The newest timeline history file (`pg_wal/NNNNNNNN.history`): where the
    /// server left each timeline before its own. `None` on timeline 1.
    pub history: Option<timeline::TimelineHistory>,
}

impl DataDirectory {
    pub fn exists(&self) -> bool {
        self.pg_version.is_some()
    }

    /// True when the stopped cluster holds more databases than a fresh one.
    pub fn has_user_databases_on_disk(&self) -> bool {
        self.database_directories > 3
    }
}

/// A WAL position (`16/B374D848`), comparable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Lsn(pub u64);

impl Lsn {
    pub fn parse(text: &str) -> Option<Lsn> {
        let (high, low) = text.trim().split_once('/')?;
        Some(Lsn(
            (u64::from_str_radix(high, 16).ok()? << 32) | u64::from_str_radix(low, 16).ok()?
        ))
    }
}

impl std::fmt::Display for Lsn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

/// An address of a network interface, as `ip addr` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InterfaceAddress {
    pub interface: String,
    /// `10.0.0.11/24`.
    pub cidr: String,
}

impl InterfaceAddress {
    /// The address without its prefix.
    pub fn address(&self) -> &str {
        self.cidr.split('/').next().unwrap_or_default()
    }
}

/// A TCP socket in the LISTEN state on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ListeningSocket {
    pub address: std::net::IpAddr,
    pub port: u16,
}

impl std::fmt::Display for ListeningSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.address {
            std::net::IpAddr::V4(address) => write!(f, "{address}:{}", self.port),
            std::net::IpAddr::V6(address) => write!(f, "[{address}]:{}", self.port),
        }
    }
}

/// Everything the plan needs to know about one host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct HostFacts {
    /// The OS user's home directory, when the user exists.
    pub os_user_home: Option<String>,
    pub postgres_installed: bool,
    /// The host's memory (`MemTotal`), in kB.
    pub memory_kb: Option<u64>,
    /// The libraries installed for the server (`pg_config --pkglibdir`), by the
    /// name `shared_preload_libraries` gives them; `None` when it cannot be listed.
    pub installed_libraries: Option<Vec<String>>,
    pub files: IndexMap<String, ObservedFile>,
    pub directories: IndexMap<String, PathAttributes>,
    /// Requested files and directories that are symbolic links, with where each
    /// leads: never read through, and the plan refuses to act on them.
    pub links: IndexMap<String, String>,
    /// Requested files the PostgreSQL OS user cannot read (the facts read as it).
    pub unreadable: Vec<String>,
    /// For each file of `FactsRequest::readable`, whether the PostgreSQL OS user can read it.
    pub readable: IndexMap<String, bool>,
    /// The TCP sockets that listen on the host (`/proc/net/tcp` and `tcp6`), the
    /// server's own among them; `None` when they cannot be read.
    pub listening: Option<Vec<ListeningSocket>>,
    /// Each interface's addresses (`ADDRESS/PREFIX`), read when the cluster has a
    /// virtual IP.
    pub addresses: Option<Vec<InterfaceAddress>>,
    /// `arping` is installed, to announce a virtual IP.
    pub arping: bool,
    pub data_directory: DataDirectory,
    /// `None` when the server does not accept connections; then `server_error` says why.
    pub server: Option<ServerFacts>,
    pub server_error: Option<String>,
    /// The pgBackRest stanza and its backups, on the host that keeps the repository.
    pub pgbackrest: Option<pgbackrest::PgbackrestFacts>,
    /// PgBouncer, on a host of the group `pgbouncer`.
    pub pgbouncer: Option<pgbouncer::PgbouncerFacts>,
    /// PgBouncer's auth function in each database, on its cluster's primary.
    pub pgbouncer_auth: Option<pgbouncer::PgbouncerAuthFacts>,
    /// The record of the run that holds the host's run lock (`run_lock`) when
    /// the facts were read, if one held it; read by root from root's own
    /// directory, and left out of plans and fingerprints.
    #[serde(skip)]
    pub run_lock_holder: Option<String>,
}

impl HostFacts {
    pub fn file(&self, path: &str) -> Option<&ObservedFile> {
        self.files.get(path)
    }

    pub fn is_running(&self) -> bool {
        self.server.is_some()
    }

    /// Running and not in recovery: a primary that accepts writes.
    pub fn is_writable_primary(&self) -> bool {
        self.server
            .as_ref()
            .is_some_and(|server| !server.in_recovery)
    }

    pub fn system_identifier(&self) -> Option<&str> {
        self.data_directory.system_identifier.as_deref()
    }

    /// Databases other than the three every cluster has, from the server when it
    /// runs, else counted on disk.
    pub fn has_user_databases(&self) -> bool {
        match &self.server {
            Some(server) => !server.user_databases.is_empty(),
            None => self.data_directory.has_user_databases_on_disk(),
        }
    }
}
