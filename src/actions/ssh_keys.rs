//! SSH between the PostgreSQL OS users of the members (WAL shipped to an archive
//! host, pg_rewind): a key pair per member whose private key never leaves its
//! host, every member's public key in `authorized_keys`, and every host's key in
//! `known_hosts`, each in a managed block that keeps the file's other lines.

use super::file::{DesiredFile, WriteFile};
use super::managed_block;
use super::{Action, Change, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::diagnostic::Diagnostic;
use crate::facts::FactsRequest;
use crate::inventory::HostSettings;
use crate::script::{HostScript, Script};
use crate::secret::Sensitive;
use serde::Serialize;

/// The host key of a host's sshd, which the others record in their known_hosts.
pub const HOST_KEY: &str = "/etc/ssh/ssh_host_ed25519_key.pub";

/// A key pair for the PostgreSQL OS user (made on the host, never copied off it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SshKey {
    pub private_path: String,
    pub public_path: String,
}

/// The other members' public keys in the OS user's `authorized_keys`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuthorizedKeys {
    pub path: String,
}

/// Every other host's host key in the OS user's `known_hosts`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnownHosts {
    pub path: String,
}

/// Makes a key pair for the PostgreSQL OS user when it has none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GenerateSshKey {
    pub private_path: String,
    pub os_user: String,
}

/// Writes `authorized_keys` once the public keys made in this run are read from
/// their hosts (`collect`: host and public key path); `known` holds the others.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CollectAuthorizedKeys {
    pub path: String,
    pub existing: String,
    pub known: Vec<String>,
    pub collect: Vec<(String, String)>,
    pub owner: String,
    pub group: String,
    #[serde(skip)]
    pub server: HostSettings,
}

impl Action for SshKey {
    fn desire(input: &StepInput) -> Result<SshKey, Diagnostic> {
        Ok(SshKey {
            private_path: ssh_file(input, "id_ed25519"),
            public_path: ssh_file(input, "id_ed25519.pub"),
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        request.want_file(&self.public_path);
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let os_user = &context.settings().os_user;
        match context.facts.file(&self.public_path) {
            Some(file) => PlannedStep::noop(format!(
                "{os_user} has a key pair ({})",
                key_fingerprint(&String::from_utf8_lossy(&file.content))
            )),
            None => PlannedStep::change(
                Change::Create,
                format!(
                    "make a key pair for {os_user} in {} (the private key stays on {})",
                    self.private_path, context.host.name
                ),
                GenerateSshKey {
                    private_path: self.private_path.clone(),
                    os_user: os_user.clone(),
                },
            ),
        }
    }
}

impl Action for AuthorizedKeys {
    fn desire(input: &StepInput) -> Result<AuthorizedKeys, Diagnostic> {
        Ok(AuthorizedKeys {
            path: ssh_file(input, "authorized_keys"),
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        want_with_host_key(request, &self.path);
    }

    /// Every other member's public key, so postgres on each node reaches the others
    /// (and the archive host) without a password, whichever is primary.
    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let path = &self.path;
        if let Some(left_alone) = left_alone_while_unreachable(context, path, "keys") {
            return left_alone;
        }
        let mut known = Vec::new();
        let mut collect = Vec::new();
        for other in context.others() {
            let Some(public_path) = other.ssh_public_key_path else {
                continue;
            };
            match other.facts.and_then(|facts| facts.file(public_path)) {
                Some(file) => known.push(String::from_utf8_lossy(&file.content).trim().to_string()),
                None => collect.push((other.name.to_string(), public_path.to_string())),
            }
        }
        let existing = observed_text(context, path);
        let names = |keys: &[String]| {
            keys.iter()
                .map(|key| key_fingerprint(key))
                .collect::<Vec<_>>()
                .join(", ")
        };
        if collect.is_empty() {
            let desired = managed_block::with_block(&existing, &known);
            let what = format!("the keys of the other members ({})", names(&known));
            return key_file(context, path, &existing, &desired, what);
        }
        let made_now: Vec<&str> = collect.iter().map(|(host, _)| host.as_str()).collect();
        let change = if context.facts.file(path).is_some() {
            Change::Update
        } else {
            Change::Create
        };
        let summary = format!(
            "authorize the keys of the other members in {path}: {}{}made in this run on {}",
            names(&known),
            if known.is_empty() { "" } else { "; " },
            made_now.join(", ")
        );
        let settings = context.settings();
        PlannedStep::change(
            change,
            summary,
            CollectAuthorizedKeys {
                path: path.clone(),
                existing,
                known,
                collect,
                owner: settings.os_user.clone(),
                group: settings.os_group.clone(),
                server: settings.clone(),
            },
        )
    }
}

impl Action for KnownHosts {
    fn desire(input: &StepInput) -> Result<KnownHosts, Diagnostic> {
        Ok(KnownHosts {
            path: ssh_file(input, "known_hosts"),
        })
    }

    fn facts_needed(&self, request: &mut FactsRequest) {
        want_with_host_key(request, &self.path);
    }

    /// Every other host's sshd key under its name and address, so the archiver's
    /// and pg_rewind's SSH connections check host keys strictly.
    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let path = &self.path;
        if let Some(left_alone) = left_alone_while_unreachable(context, path, "host keys") {
            return left_alone;
        }
        let lines: Vec<String> = context
            .others()
            .filter_map(|other| {
                let key = other.facts?.file(HOST_KEY)?;
                let key = String::from_utf8_lossy(&key.content);
                let mut fields = key.split_whitespace();
                let (kind, blob) = (fields.next()?, fields.next()?);
                Some(format!("{},{} {kind} {blob}", other.name, other.address))
            })
            .collect();
        let existing = observed_text(context, path);
        let desired = managed_block::with_block(&existing, &lines);
        let hosts: Vec<&str> = lines
            .iter()
            .filter_map(|line| line.split(',').next())
            .collect();
        let what = format!("the host keys of {}", hosts.join(", "));
        key_file(context, path, &existing, &desired, what)
    }
}

/// While another member is unreachable its keys are unknown, so a key file is left
/// as it is rather than losing their entries.
fn left_alone_while_unreachable(
    context: &PlanContext,
    path: &str,
    what: &str,
) -> Option<PlannedStep> {
    let unreachable = context.unreachable_others();
    (!unreachable.is_empty()).then(|| {
        PlannedStep::noop(format!(
            "{path} left as it is: the {what} of {} are unknown (unreachable)",
            unreachable.join(", ")
        ))
    })
}

/// The key file, and this host's sshd key, which the others' known_hosts need.
fn want_with_host_key(request: &mut FactsRequest, path: &str) {
    request.want_file(path);
    request.want_file(HOST_KEY);
}

/// A file under the OS user's `~/.ssh`.
fn ssh_file(input: &StepInput, name: &str) -> String {
    format!("{}/.ssh/{name}", input.settings.home_dir)
}

fn observed_text(context: &PlanContext, path: &str) -> String {
    context
        .facts
        .file(path)
        .map(|file| String::from_utf8_lossy(&file.content).into_owned())
        .unwrap_or_default()
}

/// A file of keys owned by the OS user, mode 0600, planned as any other file.
fn key_file(
    context: &PlanContext,
    path: &str,
    existing: &str,
    desired: &str,
    what: String,
) -> PlannedStep {
    let settings = context.settings();
    let file = DesiredFile {
        path: path.to_string(),
        content: desired.to_string(),
        owner: settings.os_user.clone(),
        group: settings.os_group.clone(),
        mode: 0o600,
        sensitive: false,
        check: None,
    };
    let planned = file.plan(context);
    if planned.change == Change::Noop && existing == desired {
        return PlannedStep::noop(format!("{path} holds {what}"));
    }
    PlannedStep {
        summary: format!("{} with {what}", planned.summary),
        ..planned
    }
}

/// `SHA256:...` of a public key line, as `ssh-keygen -l` shows it.
fn key_fingerprint(line: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let blob = line
        .split_whitespace()
        .nth(1)
        .and_then(|blob| base64::engine::general_purpose::STANDARD.decode(blob).ok());
    match blob {
        Some(blob) => format!(
            "SHA256:{}",
            base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(&blob))
        ),
        None => "an unreadable key".to_string(),
    }
}

impl RemoteOperation for GenerateSshKey {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "generate_ssh_key",
            include_str!("scripts/generate_ssh_key.sh"),
            &self.os_user,
        )
        .text("KEY_PATH", &self.private_path);
        Ok(vec![HostScript::own(script)])
    }
}

