//! The state of a long run as the printer shows it: hosts gathered, steps done,
//! and each running copy (a base backup) with its bytes and rate. Pure: the
//! printer feeds it and draws its line, as a live line at the foot of a terminal
//! or as plain lines now and then when standard error is no terminal.

use crate::human::size;
use indexmap::IndexMap;
use std::time::{Duration, Instant};

/// How often a copy's plain line is printed when standard error is no terminal.
pub const PLAIN_INTERVAL: Duration = Duration::from_secs(10);

/// What a script writes to standard error, before a progress line of its own, for
/// pgconverge to show while the step runs (`report_progress` in the scripts).
pub const PROGRESS_MARKER: &str = "pgconverge-progress: ";

#[derive(Debug, Default)]
pub struct LiveStatus {
    gathering: Option<(usize, usize)>,
    steps: Option<(usize, usize)>,
    /// By step (`host/step`), in the order they started.
    copies: IndexMap<String, Copy>,
}

#[derive(Debug)]
struct Copy {
    copied: u64,
    total: u64,
    /// The first report: the rate is measured from it.
    first: (Instant, u64),
    rate: Option<f64>,
    /// When the last plain line was printed for it.
    printed: Option<Instant>,
}

/// Bytes copied and the total, from a progress line of `pg_basebackup
/// --progress`: `12345/67890 kB (18%), 0/1 tablespace` (and a file name after it
/// with `--verbose`).
pub fn copy_progress(line: &str) -> Option<(u64, u64)> {
    let (counts, _) = line.trim_start().split_once(" kB")?;
    let (copied, total) = counts.split_once('/')?;
    Some((
        copied.trim().parse::<u64>().ok()? * 1024,
        total.trim().parse::<u64>().ok()? * 1024,
    ))
}

impl LiveStatus {
    pub fn gathering(&mut self, done: usize, total: usize) {
        self.gathering = (done < total).then_some((done, total));
    }

    pub fn steps(&mut self, done: usize, total: usize) {
        self.steps = (done < total).then_some((done, total));
    }

    /// A copy's new report. Returns its plain line when one is due (the first
    /// report, then one every `PLAIN_INTERVAL`).
    pub fn copying(&mut self, step: &str, copied: u64, total: u64, now: Instant) -> Option<String> {
        let copy = self.copies.entry(step.to_string()).or_insert(Copy {
            copied,
            total,
            first: (now, copied),
            rate: None,
            printed: None,
        });
        copy.copied = copied;
        copy.total = total;
        let (since, from) = copy.first;
        let seconds = now.saturating_duration_since(since).as_secs_f64();
        if seconds >= 1.0 {
            copy.rate = Some(copied.saturating_sub(from) as f64 / seconds);
        }
        let due = copy
            .printed
            .is_none_or(|printed| now.saturating_duration_since(printed) >= PLAIN_INTERVAL);
        if !due {
            return None;
        }
        copy.printed = Some(now);
        Some(format!("{step}: {}", copy_text(copy)))
    }

    /// The step ended: its copy is no longer shown.
    pub fn finished(&mut self, step: &str) {
        self.copies.shift_remove(step);
    }

    /// The live line, or `None` when nothing runs that is worth a line.
    pub fn line(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some((done, total)) = self.gathering {
            parts.push(format!("gathering facts {done}/{total} hosts"));
        }
        if let Some((done, total)) = self.steps {
            parts.push(format!("steps {done}/{total}"));
        }
        // The oldest copy in full; the others only counted, so the line stays short.
        if let Some((step, copy)) = self.copies.first() {
            parts.push(format!("{step} {}", copy_text(copy)));
        }
        match self.copies.len() {
            0 | 1 => {}
            more => parts.push(format!("{} more copying", more - 1)),
        }
        (!parts.is_empty()).then(|| parts.join(" · "))
    }
}

fn copy_text(copy: &Copy) -> String {
    let percent = (copy.copied * 100)
        .checked_div(copy.total)
        .unwrap_or(0)
        .min(100);
    let rate = match copy.rate {
        Some(rate) => format!(", {}/s", size(rate as i64)),
        None => String::new(),
    };
    format!(
        "copied {} of {} ({percent}%){rate}",
        size(copy.copied as i64),
        size(copy.total as i64)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pg_basebackup_progress_lines_are_read_with_and_without_a_file_name() {
        assert_eq!(
            copy_progress("   30740/1049382 kB (2%), 0/1 tablespace"),
            Some((30740 * 1024, 1049382 * 1024))
        );
        assert_eq!(
            copy_progress("1049390/1049390 kB (100%), 1/1 tablespace (...ata/base/5/2619)"),
            Some((1049390 * 1024, 1049390 * 1024))
        );
        assert_eq!(copy_progress("waiting for checkpoint"), None);
        assert_eq!(copy_progress("x/y kB"), None);
    }

    #[test]
    fn the_live_line_shows_phases_the_oldest_copy_and_how_many_more() {
        let start = Instant::now();
        let mut status = LiveStatus::default();
        assert_eq!(status.line(), None);
        status.gathering(37, 100);
        assert_eq!(
            status.line().as_deref(),
            Some("gathering facts 37/100 hosts")
        );
        status.gathering(100, 100);
        status.steps(3, 12);
        status.copying("h2/base_backup", 0, 4 << 30, start);
        status.copying("h3/base_backup", 0, 1 << 30, start);
        status.copying(
            "h2/base_backup",
            1 << 30,
            4 << 30,
            start + Duration::from_secs(4),
        );
        assert_eq!(
            status.line().as_deref(),
            Some(
                "steps 3/12 · h2/base_backup copied 1.0 GiB of 4.0 GiB (25%), 256.0 MiB/s · 1 more copying"
            )
        );
        status.finished("h2/base_backup");
        status.finished("h3/base_backup");
        status.steps(12, 12);
        assert_eq!(status.line(), None);
    }

    #[test]
    fn plain_lines_come_at_the_first_report_then_every_interval() {
        let start = Instant::now();
        let mut status = LiveStatus::default();
        let at = |seconds| start + Duration::from_secs(seconds);
        let printed: Vec<bool> = [0, 1, 9, 10, 15, 21]
            .into_iter()
            .map(|second| {
                status
                    .copying("h2/base_backup", second * 1024, 100 * 1024, at(second))
                    .is_some()
            })
            .collect();
        assert_eq!(printed, [true, false, false, true, false, true]);
        let last = status.copying("h2/base_backup", 100 * 1024, 100 * 1024, at(40));
        assert_eq!(
            last.as_deref(),
            Some("h2/base_backup: copied 100.0 KiB of 100.0 KiB (100%), 2.5 KiB/s")
        );
    }
}
