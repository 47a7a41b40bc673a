//! The documentation against the program: the command reference
//! (`docs/commands.md`) is what `pgconverge reference` prints from the clap
//! definitions; in `README.md` and `docs/*.md`, every generated region (the
//! playbook's steps, the supported versions) is what the code says now, every
//! checked console block is what its commands print, run offline in the
//! repository, and every excerpt is lines of the file it names; every relative
//! link leads to a file and heading that exist.
//!
//! Three markers, in HTML comments that Markdown does not show:
//!
//! - `<!-- generated: NAME -->...<!-- end generated -->`, inline or around lines:
//!   the text between is `NAME`'s (see [`generated`]);
//! - `<!-- checked ... -->` on the line before a ```` ```console ```` block: each
//!   `$ pgconverge ...` line is run, its output (stdout, then stderr) is the lines
//!   after it;
//! - `<!-- excerpt of: PATH -->` on the line before a fenced block: each line is a
//!   line of PATH, in order; a line `...` skips lines, a line ending in ` ...`
//!   stands for a line that starts with what is before it.
//!
//! After an intended change, write the reference, the generated regions and the
//! console outputs again, and review the difference:
//!
//! ```sh
//! PGCONVERGE_UPDATE_GOLDEN=1 cargo test --test offline docs::
//! git diff README.md docs
//! ```

use assert_cmd::Command;
use pgconverge::playbook::{Playbook, Step};
use pgconverge::versions::{self, PgVersion};
use regex::Regex;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Set to rewrite what is generated instead of comparing with it.
const UPDATE_VARIABLE: &str = "PGCONVERGE_UPDATE_GOLDEN";

/// The replication password the checked commands run with, as the README's
/// first plan exports it.
const PASSWORD: &str = "choose-one";

/// The README stays a few screens; the manual is in docs/.
const README_LIMIT: usize = 10_000;

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn updating() -> bool {
    std::env::var_os(UPDATE_VARIABLE).is_some()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
}

/// `README.md` and every page of `docs/`, as paths relative to the repository.
fn pages() -> Vec<String> {
    let mut pages = vec!["README.md".to_string()];
    let entries = std::fs::read_dir(repository().join("docs"))
        .unwrap_or_else(|error| panic!("read docs/: {error}"));
    let mut names: Vec<String> = entries
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".md"))
        .collect();
    names.sort();
    pages.extend(names.into_iter().map(|name| format!("docs/{name}")));
    pages
}

/// pgconverge, run as the offline tests run it: in the repository, with no
/// `ssh` on the `PATH` (a command that tried to reach a host fails), no colour.
fn pgconverge() -> Command {
    let mut command =
        Command::cargo_bin("pgconverge").unwrap_or_else(|error| panic!("binary: {error}"));
    command
        .current_dir(repository())
        .env("NO_COLOR", "1")
        .env("PATH", "/nonexistent/pgconverge-offline-tests")
        .env("PG_REPLICATION_PASSWORD", PASSWORD);
    command
}

/// Compares `wanted` with the file at `relative`, or writes it when updating;
/// a difference is returned as a unified diff.
fn compare_or_update(relative: &str, wanted: &str) -> Option<String> {
    let path = repository().join(relative);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    if current == wanted {
        return None;
    }
    if updating() {
        write(&path, wanted);
        return None;
    }
    let diff = similar::TextDiff::from_lines(&current, wanted)
        .unified_diff()
        .header(relative, "generated")
        .to_string();
    Some(format!(
        "{relative} is stale ({UPDATE_VARIABLE}=1 cargo test --test offline docs:: writes it again):\n{diff}"
    ))
}

#[test]
fn the_command_reference_is_what_clap_defines() {
    let output = pgconverge()
        .arg("reference")
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let reference = String::from_utf8_lossy(&output.stdout).into_owned();
    // Whatever the rendering, every subcommand --help lists has its section.
    for name in ["apply", "validate", "verify-backup", "completions"] {
        assert!(
            reference.contains(&format!("\n## pgconverge {name}\n")),
            "no section for {name}:\n{reference}"
        );
    }
    if let Some(problem) = compare_or_update("docs/commands.md", &reference) {
        panic!("{problem}");
    }
}

