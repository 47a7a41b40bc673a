//! Timelines: where a server's history left the timelines before its own, read from
//! the newest `pg_wal/NNNNNNNN.history` file, and where two servers' histories fork.
//!
//! A history file of timeline N lists, one a line, every timeline before N with
//! the WAL position where the server left it (`parentTLI switchpoint reason`);
//! PostgreSQL writes it whole at each promotion, so the newest file holds the
//! whole lineage. Two servers of one cluster that both accept writes forked where
//! their lineages part: what each wrote past that position is on its own.
//! `timeline.sh` is the facts script's piece that reads the newest file.

use super::parse::Records;
use super::{DataDirectory, HostFacts, Lsn};
use crate::script::Script;
use serde::Serialize;

/// The piece of the facts script that reports the newest timeline history file
/// of the data directory: its name as `timeline.file` and its content as
/// `timeline.history`. A server that never left timeline 1 has none.
const SCRIPT: &str = include_str!("timeline.sh");

pub(super) fn ask(script: Script) -> Script {
    script.piece(SCRIPT)
}

/// The newest history file the script found, read.
pub(super) fn read(records: &Records) -> Option<TimelineHistory> {
    let name = records.text("timeline.file")?;
    TimelineHistory::parse(&name, &records.text("timeline.history").unwrap_or_default())
}

/// One line of a history file: the server left timeline `parent` at `switch_point`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TimelineSwitch {
    pub parent: u32,
    pub switch_point: Lsn,
}

/// The newest timeline history file of a data directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TimelineHistory {
    /// The timeline the file describes (its name).
    pub timeline: u32,
    /// The timelines before it, oldest first.
    pub switches: Vec<TimelineSwitch>,
}

impl TimelineHistory {
    /// Reads `0000000N.history` and its content; `None` when the name is not a
    /// history file's. Comment and blank lines are skipped, as PostgreSQL does.
    pub fn parse(file_name: &str, content: &str) -> Option<TimelineHistory> {
        let timeline = file_name
            .strip_suffix(".history")
            .filter(|hex| hex.len() == 8)
            .and_then(|hex| u32::from_str_radix(hex, 16).ok())?;
        let switches = content
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
            .filter_map(|line| {
                let mut fields = line.split_whitespace();
                let parent = fields.next()?.parse().ok()?;
                let switch_point = Lsn::parse(fields.next()?)?;
                Some(TimelineSwitch {
                    parent,
                    switch_point,
                })
            })
            .collect();
        Some(TimelineHistory { timeline, switches })
    }
}

/// A server's lineage: each timeline it was on, oldest first, with where it left
/// it (`None` for the one it is on).
type Lineage = Vec<(u32, Option<Lsn>)>;

/// Where two servers' timelines forked, or why that cannot be told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fork {
    /// The WAL position where their histories part.
    At(Lsn),
    Unknown(String),
}

impl DataDirectory {
    /// The timeline the server is on: the newest history file's, or the latest
    /// checkpoint's when that is newer (none written yet), 1 when neither says.
    pub fn current_timeline(&self) -> Option<u32> {
        match (&self.history, self.timeline) {
            (Some(history), Some(checkpoint)) => Some(history.timeline.max(checkpoint)),
            (Some(history), None) => Some(history.timeline),
            (None, checkpoint) => checkpoint,
        }
    }

    fn lineage(&self) -> Result<Lineage, String> {
        let current = self
            .current_timeline()
            .ok_or_else(|| "its timeline is unknown".to_string())?;
        let mut lineage: Lineage = Vec::new();
        match &self.history {
            Some(history) if history.timeline == current => {
                lineage.extend(
                    history
                        .switches
                        .iter()
                        .map(|switch| (switch.parent, Some(switch.switch_point))),
                );
            }
            None if current == 1 => {}
            _ => {
                return Err(format!(
                    "the history of its timeline {current} is not in its data directory"
                ));
            }
        }
        lineage.push((current, None));
        Ok(lineage)
    }
}

/// Where the histories of `one` and `other` part: the first timeline they left at
/// different positions, or that one left and the other is still on.
pub fn fork_point(one: &HostFacts, other: &HostFacts) -> Fork {
    let (one, other) = match (one.data_directory.lineage(), other.data_directory.lineage()) {
        (Ok(one), Ok(other)) => (one, other),
        (Err(reason), _) | (_, Err(reason)) => return Fork::Unknown(reason),
    };
    let mut common: Option<Lsn> = None;
    for ((timeline, left), (other_timeline, other_left)) in one.iter().zip(other.iter()) {
        if timeline != other_timeline {
            return match common {
                Some(point) => Fork::At(point),
                None => Fork::Unknown("their histories share no timeline".to_string()),
            };
        }
        match (left, other_left) {
            (Some(left), Some(other_left)) if left == other_left => common = Some(*left),
            (Some(left), Some(other_left)) => return Fork::At((*left).min(*other_left)),
            (Some(left), None) | (None, Some(left)) => return Fork::At(*left),
            (None, None) => {
                return Fork::Unknown(format!(
                    "both are on timeline {timeline}, so their timelines do not say where they forked"
                ));
            }
        }
    }
    Fork::Unknown("their histories do not part".to_string())
}

