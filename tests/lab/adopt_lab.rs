//! End to end on a lab whose h1 already serves an application (`lab.sh application`:
//! its database with rows, a `hostssl` rule for its role, tuning in postgresql.conf
//! and conf.d, TLS on, one `ALTER SYSTEM` setting of a name pgconverge manages and
//! one of a name it does not) and whose h2 and h3 are fresh: pgconverge adopts h1
//! without losing any of it, and what it owns wins.

use crate::support;

use support::{Lab, lab_available, pgconverge, repository};

/// Settings pgconverge does not manage: each keeps its value in force on h1.
const UNMANAGED: &[&str] = &[
    "ssl",
    "ssl_cert_file",
    "ssl_key_file",
    "shared_buffers",
    "effective_cache_size",
    "work_mem",
    "random_page_cost",
    "log_min_duration_statement",
    "log_line_prefix",
    "log_lock_waits",
    "timezone",
    "lc_messages",
    "datestyle",
    "default_text_search_config",
    "external_pid_file",
    "cluster_name",
];

const CONFIG_DIR: &str = "/etc/postgresql/15/main";

fn inventory(directory: &std::path::Path, name: &str, extra_vars: &str) -> String {
    let text = std::fs::read_to_string(repository().join("inventory.example.yaml"))
        .unwrap_or_else(|error| panic!("{error}"))
        .replace(
            "    replication_user: replicator\n",
            &format!(
                "    replication_user: replicator\n    replication_sslmode: require\n    pg_settings:\n      maintenance_work_mem: 256MB\n{extra_vars}"
            ),
        );
    let path = directory.join(name);
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("{error}"));
    path.display().to_string()
}

fn show(lab: &Lab, host: &str, name: &str) -> String {
    lab.exec_sql(host, &format!("show {name}"))
}

/// Every configuration file of a host, with its content's digest.
fn configuration_files(lab: &Lab, host: &str) -> String {
    lab.exec(
        host,
        &[
            "sh",
            "-c",
            "cd / && sha256sum /etc/postgresql/15/main/*.conf /etc/postgresql/15/main/conf.d/* /var/lib/postgresql/15/main/postgresql.auto.conf",
        ],
    )
}

/// The application's query, over TCP and TLS from the machine, as its client does.
fn application_rows(host_address: &str) -> std::process::Output {
    std::process::Command::new("psql")
        .args([
            "-XAtq",
            &format!("host={host_address} port=5432 dbname=appdb user=app sslmode=require connect_timeout=5"),
            "-c",
            "select count(*) from orders",
        ])
        .env("PGPASSWORD", "lab-app-password")
        .output()
        .unwrap_or_else(|error| panic!("cannot run psql: {error}"))
}

