//! The five-minute tour, end to end against the embedded platform emulator, with no set-up:
//! sign in through the loopback handshake, `get_me`, a release-signed heartbeat, queue a
//! realistic day of calls, transcripts, accounts and a WAV recording in the daemon's store and
//! push it with the durable `Pusher` (the upload with a progress bar), then list it back.
//!
//! Run: `cargo run --example quickstart --features dev-platform,sqlite-store`

use std::time::{Duration, Instant};

use futures_util::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use wavekat_platform_client::dev_platform::{self, DevPlatform, DevPlatformOptions};
use wavekat_platform_client::{
    signin::{loopback_handshake, HandshakeOptions},
    sync::{PushEvent, Pusher, Resource, SqliteStore, VoiceAccounts, VoiceCalls, VoiceTranscripts},
    wire::{
        VoiceAccountRecord, VoiceCallCodec, VoiceCallDirection, VoiceCallDisposition,
        VoiceCallEndReason, VoiceCallRecord, VoiceCallsQuery, VoiceRecordingRecord,
        VoiceTranscriptChannel, VoiceTranscriptRecord, VoiceTransport,
    },
    Client,
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let started = Instant::now();

    // 1. A local platform on 127.0.0.1 whose sign-in page approves at once.
    let platform = DevPlatform::start(DevPlatformOptions::default().auto_approve(true)).await?;
    let base = platform.base_url().to_owned();
    println!("platform emulator   {base}");

    // 2. Sign in. The crate never opens a browser: it hands you the URL. Here a plain HTTP GET
    //    plays the browser, following the platform's redirect back to our loopback listener.
    let pending = loopback_handshake(
        &base,
        HandshakeOptions::default().client("wavekat-quickstart"),
    )
    .await?;
    println!("sign-in URL         {}", pending.url());
    let browser = dev_platform::http_client()?.get(pending.url()).send();
    let (outcome, _page) = tokio::join!(pending.wait(), browser);
    let outcome = outcome?;
    let client = Client::new(&base, outcome.token)?;
    let me = client.get_me().await?;
    println!("signed in as        {} ({})", me.login, me.id);

    // 3. A release build proves itself with a per-version credential from the release master.
    let credential = platform.issue_release_credential("1.4.2")?;
    let install = Client::send_install_heartbeat(
        &base,
        "6f1c2b9e-8a41-4d6e-9b0f-1d2c3e4f5a6b",
        "1.4.2",
        Some("direct"),
        &credential,
    )
    .await?;
    println!(
        "heartbeat           install {} on {}, first seen {}",
        install.install_id, install.os, install.first_seen_at
    );

    // 4. The daemon's side: records go into its own store as calls happen (here the reference
    //    SQLite store, in a temporary file), and a Pusher moves them to the platform, durably:
    //    batches, schema versions, checks, retries, recording bytes after their metadata, and a
    //    committed outcome per step, so a crash loses nothing.
    let work = std::env::temp_dir().join(format!("wk-quickstart-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let store = SqliteStore::open(work.join("outbox.db")).await?;
    let (calls, transcripts) = a_day_of_calls();
    let recorded = calls[0].source_id.clone();
    let wav = sine_wav(16_000, 2, Duration::from_secs(20));
    let wav_path = work.join("call-0.wav");
    std::fs::write(&wav_path, &wav)?;
    let recording = VoiceRecordingRecord::new(
        format!("{recorded}-rec"),
        recorded.clone(),
        wav.len() as u64,
        20_000,
        16_000,
        2,
        "2026-11-20T08:00:46+13:00".into(),
    );
    store.add::<VoiceAccounts>(&two_lines()).await?;
    store.add::<VoiceCalls>(&calls).await?;
    store.add::<VoiceTranscripts>(&transcripts).await?;
    store.add_recording(&recording, &wav_path).await?;

    let bar = ProgressBar::new(wav.len() as u64).with_style(
        ProgressStyle::with_template(
            "uploading           [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
        )?
        .progress_chars("=> "),
    );
    let progress = bar.clone();
    let summary = Pusher::new(client.clone(), store.clone())
        .on_event(move |event| match event {
            PushEvent::Committed(step) => println!(
                "pushed              {} {}",
                step.applied.len(),
                step.resource
            ),
            PushEvent::Uploading { progress: p, .. } => progress.set_position(p.sent),
            _ => {}
        })
        .run_once()
        .await?;
    bar.finish();
    println!("push cycle          {summary}");

    // 5. Read it back: every page, one page in memory at a time.
    let query = {
        let mut r = VoiceCallsQuery::new();
        r.limit = std::num::NonZeroU32::new(25);
        r
    };
    let listed: Vec<VoiceCallRecord> = client.list_all::<VoiceCalls>(query).try_collect().await?;
    let answered = listed
        .iter()
        .filter(|c| c.disposition == VoiceCallDisposition::Answered)
        .count();
    let segments = client.list_voice_transcripts(&recorded).await?;
    // The generated list operation sends the spec's default `transports` (every known one), so
    // TLS lines are listed too.
    let lines = client.list_voice_accounts(None, None).await?;
    println!(
        "listed              {} calls ({answered} answered), {} segments of {recorded}, {} lines",
        listed.len(),
        segments.items.len(),
        lines.items.len()
    );
    let uploaded = client
        .sync_recordings(std::slice::from_ref(&recording))
        .await?
        .items
        .iter()
        .all(|i| i.bytes_uploaded);
    let _ = std::fs::remove_dir_all(&work);
    println!();
    println!("summary: signed in as {}, heartbeat ok, {} calls / {} segments / {} lines pushed and listed, recording uploaded: {uploaded}, in {:.2?}", me.login, listed.len(), summary.counts(Resource::Transcripts).applied, lines.items.len(), started.elapsed());
    platform.shutdown().await;
    Ok(())
}

/// 48 calls from 08:00 to 19:45 on 2026-11-20, every 15 minutes, with a realistic mix of
/// outcomes, and a few transcript segments for each answered call.
fn a_day_of_calls() -> (Vec<VoiceCallRecord>, Vec<VoiceTranscriptRecord>) {
    let parties = [
        "+6495550101",
        "\"Dr. Ana Müller\" <sip:ana@clinic.example>",
        "+14155550123",
        "sip:reception@sip.example.com",
        "Unknown",
    ];
    let lines = [
        (
            VoiceTranscriptChannel::Remote,
            "Hi, I'd like to book a cleaning for next week.",
        ),
        (
            VoiceTranscriptChannel::Local,
            "Sure, mornings or afternoons?",
        ),
        (
            VoiceTranscriptChannel::Remote,
            "Tuesday morning if you have it.",
        ),
        (
            VoiceTranscriptChannel::Local,
            "Tuesday at nine thirty works. See you then.",
        ),
    ];
    let mut calls = Vec::new();
    let mut transcripts = Vec::new();
    for i in 0..48u32 {
        let minute = 8 * 60 + i * 15;
        let (h, m) = (minute / 60, minute % 60);
        let ring = format!("2026-11-20T{h:02}:{m:02}:00+13:00");
        let (disposition, reason, talk_secs) = match i % 6 {
            0 | 2 | 4 => (
                VoiceCallDisposition::Answered,
                VoiceCallEndReason::HangupRemote,
                40 + i * 7,
            ),
            1 => (
                VoiceCallDisposition::Answered,
                VoiceCallEndReason::HangupLocal,
                95,
            ),
            3 => (VoiceCallDisposition::Missed, VoiceCallEndReason::Missed, 0),
            _ => (
                VoiceCallDisposition::Rejected,
                VoiceCallEndReason::RejectedLocal,
                0,
            ),
        };
        let answered = disposition == VoiceCallDisposition::Answered;
        let end_secs = 6 + talk_secs;
        let source_id = format!("2b7e1f00-0000-4000-8000-{:012}", i);
        calls.push({
            let mut r = {
                let mut r = {
                    let mut r = VoiceCallRecord::new(
                        source_id.clone(),
                        "a1b2c3d4-0000-4000-8000-00000000a001".into(),
                        if i % 4 == 3 {
                            VoiceCallDirection::Outbound
                        } else {
                            VoiceCallDirection::Inbound
                        },
                        parties[i as usize % parties.len()].into(),
                        ring.clone(),
                        format!(
                            "2026-11-20T{h:02}:{:02}:{:02}+13:00",
                            m + end_secs / 60,
                            end_secs % 60
                        ),
                        disposition,
                        reason,
                    );
                    r.answer_at = answered.then(|| format!("2026-11-20T{h:02}:{m:02}:06+13:00"));
                    r
                };
                r.codec = answered.then_some(if i % 2 == 0 {
                    VoiceCallCodec::Opus
                } else {
                    VoiceCallCodec::Pcmu
                });
                r
            };
            r.duration_ms = answered.then_some(i64::from(talk_secs) * 1000);
            r
        });
        if answered {
            for (n, (channel, text)) in lines.iter().enumerate() {
                let start = n as i64 * 4_000;
                transcripts.push(VoiceTranscriptRecord::new(
                    format!("{}", i * 10 + n as u32 + 1),
                    source_id.clone(),
                    channel.clone(),
                    start,
                    start + 3_200,
                    (*text).into(),
                ));
            }
        }
    }
    (calls, transcripts)
}

fn two_lines() -> Vec<VoiceAccountRecord> {
    let line = |id: &str, name: &str, transport: VoiceTransport, port: u16| {
        VoiceAccountRecord::new(
            id.into(),
            true,
            name.into(),
            "1001".into(),
            "sip.example.com".into(),
            transport,
            300,
            true,
            "2026-11-20T07:30:00Z".into(),
        )
        .with_keepalive_secs(25)
        .with_port(port)
        .with_server("edge.sip.example.com".into())
    };
    vec![
        line(
            "a1b2c3d4-0000-4000-8000-00000000a001",
            "Front desk",
            VoiceTransport::Tls,
            5061,
        ),
        line(
            "a1b2c3d4-0000-4000-8000-00000000a002",
            "After hours",
            VoiceTransport::Udp,
            5060,
        ),
    ]
}

/// A 16-bit PCM WAV of a 440 Hz tone.
fn sine_wav(sample_rate: u32, channels: u16, length: Duration) -> Vec<u8> {
    let frames = (f64::from(sample_rate) * length.as_secs_f64()) as u32;
    let data_len = frames * u32::from(channels) * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes());
    wav.extend_from_slice(&channels.to_le_bytes());
    wav.extend_from_slice(&sample_rate.to_le_bytes());
    wav.extend_from_slice(&(sample_rate * u32::from(channels) * 2).to_le_bytes());
    wav.extend_from_slice(&(channels * 2).to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for n in 0..frames {
        let sample = ((n as f64 * 440.0 * std::f64::consts::TAU / f64::from(sample_rate)).sin()
            * 8_000.0) as i16;
        for _ in 0..channels {
            wav.extend_from_slice(&sample.to_le_bytes());
        }
    }
    wav
}
