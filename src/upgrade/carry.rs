//! The host's own configuration carried over to the new version, pure over the
//! files the probe read: the base file, `conf.d`, the access rules and the
//! `ALTER SYSTEM` settings, each moved from the old version's directories to the
//! new one's, with the paths that name the old version rewritten and the
//! settings the new version no longer has commented out, saying why.

use crate::actions::upgrade::CarriedFile;
use crate::inventory::HostSettings;
use crate::secret::Sensitive;
use crate::versions::{PgVersion, dropped_between};
use indexmap::IndexMap;

/// Settings whose value names the old version's directories or cluster.
const VERSIONED_PATHS: [&str; 6] = [
    "data_directory",
    "hba_file",
    "ident_file",
    "external_pid_file",
    "cluster_name",
    "stats_temp_directory",
];

/// What the carry-over writes, and what it had to change by more than a path.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Carried {
    pub files: Vec<CarriedFile>,
    /// One line for each setting commented out: the file, the line, why.
    pub warnings: Vec<String>,
    /// One line for each path rewritten.
    pub rewritten: Vec<String>,
}

/// Where a file of the old cluster goes in the new one: the same place below
/// the new configuration (or data) directory.
fn new_path(path: &str, old: &HostSettings, new: &HostSettings) -> Option<String> {
    let below = |dir: &str| {
        path.strip_prefix(dir)
            .filter(|rest| rest.starts_with('/'))
            .map(str::to_string)
    };
    if let Some(rest) = below(&old.config_dir) {
        return Some(format!("{}{rest}", new.config_dir));
    }
    below(&old.data_dir).map(|rest| format!("{}{rest}", new.data_dir))
}

/// The name a postgresql.conf line sets, if it sets one.
fn setting_name(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.is_empty() {
        return None;
    }
    let name: String = trimmed
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect();
    let rest = trimmed[name.len()..].trim_start();
    (!name.is_empty() && (rest.starts_with('=') || !rest.is_empty()))
        .then(|| name.to_ascii_lowercase())
}

/// `value` with the old version's directories and version named by the new's.
fn rewrite_value(line: &str, old: &HostSettings, new: &HostSettings) -> String {
    let (old_version, new_version) = (old.pg_version.to_string(), new.pg_version.to_string());
    let mut text = line
        .replace(&old.data_dir, &new.data_dir)
        .replace(&old.config_dir, &new.config_dir);
    // Debian names a cluster `15/main` and its pid file `15-main.pid`.
    for (before, after) in [
        (format!("/{old_version}/"), format!("/{new_version}/")),
        (format!("/{old_version}-"), format!("/{new_version}-")),
        (format!("'{old_version}/"), format!("'{new_version}/")),
        (format!("'{old_version}-"), format!("'{new_version}-")),
    ] {
        text = text.replace(&before, &after);
    }
    text
}

/// A postgresql.conf-type file for `new`: paths rewritten, dropped settings
/// commented out.
fn carry_settings(
    name: &str,
    text: &str,
    old: &HostSettings,
    new: &HostSettings,
    carried: &mut Carried,
) -> String {
    let mut lines = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let Some(setting) = setting_name(line) else {
            lines.push(line.to_string());
            continue;
        };
        if let Some(reason) = dropped_between(&setting, old.pg_version, new.pg_version) {
            let why = reason.replace('`', "");
            lines.push(format!(
                "# pgconverge upgrade to {}: commented out, {why}",
                new.pg_version
            ));
            lines.push(format!("#{line}"));
            carried
                .warnings
                .push(format!("{name} line {}: {why}: commented out", index + 1));
            continue;
        }
        if VERSIONED_PATHS.contains(&setting.as_str()) {
            let rewritten = rewrite_value(line, old, new);
            if rewritten != *line {
                carried.rewritten.push(format!(
                    "{name} line {}: {} -> {}",
                    index + 1,
                    line.trim(),
                    rewritten.trim()
                ));
            }
            lines.push(rewritten);
            continue;
        }
        lines.push(line.to_string());
    }
    let mut result = lines.join("\n");
    if text.ends_with('\n') {
        result.push('\n');
    }
    result
}

