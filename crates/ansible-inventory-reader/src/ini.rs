//! Ansible's INI inventory, read into the shape of its YAML inventory (a map of
//! groups with `hosts`, `vars` and `children`) so that one reader handles both.
//!
//! As Ansible reads it: `[group]` lists hosts, one a line, each followed by
//! `key=value` variables split as Python's `shlex` splits them (a `#` starts a
//! comment); `[group:vars]` holds `key = value` lines; `[group:children]` names
//! child groups; hosts before any section are `ungrouped`; lines starting with
//! `#` or `;` are comments. Values are typed with [`python_literal`]. A section
//! for a group that no `[group]` or `[group:children]` section defines is an
//! error, as in Ansible. Every node keeps the line and column it came from.

use crate::python_literal;
use crate::yaml::{Entry, Node, NodeValue, Position};
use indexmap::IndexMap;

/// A mistake in an INI inventory, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IniError {
    pub position: Position,
    pub message: String,
}

#[derive(Default)]
struct Section {
    /// Where the group is first named.
    position: Option<Position>,
    /// Whether a `[group]` or `[group:children]` section defines it.
    defined: bool,
    /// Where the first such section starts; Ansible makes the group there.
    defined_at: Option<Position>,
    hosts: Vec<Entry>,
    vars: Vec<Entry>,
    children: Vec<Entry>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    Hosts,
    Vars,
    Children,
}

/// Reads an INI inventory. Every line's mistakes are collected; the tree holds
/// whatever could be read.
pub fn parse(text: &str) -> (Node, Vec<IniError>) {
    let mut sections: IndexMap<String, Section> = IndexMap::new();
    let mut errors = Vec::new();
    for builtin in ["all", "ungrouped"] {
        sections.insert(
            builtin.to_string(),
            Section {
                defined: true,
                ..Section::default()
            },
        );
    }
    let mut group = "ungrouped".to_string();
    let mut state = State::Hosts;
    for (index, raw_line) in text.lines().enumerate() {
        let line_number = index + 1;
        let indent = raw_line.len() - raw_line.trim_start().len();
        let line = raw_line.trim();
        let column = raw_line[..indent].chars().count() + 1;
        let at = Position {
            line: line_number,
            column,
        };
        if line.is_empty() || line.starts_with(['#', ';']) {
            continue;
        }
        if line.starts_with('[') {
            match section_header(line) {
                Ok((name, kind)) => {
                    state = kind;
                    group = name.to_string();
                    let section = sections.entry(group.clone()).or_default();
                    section.position.get_or_insert(Position {
                        line: line_number,
                        column: column + 1,
                    });
                    if kind != State::Vars {
                        section.defined = true;
                        section.defined_at.get_or_insert(at);
                    }
                }
                Err(message) => errors.push(IniError {
                    position: at,
                    message,
                }),
            }
            continue;
        }
        let section = sections.entry(group.clone()).or_default();
        section.position.get_or_insert(at);
        match state {
            State::Hosts => match host_line(line, line_number, column) {
                Ok(entry) => section.hosts.push(entry),
                Err(error) => errors.push(error),
            },
            State::Vars => match vars_line(line, line_number, column) {
                Ok(entry) => section.vars.push(entry),
                Err(error) => errors.push(error),
            },
            State::Children => match child_line(line) {
                Some(name) => {
                    let entry = Entry {
                        key: name.to_string(),
                        key_position: at,
                        value: Node {
                            value: NodeValue::Null,
                            position: at,
                        },
                    };
                    section.children.push(entry);
                }
                None => errors.push(IniError {
                    position: at,
                    message: format!("expected a group name in `[{group}:children]`, got `{line}`"),
                }),
            },
        }
    }
    let undefined: Vec<IniError> = sections
        .iter()
        .flat_map(|(name, section)| {
            let vars_of_undefined = (!section.defined).then(|| IniError {
                position: section.position.unwrap_or(Position { line: 1, column: 1 }),
                message: format!(
                    "section `[{name}:vars]` is for a group that no `[{name}]` or `[{name}:children]` section defines"
                ),
            });
            let children = section.children.iter().filter_map(|child| {
                let defined = sections.get(&child.key).is_some_and(|known| known.defined);
                (!defined).then(|| IniError {
                    position: child.key_position,
                    message: format!(
                        "`[{name}:children]` names group `{}`, which no `[{}]` or `[{}:children]` section defines",
                        child.key, child.key, child.key
                    ),
                })
            });
            vars_of_undefined.into_iter().chain(children).collect::<Vec<_>>()
        })
        .collect();
    errors.extend(undefined);
    errors.sort_by_key(|error| error.position);
    order_children(&mut sections);
    (tree(sections), errors)
}

