//! Ansible's host patterns, as `--limit` takes them and `ansible --list-hosts`
//! resolves them (ansible-core's `InventoryManager.subset` and `get_hosts`):
//!
//! - a value is split at `,`, or, when it has none, at `:` (unless it reads as
//!   one address: `db1:5432`, an IPv6 address, `db[1:3]`); `@FILE` names a file
//!   of patterns, one a line;
//! - a word is a host name, or a group (all hosts in it and below it), `all`
//!   and `ungrouped` included; a glob (`db*`, `?`, `[...]`) or a regular
//!   expression (`~db[0-9]+`, matched from the start) selects every group and
//!   every host whose name it matches;
//! - `!word` removes hosts, `&word` keeps only hosts it also matches; hosts are
//!   added first, then intersected, then removed, whatever the order written,
//!   and with no plain word there the patterns start from `all`.
//!
//! Where Ansible warns "Could not match supplied host pattern, ignoring" and
//! goes on, a word that matches no host or group is an error naming it: a
//! misspelt `--limit` must never run on other hosts than meant, nor on none.
//! Subscripts (`web[0]`, `web[0:2]`) pick hosts by their place in an order
//! Ansible itself does not keep stable for nested groups, so they are refused.
//! A name Ansible takes for an implicit `localhost` is none here: only the hosts
//! the inventory lists are selected.

use crate::layout::{ALL, GroupTree};
use indexmap::{IndexMap, IndexSet};
use regex::Regex;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

/// A pattern with a subscript, as Ansible's `PATTERN_WITH_SUBSCRIPT` finds one.
static SUBSCRIPT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(.+)\[(?:-?[0-9]+|[0-9]+[:-][0-9]*)\]$").expect("a valid regular expression")
});

/// The words of a `:`-separated value: runs of anything but whitespace, `:`
/// and brackets, or whole bracketed parts (Ansible's own regular expression).
static COLON_WORDS: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:[^\s:\[\]]|\[[^\]]*\])+").expect("a valid regular expression")
});

/// A value that Ansible's `parse_address` reads as one host, which it then
/// does not split at `:`: a host name or IPv4 address (with `[x:y]` ranges)
/// and a port, a bracketed address with an optional port, or an IPv6 address.
static ONE_ADDRESS: LazyLock<Regex> = LazyLock::new(|| {
    let label = r"(?:[a-zA-Z0-9_-]|\[[a-zA-Z0-9]+:[a-zA-Z0-9]+(?::[0-9]+)?\])+";
    Regex::new(&format!(
        r"^(?:{label}(?:\.{label})*(?::[0-9]+)?|\[[^\]]+\](?::[0-9]+)?|[0-9a-fA-F:.]*::[0-9a-fA-F:.]*|(?:[0-9a-fA-F]{{1,4}}:){{7}}[0-9a-fA-F]{{1,4}})$"
    ))
    .expect("a valid regular expression")
});

/// Where a pattern was written: the command line, or a line of an `@FILE`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A value of `--limit`.
    Argument,
    /// A line of an `@FILE`.
    File {
        /// The file of patterns.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
    },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Argument => write!(formatter, "--limit"),
            Origin::File { path, line } => write!(formatter, "{}:{line}", path.display()),
        }
    }
}

