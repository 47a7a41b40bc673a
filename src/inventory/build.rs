//! The pipeline from inventory text to an [`Inventory`]: parse the YAML, read
//! the group structure, merge each host's variables, decide roles, render the
//! templates, then check every rule, collecting all problems on the way.

use super::defaults::{self, DEFAULTS_PATH, Defaults};
use super::layout::{self, ALL, Layout};
use super::login::Login;
use super::merge::Sources;
use super::report::{Problems, location};
use super::resolve::{HostResolver, Renderer, ResolvedHost};
use super::roles::{self, Assigned, RoleFacts};
use super::validate::{self, Server};
use super::yaml::{self, Position};
use super::{Host, HostSettings, Inventory, Role};
use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::path::Path;

/// The group whose hosts are primaries, and the one whose hosts are standbys.
const PRIMARY_GROUP: &str = "primary";
const STANDBY_GROUP: &str = "standby";
/// The group of hosts that keep the WAL archive.
const ARCHIVE_GROUP: &str = "archive";

/// Suffixes that mark a variable's value as secret.
const SECRET_SUFFIXES: [&str; 3] = ["_password", "_secret", "_token"];

pub fn build(
    path: &Path,
    text: &str,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Inventory, Diagnostics> {
    let defaults = Defaults::load().map_err(|diagnostic| Diagnostics(vec![diagnostic]))?;
    let mut root = yaml::parse(text).map_err(|error| {
        let place = location(path, error.position);
        Diagnostics(vec![Diagnostic {
            location: place,
            message: error.message,
        }])
    })?;
    let mut problems = Problems::default();
    for duplicate in yaml::take_duplicate_keys(&mut root) {
        let Position { line, column } = duplicate.first;
        let message = format!(
            "duplicate key `{}` (first written at line {line}, column {column})",
            duplicate.key
        );
        problems.add(location(path, Some(duplicate.position)), message);
    }
    let layout = layout::read(&root, path, &mut problems);
    let documented = defaults.documented_names();
    validate::check_variable_names(&layout, path, &documented, &mut problems);
    let renderer = Renderer::new(env);
    let cluster = Cluster::resolve(path, &layout, &defaults, &renderer, &mut problems);
    let settings = cluster.check(path, &layout, &documented, &mut problems);
    if !problems.is_empty() {
        // A message may quote a value that came from a secret (`pg_port:
        // "{{ replication_password }}"`): no secret leaves the inventory in an error.
        let redactor = crate::secret::Redactor::new(secret_values(&cluster.hosts));
        let mut diagnostics = problems.into_diagnostics();
        for diagnostic in &mut diagnostics.0 {
            diagnostic.message = redactor.redact(&diagnostic.message);
        }
        return Err(diagnostics);
    }
    Ok(cluster.into_inventory(path, settings))
}

/// Every host's rendered variables, role and upstream.
struct Cluster<'doc> {
    members: IndexMap<String, Vec<String>>,
    hosts: IndexMap<String, ResolvedHost<'doc>>,
    roles: IndexMap<String, Assigned>,
    upstreams: IndexMap<String, String>,
}

