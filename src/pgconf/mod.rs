//! Reads `postgresql.conf` text as PostgreSQL does: into its settings, to tell which
//! settings a new version of the file changes (and so whether a reload or a restart
//! applies it), and to find the line that sets one. [`parse_line`] is the one reader of a
//! line that both use.

pub mod hba;
pub mod value;

use indexmap::IndexMap;

/// The settings a configuration file sets, last assignment winning as in
/// PostgreSQL. Names are lower-cased (PostgreSQL's names are case-insensitive).
///
/// `include`, `include_if_exists` and `include_dir` lines have the form of a setting
/// and are returned as one (PostgreSQL tells them apart only after reading the line),
/// so a changed include shows as a changed setting of that name.
pub fn settings(text: &str) -> IndexMap<String, String> {
    text.lines().filter_map(parse_line).collect()
}

/// The 1-based line of the last assignment of `name` (compared case-insensitively) in a
/// `postgresql.conf` text: the one that takes effect.
pub fn setting_line(text: &str, name: &str) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            parse_line(line).is_some_and(|(found, _)| found.eq_ignore_ascii_case(name))
        })
        .map(|(index, _)| index + 1)
        .last()
}

/// Reads one `postgresql.conf` line as PostgreSQL's configuration lexer does: a name,
/// then `=` or whitespace (or both), then a value, and a `#` comment outside quotes.
/// Returns the lower-cased name and the value, unquoted: a quoted value may write a
/// quote as `''` or `\'` and has PostgreSQL's other backslash escapes. A blank or
/// comment-only line, or a name with no `=` and no value, is not a setting.
///
/// Lines PostgreSQL would reject are read leniently (a malformed quoted value is kept
/// as written), since `postgres -C` checks every file pgconverge writes.
pub fn parse_line(line: &str) -> Option<(String, String)> {
    let line = line.trim_start();
    let name_end = line
        .find(|c: char| c.is_whitespace() || matches!(c, '=' | '\'' | '#'))
        .unwrap_or(line.len());
    let (name, rest) = line.split_at(name_end);
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim_start();
    let (has_equals, rest) = match rest.strip_prefix('=') {
        Some(rest) => (true, rest),
        None => (false, rest),
    };
    let value = strip_comment(rest).trim();
    if value.is_empty() && !has_equals {
        return None;
    }
    Some((name.to_ascii_lowercase(), unquote(value)))
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

/// Cuts a `#` comment, but not a `#` inside a quoted value. Inside quotes a backslash
/// escapes the next character, and `''` closes and reopens the quotes, which leaves them
/// open as it should.
fn strip_comment(text: &str) -> &str {
    let mut in_quotes = false;
    let mut escaped = false;
    for (index, character) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match character {
            '\\' if in_quotes => escaped = true,
            '\'' => in_quotes = !in_quotes,
            '#' if !in_quotes => return &text[..index],
            _ => {}
        }
    }
    text
}

