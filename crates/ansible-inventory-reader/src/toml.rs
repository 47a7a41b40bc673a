//! Ansible's TOML inventory (its `toml` plugin, for files ending in `.toml`),
//! read into the shape of its YAML inventory so that one reader handles both:
//! each top-level table is a group with `vars` (a table), `children` (a list
//! of group names, here a map of names to nothing) and `hosts` (a table of
//! hosts, each a table of its variables). Every node keeps the line and column
//! of its key or value.

use crate::yaml::{Entry, Node, NodeValue, Position};
use ::toml::Spanned;
use ::toml::de::{DeTable, DeValue};

/// A mistake in a TOML inventory, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TomlError {
    pub position: Position,
    pub message: String,
}

/// Reads a TOML inventory: the tree, or the syntax error that stops it. The
/// shape of the groups is checked later, as for every format; what only TOML
/// writes differently (`children` a list) is checked here.
pub fn parse(text: &str) -> Result<(Node, Vec<TomlError>), TomlError> {
    let places = Places::new(text);
    let table = DeTable::parse(text).map_err(|error| TomlError {
        position: places.at(error.span().map_or(0, |span| span.start)),
        message: format!("{} (read as a TOML inventory)", error.message().trim_end()),
    })?;
    let mut problems = Vec::new();
    let root_position = places.at(table.span().start);
    let groups = table
        .get_ref()
        .iter()
        .map(|(name, group)| {
            let mut entry = places.entry(name, group, &mut problems);
            if let NodeValue::Mapping(parts) = &mut entry.value.value {
                for part in parts.iter_mut().filter(|part| part.key == "children") {
                    part.value = children(&entry.key, &part.value, &mut problems);
                }
            }
            entry
        })
        .collect();
    let root = Node {
        value: NodeValue::Mapping(groups),
        position: root_position,
    };
    Ok((root, problems))
}

/// A group's `children`: a list of names in TOML, a map of names to nothing
/// in the YAML shape.
fn children(group: &str, node: &Node, problems: &mut Vec<TomlError>) -> Node {
    let NodeValue::Sequence(items) = &node.value else {
        problems.push(TomlError {
            position: node.position,
            message: format!(
                "`children` of group `{group}` must be a list of group names, not {}",
                node.kind()
            ),
        });
        return Node {
            value: NodeValue::Null,
            position: node.position,
        };
    };
    let mut names = Vec::new();
    for item in items {
        match &item.value {
            NodeValue::String(name) => names.push(Entry {
                key: name.clone(),
                key_position: item.position,
                value: Node {
                    value: NodeValue::Null,
                    position: item.position,
                },
            }),
            _ => problems.push(TomlError {
                position: item.position,
                message: format!(
                    "a child of group `{group}` must be a group name, not {}",
                    item.kind()
                ),
            }),
        }
    }
    Node {
        value: NodeValue::Mapping(names),
        position: node.position,
    }
}

/// A TOML date, time or both as Python's `isoformat()` writes what `tomllib`
/// reads: `1979-05-27`, `07:32:00`, `.123456` when there are microseconds
/// (`tomllib` keeps no finer part), an offset as `+00:00`.
fn isoformat(datetime: &toml_datetime::Datetime) -> String {
    let mut text = String::new();
    if let Some(date) = &datetime.date {
        text.push_str(&format!(
            "{:04}-{:02}-{:02}",
            date.year, date.month, date.day
        ));
    }
    if let Some(time) = &datetime.time {
        if datetime.date.is_some() {
            text.push('T');
        }
        let second = time.second.unwrap_or(0);
        text.push_str(&format!("{:02}:{:02}:{second:02}", time.hour, time.minute));
        let microseconds = time.nanosecond.unwrap_or(0) / 1000;
        if microseconds != 0 {
            text.push_str(&format!(".{microseconds:06}"));
        }
    }
    match datetime.offset {
        Some(toml_datetime::Offset::Z) => text.push_str("+00:00"),
        Some(toml_datetime::Offset::Custom { minutes }) => {
            let sign = if minutes < 0 { '-' } else { '+' };
            let minutes = minutes.unsigned_abs();
            text.push_str(&format!("{sign}{:02}:{:02}", minutes / 60, minutes % 60));
        }
        None => {}
    }
    text
}

/// Where each byte offset of the text is, as a line and a column counted in
/// characters.
struct Places<'t> {
    text: &'t str,
    /// The byte offset where each line starts.
    line_starts: Vec<usize>,
}

