//! PgBouncer's facts: on a host of the group `pgbouncer`, the version its
//! binary reports and what its console says (`pgbouncer.sh`: its databases,
//! with where each goes, and its settings, with whether a reload changes each);
//! on the primary of a cluster with PgBouncer hosts, the auth role (a section of
//! the server's psql, `settings.rs`) and, in each database that accepts
//! connections, whether the function `auth_query` calls is as pgconverge makes
//! it (`pgbouncer_auth.sh`).
//!
//! The SQL of that function, of the judgement and of the script that visits
//! every database lives here, where the facts and the step that makes the
//! function (`actions::pgbouncer`) both read it.

use super::parse::Records;
use super::server::{FIELD_SEPARATOR, Row, field};
use super::{FactsRequest, HostFacts};
use crate::script::Script;
use crate::versions::PgbouncerVersion;
use indexmap::IndexMap;
use serde::Serialize;

const SCRIPT: &str = include_str!("pgbouncer.sh");
const AUTH_SCRIPT: &str = include_str!("pgbouncer_auth.sh");

/// The body of `pgconverge.pgbouncer_auth(username text)`, the function
/// PgBouncer's `auth_query` calls as its auth role: the name and password
/// verifier of a role that may log in, whose password has not expired, and
/// that is no superuser and no replication role (their verifiers never leave
/// the server this way, and no client logs in as them through PgBouncer). It
/// runs as its owner, a superuser (`SECURITY DEFINER`, with a `search_path` of
/// its own), since only a superuser reads `pg_authid`.
pub const AUTH_FUNCTION_BODY: &str = "SELECT rolname, rolpassword FROM pg_catalog.pg_authid WHERE rolname = username AND rolcanlogin AND NOT rolsuper AND NOT rolreplication AND (rolvaliduntil IS NULL OR rolvaliduntil > pg_catalog.now())";

/// A psql script that writes a psql script: for each database that accepts
/// connections (all of them with `:'all_databases'` `yes`, else `postgres`
/// alone), a `\connect` to it (its name quoted as a libpq value, then as a
/// psql argument: backslashes and quotes doubled, line breaks written `\n`),
/// an `@@database` line with its name hex-encoded, and `:'state_sql'`.
pub const EVERY_DATABASE_SQL: &str = r#"select format(E'\\connect -reuse-previous=on %s\n\\echo @@database %s\n%s',
  '''' || replace(replace(replace(replace('dbname=''' || replace(replace(datname, '\', '\\'), '''', '\''') || '''', '\', '\\'), '''', ''''''), E'\n', '\n'), E'\r', '\r') || '''',
  encode(convert_to(datname, 'UTF8'), 'hex'),
  :'state_sql')
from pg_catalog.pg_database
where datallowconn and (:'all_databases' = 'yes' or datname = 'postgres')
order by datname;"#;

/// In one database: `ok` when the function is as pgconverge makes it (its body,
/// `SECURITY DEFINER` owned by a superuser, its `search_path`, run by the auth
/// role `:'bouncer_role'` alone, in a schema only that role may use besides its
/// owner), else what differs, `missing` when it is not there.
pub const AUTH_STATE_SQL: &str = r#"select coalesce((
  select case
    when not p.prosecdef then 'it is not SECURITY DEFINER'
    when not o.rolsuper then 'its owner is no superuser'
    when p.prosrc <> :'auth_body' or coalesce(array_to_string(p.proconfig, ','), '') <> 'search_path=pg_catalog, pg_temp' then 'it has another definition'
    when coalesce((select string_agg(coalesce(g.rolname, 'PUBLIC'), ',' order by coalesce(g.rolname, 'PUBLIC'))
        from pg_catalog.aclexplode(coalesce(p.proacl, pg_catalog.acldefault('f', p.proowner))) a
        left join pg_catalog.pg_roles g on g.oid = a.grantee
        where a.grantee <> p.proowner), '') <> :'bouncer_role' then 'other roles may run it'
    when coalesce((select string_agg(coalesce(g.rolname, 'PUBLIC') || ':' || a.privilege_type, ',' order by coalesce(g.rolname, 'PUBLIC') || ':' || a.privilege_type)
        from pg_catalog.aclexplode(n.nspacl) a
        left join pg_catalog.pg_roles g on g.oid = a.grantee
        where a.grantee <> n.nspowner), '') <> :'bouncer_role' || ':USAGE' then 'its schema grants other rights'
    else 'ok' end
  from pg_catalog.pg_proc p
  join pg_catalog.pg_namespace n on n.oid = p.pronamespace
  join pg_catalog.pg_roles o on o.oid = p.proowner
  where n.nspname = 'pgconverge' and p.proname = 'pgbouncer_auth' and p.proargtypes = '25'::pg_catalog.oidvector
), 'missing');"#;

