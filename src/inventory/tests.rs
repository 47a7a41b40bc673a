//! End-to-end tests of inventory loading: YAML text in, merged hosts or every
//! diagnostic out.

use super::{Inventory, Role};
use crate::diagnostic::Diagnostics;
use serde_json::{Value, json};
use std::fmt::Write as _;
use std::path::Path;

/// The environment every test sees unless it says otherwise.
const ENVIRONMENT: [(&str, &str); 1] = [("PG_REPLICATION_PASSWORD", "s3cret")];

fn parse_with(text: &str, environment: &[(&str, &str)]) -> Result<Inventory, Diagnostics> {
    let lookup = |name: &str| {
        environment
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| value.to_string())
    };
    Inventory::parse(Path::new("inventory.yml"), text, &lookup)
}

fn parse(text: &str) -> Inventory {
    match parse_with(text, &ENVIRONMENT) {
        Ok(inventory) => inventory,
        Err(diagnostics) => panic!("the inventory should load, but:\n{diagnostics}"),
    }
}

/// Loads `text` and compares every diagnostic, as `file:line:column: message`.
fn check_errors(text: &str, expected: &[&str]) {
    check_errors_with(text, &ENVIRONMENT, expected);
}

fn check_errors_with(text: &str, environment: &[(&str, &str)], expected: &[&str]) {
    let diagnostics = match parse_with(text, environment) {
        Ok(_) => Vec::new(),
        Err(diagnostics) => diagnostics.0.iter().map(ToString::to_string).collect(),
    };
    assert_eq!(diagnostics, expected);
}

/// Loads `text` and compares the named variables of `host`.
fn check_vars(text: &str, host: &str, expected: &[(&str, Value)]) {
    let inventory = parse(text);
    let vars = &inventory.hosts[host].vars;
    for (name, value) in expected {
        assert_eq!(
            vars.get(*name),
            Some(value),
            "variable `{name}` of `{host}`"
        );
    }
}

/// Everything an inventory holds, one fact per line, for snapshots.
fn describe(inventory: &Inventory) -> String {
    let mut text = String::new();
    for host in inventory.hosts.values() {
        let _ = writeln!(
            text,
            "host {} role={:?} address={} ssh_port={:?} ssh_user={:?} upstream={:?}",
            host.name, host.role, host.address, host.ssh_port, host.ssh_user, host.upstream
        );
        for (name, value) in &host.vars {
            let _ = writeln!(text, "  {name} = {value}");
        }
    }
    for (group, hosts) in &inventory.groups {
        let _ = writeln!(text, "group {group} = {hosts:?}");
    }
    let _ = writeln!(text, "sensitive_vars = {:?}", inventory.sensitive_vars);
    text
}

/// The example of the README: one primary and two standbys.
const EXAMPLE: &str = "
all:
  vars:
    pg_version: 15
    replication_user: replicator
    replication_password: \"{{ lookup('env', 'PG_REPLICATION_PASSWORD') }}\"
  children:
    primary:
      hosts:
        db1: { ansible_host: 10.0.0.11 }
    standby:
      hosts:
        db2: { ansible_host: 10.0.0.12 }
        db3: { ansible_host: 10.0.0.13, ansible_port: 2222, upstream: db2 }
";

