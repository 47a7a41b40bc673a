//! The module graph against the layering `ARCHITECTURE.md` states: every
//! `crate::` reference in a top-level module's non-test code must point to a
//! module of a lower layer, so the graph has no cycle; the crates of `crates/`
//! use nothing of pgconverge, know no PostgreSQL, and are default members of
//! the workspace; the code map must name every module there is, the crates'
//! too, and every path the code points to must exist; no code outside
//! `src/versions.rs` may compare a PostgreSQL version with a number; and no Rust
//! code builds shell but the documented exceptions.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// The crates of the workspace under `crates/`, by directory name, sorted.
fn crates() -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(Path::new(ROOT).join("crates"))
        .expect("crates/ is readable")
        .flatten()
        .filter(|entry| entry.path().join("Cargo.toml").exists())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Every `.rs` file of pgconverge's `src/` and of each crate's `src/`.
fn workspace_rust_files() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&Path::new(ROOT).join("src"), &mut files);
    for name in crates() {
        rust_files(
            &Path::new(ROOT).join("crates").join(name).join("src"),
            &mut files,
        );
    }
    files
}

/// The layers, lowest first, from the fenced block after `## Layers`.
fn layers() -> Vec<Vec<String>> {
    let text = fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md is readable");
    let section = text
        .split("## Layers")
        .nth(1)
        .expect("ARCHITECTURE.md has a `## Layers` section");
    let block = section
        .split("```")
        .nth(1)
        .expect("the layers are in a fenced block");
    block
        .lines()
        .filter_map(|line| line.split_once(':').map(|(_, modules)| modules))
        .map(|modules| {
            modules
                .split(',')
                .map(|name| name.trim().to_string())
                .filter(|name| !name.is_empty())
                .collect()
        })
        .collect()
}

/// The files of a top-level module, leaving out the files of `#[cfg(test)]` modules.
fn module_files(path: &Path, files: &mut Vec<PathBuf>) {
    files.push(path.to_path_buf());
    let text = fs::read_to_string(path).unwrap_or_default();
    let directory = if path.file_name().is_some_and(|name| name == "mod.rs") {
        path.parent().map(Path::to_path_buf)
    } else {
        let stem = path.with_extension("");
        stem.is_dir().then_some(stem)
    };
    let Some(directory) = directory else {
        return;
    };
    let mut test_only = false;
    for line in text.lines().map(str::trim) {
        if line == "#[cfg(test)]" {
            test_only = true;
            continue;
        }
        let declared = line
            .strip_prefix("pub mod ")
            .or_else(|| line.strip_prefix("mod "))
            .and_then(|rest| rest.strip_suffix(';'));
        if let Some(name) = declared
            && !test_only
        {
            let file = directory.join(format!("{name}.rs"));
            let nested = directory.join(name).join("mod.rs");
            if file.exists() {
                module_files(&file, files);
            } else if nested.exists() {
                module_files(&nested, files);
            }
        }
        test_only = false;
    }
}

