//! Password hashing, verification and the import of foreign password hashes.
//!
//! New passwords are hashed with Argon2id at the OWASP minimum (19 MiB of
//! memory, 2 passes, 1 lane), a random 16-byte salt and a 32-byte output, and
//! stored as a PHC string. [`verify`] also accepts the hashes other systems
//! made, so that imported users can log in, and says when a stored hash
//! should be replaced by a fresh one after a successful login.
//!
//! # Stored forms
//!
//! [`import`] validates a hash from another system and returns the text to
//! store. Text is stored as given (surrounding whitespace trimmed), except
//! that Django's `argon2$` and `bcrypt$` prefixes are dropped:
//!
//! - Argon2 PHC: `$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>`, also
//!   `$argon2i$` and `$argon2d$`, base64 without padding. New hashes look
//!   like this. A hash without `v=` is Argon2 version 1.0.
//! - bcrypt: `$2a$`, `$2b$` or `$2y$`, a two-digit cost, then 53 characters.
//!   Only the first 72 bytes of a password count, as in every bcrypt.
//! - Django `bcrypt_sha256$$2b$<cost>$...`: bcrypt over the lowercase hex
//!   SHA-256 of the password.
//! - Django `pbkdf2_sha256$<iterations>$<salt>$<base64 key>` and
//!   `pbkdf2_sha1$...`, the salt used as its UTF-8 bytes.
//! - Django `scrypt$<N>$<salt>$<r>$<p>$<base64 key>`, the salt used as its
//!   UTF-8 bytes.
//! - Keycloak PBKDF2 credentials become
//!   `$pbkdf2-<prf>$i=<iterations>,l=<key bytes>$<salt>$<key>`, where `<prf>`
//!   is `sha1` (Keycloak's `pbkdf2`), `sha256` or `sha512` and salt and key
//!   are standard base64 without padding. Text in this form imports as is.
//!
//! The derived key of a PBKDF2 or scrypt hash is as long as the stored key.
//! Work factors are bounded so that a crafted hash cannot tie up a login:
//! PBKDF2 up to 10,000,000 iterations, keys of 1 to 512 bytes, bcrypt cost 4
//! to 20, Argon2 up to 2 GiB, 64 passes and 64 lanes, scrypt up to 1 GiB and
//! parallelism 64.
//!
//! Errors name the format and what is wrong with it, never the hash itself.

use std::fmt;

use argon2::password_hash::{PasswordHash, PasswordHasher, Salt, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use rand::RngCore as _;
use rand::rngs::OsRng;
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Digest as _, Sha256, Sha512};
use subtle::ConstantTimeEq as _;

/// Length in bytes of the salt of a new hash.
const SALT_LEN: usize = 16;
/// Length in bytes of the Argon2 output of a new hash.
const OUTPUT_LEN: usize = 32;

const MAX_PBKDF2_ITERATIONS: u64 = 10_000_000;
const MAX_KEY_LEN: usize = 512;
const MIN_BCRYPT_COST: u32 = 4;
const MAX_BCRYPT_COST: u32 = 20;
const BCRYPT_LEN: usize = 60;
const MAX_ARGON2_MEMORY_KIB: u32 = 2 * 1024 * 1024;
const MAX_ARGON2_PASSES: u32 = 64;
const MAX_ARGON2_LANES: u32 = 64;
const MAX_SCRYPT_MEMORY: u64 = 1 << 30;
const MAX_SCRYPT_PARALLELISM: u32 = 64;

/// `scrypt::Params` wants a key length for its PHC API only; `scrypt::scrypt`
/// derives as many bytes as its output buffer holds.
const SCRYPT_PARAMS_LEN: usize = 32;

/// Salt and output of the stand-in hash for unknown users: the bytes of
/// `castellan-dummy!` and 32 zero bytes.
const DUMMY_SALT: &str = "Y2FzdGVsbGFuLWR1bW15IQ";
const DUMMY_OUTPUT: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

const SUPPORTED: &str = "argon2id, argon2i and argon2d PHC strings; bcrypt $2a$, $2b$ and \
    $2y$; Django pbkdf2_sha256, pbkdf2_sha1, argon2, bcrypt, bcrypt_sha256 and scrypt; \
    Keycloak pbkdf2, pbkdf2-sha256 and pbkdf2-sha512 credentials";

