//! The pipeline from inventory text to an [`Inventory`]: parse the YAML, read
//! the group structure, merge each host's variables, decide roles, render the
//! templates, then check every rule, collecting all problems on the way.

use super::defaults::{self, DEFAULTS_PATH, Defaults};
use super::login::Login;
use super::roles::{self, Assigned, RoleFacts};
use super::validate::{self, Server};
use super::{GroupNames, Host, HostSettings, Inventory, PROGRAM, Role};
use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use ansible_inventory_reader::files::VarsFile;
use ansible_inventory_reader::layout::{self, ALL, Document, Layout};
use ansible_inventory_reader::report::{Problems, hosts_phrase, location};
use ansible_inventory_reader::resolve::{HostResolver, Lookup, Resolved, ResolvedHost};
use ansible_inventory_reader::suggest;
use ansible_inventory_reader::variables::{self, Variables, is_member};
use ansible_inventory_reader::vault::{self, Passwords};
use indexmap::{IndexMap, IndexSet};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// The replication cluster of a host without `replication_cluster`.
pub const DEFAULT_CLUSTER: &str = "main";

/// A host's `replication_cluster`: text (or a number, as text), else the default.
fn cluster_name(host: &str, resolved: &ResolvedHost, problems: &mut Problems) -> String {
    match resolved.vars.get("replication_cluster") {
        None => DEFAULT_CLUSTER.to_string(),
        Some(variable) => match &variable.value {
            Value::String(name) if !name.trim().is_empty() => name.clone(),
            Value::Number(number) => number.to_string(),
            other => {
                let after = format!(" must be the name of a replication cluster, not {other}");
                problems.add_for_host(
                    variable.location.clone(),
                    host,
                    "`replication_cluster` of ",
                    after,
                );
                DEFAULT_CLUSTER.to_string()
            }
        },
    }
}

/// Ansible's own names for the passwords it logs in and becomes root with.
const ANSIBLE_SECRET_NAMES: [&str; 5] = [
    "ansible_password",
    "ansible_ssh_pass",
    "ansible_become_pass",
    "ansible_become_password",
    "ansible_sudo_pass",
];

/// Suffixes that mark a variable's value as secret. `_key` is a whole suffix, so
/// `ansible_ssh_private_key_file`, a path, is not one.
const SECRET_SUFFIXES: [&str; 7] = [
    "_password",
    "_passwd",
    "_pass",
    "_key",
    "_secret",
    "_token",
    "_cipher",
];

/// Whether a variable's name says its value is a secret: one of Ansible's login
/// passwords, a name ending in a secret suffix, or one naming a cipher anywhere
/// (`pgbackrest_repo1_cipher_pass`, `vault_cipher_text`).
pub(super) fn is_secret_name(name: &str) -> bool {
    ANSIBLE_SECRET_NAMES.contains(&name)
        || SECRET_SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
        || name.contains("cipher")
}

/// What the files of an inventory gave, before any check.
pub struct Read {
    /// The first source, which names the inventory in messages.
    pub source: PathBuf,
    pub documents: Vec<Document>,
    pub vars_files: Vec<VarsFile>,
    /// Problems found while reading (unreadable files, syntax errors).
    pub problems: Vec<Diagnostic>,
    /// Whether a file could not be read at all; then nothing else is checked,
    /// since every later problem could come from what is missing.
    pub incomplete: bool,
    pub warnings: Vec<Diagnostic>,
    /// The documents that were vault-encrypted files: every variable written in
    /// them is a secret.
    pub encrypted_documents: Vec<PathBuf>,
}

/// How to read the inventory beyond its files.
pub struct Options<'a> {
    pub passwords: &'a Passwords,
    pub groups: &'a GroupNames,
    /// `--cluster NAME`: only the hosts of that replication cluster.
    pub cluster: Option<&'a str>,
    /// Hosts left out of every role group whose variables are read all the same
    /// (`--decommission`), into `Inventory::outside`.
    pub outside: &'a [String],
    /// Variables above every inventory value (`Input::extra_vars`).
    pub extra_vars: &'a [(String, Value)],
    pub env: &'a dyn Fn(&str) -> Option<String>,
}

