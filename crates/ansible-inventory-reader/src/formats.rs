//! Which format an inventory file is in, and reading it into a [`Document`] of
//! the YAML inventory's shape: YAML, Ansible's INI, TOML, or the JSON that
//! `ansible-inventory --list` (or an inventory script) prints. Pure: the text
//! is given.
//!
//! The format follows the name as Ansible's plugins choose it: `.yml` and
//! `.yaml` are YAML, `.json` is YAML or `--list` JSON (it has `_meta`), `.toml`
//! is TOML, another extension is INI. A name without extension is YAML when it
//! reads as a YAML map, and INI otherwise.

use crate::diagnostic::Diagnostic;
use crate::ini;
use crate::layout::Document;
use crate::report::location;
use crate::yaml::{self, Entry, Node, NodeValue, Position};
use std::path::Path;

/// An inventory file read, and every problem found in it; the document is
/// `None` when nothing in it could be read. `program` is the name of the program
/// reading it, as messages give it (`program` runs no inventory plugin).
pub fn read(path: &Path, text: &str, program: &str) -> (Option<Document>, Vec<Diagnostic>) {
    let extension = path
        .extension()
        .and_then(|extension| extension.to_str())
        .map(str::to_ascii_lowercase);
    match extension.as_deref() {
        Some("yml" | "yaml" | "json") => read_yaml(path, text, program),
        Some("toml") => read_toml(path, text, program),
        Some(_) => read_ini(path, text),
        None => match yaml::parse(text) {
            Ok(root) if root.as_mapping().is_some_and(|entries| !entries.is_empty()) => {
                read_yaml(path, text, program)
            }
            _ => read_ini(path, text),
        },
    }
}

/// A host list (`db1,db2:2222,`) as Ansible's `host_list` plugin reads it: each
/// name between commas a host of no group (`ungrouped`), `HOST:PORT` with its
/// port; read as the INI lines that say the same, one host a line, so that
/// the file of a message is the list and its line the host's place in it.
pub(crate) fn read_host_list(list: &str) -> (Option<Document>, Vec<Diagnostic>) {
    let text: String = list
        .split(',')
        .map(str::trim)
        .filter(|host| !host.is_empty())
        .map(|host| format!("{host}\n"))
        .collect();
    read_ini(Path::new(list), &text)
}

fn read_ini(path: &Path, text: &str) -> (Option<Document>, Vec<Diagnostic>) {
    let (root, errors) = ini::parse(text);
    let problems = errors
        .into_iter()
        .map(|error| Diagnostic {
            location: location(path, Some(error.position)),
            message: format!("{} (read as an INI inventory)", error.message),
        })
        .collect();
    let document = Document {
        path: path.to_path_buf(),
        root,
    };
    (Some(document), problems)
}

fn read_toml(path: &Path, text: &str, program: &str) -> (Option<Document>, Vec<Diagnostic>) {
    let problem = |error: crate::toml::TomlError| Diagnostic {
        location: location(path, Some(error.position)),
        message: error.message,
    };
    let (root, errors) = match crate::toml::parse(text) {
        Ok(read) => read,
        Err(error) => return (None, vec![problem(error)]),
    };
    if let Some(refused) = plugin_configuration(path, &root, program) {
        return (None, vec![refused]);
    }
    let document = Document {
        path: path.to_path_buf(),
        root,
    };
    (Some(document), errors.into_iter().map(problem).collect())
}

fn read_yaml(path: &Path, text: &str, program: &str) -> (Option<Document>, Vec<Diagnostic>) {
    let (mut root, mut problems) = match parse_yaml(path, text, "a YAML inventory") {
        Ok(parsed) => parsed,
        Err(problem) => return (None, vec![problem]),
    };
    if let Some(refused) = plugin_configuration(path, &root, program) {
        return (None, vec![refused]);
    }
    let is_listed = root
        .as_mapping()
        .is_some_and(|entries| entries.iter().any(|entry| entry.key == "_meta"));
    if is_listed {
        root = from_listed(path, root, &mut problems);
    }
    let document = Document {
        path: path.to_path_buf(),
        root,
    };
    (Some(document), problems)
}

/// What an inventory script printed for `--list` (with `_meta.hostvars`), read
/// under `name` (`SCRIPT --list`) as Ansible's script plugin reads it: the
/// `--list` JSON shape, where a group may also be a list of hosts, and a map
/// with none of `hosts`, `vars` and `children` is a host of that name with
/// those variables (both shapes Ansible still takes, with a deprecation).
pub(crate) fn read_script_output(name: &Path, text: &str) -> (Option<Document>, Vec<Diagnostic>) {
    let (root, mut problems) = match parse_yaml(name, text, "an inventory script's JSON") {
        Ok(parsed) => parsed,
        Err(problem) => return (None, vec![problem]),
    };
    let position = root.position;
    let NodeValue::Mapping(entries) = root.value else {
        let message = format!(
            "an inventory script must print a JSON map of groups, not {}",
            root.kind()
        );
        let problem = Diagnostic {
            location: location(name, Some(position)),
            message,
        };
        return (None, vec![problem]);
    };
    let entries = entries.into_iter().map(script_group).collect();
    let root = Node {
        value: NodeValue::Mapping(entries),
        position,
    };
    let root = from_listed(name, root, &mut problems);
    let document = Document {
        path: name.to_path_buf(),
        root,
    };
    (Some(document), problems)
}

