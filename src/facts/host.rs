//! What the host offers a server, whatever runs there: the PostgreSQL OS
//! user's passwd entry and the run lock's holder (read by the login, in the
//! outer part of the script: `run_lock_holder.sh`), PostgreSQL's binaries, the
//! memory, the libraries installed, the listening sockets and, when the cluster
//! has a virtual IP, each interface's addresses and `arping` (`host.sh`).

use super::parse::Records;
use super::{FactsRequest, HostFacts, InterfaceAddress, ListeningSocket};
use crate::script::Script;

/// Defines `emit_run_lock_holder`, which the outer part of the script calls.
pub(super) const RUN_LOCK_HOLDER: &str = include_str!("run_lock_holder.sh");

const SCRIPT: &str = include_str!("host.sh");

pub(super) fn ask(script: Script, request: &FactsRequest) -> Script {
    let virtual_ip = request
        .settings
        .virtual_ip
        .as_ref()
        .map(crate::address::VirtualIp::cidr)
        .unwrap_or_default();
    script.text("VIRTUAL_IP", &virtual_ip).piece(SCRIPT)
}

pub(super) fn read(records: &Records, facts: &mut HostFacts) {
    // The passwd entry's sixth field.
    facts.os_user_home = records
        .text("os_user.passwd")
        .and_then(|entry| entry.split(':').nth(5).map(str::to_string))
        .filter(|home| !home.is_empty());
    facts.postgres_installed = records.has("postgres_installed");
    facts.run_lock_holder = records.text("run_lock.holder");
    facts.memory_kb = records
        .text("memory_kb")
        .and_then(|kb| kb.trim().parse().ok());
    facts.installed_libraries = records.text("libraries").map(|list| {
        list.lines()
            .filter_map(|file| file.trim().strip_suffix(".so"))
            .map(str::to_string)
            .collect()
    });
    facts.listening = records
        .text("listening")
        .map(|lines| lines.lines().filter_map(listening_socket).collect());
    facts.addresses = records.text("addresses").map(|lines| {
        lines
            .lines()
            .filter_map(|line| line.split_once(' '))
            .map(|(interface, cidr)| InterfaceAddress {
                // `eth0@if12`: a veth's peer after the `@`, which `ip` does not take back.
                interface: interface.split('@').next().unwrap_or(interface).to_string(),
                cidr: cidr.trim().to_string(),
            })
            .collect()
    });
    facts.arping = records.has("arping");
}

/// One socket of `/proc/net/tcp` or `tcp6`: `0100007F:1538` is 127.0.0.1:5432. The
/// address is written as 32-bit words in the host's byte order, read here as
/// little-endian (x86 and ARM servers).
fn listening_socket(line: &str) -> Option<ListeningSocket> {
    let (address, port) = line.trim().split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::new();
    for index in (0..address.len()).step_by(8) {
        let word = u32::from_str_radix(address.get(index..index + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_le_bytes());
    }
    let address = match bytes.len() {
        4 => std::net::IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?),
        16 => std::net::IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?),
        _ => return None,
    };
    Some(ListeningSocket { address, port })
}
