//! The release credential, key generation and issuance: input decoding, typed errors naming the
//! field, secrets kept out of `Debug` and messages, and fresh nonces per request.

use std::collections::HashMap;

use ed25519_dalek::SigningKey;
use wavekat_platform_client::signing::{
    generate_keypair, generate_master, issue_release_credential, verify_cert, verify_request,
    KeyError, ReleaseCredential, SigningError,
};
use wavekat_platform_client::signing::{
    ENV_RELEASE_CERT, ENV_RELEASE_PRIVATE_KEY, ENV_RELEASE_PUBLIC_KEY, ENV_RELEASE_VERSION,
};

const SEED: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const PUBLIC: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const OTHER_PUBLIC: &str = "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7";
const CERT: &str = "03ede1971c40fed1b00b6f1051f627866e3492a357c1826353ad732deca4b576e4f07e1292c75e5329fa0d2e4040547669ac8e5d0c6f495d993952f7b9e1960f";
const PATH: &str = "/api/voice/installs/heartbeat";

fn public_of(private_hex: &str) -> String {
    let seed: [u8; 32] = hex::decode(private_hex).unwrap().try_into().unwrap();
    hex::encode(SigningKey::from_bytes(&seed).verifying_key().as_bytes())
}

fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn credential_accepts_upper_case_hex_with_surrounding_whitespace() {
    let credential = ReleaseCredential::new(
        "0.0.22",
        &format!("  {}\n", SEED.to_uppercase()),
        &format!("\t{} ", PUBLIC.to_uppercase()),
        &format!("{}\n", CERT.to_uppercase()),
    )
    .expect("decodes");
    assert_eq!(credential.public_key_hex(), PUBLIC);
    assert_eq!(credential.cert_hex(), CERT);
    assert_eq!(credential.version(), "0.0.22");
}

#[test]
fn credential_refuses_a_private_key_that_does_not_match_the_public_key() {
    let result = ReleaseCredential::new("0.0.22", SEED, OTHER_PUBLIC, CERT);
    assert_eq!(result.err(), Some(KeyError::KeyMismatch));
}

#[test]
fn non_hex_private_key_error_names_the_private_key() {
    let bad = format!("zz{}", &SEED[2..]);
    let result = ReleaseCredential::new("0.0.22", &bad, PUBLIC, CERT);
    assert_eq!(
        result.err(),
        Some(KeyError::InvalidHex {
            field: "private key"
        })
    );
}

#[test]
fn non_hex_public_key_error_names_the_public_key() {
    let bad = format!("{}g", &PUBLIC[1..]);
    let result = ReleaseCredential::new("0.0.22", SEED, &bad, CERT);
    assert_eq!(
        result.err(),
        Some(KeyError::InvalidHex {
            field: "public key"
        })
    );
}

#[test]
fn short_certificate_error_names_the_certificate_and_lengths() {
    let result = ReleaseCredential::new("0.0.22", SEED, PUBLIC, &CERT[..126]);
    assert_eq!(
        result.err(),
        Some(KeyError::InvalidLength {
            field: "certificate",
            expected: 128,
            actual: 126
        })
    );
}

#[test]
fn overlong_private_key_error_names_the_private_key() {
    let result = ReleaseCredential::new("0.0.22", &format!("{SEED}00"), PUBLIC, CERT);
    assert_eq!(
        result.err(),
        Some(KeyError::InvalidLength {
            field: "private key",
            expected: 64,
            actual: 66
        })
    );
}

#[test]
fn key_errors_never_echo_the_private_key() {
    // One bad character makes the private key undecodable; the rest is still secret.
    let secret = format!("{}x", &SEED[..63]);
    let error = ReleaseCredential::new("0.0.22", &secret, PUBLIC, CERT).unwrap_err();
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(&SEED[..63]), "{text}");
    }
}

