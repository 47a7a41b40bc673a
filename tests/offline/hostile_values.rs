//! Hostile and unusual inventory values, through the binary and with no host
//! contacted: each is refused by `validate` (naming the variable, file, line and
//! column) or rendered so that it means only itself.

use assert_cmd::Command;
use std::path::Path;
use std::process::Output;

const PASSWORD: &str = "hostile-test-password";

fn inventory(vars: &str, hosts: &str) -> String {
    format!(
        "all:\n  vars:\n    pg_version: 15\n    replication_password: \"{{{{ env('PG_REPLICATION_PASSWORD') }}}}\"\n{vars}  children:\n    primary:\n      hosts:\n{hosts}    standby:\n      hosts:\n        db2: {{ ansible_host: 10.0.0.12 }}\n"
    )
}

const PRIMARY: &str = "        db1: { ansible_host: 10.0.0.11 }\n";

fn pgconverge(directory: &Path, password: &str, args: &[&str]) -> (Output, String) {
    let output = Command::cargo_bin("pgconverge")
        .unwrap_or_else(|error| panic!("binary: {error}"))
        .current_dir(directory)
        .env("NO_COLOR", "1")
        .env("PATH", "/nonexistent/pgconverge-offline-tests")
        .env("PG_REPLICATION_PASSWORD", password)
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output, text)
}

/// `validate` on the inventory: its exit code and everything it printed.
fn validate(text: &str, password: &str) -> (Option<i32>, String) {
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(directory.path().join("inventory.yaml"), text)
        .unwrap_or_else(|error| panic!("{error}"));
    let (output, printed) = pgconverge(
        directory.path(),
        password,
        &["validate", "-i", "inventory.yaml"],
    );
    (output.status.code(), printed)
}

/// `render` of one host's file.
fn rendered(text: &str, host: &str, file: &str) -> String {
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    std::fs::write(directory.path().join("inventory.yaml"), text)
        .unwrap_or_else(|error| panic!("{error}"));
    let (output, printed) = pgconverge(
        directory.path(),
        PASSWORD,
        &[
            "render",
            "-i",
            "inventory.yaml",
            "--host",
            host,
            "--out",
            "out",
        ],
    );
    assert_eq!(output.status.code(), Some(0), "{printed}");
    std::fs::read_to_string(
        directory
            .path()
            .join("out")
            .join(file.trim_start_matches('/')),
    )
    .unwrap_or_else(|error| panic!("{file}: {error}"))
}

fn refused(vars: &str, hosts: &str, password: &str, expected: &[&str]) {
    let (code, printed) = validate(&inventory(vars, hosts), password);
    assert_eq!(code, Some(1), "{printed}");
    for part in expected {
        assert!(printed.contains(part), "expected {part:?} in:\n{printed}");
    }
}

#[test]
fn a_replication_user_that_reads_as_an_access_rule_stays_a_name() {
    let text = inventory("    replication_user: \"all 0.0.0.0/0 trust #\"\n", PRIMARY);
    let (code, printed) = validate(&text, PASSWORD);
    assert_eq!(code, Some(0), "{printed}");
    let hba = rendered(&text, "db1", "/etc/postgresql/15/main/pg_hba.conf");
    assert!(
        hba.contains("host    replication  \"all 0.0.0.0/0 trust #\"  10.0.0.11/32  scram-sha-256"),
        "{hba}"
    );
    assert!(
        !hba.contains(" trust\n") && !hba.contains("trust # 10"),
        "{hba}"
    );
}

#[test]
fn a_setting_cannot_be_injected_through_listen_addresses() {
    refused(
        "    listen_addresses: \"*'\\nwork_mem = 7777kB\\n#\"\n",
        PRIMARY,
        PASSWORD,
        &[
            "inventory.yaml:5:",
            "`listen_addresses` of hosts `db1` and `db2`",
            "line break",
        ],
    );
}

#[test]
fn a_role_name_cannot_end_a_script_early() {
    refused(
        "    replication_user: \"x\\nPGCONVERGE_SQL\\nrm -rf /\"\n",
        PRIMARY,
        PASSWORD,
        &[
            "inventory.yaml:",
            "`replication_user` of hosts",
            "line break",
        ],
    );
}

#[test]
fn a_password_with_a_line_break_is_refused_without_being_shown() {
    let password = "first line\nsecond line";
    let (code, printed) = validate(&inventory("", PRIMARY), password);
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("`replication_password` of hosts"),
        "{printed}"
    );
    assert!(printed.contains(".pgpass"), "{printed}");
    assert!(
        !printed.contains("first line") && !printed.contains("second line"),
        "{printed}"
    );
}

#[test]
fn an_address_or_path_that_escapes_is_refused() {
    refused(
        "",
        "        db1: { ansible_host: \"-oProxyCommand=touch /tmp/x\" }\n",
        PASSWORD,
        &[
            "inventory.yaml:8:30:",
            "`ansible_host` of host `db1` must be an IP address or a host name",
        ],
    );
    refused(
        "    pg_config_dir: /etc/postgresql/15/main/../../../../tmp\n",
        PRIMARY,
        PASSWORD,
        &["inventory.yaml:5:", "`pg_config_dir` of hosts", "`..`"],
    );
    refused(
        "",
        "        \"db$(id)\": { ansible_host: 10.0.0.11 }\n",
        PASSWORD,
        &[
            "inventory.yaml:8:",
            "host name \"db$(id)\" must be a plain name",
        ],
    );
    refused(
        "",
        "        db1: { ansible_host: 10.0.0.11, ansible_user: \"-oProxyCommand=x\" }\n",
        PASSWORD,
        &["`ansible_user` of host `db1` must be a login name"],
    );
}

