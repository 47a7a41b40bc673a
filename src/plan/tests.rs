//! Planner tests: inventory + fake facts in, plan text out, pinned with insta.
//! Fakes are fine here: the planner is pure. The lab tests check the same paths
//! against real hosts.

use super::build::{PlanOptions, plan};
use super::check::*;
use super::*;
use crate::desired::DesiredState;
use crate::facts::{GatheredFacts, ObservedSetting};
use crate::secret::Sensitive;

#[test]
fn converged_cluster_plans_no_change() {
    let (desired, playbook) = desired(THREE_HOSTS);
    insta::assert_snapshot!(plan_text(
        &desired,
        &playbook,
        converged_cluster(&desired),
        &PlanOptions::default()
    ));
}

/// Three hosts as Debian's package leaves them, each its own cluster.
fn fresh_cluster() -> GatheredFacts {
    [
        ("db1", PRIMARY_ID),
        ("db2", "7300000000000000002"),
        ("db3", "7300000000000000003"),
    ]
    .iter()
    .map(|(host, id)| (host.to_string(), Ok(fresh_host(id))))
    .collect()
}

#[test]
fn fresh_hosts_get_configured_and_standbys_cloned() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let facts = fresh_cluster();
    let text = plan_text(&desired, &playbook, facts, &PlanOptions::default());
    assert!(!text.contains(PASSWORD), "the password is in the plan");
    insta::assert_snapshot!(text);
}

/// The first plan of a stock 3-host cluster fits on a screen of 55 lines; the
/// whole diffs (`--diff full`) are counted beside it.
#[test]
fn the_first_plan_of_a_stock_cluster_fits_on_a_screen() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let plan = plan(
        &desired,
        &playbook,
        &fresh_cluster(),
        &PlanOptions::default(),
    );
    let lines = |full_diff| {
        anstream::adapter::strip_str(&crate::printer::plan_text_with(&plan, full_diff))
            .to_string()
            .lines()
            .count()
    };
    let (settings, full) = (lines(false), lines(true));
    eprintln!("the first plan of 3 stock hosts: {settings} lines; with --diff full: {full} lines");
    assert!(settings <= 55, "{settings} lines");
    assert!(full > settings, "--diff full shows more: {full} lines");
}

#[test]
fn hand_edited_setting_is_reverted_with_a_reload() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let mut facts = converged_cluster(&desired);
    if let Some(Ok(db2)) = facts.get_mut("db2")
        && let Some(file) = db2.files.get_mut("/etc/postgresql/15/main/postgresql.conf")
    {
        file.content.extend_from_slice(b"work_mem = '64MB'\n");
    }
    set_value(&mut facts, "db2", "work_mem", "65536");
    let text = plan_text(&desired, &playbook, facts, &PlanOptions::default());
    assert!(text.contains("~ work_mem  64MB → 4MB  (reload)"), "{text}");
    assert!(
        text.contains("reload PostgreSQL: postgresql_conf changed"),
        "{text}"
    );
    assert!(!text.contains("restart PostgreSQL"), "{text}");
}

#[test]
fn postmaster_setting_change_plans_a_restart() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let mut facts = converged_cluster(&desired);
    if let Some(Ok(db1)) = facts.get_mut("db1")
        && let Some(file) = db1.files.get_mut("/etc/postgresql/15/main/postgresql.conf")
    {
        file.content = String::from_utf8_lossy(&file.content)
            .replace("max_connections = 100", "max_connections = 50")
            .into_bytes();
    }
    set_value(&mut facts, "db1", "max_connections", "50");
    let text = plan_text(&desired, &playbook, facts, &PlanOptions::default());
    assert!(
        text.contains("restart PostgreSQL: max_connections need a restart"),
        "{text}"
    );
}

