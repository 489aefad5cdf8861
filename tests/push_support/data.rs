//! The daemon's data set of the push tests and the push benchmark (`examples/push_bench.rs`
//! includes this file): accounts, calls, transcripts and recordings with WAV files, made
//! deterministically.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use wavekat_platform_client::wire::{
    VoiceAccountRecord, VoiceCallDirection, VoiceCallDisposition, VoiceCallEndReason,
    VoiceCallRecord, VoiceRecordingRecord, VoiceTranscriptChannel, VoiceTranscriptRecord,
    VoiceTransport,
};

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
