//! pgconverge reads inventories as Ansible does: for every fixture under
//! `tests/fixtures/ansible/`, `ansible-inventory --list` (ansible-core 2.19, from
//! the virtualenv `tests/install-ansible.sh` makes) and pgconverge agree on every
//! variable of every host and on every group's hosts and children (`ungrouped`
//! and the order included), and `pgconverge inventory --list` shows the same
//! values with the secrets hidden.
//!
//! A fixture is a directory: `args` lists the `-i` sources, one a line; `flags`
//! holds flags both tools take (`--vault-password-file vault-password`);
//! `pgconverge-flags` flags only pgconverge takes (`--primary-group master`);
//! `left-out` the hosts pgconverge leaves out of a shared inventory.
//!
//! ansible-core is no dependency of pgconverge: it is only the reference here.
//! Without it this test fails, naming the script that installs it.

use assert_cmd::cargo::CommandCargoExt as _;
use pgconverge::inventory::vault::PasswordSource;
use pgconverge::inventory::{GroupNames, Input, Inventory};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

const FIXTURES: &str = "tests/fixtures/ansible";
const FEWEST_FIXTURES: usize = 20;

/// The virtualenv holding ansible-core.
fn ansible_bin(tool: &str) -> PathBuf {
    let venv = std::env::var_os("PGCONVERGE_ANSIBLE_VENV").map_or_else(
        || PathBuf::from("/var/tmp/pgconverge-ansible"),
        PathBuf::from,
    );
    let path = venv.join("bin").join(tool);
    assert!(
        path.is_file(),
        "`{}` is missing: run `tests/install-ansible.sh` (it makes the virtualenv with ansible-core 2.19), or set PGCONVERGE_ANSIBLE_VENV",
        path.display()
    );
    path
}

struct Fixture {
    directory: PathBuf,
    sources: Vec<String>,
    shared_flags: Vec<String>,
    own_flags: Vec<String>,
    left_out: Vec<String>,
    /// Variables whose values are templates: compared as Ansible renders them.
    rendered: Vec<String>,
}

fn words(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_string)
        .collect()
}

fn fixtures() -> Vec<Fixture> {
    let mut directories: Vec<PathBuf> = std::fs::read_dir(FIXTURES)
        .expect("the fixtures directory")
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.join("args").is_file())
        .collect();
    directories.sort();
    directories
        .into_iter()
        .map(|directory| Fixture {
            sources: words(&directory.join("args")),
            shared_flags: words(&directory.join("flags")),
            own_flags: words(&directory.join("pgconverge-flags")),
            left_out: words(&directory.join("left-out")),
            rendered: words(&directory.join("rendered")),
            directory,
        })
        .collect()
}

/// A scratch Ansible home and configuration, so no user setting changes what
/// Ansible reads.
struct AnsibleEnvironment {
    home: tempfile::TempDir,
}

impl AnsibleEnvironment {
    fn new() -> AnsibleEnvironment {
        let home = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(home.path().join("ansible.cfg"), "[defaults]\n").expect("ansible.cfg");
        AnsibleEnvironment { home }
    }

    fn command(&self, tool: &str, directory: &Path) -> Command {
        let mut command = Command::new(ansible_bin(tool));
        command
            .current_dir(directory)
            .env("ANSIBLE_HOME", self.home.path())
            .env("ANSIBLE_CONFIG", self.home.path().join("ansible.cfg"))
            .env("ANSIBLE_LOCAL_TEMP", self.home.path())
            .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
            .env("ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED", "true")
            .env("ANSIBLE_NOCOLOR", "true")
            .env_remove("ANSIBLE_VAULT_PASSWORD_FILE");
        command
    }

