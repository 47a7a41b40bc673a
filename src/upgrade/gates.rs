//! The gates of `pgconverge upgrade`, judged before anything changes: pure over
//! the gathered facts and what each member's probe read (`ProbeUpgrade`), so
//! every refusal is tested without a cluster. Also the reading of the probe's
//! output and of `pg_upgrade --check`'s.

use crate::facts::GatheredFacts;
use crate::versions::MD5_DEPRECATED;
use base64::Engine;
use indexmap::IndexMap;

/// How far (bytes) a standby's replay may be behind the primary at the gate.
/// The real guarantee comes after the stops: every standby's latest checkpoint
/// must be the primary's.
pub const CAUGHT_UP_BYTES: i64 = 1024 * 1024;

/// The free space the new data directory's filesystem must have with
/// `--link`: a tenth of the old data, and at least this (the new catalog, WAL
/// and logs; the user data is linked, not copied).
pub const MINIMUM_HEADROOM_BYTES: u64 = 256 * 1024 * 1024;

pub use crate::gate::Gate;

/// What `pg_upgrade --check` said, when the probe ran it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckRun {
    pub status: i32,
    pub output: String,
    /// The lists pg_upgrade wrote of what it refuses: file name, first lines.
    pub lists: Vec<(String, String)>,
}

/// What the probe read on one member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// The new version's programs, present or not.
    pub binaries: IndexMap<String, bool>,
    pub rsync: bool,
    pub running: bool,
    pub checksums: Option<String>,
    pub wal_segment_size: Option<u64>,
    pub data_size: Option<u64>,
    pub free_bytes: Option<u64>,
    pub same_filesystem: bool,
    pub new_data_dir_exists: bool,
    pub new_config_dir_exists: bool,
    pub tablespaces: Vec<String>,
    pub encoding: Option<String>,
    pub lc_collate: Option<String>,
    pub lc_ctype: Option<String>,
    /// The old configuration files: path to content.
    pub files: IndexMap<String, String>,
    /// On the primary: transactions older than `--max-transaction-age`.
    pub old_transactions: Option<String>,
    /// On the primary: each extension, whether the new version has it, and its database.
    pub extensions: Vec<(String, bool, String)>,
    /// On the primary: whether its user reaches each standby's over SSH.
    pub ssh: IndexMap<String, bool>,
    pub check: Option<CheckRun>,
    /// On the primary: per database, how many of its columns carry an
    /// attribute version (the column option `pg_attver`, which PostgreSQL 17.12
    /// stamps on every column).
    pub attribute_versions: Vec<(String, u64)>,
    /// The new version's server, as `postgres --version` names it (`18.6 (Debian 18.6-3)`).
    pub new_server: Option<String>,
    /// Whether the new version's server takes attribute versions as column
    /// options, as the schema pg_upgrade restores sets them; `None` when the
    /// scratch cluster did not say.
    pub new_attribute_versions: Option<bool>,
}

/// Why a probe's output could not be read. Nothing of it is then used: a carried
/// file read as empty would lose the host's settings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProbeError {
    #[error("the probe's `{key}` record is not base64")]
    NotBase64 { key: String },
    #[error("the probe's `{key}` record is not UTF-8")]
    NotUtf8 { key: String },
    #[error("the probe wrote a record pgconverge does not know: `{line}`")]
    Unknown { line: String },
    #[error("the probe's output ends before its `end` record (cut short)")]
    Incomplete,
}

fn decode(key: &str, text: &str) -> Result<String, ProbeError> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .map_err(|_| ProbeError::NotBase64 {
            key: key.to_string(),
        })?;
    String::from_utf8(bytes).map_err(|_| ProbeError::NotUtf8 {
        key: key.to_string(),
    })
}