#[test]
fn the_readme_example_loads() {
    let inventory = parse(EXAMPLE);
    let summary: Vec<String> = inventory
        .hosts
        .values()
        .map(|host| {
            format!(
                "{} {:?} {} {:?} {:?}",
                host.name, host.role, host.address, host.ssh_port, host.upstream
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "db1 Primary 10.0.0.11 None None",
            "db2 Standby 10.0.0.12 None Some(\"db1\")",
            "db3 Standby 10.0.0.13 Some(2222) Some(\"db2\")",
        ]
    );
    assert_eq!(
        inventory.hosts["db1"].vars["replication_password"],
        json!("s3cret")
    );
    assert_eq!(
        inventory.primary().map(|host| host.name.as_str()),
        Some("db1")
    );
}

/// A cluster that uses most features: nested groups, templates across levels,
/// overrides of documented and computed defaults, secrets.
const REPRESENTATIVE: &str = "
all:
  vars:
    pg_version: 16
    replication_password: \"{{ env('PG_REPLICATION_PASSWORD') }}\"
    ansible_user: deploy
    memory_mb: 4096
    pg_settings:
      work_mem: 8MB
      shared_buffers: \"{{ memory_mb // 4 }}MB\"
    pg_hba_extra:
      - \"host all all {{ network }} scram-sha-256\"
    network: 10.0.0.0/24
    backup_token: abc
    sensitive_vars: [monitoring_dsn]
    monitoring_dsn: \"postgres://monitor@{{ inventory_hostname }}\"
  children:
    primary:
      hosts:
        db1:
          ansible_host: 10.0.0.11
          max_wal_senders: 20
    standby:
      vars:
        max_connections: 200
        max_wal_senders: 20
      hosts:
        db2: { ansible_host: 10.0.0.12 }
      children:
        far_away:
          vars:
            pg_cluster: replica
            max_wal_senders: 25
          hosts:
            db3: { ansible_host: 10.0.0.13, ansible_port: 2222, upstream: db2 }
";

#[test]
fn a_representative_inventory_merges_as_documented() {
    insta::assert_snapshot!(describe(&parse(REPRESENTATIVE)));
}

#[test]
fn a_minimal_inventory_gets_every_documented_default() {
    insta::assert_snapshot!(describe(&parse(
        "all:\n  children:\n    primary:\n      hosts:\n        db1:\n"
    )));
}

#[test]
fn defaults_follow_an_overridden_version_and_cluster() {
    check_vars(
        "all:\n  vars: {pg_version: 17, pg_cluster: \"{{ inventory_hostname }}\"}\n  children:\n    primary:\n      hosts:\n        db1:\n",
        "db1",
        &[
            ("pg_version", json!(17)),
            ("pg_data_dir", json!("/var/lib/postgresql/17/db1")),
            ("pg_config_dir", json!("/etc/postgresql/17/db1")),
            (
                "pg_stop_command",
                json!("pg_ctlcluster 17 db1 stop -m fast"),
            ),
            ("replication_host", json!("db1")),
        ],
    );
}

#[test]
fn computed_defaults_grow_with_standbys_and_yield_to_the_inventory() {
    let inventory = parse(EXAMPLE);
    for host in ["db1", "db3"] {
        let vars = &inventory.hosts[host].vars;
        assert_eq!(vars["max_wal_senders"], json!(16), "{host}");
        assert_eq!(vars["max_replication_slots"], json!(14), "{host}");
    }
    let overridden = EXAMPLE.replace("pg_version: 15", "pg_version: 15\n    max_wal_senders: 4");
    check_vars(&overridden, "db2", &[("max_wal_senders", json!(4))]);
}

#[test]
fn replication_host_follows_ansible_host() {
    check_vars(EXAMPLE, "db3", &[("replication_host", json!("10.0.0.13"))]);
}

#[test]
fn groups_list_hosts_through_children_in_file_order() {
    let inventory = parse(REPRESENTATIVE);
    assert_eq!(inventory.host_names_in_group("all"), ["db1", "db2", "db3"]);
    assert_eq!(inventory.host_names_in_group("standby"), ["db2", "db3"]);
    assert_eq!(inventory.host_names_in_group("far_away"), ["db3"]);
    assert!(inventory.host_names_in_group("nowhere").is_empty());
}

#[test]
fn pg_role_overrides_group_membership() {
    let inventory = parse(
        "
all:
  vars: {replication_password: x}
  children:
    primary:
      hosts:
        db1: {pg_role: standby}
        db2: {pg_role: primary}
",
    );
    assert_eq!(inventory.hosts["db1"].role, Role::Standby);
    assert_eq!(inventory.hosts["db1"].upstream.as_deref(), Some("db2"));
    assert_eq!(inventory.hosts["db2"].role, Role::Primary);
}

#[test]
fn top_level_groups_without_all_work_as_in_ansible() {
    let inventory = parse("primary:\n  hosts:\n    db1:\n");
    assert_eq!(inventory.host_names_in_group("all"), ["db1"]);
    assert_eq!(inventory.hosts["db1"].role, Role::Primary);
}

#[test]
fn a_host_in_several_groups_merges_their_vars() {
    check_vars(
        "
all:
  children:
    primary:
      vars: {a: primary, b: primary}
      hosts:
        db1: {c: first}
    tagged:
      vars: {b: tagged}
      hosts:
        db1: {d: second}
",
        "db1",
        &[
            ("a", json!("primary")),
            ("b", json!("tagged")),
            ("c", json!("first")),
            ("d", json!("second")),
        ],
    );
}

#[test]
fn sensitive_vars_collect_every_kind_of_secret() {
    let inventory = parse(REPRESENTATIVE);
    assert_eq!(
        inventory.sensitive_vars,
        ["replication_password", "monitoring_dsn", "backup_token"]
    );
}

#[test]
fn template_context_has_the_host_and_every_other_host() {
    let inventory = parse(EXAMPLE);
    let context = inventory.host_context("db3");
    assert_eq!(context["inventory_hostname"], json!("db3"));
    assert_eq!(context["pg_role"], json!("standby"));
    assert_eq!(context["upstream"], json!("db2"));
    assert_eq!(context["group_names"], json!(["standby"]));
    assert_eq!(context["pg_data_dir"], json!("/var/lib/postgresql/15/main"));
    assert_eq!(inventory.host_context("db1")["upstream"], Value::Null);
    assert_eq!(inventory.host_context("nowhere"), Value::Null);

    // What templates see: the host's own variables with the cluster's
    // `hostvars` and `groups`, which win over an own variable of that name.
    let mut own = context.clone();
    own["groups"] = json!("the host's own");
    let values = inventory.shared_context().with_own("main", &own);
    let seen = |expression: &str| {
        minijinja::Environment::new()
            .render_str(&format!("{{{{ {expression} | tojson }}}}"), &values)
            .unwrap_or_else(|error| panic!("{expression}: {error}"))
    };
    assert_eq!(seen("inventory_hostname"), r#""db3""#);
    assert_eq!(seen("hostvars.db1.pg_role"), r#""primary""#);
    assert_eq!(seen("hostvars.db2.ansible_host"), r#""10.0.0.12""#);
    assert_eq!(seen("groups.standby"), r#"["db2", "db3"]"#);
}

#[test]
fn load_reads_a_file_and_reports_a_missing_one() {
    let directory = tempfile::tempdir().expect("a temporary directory");
    let path = directory.path().join("inventory.yml");
    std::fs::write(&path, "primary:\n  hosts:\n    db1:\n").expect("the inventory is written");
    let inventory = Inventory::load(&path).expect("the inventory loads");
    assert_eq!(inventory.source, path);
    assert_eq!(inventory.hosts["db1"].address, "db1");

    let missing = directory.path().join("missing.yml");
    let error = Inventory::load(&missing).expect_err("a missing file is an error");
    assert_eq!(error.0.len(), 1);
    assert_eq!(error.0[0].location.file, missing);
    assert!(
        error.0[0]
            .message
            .starts_with("cannot read the inventory: "),
        "{error}"
    );
}

#[test]
fn an_unset_environment_variable_is_named_with_every_host_using_it() {
    check_errors_with(
        EXAMPLE,
        &[],
        &[
            "inventory.yml:6:27: environment variable `PG_REPLICATION_PASSWORD` is not set (used by `replication_password` of hosts `db1`, `db2` and `db3`)",
        ],
    );
}

#[test]
fn single_problems_are_reported_with_their_place() {
    let cases: [(&str, &[&str]); 6] = [
        (
            "all:\n  vars:\n    x: [1, 2\n    y: 3\n",
            &["inventory.yml:4:6: illegal placement of ':' indicator (read as a YAML inventory)"],
        ),
        (
            "",
            &[
                "inventory.yml:1:1: the inventory is empty: write a map with the group `all` at the top",
            ],
        ),
        (
            "standby:\n  hosts:\n    db2:\n",
            &[
                "inventory.yml:1:1: the inventory has no primary: put one host in group `primary`",
                "inventory.yml:1:1: `replication_password` is not set for host `db2`: standbys need it to connect to their upstream; set it under `all.vars`, for example to \"{{ lookup('env', 'PG_REPLICATION_PASSWORD') }}\"",
            ],
        ),
        (
            "primary:\n  hosts:\n    db1:\nstandby:\n  hosts:\n    db2:\n",
            &[
                "inventory.yml:1:1: `replication_password` is not set for hosts `db1` and `db2`: standbys need it to connect to their upstream; set it under `all.vars`, for example to \"{{ lookup('env', 'PG_REPLICATION_PASSWORD') }}\"",
            ],
        ),
        (
            "primary:\n  hosts:\n    db1:\n    db1:\n",
            &["inventory.yml:4:5: duplicate key `db1` (first written at line 3, column 5)"],
        ),
        (
            "primary:\n  hosts:\n    db1: {pg_data_dir: \"/d/{{ pg_vesion }}\"}\n",
            &["inventory.yml:3:24: `pg_vesion` is undefined (used by `pg_data_dir` of host `db1`)"],
        ),
    ];
    for (text, expected) in cases {
        check_errors(text, expected);
    }
}

#[test]
fn a_clean_inventory_has_no_problems() {
    check_errors(EXAMPLE, &[]);
    check_errors(REPRESENTATIVE, &[]);
}

#[test]
fn a_failed_variable_does_not_cascade_into_more_problems() {
    // `pg_version` fails, so every default built from it fails too, and
    // `pg_role` fails, so the host has no role: only the two causes are shown.
    check_errors(
        "primary:\n  hosts:\n    db1: {pg_version: \"{{ nope }}\", pg_role: \"{{ env('ROLE') }}\"}\n",
        &[
            "inventory.yml:1:1: the inventory has no primary: put one host in group `primary`",
            "inventory.yml:3:23: `nope` is undefined (used by `pg_version` of host `db1`)",
            "inventory.yml:3:46: environment variable `ROLE` is not set (used by `pg_role` of host `db1`)",
        ],
    );
}

#[test]
fn an_alias_bomb_is_a_diagnostic_not_a_hang() {
    let mut text = String::from("a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n");
    for level in 1..10 {
        let aliases = vec![format!("*a{}", level - 1); 9].join(", ");
        text.push_str(&format!("a{level}: &a{level} [{aliases}]\n"));
    }
    let diagnostics = parse_with(&text, &ENVIRONMENT).expect_err("the bomb is refused");
    assert_eq!(diagnostics.0.len(), 1, "{diagnostics}");
    assert!(diagnostics.0[0].location.line.is_some(), "{diagnostics}");
}

/// One inventory with a mistake of every kind the checks know, to show that
/// all of them are reported together, each at its place.
const BROKEN: &str = "
all:
  vars:
    pg_verison: 15
    pg_data_dir: \"/data/{{ pg_vesion }}\"
    pg_cluster: \"{{ oops\"
    replication_password: \"{{ env('PG_REPLICATION_PASSWORD') }}\"
    loop_a: \"{{ loop_b }}\"
    loop_b: \"{{ loop_a }}\"
  hostz:
    db9:
  children:
    primary:
      hosts:
        db1: { ansible_port: 70000 }
        db5: { pg_version: fifteen }
    standby:
      vars:
        max_connections: 50
      hosts:
        db2: { upstream: dbx }
        db3: { upstream: db1, max_worker_processes: many }
        db4: { upstream: db7 }
        db6: { upstream: db6 }
        db7: { upstream: db4, pg_port: 0 }
        db2: {}
        db10: { pg_role: master }
    orphans:
      vars:
        pg_settings: { work_mem: 4MB, max_connections: 500 }
      hosts:
        db8:
      children:
        orphans:
";

#[test]
fn a_broken_inventory_reports_every_problem_with_its_place() {
    let diagnostics = parse_with(BROKEN, &[]).expect_err("the inventory is broken");
    insta::assert_snapshot!(diagnostics.to_string());
}

#[test]
fn an_error_quoting_a_value_made_from_a_secret_does_not_show_the_secret() {
    let text = "all:\n  vars:\n    replication_password: hunter2-but-longer\n    pg_port: \"{{ replication_password }}\"\n  children:\n    primary:\n      hosts:\n        db1:\n    standby:\n      hosts:\n        db2:\n";
    let error = Inventory::parse(std::path::Path::new("inventory.yml"), text, &|_| None)
        .expect_err("the port is not a number");
    let report = error.to_string();
    assert!(report.contains("pg_port"), "{report}");
    assert!(!report.contains("hunter2-but-longer"), "{report}");
    assert!(report.contains("(sensitive)"), "{report}");
}

fn parse_ini(text: &str) -> Result<Inventory, Diagnostics> {
    let lookup = |_: &str| None;
    Inventory::parse(Path::new("hosts"), text, &lookup)
}

#[test]
fn hosts_of_other_roles_are_left_out_and_named_in_one_warning() {
    let inventory = parse_ini(
        "bastion\n[monitoring]\nmon1 pg_exporter_port=9187\n[primary]\ndb1\n[all:vars]\nreplication_password=x\n",
    )
    .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
    assert_eq!(inventory.hosts.keys().collect::<Vec<_>>(), ["db1"]);
    assert_eq!(inventory.left_out, ["bastion", "mon1"]);
    assert_eq!(inventory.host_names_in_group("all"), ["db1"]);
    let warnings: Vec<String> = inventory.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "hosts:1:1: hosts `bastion` and `mon1` are in no group `primary`, `standby`, `archive` or `pgbouncer` and are without `pg_role`: pgconverge leaves them out"
        ]
    );
}

#[test]
fn a_host_outside_the_role_groups_is_read_only_when_asked_for() {
    let text = "[primary]\ndb1\n[decommissioned]\ndb3 ansible_host=10.0.0.13 pg_port=5433\n[monitoring]\nmon1 pg_exporter_port=9187\n[all:vars]\nreplication_password=x\n";
    let lookup = |_: &str| None;
    let inventory =
        Inventory::parse_reaching(Path::new("hosts"), text, &lookup, &["db3".to_string()])
            .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
    assert_eq!(inventory.hosts.keys().collect::<Vec<_>>(), ["db1"]);
    assert_eq!(inventory.left_out, ["db3", "mon1"]);
    assert_eq!(inventory.outside.keys().collect::<Vec<_>>(), ["db3"]);
    let db3 = &inventory.outside["db3"];
    assert_eq!(
        (db3.address.as_str(), db3.settings.port),
        ("10.0.0.13", 5433)
    );
    assert_eq!(
        db3.settings.stop_command,
        "pg_ctlcluster 15 main stop -m fast"
    );
    let not_asked = parse_ini(text).unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
    assert!(not_asked.outside.is_empty());
}

#[test]
fn older_ssh_names_and_host_port_keys_give_the_address_port_and_user() {
    let inventory = parse_ini(
        "[primary]\ndb1 ansible_ssh_host=10.0.0.11 ansible_host=10.9.9.9 ansible_ssh_port=2222 ansible_ssh_user=deploy\n[standby]\n10.0.0.12:2200\n[all:vars]\nreplication_password=x\n",
    )
    .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
    let primary = &inventory.hosts["db1"];
    assert_eq!(
        (
            primary.address.as_str(),
            primary.ssh_port,
            primary.ssh_user.as_deref()
        ),
        ("10.0.0.11", Some(2222), Some("deploy"))
    );
    assert_eq!(primary.vars["replication_host"], json!("10.0.0.11"));
    let standby = &inventory.hosts["10.0.0.12"];
    assert_eq!(
        (standby.address.as_str(), standby.ssh_port),
        ("10.0.0.12", Some(2200))
    );
    assert!(inventory.warnings.is_empty(), "{:?}", inventory.warnings);
}

#[test]
fn impossible_versions_empty_addresses_and_plugin_files_are_refused() {
    let errors = |text: &str| -> Vec<String> {
        match parse_ini(text) {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics.0.iter().map(ToString::to_string).collect(),
        }
    };
    assert_eq!(
        errors("[primary]\ndb1 pg_version=9.7 ansible_host=\"\"\n"),
        [
            "hosts:2:16: `pg_version` of host `db1` is 9.7, a version PostgreSQL never released (8.3 to 9.6 written with two numbers, or 10 to 18)",
            "hosts:2:33: `ansible_host` of host `db1` is empty: give the host's IP address or host name, or remove it to use the inventory name",
        ]
    );
    let plugin = Inventory::parse(
        Path::new("aws_ec2.yml"),
        "plugin: amazon.aws.aws_ec2\n",
        &|_| None,
    );
    let message = plugin.map(|_| ()).unwrap_err().to_string();
    assert_eq!(
        message,
        "aws_ec2.yml:1:1: `aws_ec2.yml` is the configuration of the inventory plugin `amazon.aws.aws_ec2`, not an inventory: pgconverge runs no inventory plugin; export the inventory with `ansible-inventory -i aws_ec2.yml --list > inventory.json` and give that file"
    );
}

/// A TOML file with a top-level `plugin` is a plugin's configuration too, as
/// Ansible's toml plugin says.
#[test]
fn a_toml_plugin_configuration_is_refused_by_name() {
    let refused = Inventory::parse(Path::new("cloud.toml"), "plugin = \"aws_ec2\"\n", &|_| None);
    assert_eq!(
        refused.map(|_| ()).unwrap_err().to_string(),
        "cloud.toml:1:1: `cloud.toml` is the configuration of the inventory plugin `aws_ec2`, not an inventory: pgconverge runs no inventory plugin; export the inventory with `ansible-inventory -i cloud.toml --list > inventory.json` and give that file"
    );
}

/// Only a YAML (or JSON) file's top-level `plugin` key configures a plugin: an
/// INI section `[plugin]` is a group like any other, as Ansible reads it.
#[test]
fn an_ini_group_named_plugin_is_a_group() {
    let inventory = Inventory::parse(
        Path::new("hosts"),
        "[primary]\ndb1\n[plugin]\ndb9\n",
        &|_| None,
    )
    .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
    assert_eq!(inventory.tree["plugin"].hosts, ["db9"]);
}

fn parse_cluster(text: &str, cluster: Option<&str>) -> Result<Inventory, Diagnostics> {
    let (document, problems) =
        ansible_inventory_reader::formats::read(Path::new("hosts"), text, super::PROGRAM);
    let read = super::build::Read {
        source: "hosts".into(),
        incomplete: document.is_none(),
        documents: document.into_iter().collect(),
        vars_files: Vec::new(),
        problems,
        warnings: Vec::new(),
        encrypted_documents: Vec::new(),
    };
    let options = super::build::Options {
        passwords: &super::vault::Passwords::default(),
        groups: &super::GroupNames::default(),
        cluster,
        outside: &[],
        extra_vars: &[],
        env: &|_| None,
    };
    super::build::build(read, &options)
}

const TWO_CLUSTERS: &str = "[primary]\ndb1 replication_cluster=a\ndb3 replication_cluster=b\n[standby]\ndb2 replication_cluster=a\ndb4 replication_cluster=b\n[all:vars]\nreplication_password=x\n";

#[test]
fn each_replication_cluster_has_its_own_primary() {
    let inventory = parse_cluster(TWO_CLUSTERS, None).unwrap_or_else(|d| panic!("{d}"));
    let upstreams: Vec<(&str, Option<&str>, &str)> = inventory
        .hosts
        .values()
        .map(|host| {
            (
                host.name.as_str(),
                host.upstream.as_deref(),
                host.cluster.as_str(),
            )
        })
        .collect();
    assert_eq!(
        upstreams,
        [
            ("db1", None, "a"),
            ("db3", None, "b"),
            ("db2", Some("db1"), "a"),
            ("db4", Some("db3"), "b"),
        ]
    );
    let one = parse_cluster(TWO_CLUSTERS, Some("b")).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(one.hosts.keys().collect::<Vec<_>>(), ["db3", "db4"]);
    let unknown = parse_cluster(TWO_CLUSTERS, Some("c"))
        .map(|_| ())
        .unwrap_err();
    assert_eq!(
        unknown.to_string(),
        "hosts: no host is in replication cluster `c` (`--cluster`); the inventory has `a`, `b`"
    );
    let same = TWO_CLUSTERS.replace("db3 replication_cluster=b", "db3 replication_cluster=a");
    let error = parse_cluster(&same, None)
        .map(|_| ())
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("the inventory has 2 primaries (`db1`, `db3`)"),
        "{error}"
    );
}

#[test]
fn templates_read_other_hosts_through_hostvars_and_keep_native_types() {
    let inventory = parse_ini(
        "[primary]\ndb1 pg_port=5433\n[standby]\ndb2 pg_port=\"{{ hostvars['db1'].pg_port + 1 }}\" note=\"{{ groups['standby'] | length }} {{ group_names | join(',') }}\"\n[all:vars]\nreplication_password=x\n",
    )
    .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
    assert_eq!(inventory.hosts["db2"].vars["pg_port"], json!(5434));
    assert_eq!(inventory.hosts["db2"].vars["note"], json!("1 standby"));
}

#[test]
fn a_vault_plaintext_is_never_rendered_as_a_template_and_stays_secret() {
    let vault = include_str!("../../tests/fixtures/vault/template-looking-1.1.vault");
    let indented: String = vault
        .lines()
        .map(|line| format!("      {line}\n"))
        .collect();
    let text = format!(
        "all:\n  vars:\n    replication_password: !vault |\n{indented}  children:\n    primary:\n      hosts:\n        db1:\n"
    );
    let (document, problems) =
        ansible_inventory_reader::formats::read(Path::new("inventory.yml"), &text, super::PROGRAM);
    let mut passwords = super::vault::Passwords::default();
    passwords.add("default", b"pgconverge");
    let read = super::build::Read {
        source: "inventory.yml".into(),
        incomplete: document.is_none(),
        documents: document.into_iter().collect(),
        vars_files: Vec::new(),
        problems,
        warnings: Vec::new(),
        encrypted_documents: Vec::new(),
    };
    let options = super::build::Options {
        passwords: &passwords,
        groups: &super::GroupNames::default(),
        cluster: None,
        outside: &[],
        extra_vars: &[],
        env: &|_| None,
    };
    let inventory = super::build::build(read, &options).unwrap_or_else(|d| panic!("{d}"));
    assert_eq!(
        inventory.hosts["db1"].vars["replication_password"],
        json!("pa{{ ss }}word")
    );
    assert!(
        inventory
            .secret_values()
            .contains(&"pa{{ ss }}word".to_string())
    );
    assert!(
        inventory
            .sensitive_vars
            .contains(&"replication_password".to_string())
    );
}

#[test]
fn synchronous_standbys_that_cannot_work_are_refused_where_written() {
    let text = "all:\n  vars:\n    replication_password: secret-pw\n    synchronous_count: 2\n  children:\n    primary:\n      hosts:\n        db1:\n    standby:\n      hosts:\n        db2: { replication_mode: synchronous }\n        db3: { replication_mode: synchronous, upstream: db2 }\n";
    let error = Inventory::parse(std::path::Path::new("inventory.yml"), text, &|_| None)
        .expect_err("db3 cascades, and one synchronous standby cannot make two");
    let report = error.to_string();
    assert!(
        report.contains("inventory.yml:12:34: host `db3` is `replication_mode: synchronous` but streams from `db2`, a standby"),
        "{report}"
    );
    assert!(
        report.contains("inventory.yml:4:24: `synchronous_count` of host `db1` is 2, but its synchronous standbys are only `db2`: every commit would wait forever"),
        "{report}"
    );
    let old = "all:\n  vars:\n    replication_password: secret-pw\n    pg_version: 9.6\n    synchronous_method: any\n  children:\n    primary:\n      hosts:\n        db1:\n    standby:\n      hosts:\n        db2: { replication_mode: synchronous }\n";
    let error = Inventory::parse(std::path::Path::new("inventory.yml"), old, &|_| None)
        .expect_err("9.6 has no quorum");
    assert!(
        error.to_string().contains("`synchronous_method` of host `db1` is `any`, which needs PostgreSQL 10 or later (this is 9.6)"),
        "{error}"
    );
}

#[test]
fn pg_hba_extra_lines_weak_over_the_network_are_warned_of_where_written() {
    let inventory = parse(
        r#"all:
  vars:
    replication_password: x
    pg_hba_extra:
      - "host all all 10.0.0.0/24 scram-sha-256"
      - "host all all 0.0.0.0/0 trust"
      - "local all all trust"
      - "hostssl app app 10.0.1.0 255.255.255.0 password"
      - "hostnossl all all 10.0.2.0/24 md5  # legacy clients"
      - "hostgssenc all all samenet trust"
      - "host all all 10.0.3.0/24 cert"
  children:
    primary:
      hosts:
        db1: {}
    standby:
      hosts:
        db2: {}
"#,
    );
    let warnings: Vec<String> = inventory.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "inventory.yml:6:9: `pg_hba_extra` line 2: `host` from `0.0.0.0/0` with `trust` lets anyone who reaches the server from there in without a password",
            "inventory.yml:8:9: `pg_hba_extra` line 4: `hostssl` from `10.0.1.0 255.255.255.0` with `password` sends the password as it is, which whoever sees the connection reads unless it is TLS: use scram-sha-256",
            "inventory.yml:9:9: `pg_hba_extra` line 5: `hostnossl` from `10.0.2.0/24` with `md5` accepts md5 password hashes, which are weak: use scram-sha-256",
            "inventory.yml:10:9: `pg_hba_extra` line 6: `hostgssenc` from `samenet` with `trust` lets anyone who reaches the server from there in without a password",
        ]
    );
}

