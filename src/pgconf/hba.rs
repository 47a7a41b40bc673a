//! Reads `pg_hba.conf` as PostgreSQL does, into its rules, to keep a host's own rules
//! where they are while pgconverge's rules live in one managed block, to tell which
//! rules a new version adds and removes, and to find a host rule that comes first and
//! decides a connection a managed rule is meant for.

use std::net::IpAddr;

/// The first line of the block of rules pgconverge manages.
pub const BLOCK_BEGIN: &str = "# BEGIN pgconverge managed rules (replication, pg_rewind, pg_hba_extra): edits here are undone";
/// The last line of the block.
pub const BLOCK_END: &str = "# END pgconverge managed rules";

/// One rule of `pg_hba.conf`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// 1-based line number in the file.
    pub line: usize,
    /// `local`, `host`, `hostssl`, `hostnossl`, `hostgssenc` or `hostnogssenc`.
    pub kind: String,
    pub databases: Vec<String>,
    pub users: Vec<String>,
    /// The address field (with its mask when written as `ADDRESS MASK`); none for `local`.
    pub address: Option<String>,
    pub method: String,
    /// The rule's fields joined by one space: the same rule however it is aligned.
    pub text: String,
    /// The rule is inside pgconverge's managed block.
    pub managed: bool,
}

/// The rules of a `pg_hba.conf` text, in file order.
pub fn rules(text: &str) -> Vec<Rule> {
    let mut rules = Vec::new();
    let mut in_block = false;
    for (index, line) in text.lines().enumerate() {
        if line.trim_end() == BLOCK_BEGIN {
            in_block = true;
            continue;
        }
        if line.trim_end() == BLOCK_END {
            in_block = false;
            continue;
        }
        let fields = fields(line);
        if let Some(rule) = rule(index + 1, &fields, in_block) {
            rules.push(rule);
        }
    }
    rules
}