const ARGON2: &str = "argon2";
const BCRYPT: &str = "bcrypt";
const DJANGO_BCRYPT_SHA256: &str = "Django bcrypt_sha256";
const DJANGO_PBKDF2: &str = "Django pbkdf2";
const DJANGO_SCRYPT: &str = "Django scrypt";
const KEYCLOAK: &str = "Keycloak";
const PBKDF2: &str = "pbkdf2";

/// Standard base64: encodes without padding, decodes with or without.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// What went wrong hashing, verifying or importing a password hash.
///
/// No variant carries a password or any part of a hash.
#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    /// The hash is empty.
    #[error("password hash is empty")]
    Empty,
    /// The hash is in none of the supported formats.
    #[error("unrecognised hash format; supported: {}", SUPPORTED)]
    UnrecognisedFormat,
    /// The hash is in a supported format but cannot be used.
    #[error("{format} hash {reason}")]
    Malformed {
        /// The format the hash claims to be in, such as `bcrypt`.
        format: &'static str,
        /// What is wrong with it, such as `has an invalid cost`.
        reason: String,
    },
    /// Hashing failed: bad policy parameters or no randomness.
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// The outcome of checking a password against a stored hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verified {
    /// The password is correct.
    Match {
        /// The stored hash is foreign, not Argon2id or weaker than the
        /// policy: store a fresh hash of the password.
        upgrade: bool,
    },
    /// The password is wrong.
    Mismatch,
}

/// Argon2id parameters for new hashes, and the floor below which a stored
/// hash is upgraded.
///
/// The default is OWASP's recommendation; tests may use cheaper values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordPolicy {
    /// Memory cost in KiB (Argon2 `m`).
    pub memory_kib: u32,
    /// Number of passes over memory (Argon2 `t`).
    pub passes: u32,
    /// Number of lanes (Argon2 `p`).
    pub lanes: u32,
}

impl PasswordPolicy {
    /// OWASP's Argon2id recommendation: m=19456 KiB, t=2, p=1.
    pub const OWASP: Self = Self {
        memory_kib: 19_456,
        passes: 2,
        lanes: 1,
    };

    /// Hashes `password` with Argon2id, these parameters and a random salt,
    /// returning a PHC string.
    ///
    /// # Errors
    ///
    /// [`PasswordError::Hashing`] if the parameters are invalid or the system
    /// has no randomness.
    pub fn hash(&self, password: &str) -> Result<String, PasswordError> {
        let mut salt = [0_u8; SALT_LEN];
        OsRng
            .try_fill_bytes(&mut salt)
            .map_err(|err| PasswordError::Hashing(format!("no random salt: {err}")))?;
        let salt = SaltString::encode_b64(&salt).map_err(hashing)?;

        let hash = self
            .argon2()?
            .hash_password(password.as_bytes(), &salt)
            .map_err(hashing)?;
        Ok(hash.to_string())
    }

    /// Checks `password` against `stored`, a hash in one of the stored forms
    /// (see the module docs), and says whether to upgrade it.
    ///
    /// # Errors
    ///
    /// [`PasswordError::Empty`], [`PasswordError::UnrecognisedFormat`] or
    /// [`PasswordError::Malformed`] if `stored` cannot be used;
    /// [`PasswordError::Hashing`] if the key derivation fails.
    pub fn verify(&self, password: &str, stored: &str) -> Result<Verified, PasswordError> {
        let hash = StoredHash::parse(stored)?;
        if !hash.matches(password.as_bytes())? {
            return Ok(Verified::Mismatch);
        }
        let upgrade = match &hash {
            StoredHash::Argon2(argon2) => !self.is_met_by(argon2),
            _ => true,
        };
        Ok(Verified::Match { upgrade })
    }

    /// Does the work of [`PasswordPolicy::verify`] against a hash with these
    /// parameters, so that a login as an unknown user takes as long as one
    /// as a known user. The outcome is dropped.
    pub fn verify_unknown_user(&self, password: &str) {
        let outcome = self.verify(password, &self.dummy_hash());
        drop(std::hint::black_box(outcome));
    }

