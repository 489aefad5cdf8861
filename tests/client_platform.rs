//! The client against the local platform emulator, over real HTTP on 127.0.0.1: sync under
//! injected faults, pagination, partial-failure reporting, uploads, heartbeat, auth errors.
#![cfg(feature = "dev-platform")]

mod support;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::TryStreamExt;
use support::*;
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions, Faults};
use wavekat_platform_client::{signing::*, sync::*, upload::*, wire::*, *};

fn patient() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 10,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_secs(2),
        max_elapsed: Duration::from_secs(120),
    }
}

fn client_for(platform: &DevPlatform) -> Client {
    Client::builder(platform.base_url())
        .token(platform.token().clone())
        .retry_policy(patient())
        .build()
        .unwrap()
}

/// `n` distinct calls ending one second apart, newest last.
fn calls(n: usize) -> Vec<VoiceCallRecord> {
    (0..n)
        .map(|i| {
            let mut c = minimal_call();
            c.source_id = format!("call-{i:05}");
            let t = 1_778_000_000 + i as i64;
            c.end_at = rfc3339(t);
            c.ring_at = rfc3339(t - 30);
            c
        })
        .collect()
}

fn rfc3339(unix: i64) -> String {
    let days = unix.div_euclid(86_400);
    let secs = unix.rem_euclid(86_400);
    // civil_from_days (Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_calls_with_20_percent_faults_arrive_exactly_once() {
    let platform = DevPlatform::start(
        DevPlatformOptions::default().faults(Faults::new(0.2, 7).retry_after_secs(1)),
    )
    .await
    .unwrap();
    let client = client_for(&platform);
    let records = calls(10_000);
    let summary = client.sync::<VoiceCalls>(&records).await.unwrap();
    // A 413 is not retryable, so an Ok sync means no batch was ever refused as too large.
    assert_eq!(summary.accepted, 10_000);
    let query = {
        let mut r = VoiceCallsQuery::new();
        r.limit = std::num::NonZeroU32::new(200);
        r
    };
    let listed: Vec<VoiceCallRecord> = client
        .list_all::<VoiceCalls>(query)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 10_000);
    let ids: HashSet<&str> = listed.iter().map(|c| c.source_id.as_str()).collect();
    assert_eq!(ids.len(), 10_000);
    assert!(records.iter().all(|r| ids.contains(r.source_id.as_str())));
}

#[tokio::test]
async fn list_all_pages_newest_first_without_gaps_or_duplicates_at_any_page_size() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = client_for(&platform);
    let mut records = calls(250);
    // Ties on the cursor key must not lose rows at page boundaries.
    for r in records.iter_mut().take(40) {
        r.end_at = rfc3339(1_777_999_000);
    }
    client.sync::<VoiceCalls>(&records).await.unwrap();
    let mut expected: Vec<&VoiceCallRecord> = records.iter().collect();
    expected.sort_by(|a, b| {
        (b.end_at.as_str(), b.source_id.as_str()).cmp(&(a.end_at.as_str(), a.source_id.as_str()))
    });
    for limit in [1u32, 7, 50, 200] {
        let query = {
            let mut r = VoiceCallsQuery::new();
            r.limit = std::num::NonZeroU32::new(limit);
            r
        };
        let listed: Vec<VoiceCallRecord> = client
            .list_all::<VoiceCalls>(query)
            .try_collect()
            .await
            .unwrap();
        let got: Vec<&str> = listed.iter().map(|c| c.source_id.as_str()).collect();
        let want: Vec<&str> = expected.iter().map(|c| c.source_id.as_str()).collect();
        assert_eq!(got, want, "page size {limit}");
    }
}

#[tokio::test]
async fn one_page_reports_the_cursor_for_the_next() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = client_for(&platform);
    client.sync::<VoiceCalls>(&calls(3)).await.unwrap();
    let limit = std::num::NonZeroU32::new(2);
    let page = client.list_voice_calls(None, None, limit).await.unwrap();
    assert_eq!(page.items.len(), 2);
    assert_eq!(page.items[0].source_id, "call-00002");
    assert!(page.next_before.is_some());
    let rest = client
        .list_voice_calls(page.next_before.as_deref(), None, limit)
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.next_before, None);
}

