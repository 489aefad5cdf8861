//! Figures of the phone ↔ desktop transport for BENCHMARKS.md ("Mobile transport"), all on
//! 127.0.0.1:
//!
//! 1. Audio streaming phone → desktop: 10 s of 16 kHz mono f32 in 100 ms chunks, through the
//!    transport (plain and secure) against a bare tokio-tungstenite loop moving the same frames
//!    (same encode on the sender, same decode to samples on the receiver; the transport's daemon
//!    takes its events in a task of its own as they arrive), and for secure mode
//!    also against that bare loop sealing each frame with the same AEAD. Runs interleave.
//! 2. Reconnect + resume after a dropped connection: time from the cut to the phone's `Resumed`.
//! 3. Desktop resident memory with 1,000 paired idle phones (the phones run in a child process,
//!    so the figure is the desktop's alone).
//!
//! Run: `cargo run --release -p wavekat-platform-interop --example mobile_transport_figures`

use std::process::Stdio;
use std::time::{Duration, Instant};

use ed25519_dalek::SigningKey;
use futures_util::{SinkExt as _, StreamExt as _};
use rand_core::OsRng;
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use wavekat_platform_client::mobile::transport::{
    connect, DesktopConfig, DesktopEvent, DesktopEvents, MobileDesktop, PairingQr, PhoneConfig,
    PhoneEvent, PhoneEvents, PhoneHandle, PhoneSecurity, PhoneStart,
};
use wavekat_platform_client::mobile::{
    decode_client_frame, ClientFrame, PairingWindowConfig, MOBILE_WS_PATH,
};

const RATE: u32 = 16_000;
const CHUNK: usize = 1600;
/// 100 ms chunks per utterance: 10 s (override the seconds with `FIGURES_SECONDS`).
const CHUNKS: usize = 100;

fn chunks() -> usize {
    std::env::var("FIGURES_SECONDS")
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .map_or(CHUNKS, |seconds| seconds * 10)
}
/// Interleaved streaming rounds (override with `FIGURES_ROUNDS`).
const ROUNDS: usize = 7;

