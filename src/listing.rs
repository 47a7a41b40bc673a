//! `pgconverge inventory --list` and `--host`: the inventory as pgconverge
//! resolved it, in the JSON shape `ansible-inventory` prints, so a user can see
//! what pgconverge sees. Each host shows the variables its inventory writes
//! (not pgconverge's defaults) with templates rendered; every secret is
//! `(sensitive)`. Hosts pgconverge leaves out are not listed.

use crate::inventory::Inventory;
use crate::secret::{REDACTED, Redactor};
use serde_json::{Map, Value};

/// The group whose hosts are in no other group, as Ansible names it.
const UNGROUPED: &str = "ungrouped";

/// The variables of one host, or `None` for a host the inventory has not.
pub fn host(inventory: &Inventory, name: &str) -> Option<Value> {
    let host = inventory.hosts.get(name)?;
    let redactor = Redactor::new(inventory.secret_values());
    let written = inventory.written.get(name).map_or(&[][..], Vec::as_slice);
    let vars: Map<String, Value> = written
        .iter()
        .filter_map(|variable| {
            let value = host.vars.get(variable)?;
            let shown = if inventory.sensitive_vars.contains(variable) {
                Value::from(REDACTED)
            } else {
                redact(value, &redactor)
            };
            Some((variable.clone(), shown))
        })
        .collect();
    Some(Value::Object(vars))
}

/// Every group with its own hosts and child groups, and every host's
/// variables under `_meta.hostvars`.
pub fn list(inventory: &Inventory) -> Value {
    let mut hostvars = Map::new();
    for name in inventory.hosts.keys() {
        if let Some(Value::Object(vars)) = host(inventory, name)
            && !vars.is_empty()
        {
            hostvars.insert(name.clone(), Value::Object(vars));
        }
    }
    let mut document = Map::new();
    document.insert(
        "_meta".to_string(),
        serde_json::json!({ "hostvars": hostvars }),
    );
    let listed = |hosts: &[String]| -> Vec<Value> {
        hosts
            .iter()
            .filter(|host| inventory.hosts.contains_key(*host))
            .map(|host| Value::from(host.as_str()))
            .collect()
    };
    // Hosts written directly under `all` and in no other group are `ungrouped`.
    let in_a_group = |host: &String| {
        inventory
            .tree
            .iter()
            .any(|(group, tree)| group != "all" && tree.hosts.contains(host))
    };
    let ungrouped: Vec<String> = inventory
        .hosts
        .keys()
        .filter(|host| !in_a_group(host))
        .cloned()
        .collect();
    for (group, tree) in &inventory.tree {
        let mut entry = Map::new();
        let mut children: Vec<Value> = tree
            .children
            .iter()
            .map(|child| Value::from(child.as_str()))
            .collect();
        if group == "all" {
            // As Ansible: `all` lists only the groups no other group holds.
            children.retain(|child| {
                let child = child.as_str().unwrap_or_default();
                !inventory.tree.iter().any(|(parent, tree)| {
                    parent != "all" && tree.children.iter().any(|known| known == child)
                })
            });
            if !ungrouped.is_empty() && !tree.children.iter().any(|child| child == UNGROUPED) {
                children.insert(0, Value::from(UNGROUPED));
            }
        } else {
            let hosts = if group == UNGROUPED {
                listed(&ungrouped)
            } else {
                listed(&tree.hosts)
            };
            if !hosts.is_empty() {
                entry.insert("hosts".to_string(), Value::Array(hosts));
            }
        }
        if !children.is_empty() {
            entry.insert("children".to_string(), Value::Array(children));
        }
        if !entry.is_empty() {
            document.insert(group.clone(), Value::Object(entry));
        }
    }
    if !ungrouped.is_empty() && !inventory.tree.contains_key(UNGROUPED) {
        document.insert(
            UNGROUPED.to_string(),
            serde_json::json!({ "hosts": listed(&ungrouped) }),
        );
    }
    Value::Object(document)
}

/// Every string in `value` with the secrets in it replaced.
fn redact(value: &Value, redactor: &Redactor) -> Value {
    match value {
        Value::String(text) => Value::String(redactor.redact(text)),
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| redact(item, redactor)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, item)| (key.clone(), redact(item, redactor)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn inventory(text: &str) -> Inventory {
        Inventory::parse(Path::new("hosts.ini"), text, &|_| None)
            .unwrap_or_else(|diagnostics| panic!("{diagnostics}"))
    }

    #[test]
    fn hosts_show_what_the_inventory_writes_with_secrets_hidden() {
        let inventory = inventory(
            "[primary]\ndb1 pg_port=5433 note=\"{{ pg_port + 1 }}\"\n[standby]\ndb2\n[all:vars]\nreplication_password=longsecret\nconninfo=\"password=longsecret\"\n",
        );
        assert_eq!(
            host(&inventory, "db1"),
            Some(serde_json::json!({
                "replication_password": "(sensitive)",
                "conninfo": "password=(sensitive)",
                "pg_port": 5433,
                "note": 5434,
            }))
        );
        let listed = list(&inventory);
        assert_eq!(
            listed["all"],
            serde_json::json!({"children": ["primary", "standby"]})
        );
        assert_eq!(listed["standby"], serde_json::json!({"hosts": ["db2"]}));
        assert_eq!(
            listed["_meta"]["hostvars"]["db2"]["replication_password"],
            "(sensitive)"
        );
    }
}
