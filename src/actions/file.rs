//! A file rendered from a template (`postgresql.conf`, `pg_hba.conf`, `.pgpass`):
//! written atomically with its owner and mode, checked by PostgreSQL when it is
//! one of its configuration files, and put back when PostgreSQL rejects it.

use super::{Action, Change, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::facts::FactsRequest;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use crate::secret::{REDACTED, Sensitive};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Which server-side check a configuration file gets before it is activated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigCheck {
    PostgresqlConf,
    PgHbaConf,
}

impl ConfigCheck {
    fn name(check: Option<ConfigCheck>) -> &'static str {
        match check {
            None => "none",
            Some(ConfigCheck::PostgresqlConf) => "postgresql_conf",
            Some(ConfigCheck::PgHbaConf) => "pg_hba_conf",
        }
    }
}

/// A file as it should be on the host.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DesiredFile {
    pub path: String,
    #[serde(skip)]
    pub content: String,
    pub owner: String,
    pub group: String,
    pub mode: u32,
    pub sensitive: bool,
    pub check: Option<ConfigCheck>,
}

impl DesiredFile {
    /// The file of a step: its template rendered, at `path`.
    pub fn from_step(
        input: &StepInput,
        path: String,
        default_mode: u32,
    ) -> Result<Self, Diagnostic> {
        Ok(DesiredFile {
            content: (input.render)(input.template.unwrap_or_default())?,
            path,
            owner: input.owner.clone(),
            group: input.group.clone(),
            mode: input.mode_or(default_mode),
            sensitive: input.sensitive,
            check: input.check,
        })
    }

    /// What writing this file on the host means, or that it is as wanted.
    pub fn plan(&self, context: &PlanContext) -> PlannedStep {
        // A file inside a data directory that this run replaces will be whatever the
        // base backup copies, not what is there now: it is planned as new.
        let replaced = context.host.data_replaced
            && Path::new(&self.path).starts_with(&context.settings().data_dir);
        let observed = if replaced {
            None
        } else {
            context.facts.file(&self.path)
        };
        let operation = WriteFile {
            path: self.path.clone(),
            content: Sensitive::new(self.content.clone()),
            owner: self.owner.clone(),
            group: self.group.clone(),
            mode: self.mode,
            check: self.check,
            keep_as: None,
            server: context.settings().clone(),
        };
        let old_content =
            observed.map(|observed| String::from_utf8_lossy(&observed.content).into_owned());
        let content_differs = old_content.as_deref() != Some(self.content.as_str());
        let diff = content_differs.then(|| {
            if self.sensitive {
                REDACTED.to_string()
            } else {
                unified_diff(
                    old_content.as_deref().unwrap_or(""),
                    &self.content,
                    &self.path,
                    context.host.name,
                )
            }
        });
        let Some(observed) = observed else {
            return PlannedStep {
                diff,
                ..PlannedStep::change(
                    Change::Create,
                    format!(
                        "create {} ({}:{} {:04o})",
                        self.path, self.owner, self.group, self.mode
                    ),
                    operation,
                )
            };
        };
        let mut differences = super::outcome::attribute_differences(
            &observed.attributes,
            &self.owner,
            &self.group,
            self.mode,
        );
        if content_differs {
            differences.insert(0, "content".to_string());
        }
        if differences.is_empty() {
            return PlannedStep::noop(format!("{} is up to date", self.path));
        }
        PlannedStep {
            diff,
            ..PlannedStep::change(
                Change::Update,
                format!("update {}: {}", self.path, differences.join(", ")),
                operation,
            )
        }
    }
}

/// The `file` action: one rendered template at `dest`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct File(pub DesiredFile);

impl Action for File {
    const PARAMETERS: &'static [&'static str] = &["template", "dest"];

    fn desire(input: &StepInput) -> Result<File, Diagnostic> {
        let dest = input.dest.clone().unwrap_or_default();
        DesiredFile::from_step(input, dest, 0o644).map(File)
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.want_file(&self.0.path);
    }

    fn rendered_file(&self) -> Option<&DesiredFile> {
        Some(&self.0)
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        self.0.plan(context)
    }
}

/// Writes a file atomically (temporary file, then rename) and keeps the previous
/// version beside it; with `check`, PostgreSQL checks the new file and a rejected
/// one is put back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriteFile {
    pub path: String,
    pub content: Sensitive<String>,
    pub owner: String,
    pub group: String,
    pub mode: u32,
    pub check: Option<ConfigCheck>,
    /// Where to keep the file that is there as it is, before the first write
    /// (`postgresql.base.conf`); nothing is kept when that path exists already.
    pub keep_as: Option<String>,
    #[serde(skip)]
    pub server: HostSettings,
}

