//! SCRAM-SHA-256 password verifiers as PostgreSQL stores them in `pg_authid.rolpassword`.
//!
//! pgconverge manages a role's password without sending or printing the plaintext: it
//! checks whether the stored verifier already belongs to the desired password
//! ([`verifier_matches`]) and, only when it does not, derives a fresh verifier on the
//! controller ([`new_verifier`]) and sends that in `ALTER ROLE ... PASSWORD 'SCRAM-SHA-256$...'`.
//! PostgreSQL stores such a pre-hashed password as it is, so the plaintext never reaches
//! the server, its logs or `pg_stat_statements`.
//!
//! The text form is `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` with
//! standard padded base64, and the keys follow RFC 5802 and RFC 7677:
//!
//! ```text
//! SaltedPassword = PBKDF2-HMAC-SHA-256(password, salt, iterations)
//! StoredKey      = SHA-256(HMAC-SHA-256(SaltedPassword, "Client Key"))
//! ServerKey      = HMAC-SHA-256(SaltedPassword, "Server Key")
//! ```
//!
//! # SASLprep
//!
//! Before hashing, PostgreSQL (the server for `CREATE ROLE ... PASSWORD 'plaintext'`, and
//! libpq when it logs in) replaces the password by its SASLprep form (RFC 4013: map non-ASCII
//! spaces to U+0020, drop "mapped to nothing" characters, NFKC-normalise), and falls back to
//! the raw bytes when SASLprep rejects the password (prohibited or unassigned characters,
//! a failed bidirectional check, or nothing left after mapping). A pure ASCII password is
//! passed through unchanged without any check. This module implements no Unicode tables;
//! it hashes the raw UTF-8 bytes of the password, which is exactly what PostgreSQL hashes
//! whenever SASLprep leaves the password unchanged or rejects it. The consequences:
//!
//! - [`verifier_matches`] compares raw UTF-8 bytes for every password. A false "unchanged"
//!   is impossible for a verifier that PostgreSQL or libpq computed, because a match means
//!   the stored keys were derived from exactly these bytes, and SASLprep maps its own output
//!   to itself. A false "changed" happens when the password contains characters that
//!   SASLprep rewrites, such as a no-break space (U+00A0), a soft hyphen (U+00AD),
//!   superscripts, ligatures such as `ﬁ`, full-width forms or decomposed accents: PostgreSQL
//!   stored the rewritten form and this module never produces it. (A verifier computed by
//!   some other tool from the raw bytes of such a password could match here even though
//!   libpq cannot log in with it; PostgreSQL never produces one.)
//! - [`new_verifier`] must not produce a verifier that libpq cannot log in with, so it only
//!   accepts passwords whose SASLprep form is provably the password itself: ASCII, plus the
//!   Latin-1 letters and the Latin-1 symbols that have no compatibility decomposition (see
//!   [`is_saslprep_stable`]). Any other password is refused with
//!   [`ScramError::PasswordNotSaslprepStable`] rather than stored in a form that would
//!   never authenticate.
//!
//! Passwords are treated as UTF-8, as PostgreSQL's SASLprep does; this is what libpq sees
//! when the client's password is UTF-8 text.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};

/// The iteration count PostgreSQL uses for new verifiers: fixed at 4096 in PostgreSQL 15
/// and the default of `scram_iterations` from PostgreSQL 16 on.
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// The salt length, in bytes, that PostgreSQL uses for new verifiers.
pub const SALT_LENGTH: usize = 16;

/// The length of a SHA-256 digest, and so of StoredKey and ServerKey.
const KEY_LENGTH: usize = 32;

/// The prefix PostgreSQL writes before every SCRAM-SHA-256 verifier.
const MECHANISM_PREFIX: &str = "SCRAM-SHA-256$";

