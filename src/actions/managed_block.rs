//! A block of lines that pgconverge manages inside a file other tools or people
//! also edit (`authorized_keys`, `known_hosts`): the block is replaced, every line
//! outside it is kept as it was.

const BEGIN: &str = "# BEGIN pgconverge: managed block, edits inside are replaced";
const END: &str = "# END pgconverge";

/// The file with the managed block set to `lines` (appended when there was none).
pub fn with_block(existing: &str, lines: &[String]) -> String {
    let mut outside: Vec<&str> = Vec::new();
    let mut inside = false;
    for line in existing.lines() {
        match line {
            BEGIN => inside = true,
            END => inside = false,
            _ if !inside => outside.push(line),
            _ => {}
        }
    }
    let mut text: String = outside.iter().map(|line| format!("{line}\n")).collect();
    text.push_str(BEGIN);
    text.push('\n');
    for line in lines {
        text.push_str(line);
        text.push('\n');
    }
    text.push_str(END);
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_replaced_and_other_lines_kept() {
        let first = with_block(
            "ssh-ed25519 AAAA backup@barman\n",
            &["ssh-ed25519 BBBB postgres@h2".to_string()],
        );
        assert_eq!(
            first,
            format!(
                "ssh-ed25519 AAAA backup@barman\n{BEGIN}\nssh-ed25519 BBBB postgres@h2\n{END}\n"
            )
        );
        let second = with_block(&first, &["ssh-ed25519 CCCC postgres@h3".to_string()]);
        assert_eq!(
            second,
            format!(
                "ssh-ed25519 AAAA backup@barman\n{BEGIN}\nssh-ed25519 CCCC postgres@h3\n{END}\n"
            )
        );
        assert_eq!(
            with_block(&second, &["ssh-ed25519 CCCC postgres@h3".to_string()]),
            second,
            "idempotent"
        );
    }
}
