//! End to end on a lab whose sshd refuses root, with h3 reachable only through
//! h1: pgconverge logs in as an ordinary user, through the bastion for h3
//! (`ansible_ssh_common_args: -o ProxyJump=...`), and becomes root with sudo
//! (`ansible_become`), without a password and with one, or with su; a login
//! without sudo rights is refused before any file changes.

use crate::support;

use support::{Lab, lab_available, pgconverge_with, repository};

/// The example inventory with `ansible_user: root` replaced by `login`, and h3
/// reached through h1 (`ProxyJump`), the only way the lab lets in.
fn inventory(directory: &std::path::Path, name: &str, login: &str) -> String {
    let text = std::fs::read_to_string(repository().join("inventory.example.yaml"))
        .unwrap_or_else(|error| panic!("{error}"))
        .replace("    ansible_user: root\n", login)
        .replace(
            "h3: { ansible_host: 10.77.0.13 }",
            "h3: { ansible_host: 10.77.0.13, ansible_ssh_common_args: \"-o ProxyJump=deploy@10.77.0.11\" }",
        );
    let path = directory.join(name);
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("{error}"));
    path.display().to_string()
}

/// Each host's configuration and key files, and its data directory's identity.
fn fingerprints(lab: &Lab) -> Vec<String> {
    ["h1", "h2", "h3"]
        .iter()
        .map(|host| {
            lab.exec(
                host,
                &[
                    "sh",
                    "-c",
                    "cd / && sha256sum /etc/postgresql/15/main/*.conf; ls -a /etc/postgresql/15/main /var/lib/postgresql; /usr/lib/postgresql/15/bin/pg_controldata -D /var/lib/postgresql/15/main | grep 'system identifier'",
                ],
            )
        })
        .collect()
}

