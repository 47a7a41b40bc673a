//! Ansible Vault: decrypting `!vault` values and vault-encrypted files with the
//! passwords given by `--vault-password-file`, `ANSIBLE_VAULT_PASSWORD_FILE`
//! or `--vault-id label@file`.
//!
//! The format (1.1, and 1.2 which adds a label to the header): a header line
//! `$ANSIBLE_VAULT;1.1;AES256`, then hex text that decodes to three hex lines,
//! the salt, the HMAC and the ciphertext. PBKDF2-HMAC-SHA256 of the password
//! with the salt (10000 rounds) gives 80 bytes: the AES-256 key, the HMAC-SHA256
//! key and the CTR mode's initial counter block. The HMAC of the ciphertext is
//! checked before anything is decrypted, so a wrong password is recognised, and
//! the plaintext is PKCS#7-padded.

use crate::Sensitive;
use crate::files::VarsFile;
use crate::layout::Document;
use crate::report::{Problems, location};
use crate::resolve::ResolvedHost;
use crate::yaml::{Node, NodeValue};
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde_json::Value;
use sha2::Sha256;
use std::path::{Path, PathBuf};

/// What every vault text starts with.
const HEADER: &str = "$ANSIBLE_VAULT;";
const ROUNDS: u32 = 10_000;

/// The vault passwords given, each with its label (`default` when none).
#[derive(Debug, Clone, Default)]
pub struct Passwords {
    passwords: Vec<(String, Sensitive<Vec<u8>>)>,
}

/// Where a password comes from: a file, with the label of `--vault-id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordSource {
    /// The vault id whose vaults the password opens first (`prod`), or none.
    pub label: Option<String>,
    /// The file holding the password, whitespace around it dropped.
    pub file: PathBuf,
}

impl PasswordSource {
    /// `label@file` or `file`, as `--vault-id` takes it.
    pub fn from_vault_id(text: &str) -> PasswordSource {
        match text.split_once('@') {
            Some((label, file)) => PasswordSource {
                label: Some(label.to_string()),
                file: PathBuf::from(file),
            },
            None => PasswordSource {
                label: None,
                file: PathBuf::from(text),
            },
        }
    }
}

/// Why a vault could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VaultError {
    /// A vault, and no password to try.
    #[error(
        "it is encrypted with Ansible Vault and no vault password was given: use `--vault-password-file FILE` (or `ANSIBLE_VAULT_PASSWORD_FILE`, or `--vault-id label@FILE`)"
    )]
    NoPassword,
    /// No password given opens the vault.
    #[error("no vault password given opens it (a wrong password, or another vault id)")]
    WrongPassword,
    /// Not a vault Ansible writes, and why.
    #[error("it is not a vault Ansible writes: {0}")]
    Malformed(String),
    /// A password file that cannot be read, or is refused.
    #[error("cannot read the vault password file `{file}`: {reason}")]
    PasswordFile {
        /// The file.
        file: PathBuf,
        /// Why it cannot be read.
        reason: String,
    },
}

impl Passwords {
    /// Reads every password file. An executable file is not run (Ansible would
    /// run it as a script): it is refused, with `program`, the name of the
    /// program reading the inventory, in the message.
    pub fn read(sources: &[PasswordSource], program: &str) -> Result<Passwords, VaultError> {
        let mut passwords = Passwords::default();
        for source in sources {
            let failed = |reason: String| VaultError::PasswordFile {
                file: source.file.clone(),
                reason,
            };
            if is_executable(&source.file) {
                return Err(failed(format!(
                    "it is executable, and {program} runs no password script: write the password into a file that is not executable"
                )));
            }
            let bytes = std::fs::read(&source.file).map_err(|error| failed(error.to_string()))?;
            let label = source
                .label
                .clone()
                .unwrap_or_else(|| "default".to_string());
            passwords.add(&label, trim(&bytes));
        }
        Ok(passwords)
    }

    /// Adds the password of vault id `label` (`default` for a vault without one).
    pub fn add(&mut self, label: &str, password: &[u8]) {
        self.passwords
            .push((label.to_string(), Sensitive::new(password.to_vec())));
    }

    /// Whether no password was given.
    pub fn is_empty(&self) -> bool {
        self.passwords.is_empty()
    }
}

/// Ansible strips the whitespace around a password read from a file.
fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|byte| !byte.is_ascii_whitespace());
    let end = bytes.iter().rposition(|byte| !byte.is_ascii_whitespace());
    match (start, end) {
        (Some(start), Some(end)) => &bytes[start..=end],
        _ => &[],
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path)
        .is_ok_and(|metadata| metadata.is_file() && metadata.permissions().mode() & 0o111 != 0)
}

