//! The command line without hosts: broken input is reported completely, with file,
//! line and column, and no host is contacted.

use assert_cmd::Command;

fn pgconverge() -> Command {
    let mut command =
        Command::cargo_bin("pgconverge").unwrap_or_else(|error| panic!("binary: {error}"));
    command
        .env("NO_COLOR", "1")
        .env_remove("PG_REPLICATION_PASSWORD");
    command
}

#[test]
fn broken_inventory_names_every_problem_and_contacts_nothing() {
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let inventory = directory.path().join("broken.yaml");
    let text = "all:\n  vars:\n    pg_verison: 15\n    replication_password: \"{{ env('PGCONVERGE_TEST_UNSET_VARIABLE') }}\"\n  children:\n    primary:\n      hostz:\n        db1: { ansible_host: 10.77.0.99 }\n    standby:\n      hosts:\n        db2: { ansible_host: 10.77.0.98, upstream: db9 }\n";
    std::fs::write(&inventory, text).unwrap_or_else(|error| panic!("write: {error}"));
    let output = pgconverge()
        .args(["apply", "--dry-run", "-i"])
        .arg(&inventory)
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let file = inventory.display().to_string();
    for expected in [
        format!("{file}:3:5: unknown variable `pg_verison` (did you mean `pg_version`?)"),
        format!("{file}:7:7: unknown key `hostz`"),
        "environment variable `PGCONVERGE_TEST_UNSET_VARIABLE` is not set".to_string(),
        "`db9`".to_string(),
    ] {
        assert!(
            stderr.contains(&expected),
            "missing `{expected}` in:\n{stderr}"
        );
    }
    assert!(
        !stderr.contains("Gathered facts"),
        "a host was contacted:\n{stderr}"
    );
    assert!(
        output.stdout.is_empty(),
        "no plan is printed for a broken inventory"
    );
}

