//! The server's settings and roles, as the server has them: `pg_settings`
//! (every value in force, in its base unit, with where it comes from), the
//! replication role's and PgBouncer's auth role's attributes in `pg_authid`,
//! and the names of the roles whose stored password is md5, read by
//! `server.sh`'s psql.

use super::server::{Row, field, flag};
use super::{ObservedBouncerRole, ObservedRole, ObservedSetting};
use crate::secret::Sensitive;
use crate::versions::{
    PENDING_RESTART, PgVersion, REWIND_WITHOUT_SUPERUSER, SCRAM_SHA_256, SETTING_SOURCES,
};
use indexmap::IndexMap;

/// Every setting, with whether a restart is pending ([`PENDING_RESTART`], 9.5)
/// and its type, file and built-in value ([`SETTING_SOURCES`], 8.4). Values and
/// file names travel hex-encoded: a line break in one cannot split a row.
const SETTINGS: &str = "select name, context, pending_restart, encode(convert_to(coalesce(setting, ''), 'UTF8'), 'hex'), coalesce(unit, ''), vartype, source, encode(convert_to(coalesce(sourcefile, ''), 'UTF8'), 'hex'), encode(convert_to(coalesce(boot_val, ''), 'UTF8'), 'hex') from pg_settings;";

/// [`SETTINGS`] from 8.4 to 9.4: no pending restart.
const SETTINGS_WITHOUT_PENDING_RESTART: &str = "select name, context, false, encode(convert_to(coalesce(setting, ''), 'UTF8'), 'hex'), coalesce(unit, ''), vartype, source, encode(convert_to(coalesce(sourcefile, ''), 'UTF8'), 'hex'), encode(convert_to(coalesce(boot_val, ''), 'UTF8'), 'hex') from pg_settings;";

/// [`SETTINGS`] before 8.4: the value only.
const SETTINGS_WITHOUT_SOURCES: &str = "select name, context, false, encode(convert_to(coalesce(setting, ''), 'UTF8'), 'hex'), coalesce(unit, ''), '', source, '', '' from pg_settings;";

/// The replication role (`:'role'`, a psql variable): whether it may log in and
/// replicate, its password verifier, and whether it may read the files
/// `pg_rewind` needs, which a non-superuser may from 11 ([`REWIND_WITHOUT_SUPERUSER`]).
const ROLE: &str = "select rolcanlogin, rolreplication, coalesce(rolpassword, ''), has_function_privilege(rolname, 'pg_catalog.pg_read_binary_file(text, bigint, bigint, boolean)', 'execute') from pg_authid where rolname = :'role';";

/// [`ROLE`] before 11: only a superuser rewinds.
const ROLE_WITHOUT_REWIND_GRANTS: &str = "select rolcanlogin, rolreplication, coalesce(rolpassword, ''), false from pg_authid where rolname = :'role';";

/// The roles whose stored password is an md5 hash, which PostgreSQL 18
/// deprecates (`versions::MD5_DEPRECATED`): only their names, hex-encoded as
/// the settings are; the hashes never leave the server. `pg_authid` is read as
/// the role query reads it: the facts run as the PostgreSQL OS user, a superuser.
pub(super) const MD5_ROLES: &str = "select encode(convert_to(rolname, 'UTF8'), 'hex') from pg_authid where rolpassword like 'md5%' order by rolname;";

/// PgBouncer's auth role (`:'bouncer_role'`): whether it may log in, whether
/// it has any right beyond that, and its password verifier. Its clients log in
/// with SCRAM ([`SCRAM_SHA_256`], 10): before, nothing is read.
const PGBOUNCER_ROLE: &str = "select rolcanlogin, rolsuper or rolcreatedb or rolcreaterole or rolreplication or rolbypassrls, coalesce(rolpassword, '') from pg_authid where rolname = :'bouncer_role';";

pub(super) fn pgbouncer_role_query(version: PgVersion) -> &'static str {
    if SCRAM_SHA_256.in_version(version) {
        PGBOUNCER_ROLE
    } else {
        "select 1 where false;"
    }
}

pub(super) fn read_pgbouncer_role(rows: &[Row]) -> Option<ObservedBouncerRole> {
    rows.first().map(|row| ObservedBouncerRole {
        can_login: flag(row, 0),
        privileged: flag(row, 1),
        password_verifier: Sensitive::new(field(row, 2)),
    })
}

pub(super) fn settings_query(version: PgVersion) -> &'static str {
    if PENDING_RESTART.in_version(version) {
        SETTINGS
    } else if SETTING_SOURCES.in_version(version) {
        SETTINGS_WITHOUT_PENDING_RESTART
    } else {
        SETTINGS_WITHOUT_SOURCES
    }
}

pub(super) fn role_query(version: PgVersion) -> &'static str {
    if REWIND_WITHOUT_SUPERUSER.in_version(version) {
        ROLE
    } else {
        ROLE_WITHOUT_REWIND_GRANTS
    }
}

pub(super) fn read_settings(rows: &[Row]) -> IndexMap<String, ObservedSetting> {
    rows.iter()
        .map(|row| {
            (
                field(row, 0),
                ObservedSetting {
                    context: field(row, 1),
                    pending_restart: flag(row, 2),
                    value: from_hex(&field(row, 3)),
                    unit: field(row, 4),
                    vartype: field(row, 5),
                    source: field(row, 6),
                    source_file: from_hex(&field(row, 7)),
                    default_value: from_hex(&field(row, 8)),
                },
            )
        })
        .collect()
}

pub(super) fn read_role(rows: &[Row]) -> Option<ObservedRole> {
    rows.first().map(|row| ObservedRole {
        can_login: flag(row, 0),
        replication: flag(row, 1),
        password_verifier: Sensitive::new(field(row, 2)),
        rewind_grants: flag(row, 3),
    })
}

pub(super) fn read_md5_roles(rows: &[Row]) -> Vec<String> {
    rows.iter().map(|row| from_hex(&field(row, 0))).collect()
}

/// Text the facts query sent hex-encoded (so a line break in a value cannot split a row).
fn from_hex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|index| u8::from_str_radix(hex.get(2 * index..2 * index + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}
