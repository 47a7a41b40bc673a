//! The cluster's virtual IP (`cluster_vip`): only the primary holds it. Every
//! other member lets it go first (`virtual_ip_release`), then the primary takes
//! it and announces it with a gratuitous ARP (`virtual_ip`, which waits for
//! every member's release: two hosts never hold it at once through
//! pgconverge). `switchover` and `promote` move it with the same operations.
//! Root runs `ip addr` and `arping` with the address and interface as
//! arguments; no path is read or written.

use super::{Action, Change, PlanContext, PlannedStep, RemoteOperation, StepInput};
use crate::address::VirtualIp;
use crate::diagnostic::Diagnostic;
use crate::facts::InterfaceAddress;
use crate::script::{HostScript, Script};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualIpStep {
    pub vip: VirtualIp,
}

/// Adds the virtual IP on `interface` (or, when `None`, on the interface that
/// holds `host_address`, found when it runs) unless it is there, and announces it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HoldVirtualIp {
    pub vip: VirtualIp,
    pub host_address: String,
}

/// Removes the virtual IP from whichever interface holds it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReleaseVirtualIp {
    pub vip: VirtualIp,
}

/// Where `vip` is on the host, from its facts.
fn held<'a>(vip: &VirtualIp, addresses: &'a [InterfaceAddress]) -> Option<&'a InterfaceAddress> {
    let address = vip.address.to_string();
    addresses.iter().find(|found| found.address() == address)
}

impl Action for VirtualIpStep {
    fn desire(input: &StepInput) -> Result<VirtualIpStep, Diagnostic> {
        let vip = input.settings.virtual_ip.clone().ok_or_else(|| {
            (input.problem)(
                "the virtual IP step needs `cluster_vip` (its `when` should say so)".into(),
            )
        })?;
        Ok(VirtualIpStep { vip })
    }

    fn plan(&self, context: &PlanContext) -> PlannedStep {
        let cidr = self.vip.cidr();
        let Some(addresses) = context.facts.addresses.as_deref() else {
            return PlannedStep::refused(format!(
                "the host's addresses could not be read (`ip -o addr show`): where {cidr} is cannot be told"
            ));
        };
        let found = held(&self.vip, addresses);
        if context.host.upstream.is_some() {
            return match found {
                Some(found) => PlannedStep::change(
                    Change::Update,
                    format!(
                        "remove virtual IP {cidr} from {}: only the primary holds it",
                        found.interface
                    ),
                    ReleaseVirtualIp {
                        vip: self.vip.clone(),
                    },
                ),
                None => PlannedStep::noop(format!("does not hold virtual IP {cidr}")),
            };
        }
        if let Some(found) = found {
            return PlannedStep::noop(format!("holds virtual IP {cidr} on {}", found.interface));
        }
        let host_address = context.host.address;
        let interface = self.vip.interface.clone().or_else(|| {
            addresses
                .iter()
                .find(|candidate| candidate.address() == host_address)
                .map(|candidate| candidate.interface.clone())
        });
        let Some(interface) = interface else {
            return PlannedStep::refused(format!(
                "no interface holds {host_address}, the host's address: set `cluster_vip_interface`"
            ));
        };
        let announced = if !self.vip.address.is_ipv4() {
            " (IPv6: neighbours learn it by solicitation)"
        } else if context.facts.arping {
            ", announced with a gratuitous ARP"
        } else {
            " (arping is not installed: neighbours learn it when their ARP entries expire)"
        };
        PlannedStep::change(
            Change::Create,
            format!("add virtual IP {cidr} on {interface}{announced}"),
            HoldVirtualIp {
                vip: VirtualIp {
                    interface: Some(interface),
                    ..self.vip.clone()
                },
                host_address: host_address.to_string(),
            },
        )
    }
}

