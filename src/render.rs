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
        environment.add_filter("hba_address", hba_address);
        environment.add_filter("pgpass_field", pgpass_field);
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
    pub fn render(&self, name: &str, context: &serde_json::Value) -> Result<String, Diagnostic> {
        let template = self
            .environment
            .get_template(name)
            .map_err(|error| self.diagnostic(name, &error))?;
        template
            .render(Value::from(minijinja::value::Serde(context)))
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

/// Writes a value the way `postgresql.conf` wants it: numbers and booleans bare,
/// everything else single-quoted with quotes doubled.
fn pgconf_value(value: Value) -> String {
    if value.is_number() {
        return value.to_string();
    }
    if value.kind() == minijinja::value::ValueKind::Bool {
        return if value.is_true() { "on" } else { "off" }.to_string();
    }
    format!("'{}'", value.to_string().replace('\'', "''"))
}

/// Turns a host address into a `pg_hba.conf` address: an IP gets its single-host
/// mask, a host name is left as it is (PostgreSQL resolves it).
fn hba_address(address: String) -> String {
    match address.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => format!("{address}/32"),
        Ok(std::net::IpAddr::V6(_)) => format!("{address}/128"),
        Err(_) => address,
    }
}

/// Escapes a field of a `.pgpass` line, where `:` and `\` are special.
fn pgpass_field(field: String) -> String {
    field.replace('\\', "\\\\").replace(':', "\\:")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_values_are_quoted_as_postgresql_reads_them() {
        assert_eq!(pgconf_value(Value::from(64)), "64");
        assert_eq!(pgconf_value(Value::from(true)), "on");
        assert_eq!(pgconf_value(Value::from("128MB")), "'128MB'");
        assert_eq!(pgconf_value(Value::from("it's")), "'it''s'");
    }

    #[test]
    fn hba_addresses_get_a_host_mask() {
        assert_eq!(hba_address("10.0.0.1".into()), "10.0.0.1/32");
        assert_eq!(hba_address("fd00::1".into()), "fd00::1/128");
        assert_eq!(hba_address("db1.example.org".into()), "db1.example.org");
    }

    #[test]
    fn pgpass_fields_escape_colon_and_backslash() {
        assert_eq!(pgpass_field(r"a:b\c".into()), r"a\:b\\c");
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
            .render("t.j2", &json!({}))
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
