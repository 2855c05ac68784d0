//! Tests of password hashing and hash import against the shared fixtures.

use super::*;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../shared/cases/foreign-password-hashes.json"
);

/// One user of the shared password-hash fixtures.
#[derive(Deserialize)]
struct Case {
    username: String,
    password: String,
    format: String,
    stored: ImportedHash,
}

fn cases() -> Vec<Case> {
    let text = std::fs::read_to_string(FIXTURES)
        .unwrap_or_else(|err| panic!("password-hash fixtures missing at {FIXTURES}: {err}"));
    let cases: Vec<Case> = serde_json::from_str(&text)
        .unwrap_or_else(|err| panic!("password-hash fixtures unreadable: {err}"));
    assert!(!cases.is_empty(), "password-hash fixtures are empty");
    cases
}

const UPGRADE: Verified = Verified::Match { upgrade: true };
const CURRENT: Verified = Verified::Match { upgrade: false };

/// Cheap parameters for tests that do not check the cost itself.
const CHEAP: PasswordPolicy = PasswordPolicy {
    memory_kib: 64,
    passes: 1,
    lanes: 1,
};

fn text(hash: &str) -> ImportedHash {
    ImportedHash::Text(hash.to_owned())
}

fn keycloak(value: &str, salt: &str, iterations: u64, algorithm: &str) -> ImportedHash {
    ImportedHash::Keycloak(KeycloakCredential {
        secret_data: serde_json::json!({ "value": value, "salt": salt }).to_string(),
        credential_data: serde_json::json!({
            "hashIterations": iterations,
            "algorithm": algorithm,
        })
        .to_string(),
    })
}

#[test]
fn every_fixture_imports_and_verifies() {
    let cases = cases();
    std::thread::scope(|scope| {
        for case in &cases {
            scope.spawn(move || check_fixture(case));
        }
    });
}

fn check_fixture(case: &Case) {
    let who = format!("{} ({})", case.username, case.format);
    let stored =
        import(case.stored.clone()).unwrap_or_else(|err| panic!("{who}: import failed: {err}"));
    // Argon2id at or above the OWASP parameters needs no upgrade, Django
    // prefix or not; every other format does.
    let upgrade = !matches!(case.format.as_str(), "argon2id-phc" | "django-argon2");

    let right = verify(&case.password, &stored).unwrap();
    assert_eq!(right, Verified::Match { upgrade }, "{who}: right password");
    let wrong = verify(&format!("x{}", case.password), &stored).unwrap();
    assert_eq!(wrong, Verified::Mismatch, "{who}: wrong password");
}

#[test]
fn import_is_idempotent() {
    for case in cases() {
        let stored = import(case.stored).unwrap();
        assert_eq!(import(text(&stored)).unwrap(), stored, "{}", case.username);
    }
}

#[test]
fn keycloak_and_django_argon2_are_normalised() {
    let cases = cases();
    let stored = |name: &str| {
        let case = cases.iter().find(|case| case.username == name).unwrap();
        import(case.stored.clone()).unwrap()
    };

    assert!(stored("jon").starts_with("$pbkdf2-sha256$i=27500,l=64$"));
    assert!(stored("kim").starts_with("$pbkdf2-sha256$i=600000,l=32$"));
    assert!(stored("lee").starts_with("$pbkdf2-sha512$i=30000,l=64$"));
    assert!(stored("mo").starts_with("$pbkdf2-sha1$i=20000,l=64$"));
    assert!(stored("eli").starts_with("$argon2id$v=19$m=102400,t=2,p=8$"));
    assert!(!stored("jon").ends_with('='), "no base64 padding");
}

#[test]
fn new_hash_uses_owasp_parameters() {
    let owasp = PasswordPolicy {
        memory_kib: 19_456,
        passes: 2,
        lanes: 1,
    };
    assert_eq!(PasswordPolicy::default(), owasp);

    let stored = hash_password("a new password").unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    let phc = PasswordHash::new(&stored).unwrap();
    let mut buffer = [0_u8; Salt::MAX_LENGTH];
    assert_eq!(
        phc.salt.unwrap().decode_b64(&mut buffer).unwrap().len(),
        SALT_LEN
    );
    assert_eq!(phc.hash.unwrap().len(), OUTPUT_LEN);

    assert_eq!(verify("a new password", &stored).unwrap(), CURRENT);
    assert_eq!(
        verify("a new passwore", &stored).unwrap(),
        Verified::Mismatch
    );
    assert_ne!(
        hash_password("a new password").unwrap(),
        stored,
        "salt is random"
    );
}

