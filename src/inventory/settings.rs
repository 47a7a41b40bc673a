//! A host's typed settings: the paths, commands, names and version pgconverge
//! itself acts on, read once from the host's resolved variables, with each problem
//! reported where the value is written.

use crate::secret::Sensitive;
use crate::versions::PgVersion;
use ansible_inventory_reader::report::Problems;
use ansible_inventory_reader::resolve::{Resolved, ResolvedHost};
use serde::Serialize;
use serde_json::Value;

/// How a standby gets WAL: streamed from its upstream, or only from the archive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplicationMode {
    #[default]
    Streaming,
    /// Streams, and its upstream (the primary) waits for it before a commit
    /// returns (`synchronous_standby_names`).
    Synchronous,
    /// A warm standby that recovers only from the archive (the 8.3 pattern).
    Archive,
}

impl ReplicationMode {
    pub fn name(self) -> &'static str {
        match self {
            ReplicationMode::Streaming => "streaming",
            ReplicationMode::Synchronous => "synchronous",
            ReplicationMode::Archive => "archive",
        }
    }

    /// The standby streams from its upstream (synchronously or not).
    pub fn streams(self) -> bool {
        self != ReplicationMode::Archive
    }
}

/// How the primary picks the standbys a commit waits for (`synchronous_method`):
/// the first `synchronous_count` of the list that are connected, or any
/// `synchronous_count` of them (a quorum).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SyncMethod {
    #[default]
    First,
    Any,
}

impl SyncMethod {
    pub fn name(self) -> &'static str {
        match self {
            SyncMethod::First => "first",
            SyncMethod::Any => "any",
        }
    }
}

/// How much of `postgresql.conf` and `pg_hba.conf` pgconverge owns (`pg_config_mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigMode {
    /// The host's own files stay in force: pgconverge's `postgresql.conf` includes the
    /// host's file (kept as `postgresql.base.conf`) first and sets only what it manages
    /// after it; pgconverge's `pg_hba.conf` rules live in a managed block among the host's.
    #[default]
    Adopt,
    /// pgconverge writes both files whole: whatever the inventory does not say is dropped.
    Own,
}

impl ConfigMode {
    pub fn name(self) -> &'static str {
        match self {
            ConfigMode::Adopt => "adopt",
            ConfigMode::Own => "own",
        }
    }
}

/// libpq's `sslmode` for the replication and rewind connections (`replication_sslmode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SslMode {
    Disable,
    Allow,
    #[default]
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// The connection must be encrypted, so the server's rules may demand it (`hostssl`).
    pub fn requires_tls(self) -> bool {
        matches!(
            self,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull
        )
    }
}

/// How PgBouncer pools server connections (`pgbouncer_pool_mode`): a server
/// connection per client session, per transaction, or per statement.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolMode {
    #[default]
    Session,
    Transaction,
    Statement,
}

impl PoolMode {
    const ALL: [PoolMode; 3] = [
        PoolMode::Session,
        PoolMode::Transaction,
        PoolMode::Statement,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PoolMode::Session => "session",
            PoolMode::Transaction => "transaction",
            PoolMode::Statement => "statement",
        }
    }
}

/// How a host of the group `pgbouncer` runs PgBouncer (the `pgbouncer_*`
/// variables, which every host has: the primary reads the auth role's name and
/// password from them too).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgbouncerSettings {
    /// `listen_port`, and the port of its Unix socket (`pgbouncer_port`).
    pub port: u16,
    /// `listen_addr`: `*` or addresses, comma-separated (`pgbouncer_listen_addr`).
    pub listen_addr: String,
    /// Where `pgbouncer.ini` and pgconverge's other files of it are (`pgbouncer_config_dir`).
    pub config_dir: String,
    /// `unix_socket_dir`, where its console is reached (`pgbouncer_socket_dir`).
    pub socket_dir: String,
    /// The `pgbouncer` binary of the host's package (`pgbouncer_bin`).
    pub binary: String,
    pub pool_mode: PoolMode,
    /// The role `auth_query` runs as (`pgbouncer_auth_user`).
    pub auth_user: String,
    /// Its password (`pgbouncer_auth_password`), in PgBouncer's auth file.
    pub auth_password: Option<Sensitive<String>>,
}

