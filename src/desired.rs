//! Desired state: for each host, the typed settings it runs with and every step of
//! the playbook rendered for it, plus the dependency graph of all steps of all hosts.
//! Pure: no IO beyond reading templates from disk when a template directory is given.

use crate::actions::{DerivedValues, DesiredStep, StepInput};
use crate::archive::{ArchiveHost, WalArchive};
use crate::dag::Dag;
use crate::diagnostic::{Diagnostic, Diagnostics};
use crate::facts::FactsRequest;
use crate::inventory::{Host, HostSettings, Inventory, ReplicationMode, Role, SharedContext};
use crate::playbook::{Playbook, Step};
use crate::render::Renderer;
use indexmap::IndexMap;
use serde::Serialize;
use serde_json::Value;
use std::fmt;

/// One node of the step graph: a step of the playbook on one host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct NodeId {
    pub host: String,
    pub step: String,
}

impl NodeId {
    pub fn new(host: &str, step: &str) -> NodeId {
        NodeId {
            host: host.to_string(),
            step: step.to_string(),
        }
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.host, self.step)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredHost {
    pub name: String,
    pub address: String,
    pub ssh_port: Option<u16>,
    pub ssh_user: Option<String>,
    /// `ansible_become` and the SSH options of the host.
    pub login: crate::inventory::login::Login,
    pub role: Role,
    /// The host runs PgBouncer for its cluster's clients (the group `pgbouncer`).
    pub pgbouncer: bool,
    pub upstream: Option<String>,
    /// Its replication cluster; the split-brain guard and failover work within one.
    pub cluster: String,
    pub settings: HostSettings,
    /// The steps that apply to this host's role, in playbook order.
    pub steps: IndexMap<String, DesiredStep>,
    /// A host outside the replication cluster, reached only to decommission it
    /// (`apply --decommission`): it has no steps, and its facts are what
    /// `actions::decommission` reads.
    pub outside: bool,
}

impl DesiredHost {
    /// What the facts script must look at so the plan can compare every step.
    pub fn facts_request(&self) -> FactsRequest {
        let mut request = FactsRequest::new(self.settings.clone());
        for step in self.steps.values() {
            step.facts_needed(&mut request);
        }
        if self.outside {
            crate::actions::decommission::facts_needed(&self.settings, &mut request);
        }
        request
    }
}

#[derive(Debug, Clone)]
pub struct DesiredState {
    pub hosts: IndexMap<String, DesiredHost>,
    pub graph: Dag<NodeId>,
    /// Edges of the graph that order steps without making one depend on the
    /// other's success (`cluster_after`): (the step, the step it runs after).
    pub ordering_only: Vec<(NodeId, NodeId)>,
    /// Every secret value of the inventory, for the printer's redactor.
    pub secrets: Vec<String>,
    /// Hosts outside the replication cluster that this run must reach
    /// (`Inventory::outside`, for `--decommission`): in no step graph.
    pub outside: IndexMap<String, DesiredHost>,
}

impl DesiredState {
    /// Renders every step for every host and builds the step graph, collecting every
    /// problem (template errors, bad settings, cycles) before returning.
    pub fn build(
        inventory: &Inventory,
        playbook: &Playbook,
        renderer: &Renderer,
    ) -> Result<DesiredState, Diagnostics> {
        let mut problems = Vec::new();
        let mut hosts = IndexMap::new();
        let shared = inventory.shared_context();
        for host in inventory.hosts.values() {
            match desired_host(inventory, &shared, playbook, renderer, host) {
                Ok(desired) => {
                    hosts.insert(host.name.clone(), desired);
                }
                Err(mut host_problems) => problems.append(&mut host_problems),
            }
        }
        if !problems.is_empty() {
            return Err(Diagnostics(problems));
        }
        let graph = step_graph(playbook, &hosts);
        if let Err(cycle) = graph.topological_order() {
            return Err(Diagnostics(vec![Diagnostic::new(
                &playbook.source,
                None,
                None,
                cycle.to_string(),
            )]));
        }
        let ordering_only = ordering_only_edges(playbook, &hosts);
        let outside = inventory
            .outside
            .values()
            .map(|host| (host.name.clone(), outside_host(host)))
            .collect();
        Ok(DesiredState {
            hosts,
            graph,
            ordering_only,
            secrets: secrets(inventory),
            outside,
        })
    }
}

/// A host outside the replication cluster: how to reach it and its settings.
fn outside_host(host: &Host) -> DesiredHost {
    DesiredHost {
        name: host.name.clone(),
        address: host.address.clone(),
        ssh_port: host.ssh_port,
        ssh_user: host.ssh_user.clone(),
        login: host.login.clone(),
        role: host.role,
        pgbouncer: false,
        upstream: None,
        cluster: host.cluster.clone(),
        settings: host.settings.clone(),
        steps: IndexMap::new(),
        outside: true,
    }
}

fn secrets(inventory: &Inventory) -> Vec<String> {
    inventory.secret_values()
}

/// The `cluster_after` edges: they order, but a failure at their far end does not
/// stop the step (the archive check still runs, and fails with its own reason,
/// when the archive host is unreachable).
fn ordering_only_edges(
    playbook: &Playbook,
    hosts: &IndexMap<String, DesiredHost>,
) -> Vec<(NodeId, NodeId)> {
    let mut edges = Vec::new();
    for host in hosts.values() {
        for step in playbook
            .steps
            .iter()
            .filter(|step| host.steps.contains_key(&step.id))
        {
            for after in &step.cluster_after {
                for other in hosts
                    .values()
                    .filter(|other| other.steps.contains_key(&after.id))
                {
                    edges.push((
                        NodeId {
                            host: host.name.clone(),
                            step: step.id.clone(),
                        },
                        NodeId {
                            host: other.name.clone(),
                            step: after.id.clone(),
                        },
                    ));
                }
            }
        }
    }
    edges
}

/// Edges: `requires` within a host, `upstream_requires` to the host's upstream,
/// `cluster_requires` to every host the step applies to, and each notifying step
/// before its handler. A reference to a step that does not
/// apply to that host's role is passed over.
fn step_graph(playbook: &Playbook, hosts: &IndexMap<String, DesiredHost>) -> Dag<NodeId> {
    let mut graph = Dag::default();
    let node = |host: &str, step: &str| NodeId {
        host: host.to_string(),
        step: step.to_string(),
    };
    for host in hosts.values() {
        for id in host.steps.keys() {
            graph.add_node(node(&host.name, id));
        }
    }
    for host in hosts.values() {
        for step in playbook
            .steps
            .iter()
            .filter(|step| host.steps.contains_key(&step.id))
        {
            for required in step
                .requires
                .iter()
                .filter(|r| host.steps.contains_key(&r.id))
            {
                graph.add_edge(node(&host.name, &step.id), node(&host.name, &required.id));
            }
            for handler in step
                .notify
                .iter()
                .filter(|r| host.steps.contains_key(&r.id))
            {
                graph.add_edge(node(&host.name, &handler.id), node(&host.name, &step.id));
            }
            for required in step.cluster_requires.iter().chain(&step.cluster_after) {
                for other in hosts
                    .values()
                    .filter(|other| other.steps.contains_key(&required.id))
                {
                    graph.add_edge(node(&host.name, &step.id), node(&other.name, &required.id));
                }
            }
            let Some(upstream) = host.upstream.as_ref().and_then(|name| hosts.get(name)) else {
                continue;
            };
            for required in step
                .upstream_requires
                .iter()
                .filter(|r| upstream.steps.contains_key(&r.id))
            {
                graph.add_edge(
                    node(&host.name, &step.id),
                    node(&upstream.name, &required.id),
                );
            }
        }
    }
    graph
}

fn desired_host(
    inventory: &Inventory,
    shared: &SharedContext,
    playbook: &Playbook,
    renderer: &Renderer,
    host: &Host,
) -> Result<DesiredHost, Vec<Diagnostic>> {
    let settings = host.settings.clone();
    let (context, derived) =
        template_context(inventory, host, &settings).map_err(|problem| vec![problem])?;
    let values = shared.with_own(&host.cluster, &context);
    let mut problems = Vec::new();
    let mut steps = IndexMap::new();
    for step in playbook
        .steps
        .iter()
        .filter(|step| step.applies_to(host.role))
    {
        match applies_when(playbook, step, &values) {
            Ok(true) => {}
            Ok(false) => continue,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        }
        match desired_step(renderer, playbook, step, &derived, &values, &settings) {
            Ok(desired) => {
                steps.insert(step.id.clone(), desired);
            }
            Err(mut step_problems) => problems.append(&mut step_problems),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(DesiredHost {
        name: host.name.clone(),
        address: host.address.clone(),
        ssh_port: host.ssh_port,
        ssh_user: host.ssh_user.clone(),
        login: host.login.clone(),
        role: host.role,
        pgbouncer: host.pgbouncer,
        upstream: host.upstream.clone(),
        cluster: host.cluster.clone(),
        settings,
        steps,
        outside: false,
    })
}

/// Whether a step's `when` condition holds for this host (no condition: it does).
fn applies_when(
    playbook: &Playbook,
    step: &Step,
    values: &minijinja::Value,
) -> Result<bool, Diagnostic> {
    let Some(condition) = &step.when else {
        return Ok(true);
    };
    let rendered = render_string(condition, values).map_err(|message| {
        Diagnostic::new(
            &playbook.source,
            Some(step.line),
            None,
            format!("step `{}`: `when`: {message}", step.id),
        )
    })?;
    Ok(!matches!(
        rendered.trim().to_ascii_lowercase().as_str(),
        "" | "false" | "no" | "0" | "off"
    ))
}

fn desired_step(
    renderer: &Renderer,
    playbook: &Playbook,
    step: &Step,
    derived: &DerivedValues,
    values: &minijinja::Value,
    settings: &HostSettings,
) -> Result<DesiredStep, Vec<Diagnostic>> {
    let problem = |message: String| {
        Diagnostic::new(
            &playbook.source,
            Some(step.line),
            None,
            format!("step `{}`: {message}", step.id),
        )
    };
    let parameter = |value: &Option<String>| -> Result<Option<String>, Diagnostic> {
        value
            .as_ref()
            .map(|text| render_string(text, values).map_err(problem))
            .transpose()
    };
    let mode = match &step.mode {
        None => None,
        Some(text) => Some(
            u32::from_str_radix(text.trim_start_matches("0o"), 8)
                .map_err(|_| vec![problem(format!("mode `{text}` is not octal"))])?,
        ),
    };
    let render = |template: &str| renderer.render(template, values);
    let rendered = (|| {
        let input = StepInput {
            settings,
            derived,
            path: parameter(&step.path)?,
            dest: parameter(&step.dest)?,
            template: step.template.as_deref(),
            owner: parameter(&step.owner)?.unwrap_or_else(|| settings.os_user.clone()),
            group: parameter(&step.group)?.unwrap_or_else(|| settings.os_group.clone()),
            mode,
            sensitive: step.sensitive,
            check: step.check,
            render: &render,
            problem: &problem,
        };
        step.action.desire(&input)
    })();
    rendered.map_err(|problem| vec![problem])
}

/// Renders a playbook parameter (a template string) with the host's context.
fn render_string(text: &str, values: &minijinja::Value) -> Result<String, String> {
    let mut environment = minijinja::Environment::new();
    environment.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
    environment
        .render_str(text, values)
        .map_err(|error| match error.detail() {
            Some(detail) => format!("{}: {detail}", error.kind()),
            None => error.kind().to_string(),
        })
}

/// The variables of a host's templates that are its own (its cluster's
/// `hostvars` and `groups` join them from [`SharedContext`]): its variables and
/// values pgconverge derives: `primary_conninfo`, a numeric `pg_version`, `pg_has` (what
/// this version has, from `src/versions.rs`: `pg_has.standby_signal`,
/// `pg_has.wal_keep_size`, ...), `standby_count` (the standbys of the cluster),
/// `synchronous_replication` (the cluster has synchronous standbys) and the
/// primary's `synchronous_standby_names` (empty on a standby); and, typed, the
/// values actions read, which templates see under the same names.
fn template_context(
    inventory: &Inventory,
    host: &Host,
    settings: &HostSettings,
) -> Result<(Value, DerivedValues), Diagnostic> {
    let problem = |message: String| {
        Diagnostic::new(
            &inventory.source,
            None,
            None,
            format!("host `{}`: {message}", host.name),
        )
    };
    let local_directory = host
        .vars
        .get("wal_archive_dir")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let archive_host = |name: &str| {
        inventory.hosts.get(name).map(|found| ArchiveHost {
            login: format!(
                "{}@{}",
                found
                    .vars
                    .get("pg_os_user")
                    .and_then(Value::as_str)
                    .unwrap_or("postgres"),
                found.address
            ),
            address: found.address.clone(),
            is_archive_role: found.role == Role::Archive,
        })
    };
    let archive =
        WalArchive::from_vars(host.vars.get("wal_archive"), local_directory, &archive_host)
            .map_err(problem)?;
    let mode = settings.replication_mode;
    if host.role == Role::Standby
        && mode == ReplicationMode::Archive
        && archive.restore_command().is_empty()
    {
        return Err(problem(
            "`replication_mode: archive` needs an archive the standby can read: set `wal_archive` to a shared `path` or to `command` and `restore_command`".to_string(),
        ));
    }
    let mut context = inventory.host_context(&host.name);
    let pgbackrest = archive.pgbackrest();
    let derived = DerivedValues {
        replication_slot: crate::actions::replication_slot::slot_name(&host.name),
        pgbackrest_stanza: pgbackrest
            .map(|pgbackrest| pgbackrest.stanza.clone())
            .filter(|stanza| !stanza.is_empty()),
        wal_archive_segment_dir: archive
            .segment_directory_on(&host.name)
            .filter(|path| !path.is_empty())
            .map(str::to_string),
        wal_archive_destination: archive.destination(),
        base_backup_method: context
            .get("base_backup_method")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string(),
        pgbouncer_target: cluster_primary(inventory, host).map(|primary| {
            crate::actions::pgbouncer::Target {
                name: primary.name.clone(),
                host: primary.settings.replication_host.clone(),
                port: primary.settings.port,
            }
        }),
    };
    if let Value::Object(map) = &mut context {
        map.insert(
            "archive_command".into(),
            Value::from(archive.archive_command()),
        );
        map.insert(
            "restore_command".into(),
            Value::from(archive.restore_command()),
        );
        map.insert(
            "archive_cleanup_command".into(),
            Value::from(archive.cleanup_command(&settings.bin_dir)),
        );
        map.insert(
            "wal_archive_path".into(),
            Value::from(archive.directory_on(&host.name).unwrap_or_default()),
        );
        map.insert(
            "wal_archive_destination".into(),
            Value::from(derived.wal_archive_destination.clone()),
        );
        map.insert(
            "wal_archive_over_ssh".into(),
            Value::from(archive.over_ssh()),
        );
        map.insert(
            "wal_archive_segment_dir".into(),
            Value::from(derived.wal_archive_segment_dir.clone().unwrap_or_default()),
        );
        map.insert(
            "pgbackrest_stanza".into(),
            Value::from(derived.pgbackrest_stanza.clone().unwrap_or_default()),
        );
        map.insert(
            "pgbackrest_repository".into(),
            Value::from(pgbackrest.is_some_and(|pgbackrest| {
                pgbackrest.keeps_repository(&host.name, host.role == Role::Primary)
            })),
        );
        let pgbackrest =
            pgbackrest.map(|pgbackrest| pgbackrest_context(inventory, host, pgbackrest));
        map.insert("pgbackrest".into(), pgbackrest.unwrap_or(Value::Null));
        map.insert("replication_mode".into(), Value::from(mode.name()));
        // The cluster has PgBouncer hosts (`pgbouncer_host`, with the host's own
        // variables): its primary makes the role and function they look
        // passwords up with.
        map.insert(
            "pgbouncer_in_cluster".into(),
            Value::from(
                inventory
                    .hosts
                    .values()
                    .any(|other| other.cluster == host.cluster && other.pgbouncer),
            ),
        );
        map.insert(
            "synchronous_replication".into(),
            Value::from(inventory.has_synchronous_standbys(&host.name)),
        );
        map.insert(
            "synchronous_standby_names".into(),
            Value::from(crate::inventory::synchronous::standby_names(
                settings,
                &inventory.synchronous_standbys(&host.name),
            )),
        );
        map.insert(
            "replication_slot".into(),
            Value::from(derived.replication_slot.clone()),
        );
        map.insert(
            "synchronized_standby_slots".into(),
            Value::from(synchronized_standby_slots(inventory, host, settings)),
        );
        // A cascading standby syncs no slot: its upstream is itself a standby.
        let upstream_is_primary = host
            .upstream
            .as_ref()
            .and_then(|upstream| inventory.hosts.get(upstream))
            .is_none_or(|upstream| upstream.role == Role::Primary);
        map.insert(
            "sync_replication_slots".into(),
            Value::from(settings.failover_slots && upstream_is_primary),
        );
        let replication_hba_type = if settings.replication_sslmode.requires_tls() {
            "hostssl"
        } else {
            "host"
        };
        map.insert(
            "replication_hba_type".into(),
            Value::from(replication_hba_type),
        );
        map.insert("pg_version".into(), settings.pg_version.template_value());
        map.insert(
            "pg_has".into(),
            crate::versions::template_flags(settings.pg_version),
        );
        let standby_count = inventory
            .hosts
            .values()
            .filter(|other| other.role == Role::Standby)
            .count();
        map.insert("standby_count".into(), Value::from(standby_count));
        map.entry("wal_keep_segments").or_insert(Value::from(64));
        let conninfo = host
            .upstream
            .as_ref()
            .and_then(|upstream| inventory.hosts.get(upstream))
            .map(|upstream| primary_conninfo(host, upstream, settings))
            .unwrap_or_default();
        map.insert("primary_conninfo".into(), Value::from(conninfo));
        map.insert(
            "pg_standby_command".into(),
            Value::from(pg_standby_command(settings, local_directory, standby_count)),
        );
    }
    Ok((context, derived))
}

/// The primary of `host`'s replication cluster, as the inventory has it.
fn cluster_primary<'a>(inventory: &'a Inventory, host: &Host) -> Option<&'a Host> {
    inventory
        .hosts
        .values()
        .find(|other| other.role == Role::Primary && other.cluster == host.cluster)
}

/// What `pgbackrest.conf` needs on `host`: the stanza and repository, whether this
/// host keeps the repository and takes the backups (the repository host, or the
/// primary when the repository is a path on each node), and the primary it backs
/// up (`pg1-*` on the repository host).
fn pgbackrest_context(
    inventory: &Inventory,
    host: &Host,
    pgbackrest: &crate::archive::Pgbackrest,
) -> Value {
    let primary = cluster_primary(inventory, host);
    let repository = pgbackrest.keeps_repository(&host.name, host.role == Role::Primary);
    serde_json::json!({
        "stanza": pgbackrest.stanza,
        "repo_path": pgbackrest.repo_path,
        "repo_address": pgbackrest.repo_address,
        "retention_full": pgbackrest.retention_full,
        "repository": repository,
        "primary": primary.map(|primary| serde_json::json!({
            "address": primary.address,
            "data_dir": primary.settings.data_dir,
            "port": primary.settings.port,
            "socket_dir": primary.settings.socket_dir,
            "os_user": primary.settings.os_user,
        })),
    })
}

/// The primary's `synchronized_standby_slots` with `failover_slots`: the slots of
/// the standbys streaming from it, whose WAL logical decoding waits for, so no
/// consumer gets a change a promoted standby would not have. Empty on a
/// standby (a cascading standby syncs no slot), and without `failover_slots`.
fn synchronized_standby_slots(
    inventory: &Inventory,
    host: &Host,
    settings: &HostSettings,
) -> String {
    if !settings.failover_slots || host.role != Role::Primary {
        return String::new();
    }
    inventory
        .hosts
        .values()
        .filter(|other| {
            other.role == Role::Standby && other.upstream.as_deref() == Some(host.name.as_str())
        })
        .map(|standby| crate::actions::replication_slot::slot_name(&standby.name))
        .collect::<Vec<_>>()
        .join(",")
}

/// The `restore_command` of a warm standby before 9.0: `pg_standby` waits for each
/// segment in the shared archive; creating the trigger file promotes. With one
/// standby it may also remove what it no longer needs (`%r`); with several reading
/// one archive, that would remove what the others need.
fn pg_standby_command(settings: &HostSettings, archive: &str, standby_count: usize) -> String {
    let word = crate::archive::command_word;
    format!(
        "{} -t {} {} %f %p{}",
        word(&format!("{}/pg_standby", settings.bin_dir)),
        word(&format!("{}/promote.trigger", settings.data_dir)),
        word(archive),
        if standby_count == 1 { " %r" } else { "" }
    )
}

/// The connection string a standby streams with. It names a passfile rather than
/// holding the password, so no configuration file or process list shows it.
pub fn primary_conninfo(host: &Host, upstream: &Host, settings: &HostSettings) -> String {
    let value = |name: &str| {
        upstream
            .vars
            .get(name)
            .map(|value| {
                value
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| value.to_string())
            })
            .unwrap_or_default()
    };
    let mut pairs = vec![
        ("host", value("replication_host")),
        ("port", value("pg_port")),
        ("user", settings.replication_user.clone()),
        ("application_name", host.name.clone()),
        ("sslmode", settings.replication_sslmode.name().to_string()),
    ];
    if settings.failover_slots {
        // The slot sync worker reads the primary's slots through a normal
        // connection; walreceiver ignores the name.
        pairs.push(("dbname", "postgres".to_string()));
    }
    pairs.extend(settings.replication_auth());
    if crate::versions::CONNINFO_PASSFILE.in_version(settings.pg_version) {
        pairs.push(("passfile", format!("{}/.pgpass", settings.home_dir)));
    }
    crate::conninfo::join(&pairs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::actions::recovery::RecoveryConfig;
    use crate::versions::PgVersion;
    use serde_json::json;

    #[test]
    fn versions_read_like_postgresql_names_them() {
        assert_eq!(PgVersion::parse(&json!(15)), Some(PgVersion(1500)));
        assert_eq!(PgVersion::parse(&json!(9.6)), Some(PgVersion(906)));
        assert_eq!(PgVersion::parse(&json!("8.3")), Some(PgVersion(803)));
        assert_eq!(PgVersion::parse(&json!("15.2")), None);
        assert_eq!(PgVersion::parse(&json!("fifteen")), None);
        assert_eq!(PgVersion(906).to_string(), "9.6");
        assert_eq!(PgVersion(1700).to_string(), "17");
    }

    fn desired_for(version: &str) -> DesiredState {
        let text = format!(
            "all:\n  vars:\n    pg_version: {version}\n    replication_password: secret-pw\n  children:\n    primary:\n      hosts:\n        db1: {{ ansible_host: 10.0.0.11 }}\n    standby:\n      hosts:\n        db2: {{ ansible_host: 10.0.0.12 }}\n"
        );
        let inventory = Inventory::parse(std::path::Path::new("inventory.yaml"), &text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"))
    }

    fn file_content<'a>(desired: &'a DesiredState, host: &str, step: &str) -> &'a str {
        match desired
            .hosts
            .get(host)
            .and_then(|host| host.steps.get(step))
        {
            Some(step) if step.rendered_file().is_some() => step
                .rendered_file()
                .map(|file| file.content.as_str())
                .unwrap_or_default(),
            other => panic!("{host}/{step} is not a file step: {other:?}"),
        }
    }

