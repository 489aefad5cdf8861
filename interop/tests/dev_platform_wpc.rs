//! Interop: the published `wavekat-platform-client` 0.0.37 (`wpc`) works against the emulator:
//! loopback sign-in, whoami, sync and list of all four resources, bytes, and a signed heartbeat.

use serde_json::json;
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions};

async fn sign_in_with_wpc(platform: &DevPlatform) -> wpc::HandshakeOutcome {
    let pending = wpc::loopback_handshake(
        platform.base_url(),
        wpc::HandshakeOptions {
            client: Some("wpc-interop".into()),
            source: Some("test-host".into()),
            ..Default::default()
        },
    )
    .expect("the loopback listener binds");
    let url = pending.url().to_owned();
    let waiting = tokio::spawn(pending.wait());
    // The "browser": follows the emulator's redirect to wpc's own loopback listener.
    let page = wavekat_platform_client::dev_platform::http_client()
        .expect("an HTTP client")
        .get(&url)
        .send()
        .await
        .expect("the sign-in completes");
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.url().as_str().starts_with("http://127.0.0.1:"));
    waiting
        .await
        .expect("the handshake task finishes")
        .expect("the handshake succeeds")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wpc_signs_in_through_the_loopback_flow_and_whoami_answers() {
    let platform = DevPlatform::start(DevPlatformOptions::default().auto_approve(true))
        .await
        .expect("the emulator starts");
    let outcome = sign_in_with_wpc(&platform).await;
    assert_eq!(outcome.login.as_deref(), Some("dev"));
    let client = wpc::Client::new(platform.base_url(), outcome.token).expect("a client");
    let me = client.whoami().await.expect("whoami");
    assert_eq!(me.login, "dev");
}

#[tokio::test]
async fn wpc_syncs_and_lists_all_four_resources() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .expect("the emulator starts");
    let client = wpc::Client::new(
        platform.base_url(),
        wpc::Token::new(platform.token().expose()),
    )
    .expect("a client");

    let call: wpc::VoiceCallRecord = serde_json::from_value(json!({
        "sourceId": "c1", "accountId": "a1", "direction": "inbound", "party": "+14155550123",
        "ringAt": "2026-05-16T10:00:00Z", "answerAt": "2026-05-16T10:00:05Z",
        "endAt": "2026-05-16T10:01:00Z", "durationMs": 55000, "disposition": "answered",
        "endReason": "hangup_remote", "codec": "opus",
        "flowSteps": [{"atMs": 0, "kind": "spoke", "node": "greeting"}],
        "events": [{"atMs": 0, "kind": "incoming_call"}]
    }))
    .expect("a wpc call record");
    let synced = client
        .sync::<wpc::VoiceCalls>(&[call])
        .await
        .expect("calls sync");
    assert_eq!((synced.accepted, synced.skipped), (1, 0));
    let calls = client
        .list::<wpc::VoiceCalls>(&wpc::VoiceCallsQuery::default())
        .await
        .expect("calls list");
    assert_eq!(calls.items.len(), 1);
    assert_eq!(calls.items[0].source_id, "c1");
    assert_eq!(calls.items[0].envelope.schema_version, Some(1));

    let recording: wpc::VoiceRecordingRecord = serde_json::from_value(json!({
        "sourceId": "r1", "callSourceId": "c1", "sizeBytes": 4, "durationMs": 1000,
        "sampleRate": 16000, "channels": 2, "createdAt": "2026-05-16T10:01:00Z"
    }))
    .expect("a wpc recording record");
    client
        .sync::<wpc::VoiceRecordings>(&[recording])
        .await
        .expect("recordings sync");
    client
        .upload_recording_bytes("r1", b"RIFF".to_vec())
        .await
        .expect("bytes upload");
    let recordings = client
        .list::<wpc::VoiceRecordings>(&wpc::VoiceRecordingsQuery::default())
        .await
        .expect("recordings list");
    assert_eq!(recordings.items.len(), 1);

    let transcript: wpc::VoiceTranscriptRecord = serde_json::from_value(json!({
        "sourceId": "1", "callSourceId": "c1", "channel": "local",
        "tsMs": 0, "endMs": 900, "text": "hello"
    }))
    .expect("a wpc transcript record");
    client
        .sync::<wpc::VoiceTranscripts>(&[transcript])
        .await
        .expect("transcripts sync");
    let transcripts = client
        .list::<wpc::VoiceTranscripts>(&wpc::VoiceTranscriptsQuery {
            call_source_id: "c1".into(),
        })
        .await
        .expect("transcripts list");
    assert_eq!(transcripts.items[0].text, "hello");

    let line: wpc::VoiceAccountRecord = serde_json::from_value(json!({
        "sourceId": "a1", "enabled": true, "displayName": "Desk", "username": "1001",
        "domain": "sip.example.com", "transport": "tls", "registerExpires": 300,
        "disclosureEnabled": true, "updatedAt": "2026-05-16T10:00:00Z"
    }))
    .expect("a wpc account record");
    client
        .sync::<wpc::VoiceAccounts>(&[line])
        .await
        .expect("accounts sync");
    let lines = client
        .list::<wpc::VoiceAccounts>(&wpc::VoiceAccountsQuery::default())
        .await
        .expect("accounts list");
    assert_eq!(lines.items.len(), 1);
    assert_eq!(lines.items[0].envelope.schema_version, Some(2));
}

#[tokio::test]
async fn wpc_sends_a_heartbeat_signed_under_the_emulators_master() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .expect("the emulator starts");
    let master = platform
        .master_private_key_hex()
        .expect("the emulator minted its master");
    let cred = wpc::issue_release_credential(master, "3.1.4").expect("a wpc credential");
    let answer = wpc::Client::install_heartbeat(
        platform.base_url(),
        "install-wpc",
        "3.1.4",
        Some("direct"),
        &cred,
    )
    .await
    .expect("the heartbeat is accepted");
    assert_eq!(answer.install_id, "install-wpc");
    assert_eq!(answer.app_version, "3.1.4");
    assert_eq!(answer.distribution.as_deref(), Some("direct"));
}

#[tokio::test]
async fn wpc_sees_a_revoked_token_as_unauthorized() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .expect("the emulator starts");
    let client = wpc::Client::new(
        platform.base_url(),
        wpc::Token::new(platform.token().expose()),
    )
    .expect("a client");
    client.revoke_current_token().await.expect("revoke");
    let err = client
        .whoami()
        .await
        .expect_err("a revoked token is refused");
    assert!(matches!(err, wpc::Error::Unauthorized { .. }), "{err:?}");
}
