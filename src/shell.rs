//! Shell quoting for the scripts sent to hosts, through `shlex`.

/// Quotes one word for a POSIX shell. Every value that comes from the inventory
/// or from a host passes through here before it is put into a script.
pub fn quote(word: &str) -> String {
    match shlex::try_quote(word) {
        Ok(quoted) => quoted.into_owned(),
        // shlex refuses only words with a NUL byte, which no path or name can hold;
        // quoting the rest keeps the script well-formed and the command fails visibly.
        Err(_) => shlex::try_quote(&word.replace('\0', ""))
            .map(|quoted| quoted.into_owned())
            .unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_survive_the_shell() {
        for word in ["plain", "with space", "it's", "$(rm -rf /)", "", "a\nb"] {
            let output = std::process::Command::new("sh")
                .arg("-c")
                .arg(format!("printf '%s' {}", quote(word)))
                .output()
                .expect("sh runs");
            assert_eq!(String::from_utf8_lossy(&output.stdout), word);
        }
    }
}
