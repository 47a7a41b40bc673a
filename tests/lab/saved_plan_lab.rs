//! End to end on the lab: a saved plan applies exactly; a plan made stale by a hand
//! edit or a restart is refused with nothing changed; no secret is in any output
//! or plan file. The plan, the saved plan, and `status` and `check` of the
//! converged cluster are held to their JSON Schemas (`docs/schemas/`).

use crate::support;

use std::path::Path;
use support::{Lab, Run, lab_available, pgconverge, repository};

fn run(lab: &Lab, password: &str, args: &[&str]) -> Run {
    let ssh_config = lab.ssh_config();
    let mut all = vec![
        "apply",
        "--ssh-config",
        ssh_config.to_str().unwrap_or_default(),
        "--detailed-exitcode",
    ];
    all.extend_from_slice(args);
    pgconverge(&all, password)
}

/// The example inventory with `work_mem` set for every host.
fn inventory_with_work_mem(directory: &Path, work_mem: &str) -> String {
    let example = std::fs::read_to_string(repository().join("inventory.example.yaml"))
        .unwrap_or_else(|error| panic!("example inventory: {error}"));
    let from = "    replication_user: replicator\n";
    assert!(example.contains(from));
    let path = directory.join(format!("work_mem_{work_mem}.yaml"));
    std::fs::write(
        &path,
        example.replace(
            from,
            &format!("{from}    pg_settings: {{ work_mem: {work_mem} }}\n"),
        ),
    )
    .unwrap_or_else(|error| panic!("write: {error}"));
    path.display().to_string()
}

fn work_mem_everywhere(lab: &Lab) -> Vec<String> {
    ["h1", "h2", "h3"]
        .iter()
        .map(|host| lab.sql(host, "show work_mem"))
        .collect()
}

#[test]
fn saved_plans_apply_exactly_or_not_at_all() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    let password = format!("pw-saved-{}", std::process::id());
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let example = repository()
        .join("inventory.example.yaml")
        .display()
        .to_string();
    let mut outputs = Vec::new();
    let converge = run(&lab, &password, &["-i", &example]);
    assert_eq!(converge.code, Some(2), "{converge}");

    // Plan a change, save it, print it as JSON; then apply exactly the saved plan.
    // The lab's servers run with their operator's work_mem = 8MB.
    let twelve = inventory_with_work_mem(directory.path(), "12MB");
    let plan_file = directory.path().join("plan.json");
    let plan_path = plan_file.display().to_string();
    let planned = run(
        &lab,
        &password,
        &[
            "-i",
            &twelve,
            "--dry-run",
            "--out",
            &plan_path,
            "--format",
            "json",
        ],
    );
    assert_eq!(planned.code, Some(2), "{planned}");
    let document = support::assert_matches_schema("plan", &planned.stdout);
    assert_eq!(document["format_version"], 1);
    assert_eq!(document["kind"], "plan");
    assert_eq!(document["summary"]["update"], 3, "{planned}");
    assert_eq!(document["summary"]["reload"], 3, "{planned}");
    // Each host's change of work_mem, as data: the value in force, the new one,
    // and what applies it, read from the server.
    for host in document["hosts"].as_array().into_iter().flatten() {
        let changes: Vec<&serde_json::Value> = host["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|step| step["setting_changes"].as_array().into_iter().flatten())
            .collect();
        assert_eq!(
            changes,
            vec![&serde_json::json!({
                "name": "work_mem", "before": "8MB", "after": "12MB", "applies_by": "reload"
            })],
            "{}: {planned}",
            host["name"]
        );
    }
    support::assert_matches_schema(
        "saved-plan",
        &std::fs::read_to_string(&plan_file).unwrap_or_else(|error| panic!("{plan_path}: {error}")),
    );
    assert_eq!(
        work_mem_everywhere(&lab),
        vec!["8MB"; 3],
        "the dry run changed a host"
    );
    // The saved plan is its owner's alone: it shows the cluster's hosts and settings.
    let plan_mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(&plan_file)
            .unwrap_or_else(|error| panic!("{plan_path}: {error}"))
            .permissions(),
    );
    assert_eq!(plan_mode & 0o777, 0o600, "{plan_path}");
    let applied = run(&lab, &password, &[&plan_path]);
    assert_eq!(applied.code, Some(2), "{applied}");
    assert!(
        applied.stderr.contains("The saved plan still holds"),
        "{applied}"
    );
    assert_eq!(work_mem_everywhere(&lab), vec!["12MB"; 3]);
    outputs.extend([planned.all(), applied.all()]);

    // What status and check say of the cluster now, held to their schemas.
    let ssh_config = lab.ssh_config().display().to_string();
    for command in ["status", "check"] {
        let seen = pgconverge(
            &[
                command,
                "-i",
                &twelve,
                "--ssh-config",
                &ssh_config,
                "--format",
                "json",
            ],
            &password,
        );
        let document = support::assert_matches_schema(command, &seen.stdout);
        let hosts = match command {
            "status" => document["hosts"].as_array().map(Vec::len),
            _ => document["round_trips"].as_object().map(|trips| trips.len()),
        };
        assert_eq!(hosts, Some(3), "{seen}");
        outputs.push(seen.all());
    }

    // A hand edit after planning: refused, naming the host and the file; nothing changes.
    let sixteen = inventory_with_work_mem(directory.path(), "16MB");
    let stale_plan = directory.path().join("stale.json").display().to_string();
    let planned = run(
        &lab,
        &password,
        &["-i", &sixteen, "--dry-run", "--out", &stale_plan],
    );
    assert_eq!(planned.code, Some(2), "{planned}");
    lab.ssh(
        "h2",
        "echo '# edited by hand' >> /etc/postgresql/15/main/pg_hba.conf",
    );
    let refused = run(&lab, &password, &[&stale_plan]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused.stderr.contains(
            "h2 changed since the plan was made (file /etc/postgresql/15/main/pg_hba.conf)"
        ),
        "{refused}"
    );
    assert_eq!(
        work_mem_everywhere(&lab),
        vec!["12MB"; 3],
        "a refused plan changed a host"
    );
    outputs.extend([planned.all(), refused.all()]);

    // A restart after planning: refused, naming the host; nothing changes.
    let planned = run(
        &lab,
        &password,
        &["-i", &sixteen, "--dry-run", "--out", &stale_plan],
    );
    assert_eq!(planned.code, Some(2), "{planned}");
    lab.ssh("h3", "cd / && pg_ctlcluster 15 main restart");
    let refused = run(&lab, &password, &[&stale_plan]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused
            .stderr
            .contains("h3 changed since the plan was made (server)"),
        "{refused}"
    );
    assert_eq!(
        work_mem_everywhere(&lab),
        vec!["12MB"; 3],
        "a refused plan changed a host"
    );
    outputs.extend([planned.all(), refused.all()]);

    // Another inventory than the planned one: refused before any host is contacted.
    let other = run(&lab, &password, &[&stale_plan, "-i", &twelve]);
    assert_eq!(other.code, Some(1), "{other}");
    assert!(
        other
            .stderr
            .contains("the inventory is not the one planned"),
        "{other}"
    );
    assert!(!other.stderr.contains("Gathered facts"), "{other}");
    outputs.push(other.all());

    for file in [&plan_path, &stale_plan] {
        outputs.push(
            std::fs::read_to_string(file).unwrap_or_else(|error| panic!("read {file}: {error}")),
        );
    }
    for output in &outputs {
        assert!(
            !output.contains(&password),
            "the password is in an output or a plan file:\n{output}"
        );
    }
}
