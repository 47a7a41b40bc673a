//! The values of an INI inventory, typed as Ansible types them: Ansible passes
//! each value to Python's `ast.literal_eval` and keeps the text when that fails.
//! So `5433` is a number, `True` a boolean, `[1, 'a']` a list, `'quoted'` the
//! text inside the quotes, while `yes`, `10.0.0.1` and `0755` stay text.
//!
//! This reads the literals `literal_eval` reads: numbers (with `_`, `0x`, `0o`,
//! `0b`, a sign, floats with exponents), strings in every quoting with their
//! escapes and adjacent strings joined, `True`, `False`, `None`, lists, tuples
//! and sets (both lists for Ansible) and dicts. Anything else is `None`, and the
//! caller keeps the text, as Ansible does.

use crate::yaml::{Entry, Node, NodeValue, Position};

/// The value `literal_eval` gives for `text`, or `None` when it refuses it.
/// Every node is placed at `position`, the place of the value in the file.
pub fn evaluate(text: &str, position: Position) -> Option<NodeValue> {
    let mut parser = Parser {
        chars: text.trim_start_matches([' ', '\t']).chars().collect(),
        at: 0,
        position,
        depth: 0,
    };
    let value = parser.expression()?;
    parser.skip_space();
    (parser.at == parser.chars.len()).then_some(value)
}

/// Nesting deeper than this is refused, as Python's parser refuses it.
const DEEPEST: usize = 100;

