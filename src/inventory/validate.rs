//! Rules on the rendered values of each host: ports, the PostgreSQL version,
//! whole-number settings, the shapes of `pg_settings` and the lists, whether
//! each `pg_settings` name exists in the host's PostgreSQL version, the
//! hot-standby rule between a standby and its upstream, `replication_password`,
//! PgBouncer's variables and what its hosts and their cluster must agree on,
//! and probable typos in variable names.

use crate::diagnostic::{Diagnostic, Location};
use crate::versions::{self, PgVersion};
use ansible_inventory_reader::layout::{Layout, Var};
use ansible_inventory_reader::report::{Problems, location};
use ansible_inventory_reader::resolve::{Resolved, ResolvedHost};
use ansible_inventory_reader::suggest;
use ansible_inventory_reader::yaml::NodeValue;
use indexmap::IndexMap;
use serde_json::Value;
use std::path::Path;

/// The settings a hot standby refuses to start with when they are lower than
/// on the server it replicates from.
pub const HOT_STANDBY_SETTINGS: [&str; 5] = [
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
];

/// The connection variables that must be text, in Ansible's newer and older names.
const CONNECTION_TEXTS: [&str; 4] = [
    "ansible_host",
    "ansible_user",
    "ansible_ssh_host",
    "ansible_ssh_user",
];

/// Prefixes of the variable names pgconverge reserves; an unknown name with
/// one of them is most likely a typo of a documented one.
const RESERVED_PREFIXES: [&str; 3] = ["pg_", "replication_", "pgbouncer_"];

/// A whole number, written as a YAML integer or as text, which is what a
/// rendered template gives.
pub fn whole_number(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64(),
        Value::String(text) => text.parse().ok(),
        _ => None,
    }
}

/// Every check on one host's own values.
pub fn check_host(host: &str, resolved: &ResolvedHost, problems: &mut Problems) {
    let vars = &resolved.vars;
    // `pg_port` and `pg_version` are read, and checked, with the host's settings.
    for name in ["ansible_port", "ansible_ssh_port"] {
        if let Some(port) = vars.get(name) {
            check_port(host, name, port, problems);
        }
    }
    let counts = HOT_STANDBY_SETTINGS
        .iter()
        .chain(&["max_replication_slots"]);
    for name in counts {
        if let Some(count) = vars.get(*name) {
            check_count(host, name, count, problems);
        }
    }
    for name in CONNECTION_TEXTS {
        if let Some(text) = vars.get(name) {
            check_text(host, name, text, problems);
        }
    }
    for name in ["ansible_host", "ansible_ssh_host"] {
        if let Some(address) = vars.get(name) {
            check_address(host, name, address, problems);
        }
    }
    for name in ["ansible_user", "ansible_ssh_user"] {
        if let Some(user) = vars.get(name) {
            check_login(host, name, user, problems);
        }
    }
    if let Some(settings) = vars.get("pg_settings") {
        check_pg_settings(host, settings, problems);
        let version = vars
            .get("pg_version")
            .and_then(|version| PgVersion::parse(&version.value));
        if let Some(version) = version {
            check_pg_settings_exist_in(host, settings, version, problems);
        }
    }
    for name in ["pg_hba_extra", "sensitive_vars"] {
        if let Some(list) = vars.get(name) {
            check_list_of_strings(host, name, list, problems);
        }
    }
    if let Some(level) = vars.get("wal_level") {
        let version = vars
            .get("pg_version")
            .and_then(|version| PgVersion::parse(&version.value));
        let problem = match level.value.as_str() {
            Some("replica") => None,
            Some("logical")
                if version.is_some_and(|version| !crate::versions::LOGICAL_DECODING.in_version(version)) =>
            {
                Some(" is `logical`, which PostgreSQL 9.4 brought: this host's version has no logical decoding".to_string())
            }
            Some("logical") => None,
            _ => Some(format!(" must be `replica` or `logical`, not {}", level.value)),
        };
        if let Some(after) = problem {
            problems.add_for_host(level.location.clone(), host, "`wal_level` of ", after);
        }
    }
    if let Some(settings) = vars.get("pgbouncer_settings") {
        check_pgbouncer_settings(host, settings, problems);
    }
    if let Some(trust) = vars.get("pg_ssh_trust")
        && !trust.value.is_boolean()
    {
        let after = format!(" must be true or false, not {}", trust.value);
        problems.add_for_host(trust.location.clone(), host, "`pg_ssh_trust` of ", after);
    }
}

fn check_port(host: &str, name: &str, port: &Resolved, problems: &mut Problems) {
    if whole_number(&port.value).is_some_and(|number| (1..=65535).contains(&number)) {
        return;
    }
    let after = format!(" must be an integer from 1 to 65535, not {}", port.value);
    problems.add_for_host(port.location.clone(), host, format!("`{name}` of "), after);
}

fn check_count(host: &str, name: &str, count: &Resolved, problems: &mut Problems) {
    if whole_number(&count.value).is_some_and(|number| number >= 0) {
        return;
    }
    let after = format!(" must be a whole number, not {}", count.value);
    problems.add_for_host(count.location.clone(), host, format!("`{name}` of "), after);
}

fn check_text(host: &str, name: &str, text: &Resolved, problems: &mut Problems) {
    if matches!(text.value, Value::String(_) | Value::Number(_)) {
        return;
    }
    let after = format!(" must be text, not {}", text.value);
    problems.add_for_host(text.location.clone(), host, format!("`{name}` of "), after);
}

/// pgconverge writes its variables into line-based files (`postgresql.conf`,
/// `pg_hba.conf`, `.pgpass`, recovery settings), where a line break or NUL in a
/// value would start a line of its own: refused in every documented variable and
/// in the values of `pg_settings` and `pg_hba_extra`, wherever they are nested.
/// Secret values are not quoted in the message.
pub fn check_line_breaks(
    host: &str,
    resolved: &ResolvedHost,
    documented: &[&str],
    problems: &mut Problems,
) {
    fn holds_one(value: &Value) -> bool {
        match value {
            Value::String(text) => text.contains(['\n', '\r', '\0']),
            Value::Array(items) => items.iter().any(holds_one),
            Value::Object(map) => map.values().any(holds_one),
            _ => false,
        }
    }
    for (name, variable) in &resolved.vars {
        // The passwords have their own messages, which explain `.pgpass` and
        // PgBouncer's auth file.
        let own_message = ["replication_password", "pgbouncer_auth_password"];
        if own_message.contains(&name.as_str()) || !documented.contains(&name.as_str()) {
            continue;
        }
        if holds_one(&variable.value) {
            let after =
                " holds a line break or NUL, which the files pgconverge writes cannot carry";
            problems.add_for_host(
                variable.location.clone(),
                host,
                format!("`{name}` of "),
                after,
            );
        }
    }
}

