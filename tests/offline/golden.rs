//! Golden files: the configuration pgconverge renders for a primary and a standby
//! of every PostgreSQL major version it supports, pinned under `tests/golden/`
//! as `VERSION/ROLE/FILE` (for example `tests/golden/9.6/standby/recovery.conf`),
//! so that a reviewer can open exactly what a host of that version gets.
//!
//! A standby of PostgreSQL 12 or later has `standby.signal` (empty, as the
//! `recovery_config` step writes it) where older ones have `recovery.conf`.
//!
//! After an intended change to the templates or to `src/versions.rs`, regenerate
//! the files and review the difference:
//!
//! ```sh
//! PGCONVERGE_UPDATE_GOLDEN=1 cargo test --test offline golden::
//! git diff tests/golden
//! ```

use pgconverge::actions::DesiredStep;
use pgconverge::actions::recovery::RecoveryConfig;
use pgconverge::desired::DesiredState;
use pgconverge::inventory::Inventory;
use pgconverge::playbook::Playbook;
use pgconverge::render::Renderer;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Every major version pgconverge renders: the warm standbys of 8.3 and 8.4,
/// then each version with streaming replication.
const VERSIONS: &[&str] = &[
    "8.3", "8.4", "9.0", "9.1", "9.2", "9.3", "9.4", "9.5", "9.6", "10", "11", "12", "13", "14",
    "15", "16", "17", "18",
];

/// The password of the golden inventory; no rendered file may contain it.
const PASSWORD: &str = "golden-replication-password";

/// Set to regenerate the golden files instead of comparing with them.
const UPDATE_VARIABLE: &str = "PGCONVERGE_UPDATE_GOLDEN";

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden")
}

/// A primary `db1` and a standby `db2` of `version`, everything else defaulted.
fn inventory_text(version: &str) -> String {
    format!(
        "all:
  vars:
    pg_version: \"{version}\"
    replication_password: {PASSWORD}
  children:
    primary:
      hosts:
        db1: {{ ansible_host: 10.0.0.11 }}
    standby:
      hosts:
        db2: {{ ansible_host: 10.0.0.12 }}
"
    )
}

/// The files of one version, keyed by their path under `tests/golden/`.
fn rendered_files(version: &str) -> BTreeMap<String, String> {
    let inventory = Inventory::parse(
        Path::new("inventory.yaml"),
        &inventory_text(version),
        &|_| None,
    )
    .unwrap_or_else(|error| panic!("PostgreSQL {version}: the inventory is invalid:\n{error}"));
    let playbook = Playbook::load(None).unwrap_or_else(|error| panic!("{error}"));
    let desired = DesiredState::build(&inventory, &playbook, &Renderer::new(None))
        .unwrap_or_else(|error| panic!("PostgreSQL {version}: rendering failed:\n{error}"));
    let mut files = BTreeMap::new();
    for (host, role) in [("db1", "primary"), ("db2", "standby")] {
        let Some(desired_host) = desired.hosts.get(host) else {
            panic!("PostgreSQL {version}: no desired state for {host}");
        };
        let mut add = |name: &str, content: &str| {
            files.insert(format!("{version}/{role}/{name}"), content.to_string());
        };
        for (step, name) in [
            ("postgresql_conf", "postgresql.conf"),
            ("pg_hba_conf", "pg_hba.conf"),
        ] {
            match desired_host.steps.get(step) {
                Some(step) if step.rendered_file().is_some() => add(
                    name,
                    &step
                        .rendered_file()
                        .map(|file| file.content.clone())
                        .unwrap_or_default(),
                ),
                other => panic!("PostgreSQL {version}: {host}/{step} is not a file: {other:?}"),
            }
        }
        match desired_host.steps.get("recovery_config") {
            None if role == "primary" => {}
            Some(DesiredStep::RecoveryConfig(RecoveryConfig {
                recovery_conf: Some(file),
            })) => {
                assert!(
                    file.path.ends_with("/recovery.conf"),
                    "PostgreSQL {version}: recovery.conf is written to {}",
                    file.path
                );
                add("recovery.conf", &file.content);
            }
            Some(DesiredStep::RecoveryConfig(RecoveryConfig {
                recovery_conf: None,
            })) => add("standby.signal", ""),
            other => {
                panic!("PostgreSQL {version}: unexpected recovery_config of {host}: {other:?}")
            }
        }
    }
    files
}

/// Compares every rendered file of every version with its golden file, or
/// rewrites the golden files when `PGCONVERGE_UPDATE_GOLDEN` is set, and reports
/// every difference (and every golden file nothing renders any more) at once.
fn check_golden_files(versions: &[&str]) {
    let update = std::env::var_os(UPDATE_VARIABLE).is_some();
    let root = golden_dir();
    let mut expected = BTreeMap::new();
    for version in versions {
        expected.extend(rendered_files(version));
    }
    let mut problems = Vec::new();
    for (relative, content) in &expected {
        assert!(
            !content.contains(PASSWORD),
            "{relative} contains the replication password"
        );
        let path = root.join(relative);
        let golden = std::fs::read_to_string(&path).ok();
        if golden.as_deref() == Some(content.as_str()) {
            continue;
        }
        if update {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).expect("create a golden directory");
            }
            std::fs::write(&path, content).expect("write a golden file");
            continue;
        }
        match golden {
            None => problems.push(format!("{relative}: no golden file")),
            Some(golden) => {
                let diff = similar::TextDiff::from_lines(&golden, content);
                let shown = diff
                    .unified_diff()
                    .header(&format!("golden/{relative}"), "rendered")
                    .to_string();
                problems.push(format!("{relative} differs:\n{shown}"));
            }
        }
    }
    for relative in golden_files(&root) {
        if expected.contains_key(&relative) {
            continue;
        }
        if update {
            std::fs::remove_file(root.join(&relative)).expect("remove a stale golden file");
        } else {
            problems.push(format!(
                "{relative}: nothing renders this golden file any more"
            ));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\nIf the change is intended: {UPDATE_VARIABLE}=1 cargo test --test offline golden::",
        problems.join("\n")
    );
}

/// Every file under `root`, as paths relative to it with `/` separators.
fn golden_files(root: &Path) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(directory) = pending.pop() {
        let Ok(entries) = std::fs::read_dir(&directory) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else if let Ok(relative) = path.strip_prefix(root) {
                let parts: Vec<String> = relative
                    .components()
                    .map(|part| part.as_os_str().to_string_lossy().into_owned())
                    .collect();
                found.push(parts.join("/"));
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_supported_version_renders_its_golden_files() {
    check_golden_files(VERSIONS);
}
