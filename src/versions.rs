//! What changed between PostgreSQL major versions, as data: the features every
//! version-dependent decision asks about ([`FEATURES`]: the forms a file must
//! take, the catalog views and functions the facts read, what pg_rewind and
//! synchronous replication allow; templates read them as `pg_has.NAME`, Rust as
//! `FEATURE.in_version(version)`, never comparing version numbers itself), the
//! names the WAL functions have in each version ([`WalFunctions`]) and the settings that
//! exist only in some versions ([`SETTINGS`] and [`SETTING_VALUES`], against which
//! validation checks the inventory's `pg_settings`), so that a host's `pg_version`
//! picks the right form and a setting its server would refuse is reported before
//! any host is contacted, not by a server that fails to start. PgBouncer's
//! releases have their own small table ([`PgbouncerFeature`]), read from the
//! version the host's `pgbouncer` binary reports.
//!
//! Each entry says in a comment what changed when. The sources are the release
//! notes of each version ("Migration to Version N") and the documentation of the
//! settings, "Server Configuration" and, up to 11, "Recovery Configuration".

use serde::Serialize;
use serde_json::{Map, Value};
use std::fmt;

/// A PostgreSQL major version as `server_version_num / 100`: 803 for 8.3, 906 for 9.6, 1500 for 15.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PgVersion(pub u32);

impl PgVersion {
    /// Reads `15`, `9.6` or `"9.6"`.
    pub fn parse(value: &Value) -> Option<PgVersion> {
        let text = match value {
            Value::Number(number) => number.to_string(),
            Value::String(text) => text.trim().to_string(),
            _ => return None,
        };
        let (major, minor) = match text.split_once('.') {
            Some((major, minor)) => (major.parse::<u32>().ok()?, minor.parse::<u32>().ok()?),
            None => (text.parse::<u32>().ok()?, 0),
        };
        match major {
            8 | 9 if minor < 10 => Some(PgVersion(major * 100 + minor)),
            10..=99 if minor == 0 => Some(PgVersion(major * 100)),
            _ => None,
        }
    }

    /// The value templates compare against: `15`, or `9.6` for the old two-part versions.
    pub fn template_value(self) -> Value {
        if self.0 >= 1000 {
            return Value::from(self.0 / 100);
        }
        // 906 is 9.6, not 906 / 100 = 9.06 (which compares below 9.3); reading the
        // written form gives the same number as the literal `9.6` in a template.
        match self.to_string().parse::<f64>() {
            Ok(number) => serde_json::json!(number),
            Err(_) => Value::from(self.0),
        }
    }

    /// The version as an inventory writes it for [`PgVersion::parse`] to read
    /// back: `15`, or the text `"9.6"` for the old two-part versions.
    pub fn inventory_value(self) -> Value {
        if self.0 >= 1000 {
            Value::from(self.0 / 100)
        } else {
            Value::from(self.to_string())
        }
    }
}

impl fmt::Display for PgVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 1000 {
            write!(f, "{}", self.0 / 100)
        } else {
            write!(f, "{}.{}", self.0 / 100, self.0 % 100)
        }
    }
}

/// The oldest version pgconverge supports (the warm standby of 8.3).
pub const OLDEST: PgVersion = PgVersion(803);

/// The newest major version PostgreSQL has released that pgconverge knows.
pub const NEWEST: PgVersion = PgVersion(1800);

impl PgVersion {
    /// Whether PostgreSQL ever released this major version: 8.0 to 8.4, 9.0 to
    /// 9.6, then 10 up to [`NEWEST`].
    pub fn was_released(self) -> bool {
        let (major, minor) = (self.0 / 100, self.0 % 100);
        match major {
            8 => minor <= 4,
            9 => minor <= 6,
            _ => major >= 10 && self <= NEWEST && minor == 0,
        }
    }
}

/// The major versions in which something exists: from `since`, up to but not
/// including `until` (`None`: still there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub since: PgVersion,
    pub until: Option<PgVersion>,
}

impl Window {
    /// From `since` on.
    const fn from(since: u32) -> Window {
        Window {
            since: PgVersion(since),
            until: None,
        }
    }

    /// From `since` up to, not including, `until`.
    const fn between(since: u32, until: u32) -> Window {
        Window {
            since: PgVersion(since),
            until: Some(PgVersion(until)),
        }
    }

    /// In every supported version before `until`.
    const fn before(until: u32) -> Window {
        Window::between(OLDEST.0, until)
    }

    pub fn contains(self, version: PgVersion) -> bool {
        version >= self.since && self.until.is_none_or(|until| version < until)
    }
}

/// Something a major version added or changed that a decision depends on: the
/// way a configuration file must be written, a catalog column the facts read, a
/// capability a plan relies on. Named after what it decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// The name templates test, as `pg_has.NAME`.
    pub name: &'static str,
    pub window: Window,
}

impl Feature {
    pub fn in_version(self, version: PgVersion) -> bool {
        self.window.contains(version)
    }
}

/// 9.0: streaming replication and hot standby. `wal_level`, `max_wal_senders`,
/// `wal_keep_segments` and `hot_standby` appear in postgresql.conf, `standby_mode`,
/// `primary_conninfo` and `trigger_file` in recovery.conf, and the `replication`
/// keyword in pg_hba.conf. Before, a standby is a warm standby: it replays the
/// WAL segments its primary archives, waiting for each with `pg_standby`
/// (8.3 added both `pg_standby` and `archive_mode`), and accepts no queries.
pub const STREAMING_REPLICATION: Feature = Feature {
    name: "streaming_replication",
    window: Window::from(900),
};

/// 8.4: pg_hba.conf options became `name=value` pairs, and `ident` without a
/// `map=` option allows the operating-system user of the same name. 8.3 needs
/// the map written out: `ident sameuser`.
pub const IDENT_WITHOUT_MAP: Feature = Feature {
    name: "ident_without_map",
    window: Window::from(804),
};

/// 9.1: the `peer` method names what `ident` did on a local socket (the
/// operating-system user from the kernel); before, local lines say `ident`.
pub const PEER_AUTHENTICATION: Feature = Feature {
    name: "peer_authentication",
    window: Window::from(901),
};

/// 9.6: `wal_level` values `archive` and `hot_standby` merged into `replica`
/// (the old names are still accepted as its aliases); before, a standby that
/// accepts queries needs `hot_standby`.
pub const WAL_LEVEL_REPLICA: Feature = Feature {
    name: "wal_level_replica",
    window: Window::from(906),
};

