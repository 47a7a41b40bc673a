//! Ansible's common filters that minijinja does not have, for the templates of
//! an inventory: `bool`, `ternary`, `regex_replace`, `regex_search`,
//! `regex_escape`, `b64encode`, `b64decode`, `to_json`, `to_nice_json`,
//! `mandatory`, `quote` and `split`. minijinja brings `default`, `int`, `float`,
//! `lower`, `upper`, `join`, `length`, `replace` and the others Jinja has;
//! `minijinja_contrib`'s Python compatibility adds the string methods
//! (`x.startswith('a')`, `x.split(',')`).

use base64::Engine as _;
use minijinja::value::{Kwargs, Value};
use minijinja::{Environment, Error, ErrorKind};

/// Adds the filters to `environment`.
pub fn add(environment: &mut Environment) {
    environment.add_filter("bool", to_bool);
    environment.add_filter("ternary", ternary);
    environment.add_filter("regex_replace", regex_replace);
    environment.add_filter("regex_search", regex_search);
    environment.add_filter("regex_escape", |text: &str| regex::escape(text));
    environment.add_filter("b64encode", |text: &str| {
        base64::engine::general_purpose::STANDARD.encode(text)
    });
    environment.add_filter("b64decode", b64decode);
    environment.add_filter("to_json", to_json);
    environment.add_filter("to_nice_json", to_nice_json);
    environment.add_filter("mandatory", mandatory);
    environment.add_filter("quote", python_quote);
    environment.add_filter("split", split);
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidOperation, message)
}

/// Ansible's `bool`: `yes`, `on`, `1`, `true` (any case) and `1` are true.
fn to_bool(value: &Value) -> Result<bool, Error> {
    if let Some(flag) = value.as_str() {
        let lower = flag.trim().to_ascii_lowercase();
        return Ok(matches!(
            lower.as_str(),
            "yes" | "on" | "1" | "true" | "y" | "t"
        ));
    }
    if let Ok(number) = i64::try_from(value.clone()) {
        return Ok(number == 1);
    }
    Ok(value.is_true())
}

fn ternary(value: &Value, yes: Value, no: Value, none: Option<Value>) -> Value {
    match none {
        Some(none) if value.is_none() => none,
        _ if value.is_true() => yes,
        _ => no,
    }
}

fn compile(pattern: &str, options: &Kwargs) -> Result<regex::Regex, Error> {
    let ignorecase: Option<bool> = options.get("ignorecase")?;
    let multiline: Option<bool> = options.get("multiline")?;
    regex::RegexBuilder::new(pattern)
        .case_insensitive(ignorecase.unwrap_or(false))
        .multi_line(multiline.unwrap_or(false))
        .build()
        .map_err(|error| {
            invalid(format!(
                "the regular expression `{pattern}` is invalid: {error}"
            ))
        })
}

/// Python's `\1` and `\g<name>` in a replacement, as the regex crate writes them.
fn replacement(python: &str) -> String {
    let mut out = String::new();
    let mut chars = python.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.peek().copied() {
                Some(digit) if digit.is_ascii_digit() => {
                    chars.next();
                    out.push_str(&format!("${{{digit}}}"));
                }
                Some('g') => {
                    chars.next();
                    if chars.peek() == Some(&'<') {
                        chars.next();
                        let name: String = chars.by_ref().take_while(|c| *c != '>').collect();
                        out.push_str(&format!("${{{name}}}"));
                    } else {
                        out.push_str("\\g");
                    }
                }
                Some('\\') => {
                    chars.next();
                    out.push('\\');
                }
                _ => out.push('\\'),
            },
            '$' => out.push_str("$$"),
            other => out.push(other),
        }
    }
    out
}

fn regex_replace(
    value: &str,
    pattern: &str,
    with: Option<&str>,
    options: Kwargs,
) -> Result<String, Error> {
    let expression = compile(pattern, &options)?;
    let count: Option<usize> = options.get("count")?;
    options.assert_all_used()?;
    let with = replacement(with.unwrap_or(""));
    Ok(expression
        .replacen(value, count.unwrap_or(0), with.as_str())
        .into_owned())
}

fn regex_search(value: &str, pattern: &str, options: Kwargs) -> Result<Value, Error> {
    let expression = compile(pattern, &options)?;
    options.assert_all_used()?;
    Ok(expression
        .find(value)
        .map_or(Value::from(()), |found| Value::from(found.as_str())))
}

fn b64decode(text: &str) -> Result<String, Error> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|error| invalid(format!("b64decode: not base64: {error}")))?;
    String::from_utf8(bytes)
        .map_err(|_| invalid("b64decode: the decoded bytes are not text".to_string()))
}