/// Whether a text is a vault.
pub fn is_vault(text: &str) -> bool {
    text.trim_start().starts_with(HEADER)
}

/// The plaintext of a vault, as text.
pub fn decrypt(text: &str, passwords: &Passwords) -> Result<String, VaultError> {
    let mut lines = text.trim().lines();
    let header = lines.next().unwrap_or_default().trim();
    let fields: Vec<&str> = header.split(';').collect();
    let label = match fields.as_slice() {
        [_, "1.1", cipher] if cipher.trim() == "AES256" => None,
        [_, "1.2", cipher, label] if cipher.trim() == "AES256" => Some(label.trim()),
        _ => {
            return Err(VaultError::Malformed(format!(
                "the header `{header}` is not `$ANSIBLE_VAULT;1.1;AES256` or `$ANSIBLE_VAULT;1.2;AES256;LABEL`"
            )));
        }
    };
    if passwords.is_empty() {
        return Err(VaultError::NoPassword);
    }
    let body: String = lines.map(str::trim).collect();
    let inner = hex::decode(body.as_bytes())
        .map_err(|error| VaultError::Malformed(format!("the body is not hex: {error}")))?;
    let inner = String::from_utf8(inner)
        .map_err(|_| VaultError::Malformed("the body does not decode to text".to_string()))?;
    let parts: Vec<&str> = inner.split('\n').map(str::trim).collect();
    let [salt, mac, ciphertext] = parts.as_slice() else {
        return Err(VaultError::Malformed(
            "the body must hold a salt, an HMAC and the ciphertext".to_string(),
        ));
    };
    let unhex = |part: &str, what: &str| {
        hex::decode(part)
            .map_err(|error| VaultError::Malformed(format!("the {what} is not hex: {error}")))
    };
    let (salt, mac, ciphertext) = (
        unhex(salt, "salt")?,
        unhex(mac, "HMAC")?,
        unhex(ciphertext, "ciphertext")?,
    );
    // The password of the vault's own label first, then every other, as Ansible
    // tries them.
    let mut ordered: Vec<&Sensitive<Vec<u8>>> = Vec::new();
    ordered.extend(
        passwords
            .passwords
            .iter()
            .filter(|(known, _)| Some(known.as_str()) == label)
            .map(|(_, password)| password),
    );
    ordered.extend(
        passwords
            .passwords
            .iter()
            .filter(|(known, _)| Some(known.as_str()) != label)
            .map(|(_, password)| password),
    );
    for password in ordered {
        if let Some(plain) = open(password.expose(), &salt, &mac, &ciphertext)? {
            return String::from_utf8(plain)
                .map_err(|_| VaultError::Malformed("the plaintext is not UTF-8 text".to_string()));
        }
    }
    Err(VaultError::WrongPassword)
}

/// The plaintext, or `None` when the HMAC says the password is not this one.
fn open(
    password: &[u8],
    salt: &[u8],
    mac: &[u8],
    ciphertext: &[u8],
) -> Result<Option<Vec<u8>>, VaultError> {
    use ctr::cipher::{KeyIvInit as _, StreamCipher as _};
    let mut keys = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ROUNDS, &mut keys);
    let (cipher_key, rest) = keys.split_at(32);
    let (mac_key, counter) = rest.split_at(32);
    let mut check =
        Hmac::<Sha256>::new_from_slice(mac_key).expect("HMAC accepts keys of any length");
    check.update(ciphertext);
    if check.verify_slice(mac).is_err() {
        return Ok(None);
    }
    let mut plain = ciphertext.to_vec();
    let mut cipher =
        ctr::Ctr128BE::<aes::Aes256>::new_from_slices(cipher_key, counter).map_err(|_| {
            VaultError::Malformed("the key or counter has the wrong length".to_string())
        })?;
    cipher.apply_keystream(&mut plain);
    let padding = usize::from(plain.last().copied().unwrap_or(0));
    let padded = (1..=16).contains(&padding)
        && padding <= plain.len()
        && plain[plain.len() - padding..]
            .iter()
            .all(|byte| usize::from(*byte) == padding);
    if !padded {
        return Err(VaultError::Malformed(
            "the plaintext's padding is wrong".to_string(),
        ));
    }
    plain.truncate(plain.len() - padding);
    Ok(Some(plain))
}