impl Probe {
    /// Reads the probe's `KEY VALUE` lines, which end with an `end` record.
    pub fn parse(output: &str) -> Result<Probe, ProbeError> {
        let mut probe = Probe::default();
        let mut ended = false;
        for line in output.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            let number = || value.trim().parse::<u64>().ok();
            let text = || Some(value.to_string()).filter(|value| !value.is_empty());
            match key {
                "binary" => {
                    if let Some((tool, present)) = value.split_once(' ') {
                        probe.binaries.insert(tool.to_string(), present == "yes");
                    }
                }
                "rsync" => probe.rsync = value == "yes",
                "server" => probe.running = value == "up",
                "checksums" => probe.checksums = text(),
                "wal_segment_size" => probe.wal_segment_size = number(),
                "data_size" => probe.data_size = number(),
                "free_bytes" => probe.free_bytes = number(),
                "same_filesystem" => probe.same_filesystem = value == "yes",
                "new_data_dir" => probe.new_data_dir_exists = value == "exists",
                "new_config_dir" => probe.new_config_dir_exists = value == "exists",
                "tablespaces" => {
                    probe.tablespaces = value.split_whitespace().map(str::to_string).collect();
                }
                "encoding" => probe.encoding = text(),
                "lc_collate" => probe.lc_collate = text(),
                "lc_ctype" => probe.lc_ctype = text(),
                "old_transactions" => probe.old_transactions = Some(value.to_string()),
                "file" => {
                    let (content, path) = value.split_once(' ').unwrap_or((value, ""));
                    probe
                        .files
                        .insert(path.to_string(), decode(&format!("file {path}"), content)?);
                }
                "extension" => {
                    let mut parts = value.splitn(3, ' ');
                    if let (Some(name), Some(present)) = (parts.next(), parts.next()) {
                        let database = parts.next().unwrap_or_default().to_string();
                        probe
                            .extensions
                            .push((name.to_string(), present == "yes", database));
                    }
                }
                "ssh" => {
                    if let Some((reached, login)) = value.split_once(' ') {
                        probe.ssh.insert(login.to_string(), reached == "yes");
                    }
                }
                "check_status" => {
                    probe.check.get_or_insert_with(CheckRun::default).status =
                        value.trim().parse().unwrap_or(1);
                }
                "check_output" => {
                    probe.check.get_or_insert_with(CheckRun::default).output = decode(key, value)?;
                }
                "check_list" => {
                    let (content, name) = value.split_once(' ').unwrap_or((value, ""));
                    let list = decode(key, content)?;
                    probe
                        .check
                        .get_or_insert_with(CheckRun::default)
                        .lists
                        .push((name.to_string(), list));
                }
                "attribute_versions" => {
                    if let Some((count, database)) = value.split_once(' ')
                        && let Ok(count) = count.parse()
                    {
                        probe.attribute_versions.push((database.to_string(), count));
                    }
                }
                "new_server" => probe.new_server = text(),
                "new_attribute_versions" => {
                    probe.new_attribute_versions = match value {
                        "yes" => Some(true),
                        "no" => Some(false),
                        _ => None,
                    };
                }
                "end" => ended = true,
                _ => {
                    return Err(ProbeError::Unknown {
                        line: line.chars().take(80).collect(),
                    });
                }
            }
        }
        if ended {
            Ok(probe)
        } else {
            Err(ProbeError::Incomplete)
        }
    }
}

/// The checks `pg_upgrade --check` failed, by the names it prints them with,
/// and its explanation. Up to 16 a failed check is its status line ending in
/// `fatal` (`Checking for incompatible "aclitem" data type in user tables   fatal`);
/// from 17 the data type checks run as one step, which names each failed one
/// (`Checking data type usage   failed check: Checking for incompatible "aclitem"
/// data type`). The explanation is the text after, up to `Failure, exiting`.
pub fn failed_checks(output: &str) -> (Vec<String>, String) {
    let mut names: Vec<String> = Vec::new();
    let mut explanation: Vec<String> = Vec::new();
    let mut failed = false;
    for line in output.lines() {
        let trimmed = line.trim();
        if let Some((_, name)) = trimmed.split_once("failed check:") {
            let name = name.trim().to_string();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
            failed = true;
            continue;
        }
        if let Some(name) = trimmed.strip_suffix("fatal")
            && (name.is_empty() || name.ends_with([' ', '\t']))
        {
            let name = name.trim().to_string();
            if !name.is_empty() && !names.contains(&name) {
                names.push(name);
            }
            failed = true;
            continue;
        }
        if trimmed == "Failure, exiting" {
            failed = false;
            continue;
        }
        if failed && !trimmed.is_empty() {
            let text = trimmed
                .strip_prefix("Data type checks failed:")
                .unwrap_or(trimmed)
                .trim();
            if !text.is_empty() {
                explanation.push(text.to_string());
            }
        }
    }
    if names.is_empty() && explanation.is_empty() {
        // Neither form: the output's last words are the reason.
        let last: Vec<&str> = output
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty())
            .collect();
        let start = last.len().saturating_sub(5);
        explanation = last[start..].iter().map(|line| line.to_string()).collect();
    }
    (names, explanation.join(" "))
}

/// What `upgrade --format json` prints of the gates: a versioned document as
/// the plan's (docs/plan-format.md).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Document {
    /// `1`; raised when a field changes meaning or disappears.
    pub format_version: u32,
    pub pgconverge_version: String,
    /// `upgrade_gates`.
    pub kind: &'static str,
    pub from: String,
    pub to: String,
    /// The primary first, then the standbys.
    pub members: Vec<String>,
    /// Whether every gate passed, so the upgrade may go on.
    pub passed: bool,
    pub gates: Vec<Gate>,
}

impl Document {
    pub fn new(inputs: &Inputs, gates: &[Gate]) -> Document {
        Document {
            format_version: 1,
            pgconverge_version: env!("CARGO_PKG_VERSION").to_string(),
            kind: "upgrade_gates",
            from: inputs.current.to_string(),
            to: inputs.target.to_string(),
            members: std::iter::once(inputs.primary.to_string())
                .chain(inputs.standbys.iter().cloned())
                .collect(),
            passed: gates.iter().all(|gate| gate.passed),
            gates: gates.to_vec(),
        }
    }
}

/// What the gates need to know of the cluster.
pub struct Inputs<'a> {
    pub facts: &'a GatheredFacts,
    pub probes: &'a IndexMap<String, Result<Probe, String>>,
    pub primary: &'a str,
    /// Each standby with its address as the primary's replication clients name it.
    pub standbys: &'a [String],
    /// Standbys that get the upgrade by rsync over the members' SSH trust, with
    /// the login the primary's user reaches them as.
    pub rsync_logins: &'a IndexMap<String, String>,
    pub current: crate::versions::PgVersion,
    pub target: crate::versions::PgVersion,
    pub max_transaction_age_seconds: u64,
}