#[test]
fn interrupted_run_still_restarts_from_server_state() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let mut facts = converged_cluster(&desired);
    // The file was written and reloaded, but the restart never happened: PostgreSQL says so.
    if let Some(Ok(db1)) = facts.get_mut("db1")
        && let Some(server) = db1.server.as_mut()
    {
        server.settings.insert(
            "wal_level".into(),
            ObservedSetting {
                pending_restart: true,
                ..ObservedSetting::example("postmaster", "replica", "", "enum")
            },
        );
    }
    // The file was written but never loaded: its modification time is after the last load.
    if let Some(Ok(db2)) = facts.get_mut("db2")
        && let Some(file) = db2.files.get_mut("/etc/postgresql/15/main/pg_hba.conf")
    {
        file.attributes.modified = 3_000;
    }
    let text = plan_text(&desired, &playbook, facts, &PlanOptions::default());
    assert!(
        text.contains("restart PostgreSQL: wal_level (pending restart) need a restart"),
        "{text}"
    );
    assert!(text.contains("reload PostgreSQL: /etc/postgresql/15/main/pg_hba.conf changed on disk after the server last read it"), "{text}");
}

#[test]
fn data_directory_with_user_databases_is_replaced_only_when_allowed() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let mut facts = converged_cluster(&desired);
    if let Some(Ok(db3)) = facts.get_mut("db3") {
        db3.data_directory.system_identifier = Some("7399999999999999999".into());
        db3.data_directory.standby_signal = false;
        if let Some(server) = db3.server.as_mut() {
            server.user_databases = vec!["billing".into()];
        }
    }
    let refused = plan_text(&desired, &playbook, facts.clone(), &PlanOptions::default());
    assert!(refused.contains("refused: /var/lib/postgresql/15/main holds user databases (billing): pass `--replace-data db3` to replace it"), "{refused}");
    assert!(refused.contains("[destructive]"), "{refused}");
    let allowed = plan_text(
        &desired,
        &playbook,
        facts,
        &PlanOptions {
            replace_data: vec!["db3".into()],
            ..PlanOptions::default()
        },
    );
    assert!(!allowed.contains("refused"), "{allowed}");
    assert!(allowed.contains("-/+ base_backup"), "{allowed}");
    assert!(
        allowed.contains("start PostgreSQL (new data directory)"),
        "{allowed}"
    );
}

#[test]
fn changed_password_is_set_without_showing_it() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let mut facts = converged_cluster(&desired);
    if let Some(Ok(db1)) = facts.get_mut("db1") {
        let other = crate::scram::new_verifier("another password")
            .map(|v| v.to_string())
            .unwrap_or_default();
        if let Some(role) = db1
            .server
            .as_mut()
            .and_then(|server| server.replication_role.as_mut())
        {
            role.password_verifier = Sensitive::new(other);
        }
    }
    let text = plan_text(&desired, &playbook, facts, &PlanOptions::default());
    assert!(
        text.contains("~ replication_role  alter role replicator: set password (sensitive)"),
        "{text}"
    );
    assert!(!text.contains(PASSWORD));
}

#[test]
fn unreachable_host_is_named_and_others_are_planned() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let mut facts = converged_cluster(&desired);
    facts.insert(
        "db3".into(),
        Err("cannot connect to db3 (10.0.0.13): Connection timed out".into()),
    );
    let text = plan_text(&desired, &playbook, facts, &PlanOptions::default());
    assert!(text.contains("db3 (10.0.0.13, standby of db1)\n  unreachable: cannot connect to db3 (10.0.0.13): Connection timed out"), "{text}");
    assert!(text.ends_with("1 hosts unreachable."), "{text}");
}

#[test]
fn limit_plans_only_the_named_hosts() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let text = plan_text(
        &desired,
        &playbook,
        converged_cluster(&desired),
        &PlanOptions {
            limit: vec!["db2".into()],
            ..PlanOptions::default()
        },
    );
    assert!(
        text.starts_with("db2 (10.0.0.12, standby of db1)"),
        "{text}"
    );
    assert!(!text.contains("db3 ("), "{text}");
}