/// The files to write for `new`: each file the probe read from the old
/// cluster (`observed`, path to content) at its new place, and `rendered`,
/// pgconverge's own postgresql.conf of the new version, when given.
pub fn carry(
    observed: &IndexMap<String, String>,
    old: &HostSettings,
    new: &HostSettings,
    rendered: Option<(&str, &str)>,
) -> Carried {
    let mut carried = Carried::default();
    for (path, text) in observed {
        let Some(target) = new_path(path, old, new) else {
            continue;
        };
        let file_name = path.rsplit('/').next().unwrap_or_default();
        let is_settings =
            file_name.ends_with(".conf") && !matches!(file_name, "pg_hba.conf" | "pg_ident.conf");
        let content = if is_settings {
            carry_settings(path, text, old, new, &mut carried)
        } else {
            text.clone()
        };
        let mode = match file_name {
            "pg_hba.conf" | "pg_ident.conf" => 0o640,
            "postgresql.auto.conf" => 0o600,
            _ => 0o644,
        };
        carried.files.push(CarriedFile {
            path: target,
            mode,
            content: Sensitive::new(content),
        });
    }
    if let Some((path, content)) = rendered {
        carried.files.push(CarriedFile {
            path: path.to_string(),
            mode: 0o644,
            content: Sensitive::new(content.to_string()),
        });
    }
    carried
}

