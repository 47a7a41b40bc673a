//! Finding and reading the files of an inventory, as Ansible finds them: each
//! `-i` source (a file, or a directory whose files are each an inventory, read
//! in name order), and the `group_vars/` and `host_vars/` directories beside
//! each source. This is the inventory's only file IO; parsing is pure.
//!
//! Beside a source (the directory of a file, or a directory source itself),
//! `group_vars/NAME` is the first of `NAME` (a file or a directory), `NAME.yml`,
//! `NAME.yaml`, `NAME.json`; a directory's files are read in lexical order,
//! subdirectories included, skipping hidden files and backups (`~`). Files that
//! Ansible passes over are named in a warning rather than skipped in silence.
//!
//! An executable program among the sources (a file given, or one in a
//! directory) is an inventory script, run with `--list` as Ansible runs one
//! (`script.rs`); its output is read as that script's inventory.
//!
//! Links to directories are followed, but each real directory is read once, and
//! each real file once where it would give the same variables twice: a link to
//! `.` or to a parent directory is read no further, and two links to one
//! inventory file add its hosts once.

use crate::diagnostic::Diagnostic;
use crate::formats;
use crate::layout::Document;
use crate::report::location;
use crate::script;
use crate::vault::{self, Passwords};
use crate::yaml;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The extensions of variable files.
const VARS_EXTENSIONS: [&str; 3] = ["yml", "yaml", "json"];

/// The names in an inventory directory that are not inventories.
const NOT_INVENTORIES: [&str; 3] = ["group_vars", "host_vars", "vars_plugins"];

/// Extensions of files that an inventory directory may hold and Ansible skips.
const SKIPPED_EXTENSIONS: [&str; 12] = [
    "pyc", "pyo", "swp", "bak", "rpm", "md", "txt", "rst", "orig", "cfg", "retry", "ini~",
];

/// Directories nested deeper than this in an inventory are refused.
const DEEPEST: usize = 16;

/// Whether inventory scripts are run, or only named (to list the files an
/// inventory reads, for a digest, without running anything).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scripts {
    /// Run each script with `--list` and read what it prints.
    Run,
    /// Only name each script in [`Read::files`].
    NameOnly,
}

/// Whether a variables file belongs to a group or a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// A file of `group_vars/`.
    Group,
    /// A file of `host_vars/`.
    Host,
}

/// One `group_vars` or `host_vars` file, parsed.
#[derive(Debug)]
pub struct VarsFile {
    /// The number of the `-i` source it is beside.
    pub source: usize,
    /// Whether it is of `group_vars/` or `host_vars/`.
    pub owner: Owner,
    /// The group or host it is for.
    pub name: String,
    /// Its variables, as a document whose top is a map.
    pub document: Document,
    /// Whether the whole file is a vault: then every value in it is secret.
    pub encrypted: bool,
}

/// Everything read from the sources.
#[derive(Debug, Default)]
pub struct Read {
    /// Every inventory file (or script output, or host list) read, in order.
    pub documents: Vec<Document>,
    /// Every `group_vars` and `host_vars` file, in order.
    pub vars_files: Vec<VarsFile>,
    /// Files that could not be read or parsed, and syntax errors.
    pub problems: Vec<Diagnostic>,
    /// Files Ansible passes over, named rather than skipped in silence, and what
    /// an inventory script wrote to its standard error.
    pub warnings: Vec<Diagnostic>,
    /// Every file read, in order (an inventory script named, whether it ran or
    /// not): what a digest of the inventory covers.
    pub files: Vec<PathBuf>,
    /// Whether a file could not be read or parsed at all.
    pub incomplete: bool,
    /// The inventory files that were vault-encrypted whole: every variable
    /// written in them is a secret.
    pub encrypted_documents: Vec<PathBuf>,
    /// The real directories and files of the inventory sources read so far.
    inventory_seen: Seen,
    scripts: Option<Scripts>,
    program: String,
}

/// The real paths (every link resolved) of the directories and files a walk has
/// reached, so that a link back to one of them is not followed again.
#[derive(Debug, Default)]
struct Seen {
    directories: HashSet<PathBuf>,
    files: HashSet<PathBuf>,
}

impl Seen {
    /// Whether `directory` is reached for the first time. A path that cannot be
    /// resolved counts as new: reading it then reports why.
    fn first_directory(&mut self, directory: &Path) -> bool {
        std::fs::canonicalize(directory).map_or(true, |real| self.directories.insert(real))
    }