    /// `ansible-inventory --list` of the fixture.
    fn list(&self, fixture: &Fixture) -> Value {
        let mut command = self.command("ansible-inventory", &fixture.directory);
        for source in &fixture.sources {
            command.args(["-i", source]);
        }
        command.args(&fixture.shared_flags).arg("--list");
        let output = command.output().expect("ansible-inventory runs");
        assert!(
            output.status.success(),
            "ansible-inventory failed on {}: {}",
            fixture.directory.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        serde_json::from_slice(&output.stdout).expect("ansible-inventory prints JSON")
    }

    /// The values of `names` on every host as Ansible renders them (an ad-hoc
    /// `debug`, which contacts no host), for fixtures whose values are templates.
    fn rendered(&self, fixture: &Fixture, names: &[String]) -> Map<String, Value> {
        let mut command = self.command("ansible", &fixture.directory);
        for source in &fixture.sources {
            command.args(["-i", source]);
        }
        let extra = serde_json::json!({ "pgconverge_names": names }).to_string();
        command
            .args(&fixture.shared_flags)
            .args(["all", "-m", "ansible.builtin.debug", "-a"])
            .arg("msg={{ dict(pgconverge_names | zip(query('vars', *pgconverge_names, default='(undefined)'))) }}")
            .arg("-e")
            .arg(extra)
            .env("ANSIBLE_LOAD_CALLBACK_PLUGINS", "true")
            .env("ANSIBLE_STDOUT_CALLBACK", "oneline")
            .env("ANSIBLE_DEPRECATION_WARNINGS", "false");
        let output = command.output().expect("ansible runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "ansible failed: {stdout}{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
            .lines()
            .filter_map(|line| {
                let (host, result) = line.split_once(" | SUCCESS => ")?;
                let result: Value = serde_json::from_str(result).expect("a JSON result");
                let mut values = result["msg"].as_object().cloned().unwrap_or_default();
                values.retain(|_, value| value != "(undefined)");
                Some((host.to_string(), Value::Object(values)))
            })
            .collect()
    }

    /// A vault value as `ansible-inventory` prints it (`{"__ansible_vault": ...}`),
    /// decrypted with `ansible-vault`.
    fn decrypt(&self, fixture: &Fixture, vault: &str) -> Value {
        let file = tempfile::NamedTempFile::new().expect("a temporary file");
        std::fs::write(file.path(), vault).expect("the vault text");
        let mut command = self.command("ansible-vault", &fixture.directory);
        command
            .arg("decrypt")
            .args(&fixture.shared_flags)
            .arg("--output")
            .arg("-")
            .arg(file.path());
        let output = command.output().expect("ansible-vault runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        Value::from(String::from_utf8(output.stdout).expect("a UTF-8 plaintext"))
    }
}

/// Ansible's values with every vault object decrypted.
fn decrypted(environment: &AnsibleEnvironment, fixture: &Fixture, value: &Value) -> Value {
    match value {
        Value::Object(map) => match map.get("__ansible_vault") {
            Some(Value::String(vault)) if map.len() == 1 => environment.decrypt(fixture, vault),
            _ => Value::Object(
                map.iter()
                    .map(|(key, item)| (key.clone(), decrypted(environment, fixture, item)))
                    .collect(),
            ),
        },
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| decrypted(environment, fixture, item))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn input(fixture: &Fixture) -> Input {
    let mut input = Input {
        sources: fixture
            .sources
            .iter()
            .map(|source| {
                // A host list (`db1,db2,`) is no file.
                if source.contains(',') {
                    PathBuf::from(source)
                } else {
                    fixture.directory.join(source)
                }
            })
            .collect(),
        ..Input::default()
    };
    let mut flags = fixture.shared_flags.iter().chain(&fixture.own_flags);
    let mut groups = GroupNames::default();
    while let Some(flag) = flags.next() {
        let value = flags.next().expect("every flag has a value").clone();
        match flag.as_str() {
            "--vault-password-file" => input.vault_passwords.push(PasswordSource {
                label: None,
                file: fixture.directory.join(value),
            }),
            "--vault-id" => {
                let mut source = PasswordSource::from_vault_id(&value);
                source.file = fixture.directory.join(source.file);
                input.vault_passwords.push(source);
            }
            "--primary-group" => groups.primary = value,
            "--standby-group" => groups.standby = value,
            "--archive-group" => groups.archive = value,
            other => panic!("a flag the test does not know: {other}"),
        }
    }
    input.groups = groups;
    input
}

/// What pgconverge resolved for each host: the variables the inventory writes.
fn resolved(inventory: &Inventory) -> Map<String, Value> {
    inventory
        .hosts
        .iter()
        .map(|(name, host)| {
            let written = &inventory.written[name];
            let vars: Map<String, Value> = written
                .iter()
                .map(|variable| (variable.clone(), host.vars[variable].clone()))
                .collect();
            (name.clone(), Value::Object(vars))
        })
        .collect()
}

/// Each group's own hosts and child groups, in order, as `ansible-inventory
/// --list` prints them: a group with neither is not printed, and `all` prints
/// no hosts.
fn groups_listed(listed: &Value) -> Map<String, Value> {
    let mut groups = listed.as_object().cloned().unwrap_or_default();
    groups.remove("_meta");
    groups
}

/// The same from pgconverge's group tree, every host included (those it
/// leaves out too).
fn groups_of(inventory: &Inventory) -> Map<String, Value> {
    let mut groups = Map::new();
    for (name, tree) in &inventory.tree {
        let mut entry = Map::new();
        if name != "all" && !tree.hosts.is_empty() {
            entry.insert("hosts".to_string(), Value::from(tree.hosts.clone()));
        }
        if !tree.children.is_empty() {
            entry.insert("children".to_string(), Value::from(tree.children.clone()));
        }
        if !entry.is_empty() {
            groups.insert(name.clone(), Value::Object(entry));
        }
    }
    groups
}

/// Every group whose hosts or children differ, `ungrouped` and their order included.
fn group_disagreements(fixture: &Fixture, listed: &Value, inventory: &Inventory) -> Vec<String> {
    let theirs = groups_listed(listed);
    let ours = groups_of(inventory);
    let mut names: Vec<&String> = theirs.keys().chain(ours.keys()).collect();
    names.sort();
    names.dedup();
    names
        .into_iter()
        .filter(|name| theirs.get(*name) != ours.get(*name))
        .map(|name| {
            format!(
                "{}: group `{name}`:\n  ansible-inventory: {}\n  pgconverge:        {}",
                fixture.directory.display(),
                theirs.get(name).unwrap_or(&Value::Null),
                ours.get(name).unwrap_or(&Value::Null)
            )
        })
        .collect()
}

#[test]
fn every_fixture_resolves_as_ansible_inventory_lists_it() {
    let environment = AnsibleEnvironment::new();
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= FEWEST_FIXTURES,
        "only {} fixtures",
        fixtures.len()
    );
    let mut agreed = 0;
    let mut disagreements = Vec::new();
    for fixture in &fixtures {
        let listed = environment.list(fixture);
        let mut ansible_hosts = listed["_meta"]["hostvars"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        // ansible-inventory lists templates as written; Ansible renders them
        // when a task reads them.
        if !fixture.rendered.is_empty() {
            for (host, values) in environment.rendered(fixture, &fixture.rendered) {
                if let (Some(Value::Object(vars)), Value::Object(values)) =
                    (ansible_hosts.get_mut(&host), values)
                {
                    vars.extend(values);
                }
            }
        }
        let inventory = match Inventory::load_input(&input(fixture)) {
            Ok(inventory) => inventory,
            Err(diagnostics) => {
                disagreements.push(format!(
                    "{}: pgconverge refuses it:\n{diagnostics}",
                    fixture.directory.display()
                ));
                continue;
            }
        };
        disagreements.extend(group_disagreements(fixture, &listed, &inventory));
        let ours = resolved(&inventory);
        // Ansible lists no host without variables in `_meta`; such a host is in
        // its groups.
        let mut hosts: Vec<&String> = ansible_hosts.keys().chain(ours.keys()).collect();
        hosts.sort();
        hosts.dedup();
        for host in hosts {
            let theirs = ansible_hosts
                .get(host)
                .map(|vars| decrypted(&environment, fixture, vars))
                .unwrap_or_else(|| Value::Object(Map::new()));
            if fixture.left_out.contains(host) {
                if ours.contains_key(host) || !inventory.left_out.contains(host) {
                    disagreements.push(format!(
                        "{}: host `{host}` should be left out",
                        fixture.directory.display()
                    ));
                }
                continue;
            }
            let mine = ours.get(host).cloned().unwrap_or(Value::Null);
            if mine == theirs {
                agreed += 1;
            } else {
                disagreements.push(format!(
                    "{}: host `{host}`:\n  ansible-inventory: {theirs}\n  pgconverge:        {mine}",
                    fixture.directory.display()
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} hosts agree; these do not:\n{}",
        agreed,
        disagreements.join("\n")
    );
    eprintln!(
        "{} fixtures, {agreed} hosts: every variable agrees with ansible-inventory",
        fixtures.len()
    );
}

/// `pgconverge inventory --list` prints the same values, secrets hidden.
#[test]
fn the_list_command_prints_the_resolved_values_with_secrets_hidden() {
    for fixture in fixtures() {
        let inventory = Inventory::load_input(&input(&fixture))
            .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
        let mut expected = resolved(&inventory);
        for vars in expected.values_mut() {
            if let Value::Object(vars) = vars {
                for (name, value) in vars.iter_mut() {
                    if inventory.sensitive_vars.contains(name) {
                        *value = Value::from("(sensitive)");
                    }
                }
            }
        }
        expected.retain(|_, vars| vars.as_object().is_some_and(|vars| !vars.is_empty()));
        let mut command = Command::cargo_bin("pgconverge").expect("the binary");
        command.current_dir(&fixture.directory).arg("inventory");
        for source in &fixture.sources {
            command.args(["-i", source]);
        }
        command
            .args(&fixture.shared_flags)
            .args(&fixture.own_flags)
            .arg("--list")
            .env_remove("ANSIBLE_VAULT_PASSWORD_FILE");
        let output = command.output().expect("pgconverge runs");
        assert!(
            output.status.success(),
            "{}: {}",
            fixture.directory.display(),
            String::from_utf8_lossy(&output.stderr)
        );
        let printed = String::from_utf8(output.stdout).expect("UTF-8");
        for secret in inventory.secret_values() {
            assert!(
                !printed.contains(&secret),
                "{}: a secret is printed",
                fixture.directory.display()
            );
        }
        let listed: Value = serde_json::from_str(&printed).expect("JSON");
        assert_eq!(
            listed["_meta"]["hostvars"],
            Value::Object(expected),
            "{}",
            fixture.directory.display()
        );
    }
}

/// The JSON `ansible-inventory --list` prints is an inventory pgconverge reads,
/// with the same result as the fixture it was made from.
#[test]
fn ansible_inventory_list_output_reads_the_same() {
    let environment = AnsibleEnvironment::new();
    let scratch = tempfile::tempdir().expect("a temporary directory");
    for fixture in fixtures() {
        let listed = environment.list(&fixture);
        let file = scratch.path().join(format!(
            "{}.json",
            fixture
                .directory
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default()
        ));
        std::fs::write(&file, serde_json::to_string(&listed).expect("JSON")).expect("written");
        let original = input(&fixture);
        let exported = Input {
            sources: vec![file],
            ..original.clone()
        };
        let want = resolved(
            &Inventory::load_input(&original).unwrap_or_else(|diagnostics| panic!("{diagnostics}")),
        );
        let got = Inventory::load_input(&exported)
            .unwrap_or_else(|diagnostics| panic!("{}: {diagnostics}", fixture.directory.display()));
        assert_eq!(resolved(&got), want, "{}", fixture.directory.display());
    }
}

/// Patterns every fixture is tried with, beside each of its own group and host
/// names (alone, excluded, intersected with `all`).
const PATTERNS: [&str; 31] = [
    "all",
    "*",
    "ungrouped",
    "u*",
    "primary",
    "standby",
    "primary,standby",
    "primary:standby",
    "standby:&primary",
    "all:!standby",
    "!primary",
    "&standby",
    "standby:!db2",
    "db*",
    "*1",
    "db?",
    "db[!1]*",
    "~db[12]",
    "~^d",
    "~(stand|prim)",
    // Globs and expressions that match groups and hosts outside them.
    "*i*",
    "*o*",
    "~.*r",
    "10.0.*",
    "db1,db2",
    "db1:db2",
    "db1:5432",
    "nosuch",
    "primary:nosuch",
    "!nosuch",
    "~nosuch",
];

/// The hosts of each pattern as `ansible-playbook --list-hosts` lists them
/// (every pattern a play's `hosts`, which Ansible resolves with the code that
/// resolves `--limit`), and the words it warned that nothing matches.
fn ansible_selections(
    environment: &AnsibleEnvironment,
    fixture: &Fixture,
    patterns: &[String],
) -> (Vec<Vec<String>>, Vec<String>) {
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let playbook = scratch.path().join("limits.yml");
    let plays: String = patterns
        .iter()
        .enumerate()
        .map(|(index, pattern)| {
            format!(
                "- name: limit {index}\n  hosts: {}\n  gather_facts: false\n  tasks: []\n",
                Value::from(pattern.as_str())
            )
        })
        .collect();
    std::fs::write(&playbook, plays).expect("the playbook");
    let mut command = environment.command("ansible-playbook", &fixture.directory);
    for source in &fixture.sources {
        command.args(["-i", source]);
    }
    let output = command
        .args(&fixture.shared_flags)
        .arg(&playbook)
        .arg("--list-hosts")
        .output()
        .expect("ansible-playbook runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ansible-playbook: {stdout}{stderr}"
    );
    let mut selections: Vec<Vec<String>> = vec![Vec::new(); patterns.len()];
    let mut play = None;
    for line in stdout.lines() {
        if let Some(rest) = line.trim_start().strip_prefix("play #") {
            let number: usize = rest
                .split_whitespace()
                .next()
                .and_then(|number| number.parse().ok())
                .expect("a play number");
            play = Some(number - 1);
        } else if line.starts_with("      ")
            && let Some(index) = play
        {
            selections[index].push(line.trim().to_string());
        }
    }
    let unmatched = stdout
        .lines()
        .chain(stderr.lines())
        .filter_map(|line| {
            let (_, word) = line.split_once("Could not match supplied host pattern, ignoring: ")?;
            Some(word.trim().to_string())
        })
        .collect();
    (selections, unmatched)
}

/// `--limit` selects what `ansible --list-hosts` selects on every fixture, for a
/// corpus of patterns; a word Ansible warns matches nothing is pgconverge's
/// error, and only such a word.
#[test]
fn every_limit_selects_what_ansible_selects() {
    use pgconverge::inventory::pattern::{Limit, PatternError};
    let environment = AnsibleEnvironment::new();
    let mut compared = 0;
    let mut disagreements = Vec::new();
    for fixture in fixtures() {
        let inventory = Inventory::load_input(&input(&fixture))
            .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
        let mut patterns: Vec<String> =
            PATTERNS.iter().map(|pattern| pattern.to_string()).collect();
        for group in inventory.tree.keys() {
            patterns.extend([group.clone(), format!("!{group}"), format!("all:&{group}")]);
        }
        let hosts: std::collections::BTreeSet<&String> = inventory
            .tree
            .values()
            .flat_map(|group| &group.hosts)
            .collect();
        patterns.extend(hosts.into_iter().cloned());
        let (selections, unmatched) = ansible_selections(&environment, &fixture, &patterns);
        let mut ours_unmatched = Vec::new();
        for (pattern, theirs) in patterns.iter().zip(selections) {
            compared += 1;
            let place = format!("{}: `{pattern}`", fixture.directory.display());
            match Limit::read(std::slice::from_ref(pattern))
                .and_then(|limit| limit.select(&inventory.tree))
            {
                Ok(mut ours) => {
                    let mut theirs = theirs;
                    ours.sort();
                    theirs.sort();
                    let warned = pattern
                        .split([',', ':'])
                        .map(|word| word.trim_start_matches(['!', '&']))
                        .any(|word| unmatched.iter().any(|known| known == word));
                    if ours != theirs || warned {
                        disagreements.push(format!(
                            "{place}: ansible {theirs:?}{}, pgconverge {ours:?}",
                            if warned { " (with a warning)" } else { "" }
                        ));
                    }
                }
                Err(errors) => {
                    for error in errors.0 {
                        match error {
                            PatternError::NoMatch { word, .. } if unmatched.contains(&word) => {
                                ours_unmatched.push(word);
                            }
                            other => disagreements.push(format!(
                                "{place}: pgconverge refuses it ({other}), ansible selects {theirs:?}"
                            )),
                        }
                    }
                }
            }
        }
        for word in unmatched {
            if !ours_unmatched.contains(&word) {
                disagreements.push(format!(
                    "{}: ansible matches nothing with `{word}`, pgconverge does",
                    fixture.directory.display()
                ));
            }
        }
    }
    assert!(
        disagreements.is_empty(),
        "{} patterns compared; these disagree:\n{}",
        compared,
        disagreements.join("\n")
    );
    eprintln!("{compared} patterns: every selection agrees with ansible --list-hosts");
}

/// `--limit @FILE` reads one pattern a line, as `ansible --limit @FILE` does.
#[test]
fn a_limit_file_selects_what_ansible_selects() {
    use pgconverge::inventory::pattern::Limit;
    let environment = AnsibleEnvironment::new();
    let scratch = tempfile::tempdir().expect("a temporary directory");
    let file = scratch.path().join("limit.txt");
    std::fs::write(&file, "standby\n\n  db1  \n!db2\nungrouped\n&all\n").expect("the file");
    let limit = format!("@{}", file.display());
    for fixture in fixtures() {
        let inventory = Inventory::load_input(&input(&fixture))
            .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
        let Ok(mut ours) = Limit::read(std::slice::from_ref(&limit))
            .and_then(|limit| limit.select(&inventory.tree))
        else {
            // A fixture without these names: the corpus test compares errors.
            continue;
        };
        let mut command = environment.command("ansible", &fixture.directory);
        for source in &fixture.sources {
            command.args(["-i", source]);
        }
        let output = command
            .args(&fixture.shared_flags)
            .args(["all", "--list-hosts", "--limit", &limit])
            .output()
            .expect("ansible runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{stdout}");
        let mut theirs: Vec<String> = stdout
            .lines()
            .filter(|line| line.starts_with("    "))
            .map(|line| line.trim().to_string())
            .collect();
        ours.sort();
        theirs.sort();
        assert_eq!(ours, theirs, "{}", fixture.directory.display());
        return;
    }
    panic!("no fixture has the groups and hosts of the limit file");
}

/// `pgconverge inventory --graph` draws what `ansible-inventory --graph` draws,
/// but for the hosts pgconverge leaves out (which `--list` leaves out too).
#[test]
fn the_graph_is_drawn_as_ansible_inventory_draws_it() {
    let environment = AnsibleEnvironment::new();
    for fixture in fixtures() {
        let inventory = Inventory::load_input(&input(&fixture))
            .unwrap_or_else(|diagnostics| panic!("{diagnostics}"));
        let mut command = environment.command("ansible-inventory", &fixture.directory);
        for source in &fixture.sources {
            command.args(["-i", source]);
        }
        let output = command
            .args(&fixture.shared_flags)
            .arg("--graph")
            .output()
            .expect("ansible-inventory runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let theirs: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .filter(|line| {
                let name = line.rsplit("--").next().unwrap_or_default();
                !inventory.left_out.iter().any(|host| host == name)
            })
            .map(str::to_string)
            .collect();
        let mut command = Command::cargo_bin("pgconverge").expect("the binary");
        command.current_dir(&fixture.directory).arg("inventory");
        for source in &fixture.sources {
            command.args(["-i", source]);
        }
        let output = command
            .args(&fixture.shared_flags)
            .args(&fixture.own_flags)
            .arg("--graph")
            .env_remove("ANSIBLE_VAULT_PASSWORD_FILE")
            .output()
            .expect("pgconverge runs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let ours: Vec<String> = String::from_utf8_lossy(&output.stdout)
            .lines()
            .map(str::to_string)
            .collect();
        assert_eq!(ours, theirs, "{}", fixture.directory.display());
    }
}
