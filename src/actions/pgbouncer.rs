//! PgBouncer on the hosts of the group `pgbouncer`, pointing at the cluster's
//! primary: its `pgbouncer.ini` (the host's own file kept and read first, as
//! `postgresql.conf` is adopted), where it sends clients
//! (`pgbouncer.databases.ini`, which pgconverge writes from the inventory's
//! primary and the PgBouncer release the host has), its service (started when
//! its console does not answer, restarted when a setting only a restart applies
//! changed, else reloaded), and on the primary the role and function it looks
//! its clients' passwords up with; then the operations `switchover` and
//! `promote` run on it: pause before the old primary stops, re-point at the new
//! primary and resume, resume again when a switchover fails.
//!
//! The package is the host's, as PostgreSQL's is: a host of the group without
//! it is named in the plan, and nothing of PgBouncer is done there. Its files
//! are root's, readable by the PostgreSQL OS user's group (PgBouncer runs as
//! that user and needs to read them, never to write them), in root's own
//! `/etc/pgbouncer`; what concerns PgBouncer itself (its console: reload,
//! pause, resume, shut down; a start without systemd) runs as that user over
//! its Unix socket, as PgBouncer's own user `pgbouncer`, whom it lets in
//! without a password from its own uid.

use super::file::{DesiredFile, WriteFile};
use super::{
    Action, Change, Member, PlanContext, PlannedStep, RemoteOperation, StepInput, Undo, UndoScript,
};
use crate::diagnostic::Diagnostic;
use crate::facts::FactsRequest;
use crate::facts::pgbouncer::{AUTH_FUNCTION_BODY, EVERY_DATABASE_SQL, PgbouncerFacts};
use crate::inventory::{ConfigMode, HostSettings, PGBOUNCER_MANAGED};
use crate::scram;
use crate::script::{HostScript, Script};
use crate::secret::{REDACTED, Sensitive};
use crate::versions::{PGBOUNCER_AUTH_DBNAME, PgbouncerVersion};
use indexmap::IndexMap;
use serde::Serialize;
use std::path::Path;

/// The name the host's own `pgbouncer.ini` is kept under, beside pgconverge's.
pub const BASE_FILE: &str = "pgbouncer.base.ini";

/// How long a switchover waits for PgBouncer's `PAUSE` to finish (every server
/// connection released: in session pooling, every client gone) before the old
/// primary stops all the same, ending what is still connected.
pub const PAUSE_WAIT_SECONDS: u32 = 10;

/// How long a started, restarted or reloaded PgBouncer may take to answer with
/// its new configuration.
const SERVICE_WAIT_SECONDS: u32 = 30;

/// Where PgBouncer sends its clients: the cluster's primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Target {
    /// The primary's name in the inventory, for messages.
    pub name: String,
    /// Its `replication_host`, the address the other members reach it at.
    pub host: String,
    pub port: u16,
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}:{})", self.name, self.host, self.port)
    }
}

/// `pgbouncer.databases.ini` for `target` on a PgBouncer of `version`: every
/// database (`*`) goes to the primary, and `postgres`, where `auth_query` runs
/// from 1.19 ([`PGBOUNCER_AUTH_DBNAME`]), is named too (1.19 and 1.20 look the
/// auth database up among the named ones only), which also shows in `SHOW
/// DATABASES` where PgBouncer sends clients. The address is one the inventory
/// checked (an IP address or a host name), written bare: anything else is
/// refused.
pub fn databases_file(target: &Target, version: PgbouncerVersion) -> Result<String, String> {
    if !crate::address::is_address(&target.host) {
        return Err(format!(
            "{:?} is neither an IP address nor a host name",
            target.host
        ));
    }
    let auth_dbname = if PGBOUNCER_AUTH_DBNAME.in_version(version) {
        " auth_dbname=postgres"
    } else {
        ""
    };
    let (host, port) = (&target.host, target.port);
    Ok(format!(
        "; Where PgBouncer sends its clients: {target}, the primary. Written by pgconverge,\n\
         ; which rewrites it when the primary changes and reloads PgBouncer.\n\
         [databases]\n\
         postgres = host={host} port={port} dbname=postgres\n\
         * = host={host} port={port}{auth_dbname}\n"
    ))
}

/// The settings of a PgBouncer configuration text, section by section, as
/// PgBouncer reads one file (its `%include` lines are not followed): `(section,
/// name, value)`, the section lowercase.
pub fn ini_entries(text: &str) -> Vec<(String, String, String)> {
    let mut entries = Vec::new();
    let mut section = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with(['#', ';', '%']) {
            continue;
        }
        if let Some(name) = line
            .strip_prefix('[')
            .and_then(|rest| rest.strip_suffix(']'))
        {
            section = name.trim().to_ascii_lowercase();
            continue;
        }
        if let Some((name, value)) = line.split_once('=') {
            entries.push((
                section.clone(),
                name.trim().to_string(),
                value.trim().to_string(),
            ));
        }
    }
    entries
}

/// A running value as the plan shows it: `''` for an empty one.
fn shown(value: &str) -> &str {
    if value.is_empty() { "''" } else { value }
}

/// `NAME need` or `NAMES need`, as many as there are.
fn need(names: &[String]) -> String {
    let verb = if names.len() == 1 { "needs" } else { "need" };
    format!("{} {verb}", names.join(", "))
}

/// The `[pgbouncer]` settings of a configuration text, the last of each name.
fn bouncer_settings(text: &str) -> IndexMap<String, String> {
    ini_entries(text)
        .into_iter()
        .filter(|(section, _, _)| section == "pgbouncer")
        .map(|(_, name, value)| (name, value))
        .collect()
}

