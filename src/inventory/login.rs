//! How pgconverge logs in to a host and becomes root there, as Ansible spells it:
//! `ansible_become`, `ansible_become_method`, `ansible_become_user`,
//! `ansible_become_password`, `ansible_ssh_private_key_file`,
//! `ansible_ssh_common_args` and `ansible_ssh_extra_args`. Read once from the
//! host's resolved variables, each problem reported where it is written.

use crate::secret::Sensitive;
use ansible_inventory_reader::report::Problems;
use ansible_inventory_reader::resolve::{Resolved, ResolvedHost};
use serde_json::Value;

/// The `ansible_*` variables pgconverge honours; any other one gets a warning.
pub const HONOURED: &[&str] = &[
    "ansible_host",
    "ansible_port",
    "ansible_user",
    "ansible_ssh_host",
    "ansible_ssh_port",
    "ansible_ssh_user",
    "ansible_group_priority",
    "ansible_become",
    "ansible_become_method",
    "ansible_become_user",
    "ansible_become_password",
    "ansible_ssh_private_key_file",
    "ansible_ssh_common_args",
    "ansible_ssh_extra_args",
    "ansible_connection",
];

/// How a login becomes another user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BecomeMethod {
    Sudo,
    Su,
}

/// Privilege escalation after login.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Become {
    pub method: BecomeMethod,
    /// Who to become (`ansible_become_user`, root by default).
    pub user: String,
    /// For a method that asks for one; sent on standard input, never printed.
    pub password: Option<Sensitive<String>>,
}

impl Become {
    /// Becoming root with sudo, as `-b/--become` asks when the inventory says nothing.
    pub fn root_with_sudo() -> Become {
        Become {
            method: BecomeMethod::Sudo,
            user: "root".to_string(),
            password: None,
        }
    }
}

/// The login of one host beyond its address, port and user.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    /// `ansible_become: true` (or `-b`): scripts run through the escalation.
    pub escalation: Option<Become>,
    /// Whether `ansible_become` is written at all (so `-b` does not override `false`).
    pub become_set: bool,
    pub identity_file: Option<String>,
    /// `ansible_ssh_common_args` then `ansible_ssh_extra_args`, split as a shell would.
    pub ssh_args: Vec<String>,
    /// `ansible_connection: local`: the host is the machine pgconverge runs on.
    pub local: bool,
}

