//! `postgresql.conf`: the settings pgconverge manages, written so that every other
//! setting of the host keeps its value, and planned setting by setting.
//!
//! In the `adopt` mode (the default) the host's own file is kept, unchanged, as
//! `postgresql.base.conf` beside it, and pgconverge's file includes it first: every
//! setting the host makes (there or in what it includes, `conf.d`) stays in force
//! unless pgconverge's file sets it after the include, where the inventory wins. In
//! the `own` mode pgconverge's file is the whole configuration, and the plan names
//! every setting and include it drops.
//!
//! The plan compares values in force: the server's (`pg_settings`, in its base units)
//! with the written ones read as the server reads them, so `'128MB'` against
//! `16384` of `8kB` is no change, and it says what each change needs (a reload, or a
//! restart), from the setting's context.

use super::file::{ConfigCheck, DesiredFile};
use super::{Action, AppliesBy, Member, PlanContext, PlannedStep, SettingChange, StepInput};
use crate::diagnostic::Diagnostic;
use crate::facts::{FactsRequest, ObservedSetting};
use crate::inventory::ConfigMode;
use crate::pgconf::value::{self, Kind};
use crate::secret::REDACTED;
use indexmap::IndexMap;
use serde::Serialize;
use std::path::Path;

/// The name the host's own file is kept under, beside pgconverge's.
pub const BASE_FILE: &str = "postgresql.base.conf";

/// The files a server with `ssl = on` cannot start without reading.
const TLS_FILES: [&str; 4] = [
    "ssl_cert_file",
    "ssl_key_file",
    "ssl_ca_file",
    "ssl_crl_file",
];

/// A path as the server reads it: relative to the data directory unless absolute.
fn server_path(value: &str, data_dir: &str) -> String {
    if value.starts_with('/') {
        value.to_string()
    } else {
        format!("{data_dir}/{value}")
    }
}

/// Lines of the file that are includes, not settings.
const INCLUDES: [&str; 3] = ["include", "include_if_exists", "include_dir"];

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PostgresqlConf {
    pub file: DesiredFile,
    pub mode: ConfigMode,
    /// Where the host's own file is kept in the `adopt` mode.
    pub base_path: String,
}

impl PostgresqlConf {
    /// The settings pgconverge's file sets, each with its value as written (what
    /// an `ALTER SYSTEM` setting of the same name overrides).
    pub fn managed_settings(&self) -> IndexMap<String, String> {
        let mut settings = crate::pgconf::settings(&self.file.content);
        settings.retain(|name, _| !is_include(name));
        settings
    }
}

