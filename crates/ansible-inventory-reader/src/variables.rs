//! Every host's variables as a play sees them: merged in Ansible's precedence
//! (`merge.rs`), with the magic variables Ansible gives every host
//! (`inventory_hostname`, `group_names`, `groups`, and `hostvars` where a
//! template mentions it), rendered on demand (`resolve.rs`).

use crate::layout::{ALL, Layout, UNGROUPED};
use crate::merge::Sources;
use crate::report::Problems;
use crate::resolve::{HostResolver, Renderer};
use crate::yaml::{Entry, Node, NodeValue};
use indexmap::IndexMap;
use serde_json::{Map, Value};
use std::path::Path;

/// What the variables are made of besides the inventory, and how they render.
pub struct Options<'a, 'doc> {
    /// Variables below every inventory value (as a role's defaults), as written
    /// in the document `defaults_file`, whose templates render as the
    /// inventory's do.
    pub defaults: &'doc [Entry],
    /// The file the defaults are said to be written in, in messages; also
    /// where `ansible_host` is said to come from when nothing sets it (the
    /// inventory name, as Ansible connects to it).
    pub defaults_file: &'a Path,
    /// Variables above every inventory value (Ansible's `--extra-vars`), used as
    /// given, never rendered.
    pub extra_vars: &'a [(String, Value)],
    /// Looks up an environment variable for `env('NAME')` and
    /// `lookup('env', 'NAME')`.
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// The name of the program reading the inventory, as messages give it.
    pub program: &'a str,
    /// Whether the application reads a variable: those it reads, and what they
    /// refer to, must render (see [`HostResolver::finish`]).
    pub reads: &'a dyn Fn(&str) -> bool,
}

/// The variables of every host of one inventory, each host's rendered on
/// demand by a [`HostResolver`].
pub struct Variables<'a, 'doc> {
    layout: &'a Layout<'doc>,
    sources: Sources<'a, 'doc>,
    renderer: Renderer<'doc, 'a>,
    members: IndexMap<String, Vec<String>>,
    /// `hostvars`, made once when a template mentions it.
    hostvars: Option<Value>,
}

impl<'a, 'doc> Variables<'a, 'doc> {
    /// The variables of every host of `layout`.
    pub fn new(layout: &'a Layout<'doc>, options: &Options<'a, 'doc>) -> Self {
        let sources = Sources::new(layout, options.defaults, options.defaults_file)
            .with_extra_vars(options.extra_vars);
        let renderer = Renderer::new(options.env, options.program);
        let members = layout.members();
        let mut variables = Variables {
            layout,
            sources,
            renderer,
            members,
            hostvars: None,
        };
        variables.hostvars = variables.hostvars(options.reads);
        variables
    }

    /// Every group with its hosts, those of its descendants included, in the
    /// order hosts first appear.
    pub fn members(&self) -> &IndexMap<String, Vec<String>> {
        &self.members
    }

    /// The variables of `host`, to look up one by one, add defaults to, and
    /// render whole.
    pub fn host(&self, host: &str) -> HostResolver<'_, 'doc, 'a> {
        let groups = groups_of(host, &self.members);
        let raw = self.sources.merge(host, &groups);
        let mut magic = magic_variables(host, &groups, &self.members);
        if let Some(hostvars) = &self.hostvars {
            magic.insert("hostvars".to_string(), hostvars.clone());
        }
        HostResolver::new(&self.renderer, host, raw, magic)
    }

    /// `hostvars` for the templates that use it: every host's variables, rendered
    /// once without `hostvars`, so a template may read another host's value that
    /// does not itself read `hostvars`. `None` when no template mentions it.
    fn hostvars(&self, reads: &dyn Fn(&str) -> bool) -> Option<Value> {
        let mentioned = self
            .layout
            .every_var()
            .any(|var| mentions(&var.entry.value, "hostvars"));
        if !mentioned {
            return None;
        }
        // Problems of this first rendering are found again by the real one.
        let mut ignored = Problems::default();
        let mut hostvars = Map::new();
        for host in self.layout.hosts.keys() {
            let groups = groups_of(host, &self.members);
            let raw = self.sources.merge(host, &groups);
            let magic = magic_variables(host, &groups, &self.members);
            let resolved = HostResolver::new(&self.renderer, host, raw, magic.clone())
                .finish(reads, &mut ignored);
            let mut vars: Map<String, Value> = resolved
                .vars
                .into_iter()
                .map(|(name, variable)| (name, variable.value))
                .collect();
            vars.extend(magic.into_iter().filter(|(name, _)| name != "groups"));
            hostvars.insert(host.clone(), Value::Object(vars));
        }
        Some(Value::Object(hostvars))
    }
}

/// Whether `host` is in `group`, directly or through its children.
pub fn is_member(host: &str, group: &str, members: &IndexMap<String, Vec<String>>) -> bool {
    members
        .get(group)
        .is_some_and(|hosts| hosts.iter().any(|known| known == host))
}

/// The groups `host` belongs to, directly or through children, in file order.
fn groups_of<'m>(host: &str, members: &'m IndexMap<String, Vec<String>>) -> Vec<&'m str> {
    members
        .keys()
        .filter(|group| is_member(host, group, members))
        .map(String::as_str)
        .collect()
}

/// Whether a written value's text holds `word` anywhere.
fn mentions(node: &Node, word: &str) -> bool {
    match &node.value {
        NodeValue::String(text) => text.contains(word),
        NodeValue::Sequence(items) => items.iter().any(|item| mentions(item, word)),
        NodeValue::Mapping(entries) => entries.iter().any(|entry| mentions(&entry.value, word)),
        _ => false,
    }
}

/// The variables Ansible defines for every host, which templates may use.
fn magic_variables(
    host: &str,
    groups: &[&str],
    members: &IndexMap<String, Vec<String>>,
) -> Map<String, Value> {
    // Ansible lists `group_names` sorted, and without `all`.
    let mut group_names: Vec<&str> = groups
        .iter()
        .copied()
        .filter(|group| *group != ALL && *group != UNGROUPED)
        .collect();
    // A host in no group is in `ungrouped`, and only then.
    if group_names.is_empty() {
        group_names.push(UNGROUPED);
    }
    group_names.sort_unstable();
    let mut magic = Map::new();
    magic.insert("inventory_hostname".to_string(), Value::from(host));
    magic.insert("group_names".to_string(), Value::from(group_names));
    let groups: Map<String, Value> = members
        .iter()
        .map(|(group, hosts)| (group.clone(), Value::from(hosts.clone())))
        .collect();
    magic.insert("groups".to_string(), Value::Object(groups));
    magic
}
