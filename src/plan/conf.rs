//! Reads `postgresql.conf` text into its settings, to tell which settings a new
//! version of the file changes (and so whether a reload or a restart applies it).

use indexmap::IndexMap;

/// The settings a configuration file sets, last assignment winning as in
/// PostgreSQL. Names are lower-cased (PostgreSQL's names are case-insensitive).
pub fn settings(text: &str) -> IndexMap<String, String> {
    let mut settings = IndexMap::new();
    for line in text.lines() {
        let line = strip_comment(line).trim();
        if line.is_empty() {
            continue;
        }
        let (name, value) = match line.split_once('=') {
            Some((name, value)) => (name.trim(), value.trim()),
            None => match line.split_once(char::is_whitespace) {
                Some((name, value)) => (name.trim(), value.trim()),
                None => continue,
            },
        };
        settings.insert(name.to_ascii_lowercase(), unquote(value));
    }
    settings
}

/// Names of settings that differ between two versions of a file (added, removed or changed).
pub fn changed_settings(old: &str, new: &str) -> Vec<String> {
    let old = settings(old);
    let new = settings(new);
    let mut changed: Vec<String> = new
        .iter()
        .filter(|(name, value)| old.get(*name) != Some(value))
        .map(|(name, _)| name.clone())
        .collect();
    changed.extend(old.keys().filter(|name| !new.contains_key(*name)).cloned());
    changed
}

/// Cuts a `#` comment, but not a `#` inside a quoted value.
fn strip_comment(line: &str) -> &str {
    let mut in_quotes = false;
    for (index, character) in line.char_indices() {
        match character {
            '\'' => in_quotes = !in_quotes,
            '#' if !in_quotes => return &line[..index],
            _ => {}
        }
    }
    line
}

fn unquote(value: &str) -> String {
    match value
        .strip_prefix('\'')
        .and_then(|rest| rest.strip_suffix('\''))
    {
        Some(inner) => inner.replace("''", "'"),
        None => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings_like_postgresql() {
        let text = "# comment\nport = 5432\nlisten_addresses = '*' # all\narchive_command = 'test ! -f a#b'\nShared_Buffers 128MB\nport = 5433\n";
        let settings = settings(text);
        assert_eq!(settings.get("port").map(String::as_str), Some("5433"));
        assert_eq!(
            settings.get("listen_addresses").map(String::as_str),
            Some("*")
        );
        assert_eq!(
            settings.get("archive_command").map(String::as_str),
            Some("test ! -f a#b")
        );
        assert_eq!(
            settings.get("shared_buffers").map(String::as_str),
            Some("128MB")
        );
    }

    #[test]
    fn changed_settings_include_added_changed_and_removed() {
        let old = "port = 5432\nwork_mem = '4MB'\nmax_connections = 100\n";
        let new = "port = 5432\nwork_mem = '8MB'\nwal_level = replica\n";
        assert_eq!(
            changed_settings(old, new),
            vec!["work_mem", "wal_level", "max_connections"]
        );
        assert!(changed_settings(old, old).is_empty());
    }
}