    fn argon2(&self) -> Result<Argon2<'static>, PasswordError> {
        let params = Params::new(self.memory_kib, self.passes, self.lanes, Some(OUTPUT_LEN))
            .map_err(|err| PasswordError::Hashing(format!("invalid Argon2 parameters: {err}")))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }

    /// A valid Argon2id hash with these parameters that no password matches
    /// in practice.
    fn dummy_hash(&self) -> String {
        format!(
            "$argon2id$v=19$m={},t={},p={}${DUMMY_SALT}${DUMMY_OUTPUT}",
            self.memory_kib, self.passes, self.lanes
        )
    }

    fn is_met_by(&self, hash: &Argon2Hash) -> bool {
        hash.algorithm == Algorithm::Argon2id
            && hash.version == Version::V0x13
            && hash.params.m_cost() >= self.memory_kib
            && hash.params.t_cost() >= self.passes
            && hash.params.p_cost() >= self.lanes
            && hash.salt.len() >= SALT_LEN
            && hash.expected.len() >= OUTPUT_LEN
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::OWASP
    }
}

/// Hashes `password` with the default (OWASP) Argon2id parameters.
///
/// # Errors
///
/// [`PasswordError::Hashing`] if the system has no randomness.
pub fn hash_password(password: &str) -> Result<String, PasswordError> {
    PasswordPolicy::default().hash(password)
}

/// Hashes `password` with Argon2id and the parameters of `policy`.
///
/// # Errors
///
/// [`PasswordError::Hashing`] if the parameters are invalid or the system
/// has no randomness.
pub fn hash_password_with(
    password: &str,
    policy: &PasswordPolicy,
) -> Result<String, PasswordError> {
    policy.hash(password)
}

/// Checks `password` against `stored` under the default policy; see
/// [`PasswordPolicy::verify`].
///
/// # Errors
///
/// As [`PasswordPolicy::verify`].
pub fn verify(password: &str, stored: &str) -> Result<Verified, PasswordError> {
    PasswordPolicy::default().verify(password, stored)
}

/// Spends as long as [`verify`] on a default-policy hash, for logins of
/// users that do not exist.
pub fn verify_unknown_user(password: &str) {
    PasswordPolicy::default().verify_unknown_user(password);
}

/// A password hash supplied by an importer or an administrator. On the wire
/// it is a JSON string or a Keycloak credential object.
#[derive(Clone, Deserialize, Serialize)]
#[serde(untagged)]
pub enum ImportedHash {
    /// A hash in one of the text forms listed in the module docs.
    Text(String),
    /// A password credential as Keycloak exports it.
    Keycloak(KeycloakCredential),
}

impl fmt::Debug for ImportedHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Text(_) => f.write_str("Text(<redacted>)"),
            Self::Keycloak(credential) => f.debug_tuple("Keycloak").field(credential).finish(),
        }
    }
}

/// A Keycloak password credential; fields other than these two (`type`,
/// `userLabel`, `createdDate`, ...) are ignored.
#[derive(Clone, Deserialize, Serialize)]
pub struct KeycloakCredential {
    /// JSON text with the base64 `value` (derived key) and `salt`.
    #[serde(rename = "secretData")]
    pub secret_data: String,
    /// JSON text with `hashIterations` and `algorithm`.
    #[serde(rename = "credentialData")]
    pub credential_data: String,
}

impl fmt::Debug for KeycloakCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeycloakCredential")
            .field("secret_data", &"<redacted>")
            .field("credential_data", &self.credential_data)
            .finish()
    }
}

/// Validates an imported hash and returns the text to store for it (see the
/// module docs for the stored forms). [`verify`] accepts what this returns.
///
/// # Errors
///
/// [`PasswordError::Empty`], [`PasswordError::UnrecognisedFormat`] or
/// [`PasswordError::Malformed`] saying what is wrong with the hash.
pub fn import(input: ImportedHash) -> Result<String, PasswordError> {
    match input {
        ImportedHash::Text(text) => {
            let stored = canonical(text.trim());
            StoredHash::parse(stored)?;
            Ok(stored.to_owned())
        }
        ImportedHash::Keycloak(credential) => Ok(Pbkdf2Hash::from_keycloak(&credential)?.to_phc()),
    }
}

/// Drops the name Django's argon2 and bcrypt hashers put before a standard
/// hash: `argon2$argon2id$...` becomes `$argon2id$...`.
fn canonical(stored: &str) -> &str {
    let argon2 = stored
        .strip_prefix("argon2")
        .filter(|rest| rest.starts_with('$'));
    let bcrypt = stored
        .strip_prefix("bcrypt$")
        .filter(|rest| rest.starts_with('$'));
    argon2.or(bcrypt).unwrap_or(stored)
}