#[test]
fn a_pg_hba_extra_line_of_one_host_is_warned_of_for_that_host_only_once() {
    let inventory = parse(
        "all:\n  vars:\n    replication_password: x\n  children:\n    primary:\n      hosts:\n        db1: { pg_hba_extra: [\"host all all 10.0.0.0/8 trust\"] }\n    standby:\n      hosts:\n        db2: {}\n        db3: { pg_hba_extra: [\"local all all trust\"] }\n",
    );
    let warnings: Vec<String> = inventory.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "inventory.yml:7:31: `pg_hba_extra` line 1: `host` from `10.0.0.0/8` with `trust` lets anyone who reaches the server from there in without a password"
        ]
    );
}

/// A misspelt role group once left its hosts out with a warning at 1:1, and
/// `validate` said "valid" for a primary alone.
#[test]
fn a_group_named_almost_as_a_role_group_is_an_error_naming_the_group_meant() {
    check_errors(
        "all:\n  vars:\n    replication_password: x\n  children:\n    primary:\n      hosts:\n        db1: {}\n    standy:\n      hosts:\n        db2: {}\n        db3: {}\n",
        &[
            "inventory.yml:8:5: group `standy` gives no role, so hosts `db2` and `db3` are left out of the cluster (did you mean `standby`?): rename the group, or give them `pg_role`",
        ],
    );
    let errors =
        match parse_ini("[primry]\ndb1\n[standby]\ndb2\n[all:vars]\nreplication_password=x\n") {
            Ok(_) => Vec::new(),
            Err(diagnostics) => diagnostics.0.iter().map(ToString::to_string).collect(),
        };
    assert!(
        errors.contains(&"hosts:1:2: group `primry` gives no role, so host `db1` is left out of the cluster (did you mean `primary`?): rename the group, or give it `pg_role`".to_string()),
        "{errors:?}"
    );
    // A close name whose hosts have a role through another group, or `pg_role`,
    // leaves no one out: no error.
    parse(
        "all:\n  vars:\n    replication_password: x\n  children:\n    primary:\n      hosts:\n        db1: {}\n    standby:\n      hosts:\n        db2: {}\n    standbys:\n      hosts:\n        db2: {}\n    primry:\n      hosts:\n        db3: { pg_role: standby }\n",
    );
}