pub fn build(mut read: Read, options: &Options) -> Result<Inventory, Diagnostics> {
    let defaults = Defaults::load().map_err(|diagnostic| Diagnostics(vec![diagnostic]))?;
    let mut problems = Problems::default();
    for diagnostic in read.problems.drain(..) {
        problems.add(diagnostic.location, diagnostic.message);
    }
    if read.incomplete {
        return Err(problems.into_diagnostics());
    }
    // Vault values are decrypted before anything reads them; each stays known
    // as a secret.
    let mut vaulted = vault::decrypt_all(
        &mut read.documents,
        &mut read.vars_files,
        options.passwords,
        &mut problems,
    );
    let layout = layout::read(
        &read.documents,
        &read.vars_files,
        &validate::refused_host_name,
        &mut problems,
    );
    let documented = defaults.documented_names();
    validate::check_variable_names(&layout, &documented, &mut problems);
    let cluster = Cluster::resolve(&layout, &defaults, options, &mut problems);
    // A variable written in a vault-encrypted inventory file is a secret, as one of
    // an encrypted group_vars file is, whatever its name.
    for resolved in cluster.hosts.values().chain(cluster.outside.values()) {
        vaulted.add_encrypted(resolved, &read.encrypted_documents);
    }
    let settings = cluster.check(&layout, &documented, &mut problems);
    let mut warnings = read.warnings;
    warnings.extend(problems.take_warnings());
    warnings.extend(layout.unread_vars_files(&read.vars_files));
    if !problems.is_empty() {
        // A message may quote a value that came from a secret (`pg_port:
        // "{{ replication_password }}"`): no secret leaves the inventory in an error.
        let mut secrets = secret_values(&cluster.hosts, &vaulted.names);
        secrets.extend(vaulted.values.iter().map(|secret| secret.expose().clone()));
        let redactor = crate::secret::Redactor::new(secrets);
        let mut diagnostics = problems.into_diagnostics();
        for diagnostic in &mut diagnostics.0 {
            diagnostic.message = redactor.redact(&diagnostic.message);
        }
        return Err(diagnostics);
    }
    Ok(cluster.into_inventory(&read.source, &layout, settings, warnings, vaulted))
}

/// Whether pgconverge reads the variable `name`: a documented one, or an
/// `ansible_*` one it honours. Only these (and what they refer to) must render.
fn reads(documented: &[&str], name: &str) -> bool {
    documented.contains(&name) || super::login::HONOURED.contains(&name)
}

/// Every host's rendered variables, role and upstream.
struct Cluster<'doc> {
    members: IndexMap<String, Vec<String>>,
    hosts: IndexMap<String, ResolvedHost<'doc>>,
    roles: IndexMap<String, Assigned>,
    upstreams: IndexMap<String, String>,
    /// Hosts in no PostgreSQL group and without `pg_role`: another role's
    /// hosts in a shared inventory, which pgconverge leaves out.
    left_out: Vec<String>,
    /// Those of them to reach all the same (`Options::outside`), resolved.
    outside: IndexMap<String, ResolvedHost<'doc>>,
    groups: GroupNames,
    /// Each host's replication cluster.
    clusters: IndexMap<String, String>,
    /// The hosts of the group `pgbouncer`, members or not.
    pgbouncer: IndexSet<String>,
}