/// Why a stored password hash could not be read, or why a password cannot be hashed.
///
/// No variant carries key material or any part of the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    /// The stored text is something other than a SCRAM-SHA-256 verifier.
    #[error("password hash is {found}, not a SCRAM-SHA-256 verifier")]
    NotScramSha256 {
        /// A description of what was found, such as `empty` or `an MD5 hash`.
        found: &'static str,
    },

    /// The text starts like a SCRAM-SHA-256 verifier but does not have its shape.
    #[error(
        "SCRAM-SHA-256 verifier does not have the form `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`"
    )]
    Layout,

    /// The iteration count is not a decimal integer PostgreSQL could have written.
    #[error(
        "SCRAM-SHA-256 verifier has an iteration count that is not an integer from 1 to 2147483647"
    )]
    Iterations,

    /// A field is not canonical padded standard base64.
    #[error("SCRAM-SHA-256 verifier field {field} is not valid base64")]
    Base64 {
        /// The field: `salt`, `StoredKey` or `ServerKey`.
        field: &'static str,
    },

    /// The salt decodes to no bytes at all.
    #[error("SCRAM-SHA-256 verifier has an empty salt")]
    EmptySalt,

    /// A key does not decode to a SHA-256 digest.
    #[error("SCRAM-SHA-256 verifier field {field} is {length} bytes long, expected 32")]
    KeyLength {
        /// The field: `StoredKey` or `ServerKey`.
        field: &'static str,
        /// The decoded length.
        length: usize,
    },

    /// PostgreSQL clears the password instead of storing an empty one, and libpq does not
    /// send an empty password.
    #[error(
        "the password is empty; PostgreSQL cannot log in with an empty password, so set a non-empty one"
    )]
    EmptyPassword,

    /// PostgreSQL strings cannot contain NUL, and libpq would cut the password short there.
    #[error("the password contains a NUL character, which PostgreSQL cannot store; remove it")]
    PasswordContainsNul,

    /// The password contains a character whose SASLprep form this module cannot compute.
    #[error(
        "the password's character {position} is outside ASCII and the Latin-1 letters and symbols, which PostgreSQL's SASLprep may rewrite, so pgconverge cannot compute a verifier that logs in; choose a password made of ASCII and Latin-1 letters"
    )]
    PasswordNotSaslprepStable {
        /// The 1-based position of the first such character, counted in characters.
        position: usize,
    },
}

/// A SCRAM-SHA-256 password verifier: what PostgreSQL stores instead of a password.
///
/// [`fmt::Display`] writes PostgreSQL's text form, which includes the keys: treat it like
/// the password itself (it allows offline guessing and impersonating the server).
/// [`fmt::Debug`] leaves the keys out.
#[derive(Clone)]
pub struct ScramVerifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: [u8; KEY_LENGTH],
    server_key: [u8; KEY_LENGTH],
}

impl ScramVerifier {
    /// Reads PostgreSQL's text form, `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`.
    ///
    /// Anything this accepts is written back byte for byte by [`fmt::Display`]: base64 must be
    /// canonical and padded, and the iteration count plain decimal digits.
    ///
    /// # Errors
    ///
    /// Returns a [`ScramError`] describing the first problem found; the error never quotes
    /// the text, since it may hold key material.
    pub fn parse(text: &str) -> Result<Self, ScramError> {
        let Some(rest) = text.strip_prefix(MECHANISM_PREFIX) else {
            return Err(ScramError::NotScramSha256 {
                found: describe_non_scram(text),
            });
        };
        let (iterations_and_salt, keys) = rest.split_once('$').ok_or(ScramError::Layout)?;
        let (iterations_text, salt_text) = iterations_and_salt
            .split_once(':')
            .ok_or(ScramError::Layout)?;
        let (stored_key_text, server_key_text) = keys.split_once(':').ok_or(ScramError::Layout)?;
        // Base64 has neither `$` nor `:`, so a stray separator ends up inside a field and
        // fails to decode there.

        let iterations = parse_iterations(iterations_text)?;
        let salt = decode_base64("salt", salt_text)?;
        if salt.is_empty() {
            return Err(ScramError::EmptySalt);
        }
        let stored_key = decode_key("StoredKey", stored_key_text)?;
        let server_key = decode_key("ServerKey", server_key_text)?;
        Ok(Self {
            iterations,
            salt,
            stored_key,
            server_key,
        })
    }

    /// The PBKDF2 iteration count.
    #[must_use]
    pub fn iterations(&self) -> u32 {
        self.iterations
    }