/// The value a `postgresql.conf` value token stands for. A quoted value loses its
/// quotes and its escapes are resolved as PostgreSQL's `DeescapeQuotedString` does:
/// `''` and `\'` are a quote, `\b`, `\f`, `\n`, `\r` and `\t` the control characters,
/// up to three octal digits a byte (taken as the character of that number), and a
/// backslash before anything else that character. An unquoted value, or a quoted one
/// with no closing quote or with text after it, is kept as written.
fn unquote(value: &str) -> String {
    let Some(quoted) = value.strip_prefix('\'') else {
        return value.to_string();
    };
    let mut unquoted = String::new();
    let mut characters = quoted.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '\'' if characters.peek() == Some(&'\'') => {
                characters.next();
                unquoted.push('\'');
            }
            '\'' => {
                return if characters.next().is_none() {
                    unquoted
                } else {
                    value.to_string()
                };
            }
            '\\' => match characters.next() {
                Some('b') => unquoted.push('\u{8}'),
                Some('f') => unquoted.push('\u{c}'),
                Some('n') => unquoted.push('\n'),
                Some('r') => unquoted.push('\r'),
                Some('t') => unquoted.push('\t'),
                Some(digit @ '0'..='7') => {
                    let mut byte = digit.to_digit(8).unwrap_or(0);
                    for _ in 0..2 {
                        match characters.peek().and_then(|next| next.to_digit(8)) {
                            Some(next) => {
                                byte = byte * 8 + next;
                                characters.next();
                            }
                            None => break,
                        }
                    }
                    // PostgreSQL keeps the low byte of what the digits spell.
                    unquoted.push(char::from((byte & 0xFF) as u8));
                }
                Some(other) => unquoted.push(other),
                None => return value.to_string(),
            },
            _ => unquoted.push(character),
        }
    }
    value.to_string()
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

    #[test]
    fn parse_line_reads_the_forms_postgresql_accepts() {
        let setting = |name: &str, value: &str| Some((name.to_string(), value.to_string()));
        for (line, expected) in [
            ("port = 5432", setting("port", "5432")),
            ("port=5432", setting("port", "5432")),
            ("port 5432", setting("port", "5432")),
            ("\tPort\t=\t5432\t# default", setting("port", "5432")),
            ("work_mem='8MB'", setting("work_mem", "8MB")),
            ("work_mem'8MB'", setting("work_mem", "8MB")),
            (
                "auto_explain.log_min_duration = 250ms",
                setting("auto_explain.log_min_duration", "250ms"),
            ),
            (
                // No `=`, and `=` inside the quoted value.
                "primary_conninfo 'host=db1 user=replicator'",
                setting("primary_conninfo", "host=db1 user=replicator"),
            ),
            ("search_path = ''", setting("search_path", "")),
            ("cluster_name =", setting("cluster_name", "")),
            ("cluster_name = # none", setting("cluster_name", "")),
            ("", None),
            ("   ", None),
            ("# port = 5432", None),
            ("  #port = 5432", None),
            ("= 5432", None),
            ("port", None),
            ("port   # no value", None),
        ] {
            assert_eq!(parse_line(line), expected, "{line:?}");
        }
    }

    #[test]
    fn parse_line_unquotes_like_postgresql() {
        for (line, expected) in [
            ("a = 'x#y' # comment", "x#y"),
            ("a = 'it''s'", "it's"),
            (
                "a = 'it\\'s # still the value' # comment",
                "it's # still the value",
            ),
            ("a = 'ends in a quote'''", "ends in a quote'"),
            ("a = 'back\\\\slash'", "back\\slash"),
            ("a = 'tab\\there\\n'", "tab\there\n"),
            ("a = '\\101\\1022'", "AB2"), // At most three octal digits.
            ("a = '\\q'", "q"),
            ("a = unquoted-text # comment", "unquoted-text"),
            // Malformed, so PostgreSQL rejects the file: kept as written.
            ("a = 'no closing quote", "'no closing quote"),
            ("a = 'x' trailing", "'x' trailing"),
        ] {
            let (name, value) = parse_line(line).expect("a setting");
            assert_eq!(name, "a", "{line:?}");
            assert_eq!(value, expected, "{line:?}");
        }
    }

    /// `include` lines look like settings to the lexer and are kept as settings, so a
    /// changed include counts as a changed setting.
    #[test]
    fn include_lines_are_read_as_settings() {
        let text = "include 'extra.conf'\ninclude_if_exists = 'local.conf'\ninclude_dir 'conf.d'\n";
        let settings = settings(text);
        assert_eq!(
            settings.get("include").map(String::as_str),
            Some("extra.conf")
        );
        assert_eq!(
            settings.get("include_if_exists").map(String::as_str),
            Some("local.conf")
        );
        assert_eq!(
            settings.get("include_dir").map(String::as_str),
            Some("conf.d")
        );
        assert_eq!(
            changed_settings(text, "include 'other.conf'\n"),
            vec!["include", "include_if_exists", "include_dir"]
        );
    }

    #[test]
    fn setting_line_finds_the_last_assignment() {
        let text = "# port = 1\nport = 5432\nport_offset = 3\nshared_buffers = '128MB'\n\
                    PORT 5433 # wins\nwork_mem'4MB'\narchive_command = 'x # port = 9'\n";
        assert_eq!(setting_line(text, "port"), Some(5));
        assert_eq!(setting_line(text, "Port"), Some(5));
        assert_eq!(setting_line(text, "shared_buffers"), Some(4));
        assert_eq!(setting_line(text, "work_mem"), Some(6));
        assert_eq!(setting_line(text, "archive_command"), Some(7));
        assert_eq!(setting_line(text, "port_off"), None);
        assert_eq!(setting_line(text, "max_connections"), None);
        assert_eq!(setting_line("", "port"), None);
    }
}
