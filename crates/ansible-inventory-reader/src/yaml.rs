//! Reading YAML text into a tree of nodes that remember their line and column.
//!
//! serde-saphyr does the parsing. Its `Spanned<T>` wrapper records where a value
//! is (`Spanned::referenced`: for an alias, the place the alias is used), so a
//! hand-written `Deserialize` for the tree asks for `deserialize_any` and wraps
//! every sequence element, mapping key and mapping value in `Spanned`. The
//! options come from `serde_saphyr::options!`:
//!
//! - a `Budget` (`serde_saphyr::budget!`) and `AliasLimits`
//!   (`serde_saphyr::alias_limits!`) far above any real inventory and far below
//!   what an alias-expansion bomb needs;
//! - `DuplicateKeyPolicy::PassThrough`, so every duplicate key reaches the tree
//!   and [`take_duplicate_keys`] reports all of them, not only the first;
//! - `legacy_octal_numbers` and string non-finite floats, to read numbers the way
//!   Ansible's YAML 1.1 parser does.
//!
//! A parse error gives its place through `serde_saphyr::Error::location()` and its
//! text, without the place, through `UserMessageFormatter::format_message`.

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned};
use std::fmt;

/// A 1-based line and column in a YAML text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, in characters.
    pub column: usize,
}

/// One YAML value and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value, with its items or entries.
    pub value: NodeValue,
    /// Where the value starts (for an alias, where the alias is used).
    pub position: Position,
}

/// A YAML value as Ansible's YAML 1.1 reading types it.
#[derive(Debug, Clone, PartialEq)]
pub enum NodeValue {
    /// `~`, `null` or nothing.
    Null,
    /// The spellings PyYAML reads as booleans: `true`, `yes`, `on`, ...
    Bool(bool),
    /// An integer of at most 64 bits, or a finite float.
    Number(serde_json::Number),
    /// Any other scalar, as text.
    String(String),
    /// A list.
    Sequence(Vec<Node>),
    /// A map, its entries in file order.
    Mapping(Vec<Entry>),
}

/// One `key: value` pair of a mapping, in file order.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// The key, as text.
    pub key: String,
    /// Where the key is written.
    pub key_position: Position,
    /// The value, with its place.
    pub value: Node,
}

/// Why a text is not a YAML document we can read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// What is wrong, without the place.
    pub message: String,
    /// Where, when the parser knows.
    pub position: Option<Position>,
}

/// A key written twice in one mapping; the later entry has been dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DuplicateKey {
    /// The key.
    pub key: String,
    /// Where it is written again.
    pub position: Position,
    /// Where it is first written.
    pub first: Position,
}

/// Parses one YAML document. Syntax errors, budget breaches and alias bombs stop
/// the parse, because after them there is no tree to check.
pub fn parse(text: &str) -> Result<Node, SyntaxError> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_nodes: 200_000,
            max_depth: 64,
            max_documents: 1,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 100_000,
            max_replay_stack_depth: 16,
        },
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
        legacy_octal_numbers: true,
        non_finite_float_policy: serde_saphyr::NonFiniteFloatPolicy::AsString,
        with_snippet: false,
    };
    match serde_saphyr::from_str_with_options::<Spanned<RawNode>>(text, options) {
        Ok(spanned) => Ok(convert(spanned, text)),
        Err(error) => Err(syntax_error(&error)),
    }
}

fn syntax_error(error: &serde_saphyr::Error) -> SyntaxError {
    let error = error.without_snippet();
    SyntaxError {
        message: serde_saphyr::UserMessageFormatter
            .format_message(error)
            .into_owned(),
        position: error.location().map(position),
    }
}

/// Removes every entry whose key already appeared earlier in the same mapping,
/// anywhere in the tree, and returns them in file order.
pub(crate) fn take_duplicate_keys(node: &mut Node) -> Vec<DuplicateKey> {
    let mut duplicates = Vec::new();
    collect_duplicate_keys(node, &mut duplicates);
    duplicates.sort_by_key(|duplicate| duplicate.position);
    duplicates
}

fn collect_duplicate_keys(node: &mut Node, duplicates: &mut Vec<DuplicateKey>) {
    match &mut node.value {
        NodeValue::Sequence(items) => {
            for item in items {
                collect_duplicate_keys(item, duplicates);
            }
        }
        NodeValue::Mapping(entries) => {
            let mut first_positions: indexmap::IndexMap<String, Position> = Default::default();
            entries.retain(|entry| match first_positions.get(&entry.key) {
                Some(first) => {
                    duplicates.push(DuplicateKey {
                        key: entry.key.clone(),
                        position: entry.key_position,
                        first: *first,
                    });
                    false
                }
                None => {
                    first_positions.insert(entry.key.clone(), entry.key_position);
                    true
                }
            });
            for entry in entries {
                collect_duplicate_keys(&mut entry.value, duplicates);
            }
        }
        NodeValue::Null | NodeValue::Bool(_) | NodeValue::Number(_) | NodeValue::String(_) => {}
    }
}