impl Action for PostgresqlConf {
    const PARAMETERS: &'static [&'static str] = &["template", "dest"];

    fn desire(input: &StepInput) -> Result<PostgresqlConf, Diagnostic> {
        let dest = input.dest.clone().unwrap_or_default();
        let base_path = Path::new(&dest)
            .with_file_name(BASE_FILE)
            .to_string_lossy()
            .into_owned();
        let mut file = DesiredFile::from_step(input, dest, 0o644)?;
        file.check = Some(ConfigCheck::PostgresqlConf);
        Ok(PostgresqlConf {
            file,
            mode: input.settings.config_mode,
            base_path,
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.want_file(&self.file.path);
        request.want_file(&self.base_path);
        for (name, value) in crate::pgconf::settings(&self.file.content) {
            if TLS_FILES.contains(&name.as_str()) && !value.is_empty() {
                let path = server_path(&value, &request.settings.data_dir);
                request.want_readable(&path);
            }
        }
    }

    fn rendered_file(&self) -> Option<&DesiredFile> {
        Some(&self.file)
    }

    fn expose<'a>(&'a self, member: &mut Member<'a>) {
        // The first postgresql.conf step's, as one host has one.
        if member.managed_settings.is_empty() {
            member.managed_settings = self.managed_settings();
        }
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let mut planned = self.file.plan(context);
        let Some(super::Operation::WriteFile(write)) = planned.operation.as_mut() else {
            return planned;
        };
        // In a data directory this run replaces (the layout of initdb), the files
        // and the server settings in force are the upstream's.
        let facts = context.facts_of_path(&self.file.path);
        let text = |path: &str| {
            facts
                .and_then(|facts| facts.file(path))
                .map(|file| String::from_utf8_lossy(&file.content).into_owned())
        };
        let current = text(&self.file.path);
        if current.as_deref() == Some(self.file.content.as_str()) {
            // Only the owner or mode differ.
            return planned;
        }
        let base = text(&self.base_path);
        let adopting = self.mode == ConfigMode::Adopt && base.is_none() && current.is_some();
        if self.mode == ConfigMode::Adopt {
            write.keep_as = Some(self.base_path.clone());
        }
        let server = facts.and_then(|facts| facts.server.as_ref());
        let observed = Observed {
            server: server.map(|server| &server.settings),
            written: written_settings(current.as_deref(), base.as_deref(), adopting),
        };
        let wanted = crate::pgconf::settings(&self.file.content);
        let mut changes = Vec::new();
        for (name, new) in wanted.iter().filter(|(name, _)| !is_include(name)) {
            if let Some(change) = observed.change(name, Some(new.as_str())) {
                changes.push(change);
            }
        }
        let dropped = match self.mode {
            ConfigMode::Own => observed.set_outside(&wanted),
            ConfigMode::Adopt if !adopting => current
                .as_deref()
                .map(crate::pgconf::settings)
                .unwrap_or_default()
                .into_keys()
                .filter(|name| !is_include(name) && !wanted.contains_key(name))
                .collect(),
            ConfigMode::Adopt => Vec::new(),
        };
        for name in &dropped {
            let reverts_to = (self.mode == ConfigMode::Adopt)
                .then(|| base.as_deref().map(crate::pgconf::settings))
                .flatten()
                .and_then(|base| base.get(name).cloned());
            if let Some(change) = observed.reverted(name, reverts_to.as_deref()) {
                changes.push(change);
            }
        }
        let defaulted = &context.settings().defaulted_limits;
        if let Some(refusal) = lowered_limit(&changes, defaulted, &observed, &self.file.path)
            .or_else(|| lowered_wal_level(&changes, defaulted))
            .or_else(|| {
                cannot_start(
                    &changes,
                    &observed,
                    context.facts,
                    &wanted,
                    &context.settings().data_dir,
                )
            })
        {
            return PlannedStep::refused(refusal);
        }
        if self.file.sensitive {
            // The file's diff is `(sensitive)`: its values are not shown either.
            changes.iter_mut().for_each(ValueChange::redact);
        }
        let mut details: Vec<String> = changes.iter().map(ValueChange::line).collect();
        if self.mode == ConfigMode::Own {
            for (name, target) in current
                .as_deref()
                .map(crate::pgconf::settings)
                .unwrap_or_default()
                .into_iter()
                .filter(|(name, _)| is_include(name))
            {
                details.push(format!(
                    "- {name} = '{target}'  (dropped: what it includes no longer applies)"
                ));
            }
        }
        planned.setting_changes = changes.iter().map(ValueChange::structured).collect();
        planned.summary = summary(
            &self.file.path,
            self.mode,
            adopting,
            current.is_some(),
            &changes,
            &planned.summary,
        );
        // A file and a server both new: the diff says it all.
        if current.is_none() && server.is_none() {
            details.clear();
        }
        planned.details = details;
        planned
    }
}

/// A hot-standby limit (`max_connections`, ...) the inventory does not set, which
/// pgconverge's default would lower below the value the host's own configuration
/// gives it (not pgconverge's file, whose earlier default it may lower): the
/// host's tuning would be lost, so the step waits for the inventory to say.
fn lowered_limit(
    changes: &[ValueChange],
    defaulted: &[String],
    observed: &Observed,
    managed_path: &str,
) -> Option<String> {
    let lowered: Vec<String> = changes
        .iter()
        .filter(|change| defaulted.contains(&change.name))
        .filter(|change| {
            observed
                .setting(&change.name)
                .is_none_or(|setting| setting.source_file != managed_path)
        })
        .filter_map(|change| {
            let old: i64 = change.old.as_deref()?.parse().ok()?;
            let new: i64 = change.new.parse().ok()?;
            (new < old).then(|| format!("{} = {old}", change.name))
        })
        .collect();
    if lowered.is_empty() {
        return None;
    }
    Some(format!(
        "the server runs with {} and the inventory does not set it; pgconverge's default is lower. \
         Set it in the inventory (the same value keeps it; every standby needs at least its upstream's)",
        lowered.join(", ")
    ))
}