/// Every gate, in order, each judged over every member.
pub fn check(inputs: &Inputs) -> Vec<Gate> {
    let mut gates = Vec::new();
    gates.push(
        match super::carry::known_target(inputs.current, inputs.target) {
            Ok(()) => Gate::new(
                "target version",
                true,
                format!("{} -> {}", inputs.current, inputs.target),
            ),
            Err(reason) => Gate::new("target version", false, reason),
        },
    );
    let members: Vec<&str> = std::iter::once(inputs.primary)
        .chain(inputs.standbys.iter().map(String::as_str))
        .collect();
    let mut probes: Vec<(&str, &Probe)> = Vec::new();
    let mut unreachable = Vec::new();
    for host in &members {
        match inputs.probes.get(*host) {
            Some(Ok(probe)) if probe.running => probes.push((host, probe)),
            Some(Ok(_)) => unreachable.push(format!("PostgreSQL does not run on {host}")),
            Some(Err(error)) => unreachable.push(format!("{host}: {error}")),
            None => unreachable.push(format!("{host} was not probed")),
        }
    }
    gates.push(if unreachable.is_empty() {
        Gate::new(
            "every member runs",
            true,
            format!("{} members answer", members.len()),
        )
    } else {
        Gate::new("every member runs", false, unreachable.join("; "))
    });
    let each = |name: &'static str,
                ok: &dyn Fn(&str, &Probe) -> Result<String, String>,
                gates: &mut Vec<Gate>| {
        let mut fine = Vec::new();
        let mut closed = Vec::new();
        for (host, probe) in &probes {
            match ok(host, probe) {
                Ok(text) => fine.push(text),
                Err(text) => closed.push(text),
            }
        }
        gates.push(if closed.is_empty() {
            Gate::new(name, !probes.is_empty(), fine.join("; "))
        } else {
            Gate::new(name, false, closed.join("; "))
        });
    };
    let target = inputs.target;
    each(
        "new binaries",
        &|host, probe| {
            let missing: Vec<&str> = ["pg_upgrade", "postgres", "initdb", "pg_controldata"]
                .into_iter()
                .filter(|tool| probe.binaries.get(*tool) != Some(&true))
                .collect();
            if missing.is_empty() {
                Ok(format!("{host} has PostgreSQL {target}"))
            } else {
                Err(format!(
                    "{host} lacks {} of PostgreSQL {target}: install its server package",
                    missing.join(", ")
                ))
            }
        },
        &mut gates,
    );
    if !inputs.rsync_logins.is_empty() {
        let primary_probe = inputs
            .probes
            .get(inputs.primary)
            .and_then(|probe| probe.as_ref().ok());
        each(
            "rsync over SSH trust",
            &|host, probe| {
                if !probe.rsync {
                    return Err(format!("{host} has no rsync: install it"));
                }
                match inputs.rsync_logins.get(host) {
                    Some(login) => match primary_probe.and_then(|primary| primary.ssh.get(login)) {
                        Some(true) => Ok(format!("{} reaches {login}", inputs.primary)),
                        _ => Err(format!(
                            "{}'s PostgreSQL user cannot log in as {login} over SSH (BatchMode): run `apply` with pg_ssh_trust first",
                            inputs.primary
                        )),
                    },
                    None => Ok(format!("{host} has rsync")),
                }
            },
            &mut gates,
        );
    }
    let primary_probe = inputs
        .probes
        .get(inputs.primary)
        .and_then(|probe| probe.as_ref().ok());
    gates.push(match primary_probe.and_then(|probe| probe.check.as_ref()) {
        Some(run) if run.status == 0 => Gate::new(
            "pg_upgrade --check",
            true,
            "clusters are compatible".to_string(),
        ),
        Some(run) => {
            let (names, explanation) = failed_checks(&run.output);
            let mut detail = if names.is_empty() {
                explanation
            } else {
                format!("{}: {explanation}", names.join("; "))
            };
            for (name, list) in &run.lists {
                let list = list.lines().map(str::trim).collect::<Vec<_>>().join(" ");
                detail.push_str(&format!(" ({name}: {list})"));
            }
            Gate::new("pg_upgrade --check", false, detail)
        }
        None => Gate::new(
            "pg_upgrade --check",
            false,
            format!("it did not run on {}", inputs.primary),
        ),
    });
    gates.push(caught_up(inputs));
    gates.push(match primary_probe.and_then(|probe| probe.old_transactions.as_deref()) {
        Some("") => Gate::new(
            "no old transactions",
            true,
            format!(
                "none open longer than {} s (--max-transaction-age)",
                inputs.max_transaction_age_seconds
            ),
        ),
        Some(open) => Gate::new(
            "no old transactions",
            false,
            format!(
                "open longer than {} s on {}: {open} (end them, or raise --max-transaction-age)",
                inputs.max_transaction_age_seconds, inputs.primary
            ),
        ),
        None => Gate::new(
            "no old transactions",
            false,
            format!("they could not be read on {}", inputs.primary),
        ),
    });
    let shapes: Vec<String> = probes
        .iter()
        .map(|(host, probe)| {
            format!(
                "{host}: checksums {}, WAL segments of {} bytes",
                probe.checksums.as_deref().unwrap_or("?"),
                probe
                    .wal_segment_size
                    .map(|size| size.to_string())
                    .unwrap_or_else(|| "?".into())
            )
        })
        .collect();
    let same_shape = probes.windows(2).all(|pair| {
        pair[0].1.checksums == pair[1].1.checksums
            && pair[0].1.wal_segment_size == pair[1].1.wal_segment_size
    }) && probes
        .iter()
        .all(|(_, probe)| probe.checksums.is_some() && probe.wal_segment_size.is_some());
    gates.push(Gate::new(
        "same checksums and WAL segment size",
        same_shape && !probes.is_empty(),
        shapes.join("; "),
    ));
    each(
        "free disk for --link",
        &|host, probe| {
            let needed = probe
                .data_size
                .map(|size| size / 10)
                .unwrap_or_default()
                .max(MINIMUM_HEADROOM_BYTES);
            let free = probe.free_bytes.unwrap_or_default();
            let human = |bytes: u64| crate::human::size(i64::try_from(bytes).unwrap_or(i64::MAX));
            if !probe.same_filesystem {
                return Err(format!(
                    "{host}: the new data directory is not on the old one's filesystem, which --link needs"
                ));
            }
            if free >= needed {
                Ok(format!(
                    "{host}: {} free, {} needed",
                    human(free),
                    human(needed)
                ))
            } else {
                Err(format!(
                    "{host}: {} free where the new data directory goes, {} needed (a tenth of the data, at least 256 MiB)",
                    human(free),
                    human(needed)
                ))
            }
        },
        &mut gates,
    );
    each(
        "no new cluster yet",
        &|host, probe| {
            if probe.new_data_dir_exists || probe.new_config_dir_exists {
                Err(format!(
                    "{host} already has a PostgreSQL {target} cluster (its data or configuration directory): remove it (Debian: pg_dropcluster {target} main) if it holds nothing"
                ))
            } else {
                Ok(format!("{host} has none"))
            }
        },
        &mut gates,
    );
    gates.push(match primary_probe {
        Some(probe) => {
            let missing: Vec<String> = probe
                .extensions
                .iter()
                .filter(|(_, present, _)| !present)
                .map(|(name, _, database)| format!("{name} (database {database})"))
                .collect();
            if missing.is_empty() {
                Gate::new(
                    "extensions",
                    true,
                    format!(
                        "{} installed, each in PostgreSQL {target}",
                        probe.extensions.len()
                    ),
                )
            } else {
                Gate::new(
                    "extensions",
                    false,
                    format!(
                        "PostgreSQL {target} has no control file for {}: install the extension's package for {target}",
                        missing.join(", ")
                    ),
                )
            }
        }
        None => Gate::new(
            "extensions",
            false,
            format!("they could not be read on {}", inputs.primary),
        ),
    });
    gates.push(match primary_probe {
        Some(probe) if probe.tablespaces.is_empty() => {
            Gate::new("no tablespaces", true, "only pg_default and pg_global".into())
        }
        Some(probe) => Gate::new(
            "no tablespaces",
            false,
            format!(
                "{} has tablespaces ({}): pgconverge does not upgrade clusters with tablespaces yet",
                inputs.primary,
                probe.tablespaces.join(", ")
            ),
        ),
        None => Gate::new(
            "no tablespaces",
            false,
            format!("they could not be read on {}", inputs.primary),
        ),
    });
    gates.push(attribute_versions(inputs, primary_probe));
    if MD5_DEPRECATED.in_version(inputs.target) {
        gates.push(md5(inputs, &probes));
    }
    gates
}

