//! The durable push (`sync::Pusher`) over the reference SQLite store, against the emulator.
#![cfg(all(feature = "dev-platform", feature = "sqlite-store"))]

mod push_support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use push_support::{assert_platform_holds, dataset, Dataset};
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions};
use wavekat_platform_client::sync::{
    PushError, PushEvent, Pusher, Resource, SetAsideReason, SqliteStore, VoiceAccounts, VoiceCalls,
    VoiceTranscripts,
};
use wavekat_platform_client::wire::{InvalidReason, VoiceCallDirection};
use wavekat_platform_client::{Client, RetryPolicy};

async fn platform() -> DevPlatform {
    DevPlatform::start(DevPlatformOptions::default())
        .await
        .expect("start the emulator")
}

fn client_for(platform: &DevPlatform) -> Client {
    Client::new(platform.base_url(), platform.token().clone()).expect("a client")
}

async fn queue(store: &SqliteStore, data: &Dataset) {
    store
        .add::<VoiceAccounts>(&data.accounts)
        .await
        .expect("queue accounts");
    store
        .add::<VoiceCalls>(&data.calls)
        .await
        .expect("queue calls");
    store
        .add::<VoiceTranscripts>(&data.transcripts)
        .await
        .expect("queue transcripts");
    for (record, path) in &data.recordings {
        store
            .add_recording(record, path)
            .await
            .expect("queue a recording");
    }
}

async fn assert_nothing_pending(store: &SqliteStore) {
    for resource in Resource::PUSH_ORDER {
        let counts = store.counts(resource).await.expect("counts");
        assert_eq!(counts.pending, 0, "{resource} still pending: {counts:?}");
    }
}

#[tokio::test]
async fn one_cycle_pushes_every_resource_and_every_recordings_bytes() {
    let platform = platform().await;
    let client = client_for(&platform);
    let dir = tempdir("one-cycle");
    let data = dataset(&dir, "a-", 3, 250, 2, 30);
    let store = SqliteStore::in_memory().await.expect("a store");
    queue(&store, &data).await;

    let summary = Pusher::new(client.clone(), store.clone())
        .run_once()
        .await
        .expect("a cycle");

    assert!(summary.is_complete(), "{summary}");
    assert_eq!(summary.counts(Resource::Calls).applied, 250);
    assert_eq!(summary.counts(Resource::Transcripts).applied, 500);
    assert_eq!(summary.counts(Resource::RecordingBytes).applied, 30);
    assert!(summary.set_aside.is_empty(), "{:?}", summary.set_aside);
    assert_nothing_pending(&store).await;
    assert_platform_holds(&platform, &client, &data, &[], &[]).await;
}

#[tokio::test]
async fn resources_go_accounts_calls_transcripts_recordings_then_bytes() {
    let platform = platform().await;
    let dir = tempdir("order");
    let data = dataset(&dir, "o-", 2, 120, 1, 3);
    let store = SqliteStore::in_memory().await.expect("a store");
    // Queued in the reverse order: the pusher's order is its own.
    for (record, path) in &data.recordings {
        store.add_recording(record, path).await.expect("queue");
    }
    store
        .add::<VoiceTranscripts>(&data.transcripts)
        .await
        .expect("queue");
    store.add::<VoiceCalls>(&data.calls).await.expect("queue");
    store
        .add::<VoiceAccounts>(&data.accounts)
        .await
        .expect("queue");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    Pusher::new(client_for(&platform), store)
        .on_event(move |event| {
            if let PushEvent::Committed(commit) = event {
                log.lock()
                    .unwrap()
                    .push((commit.resource, commit.applied.len()));
            }
        })
        .run_once()
        .await
        .expect("a cycle");
    let steps = seen.lock().unwrap().clone();
    assert_eq!(
        steps,
        [
            (Resource::Accounts, 2),
            (Resource::Calls, 100),
            (Resource::Calls, 20),
            (Resource::Transcripts, 100),
            (Resource::Transcripts, 20),
            (Resource::Recordings, 3),
            (Resource::RecordingBytes, 3),
        ],
        "one committed step per batch (≤ 100) and per group of recordings' bytes, in push order"
    );
}

