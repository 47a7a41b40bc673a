//! The commands that need no host: `validate`, `render` and `graph`. Each runs
//! with a `PATH` that holds no `ssh`, so a command that tried to contact a host
//! would fail instead of passing quietly.

use assert_cmd::Command;
use std::path::{Path, PathBuf};
use std::process::Output;

pub(crate) const PASSWORD: &str = "offline-test-password-4711";

pub(crate) fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn pgconverge(directory: &Path) -> Command {
    let mut command =
        Command::cargo_bin("pgconverge").unwrap_or_else(|error| panic!("binary: {error}"));
    command
        .current_dir(directory)
        .env("NO_COLOR", "1")
        .env("PATH", "/nonexistent/pgconverge-offline-tests")
        .env("PG_REPLICATION_PASSWORD", PASSWORD);
    command
}

pub(crate) fn run(command: &mut Command) -> (Output, String, String) {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    (output, stdout, stderr)
}

pub(crate) fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
}

pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("read {}: {error}", path.display()))
}

/// Every file under `directory`, as paths relative to it, sorted.
fn files_under(directory: &Path) -> Vec<String> {
    fn walk(directory: &Path, root: &Path, files: &mut Vec<String>) {
        let entries = std::fs::read_dir(directory)
            .unwrap_or_else(|error| panic!("read {}: {error}", directory.display()));
        for entry in entries {
            let path = entry
                .unwrap_or_else(|error| panic!("entry: {error}"))
                .path();
            if path.is_dir() {
                walk(&path, root, files);
            } else if let Ok(relative) = path.strip_prefix(root) {
                files.push(relative.display().to_string());
            }
        }
    }
    let mut files = Vec::new();
    walk(directory, directory, &mut files);
    files.sort();
    files
}

pub(crate) fn temporary_directory() -> tempfile::TempDir {
    tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"))
}

#[test]
fn validate_accepts_the_example_inventory_with_a_one_line_summary() {
    let (output, stdout, stderr) =
        run(pgconverge(&repository()).args(["validate", "-i", "inventory.example.yaml"]));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stdout,
        "inventory.example.yaml: 3 hosts (1 primary, 2 standbys), 35 steps: valid\n"
    );
    assert_eq!(stderr, "");
}

const BROKEN_INVENTORY: &str = "\
all:
  vars:
    pg_verison: 15
    replication_password: \"{{ env('PG_REPLICATION_PASSWORD') }}\"
  children:
    primary:
      hosts:
        db1: { ansible_host: 10.77.0.91 }
    standby:
      hostz:
        db0: {}
      hosts:
        db2: { ansible_host: 10.77.0.92, upstream: db9 }
        db3: { ansible_host: 10.77.0.93, max_connections: 10 }
        db4: { ansible_host: 10.77.0.94, upstream: db5 }
        db5: { ansible_host: 10.77.0.95, upstream: db4 }
";

const BROKEN_PLAYBOOK: &str = "\
steps:
  - id: os_user
    action: os_user
    roles: [primary, standby]
  - id: pgpass
    action: file
    roles: [primary, standbys]
    template: pgpass.j2
    dest: \"{{ pg_home_dir }}/.pgpass\"
    requires: [os_usr]
";