/// Why nothing of PgBouncer can be done on this host: no package, no psql to
/// reach its console, or its facts unread.
fn not_ready(context: &PlanContext) -> Option<String> {
    let settings = &context.settings().pgbouncer;
    let host = context.host.name;
    let Some(facts) = &context.facts.pgbouncer else {
        return Some(format!("PgBouncer's facts of {host} were not read"));
    };
    if facts.version_text.is_none() {
        return Some(format!(
            "PgBouncer is not installed on {host} (no `{}`): install Debian's package `pgbouncer`; pgconverge configures it, but the package is the host's, as PostgreSQL's is",
            settings.binary
        ));
    }
    if facts.version().is_none() {
        return Some(format!(
            "`{} --version` on {host} does not say which PgBouncer it is: {}",
            settings.binary,
            facts.version_text.as_deref().unwrap_or_default()
        ));
    }
    if facts.psql.is_none() {
        return Some(format!(
            "{host} has no psql, with which pgconverge reaches PgBouncer's console: install Debian's package `postgresql-client`"
        ));
    }
    None
}

fn bouncer_facts<'a>(context: &PlanContext<'a>) -> Option<&'a PgbouncerFacts> {
    context.facts.pgbouncer.as_ref()
}

/// `pgbouncer.ini`, rendered from its template, the host's own file kept as
/// [`BASE_FILE`] and read first in the `adopt` mode.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgbouncerIni {
    pub file: DesiredFile,
    pub mode: ConfigMode,
    pub base_path: String,
}

impl Action for PgbouncerIni {
    const PARAMETERS: &'static [&'static str] = &["template", "dest"];

    fn desire(input: &StepInput) -> Result<PgbouncerIni, Diagnostic> {
        let dest = input.dest.clone().unwrap_or_default();
        let base_path = Path::new(&dest)
            .with_file_name(BASE_FILE)
            .to_string_lossy()
            .into_owned();
        Ok(PgbouncerIni {
            file: DesiredFile::from_step(input, dest, 0o640)?,
            mode: input.settings.config_mode,
            base_path,
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.pgbouncer = true;
        request.want_file(&self.file.path);
        request.want_file(&self.base_path);
    }

    fn rendered_file(&self) -> Option<&DesiredFile> {
        Some(&self.file)
    }

    fn expose<'a>(&'a self, member: &mut Member<'a>) {
        member.pgbouncer_settings = Some(bouncer_settings(&self.file.content));
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        if let Some(reason) = not_ready(context) {
            return PlannedStep::refused(reason);
        }
        let text = |path: &str| {
            context
                .facts
                .file(path)
                .map(|file| String::from_utf8_lossy(&file.content).into_owned())
        };
        let current = text(&self.file.path);
        let base = text(&self.base_path);
        if self.mode == ConfigMode::Adopt && current.is_none() && base.is_none() {
            return PlannedStep::refused(format!(
                "`{}` does not exist, and pgconverge adopts the host's file (`pg_config_mode: adopt`): put the package's file back (`apt-get install --reinstall -o Dpkg::Options::=--force-confmiss pgbouncer`), or set `pg_config_mode: own`",
                self.file.path
            ));
        }
        let mut planned = self.file.plan(context);
        let Some(super::Operation::WriteFile(write)) = planned.operation.as_mut() else {
            return planned;
        };
        if self.mode == ConfigMode::Adopt {
            write.keep_as = Some(self.base_path.clone());
        }
        let adopting = self.mode == ConfigMode::Adopt
            && base.is_none()
            && current
                .as_deref()
                .is_some_and(|current| current != self.file.content);
        if adopting {
            planned.summary = format!(
                "{} (the host's own file is kept as {} and read first)",
                planned.summary, self.base_path
            );
        }
        // The host's own databases, which keep going where they went.
        let hosts_own = if self.mode == ConfigMode::Adopt {
            base.as_deref().or(current.as_deref().filter(|_| adopting))
        } else {
            None
        };
        for (section, name, value) in hosts_own.map(ini_entries).unwrap_or_default() {
            if section == "databases" && name != "*" && name != "postgres" {
                planned.warnings.push(format!(
                    "the host's own pgbouncer.ini sends database `{name}` to `{value}`: pgconverge points every other database at the primary, not this one"
                ));
            }
        }
        // What changes in the running PgBouncer, and what applies it: shown
        // instead of the diff when PgBouncer runs, as for postgresql.conf.
        if let Some(console) = bouncer_facts(context).and_then(PgbouncerFacts::running) {
            for line in self.file.content.lines() {
                if line.starts_with("%include ")
                    && !current
                        .as_deref()
                        .is_some_and(|current| current.lines().any(|old| old == line))
                {
                    planned.details.push(format!("+ {line}"));
                }
            }
            for (name, wanted) in bouncer_settings(&self.file.content) {
                let Some(running) = console.settings.get(&name) else {
                    continue;
                };
                if running.value != wanted {
                    let applies_by = if running.changeable {
                        "reload"
                    } else {
                        "restart"
                    };
                    planned.details.push(format!(
                        "~ {name}  {} → {wanted}  ({applies_by})",
                        shown(&running.value)
                    ));
                }
            }
        }
        planned
    }
}

/// `pgbouncer.databases.ini`: where PgBouncer sends its clients, the cluster's
/// primary ([`databases_file`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgbouncerDatabases {
    pub path: String,
    pub owner: String,
    pub group: String,
    pub mode: u32,
    pub target: Option<Target>,
}