struct Parser {
    chars: Vec<char>,
    at: usize,
    position: Position,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.at += 1;
        }
    }

    fn eat(&mut self, wanted: char) -> bool {
        self.skip_space();
        if self.peek() == Some(wanted) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn node(&self, value: NodeValue) -> Node {
        Node {
            value,
            position: self.position,
        }
    }

    /// One value, or a tuple of values separated by commas (`1, 2`).
    fn expression(&mut self) -> Option<NodeValue> {
        let first = self.value()?;
        self.skip_space();
        if self.peek() != Some(',') {
            return Some(first);
        }
        let mut items = vec![self.node(first)];
        while self.eat(',') {
            self.skip_space();
            if self.peek().is_none() {
                break;
            }
            items.push(self.value().map(|value| self.node(value))?);
        }
        Some(NodeValue::Sequence(items))
    }

    fn value(&mut self) -> Option<NodeValue> {
        self.skip_space();
        self.depth += 1;
        if self.depth > DEEPEST {
            return None;
        }
        let value = match self.peek()? {
            '[' => self.sequence(']'),
            '(' => self.parenthesised(),
            '{' => self.braces(),
            '\'' | '"' => self.strings(),
            c if c.is_ascii_digit() || c == '.' || c == '-' || c == '+' => self.number(),
            c if c.is_alphabetic() || c == '_' => self.word(),
            _ => None,
        };
        self.depth -= 1;
        value
    }

    /// Items up to `close`, separated by commas, a trailing comma allowed.
    fn items(&mut self, close: char) -> Option<Vec<Node>> {
        self.at += 1;
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            let item = self.value()?;
            items.push(self.node(item));
            if !self.eat(',') {
                return self.eat(close).then_some(items);
            }
        }
    }

    fn sequence(&mut self, close: char) -> Option<NodeValue> {
        self.items(close).map(NodeValue::Sequence)
    }

    /// `(1)` is 1, `(1,)` and `()` are tuples.
    fn parenthesised(&mut self) -> Option<NodeValue> {
        let start = self.at;
        self.at += 1;
        if self.eat(')') {
            return Some(NodeValue::Sequence(Vec::new()));
        }
        let inner = self.value()?;
        if self.eat(')') {
            return Some(inner);
        }
        self.at = start;
        self.sequence(')')
    }

    /// A dict `{k: v}` or a set `{a, b}`; `{}` is an empty dict.
    fn braces(&mut self) -> Option<NodeValue> {
        let start = self.at;
        self.at += 1;
        if self.eat('}') {
            return Some(NodeValue::Mapping(Vec::new()));
        }
        let first = self.value()?;
        if !self.eat(':') {
            self.at = start;
            return self.sequence('}');
        }
        let mut entries: Vec<Entry> = Vec::new();
        let mut key = first;
        loop {
            let value = self.value()?;
            let key_text = key_text(&key)?;
            let entry = Entry {
                key: key_text,
                key_position: self.position,
                value: self.node(value),
            };
            // A later duplicate key replaces the earlier value, as in Python.
            match entries.iter_mut().find(|known| known.key == entry.key) {
                Some(known) => known.value = entry.value,
                None => entries.push(entry),
            }
            if !self.eat(',') {
                return self.eat('}').then_some(NodeValue::Mapping(entries));
            }
            if self.eat('}') {
                return Some(NodeValue::Mapping(entries));
            }
            key = self.value()?;
            if !self.eat(':') {
                return None;
            }
        }
    }

    fn word(&mut self) -> Option<NodeValue> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.at += 1;
        }
        let word: String = self.chars[start..self.at].iter().collect();
        match word.as_str() {
            "True" => Some(NodeValue::Bool(true)),
            "False" => Some(NodeValue::Bool(false)),
            "None" => Some(NodeValue::Null),
            _ => {
                // A string prefix: r'', b'', u'', rb'', ...
                let prefix = word.to_ascii_lowercase();
                let is_prefix = ["r", "u", "b", "br", "rb"].contains(&prefix.as_str());
                if is_prefix && matches!(self.peek(), Some('\'' | '"')) {
                    self.at = start;
                    self.strings()
                } else {
                    None
                }
            }
        }
    }

    /// One or more adjacent string literals, joined.
    fn strings(&mut self) -> Option<NodeValue> {
        let mut joined = String::new();
        loop {
            self.skip_space();
            let start = self.at;
            let mut raw = false;
            while let Some(c) = self.peek().filter(char::is_ascii_alphabetic) {
                if "rRbBuU".contains(c) {
                    raw |= c == 'r' || c == 'R';
                    self.at += 1;
                } else {
                    break;
                }
            }
            match self.peek() {
                Some(quote @ ('\'' | '"')) => joined.push_str(&self.string(quote, raw)?),
                _ => {
                    self.at = start;
                    break;
                }
            }
        }
        Some(NodeValue::String(joined))
    }

    fn string(&mut self, quote: char, raw: bool) -> Option<String> {
        let triple = self.chars.get(self.at..self.at + 3) == Some(&[quote, quote, quote]);
        self.at += if triple { 3 } else { 1 };
        let mut text = String::new();
        loop {
            let c = self.peek()?;
            if c == quote {
                if !triple {
                    self.at += 1;
                    return Some(text);
                }
                if self.chars.get(self.at..self.at + 3) == Some(&[quote, quote, quote]) {
                    self.at += 3;
                    return Some(text);
                }
            }
            self.at += 1;
            if c == '\\' {
                let next = self.peek()?;
                self.at += 1;
                if raw {
                    text.push('\\');
                    text.push(next);
                } else {
                    self.escape(next, &mut text)?;
                }
            } else {
                text.push(c);
            }
        }
    }

    fn escape(&mut self, code: char, text: &mut String) -> Option<()> {
        let simple = match code {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            '\\' => Some('\\'),
            '\'' => Some('\''),
            '"' => Some('"'),
            'a' => Some('\u{7}'),
            'b' => Some('\u{8}'),
            'f' => Some('\u{c}'),
            'v' => Some('\u{b}'),
            _ => None,
        };
        if let Some(c) = simple {
            text.push(c);
            return Some(());
        }
        let hex_digits = match code {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            '0'..='7' => {
                let mut value = code.to_digit(8)?;
                for _ in 0..2 {
                    match self.peek().and_then(|c| c.to_digit(8)) {
                        Some(digit) => {
                            value = value * 8 + digit;
                            self.at += 1;
                        }
                        None => break,
                    }
                }
                text.push(char::from_u32(value)?);
                return Some(());
            }
            // Python keeps an unknown escape as it is written.
            other => {
                text.push('\\');
                text.push(other);
                return Some(());
            }
        };
        let digits: String = self
            .chars
            .get(self.at..self.at + hex_digits)?
            .iter()
            .collect();
        self.at += hex_digits;
        text.push(char::from_u32(u32::from_str_radix(&digits, 16).ok()?)?);
        Some(())
    }

    fn number(&mut self) -> Option<NodeValue> {
        let mut negative = false;
        while let Some(sign @ ('-' | '+')) = self.peek() {
            negative ^= sign == '-';
            self.at += 1;
            self.skip_space();
        }
        let start = self.at;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
            || (self.peek().is_some_and(|c| c == '-' || c == '+')
                && self
                    .at
                    .checked_sub(1)
                    .and_then(|before| self.chars.get(before))
                    .is_some_and(|c| *c == 'e' || *c == 'E')
                && !self.chars[start..self.at].starts_with(&['0', 'x']))
        {
            self.at += 1;
        }
        let written: String = self.chars[start..self.at].iter().collect();
        let number = python_number(&written)?;
        Some(match number {
            PythonNumber::Integer(value) => {
                let value = if negative { -value } else { value };
                match i64::try_from(value) {
                    Ok(small) => NodeValue::Number(small.into()),
                    Err(_) => NodeValue::String(value.to_string()),
                }
            }
            PythonNumber::Float(value) => {
                let value = if negative { -value } else { value };
                match serde_json::Number::from_f64(value) {
                    Some(number) => NodeValue::Number(number),
                    None => NodeValue::String(value.to_string()),
                }
            }
        })
    }
}

