//! A daemon's data set for the push tests: accounts, calls, transcripts and recordings with WAV
//! files, made deterministically from a seed, and the record-by-record check of the platform.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::TryStreamExt;
use wavekat_platform_client::dev_platform::DevPlatform;
use wavekat_platform_client::sync::{VoiceAccounts, VoiceCalls, VoiceRecordings, VoiceTranscripts};
use wavekat_platform_client::wire::{
    VoiceAccountRecord, VoiceAccountsQuery, VoiceCallDirection, VoiceCallDisposition,
    VoiceCallEndReason, VoiceCallRecord, VoiceCallsQuery, VoiceRecordingRecord,
    VoiceRecordingsQuery, VoiceTranscriptChannel, VoiceTranscriptRecord, VoiceTranscriptsQuery,
    VoiceTransport,
};
use wavekat_platform_client::Client;

/// What a daemon holds: records per resource, in the order it made them, and each recording's
/// WAV file.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub accounts: Vec<VoiceAccountRecord>,
    pub calls: Vec<VoiceCallRecord>,
    pub transcripts: Vec<VoiceTranscriptRecord>,
    pub recordings: Vec<(VoiceRecordingRecord, PathBuf)>,
}

/// A WAV file of `len` bytes (a RIFF header, then bytes from `seed`).
pub fn wav(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len);
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(len.saturating_sub(8) as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    let mut x = seed | 1;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push(x as u8);
    }
    out.truncate(len);
    out
}

fn timestamp(minute: usize) -> String {
    let (day, rest) = (minute / 1440, minute % 1440);
    format!(
        "2026-05-{:02}T{:02}:{:02}:00Z",
        1 + day % 28,
        rest / 60,
        rest % 60
    )
}

/// `calls` calls over `accounts` SIP lines, `transcripts_per_call` segments each, and
/// `recordings` recordings (one per call, the first calls) with WAV files of 1 to 8 KiB written
/// under `dir`. Ids start with `prefix`.
pub fn dataset(
    dir: &Path,
    prefix: &str,
    accounts: usize,
    calls: usize,
    transcripts_per_call: usize,
    recordings: usize,
) -> Dataset {
    let transports = [
        VoiceTransport::Udp,
        VoiceTransport::Tcp,
        VoiceTransport::Tls,
    ];
    let accounts: Vec<VoiceAccountRecord> = (0..accounts)
        .map(|i| {
            VoiceAccountRecord::new(
                format!("{prefix}acct-{i}"),
                true,
                format!("Line {i}"),
                format!("10{i:02}"),
                "sip.example.com".into(),
                transports[i % transports.len()].clone(),
                300,
                i % 2 == 0,
                timestamp(i),
            )
        })
        .collect();
    let mut out = Dataset {
        calls: Vec::with_capacity(calls),
        transcripts: Vec::with_capacity(calls * transcripts_per_call),
        recordings: Vec::with_capacity(recordings),
        accounts,
    };
    for i in 0..calls {
        let id = format!("{prefix}call-{i:05}");
        let account = format!("{prefix}acct-{}", i % out.accounts.len().max(1));
        out.calls.push(
            VoiceCallRecord::new(
                id.clone(),
                account,
                if i % 3 == 0 {
                    VoiceCallDirection::Outbound
                } else {
                    VoiceCallDirection::Inbound
                },
                format!("+6421{i:06}"),
                timestamp(2 * i),
                timestamp(2 * i + 1),
                VoiceCallDisposition::Answered,
                VoiceCallEndReason::HangupRemote,
            )
            .with_answer_at(timestamp(2 * i))
            .with_duration_ms(60_000),
        );
        for t in 0..transcripts_per_call {
            out.transcripts.push(VoiceTranscriptRecord::new(
                format!("{prefix}seg-{i:05}-{t}"),
                id.clone(),
                if t % 2 == 0 {
                    VoiceTranscriptChannel::Local
                } else {
                    VoiceTranscriptChannel::Remote
                },
                (t * 1000) as i64,
                (t * 1000 + 900) as i64,
                format!("segment {t} of call {i}"),
            ));
        }
        if i < recordings {
            let size = 1024 + (i * 977) % 7168;
            let path = dir.join(format!("{prefix}rec-{i:05}.wav"));
            std::fs::write(&path, wav(size, i as u64 + 1)).expect("write a WAV file");
            out.recordings.push((
                VoiceRecordingRecord::new(
                    format!("{prefix}rec-{i:05}"),
                    id,
                    size as u64,
                    60_000,
                    16_000,
                    1,
                    timestamp(2 * i + 1),
                ),
                path,
            ));
        }
    }
    out
}

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
    assert_eq!(
        view.accounts.len(),
        expected.accounts.len(),
        "account count"
    );
    for a in &expected.accounts {
        let held = view
            .accounts
            .get(&a.source_id)
            .unwrap_or_else(|| panic!("account {} lost", a.source_id));
        same("account", &a.source_id, a, held, 2);
    }
    assert_eq!(view.calls.len(), expected.calls.len(), "call count");
    for c in &expected.calls {
        let held = view
            .calls
            .get(&c.source_id)
            .unwrap_or_else(|| panic!("call {} lost", c.source_id));
        same("call", &c.source_id, c, held, 1);
    }
    assert_eq!(
        view.transcripts.len(),
        expected.transcripts.len(),
        "transcript count"
    );
    for t in &expected.transcripts {
        let held = view
            .transcripts
            .get(&t.source_id)
            .unwrap_or_else(|| panic!("transcript {} lost", t.source_id));
        same("transcript", &t.source_id, t, held, 1);
    }
    assert_eq!(
        view.recordings.len(),
        expected.recordings.len(),
        "recording count"
    );
    for (r, path) in &expected.recordings {
        let held = view
            .recordings
            .get(&r.source_id)
            .unwrap_or_else(|| panic!("recording {} lost", r.source_id));
        same("recording", &r.source_id, r, held, 1);
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