impl Action for PgbouncerDatabases {
    const PARAMETERS: &'static [&'static str] = &["dest"];

    fn desire(input: &StepInput) -> Result<PgbouncerDatabases, Diagnostic> {
        Ok(PgbouncerDatabases {
            path: input.dest.clone().unwrap_or_default(),
            owner: input.owner.clone(),
            group: input.group.clone(),
            mode: input.mode_or(0o640),
            target: input.derived.pgbouncer_target.clone(),
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.pgbouncer = true;
        request.want_file(&self.path);
    }

    fn expose<'a>(&'a self, member: &mut Member<'a>) {
        member.pgbouncer_target = self.target.as_ref();
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        if let Some(reason) = not_ready(context) {
            return PlannedStep::refused(reason);
        }
        let Some(target) = &self.target else {
            return PlannedStep::refused(
                "the replication cluster has no primary in the inventory to send PgBouncer's clients to"
                    .to_string(),
            );
        };
        let Some(version) = bouncer_facts(context).and_then(PgbouncerFacts::version) else {
            return PlannedStep::refused("PgBouncer's version is unknown".to_string());
        };
        let content = match databases_file(target, version) {
            Ok(content) => content,
            Err(reason) => return PlannedStep::refused(reason),
        };
        let file = DesiredFile {
            path: self.path.clone(),
            content,
            owner: self.owner.clone(),
            group: self.group.clone(),
            mode: self.mode,
            sensitive: false,
            check: None,
        };
        let mut planned = file.plan(context);
        if planned.change.is_change() {
            planned.summary = format!("send clients to {target}: {}", planned.summary);
        } else {
            planned.summary = format!("clients go to {target}: {}", planned.summary);
        }
        planned
    }
}

/// How the service step brings PgBouncer to its configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BouncerAction {
    Start,
    Restart,
    Reload,
}

impl BouncerAction {
    fn name(self) -> &'static str {
        match self {
            BouncerAction::Start => "start",
            BouncerAction::Restart => "restart",
            BouncerAction::Reload => "reload",
        }
    }
}

/// The PgBouncer service (a handler the PgBouncer files notify).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgbouncerService {}

/// Starts, restarts or reloads PgBouncer, then waits, bounded, until its
/// console shows the settings and the target pgconverge wrote.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ControlPgbouncer {
    pub action: BouncerAction,
    /// The settings its console must then show, as pgconverge writes them.
    pub expected: IndexMap<String, String>,
    /// Where its `postgres` database must then go.
    pub target: Option<Target>,
    #[serde(skip)]
    pub server: HostSettings,
}

impl Action for PgbouncerService {
    fn desire(_input: &StepInput) -> Result<PgbouncerService, Diagnostic> {
        Ok(PgbouncerService {})
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.pgbouncer = true;
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        if let Some(reason) = not_ready(context) {
            return PlannedStep::refused(reason);
        }
        let wanted = context.host.pgbouncer_settings.clone().unwrap_or_default();
        let managed: IndexMap<String, String> = wanted
            .iter()
            .filter(|(name, _)| {
                PGBOUNCER_MANAGED
                    .iter()
                    .any(|(managed, _)| *managed == name.as_str())
            })
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let target = context.host.pgbouncer_target.cloned();
        let operation = |action| ControlPgbouncer {
            action,
            expected: managed.clone(),
            target: target.clone(),
            server: context.settings().clone(),
        };
        let console = match bouncer_facts(context).and_then(|facts| facts.console.as_ref()) {
            Some(Ok(console)) => console,
            answer => {
                let why = match answer {
                    Some(Err(error)) => format!(
                        "its console does not answer: {}",
                        error.lines().next().unwrap_or_default()
                    ),
                    _ => "not running".to_string(),
                };
                return PlannedStep::change(
                    Change::Start,
                    format!("start PgBouncer ({why})"),
                    operation(BouncerAction::Start),
                );
            }
        };
        // The settings pgconverge writes itself are compared with the running
        // ones on every run (a run that stopped after a write is finished by the
        // next); the inventory's own only when this run writes the file.
        let compared = if context.notified_by.is_empty() {
            &managed
        } else {
            &wanted
        };
        let mut restart = Vec::new();
        let mut reload = Vec::new();
        for (name, value) in compared {
            let Some(running) = console.settings.get(name) else {
                continue;
            };
            if &running.value == value {
                continue;
            }
            if running.changeable {
                reload.push(name.clone());
            } else {
                restart.push(name.clone());
            }
        }
        if !restart.is_empty() {
            return PlannedStep::change(
                Change::Restart,
                format!(
                    "restart PgBouncer: {} a restart (its clients reconnect)",
                    need(&restart)
                ),
                operation(BouncerAction::Restart),
            );
        }
        let moved = target.as_ref().filter(|target| {
            console.database("postgres").is_none_or(|running| {
                running.host != target.host || running.port != Some(target.port)
            })
        });
        if let Some(target) = moved {
            reload.insert(0, format!("its clients go to {target}"));
        } else if !context.notified_by.is_empty() {
            reload.push(format!("{} changed", context.notified_by.join(", ")));
        }
        if !reload.is_empty() {
            return PlannedStep::change(
                Change::Reload,
                format!("reload PgBouncer: {}", reload.join(", ")),
                operation(BouncerAction::Reload),
            );
        }
        PlannedStep::noop(match &target {
            Some(target) => format!(
                "PgBouncer runs with the current configuration and sends clients to {target}"
            ),
            None => "PgBouncer runs with the current configuration".to_string(),
        })
    }
}

