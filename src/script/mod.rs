//! Remote scripts: a body from a checked `.sh` file built into the binary (or
//! several such pieces, joined), after one header of parameters (each quoted
//! here and nowhere else) and the shared library `lib.sh` (running as the
//! PostgreSQL user, psql, one bounded wait loop).

use crate::shell::quote;
use std::fmt::Display;

/// The shared library every script includes.
pub const LIBRARY: &str = include_str!("lib.sh");

/// How long a script waits for PostgreSQL to accept connections after a start.
pub const SERVER_WAIT_SECONDS: u32 = 60;

/// A remote script being put together: a name for messages and tests, its body
/// (the pieces of `.sh` text, in order), and the parameters its body reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    name: &'static str,
    body: Vec<&'static str>,
    parameters: Vec<(&'static str, String)>,
    /// Lists of texts, each quoted (`list`).
    lists: Vec<(&'static str, Vec<String>)>,
    /// Parameters that descriptions leave out: secrets and bulky content.
    hidden: Vec<&'static str>,
    /// The whole script runs as the PostgreSQL OS user (`as_pg_user`).
    as_pg_user: bool,
}

impl Script {
    /// A script with the body of a `.sh` file; `os_user` is who `as_pg` runs as.
    pub fn new(name: &'static str, body: &'static str, os_user: &str) -> Script {
        Script {
            name,
            body: vec![body],
            lists: Vec::new(),
            parameters: vec![
                ("PG_OS_USER", quote(os_user)),
                ("SERVER_WAIT_SECONDS", SERVER_WAIT_SECONDS.to_string()),
            ],
            hidden: Vec::new(),
            as_pg_user: false,
        }
    }

    /// The whole script runs as the PostgreSQL OS user, not as the login (root):
    /// what concerns only PostgreSQL's own files is done by their owner, so a
    /// link that user planted can lead the script nowhere that user could not go.
    pub fn as_pg_user(mut self) -> Script {
        self.as_pg_user = true;
        self
    }

    /// Whether the script runs as the PostgreSQL OS user.
    pub fn runs_as_pg_user(&self) -> bool {
        self.as_pg_user
    }

    /// A script that reaches PostgreSQL over its local socket.
    pub fn for_server(
        name: &'static str,
        body: &'static str,
        settings: &crate::inventory::HostSettings,
    ) -> Script {
        Script::new(name, body, &settings.os_user)
            .text("PG_OS_GROUP", &settings.os_group)
            .text("PG_SOCKET_DIR", &settings.socket_dir)
            .number("PG_PORT", settings.port)
            .number("PG_MAJOR_NUM", settings.pg_version.0)
            .text("PG_BIN_DIR", &settings.bin_dir)
            .text("PG_DATA_DIR", &settings.data_dir)
    }

    /// A text parameter, quoted for the shell.
    pub fn text(mut self, name: &'static str, value: &str) -> Script {
        self.set(name, quote(value));
        self
    }

    /// A text parameter that descriptions leave out (a secret, a file's content).
    pub fn hidden(mut self, name: &'static str, value: &str) -> Script {
        self.set(name, quote(value));
        self.hidden.push(name);
        self
    }

    /// A number or a fixed word of the program (never a user's value).
    pub fn number(mut self, name: &'static str, value: impl Display) -> Script {
        self.set(name, value.to_string());
        self
    }

    /// A list of texts (paths), each quoted: the header defines a function
    /// `NAME` that runs the command it is given with the items as its last
    /// arguments (`NAME command` runs `command ITEM...`), so a piece loops over
    /// them as `"$@"` whatever bytes they hold, a line feed included.
    pub fn list(mut self, name: &'static str, items: &[String]) -> Script {
        let items = items.iter().map(|item| quote(item)).collect();
        match self.lists.iter_mut().find(|(known, _)| *known == name) {
            Some(list) => list.1 = items,
            None => self.lists.push((name, items)),
        }
        self
    }

    /// Another piece of body, run after the ones before: a script made of the
    /// pieces of several `.sh` files (the facts script's families).
    pub fn piece(mut self, body: &'static str) -> Script {
        self.body.push(body);
        self
    }

    /// A yes/no parameter, `yes` or `no`.
    pub fn flag(mut self, name: &'static str, value: bool) -> Script {
        self.set(name, if value { "yes" } else { "no" }.to_string());
        self
    }

    fn set(&mut self, name: &'static str, value: String) {
        match self.parameters.iter_mut().find(|(known, _)| *known == name) {
            Some(parameter) => parameter.1 = value,
            None => self.parameters.push((name, value)),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The script's name and parameters, hidden ones left out: what tests pin.
    pub fn describe(&self) -> String {
        let mut text = format!(
            "{}.sh{}\n",
            self.name,
            if self.as_pg_user {
                " (as the PostgreSQL OS user)"
            } else {
                ""
            }
        );
        for (name, value) in &self.parameters {
            let shown = if self.hidden.contains(name) {
                "(hidden)"
            } else {
                value
            };
            text.push_str(&format!("  {name}={shown}\n"));
        }
        for (name, items) in &self.lists {
            text.push_str(&format!("  {name}: {}\n", items.join(" ")));
        }
        text
    }

    /// The whole script: the header, the library, the body. A script that runs as
    /// the PostgreSQL OS user is that whole text inside a small one that hands it
    /// to `as_pg sh -s` on standard input (never on a command line, where other
    /// users could read its secrets).
    pub fn render(&self) -> String {
        let inner = self.render_with(false);
        if !self.as_pg_user {
            return inner;
        }
        let mut outer = format!(
            "#!/bin/sh\n# pgconverge: {}, run as the PostgreSQL OS user\n",
            self.name
        );
        for (name, value) in &self.parameters {
            if *name == "PG_OS_USER" {
                outer.push_str(&format!("{name}={value}\n"));
            }
        }
        outer.push_str(&format!(
            "# shellcheck disable=SC2016\nPGCONVERGE_SCRIPT={}\n",
            quote(&inner)
        ));
        outer.push_str(LIBRARY);
        outer.push_str("printf '%s' \"$PGCONVERGE_SCRIPT\" | as_pg sh -s\n");
        outer
    }

    /// The script with every parameter's value unknown to a reader, as shellcheck
    /// must see it: given a literal, it would not flag an unquoted expansion of a
    /// value it can see is safe, though the next host's value may not be.
    #[cfg(test)]
    fn render_opaque(&self) -> String {
        self.render_with(true)
    }

    /// The header (every value quoted, or `opaque`: as a variable shellcheck
    /// cannot see), the library, the pieces of the body.
    fn render_with(&self, opaque: bool) -> String {
        let mut text = format!("#!/bin/sh\n# pgconverge: {}\n", self.name);
        for (name, value) in &self.parameters {
            let value = if opaque {
                format!("${{{name}:-}}")
            } else {
                value.clone()
            };
            // Not every script reads every parameter of the server it talks to.
            text.push_str(&format!("# shellcheck disable=SC2034\n{name}={value}\n"));
        }
        for (name, items) in &self.lists {
            let items = if opaque {
                format!(" \"${{{name}:-}}\"")
            } else {
                items.iter().map(|item| format!(" {item}")).collect()
            };
            text.push_str(&format!("{name}() {{ \"$@\"{items}; }}\n"));
        }
        text.push_str(LIBRARY);
        for piece in &self.body {
            text.push_str(piece);
        }
        text
    }
}

/// A script for one host; most operations need one, verification needs two.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostScript {
    /// `None` for the host the step belongs to, or the name of another host.
    pub other_host: Option<String>,
    pub script: Script,
}

impl HostScript {
    pub fn own(script: Script) -> HostScript {
        HostScript {
            other_host: None,
            script,
        }
    }
}

/// Text for a message inside double quotes in a script: shell-special characters
/// are dropped. Only for what a script prints, never for what it acts on.
pub fn plain(text: &str) -> String {
    text.replace(['"', '$', '`', '\\'], "")
}

#[cfg(test)]
pub mod check {
    //! Runs `shellcheck` on rendered scripts; the tests of every script use it.

    use super::Script;
    use std::io::Write;
    use std::process::{Command, Stdio};

    /// shellcheck's findings for the script, or an empty string when it has none.
    /// Fails the test when shellcheck is missing: CI installs it.
    pub fn shellcheck(script: &Script) -> String {
        shellcheck_text(&script.render_opaque())
    }

    /// shellcheck's findings for a script's text.
    pub fn shellcheck_text(text: &str) -> String {
        run_shellcheck(text, "SC2317")
    }

    /// shellcheck's findings for a script as it is sent, every value written
    /// out in its header. SC2016 (an expansion in single quotes) is left out
    /// too: a quoted value that holds shell text (a script within the
    /// script) is meant not to expand.
    pub fn shellcheck_sent(text: &str) -> String {
        run_shellcheck(text, "SC2317,SC2016")
    }

    fn run_shellcheck(text: &str, excluded: &str) -> String {
        // SC2317 (unreachable command) misreads every function that runs only
        // through `wait_until`; everything else, down to style, counts.
        let mut child = Command::new("shellcheck")
            .args(["--shell=sh", "--severity=style"])
            .arg(format!("--exclude={excluded}"))
            .arg("-")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|error| {
                panic!("shellcheck must be installed (tests/requirements-apt.txt): {error}")
            });
        child
            .stdin
            .take()
            .expect("stdin is piped")
            .write_all(text.as_bytes())
            .expect("shellcheck reads the script");
        let output = child.wait_with_output().expect("shellcheck runs");
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    }

    #[test]
    fn shellcheck_finds_a_planted_warning() {
        // The check must be able to fail: an unquoted expansion is a warning.
        let planted = Script::new("planted", "rm -rf $PG_OS_USER/x\n", "postgres");
        assert!(
            shellcheck(&planted).contains("SC2086"),
            "{}",
            shellcheck(&planted)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Whatever a parameter holds, the script reads back exactly that.
        #[test]
        fn a_parameter_reaches_the_script_as_it_is(value in "[ -~\\n\\t'\"\\\\$`é密]{0,24}") {
            let script = Script::new("echo", "printf '%s' \"$VALUE\"\n", "root").text("VALUE", &value);
            let output = Command::new("sh")
                .arg("-c")
                .arg(script.render())
                .output()
                .expect("sh runs");
            proptest::prop_assert_eq!(String::from_utf8_lossy(&output.stdout), value);
        }
    }

    #[test]
    fn the_library_alone_is_clean() {
        let script = Script::new(
            "library",
            "as_pg true\nwait_for_server\nwith_progress true\n",
            "postgres",
        )
        .text("PG_SOCKET_DIR", "/run/postgresql")
        .number("PG_PORT", 5432);
        assert_eq!(shellcheck(&script), "");
    }

    #[test]
    fn with_progress_marks_progress_lines_at_once_and_keeps_the_rest_and_the_exit_code() {
        let command = "with_progress sh -c 'echo \"  1/20 kB (5%), 0/1 tablespace\" >&2; echo said; echo \"could not connect\" >&2; exit 3'\necho \"ended $?\"\n";
        let script = Script::new("progress", command, "root");
        let output = Command::new("sh")
            .arg("-c")
            .arg(script.render())
            .output()
            .expect("sh runs");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            format!(
                "{}  1/20 kB (5%), 0/1 tablespace\n",
                crate::live_status::PROGRESS_MARKER
            )
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "said\ncould not connect\nended 3\n"
        );
    }
}