/// The `crate::NAME` references in a file's code before its tests.
fn references(path: &Path) -> BTreeSet<String> {
    let text = fs::read_to_string(path).unwrap_or_default();
    let code = text
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    let mut found = BTreeSet::new();
    for (index, _) in code.match_indices("crate::") {
        let name: String = code[index + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() {
            found.insert(name);
        }
    }
    // `use crate::{a, b}` names several at once.
    for (index, _) in code.match_indices("crate::{") {
        let list = &code[index + "crate::{".len()..];
        let list = list.split('}').next().unwrap_or_default();
        for item in list.split(',') {
            let name: String = item
                .trim()
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

/// Each top-level module of the library with the top-level modules it uses.
fn dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let lib = Path::new(ROOT).join("src/lib.rs");
    let text = fs::read_to_string(&lib).expect("src/lib.rs is readable");
    let mut graph = BTreeMap::new();
    for name in text
        .lines()
        .filter_map(|line| line.strip_prefix("pub mod "))
        .filter_map(|rest| rest.strip_suffix(';'))
    {
        let file = Path::new(ROOT).join(format!("src/{name}.rs"));
        let root = if file.exists() {
            file
        } else {
            Path::new(ROOT).join(format!("src/{name}/mod.rs"))
        };
        let mut files = Vec::new();
        module_files(&root, &mut files);
        let uses: BTreeSet<String> = files
            .iter()
            .flat_map(|file| references(file))
            .filter(|used| used != name)
            .collect();
        graph.insert(name.to_string(), uses);
    }
    graph
}

#[test]
fn every_module_uses_only_lower_layers() {
    let layers = layers();
    let layer_of = |name: &str| {
        layers
            .iter()
            .position(|layer| layer.iter().any(|m| m == name))
    };
    let graph = dependencies();
    let mut problems = Vec::new();
    for (module, uses) in &graph {
        let Some(own) = layer_of(module) else {
            problems.push(format!("`{module}` is in no layer of ARCHITECTURE.md"));
            continue;
        };
        for used in uses {
            match layer_of(used) {
                Some(theirs) if theirs < own => {}
                Some(_) => problems.push(format!(
                    "`{module}` uses `{used}`, which is not in a lower layer"
                )),
                None => problems.push(format!("`{module}` uses `{used}`, which is in no layer")),
            }
        }
    }
    for layer in &layers {
        for module in layer {
            if !graph.contains_key(module) {
                problems.push(format!(
                    "ARCHITECTURE.md lists `{module}`, which is no module"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn the_code_map_names_every_source_file_and_directory() {
    let text = fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md is readable");
    let mut missing = Vec::new();
    let source = Path::new(ROOT).join("src");
    for entry in fs::read_dir(&source).expect("src is readable").flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let shown = if entry.path().is_dir() {
            format!("`src/{name}/")
        } else {
            format!("`src/{name}`")
        };
        let is_code = name.ends_with(".rs") || (entry.path().is_dir() && name != "snapshots");
        if is_code && !text.contains(&shown) {
            missing.push(shown);
        }
    }
    for name in crates() {
        let shown = format!("| `crates/{name}/` |");
        if !text.contains(&shown) {
            missing.push(shown);
        }
    }
    assert!(missing.is_empty(), "not in the code map: {missing:?}");
}

/// Every `.rs` file under `dir`, recursively.
fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("the directory is readable")
        .flatten()
        .map(|entry| entry.path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|extension| extension == "rs") {
            files.push(path);
        }
    }
}

/// Whether a line of code compares a version with a number by order: `pg_version.0
/// >= 1100`, `version < PgVersion(906)`, `1200 <= version_num`, `.major() < 12`.
fn compares_a_version_with_a_number(code: &str) -> bool {
    const ORDER: [&str; 4] = ["<=", ">=", "<", ">"];
    let is_version = |operand: &str| {
        let operand = operand.trim().trim_start_matches('(').trim_end_matches(')');
        let name = operand
            .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '('))
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        name.contains("version") || name.ends_with(".major(")
    };
    let is_number = |operand: &str| {
        let operand = operand.trim();
        let operand = operand.strip_prefix("PgVersion(").unwrap_or(operand);
        operand.starts_with(|c: char| c.is_ascii_digit())
    };
    let ends_with_number = |operand: &str| {
        let operand = operand.trim_end().trim_end_matches(')');
        operand.ends_with(|c: char| c.is_ascii_digit())
    };
    for (index, _) in code.match_indices(['<', '>']) {
        // The whole operator (`<`, `<=`), not an arrow, a shift or a generic's `<`.
        let rest = &code[index..];
        let Some(operator) = ORDER.iter().find(|operator| rest.starts_with(**operator)) else {
            continue;
        };
        if code[..index].ends_with(['-', '=', '<', '>'])
            || rest[operator.len()..].starts_with(['<', '>'])
        {
            continue;
        }
        let (left, right) = (&code[..index], &rest[operator.len()..]);
        let version_left = is_version(left.trim_end());
        let version_right = right
            .trim_start()
            .split(|c: char| c.is_whitespace() || c == '&' || c == '|' || c == '{' || c == ',')
            .next()
            .is_some_and(is_version);
        if (version_left && is_number(right)) || (version_right && ends_with_number(left)) {
            return true;
        }
    }
    false
}

/// Version differences live in `versions.rs`, as features a decision asks about
/// (`versions::PG_WAL.in_version(version)`), never as a comparison with a version
/// number where the decision is made: a reader wondering what changed in 12 then
/// finds it in one file.
#[test]
fn no_code_compares_a_version_with_a_number_outside_versions_rs() {
    let source = Path::new(ROOT).join("src");
    let files = workspace_rust_files();
    let mut found = Vec::new();
    for file in files {
        if file == source.join("versions.rs") {
            continue;
        }
        let text = fs::read_to_string(&file).unwrap_or_default();
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            if compares_a_version_with_a_number(code) {
                let shown = file
                    .strip_prefix(ROOT)
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                found.push(format!("{shown}:{}: {}", number + 1, line.trim()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "these lines compare a PostgreSQL version with a number; name the difference as a \
`Feature` in src/versions.rs (after what it decides, with what changed in which version) \
and ask `FEATURE.in_version(version)` instead:\n{}",
        found.join("\n")
    );
}

#[test]
fn the_version_comparison_check_finds_every_form() {
    for code in [
        "if request.settings.pg_version.0 >= 1100 {",
        "let ok = version.0 < 901;",
        "if version >= PgVersion(1200) {",
        "if 1000 <= settings.pg_version.0 {",
        "fn for_version(version_num: u32) -> bool { version_num >= 1000 }",
        "if server.major() < 12 {",
    ] {
        assert!(compares_a_version_with_a_number(code), "not found: {code}");
    }
    for code in [
        "if STANDBY_SIGNAL.in_version(version) {",
        "if version < crate::versions::OLDEST {",
        "let count: Vec<PgVersion> = Vec::new();",
        "if count > 1 && !SEVERAL_SYNCHRONOUS_STANDBYS.in_version(version) {",
        "assert_eq!(host.settings.pg_version, PgVersion(1700));",
        "fn version(text: &str) -> PgVersion {",
    ] {
        assert!(!compares_a_version_with_a_number(code), "found: {code}");
    }
}

/// Each feature is in `FEATURES`, the one table templates see and the tests walk.
#[test]
fn every_feature_is_in_the_table_of_features() {
    let text = fs::read_to_string(Path::new(ROOT).join("src/versions.rs"))
        .expect("src/versions.rs is readable");
    let table = text
        .split("pub const FEATURES")
        .nth(1)
        .and_then(|rest| rest.split("];").next())
        .expect("src/versions.rs has `pub const FEATURES`");
    let missing: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("pub const "))
        .filter_map(|rest| rest.strip_suffix(": Feature = Feature {"))
        .filter(|name| !table.contains(&format!("    {name},")))
        .collect();
    assert!(
        missing.is_empty(),
        "features missing from `FEATURES` in src/versions.rs: {missing:?}"
    );
}

/// The rows of the code map: the first cell (the paths it is about) and the row.
fn code_map_rows(text: &str) -> Vec<(&str, &str)> {
    text.lines()
        .filter(|line| line.starts_with("| `src/") || line.starts_with("| `crates/"))
        .filter_map(|line| {
            let first = line.trim_start_matches('|').split('|').next()?;
            Some((first, line))
        })
        .collect()
}

/// Every module inside a directory of `src/` is named in its directory's row of
/// the code map, as `NAME.rs` (`mod.rs` is the directory itself, named by its
/// row), so a new module cannot hide from the next reader.
#[test]
fn the_code_map_names_every_module_inside_a_directory() {
    let text = fs::read_to_string(Path::new(ROOT).join("ARCHITECTURE.md"))
        .expect("ARCHITECTURE.md is readable");
    let rows = code_map_rows(&text);
    let source = Path::new(ROOT).join("src");
    let mut files = Vec::new();
    rust_files(&source, &mut files);
    let mut missing = Vec::new();
    for file in files {
        let Ok(relative) = file.strip_prefix(&source) else {
            continue;
        };
        let mut parts = relative.iter().map(|part| part.to_string_lossy());
        let (Some(directory), inside) = (parts.next(), parts.collect::<Vec<_>>().join("/")) else {
            continue;
        };
        if inside.is_empty() || inside == "mod.rs" {
            continue;
        }
        let heading = format!("`src/{directory}/`");
        let named = rows
            .iter()
            .filter(|(first, _)| first.contains(&heading))
            .any(|(_, row)| row.contains(&format!("`{inside}`")));
        if !named {
            missing.push(format!("src/{directory}/{inside}"));
        }
    }
    // A crate's row names every module of its `src/`, `lib.rs` too.
    for name in crates() {
        let source = Path::new(ROOT).join("crates").join(&name).join("src");
        let mut files = Vec::new();
        rust_files(&source, &mut files);
        let heading = format!("`crates/{name}/`");
        for file in files {
            let Ok(relative) = file.strip_prefix(&source) else {
                continue;
            };
            let inside = relative.display().to_string();
            let named = rows
                .iter()
                .filter(|(first, _)| first.contains(&heading))
                .any(|(_, row)| row.contains(&format!("`{inside}`")));
            if !named {
                missing.push(format!("crates/{name}/src/{inside}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "these modules are not in the code map of ARCHITECTURE.md: name each, as `NAME.rs` \
with what it is for, in the row of its directory:\n{}",
        missing.join("\n")
    );
}

/// The paths of this repository that comments and ARCHITECTURE.md point to
/// exist (a pointer to a file that moved sends the reader nowhere). Paths of
/// other projects that happen to look like ours are listed here.
#[test]
fn every_path_the_code_points_to_exists() {
    const OTHER_PROJECTS: &[&str] = &[
        // PostgreSQL's SASLprep, in src/scram.rs.
        "src/common/saslprep.c",
    ];
    let mut files = workspace_rust_files();
    files.push(Path::new(ROOT).join("ARCHITECTURE.md"));
    let mut broken = Vec::new();
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for prefix in ["src/", "tests/", "templates/", "playbooks/", "docs/"] {
            for (index, _) in text.match_indices(prefix) {
                // A path starts a word: not `ansible/src/...`, nor part of a longer name.
                let before = text[..index].chars().next_back();
                if before.is_some_and(|c| c.is_ascii_alphanumeric() || "_/.-".contains(c)) {
                    continue;
                }
                let path: String = text[index..]
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || "_./-".contains(*c))
                    .collect();
                let path = path.trim_end_matches(['.', '/', '-']);
                // Only paths to files: `src/` alone or a directory with a wildcard after it are not pointers.
                if !path
                    .rsplit('/')
                    .next()
                    .is_some_and(|name| name.contains('.'))
                {
                    continue;
                }
                if OTHER_PROJECTS.contains(&path) || Path::new(ROOT).join(path).exists() {
                    continue;
                }
                let shown = file
                    .strip_prefix(ROOT)
                    .unwrap_or(&file)
                    .display()
                    .to_string();
                broken.push(format!("{shown} names `{path}`, which does not exist"));
            }
        }
    }
    broken.sort();
    broken.dedup();
    assert!(broken.is_empty(), "{}", broken.join("\n"));
}

/// What puts text together, or holds it, and where its text starts: after the
/// opening parenthesis (or the `=` of a constant), or after the first comma
/// (the destination of `write!`).
const TEXT_BUILDERS: &[(&str, bool)] = &[
    ("format!(", false),
    ("push_str(", false),
    ("write!(", true),
    ("writeln!(", true),
    ("&str =", false),
];

/// Shell syntax that a message, a path, a configuration line or SQL does not
/// hold: a literal with one of these is shell being written. `emit` is the
/// facts script's own verb (`records.sh`), which Rust once wrote line by line.
const SHELL_SYNTAX: &[&str] = &[
    "$(",
    "\"$",
    "]; then",
    "; do\n",
    "; done",
    "; fi",
    "\nfi\n",
    "\ndone\n",
    "2>&1",
    ">&2",
    ">/dev/null",
    "|| exit",
    "sh -c",
    "sh -s",
    "if [ ",
    "[ -f ",
    "[ -d ",
    "[ -L ",
    "printf '",
    "emit ",
    "emit_",
];

/// The places in `src/` that may build shell in Rust, and why. Keep it short:
/// everything else is a `.sh` file, with values passed through `Script`'s
/// quoted header.
const SHELL_BUILT_IN_RUST: &[(&str, &str)] = &[
    (
        "src/script/mod.rs",
        "the one header of parameters, each value quoted by `shell::quote` there and nowhere \
else, the library and the pieces of a body joined, and the small outer script that hands a \
whole script to the PostgreSQL OS user on standard input",
    ),
    (
        "src/archive.rs",
        "`archive_command`, `restore_command` and `archive_cleanup_command`: one-line commands \
PostgreSQL itself runs, written as setting values into postgresql.conf (not scripts \
pgconverge sends), each word quoted by `command_word`",
    ),
];

/// The text of the string literal at the start of `code` (after blanks and a
/// `&`): a plain literal with its escapes read, or a raw one.
fn leading_literal(code: &str) -> Option<String> {
    let code = code.trim_start().trim_start_matches('&');
    if let Some(rest) = code.strip_prefix('r') {
        let hashes = rest.len() - rest.trim_start_matches('#').len();
        let rest = rest[hashes..].strip_prefix('"')?;
        let end = rest.find(&format!("\"{}", "#".repeat(hashes)))?;
        return Some(rest[..end].to_string());
    }
    let rest = code.strip_prefix('"')?;
    let mut text = String::new();
    let mut chars = rest.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(text),
            '\\' => match chars.next()? {
                'n' => text.push('\n'),
                't' => text.push('\t'),
                // A line continuation: the line feed and the next line's indentation go.
                '\n' => {
                    let rest: String = chars.clone().collect();
                    let skipped = rest.len() - rest.trim_start().len();
                    for _ in 0..rest[..skipped].chars().count() {
                        chars.next();
                    }
                }
                other => text.push(other),
            },
            other => text.push(other),
        }
    }
    None
}

/// The lines (1-based) of `code` where a literal that builds text holds shell.
fn shell_built_in(code: &str) -> Vec<usize> {
    let mut found = Vec::new();
    for (builder, after_comma) in TEXT_BUILDERS {
        for (index, _) in code.match_indices(builder) {
            let mut rest = &code[index + builder.len()..];
            if *after_comma {
                let Some(comma) = rest.find(',') else {
                    continue;
                };
                rest = &rest[comma + 1..];
            }
            let Some(literal) = leading_literal(rest) else {
                continue;
            };
            if SHELL_SYNTAX.iter().any(|syntax| literal.contains(syntax)) {
                found.push(code[..index].lines().count().max(1));
            }
        }
    }
    found.sort_unstable();
    found.dedup();
    found
}

/// Shell is written in `.sh` files, which the tests shellcheck, with what
/// varies passed in `Script`'s quoted header; Rust that formats shell, or holds
/// it in a string constant, escapes both. Only the places of `SHELL_BUILT_IN_RUST` may, each for its reason.
#[test]
fn no_rust_code_builds_shell_outside_its_exceptions() {
    let files = workspace_rust_files();
    let mut found = Vec::new();
    let mut excepted_used = BTreeSet::new();
    for file in files {
        let shown = file
            .strip_prefix(ROOT)
            .unwrap_or(&file)
            .display()
            .to_string()
            .trim_start_matches('/')
            .to_string();
        let text = fs::read_to_string(&file).unwrap_or_default();
        // The code before its tests: a test may write the shell it feeds a script.
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let lines = shell_built_in(code);
        if lines.is_empty() {
            continue;
        }
        if SHELL_BUILT_IN_RUST.iter().any(|(path, _)| *path == shown) {
            excepted_used.insert(shown);
            continue;
        }
        for line in lines {
            let content = text.lines().nth(line - 1).unwrap_or_default().trim();
            found.push(format!("{shown}:{line}: {content}"));
        }
    }
    assert!(
        found.is_empty(),
        "these lines build shell in Rust; write it in a `.sh` file (a script's body, or a piece \
of the facts script) and pass what varies as a parameter of `Script` (`text`, `number`, \
`list`):\n{}",
        found.join("\n")
    );
    let unused: Vec<&str> = SHELL_BUILT_IN_RUST
        .iter()
        .map(|(path, _)| *path)
        .filter(|path| !excepted_used.contains(*path))
        .collect();
    assert!(
        unused.is_empty(),
        "these exceptions build no shell any more; remove them from SHELL_BUILT_IN_RUST: {unused:?}"
    );
}

#[test]
fn the_shell_check_finds_shell_built_with_format_or_push_str() {
    for code in [
        "script.push_str(&format!(\"emit_file file.{index} {}\\n\", quote(path)));",
        "script.push_str(&format!(\n    \"if as_pg test -r {path}; then emit readable.{index} yes; fi\\n\",\n));",
        "format!(\n        r#\"DATA={data_dir}\nif [ -f \"$DATA/PG_VERSION\" ]; then\n\"#\n    )",
        "script.push_str(\"printf '%s' \\\"$PGCONVERGE_FACTS\\\" | as_pg sh -s\\n\");",
        "writeln!(out, \"run {} 2>&1\", command)",
        "const SUDO: &str = r#\"if ! out=$(sudo -n true); then exit 97; fi\"#;",
        "format!(\"select 1; \\\n    if [ -d {path} ]; then :; fi\")",
    ] {
        assert_eq!(shell_built_in(code), [1], "not found: {code}");
    }
    for code in [
        "format!(\"cannot read the facts of {name}: {error}\")",
        "format!(\"SCRAM-SHA-256$4096:{salt}${key}:{key}\")",
        "format!(\"\\\\echo @@{name}\\n{query}\")",
        "text.push_str(\": \");",
        "format!(\"{prologue}{script}\")",
        "format!(\"`{path}` is a link to `{target}`: pgconverge never acts through a link\")",
    ] {
        assert!(shell_built_in(code).is_empty(), "found: {code}");
    }
}

/// A crate of `crates/` is a library of its own: its manifest depends on nothing
/// of pgconverge, and its code (its tests aside) names neither pgconverge nor
/// PostgreSQL. What it must say of the program that reads it, it says with the
/// name its caller gives.
#[test]
fn the_crates_know_nothing_of_pgconverge_or_postgresql() {
    let mut found = Vec::new();
    for name in crates() {
        let directory = Path::new(ROOT).join("crates").join(&name);
        let manifest =
            fs::read_to_string(directory.join("Cargo.toml")).expect("the manifest is readable");
        if manifest.contains("pgconverge") {
            found.push(format!("crates/{name}/Cargo.toml names pgconverge"));
        }
        let mut files = Vec::new();
        rust_files(&directory.join("src"), &mut files);
        for file in files {
            let text = fs::read_to_string(&file).unwrap_or_default();
            let code = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or_default();
            for (number, line) in code.lines().enumerate() {
                let lower = line.to_lowercase();
                if ["pgconverge", "postgres"]
                    .iter()
                    .any(|word| lower.contains(word))
                {
                    let shown = file
                        .strip_prefix(ROOT)
                        .unwrap_or(&file)
                        .display()
                        .to_string();
                    found.push(format!("{shown}:{}: {}", number + 1, line.trim()));
                }
            }
        }
    }
    assert!(
        found.is_empty(),
        "a crate of crates/ knows of pgconverge or PostgreSQL; keep that knowledge in \
pgconverge and hand the crate what it needs (a name for its messages, a rule):\n{}",
        found.join("\n")
    );
}

/// Every crate of `crates/` is a member of the workspace and one of its default
/// members, beside pgconverge: a plain `cargo test`, `cargo clippy` or `cargo fmt`
/// at the root then covers it.
#[test]
fn every_crate_is_a_default_member_of_the_workspace() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(ROOT)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    let names = |key: &str| -> BTreeSet<String> {
        let ids: Vec<&str> = metadata[key]
            .as_array()
            .map(|ids| ids.iter().filter_map(serde_json::Value::as_str).collect())
            .unwrap_or_default();
        metadata["packages"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|package| package["id"].as_str().is_some_and(|id| ids.contains(&id)))
            .filter_map(|package| package["manifest_path"].as_str())
            .map(|manifest| {
                let directory = Path::new(manifest).parent().unwrap_or(Path::new(""));
                let relative = directory.strip_prefix(ROOT).unwrap_or(directory);
                relative.display().to_string()
            })
            .collect()
    };
    let mut expected: BTreeSet<String> = crates()
        .into_iter()
        .map(|name| format!("crates/{name}"))
        .collect();
    expected.insert(String::new());
    assert_eq!(names("workspace_members"), expected);
    assert_eq!(names("workspace_default_members"), expected);
}
