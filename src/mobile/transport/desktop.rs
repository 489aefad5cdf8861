//! The desktop end: an async WebSocket server for [`MOBILE_WS_PATH`] that drives
//! [`DesktopEndpoint`] / [`DesktopSession`] for many phones at once.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ed25519_dalek::VerifyingKey;
use futures_util::{FutureExt as _, SinkExt as _, StreamExt as _};
use rand_core::{OsRng, RngCore as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::WebSocketStream;

use super::qr::PairingQr;
use super::read_ahead::ReadAhead;
use super::secure::{
    resume_report, Binding, LinkSecret, RecordKind, SecureError, SessionContext, SessionKeys, Side,
    CONNECTION_NONCE_LEN,
};
use super::{
    close_code, lock, nonce_hex, parse_nonce_hex, pcm_to_samples, ws_config, NONCE_HEADER,
    PREVIOUS_HEADER,
};
use crate::mobile::frames::audio_chunk_pcm_into;
use crate::mobile::{
    decode_client_frame, decode_client_frame_text, ClientFrame, DesktopEndpoint, DesktopRejection,
    DesktopSession, DesktopStep, FrameError, PairedDevice, PairingWindowConfig, ServerFrame,
    SignedEnvelope, TranscriptFields, MOBILE_WS_PATH,
};

/// How many past connections per device the desktop remembers for resume reports.
const RECENT_CONNECTIONS: usize = 8;

/// Most messages already buffered on a connection handled in one go.
const DRAIN_BATCH: usize = 32;

/// Whether the desktop accepts plain proto-2 phones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum DesktopSecurity {
    /// Offer secure mode; accept plain proto-2 phones too (deployed apps).
    #[default]
    AllowPlain,
    /// Refuse every phone that does not speak secure mode
    /// ([`DisconnectReason::SecureModeRequired`]).
    RequireSecure,
}

/// Configuration of a [`MobileDesktop`].
#[derive(Debug, Clone)]
pub struct DesktopConfig {
    /// The agent name served (`mur`).
    pub agent: String,
    /// The desktop identity key, sent as `did`.
    pub identity: VerifyingKey,
    /// Plain-mode policy.
    pub security: DesktopSecurity,
    /// Most simultaneous connections (paired or not); more are closed at once
    /// ([`DisconnectReason::TooManyConnections`]).
    pub max_connections: usize,
    /// Time a connection has from TCP accept to `paired`.
    pub handshake_timeout: Duration,
    /// Most frames a connection may send before it is paired (the handshake needs two).
    pub max_handshake_frames: u32,
    /// A paired connection from which nothing (not even a ping) arrives for this long is closed.
    pub idle_timeout: Duration,
    /// A write that cannot complete within this time closes the connection
    /// ([`DisconnectReason::SlowReader`]).
    pub write_timeout: Duration,
    /// Capacity of each connection's outgoing queue ([`ConnectionHandle::try_send`] fails when full).
    pub send_queue: usize,
    /// Capacity of the event queue; a full queue makes connections wait (backpressure).
    pub event_queue: usize,
}

impl DesktopConfig {
    /// Defaults for `agent` with identity key `identity`.
    pub fn new(agent: impl Into<String>, identity: &VerifyingKey) -> Self {
        DesktopConfig {
            agent: agent.into(),
            identity: *identity,
            security: DesktopSecurity::AllowPlain,
            max_connections: 4096,
            handshake_timeout: Duration::from_secs(10),
            max_handshake_frames: 8,
            idle_timeout: Duration::from_secs(60),
            write_timeout: Duration::from_secs(5),
            send_queue: 64,
            event_queue: 1024,
        }
    }
}

/// A connection's id, unique for the endpoint's lifetime.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisconnectReason {
    /// The phone closed the connection or the socket ended.
    PeerClosed,
    /// The handshake or a frame was rejected (a `rejected` frame was sent).
    Rejected(DesktopRejection),
    /// A frame did not decode (a `rejected` frame was sent).
    BadFrame(FrameError),
    /// A message exceeded the frame limit; it was not read into memory.
    FrameTooLarge,
    /// A binary message arrived on a plain connection, or text on a secure one.
    WrongMessageType,
    /// A secure record failed its check (forged, replayed, or from another connection).
    Secure(SecureError),
    /// An audio chunk did not hold whole f32 samples.
    BadAudio,
    /// The handshake did not finish within [`DesktopConfig::handshake_timeout`].
    HandshakeTimeout,
    /// More than [`DesktopConfig::max_handshake_frames`] frames before pairing.
    HandshakeFlood,
    /// A write did not complete within [`DesktopConfig::write_timeout`].
    SlowReader,
    /// Nothing arrived within [`DesktopConfig::idle_timeout`].
    IdleTimeout,
    /// The phone did not offer secure mode and the desktop requires it.
    SecureModeRequired,
    /// The device was unpaired ([`MobileDesktop::unpair`]).
    Unpaired,
    /// A newer connection of the same device replaced this one.
    Replaced,
    /// The endpoint was at [`DesktopConfig::max_connections`].
    TooManyConnections,
    /// The WebSocket upgrade failed (wrong path, not a WebSocket request, I/O).
    UpgradeFailed(String),
    /// A read or write failed.
    Io(String),
    /// The endpoint shut down.
    Shutdown,
}

/// A paired device with its secure-mode link secret, for persisting and restoring.
#[derive(Debug, Clone)]
pub struct PairedDeviceRecord {
    /// The device.
    pub device: PairedDevice,
    /// The link secret, if the device enrolled in secure mode.
    pub link_secret: Option<LinkSecret>,
}