/// What the console must show after a change: `NAME VALUE` lines.
fn expected_lines(expected: &IndexMap<String, String>) -> String {
    expected
        .iter()
        .map(|(name, value)| format!("{name} {value}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A script of PgBouncer's console: the host's PostgreSQL OS user, its psql,
/// PgBouncer's socket and port.
fn console_script(name: &'static str, body: &'static str, server: &HostSettings) -> Script {
    let bouncer = &server.pgbouncer;
    Script::new(name, body, &server.os_user)
        .text("PG_BIN_DIR", &server.bin_dir)
        .text("PGBOUNCER_SOCKET_DIR", &bouncer.socket_dir)
        .number("PGBOUNCER_PORT", bouncer.port)
        .number("SERVICE_WAIT_SECONDS", SERVICE_WAIT_SECONDS)
}

impl ControlPgbouncer {
    fn script(&self) -> Script {
        let bouncer = &self.server.pgbouncer;
        console_script(
            "control_pgbouncer",
            include_str!("scripts/control_pgbouncer.sh"),
            &self.server,
        )
        .number("BOUNCER_ACTION", self.action.name())
        .text("PGBOUNCER_BIN", &bouncer.binary)
        .text("PGBOUNCER_INI", &bouncer.ini_path())
        .text("EXPECTED_SETTINGS", &expected_lines(&self.expected))
        .text(
            "EXPECTED_HOST",
            self.target
                .as_ref()
                .map(|target| target.host.as_str())
                .unwrap_or_default(),
        )
        .text(
            "EXPECTED_PORT",
            &self
                .target
                .as_ref()
                .map(|target| target.port.to_string())
                .unwrap_or_default(),
        )
    }
}

impl RemoteOperation for ControlPgbouncer {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        Ok(vec![HostScript::own(self.script())])
    }
}

/// On the primary: the role PgBouncer logs in as to look up its clients'
/// passwords, and the function its `auth_query` calls, in `postgres` or, for a
/// PgBouncer before 1.19 ([`PGBOUNCER_AUTH_DBNAME`]), in every database that
/// accepts connections (`template1` among them, so a new database has it).
///
/// Why a function and not PgBouncer's plain `auth_query` on `pg_shadow`: that
/// needs a superuser as the auth role, whose password would then sit in every
/// PgBouncer host's auth file and open every database. The auth role here may
/// log in and run this one function, nothing else; the function (its owner a
/// superuser, `SECURITY DEFINER` with its own `search_path`) returns one role's
/// verifier, and never a superuser's or a replication role's.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgbouncerAuth {}

/// Creates or alters the auth role (its verifier made when the script is
/// built: the plan holds no salt) and makes the function where it is needed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SetPgbouncerAuth {
    pub role: String,
    pub password: Sensitive<String>,
    /// Every database that accepts connections, not `postgres` alone.
    pub every_database: bool,
    #[serde(skip)]
    pub server: HostSettings,
}

/// The function in one database, made whole: its schema (the owner's, used by
/// the auth role alone), the function (dropped and made again, so no grant of
/// before survives) and who may run it. `:"bouncer_role"` and `:'auth_body'`
/// are psql variables; the block that revokes is dollar-quoted, where psql
/// replaces nothing.
pub const INSTALL_SQL: &str = r#"SET client_min_messages = warning;
BEGIN;
CREATE SCHEMA IF NOT EXISTS pgconverge;
ALTER SCHEMA pgconverge OWNER TO CURRENT_USER;
DO $pgconverge$
DECLARE grantee text;
BEGIN
  FOR grantee IN SELECT DISTINCT coalesce(quote_ident(g.rolname), 'PUBLIC')
      FROM pg_catalog.pg_namespace n CROSS JOIN LATERAL pg_catalog.aclexplode(n.nspacl) a
      LEFT JOIN pg_catalog.pg_roles g ON g.oid = a.grantee
      WHERE n.nspname = 'pgconverge' AND a.grantee <> n.nspowner
  LOOP
    EXECUTE 'REVOKE ALL ON SCHEMA pgconverge FROM ' || grantee;
  END LOOP;
END
$pgconverge$;
GRANT USAGE ON SCHEMA pgconverge TO :"bouncer_role";
DROP FUNCTION IF EXISTS pgconverge.pgbouncer_auth(text);
CREATE FUNCTION pgconverge.pgbouncer_auth(username text) RETURNS TABLE (usename name, passwd text) LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS :'auth_body';
REVOKE ALL ON FUNCTION pgconverge.pgbouncer_auth(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION pgconverge.pgbouncer_auth(text) TO :"bouncer_role";
COMMIT;"#;

impl Action for PgbouncerAuth {
    fn desire(_input: &StepInput) -> Result<PgbouncerAuth, Diagnostic> {
        Ok(PgbouncerAuth {})
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.pgbouncer_auth = true;
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let settings = context.settings();
        let name = &settings.pgbouncer.auth_user;
        let Some(password) = &settings.pgbouncer.auth_password else {
            return PlannedStep::refused(
                "the variable `pgbouncer_auth_password` is not set".to_string(),
            );
        };
        if let Err(error) = scram::check_password(password.expose()) {
            return PlannedStep::refused(format!(
                "the PgBouncer auth password cannot be used: {error}"
            ));
        }
        // The PgBouncer hosts of the cluster that run a release without
        // `auth_dbname`.
        let old: Vec<String> = context
            .members
            .values()
            .filter(|member| member.cluster == context.host.cluster)
            .filter(|member| member.pgbouncer_settings.is_some())
            .filter_map(|member| {
                let version = member.facts?.pgbouncer.as_ref()?.version()?;
                (!PGBOUNCER_AUTH_DBNAME.in_version(version))
                    .then(|| format!("{} has PgBouncer {version}", member.name))
            })
            .collect();
        let every_database = !old.is_empty();
        let operation = || SetPgbouncerAuth {
            role: name.clone(),
            password: password.clone(),
            every_database,
            server: settings.clone(),
        };
        let where_ = if every_database {
            format!(
                "in every database ({}: before 1.19 its auth_query runs in the client's database)",
                old.join(", ")
            )
        } else {
            "in postgres".to_string()
        };
        let Some(server) = context.lasting_server() else {
            return PlannedStep::change(
                Change::Create,
                format!(
                    "create role {name} (LOGIN, password {REDACTED}) and PgBouncer's lookup function {where_}, once the server runs"
                ),
                operation(),
            );
        };
        let mut differences = Vec::new();
        match &server.pgbouncer_role {
            None => differences.push(format!("create role {name} (LOGIN, password {REDACTED})")),
            Some(role) => {
                let mut changes = Vec::new();
                if !role.can_login {
                    changes.push("LOGIN".to_string());
                }
                if role.privileged {
                    changes.push(
                        "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS".to_string(),
                    );
                }
                if !scram::verifier_matches(role.password_verifier.expose(), password.expose()) {
                    changes.push(format!("password {REDACTED}"));
                }
                if !changes.is_empty() {
                    differences.push(format!("alter role {name}: set {}", changes.join(", ")));
                }
            }
        }
        let functions = context
            .facts
            .pgbouncer_auth
            .as_ref()
            .and_then(|facts| facts.functions.as_ref());
        match functions {
            Some(Ok(functions)) => {
                let wrong: Vec<String> = functions
                    .iter()
                    .filter(|(database, _)| every_database || database.as_str() == "postgres")
                    .filter(|(_, verdict)| verdict.as_str() != "ok")
                    .map(|(database, verdict)| format!("{database}: {verdict}"))
                    .collect();
                if !wrong.is_empty() {
                    differences.push(format!(
                        "make PgBouncer's lookup function {where_} ({})",
                        wrong.join("; ")
                    ));
                }
            }
            Some(Err(error)) => differences.push(format!(
                "make PgBouncer's lookup function {where_} (what is there could not be read: {})",
                error.lines().next().unwrap_or_default()
            )),
            None => differences.push(format!("make PgBouncer's lookup function {where_}")),
        }
        if differences.is_empty() {
            return PlannedStep::noop(format!(
                "role {name} may log in with the wanted password, and PgBouncer's lookup function is {where_}"
            ));
        }
        let change = if server.pgbouncer_role.is_none() {
            Change::Create
        } else {
            Change::Update
        };
        PlannedStep::change(change, differences.join("; "), operation())
    }
}

impl RemoteOperation for SetPgbouncerAuth {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let verifier =
            scram::verifier_for_psql(self.password.expose(), "the PgBouncer auth password")?;
        let script = Script::for_server(
            "set_pgbouncer_auth",
            include_str!("scripts/set_pgbouncer_auth.sh"),
            &self.server,
        )
        .text("ROLE_NAME", &self.role)
        .hidden("VERIFIER", &verifier)
        .flag("EVERY_DATABASE", self.every_database)
        // Constants of pgconverge, bulky: left out of descriptions.
        .hidden("EVERY_DATABASE_SQL", EVERY_DATABASE_SQL)
        .hidden("INSTALL_SQL", INSTALL_SQL)
        .hidden("AUTH_BODY", AUTH_FUNCTION_BODY);
        Ok(vec![HostScript::own(script)])
    }
}

/// A PgBouncer a switchover paused, which its undo resumes.
#[derive(Debug, Clone, PartialEq)]
pub struct Paused {
    pub host: String,
    pub server: HostSettings,
}

/// What resumes PgBouncer on `paused`, a host other than the step's (a
/// PgBouncer that is not paused is left as it is).
pub fn resume(paused: &Paused) -> UndoScript {
    UndoScript {
        script: HostScript {
            other_host: Some(paused.host.clone()),
            // PgBouncer's console alone: the whole script runs as the OS user.
            script: console_script(
                "resume_pgbouncer",
                include_str!("scripts/resume_pgbouncer.sh"),
                &paused.server,
            )
            .as_pg_user(),
        },
        failed: format!(
            "PgBouncer on {} stays paused: it did not resume",
            paused.host
        ),
    }
}

/// Names the PgBouncers `resume` resumes, for an undo's last words.
pub fn resumed(paused: &[Paused]) -> String {
    if paused.is_empty() {
        return String::new();
    }
    let hosts: Vec<&str> = paused.iter().map(|paused| paused.host.as_str()).collect();
    format!(", and PgBouncer on {} resumed", hosts.join(", "))
}

/// A switchover's first step on a PgBouncer host: `PAUSE`, before the old
/// primary stops. New clients and new transactions wait; the step waits at
/// most [`PAUSE_WAIT_SECONDS`] for the server connections in use to be
/// released, then goes on all the same (the old primary's stop ends them).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PausePgbouncer {
    pub host: String,
    /// The PgBouncers this switchover paused before this one, resumed with it
    /// when this pause fails.
    #[serde(skip)]
    pub before: Vec<Paused>,
    #[serde(skip)]
    pub server: HostSettings,
}