#[test]
fn credential_debug_does_not_contain_the_private_key() {
    let credential = ReleaseCredential::new("0.0.22", SEED, PUBLIC, CERT).unwrap();
    let debug = format!("{credential:?}");
    assert!(!debug.contains(SEED), "{debug}");
    assert!(
        !debug.to_uppercase().contains(&SEED.to_uppercase()),
        "{debug}"
    );
    assert!(debug.contains(PUBLIC), "public parts stay visible: {debug}");
}

#[test]
fn generated_private_key_debug_is_redacted() {
    let (private, _public) = generate_keypair().unwrap();
    let debug = format!("{private:?}");
    assert!(!debug.contains(private.expose()), "{debug}");
}

#[test]
fn empty_version_is_refused() {
    let result = ReleaseCredential::new("", SEED, PUBLIC, CERT);
    assert_eq!(result.err(), Some(KeyError::InvalidVersion));
}

#[test]
fn version_with_a_newline_is_refused() {
    let result = ReleaseCredential::new("0.0.22\nx", SEED, PUBLIC, CERT);
    assert_eq!(result.err(), Some(KeyError::InvalidVersion));
}

#[test]
fn credential_reads_the_four_environment_variables() {
    let credential = ReleaseCredential::from_env_with(env_of(&[
        (ENV_RELEASE_VERSION, "0.0.22\n"),
        (ENV_RELEASE_PRIVATE_KEY, SEED),
        (ENV_RELEASE_PUBLIC_KEY, PUBLIC),
        (ENV_RELEASE_CERT, CERT),
    ]))
    .expect("all four set");
    assert_eq!(credential.version(), "0.0.22");
    assert_eq!(credential.public_key_hex(), PUBLIC);
}

#[test]
fn environment_variable_names_match_the_release_tooling() {
    assert_eq!(
        [
            ENV_RELEASE_PRIVATE_KEY,
            ENV_RELEASE_PUBLIC_KEY,
            ENV_RELEASE_CERT,
            ENV_RELEASE_VERSION
        ],
        [
            "WK_RELEASE_PRIV_V",
            "WK_RELEASE_PUB_V",
            "WK_RELEASE_CERT",
            "WK_RELEASE_VERSION"
        ]
    );
}

#[test]
fn missing_environment_variable_is_named() {
    let result = ReleaseCredential::from_env_with(env_of(&[
        (ENV_RELEASE_VERSION, "0.0.22"),
        (ENV_RELEASE_PRIVATE_KEY, SEED),
        (ENV_RELEASE_PUBLIC_KEY, PUBLIC),
    ]));
    assert_eq!(
        result.err(),
        Some(KeyError::MissingEnv {
            name: "WK_RELEASE_CERT"
        })
    );
}

#[test]
fn the_same_request_signed_twice_gets_different_nonces() {
    let credential = ReleaseCredential::new("0.0.22", SEED, PUBLIC, CERT).unwrap();
    let first = credential.sign_request("POST", PATH, b"{}").unwrap();
    let second = credential.sign_request("POST", PATH, b"{}").unwrap();
    assert_ne!(first.nonce, second.nonce);
    assert_ne!(first.signature, second.signature);
}