impl<'doc> Cluster<'doc> {
    fn resolve(
        layout: &Layout<'doc>,
        defaults: &'doc Defaults,
        options: &Options,
        problems: &mut Problems,
    ) -> Cluster<'doc> {
        let (names, only_cluster, reach) = (options.groups, options.cluster, options.outside);
        let documented = defaults.documented_names();
        let reads = |name: &str| reads(&documented, name);
        let variables = Variables::new(
            layout,
            &variables::Options {
                defaults: defaults.variables(),
                defaults_file: Path::new(DEFAULTS_PATH),
                extra_vars: options.extra_vars,
                env: options.env,
                program: PROGRAM,
                reads: &reads,
            },
        );
        let members = variables.members().clone();
        let mut resolvers: IndexMap<&str, HostResolver> = IndexMap::new();
        for host in layout.hosts.keys() {
            resolvers.insert(host, variables.host(host));
        }
        // Roles come first: the computed defaults depend on how many standbys
        // there are, and `pg_role` may itself be a template.
        let mut roles = IndexMap::new();
        let mut left_out = Vec::new();
        let mut pgbouncer = IndexSet::new();
        for (host, resolver) in &mut resolvers {
            let in_primary_group = is_member(host, &names.primary, &members);
            let in_standby_group = is_member(host, &names.standby, &members);
            let in_archive_group = is_member(host, &names.archive, &members);
            let in_pgbouncer_group = is_member(host, &names.pgbouncer, &members);
            if in_pgbouncer_group {
                pgbouncer.insert(host.to_string());
            }
            let pg_role = resolver.lookup("pg_role", problems);
            let in_none =
                !(in_primary_group || in_standby_group || in_archive_group || in_pgbouncer_group);
            if in_none && pg_role == Lookup::Unset {
                left_out.push(host.to_string());
                continue;
            }
            let listed_at = layout
                .hosts
                .get(*host)
                .map(|entry| entry.listed_at.clone())
                .or_else(|| layout.start.clone())
                .unwrap_or_else(|| location(Path::new(DEFAULTS_PATH), None));
            let facts = RoleFacts {
                host,
                listed_at,
                in_primary_group,
                in_standby_group,
                in_archive_group,
                in_pgbouncer_group,
                pg_role: &pg_role,
            };
            if let Some(assigned) = roles::role_of(&facts, problems) {
                roles.insert(host.to_string(), assigned);
            }
        }
        misspelt_role_groups(layout, &members, names, &left_out, problems);
        let mut outside_resolvers = Vec::new();
        for host in left_out.iter().filter(|host| reach.contains(host)) {
            if let Some(resolver) = resolvers.shift_remove(host.as_str()) {
                outside_resolvers.push((host.clone(), resolver));
            }
        }
        resolvers.retain(|host, _| !left_out.iter().any(|out| out == host));
        let standby_count = count_standbys(&roles);
        let computed_at = location(Path::new(DEFAULTS_PATH), None);
        // A host outside the cluster is read with the same defaults as a member,
        // so that its paths and commands are the ones it was managed with.
        let mut outside = IndexMap::new();
        for (host, mut resolver) in outside_resolvers {
            for (name, value) in defaults::computed(standby_count) {
                resolver.insert_default(name, value, computed_at.clone());
            }
            outside.insert(host, resolver.finish(&reads, problems));
        }
        let mut hosts = IndexMap::new();
        for (host, mut resolver) in resolvers {
            for (name, value) in defaults::computed(standby_count) {
                resolver.insert_default(name, value, computed_at.clone());
            }
            hosts.insert(host.to_string(), resolver.finish(&reads, problems));
        }
        let mut clusters: IndexMap<String, String> = hosts
            .iter()
            .map(|(host, resolved)| (host.clone(), cluster_name(host, resolved, problems)))
            .collect();
        if let Some(wanted) = only_cluster {
            if !clusters.values().any(|cluster| cluster == wanted) {
                let known: indexmap::IndexSet<&String> = clusters.values().collect();
                let known: Vec<String> = known.iter().map(|name| format!("`{name}`")).collect();
                let message = format!(
                    "no host is in replication cluster `{wanted}` (`--cluster`); the inventory has {}",
                    known.join(", ")
                );
                // The flag is wrong, not a line of the inventory.
                let place = Location {
                    line: None,
                    column: None,
                    ..group_location(layout, ALL)
                };
                problems.add(place, message);
            }
            // The other clusters are left out of everything that follows, as if
            // the inventory did not have them.
            clusters.retain(|_, cluster| cluster == wanted);
            hosts.retain(|host, _| clusters.contains_key(host));
            roles.retain(|host, _| clusters.contains_key(host));
        }
        let no_primary_at = group_location(layout, &names.primary);
        let upstream_vars: IndexMap<String, &Resolved> = hosts
            .iter()
            .filter_map(|(host, resolved)| Some((host.clone(), resolved.vars.get("upstream")?)))
            .collect();
        let mut upstreams = IndexMap::new();
        let cluster_names: indexmap::IndexSet<&String> = clusters.values().collect();
        // Each replication cluster has its own primary; a standby follows its
        // cluster's primary unless `upstream` names another host of it.
        for cluster in cluster_names {
            let own: IndexMap<String, Assigned> = roles
                .iter()
                .filter(|(host, _)| clusters.get(*host) == Some(cluster))
                .map(|(host, assigned)| (host.clone(), assigned.clone()))
                .collect();
            // Hosts outside the cluster's PostgreSQL (an archive, a PgBouncer)
            // alone make no cluster that needs a primary.
            let no_server = !own.is_empty()
                && own
                    .values()
                    .all(|assigned| matches!(assigned.role, Role::Archive | Role::Pgbouncer));
            let primary = if layout.unreadable || no_server {
                None
            } else {
                roles::single_primary(&own, no_primary_at.clone(), problems)
            };
            upstreams.extend(roles::upstreams(
                &own,
                &upstream_vars,
                primary.as_deref(),
                problems,
            ));
        }
        Cluster {
            members,
            hosts,
            roles,
            upstreams,
            left_out,
            outside,
            groups: names.clone(),
            clusters,
            pgbouncer,
        }
    }

    /// The rules on rendered values, for each host and each replication link,
    /// and every host's typed settings.
    fn check(
        &self,
        layout: &Layout,
        documented: &[&str],
        problems: &mut Problems,
    ) -> IndexMap<String, (HostSettings, Login)> {
        let mut settings = IndexMap::new();
        for (host, resolved) in self.hosts.iter().chain(&self.outside) {
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
            let standby = Server {
                name: standby,
                vars: standby_vars,
            };
            let upstream = Server {
                name: upstream,
                vars: upstream_vars,
            };
            validate::check_hot_standby(&standby, &upstream, Path::new(DEFAULTS_PATH), problems);
            validate::check_same_virtual_ip(&standby, &upstream, problems);
        }
        let members: IndexMap<&str, super::synchronous::Member> = settings
            .iter()
            .filter_map(|(name, (host_settings, _))| {
                Some((
                    name.as_str(),
                    super::synchronous::Member {
                        role: self.roles.get(name)?.role,
                        upstream: self.upstreams.get(name).map(String::as_str),
                        settings: host_settings,
                        vars: self.hosts.get(name)?,
                    },
                ))
            })
            .collect();
        super::synchronous::check(&members, problems);
        let standby_count = count_standbys(&self.roles);
        let all_at = group_location(layout, ALL);
        self.check_pgbouncer(&settings, &all_at, problems);
        validate::check_replication_password(&self.hosts, standby_count, all_at, problems);
        settings
    }

    /// PgBouncer's rules, for each replication cluster with hosts in the group
    /// `pgbouncer`: over its primary and those hosts.
    fn check_pgbouncer(
        &self,
        settings: &IndexMap<String, (HostSettings, Login)>,
        all_at: &Location,
        problems: &mut Problems,
    ) {
        let cluster_names: IndexSet<&String> = self.clusters.values().collect();
        for cluster in cluster_names {
            let hosts = self
                .hosts
                .iter()
                .filter(|(name, _)| self.clusters.get(*name) == Some(cluster))
                .filter_map(|(name, vars)| {
                    let role = self.roles.get(name)?.role;
                    let runs_pgbouncer = self.pgbouncer.contains(name);
                    let primary = role == Role::Primary;
                    (primary || runs_pgbouncer).then_some(())?;
                    Some(validate::PgbouncerClusterHost {
                        name,
                        settings: &settings.get(name)?.0,
                        vars,
                        primary,
                        runs_pgbouncer,
                        member: matches!(role, Role::Primary | Role::Standby),
                    })
                })
                .collect();
            let cluster = validate::PgbouncerCluster { hosts };
            validate::check_pgbouncer(&cluster, all_at, problems);
        }
    }

    fn into_inventory(
        self,
        path: &Path,
        layout: &Layout,
        mut settings: IndexMap<String, (HostSettings, Login)>,
        mut warnings: Vec<Diagnostic>,
        vaulted: vault::Decrypted,
    ) -> Inventory {
        warnings.extend(unhonoured_variables(&self.hosts));
        // A line set for several hosts (in `all`'s variables) is named once.
        for resolved in self.hosts.values() {
            for warning in validate::weak_access_rules(resolved) {
                if !warnings.contains(&warning) {
                    warnings.push(warning);
                }
            }
        }
        if !self.left_out.is_empty() {
            let GroupNames {
                primary,
                standby,
                archive,
                pgbouncer,
            } = &self.groups;
            let (are, them) = if self.left_out.len() == 1 {
                ("is", "it")
            } else {
                ("are", "them")
            };
            let message = format!(
                "{} {are} in no group `{primary}`, `{standby}`, `{archive}` or `{pgbouncer}` and {are} without `pg_role`: pgconverge leaves {them} out",
                hosts_phrase(&self.left_out)
            );
            let place = layout.start.clone().unwrap_or_else(|| location(path, None));
            warnings.push(Diagnostic {
                location: place,
                message,
            });
        }
        let mut sensitive_vars = sensitive_vars(&self.hosts, &vaulted.names);
        sensitive_vars.extend(
            vaulted
                .names
                .iter()
                .filter(|name| !sensitive_vars.contains(name))
                .cloned()
                .collect::<Vec<_>>(),
        );
        let written = written_variables(&self.hosts);
        let mut hosts = IndexMap::new();
        for (name, resolved) in self.hosts {
            // Without problems every host has a role; a host without one would
            // have been reported, so skipping it here cannot hide anything.
            let (Some(assigned), Some((settings, login))) =
                (self.roles.get(&name), settings.shift_remove(&name))
            else {
                continue;
            };
            let host = Host {
                role: assigned.role,
                pgbouncer: self.pgbouncer.contains(&name),
                upstream: self.upstreams.get(&name).cloned(),
                cluster: self
                    .clusters
                    .get(&name)
                    .cloned()
                    .unwrap_or_else(|| DEFAULT_CLUSTER.to_string()),
                ..host_of(&name, resolved, settings, login)
            };
            hosts.insert(name, host);
        }
        let mut outside = IndexMap::new();
        for (name, resolved) in self.outside {
            if let Some((settings, login)) = settings.shift_remove(&name) {
                let host = host_of(&name, resolved, settings, login);
                outside.insert(name, host);
            }
        }
        let left_out = self.left_out;
        // Hosts left out, and those of other clusters under `--cluster`, are in
        // no group either.
        let groups = self
            .members
            .into_iter()
            .map(|(group, members)| {
                let kept = members
                    .into_iter()
                    .filter(|host| hosts.contains_key(host))
                    .collect();
                (group, kept)
            })
            .collect();
        Inventory {
            source: path.to_path_buf(),
            hosts,
            groups,
            sensitive_vars,
            warnings,
            left_out,
            outside,
            written,
            vault_secrets: vaulted.values,
            tree: layout.tree(),
        }
    }
}