impl RemoteOperation for PausePgbouncer {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = console_script(
            "pause_pgbouncer",
            include_str!("scripts/pause_pgbouncer.sh"),
            &self.server,
        )
        .number("PAUSE_WAIT_SECONDS", PAUSE_WAIT_SECONDS)
        .as_pg_user();
        Ok(vec![HostScript::own(script)])
    }

    fn undo(&self) -> Option<Undo> {
        let mut paused = self.before.clone();
        paused.push(Paused {
            host: self.host.clone(),
            server: self.server.clone(),
        });
        Some(Undo {
            scripts: paused.iter().map(resume).collect(),
            done: format!(
                "nothing was stopped{}",
                resumed(&paused).replacen(", and", ";", 1)
            ),
        })
    }
}

/// Points PgBouncer at a new primary: writes `pgbouncer.databases.ini`, reloads
/// (PgBouncer closes the server connections to the old one as they are
/// released; with `server_fast_close`, an idle session's at once), waits
/// until its console shows the new target, with `reconnect` (a promote) closes
/// every server connection as it is released, and resumes. When it fails,
/// PgBouncer resumes all the same.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepointPgbouncer {
    pub host: String,
    pub target: Target,
    /// A promote: the old primary may still run somewhere, so every server
    /// connection is closed as soon as it is released (`RECONNECT`).
    pub reconnect: bool,
    pub databases: WriteFile,
}

