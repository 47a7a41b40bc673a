//! Ansible's host ranges: `db[1:3]` is `db1`, `db2`, `db3`; `db[01:10:2]` keeps
//! the leading zeros and steps by 2; `node-[a:c]` counts letters. A name may
//! hold several ranges, which multiply.

/// More hosts than this from one name is surely a typo, and would otherwise
/// exhaust memory.
const MOST_HOSTS: usize = 10_000;

/// The host names a name stands for: itself, unless it holds a range.
pub fn expand(name: &str) -> Result<Vec<String>, String> {
    let mut names = Vec::new();
    match expand_into(name, &mut names) {
        Ok(()) => Ok(names),
        Err(Expansion::TooMany) => Err(format!(
            "host range `{name}` expands to more than {MOST_HOSTS} hosts"
        )),
        Err(Expansion::Malformed(message)) => Err(message),
    }
}

/// A host pattern and the port written after it, split as Ansible splits
/// `host:port` and `[host]:port`: only when what is before the port is an IPv4
/// address, a bracketed name or a host name (ranges allowed), so an IPv6 address
/// keeps its colons.
pub fn split_port(pattern: &str) -> (&str, Option<u64>) {
    let port_number = |port: &str| -> Option<u64> {
        if port.is_empty() || !port.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        port.parse().ok()
    };
    if let Some(rest) = pattern.strip_prefix('[')
        && let Some((host, port)) = rest.rsplit_once("]:")
        && let Some(port) = port_number(port)
    {
        return (host, Some(port));
    }
    let Some((host, port)) = pattern.rsplit_once(':') else {
        return (pattern, None);
    };
    match port_number(port) {
        Some(port) if is_host_pattern(host) => (host, Some(port)),
        _ => (pattern, None),
    }
}

/// A host name or IPv4 address, possibly with `[x:y]` ranges: labels of word
/// characters and `-`, separated by dots, and no colon outside a range.
fn is_host_pattern(text: &str) -> bool {
    let mut depth = 0usize;
    for character in text.chars() {
        match character {
            '[' => depth += 1,
            ']' if depth > 0 => depth -= 1,
            ':' if depth == 0 => return false,
            ':' => {}
            _ if depth > 0 => {}
            character if character.is_alphanumeric() || "_-.".contains(character) => {}
            _ => return false,
        }
    }
    !text.is_empty() && depth == 0
}

/// Why a name could not be expanded.
enum Expansion {
    TooMany,
    Malformed(String),
}

fn expand_into(name: &str, names: &mut Vec<String>) -> Result<(), Expansion> {
    let Some((head, range, tail)) = split_range(name) else {
        names.push(name.to_string());
        return Ok(());
    };
    for part in range_parts(range).map_err(Expansion::Malformed)? {
        expand_into(&format!("{head}{part}{tail}"), names)?;
        if names.len() > MOST_HOSTS {
            return Err(Expansion::TooMany);
        }
    }
    Ok(())
}

/// The text before, inside and after the first `[begin:end]` of a name.
fn split_range(name: &str) -> Option<(&str, &str, &str)> {
    let open = name.find('[')?;
    let close = open + name[open..].find(']')?;
    let range = &name[open + 1..close];
    range
        .contains(':')
        .then(|| (&name[..open], range, &name[close + 1..]))
}

/// The values of `begin:end` or `begin:end:step`, both ends included.
fn range_parts(range: &str) -> Result<Vec<String>, String> {
    let bounds: Vec<&str> = range.split(':').collect();
    let (begin, end, step) = match bounds.as_slice() {
        [begin, end] => (*begin, *end, "1"),
        [begin, end, step] => (*begin, *end, *step),
        _ => {
            return Err(format!(
                "host range `[{range}]` must be `[begin:end]` or `[begin:end:step]`"
            ));
        }
    };
    let step: usize = match step.parse() {
        Ok(step) if step > 0 => step,
        _ => {
            return Err(format!(
                "the step of host range `[{range}]` must be a positive whole number"
            ));
        }
    };
    if end.is_empty() {
        return Err(format!("host range `[{range}]` has no end"));
    }
    // An empty beginning counts from zero, as in Ansible.
    let begin = if begin.is_empty() { "0" } else { begin };
    if let (Ok(first), Ok(last)) = (begin.parse::<u64>(), end.parse::<u64>()) {
        return numbers(range, (begin, first), (end, last), step);
    }
    letters(range, begin, end, step)
}

