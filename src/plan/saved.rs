//! Saved plans (`apply --dry-run --out plan.json`, then `apply plan.json`).
//!
//! A saved plan holds no secret and no command: it records the plan as the reviewer
//! saw it, digests of the inventory, playbook and templates, a fingerprint of every
//! host's facts, and keyed fingerprints of the secrets. Applying it reads all of
//! these again and refuses unless every one is unchanged; it then plans again and
//! executes only if the new plan is exactly the recorded one. Since the inputs are
//! the same, so is the plan: what the reviewer approved is what runs, or nothing runs.

use super::document::{FORMAT_VERSION, PlanDocument};
use crate::facts::fingerprint::{self, Fingerprint};
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Where an input came from and the SHA-256 of its content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRecord {
    /// The file or directory, or `None` for the one built into pgconverge.
    pub path: Option<PathBuf>,
    pub sha256: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SavedPlan {
    pub format_version: u32,
    pub pgconverge_version: String,
    pub inventory: InputRecord,
    pub playbook: InputRecord,
    pub templates: InputRecord,
    pub limit: Vec<String>,
    pub replace_data: Vec<String>,
    /// `--max-lag`, `--max-transaction-age` and `--restart-primary` as planned.
    pub restarts: super::rolling::RestartPolicy,
    /// The hosts whose writes after a fork the plan discards (`--rejoin`).
    #[serde(default)]
    pub rejoin: Vec<String>,
    /// The hosts the plan decommissions (`--decommission`).
    #[serde(default)]
    pub decommission: Vec<String>,
    /// A random salt for the secret fingerprints, new for every plan.
    pub secret_key: String,
    /// A slow salted hash (PBKDF2 under `secret_key`) of each secret value, sorted.
    pub secrets: Vec<String>,
    /// Per host, the fingerprint of the facts the plan was made from.
    pub facts: IndexMap<String, Fingerprint>,
    pub plan: PlanDocument,
}

#[derive(Debug, thiserror::Error)]
pub enum StalePlan {
    #[error("{path}: not a plan pgconverge can read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error(
        "the plan was made by pgconverge {planned}, this is {running}: make the plan again with this version"
    )]
    OtherVersion { planned: String, running: String },
    #[error(
        "the {what} is not the one planned ({path}): make the plan again or give the planned {what}"
    )]
    InputChanged { what: &'static str, path: String },
    #[error(
        "a secret ({names}) is not the one planned: set the same value, or make the plan again"
    )]
    SecretChanged { names: String },
    #[error(
        "{host} changed since the plan was made ({changes}): make the plan again; nothing was changed on any host"
    )]
    HostChanged { host: String, changes: String },
    #[error(
        "{host} was planned but is not reachable now: {reason}; nothing was changed on any host"
    )]
    HostUnreachable { host: String, reason: String },
    #[error(
        "the plan made now differs from the saved one at {place}: make the plan again; nothing was changed on any host"
    )]
    PlanDiffers { place: String },
}

impl SavedPlan {
    pub fn read(path: &Path) -> Result<SavedPlan, StalePlan> {
        let unreadable = |reason: String| StalePlan::Unreadable {
            path: path.to_path_buf(),
            reason,
        };
        let text = std::fs::read_to_string(path).map_err(|error| unreadable(error.to_string()))?;
        let saved: SavedPlan =
            serde_json::from_str(&text).map_err(|error| unreadable(error.to_string()))?;
        if saved.format_version != FORMAT_VERSION
            || saved.pgconverge_version != env!("CARGO_PKG_VERSION")
        {
            return Err(StalePlan::OtherVersion {
                planned: saved.pgconverge_version,
                running: env!("CARGO_PKG_VERSION").to_string(),
            });
        }
        Ok(saved)
    }

    /// Refuses when an input is not the one planned.
    pub fn check_input(
        what: &'static str,
        planned: &InputRecord,
        now: &InputRecord,
    ) -> Result<(), StalePlan> {
        if planned.sha256 == now.sha256 {
            return Ok(());
        }
        let path = now
            .path
            .as_ref()
            .map(|path| path.display().to_string())
            .unwrap_or_else(|| "built in".to_string());
        Err(StalePlan::InputChanged { what, path })
    }