fn rounds() -> usize {
    std::env::var("FIGURES_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(ROUNDS)
}

/// Run only this kind (`FIGURES_ONLY`), or every kind if empty.
fn only() -> String {
    std::env::var("FIGURES_ONLY").unwrap_or_default()
}

/// The streaming figure's kinds, in the order a round starts from (rotated each round).
const KINDS: [&str; 5] = ["bare", "handoff", "sealed", "plain", "secure"];
const DROPS: usize = 101;
const IDLE_PHONES: usize = 1000;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn utterance() -> Vec<Vec<f32>> {
    (0..chunks())
        .map(|c| {
            (0..CHUNK)
                .map(|i| ((c * CHUNK + i) as f32 * 0.01).sin() * 0.3)
                .collect()
        })
        .collect()
}

// The bare loop's conversions, written as efficiently as the transport's own.
fn pcm(samples: &[f32]) -> Vec<u8> {
    let mut out = vec![0u8; samples.len() * 4];
    for (bytes, sample) in out.as_chunks_mut::<4>().0.iter_mut().zip(samples) {
        *bytes = sample.to_le_bytes();
    }
    out
}

fn samples(pcm: &[u8]) -> Vec<f32> {
    pcm.as_chunks::<4>()
        .0
        .iter()
        .map(|b| f32::from_le_bytes(*b))
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

async fn desktop() -> Result<(MobileDesktop, DesktopEvents)> {
    let identity = SigningKey::generate(&mut OsRng);
    Ok(MobileDesktop::bind(
        "127.0.0.1:0",
        DesktopConfig::new("mur", &identity.verifying_key()),
    )
    .await?)
}

async fn pair(
    desktop: &MobileDesktop,
    url: String,
    security: PhoneSecurity,
) -> Result<(PhoneHandle, PhoneEvents)> {
    let mut qr = desktop.open_pairing_window(PairingWindowConfig::default());
    if security == PhoneSecurity::PlainOnly {
        qr.noise_key = None;
    }
    let mut config = PhoneConfig::new(url, "mur");
    config.security = security;
    let (phone, events, _) = connect(
        config,
        PhoneStart::Pair {
            qr,
            device_key: SigningKey::generate(&mut OsRng),
        },
    )
    .await?;
    Ok((phone, events))
}

/// The daemon: a task that takes the desktop's events as they come (as a daemon's event loop
/// does, concurrently with the network) and reports each utterance's sample count at its end,
/// as the bare loop's server task does.
fn daemon(mut events: DesktopEvents) -> tokio::sync::mpsc::Receiver<usize> {
    let (done, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        let mut received = 0usize;
        while let Some(event) = events.recv().await {
            match event {
                DesktopEvent::AudioChunk { samples, .. } => received += samples.len(),
                DesktopEvent::AudioEnd { .. } => {
                    let _ = done.send(received).await;
                    received = 0;
                }
                _ => {}
            }
        }
    });
    rx
}

/// One utterance through the transport; returns when the daemon has every sample.
async fn stream_transport(
    phone: &PhoneHandle,
    done: &mut tokio::sync::mpsc::Receiver<usize>,
    audio: &[Vec<f32>],
) -> Result<Duration> {
    let start = Instant::now();
    phone.send_audio_start(RATE).await?;
    for chunk in audio {
        phone.send_audio(chunk).await?;
    }
    // Timed to the daemon's last sample, as the bare loop is; the receipt is not awaited.
    let _receipt = phone.send_audio_end().await?;
    let received = done.recv().await.ok_or("daemon gone")?;
    assert_eq!(received, CHUNK * chunks());
    Ok(start.elapsed())
}

/// Per-frame AES-256-GCM for the sealed bare loop: exactly a Noise `AESGCM` transport message as
/// secure mode seals it (ring's AES-256-GCM, nonce `0⁴ ‖ counter` big-endian, empty associated
/// data), and nothing else (no handshake, no record header, no acks).
struct BareSeal {
    key: LessSafeKey,
    counter: u64,
}

impl BareSeal {
    fn new() -> Result<Self> {
        let key = UnboundKey::new(&AES_256_GCM, &[0x5a; 32]).map_err(|_| "AES-256 key")?;
        Ok(BareSeal {
            key: LessSafeKey::new(key),
            counter: 0,
        })
    }

    fn nonce(&mut self) -> Nonce {
        let mut bytes = [0u8; 12];
        bytes[4..].copy_from_slice(&self.counter.to_be_bytes());
        self.counter += 1;
        Nonce::assume_unique_for_key(bytes)
    }

    fn seal(&mut self, text: &str) -> Result<Vec<u8>> {
        let mut record = text.as_bytes().to_vec();
        let nonce = self.nonce();
        self.key
            .seal_in_place_append_tag(nonce, Aad::empty(), &mut record)
            .map_err(|_| "seal")?;
        Ok(record)
    }

    fn open(&mut self, record: &[u8]) -> Option<Vec<u8>> {
        let mut payload = record.to_vec();
        let nonce = self.nonce();
        let len = self
            .key
            .open_in_place(nonce, Aad::empty(), &mut payload)
            .ok()?
            .len();
        payload.truncate(len);
        Some(payload)
    }
}

/// The bare loop: a tokio-tungstenite server that decodes each text frame (or, sealed, each
/// binary message opened with [`BareSeal`]) to samples.
///
/// With `handoff`, the socket task hands each chunk's samples to a daemon task through a channel
/// (the shape of the transport, whose daemon reads an event stream) instead of counting them
/// itself.
async fn bare_server(handoff: bool) -> Result<(String, tokio::sync::mpsc::Receiver<usize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}{}", listener.local_addr()?, MOBILE_WS_PATH);
    let (done, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let done = done.clone();
            let daemon = handoff.then(|| {
                let (chunks, mut heard) = tokio::sync::mpsc::channel::<Option<Vec<f32>>>(1024);
                let done = done.clone();
                tokio::spawn(async move {
                    let mut received = 0usize;
                    while let Some(chunk) = heard.recv().await {
                        match chunk {
                            Some(samples) => received += samples.len(),
                            None => {
                                let _ = done.send(received).await;
                                received = 0;
                            }
                        }
                    }
                });
                chunks
            });
            tokio::spawn(async move {
                let Ok(mut ws) = tokio_tungstenite::accept_async(stream).await else {
                    return;
                };
                let mut received = 0usize;
                let Ok(mut seal) = BareSeal::new() else {
                    return;
                };
                while let Some(Ok(message)) = ws.next().await {
                    let opened;
                    let bytes = match &message {
                        Message::Text(text) => text.as_bytes(),
                        Message::Binary(record) => match seal.open(record) {
                            Some(payload) => {
                                opened = payload;
                                &opened[..]
                            }
                            None => return,
                        },
                        _ => continue,
                    };
                    match decode_client_frame(bytes) {
                        Ok(frame @ ClientFrame::AudioChunk { .. }) => {
                            if let Some(Ok(bytes)) = frame.audio_pcm() {
                                let samples = samples(&bytes);
                                match &daemon {
                                    Some(daemon) => {
                                        let _ = daemon.send(Some(samples)).await;
                                    }
                                    None => received += samples.len(),
                                }
                            }
                        }
                        Ok(ClientFrame::AudioStreamEnd) => match &daemon {
                            Some(daemon) => {
                                let _ = daemon.send(None).await;
                            }
                            None => {
                                let _ = done.send(received).await;
                                received = 0;
                            }
                        },
                        _ => {}
                    }
                }
            });
        }
    });
    Ok((url, rx))
}