/// The fields of one line: split on blanks, a double-quoted field kept whole (its
/// quotes kept, so `"all"` stays a name and not the keyword), a comment cut.
fn fields(line: &str) -> Vec<String> {
    let mut fields = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    for character in line.chars() {
        match character {
            '"' => {
                in_quotes = !in_quotes;
                current.push(character);
            }
            '#' if !in_quotes => break,
            c if c.is_whitespace() && !in_quotes => {
                if !current.is_empty() {
                    fields.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if !current.is_empty() {
        fields.push(current);
    }
    fields
}

fn rule(line: usize, fields: &[String], managed: bool) -> Option<Rule> {
    let kind = fields.first()?.clone();
    let list = |field: Option<&String>| -> Vec<String> {
        field
            .map(|field| field.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    };
    let (address, method_index) = if kind == "local" {
        (None, 3)
    } else if !kind.starts_with("host") {
        return None;
    } else {
        let address = fields.get(3)?.clone();
        let mask = fields.get(4).filter(|mask| {
            !address.contains('/')
                && address.parse::<IpAddr>().is_ok()
                && mask.parse::<IpAddr>().is_ok()
        });
        match mask {
            Some(mask) => (Some(format!("{address} {mask}")), 5),
            None => (Some(address), 4),
        }
    };
    Some(Rule {
        line,
        kind,
        databases: list(fields.get(1)),
        users: list(fields.get(2)),
        address,
        method: fields.get(method_index)?.clone(),
        text: fields.join(" "),
        managed,
    })
}

/// The file with `block` (the managed rules, without the markers) as its managed
/// block: in place of the block it has, or appended after the host's rules. Every
/// other line stays where it is. An unclosed block is an error naming its line.
pub fn with_block(current: &str, block: &str) -> Result<String, String> {
    let mut lines: Vec<&str> = current.lines().collect();
    let begin = lines.iter().position(|line| line.trim_end() == BLOCK_BEGIN);
    let end = lines.iter().position(|line| line.trim_end() == BLOCK_END);
    let mut managed = vec![BLOCK_BEGIN];
    managed.extend(block.lines());
    managed.push(BLOCK_END);
    match (begin, end) {
        (Some(begin), Some(end)) if begin < end => {
            lines.splice(begin..=end, managed);
        }
        (None, None) => {
            if lines.last().is_some_and(|line| !line.trim().is_empty()) {
                lines.push("");
            }
            lines.extend(managed);
        }
        (Some(begin), _) => {
            return Err(format!(
                "line {} opens pgconverge's managed block, and no line after it closes it with {BLOCK_END:?}",
                begin + 1
            ));
        }
        (None, Some(end)) => {
            return Err(format!(
                "line {} closes pgconverge's managed block, and no line before it opens it",
                end + 1
            ));
        }
    }
    let mut text = lines.join("\n");
    text.push('\n');
    Ok(text)
}

/// Rules of `new` that `old` does not have, and rules of `old` that `new` does not
/// have, each compared by its fields.
pub fn rule_changes(old: &str, new: &str) -> (Vec<Rule>, Vec<Rule>) {
    let old = rules(old);
    let new = rules(new);
    let has = |rules: &[Rule], rule: &Rule| rules.iter().any(|other| other.text == rule.text);
    let added = new
        .iter()
        .filter(|rule| !has(&old, rule))
        .cloned()
        .collect();
    let removed = old
        .iter()
        .filter(|rule| !has(&new, rule))
        .cloned()
        .collect();
    (added, removed)
}

/// For each managed rule, the first earlier host rule that PostgreSQL would use
/// instead for a connection the managed rule is meant for, when it decides it
/// differently (`reject`, or another method).
pub fn shadowed(text: &str) -> Vec<(Rule, Rule)> {
    let all = rules(text);
    let mut found = Vec::new();
    for (index, managed) in all.iter().enumerate().filter(|(_, rule)| rule.managed) {
        let first = all[..index]
            .iter()
            .find(|earlier| !earlier.managed && covers(earlier, managed));
        if let Some(earlier) = first
            && earlier.method != managed.method
        {
            found.push((earlier.clone(), managed.clone()));
        }
    }
    found
}

/// `earlier` matches some connection `managed` is meant for.
fn covers(earlier: &Rule, managed: &Rule) -> bool {
    kinds_overlap(&earlier.kind, &managed.kind)
        && managed
            .databases
            .iter()
            .all(|database| matches_database(&earlier.databases, database))
        && managed
            .users
            .iter()
            .all(|user| matches_name(&earlier.users, user))
        && match (&earlier.address, &managed.address) {
            (Some(earlier), Some(managed)) => address_covers(earlier, managed),
            (None, None) => true,
            _ => false,
        }
}

fn kinds_overlap(earlier: &str, managed: &str) -> bool {
    match (earlier, managed) {
        ("local", other) | (other, "local") => other == "local",
        ("host", _) | (_, "host") => true,
        (earlier, managed) => earlier == managed,
    }
}

/// `all` matches every database but not a replication connection, which only the
/// keyword `replication` matches.
fn matches_database(list: &[String], database: &str) -> bool {
    if database == "replication" {
        return list.iter().any(|entry| entry == "replication");
    }
    list.iter().any(|entry| entry == "all" || entry == database)
}

fn matches_name(list: &[String], name: &str) -> bool {
    list.iter().any(|entry| entry == "all" || entry == name)
}

/// The earlier address field matches every address the managed one names.
fn address_covers(earlier: &str, managed: &str) -> bool {
    if earlier == "all" || earlier == managed {
        return true;
    }
    match (network(earlier), network(managed)) {
        (Some((earlier, earlier_bits)), Some((managed, managed_bits))) => {
            earlier_bits <= managed_bits && same_prefix(earlier, managed, earlier_bits)
        }
        _ => false,
    }
}

/// An address field as a network: `10.0.0.0/8`, or `ADDRESS MASK`.
fn network(field: &str) -> Option<(IpAddr, u32)> {
    if let Some((address, mask)) = field.split_once(' ') {
        let address: IpAddr = address.parse().ok()?;
        let bits = match mask.parse::<IpAddr>().ok()? {
            IpAddr::V4(mask) => u32::from(mask).count_ones(),
            IpAddr::V6(mask) => u128::from(mask).count_ones(),
        };
        return Some((address, bits));
    }
    let (address, bits) = field.split_once('/')?;
    Some((address.parse().ok()?, bits.parse().ok()?))
}

fn same_prefix(a: IpAddr, b: IpAddr, bits: u32) -> bool {
    match (a, b) {
        (IpAddr::V4(a), IpAddr::V4(b)) => {
            let mask = u32::MAX.checked_shl(32 - bits.min(32)).unwrap_or(0);
            u32::from(a) & mask == u32::from(b) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(b)) => {
            let mask = u128::MAX.checked_shl(128 - bits.min(128)).unwrap_or(0);
            u128::from(a) & mask == u128::from(b) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: &str = "# the host's rules\nlocal   all   postgres   peer\nhost    appdb app 10.77.0.0/24 scram-sha-256   # the application\n";

    #[test]
    fn rules_are_read_with_their_lines() {
        let found = rules(HOST);
        assert_eq!(found.len(), 2);
        assert_eq!(found[1].line, 3);
        assert_eq!(found[1].text, "host appdb app 10.77.0.0/24 scram-sha-256");
        assert_eq!(found[1].address.as_deref(), Some("10.77.0.0/24"));
        let masked = rules("host all all 10.0.0.0 255.0.0.0 md5\n");
        assert_eq!(masked[0].address.as_deref(), Some("10.0.0.0 255.0.0.0"));
        assert_eq!(masked[0].method, "md5");
    }

    #[test]
    fn the_block_is_appended_once_and_replaced_in_place() {
        let first = with_block(
            HOST,
            "host replication replicator 10.77.0.12/32 scram-sha-256",
        )
        .unwrap_or_default();
        assert!(first.starts_with(HOST), "{first}");
        assert!(first.ends_with(&format!("{BLOCK_END}\n")), "{first}");
        let edited = first.replace(HOST, "") + "host all all 0.0.0.0/0 reject\n";
        let second = with_block(
            &edited,
            "host replication replicator 10.77.0.13/32 scram-sha-256",
        )
        .unwrap_or_default();
        assert!(!second.contains("10.77.0.12"), "{second}");
        assert!(second.contains("10.77.0.13/32"), "{second}");
        assert!(
            second.ends_with("host all all 0.0.0.0/0 reject\n"),
            "{second}"
        );
        assert_eq!(
            with_block(
                &second,
                "host replication replicator 10.77.0.13/32 scram-sha-256"
            ),
            Ok(second.clone())
        );
    }

    #[test]
    fn an_unclosed_block_is_refused() {
        let text = format!("{BLOCK_BEGIN}\nhost all all 0.0.0.0/0 trust\n");
        let error = with_block(&text, "").err().unwrap_or_default();
        assert!(error.starts_with("line 1 opens"), "{error}");
    }

    #[test]
    fn added_and_removed_rules_are_found() {
        let old = "local all postgres peer\nhost all all 10.0.0.0/8 md5\n";
        let new = "local   all  postgres  peer\nhost all all 10.0.0.0/8 scram-sha-256\n";
        let (added, removed) = rule_changes(old, new);
        assert_eq!(added.len(), 1);
        assert_eq!(added[0].method, "scram-sha-256");
        assert_eq!(removed[0].method, "md5");
    }

    #[test]
    fn an_earlier_host_rule_that_decides_otherwise_is_found() {
        let text = with_block(
            "host replication all 10.77.0.0/24 reject\nhost all all 10.0.0.0/8 md5\nhost all all 0.0.0.0/0 scram-sha-256\n",
            "host replication replicator 10.77.0.12/32 scram-sha-256\nhost postgres replicator 10.77.0.12/32 scram-sha-256\nhost appdb app 192.168.0.0/16 scram-sha-256",
        )
        .unwrap_or_default();
        let found = shadowed(&text);
        let lines: Vec<(usize, String)> = found
            .iter()
            .map(|(earlier, managed)| (earlier.line, managed.databases.join(",")))
            .collect();
        // The reject decides replication, which `all` does not match; the md5 line
        // decides rewind connections from 10.77.0.12 (inside 10/8); nothing earlier
        // matches 192.168/16, and the last host line agrees with the managed method.
        assert_eq!(
            lines,
            vec![(1, "replication".to_string()), (2, "postgres".to_string())]
        );
    }

    #[test]
    fn all_does_not_match_replication_and_local_is_not_host() {
        let text = with_block(
            "host all all 0.0.0.0/0 md5\nlocal all all trust\n",
            "host replication replicator 10.0.0.2/32 scram-sha-256\nlocal all postgres peer\nhost postgres replicator 10.0.0.2/32 scram-sha-256",
        )
        .unwrap_or_default();
        let found = shadowed(&text);
        let found: Vec<(usize, &str)> = found
            .iter()
            .map(|(earlier, managed)| (earlier.line, managed.kind.as_str()))
            .collect();
        assert_eq!(found, vec![(2, "local"), (1, "host")]);
    }
}
