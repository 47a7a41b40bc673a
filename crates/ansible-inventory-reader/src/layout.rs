//! The shape of an inventory: its groups, how they nest, which hosts each one
//! lists, and the variables written at each level. Only the structure is checked
//! here; what the values mean is left to later stages.

use crate::diagnostic::{Diagnostic, Location};
use crate::files::{Owner, VarsFile};
use crate::host_range;
use crate::report::{Problems, location};
use crate::yaml::{Entry, Node, NodeValue, Position};
use indexmap::{IndexMap, IndexSet};
use std::path::{Path, PathBuf};

/// The group every host belongs to.
pub const ALL: &str = "all";

/// The group of the hosts in no group but `all`, as Ansible fills it.
pub const UNGROUPED: &str = "ungrouped";

/// The keys a group may have, as Ansible's YAML inventory defines them.
const GROUP_KEYS: &str = "hosts, vars, children";

/// One file read as an inventory, in the shape of Ansible's YAML inventory
/// (an INI file or `ansible-inventory --list` output is turned into this shape
/// first, keeping its lines and columns).
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// The file, or what names the output of a script (`SCRIPT --list`) or a
    /// host list.
    pub path: PathBuf,
    /// The groups at the top.
    pub root: Node,
}

/// One variable as written, with the file it is written in.
#[derive(Debug, Clone, Copy)]
pub struct Var<'doc> {
    /// The file it is written in.
    pub file: &'doc Path,
    /// The name and the value, with their places.
    pub entry: &'doc Entry,
}

impl Var<'_> {
    /// Where the value is written.
    pub fn value_location(&self) -> Location {
        location(self.file, Some(self.entry.value.position))
    }

    /// Where the name is written.
    pub fn key_location(&self) -> Location {
        location(self.file, Some(self.entry.key_position))
    }
}

/// The variables of one `group_vars/NAME` or `host_vars/NAME` (a file, or every
/// file of the directory `NAME/` in lexical order), beside inventory source
/// number `source`.
#[derive(Debug)]
pub struct AdjacentVars<'doc> {
    /// The number of the source, from 0.
    pub source: usize,
    /// The variables, in file order.
    pub vars: Vec<Var<'doc>>,
}

/// Every group, host and variable of an inventory's documents and variables
/// files, as written.
#[derive(Debug, Default)]
pub struct Layout<'doc> {
    /// Groups in the order they first appear; `all` is always first.
    pub groups: IndexMap<String, Group<'doc>>,
    /// Hosts in the order they first appear.
    pub hosts: IndexMap<String, HostEntry<'doc>>,
    /// Where the first document starts, for problems of the inventory as a whole.
    pub start: Option<Location>,
    /// `group_vars/NAME` beside the inventory sources, by group name.
    pub group_vars_files: IndexMap<String, Vec<AdjacentVars<'doc>>>,
    /// `host_vars/NAME` beside the inventory sources, by host name.
    pub host_vars_files: IndexMap<String, Vec<AdjacentVars<'doc>>>,
    /// Whether the document is not a map of groups at all, which has been
    /// reported; checks of the inventory as a whole then have nothing to say.
    pub unreadable: bool,
}

/// One group, from every place it is written.
#[derive(Debug, Default)]
pub struct Group<'doc> {
    /// Where the group's name is first written; `None` for an `all` the files
    /// leave implicit.
    pub written_at: Option<Location>,
    /// Its child groups, in the order written.
    pub children: Vec<String>,
    /// Hosts listed directly under this group's `hosts`.
    pub hosts: Vec<String>,
    /// Group variables from every place the group is written, in file order.
    pub vars: Vec<Var<'doc>>,
}

/// One host, from every place it is listed.
#[derive(Debug)]
pub struct HostEntry<'doc> {
    /// Where the host's name is first written.
    pub listed_at: Location,
    /// Host variables from every place the host is listed, in file order.
    pub vars: Vec<Var<'doc>>,
    /// The port of a host written `name:port`, which Ansible takes as
    /// `ansible_port`, and where it is written.
    pub port_in_name: Option<(u64, Location)>,
}