    /// Whether `file` is reached for the first time, as `first_directory`.
    fn first_file(&mut self, file: &Path) -> bool {
        std::fs::canonicalize(file).map_or(true, |real| self.files.insert(real))
    }
}

/// Reads every `-i` source in order, with the variable files beside each.
/// `program` is the name of the program reading them, as messages give it.
pub fn read(sources: &[PathBuf], passwords: &Passwords, scripts: Scripts, program: &str) -> Read {
    let mut read = Read {
        scripts: Some(scripts),
        program: program.to_string(),
        ..Read::default()
    };
    for (index, source) in sources.iter().enumerate() {
        if let Some(list) = host_list(source) {
            // Ansible reads no `group_vars` beside a host list: it has no place.
            let (document, problems) = formats::read_host_list(list);
            read.problems.extend(problems);
            read.documents.extend(document);
            continue;
        }
        let base = if source.is_dir() {
            read.inventory_directory(source, passwords, 0);
            source.clone()
        } else {
            read.inventory_file(source, passwords);
            source.parent().map(Path::to_path_buf).unwrap_or_default()
        };
        read.vars_directory(index, &base.join("group_vars"), Owner::Group, passwords);
        read.vars_directory(index, &base.join("host_vars"), Owner::Host, passwords);
    }
    read
}

/// A source that is a list of hosts (`-i 'db1,db2:2222,'`), as Ansible's
/// `host_list` plugin takes one: no such file, and a comma in it.
fn host_list(source: &Path) -> Option<&str> {
    let text = source.to_str()?;
    (text.contains(',') && !source.exists()).then_some(text)
}

impl Read {
    fn problem(&mut self, path: &Path, message: String) {
        self.incomplete = true;
        self.problems
            .push(Diagnostic::new(path, None, None, message));
    }

    fn warning(&mut self, path: &Path, message: String) {
        self.warnings
            .push(Diagnostic::new(path, None, None, message));
    }