/// JSON as Python's `json.dumps` writes it, which Ansible's `to_json` is:
/// `, ` and `: ` between items, non-ASCII characters escaped.
fn to_json(value: &Value) -> Result<String, Error> {
    let mut out = Vec::new();
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, PythonFormatter);
    serde::Serialize::serialize(value, &mut serializer)
        .map_err(|error| invalid(format!("to_json: {error}")))?;
    String::from_utf8(out).map_err(|_| invalid("to_json: not text".to_string()))
}

struct PythonFormatter;

/// Python's `json.dumps` puts `, ` between items, and nothing before the first.
fn item_separator<W: ?Sized + std::io::Write>(writer: &mut W, first: bool) -> std::io::Result<()> {
    if first {
        Ok(())
    } else {
        writer.write_all(b", ")
    }
}

impl serde_json::ser::Formatter for PythonFormatter {
    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        item_separator(writer, first)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        item_separator(writer, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
    ) -> std::io::Result<()> {
        writer.write_all(b": ")
    }

    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        for character in fragment.chars() {
            if character.is_ascii() {
                writer.write_all(&[character as u8])?;
            } else {
                let mut units = [0u16; 2];
                for unit in character.encode_utf16(&mut units) {
                    write!(writer, "\\u{unit:04x}")?;
                }
            }
        }
        Ok(())
    }
}

fn to_nice_json(value: &Value, options: Kwargs) -> Result<String, Error> {
    let indent: Option<usize> = options.get("indent")?;
    options.assert_all_used()?;
    let json =
        serde_json::to_value(value).map_err(|error| invalid(format!("to_nice_json: {error}")))?;
    let spaces = " ".repeat(indent.unwrap_or(4));
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(spaces.as_bytes());
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    serde::Serialize::serialize(&json, &mut serializer)
        .map_err(|error| invalid(format!("to_nice_json: {error}")))?;
    String::from_utf8(out).map_err(|_| invalid("to_nice_json: not text".to_string()))
}

/// Under strict undefined an undefined value never reaches a filter, so this
/// only names an explicit `none`.
fn mandatory(value: Value, message: Option<&str>) -> Result<Value, Error> {
    if value.is_undefined() || value.is_none() {
        let message = message.unwrap_or("a mandatory variable is not defined");
        return Err(Error::new(ErrorKind::UndefinedError, message.to_string()));
    }
    Ok(value)
}

/// Python's `shlex.quote`, which Ansible's `quote` is: safe words as they are,
/// anything else in single quotes.
fn python_quote(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./-_".contains(c);
    if text.is_empty() {
        return "''".to_string();
    }
    if text.chars().all(safe) {
        return text.to_string();
    }
    format!("'{}'", text.replace('\'', "'\"'\"'"))
}

fn split(text: &str, separator: Option<&str>) -> Vec<String> {
    match separator {
        Some(separator) => text.split(separator).map(str::to_string).collect(),
        None => text.split_whitespace().map(str::to_string).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(template: &str) -> String {
        let mut environment = Environment::new();
        add(&mut environment);
        environment
            .render_str(template, minijinja::context! {})
            .unwrap_or_else(|error| format!("error: {error}"))
    }

    #[test]
    fn ansible_filters_work_as_in_ansible() {
        assert_eq!(
            render("{{ 'yes' | bool }} {{ 'off' | bool }} {{ 1 | bool }}"),
            "True False True"
        );
        assert_eq!(
            render("{{ true | ternary('a', 'b') }}{{ none | ternary('a', 'b', 'n') }}"),
            "an"
        );
        assert_eq!(
            render("{{ 'db-01' | regex_replace('^db-(\\\\d+)$', 'pg\\\\1') }}"),
            "pg01"
        );
        assert_eq!(
            render("{{ 'ABC' | regex_search('b', ignorecase=true) }}"),
            "B"
        );
        assert_eq!(
            render("{{ 'x:y' | b64encode }} {{ 'eDp5' | b64decode }}"),
            "eDp5 x:y"
        );
        assert_eq!(
            render("{{ {'a': [1, 'é']} | to_json }}"),
            "{\"a\": [1, \"\\u00e9\"]}"
        );
        assert_eq!(render("{{ 'a,b' | split(',') | length }}"), "2");
        assert_eq!(render("{{ \"it's\" | quote }}"), "'it'\"'\"'s'");
        assert!(render("{{ none | mandatory('give it') }}").contains("give it"));
    }
}
