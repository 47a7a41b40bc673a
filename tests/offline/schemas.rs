//! The JSON Schemas of `docs/schemas/`: each is a valid draft 2020-12 schema,
//! every versioned document the source makes has one, and the documents the
//! binary prints without a host (`validate`, `connections`, and `apply`,
//! `status`, `check`, `upgrade`, `backup` with no host reachable) match them.
//! The library's tests hold richer documents made from fake facts to the same
//! schemas; the lab's saved-plan test holds those of a real cluster.

use crate::commands::{PASSWORD, pgconverge, read, repository, run, temporary_directory, write};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each source file that declares a versioned document (a `format_version`
/// field, or one in a `json!` literal), the schema that describes it, and the
/// file that holds the document's version number.
const DOCUMENTS: &[(&str, &str, &str)] = &[
    ("src/plan/document.rs", "plan", "src/plan/document.rs"),
    ("src/plan/saved.rs", "saved-plan", "src/plan/document.rs"),
    ("src/status/report.rs", "status", "src/status/report.rs"),
    ("src/health/mod.rs", "check", "src/health/mod.rs"),
    ("src/cli/validate.rs", "validate", "src/cli/validate.rs"),
    ("src/connections.rs", "connections", "src/connections.rs"),
    (
        "src/upgrade/gates.rs",
        "upgrade-gates",
        "src/upgrade/gates.rs",
    ),
];

/// Where a schema's references to the others resolve: `saved-plan.schema.json`
/// names `plan.schema.json` beside it.
const SCHEMA_BASE: &str = "file:///pgconverge/docs/schemas/";

fn schema_directory() -> PathBuf {
    repository().join("docs/schemas")
}

/// Every `NAME.schema.json` of `docs/schemas/`, by name, parsed.
fn schemas() -> Vec<(String, serde_json::Value)> {
    let mut found = Vec::new();
    let directory = schema_directory();
    for entry in std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
    {
        let path = entry.unwrap_or_else(|error| panic!("{error}")).path();
        let Some(name) = path
            .file_name()
            .and_then(|name| name.to_str())
            .and_then(|name| name.strip_suffix(".schema.json"))
        else {
            continue;
        };
        let schema = serde_json::from_str(&read(&path))
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        found.push((name.to_string(), schema));
    }
    found.sort_by(|left, right| left.0.cmp(&right.0));
    found
}

/// Where `document` does not match `docs/schemas/{name}.schema.json`, one line
/// each; empty when it matches.
fn schema_problems(name: &str, document: &serde_json::Value) -> Vec<String> {
    let all = schemas();
    let registry =
        jsonschema::Registry::new()
            .extend(all.iter().map(|(other, schema)| {
                (format!("{SCHEMA_BASE}{other}.schema.json"), schema.clone())
            }))
            .and_then(jsonschema::RegistryBuilder::prepare)
            .unwrap_or_else(|error| panic!("the schemas do not load: {error}"));
    let schema = all
        .iter()
        .find(|(other, _)| other == name)
        .map(|(_, schema)| schema)
        .unwrap_or_else(|| panic!("no docs/schemas/{name}.schema.json"));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_base_uri(format!("{SCHEMA_BASE}{name}.schema.json"))
        .with_registry(&registry)
        .offline()
        .build(schema)
        .unwrap_or_else(|error| panic!("{name}.schema.json: {error}"));
    validator
        .iter_errors(document)
        .map(|error| format!("at `{}`: {error}", error.instance_path()))
        .collect()
}

/// Fails, naming each place, unless `text` is one JSON document valid under
/// `docs/schemas/{name}.schema.json`; returns the document.
fn assert_matches_schema(name: &str, text: &str) -> serde_json::Value {
    let document: serde_json::Value = serde_json::from_str(text)
        .unwrap_or_else(|error| panic!("not one JSON document ({error}):\n{text}"));
    let problems = schema_problems(name, &document);
    assert!(
        problems.is_empty(),
        "the document does not match {name}.schema.json:\n{}\n{text}",
        problems.join("\n")
    );
    assert!(!text.contains(PASSWORD), "the password is in:\n{text}");
    document
}

#[test]
fn every_schema_is_a_valid_draft_2020_12_schema_with_its_format_version() {
    let all = schemas();
    assert!(!all.is_empty(), "docs/schemas/ has no schema");
    for (name, schema) in &all {
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}.schema.json"
        );
        if let Err(error) = jsonschema::meta::validate(schema) {
            panic!("{name}.schema.json is no valid schema: {error}");
        }
        // It compiles, its references resolved.
        let problems = schema_problems(name, &serde_json::json!({}));
        assert!(
            problems
                .iter()
                .any(|problem| problem.contains("format_version")),
            "{name}.schema.json does not ask for `format_version`: {problems:?}"
        );
        assert!(
            schema["properties"]["format_version"]["const"].is_u64(),
            "{name}.schema.json pins no `format_version`"
        );
        assert_eq!(
            schema["additionalProperties"], false,
            "{name}.schema.json lets unknown fields pass"
        );
    }
}