/// A group's own hosts and child groups.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GroupTree {
    /// The hosts listed under the group itself, in order.
    pub hosts: Vec<String>,
    /// Its child groups, in order.
    pub children: Vec<String>,
}

/// Reads the groups, hosts and variables of the inventory `documents`, in order,
/// and adds the variables of `vars_files` (`group_vars/`, `host_vars/`),
/// recording every structural problem and reading on past it.
///
/// `refuse_host` says why the application refuses a host name beyond Ansible's
/// own rules (`None`: the name is taken); a refused name is a problem where it
/// is written, and no host.
pub fn read<'doc>(
    documents: &'doc [Document],
    vars_files: &'doc [VarsFile],
    refuse_host: &dyn Fn(&str) -> Option<String>,
    problems: &mut Problems,
) -> Layout<'doc> {
    let mut layout = read_all(documents, refuse_host, problems);
    layout.attach(vars_files, problems);
    layout
}

/// Reads the group structure of several inventory documents, in order, into one
/// layout: a group or host written in several files is one group or host. Then
/// settles it as Ansible's `reconcile_inventory` does once every source is read:
/// each group no other group holds becomes a child of `all`, and `ungrouped`
/// holds exactly the hosts in no group but `all`.
fn read_all<'doc>(
    documents: &'doc [Document],
    refuse_host: &dyn Fn(&str) -> Option<String>,
    problems: &mut Problems,
) -> Layout<'doc> {
    let mut layout = Layout {
        start: documents
            .first()
            .map(|document| location(&document.path, Some(document.root.position))),
        ..Layout::default()
    };
    // Ansible makes both before it reads a source, `ungrouped` the first child
    // of `all`.
    layout.groups.insert(ALL.to_string(), Group::default());
    layout
        .groups
        .insert(UNGROUPED.to_string(), Group::default());
    layout.groups[ALL].children.push(UNGROUPED.to_string());
    for document in documents {
        let mut reader = Reader {
            file: &document.path,
            problems,
            layout,
            refuse_host,
        };
        reader.read_root(&document.root);
        layout = reader.layout;
    }
    layout.adopt_orphans();
    layout.fill_ungrouped();
    layout
}

struct Reader<'doc, 'run> {
    file: &'doc Path,
    problems: &'run mut Problems,
    layout: Layout<'doc>,
    refuse_host: &'run dyn Fn(&str) -> Option<String>,
}