#[test]
fn unknown_host_in_limit_is_refused_before_contacting_anything() {
    let repository = env!("CARGO_MANIFEST_DIR");
    let output = pgconverge()
        .env("PG_REPLICATION_PASSWORD", "unused-here")
        .args(["apply", "--dry-run", "--limit", "h9:standy", "-i"])
        .arg(format!("{repository}/inventory.example.yaml"))
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr.contains(
            "--limit: `h9` matches no host or group of the inventory\nerror: --limit: `standy` matches no host or group of the inventory (did you mean `standby`?)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("Gathered facts"), "{stderr}");
}

/// A limit that selects hosts, but none pgconverge manages (or none at all), is
/// an error rather than a run that does nothing.
#[test]
fn a_limit_selecting_no_member_is_refused() {
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let inventory = directory.path().join("hosts");
    let text = "[primary]\ndb1 ansible_host=10.77.0.99\n[monitoring]\nmon1 ansible_host=10.77.0.98\n[all:vars]\nreplication_password=unused-here\n";
    std::fs::write(&inventory, text).unwrap_or_else(|error| panic!("write: {error}"));
    for (limit, expected) in [
        (
            "mon*",
            "--limit selects no member of the cluster: `mon1` is in no role group",
        ),
        ("primary:&monitoring", "--limit selects no host at all"),
    ] {
        let output = pgconverge()
            .args(["restart", "--dry-run", "--limit", limit, "-i"])
            .arg(&inventory)
            .output()
            .unwrap_or_else(|error| panic!("run: {error}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{limit}: {stderr}");
        assert!(!stderr.contains("Gathered facts"), "{stderr}");
    }
}

#[test]
fn broken_playbook_and_template_are_named() {
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let templates = directory.path().join("templates");
    std::fs::create_dir(&templates).unwrap_or_else(|error| panic!("mkdir: {error}"));
    for name in ["pg_hba.conf.j2", "recovery.conf.j2", "pgpass.j2"] {
        std::fs::write(templates.join(name), "# ok\n")
            .unwrap_or_else(|error| panic!("write: {error}"));
    }
    std::fs::write(
        templates.join("postgresql.conf.j2"),
        "port = {{ pg_port }}\nshared_buffers = {{ no_such_variable }}\n",
    )
    .unwrap_or_else(|error| panic!("write: {error}"));
    let repository = env!("CARGO_MANIFEST_DIR");
    let output = pgconverge()
        .env("PG_REPLICATION_PASSWORD", "unused-here")
        .args(["apply", "--dry-run", "--templates"])
        .arg(&templates)
        .arg("-i")
        .arg(format!("{repository}/inventory.example.yaml"))
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "{}:2: undefined value",
        templates.join("postgresql.conf.j2").display()
    );
    assert!(
        stderr.contains(&expected),
        "missing `{expected}` in:\n{stderr}"
    );
    assert!(!stderr.contains("Gathered facts"), "{stderr}");
}

/// `validate` on an INI inventory with `group_vars/`: a vault value without a
/// password, a version PostgreSQL never had, an undefined variable and a host
/// name that cannot be one, all reported in one run with their places; the
/// ciphertext is never taken for the password.
#[test]
fn validate_reports_vault_version_undefined_and_name_problems_at_once() {
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let hosts = directory.path().join("hosts");
    let text = "[primary]\ndb1 pg_version=99\n[standby]\n\"db 2\"\ndb3 pg_data_dir=\"/srv/{{ pg_data_root }}/data\"\n";
    std::fs::write(&hosts, text).unwrap_or_else(|error| panic!("write: {error}"));
    std::fs::create_dir(directory.path().join("group_vars"))
        .unwrap_or_else(|error| panic!("mkdir: {error}"));
    let vault = include_str!("../fixtures/vault/default-1.1.vault");
    let indented: String = vault.lines().map(|line| format!("  {line}\n")).collect();
    let group_vars = directory.path().join("group_vars").join("all.yml");
    std::fs::write(
        &group_vars,
        format!("replication_password: !vault |\n{indented}"),
    )
    .unwrap_or_else(|error| panic!("write: {error}"));
    let output = pgconverge()
        .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
        .args(["validate", "-i"])
        .arg(&hosts)
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let (hosts, group_vars) = (hosts.display(), group_vars.display());
    let expected = [
        format!(
            "error: {group_vars}:2:3: cannot decrypt `replication_password`: it is encrypted with Ansible Vault and no vault password was given: use `--vault-password-file FILE`"
        ),
        format!(
            "error: {hosts}:2:16: `pg_version` of host `db1` is 99, a version PostgreSQL never released"
        ),
        format!("error: {hosts}:4:1: host name \"db 2\" must be a plain name"),
        format!(
            "error: {hosts}:5:17: `pg_data_root` is undefined (used by `pg_data_dir` of host `db3`)"
        ),
    ];
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), expected.len(), "{stderr}");
    for (line, expected) in lines.iter().zip(&expected) {
        assert!(
            line.starts_with(expected.as_str()),
            "`{line}` is not `{expected}...`"
        );
    }
    assert!(!stderr.contains("$ANSIBLE_VAULT"), "{stderr}");

    // With the password it is valid but for the other three.
    let password = directory.path().join("vault-password");
    std::fs::write(&password, "pgconverge\n").unwrap_or_else(|error| panic!("write: {error}"));
    let output = pgconverge()
        .args(["validate", "-i"])
        .arg(directory.path().join("hosts"))
        .arg("--vault-password-file")
        .arg(&password)
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.lines().count(), 3, "{stderr}");
    assert!(!stderr.contains("decrypt"), "{stderr}");
}

