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
//! libpq when it logs in) replaces the password by what `pg_saslprep` (PostgreSQL's
//! `src/common/saslprep.c`) makes of it, and both fall back to the password as it is when
//! that fails. `prepare_password` here follows `pg_saslprep` step by step:
//!
//! 1. An ASCII password is used as it is, control characters included.
//! 2. Map: non-ASCII spaces (RFC 3454 table C.1.2) become U+0020 and the characters of
//!    table B.1 ("commonly mapped to nothing", such as the soft hyphen) are dropped. If
//!    nothing is left, the raw password is used.
//! 3. If the mapped password has a prohibited character (the SASLprep output tables C.1.2
//!    to C.9) or one unassigned in Unicode 3.2 (table A.1), the raw password is used.
//! 4. If it has a right-to-left character (table D.1), it must have no left-to-right one
//!    (table D.2) and must begin and end with a right-to-left one, or the raw password is
//!    used.
//! 5. Otherwise the NFKC normalisation of the mapped password is used.
//!
//! PostgreSQL runs the checks of steps 3 and 4 on the mapped password, before normalising;
//! RFC 3454 and [`stringprep::saslprep`] run them on the normalised one. The two disagree
//! on, for example, `a` followed by U+0340 (prohibited itself, but normalised to `à`), on
//! U+1D2C (unassigned in Unicode 3.2, normalised to `A`), on a password of nothing but a
//! soft hyphen, or on `ℵ1` (`ℵ` normalises to the right-to-left `א`), so this module
//! takes the tables from the `stringprep` crate and NFKC from `unicode-normalization`
//! but not `stringprep::saslprep` itself.
//!
//! One gap remains: the `stringprep` crate has the bidirectional classes of today's
//! Unicode, where PostgreSQL uses tables D.1 and D.2 of Unicode 3.2. Right-to-left
//! characters are the same in both for every character that reaches step 4, but a few
//! hundred characters changed between left-to-right and neutral (the Braille patterns,
//! for example). So when a password with a right-to-left character also has a non-ASCII
//! character that is not right-to-left, and SASLprep would rewrite it, pgconverge cannot
//! tell whether PostgreSQL keeps the rewritten form or the raw password: such a password is
//! refused with [`ScramError::PasswordSaslprepUndecided`] rather than given a verifier that
//! might never authenticate. Any password that SASLprep leaves unchanged is hashed as it
//! is, whatever its script.
//!
//! Passwords are treated as UTF-8, as PostgreSQL's SASLprep does; this is what libpq sees
//! when the client's password is UTF-8 text, as it is in the `.pgpass` that pgconverge
//! writes. A client that sends the password in another encoding sends other bytes, which
//! libpq hashes as they are.

use std::borrow::Cow;
use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, KeyInit as _, Mac as _};
use sha2::{Digest as _, Sha256};
use stringprep::tables;
use unicode_normalization::UnicodeNormalization as _;