impl RepointPgbouncer {
    /// Re-points the PgBouncer of `server` on `host` at `target`, with the file a
    /// PgBouncer of `version` reads.
    pub fn new(
        host: &str,
        server: &HostSettings,
        target: &Target,
        version: PgbouncerVersion,
        reconnect: bool,
    ) -> Result<RepointPgbouncer, String> {
        let content = databases_file(target, version)?;
        Ok(RepointPgbouncer {
            host: host.to_string(),
            target: target.clone(),
            reconnect,
            databases: WriteFile {
                path: server.pgbouncer.databases_path(),
                content: Sensitive::new(content),
                owner: "root".to_string(),
                group: server.os_group.clone(),
                mode: 0o640,
                check: None,
                keep_as: None,
                server: server.clone(),
            },
        })
    }
}

impl RemoteOperation for RepointPgbouncer {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let mut scripts = self.databases.scripts()?;
        let repoint = console_script(
            "repoint_pgbouncer",
            include_str!("scripts/repoint_pgbouncer.sh"),
            &self.databases.server,
        )
        .text("EXPECTED_HOST", &self.target.host)
        .number("EXPECTED_PORT", self.target.port)
        .flag("RECONNECT", self.reconnect)
        .as_pg_user();
        scripts.push(HostScript::own(repoint));
        Ok(scripts)
    }

    fn undo(&self) -> Option<Undo> {
        let paused = Paused {
            host: self.host.clone(),
            server: self.databases.server.clone(),
        };
        // The resume runs on this very host.
        let mut script = resume(&paused);
        script.script.other_host = None;
        Some(Undo {
            scripts: vec![script],
            done: format!(
                "PgBouncer on {} resumed without pointing at {}",
                self.host, self.target
            ),
        })
    }
}

