//! Template rendering: minijinja with strict undefined, the built-in templates or a
//! directory of them, and the filters the templates need to write PostgreSQL files.

use crate::diagnostic::Diagnostic;
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use std::path::{Path, PathBuf};

/// The templates built into the binary, used unless `--templates DIR` is given.
const BUILT_IN_TEMPLATES: &[(&str, &str)] = &[
    (
        "postgresql.conf.j2",
        include_str!("../templates/postgresql.conf.j2"),
    ),
    (
        "pg_hba.conf.j2",
        include_str!("../templates/pg_hba.conf.j2"),
    ),
    (
        "recovery.conf.j2",
        include_str!("../templates/recovery.conf.j2"),
    ),
    ("pgpass.j2", include_str!("../templates/pgpass.j2")),
    (
        "pgbackrest.conf.j2",
        include_str!("../templates/pgbackrest.conf.j2"),
    ),
    (
        "pgbouncer.ini.j2",
        include_str!("../templates/pgbouncer.ini.j2"),
    ),
    (
        "pgbouncer_users.txt.j2",
        include_str!("../templates/pgbouncer_users.txt.j2"),
    ),
];

/// The templates built into the binary, by name, for digests of what a plan used.
pub fn built_in_templates() -> &'static [(&'static str, &'static str)] {
    BUILT_IN_TEMPLATES
}

/// Renders templates by name, from the built-in set or from a directory.
pub struct Renderer {
    environment: Environment<'static>,
    directory: Option<PathBuf>,
}

impl Renderer {
    pub fn new(directory: Option<&Path>) -> Renderer {
        let mut environment = Environment::new();
        environment.set_undefined_behavior(UndefinedBehavior::Strict);
        environment.set_debug(true);
        match minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
        {
            Ok(syntax) => environment.set_syntax(syntax),
            Err(error) => panic!("the template syntax settings are invalid: {error}"),
        }
        environment.add_filter("pgconf_value", pgconf_value);
        environment.add_filter("one_line", one_line);
        environment.add_filter("hba_field", hba_field);
        environment.add_filter("hba_address", hba_address);
        environment.add_filter("pgpass_field", pgpass_field);
        environment.add_filter("pgbackrest_value", pgbackrest_value);
        environment.add_filter("pgbouncer_value", pgbouncer_value);
        environment.add_filter("pgbouncer_auth_field", pgbouncer_auth_field);
        // A template marks nothing safe itself: what reaches a file goes through a
        // filter made for that file, or is a plain word (see `write_value`).
        environment.remove_filter("safe");
        environment.set_formatter(write_value);
        // Turned on so that macros return safe text (their own output was checked
        // as it was written); the formatter above does all the writing.
        environment.set_auto_escape_callback(|_| {
            minijinja::AutoEscape::Custom(std::borrow::Cow::Borrowed("pgconverge"))
        });
        match directory {
            Some(directory) => environment.set_loader(minijinja::path_loader(directory)),
            None => {
                for (name, source) in BUILT_IN_TEMPLATES {
                    // The built-in templates are tested to parse; a failure here is a bug in the binary.
                    if let Err(error) = environment.add_template(name, source) {
                        panic!("built-in template {name} does not parse: {error}");
                    }
                }
            }
        }
        Renderer {
            environment,
            directory: directory.map(Path::to_path_buf),
        }
    }

    /// Renders `name` with `context`; an error names the template file and line.
    pub fn render(&self, name: &str, context: &Value) -> Result<String, Diagnostic> {
        let template = self
            .environment
            .get_template(name)
            .map_err(|error| self.diagnostic(name, &error))?;
        template
            .render(context)
            .map_err(|error| self.diagnostic(name, &error))
    }

    fn diagnostic(&self, name: &str, error: &Error) -> Diagnostic {
        let file = match &self.directory {
            Some(directory) => directory.join(error.name().unwrap_or(name)),
            None => PathBuf::from(format!(
                "templates/{} (built in)",
                error.name().unwrap_or(name)
            )),
        };
        let message = match error.kind() {
            ErrorKind::TemplateNotFound => format!("template `{name}` not found"),
            _ => match error.detail() {
                Some(detail) => format!("{}: {detail}", error.kind()),
                None => error.kind().to_string(),
            },
        };
        Diagnostic::new(file, error.line(), None, message)
    }
}