/// A mistyped flag once exited 2, which `--detailed-exitcode` uses for "changes
/// pending", `status` for disagreements and `check` for CRITICAL: a CI job read a
/// typo as a plan. Every usage error now exits 64, a code no command gives a result.
#[test]
fn a_usage_error_exits_with_a_code_no_result_uses() {
    // Every result code of every command (docs/usage.md's table of exit codes).
    const RESULT_CODES: [i32; 4] = [0, 1, 2, 3];
    let cases: &[&[&str]] = &[
        &["apply", "--formt", "json"],
        &[
            "apply",
            "--dry-run",
            "--detailed-exitcode",
            "--formt",
            "json",
        ],
        &["apply", "--detailed-exitcode", "--no-such-flag"],
        &["restart", "--detailed-exitcode", "--no-such-flag"],
        &["status", "--formt", "json"],
        &["check", "--warn-lag"],
        &["validate", "--inventroy", "inventory.yaml"],
        &["upgrade", "--to", "fifteen"],
        &["no-such-command"],
        &[],
    ];
    for args in cases {
        let output = pgconverge()
            .args(*args)
            .output()
            .unwrap_or_else(|error| panic!("run: {error}"));
        let code = output.status.code();
        assert_eq!(
            code,
            Some(64),
            "pgconverge {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            code.is_some_and(|code| !RESULT_CODES.contains(&code)),
            "pgconverge {args:?} exits with a result's code"
        );
        assert!(
            !output.stderr.is_empty(),
            "pgconverge {args:?} says nothing"
        );
    }
    for args in [["--help"], ["--version"]] {
        let output = pgconverge()
            .args(args)
            .output()
            .unwrap_or_else(|error| panic!("run: {error}"));
        assert_eq!(output.status.code(), Some(0), "pgconverge {args:?}");
    }
}

/// `validate --format json`: every diagnostic with its severity, message, file,
/// line and column, for a CI job or an editor to read.
#[test]
fn validate_json_lists_every_diagnostic_with_its_place() {
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let inventory = directory.path().join("inventory.yml");
    let text = "all:\n  vars:\n    replication_password: x\n    replicaton_user: repl\n    pg_settings:\n      shared_bufers: 1GB\n  children:\n    primary:\n      hosts:\n        db1: {}\n";
    std::fs::write(&inventory, text).unwrap_or_else(|error| panic!("write: {error}"));
    let run = |inventory: &std::path::Path| {
        let output = pgconverge()
            .args(["validate", "--format", "json", "-i"])
            .arg(inventory)
            .output()
            .unwrap_or_else(|error| panic!("run: {error}"));
        let document: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|error| panic!("JSON on stdout: {error}"));
        (output.status.code(), document)
    };
    let file = inventory.display().to_string();
    let (code, document) = run(&inventory);
    assert_eq!(code, Some(1));
    assert_eq!(document["valid"], false);
    assert_eq!(
        document["diagnostics"],
        serde_json::json!([{
            "severity": "error",
            "message": "`pg_settings` of host `db1`: `shared_bufers` is no setting of PostgreSQL 15 (did you mean `shared_buffers`?)",
            "file": file,
            "line": 6,
            "column": 7,
        }])
    );
    std::fs::write(&inventory, text.replace("shared_bufers", "shared_buffers"))
        .unwrap_or_else(|error| panic!("write: {error}"));
    let (code, document) = run(&inventory);
    assert_eq!(code, Some(0));
    assert_eq!(document["valid"], true);
    assert_eq!(document["warning_count"], 1);
    assert_eq!(document["diagnostics"][0]["severity"], "warning");
    assert_eq!(document["diagnostics"][0]["line"], 4);
    assert_eq!(document["diagnostics"][0]["column"], 5);
}

/// An inventory script that fails stops everything, named with its exit status
/// and what it wrote to its standard error; one that prints no JSON is named
/// with the place of the mistake in its output.
#[test]
fn a_failing_inventory_script_is_named_with_its_status_and_stderr() {
    use std::os::unix::fs::PermissionsExt as _;
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let script = directory.path().join("cloud.sh");
    let write = |body: &str| {
        std::fs::write(&script, body).unwrap_or_else(|error| panic!("write: {error}"));
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|error| panic!("chmod: {error}"));
    };
    write("#!/bin/sh\necho 'the API refused the token' >&2\nexit 4\n");
    let output = pgconverge()
        .args(["validate", "-i"])
        .arg(&script)
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let path = script.display();
    assert!(
        stderr.contains(&format!(
            "{path}: the inventory script `{path} --list` exited with status 4; its standard error:\nthe API refused the token"
        )),
        "{stderr}"
    );
    write("#!/bin/sh\necho '{\"primary\": {\"hosts\": [\"db1\"]},'\n");
    let output = pgconverge()
        .args(["validate", "-i"])
        .arg(&script)
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("{path} --list:1:1: unclosed bracket"))
            && stderr.contains("(read as an inventory script's JSON)"),
        "{stderr}"
    );
}