/// The iteration count PostgreSQL uses for new verifiers: fixed at 4096 in PostgreSQL 15
/// and the default of `scram_iterations` from PostgreSQL 16 on.
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// The most iterations a stored verifier may have for pgconverge to compare a password
/// with it: far beyond PostgreSQL's default. A verifier on a host is not to be trusted,
/// and one of 10^9 iterations would cost minutes of CPU per comparison; it reads as
/// different instead, so the role's password is set again, with the default count.
pub const MOST_ITERATIONS_COMPARED: u32 = 1_000_000;

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
    #[error(
        "the password contains a NUL character, which PostgreSQL cannot store and libpq would cut the password at; remove it"
    )]
    PasswordContainsNul,

    /// Whether PostgreSQL's SASLprep rewrites the password depends on a bidirectional class
    /// that changed after Unicode 3.2, which PostgreSQL uses (see the module documentation).
    #[error(
        "the password has right-to-left letters, a non-ASCII character that is not right-to-left (character {position}), and characters SASLprep rewrites; whether PostgreSQL then hashes the rewritten or the raw password depends on Unicode 3.2 bidirectional classes that pgconverge does not have, so it cannot compute a verifier sure to log in; leave out that character or the characters SASLprep rewrites (such as compatibility forms, non-ASCII spaces and soft hyphens)"
    )]
    PasswordSaslprepUndecided {
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
    /// The password is hashed in the form PostgreSQL and libpq hash it, after SASLprep (see
    /// the module documentation). Passwords [`new_verifier`] refuses (empty, containing NUL,
    /// or of undecided SASLprep form) never match, nor does a verifier of more than
    /// [`MOST_ITERATIONS_COMPARED`] iterations, which is not computed. The keys are compared
    /// in constant time.
    #[must_use]
    pub fn matches(&self, password: &str) -> bool {
        if self.iterations > MOST_ITERATIONS_COMPARED {
            return false;
        }
        let Ok(prepared) = prepare_password(password) else {
            return false;
        };
        let derived = DerivedKeys::derive(prepared.as_bytes(), &self.salt, self.iterations);
        // Both comparisons always run, so the timing does not reveal which key differed.
        let stored_key_equal = constant_time_eq(&derived.stored_key, &self.stored_key);
        let server_key_equal = constant_time_eq(&derived.server_key, &self.server_key);
        stored_key_equal & server_key_equal
    }

    /// Derives the verifier for a password already in the form PostgreSQL hashes (the output
    /// of `prepare_password`) with the given salt and iteration count.
    ///
    /// Callers check the salt and the iteration count first.
    fn derive(prepared: &str, salt: Vec<u8>, iterations: u32) -> Self {
        let derived = DerivedKeys::derive(prepared.as_bytes(), &salt, iterations);
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
/// NULL `rolpassword`), anything unparseable, a verifier of more iterations than
/// [`MOST_ITERATIONS_COMPARED`] (read as different without being computed) and a
/// different password all give false.
#[must_use]
pub fn verifier_matches(stored: &str, password: &str) -> bool {
    ScramVerifier::parse(stored).is_ok_and(|verifier| verifier.matches(password))
}

/// A new verifier of `password` in SCRAM's text form, checked to hold only the
/// characters that form uses, so a script may set it with psql's `\set` inside
/// single quotes. `what` names the password in the error.
pub fn verifier_for_psql(password: &str, what: &str) -> Result<String, String> {
    let verifier = new_verifier(password)
        .map_err(|error| format!("{what} cannot be used: {error}"))?
        .to_string();
    let safe = |c: char| c.is_ascii_alphanumeric() || "+/=:$-".contains(c);
    if !verifier.chars().all(safe) {
        return Err("the SCRAM verifier has an unexpected character".to_string());
    }
    Ok(verifier)
}

/// Derives a verifier for `password` with a fresh random 16-byte salt and 4096 iterations,
/// as PostgreSQL 15 would, ready for `ALTER ROLE ... PASSWORD '<verifier>'`.
///
/// The keys are derived from the password's SASLprep form, or from the password itself
/// where PostgreSQL's SASLprep fails, as PostgreSQL and libpq derive them.
///
/// # Errors
///
/// Refuses passwords libpq could not log in with (empty, or containing NUL) and the few
/// passwords whose SASLprep form this module cannot be sure of (see the module
/// documentation), instead of returning a verifier that might never authenticate.
pub fn new_verifier(password: &str) -> Result<ScramVerifier, ScramError> {
    let prepared = prepare_password(password)?;
    let mut salt = vec![0_u8; SALT_LENGTH];
    // `rand::fill` draws from the thread-local generator, a ChaCha-based CSPRNG seeded and
    // periodically reseeded from the operating system.
    rand::fill(&mut salt[..]);
    Ok(ScramVerifier::derive(&prepared, salt, DEFAULT_ITERATIONS))
}

/// What `new_verifier` refuses, checked without making a verifier (the planner
/// draws no salt).
///
/// # Errors
///
/// As `new_verifier`.
pub fn check_password(password: &str) -> Result<(), ScramError> {
    prepare_password(password).map(|_| ())
}

/// The form of `password` that PostgreSQL and libpq hash: what `pg_saslprep` makes of it,
/// or the password itself where that fails. The steps are those of the module
/// documentation.
///
/// # Errors
///
/// Refuses an empty password, a password with NUL, and a password whose form depends on
/// the Unicode 3.2 bidirectional classes ([`ScramError::PasswordSaslprepUndecided`]).
fn prepare_password(password: &str) -> Result<Cow<'_, str>, ScramError> {
    if password.is_empty() {
        return Err(ScramError::EmptyPassword);
    }
    if password.contains('\0') {
        return Err(ScramError::PasswordContainsNul);
    }
    let raw = Ok(Cow::Borrowed(password));
    if password.is_ascii() {
        return raw;
    }
    let mapped: Vec<char> = password
        .chars()
        .filter_map(|c| {
            if tables::non_ascii_space_character(c) {
                Some(' ')
            } else if tables::commonly_mapped_to_nothing(c) {
                None
            } else {
                Some(c)
            }
        })
        .collect();
    let (Some(&first), Some(&last)) = (mapped.first(), mapped.last()) else {
        return raw;
    };
    if mapped
        .iter()
        .any(|&c| is_prohibited_output(c) || tables::unassigned_code_point(c))
    {
        return raw;
    }
    let normalized: String = mapped.iter().copied().nfkc().collect();
    if normalized == password {
        return raw;
    }
    if mapped.iter().any(|&c| tables::bidi_r_or_al(c)) {
        let ends_right_to_left = tables::bidi_r_or_al(first) && tables::bidi_r_or_al(last);
        // ASCII letters are left-to-right in every Unicode version.
        let has_ascii_letter = mapped.iter().any(char::is_ascii_alphabetic);
        if !ends_right_to_left || has_ascii_letter {
            return raw;
        }
        let undecided = password.chars().position(|c| {
            !c.is_ascii()
                && !tables::bidi_r_or_al(c)
                && !tables::non_ascii_space_character(c)
                && !tables::commonly_mapped_to_nothing(c)
        });
        if let Some(index) = undecided {
            return Err(ScramError::PasswordSaslprepUndecided {
                position: index + 1,
            });
        }
    }
    Ok(Cow::Owned(normalized))
}

/// True if `c` is in one of the tables of characters SASLprep prohibits in its output
/// (RFC 4013 section 2.3: RFC 3454 tables C.1.2, C.2.1, C.2.2 and C.3 to C.9).
fn is_prohibited_output(c: char) -> bool {
    tables::non_ascii_space_character(c)
        || tables::ascii_control_character(c)
        || tables::non_ascii_control_character(c)
        || tables::private_use(c)
        || tables::non_character_code_point(c)
        || tables::surrogate_code(c)
        || tables::inappropriate_for_plain_text(c)
        || tables::inappropriate_for_canonical_representation(c)
        || tables::change_display_properties_or_deprecated(c)
        || tables::tagging_character(c)
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

    /// The verifier for a non-ASCII password is derived from its SASLprep form. The expected
    /// verifiers were computed apart from this module (Python's `hashlib.pbkdf2_hmac` and
    /// `hmac`) from the normalised text written out here, with the salt 0x00 to 0x0F.
    #[test]
    fn new_verifier_derives_keys_from_the_saslprep_form() {
        let salt: Vec<u8> = (0..16).collect();
        for (password, normalised, expected) in [
            (
                "pässwörd",
                "pässwörd",
                "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$HV4TtNKIt8oOQWZCIedFYDVMOGn3/uurWVfN15VjjP4=:bGoGbn5l5XEF6vc5q836UvsaNZ/n1s4zNZ+A5nNQQv8=",
            ),
            (
                // Decomposed umlauts: NFKC composes them into the same bytes as above.
                "pa\u{0308}sswo\u{0308}rd",
                "p\u{00E4}ssw\u{00F6}rd",
                "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$HV4TtNKIt8oOQWZCIedFYDVMOGn3/uurWVfN15VjjP4=:bGoGbn5l5XEF6vc5q836UvsaNZ/n1s4zNZ+A5nNQQv8=",
            ),
            (
                "пароль",
                "пароль",
                "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$laZL28bvFPOFM3CzyS3dPeZmVfx0Nj++smr+8Xw2w3M=:qR1UcQtEeXY4Qwhlvj0JVPbjwFOnjiNcNVoeGAEYn4s=",
            ),
            (
                "密码",
                "密码",
                "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$Cl2GZCcr4mnJRlNMopOXwHhd4oVk8z4xUPvSWVTflt4=:88kPlwwRYnxK1X6jlogXfFHO2+QnzysQFySDxHqcExk=",
            ),
            (
                // No-break space: mapped to U+0020.
                "no\u{00A0}break",
                "no break",
                "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$9cuUr/r8SEd+2eQOL2BO2d01dBhiHX/E5wGplr1oJdg=:5bECJaNuAJXxs7KSUgaDfyKRMqV3xl99Limlwtk/u8w=",
            ),
            (
                // Soft hyphen: mapped to nothing.
                "soft\u{00AD}hyphen",
                "softhyphen",
                "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$IPc1S9o6qO/EY57t8Jvaj1fU+KPmYNB7g7Mxhmiyoqw=:aVknBEcZ9YPYsCh8A17Khgh+7/n0Hucdlh32jz6BFbc=",
            ),
            (
                // Superscript two: NFKC makes it `2`.
                "x²",
                "x2",
                "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$xmmEC39PLZ6fm2VGCm/n8VyCUeyzNnWV3S4+zly6CW4=:HaRlwyacGZDWuSARGlvuhDEZHrsLAoal/mQ+D+dJ5To=",
            ),
            (
                // The `ﬁ` ligature: NFKC makes it `fi`.
                "\u{FB01}sh",
                "fish",
                "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$HR9kygOGpBNKMlcDZ2NZYktVwXXqTlsGUYq4qw5DAac=:zNaVotFfRTc0fnNKmf2KeaKzSJHHLh7FKjpA+81Nsx0=",
            ),
            (
                // Right-to-left only, so the bidirectional check passes.
                "שלום\u{00A0}עולם",
                "שלום עולם",
                "SCRAM-SHA-256$4096:AAECAwQFBgcICQoLDA0ODw==$C09W+Z/lsUe+p+LQwujIPWsgs+HzojPHXmEmQzYAv1Y=:7T9vrj45Y4cORbjA7k7av590ChO6Xs68/mYyDVQ9TCU=",
            ),
        ] {
            let prepared = prepare_password(password).expect("accepted");
            assert_eq!(prepared, normalised, "{password:?}");
            let derived = ScramVerifier::derive(&prepared, salt.clone(), 4096);
            assert_eq!(derived.to_string(), expected, "{password:?}");
            assert!(derived.matches(password), "{password:?}");
            assert!(derived.matches(normalised), "{password:?}");

            let verifier = new_verifier(password).expect("accepted");
            assert!(verifier.matches(password), "{password:?}");
            assert!(verifier.matches(normalised), "{password:?}");
        }
    }

    /// What PostgreSQL 15.18 stored for `CREATE ROLE ... PASSWORD` with non-ASCII passwords:
    /// each matches the password and its normalised form, and matches the raw bytes only
    /// where SASLprep leaves the password as it is.
    #[test]
    fn postgres_15_saslprep_verifiers_match() {
        for (password, stored) in [
            (
                "pässwörd",
                "SCRAM-SHA-256$4096:3l4sqkmg9oqVSmaeK9S4FQ==$SaHrR8G71MUenY2GrSzpSDcyjrKB/Y5CxNO5wj+X9xs=:uXvlK1em0c+gaNk8VP57waEeIgQm6Vqte1V+BeS9eaI=",
            ),
            (
                "пароль",
                "SCRAM-SHA-256$4096:TZ8gU3piixKjgDL6HXMkig==$3TtRap788vV5SNy8gq1MX//n+iF0YsqUxGV9bizqvpo=:+gehqvV/I4pZsp+UZyzxGRdsPU/K6sydBfHuBITWr34=",
            ),
            (
                "密码",
                "SCRAM-SHA-256$4096:M99Bj8Eh9F5kln9rogksdQ==$pzXmXWul8ZJB0t2Bahz3TTtOMDRJ/t7Upc34UUU66GI=:aV88v4z2EqJVwHlcNptkWlNWdK9j5UO2HRlva+rDqV8=",
            ),
            (
                "no\u{00A0}break",
                "SCRAM-SHA-256$4096:8Gw87/4U9JlhI0IMkEH6ww==$QlN6WDwe1QjmlnmEcDIAlhg8Ypimuudo0YonayLhCps=:W2xbQHwOBpauxADFQRsjUInGkRS5xFvY4XFwXyeD9Yo=",
            ),
            (
                "pa\u{0308}sswo\u{0308}rd",
                "SCRAM-SHA-256$4096:FTqN4Lf5l34qKn+DltT3aQ==$pANSKz6axyOuJZG1MNavRYbYv84ZuvsLN4xsByrPkVY=:nHcnnlisMBAK/DFaf2kifSwuJm3Itsgu0w3ZsYXxMuM=",
            ),
            (
                "x²",
                "SCRAM-SHA-256$4096:dDJC5HG8AjZJ4mRLIVsNyw==$XyMwBdquWrMNbilII1bn80+68ME9csUUaIh96qwNWZ0=:XdZ0a9KkQyr1ASBMyeceFxoMTgtZlfi5ARTttgV+SlI=",
            ),
            (
                "soft\u{00AD}hyphen",
                "SCRAM-SHA-256$4096:BdlwInd8zlyJjjBx6H19XQ==$DyGK9YXHEpJU8+wg6K5jg/QYVryBOSdC0Y0oFgjJIlI=:yvHbZ1uxWcmj2O7c5IbhrHFTHjNrkABYXzdPhxu/PfI=",
            ),
            (
                "שלום\u{00A0}עולם",
                "SCRAM-SHA-256$4096:fLBNTtbzk7ti3htFnTWuCg==$Zba6vG+iSroIBPx0V8CCcK98VrAjhtjyxta5UYXttYQ=:p2KRE/c0QsBEgnpGb3OMQhs+ESaogDde+YuCFilhmu4=",
            ),
        ] {
            let verifier = ScramVerifier::parse(stored).expect("fixture parses");
            assert!(verifier.matches(password), "{password:?}");
            let normalised = prepare_password(password).expect("accepted");
            assert!(verifier.matches(&normalised), "{password:?}");
            let raw = ScramVerifier::derive(password, verifier.salt().to_vec(), 4096);
            assert_eq!(raw == verifier, password == normalised, "{password:?}");
        }
    }

    /// PostgreSQL 15.18 runs SASLprep's checks on the mapped password before normalising
    /// it, where RFC 3454 and `stringprep::saslprep` check the normalised one. Each fixture
    /// is what PostgreSQL stored; where `stringprep::saslprep` succeeds, its result is not
    /// what PostgreSQL hashed.
    #[test]
    fn postgres_15_checks_before_normalising() {
        for (password, hashed, rfc_form, stored) in [
            (
                // U+0340 is prohibited; NFKC would make `à` of it.
                "a\u{0340}",
                "a\u{0340}",
                Some("à"),
                "SCRAM-SHA-256$4096:6+pUJ5whW2xNpXa0Qgsesw==$b8a7sGH0Smv5mqSrePIZ4/t+6yaolc5I/2Aajbz9hrw=:oBONv9GTLEYp798zYBzZCvIbuAcOKoK8Au4iiPWejzQ=",
            ),
            (
                // U+1D2C is unassigned in Unicode 3.2; NFKC would make `A` of it.
                "\u{1D2C}",
                "\u{1D2C}",
                Some("A"),
                "SCRAM-SHA-256$4096:NiUnYn4n6jVlrdd6ZBnhrA==$3pCu+ux0nR2E9AwU05SsMbsGe5Nss8WJRS9B5+sdAjg=:D51bXeFqvdT1YVCGNRrJSKqePMC9lXyUw7Xxu8xN2pg=",
            ),
            (
                // Nothing is left after mapping, and PostgreSQL refuses an empty result.
                "\u{00AD}",
                "\u{00AD}",
                Some(""),
                "SCRAM-SHA-256$4096:g6dr36YK9tLmC5CghXyGdg==$R7Pi8CPZDK+33dnFRt1KSO2r1D/gdGVW8XjfrYP+pQg=:cBHqOtaqLY+wcSBFKljUEnhUGmV3ozGba83dW+LEzr4=",
            ),
            (
                // `ℵ` is left-to-right and normalises to the right-to-left `א`: PostgreSQL
                // checks the bidirectional rules before that, so it hashes `א1`.
                "\u{2135}1",
                "\u{05D0}1",
                None,
                "SCRAM-SHA-256$4096:GRwm8pAWCYQKI7gdPTc+8Q==$S4xdp000U2q0aNt38FjGyBNLtMdTrqIrCPe/VUZ1MXQ=:fDpjgcsltFJ3F0byKNo2Fappxu87j60wSiQnatCddx4=",
            ),
            (
                // Right-to-left and left-to-right letters together: the raw bytes.
                "\u{05D0}a\u{00A0}",
                "\u{05D0}a\u{00A0}",
                None,
                "SCRAM-SHA-256$4096:BIOQeRNm1jh4lY1awO6m/g==$r739KVY89psltrh+qN3dLdULiu4OrZuiwfn5w1IVls0=:2a5ax3XczF6WJJNJsrOREwpCfmtZR+tnTYHkmDjwv1Q=",
            ),
        ] {
            assert_eq!(
                prepare_password(password).as_deref(),
                Ok(hashed),
                "{password:?}"
            );
            let verifier = ScramVerifier::parse(stored).expect("fixture parses");
            assert!(verifier.matches(password), "{password:?}");
            let rfc = stringprep::saslprep(password).ok();
            assert_eq!(rfc.as_deref(), rfc_form, "{password:?}");
            if let Some(rfc) = rfc {
                let from_rfc_form = ScramVerifier::derive(&rfc, verifier.salt().to_vec(), 4096);
                assert_ne!(from_rfc_form, verifier, "{password:?}");
            }
        }
    }

    /// A right-to-left password that SASLprep rewrites and that also has a non-ASCII
    /// character that is not right-to-left: PostgreSQL's verdict depends on Unicode 3.2
    /// bidirectional classes (U+2801, a Braille pattern, was neutral then and is
    /// left-to-right now), so such a password is refused and never counts as set.
    #[test]
    fn new_verifier_refuses_passwords_of_undecided_form() {
        for (password, position) in [
            ("\u{05D0}\u{2122}\u{05D0}", 2),
            ("\u{05D0}\u{00A0}\u{2801}\u{05D0}", 3),
            ("\u{05D0}\u{FB01}\u{05D0}", 2),
        ] {
            assert_eq!(
                new_verifier(password).map(|_| ()),
                Err(ScramError::PasswordSaslprepUndecided { position }),
                "{password:?}"
            );
            let raw = ScramVerifier::derive(password, vec![7_u8; SALT_LENGTH], 1);
            assert!(!raw.matches(password), "{password:?}");
        }
        // SASLprep leaves the first two as they are, so the bidirectional verdict does not
        // matter; the last two do not end in right-to-left letters or have an ASCII letter,
        // which fails the bidirectional check in every Unicode version.
        for password in [
            "\u{05D0}\u{2801}\u{05D0}",
            "של\u{05B4}ום",
            "\u{FB01}\u{05D0}",
            "\u{05D0}\u{2801}a\u{00A0}\u{05D0}",
        ] {
            assert_eq!(
                prepare_password(password).as_deref(),
                Ok(password),
                "{password:?}"
            );
        }
    }

    /// PostgreSQL uses an ASCII password as it is, without SASLprep's checks.
    #[test]
    fn ascii_passwords_are_hashed_as_they_are() {
        for password in ["tab\there", "bell\u{7}", "del\u{7F}", " spaces "] {
            assert_eq!(
                prepare_password(password).as_deref(),
                Ok(password),
                "{password:?}"
            );
        }
    }

    /// The `ﬁ` ligature fixture from PostgreSQL 15.18 (`CREATE ROLE fixture_ligature
    /// PASSWORD E'\uFB01sh'`): PostgreSQL stored the verifier of `fish`, so both match.
    #[test]
    fn postgres_15_ligature_verifier_matches() {
        const LIGATURE_VERIFIER: &str = "SCRAM-SHA-256$4096:YioDlTLPoaqtINvgL13WBg==$8RPfMrMl7Or+/QrQVG/gfJJwsHYJb5qFGiFUYqQfIxI=:SGddYR5glN7zBNe09fVg3Hqp74X2fAiTYIpNP/WwOI8=";
        assert!(verifier_matches(LIGATURE_VERIFIER, "\u{FB01}sh"));
        assert!(verifier_matches(LIGATURE_VERIFIER, "fish"));
        assert!(!verifier_matches(LIGATURE_VERIFIER, "fis"));
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
    fn a_verifier_of_a_billion_iterations_differs_without_being_computed() {
        let honest = new_verifier("the password")
            .expect("a verifier")
            .to_string();
        let (_, rest) = honest.split_once(':').expect("iterations, then the salt");
        let hostile = format!("SCRAM-SHA-256$1000000000:{rest}");
        assert_eq!(
            ScramVerifier::parse(&hostile).map(|verifier| verifier.iterations()),
            Ok(1_000_000_000)
        );
        let started = std::time::Instant::now();
        assert!(!verifier_matches(&hostile, "the password"));
        // PBKDF2 of 10^9 rounds takes minutes; not computing it takes no time.
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
        // At the bound the verifier is still computed and compared.
        let bounded = format!("SCRAM-SHA-256${MOST_ITERATIONS_COMPARED}:{rest}");
        assert!(ScramVerifier::parse(&bounded).is_ok());
    }
}