/// Every major version pgconverge supports, oldest first, by the rule the
/// inventory applies to `pg_version` (`src/versions.rs`).
fn supported_versions() -> Vec<PgVersion> {
    let candidates = (8..=9)
        .flat_map(|major| (0..=9).map(move |minor| PgVersion(major * 100 + minor)))
        .chain((10..=99).map(|major| PgVersion(major * 100)));
    candidates
        .filter(|version| *version >= versions::OLDEST && version.was_released())
        .collect()
}

/// The supported versions whose every setting the catalog knows.
fn catalog_versions() -> Vec<PgVersion> {
    supported_versions()
        .into_iter()
        .filter(|version| versions::CATALOG_VERSIONS.contains(*version))
        .collect()
}

fn range(versions: &[PgVersion]) -> String {
    match (versions.first(), versions.last()) {
        (Some(first), Some(last)) => format!("{first} to {last}"),
        _ => panic!("no versions"),
    }
}

fn built_in_playbook() -> Playbook {
    Playbook::load(None).unwrap_or_else(|problems| panic!("the built-in playbook: {problems:?}"))
}

/// A name as the playbook writes it (`base_backup`, `primary`), from its serde form.
fn written<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(name)) => name,
        other => panic!("not a name: {other:?}"),
    }
}

fn codes<'a>(ids: impl IntoIterator<Item = &'a String>) -> String {
    ids.into_iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What a step waits for, in words: its host's steps, its upstream's, every
/// host's; `cluster_after` only orders.
fn waits_for(step: &Step) -> String {
    let ids = |refs: &[pgconverge::playbook::StepRef]| -> Vec<String> {
        refs.iter().map(|reference| reference.id.clone()).collect()
    };
    let mut parts = Vec::new();
    let requires = ids(&step.requires);
    if !requires.is_empty() {
        parts.push(codes(&requires));
    }
    let upstream = ids(&step.upstream_requires);
    if !upstream.is_empty() {
        parts.push(format!("its upstream's {}", codes(&upstream)));
    }
    let cluster = ids(&step.cluster_requires);
    if !cluster.is_empty() {
        parts.push(format!("every host's {}", codes(&cluster)));
    }
    let after = ids(&step.cluster_after);
    if !after.is_empty() {
        parts.push(format!("after every host's {} (order only)", codes(&after)));
    }
    parts.join("; ")
}

/// A table cell: `|` would end it.
fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

/// The playbook's steps and handlers as a table, in its order.
fn playbook_table() -> String {
    let playbook = built_in_playbook();
    let mut table = String::from(
        "| step | action | roles | applies where | waits for | notifies |\n|---|---|---|---|---|---|\n",
    );
    for step in &playbook.steps {
        let name = if step.is_handler {
            format!("`{}` (handler)", step.id)
        } else {
            format!("`{}`", step.id)
        };
        let roles: Vec<String> = step.roles.iter().map(written).collect();
        let when = step
            .when
            .as_deref()
            .map(|when| format!("`{when}`"))
            .unwrap_or_else(|| "always".to_string());
        let notify: Vec<String> = step.notify.iter().map(|r| r.id.clone()).collect();
        table.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} |\n",
            name,
            written(&step.action),
            roles.join(", "),
            cell(&when),
            cell(&waits_for(step)),
            codes(&notify),
        ));
    }
    table.trim_end().to_string()
}

fn playbook_size() -> String {
    let playbook = built_in_playbook();
    let handlers = playbook.steps.iter().filter(|step| step.is_handler).count();
    let steps = playbook.steps.len() - handlers;
    let plural = |count: usize, word: &str| {
        if count == 1 {
            format!("{count} {word}")
        } else {
            format!("{count} {word}s")
        }
    };
    format!(
        "{} and {}",
        plural(steps, "step"),
        plural(handlers, "handler")
    )
}

/// The text of a generated region.
fn generated(name: &str) -> Option<String> {
    let text = match name {
        "supported-versions" => supported_versions()
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        "version-range" => range(&supported_versions()),
        "catalog-range" => range(&catalog_versions()),
        "playbook-steps" => playbook_table(),
        "playbook-size" => playbook_size(),
        _ => return None,
    };
    Some(text)
}

fn generated_region() -> Regex {
    Regex::new(r"(?s)<!-- generated: ([a-z-]+) -->(.*?)<!-- end generated -->")
        .unwrap_or_else(|error| panic!("regex: {error}"))
}