impl CollectAuthorizedKeys {
    /// The script that reads one collected public key on its host, as the
    /// PostgreSQL OS user `os_user` whose key it is: a link planted there leads
    /// to nothing root alone may read.
    pub fn read_key(public_path: &str, os_user: &str) -> Script {
        Script::new(
            "read_public_key",
            include_str!("scripts/read_public_key.sh"),
            os_user,
        )
        .text("KEY_PATH", public_path)
        .as_pg_user()
    }

    /// The file write this stands for, once the collected keys are read.
    pub fn with_keys(&self, collected: Vec<String>) -> WriteFile {
        let mut keys = self.known.clone();
        keys.extend(collected);
        WriteFile {
            path: self.path.clone(),
            content: Sensitive::new(managed_block::with_block(&self.existing, &keys)),
            owner: self.owner.clone(),
            group: self.group.clone(),
            mode: 0o600,
            check: None,
            keep_as: None,
            server: self.server.clone(),
        }
    }
}

impl RemoteOperation for CollectAuthorizedKeys {
    /// The executor reads the collected keys first (`read_key`) and runs the file
    /// write of `with_keys`; on its own this operation has nothing to run.
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        Err("authorized keys were not collected".to_string())
    }
}

#[cfg(test)]
mod tests {
    use crate::plan::check::{Fixture, check};

    #[test]
    fn a_member_without_a_key_pair_gets_one() {
        insta::assert_snapshot!(check(&Fixture::archive_host(), "db1", "postgres_ssh_key"));
    }

    #[test]
    fn keys_made_in_this_run_are_collected_when_it_runs() {
        insta::assert_snapshot!(check(
            &Fixture::archive_host(),
            "db1",
            "ssh_authorized_keys"
        ));
    }

    #[test]
    fn known_hosts_get_every_other_hosts_key() {
        insta::assert_snapshot!(check(&Fixture::archive_host(), "db1", "ssh_known_hosts"));
    }

    #[test]
    fn an_unreachable_member_leaves_the_key_files_alone() {
        let fixture = Fixture::archive_host().unreachable("db3");
        insta::assert_snapshot!(check(&fixture, "db1", "ssh_authorized_keys"));
    }
}
