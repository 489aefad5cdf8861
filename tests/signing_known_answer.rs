//! Known answers from CONTRACT.md §5.3: the exact signed strings, the full certificate and
//! request-signature vector, and that changing any signed input breaks verification.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use wavekat_platform_client::signing::{
    cert_payload, issue_release_credential, request_payload, verify_cert, verify_request,
    ReleaseCredential, ReleaseVerifier, RequestSignature, VerifyError,
};
use wavekat_platform_client::signing::{
    HEADER_BUILD_VERSION, HEADER_CERT, HEADER_PUB, HEADER_SIG, HEADER_SIG_NONCE, HEADER_SIG_TS,
};

const SEED: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const PUBLIC: &str = "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
const MASTER_SEED: &str = "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f";
const MASTER_PUBLIC: &str = "29acbae141bccaf0b22e1a94d34d0bc7361e526d0bfe12c89794bc9322966dd7";
const VERSION: &str = "0.0.22";
const CERT: &str = "03ede1971c40fed1b00b6f1051f627866e3492a357c1826353ad732deca4b576e4f07e1292c75e5329fa0d2e4040547669ac8e5d0c6f495d993952f7b9e1960f";
const BODY: &[u8] = br#"{"installId":"x"}"#;
const BODY_SHA256: &str = "b327a4f17fc410b74243d5a06c4bd421285fe4dbe5dbac386496a82f587460e9";
const TIMESTAMP: u64 = 1_700_000_000;
const NONCE: [u8; 16] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const NONCE_HEX: &str = "000102030405060708090a0b0c0d0e0f";
const PATH: &str = "/api/voice/installs/heartbeat";
const SIGNATURE: &str = "78c9d4160552283971580f2d6a516a87acecb57d6aa6f1163bb8b6992e20ef86edbbb84a17d1af6ebdaaaa93afef097c6bf6e3195736dbb876bd6af44c65800c";

fn credential() -> ReleaseCredential {
    ReleaseCredential::new(VERSION, SEED, PUBLIC, CERT).expect("contract credential")
}

fn verifier_at(now: u64) -> ReleaseVerifier {
    ReleaseVerifier::new(MASTER_PUBLIC)
        .expect("contract master key")
        .with_clock(move || now)
}

/// The contract vector's headers exactly as a build sends them.
fn contract_headers() -> HeaderMap {
    let credential = credential();
    let signature = RequestSignature {
        timestamp: TIMESTAMP,
        nonce: NONCE_HEX.to_owned(),
        signature: SIGNATURE.to_owned(),
    };
    let mut headers = HeaderMap::new();
    for (name, value) in credential.signature_headers(&signature) {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(&value).expect("header value"),
        );
    }
    headers
}

fn with_header(name: &'static str, value: &str) -> HeaderMap {
    let mut headers = contract_headers();
    headers.insert(
        HeaderName::from_static(name),
        HeaderValue::from_str(value).expect("header value"),
    );
    headers
}

#[test]
fn request_payload_has_the_pinned_six_line_layout() {
    assert_eq!(
        request_payload(1_700_000_000, "deadbeef", "POST", PATH, "abc123"),
        "WKSIG2\n1700000000\ndeadbeef\nPOST\n/api/voice/installs/heartbeat\nabc123"
    );
}

#[test]
fn cert_payload_has_the_pinned_three_line_layout() {
    assert_eq!(cert_payload("0.0.22", "ab12"), "WKCERT2\n0.0.22\nab12");
}

#[test]
fn contract_private_key_derives_the_contract_public_key() {
    assert_eq!(credential().public_key_hex(), PUBLIC);
}

#[test]
fn contract_certificate_verifies_under_the_contract_master_key() {
    assert_eq!(verify_cert(MASTER_PUBLIC, VERSION, PUBLIC, CERT), Ok(()));
}

#[test]
fn issuing_with_the_contract_master_seed_yields_certificates_the_master_public_key_accepts() {
    let issued = issue_release_credential(MASTER_SEED, VERSION).expect("issue");
    assert_eq!(
        verify_cert(
            MASTER_PUBLIC,
            VERSION,
            issued.public_key_hex(),
            issued.cert_hex()
        ),
        Ok(())
    );
}

#[test]
fn contract_certificate_is_the_master_signature_over_the_exact_payload() {
    use ed25519_dalek::{Signer, SigningKey};
    let master = SigningKey::from_bytes(&hex::decode(MASTER_SEED).unwrap().try_into().unwrap());
    let payload =
        "WKCERT2\n0.0.22\n03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8";
    assert_eq!(cert_payload(VERSION, PUBLIC), payload);
    assert_eq!(
        hex::encode(master.sign(payload.as_bytes()).to_bytes()),
        CERT
    );
}

#[test]
fn contract_request_signature_is_the_signature_over_the_exact_string() {
    use ed25519_dalek::{Signer, SigningKey};
    let key = SigningKey::from_bytes(&hex::decode(SEED).unwrap().try_into().unwrap());
    let signed = "WKSIG2\n1700000000\n000102030405060708090a0b0c0d0e0f\nPOST\n/api/voice/installs/heartbeat\nb327a4f17fc410b74243d5a06c4bd421285fe4dbe5dbac386496a82f587460e9";
    assert_eq!(
        request_payload(TIMESTAMP, NONCE_HEX, "POST", PATH, BODY_SHA256),
        signed
    );
    assert_eq!(
        hex::encode(key.sign(signed.as_bytes()).to_bytes()),
        SIGNATURE
    );
}