    /// The salt. It is not secret: the server sends it to every client that tries to log in.
    #[must_use]
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// True if logging in with `password` would succeed against this verifier.
    ///
    /// The password is hashed as raw UTF-8 bytes; see the module documentation for what that
    /// means for non-ASCII passwords. Passwords PostgreSQL cannot store (empty, or containing
    /// NUL) never match. The keys are compared in constant time.
    #[must_use]
    pub fn matches(&self, password: &str) -> bool {
        if check_password_usable(password).is_err() {
            return false;
        }
        let derived = DerivedKeys::derive(password.as_bytes(), &self.salt, self.iterations);
        // Both comparisons always run, so the timing does not reveal which key differed.
        let stored_key_equal = constant_time_eq(&derived.stored_key, &self.stored_key);
        let server_key_equal = constant_time_eq(&derived.server_key, &self.server_key);
        stored_key_equal & server_key_equal
    }

    /// Derives the verifier for `password` with the given salt and iteration count.
    ///
    /// Callers check the password, the salt and the iteration count first.
    fn derive(password: &str, salt: Vec<u8>, iterations: u32) -> Self {
        let derived = DerivedKeys::derive(password.as_bytes(), &salt, iterations);
        Self {
            iterations,
            salt,
            stored_key: derived.stored_key,
            server_key: derived.server_key,
        }
    }
}

impl FromStr for ScramVerifier {
    type Err = ScramError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

impl fmt::Display for ScramVerifier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{MECHANISM_PREFIX}{}:{}${}:{}",
            self.iterations,
            BASE64.encode(&self.salt),
            BASE64.encode(self.stored_key),
            BASE64.encode(self.server_key),
        )
    }
}

impl fmt::Debug for ScramVerifier {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("ScramVerifier")
            .field("iterations", &self.iterations)
            .field("salt", &BASE64.encode(&self.salt))
            .field("stored_key", &"<redacted>")
            .field("server_key", &"<redacted>")
            .finish()
    }
}

impl PartialEq for ScramVerifier {
    fn eq(&self, other: &Self) -> bool {
        // The iteration count and the salt are public; only the keys need comparing in
        // constant time.
        let keys_equal = constant_time_eq(&self.stored_key, &other.stored_key)
            & constant_time_eq(&self.server_key, &other.server_key);
        self.iterations == other.iterations && self.salt == other.salt && keys_equal
    }
}

impl Eq for ScramVerifier {}

/// True only if `stored` (the text of `pg_authid.rolpassword`) is a SCRAM-SHA-256 verifier
/// that `password` produces with the stored salt and iteration count.
///
/// False means the password must be set: an MD5 hash, an empty string (pass `""` for a
/// NULL `rolpassword`), anything unparseable and a different password all give false.
#[must_use]
pub fn verifier_matches(stored: &str, password: &str) -> bool {
    ScramVerifier::parse(stored).is_ok_and(|verifier| verifier.matches(password))
}

/// Derives a verifier for `password` with a fresh random 16-byte salt and 4096 iterations,
/// as PostgreSQL 15 would, ready for `ALTER ROLE ... PASSWORD '<verifier>'`.
///
/// # Errors
///
/// Refuses passwords libpq could not log in with (empty, or containing NUL) and passwords
/// with characters that SASLprep may rewrite (see the module documentation), instead of
/// returning a verifier that never authenticates.
pub fn new_verifier(password: &str) -> Result<ScramVerifier, ScramError> {
    check_password(password)?;
    let mut salt = vec![0_u8; SALT_LENGTH];
    // `rand::fill` draws from the thread-local generator, a ChaCha-based CSPRNG seeded and
    // periodically reseeded from the operating system.
    rand::fill(&mut salt[..]);
    Ok(ScramVerifier::derive(password, salt, DEFAULT_ITERATIONS))
}

/// What `new_verifier` refuses, checked without making a verifier.
pub fn check_password(password: &str) -> Result<(), ScramError> {
    check_password_usable(password)?;
    if let Some(index) = password.chars().position(|c| !is_saslprep_stable(c)) {
        return Err(ScramError::PasswordNotSaslprepStable {
            position: index + 1,
        });
    }
    Ok(())
}