#[tokio::test]
async fn sync_stamps_the_current_schema_version_where_unset_and_keeps_an_explicit_one() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = client_for(&platform);
    let mut unset = minimal_account();
    unset.source_id = "unset".into();
    let mut explicit = minimal_account();
    explicit.source_id = "explicit".into();
    explicit.schema_version = Some(1);
    client
        .sync::<VoiceAccounts>(&[unset.clone(), explicit])
        .await
        .unwrap();
    assert_eq!(
        unset.schema_version, None,
        "the caller's records are not modified"
    );
    let page = client
        .list_voice_accounts(None, Some(&VoiceTransport::known_comma_separated()))
        .await
        .unwrap();
    let version = |id: &str| {
        page.items
            .iter()
            .find(|a| a.source_id == id)
            .and_then(|a| a.schema_version)
    };
    assert_eq!(version("unset"), Some(2));
    assert_eq!(version("explicit"), Some(1));
}

#[tokio::test]
async fn a_failed_batch_reports_exactly_which_records_were_applied() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    platform.require_reauth(platform.token()).await.unwrap();
    let client = client_for(&platform);
    let mut records = calls(250);
    // The third batch (records 200..250) carries a tombstone, a destructive action the
    // platform refuses from a token that needs re-authentication.
    records[230].deleted_at = Some("2026-07-30T12:00:00Z".into());
    let err = client.sync::<VoiceCalls>(&records).await.unwrap_err();
    match &err {
        Error::SyncIncomplete {
            applied,
            total,
            accepted,
            source,
            ..
        } => {
            assert_eq!((*applied, *total, *accepted), (200, 250, 200));
            assert!(
                matches!(**source, Error::ReauthRequired { .. }),
                "{source:?}"
            );
        }
        other => panic!("expected SyncIncomplete, got {other:?}"),
    }
    assert!(err.is_reauth_required());
    let listed: Vec<VoiceCallRecord> = client
        .list_all::<VoiceCalls>({
            let mut r = VoiceCallsQuery::new();
            r.limit = std::num::NonZeroU32::new(200);
            r
        })
        .try_collect()
        .await
        .unwrap();
    let ids: HashSet<String> = listed.into_iter().map(|c| c.source_id).collect();
    let applied: HashSet<String> = records[..200].iter().map(|c| c.source_id.clone()).collect();
    assert_eq!(ids, applied);
}

#[tokio::test]
async fn batches_never_exceed_the_configured_size() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = Client::builder(platform.base_url())
        .token(platform.token().clone())
        .sync_batch_size(50)
        .build()
        .unwrap();
    let summary = client.sync::<VoiceCalls>(&calls(120)).await.unwrap();
    assert_eq!(summary.accepted, 120);
}

#[tokio::test]
async fn records_with_unknown_enum_values_are_refused_and_nothing_is_sent() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = client_for(&platform);
    let mut records = calls(3);
    records[0].direction = VoiceCallDirection::Unknown("sideways".into());
    records[2].direction = VoiceCallDirection::Unknown("internal".into());
    let err = client.sync::<VoiceCalls>(&records).await.unwrap_err();
    let Error::InvalidRecords { records: invalid } = &err else {
        panic!("expected InvalidRecords, got {err:?}");
    };
    let named: Vec<(usize, &str, &str)> = invalid
        .iter()
        .flat_map(|r| {
            r.fields
                .iter()
                .map(move |f| (r.index, f.field, f.value.as_str()))
        })
        .collect();
    assert_eq!(
        named,
        [(0, "direction", "sideways"), (2, "direction", "internal")],
        "every invalid record is named, not only the first"
    );
    let page = client.list_voice_calls(None, None, None).await.unwrap();
    assert!(page.items.is_empty());
}