/// `ansible_host` reaches ssh as its destination, and `pg_hba.conf` and libpq as
/// an address: only an IP address or a host name can be all three safely.
fn check_address(host: &str, name: &str, address: &Resolved, problems: &mut Problems) {
    let Some(text) = address.value.as_str() else {
        return;
    };
    let before = format!("`{name}` of ");
    if text.trim().is_empty() {
        let after = " is empty: give the host's IP address or host name, or remove it to use the inventory name";
        problems.add_for_host(address.location.clone(), host, before, after);
    } else if !crate::address::is_address(text) {
        let after = format!(" must be an IP address or a host name, not {text:?}");
        problems.add_for_host(address.location.clone(), host, before, after);
    }
}

/// `ansible_user` reaches ssh as the login: a name that ssh cannot take for an
/// option or a second argument.
fn check_login(host: &str, name: &str, user: &Resolved, problems: &mut Problems) {
    let Some(text) = user.value.as_str() else {
        return;
    };
    if !is_login_name(text) {
        let after = format!(
            " must be a login name (letters, digits, `.`, `_`, `-`, `@`, not starting with `-`), not {text:?}"
        );
        problems.add_for_host(user.location.clone(), host, format!("`{name}` of "), after);
    }
}

/// A user name ssh takes as it is: no option, no shell word splitting.
pub fn is_login_name(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

/// A host's inventory name reaches messages, files and `application_name`: it must
/// be a plain name (letters, digits, `_`, `.`, `-`, not starting with `-` or `.`).
pub fn is_inventory_host_name(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with(['-', '.'])
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

/// Why a host name is refused where the inventory lists it (see
/// [`is_inventory_host_name`]), or `None`.
pub fn refused_host_name(name: &str) -> Option<String> {
    (!is_inventory_host_name(name)).then(|| {
        format!(
            "host name {name:?} must be a plain name (letters, digits, `_`, `.` and `-`, not starting with `-` or `.`)"
        )
    })
}

fn check_pg_settings(host: &str, settings: &Resolved, problems: &mut Problems) {
    let Value::Object(map) = &settings.value else {
        let after = format!(
            " must be a map of setting names to values, not {}",
            settings.value
        );
        problems.add_for_host(settings.location.clone(), host, "`pg_settings` of ", after);
        return;
    };
    for name in map.keys() {
        // PostgreSQL's setting names, custom ones (`extension.name`) included.
        let mut chars = name.chars();
        let valid = chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || "_$.".contains(c));
        if !valid {
            let after = format!(" names {name:?}, which is no PostgreSQL setting name");
            let place = key_location(settings, name);
            problems.add_for_host(place, host, "`pg_settings` of ", after);
        }
    }
    for name in HOT_STANDBY_SETTINGS {
        if !map.contains_key(name) {
            continue;
        }
        let after = format!(
            " sets `{name}`: set the variable `{name}` instead, so that a standby's value can be checked against its upstream's"
        );
        let place = key_location(settings, name);
        problems.add_for_host(place, host, "`pg_settings` of ", after);
    }
}

/// Each `pg_settings` name must exist in the host's PostgreSQL version (as
/// `src/versions.rs` knows them), or the server would refuse to start.
fn check_pg_settings_exist_in(
    host: &str,
    settings: &Resolved,
    version: PgVersion,
    problems: &mut Problems,
) {
    let Value::Object(map) = &settings.value else {
        return;
    };
    for (name, value) in map {
        // Those are refused above, with what to do instead.
        if HOT_STANDBY_SETTINGS.contains(&name.as_str()) {
            continue;
        }
        let place = key_location(settings, name);
        if let Some(problem) = versions::setting_problem(name, value, version) {
            problems.add_for_host(place, host, "`pg_settings` of ", format!(": {problem}"));
            continue;
        }
        match check_setting(name, value, version) {
            CatalogCheck::Accepted => {}
            CatalogCheck::Refused(problem) => {
                problems.add_for_host(place, host, "`pg_settings` of ", format!(": {problem}"));
            }
            CatalogCheck::Unknown(doubt) => problems.warn(place, format!("`pg_settings`: {doubt}")),
        }
    }
}

/// What the catalog says of `name = value` in `version`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum CatalogCheck {
    /// The server accepts it, or the catalog cannot tell (a custom `extension.name`).
    Accepted,
    /// The server refuses it: the text follows "`pg_settings` of host `h`: ".
    Refused(String),
    /// A name the catalog does not know in a version outside [`versions::CATALOG_VERSIONS`]:
    /// it may exist there; a warning.
    Unknown(String),
}

/// Checks one `pg_settings` entry as the server would read it: the name exists in
/// `version` (a name with a dot is an extension's and is not checked), it may be
/// set (not `internal`), and the value is one of its type (a Boolean, a number
/// with a unit of the right kind, in range, one of an enum's values). Names with a
/// version window in `versions::SETTINGS` are checked there first (`versions::setting_problem`).
fn check_setting(name: &str, value: &Value, version: PgVersion) -> CatalogCheck {
    if name.contains('.') {
        return CatalogCheck::Accepted;
    }
    let Some(setting) = versions::setting_type(name, version) else {
        let mut known: Vec<&'static str> = versions::catalog()
            .iter()
            .filter(|row| {
                row.window.contains(version) || !versions::CATALOG_VERSIONS.contains(version)
            })
            .map(|row| row.name)
            .collect();
        known.dedup();
        let close = suggest::closest(name, known.iter().copied());
        let hint = close
            .map(|close| format!(" (did you mean `{close}`?)"))
            .unwrap_or_default();
        if versions::CATALOG_VERSIONS.contains(version) || close.is_some() {
            return CatalogCheck::Refused(format!(
                "`{name}` is no setting of PostgreSQL {version}{hint}"
            ));
        }
        return CatalogCheck::Unknown(format!(
            "`{name}` is no setting pgconverge knows (it knows every setting of PostgreSQL 15 to 18): check that PostgreSQL {version} has it"
        ));
    };
    if setting.context == "internal" {
        return CatalogCheck::Refused(format!(
            "`{name}` cannot be set: PostgreSQL {version} fixes it (internal)"
        ));
    }
    let written = match value {
        Value::String(text) => text.trim().to_string(),
        Value::Bool(flag) => if *flag { "on" } else { "off" }.to_string(),
        Value::Number(number) => number.to_string(),
        // Lists, maps and null are refused as `pg_settings` shapes elsewhere.
        _ => return CatalogCheck::Accepted,
    };
    match value_refusal(setting, &written) {
        Some(why) => CatalogCheck::Refused(format!(
            "`{name} = {written}` is refused by PostgreSQL {version}: {why}"
        )),
        None => CatalogCheck::Accepted,
    }
}