/// What the endpoint reports to the daemon.
// Events are moved once, from a connection to the daemon; boxing the large ones would cost an
// allocation each for nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
#[non_exhaustive]
pub enum DesktopEvent {
    /// A device enrolled through a pairing window; persist `record`.
    Paired {
        /// Handle to send frames to the phone.
        connection: ConnectionHandle,
        /// The new device and its link secret.
        record: PairedDeviceRecord,
    },
    /// A paired device resumed.
    Resumed {
        /// Handle to send frames to the phone.
        connection: ConnectionHandle,
    },
    /// A signed envelope, verified (strictly) under the device key.
    Envelope {
        /// The connection.
        connection: ConnectionId,
        /// The device key, multibase.
        device: String,
        /// The envelope.
        envelope: SignedEnvelope,
    },
    /// An utterance starts.
    AudioStart {
        /// The connection.
        connection: ConnectionId,
        /// Sample rate in Hz.
        sample_rate: u32,
    },
    /// A chunk of the utterance, as samples.
    AudioChunk {
        /// The connection.
        connection: ConnectionId,
        /// Mono f32 samples.
        samples: Vec<f32>,
    },
    /// The utterance ended.
    AudioEnd {
        /// The connection.
        connection: ConnectionId,
    },
    /// A channel query; answer with [`ServerFrame::ChannelData`].
    ChannelQuery {
        /// The connection.
        connection: ConnectionId,
        /// `list` or `events`.
        op: String,
        /// The channel, for `events`.
        channel_id: Option<String>,
        /// First sequence wanted (inclusive).
        since_seq: Option<u64>,
    },
    /// A connection ended.
    Disconnected {
        /// The connection.
        connection: ConnectionId,
        /// The peer's address.
        peer: SocketAddr,
        /// The device, if the connection had paired.
        device: Option<String>,
        /// Why.
        reason: DisconnectReason,
    },
}

/// Sends [`ServerFrame`]s to one connected phone. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ConnectionHandle {
    id: ConnectionId,
    device: String,
    secure: bool,
    /// Frames already encoded by the sender, so an encoding error is the sender's and the
    /// connection task only seals and writes.
    tx: mpsc::Sender<Utf8Bytes>,
}

impl ConnectionHandle {
    /// The connection's id.
    pub fn id(&self) -> ConnectionId {
        self.id
    }

    /// The device key, multibase.
    pub fn device(&self) -> &str {
        &self.device
    }

    /// Whether the link is in secure mode.
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Encodes `frame` and queues it, waiting for space; fails if it does not encode or once the
    /// connection has ended.
    pub async fn send(&self, frame: ServerFrame) -> Result<(), super::TransportError> {
        let text = frame.encode().map_err(super::TransportError::Frame)?;
        self.tx
            .send(text.into())
            .await
            .map_err(|_| super::TransportError::LinkClosed)
    }

    /// Encodes `frame` and queues it if there is space ([`super::TransportError::QueueFull`]
    /// otherwise).
    pub fn try_send(&self, frame: ServerFrame) -> Result<(), super::TransportError> {
        let text = frame.encode().map_err(super::TransportError::Frame)?;
        self.tx.try_send(text.into()).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => super::TransportError::QueueFull,
            mpsc::error::TrySendError::Closed(_) => super::TransportError::LinkClosed,
        })
    }
}

/// The desktop's event stream.
#[derive(Debug)]
pub struct DesktopEvents {
    rx: mpsc::Receiver<DesktopEvent>,
}

impl DesktopEvents {
    /// The next event; `None` once the endpoint has shut down and every connection has ended.
    pub async fn recv(&mut self) -> Option<DesktopEvent> {
        self.rx.recv().await
    }
}

struct LiveConnection {
    device: Option<String>,
    close: watch::Sender<Option<DisconnectReason>>,
    ended: watch::Receiver<bool>,
}

#[derive(Default)]
struct Registry {
    links: HashMap<String, LinkSecret>,
    live: HashMap<ConnectionId, LiveConnection>,
    recent: HashMap<String, VecDeque<([u8; CONNECTION_NONCE_LEN], u64)>>,
}

struct Shared {
    config: DesktopConfig,
    endpoint: Mutex<DesktopEndpoint>,
    registry: Mutex<Registry>,
    /// Taken at the end of shutdown, so the event stream ends.
    events: Mutex<Option<mpsc::Sender<DesktopEvent>>>,
    started: Instant,
    next_id: AtomicU64,
    shutdown: watch::Sender<bool>,
    addr: SocketAddr,
}

impl Shared {
    fn now(&self) -> u64 {
        self.started.elapsed().as_secs()
    }
}

/// The desktop's mobile endpoint. Cheap to clone; [`MobileDesktop::shutdown`] stops it.
#[derive(Clone)]
pub struct MobileDesktop {
    shared: Arc<Shared>,
    acceptor: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
}

impl std::fmt::Debug for MobileDesktop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MobileDesktop")
            .field("addr", &self.shared.addr)
            .field("agent", &self.shared.config.agent)
            .finish_non_exhaustive()
    }
}

impl MobileDesktop {
    /// Binds `addr` and starts serving [`MOBILE_WS_PATH`]; returns the endpoint and its events.
    pub async fn bind(
        addr: impl tokio::net::ToSocketAddrs,
        config: DesktopConfig,
    ) -> std::io::Result<(Self, DesktopEvents)> {
        let listener = TcpListener::bind(addr).await?;
        Self::serve(listener, config, Vec::new())
    }