/// Reads one host's login; problems are reported with the variable's place.
pub fn read(host: &str, resolved: &ResolvedHost, problems: &mut Problems) -> Login {
    let refuse = |problems: &mut Problems, found: &Resolved, name: &str, after: String| {
        problems.add_for_host(found.location.clone(), host, format!("`{name}` of "), after);
    };
    let vars = &resolved.vars;
    let text = |name: &str| {
        vars.get(name)
            .and_then(|found| found.value.as_str())
            .map(str::to_string)
    };
    let mut login = Login::default();
    let become_on = match vars.get("ansible_become") {
        None => false,
        Some(found) => {
            login.become_set = true;
            match &found.value {
                Value::Bool(on) => *on,
                Value::String(text)
                    if ["true", "yes", "on", "1"].contains(&text.to_lowercase().as_str()) =>
                {
                    true
                }
                Value::String(text)
                    if ["false", "no", "off", "0"].contains(&text.to_lowercase().as_str()) =>
                {
                    false
                }
                other => {
                    refuse(
                        problems,
                        found,
                        "ansible_become",
                        format!(" must be true or false, not {other}"),
                    );
                    false
                }
            }
        }
    };
    let method = match vars.get("ansible_become_method") {
        None => Some(BecomeMethod::Sudo),
        Some(found) => match found.value.as_str() {
            Some("sudo") => Some(BecomeMethod::Sudo),
            Some("su") => Some(BecomeMethod::Su),
            _ => {
                let after = format!(" must be `sudo` or `su`, not {}", found.value);
                refuse(problems, found, "ansible_become_method", after);
                None
            }
        },
    };
    let user = text("ansible_become_user").unwrap_or_else(|| "root".to_string());
    if let Some(found) = vars.get("ansible_become_user")
        && !super::validate::is_login_name(&user)
    {
        refuse(
            problems,
            found,
            "ansible_become_user",
            format!(" must be a user name, not {user:?}"),
        );
    }
    let password = text("ansible_become_password").map(Sensitive::new);
    // The password is sent to sudo or su as the first line of the script's standard
    // input: past a line break, the rest of it would be run as the script, and a
    // NUL would cut it short. The value itself is a secret and is not shown.
    if let (Some(found), Some(secret)) = (vars.get("ansible_become_password"), &password)
        && secret.expose().contains(['\n', '\r', '\0'])
    {
        refuse(
            problems,
            found,
            "ansible_become_password",
            " holds a line break or NUL, which cannot be sent to sudo or su as one line: give the password on one line".to_string(),
        );
    }
    if let (true, Some(method)) = (become_on, method) {
        login.escalation = Some(Become {
            method,
            user,
            password,
        });
    }
    login.identity_file = text("ansible_ssh_private_key_file");
    if let Some(found) = vars.get("ansible_connection") {
        match found.value.as_str() {
            Some("ssh" | "smart") => {}
            Some("local") => login.local = true,
            _ => refuse(
                problems,
                found,
                "ansible_connection",
                format!(" must be `ssh` or `local`, not {}", found.value),
            ),
        }
    }
    for name in ["ansible_ssh_common_args", "ansible_ssh_extra_args"] {
        let Some(found) = vars.get(name) else {
            continue;
        };
        let Some(args) = found.value.as_str() else {
            refuse(
                problems,
                found,
                name,
                format!(" must be text, not {}", found.value),
            );
            continue;
        };
        match shlex::split(args) {
            Some(words) => login.ssh_args.extend(words),
            None => refuse(problems, found, name, " has an unclosed quote".to_string()),
        }
    }
    login
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::Location;
    use std::path::PathBuf;

    fn host(vars: &[(&str, Value)]) -> ResolvedHost<'static> {
        let mut host = ResolvedHost::default();
        for (line, (name, value)) in vars.iter().enumerate() {
            host.vars.insert(
                name.to_string(),
                Resolved {
                    value: value.clone(),
                    location: Location {
                        file: PathBuf::from("inventory.yml"),
                        line: Some(line + 1),
                        column: Some(3),
                    },
                    node: None,
                },
            );
        }
        host
    }

    #[test]
    fn become_and_ssh_arguments_are_read_as_ansible_writes_them() {
        let mut problems = Problems::default();
        let login = read(
            "db1",
            &host(&[
                ("ansible_become", Value::from("yes")),
                ("ansible_become_password", Value::from("s3cret")),
                (
                    "ansible_ssh_common_args",
                    Value::from("-o ProxyJump=bastion -o 'User Known=x'"),
                ),
            ]),
            &mut problems,
        );
        assert!(problems.is_empty());
        let escalation = login.escalation.expect("become");
        assert_eq!(escalation.method, BecomeMethod::Sudo);
        assert_eq!(escalation.user, "root");
        assert_eq!(
            escalation.password.map(|p| p.expose().clone()).as_deref(),
            Some("s3cret")
        );
        assert_eq!(
            login.ssh_args,
            ["-o", "ProxyJump=bastion", "-o", "User Known=x"]
        );
    }

    #[test]
    fn an_unknown_method_is_reported_where_it_is_written() {
        let mut problems = Problems::default();
        read(
            "db1",
            &host(&[
                ("ansible_become", Value::from(true)),
                ("ansible_become_method", Value::from("pbrun")),
            ]),
            &mut problems,
        );
        let text = problems.into_diagnostics().to_string();
        assert!(
            text.contains(
                "inventory.yml:2:3: `ansible_become_method` of host `db1` must be `sudo`"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_become_password_with_a_line_break_or_nul_is_refused_where_written() {
        for password in ["first\nrm -rf /", "carriage\rreturn", "nul\0byte"] {
            let mut problems = Problems::default();
            read(
                "db1",
                &host(&[
                    ("ansible_become", Value::from(true)),
                    ("ansible_become_password", Value::from(password)),
                ]),
                &mut problems,
            );
            let text = problems.into_diagnostics().to_string();
            assert!(
                text.contains(
                    "inventory.yml:2:3: `ansible_become_password` of host `db1` holds a line break or NUL"
                ),
                "{text}"
            );
            assert!(!text.contains("rm -rf") && !text.contains("byte"), "{text}");
        }
        let mut problems = Problems::default();
        read(
            "db1",
            &host(&[
                ("ansible_become", Value::from(true)),
                (
                    "ansible_become_password",
                    Value::from("one line; with spaces"),
                ),
            ]),
            &mut problems,
        );
        assert!(problems.is_empty());
    }
}
