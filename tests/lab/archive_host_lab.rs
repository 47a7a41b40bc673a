//! End to end on the lab: WAL archived to a separate archive host over SSH, with
//! keys exchanged between the postgres accounts; an archive-only standby replays
//! from it; cut off, the archive host fails the verification by name; back, a
//! second apply changes nothing.

use crate::support;

use support::{Lab, lab_available, pgconverge, repository};

fn inventory(directory: &std::path::Path) -> String {
    let example = std::fs::read_to_string(repository().join("inventory.example.yaml"))
        .unwrap_or_else(|error| panic!("example inventory: {error}"));
    let text = example
        .replace("    replication_user: replicator\n", "    replication_user: replicator\n    wal_archive: { host: h4, path: /srv/wal_archive }\n")
        .replace("h3: { ansible_host: 10.77.0.13 }", "h3: { ansible_host: 10.77.0.13, replication_mode: archive }\n    archive:\n      hosts:\n        h4: { ansible_host: 10.77.0.14 }");
    assert!(
        text.contains("wal_archive: { host: h4")
            && text.contains("h4: { ansible_host: 10.77.0.14 }"),
        "the example inventory changed shape:\n{text}"
    );
    let path = directory.join("archive_host.yaml");
    std::fs::write(&path, text).unwrap_or_else(|error| panic!("write: {error}"));
    path.display().to_string()
}

#[test]
fn wal_reaches_an_archive_host_over_ssh_and_its_loss_is_named() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up(4);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let inventory = inventory(directory.path());
    let ssh_config = lab.ssh_config().display().to_string();
    let password = format!("pw-archive-host-{}", std::process::id());
    let mut outputs = Vec::new();
    let mut run = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([
            "-i",
            &inventory,
            "--ssh-config",
            &ssh_config,
            "--connect-timeout",
            "3",
            "--detailed-exitcode",
        ]);
        let run = pgconverge(&all, &password);
        outputs.push(run.all());
        run
    };

    let converge = run(&["apply"]);
    assert_eq!(converge.code, Some(2), "{converge}");
    assert!(
        converge.stderr.contains("ok h1/verify_archive: segment")
            && converge
                .stderr
                .contains("reached /srv/wal_archive on the archive host h4"),
        "{converge}"
    );
    assert!(
        converge.stdout.contains("make a key pair for postgres"),
        "{converge}"
    );

    // postgres on each node reaches every other node and the archive host without a password.
    for from in ["h1", "h2", "h3"] {
        for to in ["h1", "h2", "h3", "10.77.0.14"] {
            if from == to {
                continue;
            }
            let output = lab.ssh_output(from, &format!("cd / && runuser -u postgres -- ssh -o BatchMode=yes -o ConnectTimeout=5 postgres@{to} true"));
            assert!(
                output.status.success(),
                "postgres@{from} cannot reach postgres@{to}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
    }
    let private_key = lab.ssh("h1", "cat /var/lib/postgresql/.ssh/id_ed25519");

    // A row written on the primary reaches the archive-only standby through h4.
    lab.sql("h1", "create table archive_host_check (note text); insert into archive_host_check values ('through h4')");
    lab.sql("h1", "select pg_switch_wal()");
    lab.eventually(60, "the row reaches h3 through the archive host", || {
        let output = lab.ssh_output("h3", "cd / && runuser -u postgres -- psql -XAtq -d postgres -c 'select note from archive_host_check'");
        String::from_utf8_lossy(&output.stdout).trim() == "through h4"
    });
    assert!(
        lab.ssh("h4", "ls /srv/wal_archive").lines().count() >= 2,
        "segments are on the archive host"
    );
    assert_eq!(
        lab.sql("h1", "select failed_count from pg_stat_archiver"),
        "0"
    );
    let settled = run(&["apply"]);
    assert_eq!(settled.code, Some(0), "{settled}");

    // The archive host is cut off: the verification fails and names it; the other
    // hosts are reported.
    lab.command(&["cut", "h4"]);
    lab.sql(
        "h1",
        "insert into archive_host_check values ('while h4 is away'); select pg_switch_wal()",
    );
    lab.eventually(60, "the archiver reports the failure", || {
        lab.sql("h1", "select failed_count > 0 from pg_stat_archiver") == "t"
    });
    let cut = run(&["apply"]);
    assert_eq!(cut.code, Some(1), "{cut}");
    assert!(
        cut.stdout
            .contains("h4 (10.77.0.14, archive host)\n  unreachable: cannot connect to h4"),
        "{cut}"
    );
    assert!(
        cut.stdout.contains("failed h1/verify_archive")
            && cut.stdout.contains("on the archive host h4 fails"),
        "{cut}"
    );

    // Back on the network, the archiver catches up and a second apply changes nothing.
    lab.command(&["heal", "h4"]);
    let back = run(&["apply"]);
    assert_eq!(back.code, Some(0), "{back}");
    lab.eventually(60, "the row written while h4 was away reaches h3", || {
        let output = lab.ssh_output("h3", "cd / && runuser -u postgres -- psql -XAtq -d postgres -c 'select count(*) from archive_host_check'");
        String::from_utf8_lossy(&output.stdout).trim() == "2"
    });

    let private_line = private_key.lines().nth(1).unwrap_or("no key").to_string();
    for output in &outputs {
        assert!(
            !output.contains(&password),
            "the password leaked:\n{output}"
        );
        assert!(
            !output.contains(&private_line),
            "a private key is in the output:\n{output}"
        );
    }
}