/// What `{{ ... }}` writes: a filter's output (marked safe), a number or a boolean,
/// or a plain word (letters, digits and `_ . / : -`), which means the same in every
/// file pgconverge writes. Any other string is refused, naming the filters, so no
/// value reaches a file without the quoting of the place it lands.
fn write_value(
    out: &mut minijinja::Output,
    _state: &mut minijinja::State,
    value: &Value,
) -> Result<(), Error> {
    let plain = |text: &str| {
        text.chars()
            .all(|c| c.is_ascii_alphanumeric() || "_./:-".contains(c))
    };
    let allowed = value.is_safe()
        || value.is_number()
        || value.kind() == minijinja::value::ValueKind::Bool
        || value.as_str().is_some_and(plain);
    if !allowed {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "the value {} is written without quoting: pass it through the filter for where it lands (pgconf_value, hba_field, hba_address, pgpass_field, pgbackrest_value, pgbouncer_value, pgbouncer_auth_field, one_line)",
                shown(value)
            ),
        ));
    }
    write!(out, "{value}").map_err(Error::from)
}

/// A value for an error message: quoted, with control characters escaped.
fn shown(value: &Value) -> String {
    format!("{:?}", value.to_string())
}

/// A line break or NUL cannot be carried by any line-based file pgconverge writes.
fn refuse_line_breaks(what: &str, text: &str) -> Result<(), Error> {
    if text.contains(['\n', '\r', '\0']) {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("{what} {text:?} holds a line break or NUL, which the file cannot carry"),
        ));
    }
    Ok(())
}

/// Writes a value the way `postgresql.conf` wants it: numbers and booleans bare,
/// everything else single-quoted, with `'` doubled and `\` escaped (PostgreSQL
/// reads backslash escapes inside quoted values); a line break is refused.
fn pgconf_value(value: Value) -> Result<Value, Error> {
    if value.is_number() {
        return Ok(Value::from_safe_string(value.to_string()));
    }
    if value.kind() == minijinja::value::ValueKind::Bool {
        let word = if value.is_true() { "on" } else { "off" };
        return Ok(Value::from_safe_string(word.to_string()));
    }
    let text = value.to_string();
    refuse_line_breaks("the postgresql.conf value", &text)?;
    Ok(Value::from_safe_string(format!(
        "'{}'",
        text.replace('\\', "\\\\").replace('\'', "''")
    )))
}

/// Text that stays on its line: inside a `#` comment, or a whole line the user
/// gives (`pg_hba_extra`); a line break, which would start another, is refused.
fn one_line(value: Value) -> Result<Value, Error> {
    let text = value.to_string();
    refuse_line_breaks("the text", &text)?;
    Ok(Value::from_safe_string(text))
}

/// Words `pg_hba.conf` reads as keywords in the database and user columns, and the
/// first characters that give a name another meaning.
const HBA_KEYWORDS: [&str; 5] = ["all", "sameuser", "samerole", "samegroup", "replication"];

/// A database or user name as one `pg_hba.conf` token: bare when that means the
/// name itself, else double-quoted with `"` doubled (so `all`, `+group`, `@file`,
/// a name with spaces, `,` or `#` are taken literally); a line break is refused.
fn hba_field(value: Value) -> Result<Value, Error> {
    let text = value.to_string();
    refuse_line_breaks("the pg_hba.conf name", &text)?;
    let bare = !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
        && !HBA_KEYWORDS.contains(&text.as_str())
        && !text.starts_with(['-', '.']);
    if bare {
        return Ok(Value::from_safe_string(text));
    }
    Ok(Value::from_safe_string(format!(
        "\"{}\"",
        text.replace('"', "\"\"")
    )))
}

