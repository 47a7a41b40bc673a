//! "Did you mean" suggestions for misspelt names, by edit distance.

/// The candidate closest to `name`, if it is within two edits (near enough to
/// be a typo, far enough apart that unrelated names are not suggested) and no
/// other candidate is as close, since a guess between equals would mislead.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    const MOST_EDITS: usize = 2;
    let mut best: Option<(usize, &str)> = None;
    let mut tied = false;
    for candidate in candidates {
        let distance = edit_distance(name, candidate);
        match best {
            _ if distance > MOST_EDITS => {}
            Some((closest, _)) if distance > closest => {}
            Some((closest, _)) if distance == closest => tied = true,
            _ => {
                best = Some((distance, candidate));
                tied = false;
            }
        }
    }
    best.filter(|_| !tied).map(|(_, candidate)| candidate)
}

/// Levenshtein distance: the fewest single-character insertions, deletions and
/// substitutions that turn `from` into `to`.
fn edit_distance(from: &str, to: &str) -> usize {
    let to: Vec<char> = to.chars().collect();
    // `previous[j]` is the distance between the first i-1 characters of `from`
    // and the first j characters of `to`; one row is all the table needs.
    let mut previous: Vec<usize> = (0..=to.len()).collect();
    for (i, from_char) in from.chars().enumerate() {
        let mut current = vec![i + 1];
        for (j, to_char) in to.iter().enumerate() {
            let substitution = previous[j] + usize::from(from_char != *to_char);
            let deletion = previous[j + 1] + 1;
            let insertion = current[j] + 1;
            current.push(substitution.min(deletion).min(insertion));
        }
        previous = current;
    }
    previous[to.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_single_character_edits() {
        let cases = [
            ("", "", 0),
            ("abc", "abc", 0),
            ("", "abc", 3),
            ("pg_verison", "pg_version", 2),
            ("pg_prot", "pg_port", 2),
            ("kitten", "sitting", 3),
            ("é", "e", 1),
        ];
        for (from, to, expected) in cases {
            assert_eq!(edit_distance(from, to), expected, "{from} -> {to}");
            assert_eq!(edit_distance(to, from), expected, "{to} -> {from}");
        }
    }

    #[test]
    fn closest_suggests_only_near_names() {
        let names = ["pg_version", "pg_port", "pg_data_dir"];
        assert_eq!(closest("pg_verison", names), Some("pg_version"));
        assert_eq!(closest("pg_datadir", names), Some("pg_data_dir"));
        assert_eq!(closest("pg_something", names), None);
        assert_eq!(closest("anything", []), None);
        assert_eq!(
            closest("db9", ["db1", "db2"]),
            None,
            "a tie suggests nothing"
        );
        assert_eq!(closest("db9", ["dbxx1", "db9x"]), Some("db9x"));
    }
}