#[test]
fn json_document_is_pinned() {
    // The JSON format is an interface for CI pipelines: this snapshot pins it. A
    // change here must be deliberate, documented in docs/plan-format.md, and bump
    // `FORMAT_VERSION` when a field changes meaning or disappears.
    let (desired, playbook) = desired(THREE_HOSTS);
    let mut facts = converged_cluster(&desired);
    if let Some(Ok(db2)) = facts.get_mut("db2")
        && let Some(file) = db2.files.get_mut("/etc/postgresql/15/main/postgresql.conf")
    {
        file.content.extend_from_slice(b"work_mem = '64MB'\n");
    }
    // A hand edit in force: the plan shows the setting going back to its default.
    set_value(&mut facts, "db2", "work_mem", "65536");
    facts.insert(
        "db3".into(),
        Err("cannot connect to db3 (10.0.0.13): Connection timed out".into()),
    );
    let plan = plan(&desired, &playbook, &facts, &PlanOptions::default());
    let document = super::document::PlanDocument::of_plan(&plan);
    let text = serde_json::to_string_pretty(&document)
        .unwrap_or_else(|error| panic!("serialise: {error}"));
    assert_matches_schema("plan", &serde_json::json!(document));
    let text = text.replace(env!("CARGO_PKG_VERSION"), "VERSION");
    insta::assert_snapshot!(text);
}