/// The subcommands `pgconverge --help` lists (its `Commands:` section), but `help`.
fn subcommands() -> Vec<String> {
    let output = pgconverge()
        .arg("--help")
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    let help = String::from_utf8_lossy(&output.stdout).into_owned();
    let names: Vec<String> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap_or_else(|| panic!("no `Commands:` in --help:\n{help}"))
        .lines()
        .take_while(|line| line.starts_with("  "))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|name| *name != "help")
        .map(str::to_string)
        .collect();
    // Whatever the parsing, these must be among them: the list is not empty.
    for known in ["apply", "validate", "verify-backup", "completions"] {
        assert!(
            names.iter().any(|name| name == known),
            "`{known}` not found in --help:\n{help}"
        );
    }
    names
}

/// `--version` names the commit the binary was built from (by `build.rs`): this
/// checkout's `HEAD` when the tests run in one, else `unknown`.
#[test]
fn version_names_the_commit_it_was_built_from() {
    let repository = env!("CARGO_MANIFEST_DIR");
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .env("TZ", "UTC")
            .arg("-C")
            .arg(repository)
            .args(args)
            .output()
            .ok()
            .filter(|output| output.status.success())
            .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    let checkout = git(&["rev-parse", "--show-toplevel"]).is_some_and(|top| {
        std::fs::canonicalize(top).ok() == std::fs::canonicalize(repository).ok()
    });
    let expected = if checkout {
        let commit = git(&["rev-parse", "--short=10", "HEAD"]).unwrap_or_default();
        let date = git(&[
            "log",
            "-1",
            "--date=format-local:%Y-%m-%d",
            "--format=%cd",
            "HEAD",
        ])
        .unwrap_or_default();
        format!("commit {commit}, {date}")
    } else {
        "commit unknown".to_string()
    };
    for flag in ["--version", "-V"] {
        let output = pgconverge()
            .arg(flag)
            .output()
            .unwrap_or_else(|error| panic!("run: {error}"));
        assert_eq!(output.status.code(), Some(0));
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            format!("pgconverge {} ({expected})\n", env!("CARGO_PKG_VERSION")),
            "pgconverge {flag}"
        );
    }
}

/// Completions come from the clap definitions: each shell's script names every
/// subcommand there is.
#[test]
fn completions_of_every_shell_name_every_subcommand() {
    let subcommands = subcommands();
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let output = pgconverge()
            .args(["completions", shell])
            .output()
            .unwrap_or_else(|error| panic!("run: {error}"));
        assert_eq!(
            output.status.code(),
            Some(0),
            "completions {shell}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let script = String::from_utf8_lossy(&output.stdout);
        assert!(
            script.contains("pgconverge"),
            "completions {shell}: {script}"
        );
        let missing: Vec<&String> = subcommands
            .iter()
            .filter(|name| !script.contains(name.as_str()))
            .collect();
        assert!(missing.is_empty(), "completions {shell} lack {missing:?}");
    }
}

/// `pgconverge man --dir DIR` writes a page for the command and one for every
/// subcommand, and no other.
#[test]
fn manual_pages_are_written_for_every_subcommand() {
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let pages = directory.path().join("man1");
    let output = pgconverge()
        .args(["man", "--dir"])
        .arg(&pages)
        .output()
        .unwrap_or_else(|error| panic!("run: {error}"));
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let mut expected: Vec<String> = subcommands()
        .iter()
        .map(|name| format!("pgconverge-{name}.1"))
        .collect();
    expected.push("pgconverge.1".to_string());
    expected.sort();
    let mut written: Vec<String> = std::fs::read_dir(&pages)
        .unwrap_or_else(|error| panic!("read {}: {error}", pages.display()))
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    written.sort();
    assert_eq!(written, expected);
    for name in &written {
        let page = std::fs::read_to_string(pages.join(name))
            .unwrap_or_else(|error| panic!("read {name}: {error}"));
        let title = name.trim_end_matches(".1");
        assert!(
            page.contains(&format!(".TH {title} 1")),
            "{name} has no title line:\n{page}"
        );
        assert!(page.contains(".SH SYNOPSIS"), "{name}:\n{page}");
    }
}