/// 10: SCRAM-SHA-256: the pg_hba.conf method `scram-sha-256` and
/// `password_encryption = 'scram-sha-256'`. Before, passwords are md5.
pub const SCRAM_SHA_256: Feature = Feature {
    name: "scram_sha_256",
    window: Window::from(1000),
};

/// 14: `password_encryption` defaults to `scram-sha-256`, and its Boolean-like
/// values (`on` meant md5) are no longer accepted.
pub const SCRAM_SHA_256_BY_DEFAULT: Feature = Feature {
    name: "scram_sha_256_by_default",
    window: Window::from(1400),
};

/// 10: libpq's `passfile` connection parameter, so `primary_conninfo` can name
/// the password file. Before, libpq reads `~/.pgpass` of the server's user itself.
pub const CONNINFO_PASSFILE: Feature = Feature {
    name: "conninfo_passfile",
    window: Window::from(1000),
};

/// 10: "xlog" became "wal": the directory `pg_xlog` is `pg_wal`,
/// `pg_basebackup --xlog-method` is `--wal-method`
/// (src/actions/data_directory.rs), and the WAL functions and columns say `wal`
/// and `lsn` where they said `xlog` and `location` ([`WalFunctions`]).
pub const PG_WAL: Feature = Feature {
    name: "pg_wal",
    window: Window::from(1000),
};

/// 12: recovery.conf is gone (a server that finds one refuses to start). A
/// standby is marked by an empty `standby.signal` in the data directory, and
/// its settings (`primary_conninfo`, `restore_command`, ...) live in
/// postgresql.conf.
pub const STANDBY_SIGNAL: Feature = Feature {
    name: "standby_signal",
    window: Window::from(1200),
};

/// 13: libpq's `channel_binding` connection parameter. With `require`, the
/// client accepts only SCRAM-SHA-256-PLUS, which binds the authentication to the
/// TLS connection, so a server in the middle that holds a certificate of its own
/// cannot relay the exchange. It needs TLS, so pgconverge asks for it only where
/// `replication_sslmode` requires TLS.
pub const CHANNEL_BINDING: Feature = Feature {
    name: "channel_binding",
    window: Window::from(1300),
};

/// 16: libpq's `require_auth` connection parameter: the client refuses a server
/// that asks for another method than the one named. pgconverge's replication
/// role has a SCRAM verifier (src/scram.rs) and its rules say `scram-sha-256`,
/// so `require_auth=scram-sha-256` costs nothing, and a server (or something
/// posing as one) that asks for the password in clear text or as md5 gets no
/// answer.
pub const REQUIRE_AUTH: Feature = Feature {
    name: "require_auth",
    window: Window::from(1600),
};

/// 8.4: `pg_settings` shows each setting's type (`vartype`), the file that set
/// it (`sourcefile`) and its built-in value (`boot_val`). Before, the facts read
/// only the value, and a plan compares the files' text.
pub const SETTING_SOURCES: Feature = Feature {
    name: "setting_sources",
    window: Window::from(804),
};

/// 9.1: synchronous replication (`synchronous_standby_names`, and
/// `pg_stat_replication.sync_state`). Before, every standby is asynchronous.
pub const SYNCHRONOUS_REPLICATION: Feature = Feature {
    name: "synchronous_replication",
    window: Window::from(901),
};

/// 9.4: physical replication slots (`pg_replication_slots`), which keep WAL for
/// a standby until it has received it.
pub const REPLICATION_SLOTS: Feature = Feature {
    name: "replication_slots",
    window: Window::from(904),
};

/// 9.4: `pg_stat_archiver`, the archiver's counts of archived and failed WAL
/// segments. Before, archiving can be judged only by the files waiting.
pub const ARCHIVER_STATISTICS: Feature = Feature {
    name: "archiver_statistics",
    window: Window::from(904),
};

/// 9.5: `pg_stat_ssl`, whether each connection (a standby's too) uses TLS.
pub const CONNECTION_TLS_STATISTICS: Feature = Feature {
    name: "connection_tls_statistics",
    window: Window::from(905),
};

/// 9.5: `pg_settings.pending_restart`, true when a changed setting waits for a
/// restart. Before, a plan knows that only from the files it writes itself.
pub const PENDING_RESTART: Feature = Feature {
    name: "pending_restart",
    window: Window::from(905),
};

/// 9.6: `synchronous_standby_names` may ask for several synchronous standbys
/// (`N (a, b, c)`); before, a commit waits for one.
pub const SEVERAL_SYNCHRONOUS_STANDBYS: Feature = Feature {
    name: "several_synchronous_standbys",
    window: Window::from(906),
};

/// 10: quorum commit, `synchronous_standby_names = 'ANY N (...)'`: a commit
/// waits for any N of the standbys listed, not the first N.
pub const QUORUM_COMMIT: Feature = Feature {
    name: "quorum_commit",
    window: Window::from(1000),
};

/// 11: pg_rewind runs as a role that is not a superuser, given `EXECUTE` on the
/// functions that read the source's files (`pg_read_binary_file`, ...).
/// pgconverge's replication role gets those grants, and pgconverge rewinds only
/// from 11 on; before, it clones instead.
pub const REWIND_WITHOUT_SUPERUSER: Feature = Feature {
    name: "rewind_without_superuser",
    window: Window::from(1100),
};

/// 11: `pg_stat_wal_receiver` shows the host and port a standby streams from
/// (`sender_host`, `sender_port`). Before, they are read from its `conninfo`.
pub const WAL_RECEIVER_SENDER: Feature = Feature {
    name: "wal_receiver_sender",
    window: Window::from(1100),
};

/// 13: `pg_replication_slots.wal_status`, which says whether a slot has lost
/// WAL its standby needs (`lost`, with `max_slot_wal_keep_size`).
pub const SLOT_WAL_STATUS: Feature = Feature {
    name: "slot_wal_status",
    window: Window::from(1300),
};

/// libpq 10: a connection string may name several hosts, and
/// `target_session_attrs=read-write` picks the one that accepts writes.
pub const CLIENT_READ_WRITE_TARGET: Feature = Feature {
    name: "client_read_write_target",
    window: Window::from(1000),
};

/// libpq 14: `target_session_attrs` also takes `standby` and `prefer-standby`
/// (and `primary`, `read-only`, `any`).
pub const CLIENT_STANDBY_TARGET: Feature = Feature {
    name: "client_standby_target",
    window: Window::from(1400),
};

