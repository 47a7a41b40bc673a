//! Becoming another user after login: the sudo and su wrappers a script runs
//! through, and what their refusals mean to an operator.

use super::{Escalation, EscalationMethod};

/// Runs the script as `$1` with su. The first line of standard input is the
/// password (empty when none is given), which su reads through PAM from its own
/// standard input; the script reaches the shell on another descriptor, so that
/// nothing PAM reads past the password can be taken from it.
const SU: &str = r#"IFS= read -r password
exec 3<&0
if ! out=$(printf '%s\n' "$password" | su -c true "$1" 2>&1 3<&-); then printf '%s\n' "$out" >&2; exit 97; fi
printf '%s\n' "$password" | su -c 'exec sh -s <&3 3<&-' "$1""#;

/// The exit status the escalation wrappers end with when sudo itself refuses,
/// so a refusal is told from a failing script.
pub(super) const ESCALATION_REFUSED: i32 = 97;

/// Runs the script (standard input) with `sudo -n`: no password is asked.
/// `$1` is the user to become. sudo's answer to a probe decides first, so its
/// refusal is reported as such before any of the script runs.
const SUDO_WITHOUT_PASSWORD: &str = r#"if ! out=$(sudo -n -u "$1" -- true 2>&1 </dev/null); then printf '%s\n' "$out" >&2; exit 97; fi
exec sudo -n -u "$1" -- sh -s"#;

/// The same with a password: the first line of standard input, given to sudo on
/// its standard input (never on a command line) when it asks for one, and the
/// rest is the script. `-k` makes sudo ask every time, so the password line is
/// never left for the script to read.
const SUDO_WITH_PASSWORD: &str = r#"IFS= read -r password
if sudo -n -u "$1" -- true 2>/dev/null </dev/null; then exec sudo -n -u "$1" -- sh -s; fi
if ! out=$(printf '%s\n' "$password" | sudo -S -k -p '' -u "$1" -- true 2>&1); then printf '%s\n' "$out" >&2; exit 97; fi
{ printf '%s\n' "$password"; cat; } | sudo -S -k -p '' -u "$1" -- sh -s"#;

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
