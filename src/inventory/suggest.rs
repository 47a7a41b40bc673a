//! "Did you mean" suggestions for misspelt names, by edit distance.
//!
//! The distance is Levenshtein's (`strsim::levenshtein`): the fewest single-character
//! insertions, deletions and substitutions that turn one name into the other, counted in
//! characters rather than bytes.

/// The candidate closest to `name`, if it is within two edits (near enough to
/// be a typo, far enough apart that unrelated names are not suggested) and no
/// other candidate is as close, since a guess between equals would mislead.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    const MOST_EDITS: usize = 2;
    let mut best: Option<(usize, &str)> = None;
    let mut tied = false;
    for candidate in candidates {
        let distance = strsim::levenshtein(name, candidate);
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The distance `closest` relies on: single-character edits, counted in characters.
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
            assert_eq!(strsim::levenshtein(from, to), expected, "{from} -> {to}");
            assert_eq!(strsim::levenshtein(to, from), expected, "{to} -> {from}");
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
