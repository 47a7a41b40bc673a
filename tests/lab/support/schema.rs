//! The lab's side of the JSON Schemas in `docs/schemas/`: a document a real
//! cluster gave is held to its schema, as the offline tests hold the documents
//! made without hosts and the library's tests those made from fake facts.

use std::path::Path;

/// Where a schema's references to the others resolve: `saved-plan.schema.json`
/// names `plan.schema.json` beside it.
const SCHEMA_BASE: &str = "file:///pgconverge/docs/schemas/";

/// Fails, naming each place, unless `text` is one JSON document valid under
/// `docs/schemas/{name}.schema.json` (`plan`, `saved-plan`, `status`, `check`,
/// ...); returns the document.
pub fn assert_matches_schema(name: &str, text: &str) -> serde_json::Value {
    let document: serde_json::Value = serde_json::from_str(text)
        .unwrap_or_else(|error| panic!("not one JSON document ({error}):\n{text}"));
    let directory = super::repository().join("docs/schemas");
    let read = |path: &Path| -> serde_json::Value {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|error| panic!("{}: {error}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    };
    let mut schemas = Vec::new();
    for entry in std::fs::read_dir(&directory)
        .unwrap_or_else(|error| panic!("{}: {error}", directory.display()))
    {
        let path = entry.unwrap_or_else(|error| panic!("{error}")).path();
        let file = path
            .file_name()
            .map(|file| file.to_string_lossy().into_owned())
            .unwrap_or_default();
        if file.ends_with(".schema.json") {
            schemas.push((format!("{SCHEMA_BASE}{file}"), read(&path)));
        }
    }
    let registry = jsonschema::Registry::new()
        .extend(schemas)
        .and_then(jsonschema::RegistryBuilder::prepare)
        .unwrap_or_else(|error| panic!("the schemas do not load: {error}"));
    let file = format!("{name}.schema.json");
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .with_base_uri(format!("{SCHEMA_BASE}{file}"))
        .with_registry(&registry)
        .offline()
        .build(&read(&directory.join(&file)))
        .unwrap_or_else(|error| panic!("{file}: {error}"));
    let problems: Vec<String> = validator
        .iter_errors(&document)
        .map(|error| format!("at `{}`: {error}", error.instance_path()))
        .collect();
    assert!(
        problems.is_empty(),
        "the document does not match {file}:\n{}\n{text}",
        problems.join("\n")
    );
    document
}
