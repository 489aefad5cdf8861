//! The dev-platform emulator's deterministic fault injection over real HTTP: faults before the
//! handler, applied-then-lost faults, and pausing.
#![cfg(feature = "dev-platform")]

mod support;

use futures_util::TryStreamExt;
use reqwest::StatusCode;
use serde_json::json;
use support::{minimal_call, minimal_recording};
use wavekat_platform_client::dev_platform::{self, DevPlatform, DevPlatformOptions, Faults};
use wavekat_platform_client::sync::VoiceCalls;
use wavekat_platform_client::upload::RecordingBody;
use wavekat_platform_client::wire::{VoiceCallRecord, VoiceCallsQuery};
use wavekat_platform_client::{Client, Error, RetryPolicy};

/// What one request came back as.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Answered(u16),
    ConnectionError,
}

async fn start(options: DevPlatformOptions) -> DevPlatform {
    DevPlatform::start(options)
        .await
        .expect("the emulator starts")
}

/// A client that never reuses a connection, so one dropped connection affects one request.
fn fresh_client() -> reqwest::Client {
    wavekat_platform_client::dev_platform::http_client_builder()
        .expect("an HTTP client")
        .pool_max_idle_per_host(0)
        .build()
        .expect("a client")
}

async fn outcomes(platform: &DevPlatform, n: usize) -> Vec<Outcome> {
    let client = fresh_client();
    let mut seen = Vec::with_capacity(n);
    for _ in 0..n {
        let result = client
            .get(format!("{}/api/me", platform.base_url()))
            .bearer_auth(platform.token().expose())
            .send()
            .await;
        seen.push(match result {
            Ok(response) => Outcome::Answered(response.status().as_u16()),
            Err(_) => Outcome::ConnectionError,
        });
    }
    seen
}

#[tokio::test]
async fn the_same_seed_gives_the_same_fault_sequence() {
    let a = start(DevPlatformOptions::default().faults(Faults::new(0.5, 1234))).await;
    let b = start(DevPlatformOptions::default().faults(Faults::new(0.5, 1234))).await;
    let seq_a = outcomes(&a, 48).await;
    let seq_b = outcomes(&b, 48).await;
    assert_eq!(seq_a, seq_b);
    for kind in [
        Outcome::Answered(200),
        Outcome::Answered(503),
        Outcome::Answered(429),
        Outcome::ConnectionError,
    ] {
        assert!(
            seq_a.contains(&kind),
            "{kind:?} never occurred in {seq_a:?}"
        );
    }
}

#[tokio::test]
async fn a_different_seed_gives_a_different_fault_sequence() {
    let a = start(DevPlatformOptions::default().faults(Faults::new(0.5, 1))).await;
    let b = start(DevPlatformOptions::default().faults(Faults::new(0.5, 2))).await;
    assert_ne!(outcomes(&a, 48).await, outcomes(&b, 48).await);
}

#[tokio::test]
async fn rate_zero_injects_nothing() {
    let platform = start(DevPlatformOptions::default().faults(Faults::new(0.0, 9))).await;
    assert!(outcomes(&platform, 20)
        .await
        .iter()
        .all(|o| *o == Outcome::Answered(200)));
}

#[tokio::test]
async fn an_injected_429_carries_the_configured_retry_after() {
    let platform =
        start(DevPlatformOptions::default().faults(Faults::new(1.0, 5).retry_after_secs(7))).await;
    let client = fresh_client();
    for _ in 0..60 {
        let Ok(response) = client
            .get(format!("{}/api/me", platform.base_url()))
            .send()
            .await
        else {
            continue;
        };
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            assert_eq!(retry_after.as_deref(), Some("7"));
            let body: serde_json::Value = response.json().await.expect("a JSON body");
            assert!(body["error"].is_string());
            return;
        }
    }
    panic!("no 429 in 60 requests at rate 1.0");
}

#[tokio::test]
async fn a_dropped_connection_reaches_the_client_as_a_connection_error_not_a_response() {
    let platform = start(DevPlatformOptions::default().faults(Faults::new(1.0, 11))).await;
    let client = fresh_client();
    let mut drops = 0;
    for _ in 0..60 {
        match client
            .get(format!("{}/api/me", platform.base_url()))
            .send()
            .await
        {
            Ok(response) => {
                assert!(
                    matches!(response.status().as_u16(), 429 | 503),
                    "at rate 1.0 every answer is a fault, got {}",
                    response.status()
                );
                // A whole answer, never the head of a dropped one.
                let body: serde_json::Value = response.json().await.expect("a complete body");
                assert!(body["error"].is_string());
            }
            Err(e) => {
                assert!(e.status().is_none());
                drops += 1;
            }
        }
    }
    assert!(
        drops > 0,
        "no dropped connection in 60 requests at rate 1.0"
    );
}

