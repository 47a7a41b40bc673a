//! A wrapper for secrets (vault plaintexts, vault passwords) that never prints
//! its value.

use serde::{Serialize, Serializer};
use std::fmt;

/// The text shown wherever a secret would be.
pub const REDACTED: &str = "(sensitive)";

/// A value that is compared and used, but never shown: `Debug`, `Display` and
/// `Serialize` all write `(sensitive)`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Sensitive<T>(T);

impl<T> Sensitive<T> {
    /// Wraps a secret.
    pub fn new(value: T) -> Self {
        Sensitive(value)
    }

    /// The secret itself, for comparing it or handing it on.
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
}
