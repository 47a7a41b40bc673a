//! Collecting every problem in an inventory before reporting, each once, in file
//! order.
//!
//! A value written once in group vars is shared by many hosts, so the same
//! mistake would otherwise be reported once per host. Problems recorded with
//! [`Problems::add_for_host`] are merged by place and wording, and the merged
//! diagnostic names every host the mistake affects.

use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::yaml::Position;
use indexmap::IndexMap;
use std::path::{Path, PathBuf};

/// A place in a file, for a diagnostic.
pub fn location(file: &Path, position: Option<Position>) -> Location {
    Location {
        file: file.to_path_buf(),
        line: position.map(|position| position.line),
        column: position.map(|position| position.column),
    }
}

/// The parts of a host-specific message around the host names.
#[derive(Debug, PartialEq, Eq, Hash)]
struct HostMessageKey {
    file: PathBuf,
    line: Option<usize>,
    column: Option<usize>,
    before: String,
    after: String,
}

/// Every problem found so far, and the warnings.
#[derive(Debug, Default)]
pub struct Problems {
    diagnostics: Vec<Diagnostic>,
    host_messages: IndexMap<HostMessageKey, Vec<String>>,
    /// What is probably a mistake but may be meant (a name close to a known
    /// one): shown, never blocking; each once.
    warnings: Vec<Diagnostic>,
}

impl Problems {
    /// Records a problem.
    pub fn add(&mut self, location: Location, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic {
            location,
            message: message.into(),
        });
    }

    /// Records a problem of `host` whose message reads `before`, then the hosts
    /// (``host `db1` `` or ``hosts `db1` and `db2` ``), then `after`. The same
    /// problem at the same place for other hosts joins this one.
    pub fn add_for_host(
        &mut self,
        location: Location,
        host: &str,
        before: impl Into<String>,
        after: impl Into<String>,
    ) {
        let key = HostMessageKey {
            file: location.file,
            line: location.line,
            column: location.column,
            before: before.into(),
            after: after.into(),
        };
        let hosts = self.host_messages.entry(key).or_default();
        if !hosts.iter().any(|known| known == host) {
            hosts.push(host.to_string());
        }
    }

    /// Records a warning, once however many hosts share it.
    pub fn warn(&mut self, location: Location, message: impl Into<String>) {
        let warning = Diagnostic {
            location,
            message: message.into(),
        };
        if !self.warnings.contains(&warning) {
            self.warnings.push(warning);
        }
    }

    /// The warnings recorded so far, in the order found.
    pub fn take_warnings(&mut self) -> Vec<Diagnostic> {
        std::mem::take(&mut self.warnings)
    }

    /// Whether no problem (warnings aside) was found.
    pub fn is_empty(&self) -> bool {
        self.diagnostics.is_empty() && self.host_messages.is_empty()
    }

    /// Every problem, ordered by file and place; problems without a line come
    /// last in the order they were found.
    pub fn into_diagnostics(self) -> Diagnostics {
        let mut diagnostics = self.diagnostics;
        for (key, hosts) in self.host_messages {
            diagnostics.push(Diagnostic::new(
                key.file,
                key.line,
                key.column,
                format!("{}{}{}", key.before, hosts_phrase(&hosts), key.after),
            ));
        }
        diagnostics.sort_by(|left, right| {
            let place = |diagnostic: &Diagnostic| {
                let location = &diagnostic.location;
                (
                    location.file.clone(),
                    location.line.is_none(),
                    location.line,
                    location.column,
                )
            };
            place(left).cmp(&place(right))
        });
        diagnostics.dedup();
        Diagnostics(diagnostics)
    }
}

/// ``host `db1` ``, ``hosts `db1` and `db2` `` or ``hosts `db1`, `db2` and `db3` ``.
pub fn hosts_phrase(hosts: &[String]) -> String {
    let quoted: Vec<String> = hosts.iter().map(|host| format!("`{host}`")).collect();
    match quoted.as_slice() {
        [] => "no host".to_string(),
        [one] => format!("host {one}"),
        [init @ .., last] => format!("hosts {} and {last}", init.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(line: usize) -> Location {
        location(
            Path::new("inventory.yml"),
            Some(Position { line, column: 3 }),
        )
    }

    #[test]
    fn hosts_phrase_reads_as_english() {
        let names = |list: &[&str]| list.iter().map(|name| name.to_string()).collect::<Vec<_>>();
        assert_eq!(hosts_phrase(&names(&["a"])), "host `a`");
        assert_eq!(hosts_phrase(&names(&["a", "b"])), "hosts `a` and `b`");
        assert_eq!(
            hosts_phrase(&names(&["a", "b", "c"])),
            "hosts `a`, `b` and `c`"
        );
    }

    #[test]
    fn the_same_problem_on_several_hosts_is_reported_once() {
        let mut problems = Problems::default();
        problems.add_for_host(place(4), "db1", "`x` of ", " is wrong");
        problems.add_for_host(place(4), "db2", "`x` of ", " is wrong");
        problems.add_for_host(place(4), "db1", "`x` of ", " is wrong");
        problems.add_for_host(place(5), "db3", "`x` of ", " is wrong");
        let text = problems.into_diagnostics().to_string();
        assert_eq!(
            text,
            "inventory.yml:4:3: `x` of hosts `db1` and `db2` is wrong\n\
             inventory.yml:5:3: `x` of host `db3` is wrong"
        );
    }

    #[test]
    fn problems_come_out_in_file_order_with_placeless_ones_last() {
        let mut problems = Problems::default();
        problems.add(location(Path::new("inventory.yml"), None), "no place");
        problems.add(place(9), "later");
        problems.add(place(2), "earlier");
        let text = problems.into_diagnostics().to_string();
        assert_eq!(
            text,
            "inventory.yml:2:3: earlier\ninventory.yml:9:3: later\ninventory.yml: no place"
        );
    }

    #[test]
    fn no_problems_is_empty() {
        assert!(Problems::default().is_empty());
        assert_eq!(Problems::default().into_diagnostics().0, []);
    }
}