/// The vault values of an inventory, once decrypted.
#[derive(Debug, Default)]
pub struct Decrypted {
    /// The names of the variables (or map keys) whose values were vaulted.
    pub names: Vec<String>,
    /// Their plaintexts.
    pub values: Vec<Sensitive<String>>,
}

impl Decrypted {
    /// Records the variables of `host` written in one of `encrypted_documents`
    /// (inventory files that were vaults whole) as secrets: their names and
    /// their values as text.
    pub fn add_encrypted(&mut self, host: &ResolvedHost, encrypted_documents: &[PathBuf]) {
        for (name, variable) in &host.vars {
            if !encrypted_documents.contains(&variable.location.file) {
                continue;
            }
            if !self.names.contains(name) {
                self.names.push(name.clone());
            }
            let text = match &variable.value {
                Value::String(text) => Some(text.clone()),
                Value::Number(number) => Some(number.to_string()),
                _ => None,
            };
            self.values.extend(text.map(Sensitive::new));
        }
    }
}

/// Replaces every vault value (`!vault`, or `{"__ansible_vault": ...}` as
/// `ansible-inventory --list` writes one) of `documents` and `vars_files` with
/// its plaintext, and returns what the inventory holds that is secret: each
/// plaintext, and every value of a vault-encrypted variables file. A vault that
/// cannot be opened is a problem naming the variable, and its value becomes
/// null, never the ciphertext. A plaintext that looks like a template stays
/// text, as Ansible never renders one.
pub fn decrypt_all(
    documents: &mut [Document],
    vars_files: &mut [VarsFile],
    passwords: &Passwords,
    problems: &mut Problems,
) -> Decrypted {
    let mut decrypted = Decrypted::default();
    for document in documents
        .iter_mut()
        .chain(vars_files.iter_mut().map(|file| &mut file.document))
    {
        decrypt_values(document, passwords, &mut decrypted, problems);
    }
    for file in vars_files.iter().filter(|file| file.encrypted) {
        secret_file(&file.document, &mut decrypted);
    }
    decrypted
}

/// Records every value of a vault-encrypted variables file as a secret: its
/// variables' names and every string in them.
fn secret_file(document: &Document, decrypted: &mut Decrypted) {
    fn strings(node: &Node, values: &mut Vec<Sensitive<String>>) {
        match &node.value {
            NodeValue::String(text) => values.push(Sensitive::new(text.clone())),
            NodeValue::Number(number) => values.push(Sensitive::new(number.to_string())),
            NodeValue::Sequence(items) => items.iter().for_each(|item| strings(item, values)),
            NodeValue::Mapping(entries) => entries
                .iter()
                .for_each(|entry| strings(&entry.value, values)),
            _ => {}
        }
    }
    for entry in document.root.as_mapping().unwrap_or_default() {
        if !decrypted.names.contains(&entry.key) {
            decrypted.names.push(entry.key.clone());
        }
        strings(&entry.value, &mut decrypted.values);
    }
}

/// Replaces every vault string in `document` (a `!vault` value) with its
/// plaintext, recording it as a secret; a vault that cannot be opened is a
/// problem naming the variable, and its value becomes empty, never the
/// ciphertext.
fn decrypt_values(
    document: &mut Document,
    passwords: &Passwords,
    decrypted: &mut Decrypted,
    problems: &mut Problems,
) {
    let path = document.path.clone();
    walk(
        &mut document.root,
        None,
        &path,
        passwords,
        decrypted,
        problems,
    );
}

fn walk(
    node: &mut Node,
    name: Option<&str>,
    path: &Path,
    passwords: &Passwords,
    decrypted: &mut Decrypted,
    problems: &mut Problems,
) {
    // `ansible-inventory --list` writes a vault value as `{"__ansible_vault": TEXT}`.
    if let NodeValue::Mapping(entries) = &node.value
        && let [entry] = entries.as_slice()
        && entry.key == "__ansible_vault"
        && let NodeValue::String(text) = &entry.value.value
    {
        node.value = NodeValue::String(text.clone());
    }
    match &mut node.value {
        NodeValue::String(text) if is_vault(text) => {
            let what = name.map_or_else(|| "a value".to_string(), |name| format!("`{name}`"));
            match decrypt(text, passwords) {
                Ok(plain) => {
                    if let Some(name) = name
                        && !decrypted.names.iter().any(|known| known == name)
                    {
                        decrypted.names.push(name.to_string());
                    }
                    // Ansible never renders a vault's plaintext as a template:
                    // one that looks like one is kept as it is.
                    *text = if crate::resolve::is_template(&plain) && !plain.contains("endraw") {
                        format!("{{% raw %}}{plain}{{% endraw %}}")
                    } else {
                        plain.clone()
                    };
                    decrypted.values.push(Sensitive::new(plain));
                }
                Err(error) => {
                    let message = format!("cannot decrypt {what}: {error}");
                    problems.add(location(path, Some(node.position)), message);
                    node.value = NodeValue::Null;
                }
            }
        }
        NodeValue::Sequence(items) => {
            for item in items {
                walk(item, name, path, passwords, decrypted, problems);
            }
        }
        NodeValue::Mapping(entries) => {
            for entry in entries {
                let key = entry.key.clone();
                walk(
                    &mut entry.value,
                    Some(&key),
                    path,
                    passwords,
                    decrypted,
                    problems,
                );
            }
        }
        _ => {}
    }
}