    /// The text of a file, decrypted when it is a vault, and whether it was.
    fn text(&mut self, path: &Path, passwords: &Passwords) -> Option<(String, bool)> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(error) => {
                self.problem(path, format!("cannot read the inventory: {error}"));
                return None;
            }
        };
        self.files.push(path.to_path_buf());
        if !vault::is_vault(&text) {
            return Some((text, false));
        }
        match vault::decrypt(&text, passwords) {
            Ok(plain) => Some((plain, true)),
            Err(error) => {
                let message = format!("cannot decrypt this vault-encrypted file: {error}");
                self.problem(path, message);
                None
            }
        }
    }

    fn inventory_file(&mut self, path: &Path, passwords: &Passwords) {
        if script::is_script(path) {
            return self.inventory_script(path);
        }
        let Some((text, encrypted)) = self.text(path, passwords) else {
            return;
        };
        if encrypted {
            self.encrypted_documents.push(path.to_path_buf());
        }
        let (document, problems) = formats::read(path, &text, &self.program);
        self.incomplete |= document.is_none();
        self.problems.extend(problems);
        self.documents.extend(document);
    }

    /// Runs an inventory script and reads what it prints, under the name
    /// `SCRIPT --list`; what it writes to standard error is shown, as Ansible
    /// shows it.
    fn inventory_script(&mut self, path: &Path) {
        self.files.push(path.to_path_buf());
        if self.scripts != Some(Scripts::Run) {
            return;
        }
        let listed = match script::list(path, script::TIME_LIMIT) {
            Ok(listed) => listed,
            Err(error) => return self.problem(path, error.to_string()),
        };
        if !listed.stderr.trim().is_empty() {
            let message = format!(
                "the inventory script wrote to its standard error:\n{}",
                listed.stderr.trim_end()
            );
            self.warning(&listed.name, message);
        }
        let (document, problems) = formats::read_script_output(&listed.name, &listed.text);
        self.incomplete |= document.is_none();
        self.problems.extend(problems);
        self.documents.extend(document);
    }

    fn inventory_directory(&mut self, directory: &Path, passwords: &Passwords, depth: usize) {
        if depth > DEEPEST {
            let message = format!("inventory directories nest more than {DEEPEST} deep");
            return self.problem(directory, message);
        }
        if !self.inventory_seen.first_directory(directory) {
            return;
        }
        let mut skipped = Vec::new();
        for path in self.sorted_entries(directory) {
            let name = file_name(&path);
            if name.starts_with('.') || NOT_INVENTORIES.contains(&name.as_str()) {
                continue;
            }
            if path.is_dir() {
                self.inventory_directory(&path, passwords, depth + 1);
                continue;
            }
            let extension = path
                .extension()
                .and_then(|extension| extension.to_str())
                .unwrap_or_default();
            if name.ends_with('~') || SKIPPED_EXTENSIONS.contains(&extension) {
                skipped.push(format!("`{name}`"));
                continue;
            }
            if self.inventory_seen.first_file(&path) {
                self.inventory_file(&path, passwords);
            }
        }
        if !skipped.is_empty() {
            let message = format!(
                "not read as inventories, as Ansible skips them: {}",
                skipped.join(", ")
            );
            self.warning(directory, message);
        }
    }

    fn sorted_entries(&mut self, directory: &Path) -> Vec<PathBuf> {
        match std::fs::read_dir(directory) {
            Ok(entries) => {
                let mut paths: Vec<PathBuf> = entries
                    .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                    .collect();
                paths.sort();
                paths
            }
            Err(error) => {
                self.problem(directory, format!("cannot read the directory: {error}"));
                Vec::new()
            }
        }
    }

    /// `group_vars/` or `host_vars/` beside source number `source`.
    fn vars_directory(
        &mut self,
        source: usize,
        directory: &Path,
        owner: Owner,
        passwords: &Passwords,
    ) {
        if !directory.exists() {
            return;
        }
        if !directory.is_dir() {
            let message = "is not a directory, so Ansible reads no variables from it".to_string();
            return self.warning(directory, message);
        }
        // Each name's candidates, in the order Ansible tries them.
        let mut names: indexmap::IndexMap<String, Vec<PathBuf>> = indexmap::IndexMap::new();
        for path in self.sorted_entries(directory) {
            let file = file_name(&path);
            let stem = VARS_EXTENSIONS
                .iter()
                .find_map(|extension| file.strip_suffix(&format!(".{extension}")))
                .unwrap_or(&file);
            names.entry(stem.to_string()).or_default().push(path);
        }
        for (name, mut candidates) in names {
            let rank = |path: &PathBuf| {
                let file = file_name(path);
                if file == name {
                    0
                } else {
                    1 + VARS_EXTENSIONS
                        .iter()
                        .position(|extension| file == format!("{name}.{extension}"))
                        .unwrap_or(VARS_EXTENSIONS.len())
                }
            };
            candidates.sort_by_key(rank);
            let chosen = candidates.remove(0);
            for passed_over in &candidates {
                let message = format!(
                    "not read: Ansible reads only `{}` for `{name}`",
                    file_name(&chosen)
                );
                self.warning(passed_over, message);
            }
            let files = if chosen.is_dir() {
                // Within one group's or host's directory a real file is read once;
                // the same file linked for two names gives each its variables.
                let mut files = Vec::new();
                self.vars_files_in(&chosen, &mut files, &mut Seen::default(), 0);
                last_of_each_real_file(files)
            } else {
                vec![chosen]
            };
            for path in files {
                self.vars_file(source, owner, &name, &path, passwords);
            }
        }
    }

    /// The files of a `group_vars/NAME/` directory, in lexical order, each real
    /// directory once.
    fn vars_files_in(
        &mut self,
        directory: &Path,
        files: &mut Vec<PathBuf>,
        seen: &mut Seen,
        depth: usize,
    ) {
        if depth > DEEPEST {
            let message = format!("variable directories nest more than {DEEPEST} deep");
            return self.problem(directory, message);
        }
        if !seen.first_directory(directory) {
            return;
        }
        for path in self.sorted_entries(directory) {
            let name = file_name(&path);
            if name.starts_with('.') || name.ends_with('~') {
                continue;
            }
            let extension = path.extension().and_then(|extension| extension.to_str());
            match extension {
                None if path.is_dir() => self.vars_files_in(&path, files, seen, depth + 1),
                None => files.push(path),
                Some(extension) if VARS_EXTENSIONS.contains(&extension) && path.is_file() => {
                    files.push(path);
                }
                Some(_) => {
                    let message =
                        "not read: Ansible reads only files ending in .yml, .yaml or .json or without extension here"
                            .to_string();
                    self.warning(&path, message);
                }
            }
        }
    }

    fn vars_file(
        &mut self,
        source: usize,
        owner: Owner,
        name: &str,
        path: &Path,
        passwords: &Passwords,
    ) {
        let Some((text, encrypted)) = self.text(path, passwords) else {
            return;
        };
        let mut root = match yaml::parse(&text) {
            Ok(root) => root,
            Err(error) => {
                self.incomplete = true;
                self.problems.push(Diagnostic {
                    location: location(path, error.position),
                    message: error.message,
                });
                return;
            }
        };
        for duplicate in yaml::take_duplicate_keys(&mut root) {
            let yaml::Position { line, column } = duplicate.first;
            let message = format!(
                "duplicate key `{}` (first written at line {line}, column {column})",
                duplicate.key
            );
            self.problems.push(Diagnostic {
                location: location(path, Some(duplicate.position)),
                message,
            });
        }
        let document = Document {
            path: path.to_path_buf(),
            root,
        };
        self.vars_files.push(VarsFile {
            source,
            owner,
            name: name.to_string(),
            document,
            encrypted,
        });
    }
}