async fn stream_bare(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>,
    done: &mut tokio::sync::mpsc::Receiver<usize>,
    audio: &[Vec<f32>],
    mut seal: Option<&mut BareSeal>,
) -> Result<Duration> {
    let start = Instant::now();
    let mut send = |frame: ClientFrame| -> Result<Message> {
        let text = frame.encode()?;
        Ok(match seal.as_deref_mut() {
            Some(seal) => Message::binary(seal.seal(&text)?),
            None => Message::text(text),
        })
    };
    ws.send(send(ClientFrame::AudioStreamStart { sample_rate: RATE })?)
        .await?;
    for chunk in audio {
        ws.send(send(ClientFrame::audio_chunk_from_pcm(&pcm(chunk))?)?)
            .await?;
    }
    ws.send(send(ClientFrame::AudioStreamEnd)?).await?;
    let received = done.recv().await.ok_or("bare server gone")?;
    assert_eq!(received, CHUNK * chunks());
    Ok(start.elapsed())
}

async fn streaming() -> Result<()> {
    let audio = utterance();
    let (desk, events) = desktop().await?;
    let (plain, _pe) = pair(&desk, desk.url(), PhoneSecurity::PlainOnly).await?;
    let (secure, _se) = pair(&desk, desk.url(), PhoneSecurity::RequireSecure).await?;
    let mut heard = daemon(events);
    let (bare_url, mut done) = bare_server(false).await?;
    let (handoff_url, mut handoff_done) = bare_server(true).await?;
    let (mut handoff, _) =
        tokio_tungstenite::connect_async_with_config(handoff_url, None, true).await?;
    let (mut bare, _) =
        tokio_tungstenite::connect_async_with_config(bare_url.clone(), None, true).await?;
    let (mut sealed, _) =
        tokio_tungstenite::connect_async_with_config(bare_url, None, true).await?;
    let mut seal = BareSeal::new()?;
    // Warm up each, then interleave.
    stream_bare(&mut bare, &mut done, &audio, None).await?;
    stream_bare(&mut handoff, &mut handoff_done, &audio, None).await?;
    stream_bare(&mut sealed, &mut done, &audio, Some(&mut seal)).await?;
    stream_transport(&plain, &mut heard, &audio).await?;
    stream_transport(&secure, &mut heard, &audio).await?;
    let (mut b, mut bh, mut bs, mut p, mut s) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let rounds = rounds();
    let only = only();
    for round in 0..rounds {
        // Each round starts at the next kind, so no kind always runs after the same other one.
        for step in 0..KINDS.len() {
            let kind = KINDS[(round + step) % KINDS.len()];
            if !only.is_empty() && only != kind {
                continue;
            }
            match kind {
                "bare" => b.push(stream_bare(&mut bare, &mut done, &audio, None).await?),
                "handoff" => {
                    bh.push(stream_bare(&mut handoff, &mut handoff_done, &audio, None).await?)
                }
                "sealed" => {
                    bs.push(stream_bare(&mut sealed, &mut done, &audio, Some(&mut seal)).await?)
                }
                "plain" => p.push(stream_transport(&plain, &mut heard, &audio).await?),
                _ => s.push(stream_transport(&secure, &mut heard, &audio).await?),
            }
        }
    }
    let (b, bh, bs, p, s) = (median(b), median(bh), median(bs), median(p), median(s));
    let mib = (CHUNK * chunks() * 4) as f64 / (1024.0 * 1024.0);
    println!(
        "## streaming: {} s of 16 kHz f32 in 100 ms chunks, median of {rounds} interleaved runs (order rotated each round)",
        chunks() / 10
    );
    println!(
        "bare tokio-tungstenite loop: {b:?} ({:.0} MiB/s of PCM)",
        mib / b.as_secs_f64()
    );
    println!(
        "transport, plain:  {p:?} ({:.0} MiB/s)  ratio bare/transport = {:.2}x",
        mib / p.as_secs_f64(),
        b.as_secs_f64() / p.as_secs_f64()
    );
    println!(
        "bare loop handing samples to a daemon task: {bh:?} ({:.0} MiB/s of PCM)  ratio handoff/transport = {:.2}x",
        mib / bh.as_secs_f64(),
        bh.as_secs_f64() / p.as_secs_f64()
    );
    println!(
        "bare loop sealing each frame (AES-256-GCM): {bs:?} ({:.0} MiB/s of PCM)",
        mib / bs.as_secs_f64()
    );
    println!(
        "transport, secure: {s:?} ({:.0} MiB/s)  ratio bare/transport = {:.2}x  ratio sealed bare/transport = {:.2}x",
        mib / s.as_secs_f64(),
        b.as_secs_f64() / s.as_secs_f64(),
        bs.as_secs_f64() / s.as_secs_f64()
    );
    desk.shutdown().await;
    Ok(())
}