/// A vault of format 1.1 holding `plain`, as `ansible-vault encrypt` writes one
/// with the salt given. A vault anyone relies on needs 32 random bytes of salt;
/// a fixed one makes fixtures for tests.
pub fn encrypt(plain: &[u8], password: &[u8], salt: &[u8; 32]) -> String {
    use ctr::cipher::{KeyIvInit as _, StreamCipher as _};
    let mut keys = [0u8; 80];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ROUNDS, &mut keys);
    let (cipher_key, rest) = keys.split_at(32);
    let (mac_key, counter) = rest.split_at(32);
    let padding = 16 - plain.len() % 16;
    let mut ciphertext = plain.to_vec();
    ciphertext.extend(std::iter::repeat_n(padding as u8, padding));
    ctr::Ctr128BE::<aes::Aes256>::new_from_slices(cipher_key, counter)
        .expect("the key and counter lengths are AES-256-CTR's")
        .apply_keystream(&mut ciphertext);
    let mut mac = Hmac::<Sha256>::new_from_slice(mac_key).expect("HMAC takes any key");
    mac.update(&ciphertext);
    let inner = format!(
        "{}\n{}\n{}",
        hex::encode(salt),
        hex::encode(mac.finalize().into_bytes()),
        hex::encode(&ciphertext)
    );
    let body = hex::encode(inner);
    let lines: Vec<&str> = body
        .as_bytes()
        .chunks(80)
        .map(|chunk| std::str::from_utf8(chunk).expect("hex is ASCII"))
        .collect();
    format!("{HEADER}1.1;AES256\n{}\n", lines.join("\n"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `ansible-vault encrypt_string --vault-id prod@FILE 'the secret'` with the
    /// password `pgconverge`, and the same in format 1.1.
    const LABELLED: &str = include_str!("../tests/fixtures/prod-1.2.vault");
    const PLAIN: &str = include_str!("../tests/fixtures/default-1.1.vault");

    fn passwords(label: &str, password: &str) -> Passwords {
        let mut passwords = Passwords::default();
        passwords.add(label, password.as_bytes());
        passwords
    }

    #[test]
    fn both_formats_decrypt_with_the_right_password() {
        assert_eq!(
            decrypt(PLAIN, &passwords("default", "pgconverge")),
            Ok("the secret".to_string())
        );
        assert_eq!(
            decrypt(LABELLED, &passwords("prod", "pgconverge")),
            Ok("the secret".to_string())
        );
        // Any label's password is tried.
        assert_eq!(
            decrypt(LABELLED, &passwords("default", "pgconverge")),
            Ok("the secret".to_string())
        );
    }

    #[test]
    fn a_wrong_or_missing_password_is_an_error_not_the_ciphertext() {
        assert_eq!(
            decrypt(PLAIN, &passwords("default", "nope")),
            Err(VaultError::WrongPassword)
        );
        assert_eq!(
            decrypt(PLAIN, &Passwords::default()),
            Err(VaultError::NoPassword)
        );
        assert!(matches!(
            decrypt(
                "$ANSIBLE_VAULT;9.9;AES256\n00\n",
                &passwords("default", "x")
            ),
            Err(VaultError::Malformed(_))
        ));
    }

    #[test]
    fn password_files_are_trimmed() {
        assert_eq!(trim(b"  pw \n"), b"pw");
        assert_eq!(trim(b"\n"), b"");
    }

    #[test]
    fn an_encrypted_vault_decrypts() {
        let vault = encrypt(b"all:\n  vars: {a: 1}\n", b"pgconverge", &[7; 32]);
        assert_eq!(
            decrypt(&vault, &passwords("default", "pgconverge")),
            Ok("all:\n  vars: {a: 1}\n".to_string())
        );
    }
}