/// One of each operation a switchover or a promote runs on PgBouncer, for the
/// tests that check every script.
#[cfg(test)]
pub fn examples(server: &HostSettings) -> Vec<super::Operation> {
    let target = Target {
        name: "db2".into(),
        host: "10.0.0.12".into(),
        port: 5432,
    };
    let version = PgbouncerVersion {
        major: 1,
        minor: 18,
    };
    let repoint = RepointPgbouncer::new("db3", server, &target, version, true)
        .unwrap_or_else(|error| panic!("{error}"));
    vec![
        PausePgbouncer {
            host: "db3".into(),
            before: vec![Paused {
                host: "db4".into(),
                server: server.clone(),
            }],
            server: server.clone(),
        }
        .into(),
        repoint.into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::check::{
        BOUNCER_PASSWORD, Fixture, bouncer_console, check, pgbouncer_inventory, plan_text,
    };

    fn text(fixture: &Fixture) -> String {
        plan_text(
            &fixture.desired,
            &fixture.playbook,
            fixture.facts.clone(),
            &fixture.options,
        )
    }

    fn target(name: &str, host: &str) -> Target {
        Target {
            name: name.into(),
            host: host.into(),
            port: 5432,
        }
    }

    const OLD: PgbouncerVersion = PgbouncerVersion {
        major: 1,
        minor: 18,
    };
    const NEW: PgbouncerVersion = PgbouncerVersion {
        major: 1,
        minor: 26,
    };

    #[test]
    fn the_databases_go_to_the_primary_and_auth_runs_in_postgres_where_pgbouncer_can() {
        let db1 = target("db1", "10.0.0.11");
        let old = databases_file(&db1, OLD).unwrap_or_default();
        let new = databases_file(&db1, NEW).unwrap_or_default();
        assert!(
            old.ends_with("[databases]\npostgres = host=10.0.0.11 port=5432 dbname=postgres\n* = host=10.0.0.11 port=5432\n"),
            "{old}"
        );
        assert!(
            new.ends_with("* = host=10.0.0.11 port=5432 auth_dbname=postgres\n"),
            "{new}"
        );
        // An address that would carry another parameter is refused.
        let hostile = target("db1", "10.0.0.11 auth_user=postgres");
        assert!(databases_file(&hostile, NEW).is_err());
        let line_break = target("db1", "db1\n* = host=evil");
        assert!(databases_file(&line_break, NEW).is_err());
    }

    #[test]
    fn ini_entries_are_read_section_by_section() {
        let entries = ini_entries(
            "; comment\n%include /etc/x.ini\n[databases]\napp = host=a\n[PgBouncer]\nlisten_port = 6433\n  pool_mode=transaction \n",
        );
        assert_eq!(
            entries,
            [
                ("databases".into(), "app".into(), "host=a".into()),
                ("pgbouncer".into(), "listen_port".into(), "6433".into()),
                ("pgbouncer".into(), "pool_mode".into(), "transaction".into()),
            ]
        );
    }

    #[test]
    fn a_fresh_pgbouncer_host_adopts_the_package_file() {
        let fixture = Fixture::pgbouncer_fresh();
        insta::assert_snapshot!(check(&fixture, "pgb1", "pgbouncer_ini"));
        insta::assert_snapshot!(
            "a_fresh_pgbouncer_host_points_at_the_primary",
            check(&fixture, "pgb1", "pgbouncer_databases")
        );
        // A new listen_addr is applied by a restart only, as its console says.
        insta::assert_snapshot!(
            "a_fresh_pgbouncer_host_restarts_for_its_new_address",
            check(&fixture, "pgb1", "pgbouncer_service")
        );
    }

    #[test]
    fn the_auth_file_quotes_the_password_and_no_plan_shows_it() {
        let fixture = Fixture::pgbouncer_fresh();
        let Some(DesiredStep::File(file)) = fixture
            .desired
            .hosts
            .get("pgb1")
            .and_then(|host| host.steps.get("pgbouncer_auth_file"))
        else {
            panic!("pgb1 has no auth file step");
        };
        assert_eq!(
            file.0.content,
            "\"pgbouncer\" \"bouncer \"\"pass\"\" word\"\n"
        );
        let shown = check(&fixture, "pgb1", "pgbouncer_auth_file");
        assert!(shown.contains("(sensitive)"), "{shown}");
        let whole = text(&fixture);
        assert!(!whole.contains(BOUNCER_PASSWORD), "{whole}");
        assert!(!whole.contains("pass\"\" word"), "{whole}");
    }

    use crate::actions::DesiredStep;

    #[test]
    fn a_converged_pgbouncer_changes_nothing() {
        let plan = text(&Fixture::pgbouncer_converged());
        assert!(
            plan.contains("No changes: every host matches the inventory."),
            "{plan}"
        );
        insta::assert_snapshot!(check(
            &Fixture::pgbouncer_converged(),
            "db3",
            "pgbouncer_service"
        ));
    }

    /// PgBouncer still sends its clients to db2 (the primary before), as its
    /// file and its console say.
    fn pointing_at_db2(fixture: Fixture, host: &str, file_too: bool) -> Fixture {
        fixture.edit(host, |facts| {
            let db2 = target("db2", "10.0.0.12");
            if file_too
                && let Some(file) = facts
                    .files
                    .get_mut("/etc/pgbouncer/pgbouncer.databases.ini")
            {
                file.content = databases_file(&db2, OLD).unwrap_or_default().into_bytes();
            }
            let ini = facts
                .file("/etc/pgbouncer/pgbouncer.ini")
                .map(|file| String::from_utf8_lossy(&file.content).into_owned())
                .unwrap_or_default();
            if let Some(bouncer) = facts.pgbouncer.as_mut() {
                bouncer.console = Some(Ok(bouncer_console(&ini, Some(&db2))));
            }
        })
    }

    #[test]
    fn a_new_primary_is_a_reload_not_a_restart() {
        let fixture = pointing_at_db2(Fixture::pgbouncer_converged(), "pgb1", true);
        insta::assert_snapshot!(check(&fixture, "pgb1", "pgbouncer_databases"));
        insta::assert_snapshot!(
            "a_new_primary_is_a_reload_not_a_restart_service",
            check(&fixture, "pgb1", "pgbouncer_service")
        );
    }

    #[test]
    fn a_run_that_stopped_after_the_write_reloads_in_the_next() {
        let fixture = pointing_at_db2(Fixture::pgbouncer_converged(), "db3", false);
        let service = check(&fixture, "db3", "pgbouncer_service");
        assert!(
            service.starts_with(
                "! pgbouncer_service: reload PgBouncer: its clients go to db1 (10.0.0.11:5432)"
            ),
            "{service}"
        );
        assert!(
            check(&fixture, "db3", "pgbouncer_databases")
                .starts_with("  pgbouncer_databases: clients go to db1")
        );
    }

    #[test]
    fn a_changed_port_restarts_pgbouncer() {
        let fixture = Fixture::pgbouncer_converged();
        let (desired, playbook) = crate::plan::check::desired(&pgbouncer_inventory().replace(
            "        pgb1: { ansible_host: 10.0.0.30 }",
            "        pgb1: { ansible_host: 10.0.0.30, pgbouncer_port: 6433 }",
        ));
        let fixture = Fixture {
            desired,
            playbook,
            ..fixture
        };
        insta::assert_snapshot!(check(&fixture, "pgb1", "pgbouncer_ini"));
        let service = check(&fixture, "pgb1", "pgbouncer_service");
        assert!(
            service
                .starts_with("! pgbouncer_service: restart PgBouncer: listen_port needs a restart"),
            "{service}"
        );
    }

    #[test]
    fn a_host_without_pgbouncer_is_named_in_the_plan() {
        let fixture = Fixture::pgbouncer_fresh().edit("pgb1", |facts| {
            facts.pgbouncer = Some(PgbouncerFacts::default());
        });
        for step in ["pgbouncer_ini", "pgbouncer_databases", "pgbouncer_service"] {
            let shown = check(&fixture, "pgb1", step);
            assert!(
                shown.contains("refused: PgBouncer is not installed on pgb1 (no `/usr/sbin/pgbouncer`): install Debian's package `pgbouncer`"),
                "{shown}"
            );
        }
        // Nor is its auth file written: it waits for the refused step.
        let playbook = crate::playbook::Playbook::load(None).expect("the playbook");
        let auth_file = playbook.step("pgbouncer_auth_file").expect("the step");
        assert!(
            auth_file
                .requires
                .iter()
                .any(|required| required.id == "pgbouncer_databases"),
            "{:?}",
            auth_file.requires
        );
        // Nothing else of PgBouncer is refused on the other hosts.
        assert!(!check(&fixture, "db3", "pgbouncer_ini").contains("refused"));
    }

    #[test]
    fn the_auth_role_and_function_are_made_where_pgbouncer_needs_them() {
        // Debian 12's PgBouncer (1.18) runs auth_query in the client's database.
        insta::assert_snapshot!(check(&Fixture::pgbouncer_fresh(), "db1", "pgbouncer_auth"));
        // From 1.19 it runs in postgres, named by auth_dbname.
        let newer = |facts: &mut crate::facts::HostFacts| {
            if let Some(bouncer) = facts.pgbouncer.as_mut() {
                bouncer.version_text = Some("PgBouncer 1.26.1".into());
            }
        };
        let fixture = Fixture::pgbouncer_fresh()
            .edit("db3", newer)
            .edit("pgb1", newer);
        let shown = check(&fixture, "db1", "pgbouncer_auth");
        assert!(
            shown.contains("make PgBouncer's lookup function in postgres")
                && shown.contains("EVERY_DATABASE=no"),
            "{shown}"
        );
        assert!(check(&fixture, "db3", "pgbouncer_databases").contains("auth_dbname=postgres"));
    }

    #[test]
    fn an_auth_role_with_more_rights_or_another_password_is_altered() {
        let fixture = Fixture::pgbouncer_converged().edit("db1", |facts| {
            if let Some(role) = facts
                .server
                .as_mut()
                .and_then(|server| server.pgbouncer_role.as_mut())
            {
                role.privileged = true;
                role.password_verifier = Sensitive::new(
                    scram::new_verifier("another password")
                        .map(|verifier| verifier.to_string())
                        .unwrap_or_default(),
                );
            }
            if let Some(auth) = facts.pgbouncer_auth.as_mut()
                && let Some(Ok(functions)) = auth.functions.as_mut()
            {
                functions.insert("template1".into(), "other roles may run it".into());
                functions.insert("app".into(), "missing".into());
            }
        });
        insta::assert_snapshot!(check(&fixture, "db1", "pgbouncer_auth"));
    }

    #[test]
    fn the_install_sql_and_the_judgement_agree_on_the_function() {
        // What the facts judge is what the step makes: the body, the search
        // path and who may run it.
        use crate::facts::pgbouncer::AUTH_STATE_SQL;
        assert!(INSTALL_SQL.contains("SET search_path = pg_catalog, pg_temp AS :'auth_body'"));
        assert!(AUTH_STATE_SQL.contains("'search_path=pg_catalog, pg_temp'"));
        assert!(INSTALL_SQL.contains("SECURITY DEFINER"));
        assert!(
            INSTALL_SQL
                .contains("REVOKE ALL ON FUNCTION pgconverge.pgbouncer_auth(text) FROM PUBLIC;")
        );
        assert!(AUTH_FUNCTION_BODY.contains("NOT rolsuper AND NOT rolreplication"));
    }

    #[test]
    fn a_failed_pause_resumes_every_pgbouncer_paused_before() {
        let server = HostSettings::example();
        let pause = PausePgbouncer {
            host: "db3".into(),
            before: vec![Paused {
                host: "pgb1".into(),
                server: server.clone(),
            }],
            server: server.clone(),
        };
        let undo = pause
            .undo()
            .unwrap_or_else(|| panic!("a pause has an undo"));
        let hosts: Vec<Option<&str>> = undo
            .scripts
            .iter()
            .map(|step| step.script.other_host.as_deref())
            .collect();
        assert_eq!(hosts, [Some("pgb1"), Some("db3")]);
        assert_eq!(
            undo.done,
            "nothing was stopped; PgBouncer on pgb1, db3 resumed"
        );
        // A failed re-point resumes its own PgBouncer, on its own host.
        let repoint =
            RepointPgbouncer::new("db3", &server, &target("db2", "10.0.0.12"), NEW, false)
                .unwrap_or_else(|error| panic!("{error}"));
        let undo = repoint
            .undo()
            .unwrap_or_else(|| panic!("a re-point has an undo"));
        assert_eq!(undo.scripts[0].script.other_host, None);
        assert_eq!(undo.scripts[0].script.script.name(), "resume_pgbouncer");
        let scripts = repoint.scripts().unwrap_or_else(|error| panic!("{error}"));
        let names: Vec<&str> = scripts.iter().map(|script| script.script.name()).collect();
        assert_eq!(names, ["write_file", "repoint_pgbouncer"]);
        // The console's scripts run as the OS user, as PgBouncer does.
        assert!(scripts[1].script.runs_as_pg_user());
        assert!(undo.scripts[0].script.script.runs_as_pg_user());
        assert!(
            pause.scripts().unwrap_or_default()[0]
                .script
                .runs_as_pg_user()
        );
        assert!(
            !scripts[0].script.runs_as_pg_user(),
            "root writes root's file"
        );
    }
}