    /// Serves on `listener`, starting with the paired devices in `devices` (as persisted from
    /// [`DesktopEvent::Paired`] and [`MobileDesktop::devices`]).
    pub fn serve(
        listener: TcpListener,
        config: DesktopConfig,
        devices: Vec<PairedDeviceRecord>,
    ) -> std::io::Result<(Self, DesktopEvents)> {
        let addr = listener.local_addr()?;
        let mut endpoint = DesktopEndpoint::new(config.agent.clone(), &config.identity);
        let mut registry = Registry::default();
        for record in devices {
            let device = record.device;
            endpoint.paired_devices_mut().insert(
                device.key,
                device.agent.clone(),
                device.paired_at,
            );
            if let Some(secret) = record.link_secret {
                registry.links.insert(device.pubkey.clone(), secret);
            }
        }
        let (events, rx) = mpsc::channel(config.event_queue.max(1));
        let (shutdown, _) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            endpoint: Mutex::new(endpoint),
            registry: Mutex::new(registry),
            events: Mutex::new(Some(events)),
            started: Instant::now(),
            next_id: AtomicU64::new(1),
            shutdown,
            addr,
        });
        let acceptor = tokio::spawn(accept_loop(listener, Arc::clone(&shared)));
        Ok((
            MobileDesktop {
                shared,
                acceptor: Arc::new(Mutex::new(Some(acceptor))),
            },
            DesktopEvents { rx },
        ))
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The `ws://` URL of the endpoint (for a phone on this machine).
    pub fn url(&self) -> String {
        format!("ws://{}{}", self.shared.addr, MOBILE_WS_PATH)
    }

    /// The identity key, multibase (`did`).
    pub fn did(&self) -> String {
        lock(&self.shared.endpoint).did().to_owned()
    }

    /// Opens a pairing window and returns what its QR code carries.
    pub fn open_pairing_window(&self, config: PairingWindowConfig) -> PairingQr {
        let now = self.shared.now();
        let mut endpoint = lock(&self.shared.endpoint);
        endpoint.prune_windows(now);
        let offer = endpoint.open_window(&mut OsRng, now, config);
        PairingQr {
            offer,
            secure: true,
        }
    }

    /// Number of pairing windows still open (unused, unexpired, with attempts left).
    pub fn open_window_count(&self) -> usize {
        let now = self.shared.now();
        let mut endpoint = lock(&self.shared.endpoint);
        endpoint.prune_windows(now);
        endpoint.windows().count()
    }

    /// The paired devices, with their link secrets (for persisting).
    pub fn devices(&self) -> Vec<PairedDeviceRecord> {
        let endpoint = lock(&self.shared.endpoint);
        let registry = lock(&self.shared.registry);
        endpoint
            .paired_devices()
            .iter()
            .map(|device| PairedDeviceRecord {
                device: device.clone(),
                link_secret: registry.links.get(&device.pubkey).cloned(),
            })
            .collect()
    }

    /// Unpairs `device` (multibase) and closes its live connections
    /// ([`DisconnectReason::Unpaired`]); returns whether it was paired. Its phone's next resume
    /// is rejected as unknown.
    pub async fn unpair(&self, device: &str) -> bool {
        let removed = lock(&self.shared.endpoint)
            .paired_devices_mut()
            .remove(device);
        let Some(removed) = removed else {
            return false;
        };
        let mut waits = Vec::new();
        {
            let mut registry = lock(&self.shared.registry);
            registry.links.remove(&removed.pubkey);
            registry.recent.remove(&removed.pubkey);
            for live in registry.live.values() {
                if live.device.as_deref() == Some(removed.pubkey.as_str()) {
                    live.close.send_replace(Some(DisconnectReason::Unpaired));
                    waits.push(live.ended.clone());
                }
            }
        }
        for mut ended in waits {
            let _ = ended.wait_for(|done| *done).await;
        }
        true
    }

    /// Number of live connections (paired or in handshake).
    pub fn connection_count(&self) -> usize {
        lock(&self.shared.registry).live.len()
    }

    /// Stops accepting, closes every connection (close code 1001) and waits for them to end.
    pub async fn shutdown(&self) {
        self.shared.shutdown.send_replace(true);
        let acceptor = lock(&self.acceptor).take();
        if let Some(acceptor) = acceptor {
            let _ = acceptor.await;
        }
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    let mut shutdown = shared.shutdown.subscribe();
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = super::raised(&mut shutdown) => break,
            accepted = listener.accept() => {
                let Ok((stream, peer)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let id = ConnectionId(shared.next_id.fetch_add(1, Ordering::Relaxed));
                let (close, close_rx) = watch::channel(None);
                let (ended_tx, ended) = watch::channel(false);
                let admitted = {
                    let mut registry = lock(&shared.registry);
                    if registry.live.len() >= shared.config.max_connections {
                        false
                    } else {
                        registry.live.insert(id, LiveConnection { device: None, close, ended });
                        true
                    }
                };
                if admitted {
                    tasks.spawn(run_connection(Arc::clone(&shared), stream, peer, id, close_rx, ended_tx));
                } else {
                    tasks.spawn(refuse_busy(Arc::clone(&shared), stream, peer, id));
                }
            }
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
        }
    }
    drop(listener);
    let live: Vec<_> = lock(&shared.registry)
        .live
        .values()
        .map(|l| l.close.clone())
        .collect();
    for close in live {
        close.send_replace(Some(DisconnectReason::Shutdown));
    }
    while tasks.join_next().await.is_some() {}
    lock(&shared.events).take();
}

async fn refuse_busy(shared: Arc<Shared>, stream: TcpStream, peer: SocketAddr, id: ConnectionId) {
    let upgrade = tokio::time::timeout(
        shared.config.handshake_timeout,
        tokio_tungstenite::accept_async_with_config(stream, Some(ws_config())),
    )
    .await;
    if let Ok(Ok(mut ws)) = upgrade {
        let _ = tokio::time::timeout(
            shared.config.write_timeout,
            ws.close(Some(close_frame(close_code::BUSY, "too many connections"))),
        )
        .await;
    }
    emit(
        &shared,
        DesktopEvent::Disconnected {
            connection: id,
            peer,
            device: None,
            reason: DisconnectReason::TooManyConnections,
        },
    )
    .await;
}