#[tokio::test]
async fn the_sign_in_page_is_never_faulted() {
    let platform = start(DevPlatformOptions::default().faults(Faults::new(1.0, 3))).await;
    let client = fresh_client();
    for _ in 0..20 {
        let response = client
            .get(format!(
                "{}/cli-login?callback=http%3A%2F%2F127.0.0.1%3A9%2Fcallback&state=s",
                platform.base_url()
            ))
            .send()
            .await
            .expect("the page answers");
        assert_eq!(response.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn a_faulted_sync_writes_nothing() {
    let dir = std::env::temp_dir().join(format!(
        "wk-dev-platform-test-faults-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let db = dir.join("platform.sqlite");

    let faulty = start(
        DevPlatformOptions::default()
            .db_path(&db)
            .faults(Faults::new(1.0, 21)),
    )
    .await;
    let client = fresh_client();
    let body = json!({"items": [{
        "sourceId": "c1", "accountId": "a", "direction": "inbound", "party": "+1",
        "ringAt": "2026-05-16T10:00:00Z", "endAt": "2026-05-16T10:01:00Z",
        "disposition": "missed", "endReason": "missed", "schemaVersion": 1
    }]});
    for _ in 0..20 {
        let _ = client
            .post(format!("{}/api/voice/calls/sync", faulty.base_url()))
            .bearer_auth(faulty.token().expose())
            .json(&body)
            .send()
            .await;
    }
    faulty.shutdown().await;

    let healthy = start(DevPlatformOptions::default().db_path(&db)).await;
    let page: serde_json::Value = client
        .get(format!(
            "{}/api/voice/calls?includeDeleted=true",
            healthy.base_url()
        ))
        .bearer_auth(healthy.token().expose())
        .send()
        .await
        .expect("an HTTP answer")
        .json()
        .await
        .expect("a page");
    assert_eq!(page["items"], json!([]));
    healthy.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_rate_outside_zero_to_one_is_refused_at_start() {
    for rate in [-0.1, 1.5, f64::NAN] {
        assert!(
            DevPlatform::start(DevPlatformOptions::default().faults(Faults::new(rate, 0)))
                .await
                .is_err(),
            "{rate}"
        );
    }
}

// ---- applied, but the response was lost -------------------------------------------------------

/// How a lost answer reached the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lost {
    /// No HTTP answer at all.
    Dropped,
    /// A `503`.
    Unavailable,
}

/// Classifies the error the client saw for a request whose answer the emulator lost.
fn lost_as(err: &Error) -> Lost {
    match err.cause() {
        Error::Network { .. } => Lost::Dropped,
        cause if cause.status() == Some(503) => Lost::Unavailable,
        other => panic!("a lost answer should be a dropped connection or a 503, got {other:?}"),
    }
}

/// A client that never retries, so every injected fault reaches the test as an error.
fn never_retrying(platform: &DevPlatform) -> Client {
    Client::builder(platform.base_url())
        .token(platform.token().clone())
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("a client")
}

/// Every response lost: each request is applied, then its answer dropped or replaced by a 503.
fn always_lost() -> Faults {
    Faults::new(1.0, 2026).lose_responses(1.0)
}

fn call(i: usize) -> VoiceCallRecord {
    let mut c = minimal_call();
    c.source_id = format!("lost-{i:03}");
    c
}

async fn listed_call_ids(platform: &DevPlatform) -> Vec<String> {
    let mut ids: Vec<String> = never_retrying(platform)
        .list_all::<VoiceCalls>(VoiceCallsQuery::new())
        .try_collect::<Vec<_>>()
        .await
        .expect("the list, with faults paused")
        .into_iter()
        .map(|c| c.source_id)
        .collect();
    ids.sort();
    ids
}

/// Syncs one call at a time until the client has seen its answer lost as `wanted`; returns the
/// ids synced (all of them answered with an error).
async fn sync_until_lost_as(platform: &DevPlatform, wanted: Lost) -> Vec<String> {
    let client = never_retrying(platform);
    let mut sent = Vec::new();
    for i in 0..40 {
        let record = call(i);
        let err = client
            .sync::<VoiceCalls>(std::slice::from_ref(&record))
            .await
            .expect_err("every answer is lost");
        sent.push(record.source_id);
        if lost_as(&err) == wanted {
            return sent;
        }
    }
    panic!("no answer was lost as {wanted:?} in 40 requests");
}

async fn assert_lost_syncs_were_applied(wanted: Lost) {
    let platform = start(DevPlatformOptions::default().faults(always_lost())).await;
    let mut sent = sync_until_lost_as(&platform, wanted).await;
    assert_eq!(platform.lost_responses(), sent.len() as u64);
    assert_eq!(platform.injected_faults(), sent.len() as u64);
    platform.pause_faults();
    sent.sort();
    assert_eq!(listed_call_ids(&platform).await, sent);
}

#[tokio::test]
async fn a_sync_batch_whose_answer_was_dropped_is_on_the_platform_although_the_client_saw_an_error()
{
    assert_lost_syncs_were_applied(Lost::Dropped).await;
}

#[tokio::test]
async fn a_sync_batch_whose_answer_was_a_503_is_on_the_platform_although_the_client_saw_an_error() {
    assert_lost_syncs_were_applied(Lost::Unavailable).await;
}

#[tokio::test]
async fn a_recording_upload_whose_answer_was_lost_has_landed_both_ways() {
    let platform = start(DevPlatformOptions::default().faults(always_lost())).await;
    let client = never_retrying(&platform);
    let mut seen = Vec::new();
    for i in 0..40u8 {
        let mut meta = minimal_recording();
        meta.source_id = format!("lost-rec-{i}");
        meta.size_bytes = 4096;
        platform.pause_faults();
        let synced = client
            .sync_recordings(std::slice::from_ref(&meta))
            .await
            .expect("metadata syncs with faults paused");
        let key = synced.items[0].r2_key.clone();
        assert!(!synced.items[0].bytes_uploaded);
        platform.resume_faults();

        let sent: Vec<u8> = (0..4096u32).map(|n| (n as u8) ^ i).collect();
        let err = client
            .upload_recording(&meta.source_id, RecordingBody::bytes(sent.clone()))
            .await
            .expect_err("every answer is lost");
        let how = lost_as(&err);

        let stored = std::fs::read(platform.blobs_dir().join(&key)).expect("the bytes landed");
        assert_eq!(stored, sent, "recording {i} ({how:?})");
        platform.pause_faults();
        let again = client
            .sync_recordings(std::slice::from_ref(&meta))
            .await
            .expect("a metadata re-sync with faults paused");
        assert!(again.items[0].bytes_uploaded, "recording {i} ({how:?})");
        platform.resume_faults();

        if !seen.contains(&how) {
            seen.push(how);
        }
        if seen.len() == 2 {
            return;
        }
    }
    panic!("only {seen:?} in 40 uploads; both a dropped answer and a 503 were expected");
}

#[tokio::test]
async fn a_revoke_whose_answer_was_lost_has_revoked_the_token() {
    let platform = start(DevPlatformOptions::default().faults(always_lost())).await;
    let client = never_retrying(&platform);
    let err = client
        .revoke_current_token()
        .await
        .expect_err("the answer is lost");
    lost_as(&err);
    assert_eq!(platform.lost_responses(), 1);
    platform.pause_faults();
    let refused = client.get_me().await.expect_err("the token was revoked");
    assert!(refused.is_unauthorized(), "{refused:?}");
}

#[tokio::test]
async fn a_heartbeat_whose_answer_was_lost_has_recorded_the_install() {
    let dir = std::env::temp_dir().join(format!(
        "wk-dev-platform-test-lost-heartbeat-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch directory");
    let db = dir.join("platform.sqlite");
    let platform = start(
        DevPlatformOptions::default()
            .db_path(&db)
            .faults(always_lost()),
    )
    .await;
    let credential = platform
        .issue_release_credential("1.4.2")
        .expect("a credential");
    let err = Client::send_install_heartbeat(
        platform.base_url(),
        "install-lost",
        "1.4.2",
        None,
        &credential,
    )
    .await
    .expect_err("the answer is lost");
    lost_as(&err);
    assert_eq!(platform.lost_responses(), 1);
    let recorded: i64 = rusqlite::Connection::open(&db)
        .expect("the database opens")
        .query_row(
            "SELECT count(*) FROM installs WHERE install_id = 'install-lost'",
            [],
            |row| row.get(0),
        )
        .expect("the count");
    assert_eq!(recorded, 1);
    platform.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn a_lost_answer_share_outside_zero_to_one_is_refused_at_start_naming_the_option() {
    for share in [-0.1, 1.5, f64::NAN] {
        let refused = DevPlatform::start(
            DevPlatformOptions::default().faults(Faults::new(0.5, 0).lose_responses(share)),
        )
        .await;
        match refused {
            Err(dev_platform::Error::InvalidOption { option, .. }) => {
                assert_eq!(option, "faults.lose_responses", "{share}");
            }
            other => panic!("{share}: expected InvalidOption, got {other:?}"),
        }
    }
}

// ---- pausing ----------------------------------------------------------------------------------

#[tokio::test]
async fn pausing_answers_every_request_and_resuming_continues_the_same_fault_sequence() {
    let paused_midway = start(DevPlatformOptions::default().faults(Faults::new(0.5, 1234))).await;
    let uninterrupted = start(DevPlatformOptions::default().faults(Faults::new(0.5, 1234))).await;

    let before = outcomes(&paused_midway, 16).await;
    paused_midway.pause_faults();
    let faults_at_pause = paused_midway.injected_faults();
    let while_paused = outcomes(&paused_midway, 20).await;
    assert!(
        while_paused.iter().all(|o| *o == Outcome::Answered(200)),
        "{while_paused:?}"
    );
    assert_eq!(paused_midway.injected_faults(), faults_at_pause);
    paused_midway.resume_faults();
    let after = outcomes(&paused_midway, 32).await;

    let reference = outcomes(&uninterrupted, 48).await;
    assert_eq!([before, after].concat(), reference);
    assert_eq!(
        paused_midway.injected_faults(),
        uninterrupted.injected_faults()
    );
    assert!(
        reference.iter().any(|o| *o != Outcome::Answered(200)),
        "the seed injected nothing: the test proved nothing"
    );
}