/// Why the server refuses `written` for `setting`, as its `parse_bool`,
/// `parse_int`, `parse_real` and enum lookup would.
fn value_refusal(setting: &versions::SettingType, written: &str) -> Option<String> {
    use crate::pgconf::value::{self, Kind};
    let kind = Kind {
        vartype: setting.vartype,
        unit: setting.unit,
    };
    let name = setting.name;
    match setting.vartype {
        "bool" => value::canonical(written, kind)
            .is_none()
            .then(|| format!("`{name}` is on or off (true, false, yes, no, 1, 0)")),
        "integer" | "real" => {
            let what = if setting.vartype == "integer" {
                "a whole number"
            } else {
                "a number"
            };
            let Some(amount) =
                value::canonical(written, kind).and_then(|text| text.parse::<f64>().ok())
            else {
                let units = match value::unit_names(setting.unit) {
                    Some(names) => format!(
                        ", in {} unless a unit follows it ({})",
                        setting.unit,
                        names.join(", ")
                    ),
                    None => " without a unit".to_string(),
                };
                return Some(format!("`{name}` is {what}{units}"));
            };
            let below = setting.min.is_some_and(|min| amount < min);
            let above = setting.max.is_some_and(|max| amount > max);
            (below || above).then(|| {
                let bound = |bound: Option<f64>| bound.map(|number| number.to_string());
                let range = format!(
                    "`{name}` goes from {} to {}",
                    bound(setting.min).unwrap_or_else(|| "any".to_string()),
                    bound(setting.max).unwrap_or_else(|| "any".to_string()),
                );
                if setting.unit.is_empty() {
                    range
                } else {
                    format!("{range} of {} ({written} is {amount})", setting.unit)
                }
            })
        }
        "enum" => {
            let lower = written.to_lowercase();
            let hidden = versions::hidden_enum_values(setting);
            let accepted = setting.enum_values.iter().chain(&hidden);
            if accepted.clone().any(|value| value.to_lowercase() == lower) {
                return None;
            }
            let listed: Vec<String> = setting
                .enum_values
                .iter()
                .map(|value| format!("`{value}`"))
                .collect();
            let candidates: Vec<&'static str> = accepted.copied().collect();
            let close = suggest::closest(&lower, candidates.iter().copied())
                .map(|close| format!(" (did you mean `{close}`?)"))
                .unwrap_or_default();
            Some(format!("`{name}` is one of {}{close}", listed.join(", ")))
        }
        _ => None,
    }
}

/// Where `key` is written inside a map value, or the value itself when the map
/// was rendered from a template.
fn key_location(map: &Resolved, key: &str) -> Location {
    let entry = map
        .node
        .and_then(|node| node.as_mapping())
        .and_then(|entries| entries.iter().find(|entry| entry.key == key));
    match entry {
        Some(entry) => location(&map.location.file, Some(entry.key_position)),
        None => map.location.clone(),
    }
}

fn check_list_of_strings(host: &str, name: &str, list: &Resolved, problems: &mut Problems) {
    let is_list_of_strings = match &list.value {
        Value::Array(items) => items.iter().all(Value::is_string),
        _ => false,
    };
    if !is_list_of_strings {
        let after = format!(" must be a list of strings, not {}", list.value);
        problems.add_for_host(list.location.clone(), host, format!("`{name}` of "), after);
    }
}

/// `pg_hba_extra` lines that let a client in over the network without a
/// password (`trust`) or with a weak one (`password` sends it as it is, `md5`
/// accepts the md5 hash): a warning each, at the line in the inventory. They are
/// the user's to decide (a trusted network exists), so they do not block.
pub fn weak_access_rules(resolved: &ResolvedHost) -> Vec<Diagnostic> {
    let Some(extra) = resolved.vars.get("pg_hba_extra") else {
        return Vec::new();
    };
    let Value::Array(lines) = &extra.value else {
        return Vec::new();
    };
    // Each line's own place when the list is written in the inventory, else the variable's.
    let written = extra.node.and_then(|node| match &node.value {
        NodeValue::Sequence(items) if items.len() == lines.len() => Some(items),
        _ => None,
    });
    let mut warnings = Vec::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(problem) = line.as_str().and_then(weak_access_rule) else {
            continue;
        };
        let place = match written.and_then(|items| items.get(index)) {
            Some(item) => location(&extra.location.file, Some(item.position)),
            None => extra.location.clone(),
        };
        warnings.push(Diagnostic {
            location: place,
            message: format!("`pg_hba_extra` line {}: {problem}", index + 1),
        });
    }
    warnings
}

/// What is weak about one `pg_hba.conf` line, if anything: a `host*` line
/// (any connection over the network) whose method is `trust`, `password` or `md5`.
/// The line is read as `pgconf::hba` reads the host's file.
fn weak_access_rule(line: &str) -> Option<String> {
    let rule = crate::pgconf::hba::rules(line).into_iter().next()?;
    let from = rule.address.as_deref()?;
    let why = match rule.method.as_str() {
        "trust" => "lets anyone who reaches the server from there in without a password",
        "password" => {
            "sends the password as it is, which whoever sees the connection reads unless it is TLS: use scram-sha-256"
        }
        "md5" => "accepts md5 password hashes, which are weak: use scram-sha-256",
        _ => return None,
    };
    Some(format!(
        "`{}` from `{from}` with `{}` {why}",
        rule.kind, rule.method
    ))
}

/// One side of a replication link.
pub struct Server<'a, 'doc> {
    pub name: &'a str,
    pub vars: &'a ResolvedHost<'doc>,
}