fn close_frame(code: u16, reason: &'static str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason.into(),
    }
}

async fn emit(shared: &Shared, event: DesktopEvent) -> bool {
    let sender = lock(&shared.events).clone();
    match sender {
        Some(sender) => sender.send(event).await.is_ok(),
        None => false,
    }
}

/// What the phone's upgrade request offered.
#[derive(Default)]
struct Offered {
    secure_nonce: Option<[u8; CONNECTION_NONCE_LEN]>,
    previous: Option<[u8; CONNECTION_NONCE_LEN]>,
    path_ok: bool,
}

/// The enrollment in progress on a secure connection.
struct EnrollContext {
    wid: String,
    proto: u32,
    device: String,
    pair_nonce: Vec<u8>,
}

/// One connection's state.
struct Conn {
    shared: Arc<Shared>,
    id: ConnectionId,
    session: DesktopSession,
    /// `(phone nonce, desktop nonce)` when secure mode was negotiated.
    nonces: Option<([u8; CONNECTION_NONCE_LEN], [u8; CONNECTION_NONCE_LEN])>,
    previous: Option<[u8; CONNECTION_NONCE_LEN]>,
    keys: Option<SessionKeys>,
    enroll: Option<EnrollContext>,
    resume: Option<(String, String)>,
    pending_secret: Option<LinkSecret>,
    device: Option<String>,
    handshake_frames: u32,
    processed: u64,
    /// The daemon's event stream, held for the connection's life (no lock per event).
    events: Option<mpsc::Sender<DesktopEvent>>,
    /// Application events of the messages handled in one go, delivered together after them
    /// (one wake-up of the daemon per batch rather than per frame) and before anything is
    /// written back (a secure `ack` follows its envelope's delivery).
    batch: Vec<DesktopEvent>,
    /// The last audio chunk's PCM, its buffer reused for the next.
    pcm: Vec<u8>,
}

/// What handling one message asks of the loop.
enum Flow {
    Continue,
    Send(Vec<Message>),
    SendThen(Vec<Message>, Box<DesktopEvent>),
    Close(DisconnectReason, Vec<Message>),
}

async fn run_connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    peer: SocketAddr,
    id: ConnectionId,
    close_rx: watch::Receiver<Option<DisconnectReason>>,
    ended: watch::Sender<bool>,
) {
    let mut conn = Conn {
        shared: Arc::clone(&shared),
        id,
        session: DesktopSession::new(),
        nonces: None,
        previous: None,
        keys: None,
        enroll: None,
        resume: None,
        pending_secret: None,
        device: None,
        handshake_frames: 0,
        processed: 0,
        events: lock(&shared.events).clone(),
        batch: Vec::new(),
        pcm: Vec::new(),
    };
    let reason = conn.serve(stream, close_rx).await;
    let device = conn.device.clone();
    {
        let mut registry = lock(&shared.registry);
        registry.live.remove(&id);
        if let (Some(device), Some((phone_nonce, _))) = (&device, conn.nonces) {
            if conn.keys.is_some() {
                let recent = registry.recent.entry(device.clone()).or_default();
                recent.push_back((phone_nonce, conn.processed));
                while recent.len() > RECENT_CONNECTIONS {
                    recent.pop_front();
                }
            }
        }
    }
    ended.send_replace(true);
    conn.emit(DesktopEvent::Disconnected {
        connection: id,
        peer,
        device,
        reason,
    })
    .await;
}