impl RemoteOperation for HoldVirtualIp {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "virtual_ip_hold",
            include_str!("scripts/virtual_ip_hold.sh"),
            "root",
        )
        .text("VIP_CIDR", &self.vip.cidr())
        .text("VIP_ADDRESS", &self.vip.address.to_string())
        .text("VIP_INTERFACE", self.vip.interface.as_deref().unwrap_or(""))
        .text("HOST_ADDRESS", &self.host_address)
        .flag("ANNOUNCE", self.vip.address.is_ipv4());
        Ok(vec![HostScript::own(script)])
    }
}

impl RemoteOperation for ReleaseVirtualIp {
    fn scripts(&self) -> Result<Vec<HostScript>, String> {
        let script = Script::new(
            "virtual_ip_release",
            include_str!("scripts/virtual_ip_release.sh"),
            "root",
        )
        .text("VIP_CIDR", &self.vip.cidr());
        Ok(vec![HostScript::own(script)])
    }
}

#[cfg(test)]
mod tests {
    use crate::facts::InterfaceAddress;
    use crate::plan::check::{Fixture, THREE_HOSTS, check};

    fn with_vip() -> Fixture {
        Fixture::converged_with(
            &THREE_HOSTS.replace("  vars:\n", "  vars:\n    cluster_vip: 10.0.0.100/24\n"),
        )
    }

    fn addresses(cidrs: &[&str]) -> Vec<InterfaceAddress> {
        cidrs
            .iter()
            .map(|cidr| InterfaceAddress {
                interface: "eth0".into(),
                cidr: cidr.to_string(),
            })
            .collect()
    }

    fn on(fixture: Fixture, host: &str, cidrs: &[&str], arping: bool) -> Fixture {
        let list = addresses(cidrs);
        fixture.edit(host, move |facts| {
            facts.addresses = Some(list);
            facts.arping = arping;
        })
    }

    #[test]
    fn the_primary_takes_the_virtual_ip_once_every_other_member_let_it_go() {
        let fixture = on(with_vip(), "db1", &["10.0.0.11/24"], true);
        let fixture = on(fixture, "db2", &["10.0.0.12/24", "10.0.0.100/24"], false);
        let fixture = on(fixture, "db3", &["10.0.0.13/24"], false);
        let primary = check(&fixture, "db1", "virtual_ip");
        assert!(
            primary
                .contains("add virtual IP 10.0.0.100/24 on eth0, announced with a gratuitous ARP"),
            "{primary}"
        );
        let standby = check(&fixture, "db2", "virtual_ip_release");
        assert!(
            standby
                .contains("remove virtual IP 10.0.0.100/24 from eth0: only the primary holds it"),
            "{standby}"
        );
        let other = check(&fixture, "db3", "virtual_ip_release");
        assert!(
            other.contains("does not hold virtual IP 10.0.0.100/24"),
            "{other}"
        );
        // The primary's step waits for every member's release.
        let plan = fixture.plan();
        let waits: Vec<String> = plan
            .dependencies
            .iter()
            .find(|(node, _)| node.host == "db1" && node.step == "virtual_ip")
            .map(|(_, before)| {
                before
                    .iter()
                    .map(|node| format!("{}/{}", node.host, node.step))
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            waits.contains(&"db2/virtual_ip_release".to_string())
                && waits.contains(&"db3/virtual_ip_release".to_string()),
            "{waits:?}"
        );
    }

    #[test]
    fn a_primary_that_holds_it_is_left_alone_and_one_without_its_interface_is_refused() {
        let held = on(with_vip(), "db1", &["10.0.0.11/24", "10.0.0.100/24"], true);
        assert!(
            check(&held, "db1", "virtual_ip").contains("holds virtual IP 10.0.0.100/24 on eth0"),
        );
        let lost = on(with_vip(), "db1", &["192.168.1.5/24"], false);
        let text = check(&lost, "db1", "virtual_ip");
        assert!(
            text.contains("refused: no interface holds 10.0.0.11, the host's address: set `cluster_vip_interface`"),
            "{text}"
        );
        let unread = with_vip().edit("db1", |facts| facts.addresses = None);
        assert!(
            check(&unread, "db1", "virtual_ip")
                .contains("refused: the host's addresses could not be read")
        );
    }
}