/// A hot standby refuses to start when any of [`HOT_STANDBY_SETTINGS`] is lower
/// than on its upstream, so each must be at least as high.
pub fn check_hot_standby(
    standby: &Server,
    upstream: &Server,
    defaults_file: &Path,
    problems: &mut Problems,
) {
    for name in HOT_STANDBY_SETTINGS {
        let (Some(own), Some(upstreams)) =
            (standby.vars.vars.get(name), upstream.vars.vars.get(name))
        else {
            continue;
        };
        let (Some(own_value), Some(upstream_value)) =
            (whole_number(&own.value), whole_number(&upstreams.value))
        else {
            continue;
        };
        if own_value >= upstream_value {
            continue;
        }
        // Point at the standby's value when the inventory writes it, else at
        // the upstream's, which is then what raised the bar.
        let place = if own.location.file != defaults_file {
            own.location.clone()
        } else {
            upstreams.location.clone()
        };
        let message = format!(
            "host `{}` (standby) sets {name} = {own_value}, lower than its upstream `{}` ({upstream_value}): a hot standby refuses to start",
            standby.name, upstream.name
        );
        problems.add(place, message);
    }
}

/// A replication cluster has one virtual IP: a standby's `cluster_vip` is its
/// upstream's (the primary moves it to whichever member takes over).
pub fn check_same_virtual_ip(standby: &Server, upstream: &Server, problems: &mut Problems) {
    let vip = |server: &Server| {
        server
            .vars
            .vars
            .get("cluster_vip")
            .map(|found| (found.value.clone(), found.location.clone()))
    };
    let (Some((own, place)), Some((upstreams, _))) = (vip(standby), vip(upstream)) else {
        return;
    };
    if own != upstreams {
        problems.add(
            place,
            format!(
                "host `{}` sets cluster_vip = {own}, and its upstream `{}` {upstreams}: a replication cluster has one virtual IP",
                standby.name, upstream.name
            ),
        );
    }
}

/// A cluster with standbys needs `replication_password` on every host: the
/// primary creates the replication role with it and standbys log in with it.
pub fn check_replication_password(
    hosts: &IndexMap<String, ResolvedHost>,
    standby_count: usize,
    place: Location,
    problems: &mut Problems,
) {
    if standby_count == 0 {
        return;
    }
    for (host, resolved) in hosts {
        let name = "replication_password";
        if resolved.vars.contains_key(name) || resolved.failed.contains(name) {
            continue;
        }
        let after = ": standbys need it to connect to their upstream; set it under `all.vars`, for example to \"{{ lookup('env', 'PG_REPLICATION_PASSWORD') }}\"";
        problems.add_for_host(
            place.clone(),
            host,
            "`replication_password` is not set for ",
            after,
        );
    }
}

/// The `[pgbouncer]` settings pgconverge writes itself in `pgbouncer.ini`,
/// with the variable that sets each (empty: pgconverge decides it alone).
pub const PGBOUNCER_MANAGED: [(&str, &str); 11] = [
    ("listen_addr", "pgbouncer_listen_addr"),
    ("listen_port", "pgbouncer_port"),
    ("unix_socket_dir", "pgbouncer_socket_dir"),
    ("pidfile", "pgbouncer_socket_dir"),
    ("pool_mode", "pgbouncer_pool_mode"),
    ("auth_type", ""),
    ("auth_file", "pgbouncer_config_dir"),
    ("auth_user", "pgbouncer_auth_user"),
    ("auth_query", ""),
    ("auth_dbname", ""),
    ("server_fast_close", ""),
];

/// `pgbouncer_settings`: a map of `[pgbouncer]` setting names to values, each
/// of which one line of `pgbouncer.ini` holds as it is (PgBouncer trims the
/// spaces around a value and reads to the end of its line), and none of the
/// settings pgconverge writes itself.
fn check_pgbouncer_settings(host: &str, settings: &Resolved, problems: &mut Problems) {
    const NAME: &str = "`pgbouncer_settings` of ";
    let Value::Object(map) = &settings.value else {
        let after = format!(
            " must be a map of PgBouncer setting names to values, not {}",
            settings.value
        );
        problems.add_for_host(settings.location.clone(), host, NAME, after);
        return;
    };
    for (name, value) in map {
        let place = key_location(settings, name);
        let valid_name = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            let after = format!(" names {name:?}, which is no PgBouncer setting name");
            problems.add_for_host(place, host, NAME, after);
            continue;
        }
        if let Some((_, variable)) = PGBOUNCER_MANAGED
            .iter()
            .find(|(managed, _)| managed == name)
        {
            let instead = if variable.is_empty() {
                "pgconverge decides it".to_string()
            } else {
                format!("set `{variable}` instead")
            };
            let after = format!(" sets `{name}`, which pgconverge writes itself: {instead}");
            problems.add_for_host(place, host, NAME, after);
            continue;
        }
        let text = match value {
            Value::String(text) => text.clone(),
            Value::Number(number) => number.to_string(),
            Value::Bool(_) => continue,
            other => {
                let after = format!(
                    " gives `{name}` {other}: a value must be text, a number or true/false"
                );
                problems.add_for_host(place, host, NAME, after);
                continue;
            }
        };
        if text.trim() != text || text.is_empty() {
            let after = format!(
                " gives `{name}` {text:?}: pgbouncer.ini cannot hold an empty value or one with a space at either end"
            );
            problems.add_for_host(place, host, NAME, after);
        }
    }
}

/// What a replication cluster with PgBouncer hosts needs: PostgreSQL 10 or later
/// on its members (clients log in with SCRAM, from verifiers `auth_query` reads),
/// `pgbouncer_auth_password` on its primary and on every PgBouncer host, and the
/// same auth role and password on all of them (the primary makes the role the
/// PgBouncer hosts log in as); and on a member that runs PgBouncer, another
/// port than its PostgreSQL's.
pub struct PgbouncerCluster<'a> {
    /// The hosts of the cluster that run PgBouncer or are its primary, each with
    /// its settings, its variables and whether it is the primary.
    pub hosts: Vec<PgbouncerClusterHost<'a>>,
}

/// One host of [`PgbouncerCluster`].
pub struct PgbouncerClusterHost<'a> {
    pub name: &'a str,
    pub settings: &'a super::HostSettings,
    pub vars: &'a ResolvedHost<'a>,
    pub primary: bool,
    /// In the group `pgbouncer`.
    pub runs_pgbouncer: bool,
    /// A member of the cluster (primary or standby), with a PostgreSQL of its own.
    pub member: bool,
}

