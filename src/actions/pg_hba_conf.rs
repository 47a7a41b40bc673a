//! `pg_hba.conf`: pgconverge's rules (replication and pg_rewind from every member,
//! `pg_hba_extra`) in one managed block, the host's own rules kept where they are
//! (`adopt`, the default), or the whole file (`own`). The plan lists the rules added
//! and removed, and warns of a host rule that comes first and decides a connection a
//! managed rule is meant for.

use super::file::{ConfigCheck, DesiredFile};
use super::{Action, PlanContext, PlannedStep, StepInput};
use crate::diagnostic::Diagnostic;
use crate::facts::FactsRequest;
use crate::inventory::ConfigMode;
use crate::pgconf::hba;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PgHbaConf {
    /// In the `adopt` mode the content is the managed block's rules; in `own`, the file.
    pub file: DesiredFile,
    pub mode: ConfigMode,
}

impl Action for PgHbaConf {
    const PARAMETERS: &'static [&'static str] = &["template", "dest"];

    fn desire(input: &StepInput) -> Result<PgHbaConf, Diagnostic> {
        let dest = input.dest.clone().unwrap_or_default();
        let mut file = DesiredFile::from_step(input, dest, 0o640)?;
        file.check = Some(ConfigCheck::PgHbaConf);
        Ok(PgHbaConf {
            file,
            mode: input.settings.config_mode,
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.want_file(&self.file.path);
    }

    fn rendered_file(&self) -> Option<&DesiredFile> {
        Some(&self.file)
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        // In a data directory this run replaces (the layout of initdb), the block
        // goes into the upstream's file, which the base backup brings.
        let current = context
            .facts_of_path(&self.file.path)
            .and_then(|facts| facts.file(&self.file.path))
            .map(|file| String::from_utf8_lossy(&file.content).into_owned())
            .unwrap_or_default();
        let content = match self.mode {
            ConfigMode::Own => self.file.content.clone(),
            ConfigMode::Adopt => match hba::with_block(&current, &self.file.content) {
                Ok(content) => content,
                Err(problem) => {
                    return PlannedStep::refused(format!(
                        "{}: {problem}; put the block back together or remove its marker lines",
                        self.file.path
                    ));
                }
            },
        };
        let wanted = DesiredFile {
            content,
            ..self.file.clone()
        };
        let mut planned = wanted.plan(context);
        planned.warnings = hba::shadowed(&wanted.content)
            .iter()
            .map(|(earlier, managed)| {
                format!(
                    "{} line {} `{}` comes before pgconverge's rule `{}` and decides its connections with `{}`",
                    self.file.path, earlier.line, earlier.text, managed.text, earlier.method
                )
            })
            .collect();
        if !planned.change.is_change() {
            return planned;
        }
        let (added, removed) = hba::rule_changes(&current, &wanted.content);
        let dropped = if self.mode == ConfigMode::Own {
            "  (dropped)"
        } else {
            ""
        };
        planned.details = grouped(&added)
            .into_iter()
            .map(|rule| format!("+ {rule}"))
            .chain(
                removed
                    .iter()
                    .map(|rule| format!("- {}  (line {}){dropped}", rule.text, rule.line)),
            )
            .collect();
        if !current.is_empty() && current != wanted.content {
            let kept = hba::rules(&wanted.content)
                .iter()
                .filter(|rule| !rule.managed)
                .count();
            let rules = |count: usize| match count {
                1 => "1 rule".to_string(),
                n => format!("{n} rules"),
            };
            planned.summary = match self.mode {
                ConfigMode::Adopt => format!(
                    "{}; {} added, {} removed, the host's {} kept",
                    planned.summary,
                    rules(added.len()),
                    rules(removed.len()),
                    rules(kept)
                ),
                ConfigMode::Own => format!(
                    "replace {} whole (pg_config_mode: own); {} added, {} dropped",
                    self.file.path,
                    rules(added.len()),
                    rules(removed.len())
                ),
            };
        } else {
            planned.details.clear();
        }
        planned
    }
}

/// Rules that differ only in their address, one line for all of them:
/// `host replication replicator {10.0.0.11/32, 10.0.0.12/32} scram-sha-256`.
fn grouped(rules: &[hba::Rule]) -> Vec<String> {
    let mut groups: Vec<(String, Vec<&str>)> = Vec::new();
    for rule in rules {
        let Some(address) = rule.address.as_deref() else {
            groups.push((rule.text.clone(), Vec::new()));
            continue;
        };
        let pattern = rule.text.replacen(address, "{}", 1);
        match groups
            .iter_mut()
            .find(|(other, addresses)| *other == pattern && !addresses.is_empty())
        {
            Some((_, addresses)) => addresses.push(address),
            None => groups.push((pattern, vec![address])),
        }
    }
    groups
        .into_iter()
        .map(|(pattern, addresses)| match addresses.as_slice() {
            [] => pattern,
            [one] => pattern.replacen("{}", one, 1),
            many => pattern.replacen("{}", &format!("{{{}}}", many.join(", ")), 1),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    #[test]
    fn a_fresh_host_keeps_its_rules_and_gets_the_managed_block() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db1", "pg_hba_conf"));
    }

    #[test]
    fn a_converged_file_is_left_alone() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db1", "pg_hba_conf"));
    }
}