impl<'doc> Cluster<'doc> {
    fn resolve(
        path: &Path,
        layout: &Layout<'doc>,
        defaults: &'doc Defaults,
        renderer: &Renderer<'doc, '_>,
        problems: &mut Problems,
    ) -> Cluster<'doc> {
        let members = layout.members();
        let sources = Sources::new(layout, path, defaults.variables(), Path::new(DEFAULTS_PATH));
        let mut resolvers: IndexMap<&str, HostResolver> = IndexMap::new();
        for host in layout.hosts.keys() {
            let groups = groups_of(host, &members);
            let raw = sources.merge(host, &groups);
            let magic = magic_variables(host, &groups, &members);
            resolvers.insert(host, HostResolver::new(renderer, host, raw, magic));
        }
        // Roles come first: the computed defaults depend on how many standbys
        // there are, and `pg_role` may itself be a template.
        let mut roles = IndexMap::new();
        for (host, resolver) in &mut resolvers {
            let pg_role = resolver.lookup("pg_role", problems);
            let facts = RoleFacts {
                host,
                listed_at: location(path, layout.hosts.get(*host).map(|entry| entry.position)),
                in_primary_group: is_member(host, PRIMARY_GROUP, &members),
                in_standby_group: is_member(host, STANDBY_GROUP, &members),
                in_archive_group: is_member(host, ARCHIVE_GROUP, &members),
                pg_role: &pg_role,
            };
            if let Some(assigned) = roles::role_of(&facts, problems) {
                roles.insert(host.to_string(), assigned);
            }
        }
        let standby_count = count_standbys(&roles);
        let computed_at = location(Path::new(DEFAULTS_PATH), None);
        let mut hosts = IndexMap::new();
        for (host, mut resolver) in resolvers {
            for (name, value) in defaults::computed(standby_count) {
                resolver.insert_default(name, value, computed_at.clone());
            }
            hosts.insert(host.to_string(), resolver.finish(problems));
        }
        let no_primary_at = group_location(path, layout, PRIMARY_GROUP);
        let primary = if layout.unreadable {
            None
        } else {
            roles::single_primary(&roles, no_primary_at, problems)
        };
        let upstream_vars = hosts
            .iter()
            .filter_map(|(host, resolved)| Some((host.clone(), resolved.vars.get("upstream")?)))
            .collect();
        let upstreams = roles::upstreams(&roles, &upstream_vars, primary.as_deref(), problems);
        Cluster {
            members,
            hosts,
            roles,
            upstreams,
        }
    }

    /// The rules on rendered values, for each host and each replication link,
    /// and every host's typed settings.
    fn check(
        &self,
        path: &Path,
        layout: &Layout,
        documented: &[&str],
        problems: &mut Problems,
    ) -> IndexMap<String, (HostSettings, Login)> {
        let mut settings = IndexMap::new();
        for (host, resolved) in &self.hosts {
            validate::check_host(host, resolved, problems);
            validate::check_line_breaks(host, resolved, documented, problems);
            let login = super::login::read(host, resolved, problems);
            if let Some(read) = super::settings::read(host, resolved, problems) {
                settings.insert(host.clone(), (read, login));
            }
        }
        for (standby, upstream) in &self.upstreams {
            let (Some(standby_vars), Some(upstream_vars)) =
                (self.hosts.get(standby), self.hosts.get(upstream))
            else {
                continue;
            };
            validate::check_hot_standby(
                &Server {
                    name: standby,
                    vars: standby_vars,
                },
                &Server {
                    name: upstream,
                    vars: upstream_vars,
                },
                path,
                problems,
            );
        }
        let standby_count = count_standbys(&self.roles);
        let all_at = group_location(path, layout, ALL);
        validate::check_replication_password(&self.hosts, standby_count, all_at, problems);
        settings
    }

    fn into_inventory(
        self,
        path: &Path,
        mut settings: IndexMap<String, (HostSettings, Login)>,
    ) -> Inventory {
        let warnings = unhonoured_variables(&self.hosts);
        let sensitive_vars = sensitive_vars(&self.hosts);
        let mut hosts = IndexMap::new();
        for (name, resolved) in self.hosts {
            // Without problems every host has a role; a host without one would
            // have been reported, so skipping it here cannot hide anything.
            let (Some(assigned), Some((settings, login))) =
                (self.roles.get(&name), settings.shift_remove(&name))
            else {
                continue;
            };
            let vars: IndexMap<String, Value> = resolved
                .vars
                .into_iter()
                .map(|(variable, resolved)| (variable, resolved.value))
                .collect();
            let host = Host {
                address: vars
                    .get("ansible_host")
                    .and_then(text)
                    .unwrap_or_else(|| name.clone()),
                ssh_port: vars
                    .get("ansible_port")
                    .and_then(validate::whole_number)
                    .and_then(|port| u16::try_from(port).ok()),
                ssh_user: vars.get("ansible_user").and_then(text),
                role: assigned.role,
                upstream: self.upstreams.get(&name).cloned(),
                name: name.clone(),
                settings,
                login,
                vars,
            };
            hosts.insert(name, host);
        }
        Inventory {
            source: path.to_path_buf(),
            hosts,
            groups: self.members,
            sensitive_vars,
            warnings,
        }
    }
}