/// libpq 16: `load_balance_hosts=random` spreads connections over the hosts.
pub const CLIENT_LOAD_BALANCE: Feature = Feature {
    name: "client_load_balance",
    window: Window::from(1600),
};

/// 9.4: logical decoding, and `wal_level = logical` that it needs.
pub const LOGICAL_DECODING: Feature = Feature {
    name: "logical_decoding",
    window: Window::from(904),
};

/// 17: failover slots. A logical slot made with `failover` is copied to the
/// standbys that run `sync_replication_slots` (which needs `hot_standby_feedback`
/// and a `dbname` in `primary_conninfo`), so a logical consumer goes on from
/// the promoted standby; `synchronized_standby_slots` on the primary holds
/// logical decoding back until those standbys have the WAL. `pg_replication_slots`
/// has `failover` and `synced`.
pub const FAILOVER_SLOTS: Feature = Feature {
    name: "failover_slots",
    window: Window::from(1700),
};

/// 18: md5 passwords are deprecated. The server still accepts them, and warns
/// when one is stored or used to log in (`md5_password_warnings`); a later major
/// is to remove them. `check`, `status` and `upgrade` name the md5 passwords and
/// pg_hba.conf rules that would go with them.
pub const MD5_DEPRECATED: Feature = Feature {
    name: "md5_deprecated",
    window: Window::from(1800),
};

/// 18: initdb turns data checksums on unless told `--no-data-checksums` (an
/// option 18 added). pg_upgrade needs the old and new clusters to agree, so an
/// upgrade says which it wants either way from 18.
pub const DATA_CHECKSUMS_BY_DEFAULT: Feature = Feature {
    name: "data_checksums_by_default",
    window: Window::from(1800),
};

/// Every feature: the templates see each as `pg_has.NAME`.
pub const FEATURES: [Feature; 29] = [
    SETTING_SOURCES,
    IDENT_WITHOUT_MAP,
    STREAMING_REPLICATION,
    PEER_AUTHENTICATION,
    SYNCHRONOUS_REPLICATION,
    REPLICATION_SLOTS,
    ARCHIVER_STATISTICS,
    CONNECTION_TLS_STATISTICS,
    PENDING_RESTART,
    WAL_LEVEL_REPLICA,
    SEVERAL_SYNCHRONOUS_STANDBYS,
    SCRAM_SHA_256,
    CONNINFO_PASSFILE,
    PG_WAL,
    QUORUM_COMMIT,
    REWIND_WITHOUT_SUPERUSER,
    WAL_RECEIVER_SENDER,
    STANDBY_SIGNAL,
    CHANNEL_BINDING,
    SLOT_WAL_STATUS,
    SCRAM_SHA_256_BY_DEFAULT,
    REQUIRE_AUTH,
    CLIENT_READ_WRITE_TARGET,
    CLIENT_STANDBY_TARGET,
    CLIENT_LOAD_BALANCE,
    LOGICAL_DECODING,
    FAILOVER_SLOTS,
    MD5_DEPRECATED,
    DATA_CHECKSUMS_BY_DEFAULT,
];

/// A PgBouncer release as `pgbouncer --version` names it (`PgBouncer 1.18.0`):
/// its major and minor number. PgBouncer is the host's package, as PostgreSQL
/// is, so its version is read from the host, not from the inventory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct PgbouncerVersion {
    pub major: u32,
    pub minor: u32,
}

impl PgbouncerVersion {
    /// Reads the first line `pgbouncer --version` prints (`PgBouncer 1.18.0`,
    /// `pgbouncer 1.26.0`); `None` for anything else.
    pub fn parse(text: &str) -> Option<PgbouncerVersion> {
        let line = text.lines().next()?.trim();
        let (name, number) = line.split_once(' ')?;
        if !name.eq_ignore_ascii_case("pgbouncer") {
            return None;
        }
        let mut parts = number.trim().split('.');
        let major = parts.next()?.parse().ok()?;
        let minor = parts
            .next()?
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .ok()?;
        Some(PgbouncerVersion { major, minor })
    }
}

impl fmt::Display for PgbouncerVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

/// Something a PgBouncer release added that pgconverge's PgBouncer steps
/// depend on, from the release that has it on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PgbouncerFeature {
    pub name: &'static str,
    pub since: PgbouncerVersion,
}

impl PgbouncerFeature {
    pub fn in_version(self, version: PgbouncerVersion) -> bool {
        version >= self.since
    }
}

/// PgBouncer 1.19: `auth_dbname`, the database `auth_query` runs in (a global
/// setting, or per database in `[databases]`), so the lookup function lives in
/// `postgres` alone. Before (Debian 12 has 1.18), `auth_query` runs in the
/// database the client asked for, and the function must be in each. (1.19 and
/// 1.20 want that database named in `[databases]`; from 1.21 the `*` fallback
/// serves it too: pgconverge names `postgres` there in every release.)
pub const PGBOUNCER_AUTH_DBNAME: PgbouncerFeature = PgbouncerFeature {
    name: "auth_dbname",
    since: PgbouncerVersion {
        major: 1,
        minor: 19,
    },
};

/// The names of the WAL functions and columns, which PostgreSQL 10 renamed from
/// `xlog` and `location` to `wal` and `lsn` ([`PG_WAL`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalFunctions {
    /// The primary's current write position.
    pub current: &'static str,
    /// The position a standby has received.
    pub receive: &'static str,
    /// The position a standby has replayed.
    pub replay: &'static str,
    /// Whether a standby's replay is paused.
    pub paused: &'static str,
    /// The function that resumes a paused replay (without its parentheses).
    pub replay_resume: &'static str,
    /// The bytes between two positions (without its parentheses).
    pub diff: &'static str,
    /// `pg_stat_replication`'s column of the position a standby has replayed.
    pub replay_column: &'static str,
}

impl WalFunctions {
    pub fn for_version(version: PgVersion) -> WalFunctions {
        if PG_WAL.in_version(version) {
            WalFunctions {
                current: "pg_current_wal_lsn()",
                receive: "pg_last_wal_receive_lsn()",
                replay: "pg_last_wal_replay_lsn()",
                paused: "pg_is_wal_replay_paused()",
                replay_resume: "pg_wal_replay_resume",
                diff: "pg_wal_lsn_diff",
                replay_column: "replay_lsn",
            }
        } else {
            WalFunctions {
                current: "pg_current_xlog_location()",
                receive: "pg_last_xlog_receive_location()",
                replay: "pg_last_xlog_replay_location()",
                paused: "pg_is_xlog_replay_paused()",
                replay_resume: "pg_xlog_replay_resume",
                diff: "pg_xlog_location_diff",
                replay_column: "replay_location",
            }
        }
    }
}