/// `text` with every generated region as the code makes it now; a region of
/// an unknown name is a problem.
fn regenerate(page: &str, text: &str, problems: &mut Vec<String>) -> String {
    generated_region()
        .replace_all(text, |captures: &regex::Captures| {
            let name = &captures[1];
            let current = &captures[2];
            let Some(wanted) = generated(name) else {
                problems.push(format!("{page}: no generated region is called `{name}`"));
                return captures[0].to_string();
            };
            // A region around lines keeps its markers on lines of their own.
            let inner = if current.starts_with('\n') {
                format!("\n{wanted}\n")
            } else {
                wanted
            };
            format!("<!-- generated: {name} -->{inner}<!-- end generated -->")
        })
        .into_owned()
}

/// `text` with every checked console block's output as its commands print it now.
fn rerun(page: &str, text: &str, problems: &mut Vec<String>) -> String {
    let block = Regex::new(r"(?m)^(<!-- checked[^\n]*-->\n```console\n)((?s:.*?))(^```$)")
        .unwrap_or_else(|error| panic!("regex: {error}"));
    block
        .replace_all(text, |captures: &regex::Captures| {
            let mut body = String::new();
            for line in captures[2].lines() {
                let Some(command) = line.strip_prefix("$ ") else {
                    continue;
                };
                body.push_str(line);
                body.push('\n');
                body.push_str(&run_checked(page, command, problems));
            }
            format!("{}{body}{}", &captures[1], &captures[3])
        })
        .into_owned()
}

/// What `command`, a `pgconverge` command line, prints: stdout, then stderr.
fn run_checked(page: &str, command: &str, problems: &mut Vec<String>) -> String {
    let words = shlex::split(command).unwrap_or_default();
    let Some(("pgconverge", args)) = words
        .split_first()
        .map(|(first, rest)| (first.as_str(), rest))
    else {
        problems.push(format!(
            "{page}: a checked block runs only pgconverge, not `{command}`"
        ));
        return String::new();
    };
    let output = pgconverge()
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("run {command}: {error}"));
    let mut printed = String::from_utf8_lossy(&output.stdout).into_owned();
    printed.push_str(&String::from_utf8_lossy(&output.stderr));
    printed
}

/// Every excerpt's lines, in order, in the file it names.
fn check_excerpts(page: &str, text: &str, problems: &mut Vec<String>) {
    let block = Regex::new(r"(?m)^<!-- excerpt of: (\S+) -->\n```[a-z]*\n((?s:.*?))^```$")
        .unwrap_or_else(|error| panic!("regex: {error}"));
    for captures in block.captures_iter(text) {
        let source = &captures[1];
        let Ok(whole) = std::fs::read_to_string(repository().join(source)) else {
            problems.push(format!(
                "{page}: the excerpt's file `{source}` does not exist"
            ));
            continue;
        };
        let lines: Vec<&str> = whole.lines().map(str::trim_end).collect();
        let mut position = 0;
        // The excerpt may start anywhere; after its first line, lines follow
        // one another but where `...` skips.
        let mut skipping = true;
        for wanted in captures[2].lines().map(str::trim_end) {
            if wanted.trim() == "..." {
                skipping = true;
                continue;
            }
            let matches = |line: &str| match wanted.strip_suffix(" ...") {
                Some(start) => line.starts_with(start),
                None => line == wanted,
            };
            let found = if skipping {
                lines[position..].iter().position(|line| matches(line))
            } else {
                lines.get(position).filter(|line| matches(line)).map(|_| 0)
            };
            match found {
                Some(offset) => position += offset + 1,
                None => {
                    problems.push(format!(
                        "{page}: the excerpt of `{source}` has a line that is not there (in that order): {wanted}"
                    ));
                    break;
                }
            }
            skipping = false;
        }
    }
}

#[test]
fn generated_regions_checked_outputs_and_excerpts_are_current() {
    let mut problems = Vec::new();
    for page in pages() {
        let text = read(&repository().join(&page));
        let mut page_problems = Vec::new();
        let wanted = regenerate(&page, &text, &mut page_problems);
        let wanted = rerun(&page, &wanted, &mut page_problems);
        check_excerpts(&page, &wanted, &mut page_problems);
        if page_problems.is_empty() {
            problems.extend(compare_or_update(&page, &wanted));
        }
        problems.extend(page_problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n\n"));
}

/// The page's lines outside fenced blocks, with their numbers.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut fenced = false;
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if !fenced {
            lines.push((index + 1, line));
        }
    }
    lines
}