/// A group of a script's output in the `--list` shape.
fn script_group(entry: Entry) -> Entry {
    if entry.key == "_meta" {
        return entry;
    }
    let position = entry.value.position;
    let part = |key: &str, value: Node| Entry {
        key: key.to_string(),
        key_position: position,
        value,
    };
    let parts = match entry.value.value {
        NodeValue::Sequence(_) => vec![part("hosts", entry.value)],
        NodeValue::Mapping(ref parts)
            if !parts
                .iter()
                .any(|part| matches!(part.key.as_str(), "hosts" | "vars" | "children")) =>
        {
            let host = Node {
                value: NodeValue::String(entry.key.clone()),
                position: entry.key_position,
            };
            let hosts = Node {
                value: NodeValue::Sequence(vec![host]),
                position,
            };
            vec![part("hosts", hosts), part("vars", entry.value)]
        }
        _ => return entry,
    };
    Entry {
        value: Node {
            value: NodeValue::Mapping(parts),
            position,
        },
        ..entry
    }
}

/// The tree of a YAML or JSON text, with its duplicate keys reported; the
/// error that stops it otherwise, saying what the text was read as.
fn parse_yaml(path: &Path, text: &str, what: &str) -> Result<(Node, Vec<Diagnostic>), Diagnostic> {
    let mut root = yaml::parse(text).map_err(|error| Diagnostic {
        location: location(path, error.position),
        message: format!("{} (read as {what})", error.message),
    })?;
    let problems = yaml::take_duplicate_keys(&mut root)
        .into_iter()
        .map(|duplicate| {
            let Position { line, column } = duplicate.first;
            let message = format!(
                "duplicate key `{}` (first written at line {line}, column {column})",
                duplicate.key
            );
            Diagnostic {
                location: location(path, Some(duplicate.position)),
                message,
            }
        })
        .collect();
    Ok((root, problems))
}

/// A file whose top level has a `plugin` key configures an inventory plugin
/// (`aws_ec2`, `constructed`, ...), which Ansible's YAML and TOML plugins refuse
/// too: it is refused by name, never read as groups.
fn plugin_configuration(path: &Path, root: &Node, program: &str) -> Option<Diagnostic> {
    let entry = root
        .as_mapping()?
        .iter()
        .find(|entry| entry.key == "plugin" && !is_empty(&entry.value))?;
    let name = match &entry.value.value {
        NodeValue::String(name) => format!(" `{name}`"),
        _ => String::new(),
    };
    let message = format!(
        "`{}` is the configuration of the inventory plugin{name}, not an inventory: {program} runs no inventory plugin; export the inventory with `ansible-inventory -i {} --list > inventory.json` and give that file",
        path.display(),
        path.display()
    );
    Some(Diagnostic {
        location: location(path, Some(entry.key_position)),
        message,
    })
}

/// Whether a value is one Python reads as false (`data.get('plugin')` is how
/// Ansible asks).
fn is_empty(node: &Node) -> bool {
    match &node.value {
        NodeValue::Null => true,
        NodeValue::Bool(value) => !value,
        NodeValue::String(text) => text.is_empty(),
        NodeValue::Sequence(items) => items.is_empty(),
        NodeValue::Mapping(entries) => entries.is_empty(),
        NodeValue::Number(number) => number.as_f64() == Some(0.0),
    }
}

/// The JSON of `ansible-inventory --list` (groups with lists of `hosts` and
/// `children`, host variables under `_meta.hostvars`) in YAML inventory shape.
fn from_listed(path: &Path, root: Node, problems: &mut Vec<Diagnostic>) -> Node {
    let position = root.position;
    let NodeValue::Mapping(entries) = root.value else {
        return root;
    };
    let mut groups = Vec::new();
    let mut hostvars = Vec::new();
    for entry in entries {
        if entry.key == "_meta" {
            for part in mapping(entry.value) {
                if part.key == "hostvars" {
                    hostvars = mapping(part.value);
                } else if part.key == "profile" {
                    // Which shape of output `ansible-inventory` wrote; the
                    // hosts and groups read the same in each.
                } else {
                    let message = format!(
                        "unknown key `{}` in `_meta` (expected hostvars or profile)",
                        part.key
                    );
                    problems.push(Diagnostic {
                        location: location(path, Some(part.key_position)),
                        message,
                    });
                }
            }
            continue;
        }
        let group_position = entry.value.position;
        let mut parts = Vec::new();
        for part in mapping(entry.value) {
            let value = match part.key.as_str() {
                "hosts" | "children" => names_to_map(path, &entry.key, part.value, problems),
                _ => part.value,
            };
            parts.push(Entry { value, ..part });
        }
        groups.push(Entry {
            value: Node {
                value: NodeValue::Mapping(parts),
                position: group_position,
            },
            ..entry
        });
    }
    // Host variables join the hosts where `all` lists them; every host is in
    // `all` anyway.
    let hosts = Entry {
        key: "hosts".to_string(),
        key_position: position,
        value: Node {
            value: NodeValue::Mapping(hostvars),
            position,
        },
    };
    groups.push(Entry {
        key: "all".to_string(),
        key_position: position,
        value: Node {
            value: NodeValue::Mapping(vec![hosts]),
            position,
        },
    });
    Node {
        value: NodeValue::Mapping(groups),
        position,
    }
}

