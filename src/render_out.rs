//! `pgconverge render`: the files one host should have, written under a local
//! directory that mirrors their absolute paths, for review or golden tests. No
//! host is contacted, and no secret is written.

use crate::actions::DesiredStep;
use crate::actions::recovery::RecoveryConfig;
use crate::desired::{DesiredHost, DesiredState};
use crate::diagnostic::Diagnostics;
use crate::inventory::Role;
use crate::printer::Printer;
use crate::secret::Redactor;
use crate::session::load;
use std::path::{Component, Path, PathBuf};

/// What a sensitive file (the `.pgpass`) holds when rendered: a placeholder and a
/// plain note, never the secret. The note is no comment, so that nothing in it can
/// be mistaken for the file's real content.
pub const SENSITIVE_PLACEHOLDER: &str = "(sensitive)\npgconverge render does not write the content of a sensitive file: on the host it holds a secret\n";

#[derive(Debug, Clone, Default)]
pub struct RenderOptions {
    pub inventory: crate::inventory::Input,
    pub playbook: Option<PathBuf>,
    pub templates: Option<PathBuf>,
    /// The inventory name of the host whose files are written.
    pub host: String,
    /// The directory the host's absolute paths are mirrored under.
    pub out: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{0}")]
    Input(#[from] Diagnostics),
    #[error("unknown host `{host}`: the inventory has {known}")]
    UnknownHost { host: String, known: String },
    #[error(
        "the path `{path}` of host `{host}` leaves the output directory (`..`): fix the step's `dest` or `path`"
    )]
    PathOutsideOutput { host: String, path: String },
    #[error("cannot write `{}`: {source}", .path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// One file a host should have, as written for review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// The absolute path on the host.
    pub path: String,
    /// The rendered content, or [`SENSITIVE_PLACEHOLDER`] for a sensitive file.
    pub content: String,
    pub sensitive: bool,
}

/// The files `host` should have, in playbook order: every file step, the
/// `recovery.conf` of a standby before PostgreSQL 12, and the empty
/// `standby.signal` of a standby from 12. Every secret of the inventory is
/// replaced by `(sensitive)`, also in a file not marked sensitive.
pub fn host_files(host: &DesiredHost, redactor: &Redactor) -> Vec<RenderedFile> {
    let mut files = Vec::new();
    for step in host.steps.values() {
        let rendered = step.rendered_file().or(match step {
            DesiredStep::RecoveryConfig(RecoveryConfig {
                recovery_conf: Some(file),
            }) => Some(file),
            _ => None,
        });
        match step {
            _ if let Some(file) = rendered => files.push(RenderedFile {
                path: file.path.clone(),
                content: if file.sensitive {
                    SENSITIVE_PLACEHOLDER.to_string()
                } else {
                    redactor.redact(&file.content)
                },
                sensitive: file.sensitive,
            }),
            DesiredStep::RecoveryConfig(RecoveryConfig {
                recovery_conf: None,
            }) if host.role == Role::Standby => files.push(RenderedFile {
                path: format!("{}/standby.signal", host.settings.data_dir),
                content: String::new(),
                sensitive: false,
            }),
            _ => {}
        }
    }
    files
}