fn numbers(
    range: &str,
    (begin, first): (&str, u64),
    (end, last): (&str, u64),
    step: usize,
) -> Result<Vec<String>, String> {
    // A leading zero asks for every number to be padded to the same width.
    let width = if begin.starts_with('0') && begin.len() > 1 {
        if end.len() != begin.len() {
            return Err(format!(
                "host range `[{range}]` pads with zeros, so its beginning and end must have the same width"
            ));
        }
        begin.len()
    } else {
        0
    };
    if first > last {
        return Err(format!("host range `[{range}]` ends before it begins"));
    }
    // Checked before counting, so that a range of billions is refused at once.
    let count = usize::try_from(last - first).map_or(usize::MAX, |span| span / step + 1);
    if count > MOST_HOSTS {
        return Err(format!(
            "host range `[{range}]` expands to more than {MOST_HOSTS} hosts"
        ));
    }
    Ok((first..=last)
        .step_by(step)
        .map(|number| format!("{number:0width$}"))
        .collect())
}

fn letters(range: &str, begin: &str, end: &str, step: usize) -> Result<Vec<String>, String> {
    let letter = |text: &str| {
        let mut chars = text.chars();
        match (chars.next(), chars.next()) {
            (Some(letter), None) if letter.is_ascii_alphabetic() => Some(letter),
            _ => None,
        }
    };
    let (Some(first), Some(last)) = (letter(begin), letter(end)) else {
        return Err(format!(
            "host range `[{range}]` must count numbers (`[1:3]`) or single letters (`[a:c]`)"
        ));
    };
    if first > last {
        return Err(format!("host range `[{range}]` ends before it begins"));
    }
    Ok((first..=last)
        .filter(char::is_ascii_alphabetic)
        .step_by(step)
        .map(String::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(name: &str, expected: Result<&[&str], &str>) {
        let expected = expected
            .map(|names| names.iter().map(|name| name.to_string()).collect())
            .map_err(str::to_string);
        assert_eq!(expand(name), expected, "{name}");
    }

    #[test]
    fn names_without_a_range_stand_for_themselves() {
        check("db1", Ok(&["db1"]));
        check("db[1]", Ok(&["db[1]"]));
        check("fe80::1", Ok(&["fe80::1"]));
    }

    #[test]
    fn ranges_expand_like_ansible() {
        check("db[1:3]", Ok(&["db1", "db2", "db3"]));
        check(
            "db[08:11:2].example.com",
            Ok(&["db08.example.com", "db10.example.com"]),
        );
        check("db[:2]", Ok(&["db0", "db1", "db2"]));
        check("node-[a:c]", Ok(&["node-a", "node-b", "node-c"]));
        check("r[1:2]n[a:b]", Ok(&["r1na", "r1nb", "r2na", "r2nb"]));
    }

    #[test]
    fn malformed_ranges_are_explained() {
        check(
            "db[1:2:3:4]",
            Err("host range `[1:2:3:4]` must be `[begin:end]` or `[begin:end:step]`"),
        );
        check(
            "db[1:3:0]",
            Err("the step of host range `[1:3:0]` must be a positive whole number"),
        );
        check("db[1:]", Err("host range `[1:]` has no end"));
        check(
            "db[01:100]",
            Err(
                "host range `[01:100]` pads with zeros, so its beginning and end must have the same width",
            ),
        );
        check("db[3:1]", Err("host range `[3:1]` ends before it begins"));
        check(
            "db[a:10]",
            Err("host range `[a:10]` must count numbers (`[1:3]`) or single letters (`[a:c]`)"),
        );
        check(
            "db[0:99999999]",
            Err("host range `[0:99999999]` expands to more than 10000 hosts"),
        );
        check(
            "a[0:999]b[0:99]",
            Err("host range `a[0:999]b[0:99]` expands to more than 10000 hosts"),
        );
    }
}
