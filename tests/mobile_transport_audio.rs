//! Audio across a dropped connection: an utterance either arrives whole (one `AudioStart`, every
//! sample in order exactly once, one `AudioEnd`, on one connection) or both ends learn it was cut
//! (`DesktopEvent::AudioCut` on the desktop, `UtteranceOutcome::Cut` or
//! `TransportError::UtteranceCut` on the phone). Never an `AudioEnd` without its start.

mod mobile_support;

use std::collections::HashMap;
use std::time::Duration;

use ed25519_dalek::SigningKey;
use futures_util::SinkExt as _;
use mobile_support::*;
use rand_core::OsRng;
use tokio_tungstenite::tungstenite::Message;
use wavekat_platform_client::mobile::transport::{
    connect, AudioCutReason, ConnectionId, DesktopEvent, DesktopEvents, DesktopSecurity,
    DisconnectReason, MobileDesktop, PhoneConfig, PhoneEvent, PhoneEvents, PhoneHandle,
    PhoneSecurity, PhoneStart, TransportError, UtteranceCut, UtteranceOutcome,
};
use wavekat_platform_client::mobile::{ClientFrame, PairingWindowConfig};

const RATE: u32 = 16_000;
/// The new user's utterance: 3,200 samples, the cut, 3,200 more.
const TOTAL: usize = 6_400;
/// Runs of each scenario (the cut races the writes differently each time).
const RUNS: usize = 3;

/// Distinct samples (exact in f32), so order and duplicates show.
fn utterance(len: usize) -> Vec<f32> {
    (0..len).map(|i| i as f32).collect()
}

/// What the desktop made of the audio it was handed.
#[derive(Debug, Default)]
struct Heard {
    /// Utterances that ended with `AudioEnd`, their samples.
    whole: Vec<Vec<f32>>,
    /// Cut utterances: why, and the samples the cut reports delivered.
    cut: Vec<(AudioCutReason, u64)>,
    /// Samples delivered so far to each connection's open utterance.
    open: HashMap<ConnectionId, Vec<f32>>,
    /// Connections that ended.
    disconnects: usize,
}

impl Heard {
    /// Takes one desktop event, panicking on any audio event out of its utterance.
    fn take(&mut self, event: DesktopEvent) {
        match event {
            DesktopEvent::AudioStart {
                connection,
                sample_rate,
            } => {
                assert_eq!(sample_rate, RATE);
                assert!(
                    self.open.insert(connection, Vec::new()).is_none(),
                    "a second AudioStart on {connection:?} with no AudioEnd or AudioCut between"
                );
            }
            DesktopEvent::AudioChunk {
                connection,
                samples,
            } => self
                .open
                .get_mut(&connection)
                .unwrap_or_else(|| panic!("an AudioChunk on {connection:?} outside an utterance"))
                .extend(samples),
            DesktopEvent::AudioEnd { connection } => {
                let samples = self.open.remove(&connection).unwrap_or_else(|| {
                    panic!("an AudioEnd on {connection:?}, which never saw its AudioStart")
                });
                self.whole.push(samples);
            }
            DesktopEvent::AudioCut {
                connection,
                reason,
                samples,
                ..
            } => {
                let delivered = self.open.remove(&connection);
                if reason != AudioCutReason::NotStarted {
                    let delivered = delivered.unwrap_or_else(|| {
                        panic!("an AudioCut ({reason:?}) on {connection:?} with no utterance open")
                    });
                    assert_eq!(
                        delivered.len() as u64,
                        samples,
                        "the cut counts what it delivered"
                    );
                }
                self.cut.push((reason, samples));
            }
            DesktopEvent::Disconnected { connection, .. } => {
                assert!(
                    !self.open.contains_key(&connection),
                    "{connection:?} ended with its utterance neither ended nor cut"
                );
                self.disconnects += 1;
            }
            _ => {}
        }
    }

    /// Takes desktop events until `done` holds (panics after [`WAIT`]), then those that follow
    /// within a short quiet spell, so a stray event after the expected ones is seen too.
    async fn until(&mut self, events: &mut DesktopEvents, done: impl Fn(&Heard) -> bool) {
        let waited = tokio::time::timeout(WAIT, async {
            while !done(self) {
                match events.recv().await {
                    Some(event) => self.take(event),
                    None => panic!("the desktop's event stream ended"),
                }
            }
        })
        .await;
        assert!(
            waited.is_ok(),
            "the desktop did not report the utterance: {self:?}"
        );
        for event in drain(events, Duration::from_millis(100)).await {
            self.take(event);
        }
    }

    fn delivered(&self) -> usize {
        self.open.values().map(Vec::len).sum()
    }
}

