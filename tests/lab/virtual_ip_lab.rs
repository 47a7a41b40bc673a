//! End to end on the lab with `cluster_vip`: the virtual IP the hosts' owner
//! left on a standby is named by `status` and moved by `apply` to the primary
//! alone; a client that knows only that address writes to the primary after a
//! `switchover` and after a `promote` whose old primary's host is still
//! reached, and never finds it on two hosts; `apply` after each changes nothing.

use crate::support;

use std::process::Command;
use support::client;
use support::{Lab, Release, lab_available};

const VIP: &str = "10.77.0.100";
const MEMBERS: [&str; 3] = ["h1", "h2", "h3"];

/// The members that hold the virtual IP now.
fn holders(lab: &Lab) -> Vec<&'static str> {
    MEMBERS
        .into_iter()
        .filter(|host| {
            lab.ssh(host, "ip -o addr show")
                .lines()
                .any(|line| line.contains(&format!(" {VIP}/24 ")))
        })
        .collect()
}

/// Whether the server behind the virtual IP, reached from the machine as the
/// client does, accepts writes.
fn writable_behind_vip() -> Result<bool, String> {
    let output = Command::new("psql")
        .args([
            "-XAtq",
            &format!(
                "host={VIP} port=5432 dbname=postgres user={} connect_timeout=3",
                client::USER
            ),
            "-c",
            "select not pg_is_in_recovery()",
        ])
        .env("PGPASSWORD", client::PASSWORD)
        .output()
        .map_err(|error| format!("psql: {error}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim() == "t")
}

#[test]
fn the_virtual_ip_follows_the_primary_alone() {
    if !lab_available() {
        return;
    }
    let lab = Lab::up_on(3, Release::BOOKWORM_15);
    let directory =
        tempfile::tempdir().unwrap_or_else(|error| panic!("temporary directory: {error}"));
    let inventory = Release::BOOKWORM_15.example_inventory(directory.path());
    let text = std::fs::read_to_string(&inventory).unwrap_or_default();
    std::fs::write(
        &inventory,
        text.replacen(
            "    replication_user: replicator\n",
            &format!(
                "    replication_user: replicator\n    cluster_vip: {VIP}/24\n    pg_hba_extra:\n      - {}\n",
                client::HBA_LINE
            ),
            1,
        ),
    )
    .unwrap_or_else(|error| panic!("write the inventory: {error}"));
    let password = support::unique_password("vip");
    let run = |args: &[&str]| lab.run(&inventory, &password, args);

    // The address left on h2 by hand, as a host's owner may have done: status
    // names it, and the apply takes it from h2 before h1 takes it.
    lab.ssh("h2", &format!("ip addr add {VIP}/24 dev eth0"));
    let converge = run(&["apply"]);
    assert_eq!(converge.code, Some(0), "{converge}");
    assert!(
        converge.all().contains(&format!(
            "remove virtual IP {VIP}/24 from eth0: only the primary holds it"
        )) && converge
            .all()
            .contains(&format!("add virtual IP {VIP}/24 on eth0")),
        "{converge}"
    );
    assert_eq!(holders(&lab), ["h1"]);
    lab.exec_sql("h1", client::SETUP_SQL);
    lab.eventually(30, "the primary behind the virtual IP", || {
        writable_behind_vip() == Ok(true)
    });
    let again = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{again}");

    // Left on h3 again: a disagreement that status names, and check counts critical.
    lab.ssh("h3", &format!("ip addr add {VIP}/24 dev eth0"));
    let status = run(&["status"]);
    assert_eq!(status.code, Some(2), "{status}");
    assert!(
        status.all().contains(&format!(
            "the virtual IP {VIP}/24 is on h1 and h3, and only h1, the primary, should hold it"
        )),
        "{status}"
    );
    let moved = run(&["apply"]);
    assert_eq!(moved.code, Some(0), "{moved}");
    assert_eq!(holders(&lab), ["h1"]);

    // A switchover moves it with the primary role.
    let switchover = run(&["switchover", "h2"]);
    assert_eq!(switchover.code, Some(0), "{switchover}");
    assert_eq!(holders(&lab), ["h2"], "{switchover}");
    lab.eventually(30, "the new primary behind the virtual IP", || {
        writable_behind_vip() == Ok(true)
    });
    let again = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(again.code, Some(0), "{again}");

    // A failover: h2's postmaster killed, its host still reached; promote
    // takes the address from h2 before h3 takes it.
    lab.ssh(
        "h2",
        "kill -9 $(head -n 1 /var/lib/postgresql/15/main/postmaster.pid)",
    );
    let promote = run(&["promote", "h3", "--write-inventory"]);
    assert_eq!(promote.code, Some(0), "{promote}");
    assert_eq!(holders(&lab), ["h3"], "{promote}");
    lab.eventually(30, "the promoted primary behind the virtual IP", || {
        writable_behind_vip() == Ok(true)
    });
    // The virtual-ip entry point `connections` prints, from the inventory
    // alone, reaches it (libpq asks for read-write as well).
    let uri = client::entry_point_uri(&inventory, &password, "virtual-ip")
        .unwrap_or_else(|error| panic!("{error}"));
    assert!(uri.contains(&format!("@{VIP}:5432/")), "{uri}");
    let through = Command::new("psql")
        .args(["-XAtq", "-d", &format!("{uri}&connect_timeout=3"), "-c"])
        .arg("select not pg_is_in_recovery()")
        .env("PGPASSWORD", client::PASSWORD)
        .output()
        .expect("psql runs");
    assert_eq!(
        String::from_utf8_lossy(&through.stdout).trim(),
        "t",
        "{}",
        String::from_utf8_lossy(&through.stderr)
    );
    let rejoin = run(&["apply"]);
    assert_eq!(rejoin.code, Some(0), "{rejoin}");
    assert_eq!(holders(&lab), ["h3"], "{rejoin}");
    let converged = run(&["apply", "--detailed-exitcode"]);
    assert_eq!(converged.code, Some(0), "{converged}");
}