impl<'doc> Reader<'doc, '_> {
    fn problem(&mut self, position: Position, message: String) {
        self.problems
            .add(location(self.file, Some(position)), message);
    }

    fn var(&self, entry: &'doc Entry) -> Var<'doc> {
        Var {
            file: self.file,
            entry,
        }
    }

    fn read_root(&mut self, root: &'doc Node) {
        let entries = match &root.value {
            NodeValue::Mapping(entries) if !entries.is_empty() => entries,
            NodeValue::Null | NodeValue::Mapping(_) => {
                self.layout.unreadable = true;
                let message = "the inventory is empty: write a map with the group `all` at the top";
                return self.problem(root.position, message.to_string());
            }
            _ => {
                self.layout.unreadable = true;
                let message = format!(
                    "the inventory must be a map with the group `all` at the top, not {}",
                    root.kind()
                );
                return self.problem(root.position, message);
            }
        };
        // Other groups at the top level are read as Ansible's YAML plugin reads
        // them: groups of their own, which become children of `all` at the end
        // unless another group holds them (`adopt_orphans`).
        for entry in entries {
            self.read_group(&entry.key, entry);
        }
    }

    fn group_mut(&mut self, name: &str) -> &mut Group<'doc> {
        self.layout.groups.entry(name.to_string()).or_default()
    }

    fn read_group(&mut self, name: &str, entry: &'doc Entry) {
        let written_at = location(self.file, Some(entry.key_position));
        let group = self.group_mut(name);
        group.written_at.get_or_insert(written_at);
        let entries = match &entry.value.value {
            NodeValue::Null => return,
            NodeValue::Mapping(entries) => entries,
            _ => {
                let message = format!(
                    "group `{name}` must be a map with {GROUP_KEYS}, not {}",
                    entry.value.kind()
                );
                return self.problem(entry.value.position, message);
            }
        };
        for part in entries {
            match part.key.as_str() {
                "hosts" => self.read_hosts(name, &part.value),
                "vars" => self.read_vars(name, &part.value),
                "children" => self.read_children(name, &part.value),
                unknown => {
                    let message = format!(
                        "unknown key `{unknown}` in group `{name}` (expected {GROUP_KEYS})"
                    );
                    self.problem(part.key_position, message);
                }
            }
        }
    }

    /// The entries of a map-valued key (`hosts`, `vars`, `children`), where an
    /// empty value means no entries.
    fn entries_of(&mut self, node: &'doc Node, what: String) -> &'doc [Entry] {
        match &node.value {
            NodeValue::Null => &[],
            NodeValue::Mapping(entries) => entries,
            _ => {
                let message = format!("{what} must be a map, not {}", node.kind());
                self.problem(node.position, message);
                &[]
            }
        }
    }

    fn read_hosts(&mut self, group: &str, node: &'doc Node) {
        let what = format!("`hosts` of group `{group}`");
        for entry in self.entries_of(node, what) {
            let vars = match &entry.value.value {
                NodeValue::Null => &[],
                NodeValue::Mapping(vars) => vars.as_slice(),
                _ => {
                    let message = format!(
                        "host `{}` must have a map of variables or nothing, not {}",
                        entry.key,
                        entry.value.kind()
                    );
                    self.problem(entry.value.position, message);
                    &[]
                }
            };
            // `db1:2222` is the host `db1` with `ansible_port` 2222, as Ansible
            // splits it.
            let (pattern, port) = host_range::split_port(&entry.key);
            match host_range::expand(pattern) {
                Ok(names) => {
                    for name in names {
                        if let Some(message) = (self.refuse_host)(&name) {
                            self.problem(entry.key_position, message);
                            continue;
                        }
                        self.add_host(group, name.clone(), entry.key_position, vars);
                        if let Some(port) = port {
                            let written_at = location(self.file, Some(entry.key_position));
                            if let Some(host) = self.layout.hosts.get_mut(&name) {
                                host.port_in_name = Some((port, written_at));
                            }
                        }
                    }
                }
                Err(message) => self.problem(entry.key_position, message),
            }
        }
    }

    fn add_host(&mut self, group: &str, name: String, position: Position, vars: &'doc [Entry]) {
        let hosts = &mut self.group_mut(group).hosts;
        if !hosts.contains(&name) {
            hosts.push(name.clone());
        }
        let vars: Vec<Var<'doc>> = vars.iter().map(|entry| self.var(entry)).collect();
        let listed_at = location(self.file, Some(position));
        let host = self.layout.hosts.entry(name).or_insert_with(|| HostEntry {
            listed_at,
            vars: Vec::new(),
            port_in_name: None,
        });
        host.vars.extend(vars);
    }

    fn read_vars(&mut self, group: &str, node: &'doc Node) {
        let what = format!("`vars` of group `{group}`");
        let vars: Vec<Var<'doc>> = self
            .entries_of(node, what)
            .iter()
            .map(|entry| self.var(entry))
            .collect();
        self.group_mut(group).vars.extend(vars);
    }

    fn read_children(&mut self, parent: &str, node: &'doc Node) {
        let what = format!("`children` of group `{parent}`");
        for entry in self.entries_of(node, what) {
            self.add_child(parent, entry);
        }
    }

    /// Links `entry` as a child group of `parent` and reads it, unless the link
    /// would make a group contain itself.
    fn add_child(&mut self, parent: &str, entry: &'doc Entry) {
        let child = entry.key.as_str();
        // Every group ends up inside `all`, so `all` is a child of none.
        if child == ALL || self.layout.reaches(child, parent) {
            let message = if child == parent {
                format!("group `{child}` lists itself in `children`")
            } else {
                format!(
                    "group `{child}` cannot be a child of `{parent}`, because `{parent}` is already inside `{child}`"
                )
            };
            return self.problem(entry.key_position, message);
        }
        let children = &mut self.group_mut(parent).children;
        if !children.iter().any(|known| known == child) {
            children.push(child.to_string());
        }
        self.read_group(child, entry);
    }
}

