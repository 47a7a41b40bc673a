//! The version `--version` prints: the crate's version and the commit it was
//! built from, which `build.rs` finds (`unknown` when it cannot).

/// `0.1.0 (commit 0123456789, 2026-05-04)`, or `0.1.0 (commit unknown)`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("PGCONVERGE_VERSION_DETAIL"),
    ")"
);

/// The commit's date (`YYYY-MM-DD`), for the manual pages; `None` when unknown.
pub fn commit_date() -> Option<&'static str> {
    Some(env!("PGCONVERGE_COMMIT_DATE")).filter(|date| *date != "unknown")
}
