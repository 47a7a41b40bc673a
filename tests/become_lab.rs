//! End to end on a lab whose sshd refuses root, with h3 reachable only through
//! h1: pgconverge logs in as an ordinary user, through the bastion for h3
//! (`ansible_ssh_common_args: -o ProxyJump=...`), and becomes root with sudo
//! (`ansible_become`), without a password and with one, or with su; a login
//! without sudo rights is refused before any file changes.

mod support;

use support::{Lab, lab_available, pgconverge, repository};

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
    let run = |inventory: &str, args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["-i", inventory, "--ssh-config", &ssh_config]);
        pgconverge(&all, &password)
    };

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
        ["h2", "h3"]
            .iter()
            .all(|host| lab.exec_sql(host, "select coalesce(sum(id), 0) from become_check") == "7")
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
    // SAFETY: the tests of this file run one at a time in their own process.
    unsafe { std::env::set_var("LAB_SUDO_PASSWORD", "lab-sudo-password") };
    let with_password = run(&opsadmin, &["apply", "--detailed-exitcode"]);
    assert_eq!(with_password.code, Some(0), "{with_password}");
    assert!(
        !with_password.all().contains("lab-sudo-password"),
        "{with_password}"
    );
    unsafe { std::env::set_var("LAB_SUDO_PASSWORD", "not-the-password") };
    let wrong = run(&opsadmin, &["apply", "--dry-run"]);
    assert!(wrong.all().contains("incorrect password"), "{wrong}");
    assert!(!wrong.all().contains("not-the-password"), "{wrong}");

    // visitor has no sudo rights but knows root's password: su.
    let su = inventory(
        directory.path(),
        "su.yaml",
        "    ansible_user: visitor\n    ansible_become: true\n    ansible_become_method: su\n    ansible_become_password: \"{{ env('LAB_ROOT_PASSWORD') }}\"\n",
    );
    unsafe { std::env::set_var("LAB_ROOT_PASSWORD", "lab-root-password") };
    let with_su = run(&su, &["apply", "--detailed-exitcode"]);
    assert_eq!(with_su.code, Some(0), "{with_su}");
    let su_status = run(&su, &["status"]);
    assert_eq!(su_status.code, Some(0), "{su_status}");
    unsafe { std::env::set_var("LAB_ROOT_PASSWORD", "not-roots-password") };
    let su_refused = run(&su, &["apply", "--dry-run"]);
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