#[test]
fn validate_reports_every_seeded_problem_with_file_line_and_column() {
    let directory = temporary_directory();
    write(&directory.path().join("inventory.yaml"), BROKEN_INVENTORY);
    write(&directory.path().join("playbook.yaml"), BROKEN_PLAYBOOK);
    let (output, stdout, stderr) = run(pgconverge(directory.path()).args([
        "validate",
        "-i",
        "inventory.yaml",
        "-p",
        "playbook.yaml",
    ]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "", "nothing is reported as valid");
    let expected = [
        "error: inventory.yaml:3:5: unknown variable `pg_verison` (did you mean `pg_version`?)",
        "error: inventory.yaml:10:7: unknown key `hostz` in group `standby` (expected hosts, vars, children)",
        "error: inventory.yaml:13:52: upstream `db9` of host `db2` is not a host in the inventory",
        "error: inventory.yaml:14:59: host `db3` (standby) sets max_connections = 10, lower than its upstream `db1` (100): a hot standby refuses to start",
        "error: inventory.yaml:15:52: standbys replicate from each other in a cycle, `db4` -> `db5` -> `db4`: one of them must replicate from the primary",
        "error: playbook.yaml:10:16: step `pgpass` refers to `os_usr`, which is no step or handler of this playbook",
        "error: playbook.yaml:7:22: step `pgpass` names the role `standbys` (expected primary, standby, archive or pgbouncer)",
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    for line in expected {
        assert!(lines.contains(&line), "missing `{line}` in:\n{stderr}");
    }
    assert_eq!(
        lines.len(),
        expected.len(),
        "one line per problem:\n{stderr}"
    );
    assert!(!stderr.contains(PASSWORD), "{stderr}");
}

#[test]
fn validate_names_the_template_and_line_of_a_template_error() {
    let directory = temporary_directory();
    let templates = directory.path().join("templates");
    std::fs::create_dir(&templates).unwrap_or_else(|error| panic!("mkdir: {error}"));
    for name in ["pg_hba.conf.j2", "recovery.conf.j2", "pgpass.j2"] {
        write(&templates.join(name), "# ok\n");
    }
    write(
        &templates.join("postgresql.conf.j2"),
        "port = {{ pg_port }}\nshared_buffers = {{ shared_bufers }}\n",
    );
    let (output, stdout, stderr) = run(pgconverge(directory.path())
        .args(["validate", "--templates", "templates", "-i"])
        .arg(repository().join("inventory.example.yaml")));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(stdout, "");
    // One line per host that renders the template: the three hosts of the example.
    let errors: Vec<&str> = stderr
        .lines()
        .filter(|line| line.starts_with("error: templates/postgresql.conf.j2:2: undefined value"))
        .collect();
    assert_eq!(errors.len(), 3, "{stderr}");
}

#[test]
fn render_writes_each_file_of_a_primary_and_a_standby_and_no_password() {
    let directory = temporary_directory();
    let out = directory.path().join("rendered");
    let mut written = Vec::new();
    for host in ["h1", "h2"] {
        let (output, _, stderr) = run(pgconverge(&repository())
            .args([
                "render",
                "-i",
                "inventory.example.yaml",
                "--host",
                host,
                "--out",
            ])
            .arg(out.join(host)));
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        assert!(!stderr.contains(PASSWORD), "{stderr}");
        written.push(stderr);
    }
    assert_eq!(
        files_under(&out.join("h1")),
        [
            "etc/postgresql/15/main/pg_hba.conf",
            "etc/postgresql/15/main/postgresql.conf",
            "var/lib/postgresql/.pgpass",
        ]
    );
    assert_eq!(
        files_under(&out.join("h2")),
        [
            "etc/postgresql/15/main/pg_hba.conf",
            "etc/postgresql/15/main/postgresql.conf",
            "var/lib/postgresql/.pgpass",
            "var/lib/postgresql/15/main/standby.signal",
        ]
    );
    // Each path written is named on stderr, in playbook order.
    let h2 = out.join("h2");
    assert_eq!(
        written[1],
        format!(
            "{} (sensitive: a placeholder is written, not the secret)\n{}\n{}\n{}\n",
            h2.join("var/lib/postgresql/.pgpass").display(),
            h2.join("etc/postgresql/15/main/postgresql.conf").display(),
            h2.join("etc/postgresql/15/main/pg_hba.conf").display(),
            h2.join("var/lib/postgresql/15/main/standby.signal")
                .display(),
        )
    );
    for host in ["h1", "h2"] {
        let pgpass = read(&out.join(host).join("var/lib/postgresql/.pgpass"));
        assert!(pgpass.starts_with("(sensitive)\n"), "{pgpass}");
        for file in files_under(&out.join(host)) {
            let content = read(&out.join(host).join(&file));
            assert!(
                !content.contains(PASSWORD),
                "{host}: {file} holds the password"
            );
        }
    }
    let primary_conf = read(&out.join("h1/etc/postgresql/15/main/postgresql.conf"));
    assert!(
        primary_conf.contains("wal_level = replica\n"),
        "{primary_conf}"
    );
    assert!(!primary_conf.contains("primary_conninfo"), "{primary_conf}");
    let standby_conf = read(&out.join("h2/etc/postgresql/15/main/postgresql.conf"));
    assert!(
        standby_conf.contains("primary_conninfo = 'host=10.77.0.11 port=5432 user=replicator application_name=h2 sslmode=prefer passfile=/var/lib/postgresql/.pgpass'\n"),
        "{standby_conf}"
    );
    assert_eq!(
        read(&out.join("h2/var/lib/postgresql/15/main/standby.signal")),
        ""
    );
}

#[test]
fn render_of_an_unknown_host_names_the_known_ones_and_writes_nothing() {
    let directory = temporary_directory();
    let out = directory.path().join("rendered");
    let (output, _, stderr) = run(pgconverge(&repository())
        .args([
            "render",
            "-i",
            "inventory.example.yaml",
            "--host",
            "h9",
            "--out",
        ])
        .arg(&out));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert_eq!(
        stderr,
        "error: unknown host `h9`: the inventory has `h1`, `h2`, `h3`\n"
    );
    assert!(!out.exists(), "nothing is written for an unknown host");
}

#[test]
fn graph_draws_the_cross_host_edges_the_same_way_every_time() {
    let graph = || {
        let (output, stdout, stderr) =
            run(pgconverge(&repository()).args(["graph", "-i", "inventory.example.yaml"]));
        assert_eq!(output.status.code(), Some(0), "{stderr}");
        stdout
    };
    let first = graph();
    assert!(first.starts_with("digraph pgconverge {\n"), "{first}");
    assert!(first.ends_with("}\n"), "{first}");
    for edge in [
        "    \"h1/replication_role\" -> \"h2/base_backup\" [style=dashed];\n",
        "    \"h1/replication_role\" -> \"h3/base_backup\" [style=dashed];\n",
        "    \"h1/pg_service\" -> \"h2/verify_streaming\" [style=dashed];\n",
        "    \"h2/pgpass\" -> \"h2/base_backup\";\n",
    ] {
        assert!(first.contains(edge), "missing `{edge}` in:\n{first}");
    }
    assert!(!first.contains(PASSWORD));
    assert_eq!(first, graph(), "two runs print the same graph");
}

/// Graphviz is not needed by pgconverge or its tests; where `dot` is installed,
/// this checks that it reads the output as a graph with every step in it.
#[test]
fn graph_output_is_read_by_graphviz() {
    let probe = std::process::Command::new("dot").arg("-V").output();
    if !probe.is_ok_and(|output| output.status.success()) {
        // A test that passes whenever `dot` is missing would check nothing in CI:
        // tests/run.sh installs Graphviz, and elsewhere skipping must be asked for.
        assert_eq!(
            std::env::var("PGCONVERGE_SKIP_GRAPHVIZ").as_deref(),
            Ok("1"),
            "Graphviz `dot` is not installed: install it (tests/requirements-apt.txt) or set PGCONVERGE_SKIP_GRAPHVIZ=1"
        );
        eprintln!("skipping: Graphviz `dot` is not installed");
        return;
    }
    let (output, stdout, stderr) =
        run(pgconverge(&repository()).args(["graph", "-i", "inventory.example.yaml"]));
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    let mut dot = std::process::Command::new("dot")
        .arg("-Tplain")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("dot: {error}"));
    if let Some(mut input) = dot.stdin.take() {
        use std::io::Write;
        input
            .write_all(stdout.as_bytes())
            .unwrap_or_else(|error| panic!("write to dot: {error}"));
    }
    let laid_out = dot
        .wait_with_output()
        .unwrap_or_else(|error| panic!("dot: {error}"));
    let plain = String::from_utf8_lossy(&laid_out.stdout);
    assert!(
        laid_out.status.success(),
        "{}",
        String::from_utf8_lossy(&laid_out.stderr)
    );
    assert_eq!(
        plain
            .lines()
            .filter(|line| line.starts_with("node "))
            .count(),
        35,
        "{plain}"
    );
}

#[test]
fn apply_refuses_rejoin_and_decommission_naming_the_wrong_host_before_contacting_any() {
    let refused = |args: &[&str]| {
        let mut all = vec!["apply", "-i", "inventory.example.yaml"];
        all.extend_from_slice(args);
        let (output, _, stderr) = run(pgconverge(&repository()).args(&all));
        assert_eq!(output.status.code(), Some(1), "{args:?}: {stderr}");
        stderr
    };
    assert!(refused(&["--rejoin", "h9"]).contains("unknown host `h9` in --rejoin"));
    assert!(
        refused(&["--decommission", "h2"])
            .contains("--decommission h2: `h2` is still a member of the replication cluster")
    );
    let unknown = refused(&["--decommission", "h9"]);
    assert!(
        unknown.contains("the inventory has no host `h9`") && unknown.contains("`decommissioned:`"),
        "{unknown}"
    );
    assert!(
        refused(&["--decommission", "h3", "--limit", "h1"])
            .contains("--decommission cannot go with --limit")
    );
    for option in ["--rejoin", "--decommission"] {
        let (output, _, stderr) =
            run(pgconverge(&repository()).args(["apply", "plan.json", option, "h1"]));
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(&format!("{option} cannot go with a saved plan")),
            "{stderr}"
        );
    }
}