/// `wal_level = logical` a server runs with (its logical slots, publications or
/// subscribers' slots need it) that pgconverge's default `replica` would lower
/// while the inventory does not set `wal_level`: PostgreSQL would not even start
/// with logical slots below `logical`, and every consumer would lose its slot.
fn lowered_wal_level(changes: &[ValueChange], defaulted: &[String]) -> Option<String> {
    let change = changes
        .iter()
        .find(|change| change.name == "wal_level" && defaulted.contains(&change.name))?;
    (change.old.as_deref() == Some("logical") && change.new != "logical").then(|| {
        format!(
            "the server runs with wal_level = logical and the inventory does not set it; pgconverge's default is {}, which would drop logical decoding (a server with logical slots does not start below logical). \
             Set `wal_level: logical` in the inventory to keep it",
            change.new
        )
    })
}

/// A new value the server could not start with, which the facts already show:
/// a preloaded library that is not installed, shared_buffers beyond the host's
/// memory, a certificate it cannot read, a port another process listens on. (The
/// write checks these again before a restart.)
fn cannot_start(
    changes: &[ValueChange],
    observed: &Observed,
    facts: &crate::facts::HostFacts,
    wanted: &IndexMap<String, String>,
    data_dir: &str,
) -> Option<String> {
    let mut reasons = Vec::new();
    let ssl_on = match wanted.get("ssl") {
        Some(value) => {
            value::canonical(
                value,
                Kind {
                    vartype: "bool",
                    unit: "",
                },
            )
            .as_deref()
                == Some("on")
        }
        None => observed
            .setting("ssl")
            .is_some_and(|setting| setting.value == "on"),
    };
    for change in changes {
        match change.name.as_str() {
            name if TLS_FILES.contains(&name) && ssl_on => {
                let path = server_path(&change.new, data_dir);
                if facts.readable.get(&path) == Some(&false) {
                    reasons.push(format!(
                        "{name} = {path} cannot be read by the server, and ssl is on"
                    ));
                }
            }
            "shared_preload_libraries" => {
                let Some(installed) = &facts.installed_libraries else {
                    continue;
                };
                for library in change.new.split(',') {
                    let name = library.trim().trim_matches('"');
                    let name = name.strip_prefix("$libdir/").unwrap_or(name);
                    let name = name.strip_suffix(".so").unwrap_or(name);
                    if !name.is_empty()
                        && !name.contains('/')
                        && !installed.iter().any(|found| found == name)
                    {
                        reasons.push(format!(
                            "shared_preload_libraries names \"{name}\", which is not installed on this host"
                        ));
                    }
                }
            }
            "shared_buffers" => {
                let (Some(memory_kb), Some(setting)) =
                    (facts.memory_kb, observed.setting("shared_buffers"))
                else {
                    continue;
                };
                let kind = Observed::kind(Some(setting));
                let pages =
                    value::canonical(&change.new, kind).and_then(|pages| pages.parse::<f64>().ok());
                if let Some(pages) = pages
                    && pages * 8.0 >= memory_kb as f64
                {
                    reasons.push(format!(
                        "shared_buffers = {} is not less than this host's memory ({} MB)",
                        change.new,
                        memory_kb / 1024
                    ));
                }
            }
            _ => {}
        }
    }
    if changes
        .iter()
        .any(|change| change.name == "port" || change.name == "listen_addresses")
        && let Some(reason) = port_taken(observed, facts, wanted)
    {
        reasons.push(reason);
    }
    (!reasons.is_empty()).then(|| {
        format!(
            "PostgreSQL could not start with this file: {}",
            reasons.join("; ")
        )
    })
}

/// Another process listens on the port the new file names, on an address the
/// server would bind: the server could not start (or not listen everywhere it
/// should). The server's own sockets are those on the port it holds now (from
/// `pg_settings`, or `postmaster.pid` when it does not answer): a restart frees them.
fn port_taken(
    observed: &Observed,
    facts: &crate::facts::HostFacts,
    wanted: &IndexMap<String, String>,
) -> Option<String> {
    let listening = facts.listening.as_ref()?;
    let now = |name: &str| wanted.get(name).cloned().or_else(|| observed.now(name));
    let port: u16 = now("port")?.trim().parse().ok()?;
    let own_port = match observed.setting("port") {
        Some(setting) => setting.value.parse().ok(),
        None => facts.data_directory.postmaster_port,
    };
    if own_port == Some(port) {
        return None;
    }
    let addresses = now("listen_addresses").unwrap_or_else(|| "localhost".to_string());
    let taken = listening.iter().find(|socket| {
        socket.port == port
            && addresses
                .split(',')
                .map(str::trim)
                .filter(|address| !address.is_empty())
                .any(|address| binds_over(address, socket.address))
    })?;
    Some(format!(
        "port {port} is taken: another process listens on {taken}"
    ))
}

