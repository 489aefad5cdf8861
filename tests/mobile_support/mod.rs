//! Shared parts of the mobile transport tests: a desktop on 127.0.0.1, a paired phone, event
//! waiting, and a raw TCP relay that can inject bytes or cut the connection.
#![allow(dead_code)]

use std::time::Duration;

use ed25519_dalek::SigningKey;
use rand_core::OsRng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use wavekat_platform_client::mobile::transport::{
    connect, DesktopConfig, DesktopEvent, DesktopEvents, DesktopSecurity, DeviceIdentity,
    MobileDesktop, PhoneConfig, PhoneEvent, PhoneEvents, PhoneHandle, PhoneSecurity, PhoneStart,
};
use wavekat_platform_client::mobile::{PairingOffer, PairingWindowConfig, MOBILE_WS_PATH};

pub const AGENT: &str = "mur";
pub const WAIT: Duration = Duration::from_secs(10);

pub async fn desktop(security: DesktopSecurity) -> (MobileDesktop, DesktopEvents) {
    desktop_with(|c| c.security = security).await
}

pub async fn desktop_with(tune: impl FnOnce(&mut DesktopConfig)) -> (MobileDesktop, DesktopEvents) {
    let identity = SigningKey::generate(&mut OsRng);
    let mut config = DesktopConfig::new(AGENT, &identity.verifying_key());
    tune(&mut config);
    MobileDesktop::bind("127.0.0.1:0", config)
        .await
        .expect("desktop binds on 127.0.0.1")
}

pub fn phone_config(url: String, security: PhoneSecurity) -> PhoneConfig {
    let mut config = PhoneConfig::new(url, AGENT);
    config.security = security;
    config.connect_timeout = Duration::from_secs(5);
    config.backoff.initial = Duration::from_millis(20);
    config.backoff.max = Duration::from_millis(200);
    config
}

pub fn ws_url(addr: std::net::SocketAddr) -> String {
    format!("ws://{addr}{MOBILE_WS_PATH}")
}

/// Pairs a new phone with `desktop` through `url` (the desktop's or a proxy's).
pub async fn pair(
    desktop: &MobileDesktop,
    url: String,
    security: PhoneSecurity,
) -> (PhoneHandle, PhoneEvents, DeviceIdentity) {
    let mut qr = desktop.open_pairing_window(PairingWindowConfig::default());
    if security == PhoneSecurity::PlainOnly {
        qr.noise_key = None;
    }
    let start = PhoneStart::Pair {
        qr,
        device_key: SigningKey::generate(&mut OsRng),
    };
    connect(phone_config(url, security), start)
        .await
        .expect("the phone pairs")
}

/// An event stream of either end, for [`expect_event`].
pub trait EventStream {
    /// The stream's events.
    type Event;
    /// Whose events, for a failure message.
    const END: &'static str;
    /// The next event; `None` once the stream ended.
    fn next_event(&mut self) -> impl std::future::Future<Output = Option<Self::Event>>;
}

impl EventStream for DesktopEvents {
    type Event = DesktopEvent;
    const END: &'static str = "desktop";
    fn next_event(&mut self) -> impl std::future::Future<Output = Option<DesktopEvent>> {
        self.recv()
    }
}

impl EventStream for PhoneEvents {
    type Event = PhoneEvent;
    const END: &'static str = "phone";
    fn next_event(&mut self) -> impl std::future::Future<Output = Option<PhoneEvent>> {
        self.recv()
    }
}

/// The next event matching `want`, skipping others; panics after [`WAIT`].
pub async fn expect_event<S: EventStream, T>(
    events: &mut S,
    mut want: impl FnMut(S::Event) -> Option<T>,
) -> T {
    let found = tokio::time::timeout(WAIT, async {
        while let Some(event) = events.next_event().await {
            if let Some(found) = want(event) {
                return Some(found);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(found)) => found,
        Ok(None) => panic!("the {}'s event stream ended", S::END),
        Err(_) => panic!("no matching {} event within {WAIT:?}", S::END),
    }
}

/// Every event that arrives within `quiet` of the previous one.
pub async fn drain(events: &mut DesktopEvents, quiet: Duration) -> Vec<DesktopEvent> {
    let mut out = Vec::new();
    while let Ok(Some(event)) = tokio::time::timeout(quiet, events.recv()).await {
        out.push(event);
    }
    out
}

/// A masked WebSocket client frame (`opcode` 1 text, 2 binary), as a LAN attacker would write it
/// into the phone's TCP stream.
pub fn client_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    out
}

/// An unmasked WebSocket server frame (`opcode` 1 text, 8 close), as a LAN attacker would write
/// it into the desktop's TCP stream toward the phone (payloads under 126 bytes).
pub fn server_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x80 | opcode, payload.len() as u8];
    out.extend_from_slice(payload);
    out
}