/// A group named almost as a role group (`standy`, `[primry]`) gives its hosts
/// no role: those it would otherwise leave out of the cluster make it an error,
/// with the role group it most likely means.
fn misspelt_role_groups(
    layout: &Layout,
    members: &IndexMap<String, Vec<String>>,
    names: &GroupNames,
    left_out: &[String],
    problems: &mut Problems,
) {
    let role_groups = [
        names.primary.as_str(),
        names.standby.as_str(),
        names.archive.as_str(),
        names.pgbouncer.as_str(),
    ];
    for group in layout.groups.keys() {
        if role_groups.contains(&group.as_str()) {
            continue;
        }
        let Some(meant) = suggest::closest(group, role_groups) else {
            continue;
        };
        let dropped: Vec<String> = members
            .get(group)
            .into_iter()
            .flatten()
            .filter(|host| left_out.contains(host))
            .cloned()
            .collect();
        if dropped.is_empty() {
            continue;
        }
        let (is, them) = if dropped.len() == 1 {
            ("is", "it")
        } else {
            ("are", "them")
        };
        let message = format!(
            "group `{group}` gives no role, so {} {is} left out of the cluster (did you mean `{meant}`?): rename the group, or give {them} `pg_role`",
            hosts_phrase(&dropped)
        );
        problems.add(group_location(layout, group), message);
    }
}