/// A setting that exists only in some versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    /// The versions whose postgresql.conf accepts it (`None`: none).
    pub postgresql_conf: Option<Window>,
    /// The versions that read it from recovery.conf instead (`None`: none).
    pub recovery_conf: Option<Window>,
    /// What to do instead in a version before it existed.
    pub before: Option<&'static str>,
    /// What to do instead in a version after it was removed.
    pub after: Option<&'static str>,
}

impl Setting {
    /// A postgresql.conf setting of the versions in `window`.
    const fn conf(name: &'static str, window: Window) -> Setting {
        Setting {
            name,
            postgresql_conf: Some(window),
            recovery_conf: None,
            before: None,
            after: None,
        }
    }

    /// A recovery.conf setting of the versions in `window`, never one of postgresql.conf.
    const fn recovery(name: &'static str, window: Window) -> Setting {
        Setting {
            name,
            postgresql_conf: None,
            recovery_conf: Some(window),
            before: None,
            after: None,
        }
    }

    /// A recovery.conf setting from `since` that moved into postgresql.conf in 12.
    const fn moved_in_12(name: &'static str, since: u32) -> Setting {
        Setting {
            name,
            postgresql_conf: Some(Window::from(1200)),
            recovery_conf: Some(Window::between(since, 1200)),
            before: None,
            after: None,
        }
    }

    const fn before(self, advice: &'static str) -> Setting {
        Setting {
            before: Some(advice),
            ..self
        }
    }

    const fn after(self, advice: &'static str) -> Setting {
        Setting {
            after: Some(advice),
            ..self
        }
    }

    /// Whether postgresql.conf of `version` accepts this setting.
    pub fn in_postgresql_conf(&self, version: PgVersion) -> bool {
        self.postgresql_conf
            .is_some_and(|window| window.contains(version))
    }

    /// Why postgresql.conf of `version` cannot have this setting, or `None`
    /// when it can. The text follows the setting's name, as in "`NAME` does not
    /// exist in PostgreSQL 15 (removed in 13: use wal_keep_size)".
    pub fn problem_in(&self, version: PgVersion) -> Option<String> {
        if self.in_postgresql_conf(version) {
            return None;
        }
        let name = self.name;
        if self
            .recovery_conf
            .is_some_and(|window| window.contains(version))
        {
            let moved = match self.postgresql_conf {
                Some(window) => format!(" before {}", window.since),
                None => String::new(),
            };
            return Some(format!(
                "`{name}` is not a postgresql.conf setting in PostgreSQL {version} (a recovery.conf setting{moved}: pgconverge writes recovery.conf for standbys itself)"
            ));
        }
        let windows = [self.postgresql_conf, self.recovery_conf];
        let since = windows.iter().flatten().map(|window| window.since).min();
        let advice =
            |advice: Option<&str>| advice.map(|text| format!(": {text}")).unwrap_or_default();
        match since {
            Some(since) if version < since => Some(format!(
                "`{name}` does not exist in PostgreSQL {version} (introduced in {since}{})",
                advice(self.before)
            )),
            _ => {
                let removed = windows
                    .iter()
                    .flatten()
                    .filter_map(|window| window.until)
                    .filter(|until| *until <= version)
                    .max();
                let when = removed
                    .map(|until| format!("removed in {until}"))
                    .unwrap_or_else(|| "removed".to_string());
                Some(format!(
                    "`{name}` does not exist in PostgreSQL {version} ({when}{})",
                    advice(self.after)
                ))
            }
        }
    }
}