/// True if SASLprep maps `c` to itself wherever it appears in a password, so that hashing
/// the raw bytes of a password made of such characters gives what PostgreSQL computes.
///
/// These are ASCII (which PostgreSQL passes through without looking at it) and the Latin-1
/// characters from U+00A1 to U+00FF that have no compatibility decomposition. None of them
/// is mapped to nothing or to a space, NFKC leaves each of them alone and cannot combine
/// them with a neighbour (none is a combining mark), and none is right-to-left, so the
/// bidirectional check cannot fail. Excluded are U+0080 to U+00A0, U+00A8 `¨`, U+00AA `ª`,
/// U+00AD (soft hyphen), U+00AF `¯`, U+00B2 `²`, U+00B3 `³`, U+00B4 `´`, U+00B5 `µ`,
/// U+00B8 `¸`, U+00B9 `¹`, U+00BA `º` and U+00BC to U+00BE (fractions). NUL is handled
/// by the caller.
///
/// Checked against PostgreSQL 15.18: for every character from U+00A0 to U+00FF, the
/// verifier PostgreSQL stored for a password containing it matched the raw bytes exactly
/// when this function returns true.
#[must_use]
pub fn is_saslprep_stable(c: char) -> bool {
    matches!(
        c,
        '\u{0000}'..='\u{007F}'
            | '\u{00A1}'..='\u{00A7}'
            | '\u{00A9}'
            | '\u{00AB}'
            | '\u{00AC}'
            | '\u{00AE}'
            | '\u{00B0}'
            | '\u{00B1}'
            | '\u{00B6}'
            | '\u{00B7}'
            | '\u{00BB}'
            | '\u{00BF}'..='\u{00FF}'
    )
}

/// Checks what every password must satisfy before PostgreSQL or libpq will hash it.
fn check_password_usable(password: &str) -> Result<(), ScramError> {
    if password.is_empty() {
        return Err(ScramError::EmptyPassword);
    }
    if password.contains('\0') {
        return Err(ScramError::PasswordContainsNul);
    }
    Ok(())
}

/// Names what a non-SCRAM `rolpassword` is, without quoting any of it.
fn describe_non_scram(text: &str) -> &'static str {
    let is_md5 = text
        .strip_prefix("md5")
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|byte| byte.is_ascii_hexdigit()));
    if text.is_empty() {
        "empty"
    } else if is_md5 {
        "an MD5 hash"
    } else {
        "not a recognised password hash"
    }
}

/// Parses the iteration count as PostgreSQL could have written it: plain decimal digits
/// for a positive C `int`.
fn parse_iterations(text: &str) -> Result<u32, ScramError> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(ScramError::Iterations);
    }
    let iterations: u32 = text.parse().map_err(|_| ScramError::Iterations)?;
    // A leading zero would not survive a round trip through `Display`.
    if iterations == 0 || iterations > i32::MAX.unsigned_abs() || text.starts_with('0') {
        return Err(ScramError::Iterations);
    }
    Ok(iterations)
}

fn decode_base64(field: &'static str, text: &str) -> Result<Vec<u8>, ScramError> {
    BASE64
        .decode(text)
        .map_err(|_| ScramError::Base64 { field })
}

fn decode_key(field: &'static str, text: &str) -> Result<[u8; KEY_LENGTH], ScramError> {
    let bytes = decode_base64(field, text)?;
    let length = bytes.len();
    bytes
        .try_into()
        .map_err(|_| ScramError::KeyLength { field, length })
}

/// The two keys a verifier stores, derived from a password.
struct DerivedKeys {
    stored_key: [u8; KEY_LENGTH],
    server_key: [u8; KEY_LENGTH],
}

impl DerivedKeys {
    fn derive(password: &[u8], salt: &[u8], iterations: u32) -> Self {
        let mut salted_password = [0_u8; KEY_LENGTH];
        pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, &mut salted_password);
        let client_key = hmac_sha256(&salted_password, b"Client Key");
        Self {
            stored_key: Sha256::digest(client_key).into(),
            server_key: hmac_sha256(&salted_password, b"Server Key"),
        }
    }
}

fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; KEY_LENGTH] {
    // HMAC pads or hashes the key to the block size, so every key length is valid.
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}

