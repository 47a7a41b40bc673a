//! Rendering variable values as minijinja templates, one host at a time.
//!
//! Every string that contains `{{` or `{%` is a template, in lists and maps too.
//! It sees the host's other variables, `inventory_hostname`, `group_names`,
//! `groups`, and the function `env('NAME')` (or `env('NAME', 'default')`);
//! Ansible's spelling, `lookup('env', 'NAME')`, works too, so that existing
//! inventories load unchanged.
//! Variables are rendered in dependency order, found with
//! `Template::undeclared_variables`, so they may be written in any order; a
//! cycle is reported with the variables in it. Undefined values are errors
//! (`UndefinedBehavior::Strict`) that name what is undefined.
//!
//! As in Ansible 2.19, a template that is one expression and nothing else
//! (`"{{ http_port + 1 }}"`) keeps the expression's type: a number, a boolean, a
//! list or a map; a template with text around its expressions is a string. A
//! value that is not a template keeps its YAML type. Ansible's common filters
//! (`filters.rs`) and Python's string methods are there.

use crate::diagnostic::Location;
use crate::merge::{RawValue, RawVariable, RawVariables};
use crate::report::{Problems, location};
use crate::yaml::{Node, NodeValue, Position};
use indexmap::IndexMap;
use minijinja::value::Kwargs;
use minijinja::{Environment, ErrorKind, Template, UndefinedBehavior};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

/// A variable with its rendered value.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved<'doc> {
    /// The value, its templates rendered (as written, for a variable of
    /// [`ResolvedHost::unrendered`]).
    pub value: Value,
    /// Where the value is written, or the defaults file for computed values.
    pub location: Location,
    /// The written value, for checks that point inside it; `None` when computed.
    pub node: Option<&'doc Node>,
}

/// The outcome of rendering one variable.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup<'doc> {
    /// No source sets it.
    Unset,
    /// It could not be rendered, which has been reported.
    Failed,
    /// Its value, rendered, and its place.
    Found(Resolved<'doc>),
}

/// One host's variables, rendered.
#[derive(Debug, Default)]
pub struct ResolvedHost<'doc> {
    /// Every variable, in merge order.
    pub vars: IndexMap<String, Resolved<'doc>>,
    /// Variables that could not be rendered. Each failure has been reported
    /// already, so later checks skip these rather than report them again.
    pub failed: HashSet<String>,
    /// Variables nothing the application reads needs that could not be
    /// rendered: in `vars` as written, never given to a template.
    pub unrendered: Vec<String>,
}

/// Environment variables read through the injected lookup.
///
/// minijinja functions must be `'static`, and the lookup is a borrowed closure,
/// so `env()` cannot call it. Instead `env()` answers from these values and,
/// for a name not read yet, records it and fails; the renderer then reads the
/// name and renders again. Rendering has no side effects, so the retry is safe,
/// and each retry learns one more name, so it ends.
#[derive(Debug, Default)]
struct EnvironmentVariables {
    /// Names already read; `None` means unset.
    known: HashMap<String, Option<String>>,
    /// A name `env()` needed that is not in `known` yet.
    pending: Option<String>,
    /// A name `env()` needed that is unset, with no default given.
    unset: Option<String>,
}

fn lock(variables: &Mutex<EnvironmentVariables>) -> MutexGuard<'_, EnvironmentVariables> {
    // A panic while holding the lock cannot leave the values half-written, so a
    // poisoned lock is still safe to use.
    variables.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Why a template could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Failure {
    Undefined(String),
    UnsetEnvironmentVariable(String),
    Syntax(String),
    Other(String),
}

/// The template engine shared by every host of one inventory.
pub(crate) struct Renderer<'doc, 'env> {
    templates: Environment<'doc>,
    environment_variables: Arc<Mutex<EnvironmentVariables>>,
    lookup: &'env dyn Fn(&str) -> Option<String>,
    /// The program reading the inventory, as messages name it.
    program: String,
}