/// Settings with a version window: those pgconverge's own templates choose
/// between, those of replication and recovery, and other well-known renames and
/// removals. A name not listed here is not checked.
pub const SETTINGS: &[Setting] = &[
    // 9.3: `unix_socket_directory` became `unix_socket_directories`, a list.
    Setting::conf("unix_socket_directory", Window::before(903))
        .after("use unix_socket_directories"),
    Setting::conf("unix_socket_directories", Window::from(903))
        .before("use unix_socket_directory"),
    // 9.5: `checkpoint_segments` was replaced by `max_wal_size` and `min_wal_size`.
    Setting::conf("checkpoint_segments", Window::before(905))
        .after("use max_wal_size and min_wal_size"),
    Setting::conf("max_wal_size", Window::from(905)).before("use checkpoint_segments"),
    Setting::conf("min_wal_size", Window::from(905)).before("use checkpoint_segments"),
    // 9.0: streaming replication and hot standby brought the WAL level, WAL
    // senders, kept WAL and queries on standbys.
    Setting::conf("wal_level", Window::from(900))
        .before("a warm standby before 9.0 needs only archive_mode and archive_command"),
    Setting::conf("max_wal_senders", Window::from(900))
        .before("there is no streaming replication before 9.0"),
    Setting::conf("hot_standby", Window::from(900))
        .before("a warm standby before 9.0 accepts no queries"),
    Setting::conf("max_standby_archive_delay", Window::from(900))
        .before("a warm standby before 9.0 accepts no queries"),
    Setting::conf("max_standby_streaming_delay", Window::from(900))
        .before("a warm standby before 9.0 accepts no queries"),
    // 9.0 to 12: WAL kept for standbys counted in segments; 13 counts it in
    // bytes with `wal_keep_size`, and adds `max_slot_wal_keep_size`.
    Setting::conf("wal_keep_segments", Window::between(900, 1300))
        .before("there is no streaming replication before 9.0")
        .after("use wal_keep_size"),
    Setting::conf("wal_keep_size", Window::from(1300)).before("use wal_keep_segments"),
    Setting::conf("max_slot_wal_keep_size", Window::from(1300)),
    // 9.0 to 15: `vacuum_defer_cleanup_age` was removed in 16.
    Setting::conf("vacuum_defer_cleanup_age", Window::between(900, 1600))
        .after("use hot_standby_feedback or a replication slot"),
    // 9.1: synchronous replication and feedback from hot standbys.
    Setting::conf("synchronous_standby_names", Window::from(901)),
    Setting::conf("hot_standby_feedback", Window::from(901)),
    // 9.1 added `replication_timeout`; 9.3 renamed it `wal_sender_timeout` and
    // added `wal_receiver_timeout`.
    Setting::conf("replication_timeout", Window::between(901, 903))
        .after("use wal_sender_timeout"),
    Setting::conf("wal_sender_timeout", Window::from(903)).before("use replication_timeout (9.1 and 9.2)"),
    Setting::conf("wal_receiver_timeout", Window::from(903)),
    // 9.4: replication slots, dynamic background workers, and hint bits in WAL
    // (which pg_rewind needs).
    Setting::conf("max_replication_slots", Window::from(904)),
    Setting::conf("max_worker_processes", Window::from(904)),
    Setting::conf("wal_log_hints", Window::from(904)),
    // 15: `archive_library`, an alternative to `archive_command`.
    Setting::conf("archive_library", Window::from(1500)).before("use archive_command"),
    // 9.6 added `force_parallel_mode`; 16 renamed it `debug_parallel_query`.
    Setting::conf("force_parallel_mode", Window::between(906, 1600))
        .after("use debug_parallel_query"),
    Setting::conf("debug_parallel_query", Window::from(1600))
        .before("use force_parallel_mode (9.6 to 15)"),
    // 8.4 added `stats_temp_directory`; 15 keeps statistics in shared memory
    // and removed it.
    Setting::conf("stats_temp_directory", Window::between(804, 1500)),
    // 9.0 to 11: a standby is a server with `standby_mode = on` in recovery.conf;
    // 12 removed the setting for the file `standby.signal`.
    Setting::recovery("standby_mode", Window::between(900, 1200))
        .before("a warm standby before 9.0 waits for WAL in pg_standby, which pgconverge configures")
        .after("pgconverge writes standby.signal for standbys"),
    // 9.0 to 11: `trigger_file` in recovery.conf; 12 renamed it
    // `promote_trigger_file` and moved it into postgresql.conf; 16 removed it.
    Setting::recovery("trigger_file", Window::between(900, 1200))
        .before("a warm standby before 9.0 is promoted by the trigger file of pg_standby, which pgconverge configures")
        .after("use promote_trigger_file (12 to 15), or `pg_ctl promote`"),
    Setting::conf("promote_trigger_file", Window::between(1200, 1600))
        .before("pgconverge writes trigger_file in recovery.conf for standbys")
        .after("promote with `pg_ctl promote` or `SELECT pg_promote()`"),
    // Recovery settings read from recovery.conf until 11 and from
    // postgresql.conf from 12: `restore_command` and `recovery_target_timeline`
    // since 8.0 (8.3 here, the oldest supported), `recovery_end_command` since
    // 8.4, `primary_conninfo` and `archive_cleanup_command` since 9.0,
    // `recovery_target_name` since 9.1, `primary_slot_name` and
    // `recovery_min_apply_delay` since 9.4, `recovery_target_action` since 9.5
    // (replacing `pause_at_recovery_target` of 9.1), `recovery_target_lsn` since 10.
    Setting::moved_in_12("restore_command", OLDEST.0),
    Setting::moved_in_12("recovery_target_timeline", OLDEST.0),
    Setting::moved_in_12("recovery_end_command", 804),
    Setting::moved_in_12("primary_conninfo", 900)
        .before("there is no streaming replication before 9.0"),
    Setting::moved_in_12("archive_cleanup_command", 900),
    Setting::moved_in_12("recovery_target_name", 901),
    Setting::moved_in_12("primary_slot_name", 904),
    Setting::moved_in_12("recovery_min_apply_delay", 904),
    Setting::moved_in_12("recovery_target_action", 905)
        .before("use pause_at_recovery_target (9.1 to 9.4)"),
    Setting::moved_in_12("recovery_target_lsn", 1000),
    Setting::recovery("pause_at_recovery_target", Window::between(901, 905))
        .after("use recovery_target_action"),
];

/// Why a setting that `from`'s postgresql.conf accepts cannot stay in `to`'s
/// (removed or moved between them), or `None`: what an upgrade comments out of
/// the configuration it carries over. A name [`SETTINGS`] does not list is kept.
pub fn dropped_between(name: &str, from: PgVersion, to: PgVersion) -> Option<String> {
    let setting = SETTINGS.iter().find(|setting| setting.name == name)?;
    if !setting.in_postgresql_conf(from) || setting.in_postgresql_conf(to) {
        return None;
    }
    setting.problem_in(to)
}

/// A value of a setting that only some versions accept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingValue {
    pub setting: &'static str,
    /// The value as written in postgresql.conf (compared without regard to case).
    pub value: &'static str,
    /// Other spellings of the same value, such as the Boolean words.
    pub aliases: &'static [&'static str],
    pub window: Window,
    pub before: Option<&'static str>,
    pub after: Option<&'static str>,
}

/// The spellings of a true and of a false Boolean setting.
const TRUE_WORDS: &[&str] = &["on", "true", "yes", "1"];
const FALSE_WORDS: &[&str] = &["off", "false", "no", "0"];

/// Values of settings that only some versions accept.
pub const SETTING_VALUES: &[SettingValue] = &[
    // Up to 9.6 `password_encryption` is a Boolean (on: md5, off: stored as
    // written). 10 made it `md5` or `scram-sha-256`, removed `off` (no more
    // unencrypted passwords) and kept `on` as an alias of md5; 14 no longer
    // accepts the Boolean-like values and defaults to `scram-sha-256`.
    SettingValue {
        setting: "password_encryption",
        value: "scram-sha-256",
        aliases: &[],
        window: Window::from(1000),
        before: Some("use on (md5)"),
        after: None,
    },
    SettingValue {
        setting: "password_encryption",
        value: "md5",
        aliases: &[],
        window: Window::from(1000),
        before: Some("use on"),
        after: None,
    },
    SettingValue {
        setting: "password_encryption",
        value: "on",
        aliases: TRUE_WORDS,
        window: Window::before(1400),
        before: None,
        after: Some("use scram-sha-256 or md5"),
    },
    SettingValue {
        setting: "password_encryption",
        value: "off",
        aliases: FALSE_WORDS,
        window: Window::before(1000),
        before: None,
        after: Some("use scram-sha-256 or md5, since passwords are always stored encrypted"),
    },
    // 9.6: `wal_level = replica` (before: `archive` or `hot_standby`); 9.4:
    // `wal_level = logical`.
    SettingValue {
        setting: "wal_level",
        value: "replica",
        aliases: &[],
        window: Window::from(906),
        before: Some("use hot_standby"),
        after: None,
    },
    SettingValue {
        setting: "wal_level",
        value: "logical",
        aliases: &[],
        window: Window::from(904),
        before: None,
        after: None,
    },
];