/// A relay whose live connections can be cut.
async fn relay(
    upstream: std::net::SocketAddr,
) -> Result<(String, tokio::sync::broadcast::Sender<()>)> {
    let hop = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}{}", hop.local_addr()?, MOBILE_WS_PATH);
    let (cut, _) = tokio::sync::broadcast::channel::<()>(4);
    let cut_tx = cut.clone();
    tokio::spawn(async move {
        while let Ok((phone, _)) = hop.accept().await {
            let _ = phone.set_nodelay(true);
            let Ok(desk) = TcpStream::connect(upstream).await else {
                continue;
            };
            let _ = desk.set_nodelay(true);
            let mut cut_rx = cut_tx.subscribe();
            tokio::spawn(async move {
                let (mut pr, mut pw) = phone.into_split();
                let (mut dr, mut dw) = desk.into_split();
                let up = async {
                    let mut b = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = pr.read(&mut b).await {
                        if dw.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async {
                    let mut b = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = dr.read(&mut b).await {
                        if pw.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                tokio::select! { _ = up => {}, _ = down => {}, _ = cut_rx.recv() => {} }
            });
        }
    });
    Ok((url, cut))
}

async fn reconnects(security: PhoneSecurity) -> Result<()> {
    let (desk, mut events) = desktop().await?;
    tokio::spawn(async move { while events.recv().await.is_some() {} });
    let (url, cut) = relay(desk.local_addr()).await?;
    let (_phone, mut phone_events) = pair(&desk, url, security).await?;
    let mut times = Vec::with_capacity(DROPS);
    for _ in 0..DROPS {
        let start = Instant::now();
        let _ = cut.send(());
        loop {
            match phone_events.recv().await {
                Some(PhoneEvent::Resumed { .. }) => break,
                Some(PhoneEvent::Closed { error }) => return Err(error.into()),
                Some(_) => {}
                None => return Err("phone events ended".into()),
            }
        }
        times.push(start.elapsed());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let mut sorted = times.clone();
    sorted.sort();
    println!(
        "## reconnect + resume ({security:?}), {DROPS} drops: median {:?}, p90 {:?}, max {:?} (default backoff: first retry after 10 ms + up to 25 % jitter)",
        median(times),
        sorted[DROPS * 9 / 10],
        sorted[DROPS - 1]
    );
    desk.shutdown().await;
    Ok(())
}

async fn idle_memory() -> Result<()> {
    let (desk, mut events) = desktop().await?;
    let baseline = rss_kib();
    let mut uris = String::new();
    for _ in 0..IDLE_PHONES {
        uris.push_str(
            &desk
                .open_pairing_window(PairingWindowConfig::default())
                .to_uri(),
        );
        uris.push('\n');
    }
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .arg("--idle-phones")
        .arg(desk.url())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut stdin = child.stdin.take().ok_or("child stdin")?;
    stdin.write_all(uris.as_bytes()).await?;
    drop(stdin);
    let mut lines = BufReader::new(child.stdout.take().ok_or("child stdout")?).lines();
    let mut paired = 0usize;
    while paired < IDLE_PHONES {
        match events.recv().await {
            Some(DesktopEvent::Paired { .. }) => paired += 1,
            Some(_) => {}
            None => return Err("desktop events ended".into()),
        }
    }
    let _ = lines.next_line().await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let loaded = rss_kib();
    println!(
        "## {IDLE_PHONES} paired idle phones (secure): desktop RSS {:.1} MiB (baseline {:.1} MiB, +{:.1} KiB per phone), {} live connections",
        loaded as f64 / 1024.0,
        baseline as f64 / 1024.0,
        (loaded.saturating_sub(baseline)) as f64 / IDLE_PHONES as f64,
        desk.connection_count()
    );
    let _ = child.kill().await;
    desk.shutdown().await;
    Ok(())
}

/// Child mode: pair every QR URI from stdin, say so on stdout, then idle until killed.
async fn idle_phones(url: String) -> Result<()> {
    let mut input = String::new();
    tokio::io::stdin().read_to_string(&mut input).await?;
    let mut phones = Vec::new();
    let started = Instant::now();
    for line in input.lines().filter(|l| !l.is_empty()) {
        let qr = PairingQr::parse(line)?;
        let (phone, events, _) = connect(
            PhoneConfig::new(url.clone(), "mur"),
            PhoneStart::Pair {
                qr,
                device_key: SigningKey::generate(&mut OsRng),
            },
        )
        .await?;
        phones.push((phone, events));
        if phones.len() % 100 == 0 {
            eprintln!("child: {} paired at {:?}", phones.len(), started.elapsed());
        }
    }
    println!("paired {}", phones.len());
    futures_util::future::pending::<()>().await;
    Ok(())
}

type RawWs = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// A deployed-style proto-2 phone on a raw WebSocket, paired in plain text frames.
async fn raw_plain_phone(desktop: &MobileDesktop) -> Result<RawWs> {
    use wavekat_platform_client::mobile::{decode_server_frame, PhoneSession, PhoneStep};
    let qr = desktop.open_pairing_window(PairingWindowConfig::default());
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(desktop.url(), None, true).await?;
    let (mut session, hello) =
        PhoneSession::enroll(qr.offer, "mur", SigningKey::generate(&mut OsRng));
    ws.send(Message::text(hello.encode()?)).await?;
    loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            return Err("the desktop answers in text frames".into());
        };
        match session.handle(decode_server_frame(text.as_bytes())?)? {
            PhoneStep::Send(next) => ws.send(Message::text(next.encode()?)).await?,
            PhoneStep::Paired { .. } => return Ok(ws),
            _ => return Err("unexpected handshake step".into()),
        }
    }
}

/// Sends pre-encoded frames one message each (flushed), then waits for the receiver's count.
async fn blast(
    ws: &mut RawWs,
    frames: &[String],
    done: &mut tokio::sync::mpsc::Receiver<usize>,
) -> Result<Duration> {
    let start = Instant::now();
    for frame in frames {
        ws.send(Message::text(frame.clone())).await?;
    }
    let received = done.recv().await.ok_or("receiver gone")?;
    assert_eq!(received, CHUNK * chunks());
    Ok(start.elapsed())
}

/// The receiving side alone: the same raw sender writes the same pre-encoded frames to the
/// desktop endpoint (plain, its daemon task counting samples) and to the bare server.
async fn receiving() -> Result<()> {
    let mut frames = vec![ClientFrame::AudioStreamStart { sample_rate: RATE }.encode()?];
    for chunk in utterance() {
        frames.push(ClientFrame::audio_chunk_from_pcm(&pcm(&chunk))?.encode()?);
    }
    frames.push(ClientFrame::AudioStreamEnd.encode()?);
    let (desk, events) = desktop().await?;
    let mut raw = raw_plain_phone(&desk).await?;
    let mut heard = daemon(events);
    let (bare_url, mut done) = bare_server(false).await?;
    let (mut bare, _) = tokio_tungstenite::connect_async_with_config(bare_url, None, true).await?;
    blast(&mut raw, &frames, &mut heard).await?;
    blast(&mut bare, &frames, &mut done).await?;
    let rounds = rounds();
    let (mut d, mut b) = (Vec::new(), Vec::new());
    let only = only();
    for round in 0..rounds {
        // Alternate which side goes first.
        for step in 0..2 {
            let desktop_turn = (round + step) % 2 == 0;
            if desktop_turn && (only.is_empty() || only == "desktop") {
                d.push(blast(&mut raw, &frames, &mut heard).await?);
            }
            if !desktop_turn && (only.is_empty() || only == "bare") {
                b.push(blast(&mut bare, &frames, &mut done).await?);
            }
        }
    }
    let (d, b) = (median(d), median(b));
    println!(
        "## receiving: {} s of pre-encoded audio frames from one raw sender, median of {rounds}",
        chunks() / 10
    );
    println!("bare server: {b:?}");
    println!(
        "desktop endpoint: {d:?}  ratio bare/desktop = {:.2}x",
        b.as_secs_f64() / d.as_secs_f64()
    );
    desk.shutdown().await;
    Ok(())
}

/// The streaming figure with the two ends on separate CPUs, as on two devices: this process
/// (the phone side: the transport's phones and the bare clients) on CPU 0, a child process (the
/// desktop side: the endpoint with its daemon task and the bare servers) on CPU 1. On one shared
/// machine a receiver that keeps up sleeps between frames, and the kernel then wakes it on the
/// sender's CPU (a synchronous socket wake-up), so the two ends take turns on one CPU; pinning
/// each end to its own CPU takes that artefact out for both the transport and the bare loops.
/// Each utterance's end is reported by the desktop side over a pipe, for every kind alike.
async fn streaming_split() -> Result<()> {
    let mut child = tokio::process::Command::new("taskset")
        .args(["-c", "1"])
        .arg(std::env::current_exe()?)
        .arg("--split-desktop")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = BufReader::new(child.stdout.take().ok_or("child stdout")?).lines();
    let mut setup = std::collections::HashMap::new();
    while let Some(line) = lines.next_line().await? {
        if line == "ready" {
            break;
        }
        let (key, value) = line.split_once(' ').ok_or("setup line")?;
        setup.insert(key.to_owned(), value.to_owned());
    }
    let get = |key: &str| {
        setup
            .get(key)
            .cloned()
            .ok_or(format!("no {key} from the desktop side"))
    };
    let (counts, mut done) = tokio::sync::mpsc::channel::<usize>(16);
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(n) = line.strip_prefix("done ").and_then(|n| n.parse().ok()) {
                if counts.send(n).await.is_err() {
                    break;
                }
            }
        }
    });
    let pair_split = |qr: String, security: PhoneSecurity| {
        let url = get("desktop");
        async move {
            let mut config = PhoneConfig::new(url?, "mur");
            config.security = security;
            let start = PhoneStart::Pair {
                qr: PairingQr::parse(&qr)?,
                device_key: SigningKey::generate(&mut OsRng),
            };
            let (phone, events, _) = connect(config, start).await?;
            Ok::<_, Box<dyn std::error::Error>>((phone, events))
        }
    };
    let (plain, _pe) = pair_split(get("qr-plain")?, PhoneSecurity::PlainOnly).await?;
    let (secure, _se) = pair_split(get("qr-secure")?, PhoneSecurity::RequireSecure).await?;
    let (mut bare, _) =
        tokio_tungstenite::connect_async_with_config(get("bare")?, None, true).await?;
    let (mut sealed, _) =
        tokio_tungstenite::connect_async_with_config(get("bare")?, None, true).await?;
    let (mut handoff, _) =
        tokio_tungstenite::connect_async_with_config(get("handoff")?, None, true).await?;
    let mut seal = BareSeal::new()?;
    let audio = utterance();
    stream_bare(&mut bare, &mut done, &audio, None).await?;
    stream_bare(&mut handoff, &mut done, &audio, None).await?;
    stream_bare(&mut sealed, &mut done, &audio, Some(&mut seal)).await?;
    stream_transport(&plain, &mut done, &audio).await?;
    stream_transport(&secure, &mut done, &audio).await?;
    let rounds = rounds();
    let mut times: [Vec<Duration>; 5] = Default::default();
    for round in 0..rounds {
        for step in 0..KINDS.len() {
            let kind = (round + step) % KINDS.len();
            let took = match KINDS[kind] {
                "bare" => stream_bare(&mut bare, &mut done, &audio, None).await?,
                "handoff" => stream_bare(&mut handoff, &mut done, &audio, None).await?,
                "sealed" => stream_bare(&mut sealed, &mut done, &audio, Some(&mut seal)).await?,
                "plain" => stream_transport(&plain, &mut done, &audio).await?,
                _ => stream_transport(&secure, &mut done, &audio).await?,
            };
            times[kind].push(took);
        }
    }
    let [b, bh, bs, p, s] = times.map(median);
    let ratio = |peer: Duration, ours: Duration| peer.as_secs_f64() / ours.as_secs_f64();
    println!(
        "## streaming, ends on separate CPUs: {} s of 16 kHz f32 in 100 ms chunks, median of {rounds} rounds (order rotated each round)",
        chunks() / 10
    );
    println!("bare tokio-tungstenite loop: {b:?}");
    println!("bare loop handing samples to a daemon task: {bh:?}");
    println!("bare loop sealing each frame (AES-256-GCM): {bs:?}");
    println!(
        "transport, plain: {p:?}  ratio bare/transport = {:.2}x  ratio handoff/transport = {:.2}x",
        ratio(b, p),
        ratio(bh, p)
    );
    println!(
        "transport, secure: {s:?}  ratio bare/transport = {:.2}x  ratio sealed bare/transport = {:.2}x",
        ratio(b, s),
        ratio(bs, s)
    );
    drop(child.stdin.take());
    let _ = child.wait().await;
    Ok(())
}

