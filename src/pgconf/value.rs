//! A setting's value as the server holds it: a value written in a configuration
//! file (`'1GB'`, `on`, `5min`) read into the setting's base unit, as PostgreSQL's
//! `parse_int`, `parse_real` and `parse_bool` do, so a value written differently but
//! meaning the same is not a change; and a base-unit value shown as `SHOW` shows it.

/// How the server types a setting (`pg_settings.vartype` and `unit`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind<'a> {
    pub vartype: &'a str,
    pub unit: &'a str,
}

/// The value `written` stands for, in a form equal for equal meanings: a number in
/// the setting's base unit, `on`/`off`, a lower-cased enum label, or the text.
/// `None` when the text is no value of that kind (PostgreSQL would reject it).
pub fn canonical(written: &str, kind: Kind) -> Option<String> {
    let written = written.trim();
    match kind.vartype {
        "bool" => boolean(written).map(|on| if on { "on" } else { "off" }.to_string()),
        "integer" => number(written, kind.unit).map(|value| format!("{}", value.round())),
        "real" => number(written, kind.unit).map(|value| format!("{value}")),
        "enum" => Some(written.to_ascii_lowercase()),
        _ => Some(written.to_string()),
    }
}

/// Whether a written value means what the server's value (in base units) means.
pub fn same(written: &str, observed: &str, kind: Kind) -> bool {
    match (canonical(written, kind), canonical(observed, kind)) {
        (Some(written), Some(observed)) => written == observed,
        _ => written.trim() == observed.trim(),
    }
}

/// A base-unit value as `SHOW` prints it: memory and time in the largest unit
/// that divides it (`16384` of `8kB` is `128MB`), anything else as it is.
pub fn shown(value: &str, kind: Kind) -> String {
    let Ok(number) = value.trim().parse::<i64>() else {
        return value.to_string();
    };
    let Some((scale, family)) = base_unit(kind.unit) else {
        return value.to_string();
    };
    if number <= 0 {
        return value.to_string();
    }
    let units: &[(&str, f64)] = match family {
        Family::Memory => MEMORY_UNITS,
        Family::Time => TIME_UNITS,
    };
    let amount = number as f64 * scale;
    for (name, size) in units.iter().rev() {
        let count = amount / size;
        if count >= 1.0 && count.fract() == 0.0 {
            return format!("{count}{name}");
        }
    }
    value.to_string()
}

/// The unit names a value of a setting whose base unit is `unit` may carry
/// (`8kB`: B, kB, MB, GB, TB), or `None` for a setting without a unit.
pub fn unit_names(unit: &str) -> Option<Vec<&'static str>> {
    let units = match base_unit(unit)?.1 {
        Family::Memory => MEMORY_UNITS,
        Family::Time => TIME_UNITS,
    };
    Some(units.iter().map(|(name, _)| *name).collect())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    Memory,
    Time,
}

/// Memory units in bytes, time units in milliseconds, smallest first.
const MEMORY_UNITS: &[(&str, f64)] = &[
    ("B", 1.0),
    ("kB", 1024.0),
    ("MB", 1024.0 * 1024.0),
    ("GB", 1024.0 * 1024.0 * 1024.0),
    ("TB", 1024.0 * 1024.0 * 1024.0 * 1024.0),
];
const TIME_UNITS: &[(&str, f64)] = &[
    ("us", 0.001),
    ("ms", 1.0),
    ("s", 1000.0),
    ("min", 60_000.0),
    ("h", 3_600_000.0),
    ("d", 86_400_000.0),
];

/// A base unit such as `8kB` or `ms`: how many bytes or milliseconds one is.
fn base_unit(unit: &str) -> Option<(f64, Family)> {
    let digits = unit.len() - unit.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    let (count, name) = unit.split_at(digits);
    let count: f64 = if count.is_empty() {
        1.0
    } else {
        count.parse().ok()?
    };
    unit_size(name).map(|(size, family)| (count * size, family))
}

fn unit_size(name: &str) -> Option<(f64, Family)> {
    MEMORY_UNITS
        .iter()
        .find(|(unit, _)| *unit == name)
        .map(|(_, size)| (*size, Family::Memory))
        .or_else(|| {
            TIME_UNITS
                .iter()
                .find(|(unit, _)| *unit == name)
                .map(|(_, size)| (*size, Family::Time))
        })
}

/// A number with an optional unit, in the base unit: `1GB` of a setting in `8kB`
/// is 131072. A unit of the wrong family, or a unit on a setting without one, is no
/// number. Hexadecimal (`0x1F`) and octal (`017`) integers are read as PostgreSQL's
/// `strtol` reads them.
fn number(written: &str, unit: &str) -> Option<f64> {
    let split = written
        .find(|c: char| c.is_ascii_alphabetic() && !is_number_letter(written, c))
        .unwrap_or(written.len());
    let (amount, suffix) = written.split_at(split);
    let amount = parse_amount(amount.trim())?;
    let suffix = suffix.trim();
    if suffix.is_empty() {
        return Some(amount);
    }
    let (base, base_family) = base_unit(unit)?;
    let (size, family) = unit_size(suffix)?;
    (family == base_family).then(|| amount * size / base)
}