#[test]
fn signing_the_contract_request_reproduces_the_contract_signature() {
    let signature = credential().sign_request_with("POST", PATH, BODY, TIMESTAMP, NONCE);
    assert_eq!(
        signature,
        RequestSignature {
            timestamp: TIMESTAMP,
            nonce: NONCE_HEX.to_owned(),
            signature: SIGNATURE.to_owned(),
        }
    );
}

#[test]
fn lower_case_method_is_signed_as_upper_case() {
    let signature = credential().sign_request_with("post", PATH, BODY, TIMESTAMP, NONCE);
    assert_eq!(signature.signature, SIGNATURE);
}

#[test]
fn contract_request_signature_verifies() {
    assert_eq!(
        verify_request(PUBLIC, TIMESTAMP, NONCE_HEX, "POST", PATH, BODY, SIGNATURE),
        Ok(())
    );
}

#[test]
fn contract_headers_are_exactly_the_seven_signature_headers() {
    let credential = credential();
    let signature = credential.sign_request_with("POST", PATH, BODY, TIMESTAMP, NONCE);
    let headers: Vec<(String, String)> = credential
        .signature_headers(&signature)
        .iter()
        .map(|(name, value)| (name.to_string(), value.clone()))
        .collect();
    let expected: Vec<(String, String)> = [
        ("X-WK-Sig-Ver", "2"),
        ("X-WK-Sig-Ts", "1700000000"),
        ("X-WK-Sig-Nonce", NONCE_HEX),
        ("X-WK-Build-Version", VERSION),
        ("X-WK-Pub", PUBLIC),
        ("X-WK-Cert", CERT),
        ("X-WK-Sig", SIGNATURE),
    ]
    .iter()
    .map(|(name, value)| (name.to_ascii_lowercase(), value.to_string()))
    .collect();
    assert_eq!(headers, expected);
}

#[test]
fn contract_request_passes_the_release_verifier() {
    let release = verifier_at(TIMESTAMP)
        .verify("POST", PATH, &contract_headers(), BODY)
        .expect("contract vector verifies");
    assert_eq!(release.build_version, VERSION);
    assert_eq!(release.public_key_hex, PUBLIC);
    assert_eq!(release.timestamp, TIMESTAMP);
    assert_eq!(release.nonce, NONCE_HEX);
}

#[test]
fn changed_method_fails_verification() {
    let result = verifier_at(TIMESTAMP).verify("PUT", PATH, &contract_headers(), BODY);
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[test]
fn changed_path_fails_verification() {
    let result = verifier_at(TIMESTAMP).verify(
        "POST",
        "/api/voice/installs/events",
        &contract_headers(),
        BODY,
    );
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[test]
fn changed_body_fails_verification() {
    let result =
        verifier_at(TIMESTAMP).verify("POST", PATH, &contract_headers(), br#"{"installId":"y"}"#);
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[test]
fn changed_timestamp_fails_verification() {
    let headers = with_header(HEADER_SIG_TS, "1700000001");
    let result = verifier_at(TIMESTAMP).verify("POST", PATH, &headers, BODY);
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[test]
fn changed_nonce_fails_verification() {
    let headers = with_header(HEADER_SIG_NONCE, "000102030405060708090a0b0c0d0e0e");
    let result = verifier_at(TIMESTAMP).verify("POST", PATH, &headers, BODY);
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[test]
fn changed_build_version_fails_verification() {
    let headers = with_header(HEADER_BUILD_VERSION, "0.0.23");
    let result = verifier_at(TIMESTAMP).verify("POST", PATH, &headers, BODY);
    assert_eq!(result, Err(VerifyError::BadCertificate));
}

#[test]
fn changed_public_key_fails_verification() {
    // The master public key is a valid point, but not the key the certificate blesses.
    let headers = with_header(HEADER_PUB, MASTER_PUBLIC);
    let result = verifier_at(TIMESTAMP).verify("POST", PATH, &headers, BODY);
    assert_eq!(result, Err(VerifyError::BadCertificate));
}

#[test]
fn changed_certificate_fails_verification() {
    let mut cert = hex::decode(CERT).unwrap();
    cert[10] ^= 0x01;
    let headers = with_header(HEADER_CERT, &hex::encode(cert));
    let result = verifier_at(TIMESTAMP).verify("POST", PATH, &headers, BODY);
    assert_eq!(result, Err(VerifyError::BadCertificate));
}

#[test]
fn changed_signature_fails_verification() {
    let mut signature = hex::decode(SIGNATURE).unwrap();
    signature[10] ^= 0x01;
    let headers = with_header(HEADER_SIG, &hex::encode(signature));
    let result = verifier_at(TIMESTAMP).verify("POST", PATH, &headers, BODY);
    assert_eq!(result, Err(VerifyError::BadSignature));
}