/// A stored hash, parsed and validated.
enum StoredHash<'a> {
    Argon2(Argon2Hash),
    Bcrypt { mcf: &'a str, prehash: bool },
    Pbkdf2(Pbkdf2Hash),
    Scrypt(ScryptHash),
}

impl StoredHash<'_> {
    fn parse(stored: &str) -> Result<StoredHash<'_>, PasswordError> {
        let stored = canonical(stored);
        if stored.is_empty() {
            return Err(PasswordError::Empty);
        }
        let Some((scheme, rest)) = stored.split_once('$') else {
            return Err(PasswordError::UnrecognisedFormat);
        };

        match scheme {
            "" => StoredHash::parse_modular(stored),
            "pbkdf2_sha256" => Pbkdf2Hash::parse_django(Prf::Sha256, rest).map(StoredHash::Pbkdf2),
            "pbkdf2_sha1" => Pbkdf2Hash::parse_django(Prf::Sha1, rest).map(StoredHash::Pbkdf2),
            "scrypt" => ScryptHash::parse_django(rest).map(StoredHash::Scrypt),
            "bcrypt_sha256" => {
                let mcf = parse_bcrypt(rest, DJANGO_BCRYPT_SHA256)?;
                Ok(StoredHash::Bcrypt { mcf, prehash: true })
            }
            _ => Err(PasswordError::UnrecognisedFormat),
        }
    }

    /// Parses a hash of the `$<id>$...` family.
    fn parse_modular(stored: &str) -> Result<StoredHash<'_>, PasswordError> {
        match stored.split('$').nth(1).unwrap_or_default() {
            "2a" | "2b" | "2y" => {
                let mcf = parse_bcrypt(stored, BCRYPT)?;
                Ok(StoredHash::Bcrypt {
                    mcf,
                    prehash: false,
                })
            }
            "2x" => Err(malformed(BCRYPT, "uses the unsupported $2x$ variant")),
            "argon2id" | "argon2i" | "argon2d" => Argon2Hash::parse(stored).map(StoredHash::Argon2),
            "pbkdf2-sha1" | "pbkdf2-sha256" | "pbkdf2-sha512" => {
                Pbkdf2Hash::parse_phc(stored).map(StoredHash::Pbkdf2)
            }
            _ => Err(PasswordError::UnrecognisedFormat),
        }
    }

    fn matches(&self, password: &[u8]) -> Result<bool, PasswordError> {
        match self {
            StoredHash::Argon2(hash) => hash.matches(password),
            StoredHash::Bcrypt { mcf, prehash } => {
                // Truncating verify: legacy systems hashed the first 72 bytes.
                let outcome = if *prehash {
                    bcrypt::verify(sha256_hex(password), mcf)
                } else {
                    bcrypt::verify(password, mcf)
                };
                outcome.map_err(|_| malformed(BCRYPT, "could not be checked"))
            }
            StoredHash::Pbkdf2(hash) => Ok(hash.matches(password)),
            StoredHash::Scrypt(hash) => hash.matches(password),
        }
    }
}

/// Validates a bcrypt hash (`$2b$10$` then 22 salt and 31 hash characters)
/// and returns it.
fn parse_bcrypt<'a>(mcf: &'a str, format: &'static str) -> Result<&'a str, PasswordError> {
    if mcf.len() != BCRYPT_LEN || !mcf.is_ascii() {
        return Err(malformed(
            format,
            "has the wrong length (expected 60 characters)",
        ));
    }
    let ["", version, cost, body] = mcf.split('$').collect::<Vec<_>>()[..] else {
        return Err(malformed(
            format,
            "does not have the form $2b$<cost>$<salt and hash>",
        ));
    };
    if !matches!(version, "2a" | "2b" | "2y") {
        return Err(malformed(
            format,
            "has an unsupported version (expected 2a, 2b or 2y)",
        ));
    }

    let two_digits = cost.len() == 2 && cost.bytes().all(|byte| byte.is_ascii_digit());
    let cost = cost.parse::<u32>().ok().filter(|_| two_digits);
    if !cost.is_some_and(|cost| (MIN_BCRYPT_COST..=MAX_BCRYPT_COST).contains(&cost)) {
        return Err(malformed(format, "has an invalid cost (expected 04 to 20)"));
    }

    let (salt, checksum) = body.split_at_checked(22).unwrap_or_default();
    if bcrypt::BASE_64.decode(salt).map(|salt| salt.len()).ok() != Some(16) {
        return Err(malformed(format, "has an invalid salt"));
    }
    if bcrypt::BASE_64.decode(checksum).map(|hash| hash.len()).ok() != Some(23) {
        return Err(malformed(format, "has an invalid hash part"));
    }
    Ok(mcf)
}