/// Plans of every shape the planner makes, each as a fixture: fresh hosts, a
/// cluster without a cluster yet, a former primary rejoined, an archive host,
/// pgBackRest, an old version, ALTER SYSTEM drift, a stale slot, a standby
/// decommissioned, a blocked plan, an unreachable host, PgBouncer hosts, a
/// primary handing over.
fn plans_of_every_shape() -> Vec<(&'static str, Plan)> {
    let without_cluster = |facts: &mut crate::facts::HostFacts| {
        facts.data_directory = crate::facts::DataDirectory::default();
        facts.server = None;
        facts.os_user_home = None;
    };
    let fixtures = [
        ("fresh", Fixture::fresh()),
        (
            "without a cluster",
            Fixture::fresh().edit("db1", without_cluster),
        ),
        (
            "rejoin",
            Fixture::converged()
                .promoted_beside_the_primary("db2")
                .options(PlanOptions {
                    rejoin: vec!["db2".into()],
                    ..PlanOptions::default()
                }),
        ),
        (
            "blocked",
            Fixture::converged().promoted_beside_the_primary("db2"),
        ),
        ("archive host", Fixture::archive_host()),
        (
            "pgbackrest",
            Fixture::converged_with(&pgbackrest_inventory()),
        ),
        ("version 11", Fixture::fresh_version("11")),
        (
            "altered",
            Fixture::converged().altered_system("db2", "primary_conninfo = 'host=elsewhere'\n"),
        ),
        (
            "stale slot",
            Fixture::converged().stale_slot("db1", "pgconverge_gone"),
        ),
        ("decommission", Fixture::removed_standby()),
        ("unreachable", Fixture::converged().unreachable("db3")),
        ("pgbouncer", Fixture::pgbouncer_fresh()),
    ];
    let mut plans: Vec<(&'static str, Plan)> = fixtures
        .into_iter()
        .map(|(name, fixture)| (name, fixture.plan()))
        .collect();
    let inventory = THREE_HOSTS.replace(
        "db3: { ansible_host: 10.0.0.13 }",
        "db3: { ansible_host: 10.0.0.13, replication_mode: synchronous }",
    );
    let facts = converged_cluster(&desired(&inventory).0);
    let (desired, playbook) = desired(&inventory.replace(
        "    pg_version: 15\n",
        "    pg_version: 15\n    max_connections: 200\n",
    ));
    let options = PlanOptions {
        restarts: super::rolling::RestartPolicy {
            primary: super::rolling::PrimaryRestart::Switchover,
            ..super::rolling::RestartPolicy::default()
        },
        ..PlanOptions::default()
    };
    plans.push(("handover", plan(&desired, &playbook, &facts, &options)));
    plans
}

/// Every plan document, and the apply document of each with every kind of
/// outcome, matches `docs/schemas/plan.schema.json`.
#[test]
fn every_plan_document_matches_its_schema() {
    use super::document::PlanDocument;
    let mut seen = std::collections::BTreeSet::new();
    for (name, plan) in plans_of_every_shape() {
        let document = PlanDocument::of_plan(&plan);
        for host in &document.hosts {
            seen.insert(host.role.clone());
            for step in &host.steps {
                seen.insert(format!("action {:?}", step.action));
                seen.extend(
                    step.setting_changes
                        .iter()
                        .map(|change| format!("applies_by {:?}", change.applies_by)),
                );
            }
        }
        seen.extend(document.blocked.as_ref().map(|_| "blocked".to_string()));
        seen.extend(document.handover.as_ref().map(|_| "handover".to_string()));
        let problems = schema_problems("plan", &serde_json::json!(document));
        assert!(problems.is_empty(), "{name}: {problems:#?}");
        let outcomes: indexmap::IndexMap<crate::desired::NodeId, Outcome> = plan
            .hosts
            .iter()
            .flat_map(|host| {
                host.steps
                    .iter()
                    .map(move |step| crate::desired::NodeId::new(&host.name, &step.id))
            })
            .enumerate()
            .map(|(index, node)| {
                let outcome = match index % 5 {
                    0 => Outcome::Unchanged,
                    1 => Outcome::Changed("written".into()),
                    2 => Outcome::Verified("streams".into()),
                    3 => Outcome::Failed("exit 1".into()),
                    _ => Outcome::Skipped("a step before failed".into()),
                };
                (node, outcome)
            })
            .collect();
        let applied = PlanDocument::of_apply(&plan, &outcomes);
        let problems = schema_problems("plan", &serde_json::json!(applied));
        assert!(problems.is_empty(), "{name} applied: {problems:#?}");
    }
    // The shapes the schema describes all occurred.
    for wanted in [
        "primary",
        "standby",
        "archive",
        "decommissioned",
        "action Noop",
        "action Create",
        "action Update",
        "action Start",
        "action Stop",
        "action Restart",
        "action Reload",
        "action ReplaceData",
        "action Check",
        "applies_by Reload",
        "applies_by Restart",
        "blocked",
        "handover",
    ] {
        assert!(seen.contains(wanted), "no plan has {wanted}: {seen:?}");
    }
}

/// A document of kind `plan` with an outcome, or a field the schema does not
/// know, does not match: the schema catches drift.
#[test]
fn the_plan_schema_refuses_what_the_planner_does_not_make() {
    let plan = Fixture::converged().plan();
    let mut document = serde_json::json!(super::document::PlanDocument::of_plan(&plan));
    document["hosts"][0]["steps"][0]["outcome"] =
        serde_json::json!({ "status": "changed", "message": "" });
    assert!(
        !schema_problems("plan", &document).is_empty(),
        "a plan with an outcome passed"
    );
    let mut document = serde_json::json!(super::document::PlanDocument::of_plan(&plan));
    document["hosts"][0]["steps"][0]["setting_changes"] = serde_json::json!([
        { "name": "work_mem", "before": "4MB", "after": "8MB", "applies_by": "reload", "context": "user" }
    ]);
    assert!(
        !schema_problems("plan", &document).is_empty(),
        "an unknown field passed"
    );
}

/// A setting whose value holds a secret: the document holds it as every other
/// field would, and the printer's redactor, which every printed document
/// passes, leaves none of it.
#[test]
fn a_secret_in_a_setting_value_is_not_printed() {
    let secret = "s3cret-application-token-4711";
    let inventory = THREE_HOSTS.replace(
        "    pg_version: 15\n",
        &format!(
            "    pg_version: 15\n    app_token: {secret}\n    sensitive_vars: [app_token]\n    pg_settings: {{ application_name: \"{{{{ app_token }}}}\" }}\n"
        ),
    );
    let facts = converged_cluster(&desired(THREE_HOSTS).0);
    let (desired, playbook) = desired(&inventory);
    let plan = plan(&desired, &playbook, &facts, &PlanOptions::default());
    let document = super::document::PlanDocument::of_plan(&plan);
    let changes: Vec<&crate::actions::SettingChange> = document
        .hosts
        .iter()
        .flat_map(|host| host.steps.iter().flat_map(|step| &step.setting_changes))
        .filter(|change| change.name == "application_name")
        .collect();
    assert_eq!(changes.len(), 3, "{changes:?}");
    let printed = crate::secret::Redactor::new(desired.secrets.clone())
        .redact(&serde_json::to_string_pretty(&document).unwrap_or_else(|error| panic!("{error}")));
    assert!(!printed.contains(secret), "{printed}");
    assert!(printed.contains("\"after\": \"(sensitive)\""), "{printed}");
}

/// A saved plan, made as `apply --dry-run --out` makes it, matches
/// `docs/schemas/saved-plan.schema.json`.
#[test]
fn a_saved_plan_matches_its_schema() {
    use super::saved::{InputRecord, SavedPlan, new_secret_key, secret_fingerprints, sha256_hex};
    let fixture = Fixture::converged().unreachable("db3");
    let plan = fixture.plan();
    let key = new_secret_key();
    let saved = SavedPlan {
        format_version: super::document::FORMAT_VERSION,
        pgconverge_version: env!("CARGO_PKG_VERSION").to_string(),
        inventory: InputRecord {
            path: Some("inventory.yaml".into()),
            sha256: sha256_hex(THREE_HOSTS.as_bytes()),
        },
        playbook: InputRecord {
            path: None,
            sha256: sha256_hex(b"playbook"),
        },
        templates: InputRecord {
            path: None,
            sha256: sha256_hex(b"templates"),
        },
        limit: Vec::new(),
        replace_data: vec!["db2".into()],
        restarts: Default::default(),
        rejoin: Vec::new(),
        decommission: Vec::new(),
        secrets: secret_fingerprints(&key, &fixture.desired.secrets),
        facts: fixture
            .facts
            .iter()
            .filter_map(|(host, facts)| {
                let files = vec!["/var/lib/postgresql/.pgpass".to_string()];
                facts.as_ref().ok().map(|facts| {
                    (
                        host.clone(),
                        crate::facts::fingerprint::fingerprint(facts, &key, &files),
                    )
                })
            })
            .collect(),
        secret_key: key,
        plan: super::document::PlanDocument::of_plan(&plan),
    };
    assert_matches_schema("saved-plan", &serde_json::json!(saved));
    // The plan in a saved plan is a dry run's.
    let mut applied = serde_json::json!(saved);
    applied["plan"]["kind"] = "apply".into();
    assert!(
        !schema_problems("saved-plan", &applied).is_empty(),
        "a saved plan of kind apply passed"
    );
}

#[test]
fn config_inside_a_replaced_data_directory_is_written_after_the_base_backup() {
    // The RHEL layout keeps the configuration in the data directory: a base backup
    // brings the upstream's files, so the standby's must be written again even
    // when the ones there now already match.
    let inventory = THREE_HOSTS.replace(
        "    pg_version: 15\n",
        "    pg_version: 15\n    pg_config_dir: \"{{ pg_data_dir }}\"\n",
    );
    let (desired, playbook) = desired(&inventory);
    let mut facts = converged_cluster(&desired);
    if let Some(Ok(db2)) = facts.get_mut("db2") {
        db2.data_directory.system_identifier = Some("7399999999999999999".into());
    }
    let text = plan_text(&desired, &playbook, facts, &PlanOptions::default());
    let db2 = text.split("db3 (").next().unwrap_or_default();
    assert!(
        db2.contains("+ postgresql_conf   create /var/lib/postgresql/15/main/postgresql.conf"),
        "{db2}"
    );
    assert!(
        db2.contains("+ pg_hba_conf       create /var/lib/postgresql/15/main/pg_hba.conf"),
        "{db2}"
    );
    let db3 = text.split("db3 (").nth(1).unwrap_or_default();
    assert!(
        db3.contains("unchanged: os_user, wal_archive_dir, pgpass, replication_slot, base_backup, postgresql_conf"),
        "db3 keeps its data directory\n{text}"
    );
}

/// The cluster after a failover: db2 promoted and recorded as the primary, db1
/// (the old primary) back up and still writable, db3 still following db1.
fn after_failover(desired: &DesiredState) -> GatheredFacts {
    let mut facts = converged_cluster(desired);
    for name in ["db1", "db2"] {
        if let Some(Ok(host)) = facts.get_mut(name)
            && let Some(server) = host.server.as_mut()
        {
            server.in_recovery = false;
            server.wal_receiver = None;
            host.data_directory.standby_signal = false;
            host.data_directory.wal_log_hints = true;
        }
    }
    facts
}

const FAILED_OVER: &str = r#"
all:
  vars:
    pg_version: 15
    replication_password: "{{ env('PG_REPLICATION_PASSWORD') }}"
  children:
    primary:
      hosts:
        db1: { ansible_host: 10.0.0.11, pg_role: standby }
    standby:
      hosts:
        db2: { ansible_host: 10.0.0.12, pg_role: primary }
        db3: { ansible_host: 10.0.0.13 }
"#;

#[test]
fn former_primary_is_fenced_first_and_rejoined_with_pg_rewind_given_consent() {
    let (desired, playbook) = desired(FAILED_OVER);
    let facts = after_failover(&desired);
    let refused = plan(&desired, &playbook, &facts, &PlanOptions::default());
    let blocked = refused.blocked.unwrap_or_default();
    assert!(
        blocked.contains("`db1` is a writable primary beside `db2`")
            && blocked.contains("--rejoin db1"),
        "{blocked}"
    );
    let plan = plan(
        &desired,
        &playbook,
        &facts,
        &PlanOptions {
            rejoin: vec!["db1".into()],
            ..PlanOptions::default()
        },
    );
    assert_eq!(plan.blocked, None);
    let db1 = plan
        .host("db1")
        .map(|host| host.steps.clone())
        .unwrap_or_default();
    assert_eq!(
        db1.first().map(|step| (step.id.as_str(), step.change)),
        Some(("fence", Change::Stop))
    );
    let base_backup = db1
        .iter()
        .find(|step| step.id == "base_backup")
        .map(|step| step.summary.clone())
        .unwrap_or_default();
    assert!(
        base_backup.starts_with("rejoin db2 with pg_rewind"),
        "{base_backup}"
    );
    let fence = NodeId {
        host: "db1".into(),
        step: "fence".into(),
    };
    let waits_for_fence = |host: &str, step: &str| {
        plan.dependencies
            .iter()
            .any(|(node, deps)| node.host == host && node.step == step && deps.contains(&fence))
    };
    assert!(
        waits_for_fence("db2", "pg_service"),
        "the new primary restarts only after the old one stopped"
    );
    assert!(waits_for_fence("db1", "base_backup"));
}

#[test]
fn outdated_inventory_with_the_real_primary_elsewhere_blocks_the_plan() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let mut facts = converged_cluster(&desired);
    if let Some(Ok(db1)) = facts.get_mut("db1") {
        db1.server = None;
    }
    if let Some(Ok(db2)) = facts.get_mut("db2")
        && let Some(server) = db2.server.as_mut()
    {
        server.in_recovery = false;
    }
    let plan = plan(&desired, &playbook, &facts, &PlanOptions::default());
    let blocked = plan.blocked.clone().unwrap_or_default();
    assert!(blocked.starts_with("split-brain guard: `db2` is a writable primary, but the inventory names `db1` as the primary"), "{blocked}");
    assert!(crate::printer::plan_text(&plan).contains("Blocked"));
}