/// Compares two keys without stopping at the first difference.
fn constant_time_eq(left: &[u8; KEY_LENGTH], right: &[u8; KEY_LENGTH]) -> bool {
    let difference = left
        .iter()
        .zip(right)
        .fold(0_u8, |accumulated, (a, b)| accumulated | (a ^ b));
    // `black_box` keeps the optimiser from turning the fold back into an early exit.
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `CREATE ROLE fixture_role PASSWORD 'correct horse battery staple'` on PostgreSQL 15.18
    /// with `password_encryption = 'scram-sha-256'`, read back from `pg_authid.rolpassword`.
    const POSTGRES_15_VERIFIER: &str = "SCRAM-SHA-256$4096:2Png6uc6GvbxdbPONWLPrg==$42MWVn4yithEmIWvVoZvo4LCJ0wqGK1wsF5T9o4AZbM=:te5vxCyX1pRl/o2mKcTRC+WTui3bN8IcQEzY+aLvtvM=";
    const POSTGRES_15_PASSWORD: &str = "correct horse battery staple";

    /// `CREATE ROLE fixture_short PASSWORD 'x'` on the same server.
    const POSTGRES_15_SHORT_VERIFIER: &str = "SCRAM-SHA-256$4096:ljx5nlB6t9CNCP+ggawjGQ==$mzS+1lu6L3w4SphOLRy3avq1S34Z6ZemtSuRhJTZEQQ=:43757JrBV/5mF2T3sLE1yS9UmA4XYBdkjJ3d8AUiSa4=";

    /// `CREATE ROLE fixture_md5 PASSWORD 'x'` on the same server with
    /// `password_encryption = 'md5'`.
    const POSTGRES_15_MD5: &str = "md5005c846f2758ce0a305feaec03882671";

    #[test]
    fn postgres_15_verifier_matches_its_password() {
        assert!(verifier_matches(POSTGRES_15_VERIFIER, POSTGRES_15_PASSWORD));
        assert!(verifier_matches(POSTGRES_15_SHORT_VERIFIER, "x"));
    }

    #[test]
    fn postgres_15_verifier_rejects_other_passwords() {
        for wrong in [
            "correct horse battery stapl",
            "correct horse battery staple ",
            "Correct horse battery staple",
            "x",
        ] {
            assert!(!verifier_matches(POSTGRES_15_VERIFIER, wrong), "{wrong:?}");
        }
        assert!(!verifier_matches(POSTGRES_15_SHORT_VERIFIER, "X"));
        assert!(!verifier_matches(
            POSTGRES_15_SHORT_VERIFIER,
            POSTGRES_15_PASSWORD
        ));
    }

    #[test]
    fn parse_then_display_reproduces_postgres_text() {
        for text in [POSTGRES_15_VERIFIER, POSTGRES_15_SHORT_VERIFIER] {
            let verifier = ScramVerifier::parse(text).expect("fixture parses");
            assert_eq!(verifier.to_string(), text);
            assert_eq!(verifier.iterations(), 4096);
            assert_eq!(verifier.salt().len(), 16);
            assert_eq!(text.parse::<ScramVerifier>(), Ok(verifier));
        }
    }

    #[test]
    fn new_verifier_round_trips_through_text_and_matches() {
        let password = "s3cret with spaces & 'quotes'";
        let verifier = new_verifier(password).expect("ASCII password is accepted");
        assert_eq!(verifier.iterations(), DEFAULT_ITERATIONS);
        assert_eq!(verifier.salt().len(), SALT_LENGTH);
        assert!(verifier.matches(password));
        assert!(!verifier.matches("s3cret with spaces & 'quotes''"));

        let text = verifier.to_string();
        assert!(text.starts_with("SCRAM-SHA-256$4096:"), "{text}");
        assert!(verifier_matches(&text, password));
        assert!(!verifier_matches(&text, "S3cret with spaces & 'quotes'"));
        assert_eq!(ScramVerifier::parse(&text), Ok(verifier));
    }

    #[test]
    fn new_verifier_uses_a_fresh_salt_each_time() {
        let first = new_verifier("same password").expect("accepted");
        let second = new_verifier("same password").expect("accepted");
        assert_ne!(first.salt(), second.salt());
        assert_ne!(first, second);
        assert!(second.matches("same password"));
    }

    #[test]
    fn derive_with_postgres_salt_reproduces_postgres_verifier() {
        let postgres = ScramVerifier::parse(POSTGRES_15_VERIFIER).expect("fixture parses");
        let derived = ScramVerifier::derive(POSTGRES_15_PASSWORD, postgres.salt().to_vec(), 4096);
        assert_eq!(derived.to_string(), POSTGRES_15_VERIFIER);
    }

    /// The exchange in RFC 7677 section 3 (user `user`, password `pencil`): a server holding
    /// the verifier derived here must accept the client's proof and answer with the
    /// server signature from the RFC.
    #[test]
    fn rfc_7677_exchange_verifies_against_derived_verifier() {
        let salt = BASE64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("RFC salt");
        let verifier = ScramVerifier::derive("pencil", salt, 4096);
        let auth_message = "n=user,r=rOprNGfwEbeRWgbNEkqO,\
             r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,\
             c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";

        let client_proof = BASE64
            .decode("dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .expect("RFC proof");
        let client_signature = hmac_sha256(&verifier.stored_key, auth_message.as_bytes());
        let client_key: Vec<u8> = client_proof
            .iter()
            .zip(client_signature)
            .map(|(proof, signature)| proof ^ signature)
            .collect();
        assert_eq!(Sha256::digest(&client_key)[..], verifier.stored_key[..]);

        let server_signature = hmac_sha256(&verifier.server_key, auth_message.as_bytes());
        assert_eq!(
            BASE64.encode(server_signature),
            "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn md5_empty_and_garbage_never_match() {
        for stored in [
            POSTGRES_15_MD5,
            "",
            "x",
            "garbage",
            "SCRAM-SHA-256$",
            "SCRAM-SHA-256$4096:",
            "scram-sha-256$4096:2Png6uc6GvbxdbPONWLPrg==$42MWVn4yithEmIWvVoZvo4LCJ0wqGK1wsF5T9o4AZbM=:te5vxCyX1pRl/o2mKcTRC+WTui3bN8IcQEzY+aLvtvM=",
            POSTGRES_15_PASSWORD,
        ] {
            assert!(!verifier_matches(stored, "x"), "{stored:?}");
            assert!(
                !verifier_matches(stored, POSTGRES_15_PASSWORD),
                "{stored:?}"
            );
        }
    }

    #[test]
    fn parse_names_what_it_found_instead_of_a_verifier() {
        let not_scram = |found| Err(ScramError::NotScramSha256 { found });
        assert_eq!(ScramVerifier::parse(""), not_scram("empty"));
        assert_eq!(
            ScramVerifier::parse(POSTGRES_15_MD5),
            not_scram("an MD5 hash")
        );
        assert_eq!(
            ScramVerifier::parse("md5 not hex"),
            not_scram("not a recognised password hash")
        );
    }

    #[test]
    fn parse_rejects_malformed_verifiers() {
        let salt = "2Png6uc6GvbxdbPONWLPrg==";
        let key = "42MWVn4yithEmIWvVoZvo4LCJ0wqGK1wsF5T9o4AZbM=";
        let short_key = "AAAA";
        let cases = [
            (format!("SCRAM-SHA-256$4096:{salt}"), ScramError::Layout),
            (
                format!("SCRAM-SHA-256$4096{salt}${key}:{key}"),
                ScramError::Layout,
            ),
            (
                format!("SCRAM-SHA-256$4096:{salt}${key}{key}"),
                ScramError::Layout,
            ),
            (
                format!("SCRAM-SHA-256$:{salt}${key}:{key}"),
                ScramError::Iterations,
            ),
            (
                format!("SCRAM-SHA-256$0:{salt}${key}:{key}"),
                ScramError::Iterations,
            ),
            (
                format!("SCRAM-SHA-256$04096:{salt}${key}:{key}"),
                ScramError::Iterations,
            ),
            (
                format!("SCRAM-SHA-256$+4096:{salt}${key}:{key}"),
                ScramError::Iterations,
            ),
            (
                format!("SCRAM-SHA-256$-1:{salt}${key}:{key}"),
                ScramError::Iterations,
            ),
            (
                format!("SCRAM-SHA-256$2147483648:{salt}${key}:{key}"),
                ScramError::Iterations,
            ),
            (
                format!("SCRAM-SHA-256$99999999999:{salt}${key}:{key}"),
                ScramError::Iterations,
            ),
            (
                format!("SCRAM-SHA-256$4096:${key}:{key}"),
                ScramError::EmptySalt,
            ),
            (
                format!("SCRAM-SHA-256$4096:not base64!${key}:{key}"),
                ScramError::Base64 { field: "salt" },
            ),
            (
                format!("SCRAM-SHA-256$4096:{salt}${key}:{key}$extra"),
                ScramError::Base64 { field: "ServerKey" },
            ),
            (
                format!("SCRAM-SHA-256$4096:{salt}${key}:{key}:extra"),
                ScramError::Base64 { field: "ServerKey" },
            ),
            (
                // Unpadded base64 is not what PostgreSQL writes.
                format!(
                    "SCRAM-SHA-256$4096:{salt}${}:{key}",
                    key.trim_end_matches('=')
                ),
                ScramError::Base64 { field: "StoredKey" },
            ),
            (
                format!("SCRAM-SHA-256$4096:{salt}${short_key}:{key}"),
                ScramError::KeyLength {
                    field: "StoredKey",
                    length: 3,
                },
            ),
            (
                format!("SCRAM-SHA-256$4096:{salt}${key}:{short_key}"),
                ScramError::KeyLength {
                    field: "ServerKey",
                    length: 3,
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(ScramVerifier::parse(&text), Err(expected), "{text}");
            assert!(!verifier_matches(&text, POSTGRES_15_PASSWORD), "{text}");
        }
        assert_eq!(
            ScramVerifier::parse(&format!("SCRAM-SHA-256$2147483647:{salt}${key}:{key}"))
                .map(|verifier| verifier.iterations()),
            Ok(2_147_483_647)
        );
    }

    #[test]
    fn tampered_keys_do_not_match() {
        let verifier = ScramVerifier::parse(POSTGRES_15_VERIFIER).expect("fixture parses");
        for index in [0, KEY_LENGTH - 1] {
            let mut tampered = verifier.clone();
            tampered.stored_key[index] ^= 1;
            assert!(!tampered.matches(POSTGRES_15_PASSWORD));
            assert_ne!(tampered, verifier);

            let mut tampered = verifier.clone();
            tampered.server_key[index] ^= 0x80;
            assert!(!tampered.matches(POSTGRES_15_PASSWORD));
            assert_ne!(tampered, verifier);
        }
        let mut other_iterations = verifier.clone();
        other_iterations.iterations = 4097;
        assert!(!other_iterations.matches(POSTGRES_15_PASSWORD));
    }

    #[test]
    fn debug_leaves_out_the_keys() {
        let verifier = ScramVerifier::parse(POSTGRES_15_VERIFIER).expect("fixture parses");
        let debug = format!("{verifier:?}");
        assert_eq!(
            debug,
            "ScramVerifier { iterations: 4096, salt: \"2Png6uc6GvbxdbPONWLPrg==\", \
             stored_key: \"<redacted>\", server_key: \"<redacted>\" }"
        );
        assert!(!debug.contains("42MWVn4y"));
        assert!(!debug.contains("te5vxCyX"));
    }

    #[test]
    fn new_verifier_refuses_passwords_libpq_cannot_use() {
        assert_eq!(new_verifier("").map(|_| ()), Err(ScramError::EmptyPassword));
        assert_eq!(
            new_verifier("before\0after").map(|_| ()),
            Err(ScramError::PasswordContainsNul)
        );
        // The same passwords never count as already set, so the caller reports the error
        // from `new_verifier` instead of silently keeping a password nobody can use.
        for password in ["", "before\0after"] {
            let raw = ScramVerifier::derive(password, vec![7_u8; SALT_LENGTH], 1);
            assert!(!raw.matches(password), "{password:?}");
        }
    }

    /// PostgreSQL 15 has no length limit of its own; a 10,000-byte password logged in there.
    #[test]
    fn new_verifier_accepts_long_passwords() {
        let long = "p".repeat(10_000);
        assert!(new_verifier(&long).is_ok_and(|verifier| verifier.matches(&long)));
    }

    #[test]
    fn new_verifier_accepts_latin_1_letters() {
        let password = "Grüße, señor Ærø £5 ¿ÿ?";
        let verifier = new_verifier(password).expect("Latin-1 password is accepted");
        assert!(verifier.matches(password));
    }

    #[test]
    fn new_verifier_refuses_characters_saslprep_may_rewrite() {
        for (password, position) in [
            ("no\u{00A0}break", 3),    // No-break space: SASLprep maps it to U+0020.
            ("soft\u{00AD}hyphen", 5), // Soft hyphen: mapped to nothing.
            ("\u{FB01}sh", 1),         // `ﬁ` ligature: NFKC makes it `fi`.
            ("cafe\u{0301}", 5),       // Decomposed `é`: NFKC composes it.
            ("x²", 2),                 // Superscript two: NFKC makes it `2`.
            ("пароль", 1),             // Cyrillic: probably stable, but not proven here.
        ] {
            assert_eq!(
                new_verifier(password).map(|_| ()),
                Err(ScramError::PasswordNotSaslprepStable { position }),
                "{password:?}"
            );
        }
    }

    /// PostgreSQL 15.18 SASLprep-normalised `ﬁsh` to `fish` before hashing
    /// (`CREATE ROLE fixture_ligature PASSWORD E'\uFB01sh'`): comparing raw bytes reports the
    /// password as changed (the documented false "changed"), never as wrongly unchanged.
    #[test]
    fn postgres_15_saslprep_rewrite_is_seen_as_changed() {
        const LIGATURE_VERIFIER: &str = "SCRAM-SHA-256$4096:YioDlTLPoaqtINvgL13WBg==$8RPfMrMl7Or+/QrQVG/gfJJwsHYJb5qFGiFUYqQfIxI=:SGddYR5glN7zBNe09fVg3Hqp74X2fAiTYIpNP/WwOI8=";
        assert!(!verifier_matches(LIGATURE_VERIFIER, "\u{FB01}sh"));
        assert!(verifier_matches(LIGATURE_VERIFIER, "fish"));
    }

    /// Non-ASCII passwords that PostgreSQL 15.18 hashed as their raw bytes: a Latin-1 one
    /// (SASLprep leaves it alone), a Cyrillic one (NFKC-stable, so also left alone) and one
    /// with a private-use character (SASLprep rejects it, so PostgreSQL falls back to the
    /// raw bytes).
    #[test]
    fn postgres_15_non_ascii_verifiers_match_raw_bytes() {
        for (password, stored) in [
            (
                "Grüße, señor Ærø £5 ¿ÿ?",
                "SCRAM-SHA-256$4096:laIfZReJR6JmCbTRaQ2WcA==$my/uWwS9l1fghucgi7zm1ZoixJ6P7SBuMQYk7NqU7YQ=:gdeEctUThv6nhzNPSUulO6Fc5osMhbfKFE/r4imK4Zc=",
            ),
            (
                "пароль",
                "SCRAM-SHA-256$4096:RM3cwu29Gx7hBJu/t3sMLw==$4s9HFOMgt73JztAD8K4xot+vypUU5CTkjTC+hg47q7E=:Pw/2u4WfBNt6x3IO1H9aXSWbtD39nTtiTHpXQTVW4Bs=",
            ),
            (
                "pw\u{E000}",
                "SCRAM-SHA-256$4096:zoZ6qfog+jTIOUPt6URU7A==$wgIWoXdQkwqy8f1FwGrsLLRdlB6bU9VCAnUbAvMkiAE=:sywokv/usM/s0xKcd541JOiNsczYmLRKGCSCoQTdL0c=",
            ),
        ] {
            assert!(verifier_matches(stored, password), "{password:?}");
            assert!(!verifier_matches(stored, "pw"), "{password:?}");
        }
    }

    #[test]
    fn saslprep_stable_set_is_ascii_and_latin_1_without_compatibility_forms() {
        let stable: Vec<u32> = (0_u32..=0x2FF)
            .filter_map(char::from_u32)
            .filter(|&c| is_saslprep_stable(c))
            .map(u32::from)
            .collect();
        let excluded_latin_1 = [
            0xA0, 0xA8, 0xAA, 0xAD, 0xAF, 0xB2, 0xB3, 0xB4, 0xB5, 0xB8, 0xB9, 0xBA, 0xBC, 0xBD,
            0xBE,
        ];
        let expected: Vec<u32> = (0_u32..=0x7F)
            .chain((0xA0_u32..=0xFF).filter(|code| !excluded_latin_1.contains(code)))
            .collect();
        assert_eq!(stable, expected);
    }
}