/// Child mode of [`streaming_split`]: the desktop side. Prints its addresses and two pairing
/// QR codes, then `done N` for every utterance any of its servers completes, until stdin closes.
async fn split_desktop() -> Result<()> {
    let (desk, events) = desktop().await?;
    let mut plain_qr = desk.open_pairing_window(PairingWindowConfig::default());
    plain_qr.noise_key = None;
    let secure_qr = desk.open_pairing_window(PairingWindowConfig::default());
    let (bare_url, bare_done) = bare_server(false).await?;
    let (handoff_url, handoff_done) = bare_server(true).await?;
    let heard = daemon(events);
    let (counts, mut report) = tokio::sync::mpsc::channel::<usize>(16);
    for mut source in [heard, bare_done, handoff_done] {
        let counts = counts.clone();
        tokio::spawn(async move {
            while let Some(n) = source.recv().await {
                if counts.send(n).await.is_err() {
                    break;
                }
            }
        });
    }
    let mut out = tokio::io::stdout();
    let setup = format!(
        "desktop {}\nqr-plain {}\nqr-secure {}\nbare {bare_url}\nhandoff {handoff_url}\nready\n",
        desk.url(),
        plain_qr.to_uri(),
        secure_qr.to_uri()
    );
    out.write_all(setup.as_bytes()).await?;
    out.flush().await?;
    let mut stdin = tokio::io::stdin();
    let mut sink = [0u8; 64];
    loop {
        tokio::select! {
            n = report.recv() => {
                let Some(n) = n else { break };
                out.write_all(format!("done {n}\n").as_bytes()).await?;
                out.flush().await?;
            }
            read = stdin.read(&mut sink) => {
                if !matches!(read, Ok(1..)) {
                    break;
                }
            }
        }
    }
    desk.shutdown().await;
    Ok(())
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--streaming-split") {
        // The phone side runs on CPU 0 (before the runtime starts, so every thread inherits it);
        // the desktop side is started on CPU 1.
        let pinned = std::process::Command::new("taskset")
            .args(["-p", "-c", "0", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status()?;
        if !pinned.success() {
            return Err("taskset could not pin the phone side to CPU 0".into());
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    if args.get(1).map(String::as_str) == Some("--idle-phones") {
        let url = args.get(2).cloned().ok_or("url")?;
        return runtime.block_on(idle_phones(url));
    }
    let only = args.get(1).cloned().unwrap_or_default();
    if only == "--split-desktop" {
        return runtime.block_on(split_desktop());
    }
    runtime.block_on(async {
        match only.as_str() {
            "--streaming" => return streaming().await,
            "--reconnect" => {
                reconnects(PhoneSecurity::PlainOnly).await?;
                return reconnects(PhoneSecurity::RequireSecure).await;
            }
            "--idle" => return idle_memory().await,
            "--receiving" => return receiving().await,
            "--streaming-split" => return streaming_split().await,
            _ => {}
        }
        streaming().await?;
        reconnects(PhoneSecurity::PlainOnly).await?;
        reconnects(PhoneSecurity::RequireSecure).await?;
        idle_memory().await
    })
}