/// Whether `version` is one pgconverge can upgrade to from `current`.
pub fn known_target(current: PgVersion, version: PgVersion) -> Result<(), String> {
    if !version.was_released() || version < crate::versions::OLDEST {
        return Err(format!(
            "PostgreSQL {version} is not a version pgconverge knows (up to {})",
            crate::versions::NEWEST
        ));
    }
    if version <= current {
        return Err(format!(
            "the cluster runs PostgreSQL {current}: --to {version} is not newer"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(version: u32) -> HostSettings {
        let major = version / 100;
        HostSettings {
            pg_version: PgVersion(version),
            config_dir: format!("/etc/postgresql/{major}/main"),
            data_dir: format!("/var/lib/postgresql/{major}/main"),
            bin_dir: format!("/usr/lib/postgresql/{major}/bin"),
            ..HostSettings::example()
        }
    }

    const BASE: &str = "# Debian's file\ndata_directory = '/var/lib/postgresql/15/main'\t\t# use data in another directory\nhba_file = '/etc/postgresql/15/main/pg_hba.conf'\nident_file = '/etc/postgresql/15/main/pg_ident.conf'\nexternal_pid_file = '/var/run/postgresql/15-main.pid'\nport = 5432\ncluster_name = '15/main'\nshared_buffers = 64MB\nvacuum_defer_cleanup_age = 10\npromote_trigger_file = '/tmp/promote'\n#vacuum_defer_cleanup_age = 0\ninclude_dir = 'conf.d'\n";

    #[test]
    fn the_old_versions_paths_are_rewritten_and_dropped_settings_commented_out() {
        let (old, new) = (settings(1500), settings(1700));
        let mut observed = IndexMap::new();
        observed.insert(
            "/etc/postgresql/15/main/postgresql.base.conf".to_string(),
            BASE.to_string(),
        );
        observed.insert(
            "/etc/postgresql/15/main/conf.d/tuning.conf".to_string(),
            "work_mem = 8MB\nforce_parallel_mode = on\n".to_string(),
        );
        observed.insert(
            "/etc/postgresql/15/main/pg_hba.conf".to_string(),
            "local all postgres peer\n".to_string(),
        );
        observed.insert(
            "/var/lib/postgresql/15/main/postgresql.auto.conf".to_string(),
            "log_lock_waits = 'on'\n".to_string(),
        );
        let carried = carry(
            &observed,
            &old,
            &new,
            Some(("/etc/postgresql/17/main/postgresql.conf", "port = 5432\n")),
        );
        let paths: Vec<(&str, u32)> = carried
            .files
            .iter()
            .map(|file| (file.path.as_str(), file.mode))
            .collect();
        assert_eq!(
            paths,
            [
                ("/etc/postgresql/17/main/postgresql.base.conf", 0o644),
                ("/etc/postgresql/17/main/conf.d/tuning.conf", 0o644),
                ("/etc/postgresql/17/main/pg_hba.conf", 0o640),
                ("/var/lib/postgresql/17/main/postgresql.auto.conf", 0o600),
                ("/etc/postgresql/17/main/postgresql.conf", 0o644),
            ]
        );
        insta::assert_snapshot!(carried.files[0].content.expose(), @r"
        # Debian's file
        data_directory = '/var/lib/postgresql/17/main'		# use data in another directory
        hba_file = '/etc/postgresql/17/main/pg_hba.conf'
        ident_file = '/etc/postgresql/17/main/pg_ident.conf'
        external_pid_file = '/var/run/postgresql/17-main.pid'
        port = 5432
        cluster_name = '17/main'
        shared_buffers = 64MB
        # pgconverge upgrade to 17: commented out, vacuum_defer_cleanup_age does not exist in PostgreSQL 17 (removed in 16: use hot_standby_feedback or a replication slot)
        #vacuum_defer_cleanup_age = 10
        # pgconverge upgrade to 17: commented out, promote_trigger_file does not exist in PostgreSQL 17 (removed in 16: promote with pg_ctl promote or SELECT pg_promote())
        #promote_trigger_file = '/tmp/promote'
        #vacuum_defer_cleanup_age = 0
        include_dir = 'conf.d'
        ");
        assert_eq!(
            carried.files[1].content.expose(),
            "work_mem = 8MB\n# pgconverge upgrade to 17: commented out, force_parallel_mode does not exist in PostgreSQL 17 (removed in 16: use debug_parallel_query)\n#force_parallel_mode = on\n"
        );
        assert_eq!(
            carried.files[2].content.expose(),
            "local all postgres peer\n"
        );
        assert_eq!(
            carried.warnings,
            [
                "/etc/postgresql/15/main/postgresql.base.conf line 9: vacuum_defer_cleanup_age does not exist in PostgreSQL 17 (removed in 16: use hot_standby_feedback or a replication slot): commented out",
                "/etc/postgresql/15/main/postgresql.base.conf line 10: promote_trigger_file does not exist in PostgreSQL 17 (removed in 16: promote with pg_ctl promote or SELECT pg_promote()): commented out",
                "/etc/postgresql/15/main/conf.d/tuning.conf line 2: force_parallel_mode does not exist in PostgreSQL 17 (removed in 16: use debug_parallel_query): commented out",
            ]
        );
        assert_eq!(carried.rewritten.len(), 5, "{:?}", carried.rewritten);
    }

    #[test]
    fn a_setting_the_new_version_still_has_is_kept_as_written() {
        let (old, new) = (settings(1500), settings(1600));
        let mut observed = IndexMap::new();
        let text = "wal_keep_size = '1GB'\nmax_slot_wal_keep_size = 10GB\nlog_min_duration_statement = 250\n";
        observed.insert(
            "/etc/postgresql/15/main/conf.d/a.conf".to_string(),
            text.to_string(),
        );
        let carried = carry(&observed, &old, &new, None);
        assert_eq!(carried.files[0].content.expose(), text);
        assert!(carried.warnings.is_empty());
    }

    #[test]
    fn only_a_newer_known_version_is_a_target() {
        assert!(known_target(PgVersion(1500), PgVersion(1700)).is_ok());
        assert!(known_target(PgVersion(1500), PgVersion(1500)).is_err());
        assert!(known_target(PgVersion(1500), PgVersion(1400)).is_err());
        let unknown = known_target(PgVersion(1500), PgVersion(9900));
        assert!(unknown.is_err_and(|reason| reason.contains("not a version pgconverge knows")));
    }
}