/// Turns a host address into a `pg_hba.conf` address: an IP gets its single-host
/// mask, a host name is left as it is (PostgreSQL resolves it). Anything else (a
/// name with spaces, quotes or a keyword's meaning) is refused: validation only
/// lets addresses and host names through.
fn hba_address(address: String) -> Result<Value, Error> {
    let text = match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => format!("{address}/32"),
        Ok(std::net::IpAddr::V6(_)) => format!("{address}/128"),
        Err(_) if crate::address::is_host_name(&address) => address,
        Err(_) => {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                format!("{address:?} is neither an IP address nor a host name"),
            ));
        }
    };
    Ok(Value::from_safe_string(text))
}

/// Escapes a field of a `.pgpass` line, where `:` and `\` are special; a line
/// break is refused.
fn pgpass_field(field: String) -> Result<Value, Error> {
    refuse_line_breaks("the .pgpass field", &field)?;
    Ok(Value::from_safe_string(
        field.replace('\\', "\\\\").replace(':', "\\:"),
    ))
}

/// A value of `pgbackrest.conf`, which runs from `=` to the end of the line and
/// is trimmed: a line break, or space at either end (which pgBackRest would drop),
/// is refused.
fn pgbackrest_value(value: Value) -> Result<Value, Error> {
    let text = value.to_string();
    refuse_line_breaks("the pgbackrest.conf value", &text)?;
    if text.trim() != text || text.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "the pgbackrest.conf value {text:?} is empty or starts or ends with space, which pgBackRest would drop"
            ),
        ));
    }
    Ok(Value::from_safe_string(text))
}

/// A value of `pgbouncer.ini`, which PgBouncer reads from `=` (or after
/// `%include`) to the end of the line and trims: numbers bare, true and false as
/// `1` and `0`, text as it is; a line break, an empty value or space at either
/// end (which PgBouncer would drop) is refused.
fn pgbouncer_value(value: Value) -> Result<Value, Error> {
    if value.is_number() {
        return Ok(Value::from_safe_string(value.to_string()));
    }
    if value.kind() == minijinja::value::ValueKind::Bool {
        let word = if value.is_true() { "1" } else { "0" };
        return Ok(Value::from_safe_string(word.to_string()));
    }
    let text = value.to_string();
    refuse_line_breaks("the pgbouncer.ini value", &text)?;
    if text.trim() != text || text.is_empty() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!(
                "the pgbouncer.ini value {text:?} is empty or starts or ends with space, which PgBouncer would drop"
            ),
        ));
    }
    Ok(Value::from_safe_string(text))
}

