//! End to end on a fresh 4-host lab from an inventory as Ansible users write
//! them (`tests/fixtures/lab-inventory/`): INI with the older `ansible_ssh_host`
//! names, the settings in `group_vars/all/` files, the replication password in
//! an Ansible Vault read with `--vault-password-file`, and two replication
//! clusters, `alpha` (h1 primary, h2 standby) and `beta` (h3 primary, h4
//! standby). Each standby streams from its own cluster's primary, the stored
//! verifier matches the vault's plaintext, a second apply changes nothing, and
//! the plaintext appears in no output.

use crate::support;

use support::{Lab, Run, lab_available, pgconverge};

const INVENTORY: &str = "tests/fixtures/lab-inventory/hosts";
const VAULT_PASSWORD_FILE: &str = "tests/fixtures/lab-inventory/vault-password";
/// What `group_vars/all/20-secrets.yml` holds, encrypted with `ansible-vault`.
const VAULT_PLAINTEXT: &str = "vault-lab-Passw0rd-7c1e";

fn run(lab: &Lab, command: &str, extra: &[&str]) -> Run {
    let ssh_config = lab.ssh_config();
    let mut args = vec![
        command,
        "-i",
        INVENTORY,
        "--vault-password-file",
        VAULT_PASSWORD_FILE,
        "--ssh-config",
        ssh_config.to_str().unwrap_or_default(),
    ];
    args.extend_from_slice(extra);
    // The environment's password is not the one the vault holds: the vault's
    // must be the one that reaches the hosts.
    pgconverge(&args, "not-the-vault-password")
}

fn postmaster_start_times(lab: &Lab) -> Vec<String> {
    ["h1", "h2", "h3", "h4"]
        .iter()
        .map(|host| lab.sql(host, "select pg_postmaster_start_time()"))
        .collect()
}

#[test]
fn an_ini_inventory_with_group_vars_a_vault_and_two_clusters_converges() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(4);
    let mut outputs = Vec::new();

    // 1. Apply converges both clusters.
    let first = run(&lab, "apply", &["--detailed-exitcode"]);
    outputs.push(first.all());
    assert_eq!(
        first.code,
        Some(2),
        "the first apply makes changes\n{first}"
    );
    assert!(first.stdout.contains("Apply complete"), "{first}");

    // 2. Each standby streams from its own cluster's primary.
    for (standby, primary, address) in [("h2", "h1", "10.77.0.11"), ("h4", "h3", "10.77.0.13")] {
        lab.eventually(60, &format!("{standby} streams from {primary}"), || {
            let output = lab.ssh_output(
                standby,
                "cd / && runuser -u postgres -- psql -XAtq -d postgres -c \"select status || ' ' || sender_host from pg_stat_wal_receiver\"",
            );
            String::from_utf8_lossy(&output.stdout).trim() == format!("streaming {address}")
        });
        assert_eq!(lab.sql(standby, "select pg_is_in_recovery()"), "t");
        assert_eq!(lab.sql(primary, "select pg_is_in_recovery()"), "f");
        let clients = lab.sql(
            primary,
            "select application_name from pg_stat_replication order by 1",
        );
        assert_eq!(clients, standby, "{primary} serves only its own standby");
    }
    // The two clusters are apart: different system identifiers.
    let identifier =
        |host: &str| lab.sql(host, "select system_identifier from pg_control_system()");
    assert_eq!(identifier("h1"), identifier("h2"));
    assert_eq!(identifier("h3"), identifier("h4"));
    assert_ne!(identifier("h1"), identifier("h3"));
    lab.sql(
        "h3",
        "create table beta_only (id int); insert into beta_only values (3)",
    );
    lab.eventually(30, "the row reaches h4", || {
        let output = lab.ssh_output(
            "h4",
            "cd / && runuser -u postgres -- psql -XAtq -d postgres -c 'select id from beta_only'",
        );
        String::from_utf8_lossy(&output.stdout).trim() == "3"
    });

    // 3. The role's stored verifier is the vault's plaintext, on both primaries.
    for primary in ["h1", "h3"] {
        let stored = lab.sql(
            primary,
            "select rolpassword from pg_authid where rolname = 'replicator'",
        );
        assert!(stored.starts_with("SCRAM-SHA-256$"), "{primary}: {stored}");
        assert!(
            pgconverge::scram::verifier_matches(&stored, VAULT_PLAINTEXT),
            "{primary}: the stored verifier is not the vault's password"
        );
        assert!(!pgconverge::scram::verifier_matches(
            &stored,
            "not-the-vault-password"
        ));
    }

    // 4. A second apply changes and restarts nothing.
    let started = postmaster_start_times(&lab);
    let second = run(&lab, "apply", &["--detailed-exitcode"]);
    outputs.push(second.all());
    assert_eq!(
        second.code,
        Some(0),
        "a converged lab needs no change\n{second}"
    );
    assert!(second.stdout.contains("No changes"), "{second}");
    assert_eq!(
        postmaster_start_times(&lab),
        started,
        "the second apply restarted a server"
    );

    // 5. `status` of one cluster agrees with the inventory and shows only it.
    let status = run(&lab, "status", &["--cluster", "beta"]);
    outputs.push(status.all());
    assert_eq!(status.code, Some(0), "{status}");
    assert!(
        status.stdout.contains("h3") && status.stdout.contains("h4"),
        "{status}"
    );
    assert!(
        !status.stdout.contains("h1") && !status.stdout.contains("h2"),
        "{status}"
    );

    // 6. The vault's plaintext and its ciphertext appear in no output.
    for output in &outputs {
        assert!(
            !output.contains(VAULT_PLAINTEXT),
            "the vault password leaked:\n{output}"
        );
        assert!(
            !output.contains("$ANSIBLE_VAULT"),
            "a ciphertext is shown:\n{output}"
        );
    }
}
