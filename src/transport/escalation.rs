//! Becoming another user after login: the sudo and su wrappers a script runs
//! through, and what their refusals mean to an operator.

use super::{Escalation, EscalationMethod};

/// Runs the script as `$1` with su, the password on the first line of standard
/// input (`become_su.sh`).
const SU: &str = include_str!("become_su.sh");

/// The exit status the escalation wrappers end with when sudo or su itself
/// refuses, so a refusal is told from a failing script.
pub(super) const ESCALATION_REFUSED: i32 = 97;

/// Runs the script (standard input) as `$1` with `sudo -n`: no password is
/// asked (`become_sudo.sh`).
const SUDO_WITHOUT_PASSWORD: &str = include_str!("become_sudo.sh");

/// The same with a password, on the first line of standard input
/// (`become_sudo_password.sh`).
const SUDO_WITH_PASSWORD: &str = include_str!("become_sudo_password.sh");

/// The arguments of `sh` and the standard input that run `script` as the
/// escalation says (or as the login, without one).
pub(super) fn invocation<'a>(
    escalation: Option<&'a Escalation>,
    script: &str,
) -> (Vec<&'a str>, Vec<u8>) {
    let mut arguments: Vec<&str> = Vec::new();
    let mut input = Vec::new();
    match escalation {
        None => arguments.push("-s"),
        Some(escalation) => {
            let password = escalation
                .password
                .as_ref()
                .map(|password| password.expose().as_str());
            let wrapper = match (escalation.method, password) {
                (EscalationMethod::Sudo, None) => SUDO_WITHOUT_PASSWORD,
                (EscalationMethod::Sudo, Some(_)) => SUDO_WITH_PASSWORD,
                (EscalationMethod::Su, _) => SU,
            };
            // su always reads a password line, empty when none is given.
            if password.is_some() || escalation.method == EscalationMethod::Su {
                input.extend_from_slice(password.unwrap_or_default().as_bytes());
                input.push(b'\n');
            }
            arguments.extend(["-c", wrapper, "pgconverge-become", &escalation.user]);
        }
    }
    input.extend_from_slice(script.as_bytes());
    (arguments, input)
}

/// What sudo or su said, in the words an operator acts on.
pub(super) fn reason(stderr: &str) -> String {
    // su prompts on standard error even when the password comes on standard input.
    let said = stderr.trim().trim_start_matches("Password:").trim();
    if said.contains("a password is required") {
        format!("{said} (set `ansible_become_password`, or give the login NOPASSWD rights)")
    } else if said.contains("incorrect password") || said.contains("Sorry, try again") {
        format!("{said} (sudo refused `ansible_become_password`)")
    } else if said.contains("Authentication failure") {
        format!("{said} (su refused `ansible_become_password`, or it is not set)")
    } else if said.contains("not in the sudoers file") || said.contains("is not allowed to") {
        format!("{said} (the login has no sudo rights for this)")
    } else if said.is_empty() {
        "the escalation was refused without a reason".to_string()
    } else {
        said.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The wrappers are shell that every escalated script runs through:
    /// shellchecked like the scripts themselves, and each ends with
    /// `ESCALATION_REFUSED` when sudo or su refuses.
    #[test]
    fn the_wrappers_pass_shellcheck_and_say_a_refusal_with_its_status() {
        for wrapper in [SU, SUDO_WITHOUT_PASSWORD, SUDO_WITH_PASSWORD] {
            let text = format!("#!/bin/sh\n{wrapper}");
            assert_eq!(
                crate::script::check::shellcheck_text(&text),
                "",
                "{wrapper}"
            );
            assert!(
                wrapper.contains(&format!("exit {ESCALATION_REFUSED};")),
                "{wrapper}"
            );
        }
    }
}