#[tokio::test]
async fn invalid_records_are_set_aside_with_every_reason_and_the_rest_go() {
    let platform = platform().await;
    let client = client_for(&platform);
    let dir = tempdir("invalid");
    let mut data = dataset(&dir, "i-", 1, 150, 0, 0);
    data.calls[11].direction = VoiceCallDirection::Unknown("sideways".into());
    data.calls[11].ring_at = "yesterday".into();
    data.calls[120].end_at = "2026-13-45T99:00:00Z".into();
    let store = SqliteStore::in_memory().await.expect("a store");
    queue(&store, &data).await;

    let summary = Pusher::new(client.clone(), store.clone())
        .run_once()
        .await
        .expect("a cycle");

    assert!(summary.is_complete(), "{summary}");
    let aside: Vec<(&str, Vec<(&str, InvalidReason)>)> = summary
        .set_aside
        .iter()
        .map(|(_, s)| match &s.reason {
            SetAsideReason::Invalid { fields } => (
                s.source_id.as_str(),
                fields.iter().map(|f| (f.field, f.reason)).collect(),
            ),
            other => panic!("{} set aside for {other}", s.source_id),
        })
        .collect();
    assert_eq!(
        aside,
        [
            (
                "i-call-00011",
                vec![
                    ("direction", InvalidReason::UnknownEnumValue),
                    ("ringAt", InvalidReason::NotRfc3339)
                ]
            ),
            ("i-call-00120", vec![("endAt", InvalidReason::NotRfc3339)]),
        ]
    );
    assert_eq!(summary.counts(Resource::Calls).applied, 148);
    let bad = [
        data.calls[11].source_id.clone(),
        data.calls[120].source_id.clone(),
    ];
    data.calls.retain(|c| !bad.contains(&c.source_id));
    assert_platform_holds(&platform, &client, &data, &bad, &[]).await;
    assert_eq!(store.set_aside().await.expect("set aside").len(), 2);
}

#[tokio::test]
async fn a_record_the_platform_refuses_is_found_and_set_aside_without_blocking_the_batch() {
    let platform = platform().await;
    let client = client_for(&platform);
    let dir = tempdir("refused");
    let mut data = dataset(&dir, "r-", 1, 60, 0, 12);
    // Both pass the client's checks; the platform refuses each with a 400 naming the item.
    data.calls[40].source_id = String::new();
    data.recordings[7].0.source_id = "has a space".into();
    let store = SqliteStore::in_memory().await.expect("a store");
    queue(&store, &data).await;

    let summary = Pusher::new(client.clone(), store.clone())
        .run_once()
        .await
        .expect("a cycle");

    assert!(summary.is_complete(), "{summary}");
    let refused: Vec<(Resource, &str, u16)> = summary
        .set_aside
        .iter()
        .map(|(resource, s)| match &s.reason {
            SetAsideReason::Refused { status, .. } => (*resource, s.source_id.as_str(), *status),
            other => panic!("{} set aside for {other}", s.source_id),
        })
        .collect();
    assert_eq!(
        refused,
        [
            (Resource::Calls, "", 400),
            (Resource::Recordings, "has a space", 400)
        ]
    );
    assert_eq!(summary.counts(Resource::Calls).applied, 59);
    assert_eq!(summary.counts(Resource::RecordingBytes).applied, 11);
    data.calls.remove(40);
    data.recordings.remove(7);
    assert_platform_holds(&platform, &client, &data, &[], &[]).await;
}