enum PythonNumber {
    Integer(i128),
    Float(f64),
}

/// A Python number literal without its sign; `None` for what Python refuses
/// (`0755`, `1__0`, `1_`) or reads as a complex number.
fn python_number(written: &str) -> Option<PythonNumber> {
    let underscores_ok = |digits: &str| {
        !digits.is_empty()
            && !digits.starts_with('_')
            && !digits.ends_with('_')
            && !digits.contains("__")
    };
    let lower = written.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            let digits = digits.strip_prefix('_').unwrap_or(digits);
            if !underscores_ok(digits) {
                return None;
            }
            let value = i128::from_str_radix(&digits.replace('_', ""), radix).ok()?;
            return Some(PythonNumber::Integer(value));
        }
    }
    if !written.chars().any(|c| c.is_ascii_digit()) {
        return None;
    }
    let is_float = lower.contains('.') || lower.contains('e');
    if !is_float {
        if !underscores_ok(written) || !written.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return None;
        }
        let digits = written.replace('_', "");
        // Python refuses leading zeros except in zero itself.
        if digits.len() > 1 && digits.starts_with('0') && digits.chars().any(|c| c != '0') {
            return None;
        }
        return digits.parse().ok().map(PythonNumber::Integer);
    }
    let (mantissa, exponent) = match lower.split_once('e') {
        Some((mantissa, exponent)) => (mantissa, Some(exponent)),
        None => (lower.as_str(), None),
    };
    let parts_ok = mantissa
        .split('.')
        .all(|part| part.is_empty() || underscores_ok(part))
        && mantissa.matches('.').count() <= 1
        && mantissa != ".";
    let exponent_ok = exponent.is_none_or(|exponent| {
        let digits = exponent.trim_start_matches(['-', '+']);
        exponent.len() - digits.len() <= 1 && underscores_ok(digits)
    });
    if !parts_ok
        || !exponent_ok
        || !mantissa
            .chars()
            .all(|c| c.is_ascii_digit() || "._".contains(c))
    {
        return None;
    }
    lower.replace('_', "").parse().ok().map(PythonNumber::Float)
}

/// A dict key as Ansible's JSON writes it: text as it is, numbers and
/// booleans as Python's `json` turns them into keys.
fn key_text(key: &NodeValue) -> Option<String> {
    match key {
        NodeValue::String(text) => Some(text.clone()),
        NodeValue::Number(number) => Some(number.to_string()),
        NodeValue::Bool(value) => Some(value.to_string()),
        NodeValue::Null => Some("null".to_string()),
        NodeValue::Sequence(_) | NodeValue::Mapping(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str, expected: Option<serde_json::Value>) {
        let position = Position { line: 1, column: 1 };
        let value = evaluate(text, position).map(|value| Node { value, position }.to_json());
        assert_eq!(value, expected, "{text}");
    }

    #[test]
    fn numbers_are_numbers_as_python_writes_them() {
        use serde_json::json;
        check("5433", Some(json!(5433)));
        check("-5", Some(json!(-5)));
        check("1_000", Some(json!(1000)));
        check("0x1F", Some(json!(31)));
        check("0", Some(json!(0)));
        check("00", Some(json!(0)));
        check("1.5", Some(json!(1.5)));
        check("1e3", Some(json!(1000.0)));
        check(".5", Some(json!(0.5)));
        check("0755", None);
        check("10.0.0.1", None);
        check("1_", None);
        check("15.", Some(json!(15.0)));
    }

    #[test]
    fn words_and_strings() {
        use serde_json::json;
        check("True", Some(json!(true)));
        check("None", Some(json!(null)));
        check("yes", None);
        check("true", None);
        check("'a b'", Some(json!("a b")));
        check("\"a\\n\" 'b'", Some(json!("a\nb")));
        check("r'a\\n'", Some(json!("a\\n")));
        check("'unterminated", None);
        check("'''x'y'''", Some(json!("x'y")));
    }

    #[test]
    fn containers() {
        use serde_json::json;
        check("[1, 'a', [True]]", Some(json!([1, "a", [true]])));
        check("(1,)", Some(json!([1])));
        check("(1)", Some(json!(1)));
        check("1, 2", Some(json!([1, 2])));
        check("{'a': 1, 2: [3]}", Some(json!({"a": 1, "2": [3]})));
        check("{1, 2}", Some(json!([1, 2])));
        check("{}", Some(json!({})));
        check("[1, 2", None);
        check("[a]", None);
    }
}