/// Whether a server binding `listen` (an entry of `listen_addresses`) collides with
/// a socket listening on `socket` at the same port. A wildcard socket takes every
/// address; a host name other than `localhost` is not resolved here, so it collides
/// only with a wildcard. `write_file.sh` checks the same way before a restart.
fn binds_over(listen: &str, socket: std::net::IpAddr) -> bool {
    if socket.is_unspecified() {
        return true;
    }
    match listen {
        "*" => true,
        "0.0.0.0" => socket.is_ipv4(),
        "::" => socket.is_ipv6(),
        "localhost" => {
            socket == std::net::IpAddr::from([127, 0, 0, 1])
                || socket == std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
        }
        other => other
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| address == socket),
    }
}

fn is_include(name: &str) -> bool {
    INCLUDES.contains(&name)
}

/// What the host's files set, as text, when no server can say what is in force:
/// the host's own file, then (when pgconverge's file is there already) pgconverge's.
fn written_settings(
    current: Option<&str>,
    base: Option<&str>,
    adopting: bool,
) -> IndexMap<String, String> {
    let mut settings = IndexMap::new();
    if !adopting && let Some(base) = base {
        settings.extend(crate::pgconf::settings(base));
    }
    if let Some(current) = current {
        settings.extend(crate::pgconf::settings(current));
    }
    settings.retain(|name, _| !is_include(name));
    settings
}

/// The values in force now: the server's when it runs, else what the files say.
struct Observed<'a> {
    server: Option<&'a IndexMap<String, ObservedSetting>>,
    written: IndexMap<String, String>,
}

impl Observed<'_> {
    fn setting(&self, name: &str) -> Option<&ObservedSetting> {
        self.server.and_then(|settings| settings.get(name))
    }

    fn kind<'s>(setting: Option<&'s ObservedSetting>) -> Kind<'s> {
        setting.map_or(
            Kind {
                vartype: "string",
                unit: "",
            },
            |setting| Kind {
                vartype: &setting.vartype,
                unit: &setting.unit,
            },
        )
    }

    /// The value in force, as `SHOW` shows it, or `None` when nothing says.
    fn now(&self, name: &str) -> Option<String> {
        match self.setting(name) {
            Some(setting) => Some(value::shown(&setting.value, Self::kind(Some(setting)))),
            None => self.written.get(name).cloned(),
        }
    }

    fn same(&self, name: &str, new: &str) -> bool {
        let setting = self.setting(name);
        match setting {
            Some(setting) => value::same(new, &setting.value, Self::kind(Some(setting))),
            None => self
                .written
                .get(name)
                .is_some_and(|old| value::same(new, old, Self::kind(None))),
        }
    }

    /// The change of a setting the new file sets to `new`, if its value changes.
    fn change(&self, name: &str, new: Option<&str>) -> Option<ValueChange> {
        let new = new?;
        if self.same(name, new) {
            return None;
        }
        Some(ValueChange {
            name: name.to_string(),
            old: self.now(name),
            new: new.to_string(),
            unset: false,
            applies_by: AppliesBy::of(self.setting(name)),
        })
    }

    /// A setting the new file no longer sets: it goes back to `reverts_to` (what the
    /// host's own file sets), else to PostgreSQL's default.
    fn reverted(&self, name: &str, reverts_to: Option<&str>) -> Option<ValueChange> {
        let setting = self.setting(name);
        let new = match (reverts_to, setting) {
            (Some(value), _) => value.to_string(),
            (None, Some(setting)) => {
                value::shown(&setting.default_value, Self::kind(Some(setting)))
            }
            (None, None) => "(PostgreSQL's default)".to_string(),
        };
        if reverts_to.is_none()
            && setting.is_some_and(|setting| setting.value == setting.default_value)
        {
            // PostgreSQL asks for a restart whenever a postmaster setting leaves
            // the file it was read from, though its value stays the default.
            return setting
                .filter(|setting| {
                    setting.context == "postmaster" && setting.source == "configuration file"
                })
                .map(|setting| ValueChange {
                    name: name.to_string(),
                    old: self.now(name),
                    new,
                    unset: true,
                    applies_by: AppliesBy::of(Some(setting)),
                });
        }
        if reverts_to.is_some_and(|value| self.same(name, value)) {
            return None;
        }
        Some(ValueChange {
            name: name.to_string(),
            old: self.now(name),
            new,
            unset: reverts_to.is_none(),
            applies_by: AppliesBy::of(setting),
        })
    }

    /// Settings a configuration file sets now that `wanted` does not set: what
    /// writing the whole file drops.
    fn set_outside(&self, wanted: &IndexMap<String, String>) -> Vec<String> {
        let names: Vec<String> = match self.server {
            Some(settings) => settings
                .iter()
                .filter(|(_, setting)| setting.source == "configuration file")
                .map(|(name, _)| name.clone())
                .collect(),
            None => self.written.keys().cloned().collect(),
        };
        names
            .into_iter()
            .filter(|name| !wanted.contains_key(name))
            .collect()
    }
}

