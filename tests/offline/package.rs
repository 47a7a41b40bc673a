//! The Debian package: `packaging/build-deb.sh` packages the binary these tests
//! use, dpkg installs the package into a scratch root, and the binary it
//! installed runs, with its manual pages and completions where Debian looks.
//! Needs cargo-deb and dpkg-dev (`tests/run.sh` installs both); fails without them.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const REPOSITORY: &str = env!("CARGO_MANIFEST_DIR");

fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|error| panic!("{command:?}: {error}"));
    assert!(
        output.status.success(),
        "{command:?} failed: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    output
}

fn stdout(command: &mut Command) -> String {
    String::from_utf8_lossy(&run(command).stdout).into_owned()
}

/// `dpkg` acting on the scratch root: its own database there, and no need to be
/// root. The dependencies (libc, openssh-client) are not in that database.
fn dpkg(root: &Path) -> Command {
    let mut command = Command::new("dpkg");
    command.arg(format!("--root={}", root.display())).args([
        "--force-not-root",
        "--force-depends",
        "--log=/dev/null",
    ]);
    command
}

/// The names of the files in a directory, sorted.
fn file_names(directory: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(directory)
        .unwrap_or_else(|error| panic!("read {}: {error}", directory.display()))
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn the_debian_package_installs_into_a_scratch_root_and_its_binary_runs() {
    let scratch =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let built = PathBuf::from(env!("CARGO_BIN_EXE_pgconverge"));

    // The binary the tests built, packaged as it is: no second (release) build.
    // `--fast` compresses lightly; the package's content is the same.
    let output = scratch.path().join("deb");
    run(Command::new("bash")
        .arg(Path::new(REPOSITORY).join("packaging/build-deb.sh"))
        .arg("--binary")
        .arg(&built)
        .arg("--output")
        .arg(&output)
        .args(["--", "--fast"]));
    let debs = file_names(&output);
    assert_eq!(
        debs.len(),
        1,
        "one package in {}: {debs:?}",
        output.display()
    );
    let deb = output.join(&debs[0]);

    let depends = stdout(
        Command::new("dpkg-deb")
            .arg("--field")
            .arg(&deb)
            .arg("Depends"),
    );
    assert!(depends.contains("openssh-client"), "Depends: {depends}");
    assert!(depends.contains("libc6"), "Depends: {depends}");

    // Installed by dpkg into a root of its own, as on a machine.
    let root = scratch.path().join("root");
    for directory in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(root.join(directory))
            .unwrap_or_else(|error| panic!("mkdir {directory}: {error}"));
    }
    for file in ["var/lib/dpkg/status", "var/lib/dpkg/available"] {
        std::fs::write(root.join(file), "").unwrap_or_else(|error| panic!("{file}: {error}"));
    }
    run(dpkg(&root).arg("--install").arg(&deb));
    let status = stdout(dpkg(&root).args(["--status", "pgconverge"]));
    assert!(status.contains("Status: install ok installed"), "{status}");

    // The installed binary runs and is the one packaged.
    let installed = root.join("usr/bin/pgconverge");
    let version = stdout(Command::new(&installed).arg("--version"));
    assert_eq!(version, stdout(Command::new(&built).arg("--version")));
    assert!(
        version.starts_with(&format!(
            "pgconverge {} (commit ",
            env!("CARGO_PKG_VERSION")
        )),
        "{version}"
    );

    // A manual page per page the binary writes (one per subcommand, which
    // tests/cli.rs checks), gzipped where man looks.
    let generated = scratch.path().join("man");
    run(Command::new(&installed)
        .arg("man")
        .arg("--dir")
        .arg(&generated));
    let expected: Vec<String> = file_names(&generated)
        .into_iter()
        .map(|name| format!("{name}.gz"))
        .collect();
    assert!(expected.len() > 10, "pages: {expected:?}");
    assert_eq!(file_names(&root.join("usr/share/man/man1")), expected);

    // Each shell's completions where its Debian package looks, as the installed
    // binary prints them.
    for (shell, path) in [
        ("bash", "usr/share/bash-completion/completions/pgconverge"),
        ("zsh", "usr/share/zsh/vendor-completions/_pgconverge"),
        (
            "fish",
            "usr/share/fish/vendor_completions.d/pgconverge.fish",
        ),
    ] {
        let file = std::fs::read_to_string(root.join(path))
            .unwrap_or_else(|error| panic!("{path}: {error}"));
        assert!(!file.is_empty(), "{path} is empty");
        assert_eq!(
            file,
            stdout(Command::new(&installed).args(["completions", shell])),
            "{path}"
        );
    }
    let copyright = std::fs::read_to_string(root.join("usr/share/doc/pgconverge/copyright"))
        .unwrap_or_else(|error| panic!("copyright: {error}"));
    assert!(
        copyright.contains("License: MIT or Apache-2.0"),
        "{copyright}"
    );

    // Removing it leaves none of its files.
    run(dpkg(&root).args(["--remove", "pgconverge"]));
    assert!(!installed.exists(), "the binary outlived its removal");
    assert!(!root.join("usr/share/man/man1/pgconverge.1.gz").exists());
}
