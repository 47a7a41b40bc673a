//! Records a change of roles in the inventory file itself, as a `pg_role` host
//! variable on each host's own line, and a new major version as `pg_version`
//! where the file sets it, keeping every comment, the order and the layout of
//! the rest of the file. The edited text is parsed again and must give the
//! wanted roles or version, or nothing is written.

use super::{Input, Inventory, Role};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum EditError {
    #[error("host `{host}` is not written under a `hosts:` key of the inventory")]
    HostNotFound { host: String },
    #[error(
        "the entry of host `{host}` (line {line}) has a form pgconverge does not edit; set `pg_role: {role}` on it by hand"
    )]
    UnsupportedForm {
        host: String,
        line: usize,
        role: &'static str,
    },
    #[error(
        "pgconverge records roles only in an inventory that is one YAML file, and `{inventory}` is not ({reason}): set `pg_role` in it by hand"
    )]
    NotEditable { inventory: String, reason: String },
    #[error("the edited inventory does not give the wanted roles ({reason}); it was not written")]
    Unverified { reason: String },
    #[error(
        "`{inventory}` sets no `pg_version` in a form pgconverge edits and has no `all: vars:` mapping to add it to: set `pg_version: {version}` in it by hand"
    )]
    NoVersionLine { inventory: String, version: String },
    #[error("cannot write `{path}`: {reason}")]
    Write { path: String, reason: String },
    #[error("{0}")]
    Replace(#[from] crate::replace_file::ReplaceError),
}

fn role_name(role: Role) -> &'static str {
    match role {
        Role::Primary => "primary",
        Role::Standby => "standby",
        Role::Archive => "archive",
        Role::Pgbouncer => "pgbouncer",
    }
}

/// Sets `pg_role` on each host, in the text of an inventory.
pub fn set_roles(text: &str, roles: &[(&str, Role)]) -> Result<String, EditError> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for (host, role) in roles {
        set_role(&mut lines, host, *role)?;
    }
    let mut edited = lines.join("\n");
    if text.ends_with('\n') {
        edited.push('\n');
    }
    Ok(edited)
}

/// Edits the file in place (through a temporary file and a rename) after checking
/// that the result parses to the wanted roles.
/// The one YAML file roles can be recorded in, or why there is none: several
/// sources, a directory, or a file in another format.
pub fn editable_file(input: &Input) -> Result<&Path, EditError> {
    let refuse = |reason: &str| EditError::NotEditable {
        inventory: input.display(),
        reason: reason.to_string(),
    };
    let [path] = input.sources.as_slice() else {
        return Err(refuse("it has several sources"));
    };
    if path.is_dir() {
        return Err(refuse("it is a directory"));
    }
    let extension = path.extension().and_then(|extension| extension.to_str());
    if !matches!(extension, Some("yml" | "yaml")) {
        return Err(refuse("its name does not end in .yml or .yaml"));
    }
    Ok(path)
}

pub fn write_roles(input: &Input, roles: &[(&str, Role)]) -> Result<(), EditError> {
    let path = editable_file(input)?;
    let write_error = |reason: String| EditError::Write {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|error| write_error(error.to_string()))?;
    let edited = set_roles(&text, roles)?;
    // The edited file is checked with everything else the inventory reads
    // (group_vars, host_vars, vault passwords) before it replaces the file.
    let inventory = Inventory::load_input_with(input, path, &edited).map_err(|error| {
        EditError::Unverified {
            reason: error.to_string(),
        }
    })?;
    for (host, role) in roles {
        if inventory.hosts.get(*host).map(|found| found.role) != Some(*role) {
            return Err(EditError::Unverified {
                reason: format!("`{host}` would not be {}", role_name(*role)),
            });
        }
    }
    // The edited file keeps the mode, owner and group of the one it replaces.
    crate::replace_file::write_keeping_mode_and_owner(path, edited.as_bytes())?;
    Ok(())
}