/// The payloads of the WebSocket frames in `bytes`, masked (what a phone sent after its upgrade
/// request) or not (what the desktop sent after its upgrade response), in order.
pub fn frame_payloads(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while bytes.len() >= 2 {
        let opcode = bytes[0] & 0x0f;
        let masked = bytes[1] & 0x80 != 0;
        let (len, mut at) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (u16::from_be_bytes([bytes[2], bytes[3]]) as usize, 4),
            127 if bytes.len() >= 10 => (
                u64::from_be_bytes(bytes[2..10].try_into().expect("8")) as usize,
                10,
            ),
            126 | 127 => break,
            n => (n as usize, 2),
        };
        let mut mask = [0u8; 4];
        if masked {
            let Some(key) = bytes.get(at..at + 4) else {
                break;
            };
            mask.copy_from_slice(key);
            at += 4;
        }
        if bytes.len() < at + len {
            break;
        }
        let payload = bytes[at..at + len]
            .iter()
            .enumerate()
            .map(|(i, b)| b ^ mask[i % 4]);
        out.push((opcode, payload.collect()));
        bytes = &bytes[at + len..];
    }
    out
}

/// A byte relay between phones and the desktop on 127.0.0.1. `inject` writes bytes into the
/// phone→desktop direction of the live connection; `cut` closes every live connection; while
/// `stall` is set the relay stops reading what phones send (a desktop that stopped reading).
/// `inject_down` writes into the desktop→phone direction; `recorded` holds every byte phones sent
/// and `recorded_down` every byte the desktop sent them. While `lose` is set, what phones send is
/// read and never forwarded (lost in the network), each read handed to `lost` as it happens;
/// while `hold_new` is `true`, a new connection is accepted but nothing of it reaches the desktop
/// (what the phone sent waits in the relay) until the test sets it back to `false`.
pub struct Relay {
    pub addr: std::net::SocketAddr,
    pub inject: mpsc::UnboundedSender<Vec<u8>>,
    pub inject_down: mpsc::UnboundedSender<Vec<u8>>,
    pub recorded: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    pub recorded_down: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    pub cut: tokio::sync::broadcast::Sender<()>,
    pub stall: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub lose: std::sync::Arc<std::sync::atomic::AtomicBool>,
    pub lost: mpsc::UnboundedReceiver<Vec<u8>>,
    pub hold_new: tokio::sync::watch::Sender<bool>,
}

pub async fn relay(upstream: std::net::SocketAddr) -> Relay {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("relay binds");
    let addr = listener.local_addr().expect("relay address");
    let (inject, mut inject_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let (inject_down, mut inject_down_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    let recorded = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&recorded);
    let recorded_down = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record_down = std::sync::Arc::clone(&recorded_down);
    let (cut, _) = tokio::sync::broadcast::channel(4);
    let cut_tx = cut.clone();
    let stall = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stalled = std::sync::Arc::clone(&stall);
    let lose = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let losing = std::sync::Arc::clone(&lose);
    let (lost_tx, lost) = mpsc::unbounded_channel::<Vec<u8>>();
    let (hold_new, held) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let (inject_tx, _) = tokio::sync::broadcast::channel::<Vec<u8>>(16);
        let forwarder = inject_tx.clone();
        tokio::spawn(async move {
            while let Some(bytes) = inject_rx.recv().await {
                let _ = forwarder.send(bytes);
            }
        });
        let (down_tx, _) = tokio::sync::broadcast::channel::<Vec<u8>>(16);
        let down_forwarder = down_tx.clone();
        tokio::spawn(async move {
            while let Some(bytes) = inject_down_rx.recv().await {
                let _ = down_forwarder.send(bytes);
            }
        });
        while let Ok((phone, _)) = listener.accept().await {
            let mut cut_rx = cut_tx.subscribe();
            let mut inject_rx = inject_tx.subscribe();
            let mut down_rx = down_tx.subscribe();
            let record = std::sync::Arc::clone(&record);
            let record_down = std::sync::Arc::clone(&record_down);
            let stalled = std::sync::Arc::clone(&stalled);
            let losing = std::sync::Arc::clone(&losing);
            let lost_tx = lost_tx.clone();
            let mut held = held.clone();
            tokio::spawn(async move {
                // Held: the phone's bytes wait in its socket, unread, until the test lets go.
                let _ = held.wait_for(|held| !*held).await;
                let Ok(desktop) = TcpStream::connect(upstream).await else {
                    return;
                };
                let (mut pr, mut pw) = phone.into_split();
                let (mut dr, mut dw) = desktop.into_split();
                let up = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        while stalled.load(std::sync::atomic::Ordering::SeqCst) {
                            tokio::time::sleep(Duration::from_millis(5)).await;
                        }
                        tokio::select! {
                            n = pr.read(&mut buf) => {
                                let n = match n { Ok(0) | Err(_) => break, Ok(n) => n };
                                record.lock().expect("record").extend_from_slice(&buf[..n]);
                                if losing.load(std::sync::atomic::Ordering::SeqCst) {
                                    let _ = lost_tx.send(buf[..n].to_vec());
                                    continue;
                                }
                                if dw.write_all(&buf[..n]).await.is_err() { break; }
                            }
                            Ok(bytes) = inject_rx.recv() => {
                                if dw.write_all(&bytes).await.is_err() { break; }
                            }
                        }
                    }
                };
                let down = async {
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        tokio::select! {
                            n = dr.read(&mut buf) => {
                                let n = match n { Ok(0) | Err(_) => break, Ok(n) => n };
                                record_down.lock().expect("record").extend_from_slice(&buf[..n]);
                                if pw.write_all(&buf[..n]).await.is_err() { break; }
                            }
                            Ok(bytes) = down_rx.recv() => {
                                if pw.write_all(&bytes).await.is_err() { break; }
                            }
                        }
                    }
                };
                tokio::select! {
                    _ = up => {}
                    _ = down => {}
                    _ = cut_rx.recv() => {}
                }
            });
        }
    });
    Relay {
        addr,
        inject,
        inject_down,
        recorded,
        recorded_down,
        cut,
        stall,
        lose,
        lost,
        hold_new,
    }
}

