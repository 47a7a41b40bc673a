//! Secrets: a wrapper that never prints its value, and the redactor that the
//! printer runs over every line it writes.

use serde::{Serialize, Serializer};
use std::fmt;

/// The text shown wherever a secret would be.
pub const REDACTED: &str = "(sensitive)";

/// A value that is compared and sent to hosts, but never shown: `Debug`, `Display`
/// and `Serialize` all write `(sensitive)`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }

    /// The secret itself, for comparing it or sending it to a host.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> fmt::Display for Sensitive<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl<T> Serialize for Sensitive<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// Replaces every known secret value in text with `(sensitive)`. The printer holds
/// one, so a secret that slips into an error from a host is still not shown.
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
            .map(Sensitive::new)
            .collect();
        // Longer secrets first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.expose().len()));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sensitive_never_prints_its_value() {
        let secret = Sensitive::new("hunter2-long".to_string());
        assert_eq!(format!("{secret} {secret:?}"), "(sensitive) (sensitive)");
        assert_eq!(
            serde_json::to_string(&secret).expect("serialises"),
            "\"(sensitive)\""
        );
        assert_eq!(secret.expose(), "hunter2-long");
    }

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
}