/// One setting whose value in force changes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ValueChange {
    name: String,
    /// The value in force now, when known.
    old: Option<String>,
    /// The value after, as the plan shows it (PostgreSQL's default, for one no
    /// file sets any more).
    new: String,
    /// No file sets the setting any more: it goes back to PostgreSQL's default.
    unset: bool,
    applies_by: AppliesBy,
}

impl ValueChange {
    /// `~ archive_mode  off → on  (restart)`.
    fn line(&self) -> String {
        let applies_by = self.applies_by.name();
        match &self.old {
            Some(old) => format!(
                "~ {}  {} → {}  ({applies_by})",
                self.name,
                shown(old),
                shown(&self.new),
            ),
            None => format!("+ {}  → {}  ({applies_by})", self.name, shown(&self.new)),
        }
    }

    /// The change as the plan document lists it.
    fn structured(&self) -> SettingChange {
        SettingChange {
            name: self.name.clone(),
            before: self.old.clone(),
            after: (!self.unset).then(|| self.new.clone()),
            applies_by: self.applies_by,
        }
    }

    /// Hides the values (a file marked `sensitive`).
    fn redact(&mut self) {
        if self.old.is_some() {
            self.old = Some(REDACTED.to_string());
        }
        self.new = REDACTED.to_string();
    }
}

/// A value as the plan shows it: an empty one as `''`.
fn shown(value: &str) -> String {
    if value.is_empty() {
        "''".to_string()
    } else {
        value.to_string()
    }
}

fn summary(
    path: &str,
    mode: ConfigMode,
    adopting: bool,
    existing: bool,
    changes: &[ValueChange],
    file_summary: &str,
) -> String {
    let count = match changes.len() {
        0 => "no setting changes its value".to_string(),
        1 => "1 setting changes".to_string(),
        n => format!("{n} settings change"),
    };
    match (mode, adopting) {
        (ConfigMode::Adopt, true) => format!(
            "adopt {path}: the host's file is kept as {BASE_FILE} and included first; {count}"
        ),
        (ConfigMode::Own, _) if existing => {
            format!("replace {path} whole (pg_config_mode: own); {count}")
        }
        _ => format!("{file_summary}; {count}"),
    }
}

#[cfg(test)]
mod tests {
    use crate::actions::{AppliesBy, DesiredStep, SettingChange};
    use crate::plan::check::{Fixture, THREE_HOSTS, check, converged_cluster, desired};

    /// The hosts of the three-host inventory as it is, planned with that
    /// inventory given `vars` besides its `pg_version`.
    fn converged_then(vars: &str) -> Fixture {
        let facts = converged_cluster(&desired(THREE_HOSTS).0);
        let (desired, playbook) = desired(&THREE_HOSTS.replace(
            "    pg_version: 15\n",
            &format!("    pg_version: 15\n    {vars}\n"),
        ));
        Fixture {
            desired,
            playbook,
            facts,
            options: Default::default(),
        }
    }

    fn setting_changes(fixture: &Fixture, host: &str, step: &str) -> Vec<SettingChange> {
        fixture
            .plan()
            .host(host)
            .and_then(|host| host.steps.iter().find(|planned| planned.id == step))
            .map(|planned| planned.setting_changes.clone())
            .unwrap_or_else(|| panic!("{host} has no step {step}"))
    }

