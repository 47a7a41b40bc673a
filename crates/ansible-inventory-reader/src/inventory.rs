//! Reading an inventory in one call: every stage, from the sources to each
//! host's rendered variables.

use crate::diagnostic::{Diagnostic, Diagnostics, Location};
use crate::files::{self, Scripts};
use crate::layout::{self, GroupTree};
use crate::report::Problems;
use crate::sensitive::Sensitive;
use crate::variables::{self, Variables};
use crate::vault::{self, PasswordSource, Passwords};
use indexmap::IndexMap;
use serde_json::Value;
use std::path::{Path, PathBuf};

/// An inventory read whole: its groups, and each host's variables as a play
/// would see them.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    /// Every group as written, `all` first and `ungrouped` next: its own hosts
    /// and its child groups, in order.
    pub groups: IndexMap<String, GroupTree>,
    /// Every host, in the order hosts first appear, with its variables.
    pub hosts: IndexMap<String, Host>,
    /// Inputs that have no effect (files Ansible passes over, variables files
    /// no host reads) and what an inventory script wrote to its standard error.
    pub warnings: Vec<Diagnostic>,
    /// Every vault plaintext, and every value of a vault-encrypted file.
    pub vault_secrets: Vec<Sensitive<String>>,
    /// Every file read, in order (an inventory script named, not run, when
    /// [`ReadOptions::scripts`] says so).
    pub files: Vec<PathBuf>,
}

/// One host's variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Host {
    /// Every variable by Ansible's precedence, templates rendered, in the order
    /// each name first appears.
    pub vars: IndexMap<String, Variable>,
    /// Variables [`ReadOptions::must_render`] does not ask for that could not
    /// be rendered (a fact, a magic variable of a play): in `vars` as written.
    pub unrendered: Vec<String>,
}

/// A variable's value and where it is written.
#[derive(Debug, Clone, PartialEq)]
pub struct Variable {
    /// The value, its templates rendered.
    pub value: Value,
    /// Where it is written; the first source for `ansible_host` when nothing
    /// sets it, or `(command line)` for an extra variable.
    pub location: Location,
}

/// How to read an inventory.
pub struct ReadOptions<'a> {
    /// The name of the program reading the inventory, as messages give it
    /// (`my-tool runs no inventory plugin`).
    pub program: &'a str,
    /// The vault passwords, by `--vault-id` (`label@file`) or file.
    pub vault_passwords: &'a [PasswordSource],
    /// Whether inventory scripts are run.
    pub scripts: Scripts,
    /// Looks up an environment variable for `env('NAME')`.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// Variables above every inventory value (`--extra-vars`).
    pub extra_vars: &'a [(String, Value)],
    /// The variables that must render, with what they refer to: one that
    /// cannot is an error. Any other that cannot keeps its written value.
    pub must_render: &'a dyn Fn(&str) -> bool,
}

impl<'a> ReadOptions<'a> {
    /// Options for `program`: no vault password, scripts run, the process
    /// environment, no extra variables, and no variable that must render.
    pub fn new(program: &'a str) -> Self {
        ReadOptions {
            program,
            vault_passwords: &[],
            scripts: Scripts::Run,
            env: &|name| std::env::var(name).ok(),
            extra_vars: &[],
            must_render: &|_| false,
        }
    }
}