impl PgbouncerSettings {
    /// `pgbouncer.ini`, which `pgbouncer` and the service read.
    pub fn ini_path(&self) -> String {
        format!("{}/pgbouncer.ini", self.config_dir)
    }

    /// pgconverge's `[databases]`, which `pgbouncer.ini` includes: where
    /// PgBouncer sends its clients.
    pub fn databases_path(&self) -> String {
        format!("{}/pgbouncer.databases.ini", self.config_dir)
    }
}

#[cfg(test)]
impl PgbouncerSettings {
    /// Debian's PgBouncer with pgconverge's defaults, for unit tests.
    pub fn example() -> PgbouncerSettings {
        PgbouncerSettings {
            port: 6432,
            listen_addr: "*".into(),
            config_dir: "/etc/pgbouncer".into(),
            socket_dir: "/var/run/postgresql".into(),
            binary: "/usr/sbin/pgbouncer".into(),
            pool_mode: PoolMode::Session,
            auth_user: "pgbouncer".into(),
            auth_password: Some(Sensitive::new("bouncer-secret".into())),
        }
    }
}

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
    /// Whether a standby streams (synchronously or not) or recovers from the archive only.
    pub replication_mode: ReplicationMode,
    /// On a primary: how its synchronous standbys are chosen (`synchronous_method`).
    pub synchronous_method: SyncMethod,
    /// On a primary: how many synchronous standbys a commit waits for (`synchronous_count`).
    pub synchronous_count: u32,
    /// Whether the host's own configuration stays in force (`pg_config_mode`).
    pub config_mode: ConfigMode,
    /// How replication and rewind connections use TLS (`replication_sslmode`).
    pub replication_sslmode: SslMode,
    /// Logical slots made with `failover` follow a promotion: the standbys copy
    /// them (`sync_replication_slots`, PostgreSQL 17 and later).
    pub failover_slots: bool,
    /// The cluster's virtual IP (`cluster_vip`), which only the primary holds.
    pub virtual_ip: Option<crate::address::VirtualIp>,
    /// The hot-standby limits (`max_connections`, ...) and `wal_level` the
    /// inventory does not set, whose value is pgconverge's default.
    pub defaulted_limits: Vec<String>,
    /// PgBouncer's settings, which matter on the hosts of the group `pgbouncer`
    /// (and, for the auth role, on their cluster's primary).
    pub pgbouncer: PgbouncerSettings,
}

/// Reads one host's settings, reporting each value that cannot be one; `None` when
/// any is missing or wrong (or failed to render, which was reported already).
pub fn read(host: &str, resolved: &ResolvedHost, problems: &mut Problems) -> Option<HostSettings> {
    let mut reader = Reader {
        host,
        resolved,
        problems,
        complete: true,
    };
    let settings = HostSettings {
        pg_version: reader.pg_version(),
        port: reader.port(),
        config_dir: reader.path("pg_config_dir"),
        data_dir: reader.path("pg_data_dir"),
        bin_dir: reader.path("pg_bin_dir"),
        socket_dir: reader.path("pg_socket_dir"),
        home_dir: reader.path("pg_home_dir"),
        os_user: reader.account("pg_os_user"),
        os_group: reader.account("pg_os_group"),
        init_command: reader.text("pg_init_command"),
        start_command: reader.text("pg_start_command"),
        stop_command: reader.text("pg_stop_command"),
        restart_command: reader.text("pg_restart_command"),
        reload_command: reader.text("pg_reload_command"),
        replication_user: reader.role("replication_user"),
        replication_password: reader.password(),
        replication_host: reader.address("replication_host"),
        replication_mode: reader.mode(),
        synchronous_method: reader.sync_method(),
        synchronous_count: reader.sync_count(),
        config_mode: reader.config_mode(),
        replication_sslmode: reader.sslmode(),
        failover_slots: false,
        virtual_ip: reader.virtual_ip(),
        pgbouncer: reader.pgbouncer(),
        defaulted_limits: super::validate::HOT_STANDBY_SETTINGS
            .iter()
            .chain(&["wal_level"])
            .filter(|name| {
                resolved.vars.get(**name).is_some_and(|found| {
                    found.location.file == std::path::Path::new(super::defaults::DEFAULTS_PATH)
                })
            })
            .map(|name| name.to_string())
            .collect(),
    };
    let settings = HostSettings {
        failover_slots: reader.failover_slots(&settings),
        ..settings
    };
    reader.complete.then_some(settings)
}