#[tokio::test]
async fn sync_recordings_merges_the_per_item_results_in_order() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = Client::builder(platform.base_url())
        .token(platform.token().clone())
        .sync_batch_size(2)
        .build()
        .unwrap();
    let recordings: Vec<VoiceRecordingRecord> = (0..5)
        .map(|i| {
            let mut r = minimal_recording();
            r.source_id = format!("rec-{i}");
            r
        })
        .collect();
    let response = client.sync_recordings(&recordings).await.unwrap();
    assert_eq!(response.accepted, 5);
    let ids: Vec<&str> = response
        .items
        .iter()
        .map(|i| i.source_id.as_str())
        .collect();
    assert_eq!(ids, ["rec-0", "rec-1", "rec-2", "rec-3", "rec-4"]);
    assert!(response
        .items
        .iter()
        .all(|i| !i.bytes_uploaded && !i.r2_key.is_empty()));
}

#[tokio::test]
async fn uploads_stream_from_memory_files_and_readers_with_progress() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = client_for(&platform);
    let dir = std::env::temp_dir().join(format!("wk-upload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, kind) in ["bytes", "file", "reader"].into_iter().enumerate() {
        let wav: Vec<u8> = (0..300_000u32).map(|n| (n * 31 + i as u32) as u8).collect();
        let mut meta = minimal_recording();
        meta.source_id = format!("rec-{kind}");
        meta.size_bytes = wav.len() as u64;
        client.sync_recordings(&[meta]).await.unwrap();
        let body = match kind {
            "bytes" => RecordingBody::bytes(wav.clone()),
            "file" => {
                let path = dir.join("rec.wav");
                std::fs::write(&path, &wav).unwrap();
                RecordingBody::file(path)
            }
            _ => RecordingBody::reader(std::io::Cursor::new(wav.clone()), wav.len() as u64),
        };
        let last = Arc::new(AtomicU64::new(0));
        let seen = last.clone();
        client
            .upload_recording_with_progress(&format!("rec-{kind}"), body, move |p| {
                assert_eq!(p.total, 300_000);
                seen.store(p.sent, Ordering::SeqCst);
            })
            .await
            .unwrap();
        assert_eq!(last.load(Ordering::SeqCst), 300_000);
        let synced = client
            .sync_recordings(&[{
                let mut m = minimal_recording();
                m.source_id = format!("rec-{kind}");
                m.size_bytes = 300_000;
                m
            }])
            .await
            .unwrap();
        assert!(synced.items[0].bytes_uploaded, "{kind}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[tokio::test]
async fn an_upload_whose_length_differs_from_the_synced_size_is_refused_with_413() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = client_for(&platform);
    let mut meta = minimal_recording();
    meta.size_bytes = 10;
    client.sync_recordings(&[meta.clone()]).await.unwrap();
    let err = client
        .upload_recording(&meta.source_id, RecordingBody::bytes(vec![0u8; 11]))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(413), "{err:?}");
}

#[tokio::test]
async fn a_reader_shorter_than_its_declared_length_is_an_upload_body_error() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = client_for(&platform);
    let mut meta = minimal_recording();
    meta.size_bytes = 1000;
    client.sync_recordings(&[meta.clone()]).await.unwrap();
    let err = client
        .upload_recording(
            &meta.source_id,
            RecordingBody::reader(std::io::Cursor::new(vec![0u8; 10]), 1000),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::UploadBody { source_id, path: None, .. } if *source_id == meta.source_id),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_survive_injected_faults() {
    let platform = DevPlatform::start(
        DevPlatformOptions::default().faults(Faults::new(0.5, 3).retry_after_secs(0)),
    )
    .await
    .unwrap();
    let client = client_for(&platform);
    let mut faults_during_uploads = 0;
    for i in 0..6u8 {
        let mut meta = minimal_recording();
        meta.source_id = format!("flaky-{i}");
        meta.size_bytes = 4096;
        let synced = client.sync_recordings(&[meta.clone()]).await.unwrap();
        let key = synced.items[0].r2_key.clone();
        // Distinct bytes per recording and per position, so a mix-up or a torn write shows.
        let sent: Vec<u8> = (0..4096u32)
            .map(|n| (n as u8) ^ i.wrapping_mul(37))
            .collect();
        let before = platform.injected_faults();
        client
            .upload_recording(&meta.source_id, RecordingBody::bytes(sent.clone()))
            .await
            .unwrap();
        faults_during_uploads += platform.injected_faults() - before;
        let stored = std::fs::read(platform.blobs_dir().join(&key)).unwrap();
        assert_eq!(stored, sent, "recording {i} was stored with other bytes");
    }
    assert!(
        faults_during_uploads > 0,
        "no fault fired during an upload: the test proved nothing"
    );
}

#[tokio::test]
async fn whoami_then_revoke_makes_the_token_unauthorized() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = client_for(&platform);
    let me = client.get_me().await.unwrap();
    assert_eq!(me.login, platform.login());
    client.revoke_current_token().await.unwrap();
    let err = client.get_me().await.unwrap_err();
    assert!(matches!(err, Error::Unauthorized { .. }), "{err:?}");
}