/// `files` with each real file once, at its last place. Ansible reads a file
/// reached through two names twice, and the later reading is the one whose
/// values stand; keeping only that one gives the same variables.
fn last_of_each_real_file(files: Vec<PathBuf>) -> Vec<PathBuf> {
    let mut seen = Seen::default();
    let mut kept: Vec<PathBuf> = files
        .into_iter()
        .rev()
        .filter(|file| seen.first_file(file))
        .collect();
    kept.reverse();
    kept
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    const INVENTORY: &str = "all:\n  children:\n    primary:\n      hosts:\n        db1:\n";

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }

    fn link(target: impl AsRef<Path>, at: &Path) {
        symlink(target, at).unwrap_or_else(|error| panic!("{}: {error}", at.display()));
    }

    #[test]
    fn an_inventory_directory_with_link_loops_is_read_once() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let root = directory.path().join("inventory");
        let nested = root.join("nested");
        std::fs::create_dir_all(&nested).expect("mkdir");
        write(&root.join("hosts.yml"), INVENTORY);
        write(&nested.join("more.yml"), "standby:\n  hosts:\n    db2:\n");
        // A link to the directory itself, one to its parent, and a second name
        // for a file already read.
        link(".", &root.join("loop"));
        link("..", &nested.join("up"));
        link("hosts.yml", &root.join("same-hosts.yml"));

        let read = read(
            std::slice::from_ref(&root),
            &Passwords::default(),
            Scripts::Run,
            "my-tool",
        );
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        assert!(!read.incomplete);
        let documents: Vec<&Path> = read
            .documents
            .iter()
            .map(|document| document.path.as_path())
            .collect();
        assert_eq!(
            documents,
            [
                root.join("hosts.yml").as_path(),
                nested.join("more.yml").as_path()
            ]
        );
        assert_eq!(read.files.len(), 2, "{:?}", read.files);
    }

    #[test]
    fn a_group_vars_directory_with_link_loops_is_read_once() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let hosts = directory.path().join("hosts.yml");
        write(&hosts, INVENTORY);
        let all = directory.path().join("group_vars").join("all");
        let deeper = all.join("deeper");
        std::fs::create_dir_all(&deeper).expect("mkdir");
        write(&all.join("main.yml"), "pg_port: 5433\n");
        write(&deeper.join("extra.yml"), "pg_version: 15\n");
        link(".", &all.join("loop"));
        link("..", &deeper.join("up"));
        link("main.yml", &all.join("again.yml"));
        // The same file linked for another group gives that group its variables.
        link(
            "all/main.yml",
            &directory.path().join("group_vars").join("primary.yml"),
        );

        let read = read(&[hosts], &Passwords::default(), Scripts::Run, "my-tool");
        assert!(read.problems.is_empty(), "{:?}", read.problems);
        let files: Vec<(String, PathBuf)> = read
            .vars_files
            .iter()
            .map(|file| (file.name.clone(), file.document.path.clone()))
            .collect();
        assert_eq!(
            files,
            // `again.yml` comes first in name order, but `main.yml`, read after
            // `deeper/extra.yml`, is the reading whose values stand.
            [
                ("all".to_string(), deeper.join("extra.yml")),
                ("all".to_string(), all.join("main.yml")),
                (
                    "primary".to_string(),
                    directory.path().join("group_vars").join("primary.yml")
                ),
            ]
        );
    }
}