#[test]
fn an_unknown_variable_close_to_a_known_one_is_a_warning_with_the_name_meant() {
    let inventory = parse(
        "all:\n  vars:\n    replication_password: x\n    replicaton_user: repl\n    app_port: 8080\n  children:\n    primary:\n      hosts:\n        db1: {}\n    standby:\n      hosts:\n        db2: { upstrem: db1 }\n",
    );
    let warnings: Vec<String> = inventory.warnings.iter().map(ToString::to_string).collect();
    assert_eq!(
        warnings,
        [
            "inventory.yml:4:5: pgconverge does not know the variable `replicaton_user` and reads none by that name (did you mean `replication_user`?)",
            "inventory.yml:12:16: pgconverge does not know the variable `upstrem` and reads none by that name (did you mean `upstream`?)",
        ]
    );
}

/// 25 of the inventories of Ansible's own integration tests set
/// `ansible_python_interpreter: "{{ ansible_playbook_python }}"` on some host,
/// which once stopped every run though pgconverge never reads it.
#[test]
fn only_what_pgconverge_reads_is_evaluated() {
    let inventory = parse(
        "all:\n  vars:\n    replication_password: \"{{ lookup('env', 'PG_REPLICATION_PASSWORD') }}\"\n    deploy_home: \"{{ ansible_env.HOME }}/deploy\"\n    greeting: \"{{ 'hello' | upper }}\"\n  children:\n    primary:\n      hosts:\n        db1:\n          ansible_python_interpreter: \"{{ ansible_playbook_python }}\"\n",
    );
    let db1 = &inventory.hosts["db1"];
    assert_eq!(db1.vars["replication_password"], json!("s3cret"));
    // What cannot be rendered offline keeps its value as written, as
    // `ansible-inventory --list` shows it; what can be is rendered.
    assert_eq!(
        db1.vars["ansible_python_interpreter"],
        json!("{{ ansible_playbook_python }}")
    );
    assert_eq!(
        db1.vars["deploy_home"],
        json!("{{ ansible_env.HOME }}/deploy")
    );
    assert_eq!(db1.vars["greeting"], json!("HELLO"));
    assert_eq!(
        db1.unrendered,
        ["deploy_home", "ansible_python_interpreter"]
    );
    // What pgconverge reads, and what that refers to, must render: the error
    // names the fact.
    check_errors(
        "all:\n  vars:\n    replication_password: x\n    app_user: \"{{ ansible_user_id }}\"\n    replication_user: \"{{ app_user }}\"\n  children:\n    primary:\n      hosts:\n        db1: {}\n",
        &[
            "inventory.yml:4:15: `ansible_user_id` is undefined: `ansible_user_id` is set by Ansible while a play runs (a fact or a magic variable), which pgconverge, reading only the inventory, cannot know; write the value instead (used by `app_user` of host `db1`)",
        ],
    );
}