pub fn check_pgbouncer(cluster: &PgbouncerCluster, all_at: &Location, problems: &mut Problems) {
    if !cluster.hosts.iter().any(|host| host.runs_pgbouncer) {
        return;
    }
    let place = |host: &PgbouncerClusterHost, name: &str| {
        host.vars
            .vars
            .get(name)
            .map(|found| found.location.clone())
            .unwrap_or_else(|| all_at.clone())
    };
    for host in &cluster.hosts {
        if host.member && !versions::SCRAM_SHA_256.in_version(host.settings.pg_version) {
            let after = format!(
                " is {}, and PgBouncer's clients (the group `pgbouncer`) log in with SCRAM, which PostgreSQL has from 10",
                host.settings.pg_version
            );
            problems.add_for_host(
                place(host, "pg_version"),
                host.name,
                "`pg_version` of ",
                after,
            );
        }
        // PgBouncer reads its pgbouncer.ini to the end of each line and trims
        // the spaces around a value: a path there must have none at either end.
        let bouncer = &host.settings.pgbouncer;
        let paths = [
            ("pgbouncer_config_dir", &bouncer.config_dir),
            ("pgbouncer_socket_dir", &bouncer.socket_dir),
        ];
        for (name, path) in paths.into_iter().filter(|_| host.runs_pgbouncer) {
            if path.trim() != path.as_str() {
                let after = format!(
                    " is {path:?}: pgbouncer.ini cannot hold a path that begins or ends with a space"
                );
                problems.add_for_host(place(host, name), host.name, format!("`{name}` of "), after);
            }
        }
        if host.runs_pgbouncer && host.member && host.settings.pgbouncer.port == host.settings.port
        {
            let after = format!(
                " is {}, the port of its PostgreSQL: PgBouncer needs a port of its own",
                host.settings.port
            );
            problems.add_for_host(
                place(host, "pgbouncer_port"),
                host.name,
                "`pgbouncer_port` of ",
                after,
            );
        }
        let name = "pgbouncer_auth_password";
        let failed = host.vars.failed.contains(name);
        match host.vars.vars.get(name).map(|found| &found.value) {
            None if !failed => {
                let why = if host.primary {
                    "its primary makes the role PgBouncer logs in as"
                } else {
                    "PgBouncer logs in with it to look up its clients' passwords"
                };
                let after = format!(
                    ": {why}; set it under `all.vars`, for example to \"{{{{ lookup('env', 'PGBOUNCER_AUTH_PASSWORD') }}}}\""
                );
                problems.add_for_host(
                    all_at.clone(),
                    host.name,
                    "`pgbouncer_auth_password` is not set for ",
                    after,
                );
            }
            Some(Value::String(_)) | None => {}
            // Never quoted: the value is a secret.
            Some(_) => {
                problems.add_for_host(
                    place(host, name),
                    host.name,
                    "`pgbouncer_auth_password` of ",
                    " must be text",
                );
            }
        }
    }
    // Every host must log in as the role the primary makes, with its password.
    let Some(first) = cluster.hosts.first() else {
        return;
    };
    for host in &cluster.hosts[1..] {
        let (this, that) = (&host.settings.pgbouncer, &first.settings.pgbouncer);
        if this.auth_user != that.auth_user {
            let after = format!(
                " is {:?}, and {:?} on {}: the PgBouncer hosts log in as the role their primary makes, so all must say the same",
                this.auth_user, that.auth_user, first.name
            );
            problems.add_for_host(
                place(host, "pgbouncer_auth_user"),
                host.name,
                "`pgbouncer_auth_user` of ",
                after,
            );
        }
        let differs = match (&this.auth_password, &that.auth_password) {
            (Some(this), Some(that)) => this.expose() != that.expose(),
            _ => false,
        };
        if differs {
            let after = format!(
                " differs from {}'s: the PgBouncer hosts log in with the password their primary sets, so all must say the same",
                first.name
            );
            problems.add_for_host(
                place(host, "pgbouncer_auth_password"),
                host.name,
                "`pgbouncer_auth_password` of ",
                after,
            );
        }
    }
}

/// Reports variables written in the inventory that pgconverge does not know but
/// whose names are close to one it does, most likely typos of it. A name with one
/// of pgconverge's prefixes (`pg_verison`) is an error; any other (`upstrem`,
/// `replicaton_user`) a warning, since a shared inventory holds other roles'
/// variables too, and pgconverge cannot know they are no typo. `ansible_*` names
/// are Ansible's: those pgconverge does not honour are named apart.
pub fn check_variable_names(layout: &Layout, documented: &[&str], problems: &mut Problems) {
    for var in layout.every_var() {
        check_variable_name(var, documented, problems);
    }
}