/// What a host's PgBouncer is, as its binary and its console say.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PgbouncerFacts {
    /// What `pgbouncer --version` printed first; `None` without the binary.
    pub version_text: Option<String>,
    /// The psql that reaches the console; `None` when the host has none.
    pub psql: Option<String>,
    /// What the console says, or psql's words when it does not answer.
    pub console: Option<Result<Console, String>>,
}

impl PgbouncerFacts {
    /// The release the binary reports, when it reports one.
    pub fn version(&self) -> Option<PgbouncerVersion> {
        self.version_text
            .as_deref()
            .and_then(PgbouncerVersion::parse)
    }

    /// What the running PgBouncer's console says, when it runs.
    pub fn running(&self) -> Option<&Console> {
        self.console
            .as_ref()
            .and_then(|console| console.as_ref().ok())
    }
}

/// What a running PgBouncer's console says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Console {
    /// `SHOW DATABASES`: each database with where it goes.
    pub databases: Vec<BouncerDatabase>,
    /// `SHOW CONFIG`: each setting's value in force, and whether a reload can
    /// change it (`changeable`).
    pub settings: IndexMap<String, BouncerSetting>,
}

impl Console {
    pub fn database(&self, name: &str) -> Option<&BouncerDatabase> {
        self.databases.iter().find(|database| database.name == name)
    }
}

/// A database of `SHOW DATABASES`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BouncerDatabase {
    pub name: String,
    pub host: String,
    pub port: Option<u16>,
    /// The server's database it connects to.
    pub database: String,
}

/// A setting of `SHOW CONFIG`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BouncerSetting {
    pub value: String,
    /// A reload applies a new value; else only a restart does.
    pub changeable: bool,
}

/// On the primary: the auth role and the function in each database.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PgbouncerAuthFacts {
    /// Each database that accepts connections, with `ok` or what differs of
    /// its function; `Err` with psql's words when they could not be read.
    pub functions: Option<Result<IndexMap<String, String>, String>>,
}

/// Adds PgBouncer's piece to the facts script of a host of the group
/// `pgbouncer`, and the piece that reads the auth function to the primary's.
/// Both come after the server's piece, whose psql and separator they use.
pub(super) fn ask(script: Script, request: &FactsRequest) -> Script {
    let pgbouncer = &request.settings.pgbouncer;
    let script = if request.pgbouncer {
        script
            .text("PGBOUNCER_BIN", &pgbouncer.binary)
            .text("PGBOUNCER_SOCKET_DIR", &pgbouncer.socket_dir)
            .number("PGBOUNCER_PORT", pgbouncer.port)
            .piece(SCRIPT)
    } else {
        script
    };
    if request.pgbouncer_auth {
        script
            .text("PGBOUNCER_AUTH_LIST_SQL", EVERY_DATABASE_SQL)
            .text("PGBOUNCER_AUTH_STATE_SQL", AUTH_STATE_SQL)
            .text("PGBOUNCER_AUTH_BODY", AUTH_FUNCTION_BODY)
            .piece(AUTH_SCRIPT)
    } else {
        script
    }
}

