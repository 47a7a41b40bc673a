//! `pgconverge inventory --list`, `--host` and `--graph`: the inventory as
//! pgconverge resolved it, in the shapes `ansible-inventory` prints, so a user
//! can see what pgconverge sees. Each host shows the variables its inventory writes
//! (not pgconverge's defaults) with templates rendered; every secret is
//! `(sensitive)`. Hosts pgconverge leaves out are not listed.

use crate::inventory::Inventory;
use crate::secret::{REDACTED, Redactor};
use serde_json::{Map, Value};

/// The group that holds every other.
const ALL: &str = "all";

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
    // As `ansible-inventory --list`: `all` lists every child group (`ungrouped`
    // first, empty or not) and no hosts; another group its own hosts and child
    // groups; a group with neither is not listed.
    for (group, tree) in &inventory.tree {
        let mut entry = Map::new();
        if group != ALL {
            let hosts: Vec<Value> = tree
                .hosts
                .iter()
                .filter(|host| inventory.hosts.contains_key(*host))
                .map(|host| Value::from(host.as_str()))
                .collect();
            if !hosts.is_empty() {
                entry.insert("hosts".to_string(), Value::Array(hosts));
            }
        }
        if !tree.children.is_empty() {
            let children = tree
                .children
                .iter()
                .map(|child| Value::from(child.as_str()));
            entry.insert("children".to_string(), children.collect());
        }
        if !entry.is_empty() {
            document.insert(group.clone(), Value::Object(entry));
        }
    }
    Value::Object(document)
}

/// The group tree from `group` down as `ansible-inventory --graph` draws it:
/// `@all:`, then each child group (`  |--@name:`) with its own, then the
/// group's hosts (`  |  |--db1`), `all` showing none of its own. A group under
/// two parents is drawn under each. `None` for a group the inventory has not.
pub fn graph(inventory: &Inventory, group: &str) -> Option<Vec<String>> {
    inventory.tree.get(group)?;
    let mut lines = Vec::new();
    graph_group(inventory, group, 0, &mut lines);
    Some(lines)
}

fn graph_group(inventory: &Inventory, group: &str, depth: usize, lines: &mut Vec<String>) {
    lines.push(graph_line(&format!("@{group}:"), depth));
    let Some(tree) = inventory.tree.get(group) else {
        return;
    };
    for child in &tree.children {
        graph_group(inventory, child, depth + 1, lines);
    }
    if group != ALL {
        let hosts = tree
            .hosts
            .iter()
            .filter(|host| inventory.hosts.contains_key(*host));
        lines.extend(hosts.map(|host| graph_line(host, depth + 1)));
    }
}