struct Reader<'a, 'doc> {
    host: &'a str,
    resolved: &'a ResolvedHost<'doc>,
    problems: &'a mut Problems,
    complete: bool,
}

impl Reader<'_, '_> {
    /// The variable, or `None` (reported unless its rendering failed) when absent.
    fn get(&mut self, name: &str) -> Option<&Resolved<'_>> {
        if self.resolved.failed.contains(name) {
            self.complete = false;
            return None;
        }
        let found = self.resolved.vars.get(name);
        if found.is_none() {
            // Every one of these has a documented default, so this is a bug of
            // the defaults, not of the user's file.
            self.complete = false;
        }
        found
    }

    fn refuse(&mut self, name: &str, after: String) {
        if let Some(found) = self.resolved.vars.get(name) {
            let location = found.location.clone();
            self.problems
                .add_for_host(location, self.host, format!("`{name}` of "), after);
        }
        self.complete = false;
    }

    fn text(&mut self, name: &str) -> String {
        self.text_of(name).unwrap_or_default()
    }

    /// The variable as text; `None` when it is missing, failed or not text.
    fn text_of(&mut self, name: &str) -> Option<String> {
        let value = self.get(name)?.value.clone();
        match value {
            Value::String(text) => Some(text),
            Value::Number(number) => Some(number.to_string()),
            other => {
                self.refuse(name, format!(" must be text, not {other}"));
                None
            }
        }
    }

    /// An absolute path without `..`: it cannot walk out of its directory (line
    /// breaks are refused for every variable, in `validate`).
    fn path(&mut self, name: &str) -> String {
        let Some(text) = self.text_of(name) else {
            return String::new();
        };
        let problem = if !text.starts_with('/') {
            Some("must be an absolute path")
        } else if text.split('/').any(|part| part == "..") {
            Some("must not go up a directory with `..`")
        } else {
            None
        };
        if let Some(problem) = problem {
            self.refuse(name, format!(" {problem}, not {text:?}"));
        }
        text
    }

    /// An OS user or group name as `useradd` takes it (`[a-z_][a-z0-9_-]*`, at most 32).
    fn account(&mut self, name: &str) -> String {
        let Some(text) = self.text_of(name) else {
            return String::new();
        };
        let mut chars = text.chars();
        let valid = text.len() <= 32
            && chars
                .next()
                .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "_-".contains(c));
        if !valid {
            self.refuse(
                name,
                format!(" must be an OS account name (lower-case letters, digits, `_` and `-`, at most 32), not {text:?}"),
            );
        }
        text
    }

    /// A PostgreSQL role name: any text that fits PostgreSQL's 63 bytes (line
    /// breaks are refused for every variable, in `validate`).
    fn role(&mut self, name: &str) -> String {
        let Some(text) = self.text_of(name) else {
            return String::new();
        };
        let problem = if text.is_empty() {
            Some("must not be empty".to_string())
        } else if text.len() > 63 {
            Some(format!(
                "is {} bytes long, and PostgreSQL keeps at most 63 of a name",
                text.len()
            ))
        } else {
            None
        };
        if let Some(problem) = problem {
            self.refuse(name, format!(" {problem}"));
        }
        text
    }

    /// An IP address or a host name: what ssh, `pg_hba.conf` and libpq take.
    fn address(&mut self, name: &str) -> String {
        let Some(text) = self.text_of(name) else {
            return String::new();
        };
        // `replication_host` is `ansible_host` unless set: a bad one is reported once,
        // where it is written.
        let same_as_ansible_host = self
            .resolved
            .vars
            .get("ansible_host")
            .is_some_and(|found| found.value.as_str() == Some(text.as_str()));
        let reported_elsewhere = name == "replication_host" && same_as_ansible_host;
        if !(crate::address::is_address(&text) || reported_elsewhere) {
            self.refuse(
                name,
                format!(" must be an IP address or a host name, not {text:?}"),
            );
        }
        text
    }

    fn port(&mut self) -> u16 {
        self.port_of("pg_port")
    }

    /// A TCP port, 1 to 65535.
    fn port_of(&mut self, name: &str) -> u16 {
        let value = match self.get(name) {
            Some(found) => found.value.clone(),
            None => return 0,
        };
        match super::validate::whole_number(&value).and_then(|number| u16::try_from(number).ok()) {
            Some(port) if port > 0 => port,
            _ => {
                let after = format!(" must be an integer from 1 to 65535, not {value}");
                self.refuse(name, after);
                0
            }
        }
    }

    fn pg_version(&mut self) -> PgVersion {
        let value = match self.get("pg_version") {
            Some(found) => found.value.clone(),
            None => return PgVersion(0),
        };
        // Before 10, PostgreSQL named major versions with two numbers (8.3 ... 9.6);
        // `PgVersion` is the one reader of versions, so validation and rendering agree.
        match PgVersion::parse(&value) {
            Some(version) if version >= crate::versions::OLDEST && version.was_released() => {
                version
            }
            Some(version) if !version.was_released() => {
                let after = format!(
                    " is {value}, a version PostgreSQL never released (8.3 to 9.6 written with two numbers, or 10 to {})",
                    crate::versions::NEWEST
                );
                self.refuse("pg_version", after);
                PgVersion(0)
            }
            _ => {
                let after = format!(
                    " must be a PostgreSQL major version (8.3 to 9.6 written with two numbers, or 10 and up), not {value}"
                );
                self.refuse("pg_version", after);
                PgVersion(0)
            }
        }
    }

    fn password(&mut self) -> Option<Sensitive<String>> {
        if self.resolved.failed.contains("replication_password") {
            self.complete = false;
            return None;
        }
        match self.resolved.vars.get("replication_password") {
            Some(Resolved {
                value: Value::String(password),
                ..
            }) => {
                if password.contains(['\n', '\r', '\0']) {
                    // The message names the variable and its place, never the value.
                    let after = " holds a line break or NUL, which `.pgpass` cannot carry (libpq could not log in with it)".to_string();
                    self.refuse("replication_password", after);
                }
                Some(Sensitive::new(password.clone()))
            }
            // Its presence and shape are checked with the cluster's other rules.
            _ => None,
        }
    }

    fn mode(&mut self) -> ReplicationMode {
        let Some(found) = self.resolved.vars.get("replication_mode") else {
            return ReplicationMode::Streaming;
        };
        match found.value.as_str() {
            Some("streaming") => ReplicationMode::Streaming,
            Some("synchronous") => ReplicationMode::Synchronous,
            Some("archive") => ReplicationMode::Archive,
            _ => {
                let after = format!(
                    " must be `streaming`, `synchronous` or `archive`, not {}",
                    found.value
                );
                self.refuse("replication_mode", after);
                ReplicationMode::Streaming
            }
        }
    }
}