impl<'doc> Layout<'doc> {
    /// Adds the variables of `group_vars/` and `host_vars/` files; each must be
    /// a map of variables (an empty file has none).
    fn attach(&mut self, files: &'doc [VarsFile], problems: &mut Problems) {
        for file in files {
            let root = &file.document.root;
            let entries = match &root.value {
                NodeValue::Null => &[][..],
                NodeValue::Mapping(entries) => entries.as_slice(),
                _ => {
                    let message = format!(
                        "a variables file must be a map of variables, not {}",
                        root.kind()
                    );
                    problems.add(location(&file.document.path, Some(root.position)), message);
                    continue;
                }
            };
            let vars = entries
                .iter()
                .map(|entry| Var {
                    file: &file.document.path,
                    entry,
                })
                .collect();
            let adjacent = AdjacentVars {
                source: file.source,
                vars,
            };
            let index = match file.owner {
                Owner::Group => &mut self.group_vars_files,
                Owner::Host => &mut self.host_vars_files,
            };
            index.entry(file.name.clone()).or_default().push(adjacent);
        }
    }

    /// A warning for each `group_vars` or `host_vars` file of `vars_files` whose
    /// group or host the inventory does not have: no host reads it.
    pub fn unread_vars_files(&self, vars_files: &[VarsFile]) -> Vec<Diagnostic> {
        let mut warnings = Vec::new();
        for file in vars_files {
            let (known, what) = match file.owner {
                Owner::Group => (self.groups.contains_key(&file.name), "group"),
                Owner::Host => (self.hosts.contains_key(&file.name), "host"),
            };
            if !known {
                let message = format!(
                    "the inventory has no {what} `{}`, so no host reads these variables",
                    file.name
                );
                warnings.push(Diagnostic::new(&file.document.path, None, None, message));
            }
        }
        warnings
    }

    /// Every group as written: its own hosts and child groups, in order.
    pub fn tree(&self) -> IndexMap<String, GroupTree> {
        self.groups
            .iter()
            .map(|(name, group)| {
                let tree = GroupTree {
                    hosts: group.hosts.clone(),
                    children: group.children.clone(),
                };
                (name.clone(), tree)
            })
            .collect()
    }

    /// Every variable written anywhere: inventory files, then variable files.
    pub fn every_var(&self) -> impl Iterator<Item = &Var<'doc>> {
        let groups = self.groups.values().flat_map(|group| &group.vars);
        let hosts = self.hosts.values().flat_map(|host| &host.vars);
        let files = self
            .group_vars_files
            .values()
            .chain(self.host_vars_files.values())
            .flatten()
            .flat_map(|adjacent| &adjacent.vars);
        groups.chain(hosts).chain(files)
    }
}