impl Inventory {
    /// Reads every source in order (a file, a directory, a host list such as
    /// `db1,db2,`, an inventory script), with the `group_vars/` and
    /// `host_vars/` beside each, decrypts its vault values, merges each host's
    /// variables and renders them. Every problem is reported, with its place.
    pub fn read(sources: &[PathBuf], options: &ReadOptions) -> Result<Inventory, Diagnostics> {
        let first = sources.first().map_or(Path::new(""), PathBuf::as_path);
        let passwords =
            Passwords::read(options.vault_passwords, options.program).map_err(|error| {
                let file = match &error {
                    vault::VaultError::PasswordFile { file, .. } => file.clone(),
                    _ => first.to_path_buf(),
                };
                Diagnostics(vec![Diagnostic::new(file, None, None, error.to_string())])
            })?;
        let mut read = files::read(sources, &passwords, options.scripts, options.program);
        let mut problems = Problems::default();
        for diagnostic in read.problems.drain(..) {
            problems.add(diagnostic.location, diagnostic.message);
        }
        if read.incomplete {
            return Err(problems.into_diagnostics());
        }
        let mut secrets = vault::decrypt_all(
            &mut read.documents,
            &mut read.vars_files,
            &passwords,
            &mut problems,
        );
        let layout = layout::read(&read.documents, &read.vars_files, &|_| None, &mut problems);
        let variables = Variables::new(
            &layout,
            &variables::Options {
                defaults: &[],
                defaults_file: first,
                extra_vars: options.extra_vars,
                env: options.env,
                program: options.program,
                reads: options.must_render,
            },
        );
        let mut hosts = IndexMap::new();
        for name in layout.hosts.keys() {
            let resolved = variables
                .host(name)
                .finish(options.must_render, &mut problems);
            secrets.add_encrypted(&resolved, &read.encrypted_documents);
            let vars = resolved
                .vars
                .into_iter()
                .map(|(name, variable)| {
                    let variable = Variable {
                        value: variable.value,
                        location: variable.location,
                    };
                    (name, variable)
                })
                .collect();
            let host = Host {
                vars,
                unrendered: resolved.unrendered,
            };
            hosts.insert(name.clone(), host);
        }
        if !problems.is_empty() {
            return Err(problems.into_diagnostics());
        }
        let mut warnings = read.warnings;
        warnings.extend(problems.take_warnings());
        warnings.extend(layout.unread_vars_files(&read.vars_files));
        Ok(Inventory {
            groups: layout.tree(),
            hosts,
            warnings,
            vault_secrets: secrets.values,
            files: read.files,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    }

    #[test]
    fn an_inventory_reads_with_its_group_vars_in_ansibles_precedence() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let hosts = directory.path().join("hosts.yml");
        write(
            &hosts,
            "all:\n  vars:\n    port: 80\n  children:\n    web:\n      hosts:\n        web1:\n        web2: {port: 8080}\n",
        );
        let group_vars = directory.path().join("group_vars");
        std::fs::create_dir(&group_vars).expect("mkdir");
        write(
            &group_vars.join("web.yml"),
            "port: 81\nurl: \"http://{{ inventory_hostname }}:{{ port }}\"\n",
        );
        write(&group_vars.join("nobody.yml"), "x: 1\n");
        let inventory = Inventory::read(std::slice::from_ref(&hosts), &ReadOptions::new("my-tool"))
            .expect("it reads");
        assert_eq!(inventory.groups["all"].children, ["ungrouped", "web"]);
        assert_eq!(inventory.groups["web"].hosts, ["web1", "web2"]);
        let url = |host: &str| inventory.hosts[host].vars["url"].value.clone();
        // `group_vars` are above the inventory's group vars, below its host vars.
        assert_eq!(url("web1"), json!("http://web1:81"));
        assert_eq!(url("web2"), json!("http://web2:8080"));
        let port = &inventory.hosts["web2"].vars["port"];
        assert_eq!(
            port.location.to_string(),
            format!("{}:8:22", hosts.display())
        );
        let warnings: Vec<String> = inventory.warnings.iter().map(ToString::to_string).collect();
        assert_eq!(
            warnings,
            [format!(
                "{}: the inventory has no group `nobody`, so no host reads these variables",
                group_vars.join("nobody.yml").display()
            )]
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_place() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let hosts = directory.path().join("hosts");
        write(
            &hosts,
            "[web]\nweb1 a=\"{{ b }}\" c=\"{{ undefined_one }}\"\n[db:children]\nmissing\n[bad\n",
        );
        let options = ReadOptions {
            must_render: &|name| name == "a",
            ..ReadOptions::new("my-tool")
        };
        let error =
            Inventory::read(std::slice::from_ref(&hosts), &options).expect_err("it has problems");
        let shown = hosts.display();
        assert_eq!(
            error.to_string(),
            format!(
                "{shown}:2:8: `b` is undefined (used by `a` of host `web1`)\n\
                 {shown}:4:1: `[db:children]` names group `missing`, which no `[missing]` or `[missing:children]` section defines (read as an INI inventory)\n\
                 {shown}:5:1: `[bad` is not a section: write `[group]`, `[group:vars]` or `[group:children]`, with no spaces in the brackets (read as an INI inventory)"
            )
        );
    }

    #[test]
    fn a_variable_nothing_must_render_keeps_its_written_value() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let hosts = directory.path().join("hosts.yml");
        write(
            &hosts,
            "all:\n  hosts:\n    h1:\n      python: \"{{ ansible_playbook_python }}\"\n",
        );
        let inventory = Inventory::read(&[hosts], &ReadOptions::new("my-tool")).expect("it reads");
        let host = &inventory.hosts["h1"];
        assert_eq!(
            host.vars["python"].value,
            json!("{{ ansible_playbook_python }}")
        );
        assert_eq!(host.unrendered, ["python"]);
        assert_eq!(inventory.groups["ungrouped"].hosts, ["h1"]);
    }

    #[test]
    fn vault_values_decrypt_and_are_listed_as_secrets() {
        let directory = tempfile::tempdir().expect("a temporary directory");
        let vault = include_str!("../tests/fixtures/default-1.1.vault");
        let indented: String = vault
            .lines()
            .map(|line| format!("      {line}\n"))
            .collect();
        let hosts = directory.path().join("hosts.yml");
        write(
            &hosts,
            &format!("all:\n  hosts:\n    h1:\n  vars:\n    token: !vault |\n{indented}"),
        );
        let password = directory.path().join("password");
        write(&password, "pgconverge\n");
        let sources = [PasswordSource::from_vault_id(
            &password.display().to_string(),
        )];
        let options = ReadOptions {
            vault_passwords: &sources,
            ..ReadOptions::new("my-tool")
        };
        let inventory = Inventory::read(std::slice::from_ref(&hosts), &options).expect("it reads");
        assert_eq!(
            inventory.hosts["h1"].vars["token"].value,
            json!("the secret")
        );
        let secrets: Vec<&String> = inventory
            .vault_secrets
            .iter()
            .map(Sensitive::expose)
            .collect();
        assert_eq!(secrets, ["the secret"]);
        let refused =
            Inventory::read(&[hosts], &ReadOptions::new("my-tool")).expect_err("no password");
        assert!(
            refused
                .to_string()
                .contains("cannot decrypt `token`: it is encrypted with Ansible Vault and no vault password was given"),
            "{refused}"
        );
    }
}