pub(super) fn read(request: &FactsRequest, records: &Records, facts: &mut HostFacts) {
    if request.pgbouncer {
        let console = match (
            records.text("pgbouncer.databases"),
            records.text("pgbouncer.error"),
        ) {
            (Some(databases), _) => Some(Ok(Console {
                databases: read_databases(&databases),
                settings: records
                    .text("pgbouncer.config")
                    .map(|config| read_config(&config))
                    .unwrap_or_default(),
            })),
            (None, Some(error)) => Some(Err(error.trim().to_string())),
            (None, None) => None,
        };
        facts.pgbouncer = Some(PgbouncerFacts {
            version_text: records.text("pgbouncer.version"),
            psql: records.text("pgbouncer.psql"),
            console,
        });
    }
    if request.pgbouncer_auth {
        let functions = match records.text("pgbouncer_auth.functions") {
            Some(output) => Some(Ok(read_functions(&output))),
            None => records
                .text("pgbouncer_auth.error")
                .map(|error| Err(error.trim().to_string())),
        };
        facts.pgbouncer_auth = Some(PgbouncerAuthFacts { functions });
    }
}

fn rows(output: &str) -> Vec<Row<'_>> {
    output
        .lines()
        .filter(|line| !line.is_empty())
        .map(|line| line.split(FIELD_SEPARATOR).collect())
        .collect()
}

/// `SHOW DATABASES`: name, host, port, database, then columns that differ from
/// release to release.
fn read_databases(output: &str) -> Vec<BouncerDatabase> {
    rows(output)
        .iter()
        .filter(|row| row.len() >= 4)
        .map(|row| BouncerDatabase {
            name: field(row, 0),
            host: field(row, 1),
            port: field(row, 2).parse().ok(),
            database: field(row, 3),
        })
        .collect()
}

/// `SHOW CONFIG`: key, value, default, changeable.
fn read_config(output: &str) -> IndexMap<String, BouncerSetting> {
    rows(output)
        .iter()
        .filter(|row| row.len() >= 3)
        .map(|row| {
            let changeable = row.last().is_some_and(|last| *last == "yes");
            (
                field(row, 0),
                BouncerSetting {
                    value: field(row, 1),
                    changeable,
                },
            )
        })
        .collect()
}

/// The second psql's output: `@@database HEX` before each database's verdict.
fn read_functions(output: &str) -> IndexMap<String, String> {
    let mut functions = IndexMap::new();
    let mut current: Option<String> = None;
    for line in output.lines() {
        if let Some(hex) = line.strip_prefix("@@database ") {
            current = Some(from_hex(hex.trim()));
        } else if let Some(database) = current.take() {
            functions.insert(database, line.trim().to_string());
        }
    }
    functions
}

fn from_hex(hex: &str) -> String {
    let bytes: Vec<u8> = (0..hex.len() / 2)
        .filter_map(|index| u8::from_str_radix(hex.get(2 * index..2 * index + 2)?, 16).ok())
        .collect();
    String::from_utf8_lossy(&bytes).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_s_databases_and_settings_are_read() {
        let sep = FIELD_SEPARATOR;
        let databases = format!(
            "pgbouncer{sep}{sep}6432{sep}pgbouncer{sep}pgbouncer{sep}2\npostgres{sep}10.0.0.11{sep}5432{sep}postgres{sep}{sep}20\n"
        );
        let config = format!(
            "listen_port{sep}6432{sep}6432{sep}no\npool_mode{sep}session{sep}session{sep}yes\n"
        );
        let console = Console {
            databases: read_databases(&databases),
            settings: read_config(&config),
        };
        let postgres = console.database("postgres").expect("postgres");
        assert_eq!(
            (postgres.host.as_str(), postgres.port),
            ("10.0.0.11", Some(5432))
        );
        assert_eq!(
            console.settings.get("listen_port"),
            Some(&BouncerSetting {
                value: "6432".into(),
                changeable: false
            })
        );
        assert!(
            console
                .settings
                .get("pool_mode")
                .is_some_and(|s| s.changeable)
        );
    }

    #[test]
    fn each_database_s_verdict_is_read_under_its_name() {
        // `app'1` and `postgres`, hex-encoded as the script writes them.
        let output = "@@database 61707027310a32\nmissing\n@@database 706f737467726573\nok\n";
        let functions = read_functions(output);
        assert_eq!(
            functions.get("app'1\n2").map(String::as_str),
            Some("missing")
        );
        assert_eq!(functions.get("postgres").map(String::as_str), Some("ok"));
    }
}