/// Why a pattern selects nothing, or cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// A word that matches no host or group.
    #[error("{origin}: `{word}` matches no host or group of the inventory{suggestion}")]
    NoMatch {
        /// Where the pattern is written.
        origin: Origin,
        /// The word, without its operator.
        word: String,
        /// ` (did you mean `db1`?)`, or nothing.
        suggestion: String,
    },
    /// A `~regex` the `regex` crate cannot compile.
    #[error("{origin}: `{pattern}` is not a regular expression {program} reads: {reason}")]
    Regex {
        /// Where the pattern is written.
        origin: Origin,
        /// The pattern, `~` included.
        pattern: String,
        /// Why it does not compile.
        reason: String,
        /// The program reading the patterns, as [`Limit::read`] names it.
        program: String,
    },
    /// A glob that cannot be read.
    #[error("{origin}: `{pattern}` is not a glob: {reason}")]
    Glob {
        /// Where the pattern is written.
        origin: Origin,
        /// The pattern.
        pattern: String,
        /// Why it cannot be read.
        reason: String,
    },
    /// A pattern with a subscript (`web[0]`), which is refused.
    #[error(
        "{origin}: `{pattern}` picks hosts by their place in a group, which {program} does not support: name the hosts, or match them with a glob or `~regex`"
    )]
    Subscript {
        /// Where the pattern is written.
        origin: Origin,
        /// The pattern.
        pattern: String,
        /// The program reading the patterns, as [`Limit::read`] names it.
        program: String,
    },
    /// An `@FILE` that cannot be read.
    #[error("--limit @{}: cannot read the file of patterns: {reason}", path.display())]
    LimitFile {
        /// The file.
        path: PathBuf,
        /// Why it cannot be read.
        reason: String,
    },
}

/// Every problem of a limit, reported together.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
pub struct PatternErrors(pub Vec<PatternError>);

/// One pattern with its operator.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    operator: Operator,
    /// The pattern without its operator.
    word: String,
    origin: Origin,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    Add,
    Intersect,
    Remove,
}

/// The patterns of one or more `--limit` values, `@FILE`s read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Limit {
    patterns: Vec<Pattern>,
    /// The program reading the patterns, as messages name it.
    program: String,
}

impl Limit {
    /// Reads `--limit` values (repeated values add up, as if joined by `,`),
    /// reading each `@FILE` they name. The only IO of patterns. `program` is
    /// the name of the program reading them, as messages give it (`~(` is not
    /// a regular expression `program` reads).
    pub fn read(values: &[String], program: &str) -> Result<Limit, PatternErrors> {
        let mut patterns = Vec::new();
        let mut problems = Vec::new();
        for word in values.iter().flat_map(|value| split(value)) {
            let Some(file) = word.strip_prefix('@') else {
                patterns.push(Pattern::new(&word, Origin::Argument));
                continue;
            };
            let path = Path::new(file);
            let text = if path.is_dir() {
                Err("it is a directory".to_string())
            } else {
                std::fs::read_to_string(path).map_err(|error| error.to_string())
            };
            match text {
                Ok(text) => {
                    // Each line is one pattern, split no further, as Ansible reads it.
                    for (index, line) in text.split('\n').enumerate() {
                        let line_text = line.trim();
                        if !line_text.is_empty() {
                            let origin = Origin::File {
                                path: path.to_path_buf(),
                                line: index + 1,
                            };
                            patterns.push(Pattern::new(line_text, origin));
                        }
                    }
                }
                Err(reason) => problems.push(PatternError::LimitFile {
                    path: path.to_path_buf(),
                    reason,
                }),
            }
        }
        if problems.is_empty() {
            Ok(Limit {
                patterns,
                program: program.to_string(),
            })
        } else {
            Err(PatternErrors(problems))
        }
    }