#[test]
fn weaker_argon2id_is_upgraded() {
    let stored = hash_password_with("pw", &CHEAP).unwrap();
    assert!(
        stored.starts_with("$argon2id$v=19$m=64,t=1,p=1$"),
        "{stored}"
    );
    assert_eq!(verify("pw", &stored).unwrap(), UPGRADE);
    assert_eq!(CHEAP.verify("pw", &stored).unwrap(), CURRENT);

    let stronger = PasswordPolicy {
        passes: 3,
        ..PasswordPolicy::OWASP
    };
    let stored = stronger.hash("pw").unwrap();
    assert_eq!(verify("pw", &stored).unwrap(), CURRENT);
}

#[test]
fn argon2_without_version_is_argon2_1_0() {
    let argon2 = Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::DEFAULT);
    let salt = SaltString::encode_b64(b"sixteen byte slt").unwrap();
    let stored = argon2.hash_password(b"pw", &salt).unwrap().to_string();
    let stored = stored.replace("$v=16", "");
    assert!(stored.starts_with("$argon2i$m="), "{stored}");
    assert_eq!(verify("pw", &stored).unwrap(), UPGRADE);
}

#[test]
fn bcrypt_counts_only_the_first_72_bytes() {
    let long = "0123456789".repeat(8);
    let stored = import(text(&bcrypt::hash(&long, 4).unwrap())).unwrap();

    assert_eq!(verify(&long, &stored).unwrap(), UPGRADE);
    assert_eq!(verify(&long[..72], &stored).unwrap(), UPGRADE);
    assert_eq!(verify(&long[..71], &stored).unwrap(), Verified::Mismatch);
}

#[test]
fn django_bcrypt_prefix_is_dropped() {
    let mcf = bcrypt::hash("pw", 4).unwrap();
    let stored = import(text(&format!("bcrypt${mcf}"))).unwrap();
    assert_eq!(stored, mcf);
    assert_eq!(verify("pw", &stored).unwrap(), UPGRADE);
}

/// Imports `input`, expecting an error that says `says` and does not
/// contain `hidden`, a piece of the input.
fn refused(input: ImportedHash, says: &str, hidden: &str) {
    let shown = format!("{input:?}");
    let message = import(input).unwrap_err().to_string();
    assert!(
        message.contains(says),
        "{message:?} should say {says:?} ({shown})"
    );
    assert!(!message.contains(hidden), "{message:?} echoes the input");
}

#[test]
fn malformed_text_hashes_are_refused_without_echo() {
    let bcrypt = "$2b$10$3Ir0G5ZL2pbT9Q0iwadYh.STzCXuQ0fR7/y25mH8i1PfoF2/GbxQG";
    let body = &bcrypt[7..];
    let django = "pbkdf2_sha256$1000$fJmOX8QchiXIx5ZP3whCP3$XemPTedFs9No5nUQpfA+PiNt!=";
    let argon2 = "$argon2id$v=19$m=1,t=2,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAA";

    refused(text(&bcrypt[..40]), "wrong length", &bcrypt[7..40]);
    refused(text(&bcrypt.replace("$10$", "$99$")), "invalid cost", body);
    refused(text(&bcrypt.replace("$10$", "$1x$")), "invalid cost", body);
    refused(text(&bcrypt.replace("$2b$", "$2x$")), "$2x$", body);
    refused(text(django), "invalid base64 in its key", "XemPTedFs9No5n");
    refused(
        text(&django.replace("$1000$", "$0$")),
        "iteration",
        "XemPTedFs9No5n",
    );
    refused(
        text(argon2),
        "argon2 hash has invalid parameters",
        "c2FsdHNhbHQ",
    );
    refused(
        text("scrypt$1000$salty$8$1$AAAAAAAAAAAAAA"),
        "power of two",
        "salty",
    );
    refused(text("not a hash at all"), "unrecognised", "not a hash");
    refused(text("md5$abc$def"), "unrecognised", "abc$def");
    refused(text(""), "empty", "\u{0}");
}