/// `e` of an exponent and `x` and hex digits of a hexadecimal number are part of the number.
fn is_number_letter(written: &str, c: char) -> bool {
    let hex = written.trim_start_matches(['-', '+']).starts_with("0x");
    (hex && (c == 'x' || c.is_ascii_hexdigit())) || (!hex && (c == 'e' || c == 'E'))
}

fn parse_amount(text: &str) -> Option<f64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let value = if let Some(hex) = digits.strip_prefix("0x") {
        i64::from_str_radix(hex, 16).ok()? as f64
    } else if digits.len() > 1
        && digits.starts_with('0')
        && digits.chars().all(|c| c.is_ascii_digit())
    {
        i64::from_str_radix(digits, 8).ok()? as f64
    } else {
        digits.parse::<f64>().ok()?
    };
    Some(if negative { -value } else { value })
}

/// PostgreSQL's `parse_bool`: `on`, `off`, `true`, `false`, `yes`, `no`, `1`, `0`,
/// and any unique prefix of them, in any case.
fn boolean(written: &str) -> Option<bool> {
    let lower = written.to_ascii_lowercase();
    match lower.as_str() {
        "1" => return Some(true),
        "0" => return Some(false),
        "" | "o" => return None,
        _ => {}
    }
    let words = [
        ("on", true),
        ("off", false),
        ("true", true),
        ("false", false),
        ("yes", true),
        ("no", false),
    ];
    let matching: Vec<bool> = words
        .iter()
        .filter(|(word, _)| word.starts_with(lower.as_str()))
        .map(|(_, value)| *value)
        .collect();
    match matching.as_slice() {
        [value] => Some(*value),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MEMORY_8KB: Kind = Kind {
        vartype: "integer",
        unit: "8kB",
    };
    const SECONDS: Kind = Kind {
        vartype: "integer",
        unit: "s",
    };

    #[test]
    fn memory_reads_into_the_base_unit() {
        assert_eq!(canonical("128MB", MEMORY_8KB).as_deref(), Some("16384"));
        assert_eq!(canonical("1GB", MEMORY_8KB).as_deref(), Some("131072"));
        assert_eq!(canonical("16384", MEMORY_8KB).as_deref(), Some("16384"));
        assert!(same("128MB", "16384", MEMORY_8KB));
        assert!(!same("256MB", "16384", MEMORY_8KB));
        let megabytes = Kind {
            vartype: "integer",
            unit: "MB",
        };
        assert!(same("1GB", "1024", megabytes));
    }

    #[test]
    fn time_reads_into_the_base_unit() {
        assert!(same("5min", "300", SECONDS));
        assert!(same("1h", "3600", SECONDS));
        assert!(!same("5ms", "300", SECONDS));
    }

    #[test]
    fn a_unit_of_the_wrong_family_is_no_value() {
        assert_eq!(canonical("5min", MEMORY_8KB), None);
        let plain = Kind {
            vartype: "integer",
            unit: "",
        };
        assert_eq!(canonical("5MB", plain), None);
        assert_eq!(canonical("0x10", plain).as_deref(), Some("16"));
    }

    #[test]
    fn booleans_read_like_parse_bool() {
        let kind = Kind {
            vartype: "bool",
            unit: "",
        };
        for on in ["on", "ON", "true", "t", "yes", "y", "1"] {
            assert_eq!(canonical(on, kind).as_deref(), Some("on"), "{on}");
        }
        for off in ["off", "of", "false", "f", "no", "n", "0"] {
            assert_eq!(canonical(off, kind).as_deref(), Some("off"), "{off}");
        }
        assert_eq!(canonical("o", kind), None);
        assert_eq!(canonical("maybe", kind), None);
    }

    #[test]
    fn enums_compare_without_case_and_strings_exactly() {
        let level = Kind {
            vartype: "enum",
            unit: "",
        };
        assert!(same("Replica", "replica", level));
        let text = Kind {
            vartype: "string",
            unit: "",
        };
        assert!(!same("Europe/Paris", "europe/paris", text));
    }

    #[test]
    fn values_are_shown_as_show_shows_them() {
        assert_eq!(shown("16384", MEMORY_8KB), "128MB");
        assert_eq!(shown("16385", MEMORY_8KB), "131080kB");
        assert_eq!(shown("300", SECONDS), "5min");
        assert_eq!(shown("-1", SECONDS), "-1");
        let level = Kind {
            vartype: "enum",
            unit: "",
        };
        assert_eq!(shown("replica", level), "replica");
    }
}