#[tokio::test]
async fn a_recording_whose_file_changed_or_vanished_is_set_aside_and_the_others_upload() {
    let platform = platform().await;
    let client = client_for(&platform);
    let dir = tempdir("bytes");
    let mut data = dataset(&dir, "b-", 1, 5, 0, 5);
    std::fs::write(&data.recordings[1].1, b"shorter").expect("rewrite");
    std::fs::remove_file(&data.recordings[3].1).expect("remove");
    let store = SqliteStore::in_memory().await.expect("a store");
    queue(&store, &data).await;

    let summary = Pusher::new(client.clone(), store.clone())
        .run_once()
        .await
        .expect("a cycle");

    assert!(summary.is_complete(), "{summary}");
    assert_eq!(
        summary.counts(Resource::Recordings).applied,
        5,
        "metadata goes for all five"
    );
    assert_eq!(summary.counts(Resource::RecordingBytes).applied, 3);
    let aside: Vec<(&str, &str)> = summary
        .set_aside
        .iter()
        .map(|(resource, s)| {
            assert_eq!(*resource, Resource::RecordingBytes);
            let SetAsideReason::Bytes { detail } = &s.reason else {
                panic!("{} set aside for {}", s.source_id, s.reason);
            };
            (s.source_id.as_str(), detail.as_str())
        })
        .collect();
    assert_eq!(aside.len(), 2, "{aside:?}");
    assert!(
        aside[0].0 == "b-rec-00001" && aside[0].1.contains("holds 7 bytes"),
        "{aside:?}"
    );
    assert!(
        aside[1].0 == "b-rec-00003" && aside[1].1.contains("b-rec-00003.wav"),
        "{aside:?}"
    );
    data.recordings
        .retain(|(r, _)| r.source_id != "b-rec-00001" && r.source_id != "b-rec-00003");
    let view = push_support::platform_view(&client, &[]).await;
    assert_eq!(view.recordings.len(), 5);
    for (r, path) in &data.recordings {
        let stored = push_support::find_blob(platform.blobs_dir(), &r.source_id).expect("landed");
        assert_eq!(std::fs::read(stored).unwrap(), std::fs::read(path).unwrap());
    }
}

#[tokio::test]
async fn recordings_of_a_deleted_call_are_skipped_and_their_bytes_never_sent() {
    let platform = platform().await;
    let client = client_for(&platform);
    let dir = tempdir("skipped");
    let data = dataset(&dir, "s-", 1, 3, 0, 3);
    let mut tombstone = data.calls[1].clone();
    tombstone.deleted_at = Some("2026-06-01T00:00:00Z".into());
    client
        .sync::<VoiceCalls>(&[tombstone])
        .await
        .expect("delete call 1 elsewhere");
    let store = SqliteStore::in_memory().await.expect("a store");
    queue(&store, &data).await;

    let summary = Pusher::new(client.clone(), store.clone())
        .run_once()
        .await
        .expect("a cycle");

    assert!(summary.is_complete(), "{summary}");
    assert_eq!(summary.skipped_recordings, ["s-rec-00001"]);
    assert_eq!(summary.counts(Resource::RecordingBytes).applied, 2);
    assert!(
        summary.set_aside.is_empty(),
        "a skipped recording is not set aside"
    );
    assert!(push_support::find_blob(platform.blobs_dir(), "s-rec-00001").is_none());
    assert_nothing_pending(&store).await;
}