    /// Whether no pattern was given: then nothing is limited.
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The hosts of `tree` (every group with its own hosts and child groups, as
    /// [`Layout::tree`](crate::layout::Layout::tree) gives them) that the
    /// patterns select, in the order Ansible adds them; every word that matches
    /// nothing is an error.
    pub fn select(&self, tree: &IndexMap<String, GroupTree>) -> Result<Vec<String>, PatternErrors> {
        let universe = Universe::new(tree);
        let mut ordered: Vec<&Pattern> = Vec::new();
        for operator in [Operator::Add, Operator::Intersect, Operator::Remove] {
            ordered.extend(
                self.patterns
                    .iter()
                    .filter(|pattern| pattern.operator == operator),
            );
        }
        let everything = Pattern::new(ALL, Origin::Argument);
        if !ordered
            .iter()
            .any(|pattern| pattern.operator == Operator::Add)
        {
            ordered.insert(0, &everything);
        }
        let mut selected: IndexSet<String> = IndexSet::new();
        let mut problems = Vec::new();
        for pattern in ordered {
            // A plain host name is that host, even where a group has its name.
            if pattern.operator == Operator::Add && universe.hosts.contains(&pattern.word) {
                selected.insert(pattern.word.clone());
                continue;
            }
            let matched = match universe.matches(pattern, &self.program) {
                Ok(matched) => matched,
                Err(problem) => {
                    problems.push(problem);
                    continue;
                }
            };
            match pattern.operator {
                Operator::Add => selected.extend(matched),
                Operator::Intersect => selected.retain(|host| matched.contains(host)),
                Operator::Remove => selected.retain(|host| !matched.contains(host)),
            }
        }
        if problems.is_empty() {
            Ok(selected.into_iter().collect())
        } else {
            Err(PatternErrors(problems))
        }
    }
}

impl Pattern {
    fn new(text: &str, origin: Origin) -> Pattern {
        let (operator, word) = match text.chars().next() {
            Some('!') => (Operator::Remove, &text[1..]),
            Some('&') => (Operator::Intersect, &text[1..]),
            _ => (Operator::Add, text),
        };
        Pattern {
            operator,
            word: word.to_string(),
            origin,
        }
    }
}

/// A `--limit` value's patterns, as Ansible's `split_host_pattern` splits it.
fn split(value: &str) -> Vec<String> {
    let words: Vec<&str> = if value.contains(',') {
        value.split(',').collect()
    } else if ONE_ADDRESS.is_match(value.trim()) {
        vec![value]
    } else {
        COLON_WORDS
            .find_iter(value)
            .map(|found| found.as_str())
            .collect()
    };
    words
        .into_iter()
        .map(str::trim)
        .filter(|word| !word.is_empty())
        .map(str::to_string)
        .collect()
}

/// The groups and hosts patterns match against.
struct Universe<'t> {
    tree: &'t IndexMap<String, GroupTree>,
    /// Every host, in the order the groups list them.
    hosts: IndexSet<String>,
}