/// The files of `directory` (recursively) whose name ends in `.rs`.
fn rust_files(directory: &Path, files: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(directory) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// Whether `code` declares a versioned document: a `format_version` field with
/// its type, or one in a `json!` literal.
fn declares_a_versioned_document(code: &str) -> bool {
    code.lines().any(|line| {
        let line = line.trim_start();
        !line.starts_with("//")
            && (is_field_declaration(line) || line.starts_with("\"format_version\":"))
    })
}

/// `format_version: u32,` (a field and its type), not `format_version: 1,` (a value).
fn is_field_declaration(line: &str) -> bool {
    let line = line.strip_prefix("pub ").unwrap_or(line);
    line.strip_prefix("format_version:")
        .map(|rest| rest.trim().trim_end_matches(','))
        .is_some_and(|rest| matches!(rest, "u8" | "u16" | "u32" | "u64" | "usize" | "i32" | "i64"))
}

/// The version number a file gives its document: `FORMAT_VERSION: u32 = N`,
/// or `format_version: N` where the document is made.
fn version_in(code: &str) -> Option<u64> {
    code.lines().find_map(|line| {
        let line = line.trim();
        let rest = line
            .split_once("FORMAT_VERSION: u32 =")
            .map(|(_, rest)| rest)
            .or_else(|| line.strip_prefix("format_version:"))
            .or_else(|| line.strip_prefix("\"format_version\":"))?;
        rest.trim().trim_end_matches([',', ';']).parse().ok()
    })
}

/// A new document type with a `format_version` fails here until it has a
/// schema, and a schema is never left without its document.
#[test]
fn every_versioned_document_has_a_schema() {
    let mut files = Vec::new();
    rust_files(&repository().join("src"), &mut files);
    // Workspace crates, where code moves out of `src/`.
    rust_files(&repository().join("crates"), &mut files);
    let mut declaring = BTreeSet::new();
    for file in &files {
        if declares_a_versioned_document(&read(file)) {
            let relative = file
                .strip_prefix(repository())
                .unwrap_or(file)
                .display()
                .to_string();
            declaring.insert(relative);
        }
    }
    let listed: BTreeSet<String> = DOCUMENTS
        .iter()
        .map(|(source, _, _)| source.to_string())
        .collect();
    let without_schema: Vec<&String> = declaring.difference(&listed).collect();
    assert!(
        without_schema.is_empty(),
        "these files declare a versioned document (`format_version`) that no schema in docs/schemas/ \
         describes: write one, and list it in DOCUMENTS ({}): {without_schema:?}",
        file!()
    );
    let gone: Vec<&String> = listed.difference(&declaring).collect();
    assert!(
        gone.is_empty(),
        "DOCUMENTS lists files that declare no document: {gone:?}"
    );
    let schema_names: BTreeSet<String> = schemas().into_iter().map(|(name, _)| name).collect();
    let described: BTreeSet<String> = DOCUMENTS
        .iter()
        .map(|(_, schema, _)| schema.to_string())
        .collect();
    assert_eq!(
        schema_names, described,
        "every schema in docs/schemas/ describes one document of DOCUMENTS, and each has its schema"
    );
    for (source, schema, versioned) in DOCUMENTS {
        let version = version_in(&read(&repository().join(versioned)))
            .unwrap_or_else(|| panic!("{versioned} gives {source}'s document no version number"));
        let pinned = schemas()
            .into_iter()
            .find(|(name, _)| name == schema)
            .map(|(_, schema)| schema["properties"]["format_version"]["const"].clone());
        assert_eq!(
            pinned,
            Some(version.into()),
            "{schema}.schema.json pins another `format_version` than {versioned}"
        );
    }
}

#[test]
fn the_document_scan_finds_fields_and_literals_but_not_values() {
    assert!(declares_a_versioned_document(
        "    pub format_version: u32,\n"
    ));
    assert!(declares_a_versioned_document("    format_version: u32,\n"));
    assert!(declares_a_versioned_document(
        "    let document = json!({\n        \"format_version\": 1,\n"
    ));
    assert!(!declares_a_versioned_document(
        "        format_version: FORMAT_VERSION,\n"
    ));
    assert!(!declares_a_versioned_document(
        "/// `format_version: u32` is the field\n"
    ));
    assert_eq!(version_in("pub const FORMAT_VERSION: u32 = 3;\n"), Some(3));
    assert_eq!(version_in("            format_version: 2,\n"), Some(2));
}

/// A document with a field the schema does not know, or without one it
/// requires, does not match: the schemas catch drift.
#[test]
fn the_schemas_refuse_drift() {
    let (_, stdout, _) = run(pgconverge(&repository()).args([
        "validate",
        "--format",
        "json",
        "-i",
        "inventory.example.yaml",
    ]));
    let document = assert_matches_schema("validate", &stdout);
    let mut added = document.clone();
    added["hosts"] = 3.into();
    assert!(!schema_problems("validate", &added).is_empty());
    let mut removed = document.clone();
    removed
        .as_object_mut()
        .map(|fields| fields.remove("summary"));
    assert!(!schema_problems("validate", &removed).is_empty());
    let mut newer = document;
    newer["format_version"] = 2.into();
    assert!(!schema_problems("validate", &newer).is_empty());
}

#[test]
fn validate_prints_documents_that_match_the_schema() {
    let (output, stdout, stderr) = run(pgconverge(&repository()).args([
        "validate",
        "--format",
        "json",
        "-i",
        "inventory.example.yaml",
    ]));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_matches_schema("validate", &stdout);

    // A host in no role group: valid, with a warning.
    let directory = temporary_directory();
    let example = read(&repository().join("inventory.example.yaml"));
    let with_stray = example.replace(
        "  children:\n",
        "  hosts:\n    stray: { ansible_host: 10.77.0.99 }\n  children:\n",
    );
    assert_ne!(with_stray, example);
    write(&directory.path().join("stray.yaml"), &with_stray);
    let (output, stdout, stderr) = run(pgconverge(directory.path()).args([
        "validate",
        "--format",
        "json",
        "-i",
        "stray.yaml",
    ]));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let document = assert_matches_schema("validate", &stdout);
    assert_eq!(document["warning_count"], 1, "{stdout}");

    // Broken: every error, no summary.
    let broken = example.replace(
        "    pg_version: 15\n",
        "    pg_version: 15\n    pg_port: 99999\n",
    );
    assert_ne!(broken, example);
    write(&directory.path().join("broken.yaml"), &broken);
    let (output, stdout, stderr) = run(pgconverge(directory.path()).args([
        "validate",
        "--format",
        "json",
        "-i",
        "broken.yaml",
    ]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let document = assert_matches_schema("validate", &stdout);
    assert_eq!(document["valid"], false, "{stdout}");
}

#[test]
fn connections_prints_a_document_that_matches_the_schema() {
    let (output, stdout, stderr) = run(pgconverge(&repository()).args([
        "connections",
        "--format",
        "json",
        "-i",
        "inventory.example.yaml",
    ]));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_matches_schema("connections", &stdout);
}

/// With no host reachable (no `ssh` on the `PATH`), each command still prints
/// its document, every host with its error: the plan, the saved plan, status,
/// check, the upgrade's gates, and the plans of backup and verify-backup.
#[test]
fn the_documents_of_commands_that_reach_no_host_match_their_schemas() {
    let directory = temporary_directory();
    let saved = directory.path().join("plan.json");
    let (output, stdout, stderr) = run(pgconverge(&repository()).args([
        "apply",
        "--dry-run",
        "--format",
        "json",
        "-i",
        "inventory.example.yaml",
        "--out",
        saved.to_str().unwrap_or_default(),
    ]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let plan = assert_matches_schema("plan", &stdout);
    assert_eq!(plan["summary"]["unreachable"], 3, "{stdout}");
    assert_matches_schema("saved-plan", &read(&saved));

    // Both say something is wrong: status that the cluster disagrees with the
    // inventory, check that it is CRITICAL.
    for (command, code) in [("status", 2), ("check", 2)] {
        let (output, stdout, stderr) = run(pgconverge(&repository()).args([
            command,
            "--format",
            "json",
            "-i",
            "inventory.example.yaml",
        ]));
        assert_eq!(output.status.code(), Some(code), "{command}: {stderr}");
        assert_matches_schema(command, &stdout);
    }

    let (output, stdout, stderr) = run(pgconverge(&repository()).args([
        "upgrade",
        "--dry-run",
        "--to",
        "17",
        "--format",
        "json",
        "-i",
        "inventory.example.yaml",
    ]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_matches_schema("upgrade-gates", &stdout);

    let example = read(&repository().join("inventory.example.yaml"));
    let text = example.replace(
        "    replication_user: replicator\n",
        "    replication_user: replicator\n    wal_archive: { pgbackrest: { repo_path: /var/lib/pgbackrest } }\n",
    );
    assert_ne!(text, example);
    write(&directory.path().join("inventory.yaml"), &text);
    for command in ["backup", "verify-backup"] {
        let (_, stdout, stderr) = run(pgconverge(directory.path()).args([
            command,
            "--dry-run",
            "--format",
            "json",
            "-i",
            "inventory.yaml",
        ]));
        assert!(!stdout.is_empty(), "{command}: {stderr}");
        assert_matches_schema("plan", &stdout);
    }
}
