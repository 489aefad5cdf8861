//! Interoperability with the published 0.0.37 client (`wpc`): requests and certificates made by
//! either side verify on the other.

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use wavekat_platform_client::signing::{
    generate_master, issue_release_credential, verify_cert, verify_request, ReleaseCredential,
    ReleaseVerifier,
};
use wavekat_platform_client::signing::{
    HEADER_BUILD_VERSION, HEADER_CERT, HEADER_PUB, HEADER_SIG, HEADER_SIG_NONCE, HEADER_SIG_TS,
    HEADER_SIG_VER,
};

const PATH: &str = "/api/voice/installs/heartbeat";
const BODY: &[u8] = br#"{"installId":"x","appVersion":"1.0.0","os":"linux"}"#;

fn header_map(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(
            HeaderName::from_static(name),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

#[test]
fn request_signed_by_wpc_passes_our_release_verifier() {
    let (master_private, master_public) = wpc::generate_master();
    let credential = wpc::issue_release_credential(&master_private, "0.0.37").unwrap();
    let signature = credential.sign_request("POST", PATH, BODY).unwrap();
    let timestamp: u64 = signature.timestamp.parse().unwrap();

    let headers = header_map(&[
        (HEADER_SIG_VER, "2"),
        (HEADER_SIG_TS, &signature.timestamp),
        (HEADER_SIG_NONCE, &signature.nonce),
        (HEADER_BUILD_VERSION, &credential.version),
        (HEADER_PUB, &credential.public_key_hex),
        (HEADER_CERT, &credential.cert_hex),
        (HEADER_SIG, &signature.signature_hex),
    ]);
    let verifier = ReleaseVerifier::new(&master_public)
        .unwrap()
        .with_clock(move || timestamp);
    let release = verifier.verify("POST", PATH, &headers, BODY).unwrap();
    assert_eq!(release.build_version, "0.0.37");
    assert_eq!(release.nonce, signature.nonce);
}

#[test]
fn request_signed_by_wpc_passes_our_verify_request() {
    let (master_private, _) = wpc::generate_master();
    let credential = wpc::issue_release_credential(&master_private, "0.0.37").unwrap();
    let signature = credential.sign_request("POST", PATH, BODY).unwrap();
    assert_eq!(
        verify_request(
            &credential.public_key_hex,
            signature.timestamp.parse().unwrap(),
            &signature.nonce,
            "POST",
            PATH,
            BODY,
            &signature.signature_hex,
        ),
        Ok(())
    );
}

#[test]
fn request_signed_by_us_passes_wpc_verify_request() {
    let (master_private, _) = generate_master().unwrap();
    let credential = issue_release_credential(master_private.expose(), "0.1.0").unwrap();
    let signature = credential.sign_request("POST", PATH, BODY).unwrap();
    let verified = wpc::verify_request(
        credential.public_key_hex(),
        &signature.timestamp.to_string(),
        &signature.nonce,
        "POST",
        PATH,
        BODY,
        &signature.signature,
    )
    .unwrap();
    assert!(verified);
}

#[test]
fn request_signed_by_us_with_tampered_body_fails_wpc_verify_request() {
    let (master_private, _) = generate_master().unwrap();
    let credential = issue_release_credential(master_private.expose(), "0.1.0").unwrap();
    let signature = credential.sign_request("POST", PATH, BODY).unwrap();
    let verified = wpc::verify_request(
        credential.public_key_hex(),
        &signature.timestamp.to_string(),
        &signature.nonce,
        "POST",
        PATH,
        b"{}",
        &signature.signature,
    )
    .unwrap();
    assert!(!verified);
}

#[test]
fn certificate_issued_by_wpc_passes_our_verify_cert() {
    let (master_private, master_public) = wpc::generate_master();
    let credential = wpc::issue_release_credential(&master_private, "0.0.37").unwrap();
    assert_eq!(
        verify_cert(
            &master_public,
            "0.0.37",
            &credential.public_key_hex,
            &credential.cert_hex
        ),
        Ok(())
    );
}

#[test]
fn certificate_issued_by_us_passes_wpc_verify_cert() {
    let (master_private, master_public) = generate_master().unwrap();
    let credential = issue_release_credential(master_private.expose(), "0.1.0").unwrap();
    let verified = wpc::verify_cert(
        &master_public,
        "0.1.0",
        credential.public_key_hex(),
        credential.cert_hex(),
    )
    .unwrap();
    assert!(verified);
}

#[test]
fn our_issuance_under_a_wpc_master_key_passes_wpc_verify_cert() {
    let (master_private, master_public) = wpc::generate_master();
    let credential = issue_release_credential(&master_private, "0.1.0").unwrap();
    let verified = wpc::verify_cert(
        &master_public,
        "0.1.0",
        credential.public_key_hex(),
        credential.cert_hex(),
    )
    .unwrap();
    assert!(verified);
}

#[test]
fn wpc_credential_strings_build_our_credential_and_sign_for_wpc() {
    let (master_private, master_public) = wpc::generate_master();
    let theirs = wpc::issue_release_credential(&master_private, "0.0.37").unwrap();
    let ours = ReleaseCredential::new(
        &theirs.version,
        &theirs.private_key_hex,
        &theirs.public_key_hex,
        &theirs.cert_hex,
    )
    .unwrap();
    let signature = ours.sign_request("POST", PATH, BODY).unwrap();
    assert!(wpc::verify_cert(
        &master_public,
        "0.0.37",
        ours.public_key_hex(),
        ours.cert_hex()
    )
    .unwrap());
    assert!(wpc::verify_request(
        ours.public_key_hex(),
        &signature.timestamp.to_string(),
        &signature.nonce,
        "POST",
        PATH,
        BODY,
        &signature.signature,
    )
    .unwrap());
}
