//! "Did you mean" suggestions for misspelt names, by edit distance.
//!
//! The distance is Levenshtein's (`strsim::levenshtein`): the fewest single-character
//! insertions, deletions and substitutions that turn one name into the other, counted in
//! characters rather than bytes.

/// The candidate closest to `name`, if it is within two edits (near enough to
/// be a typo, far enough apart that unrelated names are not suggested) and no
/// other candidate is as close, since a guess between equals would mislead.
pub fn closest<'a>(name: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    closest_within(name, candidates, 2)
}

/// As [`closest`], for a name that may well be meant as written (a variable of
/// another role in a shared inventory): one edit for a name under ten characters,
/// so that `app_port` is not taken for `pg_port`, two for a longer one.
pub fn likely_typo<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let most_edits = if name.chars().count() < 10 { 1 } else { 2 };
    closest_within(name, candidates, most_edits)
}

fn closest_within<'a>(
    name: &str,
    candidates: impl IntoIterator<Item = &'a str>,
    most_edits: usize,
) -> Option<&'a str> {
    let mut best: Option<(usize, &str)> = None;
    let mut tied = false;
    for candidate in candidates {
        let distance = strsim::levenshtein(name, candidate);
        match best {
            _ if distance > most_edits => {}
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

    #[test]
    fn a_likely_typo_of_a_short_name_is_one_edit_away() {
        let names = ["pg_port", "upstream", "replication_user"];
        assert_eq!(likely_typo("upstrem", names), Some("upstream"));
        assert_eq!(likely_typo("app_port", names), None);
        assert_eq!(
            likely_typo("replicaton_usr", names),
            Some("replication_user")
        );
    }
}