/// A raw WebSocket to the desktop, as a deployed-style proto-2 phone uses.
pub type RawWs = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<TcpStream>>;

/// Runs a deployed-style proto-2 enrollment on `ws` in plain text frames, with a new device key;
/// returns the agent the desktop's `paired` names.
pub async fn raw_plain_enroll(ws: &mut RawWs, offer: PairingOffer) -> String {
    use futures_util::{SinkExt as _, StreamExt as _};
    use tokio_tungstenite::tungstenite::Message;
    use wavekat_platform_client::mobile::{decode_server_frame, PhoneSession, PhoneStep};

    let (mut session, hello) = PhoneSession::enroll(offer, AGENT, SigningKey::generate(&mut OsRng));
    ws.send(Message::text(hello.encode().expect("encodes")))
        .await
        .expect("sent");
    loop {
        let Some(Ok(Message::Text(text))) = ws.next().await else {
            panic!("the desktop answers in text frames");
        };
        let frame = decode_server_frame(text.as_bytes()).expect("a proto-2 frame");
        match session.handle(frame).expect("handshake step") {
            PhoneStep::Send(next) => ws
                .send(Message::text(next.encode().expect("encodes")))
                .await
                .expect("sent"),
            PhoneStep::Paired { agent } => return agent,
            other => panic!("unexpected step {other:?}"),
        }
    }
}

/// A deployed-style proto-2 phone over a raw WebSocket: pairs in plain text frames and returns
/// the socket.
pub async fn raw_plain_pair(desktop: &MobileDesktop) -> RawWs {
    let qr = desktop.open_pairing_window(PairingWindowConfig::default());
    let (mut ws, _) = tokio_tungstenite::connect_async(desktop.url())
        .await
        .expect("upgrade");
    raw_plain_enroll(&mut ws, qr.offer).await;
    ws
}

/// A genuine phone pairs and streams a short utterance.
pub async fn genuine_phone_streams(desktop: &MobileDesktop, events: &mut DesktopEvents) {
    let (phone, _phone_events, _) = pair(desktop, desktop.url(), PhoneSecurity::PreferSecure).await;
    phone.send_audio_start(16_000).await.expect("queued");
    phone.send_audio(&[0.25; 320]).await.expect("queued");
    let _receipt = phone.send_audio_end().await.expect("queued");
    let samples = expect_event(events, |e| match e {
        DesktopEvent::AudioChunk { samples, .. } => Some(samples),
        _ => None,
    })
    .await;
    assert_eq!(samples, vec![0.25; 320]);
    phone.close();
}

/// A TCP connection to `addr` from the loopback address `source` (`127.0.0.2`, `127.0.0.3`, …
/// stand for distinct hosts on Linux without set-up).
pub async fn tcp_from(source: std::net::Ipv4Addr, addr: std::net::SocketAddr) -> TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
    socket
        .bind(std::net::SocketAddr::from((source, 0)))
        .expect("binds the loopback source address");
    socket.connect(addr).await.expect("connects")
}

/// A WebSocket upgrade to `desktop` from the loopback address `source`.
pub async fn ws_from(
    source: std::net::Ipv4Addr,
    desktop: &MobileDesktop,
) -> Result<tokio_tungstenite::WebSocketStream<TcpStream>, tokio_tungstenite::tungstenite::Error> {
    let stream = tcp_from(source, desktop.local_addr()).await;
    tokio_tungstenite::client_async(desktop.url(), stream)
        .await
        .map(|(ws, _)| ws)
}