#[test]
fn adopts_a_server_that_serves_an_application_and_keeps_what_it_has() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    lab.command(&["application", "h1"]);
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let adopt = inventory(directory.path(), "adopt.yaml", "");
    let password = format!("pw-adopt-{}", std::process::id());

    let before: Vec<(String, String)> = UNMANAGED
        .iter()
        .map(|name| (name.to_string(), show(&lab, "h1", name)))
        .collect();
    assert_eq!(show(&lab, "h1", "ssl"), "on", "the lab's server has TLS on");
    assert_eq!(show(&lab, "h1", "maintenance_work_mem"), "128MB");
    assert_eq!(show(&lab, "h1", "wal_keep_size"), "512MB");
    let hba_before = lab.exec("h1", &["cat", &format!("{CONFIG_DIR}/pg_hba.conf")]);
    let rows = application_rows("10.77.0.11");
    assert_eq!(
        String::from_utf8_lossy(&rows.stdout).trim(),
        "3",
        "the application reads its rows before: {}",
        String::from_utf8_lossy(&rows.stderr)
    );
    let files_before: Vec<String> = ["h1", "h2", "h3"]
        .iter()
        .map(|host| configuration_files(&lab, host))
        .collect();

    // 1. The dry run changes nothing and shows settings and rules, not whole files.
    let dry_run = lab.apply(&adopt, &password, &["--dry-run"]);
    assert_eq!(dry_run.code, Some(2), "{dry_run}");
    let files_after_dry_run: Vec<String> = ["h1", "h2", "h3"]
        .iter()
        .map(|host| configuration_files(&lab, host))
        .collect();
    assert_eq!(
        files_before, files_after_dry_run,
        "the dry run changed a file"
    );
    let plan = &dry_run.stdout;
    assert!(
        plan.contains("adopt /etc/postgresql/15/main/postgresql.conf: the host's file is kept as postgresql.base.conf"),
        "{dry_run}"
    );
    assert!(
        plan.contains("~ maintenance_work_mem  128MB → 256MB  (reload)"),
        "the inventory's value is planned over conf.d's\n{dry_run}"
    );
    assert!(
        plan.contains("~ archive_mode  off → on  (restart)"),
        "{dry_run}"
    );
    assert!(
        plan.contains(
            "- wal_keep_size = '512MB'  (ALTER SYSTEM; reset to postgresql.conf's value, reload)"
        ),
        "the managed ALTER SYSTEM override is shown\n{dry_run}"
    );
    assert!(
        plan.contains("+ hostssl replication replicator {10.77.0.11/32, 10.77.0.12/32, 10.77.0.13/32} scram-sha-256"),
        "{dry_run}"
    );
    assert!(
        !plan.contains("postgresql.conf (wanted)") && !plan.contains("@@ "),
        "no whole-file diff by default\n{dry_run}"
    );
    assert!(
        !plan.contains("shared_buffers") && !plan.contains("log_lock_waits"),
        "settings pgconverge does not manage are not in the plan\n{dry_run}"
    );
    let plan_lines = plan.lines().count();
    eprintln!("the first plan of the 3-host cluster has {plan_lines} lines");
    let full = lab.apply(&adopt, &password, &["--dry-run", "--diff", "full"]);
    assert!(
        full.stdout.contains("postgresql.conf (wanted)"),
        "--diff full shows the whole diff\n{full}"
    );

    // 2. Apply converges.
    let first = lab.apply(&adopt, &password, &[]);
    assert_eq!(first.code, Some(2), "{first}");

    // 3. What the host had is still in force; what the inventory says wins.
    for (name, value) in &before {
        assert_eq!(&show(&lab, "h1", name), value, "{name} kept its value");
    }
    assert_eq!(
        show(&lab, "h1", "maintenance_work_mem"),
        "256MB",
        "pg_settings wins over the host's conf.d"
    );
    assert_eq!(
        show(&lab, "h1", "wal_keep_size"),
        "1GB",
        "the managed ALTER SYSTEM override is undone"
    );
    let auto_conf = lab.exec(
        "h1",
        &["cat", "/var/lib/postgresql/15/main/postgresql.auto.conf"],
    );
    assert!(
        auto_conf.contains("log_lock_waits") && !auto_conf.contains("wal_keep_size"),
        "{auto_conf}"
    );
    let base = lab.exec(
        "h1",
        &["cat", &format!("{CONFIG_DIR}/postgresql.base.conf")],
    );
    assert!(
        base.contains("include_dir = 'conf.d'") && base.contains("effective_cache_size = 1GB"),
        "the host's file is kept whole as the base file\n{base}"
    );
    let hba_after = lab.exec("h1", &["cat", &format!("{CONFIG_DIR}/pg_hba.conf")]);
    assert!(
        hba_after.starts_with(hba_before.trim_end()),
        "the host's rules keep their place and order\n{hba_after}"
    );
    for host in ["h1", "h2", "h3"] {
        assert_eq!(show(&lab, host, "ssl"), "on", "ssl on {host}");
    }
    for standby in ["h2", "h3"] {
        let rules = lab.exec(standby, &["cat", &format!("{CONFIG_DIR}/pg_hba.conf")]);
        assert!(
            !rules.contains("appdb"),
            "a standby keeps its own rules, not its upstream's\n{rules}"
        );
    }
    let rows = application_rows("10.77.0.11");
    assert_eq!(
        String::from_utf8_lossy(&rows.stdout).trim(),
        "3",
        "the application still connects over TCP and reads its rows: {}",
        String::from_utf8_lossy(&rows.stderr)
    );
    let encrypted = lab.exec_sql(
        "h1",
        "select string_agg(application_name || '=' || ssl, ',' order by application_name) from pg_stat_replication join pg_stat_ssl using (pid)",
    );
    assert_eq!(encrypted, "h2=true,h3=true", "both walsenders use TLS");
    assert!(
        show(&lab, "h2", "primary_conninfo").contains("sslmode=require"),
        "replication_sslmode reaches primary_conninfo"
    );

    // 4. A second apply changes nothing.
    let second = lab.apply(&adopt, &password, &[]);
    assert_eq!(
        second.code,
        Some(0),
        "a second apply changes nothing\n{second}"
    );

    // 5. A standby repointed by hand with ALTER SYSTEM is drift, shown and repointed.
    lab.exec_sql(
        "h2",
        "alter system set primary_conninfo = 'host=10.77.0.13 port=5432 user=replicator application_name=h2 passfile=/var/lib/postgresql/.pgpass sslmode=require'",
    );
    // h3 keeps no slot for h2: streaming from it means streaming without one.
    lab.exec_sql("h2", "alter system set primary_slot_name = ''");
    lab.exec_sql("h2", "select pg_reload_conf()");
    lab.eventually(30, "h2 streams from h3", || {
        lab.exec_sql(
            "h2",
            "select coalesce(sender_host, '') from pg_stat_wal_receiver",
        ) == "10.77.0.13"
    });
    let ssh_config = lab.ssh_config().display().to_string();
    let status = pgconverge(
        &["status", "-i", &adopt, "--ssh-config", &ssh_config],
        &password,
    );
    assert!(
        status
            .stdout
            .contains("primary_conninfo = 'host=10.77.0.13")
            && status
                .stdout
                .contains("(overrides a managed setting; apply resets it)")
            && status
                .stdout
                .contains("ALTER SYSTEM on h1: log_lock_waits = 'on' (left alone)"),
        "{status}"
    );
    let drift = lab.apply(&adopt, &password, &["--dry-run"]);
    assert_eq!(drift.code, Some(2), "{drift}");
    assert!(
        drift.stdout.contains(
            "reset what ALTER SYSTEM set over managed settings: primary_conninfo, primary_slot_name"
        ),
        "{drift}"
    );
    let repointed = lab.apply(&adopt, &password, &[]);
    assert_eq!(repointed.code, Some(2), "{repointed}");
    lab.eventually(30, "h2 streams from h1 again", || {
        lab.exec_sql(
            "h2",
            "select coalesce(sender_host, '') from pg_stat_wal_receiver",
        ) == "10.77.0.11"
    });

    // 6. The `own` mode's plan names what it drops.
    let own = inventory(directory.path(), "own.yaml", "    pg_config_mode: own\n");
    let own_plan = lab.apply(&own, &password, &["--dry-run"]);
    assert_eq!(own_plan.code, Some(2), "{own_plan}");
    for dropped in [
        "replace /etc/postgresql/15/main/postgresql.conf whole (pg_config_mode: own)",
        "~ ssl  on → off",
        "~ shared_buffers  64MB → 128MB",
        "- include_if_exists = 'postgresql.base.conf'  (dropped",
        "- hostssl appdb app 10.77.0.0/24 scram-sha-256",
    ] {
        assert!(own_plan.stdout.contains(dropped), "{dropped}\n{own_plan}");
    }
    for output in [
        &dry_run, &first, &second, &drift, &repointed, &own_plan, &status,
    ] {
        assert!(
            !output.all().contains(&password),
            "the password leaked\n{output}"
        );
    }
}