impl Layout<'_> {
    /// Makes every group that no other group holds a child of `all`, in the
    /// order the groups were first written, as Ansible does after reading.
    fn adopt_orphans(&mut self) {
        let held: IndexSet<String> = self
            .groups
            .values()
            .flat_map(|group| group.children.iter().cloned())
            .collect();
        let orphans: Vec<String> = self
            .groups
            .keys()
            .filter(|name| *name != ALL && !held.contains(*name))
            .cloned()
            .collect();
        if let Some(all) = self.groups.get_mut(ALL) {
            all.children.extend(orphans);
        }
    }

    /// `ungrouped` as Ansible fills it: the hosts written there that are in no
    /// other group but `all` (in the order written), then every other host in
    /// no group but `all` (in the order hosts first appear). A host written in
    /// `ungrouped` and in another group is in that group only.
    fn fill_ungrouped(&mut self) {
        let in_a_group = |host: &String| {
            self.groups
                .iter()
                .any(|(name, group)| name != ALL && name != UNGROUPED && group.hosts.contains(host))
        };
        let mut ungrouped: Vec<String> = self.groups[UNGROUPED]
            .hosts
            .iter()
            .filter(|host| !in_a_group(host))
            .cloned()
            .collect();
        for host in self.hosts.keys() {
            if !in_a_group(host) && !ungrouped.contains(host) {
                ungrouped.push(host.clone());
            }
        }
        if let Some(group) = self.groups.get_mut(UNGROUPED) {
            group.hosts = ungrouped;
        }
    }

    /// Whether `to` is `from` or one of its descendants.
    fn reaches(&self, from: &str, to: &str) -> bool {
        self.descendants(from).contains(to)
    }

    /// `group` and every group below it.
    fn descendants<'a>(&'a self, group: &'a str) -> IndexSet<&'a str> {
        let mut found = IndexSet::new();
        let mut pending = vec![group];
        while let Some(name) = pending.pop() {
            if found.insert(name)
                && let Some(known) = self.groups.get(name)
            {
                pending.extend(known.children.iter().map(String::as_str));
            }
        }
        found
    }

    /// The depth of every group as Ansible counts it: `all` is 0 and a child is
    /// one deeper than its deepest parent. Deeper groups' variables win.
    pub(crate) fn depths(&self) -> IndexMap<&str, usize> {
        let mut depths: IndexMap<&str, usize> = IndexMap::new();
        depths.insert(ALL, 0);
        // Links never form a loop (see `add_child`), so relaxing every link once
        // per group is enough for the longest path to settle.
        for _ in 0..self.groups.len() {
            for (parent, group) in &self.groups {
                let Some(&parent_depth) = depths.get(parent.as_str()) else {
                    continue;
                };
                for child in &group.children {
                    let depth = depths.entry(child.as_str()).or_insert(0);
                    *depth = (*depth).max(parent_depth + 1);
                }
            }
        }
        depths
    }

    /// Every group with its hosts, those of its descendants included, in the
    /// order hosts first appear in the file.
    pub(crate) fn members(&self) -> IndexMap<String, Vec<String>> {
        self.groups
            .keys()
            .map(|group| {
                let descendants = self.descendants(group);
                let hosts = self
                    .hosts
                    .keys()
                    .filter(|host| {
                        descendants.iter().any(|name| {
                            self.groups
                                .get(*name)
                                .is_some_and(|known| known.hosts.contains(host))
                        })
                    })
                    .cloned()
                    .collect();
                (group.clone(), hosts)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn read_text(text: &str) -> (String, Vec<String>) {
        let document = Document {
            path: "inventory.yml".into(),
            root: yaml::parse(text).expect("the test YAML parses"),
        };
        let mut problems = Problems::default();
        let documents = [document];
        let layout = read(&documents, &[], &|_| None, &mut problems);
        let depths = layout.depths();
        let mut lines = Vec::new();
        for (name, hosts) in layout.members() {
            let depth = depths.get(name.as_str()).copied().unwrap_or(usize::MAX);
            let group = &layout.groups[&name];
            let vars: Vec<&str> = group
                .vars
                .iter()
                .map(|var| var.entry.key.as_str())
                .collect();
            lines.push(format!(
                "{name} depth={depth} hosts={hosts:?} vars={vars:?}"
            ));
        }
        for (name, host) in &layout.hosts {
            let vars: Vec<&str> = host.vars.iter().map(|var| var.entry.key.as_str()).collect();
            lines.push(format!("host {name} vars={vars:?}"));
        }
        let problems = problems.into_diagnostics().0;
        (
            lines.join("\n"),
            problems.iter().map(ToString::to_string).collect(),
        )
    }

    fn check(text: &str, expected: &str) {
        let (layout, problems) = read_text(text);
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(layout, expected.trim());
    }

    fn check_problems(text: &str, expected: &[&str]) {
        let (_, problems) = read_text(text);
        assert_eq!(problems, expected);
    }

    #[test]
    fn nested_groups_flatten_and_count_depth() {
        check(
            "
all:
  vars: {a: 1}
  children:
    standby:
      hosts:
        db2:
      children:
        remote:
          hosts:
            db3: {x: 1}
    primary:
      hosts:
        db1: {y: 2}
",
            r#"
all depth=0 hosts=["db2", "db3", "db1"] vars=["a"]
ungrouped depth=1 hosts=[] vars=[]
standby depth=1 hosts=["db2", "db3"] vars=[]
remote depth=2 hosts=["db3"] vars=[]
primary depth=1 hosts=["db1"] vars=[]
host db2 vars=[]
host db3 vars=["x"]
host db1 vars=["y"]
"#,
        );
    }

    #[test]
    fn top_level_groups_are_children_of_all() {
        check(
            "primary:\n  hosts:\n    db1:\n",
            r#"
all depth=0 hosts=["db1"] vars=[]
ungrouped depth=1 hosts=[] vars=[]
primary depth=1 hosts=["db1"] vars=[]
host db1 vars=[]
"#,
        );
    }

    #[test]
    fn a_group_written_twice_merges_and_takes_its_deepest_depth() {
        // A group name means one group wherever it is written, as in Ansible,
        // so `a` holds `h2` through its child `b`.
        check(
            "
all:
  children:
    a:
      children:
        b:
          hosts: {h1: {p: 1}}
    b:
      vars: {v: 1}
      hosts: {h1: {q: 2}, h2: }
",
            r#"
all depth=0 hosts=["h1", "h2"] vars=[]
ungrouped depth=1 hosts=[] vars=[]
a depth=1 hosts=["h1", "h2"] vars=[]
b depth=2 hosts=["h1", "h2"] vars=["v"]
host h1 vars=["p", "q"]
host h2 vars=[]
"#,
        );
    }

    #[test]
    fn host_ranges_expand_into_hosts_sharing_their_vars() {
        check(
            "primary:\n  hosts:\n    db[1:2]: {a: 1}\n",
            r#"
all depth=0 hosts=["db1", "db2"] vars=[]
ungrouped depth=1 hosts=[] vars=[]
primary depth=1 hosts=["db1", "db2"] vars=[]
host db1 vars=["a"]
host db2 vars=["a"]
"#,
        );
        check_problems(
            "primary:\n  hosts:\n    db[x:1]:\n",
            &[
                "inventory.yml:3:5: host range `[x:1]` must count numbers (`[1:3]`) or single letters (`[a:c]`)",
            ],
        );
    }

    #[test]
    fn unknown_group_keys_and_wrong_shapes_are_all_reported() {
        check_problems(
            "
all:
  hostz: {}
  children:
    primary:
      hosts: [db1]
    standby:
      vars: 3
      hosts:
        db2: 5
    other: text
",
            &[
                "inventory.yml:3:3: unknown key `hostz` in group `all` (expected hosts, vars, children)",
                "inventory.yml:6:14: `hosts` of group `primary` must be a map, not a list",
                "inventory.yml:8:13: `vars` of group `standby` must be a map, not a number",
                "inventory.yml:10:14: host `db2` must have a map of variables or nothing, not a number",
                "inventory.yml:11:12: group `other` must be a map with hosts, vars, children, not a string",
            ],
        );
    }

    #[test]
    fn groups_that_contain_each_other_are_refused() {
        check_problems(
            "
all:
  children:
    a:
      children:
        a:
        b:
    b:
      children:
        a:
        all:
",
            &[
                "inventory.yml:6:9: group `a` lists itself in `children`",
                "inventory.yml:10:9: group `a` cannot be a child of `b`, because `b` is already inside `a`",
                "inventory.yml:11:9: group `all` cannot be a child of `b`, because `b` is already inside `all`",
            ],
        );
    }

    #[test]
    fn an_empty_or_scalar_inventory_is_refused() {
        check_problems(
            "",
            &[
                "inventory.yml:1:1: the inventory is empty: write a map with the group `all` at the top",
            ],
        );
        check_problems(
            "- db1\n",
            &[
                "inventory.yml:1:1: the inventory must be a map with the group `all` at the top, not a list",
            ],
        );
    }
}