#[test]
fn fresh_standbys_running_their_own_cluster_are_not_split_brain() {
    let (desired, playbook) = desired(THREE_HOSTS);
    let facts: GatheredFacts = [("db1", PRIMARY_ID), ("db2", "7300000000000000002")]
        .iter()
        .map(|(host, id)| (host.to_string(), Ok(fresh_host(id))))
        .collect();
    let plan = plan(&desired, &playbook, &facts, &PlanOptions::default());
    assert_eq!(plan.blocked, None);
    assert!(
        plan.host("db2")
            .is_some_and(|host| host.steps.iter().all(|step| step.id != "fence"))
    );
}

#[test]
fn standby_left_on_an_older_timeline_is_rewound_and_one_that_streams_is_kept() {
    let (desired, playbook) = desired(FAILED_OVER);
    let mut facts = after_failover(&desired);
    if let Some(Ok(db2)) = facts.get_mut("db2") {
        db2.data_directory.timeline = Some(2);
    }
    if let Some(Ok(db3)) = facts.get_mut("db3") {
        db3.data_directory.timeline = Some(1);
        db3.data_directory.wal_log_hints = true;
        if let Some(receiver) = db3
            .server
            .as_mut()
            .and_then(|server| server.wal_receiver.as_mut())
        {
            // Still attached to the old primary db1, which came back.
            receiver.sender_host = "10.0.0.11".into();
            receiver.timeline = Some(1);
        }
    }
    let text = plan_text(&desired, &playbook, facts.clone(), &PlanOptions::default());
    assert!(text.contains("~ base_backup       rejoin db2 with pg_rewind: it does not stream from db2, whose timeline is newer"), "{text}");
    if let Some(Ok(db3)) = facts.get_mut("db3")
        && let Some(receiver) = db3
            .server
            .as_mut()
            .and_then(|server| server.wal_receiver.as_mut())
    {
        receiver.sender_host = "10.0.0.12".into();
    }
    let streaming = plan_text(&desired, &playbook, facts, &PlanOptions::default());
    let db3 = streaming.split("db3 (").nth(1).unwrap_or_default();
    assert!(
        db3.contains("unchanged: ") && db3.contains("base_backup") && !db3.contains("rewind"),
        "{db3}"
    );
}