    fn change(
        name: &str,
        before: Option<&str>,
        after: Option<&str>,
        by: AppliesBy,
    ) -> SettingChange {
        SettingChange {
            name: name.to_string(),
            before: before.map(str::to_string),
            after: after.map(str::to_string),
            applies_by: by,
        }
    }

    #[test]
    fn a_changed_reload_setting_is_listed_with_both_values_and_a_reload() {
        let fixture = converged_then("pg_settings: { work_mem: 8MB }");
        assert_eq!(
            setting_changes(&fixture, "db1", "postgresql_conf"),
            vec![change(
                "work_mem",
                Some("4MB"),
                Some("8MB"),
                AppliesBy::Reload
            )]
        );
        let service = check(&fixture, "db1", "pg_service");
        assert!(
            service.starts_with("! pg_service: reload PostgreSQL"),
            "{service}"
        );
    }

    /// The one decision between a reload and a restart (`AppliesBy::of`) is
    /// what the service step follows.
    #[test]
    fn an_added_restart_setting_is_listed_with_a_restart_and_restarts_the_server() {
        let fixture = converged_then("pg_settings: { shared_buffers: 256MB }");
        assert_eq!(
            setting_changes(&fixture, "db1", "postgresql_conf"),
            vec![change(
                "shared_buffers",
                Some("128MB"),
                Some("256MB"),
                AppliesBy::Restart
            )]
        );
        let service = check(&fixture, "db1", "pg_service");
        assert!(
            service.contains("restart PostgreSQL: shared_buffers need a restart"),
            "{service}"
        );
    }

