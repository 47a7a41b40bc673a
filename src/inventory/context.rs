//! The data a configuration template (postgresql.conf, pg_hba.conf) renders
//! with: one host's variables plus Ansible-style `hostvars` and `groups`, so a
//! primary's pg_hba.conf can name every standby's address.
//!
//! `hostvars` and `groups` are the same for every host of a replication
//! cluster: they are made into template values once per inventory
//! ([`SharedContext`]), not once per host and file, which made loading
//! quadratic in the number of hosts.

use super::{Host, Inventory};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// The template variables every host of a cluster shares, as template values
/// made once: `hostvars` (every host's variables with its `pg_role` and
/// `ansible_host`) and `groups` (every group's host names in the cluster).
pub struct SharedContext {
    /// Per replication cluster, a map of `hostvars` and `groups`.
    clusters: HashMap<String, minijinja::Value>,
}

impl SharedContext {
    /// `hostvars` and `groups` for a host of `cluster` (empty for an unknown one).
    fn of_cluster(&self, cluster: &str) -> minijinja::Value {
        self.clusters
            .get(cluster)
            .cloned()
            .unwrap_or_else(|| template_value(&Map::<String, Value>::new()))
    }

    /// A host's template values: `own` (its variables and what pgconverge
    /// derives for it) with its cluster's `hostvars` and `groups`, which win
    /// over an own variable of the same name.
    pub fn with_own(&self, cluster: &str, own: &Value) -> minijinja::Value {
        // The last of the merged maps wins.
        minijinja::value::merge_maps([template_value(own), self.of_cluster(cluster)])
    }
}

impl Inventory {
    /// The template variables of `host` that are its own: its variables, plus
    /// `inventory_hostname`, `group_names`, `pg_role` (`"primary"`,
    /// `"standby"`, `"archive"` or `"pgbouncer"`), `pgbouncer_host` (in the
    /// group `pgbouncer`), `ansible_host` and `upstream` (a host name
    /// or null). An unknown host gives `null`. What it shares with its cluster
    /// is in [`Inventory::shared_context`].
    pub fn host_context(&self, host: &str) -> Value {
        let Some(own) = self.hosts.get(host) else {
            return Value::Null;
        };
        let mut context = host_variables(own);
        context.insert("inventory_hostname".to_string(), Value::from(host));
        context.insert(
            "group_names".to_string(),
            Value::from(self.group_names(host)),
        );
        context.insert(
            "upstream".to_string(),
            own.upstream.clone().map_or(Value::Null, Value::from),
        );
        Value::Object(context)
    }

    /// `hostvars` and `groups` of every replication cluster, made into template
    /// values once.
    pub fn shared_context(&self) -> SharedContext {
        let hostvars: Map<String, Value> = self
            .hosts
            .iter()
            .map(|(name, other)| (name.clone(), Value::Object(host_variables(other))))
            .collect();
        let hostvars = template_value(&hostvars);
        let mut clusters = HashMap::new();
        for host in self.hosts.values() {
            if clusters.contains_key(&host.cluster) {
                continue;
            }
            let groups = self.groups_of_cluster(&host.cluster);
            clusters.insert(
                host.cluster.clone(),
                minijinja::context! { hostvars => hostvars.clone(), groups => groups },
            );
        }
        SharedContext { clusters }
    }

    /// Every group with its members in `cluster`: a template sees the groups
    /// of its own replication cluster, every member it lists may stream from
    /// this host.
    fn groups_of_cluster(&self, cluster: &str) -> minijinja::Value {
        let in_cluster = |name: &String| {
            self.hosts
                .get(name)
                .is_some_and(|other| other.cluster == cluster)
        };
        let groups: Map<String, Value> = self
            .groups
            .iter()
            .map(|(group, hosts)| {
                let members: Vec<String> = hosts
                    .iter()
                    .filter(|name| in_cluster(name))
                    .cloned()
                    .collect();
                (group.clone(), Value::from(members))
            })
            .collect();
        template_value(&groups)
    }

    /// The groups `host` is in, sorted and without `all`, as Ansible's
    /// `group_names`.
    fn group_names(&self, host: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .groups
            .iter()
            .filter(|(group, hosts)| {
                group.as_str() != "all" && hosts.iter().any(|known| known == host)
            })
            .map(|(group, _)| group.clone())
            .collect();
        names.sort_unstable();
        names
    }
}

/// A host's variables with its role and its address, as `hostvars` shows them.
fn host_variables(host: &Host) -> Map<String, Value> {
    let mut variables: Map<String, Value> = host
        .vars
        .iter()
        .filter(|(name, _)| !host.unrendered.contains(name))
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    variables.insert("pg_role".to_string(), Value::from(host.role.name()));
    // A host of the group `pgbouncer`: every member's pg_hba.conf lets it in.
    variables.insert("pgbouncer_host".to_string(), Value::from(host.pgbouncer));
    // The address pgconverge connects to, which `ansible_ssh_host` may set: the
    // templates allow replication from it.
    variables.insert(
        "ansible_host".to_string(),
        Value::from(host.address.clone()),
    );
    variables
}

/// `value` as a template value (converted once: cloning it is cheap).
fn template_value(value: &impl serde::Serialize) -> minijinja::Value {
    minijinja::Value::from(minijinja::value::Serde(value))
}