impl Conn {
    async fn serve(
        &mut self,
        stream: TcpStream,
        mut close_rx: watch::Receiver<Option<DisconnectReason>>,
    ) -> DisconnectReason {
        let config = self.shared.config.clone();
        let handshake_deadline = tokio::time::Instant::now() + config.handshake_timeout;
        let mut offered = Offered::default();
        let desktop_nonce = {
            let mut n = [0u8; CONNECTION_NONCE_LEN];
            OsRng.fill_bytes(&mut n);
            n
        };
        // The upgrade callback's error type is tungstenite's HTTP response.
        #[allow(clippy::result_large_err)]
        let callback = |request: &Request, mut response: Response| {
            on_upgrade(request, &mut response, &mut offered, &desktop_nonce)?;
            Ok::<Response, ErrorResponse>(response)
        };
        let upgrade = tokio::time::timeout_at(
            handshake_deadline,
            tokio_tungstenite::accept_hdr_async_with_config(
                ReadAhead::new(stream),
                callback,
                Some(ws_config()),
            ),
        )
        .await;
        let mut ws = match upgrade {
            Err(_) => return DisconnectReason::HandshakeTimeout,
            Ok(Err(e)) => return DisconnectReason::UpgradeFailed(e.to_string()),
            Ok(Ok(ws)) => ws,
        };
        if !offered.path_ok {
            return DisconnectReason::UpgradeFailed("wrong path".into());
        }
        self.previous = offered.previous;
        if let Some(phone_nonce) = offered.secure_nonce {
            self.nonces = Some((phone_nonce, desktop_nonce));
        } else if config.security == DesktopSecurity::RequireSecure {
            let rejection = ServerFrame::Rejected {
                reason: "secure mode is required".into(),
            };
            let mut out = Vec::new();
            if let Ok(text) = rejection.encode() {
                out.push(Message::text(text));
            }
            let reason = DisconnectReason::SecureModeRequired;
            self.finish(&mut ws, out, &reason).await;
            return reason;
        }

        let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(config.send_queue.max(1));
        let mut tx = Some(tx);
        let mut shutdown = self.shared.shutdown.subscribe();
        let mut last_seen = tokio::time::Instant::now();
        let mut handles_gone = false;
        // One timer for the handshake and idle deadlines, re-armed only when it fires early (a
        // timer per message would cost two timer-wheel updates per frame).
        let timer = tokio::time::sleep_until(handshake_deadline);
        tokio::pin!(timer);
        let mut armed_for_idle = false;
        loop {
            let paired = self.device.is_some();
            if paired && !armed_for_idle {
                // Paired: from now on the idle deadline applies, whichever is sooner.
                armed_for_idle = true;
                timer.as_mut().reset(last_seen + config.idle_timeout);
            }
            let flow = tokio::select! {
                biased;
                _ = close_rx.changed() => {
                    let reason = close_rx.borrow().clone().unwrap_or(DisconnectReason::Shutdown);
                    Flow::Close(reason, Vec::new())
                }
                _ = super::raised(&mut shutdown) => Flow::Close(DisconnectReason::Shutdown, Vec::new()),
                _ = &mut timer => {
                    let deadline = if paired {
                        last_seen + config.idle_timeout
                    } else {
                        handshake_deadline
                    };
                    if deadline <= tokio::time::Instant::now() {
                        Flow::Close(
                            if paired { DisconnectReason::IdleTimeout } else { DisconnectReason::HandshakeTimeout },
                            Vec::new(),
                        )
                    } else {
                        timer.as_mut().reset(deadline);
                        Flow::Continue
                    }
                }
                message = ws.next() => {
                    let mut flow = self.on_read(message, &mut tx).await;
                    // Handle what is already buffered before re-arming every branch; bounded, so
                    // a flood cannot keep close and shutdown waiting.
                    let mut drained = 0;
                    while matches!(flow, Flow::Continue) && drained < DRAIN_BATCH {
                        let Some(message) = ws.next().now_or_never() else { break };
                        flow = self.on_read(message, &mut tx).await;
                        drained += 1;
                    }
                    self.deliver().await;
                    last_seen = tokio::time::Instant::now();
                    flow
                }
                frame = rx.recv(), if paired && !handles_gone => match frame {
                    Some(text) => self.outgoing(text),
                    None => {
                        // Every ConnectionHandle was dropped: nothing more to send, but the phone
                        // may still talk. Stop polling the closed queue (it is always ready).
                        handles_gone = true;
                        Flow::Continue
                    }
                },
            };
            match flow {
                Flow::Continue => {}
                Flow::Send(messages) => {
                    if let Err(reason) = self.write_all(&mut ws, messages).await {
                        return reason;
                    }
                }
                Flow::SendThen(messages, event) => {
                    if let Err(reason) = self.write_all(&mut ws, messages).await {
                        return reason;
                    }
                    self.emit(*event).await;
                }
                Flow::Close(reason, messages) => {
                    self.finish(&mut ws, messages, &reason).await;
                    return reason;
                }
            }
        }
    }

    fn reject_input(&mut self, reason: DisconnectReason, text: &'static str) -> Flow {
        let frame = ServerFrame::Rejected {
            reason: text.into(),
        };
        let messages = self.seal_or_text(&frame).into_iter().collect();
        Flow::Close(reason, messages)
    }

    /// The message carrying a desktop-made frame (a rejection or `paired`); `None` only if it
    /// cannot be encoded or sealed, and then the connection is ending anyway.
    fn seal_or_text(&mut self, frame: &ServerFrame) -> Option<Message> {
        let text = frame.encode().ok()?;
        self.seal_text(text.into()).ok()
    }

    /// A frame's text as the message for this connection: sealed in secure mode.
    fn seal_text(&mut self, text: Utf8Bytes) -> Result<Message, SecureError> {
        match self.keys.as_mut() {
            Some(keys) => keys
                .seal(RecordKind::Frame, text.as_bytes())
                .map(Message::binary),
            None => Ok(Message::Text(text)),
        }
    }

    /// A frame from a [`ConnectionHandle`].
    fn outgoing(&mut self, text: Utf8Bytes) -> Flow {
        match self.seal_text(text) {
            Ok(message) => Flow::Send(vec![message]),
            Err(e) => Flow::Close(DisconnectReason::Secure(e), Vec::new()),
        }
    }

    async fn write_all(
        &mut self,
        ws: &mut WebSocketStream<ReadAhead<TcpStream>>,
        messages: Vec<Message>,
    ) -> Result<(), DisconnectReason> {
        for message in messages {
            match tokio::time::timeout(self.shared.config.write_timeout, ws.send(message)).await {
                Err(_) => return Err(DisconnectReason::SlowReader),
                Ok(Err(e)) => return Err(DisconnectReason::Io(e.to_string())),
                Ok(Ok(())) => {}
            }
        }
        Ok(())
    }

    async fn finish(
        &mut self,
        ws: &mut WebSocketStream<ReadAhead<TcpStream>>,
        messages: Vec<Message>,
        reason: &DisconnectReason,
    ) {
        let (code, text) = match reason {
            DisconnectReason::Rejected(_) => (close_code::REJECTED, "rejected"),
            DisconnectReason::Unpaired => (close_code::UNPAIRED, "device unpaired"),
            DisconnectReason::Replaced => (close_code::REPLACED, "replaced by a newer connection"),
            DisconnectReason::SecureModeRequired => {
                (close_code::SECURE_REQUIRED, "secure mode required")
            }
            DisconnectReason::IdleTimeout => (close_code::IDLE, "idle"),
            DisconnectReason::HandshakeTimeout => (close_code::IDLE, "handshake timeout"),
            DisconnectReason::BadFrame(_)
            | DisconnectReason::FrameTooLarge
            | DisconnectReason::WrongMessageType
            | DisconnectReason::Secure(_)
            | DisconnectReason::BadAudio
            | DisconnectReason::HandshakeFlood => (close_code::BAD_INPUT, "bad input"),
            DisconnectReason::Shutdown => (1001, "shutting down"),
            DisconnectReason::SlowReader
            | DisconnectReason::Io(_)
            | DisconnectReason::PeerClosed => {
                return;
            }
            _ => (1000, "closing"),
        };
        let write = async {
            for message in messages {
                ws.send(message).await?;
            }
            ws.close(Some(close_frame(code, text))).await
        };
        let _ = tokio::time::timeout(self.shared.config.write_timeout, write).await;
    }