/// Sets `pg_version` to `version` on every line of an inventory's text that sets
/// it (keeping a comment after the value), or, when none does, as the first
/// variable of `all: vars:`.
pub fn set_version(text: &str, version: &str) -> Option<String> {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut found = false;
    for line in &mut lines {
        let trimmed = line.trim_start();
        let Some(rest) = trimmed.strip_prefix("pg_version:") else {
            continue;
        };
        // What follows the value (spaces and a comment) stays as written.
        let value = rest.trim_start();
        let end = value.find(char::is_whitespace).unwrap_or(value.len());
        let comment = value[end..].to_string();
        let own = indentation(line);
        *line = format!("{}pg_version: {version}{comment}", " ".repeat(own));
        found = true;
    }
    if !found {
        let all = lines
            .iter()
            .position(|line| line.trim_end() == "all:" && indentation(line) == 0)?;
        let vars = (all + 1..lines.len())
            .take_while(|&index| !is_content(&lines[index]) || indentation(&lines[index]) > 0)
            .find(|&index| lines[index].trim_end().trim_start() == "vars:")?;
        let own = indentation(&lines[vars]);
        let child = (vars + 1..lines.len())
            .find(|&index| is_content(&lines[index]))
            .map(|index| indentation(&lines[index]))
            .filter(|indent| *indent > own)
            .unwrap_or(own + 2);
        lines.insert(
            vars + 1,
            format!("{}pg_version: {version}", " ".repeat(child)),
        );
    }
    let mut edited = lines.join("\n");
    if text.ends_with('\n') {
        edited.push('\n');
    }
    Some(edited)
}

/// Records `pg_version: version` in the inventory file, checked as `write_roles`
/// checks roles: the edited file, read with everything beside it, must give every
/// host that version.
pub fn write_version(input: &Input, version: crate::versions::PgVersion) -> Result<(), EditError> {
    let path = editable_file(input)?;
    let write_error = |reason: String| EditError::Write {
        path: path.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|error| write_error(error.to_string()))?;
    let written = version.to_string();
    let edited = set_version(&text, &written).ok_or_else(|| EditError::NoVersionLine {
        inventory: input.display(),
        version: written.clone(),
    })?;
    // The inventory as read without the override this command may have added.
    let plain = Input {
        extra_vars: Vec::new(),
        ..input.clone()
    };
    let inventory = Inventory::load_input_with(&plain, path, &edited).map_err(|error| {
        EditError::Unverified {
            reason: error.to_string(),
        }
    })?;
    if let Some(host) = inventory
        .hosts
        .values()
        .find(|host| host.settings.pg_version != version)
    {
        return Err(EditError::Unverified {
            reason: format!(
                "`{}` would still have pg_version {} (set in group_vars or host_vars?)",
                host.name, host.settings.pg_version
            ),
        });
    }
    // The edited file keeps the mode, owner and group of the one it replaces.
    crate::replace_file::write_keeping_mode_and_owner(path, edited.as_bytes())?;
    Ok(())
}

fn indentation(line: &str) -> usize {
    line.len() - line.trim_start().len()
}

fn is_content(line: &str) -> bool {
    let trimmed = line.trim();
    !trimmed.is_empty() && !trimmed.starts_with('#')
}

/// The line where `host` is a key under a `hosts:` mapping.
fn host_line(lines: &[String], host: &str) -> Option<usize> {
    let key = format!("{host}:");
    (0..lines.len()).find(|&index| {
        let line = &lines[index];
        let trimmed = line.trim_start();
        let is_key = trimmed
            .strip_prefix(&key)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
        is_key && {
            let own = indentation(line);
            let parent = lines[..index]
                .iter()
                .rev()
                .find(|line| is_content(line) && indentation(line) < own);
            parent.is_some_and(|parent| {
                parent
                    .trim()
                    .trim_end_matches(|c: char| c.is_whitespace())
                    .starts_with("hosts:")
            })
        }
    })
}