#[test]
fn a_role_name_longer_than_postgresql_keeps_is_refused() {
    let long = "r".repeat(64);
    refused(
        &format!("    replication_user: {long}\n"),
        PRIMARY,
        PASSWORD,
        &["`replication_user` of hosts", "64 bytes"],
    );
}

#[test]
fn quotes_backslashes_and_dollars_reach_the_files_as_themselves() {
    let text = inventory("    replication_user: \"re'pl \\\\ #$x\"\n", PRIMARY);
    let (code, printed) = validate(&text, "pa'ss \\ #$word:1");
    assert_eq!(code, Some(0), "{printed}");
    let conf = rendered(&text, "db2", "/etc/postgresql/15/main/postgresql.conf");
    // primary_conninfo: libpq quoting inside postgresql.conf quoting.
    assert!(
        conf.contains(r"primary_conninfo = 'host=10.0.0.11 port=5432 user=''re\\''pl \\\\ #$x'' application_name=db2"),
        "{conf}"
    );
}

#[test]
fn a_setting_name_cannot_carry_another_setting() {
    refused(
        "    pg_settings:\n      \"work_mem = 1\\nfsync\": \"off\"\n",
        PRIMARY,
        PASSWORD,
        &[
            "inventory.yaml:6:7:",
            "`pg_settings` of hosts",
            "no PostgreSQL setting name",
        ],
    );
}

#[test]
fn an_ansible_variable_with_no_effect_is_named_in_a_warning() {
    let text = inventory(
        "    ansible_python_interpreter: /usr/bin/python3\n",
        PRIMARY,
    );
    let (code, printed) = validate(&text, PASSWORD);
    assert_eq!(code, Some(0), "{printed}");
    assert!(
        printed.contains("warning: inventory.yaml:5:33: `ansible_python_interpreter` is not honoured by pgconverge"),
        "{printed}"
    );
}

/// The inventory with PgBouncer on db2 and `vars` added to `all.vars`.
fn with_pgbouncer(vars: &str) -> String {
    format!(
        "{}    pgbouncer:\n      hosts:\n        db2: {{}}\n",
        inventory(vars, PRIMARY)
    )
}

#[test]
fn pgbouncer_s_files_hold_quotes_backslashes_and_dollars_as_themselves() {
    let text = with_pgbouncer(
        "    pgbouncer_auth_password: 'pgb \"pass\" \\ $x'\n    pgbouncer_settings: { application_name_add_host: true, server_reset_query: 'DISCARD ALL; # $x' }\n",
    );
    let (code, printed) = validate(&text, PASSWORD);
    assert_eq!(code, Some(0), "{printed}");
    assert!(!printed.contains("pgb \"pass\""), "{printed}");
    // The auth file holds a secret: `render` shows no content (its quoting is
    // pinned by `actions::pgbouncer`'s tests).
    let users = rendered(&text, "db2", "/etc/pgbouncer/pgconverge-users.txt");
    assert!(users.starts_with("(sensitive)\n"), "{users}");
    assert!(!users.contains("pass"), "{users}");
    let ini = rendered(&text, "db2", "/etc/pgbouncer/pgbouncer.ini");
    for line in [
        "%include /etc/pgbouncer/pgbouncer.base.ini\n%include /etc/pgbouncer/pgbouncer.databases.ini\n",
        "\napplication_name_add_host = 1\n",
        "\nserver_reset_query = DISCARD ALL; # $x\n",
        "\nauth_query = SELECT usename, passwd FROM pgconverge.pgbouncer_auth($1)\n",
    ] {
        assert!(ini.contains(line), "{line:?} in\n{ini}");
    }
}

#[test]
fn a_setting_cannot_be_injected_into_pgbouncer_ini() {
    let (code, printed) = validate(
        &with_pgbouncer(
            "    pgbouncer_auth_password: pw\n    pgbouncer_settings: { max_client_conn: \"10\\nauth_type = trust\" }\n    pgbouncer_listen_addr: '* auth_type = trust'\n",
        ),
        PASSWORD,
    );
    assert_eq!(code, Some(1), "{printed}");
    for part in [
        "`pgbouncer_settings` of hosts `db1` and `db2` holds a line break or NUL",
        "`pgbouncer_listen_addr` of hosts `db1` and `db2` must be `*` or IP addresses and host names separated by commas",
    ] {
        assert!(printed.contains(part), "expected {part:?} in:\n{printed}");
    }
    // A password with a line break is refused without being shown.
    let (code, printed) = validate(
        &with_pgbouncer("    pgbouncer_auth_password: \"secret-one\\nauth_type = trust\"\n"),
        PASSWORD,
    );
    assert_eq!(code, Some(1), "{printed}");
    assert!(
        printed.contains("`pgbouncer_auth_password` of hosts `db1` and `db2` holds a line break or NUL, which PgBouncer's auth file cannot carry"),
        "{printed}"
    );
    assert!(!printed.contains("secret-one"), "{printed}");
}
