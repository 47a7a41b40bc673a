//! The data a configuration template (postgresql.conf, pg_hba.conf) renders
//! with: one host's variables plus Ansible-style `hostvars` and `groups`, so a
//! primary's pg_hba.conf can name every standby's address.

use super::{Host, Inventory, Role};
use serde_json::{Map, Value};

impl Inventory {
    /// The template context of `host`: its variables, plus
    /// `inventory_hostname`, `group_names`, `pg_role` (`"primary"` or
    /// `"standby"`), `upstream` (a host name or null), `hostvars` (every host's
    /// variables with its `pg_role` and `ansible_host`) and `groups` (every
    /// group's host names). An unknown host gives `null`.
    pub fn template_context(&self, host: &str) -> Value {
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
        let hostvars: Map<String, Value> = self
            .hosts
            .iter()
            .map(|(name, other)| (name.clone(), Value::Object(host_variables(other))))
            .collect();
        context.insert("hostvars".to_string(), Value::Object(hostvars));
        // A template sees the groups of its own replication cluster: every
        // member it lists may stream from this host.
        let same_cluster = |name: &String| {
            self.hosts
                .get(name)
                .is_some_and(|other| other.cluster == own.cluster)
        };
        let groups: Map<String, Value> = self
            .groups
            .iter()
            .map(|(group, hosts)| {
                let members: Vec<String> = hosts
                    .iter()
                    .filter(|name| same_cluster(name))
                    .cloned()
                    .collect();
                (group.clone(), Value::from(members))
            })
            .collect();
        context.insert("groups".to_string(), Value::Object(groups));
        Value::Object(context)
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
        .map(|(name, value)| (name.clone(), value.clone()))
        .collect();
    let role = match host.role {
        Role::Primary => "primary",
        Role::Standby => "standby",
        Role::Archive => "archive",
    };
    variables.insert("pg_role".to_string(), Value::from(role));
    // The address pgconverge connects to, which `ansible_ssh_host` may set: the
    // templates allow replication from it.
    variables.insert(
        "ansible_host".to_string(),
        Value::from(host.address.clone()),
    );
    variables.insert(
        "ansible_host".to_string(),
        Value::from(host.address.clone()),
    );
    variables
}
