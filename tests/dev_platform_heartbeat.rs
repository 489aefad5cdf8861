//! The dev-platform emulator's release-signed install heartbeat over real HTTP.
#![cfg(feature = "dev-platform")]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::{json, Value};
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions};
use wavekat_platform_client::signing::{
    generate_master, issue_release_credential, ReleaseCredential,
};

const PATH: &str = "/api/voice/installs/heartbeat";
/// A fixed "now" for the tests that pin the verifier's clock.
const NOW: u64 = 1_800_000_000;

async fn start(options: DevPlatformOptions) -> DevPlatform {
    DevPlatform::start(options)
        .await
        .expect("the emulator starts")
}

/// Sends `body` with the signature headers of `sig_over` (the bytes that were signed).
async fn send(
    platform: &DevPlatform,
    cred: &ReleaseCredential,
    sig: &wavekat_platform_client::signing::RequestSignature,
    body: &[u8],
) -> (StatusCode, Value) {
    let mut request = wavekat_platform_client::dev_platform::http_client()
        .expect("an HTTP client")
        .post(format!("{}{PATH}", platform.base_url()))
        .header("content-type", "application/json")
        .body(body.to_vec());
    for (name, value) in cred.signature_headers(sig) {
        request = request.header(name, value);
    }
    let response = request.send().await.expect("an HTTP answer");
    let status = response.status();
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

async fn heartbeat(
    platform: &DevPlatform,
    cred: &ReleaseCredential,
    body: &Value,
) -> (StatusCode, Value) {
    let bytes = serde_json::to_vec(body).expect("JSON");
    let sig = cred.sign_request("POST", PATH, &bytes).expect("signed");
    send(platform, cred, &sig, &bytes).await
}

fn report(install_id: &str, app_version: &str) -> Value {
    json!({"installId": install_id, "appVersion": app_version, "os": "linux", "arch": "x86_64"})
}

fn is_rfc3339_millis_utc(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24 && b.get(10) == Some(&b'T') && b.get(19) == Some(&b'.') && s.ends_with('Z')
}

#[tokio::test]
async fn a_correctly_signed_heartbeat_is_stored_and_echoed() {
    let platform = start(DevPlatformOptions::default()).await;
    let cred = platform
        .issue_release_credential("1.4.0")
        .expect("a credential");
    let (status, body) = heartbeat(&platform, &cred, &report("install-1", "1.4.0")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["installId"], "install-1");
    assert_eq!(body["appVersion"], "1.4.0");
    assert_eq!(body["os"], "linux");
    assert_eq!(body["arch"], "x86_64");
    assert!(body["id"].as_str().is_some_and(|id| !id.is_empty()));
    for key in ["osVersion", "locale"] {
        assert_eq!(
            body.get(key),
            Some(&Value::Null),
            "{key} is present as null"
        );
    }
    for key in ["firstSeenAt", "lastSeenAt"] {
        let ts = body[key].as_str().expect("a timestamp");
        assert!(is_rfc3339_millis_utc(ts), "{key} = {ts}");
    }
}

#[tokio::test]
async fn a_repeat_heartbeat_keeps_the_id_and_first_sighting_and_replaces_the_fields() {
    let platform = start(DevPlatformOptions::default()).await;
    let cred = platform
        .issue_release_credential("1.4.0")
        .expect("a credential");
    let (_, first) = heartbeat(&platform, &cred, &report("install-1", "1.4.0")).await;
    let mut update = report("install-1", "1.5.0");
    update["locale"] = json!("en-NZ");
    let (status, second) = heartbeat(&platform, &cred, &update).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(second["id"], first["id"]);
    assert_eq!(second["firstSeenAt"], first["firstSeenAt"]);
    assert_eq!(second["appVersion"], "1.5.0");
    assert_eq!(second["locale"], "en-NZ");
}

#[tokio::test]
async fn a_body_other_than_the_signed_one_is_401_bad_signature() {
    let platform = start(DevPlatformOptions::default()).await;
    let cred = platform
        .issue_release_credential("1.4.0")
        .expect("a credential");
    let signed = serde_json::to_vec(&report("install-1", "1.4.0")).expect("JSON");
    let sig = cred.sign_request("POST", PATH, &signed).expect("signed");
    let tampered = serde_json::to_vec(&report("install-1", "9.9.9")).expect("JSON");
    let (status, body) = send(&platform, &cred, &sig, &tampered).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "bad_signature");
}

#[tokio::test]
async fn another_versions_certificate_is_401_bad_certificate() {
    let platform = start(DevPlatformOptions::default()).await;
    let cred = platform
        .issue_release_credential("1.4.0")
        .expect("a credential");
    let bytes = serde_json::to_vec(&report("install-1", "1.4.1")).expect("JSON");
    let sig = cred.sign_request("POST", PATH, &bytes).expect("signed");
    let mut request = wavekat_platform_client::dev_platform::http_client()
        .expect("an HTTP client")
        .post(format!("{}{PATH}", platform.base_url()))
        .header("content-type", "application/json")
        .body(bytes);
    for (name, value) in cred.signature_headers(&sig) {
        let value = if name == "x-wk-build-version" {
            "1.4.1".to_owned()
        } else {
            value
        };
        request = request.header(name, value);
    }
    let response = request.send().await.expect("an HTTP answer");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "bad_certificate");
}