/// The text of a `pg_settings` value as postgresql.conf reads it, for comparison.
/// A setting whose value is a comma-separated list of known words in some
/// versions: each word must be one of `words`, or the whole value one of `whole`.
pub struct ListSetting {
    pub setting: &'static str,
    pub window: Window,
    pub words: &'static [&'static str],
    pub whole: &'static [&'static str],
}

/// 18: `log_connections` names the stages of a connection to log (it was a
/// Boolean, whose words it still takes).
pub const LIST_SETTINGS: &[ListSetting] = &[ListSetting {
    setting: "log_connections",
    window: Window::from(1800),
    words: &[
        "receipt",
        "authentication",
        "authorization",
        "setup_durations",
        "all",
    ],
    whole: &["on", "off", "true", "false", "yes", "no", "1", "0", ""],
}];

/// A word of a list setting's value that `version` does not know.
fn list_problem(name: &str, text: &str, version: PgVersion) -> Option<String> {
    let rule = LIST_SETTINGS
        .iter()
        .find(|rule| rule.setting.eq_ignore_ascii_case(name) && rule.window.contains(version))?;
    if rule.whole.contains(&text) {
        return None;
    }
    let unknown: Vec<&str> = text
        .split(',')
        .map(str::trim)
        .filter(|word| !rule.words.contains(word))
        .collect();
    if unknown.is_empty() {
        return None;
    }
    Some(format!(
        "`{name} = {text}`: PostgreSQL {version} does not know {}; it takes a list of {} (or on or off)",
        unknown
            .iter()
            .map(|word| format!("`{word}`"))
            .collect::<Vec<_>>()
            .join(", "),
        rule.words.join(", ")
    ))
}

fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.trim().to_lowercase()),
        Value::Bool(flag) => Some(if *flag { "on" } else { "off" }.to_string()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Why postgresql.conf of `version` cannot have `name = value`, or `None` when
/// it can (or when the setting is not in the curated tables).
pub fn setting_problem(name: &str, value: &Value, version: PgVersion) -> Option<String> {
    if let Some(problem) = SETTINGS
        .iter()
        .find(|setting| setting.name.eq_ignore_ascii_case(name))
        .and_then(|setting| setting.problem_in(version))
    {
        return Some(problem);
    }
    let text = value_text(value)?;
    if let Some(problem) = list_problem(name, &text, version) {
        return Some(problem);
    }
    let rule = SETTING_VALUES.iter().find(|rule| {
        rule.setting.eq_ignore_ascii_case(name)
            && (rule.value == text || rule.aliases.contains(&text.as_str()))
    })?;
    if rule.window.contains(version) {
        return None;
    }
    let (when, advice) = if version < rule.window.since {
        (format!("introduced in {}", rule.window.since), rule.before)
    } else {
        let removed = rule
            .window
            .until
            .map(|until| until.to_string())
            .unwrap_or_default();
        (format!("removed in {removed}"), rule.after)
    };
    let advice = advice.map(|text| format!(": {text}")).unwrap_or_default();
    Some(format!(
        "`{name} = {text}` is not accepted by PostgreSQL {version} ({when}{advice})"
    ))
}

/// What templates see as `pg_has`: each feature by name, and each setting of
/// [`SETTINGS`] by name, true when postgresql.conf of `version` accepts it.
pub fn template_flags(version: PgVersion) -> Value {
    let mut flags = Map::new();
    for feature in FEATURES {
        flags.insert(
            feature.name.into(),
            Value::Bool(feature.in_version(version)),
        );
    }
    for setting in SETTINGS {
        flags.insert(
            setting.name.into(),
            Value::Bool(setting.in_postgresql_conf(version)),
        );
    }
    Value::Object(flags)
}

/// The versions whose every setting [`catalog`] knows (`pg_settings.tsv`): 15, 17
/// and 18 read from their servers, 16 from the differences between 15 and 17.
pub const CATALOG_VERSIONS: Window = Window::between(1500, 1900);

/// How the server types a setting, as `pg_settings` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct SettingType {
    pub name: &'static str,
    /// The versions that have it, as far as the catalog knows (before 15: `since` is [`OLDEST`]).
    pub window: Window,
    /// `bool`, `integer`, `real`, `string` or `enum`.
    pub vartype: &'static str,
    /// The base unit of a number (`8kB`, `ms`), or empty.
    pub unit: &'static str,
    pub min: Option<f64>,
    pub max: Option<f64>,
    /// The values an enum lists (a few hidden ones are accepted too: [`hidden_enum_values`]).
    pub enum_values: Vec<&'static str>,
    /// `internal` settings cannot be set at all; any other can be in postgresql.conf.
    pub context: &'static str,
}

/// Every row of `pg_settings.tsv`, read once.
pub fn catalog() -> &'static [SettingType] {
    static CATALOG: std::sync::LazyLock<Vec<SettingType>> = std::sync::LazyLock::new(|| {
        include_str!("pg_settings.tsv")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .filter_map(catalog_row)
            .collect()
    });
    &CATALOG
}

/// One line of `pg_settings.tsv`; the test `the_settings_catalog_reads_whole`
/// proves every line reads.
fn catalog_row(line: &'static str) -> Option<SettingType> {
    let fields: Vec<&'static str> = line.split('\t').collect();
    let [
        name,
        since,
        until,
        vartype,
        unit,
        min,
        max,
        enum_values,
        context,
    ] = fields[..]
    else {
        return None;
    };
    let version = |text: &str| text.parse::<u32>().ok().map(|major| major * 100);
    Some(SettingType {
        name,
        window: Window {
            since: PgVersion(version(since).unwrap_or(OLDEST.0)),
            until: version(until).map(PgVersion),
        },
        vartype,
        unit,
        min: min.parse().ok(),
        max: max.parse().ok(),
        enum_values: enum_values
            .split(',')
            .filter(|value| !value.is_empty())
            .collect(),
        context,
    })
}

/// The catalog's type of `name` in `version`: its row for that version, else
/// (a version outside [`CATALOG_VERSIONS`]) the row nearest to it.
pub fn setting_type(name: &str, version: PgVersion) -> Option<&'static SettingType> {
    // PostgreSQL reads setting names without regard to case (`timezone` is `TimeZone`).
    let rows = catalog()
        .iter()
        .filter(|row| row.name.eq_ignore_ascii_case(name));
    let mut nearest = None;
    for row in rows {
        if row.window.contains(version) {
            return Some(row);
        }
        nearest = Some(row);
    }
    nearest.filter(|_| !CATALOG_VERSIONS.contains(version))
}