impl Reader<'_, '_> {
    fn config_mode(&mut self) -> ConfigMode {
        match self.choice("pg_config_mode", &["adopt", "own"]) {
            Some("own") => ConfigMode::Own,
            _ => ConfigMode::Adopt,
        }
    }

    fn sync_method(&mut self) -> SyncMethod {
        match self.choice("synchronous_method", &["first", "any"]) {
            Some("any") => SyncMethod::Any,
            _ => SyncMethod::First,
        }
    }

    /// `synchronous_count`: a whole number from 1 (how many standbys exist is
    /// checked with the cluster's other rules).
    fn sync_count(&mut self) -> u32 {
        let Some(found) = self.resolved.vars.get("synchronous_count") else {
            return 1;
        };
        match super::validate::whole_number(&found.value).map(u32::try_from) {
            Some(Ok(count)) if count >= 1 => count,
            _ => {
                let after = format!(" must be a whole number of at least 1, not {}", found.value);
                self.refuse("synchronous_count", after);
                1
            }
        }
    }

    fn sslmode(&mut self) -> SslMode {
        let names = SslMode::ALL.map(SslMode::name);
        let chosen = self.choice("replication_sslmode", &names);
        SslMode::ALL
            .into_iter()
            .find(|mode| Some(mode.name()) == chosen)
            .unwrap_or_default()
    }

