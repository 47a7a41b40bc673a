//! The paths the plan compares: each requested file's attributes and content,
//! each directory's attributes, each link with where it leads (never read
//! through), and whether the PostgreSQL OS user can read the files a new
//! configuration names (`files.sh`, reading as that user).

use super::parse::{FactsError, Records};
use super::{FactsRequest, HostFacts, ObservedFile, PathAttributes};
use crate::script::Script;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const SCRIPT: &str = include_str!("files.sh");

/// Adds the request's paths, as lists whose order names the records, and the
/// piece that reads them.
pub(super) fn ask(script: Script, request: &FactsRequest) -> Script {
    script
        .list("FACTS_FILES", &request.files)
        .list("FACTS_DIRECTORIES", &request.directories)
        .list("FACTS_READABLE", &request.readable)
        .piece(SCRIPT)
}

pub(super) fn read(
    request: &FactsRequest,
    records: &Records,
    facts: &mut HostFacts,
) -> Result<(), FactsError> {
    for (index, path) in request.files.iter().enumerate() {
        if let Some(target) = records.text(&format!("file.{index}.link")) {
            facts.links.insert(path.clone(), target);
        }
        if records.text(&format!("file.{index}.unreadable")).is_some() {
            facts.unreadable.push(path.clone());
        }
        if let Some(stat) = records.text(&format!("file.{index}.stat")) {
            let key = format!("file.{index}.content");
            let content = match records.bytes(&key) {
                Some(encoded) => STANDARD
                    .decode(encoded)
                    .map_err(|_| FactsError::BadEncoding { key })?,
                None => Vec::new(),
            };
            let attributes = parse_attributes(&format!("file.{index}.stat"), &stat)?;
            facts.files.insert(
                path.clone(),
                ObservedFile {
                    attributes,
                    content,
                },
            );
        }
    }
    for (index, path) in request.readable.iter().enumerate() {
        if let Some(answer) = records.text(&format!("readable.{index}")) {
            facts.readable.insert(path.clone(), answer == "yes");
        }
    }
    for (index, path) in request.directories.iter().enumerate() {
        if let Some(target) = records.text(&format!("directory.{index}.link")) {
            facts.links.insert(path.clone(), target);
        }
        if let Some(stat) = records.text(&format!("directory.{index}.stat")) {
            facts.directories.insert(
                path.clone(),
                parse_attributes(&format!("directory.{index}.stat"), &stat)?,
            );
        }
    }
    Ok(())
}

fn parse_attributes(key: &str, stat: &str) -> Result<PathAttributes, FactsError> {
    let bad = || FactsError::BadValue {
        key: key.to_string(),
        value: stat.to_string(),
    };
    let fields: Vec<&str> = stat.trim().split(':').collect();
    let [owner, group, mode, modified] = fields.as_slice() else {
        return Err(bad());
    };
    Ok(PathAttributes {
        owner: owner.to_string(),
        group: group.to_string(),
        mode: u32::from_str_radix(mode, 8).map_err(|_| bad())?,
        modified: modified.parse().map_err(|_| bad())?,
    })
}
