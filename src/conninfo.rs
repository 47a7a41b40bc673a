//! libpq connection strings (`primary_conninfo`, pg_rewind's source): each value
//! quoted as libpq reads it.

/// Quotes a connection-string value when it holds spaces, quotes or backslashes,
/// or is empty.
pub fn value(value: &str) -> String {
    if !value.is_empty() && !value.contains([' ', '\'', '\\']) {
        return value.to_string();
    }
    format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// `name=value` pairs joined with spaces, each value quoted.
pub fn join(pairs: &[(&str, String)]) -> String {
    pairs
        .iter()
        .map(|(name, text)| format!("{name}={}", value(text)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_only_when_needed() {
        assert_eq!(value("10.0.0.1"), "10.0.0.1");
        assert_eq!(value("my host"), "'my host'");
        assert_eq!(value("it's"), r"'it\'s'");
        assert_eq!(value(""), "''");
        assert_eq!(
            join(&[("host", "a b".into()), ("port", "5432".into())]),
            "host='a b' port=5432"
        );
    }
}