/// A host with its variables, its login and settings; a standby of no one in
/// the default cluster until its role says otherwise.
fn host_of(name: &str, resolved: ResolvedHost, settings: HostSettings, login: Login) -> Host {
    let vars: IndexMap<String, Value> = resolved
        .vars
        .into_iter()
        .map(|(variable, resolved)| (variable, resolved.value))
        .collect();
    // Ansible's older names win over the newer ones when both are set,
    // as its ssh connection reads them.
    let either = |older: &str, newer: &str| vars.get(older).or_else(|| vars.get(newer));
    let unrendered = resolved.unrendered.clone();
    Host {
        unrendered,
        address: either("ansible_ssh_host", "ansible_host")
            .and_then(text)
            .unwrap_or_else(|| name.to_string()),
        ssh_port: either("ansible_ssh_port", "ansible_port")
            .and_then(validate::whole_number)
            .and_then(|port| u16::try_from(port).ok()),
        ssh_user: either("ansible_ssh_user", "ansible_user").and_then(text),
        role: Role::Standby,
        pgbouncer: false,
        upstream: None,
        cluster: DEFAULT_CLUSTER.to_string(),
        name: name.to_string(),
        settings,
        login,
        vars,
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

/// Where a group's name is written, else where `all` is, else where the
/// document starts.
fn group_location(layout: &Layout, group: &str) -> Location {
    let written_at = |name: &str| {
        layout
            .groups
            .get(name)
            .and_then(|known| known.written_at.clone())
    };
    written_at(group)
        .or_else(|| written_at(ALL))
        .or_else(|| layout.start.clone())
        .unwrap_or_else(|| location(Path::new(DEFAULTS_PATH), None))
}

/// For each host, the names of the variables its inventory writes (not the
/// defaults pgconverge adds), in order: what `ansible-inventory` would list.
fn written_variables(hosts: &IndexMap<String, ResolvedHost>) -> IndexMap<String, Vec<String>> {
    hosts
        .iter()
        .map(|(host, resolved)| {
            let names = resolved
                .vars
                .iter()
                .filter(|(_, variable)| variable.location.file != Path::new(DEFAULTS_PATH))
                .map(|(name, _)| name.clone())
                .collect();
            (host.clone(), names)
        })
        .collect()
}

/// The values of every sensitive variable that resolved, on any host.
fn secret_values(hosts: &IndexMap<String, ResolvedHost>, vaulted: &[String]) -> Vec<String> {
    let names = sensitive_vars(hosts, vaulted);
    hosts
        .values()
        .flat_map(|resolved| names.iter().filter_map(|name| resolved.vars.get(name)))
        .filter_map(|var| text(&var.value))
        .collect()
}

/// `replication_password`, every name listed in a `sensitive_vars`, every name
/// of a vaulted value, and every variable whose name says it is a secret
/// (`is_secret_name`), each once.
fn sensitive_vars(hosts: &IndexMap<String, ResolvedHost>, vaulted: &[String]) -> Vec<String> {
    let mut names = indexmap::IndexSet::new();
    names.insert("replication_password".to_string());
    names.extend(vaulted.iter().cloned());
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
        let secret = resolved.vars.keys().filter(|name| is_secret_name(name));
        names.extend(secret.cloned());
    }
    names.into_iter().collect()
}