    /// `failover_slots`: true or false; true only where the version has failover
    /// slots, the standbys stream through slots, and they stream at all.
    fn failover_slots(&mut self, settings: &HostSettings) -> bool {
        const NAME: &str = "failover_slots";
        let Some(found) = self.resolved.vars.get(NAME) else {
            return false;
        };
        let Some(wanted) = found.value.as_bool() else {
            let after = format!(" must be true or false, not {}", found.value);
            self.refuse(NAME, after);
            return false;
        };
        if !wanted {
            return false;
        }
        let version = settings.pg_version;
        let slots = self
            .resolved
            .vars
            .get("replication_slots")
            .is_none_or(|slots| slots.value.as_bool() != Some(false));
        let problem = if !crate::versions::FAILOVER_SLOTS.in_version(version) {
            Some(format!(
                "needs PostgreSQL 17 or later (the standbys' slot synchronisation), and `pg_version` is {version}"
            ))
        } else if !slots {
            Some("needs `replication_slots: true`: a standby syncs logical slots through its own physical slot".to_string())
        } else if settings.replication_mode == ReplicationMode::Archive {
            Some("needs streaming standbys: a warm standby (`replication_mode: archive`) syncs no slot".to_string())
        } else {
            None
        };
        match problem {
            Some(problem) => {
                self.refuse(NAME, format!(" {problem}"));
                false
            }
            None => true,
        }
    }

    /// `cluster_vip` (empty: none) and `cluster_vip_interface` (empty: the
    /// interface of the host's own address, found on the host).
    fn virtual_ip(&mut self) -> Option<crate::address::VirtualIp> {
        let text = self.text_of("cluster_vip").unwrap_or_default();
        if text.is_empty() {
            return None;
        }
        let interface = self
            .text_of("cluster_vip_interface")
            .filter(|name| !name.is_empty());
        match crate::address::VirtualIp::parse(&text, interface.as_deref()) {
            Ok(vip) => Some(vip),
            Err(problem) => {
                self.refuse("cluster_vip", format!(" {problem}"));
                None
            }
        }
    }

    /// The variable when it is one of `names`; else reported, and `None`.
    fn choice<'n>(&mut self, name: &str, names: &[&'n str]) -> Option<&'n str> {
        let found = self.resolved.vars.get(name)?;
        let chosen = names
            .iter()
            .copied()
            .find(|candidate| found.value.as_str() == Some(*candidate));
        if chosen.is_none() {
            let listed = names
                .iter()
                .map(|candidate| format!("`{candidate}`"))
                .collect::<Vec<_>>()
                .join(", ");
            let after = format!(" must be one of {listed}, not {}", found.value);
            self.refuse(name, after);
        }
        chosen
    }
}