impl<'t> Universe<'t> {
    fn new(tree: &'t IndexMap<String, GroupTree>) -> Universe<'t> {
        let hosts = tree
            .values()
            .flat_map(|group| group.hosts.iter().cloned())
            .collect();
        Universe { tree, hosts }
    }

    /// The hosts of `group` and of every group below it.
    fn hosts_of(&self, group: &str, into: &mut IndexSet<String>) {
        let mut pending = vec![group];
        let mut seen = IndexSet::new();
        while let Some(name) = pending.pop() {
            if !seen.insert(name) {
                continue;
            }
            if let Some(known) = self.tree.get(name) {
                into.extend(known.hosts.iter().cloned());
                pending.extend(known.children.iter().rev().map(String::as_str));
            }
        }
    }

    /// The hosts one pattern's word matches, as Ansible's `_enumerate_matches`:
    /// the hosts of every group it matches, and the hosts it matches by name
    /// when it matches no group or is a glob or regular expression.
    fn matches(&self, pattern: &Pattern, program: &str) -> Result<IndexSet<String>, PatternError> {
        let word = pattern.word.as_str();
        let origin = pattern.origin.clone();
        let is_regex = word.starts_with('~');
        if !is_regex && SUBSCRIPT.is_match(word) {
            return Err(PatternError::Subscript {
                origin,
                pattern: word.to_string(),
                program: program.to_string(),
            });
        }
        let matcher = Matcher::new(word, &origin, program)?;
        let mut matched = IndexSet::new();
        let groups: Vec<&String> = self
            .tree
            .keys()
            .filter(|name| matcher.is_match(name))
            .collect();
        for group in &groups {
            self.hosts_of(group, &mut matched);
        }
        let by_name = is_regex || word.contains(['.', '?', '*', '[']);
        if groups.is_empty() || by_name {
            matched.extend(
                self.hosts
                    .iter()
                    .filter(|host| matcher.is_match(host))
                    .cloned(),
            );
        }
        if matched.is_empty() && groups.is_empty() {
            let names = self.tree.keys().chain(&self.hosts).map(String::as_str);
            let suggestion = crate::suggest::closest(word, names)
                .map(|meant| format!(" (did you mean `{meant}`?)"))
                .unwrap_or_default();
            return Err(PatternError::NoMatch {
                origin,
                word: word.to_string(),
                suggestion,
            });
        }
        Ok(matched)
    }
}

/// A word compiled: a regular expression matched from the start (`~...`, as
/// Python's `re.match`), else a glob matched whole (as Python's `fnmatch`).
enum Matcher {
    Regex(Regex),
    Glob(globset::GlobMatcher),
}

impl Matcher {
    fn new(word: &str, origin: &Origin, program: &str) -> Result<Matcher, PatternError> {
        if let Some(expression) = word.strip_prefix('~') {
            return Regex::new(&format!(r"\A(?:{expression})"))
                .map(Matcher::Regex)
                .map_err(|error| PatternError::Regex {
                    origin: origin.clone(),
                    pattern: word.to_string(),
                    reason: error.to_string(),
                    program: program.to_string(),
                });
        }
        globset::GlobBuilder::new(word)
            .literal_separator(false)
            .backslash_escape(false)
            .build()
            .map(|glob| Matcher::Glob(glob.compile_matcher()))
            .map_err(|error| PatternError::Glob {
                origin: origin.clone(),
                pattern: word.to_string(),
                reason: error.kind().to_string(),
            })
    }