/// Pairs a phone through `url` with `tune` applied to its configuration.
async fn pair_with(
    desktop: &MobileDesktop,
    url: String,
    security: PhoneSecurity,
    tune: impl FnOnce(&mut PhoneConfig),
) -> (PhoneHandle, PhoneEvents) {
    let mut qr = desktop.open_pairing_window(PairingWindowConfig::default());
    if security == PhoneSecurity::PlainOnly {
        qr.noise_key = None;
    }
    let mut config = phone_config(url, security);
    tune(&mut config);
    let start = PhoneStart::Pair {
        qr,
        device_key: SigningKey::generate(&mut OsRng),
    };
    let (phone, events, _) = connect(config, start).await.expect("the phone pairs");
    (phone, events)
}

async fn phone_sees_drop(events: &mut PhoneEvents) {
    expect_event(events, |e| {
        matches!(e, PhoneEvent::Disconnected { .. }).then_some(())
    })
    .await;
}

/// The new user's scenario: start, `cut_at` samples, the connection cut, the rest of [`TOTAL`],
/// end. With `noticed`, the desktop has the start and the first `cut_at` samples before the cut
/// (as the new user's desktop had 2,880 of them) and the phone has seen the drop before it goes
/// on; without, nothing waits. Returns the phone's outcome and what the desktop heard.
async fn utterance_across_a_cut(
    security: PhoneSecurity,
    cut_at: usize,
    noticed: bool,
) -> (UtteranceOutcome, Heard) {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let relay = relay(desktop.local_addr()).await;
    let (phone, mut phone_events) = pair_with(&desktop, ws_url(relay.addr), security, |_| {}).await;
    let samples = utterance(TOTAL);
    phone.send_audio_start(RATE).await.expect("started");
    phone.send_audio(&samples[..cut_at]).await.expect("queued");
    let mut heard = Heard::default();
    if noticed {
        heard
            .until(&mut events, |h| {
                h.open.values().any(|got| got.len() == cut_at)
            })
            .await;
    }
    relay.cut.send(()).expect("the relay is up");
    if noticed {
        phone_sees_drop(&mut phone_events).await;
    }
    phone.send_audio(&samples[cut_at..]).await.expect("queued");
    let receipt = phone.send_audio_end().await.expect("queued");
    let outcome = tokio::time::timeout(WAIT, receipt.outcome())
        .await
        .expect("the utterance settles");
    match outcome {
        UtteranceOutcome::Delivered | UtteranceOutcome::Written => {
            heard.until(&mut events, |h| !h.whole.is_empty()).await
        }
        // The desktop may have got nothing of it (the cut lost the start in flight): wait for the
        // dropped connection's end instead.
        _ => {
            heard
                .until(&mut events, |h| !h.cut.is_empty() || h.disconnects > 0)
                .await
        }
    }
    phone.close();
    desktop.shutdown().await;
    (outcome, heard)
}

/// Whole on the phone means whole, once, in order on the desktop; any fragment the dropped
/// connection delivered is reported cut there. Cut on the phone means cut on the desktop.
fn assert_whole_or_cut_on_both_ends(
    security: PhoneSecurity,
    cut_at: usize,
    outcome: UtteranceOutcome,
    heard: &Heard,
) {
    let case = format!("{security:?}, cut after {cut_at} samples");
    match outcome {
        UtteranceOutcome::Delivered | UtteranceOutcome::Written => {
            assert_eq!(
                heard.whole.len(),
                1,
                "{case}: one whole utterance: {heard:?}"
            );
            assert!(
                heard.whole[0] == utterance(TOTAL),
                "{case}: every sample, in order, exactly once ({} received)",
                heard.whole[0].len()
            );
            for (reason, _) in &heard.cut {
                assert!(
                    matches!(reason, AudioCutReason::ConnectionEnded(_)),
                    "{case}: only the dropped connection's fragment is cut: {reason:?}"
                );
            }
        }
        UtteranceOutcome::Cut(_) => {
            assert!(
                heard.whole.is_empty(),
                "{case}: cut on the phone, whole on the desktop"
            );
            // Whatever of it reached the desktop was reported cut (`open` is empty below); the
            // desktop may have got nothing of it at all.
        }
        other => panic!("{case}: no drop happened after the end: {other:?}"),
    }
    assert!(
        heard.open.is_empty(),
        "{case}: an utterance left open: {heard:?}"
    );
}