/// Each group's children in the order Ansible links them: a child named
/// after its own section is linked where it is named, one named before its
/// section is linked when that section comes (Ansible keeps it pending till
/// then), so `[a:children]` naming `c` then `b` lists `b` first when `[b]`
/// comes before `[c]`.
fn order_children(sections: &mut IndexMap<String, Section>) {
    let defined_at: IndexMap<String, Option<Position>> = sections
        .iter()
        .map(|(name, section)| (name.clone(), section.defined_at))
        .collect();
    for section in sections.values_mut() {
        section.children.sort_by_key(|child| {
            let defined = defined_at.get(&child.key).copied().flatten();
            defined.map_or(child.key_position, |at| at.max(child.key_position))
        });
    }
}

/// `[name]`, `[name:vars]` or `[name:children]`, with an optional comment.
fn section_header(line: &str) -> Result<(&str, State), String> {
    let invalid = || {
        format!(
            "`{line}` is not a section: write `[group]`, `[group:vars]` or `[group:children]`, with no spaces in the brackets"
        )
    };
    let close = line.find(']').ok_or_else(invalid)?;
    let after = line[close + 1..].trim_start();
    if !(after.is_empty() || after.starts_with('#')) {
        return Err(invalid());
    }
    let inside = &line[1..close];
    let (name, kind) = match inside.split_once(':') {
        Some((name, kind)) => (name, Some(kind)),
        None => (inside, None),
    };
    if name.is_empty() || name.contains(char::is_whitespace) {
        return Err(invalid());
    }
    let state = match kind {
        None | Some("hosts") => State::Hosts,
        Some("vars") => State::Vars,
        Some("children") => State::Children,
        Some(other) => {
            return Err(format!(
                "section `[{inside}]` has the unknown type `{other}`: Ansible knows `hosts`, `vars` and `children`"
            ));
        }
    };
    Ok((name, state))
}

/// A child group's name, with an optional comment after it.
fn child_line(line: &str) -> Option<&str> {
    let end = line.find(char::is_whitespace).unwrap_or(line.len());
    let (name, rest) = line.split_at(end);
    let rest = rest.trim_start();
    let ok = !name.contains([':', ']']) && (rest.is_empty() || rest.starts_with('#'));
    ok.then_some(name)
}

/// `key = value` in a `[group:vars]` section.
fn vars_line(line: &str, line_number: usize, column: usize) -> Result<Entry, IniError> {
    let Some((key, value)) = line.split_once('=') else {
        return Err(IniError {
            position: Position {
                line: line_number,
                column,
            },
            message: format!("expected `key=value` in a `vars` section, got `{line}`"),
        });
    };
    let value_offset = line.len() - line[key.len() + 1..].trim_start().len();
    let key_position = Position {
        line: line_number,
        column,
    };
    let value_position = Position {
        line: line_number,
        column: column + line[..value_offset].chars().count(),
    };
    Ok(Entry {
        key: key.trim().to_string(),
        key_position,
        value: typed(value.trim(), value_position),
    })
}