impl Reader<'_, '_> {
    /// The `pgbouncer_*` variables (what only a host of the group `pgbouncer`
    /// needs of them is checked with the cluster's rules).
    fn pgbouncer(&mut self) -> PgbouncerSettings {
        let config_dir = self.path("pgbouncer_config_dir");
        let socket_dir = self.path("pgbouncer_socket_dir");
        let binary = self.path("pgbouncer_bin");
        let names = PoolMode::ALL.map(PoolMode::name);
        let chosen = self.choice("pgbouncer_pool_mode", &names);
        PgbouncerSettings {
            port: self.port_of("pgbouncer_port"),
            listen_addr: self.listen_addr(),
            config_dir,
            socket_dir,
            binary,
            pool_mode: PoolMode::ALL
                .into_iter()
                .find(|mode| Some(mode.name()) == chosen)
                .unwrap_or_default(),
            auth_user: self.role("pgbouncer_auth_user"),
            auth_password: self.pgbouncer_password(),
        }
    }

    /// `pgbouncer_listen_addr`: `*`, or IP addresses and host names, separated
    /// by commas.
    fn listen_addr(&mut self) -> String {
        const NAME: &str = "pgbouncer_listen_addr";
        let Some(text) = self.text_of(NAME) else {
            return String::new();
        };
        let valid = !text.trim().is_empty()
            && text
                .split(',')
                .map(str::trim)
                .all(|entry| entry == "*" || crate::address::is_address(entry));
        if !valid {
            self.refuse(
                NAME,
                format!(
                    " must be `*` or IP addresses and host names separated by commas, not {text:?}"
                ),
            );
        }
        text
    }

    /// `pgbouncer_auth_password`, which PgBouncer's auth file holds in double
    /// quotes (a `"` doubled): a line break or NUL cannot be written there, and
    /// PgBouncer refuses a quoted password of 2048 bytes or more (1.18).
    fn pgbouncer_password(&mut self) -> Option<Sensitive<String>> {
        const NAME: &str = "pgbouncer_auth_password";
        if self.resolved.failed.contains(NAME) {
            self.complete = false;
            return None;
        }
        let Some(Resolved {
            value: Value::String(password),
            ..
        }) = self.resolved.vars.get(NAME)
        else {
            // Its presence is checked with the cluster's other rules; another
            // type is named there too.
            return None;
        };
        let password = password.clone();
        // The message names the variable and its place, never the value.
        if password.contains(['\n', '\r', '\0']) {
            let after =
                " holds a line break or NUL, which PgBouncer's auth file cannot carry".to_string();
            self.refuse(NAME, after);
        } else if password.replace('"', "\"\"").len() >= 2048 {
            let after = " is too long for PgBouncer's auth file (2047 bytes at most, each `\"` counting twice)".to_string();
            self.refuse(NAME, after);
        }
        Some(Sensitive::new(password))
    }
}

impl HostSettings {
    /// What this host's libpq is told about authenticating its replication and
    /// rewind connections to another member (after `sslmode`), as connection
    /// parameters: `require_auth=scram-sha-256` where libpq has it (16), since
    /// the members' rules and the replication role's verifier are SCRAM, and
    /// `channel_binding=require` where libpq has it (13) and the connection is
    /// encrypted (channel binding binds SCRAM to the TLS connection; without TLS
    /// libpq would refuse to connect at all).
    pub fn replication_auth(&self) -> Vec<(&'static str, String)> {
        let version = self.pg_version;
        let mut pairs = Vec::new();
        if crate::versions::REQUIRE_AUTH.in_version(version) {
            pairs.push(("require_auth", "scram-sha-256".to_string()));
        }
        if crate::versions::CHANNEL_BINDING.in_version(version)
            && self.replication_sslmode.requires_tls()
        {
            pairs.push(("channel_binding", "require".to_string()));
        }
        pairs
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
            synchronous_method: SyncMethod::First,
            synchronous_count: 1,
            config_mode: ConfigMode::Adopt,
            replication_sslmode: SslMode::Prefer,
            failover_slots: false,
            virtual_ip: None,
            defaulted_limits: Vec::new(),
            pgbouncer: PgbouncerSettings::example(),
        }
    }
}