#[test]
fn malformed_keycloak_credentials_are_refused_without_echo() {
    let key = "4DfuJqMOgJ4YfBXSIpfW6V+l8vRtqcPyKCq5cFGOF/JxzYtEMfnDchyj18PlQ==";
    let salt = "P2c8Fqq7gzkX6CsN473kMA==";
    let long_key = BASE64.encode([7_u8; 513]);

    refused(
        keycloak(key, salt, 27_500, "md5"),
        "unsupported algorithm",
        key,
    );
    refused(keycloak("", salt, 27_500, "pbkdf2"), "key length", salt);
    refused(
        keycloak(&long_key, salt, 27_500, "pbkdf2"),
        "key length",
        &long_key,
    );
    refused(keycloak(key, salt, 0, "pbkdf2"), "iteration", key);
    refused(keycloak(key, salt, 10_000_001, "pbkdf2"), "iteration", key);
    refused(
        keycloak(key, "@@", 27_500, "pbkdf2"),
        "invalid base64 in its salt",
        key,
    );
}

#[test]
fn keycloak_json_errors_do_not_echo() {
    let input = ImportedHash::Keycloak(KeycloakCredential {
        secret_data: "{\"value\": 12345678901234}".to_owned(),
        credential_data: "{\"hashIterations\": 1, \"algorithm\": \"pbkdf2\"}".to_owned(),
    });
    let message = import(input).unwrap_err().to_string();
    assert!(message.contains("secretData"), "{message}");
    assert!(!message.contains("12345678901234"), "{message}");
}

#[test]
fn verifying_a_malformed_stored_hash_fails() {
    assert!(matches!(verify("pw", ""), Err(PasswordError::Empty)));
    assert!(matches!(
        verify("pw", "garbage"),
        Err(PasswordError::UnrecognisedFormat)
    ));
    assert!(matches!(
        verify("pw", "$2b$10$short"),
        Err(PasswordError::Malformed { format: BCRYPT, .. })
    ));
}

#[test]
fn unrecognised_format_lists_the_supported_ones() {
    let message = PasswordError::UnrecognisedFormat.to_string();
    let names = [
        "argon2id",
        "$2b$",
        "pbkdf2_sha256",
        "bcrypt_sha256",
        "scrypt",
        "Keycloak",
    ];
    for name in names {
        assert!(message.contains(name), "{message} lacks {name}");
    }
}

#[test]
fn unknown_user_costs_a_default_verification() {
    let dummy = PasswordPolicy::default().dummy_hash();
    let StoredHash::Argon2(hash) = StoredHash::parse(&dummy).unwrap() else {
        panic!("dummy hash is not Argon2");
    };
    assert!(
        PasswordPolicy::default().is_met_by(&hash),
        "dummy hash is weaker than policy"
    );

    verify_unknown_user("anything");
    CHEAP.verify_unknown_user("anything");
}

#[test]
fn imported_hash_round_trips_as_json() {
    for input in [text("$2b$04$x"), keycloak("a2V5", "c2FsdA==", 1, "pbkdf2")] {
        let json = serde_json::to_value(&input).unwrap();
        let again = serde_json::from_value::<ImportedHash>(json.clone()).unwrap();
        assert_eq!(serde_json::to_value(&again).unwrap(), json);
    }
    let json = serde_json::to_value(keycloak("a2V5", "c2FsdA==", 1, "pbkdf2")).unwrap();
    assert!(json.get("secretData").is_some() && json.get("credentialData").is_some());
}

#[test]
fn debug_redacts_imported_hashes() {
    let shown = format!("{:?}", text("$2b$10$SECRETSECRETSECRET"));
    assert!(!shown.contains("SECRET"), "{shown}");
    let shown = format!("{:?}", keycloak("SECRETVALUE", "SECRETSALT", 1, "pbkdf2"));
    assert!(!shown.contains("SECRET"), "{shown}");
}