/// Columns with attribute versions against a new server that does not know
/// them. PostgreSQL 17.12 stamps an attribute version on every column (the
/// column option `pg_attver`; 15.18 does not); the new version's pg_dump copies it into
/// the schema as a column option, and a server released before that change
/// (18.6 is one) refuses the option: pg_upgrade fails restoring the schema,
/// after every member has stopped. Refused before anything stops: no step of
/// pgconverge can carry these columns to such a server without rewriting the
/// old cluster's catalog, which its own version relies on.
fn attribute_versions(inputs: &Inputs, primary_probe: Option<&Probe>) -> Gate {
    const NAME: &str = "attribute versions";
    let target = inputs.target;
    let Some(probe) = primary_probe else {
        return Gate::new(
            NAME,
            false,
            format!("they could not be read on {}", inputs.primary),
        );
    };
    if probe.attribute_versions.is_empty() {
        return Gate::new(NAME, true, "no column carries one".into());
    }
    let columns: u64 = probe
        .attribute_versions
        .iter()
        .map(|(_, count)| count)
        .sum();
    let databases = probe
        .attribute_versions
        .iter()
        .map(|(database, _)| database.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let server = probe.new_server.as_deref().map_or_else(
        || format!("PostgreSQL {target}"),
        |server| format!("PostgreSQL {server}"),
    );
    match probe.new_attribute_versions {
        Some(true) => Gate::new(
            NAME,
            true,
            format!("{columns} columns carry one ({databases}); {server} takes them"),
        ),
        Some(false) => Gate::new(
            NAME,
            false,
            format!(
                "{columns} columns of {} carry an attribute version (the column option pg_attver, which PostgreSQL {} stamps) in {databases}, and {server} does not know the option (`unrecognized parameter \"pg_attver\"`): pg_upgrade would fail restoring the schema after every member stopped; install a PostgreSQL {target} release that knows attribute versions",
                inputs.primary, inputs.current
            ),
        ),
        None => Gate::new(
            NAME,
            false,
            format!(
                "{columns} columns of {} carry an attribute version (pg_attver) in {databases}, and whether {server} takes them could not be read (the probe's scratch cluster did not say)",
                inputs.primary
            ),
        ),
    }
}

/// The md5 passwords and pg_hba.conf rules of the members, for a target that
/// deprecates md5 ([`MD5_DEPRECATED`]). A warning, never a refusal: PostgreSQL
/// 18 still accepts md5 passwords and rules (it warns at each md5 login), so the
/// cluster works after the upgrade as before; refusing would hold a cluster on
/// an older major for a change the operator can make after it, and at their
/// own pace. The rules come from the facts' pg_hba.conf, else from the copy of
/// the configuration the probe read.
fn md5(inputs: &Inputs, probes: &[(&str, &Probe)]) -> Gate {
    let mut found = Vec::new();
    let mut roles_named = false;
    for (host, probe) in probes {
        let mut uses = inputs
            .facts
            .get(*host)
            .and_then(|facts| facts.as_ref().ok())
            .map(crate::status::md5::on_host)
            .unwrap_or_default();
        if uses.rules.is_empty()
            && let Some((path, text)) = probe
                .files
                .iter()
                .find(|(path, _)| path.ends_with("/pg_hba.conf"))
        {
            uses.rules = crate::status::md5::rules_in(path, text);
        }
        // The members share one `pg_authid`: its md5 roles are named once.
        if roles_named {
            uses.roles.clear();
        }
        roles_named |= !uses.roles.is_empty();
        if !uses.is_empty() {
            found.push(crate::status::md5::describe(host, &uses));
        }
    }
    if found.is_empty() {
        Gate::new(
            "md5 authentication",
            true,
            "no role has an md5 password and no pg_hba.conf rule uses md5".to_string(),
        )
    } else {
        Gate::warning(
            "md5 authentication",
            format!(
                "{} (PostgreSQL {} still accepts md5 and warns at each md5 login: the upgrade goes on; {})",
                found.join("; "),
                inputs.target,
                MD5_AFTER_UPGRADE
            ),
        )
    }
}

/// What to do about md5 after an upgrade to a version that deprecates it.
const MD5_AFTER_UPGRADE: &str = "set those passwords again with password_encryption = scram-sha-256 and make the rules scram-sha-256";

/// Every standby streams from the primary and has replayed about all of it.
fn caught_up(inputs: &Inputs) -> Gate {
    let primary = inputs
        .facts
        .get(inputs.primary)
        .and_then(|facts| facts.as_ref().ok())
        .and_then(|facts| facts.server.as_ref());
    let mut fine = Vec::new();
    let mut closed = Vec::new();
    for standby in inputs.standbys {
        let server = inputs
            .facts
            .get(standby)
            .and_then(|facts| facts.as_ref().ok())
            .and_then(|facts| facts.server.as_ref());
        let streaming = server
            .and_then(|server| server.wal_receiver.as_ref())
            .is_some_and(|receiver| receiver.status == "streaming");
        let lag = primary.and_then(|primary| {
            primary
                .replication_clients
                .iter()
                .find(|client| client.application_name == *standby)
                .and_then(|client| client.replay_lag_bytes)
        });
        match (streaming, lag) {
            (true, Some(lag)) if lag <= CAUGHT_UP_BYTES => {
                fine.push(format!("{standby} streams, {lag} bytes behind"));
            }
            (true, Some(lag)) => closed.push(format!(
                "{standby} is {lag} bytes behind (at most {CAUGHT_UP_BYTES})"
            )),
            (true, None) => closed.push(format!(
                "{} does not list {standby} in pg_stat_replication",
                inputs.primary
            )),
            (false, _) => closed.push(format!("{standby} does not stream from the primary")),
        }
    }
    if closed.is_empty() {
        let detail = if fine.is_empty() {
            "no standbys".to_string()
        } else {
            fine.join("; ")
        };
        Gate::new("standbys caught up", true, detail)
    } else {
        Gate::new("standbys caught up", false, closed.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::check::{client, facts, primary, standby};
    use crate::versions::PgVersion;

    /// What the probe of a healthy member reads.
    fn healthy(primary: bool) -> Probe {
        let mut text = String::from(
            "binary pg_upgrade yes\nbinary postgres yes\nbinary initdb yes\nbinary pg_controldata yes\nrsync yes\nserver up\nchecksums off\nwal_segment_size 16777216\ndata_size 1000000000\nfree_bytes 5000000000\nsame_filesystem yes\nnew_data_dir absent\nnew_config_dir absent\ntablespaces \nencoding UTF8\nlc_collate C.UTF-8\nlc_ctype C.UTF-8\n",
        );
        text.push_str("file cG9ydCA9IDU0MzIK /etc/postgresql/15/main/postgresql.base.conf\n");
        if primary {
            text.push_str("old_transactions \nextension pg_stat_statements yes appdb\nssh yes postgres@10.0.0.12\ncheck_status 0\n");
            text.push_str(&format!(
                "check_output {}\n",
                base64::engine::general_purpose::STANDARD.encode("*Clusters are compatible*\n")
            ));
        }
        text.push_str("end yes\n");
        Probe::parse(&text).expect("the probe output is whole")
    }

    const REFUSED: &str = "Performing Consistency Checks on Old Live Server\n------------------------------------------------\nChecking cluster versions                                     ok\nChecking database user is the install user                    ok\nChecking for incompatible \"aclitem\" data type in user tables  fatal\n\nYour installation contains the \"aclitem\" data type in user tables.\nThe internal format of \"aclitem\" changed in PostgreSQL version 16\nso this cluster cannot currently be upgraded.\n\nFailure, exiting\n";

    /// As pg_upgrade 17 prints it (seen on the lab).
    const REFUSED_17: &str = "Checking for contrib/isn with bigint-passing mismatch         ok\nChecking data type usage                                      failed check: Checking for incompatible \"aclitem\" data type\n\nData type checks failed: \nYour installation contains the \"aclitem\" data type in user tables.\nThe internal format of \"aclitem\" changed in PostgreSQL version 16\nso this cluster cannot currently be upgraded.  You can drop the\nproblem columns and restart the upgrade.\n\nA list of the problem columns is in the file:\n    /var/tmp/x/data/pg_upgrade_output.d/20261202T063458.686/tables_using_aclitem.txt\n\nFailure, exiting\n";

    fn primary_with_standbys(lags: &[(&str, i64)]) -> crate::facts::HostFacts {
        let clients = lags
            .iter()
            .map(|(name, lag)| client(name, "10.0.0.12", Some(*lag)))
            .collect();
        primary(1, "0/5000060", clients)
    }

    struct Cluster {
        facts: GatheredFacts,
        probes: IndexMap<String, Result<Probe, String>>,
        standbys: Vec<String>,
        logins: IndexMap<String, String>,
    }

    impl Cluster {
        fn healthy() -> Cluster {
            let facts = facts(vec![
                ("db1", Ok(primary_with_standbys(&[("db2", 0), ("db3", 0)]))),
                (
                    "db2",
                    Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
                ),
                (
                    "db3",
                    Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
                ),
            ]);
            let mut probes = IndexMap::new();
            probes.insert("db1".to_string(), Ok(healthy(true)));
            probes.insert("db2".to_string(), Ok(healthy(false)));
            probes.insert("db3".to_string(), Ok(healthy(false)));
            Cluster {
                facts,
                probes,
                standbys: vec!["db2".into(), "db3".into()],
                logins: IndexMap::new(),
            }
        }

        fn probe(mut self, host: &str, edit: impl FnOnce(&mut Probe)) -> Cluster {
            if let Some(Ok(probe)) = self.probes.get_mut(host) {
                edit(probe);
            }
            self
        }

        fn gates(&self, target: u32) -> Vec<Gate> {
            check(&Inputs {
                facts: &self.facts,
                probes: &self.probes,
                primary: "db1",
                standbys: &self.standbys,
                rsync_logins: &self.logins,
                current: PgVersion(1500),
                target: PgVersion(target),
                max_transaction_age_seconds: 300,
            })
        }

        fn gate(&self, name: &str) -> Gate {
            self.gates(1700)
                .into_iter()
                .find(|gate| gate.name == name)
                .unwrap_or_else(|| panic!("no gate {name}"))
        }
    }

    #[test]
    fn a_healthy_cluster_opens_every_gate() {
        let gates = Cluster::healthy().gates(1700);
        let closed: Vec<&Gate> = gates.iter().filter(|gate| !gate.passed).collect();
        assert!(closed.is_empty(), "{closed:?}");
        let names: Vec<&str> = gates.iter().map(|gate| gate.name).collect();
        assert_eq!(
            names,
            [
                "target version",
                "every member runs",
                "new binaries",
                "pg_upgrade --check",
                "standbys caught up",
                "no old transactions",
                "same checksums and WAL segment size",
                "free disk for --link",
                "no new cluster yet",
                "extensions",
                "no tablespaces",
                "attribute versions"
            ]
        );
    }

    /// The document `upgrade --format json` prints, when the gates are open,
    /// open with a warning and closed, matches `docs/schemas/upgrade-gates.schema.json`.
    #[test]
    fn every_gates_document_matches_its_schema() {
        let mut warned = Cluster::healthy();
        for host in warned.facts.values_mut() {
            if let Ok(host) = host
                && let Some(server) = host.server.as_mut()
            {
                server.md5_roles = vec!["legacy_app".into()];
            }
        }
        let cases = [
            ("open", Cluster::healthy(), 1700, true),
            ("warned", warned, 1800, true),
            ("downgrade", Cluster::healthy(), 1400, false),
        ];
        for (name, cluster, target, passes) in cases {
            let inputs = Inputs {
                facts: &cluster.facts,
                probes: &cluster.probes,
                primary: "db1",
                standbys: &cluster.standbys,
                rsync_logins: &cluster.logins,
                current: PgVersion(1500),
                target: PgVersion(target),
                max_transaction_age_seconds: 300,
            };
            let document = Document::new(&inputs, &check(&inputs));
            assert_eq!(document.passed, passes, "{name}: {document:?}");
            assert_eq!(
                document.gates.iter().any(|gate| gate.warning),
                name == "warned",
                "{name}: {document:?}"
            );
            let value = serde_json::json!(document);
            let problems = crate::plan::check::schema_problems("upgrade-gates", &value);
            assert!(problems.is_empty(), "{name}: {problems:#?}\n{value:#}");
        }
    }

    #[test]
    fn columns_with_attribute_versions_are_refused_when_the_new_server_does_not_know_them() {
        // As the probe read a 17.12 primary and an 18.6 scratch cluster on the lab.
        let read = Probe::parse(
            "server up\nattribute_versions 1481 postgres\nattribute_versions 3 appdb\nnew_server 18.6 (Debian 18.6-3)\nnew_attribute_versions no\nend yes\n",
        )
        .expect("the probe output is whole");
        assert_eq!(
            read.attribute_versions,
            [("postgres".to_string(), 1481), ("appdb".to_string(), 3)]
        );
        assert_eq!(read.new_attribute_versions, Some(false));
        let with = |accepted: Option<bool>| {
            let read = read.clone();
            Cluster::healthy()
                .probe("db1", move |probe| {
                    probe.attribute_versions = read.attribute_versions;
                    probe.new_server = read.new_server;
                    probe.new_attribute_versions = accepted;
                })
                .gate("attribute versions")
        };
        let refused = with(Some(false));
        assert!(!refused.passed, "{refused:?}");
        assert!(
            refused.detail.contains("1484 columns of db1")
                && refused.detail.contains("postgres, appdb")
                && refused
                    .detail
                    .contains("PostgreSQL 18.6 (Debian 18.6-3) does not know")
                && refused
                    .detail
                    .contains("release that knows attribute versions"),
            "{refused:?}"
        );
        let unknown = with(None);
        assert!(
            !unknown.passed && unknown.detail.contains("could not be read"),
            "{unknown:?}"
        );
        let taken = with(Some(true));
        assert!(taken.passed, "{taken:?}");
        let none = Cluster::healthy().gate("attribute versions");
        assert!(
            none.passed && none.detail == "no column carries one",
            "{none:?}"
        );
    }

    #[test]
    fn md5_is_a_warning_gate_of_an_upgrade_to_18_that_does_not_block() {
        let gate = |cluster: &Cluster| {
            cluster
                .gates(1800)
                .into_iter()
                .find(|gate| gate.name == "md5 authentication")
                .unwrap_or_else(|| panic!("an upgrade to 18 has an md5 gate"))
        };
        let clean = gate(&Cluster::healthy());
        assert!(clean.passed && !clean.warning, "{clean:?}");
        let mut cluster = Cluster::healthy().probe("db2", |probe| {
            probe.files.insert(
                "/etc/postgresql/15/main/pg_hba.conf".into(),
                "local all postgres peer\nhost all all 10.0.0.0/8 md5\n".into(),
            );
        });
        for host in cluster.facts.values_mut() {
            if let Ok(host) = host
                && let Some(server) = host.server.as_mut()
            {
                server.md5_roles = vec!["legacy_app".into()];
            }
        }
        let warned = gate(&cluster);
        assert!(warned.passed && warned.warning, "{warned:?}");
        assert!(
            warned.detail.starts_with(
                "db1: roles with an md5 password: legacy_app; db2: pg_hba.conf rules using md5: /etc/postgresql/15/main/pg_hba.conf:2 `host all all 10.0.0.0/8 md5` (PostgreSQL 18 still accepts md5"
            ),
            "{}",
            warned.detail
        );
        assert!(cluster.gates(1800).iter().all(|gate| gate.passed));
        // An upgrade to 17 has no md5 gate: 17 does not deprecate md5.
        assert!(
            !cluster
                .gates(1700)
                .iter()
                .any(|gate| gate.name == "md5 authentication")
        );
    }

    #[test]
    fn each_gate_closes_on_its_own_fault() {
        let closed = |cluster: Cluster, name: &str| {
            let gate = cluster.gate(name);
            assert!(!gate.passed, "{gate:?}");
            gate.detail
        };
        assert!(
            Cluster::healthy()
                .gates(1500)
                .iter()
                .any(|gate| gate.name == "target version" && !gate.passed)
        );
        assert!(
            Cluster::healthy()
                .gates(9900)
                .iter()
                .any(|gate| gate.name == "target version" && !gate.passed)
        );
        let detail = closed(
            Cluster::healthy().probe("db3", |probe| {
                probe.binaries.insert("pg_upgrade".into(), false);
            }),
            "new binaries",
        );
        assert!(
            detail.contains("db3 lacks pg_upgrade of PostgreSQL 17"),
            "{detail}"
        );
        let detail = closed(
            Cluster::healthy().probe("db2", |probe| probe.running = false),
            "every member runs",
        );
        assert!(
            detail.contains("PostgreSQL does not run on db2"),
            "{detail}"
        );
        let detail = closed(
            Cluster::healthy().probe("db1", |probe| {
                probe.old_transactions =
                    Some("pid 42 (user app, application -, open 900 s)".into());
            }),
            "no old transactions",
        );
        assert!(detail.contains("pid 42"), "{detail}");
        let detail = closed(
            Cluster::healthy().probe("db2", |probe| probe.checksums = Some("on".into())),
            "same checksums and WAL segment size",
        );
        assert!(detail.contains("db2: checksums on"), "{detail}");
        let detail = closed(
            Cluster::healthy().probe("db2", |probe| probe.free_bytes = Some(1000)),
            "free disk for --link",
        );
        assert!(
            detail.contains("db2: 1000 B free") || detail.contains("db2:"),
            "{detail}"
        );
        assert!(detail.contains("256.0 MiB needed"), "{detail}");
        let detail = closed(
            Cluster::healthy().probe("db3", |probe| probe.new_data_dir_exists = true),
            "no new cluster yet",
        );
        assert!(
            detail.contains("db3 already has a PostgreSQL 17 cluster"),
            "{detail}"
        );
        let detail = closed(
            Cluster::healthy().probe("db1", |probe| {
                probe
                    .extensions
                    .push(("postgis".into(), false, "gis".into()));
            }),
            "extensions",
        );
        assert!(detail.contains("postgis (database gis)"), "{detail}");
        let detail = closed(
            Cluster::healthy().probe("db1", |probe| probe.tablespaces = vec!["fast".into()]),
            "no tablespaces",
        );
        assert!(
            detail.contains("pgconverge does not upgrade clusters with tablespaces yet"),
            "{detail}"
        );
        let mut lagging = Cluster::healthy();
        lagging.facts = facts(vec![
            (
                "db1",
                Ok(primary_with_standbys(&[("db2", 0), ("db3", 50_000_000)])),
            ),
            (
                "db2",
                Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
            ),
            (
                "db3",
                Ok(standby(Some("10.0.0.11"), "0/5000060", "0/5000060")),
            ),
        ]);
        let detail = closed(lagging, "standbys caught up");
        assert!(detail.contains("db3 is 50000000 bytes behind"), "{detail}");
        let mut trusting = Cluster::healthy();
        trusting
            .logins
            .insert("db3".into(), "postgres@10.0.0.13".into());
        let detail = closed(trusting, "rsync over SSH trust");
        assert!(
            detail.contains("cannot log in as postgres@10.0.0.13"),
            "{detail}"
        );
    }

    #[test]
    fn a_refused_check_is_named_with_its_explanation() {
        let (names, explanation) = failed_checks(REFUSED);
        assert_eq!(
            names,
            ["Checking for incompatible \"aclitem\" data type in user tables"]
        );
        assert!(
            explanation.starts_with(
                "Your installation contains the \"aclitem\" data type in user tables."
            ),
            "{explanation}"
        );
        let (names, explanation) = failed_checks(REFUSED_17);
        assert_eq!(names, ["Checking for incompatible \"aclitem\" data type"]);
        assert!(
            explanation.starts_with(
                "Your installation contains the \"aclitem\" data type in user tables."
            ),
            "{explanation}"
        );
        assert!(
            explanation.contains("The internal format of \"aclitem\" changed"),
            "{explanation}"
        );
        let encoded = base64::engine::general_purpose::STANDARD.encode(REFUSED);
        let cluster = Cluster::healthy().probe("db1", |probe| {
            *probe = Probe::parse(&format!("check_status 1\ncheck_output {encoded}\ncheck_list SW4gZGF0YWJhc2U6IHBvc3RncmVzCiAgcHVibGljLnJlZnVzZWQuYQo= tables_using_aclitem.txt\nend yes\n")).expect("the probe output is whole");
            probe.running = true;
        });
        let gate = cluster.gate("pg_upgrade --check");
        assert!(!gate.passed);
        assert!(gate.detail.starts_with("Checking for incompatible \"aclitem\" data type in user tables: Your installation contains"), "{}", gate.detail);
        assert!(
            gate.detail
                .ends_with("(tables_using_aclitem.txt: In database: postgres public.refused.a)"),
            "{}",
            gate.detail
        );
    }

    #[test]
    fn the_probe_is_read_line_by_line() {
        let probe = healthy(true);
        assert_eq!(
            probe
                .files
                .get("/etc/postgresql/15/main/postgresql.base.conf")
                .map(String::as_str),
            Some("port = 5432\n")
        );
        assert_eq!(probe.wal_segment_size, Some(16_777_216));
        assert_eq!(probe.old_transactions.as_deref(), Some(""));
        assert_eq!(
            probe.extensions,
            [("pg_stat_statements".to_string(), true, "appdb".to_string())]
        );
        assert_eq!(probe.ssh.get("postgres@10.0.0.12"), Some(&true));
        assert!(probe.tablespaces.is_empty());
    }

    #[test]
    fn a_probe_output_cut_short_or_damaged_is_refused_never_read_as_empty() {
        let whole = "server up\nfile cG9ydCA9IDU0MzIK /etc/postgresql/15/main/postgresql.base.conf\nend yes\n";
        assert!(Probe::parse(whole).is_ok());
        assert_eq!(
            Probe::parse(
                "server up\nfile cG9ydCA9IDU0MzIK /etc/postgresql/15/main/postgresql.base.conf\n"
            ),
            Err(ProbeError::Incomplete)
        );
        assert_eq!(
            Probe::parse("file not*base64 /etc/postgresql/15/main/postgresql.base.conf\nend yes\n"),
            Err(ProbeError::NotBase64 {
                key: "file /etc/postgresql/15/main/postgresql.base.conf".to_string()
            })
        );
        assert_eq!(
            Probe::parse("file /w== /etc/postgresql/15/main/pg_hba.conf\nend yes\n"),
            Err(ProbeError::NotUtf8 {
                key: "file /etc/postgresql/15/main/pg_hba.conf".to_string()
            })
        );
        assert!(matches!(
            Probe::parse("server up\nsomething new\nend yes\n"),
            Err(ProbeError::Unknown { .. })
        ));
    }
}