/// The server of `host` runs with `value` for `name` (as after a hand edit and a restart).
fn set_value(facts: &mut GatheredFacts, host: &str, name: &str, value: &str) {
    if let Some(setting) = facts
        .get_mut(host)
        .and_then(|facts| facts.as_mut().ok())
        .and_then(|facts| facts.server.as_mut())
        .and_then(|server| server.settings.get_mut(name))
    {
        setting.value = value.into();
    }
}

/// Two replication clusters in one inventory, each a primary with a standby.
const TWO_CLUSTERS: &str = r#"
all:
  vars:
    pg_version: 15
    replication_password: "{{ env('PG_REPLICATION_PASSWORD') }}"
  children:
    primary:
      hosts:
        db1: { ansible_host: 10.0.0.11, replication_cluster: a }
        db3: { ansible_host: 10.0.0.13, replication_cluster: b }
    standby:
      hosts:
        db2: { ansible_host: 10.0.0.12, replication_cluster: a }
        db4: { ansible_host: 10.0.0.14, replication_cluster: b }
"#;

#[test]
fn primaries_of_different_clusters_are_no_split_brain() {
    let (desired, playbook) = desired(TWO_CLUSTERS);
    assert_eq!(desired.hosts["db2"].upstream.as_deref(), Some("db1"));
    assert_eq!(desired.hosts["db4"].upstream.as_deref(), Some("db3"));
    let plan = plan(
        &desired,
        &playbook,
        &converged_cluster(&desired),
        &PlanOptions::default(),
    );
    assert_eq!(plan.blocked, None);
    let fenced = plan
        .hosts
        .iter()
        .any(|host| host.steps.iter().any(|step| step.id == "fence"));
    assert!(!fenced, "a primary of one cluster fenced for the other's");
}