/// The lowercase hex SHA-256 of `password`, as Django's bcrypt_sha256 hashes.
fn sha256_hex(password: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for byte in Sha256::digest(password) {
        hex.push(char::from(HEX[usize::from(byte >> 4)]));
        hex.push(char::from(HEX[usize::from(byte & 0x0f)]));
    }
    hex
}

/// An Argon2 PHC hash.
struct Argon2Hash {
    algorithm: Algorithm,
    version: Version,
    params: Params,
    salt: Vec<u8>,
    expected: Vec<u8>,
}

impl Argon2Hash {
    fn parse(phc: &str) -> Result<Self, PasswordError> {
        let hash =
            PasswordHash::new(phc).map_err(|_| malformed(ARGON2, "is not a valid PHC string"))?;
        let algorithm = Algorithm::try_from(hash.algorithm)
            .map_err(|_| malformed(ARGON2, "has an unknown algorithm"))?;
        // The reference implementation reads a hash without `v=` as 1.0.
        let version = match hash.version {
            None => Version::V0x10,
            Some(version) => Version::try_from(version)
                .map_err(|_| malformed(ARGON2, "has an unsupported version"))?,
        };
        let params =
            Params::try_from(&hash).map_err(|_| malformed(ARGON2, "has invalid parameters"))?;
        check_argon2_limits(&params)?;

        let (Some(salt), Some(output)) = (hash.salt, hash.hash) else {
            return Err(malformed(ARGON2, "is missing its salt or hash"));
        };
        let mut buffer = [0_u8; Salt::MAX_LENGTH];
        let salt = salt
            .decode_b64(&mut buffer)
            .map_err(|_| malformed(ARGON2, "has an invalid salt"))?
            .to_vec();
        if salt.len() < argon2::MIN_SALT_LEN {
            return Err(malformed(ARGON2, "has a salt shorter than 8 bytes"));
        }

        let expected = output.as_bytes().to_vec();
        Ok(Self {
            algorithm,
            version,
            params,
            salt,
            expected,
        })
    }

    fn matches(&self, password: &[u8]) -> Result<bool, PasswordError> {
        let mut derived = vec![0_u8; self.expected.len()];
        Argon2::new(self.algorithm, self.version, self.params.clone())
            .hash_password_into(password, &self.salt, &mut derived)
            .map_err(|err| PasswordError::Hashing(format!("argon2: {err}")))?;
        Ok(derived.ct_eq(&self.expected).into())
    }
}

fn check_argon2_limits(params: &Params) -> Result<(), PasswordError> {
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB {
        return Err(malformed(ARGON2, "needs more than 2 GiB of memory"));
    }
    if params.t_cost() > MAX_ARGON2_PASSES {
        return Err(malformed(ARGON2, "has more than 64 passes"));
    }
    if params.p_cost() > MAX_ARGON2_LANES {
        return Err(malformed(ARGON2, "has more than 64 lanes"));
    }
    Ok(())
}

/// The pseudo-random function of a PBKDF2 hash.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Prf {
    Sha1,
    Sha256,
    Sha512,
}

impl Prf {
    fn phc_id(self) -> &'static str {
        match self {
            Prf::Sha1 => "pbkdf2-sha1",
            Prf::Sha256 => "pbkdf2-sha256",
            Prf::Sha512 => "pbkdf2-sha512",
        }
    }

    fn from_phc_id(id: &str) -> Option<Self> {
        [Prf::Sha1, Prf::Sha256, Prf::Sha512]
            .into_iter()
            .find(|prf| prf.phc_id() == id)
    }

    fn from_keycloak(algorithm: &str) -> Option<Self> {
        match algorithm {
            "pbkdf2" => Some(Prf::Sha1),
            "pbkdf2-sha256" => Some(Prf::Sha256),
            "pbkdf2-sha512" => Some(Prf::Sha512),
            _ => None,
        }
    }

    fn derive(self, password: &[u8], salt: &[u8], iterations: u32, out: &mut [u8]) {
        match self {
            Prf::Sha1 => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, iterations, out),
            Prf::Sha256 => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, iterations, out),
            Prf::Sha512 => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, iterations, out),
        }
    }
}

