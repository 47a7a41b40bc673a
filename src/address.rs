//! What may name a host on the network: an IP address or a DNS host name. Values
//! that reach `ssh`, `pg_hba.conf` and connection strings as an address pass here.

use std::net::IpAddr;

/// A DNS host name (RFC 1123): dot-separated labels of letters, digits and `-`,
/// none starting or ending with `-`, at most 253 characters.
pub fn is_host_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// An IP address or a host name.
pub fn is_address(text: &str) -> bool {
    text.parse::<IpAddr>().is_ok() || is_host_name(text)
}

/// A cluster's virtual IP (`cluster_vip: ADDRESS/PREFIX`), which only its
/// primary holds, on `interface` or, when none is given, on the interface that
/// holds the host's own address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct VirtualIp {
    pub address: IpAddr,
    pub prefix: u8,
    pub interface: Option<String>,
}

impl VirtualIp {
    /// Reads `ADDRESS/PREFIX`; `Err` says what is wrong.
    pub fn parse(text: &str, interface: Option<&str>) -> Result<VirtualIp, String> {
        let (address, prefix) = text
            .split_once('/')
            .ok_or_else(|| format!("must be ADDRESS/PREFIX (10.0.0.100/24), not {text:?}"))?;
        let address: IpAddr = address
            .parse()
            .map_err(|_| format!("{address:?} is not an IP address"))?;
        let longest = if address.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|prefix| (1..=longest).contains(prefix))
            .ok_or_else(|| format!("the prefix {prefix:?} must be a number from 1 to {longest}"))?;
        if let Some(name) = interface
            && !is_interface_name(name)
        {
            return Err(format!(
                "`cluster_vip_interface` {name:?} is not a network interface name (letters, digits, `.`, `-`, `_`, `@`, `:`; at most 15)"
            ));
        }
        Ok(VirtualIp {
            address,
            prefix,
            interface: interface.map(str::to_string),
        })
    }

    /// `10.0.0.100/24`, as `ip addr` takes it.
    pub fn cidr(&self) -> String {
        format!("{}/{}", self.address, self.prefix)
    }
}

/// A Linux network interface name as `ip` accepts it (IFNAMSIZ: at most 15
/// bytes), from the characters interfaces are named with.
pub fn is_interface_name(text: &str) -> bool {
    !text.is_empty()
        && text.len() <= 15
        && !text.starts_with('-')
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@:".contains(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_ip_is_an_address_a_prefix_and_maybe_an_interface() {
        let vip = VirtualIp::parse("10.77.0.100/24", None).expect("valid");
        assert_eq!(vip.cidr(), "10.77.0.100/24");
        assert_eq!(
            VirtualIp::parse("fd00::100/64", Some("eth0")).map(|vip| vip.interface),
            Ok(Some("eth0".to_string()))
        );
        for (text, interface, error) in [
            ("10.77.0.100", None, "must be ADDRESS/PREFIX"),
            ("10.77.0.300/24", None, "is not an IP address"),
            ("10.77.0.100/33", None, "from 1 to 32"),
            (
                "10.77.0.100/24",
                Some("eth0; reboot"),
                "is not a network interface name",
            ),
            (
                "10.77.0.100/24",
                Some("-x"),
                "is not a network interface name",
            ),
        ] {
            let found = VirtualIp::parse(text, interface);
            assert!(
                found.as_ref().is_err_and(|found| found.contains(error)),
                "{text} {interface:?}: {found:?}"
            );
        }
    }

    #[test]
    fn addresses_and_host_names_are_told_from_the_rest() {
        for good in ["10.0.0.1", "fd00::1", "db1", "db-1.example.org", "h1"] {
            assert!(is_address(good), "{good}");
        }
        for bad in [
            "",
            "-oProxyCommand=x",
            "db 1",
            "$(id)",
            "db1.",
            "a..b",
            "-db",
            "db-",
            "all 0.0.0.0/0 trust",
            "host\nname",
        ] {
            assert!(!is_address(bad), "{bad:?}");
        }
    }
}