/// Where a host's absolute `path` goes under `out`: `/etc/x.conf` becomes
/// `out/etc/x.conf`. `None` for a path that would leave `out` through `..`.
pub fn destination(out: &Path, path: &str) -> Option<PathBuf> {
    let mut destination = out.to_path_buf();
    for component in Path::new(path).components() {
        match component {
            Component::Normal(part) => destination.push(part),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(destination)
}

/// Loads and checks the inventory, playbook and templates, then writes the files
/// of `options.host` under `options.out` (created if needed), printing each path
/// written on stderr. Returns the paths written.
pub fn render(
    options: &RenderOptions,
    printer_for: impl FnOnce(Redactor) -> Printer,
) -> Result<Vec<PathBuf>, RenderError> {
    let loaded = load(
        &options.inventory,
        options.playbook.as_deref(),
        options.templates.as_deref(),
    )?;
    let redactor = Redactor::new(loaded.desired.secrets.clone());
    let host = find_host(&loaded.desired, &options.host)?;
    let files = host_files(host, &redactor);
    // Every destination is checked before the first file is written, so a bad
    // path leaves the output directory as it was.
    let mut planned = Vec::with_capacity(files.len());
    for file in &files {
        let Some(path) = destination(&options.out, &file.path) else {
            return Err(RenderError::PathOutsideOutput {
                host: host.name.clone(),
                path: file.path.clone(),
            });
        };
        planned.push((path, file));
    }
    let printer = printer_for(redactor);
    let mut written = Vec::with_capacity(planned.len());
    for (path, file) in planned {
        write_file(&path, &file.content)?;
        if file.sensitive {
            printer.err(&format!(
                "{} (sensitive: a placeholder is written, not the secret)",
                path.display()
            ));
        } else {
            printer.err(&path.display().to_string());
        }
        written.push(path);
    }
    Ok(written)
}

fn find_host<'a>(desired: &'a DesiredState, name: &str) -> Result<&'a DesiredHost, RenderError> {
    desired
        .hosts
        .get(name)
        .ok_or_else(|| RenderError::UnknownHost {
            host: name.to_string(),
            known: desired
                .hosts
                .keys()
                .map(|name| format!("`{name}`"))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

fn write_file(path: &Path, content: &str) -> Result<(), RenderError> {
    let error = |source| RenderError::Write {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(error)?;
    }
    std::fs::write(path, content).map_err(error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inventory::Inventory;
    use crate::playbook::Playbook;
    use crate::render::Renderer;

    fn desired(version: &str) -> DesiredState {
        let text = format!(
            "all:\n  vars:\n    pg_version: {version}\n    replication_password: secret-pw\n  children:\n    primary:\n      hosts:\n        db1: {{ ansible_host: 10.0.0.11 }}\n    standby:\n      hosts:\n        db2: {{ ansible_host: 10.0.0.12 }}\n"
        );
        let inventory = Inventory::parse(Path::new("inventory.yaml"), &text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
        DesiredState::build(&inventory, &playbook, &Renderer::new(None))
            .unwrap_or_else(|error| panic!("{error}"))
    }

    fn paths(desired: &DesiredState, host: &str) -> Vec<String> {
        let redactor = Redactor::new(desired.secrets.clone());
        let host = desired
            .hosts
            .get(host)
            .unwrap_or_else(|| panic!("no host {host}"));
        host_files(host, &redactor)
            .into_iter()
            .map(|file| file.path)
            .collect()
    }

    #[test]
    fn a_standby_from_version_12_gets_standby_signal_and_no_recovery_conf() {
        let desired = desired("15");
        assert_eq!(
            paths(&desired, "db2"),
            [
                "/var/lib/postgresql/.pgpass",
                "/etc/postgresql/15/main/postgresql.conf",
                "/etc/postgresql/15/main/pg_hba.conf",
                "/var/lib/postgresql/15/main/standby.signal",
            ]
        );
        assert_eq!(
            paths(&desired, "db1"),
            [
                "/var/lib/postgresql/.pgpass",
                "/etc/postgresql/15/main/postgresql.conf",
                "/etc/postgresql/15/main/pg_hba.conf",
            ]
        );
    }

    #[test]
    fn a_standby_before_version_12_gets_recovery_conf() {
        assert_eq!(
            paths(&desired("11"), "db2"),
            [
                "/var/lib/postgresql/.pgpass",
                "/etc/postgresql/11/main/postgresql.conf",
                "/etc/postgresql/11/main/pg_hba.conf",
                "/var/lib/postgresql/11/main/recovery.conf",
            ]
        );
    }

    #[test]
    fn a_sensitive_file_is_written_as_a_placeholder() {
        let desired = desired("15");
        let redactor = Redactor::new(desired.secrets.clone());
        let files = host_files(&desired.hosts["db1"], &redactor);
        let pgpass = files
            .iter()
            .find(|file| file.path.ends_with(".pgpass"))
            .unwrap_or_else(|| panic!("no .pgpass in {files:?}"));
        assert!(pgpass.sensitive);
        assert_eq!(pgpass.content, SENSITIVE_PLACEHOLDER);
        assert!(files.iter().all(|file| !file.content.contains("secret-pw")));
    }

    #[test]
    fn destinations_mirror_absolute_paths_and_never_leave_the_output() {
        let out = Path::new("/tmp/out");
        assert_eq!(
            destination(out, "/etc/postgresql/15/main/postgresql.conf"),
            Some(PathBuf::from(
                "/tmp/out/etc/postgresql/15/main/postgresql.conf"
            ))
        );
        assert_eq!(
            destination(out, "./relative/file"),
            Some(PathBuf::from("/tmp/out/relative/file"))
        );
        assert_eq!(destination(out, "/etc/../../escape"), None);
    }
}
