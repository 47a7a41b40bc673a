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

#[cfg(test)]
mod tests {
    use super::*;

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