    /// With `failover_slots` (17): logical WAL and slot sync on every member (the
    /// same lines whatever the role, so a role change restarts nothing), `dbname`
    /// in the standby's conninfo, and the primary waiting for its standbys' slots.
    #[test]
    fn failover_slots_sync_logical_slots_to_the_standbys_of_the_primary() {
        let text = "all:\n  vars:\n    pg_version: 17\n    failover_slots: true\n    replication_password: secret-pw\n  children:\n    primary:\n      hosts:\n        db1: { ansible_host: 10.0.0.11 }\n    standby:\n      hosts:\n        db2: { ansible_host: 10.0.0.12 }\n        db3: { ansible_host: 10.0.0.13 }\n        db4: { ansible_host: 10.0.0.14, upstream: db3 }\n";
        let inventory = Inventory::parse(std::path::Path::new("inventory.yaml"), text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        let desired = DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"));
        let primary = file_content(&desired, "db1", "postgresql_conf");
        let standby = file_content(&desired, "db2", "postgresql_conf");
        let cascading = file_content(&desired, "db4", "postgresql_conf");
        for conf in [primary, standby, cascading] {
            assert!(
                conf.contains("wal_level = logical\n")
                    && conf.contains("hot_standby_feedback = on\n"),
                "{conf}"
            );
        }
        for conf in [primary, standby] {
            assert!(conf.contains("sync_replication_slots = on\n"), "{conf}");
        }
        assert!(
            cascading.contains("sync_replication_slots = off\n"),
            "{cascading}"
        );
        assert!(
            primary.contains("synchronized_standby_slots = 'pgconverge_db2,pgconverge_db3'\n"),
            "{primary}"
        );
        assert!(
            !standby.contains("synchronized_standby_slots ="),
            "{standby}"
        );
        assert!(
            standby.contains("application_name=db2 sslmode=prefer dbname=postgres require_auth"),
            "{standby}"
        );
        let plain = desired_for("17");
        let conf = file_content(&plain, "db2", "postgresql_conf");
        assert!(
            conf.contains("wal_level = replica\n")
                && !conf.contains("sync_replication_slots")
                && !conf.contains("dbname"),
            "{conf}"
        );
    }

    #[test]
    fn standby_of_version_12_and_later_uses_standby_signal_and_conninfo_in_postgresql_conf() {
        let desired = desired_for("15");
        let conf = file_content(&desired, "db2", "postgresql_conf");
        assert!(conf.contains("primary_conninfo = 'host=10.0.0.11 port=5432 user=replicator application_name=db2 sslmode=prefer passfile=/var/lib/postgresql/.pgpass'"), "{conf}");
        assert!(conf.contains("wal_keep_size = '1GB'"), "{conf}");
        assert!(!conf.contains("secret-pw"), "{conf}");
        assert_eq!(
            desired
                .hosts
                .get("db2")
                .and_then(|host| host.steps.get("recovery_config")),
            Some(&DesiredStep::RecoveryConfig(RecoveryConfig {
                recovery_conf: None,
            }))
        );
        assert!(!file_content(&desired, "db1", "postgresql_conf").contains("primary_conninfo"));
    }

    /// The standby's `primary_conninfo` line in the version's configuration
    /// file, with `extra` added to the inventory's variables.
    fn conninfo_line(version: &str, extra: &str) -> String {
        let text = format!(
            "all:\n  vars:\n    pg_version: {version}\n    replication_password: secret-pw\n{extra}  children:\n    primary:\n      hosts:\n        db1: {{ ansible_host: 10.0.0.11 }}\n    standby:\n      hosts:\n        db2: {{ ansible_host: 10.0.0.12 }}\n"
        );
        let inventory = Inventory::parse(std::path::Path::new("inventory.yaml"), &text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        let desired = DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"));
        let content = match desired
            .hosts
            .get("db2")
            .and_then(|host| host.steps.get("recovery_config"))
        {
            Some(DesiredStep::RecoveryConfig(RecoveryConfig {
                recovery_conf: Some(recovery),
            })) => recovery.content.clone(),
            _ => file_content(&desired, "db2", "postgresql_conf").to_string(),
        };
        content
            .lines()
            .find(|line| line.starts_with("primary_conninfo"))
            .unwrap_or_else(|| panic!("no primary_conninfo in {content}"))
            .to_string()
    }

    #[test]
    fn primary_conninfo_requires_scram_from_16_when_libpq_has_require_auth() {
        for (version, required) in [
            ("\"9.6\"", false),
            ("15", false),
            ("16", true),
            ("17", true),
        ] {
            let line = conninfo_line(version, "");
            assert_eq!(
                line.contains(" require_auth=scram-sha-256 "),
                required,
                "PostgreSQL {version}: {line}"
            );
        }
    }

    #[test]
    fn primary_conninfo_requires_channel_binding_only_where_tls_is_required() {
        for (sslmode, bound) in [
            ("disable", false),
            ("allow", false),
            ("prefer", false),
            ("require", true),
            ("verify-ca", true),
            ("verify-full", true),
        ] {
            let extra = format!("    replication_sslmode: {sslmode}\n");
            let line = conninfo_line("15", &extra);
            assert_eq!(
                line.contains(" channel_binding=require "),
                bound,
                "{sslmode}: {line}"
            );
            assert!(!line.contains("require_auth"), "{line}");
            // libpq before 13 has no channel_binding and would refuse the whole string.
            let line = conninfo_line("12", &extra);
            assert!(!line.contains("channel_binding"), "{sslmode} on 12: {line}");
        }
        assert_eq!(
            conninfo_line("17", "    replication_sslmode: verify-full\n"),
            "primary_conninfo = 'host=10.0.0.11 port=5432 user=replicator application_name=db2 sslmode=verify-full require_auth=scram-sha-256 channel_binding=require passfile=/var/lib/postgresql/.pgpass'"
        );
    }

    #[test]
    fn the_pgpass_names_each_member_address_port_and_database_never_any_server() {
        let text = "all:\n  vars:\n    pg_version: 17\n    replication_password: secret-pw\n    wal_archive: { host: arch1, path: /srv/wal }\n  children:\n    primary:\n      hosts:\n        db1: { ansible_host: 10.0.0.11 }\n    standby:\n      hosts:\n        db2: { ansible_host: 10.0.0.12, pg_port: 5433 }\n        db3: { ansible_host: 'fd00::13' }\n    archive:\n      hosts:\n        arch1: { ansible_host: 10.0.0.20 }\n";
        let inventory = Inventory::parse(std::path::Path::new("inventory.yaml"), text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        let desired = DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"));
        let expected = "\
10.0.0.11:5432:replication:replicator:secret-pw
10.0.0.11:5432:postgres:replicator:secret-pw
10.0.0.12:5433:replication:replicator:secret-pw
10.0.0.12:5433:postgres:replicator:secret-pw
fd00\\:\\:13:5432:replication:replicator:secret-pw
fd00\\:\\:13:5432:postgres:replicator:secret-pw
";
        for host in ["db1", "db2", "db3"] {
            let pgpass = file_content(&desired, host, "pgpass");
            assert_eq!(pgpass, expected, "{host}");
            assert!(!pgpass.contains('*'), "{pgpass}");
        }
        // The archive host is no member: no rule lets it stream or rewind.
        for host in ["db1", "db2", "db3"] {
            let hba = file_content(&desired, host, "pg_hba_conf");
            assert!(hba.contains("10.0.0.12/32"), "{hba}");
            assert!(!hba.contains("10.0.0.20"), "{host}: {hba}");
        }
    }

    #[test]
    fn a_synchronous_standby_is_named_in_its_primarys_configuration() {
        let text = "all:\n  vars:\n    pg_version: 15\n    replication_password: secret-pw\n    synchronous_method: any\n  children:\n    primary:\n      hosts:\n        db1: { ansible_host: 10.0.0.11 }\n    standby:\n      hosts:\n        db2: { ansible_host: 10.0.0.12, replication_mode: synchronous }\n        db3: { ansible_host: 10.0.0.13 }\n";
        let inventory = Inventory::parse(std::path::Path::new("inventory.yaml"), text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        let desired = DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"));
        let primary = file_content(&desired, "db1", "postgresql_conf");
        assert!(
            primary.contains("synchronous_standby_names = 'ANY 1 (\"db2\")'"),
            "{primary}"
        );
        for standby in ["db2", "db3"] {
            let conf = file_content(&desired, standby, "postgresql_conf");
            assert!(conf.contains("synchronous_standby_names = ''"), "{conf}");
        }
        // A synchronous standby streams, so it has its slot and its check.
        let db2 = desired.hosts.get("db2").map(|host| &host.steps);
        assert!(
            db2.is_some_and(|steps| steps.contains_key("replication_slot")
                && steps.contains_key("verify_streaming"))
        );
        // Without synchronous standbys the setting is left to the host.
        let plain = desired_for("15");
        assert!(
            !file_content(&plain, "db1", "postgresql_conf").contains("synchronous_standby_names")
        );
    }

    #[test]
    fn standby_of_version_11_and_earlier_gets_recovery_conf() {
        let desired = desired_for("11");
        let conf = file_content(&desired, "db2", "postgresql_conf");
        assert!(!conf.contains("primary_conninfo"), "{conf}");
        assert!(conf.contains("wal_keep_segments = 64"), "{conf}");
        let Some(DesiredStep::RecoveryConfig(RecoveryConfig {
            recovery_conf: Some(recovery),
        })) = desired
            .hosts
            .get("db2")
            .and_then(|host| host.steps.get("recovery_config"))
        else {
            panic!("PostgreSQL 11 needs recovery.conf");
        };
        assert_eq!(recovery.path, "/var/lib/postgresql/11/main/recovery.conf");
        assert_eq!(recovery.mode, 0o600);
        for line in [
            "standby_mode = 'on'",
            "primary_conninfo = 'host=10.0.0.11",
            "trigger_file = '/var/lib/postgresql/11/main/promote.trigger'",
        ] {
            assert!(recovery.content.contains(line), "{}", recovery.content);
        }
    }

    #[test]
    fn version_9_5_uses_the_old_wal_level_and_no_passfile_parameter() {
        let desired = desired_for("9.5");
        let conf = file_content(&desired, "db1", "postgresql_conf");
        assert!(conf.contains("wal_level = hot_standby"), "{conf}");
        let Some(DesiredStep::RecoveryConfig(RecoveryConfig {
            recovery_conf: Some(recovery),
        })) = desired
            .hosts
            .get("db2")
            .and_then(|host| host.steps.get("recovery_config"))
        else {
            panic!("PostgreSQL 9.5 needs recovery.conf");
        };
        assert!(
            !recovery.content.contains("passfile"),
            "libpq before 10 reads ~/.pgpass itself\n{}",
            recovery.content
        );
    }

    #[test]
    fn templates_compare_two_part_versions_as_written() {
        // 9.6 must compare above 9.3, as `pg_version >= 9.3` in a template reads.
        assert_eq!(PgVersion(906).template_value(), json!(9.6));
        assert_eq!(PgVersion(803).template_value(), json!(8.3));
        assert_eq!(PgVersion(1500).template_value(), json!(15));
    }

    fn template_context_for(text: &str, host: &str) -> Value {
        let inventory = Inventory::parse(std::path::Path::new("inventory.yaml"), text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        let host = inventory
            .hosts
            .get(host)
            .unwrap_or_else(|| panic!("no host {host}"));
        template_context(&inventory, host, &host.settings)
            .unwrap_or_else(|error| panic!("{error}"))
            .0
    }

    #[test]
    fn template_context_says_what_the_version_has() {
        let text = "all:\n  vars:\n    pg_version: \"9.6\"\n    replication_password: x\n  children:\n    primary:\n      hosts:\n        db1: {}\n    standby:\n      hosts:\n        db2: {}\n        db3: {}\n";
        let context = template_context_for(text, "db2");
        assert_eq!(context["pg_version"], json!(9.6));
        assert_eq!(context["standby_count"], json!(2));
        let has = &context["pg_has"];
        assert_eq!(has["streaming_replication"], json!(true));
        assert_eq!(has["wal_level_replica"], json!(true));
        assert_eq!(has["unix_socket_directories"], json!(true));
        assert_eq!(has["standby_signal"], json!(false));
        assert_eq!(has["wal_keep_size"], json!(false));
    }

    #[test]
    fn a_warm_standby_sharing_the_archive_keeps_every_segment() {
        // With one standby, pg_standby may remove what it no longer needs (%r);
        // with several reading one archive, that would remove what others need.
        let one = desired_for("\"8.4\"");
        let Some(DesiredStep::RecoveryConfig(RecoveryConfig {
            recovery_conf: Some(recovery),
        })) = one
            .hosts
            .get("db2")
            .and_then(|host| host.steps.get("recovery_config"))
        else {
            panic!("PostgreSQL 8.4 needs recovery.conf");
        };
        assert!(
            recovery.content.contains("/usr/lib/postgresql/8.4/bin/pg_standby -t /var/lib/postgresql/8.4/main/promote.trigger /var/lib/postgresql/wal_archive %f %p %r'"),
            "{}",
            recovery.content
        );
        let text = "all:\n  vars:\n    pg_version: \"8.4\"\n    replication_password: x\n  children:\n    primary:\n      hosts:\n        db1: {}\n    standby:\n      hosts:\n        db2: {}\n        db3: {}\n";
        let inventory = Inventory::parse(std::path::Path::new("inventory.yaml"), text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        let two = DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"));
        for standby in ["db2", "db3"] {
            let Some(DesiredStep::RecoveryConfig(RecoveryConfig {
                recovery_conf: Some(recovery),
            })) = two
                .hosts
                .get(standby)
                .and_then(|host| host.steps.get("recovery_config"))
            else {
                panic!("PostgreSQL 8.4 needs recovery.conf");
            };
            assert!(
                recovery
                    .content
                    .contains("/var/lib/postgresql/wal_archive %f %p'"),
                "{}",
                recovery.content
            );
            assert!(!recovery.content.contains("%r'"), "{}", recovery.content);
        }
    }
}