fn check_variable_name(var: &Var, documented: &[&str], problems: &mut Problems) {
    let name = var.entry.key.as_str();
    if documented.contains(&name) || name.starts_with("ansible_") {
        return;
    }
    let reserved = RESERVED_PREFIXES
        .iter()
        .any(|prefix| name.starts_with(prefix));
    let close = if reserved {
        suggest::closest(name, documented.iter().copied())
    } else {
        suggest::likely_typo(name, documented.iter().copied())
    };
    let Some(close) = close else {
        return;
    };
    if reserved {
        let message = format!("unknown variable `{name}` (did you mean `{close}`?)");
        problems.add(var.key_location(), message);
    } else {
        let message = format!(
            "pgconverge does not know the variable `{name}` and reads none by that name (did you mean `{close}`?)"
        );
        problems.warn(var.key_location(), message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ansible_inventory_reader::yaml::{self, Node};
    use std::path::PathBuf;

    fn place(line: usize) -> Location {
        Location {
            file: PathBuf::from("inventory.yml"),
            line: Some(line),
            column: Some(9),
        }
    }

    /// A host whose variables are the entries of a YAML map, each placed at
    /// its line in `inventory.yml`, and whose nodes are kept for key places.
    fn host_from(document: &Node) -> ResolvedHost<'_> {
        let mut host = ResolvedHost::default();
        for entry in document.as_mapping().unwrap_or_default() {
            let variable = Resolved {
                value: entry.value.to_json(),
                location: location(Path::new("inventory.yml"), Some(entry.value.position)),
                node: Some(&entry.value),
            };
            host.vars.insert(entry.key.clone(), variable);
        }
        host
    }

    fn problems_text(problems: Problems) -> Vec<String> {
        problems
            .into_diagnostics()
            .0
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    fn check(variables: &str, expected: &[&str]) {
        assert_eq!(problems_of(variables), expected);
    }

    fn problems_of(variables: &str) -> Vec<String> {
        let document = yaml::parse(variables).expect("the test YAML parses");
        let mut problems = Problems::default();
        let host = host_from(&document);
        check_host("db1", &host, &mut problems);
        // The host's settings (`pg_port`, `pg_version`) are checked as they are read.
        super::super::settings::read("db1", &host, &mut problems);
        problems_text(problems)
    }

    #[test]
    fn good_values_pass() {
        check(
            "
ansible_port: 22
pg_port: \"5433\"
pg_version: 15
max_connections: 100
max_replication_slots: \"0\"
ansible_host: 10.0.0.1
ansible_user: admin
pg_settings: {work_mem: 4MB}
pg_hba_extra: [\"host all all 10.0.0.0/8 scram-sha-256\"]
sensitive_vars: []
",
            &[],
        );
    }

    #[test]
    fn no_variables_pass() {
        check("{}", &[]);
    }

    #[test]
    fn versions_from_8_3_are_accepted() {
        for version in ["9.6", "9.0", "17", "\"8.3\"", "8.4", "\"16\""] {
            check(&format!("pg_version: {version}\n"), &[]);
        }
        let expected = |shown: &str| {
            format!(
                "inventory.yml:1:13: `pg_version` of host `db1` must be a PostgreSQL major version (8.3 to 9.6 written with two numbers, or 10 and up), not {shown}"
            )
        };
        for (version, shown) in [
            ("8", "8"),
            ("8.2", "8.2"),
            ("15.2", "15.2"),
            ("fifteen", "\"fifteen\""),
        ] {
            check(&format!("pg_version: {version}\n"), &[&expected(shown)]);
        }
    }

    #[test]
    fn settings_pgconverge_acts_on_are_reported_where_they_are_written() {
        check(
            "pg_data_dir: [a]\nreplication_mode: warm\n",
            &[
                "inventory.yml:1:14: `pg_data_dir` of host `db1` must be text, not [\"a\"]",
                "inventory.yml:2:19: `replication_mode` of host `db1` must be `streaming`, `synchronous` or `archive`, not \"warm\"",
            ],
        );
    }

    #[test]
    fn log_connections_of_18_is_a_list_of_stages() {
        check(
            "pg_version: 18\npg_settings:\n  log_connections: receipt,authentication\n",
            &[],
        );
        check("pg_version: 18\npg_settings:\n  log_connections: on\n", &[]);
        check(
            "pg_version: 18\npg_settings:\n  log_connections: receipt,autentication\n",
            &[
                "inventory.yml:3:3: `pg_settings` of host `db1`: `log_connections = receipt,autentication`: PostgreSQL 18 does not know `autentication`; it takes a list of receipt, authentication, authorization, setup_durations, all (or on or off)",
            ],
        );
        // Before 18 it is a Boolean, as the catalog types it.
        let earlier = problems_of("pg_version: 17\npg_settings:\n  log_connections: receipt\n");
        assert_eq!(earlier.len(), 1, "{earlier:?}");
    }

    #[test]
    fn wal_level_is_replica_or_logical() {
        check("wal_level: logical\n", &[]);
        check(
            "wal_level: minimal\n",
            &[
                "inventory.yml:1:12: `wal_level` of host `db1` must be `replica` or `logical`, not \"minimal\"",
            ],
        );
        check(
            "pg_version: 9.3\nwal_level: logical\n",
            &[
                "inventory.yml:2:12: `wal_level` of host `db1` is `logical`, which PostgreSQL 9.4 brought: this host's version has no logical decoding",
            ],
        );
    }

    #[test]
    fn failover_slots_need_17_slots_and_streaming() {
        check("pg_version: 17\nfailover_slots: true\n", &[]);
        check("pg_version: 15\nfailover_slots: false\n", &[]);
        check(
            "pg_version: 15\nfailover_slots: true\n",
            &[
                "inventory.yml:2:17: `failover_slots` of host `db1` needs PostgreSQL 17 or later (the standbys' slot synchronisation), and `pg_version` is 15",
            ],
        );
        check(
            "pg_version: 17\nreplication_slots: false\nfailover_slots: true\n",
            &[
                "inventory.yml:3:17: `failover_slots` of host `db1` needs `replication_slots: true`: a standby syncs logical slots through its own physical slot",
            ],
        );
        check(
            "pg_version: 17\nfailover_slots: \"yes\"\n",
            &[
                "inventory.yml:2:17: `failover_slots` of host `db1` must be true or false, not \"yes\"",
            ],
        );
    }

    #[test]
    fn ssh_trust_is_true_or_false() {
        check("pg_ssh_trust: true\n", &[]);
        check(
            "pg_ssh_trust: \"yes\"\n",
            &[
                "inventory.yml:1:15: `pg_ssh_trust` of host `db1` must be true or false, not \"yes\"",
            ],
        );
    }

    #[test]
    fn bad_values_are_each_reported() {
        check(
            "
ansible_port: 70000
pg_port: 0
max_connections: lots
max_wal_senders: -1
ansible_user: [a]
pg_settings: [work_mem]
pg_hba_extra: \"host all all\"
sensitive_vars: [1]
",
            &[
                "inventory.yml:2:15: `ansible_port` of host `db1` must be an integer from 1 to 65535, not 70000",
                "inventory.yml:3:10: `pg_port` of host `db1` must be an integer from 1 to 65535, not 0",
                "inventory.yml:4:18: `max_connections` of host `db1` must be a whole number, not \"lots\"",
                "inventory.yml:5:18: `max_wal_senders` of host `db1` must be a whole number, not -1",
                "inventory.yml:6:15: `ansible_user` of host `db1` must be text, not [\"a\"]",
                "inventory.yml:7:14: `pg_settings` of host `db1` must be a map of setting names to values, not [\"work_mem\"]",
                "inventory.yml:8:15: `pg_hba_extra` of host `db1` must be a list of strings, not \"host all all\"",
                "inventory.yml:9:17: `sensitive_vars` of host `db1` must be a list of strings, not [1]",
            ],
        );
    }

    #[test]
    fn hot_standby_settings_may_not_hide_in_pg_settings() {
        check(
            "pg_settings:\n  work_mem: 4MB\n  max_connections: 10\n",
            &[
                "inventory.yml:3:3: `pg_settings` of host `db1` sets `max_connections`: set the variable `max_connections` instead, so that a standby's value can be checked against its upstream's",
            ],
        );
    }

    #[test]
    fn pg_settings_must_exist_in_the_hosts_version() {
        check(
            "pg_version: 15\npg_settings:\n  work_mem: 4MB\n  wal_keep_segments: 64\n  checkpoint_segments: 32\n",
            &[
                "inventory.yml:4:3: `pg_settings` of host `db1`: `wal_keep_segments` does not exist in PostgreSQL 15 (removed in 13: use wal_keep_size)",
                "inventory.yml:5:3: `pg_settings` of host `db1`: `checkpoint_segments` does not exist in PostgreSQL 15 (removed in 9.5: use max_wal_size and min_wal_size)",
            ],
        );
        check(
            "pg_version: \"9.4\"\npg_settings:\n  max_wal_size: 1GB\n  primary_conninfo: host=db1\n  password_encryption: scram-sha-256\n",
            &[
                "inventory.yml:3:3: `pg_settings` of host `db1`: `max_wal_size` does not exist in PostgreSQL 9.4 (introduced in 9.5: use checkpoint_segments)",
                "inventory.yml:4:3: `pg_settings` of host `db1`: `primary_conninfo` is not a postgresql.conf setting in PostgreSQL 9.4 (a recovery.conf setting before 12: pgconverge writes recovery.conf for standbys itself)",
                "inventory.yml:5:3: `pg_settings` of host `db1`: `password_encryption = scram-sha-256` is not accepted by PostgreSQL 9.4 (introduced in 10: use on (md5))",
            ],
        );
        check(
            "pg_version: 13\npg_settings:\n  wal_keep_size: 1GB\n  max_slot_wal_keep_size: 10GB\n",
            &[],
        );
    }

    /// `shared_bufers`, `12XB` and `-3GB` once went into postgresql.conf and
    /// failed only at apply.
    /// PostgreSQL reads setting names without regard to case: `timezone` is
    /// `TimeZone`, and `Shared_Buffers` a setting like any other.
    #[test]
    fn pg_settings_names_are_read_whatever_their_case() {
        check(
            "pg_version: 15\npg_settings:\n  timezone: UTC\n  Shared_Buffers: 128MB\n",
            &[],
        );
    }

    #[test]
    fn pg_settings_names_and_values_are_checked_as_the_server_reads_them() {
        check(
            "pg_version: 15\npg_settings:\n  shared_bufers: 1GB\n  work_mem: 12XB\n  effective_cache_size: -3GB\n  synchronous_commit: remote_aply\n  jit: maybe\n  max_wal_size: 5s\n  block_size: 8192\n",
            &[
                "inventory.yml:3:3: `pg_settings` of host `db1`: `shared_bufers` is no setting of PostgreSQL 15 (did you mean `shared_buffers`?)",
                "inventory.yml:4:3: `pg_settings` of host `db1`: `work_mem = 12XB` is refused by PostgreSQL 15: `work_mem` is a whole number, in kB unless a unit follows it (B, kB, MB, GB, TB)",
                "inventory.yml:5:3: `pg_settings` of host `db1`: `effective_cache_size = -3GB` is refused by PostgreSQL 15: `effective_cache_size` goes from 1 to 2147483647 of 8kB (-3GB is -393216)",
                "inventory.yml:6:3: `pg_settings` of host `db1`: `synchronous_commit = remote_aply` is refused by PostgreSQL 15: `synchronous_commit` is one of `local`, `remote_write`, `remote_apply`, `on`, `off` (did you mean `remote_apply`?)",
                "inventory.yml:7:3: `pg_settings` of host `db1`: `jit = maybe` is refused by PostgreSQL 15: `jit` is on or off (true, false, yes, no, 1, 0)",
                "inventory.yml:8:3: `pg_settings` of host `db1`: `max_wal_size = 5s` is refused by PostgreSQL 15: `max_wal_size` is a whole number, in MB unless a unit follows it (B, kB, MB, GB, TB)",
                "inventory.yml:9:3: `pg_settings` of host `db1`: `block_size` cannot be set: PostgreSQL 15 fixes it (internal)",
            ],
        );
        check(
            "pg_version: 17\npg_settings:\n  max_connections_x: 1\n  maintenance_work_mem: 64kB\n  wal_level: hot_standby\n  log_min_messages: DEBUG\n  huge_pages: \"true\"\n  random_page_cost: 1.1\n  checkpoint_timeout: 15min\n  pg_stat_statements.max: 10000\n  jit: off\n  transaction_timeout: 0\n",
            &[
                "inventory.yml:3:3: `pg_settings` of host `db1`: `max_connections_x` is no setting of PostgreSQL 17 (did you mean `max_connections`?)",
            ],
        );
    }

    #[test]
    fn pg_settings_values_are_checked_for_the_hosts_version() {
        // 64kB is below the minimum of 15, not of 17; `transaction_timeout` came in 17.
        check(
            "pg_version: 15\npg_settings:\n  maintenance_work_mem: 64kB\n  transaction_timeout: 10s\n",
            &[
                "inventory.yml:3:3: `pg_settings` of host `db1`: `maintenance_work_mem = 64kB` is refused by PostgreSQL 15: `maintenance_work_mem` goes from 1024 to 2147483647 of kB (64kB is 64)",
                "inventory.yml:4:3: `pg_settings` of host `db1`: `transaction_timeout` is no setting of PostgreSQL 15",
            ],
        );
        // Outside the versions the catalog knows whole, a typo is still an error,
        // and a name it does not know is left to the server.
        check(
            "pg_version: 12\npg_settings:\n  shared_bufers: 1GB\n  operator_precedence_warning: on\n  work_mem: 12XB\n",
            &[
                "inventory.yml:3:3: `pg_settings` of host `db1`: `shared_bufers` is no setting of PostgreSQL 12 (did you mean `shared_buffers`?)",
                "inventory.yml:5:3: `pg_settings` of host `db1`: `work_mem = 12XB` is refused by PostgreSQL 12: `work_mem` is a whole number, in kB unless a unit follows it (B, kB, MB, GB, TB)",
            ],
        );
    }

    #[test]
    fn pg_settings_of_18_are_checked_against_18s_catalog() {
        // 18's new settings pass, `log_connections` takes a list, and
        // `ssl_ecdh_curve` is still accepted as another name of `ssl_groups`.
        check(
            "pg_version: 18\npg_settings:\n  io_method: worker\n  io_workers: 4\n  ssl_groups: 'X25519:prime256v1'\n  ssl_ecdh_curve: prime256v1\n  log_lock_failures: on\n  idle_replication_slot_timeout: 1d\n  autovacuum_worker_slots: 16\n  log_connections: 'receipt,authentication'\n  md5_password_warnings: off\n",
            &[],
        );
        // Its refusals: an io_method it does not have, io_workers above 32, a
        // setting 18 removed.
        check(
            "pg_version: 18\npg_settings:\n  io_method: threads\n  io_workers: 64\n  extension_destdir: /srv/ext\n",
            &[
                "inventory.yml:3:3: `pg_settings` of host `db1`: `io_method = threads` is refused by PostgreSQL 18: `io_method` is one of `sync`, `worker`, `io_uring`",
                "inventory.yml:4:3: `pg_settings` of host `db1`: `io_workers = 64` is refused by PostgreSQL 18: `io_workers` goes from 1 to 32",
                "inventory.yml:5:3: `pg_settings` of host `db1`: `extension_destdir` is no setting of PostgreSQL 18",
            ],
        );
        // 17 has none of 18's new settings, and its `log_connections` is on or off.
        check(
            "pg_version: 17\npg_settings:\n  io_method: worker\n  log_connections: 'receipt,authentication'\n",
            &[
                "inventory.yml:3:3: `pg_settings` of host `db1`: `io_method` is no setting of PostgreSQL 17",
                "inventory.yml:4:3: `pg_settings` of host `db1`: `log_connections = receipt,authentication` is refused by PostgreSQL 17: `log_connections` is on or off (true, false, yes, no, 1, 0)",
            ],
        );
    }

    #[test]
    fn pg_settings_are_not_checked_against_an_invalid_version() {
        check(
            "pg_version: fifteen\npg_settings:\n  wal_keep_segments: 64\n",
            &[
                "inventory.yml:1:13: `pg_version` of host `db1` must be a PostgreSQL major version (8.3 to 9.6 written with two numbers, or 10 and up), not \"fifteen\"",
            ],
        );
    }

    fn server_vars(list: &[(&str, Value, usize)], file: &str) -> ResolvedHost<'static> {
        let mut host = ResolvedHost::default();
        for (name, value, line) in list {
            let mut location = place(*line);
            location.file = PathBuf::from(file);
            let variable = Resolved {
                value: value.clone(),
                location,
                node: None,
            };
            host.vars.insert(name.to_string(), variable);
        }
        host
    }

    fn hot_standby_problems(standby: &ResolvedHost, upstream: &ResolvedHost) -> Vec<String> {
        let mut problems = Problems::default();
        check_hot_standby(
            &Server {
                name: "db2",
                vars: standby,
            },
            &Server {
                name: "db1",
                vars: upstream,
            },
            Path::new("defaults.yaml"),
            &mut problems,
        );
        problems_text(problems)
    }

    #[test]
    fn a_standby_needs_settings_at_least_as_high_as_its_upstream() {
        let upstream = server_vars(
            &[
                ("max_connections", Value::from(100), 3),
                ("max_worker_processes", Value::from(8), 4),
                ("max_locks_per_transaction", Value::from(64), 5),
            ],
            "inventory.yml",
        );
        let standby = server_vars(
            &[
                ("max_connections", Value::from(50), 12),
                ("max_worker_processes", Value::from("8"), 13),
                ("max_locks_per_transaction", Value::from(64), 1),
            ],
            "defaults.yaml",
        );
        // The standby's max_connections is written in defaults.yaml here, so
        // the problem points at the upstream's value, which raised the bar.
        assert_eq!(
            hot_standby_problems(&standby, &upstream),
            [
                "inventory.yml:3:9: host `db2` (standby) sets max_connections = 50, lower than its upstream `db1` (100): a hot standby refuses to start"
            ]
        );
        let standby = server_vars(&[("max_connections", Value::from(50), 12)], "inventory.yml");
        assert_eq!(
            hot_standby_problems(&standby, &upstream),
            [
                "inventory.yml:12:9: host `db2` (standby) sets max_connections = 50, lower than its upstream `db1` (100): a hot standby refuses to start"
            ]
        );
    }

    #[test]
    fn equal_or_higher_settings_on_a_standby_pass() {
        let upstream = server_vars(&[("max_wal_senders", Value::from(13), 3)], "inventory.yml");
        let standby = server_vars(&[("max_wal_senders", Value::from(20), 9)], "inventory.yml");
        assert_eq!(
            hot_standby_problems(&standby, &upstream),
            Vec::<String>::new()
        );
        assert_eq!(
            hot_standby_problems(&upstream, &upstream),
            Vec::<String>::new()
        );
    }

    #[test]
    fn replication_password_is_required_only_with_standbys() {
        let mut hosts = IndexMap::new();
        hosts.insert("db1".to_string(), ResolvedHost::default());
        hosts.insert("db2".to_string(), ResolvedHost::default());
        let mut failed = ResolvedHost::default();
        failed.failed.insert("replication_password".to_string());
        hosts.insert("db3".to_string(), failed);
        let with_password = server_vars(
            &[("replication_password", Value::from("x"), 2)],
            "inventory.yml",
        );
        hosts.insert("db4".to_string(), with_password);

        let mut problems = Problems::default();
        check_replication_password(&hosts, 0, place(1), &mut problems);
        assert!(problems.is_empty());

        let mut problems = Problems::default();
        check_replication_password(&hosts, 1, place(1), &mut problems);
        assert_eq!(
            problems_text(problems),
            [
                "inventory.yml:1:9: `replication_password` is not set for hosts `db1` and `db2`: standbys need it to connect to their upstream; set it under `all.vars`, for example to \"{{ lookup('env', 'PG_REPLICATION_PASSWORD') }}\""
            ]
        );
    }

    #[test]
    fn probable_typos_of_documented_names_are_reported_and_other_roles_names_are_not() {
        let document = ansible_inventory_reader::layout::Document {
            path: "inventory.yml".into(),
            root: yaml::parse(
                "all:\n  vars:\n    pg_verison: 15\n    pg_port: 5432\n    app_port: 1\n    replication_pasword: x\n    pg_frobnicate: 1\n    pg_exporter_port: 9187\n",
            )
            .expect("the test YAML parses"),
        };
        let mut problems = Problems::default();
        let documents = [document];
        let layout = ansible_inventory_reader::layout::read(
            &documents,
            &[],
            &refused_host_name,
            &mut problems,
        );
        let documented = ["pg_version", "pg_port", "replication_password"];
        check_variable_names(&layout, &documented, &mut problems);
        assert_eq!(
            problems_text(problems),
            [
                "inventory.yml:3:5: unknown variable `pg_verison` (did you mean `pg_version`?)",
                "inventory.yml:6:5: unknown variable `replication_pasword` (did you mean `replication_password`?)",
            ]
        );
    }
}