impl Node {
    /// The entries of a mapping, or `None` for any other kind of node.
    pub fn as_mapping(&self) -> Option<&[Entry]> {
        match &self.value {
            NodeValue::Mapping(entries) => Some(entries),
            _ => None,
        }
    }

    /// The node as plain JSON data, dropping positions.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.value {
            NodeValue::Null => Value::Null,
            NodeValue::Bool(value) => Value::Bool(*value),
            NodeValue::Number(number) => Value::Number(number.clone()),
            NodeValue::String(text) => Value::String(text.clone()),
            NodeValue::Sequence(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            NodeValue::Mapping(entries) => Value::Object(
                entries
                    .iter()
                    .map(|entry| (entry.key.clone(), entry.value.to_json()))
                    .collect(),
            ),
        }
    }

    /// A short description of what kind of value this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self.value {
            NodeValue::Null => "an empty value",
            NodeValue::Bool(_) => "a boolean",
            NodeValue::Number(_) => "a number",
            NodeValue::String(_) => "a string",
            NodeValue::Sequence(_) => "a list",
            NodeValue::Mapping(_) => "a map",
        }
    }
}

fn position(location: serde_saphyr::Location) -> Position {
    Position {
        line: usize::try_from(location.line()).unwrap_or(usize::MAX),
        column: usize::try_from(location.column()).unwrap_or(usize::MAX),
    }
}

fn convert(spanned: Spanned<RawNode>, text: &str) -> Node {
    let position = position(spanned.referenced);
    let value = match spanned.value {
        RawNode::Null => NodeValue::Null,
        RawNode::Bool(value) => pyyaml_bool(value, spanned.referenced, text),
        RawNode::Number(number) => NodeValue::Number(number),
        RawNode::String(text) => NodeValue::String(text),
        RawNode::Sequence(items) => {
            NodeValue::Sequence(items.into_iter().map(|item| convert(item, text)).collect())
        }
        RawNode::Mapping(entries) => NodeValue::Mapping(
            entries
                .into_iter()
                .map(|(key, value)| Entry {
                    key: key.value,
                    key_position: self::position(key.referenced),
                    value: convert(value, text),
                })
                .collect(),
        ),
    };
    Node { value, position }
}

/// The spellings PyYAML, and so Ansible, reads as booleans. serde-saphyr's YAML
/// 1.1 mode also takes `y`, `n` and mixed case; those stay strings here so that an
/// existing Ansible inventory means the same thing here.
const PYYAML_BOOLEANS: [&str; 18] = [
    "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE", "on",
    "On", "ON", "off", "Off", "OFF",
];

fn pyyaml_bool(value: bool, location: serde_saphyr::Location, text: &str) -> NodeValue {
    let span = location.span();
    let source = span
        .byte_offset()
        .zip(span.byte_len())
        .and_then(|(offset, length)| {
            let start = usize::try_from(offset).ok()?;
            let end = start.checked_add(usize::try_from(length).ok()?)?;
            text.get(start..end)
        });
    match source {
        Some(spelling) if !PYYAML_BOOLEANS.contains(&spelling) => {
            NodeValue::String(spelling.to_string())
        }
        _ => NodeValue::Bool(value),
    }
}

/// The shape serde-saphyr fills in; [`convert`] turns it into a [`Node`].
enum RawNode {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Sequence(Vec<Spanned<RawNode>>),
    Mapping(Vec<(Spanned<String>, Spanned<RawNode>)>),
}

impl<'de> Deserialize<'de> for RawNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawNodeVisitor)
    }
}

struct RawNodeVisitor;