#[test]
fn a_replication_cluster_has_one_virtual_ip() {
    let vars = "all:\n  vars:\n    replication_password: secret\n";
    // One `cluster_vip` for the cluster, or the same on every member: loads.
    check_errors(
        &format!(
            "{vars}    cluster_vip: 10.0.0.50/24\n  children:\n    primary:\n      hosts:\n        db1:\n    standby:\n      hosts:\n        db2:\n"
        ),
        &[],
    );
    check_errors(
        &format!(
            "{vars}  children:\n    primary:\n      hosts:\n        db1: {{cluster_vip: 10.0.0.50/24}}\n    standby:\n      hosts:\n        db2: {{cluster_vip: 10.0.0.50/24}}\n"
        ),
        &[],
    );
    // A standby with another address than its upstream's: named where it is set.
    check_errors(
        &format!(
            "{vars}  children:\n    primary:\n      hosts:\n        db1: {{cluster_vip: 10.0.0.50/24}}\n    standby:\n      hosts:\n        db2: {{cluster_vip: 10.0.0.51/24}}\n"
        ),
        &[
            "inventory.yml:10:28: host `db2` sets cluster_vip = \"10.0.0.51/24\", and its upstream `db1` \"10.0.0.50/24\": a replication cluster has one virtual IP",
        ],
    );
}

