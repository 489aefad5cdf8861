//! A daemon's data set for the push tests: accounts, calls, transcripts and recordings with WAV
//! files, made deterministically from a seed, and the record-by-record check of the platform.
#![allow(dead_code)]

mod data;

pub use data::{dataset, Dataset};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use wavekat_platform_client::dev_platform::DevPlatform;
use wavekat_platform_client::sync::{VoiceAccounts, VoiceCalls, VoiceRecordings, VoiceTranscripts};
use wavekat_platform_client::wire::{
    VoiceAccountRecord, VoiceAccountsQuery, VoiceCallRecord, VoiceCallsQuery, VoiceRecordingRecord,
    VoiceRecordingsQuery, VoiceTranscriptRecord, VoiceTranscriptsQuery,
};
use wavekat_platform_client::Client;

/// Everything the platform holds, by `sourceId`, as JSON (tombstones included).
pub struct PlatformView {
    pub accounts: BTreeMap<String, VoiceAccountRecord>,
    pub calls: BTreeMap<String, VoiceCallRecord>,
    pub transcripts: BTreeMap<String, VoiceTranscriptRecord>,
    pub recordings: BTreeMap<String, VoiceRecordingRecord>,
}

pub async fn platform_view(client: &Client, calls_with_transcripts: &[String]) -> PlatformView {
    let accounts = client
        .list_all::<VoiceAccounts>(VoiceAccountsQuery::default().with_include_deleted(true))
        .try_collect::<Vec<_>>()
        .await
        .expect("list accounts");
    let calls = client
        .list_all::<VoiceCalls>(
            VoiceCallsQuery::default()
                .with_include_deleted(true)
                .with_limit(std::num::NonZeroU32::new(200).expect("200")),
        )
        .try_collect::<Vec<_>>()
        .await
        .expect("list calls");
    let recordings = client
        .list_all::<VoiceRecordings>(
            VoiceRecordingsQuery::default()
                .with_limit(std::num::NonZeroU32::new(200).expect("200")),
        )
        .try_collect::<Vec<_>>()
        .await
        .expect("list recordings");
    let mut transcripts = BTreeMap::new();
    for call in calls_with_transcripts {
        let page = client
            .list_all::<VoiceTranscripts>(VoiceTranscriptsQuery::new(call.clone()))
            .try_collect::<Vec<_>>()
            .await
            .expect("list transcripts");
        transcripts.extend(page.into_iter().map(|t| (t.source_id.clone(), t)));
    }
    PlatformView {
        accounts: accounts
            .into_iter()
            .map(|r| (r.source_id.clone(), r))
            .collect(),
        calls: calls
            .into_iter()
            .map(|r| (r.source_id.clone(), r))
            .collect(),
        transcripts,
        recordings: recordings
            .into_iter()
            .map(|r| (r.source_id.clone(), r))
            .collect(),
    }
}

/// The record as the platform echoes it: `schemaVersion` stamped, `extras` not echoed.
fn echoed<T: serde::Serialize>(record: &T, version: u32) -> serde_json::Value {
    let mut value = serde_json::to_value(record).expect("a record serializes");
    if let Some(object) = value.as_object_mut() {
        object.entry("schemaVersion").or_insert(version.into());
        object.remove("extras");
    }
    value
}

/// The platform holds exactly `expected` of one resource, each as sent.
fn holds_exactly<T: serde::Serialize>(
    what: &str,
    expected: &[T],
    held: &BTreeMap<String, T>,
    id: fn(&T) -> &String,
    version: u32,
) {
    assert_eq!(held.len(), expected.len(), "{what} count");
    for record in expected {
        let on_platform = held
            .get(id(record))
            .unwrap_or_else(|| panic!("{what} {} lost", id(record)));
        same(what, id(record), record, on_platform, version);
    }
}

fn same<T: serde::Serialize>(what: &str, id: &str, sent: &T, held: &T, version: u32) {
    assert_eq!(
        echoed(held, version),
        echoed(sent, version),
        "{what} {id} differs on the platform"
    );
}

/// Checks that the platform holds exactly `expected`, record by record, and every recording's
/// bytes byte for byte, except the recordings in `no_bytes`, whose bytes must not be there;
/// `absent` ids (set aside) must not be there at all.
pub async fn assert_platform_holds(
    platform: &DevPlatform,
    client: &Client,
    expected: &Dataset,
    absent: &[String],
    no_bytes: &[String],
) {
    let call_ids: std::collections::BTreeSet<String> = expected
        .transcripts
        .iter()
        .map(|t| t.call_source_id.clone())
        .collect();
    let call_ids: Vec<String> = call_ids.into_iter().collect();
    let view = platform_view(client, &call_ids).await;
    holds_exactly(
        "account",
        &expected.accounts,
        &view.accounts,
        |r| &r.source_id,
        2,
    );
    holds_exactly("call", &expected.calls, &view.calls, |r| &r.source_id, 1);
    holds_exactly(
        "transcript",
        &expected.transcripts,
        &view.transcripts,
        |r| &r.source_id,
        1,
    );
    let recordings: Vec<VoiceRecordingRecord> =
        expected.recordings.iter().map(|(r, _)| r.clone()).collect();
    holds_exactly(
        "recording",
        &recordings,
        &view.recordings,
        |r| &r.source_id,
        1,
    );
    for (r, path) in &expected.recordings {
        if no_bytes.contains(&r.source_id) {
            assert!(
                find_blob(platform.blobs_dir(), &r.source_id).is_none(),
                "the bytes of recording {} landed, but they should not have",
                r.source_id
            );
            continue;
        }
        let stored = find_blob(platform.blobs_dir(), &r.source_id)
            .unwrap_or_else(|| panic!("the bytes of recording {} never landed", r.source_id));
        let want = std::fs::read(path).expect("read the WAV file");
        assert!(
            std::fs::read(&stored).expect("read the stored bytes") == want,
            "recording {} bytes differ",
            r.source_id
        );
    }
    for id in absent {
        assert!(
            !view.calls.contains_key(id)
                && !view.transcripts.contains_key(id)
                && !view.recordings.contains_key(id)
                && !view.accounts.contains_key(id),
            "{id} was set aside but reached the platform"
        );
    }
}

/// The stored bytes of a recording: the emulator keeps them at `blobs/<r2Key>`, whose last
/// segment is `<sourceId>.wav`.
pub fn find_blob(blobs: &Path, source_id: &str) -> Option<PathBuf> {
    let name = format!("{source_id}.wav");
    let mut stack = vec![blobs.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).ok()?.flatten() {
            let path = entry.path();
            if path.is_dir() {
                if !path.ends_with(".tmp") {
                    stack.push(path);
                }
            } else if path.file_name().is_some_and(|n| n == name.as_str()) {
                return Some(path);
            }
        }
    }
    None
}