/// `backup --format json` and `verify-backup --format json` print the plan's
/// versioned document on stdout and the human text on stderr; here no host can
/// be reached (no `ssh` on the `PATH`), so each host carries its error.
#[test]
fn backup_and_verify_backup_print_the_plan_document_as_json() {
    let directory = temporary_directory();
    let example = read(&repository().join("inventory.example.yaml"));
    let text = example.replace(
        "    replication_user: replicator\n",
        "    replication_user: replicator\n    wal_archive: { pgbackrest: { repo_path: /var/lib/pgbackrest } }\n",
    );
    assert_ne!(text, example);
    write(&directory.path().join("inventory.yaml"), &text);
    for command in ["backup", "verify-backup"] {
        let (output, stdout, stderr) = run(pgconverge(directory.path()).args([
            command,
            "--dry-run",
            "--format",
            "json",
            "-i",
            "inventory.yaml",
        ]));
        assert_eq!(output.status.code(), Some(1), "{command}: {stderr}");
        let document: serde_json::Value = serde_json::from_str(&stdout)
            .unwrap_or_else(|error| panic!("{command}: {error}: {stdout}"));
        assert_eq!(document["format_version"], 1, "{command}");
        assert_eq!(document["kind"], "plan", "{command}");
        assert!(
            document["summary"]["unreachable"].as_u64() > Some(0),
            "{command}: {stdout}"
        );
        assert!(stderr.contains("Gathered facts"), "{command}: {stderr}");
    }
}