/// Three hosts with PgBouncer on db3, a standby, and on pgb1, a host of its
/// own; `vars` and `pgb1` added to `all.vars` and to pgb1's line.
fn with_pgbouncer(vars: &str, pgb1: &str) -> String {
    format!(
        "all:\n  vars:\n    pg_version: 15\n    replication_password: x\n{vars}  children:\n    primary:\n      hosts:\n        db1: {{ ansible_host: 10.0.0.11 }}\n    standby:\n      hosts:\n        db2: {{ ansible_host: 10.0.0.12 }}\n        db3: {{ ansible_host: 10.0.0.13 }}\n    pgbouncer:\n      hosts:\n        db3: {{}}\n        pgb1: {{ ansible_host: 10.0.0.30{pgb1} }}\n"
    )
}

#[test]
fn a_host_of_the_group_pgbouncer_alone_runs_no_postgresql_of_the_cluster() {
    let inventory = parse(&with_pgbouncer(
        "    pgbouncer_auth_password: b-secret\n",
        "",
    ));
    let roles: Vec<(&str, Role, bool)> = inventory
        .hosts
        .values()
        .map(|host| (host.name.as_str(), host.role, host.pgbouncer))
        .collect();
    assert_eq!(
        roles,
        [
            ("db1", Role::Primary, false),
            ("db2", Role::Standby, false),
            ("db3", Role::Standby, true),
            ("pgb1", Role::Pgbouncer, true),
        ]
    );
    // Its standbys are db2 and db3: pgb1 makes none of the computed defaults grow.
    assert_eq!(
        inventory.hosts["db1"].vars.get("max_wal_senders"),
        Some(&json!(16))
    );
    assert!(
        inventory
            .sensitive_vars
            .contains(&"pgbouncer_auth_password".to_string())
    );
    assert!(inventory.secret_values().contains(&"b-secret".to_string()));
}