/// A host pattern and its `key=value` variables.
fn host_line(line: &str, line_number: usize, column: usize) -> Result<Entry, IniError> {
    let place = |offset: usize| Position {
        line: line_number,
        column: column + line[..offset].chars().count(),
    };
    let tokens = split(line).map_err(|message| IniError {
        position: place(0),
        message: format!("cannot split the host line `{line}`: {message}"),
    })?;
    let mut tokens = tokens.into_iter();
    let Some((pattern, pattern_offset)) = tokens.next() else {
        return Err(IniError {
            position: place(0),
            message: format!("expected a host, got `{line}`"),
        });
    };
    if pattern.ends_with(':') {
        return Err(IniError {
            position: place(pattern_offset),
            message: format!(
                "host `{pattern}` ends with `:`, which only comes before a port (`{pattern}22`)"
            ),
        });
    }
    let mut vars = Vec::new();
    for (token, offset) in tokens {
        let Some((key, value)) = token.split_once('=') else {
            return Err(IniError {
                position: place(offset),
                message: format!("expected `key=value` after host `{pattern}`, got `{token}`"),
            });
        };
        let key_position = place(offset);
        let value_position = Position {
            line: line_number,
            column: key_position.column + key.chars().count() + 1,
        };
        let entry = Entry {
            key: key.to_string(),
            key_position,
            value: typed(value, value_position),
        };
        // The same key twice on one line: the later one wins, as in Ansible.
        vars.retain(|known: &Entry| known.key != entry.key);
        vars.push(entry);
    }
    let position = place(pattern_offset);
    let value = if vars.is_empty() {
        NodeValue::Null
    } else {
        NodeValue::Mapping(vars)
    };
    Ok(Entry {
        key: pattern,
        key_position: position,
        value: Node { value, position },
    })
}

/// A value typed as Ansible types it: a Python literal, else the text.
fn typed(text: &str, position: Position) -> Node {
    let value = python_literal::evaluate(text, position)
        .unwrap_or_else(|| NodeValue::String(text.to_string()));
    Node { value, position }
}

/// Splits a host line into words as Python's `shlex.split(line, comments=True)`
/// does (POSIX rules: quotes removed, `\` escapes outside single quotes and,
/// inside double quotes, only before `"` and `\`; a `#` outside quotes ends the
/// line), each with the byte offset where it starts. Python's rules differ from
/// a POSIX shell's in those details, which is why this is not `shlex::split`.
fn split(line: &str) -> Result<Vec<(String, usize)>, &'static str> {
    let mut words = Vec::new();
    let mut word: Option<(String, usize)> = None;
    let mut chars = line.char_indices().peekable();
    while let Some((offset, c)) = chars.next() {
        match c {
            ' ' | '\t' | '\r' | '\n' => {
                if let Some(done) = word.take() {
                    words.push(done);
                }
            }
            '#' => break,
            '\'' => {
                let (text, _) = word.get_or_insert_with(|| (String::new(), offset));
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, inner)) => text.push(inner),
                        None => return Err("no closing quotation"),
                    }
                }
            }
            '"' => {
                let (text, _) = word.get_or_insert_with(|| (String::new(), offset));
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.peek() {
                            Some((_, next @ ('"' | '\\'))) => {
                                text.push(*next);
                                chars.next();
                            }
                            _ => text.push('\\'),
                        },
                        Some((_, inner)) => text.push(inner),
                        None => return Err("no closing quotation"),
                    }
                }
            }
            '\\' => {
                let (text, _) = word.get_or_insert_with(|| (String::new(), offset));
                match chars.next() {
                    Some((_, next)) => text.push(next),
                    None => return Err("no escaped character"),
                }
            }
            other => {
                let (text, _) = word.get_or_insert_with(|| (String::new(), offset));
                text.push(other);
            }
        }
    }
    if let Some(done) = word.take() {
        words.push(done);
    }
    Ok(words)
}