/// A PBKDF2 hash from Django, Keycloak or in our PHC-like form.
struct Pbkdf2Hash {
    prf: Prf,
    iterations: u32,
    salt: Vec<u8>,
    key: Vec<u8>,
}

/// Keycloak's `secretData`.
#[derive(Deserialize)]
struct KeycloakSecret {
    value: String,
    salt: String,
}

/// Keycloak's `credentialData`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct KeycloakData {
    hash_iterations: u64,
    algorithm: String,
}

impl Pbkdf2Hash {
    /// Parses what follows `pbkdf2_<digest>$`: `<iterations>$<salt>$<key>`.
    fn parse_django(prf: Prf, rest: &str) -> Result<Self, PasswordError> {
        let [iterations, salt, key] = rest.split('$').collect::<Vec<_>>()[..] else {
            return Err(malformed(
                DJANGO_PBKDF2,
                "does not have the form <algorithm>$<iterations>$<salt>$<key>",
            ));
        };
        if salt.is_empty() {
            return Err(malformed(DJANGO_PBKDF2, "has an empty salt"));
        }
        Ok(Self {
            prf,
            iterations: check_iterations(DJANGO_PBKDF2, parse_number(DJANGO_PBKDF2, iterations)?)?,
            salt: salt.as_bytes().to_vec(),
            key: decode_key(DJANGO_PBKDF2, key)?,
        })
    }

    /// Parses `$pbkdf2-<prf>$i=<iterations>,l=<key bytes>$<salt>$<key>`.
    fn parse_phc(stored: &str) -> Result<Self, PasswordError> {
        let ["", id, params, salt, key] = stored.split('$').collect::<Vec<_>>()[..] else {
            return Err(malformed(
                PBKDF2,
                "does not have the form $<id>$<params>$<salt>$<key>",
            ));
        };
        let Some(prf) = Prf::from_phc_id(id) else {
            return Err(PasswordError::UnrecognisedFormat);
        };
        let Some((iterations, length)) = params
            .split_once(',')
            .and_then(|(i, l)| Some((i.strip_prefix("i=")?, l.strip_prefix("l=")?)))
        else {
            return Err(malformed(
                PBKDF2,
                "has parameters not of the form i=<n>,l=<n>",
            ));
        };

        let hash = Self {
            prf,
            iterations: check_iterations(PBKDF2, parse_number(PBKDF2, iterations)?)?,
            salt: decode_salt(PBKDF2, salt)?,
            key: decode_key(PBKDF2, key)?,
        };
        if parse_number(PBKDF2, length)? != u64::try_from(hash.key.len()).unwrap_or(u64::MAX) {
            return Err(malformed(
                PBKDF2,
                "has a key length that does not match its key",
            ));
        }
        Ok(hash)
    }

    fn from_keycloak(credential: &KeycloakCredential) -> Result<Self, PasswordError> {
        let secret: KeycloakSecret =
            serde_json::from_str(&credential.secret_data).map_err(|_| {
                malformed(
                    KEYCLOAK,
                    "has a secretData that is not JSON with value and salt",
                )
            })?;
        let data: KeycloakData =
            serde_json::from_str(&credential.credential_data).map_err(|_| {
                malformed(
                    KEYCLOAK,
                    "has a credentialData that is not JSON with hashIterations and algorithm",
                )
            })?;
        let Some(prf) = Prf::from_keycloak(&data.algorithm) else {
            return Err(malformed(
                KEYCLOAK,
                "has an unsupported algorithm (supported: pbkdf2, pbkdf2-sha256, pbkdf2-sha512)",
            ));
        };

        Ok(Self {
            prf,
            iterations: check_iterations(KEYCLOAK, data.hash_iterations)?,
            salt: decode_salt(KEYCLOAK, &secret.salt)?,
            key: decode_key(KEYCLOAK, &secret.value)?,
        })
    }

    /// The stored form:
    /// `$pbkdf2-<prf>$i=<iterations>,l=<key bytes>$<salt>$<key>`.
    fn to_phc(&self) -> String {
        format!(
            "${}$i={},l={}${}${}",
            self.prf.phc_id(),
            self.iterations,
            self.key.len(),
            BASE64.encode(&self.salt),
            BASE64.encode(&self.key),
        )
    }

    fn matches(&self, password: &[u8]) -> bool {
        let mut derived = vec![0_u8; self.key.len()];
        self.prf
            .derive(password, &self.salt, self.iterations, &mut derived);
        derived.ct_eq(&self.key).into()
    }
}