#[test]
fn pgbouncer_s_values_are_checked_where_they_are_written() {
    check_errors(
        &with_pgbouncer(
            "    pgbouncer_auth_password: b-secret\n    pgbouncer_listen_addr: '* auth_type = trust'\n    pgbouncer_pool_mode: sometimes\n    pgbouncer_settings: { listen_port: 7000, 'Bad name': 1, max_client_conn: ' 500', server_lifetime: [1] }\n",
            ", pgbouncer_port: 70000",
        ),
        &[
            "inventory.yml:6:28: `pgbouncer_listen_addr` of hosts `db1`, `db2`, `db3` and `pgb1` must be `*` or IP addresses and host names separated by commas, not \"* auth_type = trust\"",
            "inventory.yml:7:26: `pgbouncer_pool_mode` of hosts `db1`, `db2`, `db3` and `pgb1` must be one of `session`, `transaction`, `statement`, not \"sometimes\"",
            "inventory.yml:8:27: `pgbouncer_settings` of hosts `db1`, `db2`, `db3` and `pgb1` sets `listen_port`, which pgconverge writes itself: set `pgbouncer_port` instead",
            "inventory.yml:8:46: `pgbouncer_settings` of hosts `db1`, `db2`, `db3` and `pgb1` names \"Bad name\", which is no PgBouncer setting name",
            "inventory.yml:8:61: `pgbouncer_settings` of hosts `db1`, `db2`, `db3` and `pgb1` gives `max_client_conn` \" 500\": pgbouncer.ini cannot hold an empty value or one with a space at either end",
            "inventory.yml:8:86: `pgbouncer_settings` of hosts `db1`, `db2`, `db3` and `pgb1` gives `server_lifetime` [1]: a value must be text, a number or true/false",
            "inventory.yml:20:58: `pgbouncer_port` of host `pgb1` must be an integer from 1 to 65535, not 70000",
        ],
    );
}

