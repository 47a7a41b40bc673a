//! Records which commit the binary is built from, for `pgconverge --version`.
//!
//! It sets `PGCONVERGE_COMMIT` (the hash, 10 digits), `PGCONVERGE_COMMIT_DATE` (the
//! commit's date, UTC, `YYYY-MM-DD`) and `PGCONVERGE_VERSION_DETAIL` (the two as
//! `--version` shows them) for the crate. From a git checkout both come
//! from `git`; from a package (`cargo package`, crates.io) the hash comes from the
//! `.cargo_vcs_info.json` cargo wrote into it, and the date is `unknown`; with no
//! `git` or no repository both are `unknown`. The date is the commit's, not the
//! build's, so two builds of one commit are the same binary.
//!
//! The script reruns only when the commit checked out can have changed: when
//! `HEAD`, the branch it names or the packed refs change, never on an edit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=PGCONVERGE_COMMIT");
    println!("cargo:rerun-if-env-changed=PGCONVERGE_COMMIT_DATE");

    let (commit, date) = from_git(&manifest).unwrap_or_else(|| {
        // Outside a checkout, watch the checkout's `.git` that is not there, so
        // the script runs on every build of this directory. That costs a
        // package's one build little, and matters where `cargo package` verifies
        // the package in the checkout's target directory: cargo gives that build
        // the checkout's own fingerprint, and without a path that changes the
        // checkout would keep the package's answer after every later commit.
        println!("cargo:rerun-if-changed={}", manifest.join(".git").display());
        from_vcs_info(&manifest).unwrap_or_else(|| ("unknown".to_string(), "unknown".to_string()))
    });
    // A packager building from a tarball can name the commit (and its date).
    let commit = std::env::var("PGCONVERGE_COMMIT").unwrap_or(commit);
    let date = std::env::var("PGCONVERGE_COMMIT_DATE").unwrap_or(date);
    // What `--version` shows after the version: `(commit 0123456789, 2026-05-04)`.
    let detail = match (commit.as_str(), date.as_str()) {
        ("unknown", _) => "commit unknown".to_string(),
        (_, "unknown") => format!("commit {commit}, date unknown"),
        _ => format!("commit {commit}, {date}"),
    };
    println!("cargo:rustc-env=PGCONVERGE_COMMIT={commit}");
    println!("cargo:rustc-env=PGCONVERGE_COMMIT_DATE={date}");
    println!("cargo:rustc-env=PGCONVERGE_VERSION_DETAIL={detail}");
}

/// Runs `git` in the manifest's directory; `None` when it fails or prints nothing.
fn git(manifest: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        // The commit's date in UTC wherever it is built.
        .env("TZ", "UTC")
        .arg("-C")
        .arg(manifest)
        .args(args)
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// The commit and its date when the manifest is the top of a git checkout. A
/// package unpacked inside another repository (`cargo package` verifies it in
/// `target/package/`) is not that repository's commit, so it must be the top.
fn from_git(manifest: &Path) -> Option<(String, String)> {
    let top = git(manifest, &["rev-parse", "--show-toplevel"])?;
    let same = |path: &Path| path.canonicalize().ok();
    if same(Path::new(&top)) != same(manifest) {
        return None;
    }
    // `--git-path` finds each file where git keeps it, also in a worktree (HEAD
    // in the worktree's directory, the branches in the common one).
    watch(manifest, "HEAD", false);
    watch(manifest, "packed-refs", false);
    if let Some(branch) = git(manifest, &["symbolic-ref", "-q", "HEAD"]) {
        watch(manifest, &branch, true);
    }
    let commit = git(manifest, &["rev-parse", "--short=10", "HEAD"])?;
    let date = git(
        manifest,
        &[
            "log",
            "-1",
            "--no-show-signature",
            "--date=format-local:%Y-%m-%d",
            "--format=%cd",
            "HEAD",
        ],
    )
    .unwrap_or_else(|| "unknown".to_string());
    Some((commit, date))
}

/// Reruns the script when a file of the repository changes. A file that does not
/// exist is not watched, as cargo would rerun the script on every build for it;
/// for a branch (`or_above`: one only in `packed-refs` until its next commit) the
/// nearest directory above it is, as the next commit writes the file there.
fn watch(manifest: &Path, name: &str, or_above: bool) {
    let Some(path) = git(
        manifest,
        &["rev-parse", "--path-format=absolute", "--git-path", name],
    ) else {
        return;
    };
    let path = Path::new(&path);
    let watched = if or_above {
        path.ancestors().find(|path| path.exists())
    } else {
        path.exists().then_some(path)
    };
    if let Some(existing) = watched {
        println!("cargo:rerun-if-changed={}", existing.display());
    }
}

/// The commit `cargo package` recorded in `.cargo_vcs_info.json`; its date is
/// not recorded.
fn from_vcs_info(manifest: &Path) -> Option<(String, String)> {
    let text = std::fs::read_to_string(manifest.join(".cargo_vcs_info.json")).ok()?;
    let after = text.split("\"sha1\"").nth(1)?;
    let hash: String = after
        .trim_start_matches(|c: char| c == ':' || c == '"' || c.is_whitespace())
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .take(10)
        .collect();
    (hash.len() == 10).then(|| (hash, "unknown".to_string()))
}
