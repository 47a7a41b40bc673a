//! End to end on the lab: a replication role and a password holding quotes,
//! backslashes, `#`, spaces and a `$` converge and replicate, and PostgreSQL itself
//! reads the rendered files back as the values that were meant
//! (`pg_hba_file_rules`, `pg_file_settings`), with nothing extra.

use crate::support;

use support::{Lab, lab_available, pgconverge, repository};

const ROLE: &str = r"re'pl \ #$x";
const CLUSTER_NAME: &str = r"it's a \ test #1";

fn inventory(directory: &std::path::Path) -> String {
    let text = std::fs::read_to_string(repository().join("inventory.example.yaml"))
        .unwrap_or_else(|error| panic!("{error}"))
        .replace(
            "    replication_user: replicator\n",
            &format!(
                "    replication_user: {}\n    pg_settings:\n      cluster_name: {}\n",
                serde_json::to_string(ROLE).unwrap_or_default(),
                serde_json::to_string(CLUSTER_NAME).unwrap_or_default()
            ),
        );
    let path = directory.join("inventory.yaml");
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("{error}"));
    path.display().to_string()
}

#[test]
fn awkward_role_names_and_passwords_converge_and_replicate() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(3);
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let inventory = inventory(directory.path());
    let password = format!(r"pa'ss \ #$word: {}", std::process::id());
    let ssh_config = lab.ssh_config().display().to_string();
    let apply = |extra: &[&str]| {
        let mut args = vec!["apply", "-i", &inventory, "--ssh-config", &ssh_config];
        args.extend_from_slice(extra);
        pgconverge(&args, &password)
    };
    let first = apply(&[]);
    assert_eq!(first.code, Some(0), "{first}");
    assert!(
        !first.all().contains(&password),
        "the password leaked:\n{first}"
    );

    // The role exists with exactly that name, and both standbys stream as it.
    let literal = ROLE.replace('\'', "''");
    assert_eq!(
        lab.sql(
            "h1",
            &format!("select rolreplication from pg_roles where rolname = '{literal}'")
        ),
        "t"
    );
    lab.eventually(30, "both standbys stream as the role", || {
        lab.sql(
            "h1",
            &format!("select count(*) from pg_stat_replication where usename = '{literal}' and state = 'streaming'"),
        ) == "2"
    });
    lab.sql(
        "h1",
        "create table quoting_check (id int); insert into quoting_check values (42)",
    );
    lab.eventually(30, "the row on h3", || {
        lab.try_sql("h3", "select coalesce(sum(id), 0) from quoting_check")
            .as_deref()
            == Ok("42")
    });

    // PostgreSQL reads the rules back with that user, and no rule it cannot parse.
    let rules = lab.sql(
        "h2",
        "select count(*) filter (where error is not null), count(*) filter (where user_name = array[$r$re'pl \\ #$x$r$]) from pg_hba_file_rules",
    );
    assert_eq!(rules, "0|6", "errors|rules naming the role");
    // And the settings: cluster_name exactly, and nothing set that the file does not mean to.
    assert_eq!(
        lab.sql(
            "h2",
            "select setting from pg_file_settings where name = 'cluster_name' and applied"
        ),
        CLUSTER_NAME
    );
    assert_eq!(
        lab.sql(
            "h2",
            "select count(*) from pg_file_settings where error is not null"
        ),
        "0"
    );

    // A second run finds the password's verifier and every file as wanted.
    let second = apply(&["--detailed-exitcode"]);
    assert_eq!(second.code, Some(0), "{second}");
}