async fn the_new_users_scenario(security: PhoneSecurity, expected: UtteranceOutcome) {
    for run in 0..RUNS {
        for cut_at in [0, TOTAL / 2, TOTAL] {
            let (outcome, heard) = utterance_across_a_cut(security, cut_at, true).await;
            assert_whole_or_cut_on_both_ends(security, cut_at, outcome, &heard);
            // The whole utterance fits the replay buffer: it arrives whole after the resume, and
            // the fragment the dropped connection delivered is reported cut there.
            assert_eq!(
                outcome, expected,
                "run {run}, {security:?}, cut after {cut_at}"
            );
            assert!(
                matches!(
                    heard.cut.as_slice(),
                    [(AudioCutReason::ConnectionEnded(_), n)] if *n == cut_at as u64
                ),
                "run {run}, {security:?}, cut after {cut_at}: {:?}",
                heard.cut
            );
        }
    }
}

#[tokio::test]
async fn plain_an_utterance_cut_by_a_drop_arrives_whole_after_the_resume() {
    the_new_users_scenario(PhoneSecurity::PlainOnly, UtteranceOutcome::Written).await;
}

#[tokio::test]
async fn secure_an_utterance_cut_by_a_drop_arrives_whole_after_the_resume() {
    the_new_users_scenario(PhoneSecurity::RequireSecure, UtteranceOutcome::Delivered).await;
}

/// An utterance of twice the replay buffer, cut after the desktop has its first half.
async fn longer_than_the_replay_buffer(security: PhoneSecurity) {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let relay = relay(desktop.local_addr()).await;
    // 0.1 s at 16 kHz: 1,600 samples.
    let (phone, mut phone_events) = pair_with(&desktop, ws_url(relay.addr), security, |c| {
        c.audio_replay = Duration::from_millis(100)
    })
    .await;
    let samples = utterance(TOTAL);
    phone.send_audio_start(RATE).await.expect("started");
    phone
        .send_audio(&samples[..TOTAL / 2])
        .await
        .expect("queued");
    let mut heard = Heard::default();
    heard
        .until(&mut events, |h| h.delivered() == TOTAL / 2)
        .await;
    relay.cut.send(()).expect("the relay is up");
    phone_sees_drop(&mut phone_events).await;
    expect_event(&mut phone_events, |e| {
        matches!(e, PhoneEvent::Resumed { .. }).then_some(())
    })
    .await;
    let sent = phone.send_audio(&samples[TOTAL / 2..]).await;
    assert!(
        matches!(
            sent,
            Err(TransportError::UtteranceCut(
                UtteranceCut::ReplayBufferExceeded
            ))
        ),
        "{security:?}: the phone learns the utterance was cut: {sent:?}"
    );
    let receipt = phone.send_audio_end().await.expect("settled at once");
    assert_eq!(
        receipt.outcome().await,
        UtteranceOutcome::Cut(UtteranceCut::ReplayBufferExceeded),
        "{security:?}"
    );
    heard.until(&mut events, |h| !h.cut.is_empty()).await;
    assert!(
        heard.whole.is_empty(),
        "{security:?}: never whole: {heard:?}"
    );
    assert!(
        matches!(
            heard.cut.as_slice(),
            [(AudioCutReason::ConnectionEnded(_), n)] if *n == (TOTAL / 2) as u64
        ),
        "{security:?}: the desktop reports the fragment cut: {heard:?}"
    );
    // The link is fine: the next utterance arrives whole.
    phone.send_audio_start(RATE).await.expect("started");
    phone.send_audio(&samples).await.expect("queued");
    let _receipt = phone.send_audio_end().await.expect("queued");
    heard.until(&mut events, |h| !h.whole.is_empty()).await;
    assert!(heard.whole == vec![samples], "{security:?}");
    phone.close();
    desktop.shutdown().await;
}

#[tokio::test]
async fn an_utterance_longer_than_the_replay_buffer_is_cut_on_both_ends_across_a_drop() {
    longer_than_the_replay_buffer(PhoneSecurity::PlainOnly).await;
    longer_than_the_replay_buffer(PhoneSecurity::RequireSecure).await;
}

#[tokio::test]
async fn an_utterance_open_when_the_link_gives_up_is_cut_on_both_ends() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let relay = relay(desktop.local_addr()).await;
    let (phone, mut phone_events) = pair_with(
        &desktop,
        ws_url(relay.addr),
        PhoneSecurity::RequireSecure,
        |c| c.backoff.max_attempts = Some(0),
    )
    .await;
    phone.send_audio_start(RATE).await.expect("started");
    phone.send_audio(&utterance(1_600)).await.expect("queued");
    let mut heard = Heard::default();
    heard.until(&mut events, |h| h.delivered() == 1_600).await;
    relay.cut.send(()).expect("the relay is up");
    expect_event(&mut phone_events, |e| {
        matches!(e, PhoneEvent::Closed { .. }).then_some(())
    })
    .await;
    assert!(matches!(
        phone.send_audio(&utterance(1_600)).await,
        Err(TransportError::LinkClosed)
    ));
    assert!(matches!(
        phone.send_audio_end().await,
        Err(TransportError::LinkClosed)
    ));
    heard.until(&mut events, |h| !h.cut.is_empty()).await;
    assert!(heard.whole.is_empty());
    assert!(matches!(
        heard.cut.as_slice(),
        [(AudioCutReason::ConnectionEnded(_), 1_600)]
    ));
    desktop.shutdown().await;
}