/// The anchors GitHub gives a page's headings: lower case, punctuation but `-`
/// and `_` dropped, spaces as `-`, a repeated one numbered.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut anchors = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let Some(heading) = line.strip_prefix('#') else {
            continue;
        };
        let heading = heading.trim_start_matches('#');
        if !heading.starts_with(' ') {
            continue;
        }
        let anchor: String = heading
            .trim()
            .to_lowercase()
            .chars()
            .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
            .map(|c| if c == ' ' { '-' } else { c })
            .collect();
        let mut candidate = anchor.clone();
        let mut number = 1;
        while anchors.contains(&candidate) {
            candidate = format!("{anchor}-{number}");
            number += 1;
        }
        anchors.insert(candidate);
    }
    anchors
}

#[test]
fn every_link_between_the_pages_leads_somewhere() {
    let link = Regex::new(r"\]\(([^)\s]+)\)").unwrap_or_else(|error| panic!("regex: {error}"));
    let mut problems = Vec::new();
    for page in pages() {
        let text = read(&repository().join(&page));
        let directory = Path::new(&page).parent().unwrap_or(Path::new(""));
        for (number, line) in prose_lines(&text) {
            for captures in link.captures_iter(line) {
                let target = &captures[1];
                if target.starts_with("http://") || target.starts_with("https://") {
                    continue;
                }
                let (file, anchor) = match target.split_once('#') {
                    Some((file, anchor)) => (file, Some(anchor)),
                    None => (target, None),
                };
                let path = if file.is_empty() {
                    PathBuf::from(&page)
                } else {
                    directory.join(file)
                };
                let full = repository().join(&path);
                if !full.exists() {
                    problems.push(format!("{page}:{number}: `{target}`: no such file"));
                    continue;
                }
                if let Some(anchor) = anchor
                    && !anchors(&read(&full)).contains(anchor)
                {
                    problems.push(format!(
                        "{page}:{number}: `{target}`: no such heading in {}",
                        path.display()
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Each step and handler of the playbook is described in docs/steps.md, under
/// `## What each step does`, as a list item that starts with its id; and only
/// those: the list once named some steps and not others.
#[test]
fn every_step_of_the_playbook_is_described() {
    let text = read(&repository().join("docs/steps.md"));
    let section = text
        .split("\n## What each step does\n")
        .nth(1)
        .unwrap_or_else(|| panic!("docs/steps.md has no `## What each step does`"));
    let section = section.split("\n## ").next().unwrap_or_default();
    let item = Regex::new(r"(?m)^- `([a-z_]+)`").unwrap_or_else(|error| panic!("regex: {error}"));
    let described: Vec<String> = item
        .captures_iter(section)
        .map(|captures| captures[1].to_string())
        .collect();
    let playbook: Vec<String> = built_in_playbook()
        .steps
        .iter()
        .map(|step| step.id.clone())
        .collect();
    assert_eq!(
        described, playbook,
        "docs/steps.md describes these steps, in this order; the playbook has those"
    );
}

/// A range of versions written by hand goes stale when a version comes; the
/// pages say it through the generated regions only.
#[test]
fn no_page_writes_the_range_of_versions_by_hand() {
    let oldest = versions::OLDEST.to_string();
    let by_hand = Regex::new(&format!(r"{} to \d+", regex::escape(&oldest)))
        .unwrap_or_else(|error| panic!("regex: {error}"));
    let mut problems = Vec::new();
    for page in pages() {
        let text = read(&repository().join(&page));
        let outside = generated_region().replace_all(&text, "");
        for found in by_hand.find_iter(&outside) {
            problems.push(format!(
                "{page}: `{}` written by hand; use <!-- generated: version-range -->",
                found.as_str()
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The pages say the golden files cover every supported version.
#[test]
fn the_golden_files_cover_every_supported_version() {
    let entries = std::fs::read_dir(repository().join("tests/golden"))
        .unwrap_or_else(|error| panic!("read tests/golden: {error}"));
    let mut golden: Vec<PgVersion> = entries
        .flatten()
        .filter(|entry| entry.path().is_dir())
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            PgVersion::parse(&serde_json::Value::String(name))
        })
        .collect();
    golden.sort();
    assert_eq!(golden, supported_versions());
}

#[test]
fn the_readme_is_a_few_screens() {
    let size = read(&repository().join("README.md")).len();
    assert!(
        size < README_LIMIT,
        "README.md is {size} bytes; keep it under {README_LIMIT} and move the detail into docs/"
    );
}