/// A field of PgBouncer's auth file (`"name" "password"`): in double quotes,
/// with `"` doubled, as PgBouncer reads it back; a line break or NUL is refused.
fn pgbouncer_auth_field(field: String) -> Result<Value, Error> {
    refuse_line_breaks("the PgBouncer auth file field", &field)?;
    Ok(Value::from_safe_string(format!(
        "\"{}\"",
        field.replace('"', "\"\"")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pgbouncer_values_stay_on_their_line_and_auth_fields_in_their_quotes() {
        let value = |value: Value| written(pgbouncer_value(value));
        assert_eq!(value(Value::from(6432)), "6432");
        assert_eq!(value(Value::from(true)), "1");
        assert_eq!(value(Value::from("session")), "session");
        assert_eq!(value(Value::from("*")), "*");
        assert_eq!(value(Value::from("x\nauth_type = trust")), "refused");
        assert_eq!(value(Value::from(" /etc/pgbouncer")), "refused");
        assert_eq!(value(Value::from("")), "refused");
        let field = |text: &str| written(pgbouncer_auth_field(text.to_string()));
        assert_eq!(field("pgbouncer"), r#""pgbouncer""#);
        assert_eq!(field(r#"pa"ss" "x"#), r#""pa""ss"" ""x""#);
        assert_eq!(field("a\nb"), "refused");
        assert_eq!(field("a\0b"), "refused");
    }

    /// What a filter writes, or `refused` when it refuses the value.
    fn written(result: Result<Value, Error>) -> String {
        match result {
            Ok(value) => {
                assert!(value.is_safe(), "a filter's output must be marked safe");
                value.to_string()
            }
            Err(_) => "refused".to_string(),
        }
    }

    #[test]
    fn config_values_are_quoted_as_postgresql_reads_them() {
        assert_eq!(written(pgconf_value(Value::from(64))), "64");
        assert_eq!(written(pgconf_value(Value::from(true))), "on");
        assert_eq!(written(pgconf_value(Value::from("128MB"))), "'128MB'");
        assert_eq!(written(pgconf_value(Value::from("it's"))), "'it''s'");
        assert_eq!(written(pgconf_value(Value::from(r"C:\dir"))), r"'C:\\dir'");
        let injected = "*'\nwork_mem = 7777kB\n#";
        assert_eq!(written(pgconf_value(Value::from(injected))), "refused");
    }

    #[test]
    fn hba_names_are_taken_literally() {
        let hba = |text: &str| written(hba_field(Value::from(text)));
        assert_eq!(hba("replicator"), "replicator");
        assert_eq!(hba("all"), r#""all""#);
        assert_eq!(hba("+admins"), r#""+admins""#);
        assert_eq!(hba("@file"), r#""@file""#);
        assert_eq!(hba("all 0.0.0.0/0 trust #"), r#""all 0.0.0.0/0 trust #""#);
        assert_eq!(hba(r#"say "hi""#), r#""say ""hi""""#);
        assert_eq!(hba("a\nb"), "refused");
    }

    #[test]
    fn hba_addresses_get_a_host_mask() {
        let address = |text: &str| written(hba_address(text.to_string()));
        assert_eq!(address("10.0.0.1"), "10.0.0.1/32");
        assert_eq!(address("fd00::1"), "fd00::1/128");
        assert_eq!(address("db1.example.org"), "db1.example.org");
        assert_eq!(address("0.0.0.0/0 trust"), "refused");
    }

    #[test]
    fn pgpass_fields_escape_colon_and_backslash() {
        assert_eq!(written(pgpass_field(r"a:b\c".into())), r"a\:b\\c");
        assert_eq!(written(pgpass_field("a\nb".into())), "refused");
    }

    #[test]
    fn a_template_cannot_write_a_value_raw() {
        let directory = tempfile::tempdir().expect("temporary directory");
        let write = |name: &str, text: &str| {
            std::fs::write(directory.path().join(name), text).expect("write template")
        };
        write("raw.j2", "listen_addresses = '{{ value }}'\n");
        write("safe.j2", "listen_addresses = {{ value | safe }}\n");
        write(
            "filtered.j2",
            "listen_addresses = {{ value | pgconf_value }}\n",
        );
        write("plain.j2", "port = {{ port }} # {{ word }}\n");
        let renderer = Renderer::new(Some(directory.path()));
        let context = Value::from(minijinja::value::Serde(
            json!({ "value": "*' \nwork_mem = 1", "port": 5432, "word": "db-1.example" }),
        ));
        let refused = renderer
            .render("raw.j2", &context)
            .expect_err("a raw value");
        assert!(
            refused.message.contains("pgconf_value"),
            "{}",
            refused.message
        );
        assert!(
            renderer.render("safe.j2", &context).is_err(),
            "`safe` is no filter here"
        );
        assert!(
            renderer.render("filtered.j2", &context).is_err(),
            "a line break is refused"
        );
        let fine = Value::from(minijinja::value::Serde(json!({ "value": "10.0.0.1, 'x'" })));
        assert_eq!(
            renderer.render("filtered.j2", &fine).ok().as_deref(),
            Some("listen_addresses = '10.0.0.1, ''x'''\n")
        );
        assert_eq!(
            renderer.render("plain.j2", &context).ok().as_deref(),
            Some("port = 5432 # db-1.example\n")
        );
    }

    #[test]
    fn undefined_variable_names_template_and_line() {
        let directory = tempfile::tempdir().expect("temporary directory");
        std::fs::write(
            directory.path().join("t.j2"),
            "line one\n{{ missing_variable }}\n",
        )
        .expect("write template");
        let renderer = Renderer::new(Some(directory.path()));
        let diagnostic = renderer
            .render("t.j2", &Value::UNDEFINED)
            .expect_err("strict undefined");
        assert_eq!(diagnostic.location.line, Some(2));
        assert!(diagnostic.location.file.ends_with("t.j2"));
        assert!(
            diagnostic.message.contains("undefined"),
            "{}",
            diagnostic.message
        );
    }
}