/// The values PostgreSQL accepts for an enum setting besides those
/// `pg_settings.enumvals` lists: its hidden ones. An enum offering `on` and `off`
/// also takes the other Boolean words (`synchronous_commit`, `huge_pages`,
/// `archive_mode`, `wal_compression`...); the message levels take `debug` (as
/// `debug2`); `wal_level` keeps `archive` and `hot_standby` as names of `replica`.
pub fn hidden_enum_values(setting: &SettingType) -> Vec<&'static str> {
    let mut hidden = Vec::new();
    let lists = |value: &str| setting.enum_values.contains(&value);
    if lists("on") && lists("off") {
        hidden.extend(["true", "false", "yes", "no", "1", "0"]);
    }
    if lists("debug1") {
        hidden.push("debug");
    }
    if setting.name == "wal_level" {
        hidden.extend(["archive", "hot_standby"]);
    }
    hidden
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn version(text: &str) -> PgVersion {
        PgVersion::parse(&json!(text)).unwrap_or_else(|| panic!("{text} is a version"))
    }

    fn problem(name: &str, value: Value, at: &str) -> Option<String> {
        setting_problem(name, &value, version(at))
    }

    #[test]
    fn windows_include_their_start_and_exclude_their_end() {
        let window = Window::between(900, 1300);
        assert!(!window.contains(version("8.4")));
        assert!(window.contains(version("9.0")));
        assert!(window.contains(version("12")));
        assert!(!window.contains(version("13")));
        assert!(Window::from(1200).contains(version("17")));
    }

    #[test]
    fn a_removed_setting_names_its_replacement() {
        assert_eq!(
            problem("wal_keep_segments", json!(64), "15").as_deref(),
            Some(
                "`wal_keep_segments` does not exist in PostgreSQL 15 (removed in 13: use wal_keep_size)"
            )
        );
        assert_eq!(
            problem("checkpoint_segments", json!(32), "9.5").as_deref(),
            Some(
                "`checkpoint_segments` does not exist in PostgreSQL 9.5 (removed in 9.5: use max_wal_size and min_wal_size)"
            )
        );
        assert_eq!(
            problem("promote_trigger_file", json!("/tmp/t"), "16").as_deref(),
            Some(
                "`promote_trigger_file` does not exist in PostgreSQL 16 (removed in 16: promote with `pg_ctl promote` or `SELECT pg_promote()`)"
            )
        );
    }

    #[test]
    fn a_setting_too_new_for_the_version_says_what_to_use() {
        assert_eq!(
            problem("max_wal_size", json!("1GB"), "9.4").as_deref(),
            Some(
                "`max_wal_size` does not exist in PostgreSQL 9.4 (introduced in 9.5: use checkpoint_segments)"
            )
        );
        assert_eq!(
            problem("wal_level", json!("archive"), "8.4").as_deref(),
            Some(
                "`wal_level` does not exist in PostgreSQL 8.4 (introduced in 9.0: a warm standby before 9.0 needs only archive_mode and archive_command)"
            )
        );
        assert_eq!(
            problem("max_slot_wal_keep_size", json!("10GB"), "12").as_deref(),
            Some("`max_slot_wal_keep_size` does not exist in PostgreSQL 12 (introduced in 13)")
        );
    }

    #[test]
    fn recovery_settings_belong_in_recovery_conf_before_12() {
        assert_eq!(
            problem("primary_conninfo", json!("host=db1"), "11").as_deref(),
            Some(
                "`primary_conninfo` is not a postgresql.conf setting in PostgreSQL 11 (a recovery.conf setting before 12: pgconverge writes recovery.conf for standbys itself)"
            )
        );
        assert_eq!(
            problem("standby_mode", json!("on"), "9.6").as_deref(),
            Some(
                "`standby_mode` is not a postgresql.conf setting in PostgreSQL 9.6 (a recovery.conf setting: pgconverge writes recovery.conf for standbys itself)"
            )
        );
        assert_eq!(
            problem("standby_mode", json!("on"), "12").as_deref(),
            Some(
                "`standby_mode` does not exist in PostgreSQL 12 (removed in 12: pgconverge writes standby.signal for standbys)"
            )
        );
        assert_eq!(problem("restore_command", json!("cp %p"), "12"), None);
        assert_eq!(problem("primary_conninfo", json!("host=db1"), "17"), None);
    }

    #[test]
    fn settings_inside_their_window_and_unlisted_ones_pass() {
        for (name, at) in [
            ("wal_keep_segments", "12"),
            ("wal_keep_size", "13"),
            ("unix_socket_directory", "9.2"),
            ("unix_socket_directories", "9.3"),
            ("promote_trigger_file", "15"),
            ("work_mem", "8.3"),
            ("work_mem", "17"),
        ] {
            assert_eq!(problem(name, json!("x"), at), None, "{name} in {at}");
        }
    }

    #[test]
    fn values_only_some_versions_accept_are_reported() {
        assert_eq!(
            problem("password_encryption", json!(true), "14").as_deref(),
            Some(
                "`password_encryption = on` is not accepted by PostgreSQL 14 (removed in 14: use scram-sha-256 or md5)"
            )
        );
        assert_eq!(problem("password_encryption", json!("on"), "13"), None);
        assert_eq!(problem("password_encryption", json!(false), "9.6"), None);
        assert_eq!(
            problem("password_encryption", json!("off"), "10").as_deref(),
            Some(
                "`password_encryption = off` is not accepted by PostgreSQL 10 (removed in 10: use scram-sha-256 or md5, since passwords are always stored encrypted)"
            )
        );
        assert_eq!(
            problem("password_encryption", json!("scram-sha-256"), "9.6").as_deref(),
            Some(
                "`password_encryption = scram-sha-256` is not accepted by PostgreSQL 9.6 (introduced in 10: use on (md5))"
            )
        );
        assert_eq!(
            problem("password_encryption", json!("SCRAM-SHA-256"), "10"),
            None
        );
        assert_eq!(
            problem("wal_level", json!("replica"), "9.5").as_deref(),
            Some(
                "`wal_level = replica` is not accepted by PostgreSQL 9.5 (introduced in 9.6: use hot_standby)"
            )
        );
        assert_eq!(problem("wal_level", json!("hot_standby"), "15"), None);
    }

    #[test]
    fn the_settings_catalog_reads_whole() {
        let lines = include_str!("pg_settings.tsv")
            .lines()
            .filter(|line| !line.starts_with('#') && !line.is_empty())
            .count();
        assert_eq!(
            catalog().len(),
            lines,
            "a line of pg_settings.tsv does not read"
        );
        for row in catalog() {
            assert!(
                ["bool", "integer", "real", "string", "enum"].contains(&row.vartype),
                "{}: {}",
                row.name,
                row.vartype
            );
            assert_eq!(
                row.vartype == "enum",
                !row.enum_values.is_empty(),
                "{}",
                row.name
            );
            if let (Some(min), Some(max)) = (row.min, row.max) {
                assert!(min <= max, "{}", row.name);
            }
        }
        // Each version of the catalog has each name at most once.
        for major in [15, 16, 17, 18] {
            let version = PgVersion(major * 100);
            let mut names: Vec<&str> = catalog()
                .iter()
                .filter(|row| row.window.contains(version))
                .map(|row| row.name)
                .collect();
            let count = names.len();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), count, "a name is listed twice for {version}");
        }
        // The versioned settings agree with the catalog where both know a setting.
        for setting in SETTINGS {
            for major in [15, 16, 17, 18] {
                let version = PgVersion(major * 100);
                let in_catalog = setting_type(setting.name, version).is_some();
                assert_eq!(
                    in_catalog,
                    setting.in_postgresql_conf(version),
                    "{} in {version}",
                    setting.name
                );
            }
        }
    }

    #[test]
    fn the_catalog_knows_18s_settings() {
        let v18 = version("18");
        let v17 = version("17");
        for name in [
            "io_method",
            "io_workers",
            "ssl_groups",
            "log_lock_failures",
            "idle_replication_slot_timeout",
            "autovacuum_worker_slots",
            "md5_password_warnings",
        ] {
            let row = setting_type(name, v18).unwrap_or_else(|| panic!("18 has {name}"));
            assert_eq!(row.window.since, v18, "{name} came in 18");
            assert!(setting_type(name, v17).is_none(), "17 has no {name}");
        }
        assert!(CATALOG_VERSIONS.contains(v18));
        let io_method = setting_type("io_method", v18).map(|row| row.enum_values.clone());
        assert_eq!(io_method, Some(vec!["sync", "worker", "io_uring"]));
        // `log_connections` was a Boolean up to 17 and is a list from 18.
        assert_eq!(
            setting_type("log_connections", v17).map(|row| row.vartype),
            Some("bool")
        );
        assert_eq!(
            setting_type("log_connections", v18).map(|row| row.vartype),
            Some("string")
        );
        // 18 can change `autovacuum_max_workers` with a reload, up to
        // `autovacuum_worker_slots`.
        assert_eq!(
            setting_type("autovacuum_max_workers", v17).map(|row| row.context),
            Some("postmaster")
        );
        assert_eq!(
            setting_type("autovacuum_max_workers", v18).map(|row| row.context),
            Some("sighup")
        );
        assert!(setting_type("ssl_ecdh_curve", v18).is_some());
    }

    #[test]
    fn md5_and_checksums_changed_in_18() {
        assert!(!MD5_DEPRECATED.in_version(version("17")));
        assert!(MD5_DEPRECATED.in_version(version("18")));
        assert!(!DATA_CHECKSUMS_BY_DEFAULT.in_version(version("17")));
        assert!(DATA_CHECKSUMS_BY_DEFAULT.in_version(version("18")));
        assert_eq!(NEWEST, version("18"));
    }

    #[test]
    fn every_setting_is_listed_once_and_has_a_window() {
        for (index, setting) in SETTINGS.iter().enumerate() {
            assert!(
                setting.postgresql_conf.is_some() || setting.recovery_conf.is_some(),
                "{} exists nowhere",
                setting.name
            );
            assert!(
                !SETTINGS[..index]
                    .iter()
                    .any(|other| other.name == setting.name),
                "{} is listed twice",
                setting.name
            );
            assert!(
                !FEATURES.iter().any(|feature| feature.name == setting.name),
                "{} is both a feature and a setting",
                setting.name
            );
        }
    }

    #[test]
    fn pgbouncer_versions_read_as_its_binary_prints_them() {
        let read = |text: &str| PgbouncerVersion::parse(text).map(|v| v.to_string());
        assert_eq!(
            read("PgBouncer 1.18.0\nlibevent 2.1.12-stable\n").as_deref(),
            Some("1.18")
        );
        assert_eq!(read("pgbouncer 1.26.1").as_deref(), Some("1.26"));
        assert_eq!(read("PgBouncer 1.19rc1").as_deref(), Some("1.19"));
        assert_eq!(read("bash: pgbouncer: command not found"), None);
        assert_eq!(read(""), None);
        let version =
            |text: &str| PgbouncerVersion::parse(text).unwrap_or_else(|| panic!("{text}"));
        assert!(!PGBOUNCER_AUTH_DBNAME.in_version(version("PgBouncer 1.18.0")));
        assert!(PGBOUNCER_AUTH_DBNAME.in_version(version("PgBouncer 1.19.0")));
        assert!(PGBOUNCER_AUTH_DBNAME.in_version(version("PgBouncer 2.0.0")));
    }

    #[test]
    fn the_wal_functions_are_named_wal_from_10_on() {
        let names = |text: &str| WalFunctions::for_version(version(text));
        assert_eq!(names("9.6").current, "pg_current_xlog_location()");
        assert_eq!(names("9.6").replay_column, "replay_location");
        assert_eq!(names("10").current, "pg_current_wal_lsn()");
        assert_eq!(names("10").replay_resume, "pg_wal_replay_resume");
    }

    #[test]
    fn every_feature_has_its_own_name() {
        for (index, feature) in FEATURES.iter().enumerate() {
            assert!(
                !FEATURES[..index]
                    .iter()
                    .any(|other| other.name == feature.name),
                "{} is listed twice",
                feature.name
            );
        }
    }

    #[test]
    fn templates_see_features_and_settings_by_name() {
        let flags = template_flags(version("11"));
        assert_eq!(flags["streaming_replication"], json!(true));
        assert_eq!(flags["standby_signal"], json!(false));
        assert_eq!(flags["wal_keep_segments"], json!(true));
        assert_eq!(flags["wal_keep_size"], json!(false));
        assert_eq!(flags["primary_conninfo"], json!(false));
        let flags = template_flags(version("8.3"));
        assert_eq!(flags["streaming_replication"], json!(false));
        assert_eq!(flags["ident_without_map"], json!(false));
        assert_eq!(
            template_flags(version("15"))["promote_trigger_file"],
            json!(true)
        );
        assert_eq!(
            template_flags(version("16"))["promote_trigger_file"],
            json!(false)
        );
    }
}