#[test]
fn the_guard_still_fences_a_second_primary_within_one_cluster() {
    let (desired, playbook) = desired(TWO_CLUSTERS);
    let mut facts = converged_cluster(&desired);
    if let Some(Ok(db4)) = facts.get_mut("db4")
        && let Some(server) = db4.server.as_mut()
    {
        server.in_recovery = false;
    }
    let refused = plan(&desired, &playbook, &facts, &PlanOptions::default());
    let blocked = refused.blocked.unwrap_or_default();
    assert!(
        blocked.contains("`db4` is a writable primary beside `db3`") && !blocked.contains("db2"),
        "{blocked}"
    );
    let plan = plan(
        &desired,
        &playbook,
        &facts,
        &PlanOptions {
            rejoin: vec!["db4".into()],
            ..PlanOptions::default()
        },
    );
    assert_eq!(plan.blocked, None);
    let fenced: Vec<&str> = plan
        .hosts
        .iter()
        .filter(|host| host.steps.iter().any(|step| step.id == "fence"))
        .map(|host| host.name.as_str())
        .collect();
    assert_eq!(fenced, ["db4"]);
    let fence = NodeId {
        host: "db4".into(),
        step: "fence".into(),
    };
    let waits = |host: &str| {
        plan.dependencies.iter().any(|(node, deps)| {
            node.host == host && node.step == "pg_service" && deps.contains(&fence)
        })
    };
    assert!(waits("db3"), "db3 restarts only after db4 is stopped");
    assert!(!waits("db1"), "the other cluster does not wait for db4");
}