    /// The audio stream's fast path: on a paired session an `audio_chunk` is an application frame
    /// (see `DesktopSession`), so one in its canonical form goes from the frame text to samples
    /// with no `ClientFrame` and a PCM buffer reused across frames. `None` for any other frame,
    /// or before pairing.
    fn audio_fast(&mut self, frame: &[u8]) -> Option<Flow> {
        if !self.session.is_paired() {
            return None;
        }
        let mut pcm = std::mem::take(&mut self.pcm);
        let flow = match audio_chunk_pcm_into(frame, &mut pcm)? {
            Ok(()) => self.on_pcm(&pcm),
            Err(e) => self.reject_input(DisconnectReason::BadFrame(e), "bad audio chunk"),
        };
        self.pcm = pcm;
        Some(flow)
    }

    /// An audio chunk's PCM as samples for the daemon.
    fn on_pcm(&mut self, pcm: &[u8]) -> Flow {
        let Some(samples) = pcm_to_samples(pcm) else {
            return self.reject_input(
                DisconnectReason::BadAudio,
                "audio chunk is not whole f32 samples",
            );
        };
        self.batch.push(DesktopEvent::AudioChunk {
            connection: self.id,
            samples,
        });
        Flow::Continue
    }

    /// Hands the batched application events to the daemon, in order.
    async fn deliver(&mut self) {
        let mut batch = std::mem::take(&mut self.batch);
        for event in batch.drain(..) {
            self.emit(event).await;
        }
        // Keep the allocation for the next batch.
        self.batch = batch;
    }

    /// Hands one event to the daemon (through the sender the connection holds: no lock).
    async fn emit(&self, event: DesktopEvent) {
        if let Some(events) = &self.events {
            let _ = events.send(event).await;
        }
    }

    /// One read from the socket: a message, an error or the end.
    async fn on_read(
        &mut self,
        message: Option<Result<Message, WsError>>,
        tx: &mut Option<mpsc::Sender<Utf8Bytes>>,
    ) -> Flow {
        match message {
            None => Flow::Close(DisconnectReason::PeerClosed, Vec::new()),
            Some(Err(WsError::Capacity(_))) => self.reject_input(
                DisconnectReason::FrameTooLarge,
                "frame exceeds the size limit",
            ),
            Some(Err(e)) => Flow::Close(DisconnectReason::Io(e.to_string()), Vec::new()),
            Some(Ok(message)) => self.on_message(message, tx).await,
        }
    }

    async fn on_message(
        &mut self,
        message: Message,
        tx: &mut Option<mpsc::Sender<Utf8Bytes>>,
    ) -> Flow {
        if self.device.is_none() {
            self.handshake_frames = self.handshake_frames.saturating_add(1);
            if self.handshake_frames > self.shared.config.max_handshake_frames {
                return self.reject_input(
                    DisconnectReason::HandshakeFlood,
                    "too many frames before pairing",
                );
            }
        }
        let frame = match message {
            Message::Text(text) => {
                if self.keys.is_some()
                    || (self.nonces.is_some() && self.expects_record() && !self.plain_resume_ok())
                {
                    return self.reject_input(
                        DisconnectReason::Secure(SecureError::Unsealed),
                        "unsealed frame on a secure connection",
                    );
                }
                if self.expects_record() {
                    // A device paired in plain mode resumes in plain mode.
                    self.nonces = None;
                }
                if let Some(flow) = self.audio_fast(text.as_bytes()) {
                    return flow;
                }
                match decode_client_frame_text(text.as_str()) {
                    Ok(frame) => frame,
                    Err(e) => {
                        let rejection = ServerFrame::Rejected {
                            reason: e.to_string(),
                        };
                        let out = self.seal_or_text(&rejection).into_iter().collect();
                        return Flow::Close(DisconnectReason::BadFrame(e), out);
                    }
                }
            }
            Message::Binary(bytes) => {
                if self.nonces.is_none() {
                    return self.reject_input(
                        DisconnectReason::WrongMessageType,
                        "binary message on a plain connection",
                    );
                }
                if self.keys.is_none() {
                    if let Err(flow) = self.derive_keys() {
                        return flow;
                    }
                }
                let Some(keys) = self.keys.as_mut() else {
                    return self.reject_input(
                        DisconnectReason::Secure(SecureError::Unsealed),
                        "no secure session",
                    );
                };
                let opened = match keys.open(&bytes) {
                    Ok(opened) => opened,
                    Err(e) => {
                        if let Some(enroll) = &self.enroll {
                            let now = self.shared.now();
                            let _ = lock(&self.shared.endpoint).spend_attempt(&enroll.wid, now);
                        }
                        self.keys = None;
                        return self
                            .reject_input(DisconnectReason::Secure(e), "secure record refused");
                    }
                };
                self.processed = keys.received();
                match opened.kind {
                    RecordKind::Frame => match self.audio_fast(&opened.payload) {
                        Some(flow) => return flow,
                        None => match decode_client_frame(&opened.payload) {
                            Ok(frame) => frame,
                            Err(e) => {
                                return self.reject_input(
                                    DisconnectReason::BadFrame(e),
                                    "frame does not decode",
                                )
                            }
                        },
                    },
                    RecordKind::Ack => return Flow::Continue,
                    RecordKind::ResumeReport => {
                        return self.reject_input(
                            DisconnectReason::Secure(SecureError::UnknownKind { kind: 2 }),
                            "unexpected record kind",
                        )
                    }
                }
            }
            Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => return Flow::Continue,
            Message::Close(_) => return Flow::Close(DisconnectReason::PeerClosed, Vec::new()),
        };
        self.on_frame(frame, tx).await
    }