/// An `ansible_*` variable pgconverge does not honour would be silently ignored:
/// each is named once, where it is written.
fn unhonoured_variables(hosts: &IndexMap<String, ResolvedHost>) -> Vec<Diagnostic> {
    let mut warnings: Vec<Diagnostic> = Vec::new();
    for resolved in hosts.values() {
        for (name, variable) in &resolved.vars {
            if !name.starts_with("ansible_") || super::login::HONOURED.contains(&name.as_str()) {
                continue;
            }
            let warning = Diagnostic {
                location: variable.location.clone(),
                message: format!("`{name}` is not honoured by pgconverge and has no effect"),
            };
            if !warnings.contains(&warning) {
                warnings.push(warning);
            }
        }
    }
    warnings
}

/// The text of a string or number value.
fn text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

fn count_standbys(roles: &IndexMap<String, Assigned>) -> usize {
    roles
        .values()
        .filter(|assigned| assigned.role == Role::Standby)
        .count()
}

fn is_member(host: &str, group: &str, members: &IndexMap<String, Vec<String>>) -> bool {
    members
        .get(group)
        .is_some_and(|hosts| hosts.iter().any(|known| known == host))
}

/// The groups `host` belongs to, directly or through children, in file order.
fn groups_of<'m>(host: &str, members: &'m IndexMap<String, Vec<String>>) -> Vec<&'m str> {
    members
        .keys()
        .filter(|group| is_member(host, group, members))
        .map(String::as_str)
        .collect()
}

/// Where a group's name is written, else where `all` is, else where the
/// document starts.
fn group_location(path: &Path, layout: &Layout, group: &str) -> Location {
    let written_at = |name: &str| layout.groups.get(name).and_then(|known| known.position);
    let position = written_at(group)
        .or_else(|| written_at(ALL))
        .or(layout.position);
    location(path, position)
}

/// The variables Ansible defines for every host, which templates may use.
fn magic_variables(
    host: &str,
    groups: &[&str],
    members: &IndexMap<String, Vec<String>>,
) -> Map<String, Value> {
    // Ansible lists `group_names` sorted, and without `all`.
    let mut group_names: Vec<&str> = groups
        .iter()
        .copied()
        .filter(|group| *group != ALL)
        .collect();
    group_names.sort_unstable();
    let mut magic = Map::new();
    magic.insert("inventory_hostname".to_string(), Value::from(host));
    magic.insert("group_names".to_string(), Value::from(group_names));
    let groups: Map<String, Value> = members
        .iter()
        .map(|(group, hosts)| (group.clone(), Value::from(hosts.clone())))
        .collect();
    magic.insert("groups".to_string(), Value::Object(groups));
    magic
}

/// The values of every sensitive variable that resolved, on any host.
fn secret_values(hosts: &IndexMap<String, ResolvedHost>) -> Vec<String> {
    let names = sensitive_vars(hosts);
    hosts
        .values()
        .flat_map(|resolved| names.iter().filter_map(|name| resolved.vars.get(name)))
        .filter_map(|var| text(&var.value))
        .collect()
}

/// `replication_password`, every name listed in a `sensitive_vars`, and every
/// variable whose name ends in a secret suffix, each once.
fn sensitive_vars(hosts: &IndexMap<String, ResolvedHost>) -> Vec<String> {
    let mut names = indexmap::IndexSet::new();
    names.insert("replication_password".to_string());
    for resolved in hosts.values() {
        if let Some(Value::Array(listed)) =
            resolved.vars.get("sensitive_vars").map(|var| &var.value)
        {
            names.extend(
                listed
                    .iter()
                    .filter_map(|name| name.as_str().map(str::to_string)),
            );
        }
    }
    for resolved in hosts.values() {
        let secret = resolved
            .vars
            .keys()
            .filter(|name| SECRET_SUFFIXES.iter().any(|suffix| name.ends_with(suffix)));
        names.extend(secret.cloned());
    }
    names.into_iter().collect()
}
