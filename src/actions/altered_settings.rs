//! Settings made with `ALTER SYSTEM` (`postgresql.auto.conf`, read after every other
//! file): one that overrides a setting pgconverge manages is drift, shown in the plan
//! and reset; the others are the host's and are left alone (`status` lists them).

use super::{
    Action, AppliesBy, Change, PlanContext, PlannedStep, RemoteOperation, SettingChange, StepInput,
};
use crate::diagnostic::Diagnostic;
use crate::facts::{FactsRequest, HostFacts};
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use indexmap::IndexMap;
use serde::Serialize;

/// The file `ALTER SYSTEM` writes, in the data directory.
pub const AUTO_CONF: &str = "postgresql.auto.conf";

/// The step; the settings it protects are those the host's `postgresql_conf`
/// step manages (`Member::managed_settings`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlteredSettings {
    pub path: String,
}

/// Resets settings made with `ALTER SYSTEM`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResetAlteredSettings {
    pub names: Vec<String>,
    #[serde(skip)]
    pub server: HostSettings,
}

/// The settings a host's `postgresql.auto.conf` makes, by name, from its facts.
pub fn altered(facts: &HostFacts, settings: &HostSettings) -> IndexMap<String, String> {
    facts
        .file(&auto_conf_path(settings))
        .map(|file| crate::pgconf::settings(&String::from_utf8_lossy(&file.content)))
        .unwrap_or_default()
}

pub fn auto_conf_path(settings: &HostSettings) -> String {
    format!("{}/{AUTO_CONF}", settings.data_dir)
}

/// A name `ALTER SYSTEM RESET` and the script may be given: what PostgreSQL's
/// names are made of.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

impl Action for AlteredSettings {
    fn desire(input: &StepInput) -> Result<AlteredSettings, Diagnostic> {
        Ok(AlteredSettings {
            path: auto_conf_path(input.settings),
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.want_file(&self.path);
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let altered = context
            .facts_of_path(&self.path)
            .map(|facts| altered(facts, context.settings()))
            .unwrap_or_default();
        let overriding: Vec<(&String, &String)> = altered
            .iter()
            .filter(|(name, _)| context.host.managed_settings.contains_key(*name))
            .collect();
        if overriding.is_empty() {
            return PlannedStep::noop(format!(
                "no setting made with ALTER SYSTEM overrides one pgconverge manages ({} left alone)",
                altered.len()
            ));
        }
        if let Some((name, _)) = overriding.iter().find(|(name, _)| !plain_name(name)) {
            return PlannedStep::refused(format!(
                "{} sets {name:?}, which is no setting name pgconverge can reset",
                self.path
            ));
        }
        let names: Vec<String> = overriding.iter().map(|(name, _)| (*name).clone()).collect();
        let operation = ResetAlteredSettings {
            names: names.clone(),
            server: context.settings().clone(),
        };
        let server = context.facts.server.as_ref();
        let setting_changes: Vec<SettingChange> = overriding
            .iter()
            .map(|(name, value)| {
                let observed = server.and_then(|server| server.settings.get(name.as_str()));
                SettingChange {
                    name: (*name).clone(),
                    before: Some((*value).clone()),
                    after: context.host.managed_settings.get(name.as_str()).cloned(),
                    applies_by: AppliesBy::of(observed),
                }
            })
            .collect();
        PlannedStep {
            details: overriding
                .iter()
                .zip(&setting_changes)
                .map(|((name, value), change)| {
                    format!(
                        "- {name} = '{value}'  (ALTER SYSTEM; reset to postgresql.conf's value, {})",
                        change.applies_by.name()
                    )
                })
                .collect(),
            setting_changes,
            ..PlannedStep::change(
                Change::Update,
                format!(
                    "reset what ALTER SYSTEM set over managed settings: {}",
                    names.join(", ")
                ),
                operation,
            )
        }
    }
}

impl RemoteOperation for ResetAlteredSettings {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::for_server(
            "reset_altered_settings",
            include_str!("scripts/reset_altered_settings.sh"),
            &self.server,
        )
        .text("SETTING_NAMES", &self.names.join("\n"))
        .as_pg_user();
        Ok(vec![HostScript::own(script)])
    }

    fn replaced_configuration(&self) -> Option<String> {
        Some(auto_conf_path(&self.server))
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    fn repointed() -> Fixture {
        Fixture::converged().altered_system(
            "db2",
            "# Do not edit this file manually!\nprimary_conninfo = 'host=10.0.0.99 user=replicator'\nwork_mem = '32MB'\n",
        )
    }

    #[test]
    fn an_override_of_a_managed_setting_is_reset_and_others_left_alone() {
        insta::assert_snapshot!(check(&repointed(), "db2", "altered_settings"));
    }

    /// The override reset is listed as a setting change: from what ALTER SYSTEM
    /// set to what postgresql.conf sets.
    #[test]
    fn the_reset_is_listed_from_the_override_to_the_managed_value() {
        let plan = repointed().plan();
        let changes = plan
            .host("db2")
            .and_then(|host| host.steps.iter().find(|step| step.id == "altered_settings"))
            .map(|step| step.setting_changes.clone())
            .unwrap_or_default();
        let [change] = changes.as_slice() else {
            panic!("one change: {changes:?}");
        };
        assert_eq!(
            (
                change.name.as_str(),
                change.before.as_deref(),
                change.applies_by
            ),
            (
                "primary_conninfo",
                Some("host=10.0.0.99 user=replicator"),
                crate::actions::AppliesBy::Reload
            )
        );
        assert!(
            change
                .after
                .as_deref()
                .is_some_and(|after| after.contains("host=10.0.0.11")),
            "{change:?}"
        );
    }

    #[test]
    fn without_overrides_nothing_is_done() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db1", "altered_settings"));
    }

    #[test]
    fn the_reset_makes_the_service_reload() {
        let text = check(&repointed(), "db2", "pg_service");
        assert!(
            text.contains("reload PostgreSQL: altered_settings changed"),
            "{text}"
        );
    }
}