/// `upgrade --format json` prints its gates as one versioned document on stdout
/// and every line of text on stderr; with no host reachable (no `ssh` on the
/// `PATH`) the gates are closed and say why.
#[test]
fn upgrade_prints_its_gates_as_json() {
    let (output, stdout, stderr) = run(pgconverge(&repository()).args([
        "upgrade",
        "--dry-run",
        "--to",
        "17",
        "--format",
        "json",
        "-i",
        "inventory.example.yaml",
    ]));
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let document: serde_json::Value =
        serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"));
    assert_eq!(document["format_version"], 1);
    assert_eq!(document["kind"], "upgrade_gates");
    assert_eq!(
        (&document["from"], &document["to"]),
        (&"15".into(), &"17".into())
    );
    assert_eq!(document["members"], serde_json::json!(["h1", "h2", "h3"]));
    assert_eq!(document["passed"], false);
    let gates = document["gates"].as_array().expect("a list of gates");
    assert_eq!(gates[0]["name"], "target version");
    assert_eq!(gates[0]["passed"], true);
    assert!(
        gates.iter().any(|gate| gate["name"] == "every member runs"
            && gate["passed"] == false
            && gate["detail"]
                .as_str()
                .is_some_and(|detail| detail.contains("cannot connect to h1"))),
        "{stdout}"
    );
    assert!(stderr.contains("CLOSED  every member runs"), "{stderr}");
}