impl<'doc, 'env> Renderer<'doc, 'env> {
    /// A renderer whose `env()` reads environment variables through `lookup`,
    /// and whose messages name `program` as what reads the inventory.
    pub(crate) fn new(lookup: &'env dyn Fn(&str) -> Option<String>, program: &str) -> Self {
        let environment_variables = Arc::new(Mutex::new(EnvironmentVariables::default()));
        let mut templates = Environment::new();
        templates.set_undefined_behavior(UndefinedBehavior::Strict);
        minijinja_contrib::add_to_environment(&mut templates);
        templates.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        crate::filters::add(&mut templates);
        // A YAML block scalar ends with a newline that belongs to the value.
        if let Ok(syntax) = minijinja::syntax::SyntaxConfig::builder()
            .keep_trailing_newline(true)
            .build()
        {
            templates.set_syntax(syntax);
        }
        let shared = Arc::clone(&environment_variables);
        templates.add_function("env", move |name: &str, default: Option<String>| {
            read_environment_variable(&shared, name, default)
        });
        let shared = Arc::clone(&environment_variables);
        templates.add_function("lookup", move |kind: &str, name: &str, options: Kwargs| {
            if kind != "env" {
                let message =
                    format!("lookup `{kind}` is not supported; only `lookup('env', 'NAME')` is");
                return Err(minijinja::Error::new(ErrorKind::InvalidOperation, message));
            }
            let default = options.get::<Option<String>>("default")?;
            options.assert_all_used()?;
            read_environment_variable(&shared, name, default)
        });
        Renderer {
            templates,
            environment_variables,
            lookup,
            program: program.to_string(),
        }
    }

    /// Renders one template, reading environment variables as `env()` asks.
    fn render(&self, source: &str, context: &Map<String, Value>) -> Result<String, Failure> {
        let context = minijinja::Value::from(minijinja::value::Serde(context));
        loop {
            // Requests left by an earlier template must not be taken for this
            // one's.
            {
                let mut variables = lock(&self.environment_variables);
                variables.pending = None;
                variables.unset = None;
            }
            let error = match self.templates.render_str(source, &context) {
                Ok(text) => return Ok(text),
                Err(error) => error,
            };
            let (pending, unset) = {
                let mut variables = lock(&self.environment_variables);
                (variables.pending.take(), variables.unset.take())
            };
            if let Some(name) = pending {
                let value = (self.lookup)(&name);
                lock(&self.environment_variables).known.insert(name, value);
            } else if let Some(name) = unset {
                return Err(Failure::UnsetEnvironmentVariable(name));
            } else if error.kind() == ErrorKind::SyntaxError {
                let detail = error
                    .detail()
                    .map_or_else(|| error.to_string(), str::to_string);
                return Err(Failure::Syntax(detail));
            } else if error.kind() == ErrorKind::UndefinedError {
                let detail = error.detail().unwrap_or("a value is undefined");
                return Err(Failure::Undefined(detail.to_string()));
            } else {
                // The error's own text ends with `(in <string>:1)`, a template
                // name the user never wrote, so it is rebuilt without it.
                let kind = error.kind();
                let text = error
                    .detail()
                    .map_or_else(|| kind.to_string(), |detail| format!("{kind}: {detail}"));
                return Err(Failure::Other(text));
            }
        }
    }

    /// Renders a one-expression template to the expression's value.
    fn render_native(
        &self,
        source: &'doc str,
        context: &Map<String, Value>,
    ) -> Result<Value, Failure> {
        let expression = single_expression(source).unwrap_or(source);
        // The template itself is rendered first, so a syntax error or an
        // undefined name reads as the user wrote it (`tojson` would take an
        // undefined value for null).
        self.compile(source)?;
        self.render(source, context)?;
        let wrapped = format!("{{{{ ({expression}) | tojson }}}}");
        let json = self.render(&wrapped, context)?;
        serde_json::from_str(&json)
            .map_err(|error| Failure::Other(format!("cannot read the value: {error}")))
    }

    fn compile(&self, source: &'doc str) -> Result<Template<'_, 'doc>, Failure> {
        self.templates.template_from_str(source).map_err(|error| {
            let detail = error
                .detail()
                .map_or_else(|| error.to_string(), str::to_string);
            Failure::Syntax(detail)
        })
    }