impl<'de> Visitor<'de> for RawNodeVisitor {
    type Value = RawNode;

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("any YAML value")
    }

    fn visit_unit<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }

    fn visit_none<E>(self) -> Result<RawNode, E> {
        Ok(RawNode::Null)
    }

    fn visit_bool<E>(self, value: bool) -> Result<RawNode, E> {
        Ok(RawNode::Bool(value))
    }

    fn visit_i64<E>(self, value: i64) -> Result<RawNode, E> {
        Ok(RawNode::Number(value.into()))
    }

    fn visit_u64<E>(self, value: u64) -> Result<RawNode, E> {
        Ok(RawNode::Number(value.into()))
    }

    // Integers beyond 64 bits cannot be JSON numbers; keeping their digits as text
    // loses nothing: a template can still read them.
    fn visit_i128<E>(self, value: i128) -> Result<RawNode, E> {
        Ok(RawNode::String(value.to_string()))
    }

    fn visit_u128<E>(self, value: u128) -> Result<RawNode, E> {
        Ok(RawNode::String(value.to_string()))
    }

    fn visit_f64<E>(self, value: f64) -> Result<RawNode, E> {
        Ok(match serde_json::Number::from_f64(value) {
            Some(number) => RawNode::Number(number),
            None => RawNode::String(value.to_string()),
        })
    }

    fn visit_str<E>(self, value: &str) -> Result<RawNode, E> {
        Ok(RawNode::String(value.to_string()))
    }

    fn visit_string<E>(self, value: String) -> Result<RawNode, E> {
        Ok(RawNode::String(value))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut sequence: A) -> Result<RawNode, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = sequence.next_element()? {
            items.push(item);
        }
        Ok(RawNode::Sequence(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut mapping: A) -> Result<RawNode, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = mapping.next_key::<Spanned<String>>()? {
            let value = mapping.next_value()?;
            entries.push((key, value));
        }
        Ok(RawNode::Mapping(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Renders a tree one node per line as `line:column kind value`, which makes
    /// both the values and their places visible in one expected string.
    fn outline(node: &Node) -> String {
        let mut lines = Vec::new();
        outline_into(node, "", &mut lines);
        lines.join("\n")
    }

    fn outline_into(node: &Node, label: &str, lines: &mut Vec<String>) {
        let Position { line, column } = node.position;
        let value = match &node.value {
            NodeValue::Sequence(_) => "[]".to_string(),
            NodeValue::Mapping(_) => "{}".to_string(),
            _ => node.to_json().to_string(),
        };
        lines.push(format!("{line}:{column} {label}{value}"));
        match &node.value {
            NodeValue::Sequence(items) => {
                for item in items {
                    outline_into(item, &format!("{label}- "), lines);
                }
            }
            NodeValue::Mapping(entries) => {
                for entry in entries {
                    let Position { line, column } = entry.key_position;
                    let key_label = format!("{label}{}@{line}:{column}=", entry.key);
                    outline_into(&entry.value, &key_label, lines);
                }
            }
            _ => {}
        }
    }

    fn check(text: &str, expected: &str) {
        let node = parse(text).expect("the test YAML parses");
        assert_eq!(outline(&node), expected.trim());
    }

    #[test]
    fn nodes_keep_their_lines_and_columns() {
        check(
            "all:\n  vars:\n    pg_version: 15\n    lists: [1, \"a\"]\n",
            r#"
1:1 {}
2:3 all@1:1={}
3:5 all@1:1=vars@2:3={}
3:17 all@1:1=vars@2:3=pg_version@3:5=15
4:12 all@1:1=vars@2:3=lists@4:5=[]
4:13 all@1:1=vars@2:3=lists@4:5=- 1
4:16 all@1:1=vars@2:3=lists@4:5=- "a"
"#,
        );
    }

    #[test]
    fn scalars_keep_their_yaml_types() {
        check(
            "a: \"15\"\nb: 15\nc: 1.5\nd: ~\ne:\nf: 0755\ng: .inf\n",
            r#"
1:1 {}
1:4 a@1:1="15"
2:4 b@2:1=15
3:4 c@3:1=1.5
4:4 d@4:1=null
5:2 e@5:1=null
6:4 f@6:1=493
7:4 g@7:1=".inf"
"#,
        );
    }

    #[test]
    fn yaml_11_booleans_follow_pyyaml() {
        check(
            "a: yes\nb: \"on\"\nc: y\nd: [n, Off]\ne: tRuE\n",
            r#"
1:1 {}
1:4 a@1:1=true
2:4 b@2:1="on"
3:4 c@3:1="y"
4:4 d@4:1=[]
4:5 d@4:1=- "n"
4:8 d@4:1=- false
5:4 e@5:1="tRuE"
"#,
        );
    }

    #[test]
    fn an_empty_document_is_null() {
        check("", "1:1 null");
    }

    #[test]
    fn duplicate_keys_are_all_found_and_the_first_kept() {
        let mut node = parse("a: 1\nb:\n  x: 1\n  x: 2\na: 3\n").expect("duplicates still parse");
        let duplicates = take_duplicate_keys(&mut node);
        let found: Vec<String> = duplicates
            .iter()
            .map(|d| {
                format!(
                    "{}@{}:{} first@{}",
                    d.key, d.position.line, d.position.column, d.first.line
                )
            })
            .collect();
        assert_eq!(found, ["x@4:3 first@3", "a@5:1 first@1"]);
        assert_eq!(node.to_json(), serde_json::json!({"a": 1, "b": {"x": 1}}));
    }

    #[test]
    fn syntax_errors_have_a_place() {
        let error = parse("all:\n  vars:\n    x: [1, 2\n    y: 3\n").expect_err("broken YAML");
        assert_eq!(error.position, Some(Position { line: 4, column: 6 }));
        assert_eq!(error.message, "illegal placement of ':' indicator");
    }

    #[test]
    fn an_alias_bomb_is_refused() {
        let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
        for level in 1..10 {
            let aliases = vec![format!("*a{}", level - 1); 9].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{aliases}]\n"));
        }
        let error = parse(&text).expect_err("the bomb must not expand");
        assert!(error.position.is_some(), "{error:?}");
        assert!(
            error.message.contains("too large or too complex"),
            "{}",
            error.message
        );
    }
}