#[test]
fn a_cluster_with_pgbouncer_needs_its_auth_password_scram_and_a_port_of_its_own() {
    // No password: named for the primary, which makes the role, and for each
    // PgBouncer host, which logs in with it.
    check_errors(
        &with_pgbouncer("", ""),
        &[
            "inventory.yml:1:1: `pgbouncer_auth_password` is not set for host `db1`: its primary makes the role PgBouncer logs in as; set it under `all.vars`, for example to \"{{ lookup('env', 'PGBOUNCER_AUTH_PASSWORD') }}\"",
            "inventory.yml:1:1: `pgbouncer_auth_password` is not set for hosts `db3` and `pgb1`: PgBouncer logs in with it to look up its clients' passwords; set it under `all.vars`, for example to \"{{ lookup('env', 'PGBOUNCER_AUTH_PASSWORD') }}\"",
        ],
    );
    // PostgreSQL before 10 has no SCRAM, and a member's PgBouncer needs a port
    // of its own.
    let text = with_pgbouncer("    pgbouncer_auth_password: b-secret\n", "")
        .replace("pg_version: 15", "pg_version: \"9.6\"")
        .replace(
            "        db3: {}\n",
            "        db3: { pgbouncer_port: 5432 }\n",
        );
    check_errors(
        &text,
        &[
            "inventory.yml:3:17: `pg_version` of hosts `db1` and `db3` is 9.6, and PgBouncer's clients (the group `pgbouncer`) log in with SCRAM, which PostgreSQL has from 10",
            "inventory.yml:16:32: `pgbouncer_port` of host `db3` is 5432, the port of its PostgreSQL: PgBouncer needs a port of its own",
        ],
    );
    // A password with a line break is refused, without being shown.
    let text = with_pgbouncer("    pgbouncer_auth_password: \"b-se\\ncret\"\n", "");
    check_errors(
        &text,
        &[
            "inventory.yml:5:30: `pgbouncer_auth_password` of hosts `db1`, `db2`, `db3` and `pgb1` holds a line break or NUL, which PgBouncer's auth file cannot carry",
        ],
    );
}

#[test]
fn every_pgbouncer_host_logs_in_as_the_role_its_primary_makes() {
    let text = with_pgbouncer(
        "    pgbouncer_auth_password: b-secret\n",
        ", pgbouncer_auth_user: other, pgbouncer_auth_password: not-the-same",
    );
    check_errors(
        &text,
        &[
            "inventory.yml:17:63: `pgbouncer_auth_user` of host `pgb1` is \"other\", and \"pgbouncer\" on db1: the PgBouncer hosts log in as the role their primary makes, so all must say the same",
            "inventory.yml:17:95: `pgbouncer_auth_password` of host `pgb1` differs from db1's: the PgBouncer hosts log in with the password their primary sets, so all must say the same",
        ],
    );
}
