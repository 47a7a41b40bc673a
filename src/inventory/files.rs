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

use super::formats;
use super::layout::Document;
use super::report::location;
use super::vault::{self, Passwords};
use super::yaml;
use crate::diagnostic::Diagnostic;
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

/// Whether a variables file belongs to a group or a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Group,
    Host,
}

/// One `group_vars` or `host_vars` file, parsed.
#[derive(Debug)]
pub struct VarsFile {
    /// The number of the `-i` source it is beside.
    pub source: usize,
    pub owner: Owner,
    /// The group or host it is for.
    pub name: String,
    pub document: Document,
    /// Whether the whole file is a vault: then every value in it is secret.
    pub encrypted: bool,
}

/// Everything read from the sources.
#[derive(Debug, Default)]
pub struct Read {
    pub documents: Vec<Document>,
    pub vars_files: Vec<VarsFile>,
    pub problems: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
    /// Every file read, in order, for the digest of a saved plan.
    pub files: Vec<PathBuf>,
    /// Whether a file could not be read or parsed at all.
    pub incomplete: bool,
}

/// Reads every `-i` source in order, with the variable files beside each.
pub fn read(sources: &[PathBuf], passwords: &Passwords) -> Read {
    let mut read = Read::default();
    for (index, source) in sources.iter().enumerate() {
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
        let Some((text, _)) = self.text(path, passwords) else {
            return;
        };
        let (document, problems) = formats::read(path, &text);
        self.incomplete |= document.is_none();
        self.problems.extend(problems);
        self.documents.extend(document);
    }

    fn inventory_directory(&mut self, directory: &Path, passwords: &Passwords, depth: usize) {
        if depth > DEEPEST {
            let message = format!("inventory directories nest more than {DEEPEST} deep");
            return self.problem(directory, message);
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
            if is_executable(&path) {
                let message = format!(
                    "`{name}` is executable, so Ansible would run it as an inventory script; pgconverge runs none: export it with `ansible-inventory -i {} --list > inventory.json`",
                    path.display()
                );
                self.problem(&path, message);
                continue;
            }
            self.inventory_file(&path, passwords);
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
                let mut files = Vec::new();
                self.vars_files_in(&chosen, &mut files, 0);
                files
            } else {
                vec![chosen]
            };
            for path in files {
                self.vars_file(source, owner, &name, &path, passwords);
            }
        }
    }

    /// The files of a `group_vars/NAME/` directory, in lexical order.
    fn vars_files_in(&mut self, directory: &Path, files: &mut Vec<PathBuf>, depth: usize) {
        if depth > DEEPEST {
            let message = format!("variable directories nest more than {DEEPEST} deep");
            return self.problem(directory, message);
        }
        for path in self.sorted_entries(directory) {
            let name = file_name(&path);
            if name.starts_with('.') || name.ends_with('~') {
                continue;
            }
            let extension = path.extension().and_then(|extension| extension.to_str());
            match extension {
                None if path.is_dir() => self.vars_files_in(&path, files, depth + 1),
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

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o111 != 0)
}