#[test]
fn an_ordinary_login_with_sudo_converges_and_one_without_changes_nothing() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_without_root_login(3);
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let ssh_config = lab.ssh_config().display().to_string();
    let password = format!("pw-become-{}", std::process::id());
    // h3 is behind h1: a direct login is refused.
    let direct = std::process::Command::new("ssh")
        .args([
            "-F",
            &ssh_config,
            "-o",
            "ConnectTimeout=5",
            "-l",
            "deploy",
            "h3",
            "true",
        ])
        .output()
        .unwrap_or_else(|error| panic!("ssh: {error}"));
    assert!(
        !direct.status.success(),
        "h3 must not accept a direct login"
    );
    let run_with = |inventory: &str, args: &[&str], environment: &[(&str, &str)]| {
        let mut all = args.to_vec();
        all.extend(["-i", inventory, "--ssh-config", &ssh_config]);
        pgconverge_with(&all, &password, environment)
    };
    let run = |inventory: &str, args: &[&str]| run_with(inventory, args, &[]);

    // A login without sudo rights: exit 1, the host and sudo named, nothing changed.
    let visitor = inventory(
        directory.path(),
        "visitor.yaml",
        "    ansible_user: visitor\n    ansible_become: true\n",
    );
    let before = fingerprints(&lab);
    let refused = run(&visitor, &["apply"]);
    assert_eq!(refused.code, Some(1), "{refused}");
    assert!(
        refused
            .all()
            .contains("cannot become root with sudo on h1: sudo: a password is required"),
        "{refused}"
    );
    assert_eq!(
        fingerprints(&lab),
        before,
        "a refused login changed something"
    );

    // deploy: sudo without a password converges; a row replicates; nothing left to do.
    let deploy = inventory(
        directory.path(),
        "deploy.yaml",
        "    ansible_user: deploy\n    ansible_become: true\n",
    );
    let first = run(&deploy, &["apply"]);
    assert_eq!(first.code, Some(0), "{first}");
    lab.exec_sql(
        "h1",
        "create table become_check (id int); insert into become_check values (7)",
    );
    lab.eventually(30, "the row on h2 and h3", || {
        ["h2", "h3"].iter().all(|host| {
            lab.try_sql(host, "select coalesce(sum(id), 0) from become_check")
                .as_deref()
                == Ok("7")
        })
    });
    let second = run(&deploy, &["apply", "--detailed-exitcode"]);
    assert_eq!(second.code, Some(0), "{second}");
    let status = run(&deploy, &["status"]);
    assert_eq!(status.code, Some(0), "{status}");

    // -b on the command line does the same for an inventory that says nothing.
    let bare = inventory(directory.path(), "bare.yaml", "    ansible_user: deploy\n");
    let with_flag = run(&bare, &["apply", "-b", "--detailed-exitcode"]);
    assert_eq!(with_flag.code, Some(0), "{with_flag}");

    // opsadmin: sudo asks for a password, read from the environment through a template.
    let opsadmin = inventory(
        directory.path(),
        "opsadmin.yaml",
        "    ansible_user: opsadmin\n    ansible_become: true\n    ansible_become_password: \"{{ env('LAB_SUDO_PASSWORD') }}\"\n",
    );
    let sudo_password = [("LAB_SUDO_PASSWORD", "lab-sudo-password")];
    let with_password = run_with(&opsadmin, &["apply", "--detailed-exitcode"], &sudo_password);
    assert_eq!(with_password.code, Some(0), "{with_password}");
    assert!(
        !with_password.all().contains("lab-sudo-password"),
        "{with_password}"
    );
    let wrong_password = [("LAB_SUDO_PASSWORD", "not-the-password")];
    let wrong = run_with(&opsadmin, &["apply", "--dry-run"], &wrong_password);
    assert!(wrong.all().contains("incorrect password"), "{wrong}");
    assert!(!wrong.all().contains("not-the-password"), "{wrong}");

    // visitor has no sudo rights but knows root's password: su.
    let su = inventory(
        directory.path(),
        "su.yaml",
        "    ansible_user: visitor\n    ansible_become: true\n    ansible_become_method: su\n    ansible_become_password: \"{{ env('LAB_ROOT_PASSWORD') }}\"\n",
    );
    let root_password = [("LAB_ROOT_PASSWORD", "lab-root-password")];
    let with_su = run_with(&su, &["apply", "--detailed-exitcode"], &root_password);
    assert_eq!(with_su.code, Some(0), "{with_su}");
    let su_status = run_with(&su, &["status"], &root_password);
    assert_eq!(su_status.code, Some(0), "{su_status}");
    let wrong_root_password = [("LAB_ROOT_PASSWORD", "not-roots-password")];
    let su_refused = run_with(&su, &["apply", "--dry-run"], &wrong_root_password);
    assert!(
        su_refused
            .all()
            .contains("cannot become root with su on h1: su: Authentication failure"),
        "{su_refused}"
    );
    assert!(
        !su_refused.all().contains("not-roots-password"),
        "{su_refused}"
    );

    // narrow may run only `true` and `sh` as root with sudo: that is enough.
    let narrow = inventory(
        directory.path(),
        "narrow.yaml",
        "    ansible_user: narrow\n    ansible_become: true\n",
    );
    let with_narrow_rights = run(&narrow, &["apply", "--detailed-exitcode"]);
    assert_eq!(with_narrow_rights.code, Some(0), "{with_narrow_rights}");
    let beyond = std::process::Command::new("ssh")
        .args(["-F", &ssh_config, "-l", "narrow", "h1", "sudo -n id"])
        .output()
        .unwrap_or_else(|error| panic!("ssh: {error}"));
    assert!(!beyond.status.success(), "narrow may run only true and sh");

    // No host saw a root login; each saw the ordinary ones.
    for host in ["h1", "h2", "h3"] {
        let log = lab.sshd_log(host);
        assert!(
            log.contains("Accepted publickey for deploy"),
            "{host}:\n{log}"
        );
        assert!(!log.contains("for root"), "{host} saw a root login:\n{log}");
    }
    for output in [&first, &second, &status, &with_flag, &refused] {
        assert!(
            !output.all().contains(&password),
            "the password leaked:\n{output}"
        );
    }
}

#[test]
fn a_login_that_becomes_root_with_su_converges_a_fresh_lab() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_without_root_login(3);
    let directory = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    let ssh_config = lab.ssh_config().display().to_string();
    let password = format!("pw-su-{}", std::process::id());
    let su = inventory(
        directory.path(),
        "su.yaml",
        "    ansible_user: visitor\n    ansible_become: true\n    ansible_become_method: su\n    ansible_become_password: \"{{ env('LAB_ROOT_PASSWORD') }}\"\n",
    );
    let run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-i", &su, "--ssh-config", &ssh_config]);
        pgconverge_with(
            &all,
            &password,
            &[("LAB_ROOT_PASSWORD", "lab-root-password")],
        )
    };
    let first = run(&["apply"]);
    assert_eq!(first.code, Some(0), "{first}");
    lab.exec_sql(
        "h1",
        "create table su_check (id int); insert into su_check values (9)",
    );
    lab.eventually(30, "the row on h2 and h3", || {
        ["h2", "h3"].iter().all(|host| {
            lab.try_sql(host, "select coalesce(sum(id), 0) from su_check")
                .as_deref()
                == Ok("9")
        })
    });
    let second = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(second.code, Some(0), "{second}");
    for host in ["h1", "h2", "h3"] {
        let log = lab.sshd_log(host);
        assert!(
            log.contains("Accepted publickey for visitor"),
            "{host}:\n{log}"
        );
        assert!(!log.contains("for root"), "{host} saw a root login:\n{log}");
    }
    for output in [&first, &second] {
        assert!(!output.all().contains("lab-root-password"), "{output}");
        assert!(!output.all().contains(&password), "{output}");
    }
}