#[tokio::test]
async fn an_unknown_token_is_unauthorized() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = Client::new(platform.base_url(), Token::new("wk_not_a_real_token")).unwrap();
    let err = client.get_me().await.unwrap_err();
    assert!(err.is_unauthorized(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("not_a_real_token"));
}

#[tokio::test]
async fn a_signed_heartbeat_is_accepted_and_upserts_the_install() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let credential = platform.issue_release_credential("1.4.2").unwrap();
    let first = Client::send_install_heartbeat(
        platform.base_url(),
        "install-1",
        "1.4.2",
        Some("direct"),
        &credential,
    )
    .await
    .unwrap();
    assert_eq!(first.install_id, "install-1");
    assert_eq!(first.os, std::env::consts::OS);
    assert_eq!(first.distribution.as_deref(), Some("direct"));
    let second = Client::send_install_heartbeat(
        platform.base_url(),
        "install-1",
        "1.4.2",
        None,
        &credential,
    )
    .await
    .unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.first_seen_at, first.first_seen_at);
}

#[tokio::test]
async fn a_heartbeat_signed_under_another_master_is_refused() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let (foreign_master, _) = generate_master().unwrap();
    let foreign = issue_release_credential(foreign_master.expose(), "1.4.2").unwrap();
    let err =
        Client::send_install_heartbeat(platform.base_url(), "install-1", "1.4.2", None, &foreign)
            .await
            .unwrap_err();
    assert_eq!(err.status(), Some(401), "{err:?}");
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn a_platform_400_naming_an_item_is_reported_with_the_callers_index() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = client_for(&platform);
    let mut records = calls(150);
    records[120].source_id = String::new(); // passes the client's checks; the platform refuses it
    let err = client.sync::<VoiceCalls>(&records).await.unwrap_err();
    let Error::SyncIncomplete {
        applied,
        failed_index,
        ..
    } = &err
    else {
        panic!("expected SyncIncomplete, got {err:?}");
    };
    assert_eq!((*applied, *failed_index), (100, Some(120)));
    assert!(
        err.to_string().contains("refused record 120"),
        "the message names the caller's index: {err}"
    );
    assert_eq!(err.cause().status(), Some(400));
}

#[tokio::test]
async fn the_cause_of_an_incomplete_sync_is_the_error_to_match_on() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = client_for(&platform);
    client.revoke_current_token().await.unwrap();
    let err = client.sync::<VoiceCalls>(&calls(3)).await.unwrap_err();
    assert!(
        matches!(err, Error::SyncIncomplete { applied: 0, .. }),
        "{err:?}"
    );
    assert!(
        matches!(err.cause(), Error::Unauthorized { .. }),
        "matching on cause() reaches the 401: {:?}",
        err.cause()
    );
    assert!(
        !err.to_string().contains("unauthorized"),
        "the cause is in source(), not repeated in Display: {err}"
    );
}

#[tokio::test]
async fn sync_with_progress_reports_each_applied_batch() {
    let platform = DevPlatform::start(DevPlatformOptions::default())
        .await
        .unwrap();
    let client = Client::builder(platform.base_url())
        .token(platform.token().clone())
        .sync_batch_size(40)
        .build()
        .unwrap();
    let mut seen = Vec::new();
    let summary = client
        .sync_with_progress::<VoiceCalls>(&calls(100), |p| seen.push((p.applied, p.total)))
        .await
        .unwrap();
    assert_eq!(summary.accepted, 100);
    assert_eq!(seen, [(40, 100), (80, 100), (100, 100)]);
}