async fn send_raw(ws: &mut RawWs, frame: ClientFrame) {
    ws.send(Message::text(frame.encode().expect("encodes")))
        .await
        .expect("sent");
}

fn raw_chunk(samples: &[f32]) -> ClientFrame {
    let pcm: Vec<u8> = samples.iter().flat_map(|s| s.to_le_bytes()).collect();
    ClientFrame::audio_chunk_from_pcm(&pcm).expect("a chunk")
}

#[tokio::test]
async fn a_raw_peer_sending_audio_end_first_never_yields_an_audio_end_without_its_start() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let mut ws = raw_plain_pair(&desktop).await;
    // End and audio with no start, then a start abandoned by a second start, then a whole one.
    send_raw(&mut ws, ClientFrame::AudioStreamEnd).await;
    send_raw(&mut ws, raw_chunk(&[1.0; 4])).await;
    send_raw(&mut ws, ClientFrame::AudioStreamEnd).await;
    send_raw(&mut ws, ClientFrame::AudioStreamStart { sample_rate: RATE }).await;
    send_raw(&mut ws, raw_chunk(&[2.0; 4])).await;
    send_raw(&mut ws, ClientFrame::AudioStreamStart { sample_rate: RATE }).await;
    send_raw(&mut ws, raw_chunk(&[3.0; 4])).await;
    send_raw(&mut ws, ClientFrame::AudioStreamEnd).await;
    send_raw(&mut ws, ClientFrame::AudioStreamEnd).await;
    let mut heard = Heard::default();
    heard.until(&mut events, |h| h.cut.len() == 3).await;
    assert_eq!(heard.whole, vec![vec![3.0; 4]]);
    assert_eq!(
        heard.cut,
        vec![
            (AudioCutReason::NotStarted, 0),
            (AudioCutReason::Restarted, 4),
            (AudioCutReason::NotStarted, 0),
        ]
    );
    let _ = ws.close(None).await;
    desktop.shutdown().await;
}

#[tokio::test]
async fn an_utterance_open_when_a_raw_peer_disconnects_is_reported_cut_before_the_disconnect() {
    let (desktop, mut events) = desktop(DesktopSecurity::AllowPlain).await;
    let mut ws = raw_plain_pair(&desktop).await;
    send_raw(&mut ws, ClientFrame::AudioStreamStart { sample_rate: RATE }).await;
    send_raw(&mut ws, raw_chunk(&[0.5; 8])).await;
    let mut heard = Heard::default();
    heard.until(&mut events, |h| h.delivered() == 8).await;
    drop(ws);
    let mut cut_seen = false;
    loop {
        let event = tokio::time::timeout(WAIT, events.recv())
            .await
            .expect("the desktop reports the drop")
            .expect("events");
        match event {
            DesktopEvent::Disconnected { .. } => break,
            event @ DesktopEvent::AudioCut { .. } => {
                heard.take(event);
                cut_seen = true;
            }
            event => heard.take(event),
        }
    }
    assert!(cut_seen, "the cut comes before the Disconnected event");
    assert!(matches!(
        heard.cut.as_slice(),
        [(
            AudioCutReason::ConnectionEnded(DisconnectReason::PeerClosed | DisconnectReason::Io(_)),
            8
        )]
    ));
    desktop.shutdown().await;
}

/// The scenario exactly as the new user ran it: the phone goes on at once after the cut, so its
/// end may be written to the dead socket. Secure mode still settles both ends alike: the resume
/// report says whether the desktop processed the end. (Plain proto 2 cannot: an end flushed into
/// a connection that was already cut reads `Written` on the phone; the module docs say so.)
#[tokio::test]
async fn secure_an_utterance_cut_unnoticed_is_whole_or_cut_on_both_ends() {
    for _run in 0..RUNS {
        for cut_at in [0, TOTAL / 2, TOTAL] {
            let security = PhoneSecurity::RequireSecure;
            let (outcome, heard) = utterance_across_a_cut(security, cut_at, false).await;
            assert_whole_or_cut_on_both_ends(security, cut_at, outcome, &heard);
        }
    }
}