    /// Whether a resume may finish unsealed on a connection that negotiated secure mode: only for
    /// a device that paired in plain mode (it has no link secret) and only if policy allows plain.
    fn plain_resume_ok(&self) -> bool {
        match &self.resume {
            Some((device, _)) => {
                self.shared.config.security == DesktopSecurity::AllowPlain
                    && !lock(&self.shared.registry).links.contains_key(device)
            }
            None => false,
        }
    }

    /// Whether the next phone message must be a sealed record (after the challenge).
    fn expects_record(&self) -> bool {
        self.enroll.is_some() || self.resume.is_some()
    }

    /// Derives the session keys for the proof record now expected.
    fn derive_keys(&mut self) -> Result<(), Flow> {
        let Some((phone_nonce, desktop_nonce)) = self.nonces else {
            return Err(Flow::Close(DisconnectReason::WrongMessageType, Vec::new()));
        };
        let did = lock(&self.shared.endpoint).did().to_owned();
        // The secret and binding of the handshake under way; a new enrollment's secret is kept.
        let derived = if let Some(enroll) = &self.enroll {
            let endpoint = lock(&self.shared.endpoint);
            let Some(window) = endpoint.window(&enroll.wid) else {
                drop(endpoint);
                return Err(self.reject_input(
                    DisconnectReason::Rejected(DesktopRejection::UnknownWindow),
                    "no pairing window with this id",
                ));
            };
            let fields = TranscriptFields {
                proto: enroll.proto,
                agent: &self.shared.config.agent,
                wid: &enroll.wid,
                did: &did,
                phone_pubkey: &enroll.device,
                nonce: &enroll.pair_nonce,
            };
            let secret = LinkSecret::from_enrollment(window.token(), &fields);
            drop(endpoint);
            let Ok(secret) = secret else {
                return Err(self.reject_input(
                    DisconnectReason::Secure(SecureError::BadMac),
                    "enrollment transcript",
                ));
            };
            let ctx = SessionContext {
                did: &did,
                device: &enroll.device,
                phone_nonce: &phone_nonce,
                desktop_nonce: &desktop_nonce,
                binding: Binding::Enroll {
                    pair_nonce: &enroll.pair_nonce,
                },
            };
            SessionKeys::derive(&secret, Side::Desktop, &ctx).map(|keys| (keys, Some(secret)))
        } else if let Some((device, challenge)) = &self.resume {
            let secret = lock(&self.shared.registry).links.get(device).cloned();
            let Some(secret) = secret else {
                return Err(self.reject_input(
                    DisconnectReason::Secure(SecureError::BadMac),
                    "device has no secure pairing; pair again",
                ));
            };
            let ctx = SessionContext {
                did: &did,
                device,
                phone_nonce: &phone_nonce,
                desktop_nonce: &desktop_nonce,
                binding: Binding::Resume { challenge },
            };
            SessionKeys::derive(&secret, Side::Desktop, &ctx).map(|keys| (keys, None))
        } else {
            return Err(self.reject_input(
                DisconnectReason::Secure(SecureError::Unsealed),
                "sealed record before the challenge",
            ));
        };
        match derived {
            Ok((keys, enrolled_secret)) => {
                self.keys = Some(keys);
                if enrolled_secret.is_some() {
                    self.pending_secret = enrolled_secret;
                }
                Ok(())
            }
            Err(e) => Err(self.reject_input(DisconnectReason::Secure(e), "session key")),
        }
    }

    async fn on_frame(
        &mut self,
        frame: ClientFrame,
        tx: &mut Option<mpsc::Sender<Utf8Bytes>>,
    ) -> Flow {
        let hello_init = match &frame {
            ClientFrame::HelloInit { proto, pubkey, .. } => Some((*proto, pubkey.clone())),
            _ => None,
        };
        let resume_key = match &frame {
            ClientFrame::Resume { pubkey, .. } => Some(pubkey.clone()),
            _ => None,
        };
        // A paired session's frames (the audio stream) need no lock on the shared endpoint.
        let step = match self.session.handle_paired(frame) {
            Ok(step) => step,
            Err(frame) => {
                let now = self.shared.now();
                let mut endpoint = lock(&self.shared.endpoint);
                self.session.handle(&mut endpoint, frame, now, &mut OsRng)
            }
        };
        let step = match step {
            Ok(step) => step,
            Err(rejection) => {
                let frame = rejection.to_frame();
                let out = self.seal_or_text(&frame).into_iter().collect();
                return Flow::Close(DisconnectReason::Rejected(rejection), out);
            }
        };
        match step {
            DesktopStep::Reply(reply) => {
                match (&reply, hello_init, resume_key) {
                    (ServerFrame::PairChallenge { wid, nonce, .. }, Some((proto, device)), _) => {
                        self.enroll = Some(EnrollContext {
                            wid: wid.clone(),
                            proto,
                            device,
                            pair_nonce: nonce.clone(),
                        });
                    }
                    (ServerFrame::Challenge { nonce }, _, Some(device)) => {
                        self.resume = Some((device, nonce.clone()));
                    }
                    _ => {}
                }
                match self.seal_or_text(&reply) {
                    Some(m) => Flow::Send(vec![m]),
                    None => Flow::Continue,
                }
            }
            DesktopStep::Paired {
                reply,
                device,
                enrolled,
            } => self.on_paired(reply, device, enrolled, tx).await,
            DesktopStep::Application(frame) => self.on_application(frame).await,
            DesktopStep::Ignored { .. } => Flow::Continue,
        }
    }