fn mapping(node: Node) -> Vec<Entry> {
    match node.value {
        NodeValue::Mapping(entries) => entries,
        _ => Vec::new(),
    }
}

/// A list of names (`["db1", "db2"]`) as a map of names to nothing.
fn names_to_map(path: &Path, group: &str, node: Node, problems: &mut Vec<Diagnostic>) -> Node {
    let position = node.position;
    let NodeValue::Sequence(items) = node.value else {
        let message = format!("`hosts` and `children` of group `{group}` must be lists of names");
        problems.push(Diagnostic {
            location: location(path, Some(position)),
            message,
        });
        return Node {
            value: NodeValue::Null,
            position,
        };
    };
    let entries = items
        .into_iter()
        .filter_map(|item| match item.value {
            NodeValue::String(name) => Some(Entry {
                key: name,
                key_position: item.position,
                value: Node {
                    value: NodeValue::Null,
                    position: item.position,
                },
            }),
            _ => {
                let message = format!(
                    "a name in group `{group}` must be a string, not {}",
                    item.kind()
                );
                problems.push(Diagnostic {
                    location: location(path, Some(item.position)),
                    message,
                });
                None
            }
        })
        .collect();
    Node {
        value: NodeValue::Mapping(entries),
        position,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tree(name: &str, text: &str) -> serde_json::Value {
        let (document, problems) = read(Path::new(name), text, "my-tool");
        assert_eq!(problems, []);
        document
            .map(|document| document.root.to_json())
            .unwrap_or_default()
    }

    #[test]
    fn the_name_and_the_text_choose_the_format() {
        let ini = "[primary]\ndb1 pg_port=5433\n";
        let expected_ini =
            json!({"primary": {"hosts": {"db1": {"pg_port": 5433}}, "vars": {}, "children": {}}});
        assert_eq!(tree("hosts", ini), expected_ini);
        assert_eq!(tree("hosts.ini", ini), expected_ini);
        assert_eq!(
            tree("hosts", "all:\n  hosts:\n    db1:\n"),
            json!({"all": {"hosts": {"db1": null}}})
        );
        let (_, problems) = read(Path::new("hosts.yml"), ini, "my-tool");
        assert!(
            problems[0].message.ends_with("(read as a YAML inventory)"),
            "{problems:?}"
        );
    }

    /// A script's group may be a bare list of hosts, or a map of variables
    /// naming a host of the group's name, as Ansible's script plugin reads them.
    #[test]
    fn a_scripts_older_group_shapes_read_as_ansible_reads_them() {
        let printed = r#"{"web": ["w1", "w2"], "db1": {"pg_port": 5433},
            "db": {"hosts": ["db1"]}, "_meta": {"hostvars": {}}}"#;
        let (document, problems) = read_script_output(Path::new("inv.sh --list"), printed);
        assert_eq!(problems, []);
        let root = document.expect("a document").root;
        let groups: Vec<(String, serde_json::Value)> = root
            .as_mapping()
            .unwrap_or_default()
            .iter()
            .map(|entry| (entry.key.clone(), entry.value.to_json()))
            .collect();
        assert_eq!(
            groups[..3],
            [
                (
                    "web".to_string(),
                    json!({"hosts": {"w1": null, "w2": null}})
                ),
                (
                    "db1".to_string(),
                    json!({"hosts": {"db1": null}, "vars": {"pg_port": 5433}})
                ),
                ("db".to_string(), json!({"hosts": {"db1": null}})),
            ]
        );
    }

    #[test]
    fn listed_json_becomes_groups_and_hosts() {
        let listed = r#"{"_meta": {"hostvars": {"db1": {"pg_port": 5433}}},
            "all": {"children": ["primary"]}, "primary": {"hosts": ["db1"]}}"#;
        let (document, problems) = read(Path::new("inventory.json"), listed, "my-tool");
        assert_eq!(problems, []);
        let root = document.expect("a document").root;
        let groups: Vec<(String, serde_json::Value)> = root
            .as_mapping()
            .unwrap_or_default()
            .iter()
            .map(|entry| (entry.key.clone(), entry.value.to_json()))
            .collect();
        assert_eq!(
            groups,
            [
                ("all".to_string(), json!({"children": {"primary": null}})),
                ("primary".to_string(), json!({"hosts": {"db1": null}})),
                (
                    "all".to_string(),
                    json!({"hosts": {"db1": {"pg_port": 5433}}})
                ),
            ]
        );
    }
}