#[tokio::test]
async fn a_credential_from_another_master_is_401_bad_certificate() {
    let platform = start(DevPlatformOptions::default()).await;
    let (foreign_master, _) = generate_master().expect("a master");
    let cred = issue_release_credential(foreign_master.expose(), "1.4.0").expect("a credential");
    let (status, body) = heartbeat(&platform, &cred, &report("install-1", "1.4.0")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "bad_certificate");
}

#[tokio::test]
async fn a_timestamp_outside_the_window_of_the_injected_clock_is_401_stale() {
    let platform = start(DevPlatformOptions::default().clock(|| NOW)).await;
    let cred = platform
        .issue_release_credential("1.4.0")
        .expect("a credential");
    let bytes = serde_json::to_vec(&report("install-1", "1.4.0")).expect("JSON");
    let sig = cred.sign_request_with("POST", PATH, &bytes, NOW - 301, [7; 16]);
    let (status, body) = send(&platform, &cred, &sig, &bytes).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "stale");
}

#[tokio::test]
async fn a_timestamp_inside_the_window_of_the_injected_clock_is_accepted() {
    let platform = start(DevPlatformOptions::default().clock(|| NOW)).await;
    let cred = platform
        .issue_release_credential("1.4.0")
        .expect("a credential");
    let bytes = serde_json::to_vec(&report("install-1", "1.4.0")).expect("JSON");
    let sig = cred.sign_request_with("POST", PATH, &bytes, NOW - 300, [8; 16]);
    let (status, _) = send(&platform, &cred, &sig, &bytes).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn the_verifier_reads_the_injected_clock_on_every_request() {
    let now = Arc::new(AtomicU64::new(NOW));
    let clock = Arc::clone(&now);
    let platform =
        start(DevPlatformOptions::default().clock(move || clock.load(Ordering::SeqCst))).await;
    let cred = platform
        .issue_release_credential("1.4.0")
        .expect("a credential");
    let bytes = serde_json::to_vec(&report("install-1", "1.4.0")).expect("JSON");
    let sig = cred.sign_request_with("POST", PATH, &bytes, NOW, [9; 16]);
    now.store(NOW + 301, Ordering::SeqCst);
    let (status, body) = send(&platform, &cred, &sig, &bytes).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "stale");
}

#[tokio::test]
async fn a_replayed_request_is_401_replayed() {
    let platform = start(DevPlatformOptions::default()).await;
    let cred = platform
        .issue_release_credential("1.4.0")
        .expect("a credential");
    let bytes = serde_json::to_vec(&report("install-1", "1.4.0")).expect("JSON");
    let sig = cred.sign_request("POST", PATH, &bytes).expect("signed");
    let (first, _) = send(&platform, &cred, &sig, &bytes).await;
    assert_eq!(first, StatusCode::OK);
    let (status, body) = send(&platform, &cred, &sig, &bytes).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "replayed");
}

#[tokio::test]
async fn an_unsigned_heartbeat_is_401_missing_header() {
    let platform = start(DevPlatformOptions::default()).await;
    let response = wavekat_platform_client::dev_platform::http_client()
        .expect("an HTTP client")
        .post(format!("{}{PATH}", platform.base_url()))
        .json(&report("install-1", "1.4.0"))
        .send()
        .await
        .expect("an HTTP answer");
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let body: Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "missing_header");
}

#[tokio::test]
async fn a_signed_body_that_is_not_a_heartbeat_is_400() {
    let platform = start(DevPlatformOptions::default()).await;
    let cred = platform
        .issue_release_credential("1.4.0")
        .expect("a credential");
    let (status, body) = heartbeat(&platform, &cred, &json!({"installId": "x"})).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["message"]
        .as_str()
        .is_some_and(|m| m.contains("appVersion")));
}

#[tokio::test]
async fn an_external_master_is_trusted_and_the_emulator_cannot_issue_credentials() {
    let (master_private, master_public) = generate_master().expect("a master");
    let platform =
        start(DevPlatformOptions::default().master_public_key_hex(master_public.clone())).await;
    assert_eq!(platform.master_public_key_hex(), master_public);
    assert!(platform.issue_release_credential("1.4.0").is_err());
    assert!(platform.master_private_key_hex().is_none());
    let cred = issue_release_credential(master_private.expose(), "1.4.0").expect("a credential");
    let (status, _) = heartbeat(&platform, &cred, &report("install-1", "1.4.0")).await;
    assert_eq!(status, StatusCode::OK);
}