    /// An undefined value named by what is undefined: minijinja's detail names
    /// the failing expression, which may be larger than the name (or absent), so
    /// the names the failing template uses that the context lacks are named
    /// instead, each with why the program cannot know it when it is Ansible's.
    fn name_undefined(
        &self,
        node: &'doc Node,
        position: Position,
        failure: Failure,
        context: &Map<String, Value>,
    ) -> Failure {
        let Failure::Undefined(detail) = failure else {
            return failure;
        };
        let source = templates_in(node)
            .into_iter()
            .find(|(place, _)| *place == position)
            .map(|(_, source)| source);
        let Some(template) = source.and_then(|source| self.compile(source).ok()) else {
            return Failure::Undefined(detail);
        };
        let globals: Vec<&str> = self.templates.globals().map(|(name, _)| name).collect();
        let mut missing: Vec<String> = template
            .undeclared_variables(false)
            .into_iter()
            .filter(|name| !context.contains_key(name) && !globals.contains(&name.as_str()))
            .collect();
        missing.sort();
        // minijinja's detail reads "`EXPRESSION` is undefined": the names in that
        // expression are those that failed (others may be guarded by `default`).
        let expression = detail
            .strip_prefix('`')
            .and_then(|rest| rest.split_once("` is undefined"))
            .map(|(expression, _)| expression);
        if let Some(expression) = expression {
            missing.retain(|name| mentions_name(expression, name));
        }
        let quoted: Vec<String> = missing.iter().map(|name| format!("`{name}`")).collect();
        let mut text = match quoted.as_slice() {
            [] => detail,
            [one] => format!("{one} is undefined"),
            [init @ .., last] => format!("{} and {last} are undefined", init.join(", ")),
        };
        let ansibles: Vec<String> = missing
            .iter()
            .filter(|name| is_ansible_runtime_variable(name))
            .map(|name| format!("`{name}`"))
            .collect();
        if !ansibles.is_empty() {
            let (is, word) = match ansibles.len() {
                1 => ("is", "a fact or a magic variable"),
                _ => ("are", "facts or magic variables"),
            };
            text.push_str(&format!(
                ": {} {is} set by Ansible while a play runs ({word}), which {}, reading only the inventory, cannot know; write the value instead",
                ansibles.join(" and "),
                self.program
            ));
        }
        Failure::Undefined(text)
    }

    /// The top-level names the templates in `node` refer to.
    fn referenced_names(&self, node: &'doc Node) -> Result<Vec<String>, (Position, Failure)> {
        let mut names = Vec::new();
        for (position, source) in templates_in(node) {
            let template = self
                .compile(source)
                .map_err(|failure| (position, failure))?;
            let mut found: Vec<String> = template.undeclared_variables(false).into_iter().collect();
            // The set has no order; sorting keeps rendering, and so the reported
            // cycles, the same from run to run.
            found.sort();
            names.extend(found);
        }
        Ok(names)
    }

    fn render_node(
        &self,
        node: &'doc Node,
        context: &Map<String, Value>,
    ) -> Result<Value, (Position, Failure)> {
        match &node.value {
            NodeValue::String(source) if is_template(source) => {
                let rendered = match single_expression(source) {
                    // The expression's value as JSON, read back: its own type.
                    Some(_) => self.render_native(source, context),
                    None => self.render(source, context).map(Value::String),
                };
                rendered.map_err(|failure| (node.position, failure))
            }
            NodeValue::Sequence(items) => items
                .iter()
                .map(|item| self.render_node(item, context))
                .collect::<Result<_, _>>()
                .map(Value::Array),
            NodeValue::Mapping(entries) => entries
                .iter()
                .map(|entry| Ok((entry.key.clone(), self.render_node(&entry.value, context)?)))
                .collect::<Result<_, _>>()
                .map(Value::Object),
            _ => Ok(node.to_json()),
        }
    }
}

