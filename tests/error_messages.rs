//! Every error says what happened, names the thing involved and says what to do; a cause is in
//! `Display` or in `source()`, never both. Each case is one a new user hits, produced for real:
//! the emulator, a raw server or a closed port on 127.0.0.1, files on disk.

mod support;

use std::path::PathBuf;

use support::{minimal_call, minimal_recording};
use wavekat_platform_client::dev_platform::{DevPlatform, DevPlatformOptions};
use wavekat_platform_client::sync::{Pusher, SetAsideReason, SqliteStore, VoiceCalls};
use wavekat_platform_client::upload::RecordingBody;
use wavekat_platform_client::{Client, Error};

fn emulator() -> DevPlatformOptions {
    DevPlatformOptions::default()
}

async fn platform() -> DevPlatform {
    DevPlatform::start(emulator())
        .await
        .expect("start the emulator")
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("wk-errors-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a temp dir");
    dir
}

// --- A missing upload file ---------------------------------------------------------------------

async fn missing_file_upload() -> (Error, PathBuf, String) {
    let platform = platform().await;
    let client = Client::new(platform.base_url(), platform.token().clone()).expect("a client");
    let recording = minimal_recording();
    let path = tempdir("missing").join("no-such-recording.wav");
    let err = client
        .upload_recording(&recording.source_id, RecordingBody::file(&path))
        .await
        .expect_err("the file does not exist");
    (err, path, recording.source_id)
}

#[tokio::test]
async fn a_missing_upload_file_names_the_path_and_the_recording() {
    let (err, path, source_id) = missing_file_upload().await;
    let Error::UploadBody {
        source_id: named,
        path: Some(named_path),
        io,
    } = &err
    else {
        panic!("expected UploadBody with the path, got {err:?}");
    };
    assert_eq!(named, &source_id);
    assert_eq!(named_path, &path);
    assert_eq!(io.kind(), std::io::ErrorKind::NotFound);
    let shown = err.to_string();
    assert!(shown.contains(&source_id), "names the recording: {shown}");
    assert!(
        shown.contains(&path.display().to_string()),
        "names the path: {shown}"
    );
    assert!(shown.contains(&io.to_string()), "says why: {shown}");
    assert!(
        shown.contains("check that the file exists"),
        "says what to do: {shown}"
    );
}

#[tokio::test]
async fn a_pusher_sets_a_vanished_recording_file_aside_naming_it_and_the_fix() {
    let platform = platform().await;
    let client = Client::new(platform.base_url(), platform.token().clone()).expect("a client");
    let store = SqliteStore::in_memory().await.expect("a store");
    let call = minimal_call();
    let recording = minimal_recording();
    assert_eq!(recording.call_source_id, call.source_id);
    let path = tempdir("vanished").join("gone.wav");
    store.add::<VoiceCalls>(&[call]).await.expect("queue");
    store
        .add_recording(&recording, &path)
        .await
        .expect("queue the recording");

    let summary = Pusher::new(client, store)
        .run_once()
        .await
        .expect("a cycle");

    let [(_, aside)] = summary.set_aside.as_slice() else {
        panic!("one recording set aside: {summary}");
    };
    assert_eq!(aside.source_id, recording.source_id);
    let SetAsideReason::Bytes { detail } = &aside.reason else {
        panic!("set aside for its bytes: {}", aside.reason);
    };
    assert!(
        detail.contains(&format!("cannot read {}", path.display())),
        "{detail}"
    );
    let shown = aside.reason.to_string();
    assert!(
        shown.contains("restore the file") && shown.contains("queue the recording again"),
        "says what to do: {shown}"
    );
}