/// A size as PostgreSQL's `pg_size_pretty` prints it: `9000 bytes`, `16 MB`.
pub fn pretty_size(bytes: u64) -> String {
    const UNITS: [(&str, u64); 5] = [
        ("bytes", 10 * 1024),
        ("kB", 20 * 1024 - 1),
        ("MB", 20 * 1024 - 1),
        ("GB", 20 * 1024 - 1),
        ("TB", 20 * 1024 - 1),
    ];
    if bytes < UNITS[0].1 {
        return format!("{bytes} bytes");
    }
    // In half units from kB on, rounded half up when printed, as PostgreSQL does.
    let mut size = bytes >> 9;
    for (index, (unit, limit)) in UNITS.iter().enumerate().skip(1) {
        if index + 1 == UNITS.len() || size < *limit {
            return format!("{} {unit}", size.div_ceil(2));
        }
        size >>= 10;
    }
    format!("{bytes} bytes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(timeline: u32, history: Option<(&str, &str)>) -> HostFacts {
        HostFacts {
            data_directory: DataDirectory {
                timeline: Some(timeline),
                history: history.and_then(|(name, text)| TimelineHistory::parse(name, text)),
                ..DataDirectory::default()
            },
            ..HostFacts::default()
        }
    }

    fn lsn(text: &str) -> Lsn {
        Lsn::parse(text).unwrap_or(Lsn(0))
    }

    #[test]
    fn a_history_file_is_read_line_by_line() {
        let history = TimelineHistory::parse(
            "00000003.history",
            "1\t0/3000060\tno recovery target specified\n\n# a comment\n2\t0/5000000\tno recovery target specified\n",
        );
        assert_eq!(
            history,
            Some(TimelineHistory {
                timeline: 3,
                switches: vec![
                    TimelineSwitch {
                        parent: 1,
                        switch_point: lsn("0/3000060")
                    },
                    TimelineSwitch {
                        parent: 2,
                        switch_point: lsn("0/5000000")
                    },
                ],
            })
        );
        assert_eq!(TimelineHistory::parse("backup_label", ""), None);
    }

    #[test]
    fn the_fork_of_a_promoted_server_and_the_one_it_left_is_its_switch_point() {
        let promoted = facts(
            2,
            Some(("00000002.history", "1\t0/3000060\tno recovery target\n")),
        );
        let old = facts(1, None);
        assert_eq!(fork_point(&promoted, &old), Fork::At(lsn("0/3000060")));
        assert_eq!(fork_point(&old, &promoted), Fork::At(lsn("0/3000060")));
    }

    #[test]
    fn siblings_fork_where_the_first_left_their_common_timeline() {
        let first = facts(2, Some(("00000002.history", "1\t0/3000060\tx\n")));
        let second = facts(
            3,
            Some(("00000003.history", "1\t0/3000060\tx\n2\t0/4000000\tx\n")),
        );
        assert_eq!(fork_point(&first, &second), Fork::At(lsn("0/4000000")));
        let sibling = facts(3, Some(("00000003.history", "1\t0/2000000\tx\n")));
        assert_eq!(fork_point(&first, &sibling), Fork::At(lsn("0/2000000")));
    }

    #[test]
    fn a_fork_that_cannot_be_told_says_why() {
        let one = facts(1, None);
        assert!(
            matches!(fork_point(&one, &one), Fork::Unknown(reason) if reason.contains("both are on timeline 1"))
        );
        let without_history = facts(2, None);
        assert!(
            matches!(fork_point(&without_history, &one), Fork::Unknown(reason) if reason.contains("history of its timeline 2"))
        );
    }

    #[test]
    fn the_newest_checkpoint_timeline_counts_until_a_history_file_is_there() {
        let just_promoted = facts(1, Some(("00000002.history", "1\t0/3000060\tx\n")));
        assert_eq!(just_promoted.data_directory.current_timeline(), Some(2));
    }

    #[test]
    fn sizes_read_as_pg_size_pretty_prints_them() {
        assert_eq!(pretty_size(0), "0 bytes");
        assert_eq!(pretty_size(10239), "10239 bytes");
        assert_eq!(pretty_size(10240), "10 kB");
        assert_eq!(pretty_size(0x400_0000 - 0x300_0060), "16 MB");
        assert_eq!(pretty_size(3 * 1024 * 1024 * 1024), "3072 MB");
        assert_eq!(pretty_size(30 * 1024 * 1024 * 1024), "30 GB");
    }
}