fn read_environment_variable(
    variables: &Mutex<EnvironmentVariables>,
    name: &str,
    default: Option<String>,
) -> Result<String, minijinja::Error> {
    let mut variables = lock(variables);
    match (variables.known.get(name).cloned(), default) {
        (Some(Some(value)), _) => Ok(value),
        (Some(None), Some(default)) => Ok(default),
        (Some(None), None) => {
            variables.unset = Some(name.to_string());
            let message = format!("environment variable `{name}` is not set");
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
        }
        (None, _) => {
            variables.pending = Some(name.to_string());
            let message = format!("environment variable `{name}` has not been read yet");
            Err(minijinja::Error::new(ErrorKind::InvalidOperation, message))
        }
    }
}

/// The magic variables Ansible sets while a play runs (beyond those the reader
/// gives every template: `inventory_hostname`, `group_names`, `groups`,
/// `hostvars`), from its "Special Variables".
const ANSIBLE_RUNTIME_VARIABLES: &[&str] = &[
    "omit",
    "play_hosts",
    "playbook_dir",
    "role_name",
    "role_names",
    "role_path",
    "inventory_dir",
    "inventory_file",
    "inventory_hostname_short",
];

/// Whether `name` is one Ansible sets while it runs: a magic variable, or a fact
/// (`ansible_facts`, `ansible_env`, `ansible_playbook_python`: every `ansible_*`
/// name the inventory did not write, since it is undefined here).
fn is_ansible_runtime_variable(name: &str) -> bool {
    name.starts_with("ansible_") || ANSIBLE_RUNTIME_VARIABLES.contains(&name)
}

/// Whether `expression` uses the name `name` as a whole word.
fn mentions_name(expression: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    expression.match_indices(name).any(|(start, _)| {
        let before = expression[..start].chars().next_back();
        let after = expression[start + name.len()..].chars().next();
        !before.is_some_and(is_word) && !after.is_some_and(is_word)
    })
}

/// The expression of a template that is one `{{ ... }}` and nothing else.
fn single_expression(source: &str) -> Option<&str> {
    let inner = source.strip_prefix("{{")?.strip_suffix("}}")?;
    let alone = !inner.contains("}}") && !inner.contains("{{") && !inner.contains("{%");
    alone.then_some(inner)
}

/// Whether a string is a template; anything else is taken as it is.
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Every template string in a value, with its place.
fn templates_in(node: &Node) -> Vec<(Position, &str)> {
    match &node.value {
        NodeValue::String(text) if is_template(text) => vec![(node.position, text.as_str())],
        NodeValue::Sequence(items) => items.iter().flat_map(templates_in).collect(),
        NodeValue::Mapping(entries) => entries
            .iter()
            .flat_map(|entry| templates_in(&entry.value))
            .collect(),
        _ => Vec::new(),
    }
}

#[derive(Debug, Clone)]
enum State {
    Resolving,
    Resolved(Value),
    Failed,
}

/// The variables of one host, rendered on demand.
pub struct HostResolver<'r, 'doc, 'env> {
    renderer: &'r Renderer<'doc, 'env>,
    host: String,
    raw: RawVariables<'doc>,
    /// `inventory_hostname`, `group_names` and `groups`, which no variable can
    /// replace.
    magic: Map<String, Value>,
    states: HashMap<String, State>,
    /// The variables being rendered, outermost first, to name a cycle.
    stack: Vec<String>,
}

impl<'r, 'doc, 'env> HostResolver<'r, 'doc, 'env> {
    pub(crate) fn new(
        renderer: &'r Renderer<'doc, 'env>,
        host: &str,
        raw: RawVariables<'doc>,
        magic: Map<String, Value>,
    ) -> Self {
        HostResolver {
            renderer,
            host: host.to_string(),
            raw,
            magic,
            states: HashMap::new(),
            stack: Vec::new(),
        }
    }

    /// Adds a computed default, unless the inventory sets the variable.
    pub fn insert_default(&mut self, name: &str, value: Value, location: Location) {
        if !self.raw.contains_key(name) {
            let value = RawValue::Computed(value);
            self.raw
                .insert(name.to_string(), RawVariable { value, location });
        }
    }