/// A Django scrypt hash.
struct ScryptHash {
    params: scrypt::Params,
    salt: Vec<u8>,
    key: Vec<u8>,
}

impl ScryptHash {
    /// Parses what follows `scrypt$`: `<N>$<salt>$<r>$<p>$<key>`.
    fn parse_django(rest: &str) -> Result<Self, PasswordError> {
        let [n, salt, r, p, key] = rest.split('$').collect::<Vec<_>>()[..] else {
            return Err(malformed(
                DJANGO_SCRYPT,
                "does not have the form scrypt$<N>$<salt>$<r>$<p>$<key>",
            ));
        };
        let n = parse_number(DJANGO_SCRYPT, n)?;
        let (r, p) = (parse_u32(DJANGO_SCRYPT, r)?, parse_u32(DJANGO_SCRYPT, p)?);
        if n < 2 || !n.is_power_of_two() {
            return Err(malformed(
                DJANGO_SCRYPT,
                "has a work factor N that is not a power of two",
            ));
        }
        let memory = 128_u64
            .checked_mul(n)
            .and_then(|bytes| bytes.checked_mul(u64::from(r)));
        if memory.is_none_or(|bytes| bytes > MAX_SCRYPT_MEMORY) {
            return Err(malformed(DJANGO_SCRYPT, "needs more than 1 GiB of memory"));
        }
        if p > MAX_SCRYPT_PARALLELISM {
            return Err(malformed(DJANGO_SCRYPT, "has a parallelism above 64"));
        }

        let log_n = u8::try_from(n.trailing_zeros()).unwrap_or(u8::MAX);
        let params = scrypt::Params::new(log_n, r, p, SCRYPT_PARAMS_LEN)
            .map_err(|_| malformed(DJANGO_SCRYPT, "has invalid parameters"))?;
        if salt.is_empty() {
            return Err(malformed(DJANGO_SCRYPT, "has an empty salt"));
        }
        let key = decode_key(DJANGO_SCRYPT, key)?;
        Ok(Self {
            params,
            salt: salt.as_bytes().to_vec(),
            key,
        })
    }

    fn matches(&self, password: &[u8]) -> Result<bool, PasswordError> {
        let mut derived = vec![0_u8; self.key.len()];
        scrypt::scrypt(password, &self.salt, &self.params, &mut derived)
            .map_err(|_| PasswordError::Hashing("scrypt: invalid output length".to_owned()))?;
        Ok(derived.ct_eq(&self.key).into())
    }
}

fn malformed(format: &'static str, reason: impl Into<String>) -> PasswordError {
    PasswordError::Malformed {
        format,
        reason: reason.into(),
    }
}

fn hashing(err: argon2::password_hash::Error) -> PasswordError {
    PasswordError::Hashing(err.to_string())
}

fn parse_number(format: &'static str, text: &str) -> Result<u64, PasswordError> {
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(malformed(format, "has a parameter that is not a number"));
    }
    text.parse()
        .map_err(|_| malformed(format, "has a parameter that is too large"))
}

fn parse_u32(format: &'static str, text: &str) -> Result<u32, PasswordError> {
    u32::try_from(parse_number(format, text)?)
        .map_err(|_| malformed(format, "has a parameter that is too large"))
}

fn check_iterations(format: &'static str, iterations: u64) -> Result<u32, PasswordError> {
    if !(1..=MAX_PBKDF2_ITERATIONS).contains(&iterations) {
        return Err(malformed(
            format,
            "has an iteration count outside 1 to 10000000",
        ));
    }
    u32::try_from(iterations).map_err(|_| malformed(format, "has too many iterations"))
}

fn decode_salt(format: &'static str, text: &str) -> Result<Vec<u8>, PasswordError> {
    let salt = BASE64
        .decode(text)
        .map_err(|_| malformed(format, "has invalid base64 in its salt"))?;
    if salt.is_empty() {
        return Err(malformed(format, "has an empty salt"));
    }
    Ok(salt)
}

fn decode_key(format: &'static str, text: &str) -> Result<Vec<u8>, PasswordError> {
    let key = BASE64
        .decode(text)
        .map_err(|_| malformed(format, "has invalid base64 in its key"))?;
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return Err(malformed(format, "has a key length outside 1 to 512 bytes"));
    }
    Ok(key)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic, reason = "tests fail loudly")]
mod tests;