impl RemoteOperation for WriteFile {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::for_server(
            "write_file",
            include_str!("scripts/write_file.sh"),
            &self.server,
        )
        .text("FILE_PATH", &self.path)
        .hidden(
            "CONTENT_BASE64",
            &STANDARD.encode(self.content.expose().as_bytes()),
        )
        .text("OWNER", &self.owner)
        .text("GROUP", &self.group)
        .number("MODE", format!("{:04o}", self.mode))
        .text("KEEP_AS", self.keep_as.as_deref().unwrap_or_default())
        .number("CHECK", ConfigCheck::name(self.check));
        // The PostgreSQL OS user's own file is written by that user (see the script).
        let script = if self.owner == self.server.os_user {
            script.as_pg_user()
        } else {
            script
        };
        Ok(vec![HostScript::own(script)])
    }

    fn replaced_configuration(&self) -> Option<String> {
        self.check.map(|_| self.path.clone())
    }

    /// PostgreSQL names the setting it rejects but not always the line: add the
    /// line of the new file that sets it, so the user can go straight there.
    fn explained_failure(&self, failure: String) -> String {
        failure
            .lines()
            .map(|line| {
                let setting = line
                    .split_once("parameter \"")
                    .and_then(|(_, rest)| rest.split_once('"'))
                    .map(|(name, _)| name.to_ascii_lowercase());
                match setting {
                    Some(name) if !line.contains(" line ") => {
                        match crate::pgconf::setting_line(self.content.expose(), &name) {
                            Some(number) => format!("{line} ({} line {number})", self.path),
                            None => line.to_string(),
                        }
                    }
                    _ => line.to_string(),
                }
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn unified_diff(old: &str, new: &str, path: &str, host: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(2)
        .header(&format!("{path} (on {host})"), &format!("{path} (wanted)"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::{ConfigCheck, RemoteOperation, WriteFile};
    use crate::inventory::HostSettings;
    use crate::plan::check::{Fixture, check};
    use crate::secret::Sensitive;

    #[test]
    fn rejected_setting_gets_the_line_that_sets_it() {
        let operation = WriteFile {
            path: "/etc/pg.conf".into(),
            content: Sensitive::new("port = 5432\nshared_buffers = 'lots'\n".into()),
            owner: "postgres".into(),
            group: "postgres".into(),
            mode: 0o644,
            check: Some(ConfigCheck::PostgresqlConf),
            keep_as: None,
            server: HostSettings::example(),
        };
        let error = "failed on h2 (exit code 1): invalid value for parameter \"shared_buffers\": \"lots\"\nconfiguration file \"/etc/pg.conf\" contains errors";
        assert_eq!(
            operation.explained_failure(error.to_string()),
            "failed on h2 (exit code 1): invalid value for parameter \"shared_buffers\": \"lots\" (/etc/pg.conf line 2)\nconfiguration file \"/etc/pg.conf\" contains errors"
        );
    }

    /// The port check of `write_file.sh`, run by `sh` on this machine against a
    /// socket this test listens on: the script reads `/proc/net/tcp` as the facts
    /// parser does, and leaves the server's own port (in `postmaster.pid`) alone.
    #[test]
    fn the_write_sees_a_port_another_process_listens_on() {
        let body = include_str!("scripts/write_file.sh");
        let (Some(start), Some(end)) = (
            body.find("proc_address() {"),
            body.find("# Well-formed values"),
        ) else {
            panic!("the port check's functions are not where this test looks for them");
        };
        let listener = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap_or_else(|error| panic!("listen: {error}"));
        let port = listener
            .local_addr()
            .unwrap_or_else(|error| panic!("{error}"))
            .port();
        let data = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
        let run = |listen: &str, data_dir: &std::path::Path| -> String {
            let script = format!(
                "{functions}\nPG_DATA_DIR='{data}'\nPREVIOUS=\ncandidate() {{ case \"$1\" in port) echo {port} ;; listen_addresses) echo '{listen}' ;; esac; }}\nport_taken || echo free\n",
                functions = &body[start..end],
                data = data_dir.display(),
            );
            let output = std::process::Command::new("sh")
                .arg("-c")
                .arg(script)
                .output()
                .unwrap_or_else(|error| panic!("sh: {error}"));
            String::from_utf8_lossy(&output.stdout).trim().to_string()
        };
        let taken = format!("port {port} is taken: another process listens on 127.0.0.1:{port}");
        assert_eq!(run("*", data.path()), taken);
        assert_eq!(run("localhost", data.path()), taken);
        assert_eq!(run("10.0.0.11, 127.0.0.1", data.path()), taken);
        assert_eq!(run("10.0.0.11", data.path()), "free");
        assert_eq!(run("::", data.path()), "free");
        // The server's own port: a restart frees it.
        std::fs::write(
            data.path().join("postmaster.pid"),
            format!("1234\n/data\n1700000000\n{port}\n"),
        )
        .unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(run("*", data.path()), "free");
        drop(listener);
    }

    #[test]
    fn a_fresh_primary_gets_its_configuration_with_a_diff() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db1", "postgresql_conf"));
    }

    #[test]
    fn a_converged_file_is_left_alone() {
        insta::assert_snapshot!(check(&Fixture::converged(), "db1", "pg_hba_conf"));
    }

    #[test]
    fn a_secret_file_shows_no_content() {
        insta::assert_snapshot!(check(&Fixture::fresh(), "db2", "pgpass"));
    }

    #[test]
    fn only_the_mode_of_a_file_differs() {
        let fixture = Fixture::converged().edit("db1", |facts| {
            if let Some(file) = facts.files.get_mut("/etc/postgresql/15/main/pg_hba.conf") {
                file.attributes.mode = 0o644;
            }
        });
        insta::assert_snapshot!(check(&fixture, "db1", "pg_hba_conf"));
    }

    #[test]
    fn the_content_travels_encoded_so_no_quoting_can_break_it() {
        use super::*;
        let operation = WriteFile {
            path: "/tmp/x".into(),
            content: Sensitive::new("a'b $(c) `d`\n".into()),
            owner: "postgres".into(),
            group: "postgres".into(),
            mode: 0o600,
            check: None,
            keep_as: None,
            server: HostSettings::example(),
        };
        let scripts = operation.scripts().unwrap_or_default();
        let text = scripts[0].script.render();
        assert!(text.contains(&STANDARD.encode("a'b $(c) `d`\n")));
        assert!(!text.contains("$(c)"));
    }
}