    /// The rendered value of `name`, or `None` when it is unset or cannot be
    /// rendered (which has then been reported).
    fn resolve(&mut self, name: &str, problems: &mut Problems) -> Option<Value> {
        match self.states.get(name) {
            Some(State::Resolved(value)) => return Some(value.clone()),
            Some(State::Failed) => return None,
            Some(State::Resolving) => {
                self.report_cycle(name, problems);
                return None;
            }
            None => {}
        }
        let raw = self.raw.get(name)?.clone();
        self.states.insert(name.to_string(), State::Resolving);
        self.stack.push(name.to_string());
        let rendered = self.render_variable(name, &raw, problems);
        self.stack.pop();
        let state = match &rendered {
            Some(value) => State::Resolved(value.clone()),
            None => State::Failed,
        };
        self.states.insert(name.to_string(), state);
        rendered
    }

    /// `name` rendered, with its place.
    pub fn lookup(&mut self, name: &str, problems: &mut Problems) -> Lookup<'doc> {
        let Some(raw) = self.raw.get(name) else {
            return Lookup::Unset;
        };
        let location = raw.location.clone();
        let node = match raw.value {
            RawValue::Written(node) => Some(node),
            RawValue::Computed(_) => None,
        };
        match self.resolve(name, problems) {
            Some(value) => Lookup::Found(Resolved {
                value,
                location,
                node,
            }),
            None => Lookup::Failed,
        }
    }

    /// Renders every variable and returns them in merge order.
    ///
    /// Only what is used is evaluated, as in Ansible: the variables the
    /// application `reads`, with everything they refer to, must render, and each failure is a
    /// problem. Any other variable (`ansible_python_interpreter: "{{
    /// ansible_playbook_python }}"`, another role's) is rendered when it can be;
    /// when it cannot, nothing reads it, so it stops nothing: it keeps its value
    /// as written, as `ansible-inventory --list` shows it, and is named in
    /// `ResolvedHost::unrendered`, out of the templates' reach.
    pub fn finish(
        mut self,
        reads: &dyn Fn(&str) -> bool,
        problems: &mut Problems,
    ) -> ResolvedHost<'doc> {
        let names: Vec<String> = self.raw.keys().cloned().collect();
        // What is read first, so that a variable it refers to is reported as
        // the reason it fails.
        for name in names.iter().filter(|name| reads(name)) {
            self.lookup(name, problems);
        }
        let mut unread_problems = Problems::default();
        let mut resolved = ResolvedHost::default();
        for name in names {
            let problems = if reads(&name) {
                &mut *problems
            } else {
                &mut unread_problems
            };
            match self.lookup(&name, problems) {
                Lookup::Found(variable) => {
                    resolved.vars.insert(name, variable);
                }
                Lookup::Failed if reads(&name) => {
                    resolved.failed.insert(name);
                }
                Lookup::Failed => {
                    if let Some(raw) = self.raw.get(&name)
                        && let RawValue::Written(node) = raw.value
                    {
                        let written = Resolved {
                            value: node.to_json(),
                            location: raw.location.clone(),
                            node: Some(node),
                        };
                        resolved.vars.insert(name.clone(), written);
                        resolved.unrendered.push(name);
                    }
                }
                Lookup::Unset => {}
            }
        }
        resolved
    }

    fn render_variable(
        &mut self,
        name: &str,
        raw: &RawVariable<'doc>,
        problems: &mut Problems,
    ) -> Option<Value> {
        let node = match &raw.value {
            RawValue::Computed(value) => return Some(value.clone()),
            RawValue::Written(node) => *node,
        };
        let mut context = Map::new();
        let names = self.renderer.referenced_names(node);
        let names = self.report(name, &raw.location, names, problems)?;
        for dependency in names {
            if self.magic.contains_key(&dependency) || !self.raw.contains_key(&dependency) {
                continue;
            }
            // A dependency that fails has been reported; this variable fails
            // quietly so one mistake gives one diagnostic.
            let value = self.resolve(&dependency, problems)?;
            context.insert(dependency, value);
        }
        context.extend(self.magic.clone());
        let rendered = self
            .renderer
            .render_node(node, &context)
            .map_err(|(position, failure)| {
                let failure = self
                    .renderer
                    .name_undefined(node, position, failure, &context);
                (position, failure)
            });
        self.report(name, &raw.location, rendered, problems)
    }

    /// Records a rendering failure of variable `name` at the place of the
    /// failing string.
    fn report<T>(
        &self,
        name: &str,
        written_at: &Location,
        result: Result<T, (Position, Failure)>,
        problems: &mut Problems,
    ) -> Option<T> {
        let (position, failure) = match result {
            Ok(value) => return Some(value),
            Err(error) => error,
        };
        let place = location(&written_at.file, Some(position));
        let (before, after) = match failure {
            Failure::Undefined(detail) => {
                (format!("{detail} (used by `{name}` of "), ")".to_string())
            }
            Failure::UnsetEnvironmentVariable(variable) => (
                format!("environment variable `{variable}` is not set (used by `{name}` of "),
                ")".to_string(),
            ),
            Failure::Syntax(detail) => (
                format!("template syntax error in `{name}` of "),
                format!(": {detail}"),
            ),
            Failure::Other(detail) => {
                (format!("cannot render `{name}` of "), format!(": {detail}"))
            }
        };
        problems.add_for_host(place, &self.host, before, after);
        None
    }

    /// Reports the cycle that closes at `name`, which is being rendered already.
    fn report_cycle(&self, name: &str, problems: &mut Problems) {
        let Some(raw) = self.raw.get(name) else {
            return;
        };
        let start = self
            .stack
            .iter()
            .position(|known| known == name)
            .unwrap_or(0);
        let mut cycle: Vec<String> = self.stack[start..]
            .iter()
            .map(|known| format!("`{known}`"))
            .collect();
        cycle.push(format!("`{name}`"));
        let place = raw.location.clone();
        let before = format!(
            "variables refer to each other in a cycle, {}, for ",
            cycle.join(" -> ")
        );
        problems.add_for_host(
            place,
            &self.host,
            before,
            ": break the cycle by writing one of them without the others",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;
    use std::path::Path;

    /// Renders the variables of a YAML map (as if merged for host `db1`, in
    /// group `primary`) with the given environment, and returns each variable as
    /// `name=json` followed by every problem.
    fn render(variables: &str, environment: &[(&str, &str)]) -> Vec<String> {
        let document = yaml::parse(variables).expect("the test YAML parses");
        let raw: RawVariables = document
            .as_mapping()
            .unwrap_or_default()
            .iter()
            .map(|entry| {
                let place = location(Path::new("inventory.yml"), Some(entry.value.position));
                let variable = RawVariable {
                    value: RawValue::Written(&entry.value),
                    location: place,
                };
                (entry.key.clone(), variable)
            })
            .collect();
        let lookup = |name: &str| {
            environment
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| value.to_string())
        };
        let renderer = Renderer::new(&lookup, "my-tool");
        let magic = serde_json::json!({
            "inventory_hostname": "db1",
            "group_names": ["primary"],
            "groups": {"all": ["db1"], "primary": ["db1"]},
        });
        let magic = magic.as_object().cloned().unwrap_or_default();
        let mut problems = Problems::default();
        let resolved =
            HostResolver::new(&renderer, "db1", raw, magic).finish(&|_| true, &mut problems);
        let mut lines: Vec<String> = resolved
            .vars
            .iter()
            .map(|(name, variable)| format!("{name}={}", variable.value))
            .collect();
        let mut failed: Vec<&String> = resolved.failed.iter().collect();
        failed.sort();
        lines.extend(failed.into_iter().map(|name| format!("failed {name}")));
        lines.extend(
            problems
                .into_diagnostics()
                .0
                .iter()
                .map(ToString::to_string),
        );
        lines
    }

    fn check(variables: &str, expected: &[&str]) {
        assert_eq!(render(variables, &[]), expected);
    }

    #[test]
    fn values_that_are_not_templates_keep_their_yaml_type() {
        check(
            "a: 15\nb: \"15\"\nc: {x: [1, true]}\nd: ~\ne: \"{ not a template }\"\n",
            &[
                "a=15",
                "b=\"15\"",
                "c={\"x\":[1,true]}",
                "d=null",
                "e=\"{ not a template }\"",
            ],
        );
    }

    #[test]
    fn templates_see_other_variables_in_any_order() {
        check(
            "dir: \"/data/{{ version }}/{{ name }}\"\nversion: 15\nname: \"{{ inventory_hostname }}\"\n",
            &["dir=\"/data/15/db1\"", "version=15", "name=\"db1\""],
        );
    }

    #[test]
    fn one_expression_keeps_its_type_and_text_around_it_makes_a_string() {
        check(
            "a: 7\nb: \"{{ a * 2 }}\"\nc: \"{{ a }}0\"\nd: \"{{ a > 5 }}\"\ne: \"{{ [a, 'x'] }}\"\nf: \"{{ '7' }}\"\n",
            &[
                "a=7",
                "b=14",
                "c=\"70\"",
                "d=true",
                "e=[7,\"x\"]",
                "f=\"7\"",
            ],
        );
    }

    #[test]
    fn ansible_filters_and_python_string_methods_work() {
        check(
            "h: db-01\na: \"{{ h | regex_replace('^db-', 'pg-') }}\"\nb: \"{{ h.upper() }}\"\nc: \"{{ 'yes' | bool }}\"\nd: \"{{ h.split('-')[1] | int }}\"\n",
            &["h=\"db-01\"", "a=\"pg-01\"", "b=\"DB-01\"", "c=true", "d=1"],
        );
    }

    #[test]
    fn templates_inside_lists_and_maps_are_rendered() {
        check(
            "n: 2\nl: [\"{{ n }}\", 3]\nm: {k: \"{{ group_names | join(',') }}\"}\n",
            &["n=2", "l=[2,3]", "m={\"k\":\"primary\"}"],
        );
    }

    #[test]
    fn block_scalars_keep_their_trailing_newline() {
        check("a: |\n  {{ inventory_hostname }}\n", &["a=\"db1\\n\""]);
    }

    #[test]
    fn magic_variables_are_in_scope() {
        check(
            "a: \"{{ groups['primary'] | length }} {{ group_names[0] }}\"\n",
            &["a=\"1 primary\""],
        );
    }

    #[test]
    fn environment_variables_are_read_through_the_lookup() {
        let lines = render(
            "a: \"{{ env('HOME_DIR') }}/x\"\nb: \"{{ env('MISSING', 'fallback') }}\"\n",
            &[("HOME_DIR", "/home/me")],
        );
        assert_eq!(lines, ["a=\"/home/me/x\"", "b=\"fallback\""]);
    }

    #[test]
    fn ansible_env_lookups_work_too() {
        let lines = render(
            "a: \"{{ lookup('env', 'HOME_DIR') }}\"\nb: \"{{ lookup('env', 'MISSING', default='x') }}\"\nc: \"{{ lookup('file', 'f') }}\"\nd: \"{{ lookup('env', 'MISSING') }}\"\n",
            &[("HOME_DIR", "/home/me")],
        );
        assert_eq!(
            lines,
            [
                "a=\"/home/me\"",
                "b=\"x\"",
                "failed c",
                "failed d",
                "inventory.yml:3:4: cannot render `c` of host `db1`: invalid operation: lookup `file` is not supported; only `lookup('env', 'NAME')` is",
                "inventory.yml:4:4: environment variable `MISSING` is not set (used by `d` of host `db1`)",
            ]
        );
    }

    #[test]
    fn an_unset_environment_variable_names_itself_and_its_user() {
        check(
            "password: \"{{ env('PG_REPLICATION_PASSWORD') }}\"\n",
            &[
                "failed password",
                "inventory.yml:1:11: environment variable `PG_REPLICATION_PASSWORD` is not set (used by `password` of host `db1`)",
            ],
        );
    }

    #[test]
    fn an_undefined_variable_is_named_with_its_place() {
        check(
            "a: 1\nb:\n  - ok\n  - \"{{ pg_verion }}\"\nc: \"{{ b }}\"\n",
            &[
                "a=1",
                "failed b",
                "failed c",
                "inventory.yml:4:5: `pg_verion` is undefined (used by `b` of host `db1`)",
            ],
        );
    }

    /// `"repl_{{ cluster_nmae }}"` once said "a value is undefined" without the
    /// name: each undefined name is named wherever it stands in the expression,
    /// and those Ansible sets while it runs say so.
    #[test]
    fn an_undefined_name_inside_an_expression_is_named() {
        check(
            "a: \"repl_{{ cluster_nmae }}\"\nb: \"{{ 'repl_' ~ cluster_nmae | upper }}\"\nc: \"{% if cluster_nmae == 'x' %}y{% endif %}\"\nd: \"{{ (pg_clustr | default('main')) ~ '_' ~ other_nmae }}\"\ne: \"{{ ansible_env.HOME }}/x\"\nf: \"{{ 1 + (x.y if cluster_nmae) }}\"\n",
            &[
                "failed a",
                "failed b",
                "failed c",
                "failed d",
                "failed e",
                "failed f",
                "inventory.yml:1:4: `cluster_nmae` is undefined (used by `a` of host `db1`)",
                "inventory.yml:2:4: `cluster_nmae` is undefined (used by `b` of host `db1`)",
                "inventory.yml:3:4: `cluster_nmae` is undefined (used by `c` of host `db1`)",
                "inventory.yml:4:4: `other_nmae` is undefined (used by `d` of host `db1`)",
                "inventory.yml:5:4: `ansible_env` is undefined: `ansible_env` is set by Ansible while a play runs (a fact or a magic variable), which my-tool, reading only the inventory, cannot know; write the value instead (used by `e` of host `db1`)",
                "inventory.yml:6:4: `cluster_nmae` is undefined (used by `f` of host `db1`)",
            ],
        );
    }

    #[test]
    fn is_defined_guards_work_under_strict_undefined() {
        check(
            "a: \"{% if nope is defined %}yes{% else %}no{% endif %}\"\n",
            &["a=\"no\""],
        );
    }

    #[test]
    fn a_cycle_names_every_variable_in_it_once() {
        check(
            "a: \"{{ b }}\"\nb: \"{{ c }}\"\nc: \"{{ a }}\"\nd: \"{{ a }}\"\ne: \"{{ e }}\"\n",
            &[
                "failed a",
                "failed b",
                "failed c",
                "failed d",
                "failed e",
                "inventory.yml:1:4: variables refer to each other in a cycle, `a` -> `b` -> `c` -> `a`, for host `db1`: break the cycle by writing one of them without the others",
                "inventory.yml:5:4: variables refer to each other in a cycle, `e` -> `e`, for host `db1`: break the cycle by writing one of them without the others",
            ],
        );
    }

    #[test]
    fn template_syntax_errors_are_reported() {
        check(
            "a: \"{{ 1 + }}\"\n",
            &[
                "failed a",
                "inventory.yml:1:4: template syntax error in `a` of host `db1`: unexpected end of variable block",
            ],
        );
    }

    #[test]
    fn computed_defaults_yield_to_the_inventory_and_are_not_rendered() {
        let document = yaml::parse("a: 5\n").expect("the test YAML parses");
        let entry = &document.as_mapping().unwrap_or_default()[0];
        let place = location(Path::new("inventory.yml"), Some(entry.value.position));
        let raw: RawVariables = [(
            "a".to_string(),
            RawVariable {
                value: RawValue::Written(&entry.value),
                location: place.clone(),
            },
        )]
        .into_iter()
        .collect();
        let lookup = |_: &str| None;
        let renderer = Renderer::new(&lookup, "my-tool");
        let mut problems = Problems::default();
        let mut resolver = HostResolver::new(&renderer, "db1", raw, Map::new());
        resolver.insert_default("a", Value::from(1), place.clone());
        resolver.insert_default("b", Value::from("{{ a }}"), place);
        let resolved = resolver.finish(&|_| true, &mut problems);
        assert!(problems.is_empty());
        assert_eq!(resolved.vars["a"].value, Value::from(5));
        assert_eq!(resolved.vars["b"].value, Value::from("{{ a }}"));
    }
}