    pub fn check_secrets(&self, secrets: &[String], names: &[String]) -> Result<(), StalePlan> {
        if secret_fingerprints(&self.secret_key, secrets) == self.secrets {
            return Ok(());
        }
        Err(StalePlan::SecretChanged {
            names: names.join(", "),
        })
    }

    /// Refuses when any planned host's facts moved, naming the host and what moved.
    pub fn check_facts(
        &self,
        now: &crate::facts::GatheredFacts,
        secret_files: &IndexMap<String, Vec<String>>,
    ) -> Result<(), StalePlan> {
        for (host, planned) in &self.facts {
            match now.get(host) {
                Some(Ok(facts)) => {
                    let files = secret_files
                        .get(host)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    let changes = fingerprint::changes(
                        planned,
                        &fingerprint::fingerprint(facts, &self.secret_key, files),
                    );
                    if !changes.is_empty() {
                        return Err(StalePlan::HostChanged {
                            host: host.clone(),
                            changes: changes.join(", "),
                        });
                    }
                }
                Some(Err(reason)) => {
                    return Err(StalePlan::HostUnreachable {
                        host: host.clone(),
                        reason: reason.clone(),
                    });
                }
                None => {
                    return Err(StalePlan::HostUnreachable {
                        host: host.clone(),
                        reason: "it was not contacted".to_string(),
                    });
                }
            }
        }
        Ok(())
    }

    /// Refuses unless the plan made now is the saved one, naming the first difference.
    pub fn check_plan(&self, now: &PlanDocument) -> Result<(), StalePlan> {
        if &self.plan == now {
            return Ok(());
        }
        let place = first_difference(&self.plan, now);
        Err(StalePlan::PlanDiffers { place })
    }
}

fn first_difference(planned: &PlanDocument, now: &PlanDocument) -> String {
    for (index, host) in planned.hosts.iter().enumerate() {
        let Some(other) = now.hosts.get(index).filter(|other| other.name == host.name) else {
            return format!("host {}", host.name);
        };
        for (step_index, step) in host.steps.iter().enumerate() {
            if other.steps.get(step_index) != Some(step) {
                return format!("{}/{}", host.name, step.id);
            }
        }
        if host != other {
            return format!("host {}", host.name);
        }
    }
    "the list of hosts".to_string()
}

/// A new random salt for secret fingerprints, as hex.
pub fn new_secret_key() -> String {
    let mut key = [0u8; 32];
    rand::fill(&mut key[..]);
    hex(&key)
}

/// A slow salted hash of each secret, sorted, so the plan can tell whether a
/// secret changed without holding it or making it cheap to guess.
pub fn secret_fingerprints(salt: &str, secrets: &[String]) -> Vec<String> {
    let mut fingerprints: Vec<String> = secrets
        .iter()
        .map(|secret| fingerprint::secret_digest(salt, secret.as_bytes()))
        .collect();
    fingerprints.sort();
    fingerprints
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_fingerprints_hide_the_secret_and_detect_a_change() {
        let key = new_secret_key();
        let planned = secret_fingerprints(&key, &["s3cret-value".to_string()]);
        assert_eq!(
            planned,
            secret_fingerprints(&key, &["s3cret-value".to_string()])
        );
        assert_ne!(
            planned,
            secret_fingerprints(&key, &["another-value".to_string()])
        );
        assert!(!planned.concat().contains("s3cret"));
        assert_ne!(
            planned,
            secret_fingerprints(&new_secret_key(), &["s3cret-value".to_string()]),
            "the key makes fingerprints differ between plans"
        );
    }

    #[test]
    fn changed_input_is_named() {
        let planned = InputRecord {
            path: Some("inventory.yaml".into()),
            sha256: "aa".into(),
        };
        let now = InputRecord {
            path: Some("other.yaml".into()),
            sha256: "bb".into(),
        };
        assert!(SavedPlan::check_input("inventory", &planned, &planned.clone()).is_ok());
        let error = SavedPlan::check_input("inventory", &planned, &now).expect_err("differs");
        assert_eq!(
            error.to_string(),
            "the inventory is not the one planned (other.yaml): make the plan again or give the planned inventory"
        );
    }
}