    fn is_match(&self, name: &str) -> bool {
        match self {
            Matcher::Regex(regex) => regex.is_match(name),
            Matcher::Glob(glob) => glob.is_match(name),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// all > (ungrouped: bastion), (db: (primary: db1), (standby: db2, db3)), (web: web1)
    fn tree() -> IndexMap<String, GroupTree> {
        let group = |hosts: &[&str], children: &[&str]| GroupTree {
            hosts: hosts.iter().map(|name| name.to_string()).collect(),
            children: children.iter().map(|name| name.to_string()).collect(),
        };
        [
            ("all", group(&[], &["ungrouped", "db", "web"])),
            ("ungrouped", group(&["bastion"], &[])),
            ("db", group(&[], &["primary", "standby"])),
            ("primary", group(&["db1"], &[])),
            ("standby", group(&["db2", "db3"], &[])),
            ("web", group(&["web1", "db3"], &[])),
        ]
        .into_iter()
        .map(|(name, group)| (name.to_string(), group))
        .collect()
    }

    fn select(values: &[&str]) -> Result<Vec<String>, String> {
        let values: Vec<String> = values.iter().map(|value| value.to_string()).collect();
        let limit = Limit::read(&values, "my-tool").map_err(|errors| errors.to_string())?;
        limit.select(&tree()).map_err(|errors| errors.to_string())
    }

    fn check(values: &[&str], expected: &[&str]) {
        assert_eq!(
            select(values),
            Ok(expected.iter().map(|name| name.to_string()).collect()),
            "{values:?}"
        );
    }

    #[test]
    fn names_groups_globs_and_regular_expressions() {
        check(&["db1"], &["db1"]);
        check(&["standby"], &["db2", "db3"]);
        check(&["db"], &["db1", "db2", "db3"]);
        check(&["all"], &["bastion", "db1", "db2", "db3", "web1"]);
        check(&["ungrouped"], &["bastion"]);
        check(&["db*"], &["db1", "db2", "db3"]);
        check(&["*1"], &["db1", "web1"]);
        // A regular expression matches from the start, the group `web` too.
        check(&["~(web|bast)"], &["web1", "db3", "bastion"]);
        check(&["db[!1]"], &["db2", "db3"]);
    }

    #[test]
    fn unions_intersections_and_exclusions_apply_in_ansibles_order() {
        check(&["primary,web"], &["db1", "web1", "db3"]);
        check(&["primary:web"], &["db1", "web1", "db3"]);
        check(&["standby:&web"], &["db3"]);
        check(&["db:!standby"], &["db1"]);
        // Exclusions apply last wherever they are written; with no plain
        // pattern, everything is the start.
        check(&["!web,db"], &["db1", "db2"]);
        check(&["!db"], &["bastion", "web1"]);
        check(&["&web"], &["db3", "web1"]);
        check(&["primary", "standby"], &["db1", "db2", "db3"]);
    }

    #[test]
    fn a_file_holds_one_pattern_a_line() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let file = directory.path().join("hosts.txt");
        std::fs::write(&file, "standby\n\n  !db2  \nweb*\n").expect("written");
        let limit = format!("@{}", file.display());
        check(&[&limit], &["db3", "web1"]);
        std::fs::write(&file, "db1\nstandy\n").expect("written");
        assert_eq!(
            select(&[&limit]),
            Err(format!(
                "{}:2: `standy` matches no host or group of the inventory (did you mean `standby`?)",
                file.display()
            ))
        );
        let missing = directory.path().join("missing");
        let error = select(&[&format!("@{}", missing.display())]).unwrap_err();
        assert!(
            error.starts_with(&format!(
                "--limit @{}: cannot read the file of patterns:",
                missing.display()
            )),
            "{error}"
        );
    }

    #[test]
    fn every_word_that_matches_nothing_is_named() {
        let error = select(&["db1,dbx*,!standy,~(,web[0]"]).unwrap_err();
        let lines: Vec<&str> = error.lines().collect();
        assert_eq!(
            lines[0],
            "--limit: `dbx*` matches no host or group of the inventory"
        );
        assert!(
            lines[1].starts_with("--limit: `~(` is not a regular expression my-tool reads: "),
            "{error}"
        );
        assert_eq!(
            lines.iter().rev().take(2).collect::<Vec<_>>(),
            [
                &"--limit: `standy` matches no host or group of the inventory (did you mean `standby`?)",
                &"--limit: `web[0]` picks hosts by their place in a group, which my-tool does not support: name the hosts, or match them with a glob or `~regex`",
            ]
        );
    }

    /// A plain word that is a host's name selects that host, even where a group
    /// has the same name; with `!` or `&` it is matched as groups first.
    #[test]
    fn a_host_name_wins_over_a_group_of_that_name() {
        let mut tree = tree();
        tree.insert(
            "db1".to_string(),
            GroupTree {
                hosts: vec!["web1".to_string()],
                children: Vec::new(),
            },
        );
        let limit = Limit::read(&["db1".to_string()], "my-tool").expect("a limit");
        assert_eq!(limit.select(&tree), Ok(vec!["db1".to_string()]));
        let limit = Limit::read(&["db:!db1".to_string()], "my-tool").expect("a limit");
        assert_eq!(
            limit.select(&tree),
            Ok(vec![
                "db1".to_string(),
                "db2".to_string(),
                "db3".to_string()
            ])
        );
    }

    #[test]
    fn values_split_as_ansible_splits_them() {
        assert_eq!(split("a, b ,,c"), ["a", "b", "c"]);
        assert_eq!(split("a:b:!c"), ["a", "b", "!c"]);
        assert_eq!(split("db1:5432"), ["db1:5432"]);
        assert_eq!(split("db[1:3]"), ["db[1:3]"]);
        assert_eq!(split("web*:db[1:3]"), ["web*", "db[1:3]"]);
        assert_eq!(split("fe80::1"), ["fe80::1"]);
        assert_eq!(split("[fe80::1]:22"), ["[fe80::1]:22"]);
    }
}