impl<'t> Places<'t> {
    fn new(text: &'t str) -> Places<'t> {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(offset, _)| offset + 1))
            .collect();
        Places { text, line_starts }
    }

    fn at(&self, offset: usize) -> Position {
        let line = self
            .line_starts
            .partition_point(|start| *start <= offset)
            .max(1);
        let start = self.line_starts[line - 1];
        let column = self
            .text
            .get(start..offset.min(self.text.len()))
            .map_or(0, |before| before.chars().count());
        Position {
            line,
            column: column + 1,
        }
    }

    fn entry(
        &self,
        key: &Spanned<std::borrow::Cow<'_, str>>,
        value: &Spanned<DeValue<'_>>,
        problems: &mut Vec<TomlError>,
    ) -> Entry {
        Entry {
            key: key.get_ref().to_string(),
            key_position: self.at(key.span().start),
            value: self.node(value, problems),
        }
    }

    fn node(&self, value: &Spanned<DeValue<'_>>, problems: &mut Vec<TomlError>) -> Node {
        let position = self.at(value.span().start);
        let value = match value.get_ref() {
            DeValue::String(text) => NodeValue::String(text.to_string()),
            DeValue::Boolean(flag) => NodeValue::Bool(*flag),
            DeValue::Integer(integer) => {
                match i64::from_str_radix(integer.as_str(), integer.radix()) {
                    Ok(number) => NodeValue::Number(number.into()),
                    Err(error) => {
                        problems.push(TomlError {
                            position,
                            message: format!("the integer `{integer}` cannot be read: {error}"),
                        });
                        NodeValue::Null
                    }
                }
            }
            DeValue::Float(float) => {
                let number = float
                    .as_str()
                    .parse::<f64>()
                    .ok()
                    .and_then(serde_json::Number::from_f64);
                match number {
                    Some(number) => NodeValue::Number(number),
                    None => {
                        problems.push(TomlError {
                            position,
                            message: format!(
                                "the number `{}` has no JSON value (infinite or not a number)",
                                float.as_str()
                            ),
                        });
                        NodeValue::Null
                    }
                }
            }
            // Ansible hands on Python's date and time objects, which
            // `ansible-inventory` and every template show in ISO form.
            DeValue::Datetime(datetime) => NodeValue::String(isoformat(datetime)),
            DeValue::Array(items) => {
                NodeValue::Sequence(items.iter().map(|item| self.node(item, problems)).collect())
            }
            DeValue::Table(table) => NodeValue::Mapping(
                table
                    .iter()
                    .map(|(key, value)| self.entry(key, value, problems))
                    .collect(),
            ),
        };
        Node { value, position }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(text: &str) -> serde_json::Value {
        let (node, problems) = parse(text).unwrap_or_else(|error| panic!("{error:?}"));
        assert_eq!(problems, []);
        node.to_json()
    }

    /// The two spellings of Ansible's documented example read the same.
    #[test]
    fn inline_and_nested_tables_read_alike() {
        let inline = r#"
[all.vars]
has_java = false

[web]
children = ["apache", "nginx"]
vars = { http_port = 8080, myvar = 23 }

[web.hosts]
host1 = {}
host2 = { ansible_port = 222 }

[apache.hosts]
tomcat1 = {}
"#;
        let nested = r#"
[all.vars]
has_java = false

[web]
children = ["apache", "nginx"]

[web.vars]
http_port = 8080
myvar = 23

[web.hosts.host1]
[web.hosts.host2]
ansible_port = 222

[apache.hosts.tomcat1]
"#;
        let expected = json!({
            "all": {"vars": {"has_java": false}},
            "web": {
                "children": {"apache": null, "nginx": null},
                "vars": {"http_port": 8080, "myvar": 23},
                "hosts": {"host1": {}, "host2": {"ansible_port": 222}},
            },
            "apache": {"hosts": {"tomcat1": {}}},
        });
        assert_eq!(read(inline), expected);
        assert_eq!(read(nested), expected);
    }

    #[test]
    fn dates_and_times_read_as_python_writes_them() {
        assert_eq!(
            read(
                "[all.vars]\na = 1979-05-27T07:32:00Z\nb = 1979-05-27T00:32:00.999999-07:30\nc = 1979-05-27\nd = 07:32:00\ne = 1979-05-27T07:32:00\n"
            ),
            json!({"all": {"vars": {
                "a": "1979-05-27T07:32:00+00:00",
                "b": "1979-05-27T00:32:00.999999-07:30",
                "c": "1979-05-27",
                "d": "07:32:00",
                "e": "1979-05-27T07:32:00",
            }}})
        );
    }

    #[test]
    fn mistakes_have_a_place() {
        let error = parse("[web]\nhosts = [\n").expect_err("a syntax error");
        assert_eq!(
            error.position,
            Position {
                line: 2,
                column: 10
            },
            "{error:?}"
        );
        assert!(
            error.message.ends_with("(read as a TOML inventory)"),
            "{error:?}"
        );
        let (_, problems) =
            parse("[web]\nchildren = \"apache\"\n[db]\nchildren = [1]\n").expect("valid TOML");
        assert_eq!(
            problems,
            [
                TomlError {
                    position: Position {
                        line: 2,
                        column: 12
                    },
                    message:
                        "`children` of group `web` must be a list of group names, not a string"
                            .to_string(),
                },
                TomlError {
                    position: Position {
                        line: 4,
                        column: 13
                    },
                    message: "a child of group `db` must be a group name, not a number".to_string(),
                },
            ]
        );
    }
}