fn set_role(lines: &mut Vec<String>, host: &str, role: Role) -> Result<(), EditError> {
    let index = host_line(lines, host).ok_or_else(|| EditError::HostNotFound {
        host: host.to_string(),
    })?;
    let name = role_name(role);
    let line = lines[index].clone();
    let own = indentation(&line);
    let value = line.trim_start()[host.len() + 1..].trim();
    let unsupported = || EditError::UnsupportedForm {
        host: host.to_string(),
        line: index + 1,
        role: name,
    };
    if let Some(inner) = value
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
    {
        if inner.contains(['{', '[', '#']) {
            return Err(unsupported());
        }
        let mut pairs: Vec<String> = inner
            .split(',')
            .map(|pair| pair.trim().to_string())
            .filter(|pair| !pair.is_empty())
            .collect();
        match pairs.iter_mut().find(|pair| {
            pair.split(':')
                .next()
                .is_some_and(|key| key.trim() == "pg_role")
        }) {
            Some(pair) => *pair = format!("pg_role: {name}"),
            None => pairs.push(format!("pg_role: {name}")),
        }
        lines[index] = format!("{}{host}: {{ {} }}", " ".repeat(own), pairs.join(", "));
        return Ok(());
    }
    if value == "~" || value == "null" {
        lines[index] = format!("{}{host}: {{ pg_role: {name} }}", " ".repeat(own));
        return Ok(());
    }
    if !(value.is_empty() || value.starts_with('#')) {
        return Err(unsupported());
    }
    // A block mapping (or nothing): its children are the following deeper lines.
    let children: Vec<usize> = (index + 1..lines.len())
        .take_while(|&child| !is_content(&lines[child]) || indentation(&lines[child]) > own)
        .filter(|&child| is_content(&lines[child]))
        .collect();
    if let Some(&existing) = children
        .iter()
        .find(|&&child| lines[child].trim_start().starts_with("pg_role:"))
    {
        lines[existing] = format!(
            "{}pg_role: {name}",
            " ".repeat(indentation(&lines[existing]))
        );
        return Ok(());
    }
    let child_indent = children
        .first()
        .map(|&child| indentation(&lines[child]))
        .unwrap_or(own + 2);
    lines.insert(
        index + 1,
        format!("{}pg_role: {name}", " ".repeat(child_indent)),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_recorded_only_in_one_yaml_file() {
        let input = |sources: &[&str]| Input {
            sources: sources.iter().map(std::path::PathBuf::from).collect(),
            ..Input::default()
        };
        assert!(editable_file(&input(&["inventory.yaml"])).is_ok());
        let refused = |sources: &[&str]| {
            editable_file(&input(sources))
                .map(|_| ())
                .unwrap_err()
                .to_string()
        };
        assert_eq!(
            refused(&["hosts"]),
            "pgconverge records roles only in an inventory that is one YAML file, and `hosts` is not (its name does not end in .yml or .yaml): set `pg_role` in it by hand"
        );
        assert!(refused(&["a.yml", "b.yml"]).contains("(it has several sources)"));
        assert!(refused(&["."]).contains("(it is a directory)"));
    }

    const INVENTORY: &str = "# The cluster\nall:\n  vars:\n    pg_version: 15  # keep\n  children:\n    primary:\n      hosts:\n        h1: { ansible_host: 10.0.0.11 }\n    standby:\n      hosts:\n        h2:\n          # the new one\n          ansible_host: 10.0.0.12\n        h3: { ansible_host: 10.0.0.13, pg_role: standby }\n        h4:\n";

    #[test]
    fn roles_are_set_on_every_form_of_host_entry_keeping_the_rest() {
        let edited = set_roles(
            INVENTORY,
            &[
                ("h1", Role::Standby),
                ("h2", Role::Primary),
                ("h3", Role::Primary),
                ("h4", Role::Standby),
            ],
        )
        .expect("edits");
        insta::assert_snapshot!(edited, @r"
        # The cluster
        all:
          vars:
            pg_version: 15  # keep
          children:
            primary:
              hosts:
                h1: { ansible_host: 10.0.0.11, pg_role: standby }
            standby:
              hosts:
                h2:
                  pg_role: primary
                  # the new one
                  ansible_host: 10.0.0.12
                h3: { ansible_host: 10.0.0.13, pg_role: primary }
                h4:
                  pg_role: standby
        ");
    }

    #[test]
    fn the_version_is_set_where_it_is_written_keeping_the_comment() {
        let edited = set_version(INVENTORY, "17").expect("edits");
        assert_eq!(
            edited,
            INVENTORY.replace("pg_version: 15  # keep", "pg_version: 17  # keep")
        );
        let text = edited.replace("# keep", "# keep\n    replication_password: x");
        let parsed = Inventory::parse(std::path::Path::new("i.yaml"), &text, &|_| None)
            .unwrap_or_else(|error| panic!("{error}"));
        assert!(
            parsed
                .hosts
                .values()
                .all(|host| host.settings.pg_version == crate::versions::PgVersion(1700))
        );
    }

    #[test]
    fn a_version_written_nowhere_goes_first_into_all_vars() {
        let text = "# hosts\nall:\n  vars:\n    replication_password: x  # secret\n  children:\n    primary:\n      hosts:\n        h1:\n";
        let edited = set_version(text, "17").expect("edits");
        insta::assert_snapshot!(edited, @r"
        # hosts
        all:
          vars:
            pg_version: 17
            replication_password: x  # secret
          children:
            primary:
              hosts:
                h1:
        ");
        assert_eq!(set_version("all:\n  hosts:\n    h1:\n", "17"), None);
    }

    #[test]
    fn a_second_edit_replaces_rather_than_adds() {
        let once = set_roles(INVENTORY, &[("h2", Role::Primary)]).expect("edits");
        let twice = set_roles(&once, &[("h2", Role::Standby)]).expect("edits");
        assert_eq!(twice.matches("pg_role").count(), 2, "{twice}");
        assert!(
            twice.contains("          pg_role: standby\n          # the new one"),
            "{twice}"
        );
    }

    #[test]
    fn unknown_host_and_unsupported_forms_are_refused() {
        assert!(matches!(
            set_roles(INVENTORY, &[("h9", Role::Primary)]),
            Err(EditError::HostNotFound { .. })
        ));
        let anchored = "all:\n  hosts:\n    h1: &base { a: { b: 1 } }\n";
        assert!(matches!(
            set_roles(anchored, &[("h1", Role::Primary)]),
            Err(EditError::UnsupportedForm { line: 3, .. })
        ));
    }

    #[test]
    fn write_inventory_keeps_the_files_mode() {
        use std::os::unix::fs::PermissionsExt;
        let directory = tempfile::tempdir().expect("a temporary directory");
        let path = directory.path().join("inventory.yml");
        let text = "all:\n  vars:\n    replication_password: secret-pw\n  children:\n    primary:\n      hosts:\n        h1:\n    standby:\n      hosts:\n        h2:\n";
        std::fs::write(&path, text).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let input = Input::from_path(&path);
        write_roles(&input, &[("h2", Role::Primary), ("h1", Role::Standby)])
            .unwrap_or_else(|error| panic!("{error}"));
        let written = std::fs::read_to_string(&path).expect("read");
        assert!(written.contains("pg_role: primary"), "{written}");
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o640);
        write_version(
            &input,
            crate::versions::PgVersion::parse(&serde_json::json!(16)).expect("a version"),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        let mode = std::fs::metadata(&path)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o7777, 0o640);
        // Only the inventory is left in the directory: no temporary file.
        assert_eq!(
            std::fs::read_dir(directory.path()).expect("listed").count(),
            1
        );
    }
}