#[tokio::test]
async fn a_refused_token_stops_with_sign_in_again_and_sets_nothing_aside() {
    let platform = platform().await;
    let client = client_for(&platform);
    let dir = tempdir("signin");
    let data = dataset(&dir, "t-", 1, 10, 0, 0);
    let store = SqliteStore::in_memory().await.expect("a store");
    queue(&store, &data).await;
    client.revoke_current_token().await.expect("revoke");

    let err = Pusher::new(client, store.clone())
        .run_once()
        .await
        .unwrap_err();

    let PushError::SignInAgain(cause) = &err else {
        panic!("expected SignInAgain, got {err:?}")
    };
    assert!(cause.is_unauthorized(), "{cause:?}");
    assert_eq!(store.counts(Resource::Accounts).await.unwrap().pending, 1);
    assert_eq!(store.counts(Resource::Calls).await.unwrap().pending, 10);
    assert!(store.set_aside().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_platform_that_is_down_ends_the_cycle_and_the_next_one_finishes() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("addr");
    drop(listener); // nothing listens: connections are refused
    let dir = tempdir("down");
    let data = dataset(&dir, "d-", 1, 30, 1, 2);
    let store = SqliteStore::in_memory().await.expect("a store");
    queue(&store, &data).await;
    let token = wavekat_platform_client::Token::new("wk_unused");
    let down = Client::builder(&format!("http://{addr}"))
        .token(token)
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("a client");

    let summary = Pusher::new(down, store.clone())
        .run_once()
        .await
        .expect("a cycle");
    assert!(!summary.is_complete());
    assert!(
        summary
            .stopped_by
            .as_ref()
            .is_some_and(|e| e.is_retryable()),
        "{summary}"
    );
    assert_eq!(summary.applied(), 0);
    assert_eq!(store.counts(Resource::Accounts).await.unwrap().pending, 1);

    let platform = DevPlatform::start(DevPlatformOptions::default().listen(addr))
        .await
        .expect("start");
    let client = client_for(&platform);
    let summary = Pusher::new(client.clone(), store.clone())
        .run_once()
        .await
        .expect("a cycle");
    assert!(summary.is_complete(), "{summary}");
    assert_platform_holds(&platform, &client, &data, &[], &[]).await;
}

#[tokio::test]
async fn the_loop_pushes_what_the_daemon_adds_when_woken_and_stops_on_shutdown() {
    let platform = platform().await;
    let client = client_for(&platform);
    let dir = tempdir("loop");
    let data = dataset(&dir, "l-", 1, 40, 0, 0);
    let store = SqliteStore::in_memory().await.expect("a store");
    store.add::<VoiceAccounts>(&data.accounts).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let pusher = Pusher::new(client.clone(), store.clone())
        .poll_interval(None)
        .on_event(move |event| {
            if let PushEvent::Cycle(summary) = event {
                let _ = tx.send(summary.applied());
            }
        });
    let handle = pusher.handle();
    let task = tokio::spawn(async move { pusher.run().await });

    assert_eq!(
        rx.recv().await,
        Some(1),
        "the first cycle pushes the account"
    );
    store.add::<VoiceCalls>(&data.calls[..25]).await.unwrap();
    handle.wake();
    assert_eq!(rx.recv().await, Some(25));
    store.add::<VoiceCalls>(&data.calls[25..]).await.unwrap();
    handle.wake();
    assert_eq!(rx.recv().await, Some(15));
    handle.shutdown();
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the loop stops")
        .expect("no panic")
        .expect("a clean stop");
    assert_platform_holds(&platform, &client, &data, &[], &[]).await;
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("wk-push-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

/// A daemon's store that edits an account line right after the pusher read it, as a user
/// renaming a line while the push is in flight would.
struct EditsWhileInFlight {
    inner: SqliteStore,
    edit: Mutex<Option<wavekat_platform_client::wire::VoiceAccountRecord>>,
}

impl wavekat_platform_client::sync::PushStore for EditsWhileInFlight {
    type Error = wavekat_platform_client::sync::SqliteStoreError;

    async fn pending_accounts(
        &self,
        limit: usize,
    ) -> Result<Vec<wavekat_platform_client::wire::VoiceAccountRecord>, Self::Error> {
        let read = self.inner.pending_accounts(limit).await?;
        let edit = self.edit.lock().unwrap().take();
        if let Some(edited) = edit {
            self.inner.add::<VoiceAccounts>(&[edited]).await?;
        }
        Ok(read)
    }
    async fn pending_calls(
        &self,
        limit: usize,
    ) -> Result<Vec<wavekat_platform_client::wire::VoiceCallRecord>, Self::Error> {
        self.inner.pending_calls(limit).await
    }
    async fn pending_transcripts(
        &self,
        limit: usize,
    ) -> Result<Vec<wavekat_platform_client::wire::VoiceTranscriptRecord>, Self::Error> {
        self.inner.pending_transcripts(limit).await
    }
    async fn pending_recordings(
        &self,
        limit: usize,
    ) -> Result<Vec<wavekat_platform_client::wire::VoiceRecordingRecord>, Self::Error> {
        self.inner.pending_recordings(limit).await
    }
    async fn pending_uploads(
        &self,
        limit: usize,
    ) -> Result<Vec<wavekat_platform_client::sync::PendingUpload>, Self::Error> {
        self.inner.pending_uploads(limit).await
    }
    async fn commit(
        &self,
        commit: &wavekat_platform_client::sync::Commit,
    ) -> Result<(), Self::Error> {
        self.inner.commit(commit).await
    }
}

#[tokio::test]
async fn an_account_edited_while_its_old_version_is_in_flight_is_pushed_again_not_lost() {
    let platform = platform().await;
    let client = client_for(&platform);
    let dir = tempdir("edit");
    let data = dataset(&dir, "e-", 1, 0, 0, 0);
    let store = SqliteStore::in_memory().await.expect("a store");
    store.add::<VoiceAccounts>(&data.accounts).await.unwrap();
    let mut renamed = data.accounts[0].clone();
    renamed.display_name = "Renamed while in flight".into();
    renamed.updated_at = "2026-06-01T00:00:00Z".into();
    let daemon = EditsWhileInFlight {
        inner: store.clone(),
        edit: Mutex::new(Some(renamed.clone())),
    };
    let pusher = Pusher::new(client.clone(), daemon);

    let summary = pusher.run_once().await.expect("a cycle");
    assert_eq!(
        summary.counts(Resource::Accounts).applied,
        2,
        "the old version, then the edit made while it was in flight"
    );
    assert_eq!(store.counts(Resource::Accounts).await.unwrap().pending, 0);
    let lines = client.list_voice_accounts(None, None).await.unwrap();
    assert_eq!(lines.items.len(), 1);
    assert_eq!(lines.items[0].display_name, "Renamed while in flight");
}

#[tokio::test]
async fn the_loop_backs_off_while_the_platform_is_down_and_pushes_once_it_is_back() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    let dir = tempdir("backoff");
    let data = dataset(&dir, "bo-", 1, 20, 0, 1);
    let store = SqliteStore::in_memory().await.expect("a store");
    queue(&store, &data).await;
    let token = wavekat_platform_client::Token::new("wk_backoff");
    let client = Client::builder(&format!("http://{addr}"))
        .token(token.clone())
        .retry_policy(RetryPolicy::none())
        .build()
        .expect("a client");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let pusher = Pusher::new(client.clone(), store.clone())
        .backoff(Duration::from_millis(20), Duration::from_millis(200))
        .poll_interval(None)
        .on_event(move |event| match event {
            PushEvent::RetryLater { error, after } => {
                let _ = tx.send(Some((error.is_retryable(), *after)));
            }
            PushEvent::Cycle(summary) if summary.is_complete() => {
                let _ = tx.send(None);
            }
            _ => {}
        });
    let handle = pusher.handle();
    let task = tokio::spawn(async move { pusher.run().await });

    let mut waits = Vec::new();
    for _ in 0..3 {
        let Some(Some((retryable, after))) = rx.recv().await else {
            panic!("expected a retry while the platform is down");
        };
        assert!(retryable);
        waits.push(after);
    }
    assert!(
        waits.iter().all(|w| *w <= Duration::from_millis(200)),
        "every wait is capped: {waits:?}"
    );
    let platform = DevPlatform::start(DevPlatformOptions::default().listen(addr).token(token))
        .await
        .expect("the platform comes back");
    loop {
        match rx.recv().await {
            Some(None) => break, // a complete cycle
            Some(Some(_)) => continue,
            None => panic!("the loop ended"),
        }
    }
    handle.shutdown();
    task.await.expect("no panic").expect("a clean stop");
    let client = client_for(&platform);
    assert_platform_holds(&platform, &client, &data, &[], &[]).await;
}