/// The groups in YAML inventory shape: each group at the top level with its
/// `hosts`, `vars` and `children`.
fn tree(sections: IndexMap<String, Section>) -> Node {
    let start = Position { line: 1, column: 1 };
    let entries = sections
        .into_iter()
        .filter(|(_, section)| {
            section.position.is_some() || !section.hosts.is_empty() || !section.vars.is_empty()
        })
        .map(|(name, section)| {
            let position = section.position.unwrap_or(start);
            let map = |entries: Vec<Entry>| Node {
                value: NodeValue::Mapping(entries),
                position,
            };
            let part = |key: &str, entries: Vec<Entry>| Entry {
                key: key.to_string(),
                key_position: position,
                value: map(entries),
            };
            let parts = vec![
                part("hosts", section.hosts),
                part("vars", section.vars),
                part("children", section.children),
            ];
            Entry {
                key: name,
                key_position: position,
                value: map(parts),
            }
        })
        .collect();
    Node {
        value: NodeValue::Mapping(entries),
        position: start,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn check(text: &str, expected: serde_json::Value) {
        let (node, errors) = parse(text);
        assert_eq!(errors, []);
        let mut tree = node.to_json();
        // Empty parts are noise in the expected trees.
        if let Some(groups) = tree.as_object_mut() {
            for group in groups.values_mut() {
                if let Some(parts) = group.as_object_mut() {
                    parts.retain(|_, part| part.as_object().is_none_or(|map| !map.is_empty()));
                }
            }
            groups.retain(|_, group| group.as_object().is_none_or(|map| !map.is_empty()));
        }
        assert_eq!(tree, expected);
    }

    fn errors(text: &str) -> Vec<String> {
        let (_, errors) = parse(text);
        errors
            .iter()
            .map(|error| {
                let Position { line, column } = error.position;
                format!("{line}:{column}: {}", error.message)
            })
            .collect()
    }

    #[test]
    fn sections_hosts_and_typed_values() {
        check(
            "bastion\n[primary]\ndb1 ansible_host=10.0.0.11 pg_port=5433 # the first\n[standby]\ndb[2:3]:2222 flag=True name='x y' list=\"[1, 'a']\"\n\n[standby:vars]\nmax_connections = 300\nlabel = yes\n[db:children]\nprimary\nstandby\n",
            json!({
                "ungrouped": {"hosts": {"bastion": null}},
                "primary": {"hosts": {"db1": {"ansible_host": "10.0.0.11", "pg_port": 5433}}},
                "standby": {
                    "hosts": {"db[2:3]:2222": {"flag": true, "name": "x y", "list": [1, "a"]}},
                    "vars": {"max_connections": 300, "label": "yes"},
                },
                "db": {"children": {"primary": null, "standby": null}},
            }),
        );
    }

    #[test]
    fn nodes_keep_their_places() {
        let (node, _) = parse("[primary]\n  db1 pg_port=5433\n");
        let primary = &node.as_mapping().unwrap_or_default()[0];
        assert_eq!(primary.key, "primary");
        assert_eq!(primary.key_position, Position { line: 1, column: 2 });
        let hosts = primary.value.as_mapping().unwrap_or_default()[0]
            .value
            .as_mapping()
            .unwrap_or_default();
        assert_eq!(hosts[0].key_position, Position { line: 2, column: 3 });
        let vars = hosts[0].value.as_mapping().unwrap_or_default();
        assert_eq!(vars[0].key_position, Position { line: 2, column: 7 });
        assert_eq!(
            vars[0].value.position,
            Position {
                line: 2,
                column: 15
            }
        );
    }

    #[test]
    fn mistakes_are_all_reported_with_their_places() {
        assert_eq!(
            errors(
                "[primary\n[a b]\n[g:weird]\n[primary]\ndb1 novalue\ndb2 x='open\n[nodef:vars]\nx=1\n[p:children]\nmissing\n[q:vars]\nno equals\n[q]\n"
            ),
            [
                "1:1: `[primary` is not a section: write `[group]`, `[group:vars]` or `[group:children]`, with no spaces in the brackets",
                "2:1: `[a b]` is not a section: write `[group]`, `[group:vars]` or `[group:children]`, with no spaces in the brackets",
                "3:1: section `[g:weird]` has the unknown type `weird`: Ansible knows `hosts`, `vars` and `children`",
                "5:5: expected `key=value` after host `db1`, got `novalue`",
                "6:1: cannot split the host line `db2 x='open`: no closing quotation",
                "7:2: section `[nodef:vars]` is for a group that no `[nodef]` or `[nodef:children]` section defines",
                "10:1: `[p:children]` names group `missing`, which no `[missing]` or `[missing:children]` section defines",
                "12:1: expected `key=value` in a `vars` section, got `no equals`",
            ]
        );
    }

    #[test]
    fn shlex_follows_python() {
        let words = |line: &str| -> Vec<String> {
            split(line)
                .unwrap_or_default()
                .into_iter()
                .map(|(word, _)| word)
                .collect()
        };
        assert_eq!(
            words("a b=\"x \\$ \\\" y\" c#d"),
            ["a", "b=x \\$ \" y", "c"]
        );
        assert_eq!(words("a 'it''s' # no"), ["a", "its"]);
    }
}