/// `name` drawn `depth` levels down, as Ansible's `_graph_name`.
fn graph_line(name: &str, depth: usize) -> String {
    if depth == 0 {
        name.to_string()
    } else {
        format!("{}--{name}", "  |".repeat(depth))
    }
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
            serde_json::json!({"children": ["ungrouped", "primary", "standby"]})
        );
        assert_eq!(listed["standby"], serde_json::json!({"hosts": ["db2"]}));
        assert_eq!(
            listed["_meta"]["hostvars"]["db2"]["replication_password"],
            "(sensitive)"
        );
    }

    #[test]
    fn the_graph_draws_the_tree_as_ansible_inventory_does() {
        let inventory = inventory(
            "[primary]\ndb1\n[standby]\ndb2\ndb3\n[dc1:children]\nprimary\nstandby\n[dc2:children]\nstandby\n[all:vars]\nreplication_password=longsecret\n",
        );
        let drawn = graph(&inventory, "all").expect("all is a group");
        assert_eq!(
            drawn.join("\n"),
            "@all:
  |--@ungrouped:
  |--@dc1:
  |  |--@primary:
  |  |  |--db1
  |  |--@standby:
  |  |  |--db2
  |  |  |--db3
  |--@dc2:
  |  |--@standby:
  |  |  |--db2
  |  |  |--db3"
        );
        assert_eq!(
            graph(&inventory, "standby"),
            Some(vec![
                "@standby:".to_string(),
                "  |--db2".to_string(),
                "  |--db3".to_string()
            ])
        );
        assert_eq!(graph(&inventory, "nosuch"), None);
    }

    #[test]
    fn ansible_login_passwords_and_secret_names_are_sensitive() {
        let inventory = inventory(
            "[primary]\ndb1 ansible_password=login-pw ansible_ssh_pass=ssh-pw-1 ansible_become_pass=become-1 ansible_become_password=become-2 ansible_sudo_pass=sudo-pw-1\n[standby]\ndb2 api_pass=apipass1 ldap_passwd=ldappw-1 admin_password=admin-pw-1 signing_key=keyvalue1 pgbackrest_repo1_cipher_type=aes-256-cbc ansible_ssh_private_key_file=/home/me/.ssh/id_ed25519 keyring=plainvalue\n[all:vars]\nreplication_password=longsecret\n",
        );
        let db1 = host(&inventory, "db1").expect("db1 is listed");
        for name in [
            "ansible_password",
            "ansible_ssh_pass",
            "ansible_become_pass",
            "ansible_become_password",
            "ansible_sudo_pass",
        ] {
            assert_eq!(db1[name], "(sensitive)", "{name}");
        }
        let db2 = host(&inventory, "db2").expect("db2 is listed");
        for name in [
            "api_pass",
            "ldap_passwd",
            "admin_password",
            "signing_key",
            "pgbackrest_repo1_cipher_type",
        ] {
            assert_eq!(db2[name], "(sensitive)", "{name}");
        }
        // A key file's path is not the key, and `_key` is a whole suffix.
        assert_eq!(
            db2["ansible_ssh_private_key_file"],
            "/home/me/.ssh/id_ed25519"
        );
        assert_eq!(db2["keyring"], "plainvalue");
    }

    /// A group_vars file encrypted whole with Ansible Vault: every variable in it
    /// is `(sensitive)`, whatever its name.
    #[test]
    fn every_value_of_a_vault_encrypted_group_vars_file_is_sensitive() {
        let fixture =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/ansible/17-vault-file");
        let input = crate::inventory::Input {
            sources: vec![fixture.join("inventory.yml")],
            vault_passwords: vec![crate::inventory::vault::PasswordSource {
                label: Some("prod".to_string()),
                file: fixture.join("prod-password"),
            }],
            ..crate::inventory::Input::default()
        };
        let inventory = Inventory::load_input(&input).unwrap_or_else(|d| panic!("{d}"));
        let listed = list(&inventory);
        let hostvars = listed["_meta"]["hostvars"]
            .as_object()
            .expect("hosts have variables");
        let mut seen = 0;
        for (name, vars) in hostvars {
            for (variable, value) in vars.as_object().expect("variables are a map") {
                assert_eq!(value, "(sensitive)", "{variable} of {name}");
                seen += 1;
            }
        }
        assert!(seen >= 2, "the fixture's vaulted variables are listed");
        assert!(!inventory.sensitive_vars.is_empty());
    }

    /// An inventory file encrypted whole with Ansible Vault: every variable written
    /// in it is `(sensitive)` and its values are redacted everywhere, while one
    /// from a plain group_vars file beside it is shown.
    #[test]
    fn every_variable_of_a_vault_encrypted_inventory_file_is_sensitive() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let plain = "all:\n  vars:\n    replication_password: longsecret\n    site_motto: hidden-motto\n  children:\n    primary:\n      hosts:\n        db1: { pg_port: 5433 }\n";
        let hosts = directory.path().join("hosts.yml");
        let vault = crate::inventory::vault::encrypt(plain.as_bytes(), b"pgconverge", &[7; 32]);
        std::fs::write(&hosts, vault).expect("write the inventory");
        std::fs::create_dir(directory.path().join("group_vars")).expect("mkdir");
        std::fs::write(
            directory.path().join("group_vars").join("all.yml"),
            "shown_note: in plain text\n",
        )
        .expect("write group_vars");
        let password_file = directory.path().join("password");
        std::fs::write(&password_file, "pgconverge\n").expect("write the password");
        let input = crate::inventory::Input {
            sources: vec![hosts],
            vault_passwords: vec![crate::inventory::vault::PasswordSource {
                label: None,
                file: password_file,
            }],
            ..crate::inventory::Input::default()
        };
        let inventory = Inventory::load_input(&input).unwrap_or_else(|d| panic!("{d}"));
        assert_eq!(
            host(&inventory, "db1"),
            Some(serde_json::json!({
                "replication_password": "(sensitive)",
                "site_motto": "(sensitive)",
                "pg_port": "(sensitive)",
                "shown_note": "in plain text",
            }))
        );
        assert!(
            inventory
                .secret_values()
                .contains(&"hidden-motto".to_string())
        );
    }
}