    async fn on_paired(
        &mut self,
        reply: ServerFrame,
        device: String,
        enrolled: bool,
        tx: &mut Option<mpsc::Sender<Utf8Bytes>>,
    ) -> Flow {
        // A newer connection of this device replaces any older one, which ends before we report.
        let olders: Vec<_> = {
            let registry = lock(&self.shared.registry);
            registry
                .live
                .iter()
                .filter(|(id, live)| **id != self.id && live.device.as_deref() == Some(&device))
                .map(|(_, live)| {
                    live.close.send_replace(Some(DisconnectReason::Replaced));
                    live.ended.clone()
                })
                .collect()
        };
        for mut ended in olders {
            let _ = ended.wait_for(|done| *done).await;
        }
        let secret = self.pending_secret.take();
        let report = {
            let mut registry = lock(&self.shared.registry);
            if enrolled {
                match &secret {
                    Some(secret) => {
                        registry.links.insert(device.clone(), secret.clone());
                    }
                    None => {
                        registry.links.remove(&device);
                    }
                }
                registry.recent.remove(&device);
            }
            if let Some(live) = registry.live.get_mut(&self.id) {
                live.device = Some(device.clone());
            }
            match (self.keys.is_some(), enrolled, self.previous) {
                (true, false, Some(previous)) => {
                    let count = registry
                        .recent
                        .get(&device)
                        .and_then(|r| r.iter().rev().find(|(n, _)| *n == previous))
                        .map(|(_, count)| *count)
                        .unwrap_or(u64::MAX);
                    Some(resume_report(&previous, count))
                }
                _ => None,
            }
        };
        self.device = Some(device.clone());
        self.enroll = None;
        self.resume = None;
        let mut out: Vec<Message> = self.seal_or_text(&reply).into_iter().collect();
        if let (Some(report), Some(keys)) = (report, self.keys.as_mut()) {
            match keys.seal(RecordKind::ResumeReport, &report) {
                Ok(record) => out.push(Message::binary(record)),
                Err(e) => return Flow::Close(DisconnectReason::Secure(e), out),
            }
        }
        let Some(sender) = tx.take() else {
            return Flow::Send(out);
        };
        let connection = ConnectionHandle {
            id: self.id,
            device: device.clone(),
            secure: self.keys.is_some(),
            tx: sender,
        };
        let event = if enrolled {
            let record = {
                let endpoint = lock(&self.shared.endpoint);
                endpoint.paired_devices().get(&device).cloned()
            };
            match record {
                Some(device) => DesktopEvent::Paired {
                    connection,
                    record: PairedDeviceRecord {
                        device,
                        link_secret: secret,
                    },
                },
                None => return Flow::Close(DisconnectReason::Unpaired, out),
            }
        } else {
            DesktopEvent::Resumed { connection }
        };
        // Send `paired` before the daemon hears of the link, so its first frame follows it.
        Flow::SendThen(out, Box::new(event))
    }

    async fn on_application(&mut self, frame: ClientFrame) -> Flow {
        let id = self.id;
        let device = self.device.clone().unwrap_or_default();
        let mut ack = false;
        let event = match frame {
            ClientFrame::Envelope { envelope } => {
                ack = true;
                DesktopEvent::Envelope {
                    connection: id,
                    device,
                    envelope,
                }
            }
            ClientFrame::AudioStreamStart { sample_rate } => DesktopEvent::AudioStart {
                connection: id,
                sample_rate,
            },
            frame @ ClientFrame::AudioChunk { .. } => match frame.audio_pcm() {
                Some(Ok(pcm)) => return self.on_pcm(&pcm),
                Some(Err(e)) => {
                    return self.reject_input(DisconnectReason::BadFrame(e), "bad audio chunk")
                }
                None => return Flow::Continue,
            },
            ClientFrame::AudioStreamEnd => DesktopEvent::AudioEnd { connection: id },
            ClientFrame::ChannelQuery {
                op,
                channel_id,
                since_seq,
            } => DesktopEvent::ChannelQuery {
                connection: id,
                op,
                channel_id,
                since_seq,
            },
            _ => return Flow::Continue,
        };
        self.batch.push(event);
        match (ack, self.keys.as_mut()) {
            (true, Some(keys)) => match keys.seal(RecordKind::Ack, &[]) {
                Ok(record) => Flow::Send(vec![Message::binary(record)]),
                Err(e) => Flow::Close(DisconnectReason::Secure(e), Vec::new()),
            },
            _ => Flow::Continue,
        }
    }
}

// The error type is tungstenite's HTTP response, fixed by its upgrade callback.
#[allow(clippy::result_large_err)]
fn on_upgrade(
    request: &Request,
    response: &mut Response,
    offered: &mut Offered,
    desktop_nonce: &[u8; CONNECTION_NONCE_LEN],
) -> Result<(), ErrorResponse> {
    if request.uri().path() != MOBILE_WS_PATH {
        let mut error = ErrorResponse::new(Some("not found".into()));
        *error.status_mut() = StatusCode::NOT_FOUND;
        return Err(error);
    }
    offered.path_ok = true;
    let headers = request.headers();
    let nonce = headers
        .get(NONCE_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_nonce_hex);
    offered.previous = headers
        .get(PREVIOUS_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_nonce_hex);
    if let Some(nonce) = nonce {
        if let Ok(value) = HeaderValue::from_str(&nonce_hex(desktop_nonce)) {
            offered.secure_nonce = Some(nonce);
            response.headers_mut().insert(NONCE_HEADER, value);
        }
    }
    Ok(())
}