#[test]
fn signed_request_nonce_is_32_lower_case_hex_characters() {
    let credential = ReleaseCredential::new("0.0.22", SEED, PUBLIC, CERT).unwrap();
    let signature = credential.sign_request("POST", PATH, b"{}").unwrap();
    assert_eq!(signature.nonce.len(), 32);
    assert!(signature
        .nonce
        .bytes()
        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
}

#[test]
fn signed_request_verifies_with_its_own_timestamp_and_nonce() {
    let credential = ReleaseCredential::new("0.0.22", SEED, PUBLIC, CERT).unwrap();
    let signature = credential.sign_request("POST", PATH, b"{}").unwrap();
    assert_eq!(
        verify_request(
            PUBLIC,
            signature.timestamp,
            &signature.nonce,
            "POST",
            PATH,
            b"{}",
            &signature.signature
        ),
        Ok(())
    );
}

#[test]
fn generated_keypairs_are_distinct_and_consistent() {
    let (private_a, public_a) = generate_keypair().unwrap();
    let (private_b, public_b) = generate_keypair().unwrap();
    assert_ne!(private_a.expose(), private_b.expose());
    assert_ne!(public_a, public_b);
    assert_eq!(public_of(private_a.expose()), public_a);
    assert_eq!(public_of(private_b.expose()), public_b);
}

#[test]
fn issued_credential_is_certified_by_the_master_for_its_version() {
    let (master_private, master_public) = generate_master().unwrap();
    let credential = issue_release_credential(master_private.expose(), "1.2.3").unwrap();
    assert_eq!(credential.version(), "1.2.3");
    assert_eq!(
        verify_cert(
            &master_public,
            "1.2.3",
            credential.public_key_hex(),
            credential.cert_hex()
        ),
        Ok(())
    );
}

#[test]
fn certificate_does_not_verify_for_another_version() {
    let (master_private, master_public) = generate_master().unwrap();
    let credential = issue_release_credential(master_private.expose(), "1.2.3").unwrap();
    assert_eq!(
        verify_cert(
            &master_public,
            "1.2.4",
            credential.public_key_hex(),
            credential.cert_hex()
        ),
        Err(SigningError::BadCertificate)
    );
}

#[test]
fn certificate_does_not_verify_under_another_master() {
    let (master_private, _) = generate_master().unwrap();
    let (_, other_master_public) = generate_master().unwrap();
    let credential = issue_release_credential(master_private.expose(), "1.2.3").unwrap();
    assert_eq!(
        verify_cert(
            &other_master_public,
            "1.2.3",
            credential.public_key_hex(),
            credential.cert_hex()
        ),
        Err(SigningError::BadCertificate)
    );
}

#[test]
fn exported_private_key_rebuilds_the_same_credential() {
    let (master_private, _) = generate_master().unwrap();
    let issued = issue_release_credential(master_private.expose(), "1.2.3").unwrap();
    let exported = issued.export_private_key();
    let rebuilt = ReleaseCredential::new(
        "1.2.3",
        exported.expose(),
        issued.public_key_hex(),
        issued.cert_hex(),
    )
    .expect("exported key matches");
    let nonce = [7u8; 16];
    assert_eq!(
        rebuilt.sign_request_with("POST", PATH, b"{}", 1, nonce),
        issued.sign_request_with("POST", PATH, b"{}", 1, nonce)
    );
}

#[test]
fn issuing_with_a_malformed_master_key_names_the_master_private_key() {
    let result = issue_release_credential("abc", "1.2.3");
    assert_eq!(
        result.err(),
        Some(KeyError::InvalidLength {
            field: "master private key",
            expected: 64,
            actual: 3
        })
    );
}

#[test]
fn issuing_for_an_invalid_version_is_refused() {
    let (master_private, _) = generate_master().unwrap();
    let result = issue_release_credential(master_private.expose(), "1.2.3 beta");
    assert_eq!(result.err(), Some(KeyError::InvalidVersion));
}

#[test]
fn verify_cert_with_a_malformed_master_key_names_the_master_public_key() {
    let result = verify_cert("00", "0.0.22", PUBLIC, CERT);
    assert_eq!(
        result,
        Err(SigningError::Key(KeyError::InvalidLength {
            field: "master public key",
            expected: 64,
            actual: 2
        }))
    );
}

#[test]
fn verify_request_with_a_short_nonce_names_the_nonce() {
    let result = verify_request(PUBLIC, 1, "deadbeef", "POST", PATH, b"", &CERT[..128]);
    assert_eq!(
        result,
        Err(SigningError::Key(KeyError::InvalidLength {
            field: "nonce",
            expected: 32,
            actual: 8
        }))
    );
}

#[test]
fn verify_request_with_a_non_hex_signature_names_the_signature() {
    let bad = "q".repeat(128);
    let result = verify_request(PUBLIC, 1, &"0".repeat(32), "POST", PATH, b"", &bad);
    assert_eq!(
        result,
        Err(SigningError::Key(KeyError::InvalidHex {
            field: "signature"
        }))
    );
}
