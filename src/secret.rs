//! Secrets: `Sensitive<T>`, the inventory reader's wrapper that never prints its
//! value, and the redactor that the printer runs over every line it writes.

pub use ansible_inventory_reader::{REDACTED, Sensitive};

/// Replaces every known secret value in text with `(sensitive)`. The printer holds
/// one, so a secret that slips into an error from a host is still not shown.
///
/// A secret rarely reaches the output only as itself: an error may show it as Rust
/// debug-prints a string, a JSON document escapes it, a rendered file quotes it for
/// `postgresql.conf`, a libpq connection string, `.pgpass` or PgBouncer's auth
/// file, and a script carries
/// it as base64. The redactor knows each of these forms, so none of them is shown.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<Sensitive<String>>,
}

impl Redactor {
    /// Secrets shorter than this are not redacted: replacing every `a` in the
    /// output would make it unreadable and protect nothing.
    const SHORTEST_SECRET: usize = 4;

    pub fn new(secrets: impl IntoIterator<Item = String>) -> Redactor {
        let mut secrets: Vec<Sensitive<String>> = secrets
            .into_iter()
            .filter(|secret| secret.len() >= Self::SHORTEST_SECRET)
            .flat_map(|secret| written_forms(&secret))
            .map(Sensitive::new)
            .collect();
        // Longer forms first, so a secret that contains another (or a padded base64
        // that contains its unpadded form) is replaced whole.
        secrets.sort_by(|left, right| {
            right
                .expose()
                .len()
                .cmp(&left.expose().len())
                .then_with(|| left.expose().cmp(right.expose()))
        });
        secrets.dedup();
        Redactor { secrets }
    }

    pub fn redact(&self, text: &str) -> String {
        let mut text = text.to_string();
        for secret in &self.secrets {
            if text.contains(secret.expose().as_str()) {
                text = text.replace(secret.expose().as_str(), REDACTED);
            }
        }
        text
    }
}

/// Every form in which a secret may be written into text pgconverge prints: the
/// secret itself, then each escaped or encoded form that differs from it. Quotes
/// around a quoted form are left out, so the secret is found inside a longer string.
fn written_forms(secret: &str) -> Vec<String> {
    use base64::Engine;
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};

    let debug_quoted = format!("{secret:?}");
    let json_quoted = serde_json::to_string(secret).unwrap_or_default();
    let candidates = [
        // Rust's `{:?}` of a string (an error that shows a value), and
        // `str::escape_debug`, which also escapes a single quote.
        strip_quotes(&debug_quoted).to_string(),
        secret.escape_debug().to_string(),
        strip_quotes(&json_quoted).to_string(),
        // A `postgresql.conf` value, as `render`'s `pgconf_value` writes it.
        secret.replace('\\', "\\\\").replace('\'', "''"),
        // A libpq connection-string value, as `conninfo::value` writes it. That
        // module is of the same layer, so its quoting is repeated here.
        secret.replace('\\', "\\\\").replace('\'', "\\'"),
        // A `.pgpass` field, as `render`'s `pgpass_field` writes it.
        secret.replace('\\', "\\\\").replace(':', "\\:"),
        // A field of PgBouncer's auth file, as `render`'s
        // `pgbouncer_auth_field` writes it.
        secret.replace('"', "\"\""),
        STANDARD.encode(secret),
        STANDARD_NO_PAD.encode(secret),
    ];
    let mut forms = vec![secret.to_string()];
    for form in candidates {
        if !form.is_empty() && !forms.contains(&form) {
            forms.push(form);
        }
    }
    forms
}

/// The text between the first and last character of a quoted string.
fn strip_quotes(quoted: &str) -> &str {
    quoted
        .strip_prefix('"')
        .and_then(|rest| rest.strip_suffix('"'))
        .unwrap_or(quoted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redactor_replaces_every_occurrence_longest_first() {
        let redactor = Redactor::new([
            "s3cret".to_string(),
            "s3cret-and-more".to_string(),
            "ab".to_string(),
        ]);
        assert_eq!(
            redactor.redact("x s3cret-and-more y s3cret ab"),
            "x (sensitive) y (sensitive) ab"
        );
    }

    /// What the printer is given for a secret with a quote, a backslash, a line
    /// break and a non-ASCII letter: every escaped form of it.
    const AWKWARD: &str = "pa'ss\\wo\"rd:\n\u{e9}t\u{e9}";

    fn redacted(text: &str) -> String {
        Redactor::new([AWKWARD.to_string()]).redact(text)
    }

    #[test]
    fn redactor_finds_a_secret_as_debug_prints_it() {
        let line = format!("error: bad value {AWKWARD:?} here");
        assert_eq!(redacted(&line), "error: bad value \"(sensitive)\" here");
        let escaped = format!("[{}]", AWKWARD.escape_debug());
        assert_eq!(redacted(&escaped), "[(sensitive)]");
    }

    #[test]
    fn redactor_finds_a_secret_in_json() {
        let document = serde_json::json!({ "password": AWKWARD }).to_string();
        assert_eq!(redacted(&document), "{\"password\":\"(sensitive)\"}");
    }

    #[test]
    fn redactor_finds_a_secret_quoted_for_postgresql_conf() {
        let line = format!(
            "password = '{}'",
            AWKWARD.replace('\\', "\\\\").replace('\'', "''")
        );
        assert!(
            line.contains("pa''ss"),
            "the form differs from the plain one"
        );
        assert_eq!(redacted(&line), "password = '(sensitive)'");
    }

    #[test]
    fn redactor_finds_a_secret_quoted_for_a_connection_string() {
        let conninfo = crate::conninfo::join(&[("password", AWKWARD.to_string())]);
        assert_eq!(redacted(&conninfo), "password='(sensitive)'");
    }

    #[test]
    fn redactor_finds_a_secret_escaped_for_pgpass() {
        let line = format!(
            "h1:5432:*:replicator:{}",
            AWKWARD.replace('\\', "\\\\").replace(':', "\\:")
        );
        assert_eq!(redacted(&line), "h1:5432:*:replicator:(sensitive)");
    }

    #[test]
    fn redactor_finds_a_secret_in_base64_padded_or_not() {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
        let secret = "s3cret-pwd";
        let redactor = Redactor::new([secret.to_string()]);
        let padded = STANDARD.encode(secret);
        assert!(padded.ends_with('='), "the fixture needs padding");
        assert_eq!(redactor.redact(&format!("x {padded} y")), "x (sensitive) y");
        let unpadded = STANDARD_NO_PAD.encode(secret);
        assert_eq!(redactor.redact(&format!("x {unpadded}.")), "x (sensitive).");
    }

    #[test]
    fn redactor_adds_only_forms_that_differ() {
        // A plain secret has the same text in every quoting: only it and its two
        // base64 forms are kept.
        assert_eq!(written_forms("plainsecret").len(), 3);
        let forms = written_forms(AWKWARD);
        let mut unique = forms.clone();
        unique.dedup();
        assert_eq!(forms.len(), unique.len());
        assert!(forms.iter().all(|form| !form.is_empty()));
    }
}