    /// A setting the new file no longer sets goes back to PostgreSQL's default:
    /// `after` is null, the plan's line shows the default.
    #[test]
    fn a_setting_removed_from_the_file_is_listed_with_no_value_after() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(file) = facts
                .files
                .get_mut("/etc/postgresql/15/main/postgresql.conf")
            {
                file.content.extend_from_slice(b"work_mem = '64MB'\n");
            }
            if let Some(setting) = facts
                .server
                .as_mut()
                .and_then(|server| server.settings.get_mut("work_mem"))
            {
                setting.value = "65536".into();
            }
        });
        assert_eq!(
            setting_changes(&fixture, "db1", "postgresql_conf"),
            vec![change("work_mem", Some("64MB"), None, AppliesBy::Reload)]
        );
        let text = check(&fixture, "db1", "postgresql_conf");
        assert!(text.contains("~ work_mem  64MB → 4MB  (reload)"), "{text}");
    }

    #[test]
    fn an_unchanged_file_lists_no_setting_change() {
        assert_eq!(
            setting_changes(&Fixture::converged(), "db1", "postgresql_conf"),
            Vec::new()
        );
        // A file that differs by a comment only is written, and changes no value.
        let commented = Fixture::converged().edit("db1", |facts| {
            if let Some(file) = facts
                .files
                .get_mut("/etc/postgresql/15/main/postgresql.conf")
            {
                file.content.extend_from_slice(b"# edited by hand\n");
            }
        });
        let text = check(&commented, "db1", "postgresql_conf");
        assert!(text.contains("no setting changes its value"), "{text}");
        assert_eq!(
            setting_changes(&commented, "db1", "postgresql_conf"),
            Vec::new()
        );
    }

    /// A `postgresql.conf` step marked `sensitive` shows `(sensitive)` for its
    /// values, as it does for its diff.
    #[test]
    fn a_sensitive_file_shows_no_value_of_its_settings() {
        let mut fixture = converged_then("pg_settings: { work_mem: 8MB }");
        if let Some(DesiredStep::PostgresqlConf(conf)) = fixture
            .desired
            .hosts
            .get_mut("db1")
            .and_then(|host| host.steps.get_mut("postgresql_conf"))
        {
            conf.file.sensitive = true;
        }
        assert_eq!(
            setting_changes(&fixture, "db1", "postgresql_conf"),
            vec![change(
                "work_mem",
                Some("(sensitive)"),
                Some("(sensitive)"),
                AppliesBy::Reload
            )]
        );
        let text = check(&fixture, "db1", "postgresql_conf");
        assert!(!text.contains("8MB") && !text.contains("4MB"), "{text}");
    }

    #[test]
    fn a_fresh_primary_gets_its_configuration_setting_by_setting() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db1", "postgresql_conf"));
    }

    #[test]
    fn a_tuned_limit_is_not_lowered_to_the_default() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(setting) = facts
                .server
                .as_mut()
                .and_then(|server| server.settings.get_mut("max_connections"))
            {
                // The operator's tuning, in the host's own file.
                setting.value = "300".into();
                setting.source_file = "/etc/postgresql/15/main/postgresql.base.conf".into();
            }
            if let Some(file) = facts
                .files
                .get_mut("/etc/postgresql/15/main/postgresql.conf")
            {
                file.content.extend_from_slice(b"# edited by hand\n");
            }
        });
        let text = check(&fixture, "db1", "postgresql_conf");
        assert!(
            text.contains("refused: the server runs with max_connections = 300 and the inventory does not set it"),
            "{text}"
        );
    }

    /// A server adopted with `wal_level = logical` in its own file: the default
    /// `replica` would lower it (a server with logical slots would not start), so
    /// the step waits for the inventory; `wal_level: logical` keeps it.
    #[test]
    fn logical_decoding_is_not_lowered_to_the_default() {
        let with_logical = |fixture: Fixture| {
            fixture.edit("db1", |facts| {
                if let Some(setting) = facts
                    .server
                    .as_mut()
                    .and_then(|server| server.settings.get_mut("wal_level"))
                {
                    setting.value = "logical".into();
                    setting.source_file = "/etc/postgresql/15/main/postgresql.base.conf".into();
                }
                if let Some(file) = facts
                    .files
                    .get_mut("/etc/postgresql/15/main/postgresql.conf")
                {
                    file.content.extend_from_slice(b"# edited by hand\n");
                }
            })
        };
        let text = check(
            &with_logical(Fixture::converged()),
            "db1",
            "postgresql_conf",
        );
        assert!(
            text.contains("refused: the server runs with wal_level = logical and the inventory does not set it")
                && text.contains("Set `wal_level: logical` in the inventory"),
            "{text}"
        );
        let kept = Fixture::converged_with(&crate::plan::check::THREE_HOSTS.replace(
            "    pg_version: 15\n",
            "    pg_version: 15\n    wal_level: logical\n",
        ));
        let text = check(&with_logical(kept), "db1", "postgresql_conf");
        assert!(
            !text.contains("refused") && !text.contains("wal_level"),
            "{text}"
        );
    }

    /// A postmaster setting at its default, read from pgconverge's file, that the
    /// new file no longer sets: PostgreSQL still asks for a restart, so the plan
    /// says restart, not reload (a role change used to restart a new primary
    /// its plan said it would only reload).
    #[test]
    fn a_postmaster_setting_leaving_the_file_is_planned_as_a_restart() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(server) = facts.server.as_mut() {
                let mut setting = crate::plan::check::setting("postmaster", "try", "", "enum");
                setting.default_value = "try".into();
                setting.source = "configuration file".into();
                setting.source_file = "/etc/postgresql/15/main/postgresql.conf".into();
                server.settings.insert("huge_pages".into(), setting);
            }
            if let Some(file) = facts
                .files
                .get_mut("/etc/postgresql/15/main/postgresql.conf")
            {
                file.content.extend_from_slice(b"huge_pages = try\n");
            }
        });
        let text = check(&fixture, "db1", "postgresql_conf");
        assert!(text.contains("huge_pages  try → try  (restart)"), "{text}");
        let service = check(&fixture, "db1", "pg_service");
        assert!(service.contains("restart"), "{service}");
    }

    #[test]
    fn what_the_server_could_not_start_with_is_refused_in_the_plan() {
        let (desired, playbook) = crate::plan::check::desired(&crate::plan::check::THREE_HOSTS.replace(
            "    pg_version: 15\n",
            "    pg_version: 15\n    pg_settings: { shared_buffers: 64GB, shared_preload_libraries: 'pg_stat_statements,missing_one' }\n",
        ));
        let facts = crate::plan::check::converged_cluster(
            &crate::plan::check::desired(crate::plan::check::THREE_HOSTS).0,
        );
        let plan = crate::plan::build::plan(&desired, &playbook, &facts, &Default::default());
        let step = plan
            .host("db1")
            .and_then(|host| host.steps.iter().find(|step| step.id == "postgresql_conf"));
        let refused = step
            .and_then(|step| step.refused.clone())
            .unwrap_or_default();
        assert_eq!(
            refused,
            "PostgreSQL could not start with this file: shared_buffers = 64GB is not less than this host's memory (8192 MB); shared_preload_libraries names \"missing_one\", which is not installed on this host"
        );
    }

    #[test]
    fn a_certificate_the_server_cannot_read_is_refused_in_the_plan() {
        let (desired, playbook) = crate::plan::check::desired(&crate::plan::check::THREE_HOSTS.replace(
            "    pg_version: 15\n",
            "    pg_version: 15\n    pg_settings: { ssl_cert_file: /etc/ssl/private/other.pem }\n",
        ));
        let request = desired.hosts["db1"].facts_request();
        assert_eq!(
            request.readable,
            vec!["/etc/ssl/private/other.pem".to_string()]
        );
        let mut facts = crate::plan::check::converged_cluster(
            &crate::plan::check::desired(crate::plan::check::THREE_HOSTS).0,
        );
        if let Some(Ok(db1)) = facts.get_mut("db1") {
            db1.readable
                .insert("/etc/ssl/private/other.pem".into(), false);
        }
        let plan = crate::plan::build::plan(&desired, &playbook, &facts, &Default::default());
        let refused = plan
            .host("db1")
            .and_then(|host| host.steps.iter().find(|step| step.id == "postgresql_conf"))
            .and_then(|step| step.refused.clone())
            .unwrap_or_default();
        assert_eq!(
            refused,
            "PostgreSQL could not start with this file: ssl_cert_file = /etc/ssl/private/other.pem cannot be read by the server, and ssl is on"
        );
    }

    /// The refusal of db1's `postgresql_conf` step when the inventory adds `vars`
    /// and db1 has `listening` sockets besides the server's own on 5432.
    fn refusal_with_listeners(vars: &str, listening: &[&str]) -> String {
        let (desired, playbook) =
            crate::plan::check::desired(&crate::plan::check::THREE_HOSTS.replace(
                "    pg_version: 15\n",
                &format!("    pg_version: 15\n    {vars}\n"),
            ));
        let mut facts = crate::plan::check::converged_cluster(
            &crate::plan::check::desired(crate::plan::check::THREE_HOSTS).0,
        );
        if let Some(Ok(db1)) = facts.get_mut("db1") {
            let sockets = db1.listening.get_or_insert_with(Vec::new);
            for socket in listening {
                let socket: std::net::SocketAddr =
                    socket.parse().unwrap_or_else(|error| panic!("{error}"));
                sockets.push(crate::facts::ListeningSocket {
                    address: socket.ip(),
                    port: socket.port(),
                });
            }
        }
        let plan = crate::plan::build::plan(&desired, &playbook, &facts, &Default::default());
        let step = plan
            .host("db1")
            .and_then(|host| host.steps.iter().find(|step| step.id == "postgresql_conf"));
        assert!(
            step.is_some_and(|step| step.operation.is_some() || step.refused.is_some()),
            "{step:?}"
        );
        step.and_then(|step| step.refused.clone())
            .unwrap_or_default()
    }

    #[test]
    fn a_port_another_process_listens_on_is_refused_in_the_plan() {
        assert_eq!(
            refusal_with_listeners("pg_port: 5433", &["0.0.0.0:5433"]),
            "PostgreSQL could not start with this file: port 5433 is taken: another process listens on 0.0.0.0:5433"
        );
        assert_eq!(
            refusal_with_listeners(
                "listen_addresses: '10.0.0.11, localhost'\n    pg_port: 5433",
                &["[::1]:5433"]
            ),
            "PostgreSQL could not start with this file: port 5433 is taken: another process listens on [::1]:5433"
        );
    }

    #[test]
    fn a_port_free_where_the_server_binds_is_not_refused() {
        // Taken only on an address the server does not bind.
        assert_eq!(
            refusal_with_listeners(
                "listen_addresses: 10.0.0.11\n    pg_port: 5433",
                &["127.0.0.1:5433"]
            ),
            ""
        );
        // The server's own port: a restart with other addresses frees it first.
        assert_eq!(
            refusal_with_listeners("listen_addresses: 10.0.0.11", &[]),
            ""
        );
        // A free port.
        assert_eq!(
            refusal_with_listeners("pg_port: 5433", &["0.0.0.0:5434"]),
            ""
        );
    }

    #[test]
    fn a_converged_file_is_left_alone() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db1", "postgresql_conf"));
    }
}
